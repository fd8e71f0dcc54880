"""The second phantom family: label-map hip anatomy with exact truth (MR series, radiographs).

Written independently of the first family (:mod:`onfh_imaging.phantom`, signed-distance model): other
primitives (a carved ball with a depressed spherical cap and a fovea pit, an elliptic tapering neck
with a smooth junction blend and an optional cam bump, a concentric acetabular shell of set coverage
and inclination with labrum, fossa and ligamentum teres, ilium, ischium and pubis, red-marrow islands,
oedema, a wedge lesion with an irregular opening), other rendering (a Gaussian slice profile sampled
on shared planes, an in-plane PSF, a phased-array receive-coil sensitivity, per-study tissue signals
drawn from physical ranges) and truth computed from the construction (closed-form head volume,
quadrature for the lesion).

Anatomy (:mod:`.anatomy`)
    ``PelvisAnatomy(hips=(HipAnatomy, ...), body=BodyAnatomy())``; ``labels(points) -> uint8``
    (see ``TISSUES``); per hip ``head_mask``, ``lesion_mask``, ``radial_extent``.
Truth (:mod:`.truth`)
    ``hip_truth(hip) -> dict`` (the ``truth.json`` hip entry), ``truth_masks(anatomy, grid)``.
Studies (:mod:`.study`)
    ``write_labelmap_study(out_dir, LabelmapSpec(...)) -> truth dict`` writes ``T1_COR/``,
    ``STIR_COR/`` and ``truth.json`` (schema ``onfh-imaging/phantom-truth/1``, ``"family": "labelmap"``);
    ``mr_grid()`` the benchmark's studies; ``LabelmapSpec.from_truth(path).anatomy()`` rebuilds the anatomy.

Typical use::

    truth = write_labelmap_study(folder, LabelmapSpec(right=HipDisease(2.0, lesion="large")))
    anatomy = LabelmapSpec.from_truth(truth).anatomy()
    head_fraction, lesion_fraction = truth_masks(anatomy, read_series(folder / "T1_COR").volume)
"""

from onfh_imaging.phantom.labelmap.anatomy import (
    TISSUES,
    BodyAnatomy,
    DepressedSegment,
    Fovea,
    HipAnatomy,
    Lesion,
    PelvisAnatomy,
    with_lesion_tilts,
)
from onfh_imaging.phantom.labelmap.study import (
    FAMILY,
    HipDisease,
    LabelmapSpec,
    build_anatomy,
    load_labelmap_truth,
    mr_grid,
    render_labelmap_series,
    write_labelmap_study,
)
from onfh_imaging.phantom.labelmap.truth import (
    head_volume_mm3,
    hip_truth,
    jic_type,
    kerboul_angle_deg,
    truth_masks,
)

__all__ = [
    "FAMILY", "TISSUES", "BodyAnatomy", "DepressedSegment", "Fovea", "HipAnatomy", "HipDisease", "LabelmapSpec",
    "Lesion", "PelvisAnatomy", "build_anatomy", "head_volume_mm3", "hip_truth", "jic_type", "kerboul_angle_deg",
    "load_labelmap_truth", "mr_grid", "render_labelmap_series", "truth_masks", "with_lesion_tilts",
    "write_labelmap_study",
]

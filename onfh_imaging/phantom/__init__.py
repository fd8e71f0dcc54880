"""Digital hip phantoms with known truth: the ground truth of the toolkit's tests and benchmarks.

Everything is in patient LPS millimetres (see the project's DESIGN notes).

Model (:mod:`~onfh_imaging.phantom.model`)
    ``HipModel(side, head_center_lps, head_radius_mm=24, ..., collapse=Collapse(depth_mm, direction_lps,
    angular_radius_deg=25), lesion=Lesion(direction_lps, center_offset_mm, radial_semi_axis_mm,
    transverse_semi_axis_mm, band_mm=2.5, core="fatty"|"fluid"))`` and
    ``PelvisModel.standard(hips="both"|"left"|"right", right={...}, left={...})``.
    Membership functions over ``(N, 3)`` LPS points: ``femur_mask``, ``cortex_mask``, ``marrow_mask``,
    ``head_mask`` (femur inside the reference sphere), ``lesion_mask`` (band included),
    ``lesion_band_mask``, ``cartilage_mask``, ``acetabulum_mask``; signed distances ``femur_sdf``,
    ``acetabulum_sdf``, ``lesion_sdf``. ``Lesion.preset("small"|"large", R, direction)`` gives
    about 10 % (Steinberg A) or 40 % (C) of the head.
Truth (:mod:`~onfh_imaging.phantom.truth`)
    ``hip_truth(hip) -> HipTruth`` (head volume, sphericity, RMS deviation, collapse depth and
    direction, lesion volume, head involvement, Kerboul angle, ARCO 2019 and Steinberg), by spherical
    quadrature with a reported ``numerical_error_ml``;
    ``truth_masks(model, grid, supersample=3) -> (head_fraction, lesion_fraction)``, partial-volume
    fractions on any :class:`~onfh_imaging.geometry.Volume` grid (e.g. for Dice);
    ``voxelised_femoral_head(collapse_depth_mm, in_plane_mm=..., slice_mm=..., oblique_deg=(0, 0))
    -> (hip, head_fraction)``, one intact or collapsed head on a thick, oblique coronal grid.
Rendering (:mod:`~onfh_imaging.phantom.mr`)
    ``render_mr(model, in_plane_mm=0.7, slice_mm=4, gap_mm=0, matrix=(256, 256), n_slices=24,
    oblique_deg=(0, 0), sequence="T1"|"STIR", noise_sigma=0.03, bias_strength=0.15,
    intensity_scale=1000, seed=0, center_lps=None) -> Volume`` (int16, coronal: columns run right to
    left, rows superior to inferior, slices anterior to posterior, rotated about the centre by
    ``oblique_deg``). ``coronal_grid(...)`` gives the grid alone.
Studies on disk (:mod:`~onfh_imaging.phantom.study`)
    ``write_phantom_study(out_dir, PhantomSpec(...)) -> truth dict`` writes ``T1_COR/``,
    optionally ``STIR_COR/``, and ``truth.json``; ``load_truth(path)``;
    ``PhantomSpec.from_truth(path).model()`` rebuilds the model (for ``truth_masks``);
    ``clone_phantom_study(src, dst, patient_id=..., study_date=...)`` copies a study as another
    patient or visit (new UIDs, same pixels), e.g. to build a cohort.

``truth.json`` (schema ``onfh-imaging/phantom-truth/1``)::

    {"schema", "spec": {...PhantomSpec...}, "patient_id", "study_instance_uid",
     "frame_of_reference_uid",
     "series": [{"series_instance_uid", "sequence", "folder", "spacing", "oblique_deg", "shape",
                 "origin", "direction", "slice_thickness_mm"}],
     "hips": [{"side", "head": {"center_lps_mm", "radius_mm", "volume_ml", "sphericity",
               "rms_deviation_mm", "collapse_depth_mm", "collapse_direction_lps", "neck_axis_lps"},
               "lesion": {"volume_ml", "head_involvement_pct", "kerboul_angle_deg", "core"} | null,
               "staging": {"arco_2019", "arco_basis", "steinberg_extent"}, "numerical_error_ml"}]}

Typical use in a segmentation test::

    truth = load_truth(study_dir)
    model = PhantomSpec.from_truth(truth).model()
    volume = read_series(study_dir / "T1_COR").volume
    head_fraction, lesion_fraction = truth_masks(model, volume)
"""

from onfh_imaging.phantom.model import (
    TISSUES,
    Collapse,
    HipModel,
    Lesion,
    PelvisModel,
)
from onfh_imaging.phantom.axes import default_dome_direction, default_neck_axis
from onfh_imaging.phantom.mr import TISSUE_SIGNAL, coronal_grid, render_mr
from onfh_imaging.phantom.study import (
    HipSpec,
    PhantomSpec,
    clone_phantom_study,
    load_truth,
    render_series,
    truth_summary,
    write_phantom_study,
)
from onfh_imaging.phantom.truth import (
    HipTruth,
    arco_2019,
    hip_truth,
    kerboul_angle_deg,
    steinberg_extent,
    truth_masks,
    voxelised_femoral_head,
)

__all__ = [
    "TISSUES", "TISSUE_SIGNAL", "Collapse", "HipModel", "HipSpec", "HipTruth", "Lesion", "PelvisModel",
    "PhantomSpec", "arco_2019", "clone_phantom_study", "coronal_grid", "default_dome_direction",
    "default_neck_axis", "hip_truth", "kerboul_angle_deg", "load_truth", "render_mr", "render_series",
    "steinberg_extent", "truth_masks", "truth_summary", "voxelised_femoral_head", "write_phantom_study",
]

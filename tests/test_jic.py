"""JIC type and the lateral acetabular edge on both phantom families, against each family's own truth.

Each phantom puts a lesion of known JIC type in each hip (A and B in one study, C1 and C2 in the
other), tilted in the coronal plane so that its lateral boundary sits well inside its third of the
weight-bearing portion (over 2 mm from each boundary, checked against the truth below). The lateral
edge is found on the rendered T1 image; the lesion is the truth's partial-volume mask (the lesion's
segmentation is tested elsewhere), the centre and radius the truth's reference sphere.
"""

from __future__ import annotations


import numpy as np
import pytest

from onfh_imaging.geometry import Volume
from onfh_imaging.measure.jic import JIC_TYPES, classify_jic, jic_type
from onfh_imaging.segment.acetabulum import find_lateral_acetabular_edge, lateral_lps

#: The edge found on the image lies within this of the truth, laterally (mm): about one in-plane pixel
#: of the 1.4 mm grids plus the half-degree angular step at the socket radius.
EDGE_LATERAL_TOLERANCE_MM = 1.5
#: 4 mm slices: 14 cover the heads (48 mm across) and their acetabula with a margin.
SLICES = 14


def _tilted(side: str, tilt_deg: float, anterior: float) -> tuple[float, float, float]:
    """Unit direction tilted from superior towards lateral (negative: medial), a little anterior."""
    t = np.radians(tilt_deg)
    d = np.cos(t) * np.array([0.0, 0.0, 1.0]) + np.sin(t) * lateral_lps(side) + np.array([0.0, -anterior, 0.0])
    return tuple(d / np.linalg.norm(d))


def test_jic_thirds():
    assert [jic_type(x, 18.0) for x in (-3.0, 5.9, 6.1, 11.9, 12.1, 18.0, 18.1)] == [
        "A", "A", "B", "B", "C1", "C1", "C2"
    ]
    with pytest.raises(ValueError):
        jic_type(3.0, 0.0)
    assert JIC_TYPES == ("A", "B", "C1", "C2")


# --- family A: signed-distance model --------------------------------------------------------------
FAMILY_A = {  # (right tilt, left tilt) -> (right type, left type)
    (-35.0, -15.0): ("A", "B"),
    (0.0, 25.0): ("C1", "C2"),
}


@pytest.mark.parametrize("tilts,types", list(FAMILY_A.items()))
def test_jic_family_a(tilts, types):
    from onfh_imaging.phantom import HipSpec, PhantomSpec, truth_masks
    from onfh_imaging.phantom.study import render_series
    from onfh_imaging.phantom.truth import hip_truth

    spec = PhantomSpec(
        hips="both",
        right=HipSpec(0.0, _tilted("right", tilts[0], 0.3), lesion="small"),
        left=HipSpec(0.0, _tilted("left", tilts[1], 0.3), lesion="small"),
        n_slices=SLICES,
        seed=2,
    )
    image = render_series(spec, "T1")
    model = spec.model()
    _, lesion = truth_masks(model, image)
    for hip, expected in zip(sorted(model.hips, key=lambda h: h.side != "right"), types, strict=True):
        truth = hip_truth(hip, 200, 400)
        assert truth.jic_type == expected  # the phantom is what the test says it is
        result = classify_jic(image, lesion, np.array(truth.center_lps_mm), truth.radius_mm, hip.side)
        assert result.jic_type == expected, (hip.side, result.basis)
        centre = np.array(truth.center_lps_mm)
        lateral = lateral_lps(hip.side)
        true_edge = (np.array(truth.lateral_edge_lps_mm) - centre) @ lateral
        assert result.edge.found and abs(result.edge.lateral_offset_mm - true_edge) < EDGE_LATERAL_TOLERANCE_MM
        assert expected in result.basis or "weight-bearing portion" in result.basis
    # the reading session (napari) reads the type again from edited masks: here the truth's
    from onfh_imaging.reading import HEAD, LESION, MR_ROWS, MeasureJob, measure_job, measure_value

    assert ("JIC type", "lesion", "jic_type") in MR_ROWS
    hip = next(h for h in model.hips if h.side == "right")
    head, own_lesion = truth_masks(hip, image)
    job = MeasureJob("right", {HEAD: head, LESION: own_lesion}, hip.neck_axis, {}, image=image)
    _, _, shown, _ = measure_job(job)
    assert measure_value(shown, "lesion", "jic_type") == types[0]
    assert shown["acetabulum"]["lateral_edge_found"]


# --- family B: label-map anatomy ------------------------------------------------------------------
FAMILY_B = {  # (right tilt, left tilt) -> (right type, left type)
    (-35.0, -17.0): ("A", "B"),
    (-5.0, 20.0): ("C1", "C2"),
}


@pytest.mark.parametrize("tilts,types", list(FAMILY_B.items()))
def test_jic_family_b(tilts, types):
    labelmap = pytest.importorskip("onfh_imaging.phantom.labelmap")

    spec = labelmap.LabelmapSpec(
        hips="both",
        right=labelmap.HipDisease(0.0, lesion="small"),
        left=labelmap.HipDisease(0.0, lesion="small"),
        in_plane_mm=1.4,
        n_slices=SLICES,
        stir=False,
        seed=3,
    )
    anatomy = labelmap.with_lesion_tilts(spec.anatomy(), dict(zip(("right", "left"), tilts, strict=True)))
    image = labelmap.render_labelmap_series(spec, anatomy)["T1"]
    _, lesion = labelmap.truth_masks(anatomy, image)
    for hip, expected in zip((anatomy.hip("right"), anatomy.hip("left")), types, strict=True):
        truth = labelmap.hip_truth(hip, 100, 200)
        assert truth["lesion"]["jic_type"] == expected
        centre = np.array(truth["head"]["center_lps_mm"])
        result = classify_jic(image, lesion, centre, truth["head"]["radius_mm"], hip.side)
        assert result.jic_type == expected, (hip.side, result.basis)
        true_edge = (np.array(truth["acetabulum"]["lateral_edge_lps_mm"]) - centre) @ lateral_lps(hip.side)
        assert result.edge.found and abs(result.edge.lateral_offset_mm - true_edge) < EDGE_LATERAL_TOLERANCE_MM


# --- when there is no edge to find -----------------------------------------------------------------
def _uniform_head_image(roof: bool) -> Volume:
    """A bright head (radius 24 mm) in dark tissue, with or without a bright roof 4-12 mm above it."""
    spacing = 1.0
    n = 120
    ax = (np.arange(n) - n / 2) * spacing
    z, y, x = np.meshgrid(ax, ax, ax, indexing="ij")
    r = np.sqrt(x**2 + y**2 + z**2)
    image = np.where(r < 23.0, 1000.0, 300.0)
    image[(r >= 23.0) & (r < 25.0)] = 40.0  # subchondral plate
    if roof:
        shell = (r > 28.0) & (r < 36.0) & (z > 0)
        image[shell] = 850.0
    return Volume(image.astype(np.float32), (spacing,) * 3, origin=(ax[0],) * 3)


def test_no_roof_and_endless_roof_say_why():
    centre = np.zeros(3)
    none = find_lateral_acetabular_edge(_uniform_head_image(roof=False), centre, 24.0, "right")
    assert not none.found and "no acetabular roof" in none.reason
    endless = find_lateral_acetabular_edge(_uniform_head_image(roof=True), centre, 24.0, "right")
    # a hemispherical roof ends at 90 deg: a clean edge, lateral offset of the socket radius
    assert endless.found and endless.angle_from_pole_deg == pytest.approx(90.0, abs=2.0)
    assert endless.to_dict()["center_edge_angle_deg"] == pytest.approx(0.0, abs=2.0)
    # a reference sphere 3 mm too large leaves no room for the joint's cartilage: no edge, and why
    too_large = find_lateral_acetabular_edge(_uniform_head_image(roof=True), centre, 27.0, "right")
    assert not too_large.found and "no room for the cartilage" in too_large.reason
    result = classify_jic(_uniform_head_image(False), _uniform_head_image(False).with_array(
        np.zeros((120, 120, 120), np.float32)), centre, 24.0, "left")
    assert result.jic_type is None and "no lesion" in result.basis

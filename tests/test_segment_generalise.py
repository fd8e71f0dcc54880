"""Segmentation on hips the project's generator never drew (tests/ball_hip.py: another anatomy model).

Each case must meet the bars (collapse 0.3 mm, radius 0.3 mm, centre 0.7 mm, lesion volume 10 %) or be
flagged ``needs_review``; an intact head is never staged III.
"""

from __future__ import annotations

import numpy as np
import pytest
from ball_hip import BallHip

from onfh_imaging.measure.hip import measure_hip
from onfh_imaging.segment.mri import segment_hips
from onfh_imaging.staging import stage_hip

CASES = {
    # a wide joint space (effusion): the acetabular cortex lies 4 mm beyond the head's surface
    "wide-joint-collapse": BallHip(collapse_mm=1.2, lesion_half_angle_deg=35, seed=3, pixel_mm=0.6,
                                   slice_mm=3.5, fluid_mm=2.5, matrix=140, n_slices=18),
    # an intact head with a large wedge lesion on coarse, thick slices
    "intact-large-wedge": BallHip(lesion_half_angle_deg=45, seed=2, pixel_mm=0.7, slice_mm=4.5,
                                  matrix=130, n_slices=14),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def measured(request):
    hip = CASES[request.param]
    t1 = hip.render()
    (seg,) = segment_hips(t1)
    m = stage_hip(measure_hip(seg.femoral_head_fraction, seg.lesion_fraction, side=seg.side,
                              neck_axis_lps=seg.neck_axis_lps, segmentation_quality=seg.quality,
                              surface_resolved_at=seg.surface_resolved_at))
    lesion_ml = float(seg.lesion_fraction.array.sum()) * t1.voxel_volume_ml
    return hip, hip.truth(), seg, m, lesion_ml


def test_bars_hold_or_the_hip_is_flagged(measured):
    _, truth, seg, m, lesion_ml = measured
    assert seg.side == "right"
    errors = {
        "centre": (np.linalg.norm(m.sphere.center_lps - truth["center_lps"]), 0.7),
        "radius": (abs(m.sphere.radius_mm - truth["radius_mm"]), 0.3),
        "collapse": (abs(m.collapse.depth_mm - truth["collapse_mm"]), 0.3),
        "lesion": (100 * abs(lesion_ml - truth["lesion_ml"]) / truth["lesion_ml"], 10.0),
    }
    failed = {k: v for k, (v, bar) in errors.items() if v > bar}
    assert not failed or m.quality.needs_review, failed


def test_stage_follows_the_collapse_or_abstains(measured):
    _, truth, _, m, _ = measured
    if truth["collapse_mm"] == 0:
        assert m.arco_2019 not in ("IIIA", "IIIB")
    elif not m.quality.needs_review:
        assert m.arco_2019 == ("IIIB" if truth["collapse_mm"] > 2.0 else "IIIA")


def _joint_profile(surface_mm: float, fluid_mm: float, radii: np.ndarray) -> np.ndarray:
    """T1 levels along a ray: marrow, 1.2 mm plate, 1.5 mm femoral cartilage, joint fluid of ``fluid_mm``,
    1.5 mm acetabular cartilage, 1.5 mm acetabular cortex, pelvic marrow; blurred by 0.4 mm."""
    from scipy import ndimage

    edges = np.cumsum([surface_mm - 1.2, 1.2, 1.5, fluid_mm, 1.5, 1.5])
    levels = [900.0, 60.0, 400.0, 150.0, 400.0, 60.0, 750.0]
    prof = np.asarray(levels)[np.searchsorted(edges, radii)]
    return ndimage.gaussian_filter1d(prof, 0.4 / (radii[1] - radii[0]))


def test_head_edge_is_the_femur_side_of_a_widened_joint():
    """Over a 3 mm collapse the joint fluid widens and the rise into the acetabular cartilage lies near
    the reference sphere; the head's edge is still the rise out of the plate over bone."""
    from onfh_imaging.segment.bone_surface import _outer_edges

    radii = np.arange(10.0, 40.0, 0.1)
    radius = 24.0
    prof = np.stack([_joint_profile(radius, 0.5, radii), _joint_profile(radius - 3.0, 2.0, radii)])
    level, bright = 0.5 * (60.0 + 400.0), 0.5 * (900.0 + 400.0)
    plain = _outer_edges(prof, radii, level, radius, bright)
    found = _outer_edges(prof, radii, level, radius, bright, (1.2, 1.5, 0.8), dark_core=True)
    # intact: both read the head's surface; collapsed: only the plate rule does (the plain last rise is
    # the acetabular cartilage, 2 mm beyond the depressed surface)
    assert abs(plain[0] - radius) < 0.3 and abs(found[0] - radius) < 0.3
    assert plain[1] - (radius - 3.0) > 1.5
    assert abs(found[1] - (radius - 3.0)) < 0.3


def _layers_profile(s: np.ndarray, plate_mm: float, blur_mm: float) -> np.ndarray:
    """T1 levels from the marrow edge (s = 0) outward: marrow, plate, 1.3 mm femoral cartilage, 0.6 mm
    fluid, 1.1 mm acetabular cartilage, 1.15 mm acetabular cortex, pelvic marrow; Gaussian blur."""
    from scipy import ndimage

    edges = np.cumsum([0.0, plate_mm, 1.3, 0.6, 1.1, 1.15])
    levels = [1350.0, 40.0, 480.0, 250.0, 480.0, 40.0, 1000.0]
    prof = np.asarray(levels)[np.searchsorted(edges, s)]
    return ndimage.gaussian_filter1d(prof, blur_mm / (s[1] - s[0]))


def test_cartilage_rise_is_sought_only_within_the_femur_layers():
    """A thin plate under cartilage blurred into one dark band shows no rise; the rise 5 mm out is the
    acetabular bone, so the cartilage is not seen."""
    from onfh_imaging.segment._layer_model import _first_dip_and_rise

    s = np.arange(-6.0, 8.0 + 1e-9, 0.1)
    sharp = _layers_profile(s, 0.9, 0.3)
    _, i_max, seen = _first_dip_and_rise(sharp, s, 1350.0)
    assert seen and 0.9 <= s[i_max] <= 2.2  # the femoral cartilage
    blurred = _layers_profile(s, 0.9, 0.8)
    assert not _first_dip_and_rise(blurred, s, 1350.0, 1.6)[2]  # the acetabular bone rises 5.05 mm out
    # unblurred, the same layers show the femoral cartilage, a plate and half a cartilage out at most
    assert _first_dip_and_rise(_layers_profile(s, 0.9, 0.4), s, 1350.0, 0.8)[2]


@pytest.mark.parametrize("collapse_mm", [0.0, 3.0])
def test_collapse_is_read_on_the_marrow_edge_where_the_joint_is_not_resolved(collapse_mm):
    """Thin plate, cartilage and fluid (1.5 mm joint) on 0.9 mm pixels and 5 mm slices: no cartilage is
    seen beyond the plate, so the surface is carried by the marrow edge, which a depressed segment moves
    with the plate; the depth is read there (it read 0.2 mm for 3 mm on the layer model), and the hip is
    flagged and never staged III."""
    hip = BallHip(collapse_mm=collapse_mm, cortex_mm=1.0, cartilage_mm=0.5, fluid_mm=0.5,
                  acetabular_cartilage_mm=0.5, pixel_mm=0.9, slice_mm=5.0, matrix=110, n_slices=14, seed=5)
    (seg,) = segment_hips(hip.render())
    m = stage_hip(measure_hip(seg.femoral_head_fraction, seg.lesion_fraction, side=seg.side,
                              neck_axis_lps=seg.neck_axis_lps, segmentation_quality=seg.quality,
                              surface_resolved_at=seg.surface_resolved_at))
    failed = {c.name for c in seg.quality.checks if not c.passed}
    assert "joint_space_resolved" in failed and m.quality.needs_review
    # the four checks that fail for this one cause stay, with their values, under one reason saying what to do
    one_cause = {"bone_surface_traced", "articular_surface_resolved", "edge_fit_residual", "joint_space_resolved"}
    assert one_cause <= failed
    shared = {c.reason for c in seg.quality.checks if c.name in one_cause}
    assert len(shared) == 1 and "thinner slices" in next(iter(shared))
    assert sum("cartilage" in r or "traced" in r or "cortical edges" in r for r in seg.quality.reasons) == 1
    assert abs(m.collapse.depth_mm - collapse_mm) <= 0.3
    assert m.arco_2019 not in ("IIIA", "IIIB")

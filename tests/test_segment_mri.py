"""Segmentation of femoral heads and lesions on rendered phantoms with exact truth."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from onfh_imaging.errors import SegmentationError, UnsupportedInputError
from onfh_imaging.geometry import Volume
from onfh_imaging.evaluation import PhantomCase, build_phantom, evaluate_case
from onfh_imaging.segment.mri import find_femoral_heads, segment_hips, select_series
from onfh_imaging.segment.rays import DirectionGrid, orthonormal_frame, star_fraction

# Small fields of view and coarse pixels keep rendering to seconds.
LARGE_FATTY = PhantomCase("large-fatty-right", hips="right", collapse_mm=2.6, lesion="large",
                          in_plane_mm=0.9, slice_mm=4.0, matrix=120, seed=1)
NO_LESION_LEFT = PhantomCase("intact-left-oblique", hips="left", in_plane_mm=0.9, slice_mm=5.0,
                             oblique_deg=(12.0, 0.0), intensity_scale=4000.0, matrix=120, seed=2)


@pytest.fixture(scope="module")
def large_fatty():
    built = build_phantom(LARGE_FATTY)
    return built, evaluate_case(LARGE_FATTY, built=built)


@pytest.fixture(scope="module")
def intact_left():
    built = build_phantom(NO_LESION_LEFT)
    return built, evaluate_case(NO_LESION_LEFT, built=built)


def test_large_lesion_head_geometry(large_fatty):
    rows = large_fatty[1]
    assert len(rows) == 1
    r = rows[0]
    assert r["side"] == "right" == r["truth_side"]
    assert r["center_error_mm"] <= 0.7
    assert abs(r["radius_error_mm"]) <= 0.3
    assert r["head_dice"] >= 0.95


def test_large_lesion_delineated(large_fatty):
    r = large_fatty[1][0]
    assert r["lesion_dice"] >= 0.85
    assert abs(r["lesion_volume_error_pct"]) <= 10.0


def test_intact_head_has_no_lesion_and_correct_side(intact_left):
    r = intact_left[1][0]
    assert r["side"] == "left" == r["truth_side"]
    assert not r["invented_lesion"]
    assert r["lesion_ml"] == 0.0
    assert r["center_error_mm"] <= 0.7
    assert abs(r["radius_error_mm"]) <= 0.3
    assert r["head_dice"] >= 0.95


def test_intact_head_reads_no_collapse(intact_left):
    r = intact_left[1][0]
    assert r["collapse_mm"] <= 0.3


def test_collapse_depth_under_large_lesion(large_fatty):
    r = large_fatty[1][0]
    assert abs(r["collapse_error_mm"]) <= 0.3


def test_masks_live_on_the_input_grid(large_fatty):
    (_, t1, _, _), _ = large_fatty
    seg = segment_hips(t1)[0]
    for mask in (seg.femoral_head_mask, seg.lesion_mask):
        assert mask.same_grid(t1) and mask.array.dtype == bool
    assert np.all(seg.lesion_mask.array <= seg.femoral_head_mask.array)
    frac = seg.femoral_head_fraction.array
    assert frac.min() >= 0 and frac.max() <= 1 and np.any((frac > 0.05) & (frac < 0.95))
    # neck axis points laterally (-x for the right hip) and inferiorly
    assert seg.neck_axis_lps[0] < -0.3 and seg.neck_axis_lps[2] < 0
    assert np.isclose(np.linalg.norm(seg.neck_axis_lps), 1.0)


SAMPLE_STUDY = Path(__file__).resolve().parents[1] / "sample_data" / "phantom_both_hips"


@pytest.mark.skipif(not (SAMPLE_STUDY / "T1_COR").is_dir(), reason="sample study not present")
def test_both_heads_found_in_sample_study_despite_large_lesion_and_collapse():
    from onfh_imaging.io.image import read_image
    from onfh_imaging.phantom.study import PhantomSpec

    series = read_image(SAMPLE_STUDY / "T1_COR")
    t1 = getattr(series, "volume", series)
    truth = {h.side: h for h in PhantomSpec.from_truth(SAMPLE_STUDY / "truth.json").model().hips}
    heads = find_femoral_heads(t1)
    assert [h.side for h in heads] == ["right", "left"]
    for h in heads:
        # the bone radius is about a cortex (< 3 mm) larger than the marrow sphere found here
        assert np.linalg.norm(h.center_lps - truth[h.side].center) < 1.0
        assert 0.0 < truth[h.side].head_radius_mm - h.radius_mm < 3.0


def _single_right_hip_with_large_lesion():
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec, render_series

    spec = PhantomSpec(hips="right", right=HipSpec(collapse_mm=3.0, lesion="large"), in_plane_mm=0.9,
                       matrix=(160, 160), n_slices=18, slice_mm=4.0, seed=3, stir=False)
    return spec.model(), render_series(spec, "T1")


def test_lone_head_with_large_lesion_found_with_its_side():
    model, t1 = _single_right_hip_with_large_lesion()
    (hip,) = model.hips
    heads = find_femoral_heads(t1)
    assert len(heads) == 1
    (head,) = heads
    assert head.side == "right"
    assert np.linalg.norm(head.center_lps - hip.center) < 1.0
    # the neck points laterally (-x for the right hip) and inferiorly
    assert head.neck_axis_lps[0] < -0.3 and head.neck_axis_lps[2] < 0
    seg = segment_hips(t1)[0]
    assert np.linalg.norm(seg.head_center_lps - hip.center) < 0.7
    assert abs(seg.head_radius_mm - hip.head_radius_mm) < 0.5
    assert seg.lesion_mask.array.any()


def test_head_cut_by_the_field_of_view_is_found_and_flagged():
    from onfh_imaging.phantom.model import PelvisModel
    from onfh_imaging.phantom.mr import render_mr

    model = PelvisModel.standard("right")
    hip = model.hips[0]
    # a coronal slab that stops 12 mm behind the head centre: the posterior head is cut off
    t1 = render_mr(model, in_plane_mm=0.9, slice_mm=4.0, matrix=(120, 120), n_slices=12, seed=4,
                   center_lps=tuple(hip.center + np.array([0.0, -12.0, 0.0])))
    (head,) = find_femoral_heads(t1)
    assert head.side == "right" and np.linalg.norm(head.center_lps - hip.center) < 1.5
    (seg,) = segment_hips(t1)
    assert any("outside the field of view" in w for w in seg.warnings)


def test_no_head_raises_segmentation_error():
    rng = np.random.default_rng(0)
    noise = Volume(rng.normal(100, 10, (12, 64, 64)).astype(np.float32), spacing=(0.8, 0.8, 4.0))
    with pytest.raises(SegmentationError, match="no femoral head"):
        segment_hips(noise, source="series X")
    assert find_femoral_heads(noise) == []


def test_star_fraction_of_a_sphere_matches_its_volume():
    grid = Volume(np.zeros((20, 80, 80), np.uint8), spacing=(0.7, 0.7, 4.0), origin=(-28, -28, -40),
                  direction=orthonormal_frame(np.array([0.2, 0.3, 1.0])))
    center = grid.index_to_lps(np.array([40.3, 39.6, 9.7]))
    dirs = DirectionGrid(orthonormal_frame(np.array([1.0, 0.0, 0.0])))
    frac = star_fraction(grid, center, dirs, np.full(dirs.shape, 20.0))
    volume_ml = frac.sum() * grid.voxel_volume_ml
    assert volume_ml == pytest.approx(4 / 3 * np.pi * 20.0 ** 3 / 1000, rel=0.01)


def _info(uid, sequence, orientation="coronal", fat=False, frame="F1", slices=20, spacing=4.0):
    return SimpleNamespace(series_instance_uid=uid, sequence=sequence, orientation=orientation,
                           fat_saturated=fat, frame_of_reference_uid=frame, n_slices=slices,
                           slice_spacing=spacing, files=[f"/data/{uid}/1.dcm"])


def test_select_series_prefers_coronal_t1_and_pairs_stir_of_same_frame():
    axial_t1 = _info("ax", "T1", "axial")
    cor_t1 = _info("cor", "T1")
    stir_other = _info("stir2", "STIR", frame="F2")
    stir = _info("stir", "STIR")
    t2fs = _info("t2fs", "T2", fat=True)
    primary, fluid = select_series([axial_t1, stir_other, t2fs, cor_t1, stir])
    assert primary is cor_t1 and fluid is stir
    primary, fluid = select_series([axial_t1, stir_other])
    assert primary is axial_t1 and fluid is None
    with pytest.raises(UnsupportedInputError, match="T1"):
        select_series([stir, t2fs])


def test_head_placed_from_a_seed_point_or_outline_points(large_fatty):
    (model, t1, _, _), _ = large_fatty
    hip = model.hips[0]
    r = hip.head_radius_mm
    # a point clicked 5 mm off the centre, and four points clicked on the outline of one coronal slice
    point = {"right": list(hip.center + np.array([3.0, -2.0, 4.0]))}
    outline = {"right": [list(hip.center + r * np.array([np.cos(a), 0.0, np.sin(a)])) for a in (0.3, 1.5, 2.8, 4.0)]}
    for seeds in (point, outline):
        (seg,) = segment_hips(t1, head_seeds=seeds)
        assert seg.placed_by_hand and seg.side == "right"
        assert np.linalg.norm(seg.head_center_lps - hip.center) < 0.7
        assert abs(seg.head_radius_mm - r) < 0.3
        assert "head placed by hand" in seg.quality.reasons


def test_seed_far_from_any_head_is_refused(large_fatty):
    (_, t1, _, _), _ = large_fatty
    corner = t1.index_to_lps(np.array([2.0, 2.0, 1.0]))
    with pytest.raises(SegmentationError, match="right"):
        segment_hips(t1, head_seeds={"right": list(corner)}, source="series X")


def test_automatic_heads_pass_their_quality_checks(large_fatty, intact_left):
    for (_, t1, _, _), _ in (large_fatty, intact_left):
        (seg,) = segment_hips(t1)
        assert not seg.placed_by_hand
        assert not seg.quality.needs_review, seg.quality.reasons
        names = {c.name for c in seg.quality.checks}
        assert {"articular_surface_resolved", "edge_fit_residual", "independent_estimates_agree",
                "field_of_view", "radius_plausible", "continuous_with_neck"} <= names

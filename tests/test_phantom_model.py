"""The hip model and its truth against closed-form geometry."""

import numpy as np
import pytest
from scipy import integrate

from onfh_imaging.geometry import Volume
from onfh_imaging.phantom import (
    Collapse,
    HipModel,
    Lesion,
    PelvisModel,
    arco_2019,
    default_dome_direction,
    hip_truth,
    steinberg_extent,
    truth_masks,
)

CENTER = (-88.0, 20.0, -80.0)
R = 24.0


def intact_head_volume(R, rn, h):
    """Ball minus the cap beyond the junction plane, plus the neck cylinder inside that cap (mm3)."""
    t1 = np.sqrt(R**2 - rn**2)
    cap = np.pi * (R - h) ** 2 * (2 * R + h) / 3
    cyl = np.pi * rn**2 * (t1 - h) + np.pi * ((R**3 - R**3 / 3) - (R**2 * t1 - t1**3 / 3))
    return 4 / 3 * np.pi * R**3 - cap + cyl


def lens_volume(R, rho, o):
    """Volume of the intersection of balls of radii R and rho whose centres are o apart (mm3)."""
    poly = o**2 + 2 * o * rho - 3 * rho**2 + 2 * o * R + 6 * rho * R - 3 * R**2
    return np.pi * (R + rho - o) ** 2 * poly / (12 * o)


def test_neck_points_lateral_and_inferior_for_each_side():
    right, left = HipModel("right", CENTER), HipModel("left", (88.0, 20.0, -80.0))
    assert right.neck_axis_lps[0] < -0.5 and right.neck_axis_lps[2] < -0.5
    assert left.neck_axis_lps[0] > 0.5 and left.neck_axis_lps[2] < -0.5
    # the cup's pole is medial and superior
    assert right.acetabular_axis_lps[0] > 0 and right.acetabular_axis_lps[2] > 0
    assert left.acetabular_axis_lps[0] < 0


def test_intact_head_volume_matches_closed_form():
    hip = HipModel("right", CENTER, head_radius_mm=R)
    expected = intact_head_volume(R, hip.neck_radius_mm, hip.head_neck_cut_mm)
    t = hip_truth(hip)
    assert t.volume_ml == pytest.approx(expected / 1000, rel=1e-7)
    assert expected < 4 / 3 * np.pi * R**3  # the neck geometry removes part of the sphere
    assert t.collapse_depth_mm == 0 and t.rms_deviation_mm == pytest.approx(0, abs=1e-12)
    assert t.lesion_volume_ml is None and t.arco_2019 == "none"


def test_collapse_depth_and_volume_deficit():
    d = default_dome_direction("right")
    col = Collapse(2.5, d, angular_radius_deg=25)
    hip = HipModel("right", CENTER, collapse=col)
    intact = HipModel("right", CENTER)
    # the deepest depression of the surface below the reference sphere is the requested depth
    rng = np.random.default_rng(1)
    u = rng.normal(size=(200_000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    u = np.vstack([u, np.asarray(d)[None]])
    depression = R - hip.surface_radius(u)
    assert depression.max() == pytest.approx(2.5, abs=1e-12)
    # the flat bottom (40 % of the angular radius) is the deepest part, centred on the direction
    deepest = u[depression > 2.5 - 1e-9]
    assert np.degrees(np.arccos(np.clip(deepest @ d, -1, 1))).max() <= 10.0 + 1e-6
    assert deepest.mean(axis=0) @ d / np.linalg.norm(deepest.mean(axis=0)) == pytest.approx(1.0, abs=1e-3)
    # volume lost = integral over the depressed cap of (R^3 - r^3)/3 dOmega
    r = lambda psi: R - 2.5 * col.profile(psi)  # noqa: E731
    lost, _ = integrate.quad(lambda psi: 2 * np.pi * np.sin(psi) * (R**3 - r(psi) ** 3) / 3,
                             0, np.radians(25), points=[np.radians(10)])
    t, t0 = hip_truth(hip), hip_truth(intact)
    assert (t0.volume_ml - t.volume_ml) * 1000 == pytest.approx(lost, rel=1e-5)
    assert t.collapse_depth_mm == 2.5
    assert t.arco_2019 == "IIIB" and t.sphericity < t0.sphericity
    assert t.rms_deviation_mm > 0


def test_spherical_lesion_volume_and_kerboul_angle_closed_form():
    rho, o = 14.0, 20.0
    hip = HipModel("right", CENTER, lesion=Lesion((0, 0, 1), o, rho, rho, band_mm=2.0))
    t = hip_truth(hip)
    assert t.lesion_volume_ml * 1000 == pytest.approx(lens_volume(R, rho, o), rel=1e-5)
    assert t.numerical_error_ml < 1e-3
    # a superior lesion meets the sphere on a circle at angle beta from the pole, in both mid planes
    beta = np.degrees(np.arccos((R**2 + o**2 - rho**2) / (2 * R * o)))
    assert t.kerboul_angle_deg == pytest.approx(4 * beta, abs=0.05)
    assert t.head_involvement_pct == pytest.approx(100 * t.lesion_volume_ml / t.volume_ml)


def test_membership_functions_agree_with_quadrature():
    d = default_dome_direction("right")
    hip = HipModel("right", CENTER, collapse=Collapse(2.0, d), lesion=Lesion.preset("large", R, d))
    t = hip_truth(hip)
    rng = np.random.default_rng(0)
    n = 600_000
    p = hip.center + rng.uniform(-R, R, (n, 3))
    box = (2 * R) ** 3 / 1000
    for mask, expected in ((hip.head_mask(p), t.volume_ml), (hip.lesion_mask(p), t.lesion_volume_ml)):
        f = mask.mean()
        se = box * np.sqrt(f * (1 - f) / n)
        assert abs(f * box - expected) < 4 * se
    # lesion lies inside the head; band inside the lesion; cortex and marrow partition the femur
    lesion = hip.lesion_mask(p)
    assert not np.any(lesion & ~hip.head_mask(p))
    assert not np.any(hip.lesion_band_mask(p) & ~lesion)
    femur = hip.femur_mask(p)
    assert np.array_equal(hip.cortex_mask(p) | hip.marrow_mask(p), femur)
    assert not np.any(hip.cortex_mask(p) & hip.marrow_mask(p))
    assert not np.any(hip.cartilage_mask(p) & femur)


def test_lesion_presets_are_steinberg_a_and_c():
    d = default_dome_direction("left")
    small = hip_truth(HipModel("left", (88, 20, -80), lesion=Lesion.preset("small", R, d)))
    large = hip_truth(HipModel("left", (88, 20, -80), lesion=Lesion.preset("large", R, d)))
    assert small.steinberg_extent == "A" and 5 < small.head_involvement_pct < 15
    assert large.steinberg_extent == "C" and large.head_involvement_pct > 30
    assert small.kerboul_angle_deg < large.kerboul_angle_deg
    assert small.arco_2019 == "I/II"


def test_mirrored_hip_is_the_reflection():
    d = default_dome_direction("right")
    right = HipModel("right", CENTER, collapse=Collapse(1.5, d), lesion=Lesion.preset("small", R, d))
    left = right.mirrored()
    assert left.side == "left" and left.head_center_lps[0] == -CENTER[0]
    rng = np.random.default_rng(3)
    p = right.center + rng.uniform(-40, 40, (50_000, 3))
    flip = np.array([-1.0, 1.0, 1.0])
    assert np.array_equal(right.lesion_mask(p), left.lesion_mask(p * flip))
    assert np.array_equal(right.tissue_labels(p)[0], left.tissue_labels(p * flip)[0])
    a, b = hip_truth(right), hip_truth(left)
    assert a.volume_ml == pytest.approx(b.volume_ml, rel=1e-9)
    assert a.lesion_volume_ml == pytest.approx(b.lesion_volume_ml, rel=1e-9)


def test_impossible_models_are_refused():
    with pytest.raises(ValueError, match="too deep"):
        HipModel("right", CENTER, collapse=Collapse(13.0, (0, 0, 1)))
    with pytest.raises(ValueError, match="articular"):
        HipModel("right", CENTER, collapse=Collapse(2.0, HipModel("right", CENTER).neck_axis_lps))
    with pytest.raises(ValueError, match="side"):
        HipModel("middle", CENTER)


@pytest.mark.parametrize(("depth", "lesion", "stage"), [
    (0.0, False, "none"), (0.0, True, "I/II"), (0.5, True, "IIIA"), (2.0, True, "IIIA"),
    (2.01, True, "IIIB")])
def test_arco_2019(depth, lesion, stage):
    assert arco_2019(depth, lesion)[0] == stage


@pytest.mark.parametrize(("pct", "letter"), [(None, None), (0.0, "A"), (14.9, "A"), (15.0, "B"), (30.0, "B"),
                                             (30.1, "C")])
def test_steinberg_extent(pct, letter):
    assert steinberg_extent(pct) == letter


def test_truth_masks_integrate_to_truth_volumes_on_an_oblique_grid():
    d = default_dome_direction("right")
    model = PelvisModel.standard("right", right={"lesion": Lesion.preset("large", R, d),
                                                 "collapse": Collapse(2.0, d)})
    hip = model.hips[0]
    a = np.radians(20)
    direction = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    shape = (30, 40, 40)  # k, j, i
    spacing = np.array([1.5, 1.5, 2.0])
    origin = hip.center - direction @ (spacing * (np.array([40, 40, 30]) - 1) / 2)
    grid = Volume(np.zeros(shape, np.uint8), spacing, origin, direction)
    head, lesion = truth_masks(model, grid, supersample=4)
    t = hip_truth(hip)
    assert head.same_grid(grid) and lesion.same_grid(grid)
    assert 0 <= head.array.min() and head.array.max() <= 1
    assert head.array.sum() * grid.voxel_volume_ml == pytest.approx(t.volume_ml, rel=0.01)
    assert lesion.array.sum() * grid.voxel_volume_ml == pytest.approx(t.lesion_volume_ml, rel=0.02)
    partial = (head.array > 0.05) & (head.array < 0.95)
    assert partial.sum() > 100
    assert np.all(lesion.array <= head.array + 1e-6)

import numpy as np
import pytest

from onfh_imaging.errors import MeasurementError
from onfh_imaging.measure.analytic import femoral_head_sdf, grid_around, voxelise
from onfh_imaging.measure.sphere import fit_reference_sphere, fit_sphere
from onfh_imaging.measure.surface import head_surface_mesh

CENTER = np.array([-31.4, 12.7, 88.2])


def _sphere_points(n, radius, noise_mm, rng, max_polar_deg=180.0):
    z = rng.uniform(np.cos(np.radians(max_polar_deg)), 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z**2)
    dirs = np.column_stack([s * np.cos(phi), s * np.sin(phi), z])
    return CENTER + dirs * (radius + rng.normal(0, noise_mm, n))[:, None]


def test_fit_sphere_recovers_centre_and_radius_from_noisy_points():
    rng = np.random.default_rng(1)
    pts = _sphere_points(5000, 23.5, 0.2, rng)
    s = fit_sphere(pts)
    assert np.linalg.norm(s.center_lps - CENTER) < 0.02
    assert abs(s.radius_mm - 23.5) < 0.02
    assert s.rms_mm == pytest.approx(0.2, rel=0.05)


def test_fit_sphere_on_a_partial_cap_is_still_exact():
    rng = np.random.default_rng(2)
    pts = _sphere_points(3000, 25.0, 0.05, rng, max_polar_deg=100.0)
    s = fit_sphere(pts)
    assert np.linalg.norm(s.center_lps - CENTER) < 0.02
    assert abs(s.radius_mm - 25.0) < 0.02


def test_degenerate_points_raise_measurement_error():
    with pytest.raises(MeasurementError):
        fit_sphere(np.zeros((3, 3)))
    plane = np.column_stack([np.arange(10.0), np.arange(10.0) ** 2 % 7, np.zeros(10)])
    with pytest.raises(MeasurementError):
        fit_sphere(plane)


def test_robust_fit_ignores_inward_points_that_bias_a_plain_fit():
    rng = np.random.default_rng(3)
    pts = _sphere_points(4000, 24.0, 0.05, rng)
    dirs = (pts - CENTER) / np.linalg.norm(pts - CENTER, axis=1)[:, None]
    dented = dirs[:, 2] > np.cos(np.radians(35))
    pts[dented] -= 3.0 * dirs[dented]
    plain = fit_sphere(pts)
    robust = fit_reference_sphere(pts)
    assert np.linalg.norm(plain.center_lps - CENTER) > 0.3
    assert abs(robust.radius_mm - 24.0) < 0.02
    assert np.linalg.norm(robust.center_lps - CENTER) < 0.02
    assert robust.inlier_fraction == pytest.approx(1 - dented.mean(), abs=0.01)


def test_reference_sphere_of_a_head_with_a_3mm_depression_at_half_mm():
    grid = grid_around(CENTER + [0.3, -0.2, 0.1], (112, 112, 112), (0.5, 0.5, 0.5))
    sdf = femoral_head_sdf(CENTER, 24.0, collapse_depth_mm=3.0, collapse_direction_lps=(0.3, 0.1, 1.0),
                           collapse_half_angle_deg=35.0)
    mesh = head_surface_mesh(voxelise(grid, sdf))
    s = fit_reference_sphere(mesh.vertices_lps, mesh.vertex_areas_mm2())
    assert abs(s.radius_mm - 24.0) < 0.1
    assert np.linalg.norm(s.center_lps - CENTER) < 0.1
    assert 0.8 < s.inlier_fraction < 0.97

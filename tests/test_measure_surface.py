import numpy as np
import pytest

from onfh_imaging.errors import MeasurementError
from onfh_imaging.measure.analytic import grid_around, oblique_direction, sphere_sdf, voxelise
from onfh_imaging.measure.surface import head_surface_mesh, mesh_area_mm2, mesh_volume_ml, sphericity

R = 24.0
CENTER = np.array([12.3, -40.6, 95.15])
CORONAL = np.column_stack([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
GRIDS = {
    "iso-0.5": dict(shape_kji=(112, 112, 112), spacing=(0.5, 0.5, 0.5), direction=None),
    "0.7x0.7x3.5-oblique": dict(shape_kji=(20, 86, 86), spacing=(0.7, 0.7, 3.5),
                                direction=oblique_direction((8, 5, -10)) @ CORONAL),
    "0.7x0.7x3.5-axial-oblique": dict(shape_kji=(20, 86, 86), spacing=(0.7, 0.7, 3.5),
                                      direction=oblique_direction()),
}


@pytest.fixture(scope="module", params=[(g, b) for g in GRIDS for b in (True, False)],
                ids=lambda p: f"{p[0]}-{'binary' if p[1] else 'fractions'}")
def sphere_mask(request):
    name, binary = request.param
    grid = grid_around(CENTER + [0.31, -0.17, 0.6], **GRIDS[name])
    return voxelise(grid, sphere_sdf(CENTER, R), binary=binary)


def test_sphere_has_sphericity_one(sphere_mask):
    mesh = head_surface_mesh(sphere_mask)
    assert sphericity(mesh) == pytest.approx(1.0, abs=0.01)


def test_mesh_volume_and_area_match_the_sphere(sphere_mask):
    mesh = head_surface_mesh(sphere_mask)
    assert mesh_volume_ml(mesh) == pytest.approx(4 / 3 * np.pi * R**3 / 1000, rel=0.01)
    assert mesh_area_mm2(mesh) == pytest.approx(4 * np.pi * R**2, rel=0.02)


def test_vertices_are_in_patient_space(sphere_mask):
    mesh = head_surface_mesh(sphere_mask)
    radial = np.linalg.norm(mesh.vertices_lps - CENTER, axis=1) - R
    assert abs(np.mean(radial)) < 0.1
    assert np.linalg.norm(mesh.vertices_lps.mean(axis=0) - CENTER) < 0.1


def test_fractions_give_a_tighter_surface_than_binary_at_thick_slices():
    grid = grid_around(CENTER, **GRIDS["0.7x0.7x3.5-oblique"])
    sd = {}
    for binary in (True, False):
        mesh = head_surface_mesh(voxelise(grid, sphere_sdf(CENTER, R), binary=binary))
        sd[binary] = np.std(np.linalg.norm(mesh.vertices_lps - CENTER, axis=1))
    assert sd[False] < 0.1 < sd[True]


def test_oblate_spheroid_has_its_analytic_sphericity():
    a, c = 24.0, 16.0
    grid = grid_around(CENTER, (76, 112, 112), (0.5, 0.5, 0.5))
    scale = np.array([a, a, c])
    spheroid = voxelise(grid, lambda p: (np.linalg.norm((p - CENTER) / scale, axis=-1) - 1.0) * c)
    e = np.sqrt(1 - c**2 / a**2)
    area = 2 * np.pi * a**2 * (1 + (1 - e**2) / e * np.arctanh(e))
    volume = 4 / 3 * np.pi * a * a * c
    expected = np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area
    mesh = head_surface_mesh(spheroid)
    assert expected < 0.97
    assert sphericity(mesh) == pytest.approx(expected, abs=0.005)
    assert mesh_volume_ml(mesh) == pytest.approx(volume / 1000, rel=0.01)


def test_empty_mask_raises():
    grid = grid_around(CENTER, (10, 10, 10), (1.0, 1.0, 1.0))
    with pytest.raises(MeasurementError, match="empty"):
        head_surface_mesh(grid)

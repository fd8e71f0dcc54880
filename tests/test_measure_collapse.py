import numpy as np
import pytest

from onfh_imaging.measure.analytic import femoral_head_sdf, grid_around, oblique_direction, voxelise
from onfh_imaging.measure.deviation import (
    articular_vertices,
    collapse,
    deviation_map,
    estimate_neck_axis,
    rms_deviation_mm,
)
from onfh_imaging.measure.sphere import fit_reference_sphere
from onfh_imaging.measure.surface import head_surface_mesh

R = 24.0
CENTER = np.array([-88.4, 21.3, -140.6])
CORONAL = np.column_stack([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
THICK_OBLIQUE = dict(shape_kji=(20, 86, 86), spacing=(0.7, 0.7, 3.5),
                     direction=oblique_direction((8, 5, -10)) @ CORONAL)
NECK = np.array([0.6, 0.0, -0.8])
COLLAPSE_DIR = np.array([0.2, 0.1, 1.0]) / np.linalg.norm([0.2, 0.1, 1.0])


def _head(depth_mm, neck=False, direction=COLLAPSE_DIR, grid=THICK_OBLIQUE, binary=False):
    g = grid_around(CENTER + [0.37, -0.21, 0.55], **grid)
    sdf = femoral_head_sdf(CENTER, R, collapse_depth_mm=depth_mm, collapse_direction_lps=direction,
                           collapse_half_angle_deg=35.0, neck_axis_lps=NECK if neck else None,
                           neck_radius_mm=0.6 * R, neck_cut_angle_deg=60.0)
    return voxelise(g, sdf, binary=binary)


def _measure(mask, neck_axis=None, estimate=False, roof=None):
    mesh = head_surface_mesh(mask)
    areas = mesh.vertex_areas_mm2()
    sphere = fit_reference_sphere(mesh.vertices_lps, areas)
    if estimate:
        neck_axis = estimate_neck_axis(mesh, sphere)
    art = articular_vertices(mesh, sphere, neck_axis)
    sphere = fit_reference_sphere(mesh.vertices_lps[art], areas[art])
    return mesh, sphere, neck_axis, collapse(mesh, sphere, neck_axis, roof)


def _angle_deg(a, b):
    return np.degrees(np.arccos(np.clip(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


@pytest.mark.parametrize("depth", [0.0, 1.0, 2.0, 3.0, 4.0])
def test_collapse_depth_on_thick_oblique_partial_volume_masks(depth):
    mesh, sphere, _, col = _measure(_head(depth))
    assert col.depth_mm == pytest.approx(depth, abs=0.2)
    assert abs(sphere.radius_mm - R) < 0.1
    if depth >= 1.0:
        assert _angle_deg(col.direction_lps, COLLAPSE_DIR) < 8.0
        assert col.in_weight_bearing_dome
        assert np.linalg.norm(col.location_lps - CENTER) == pytest.approx(R - depth, abs=0.3)


def test_deviation_map_is_signed_radial_distance():
    mesh, sphere, _, _ = _measure(_head(3.0))
    dev = deviation_map(mesh, sphere)
    dirs = (mesh.vertices_lps - CENTER) / np.linalg.norm(mesh.vertices_lps - CENTER, axis=1)[:, None]
    in_dent = dirs @ COLLAPSE_DIR > np.cos(np.radians(5))
    far = dirs @ COLLAPSE_DIR < np.cos(np.radians(50))
    assert dev[in_dent].mean() == pytest.approx(-3.0, abs=0.25)
    assert abs(dev[far].mean()) < 0.05
    assert rms_deviation_mm(mesh, sphere) > 0.2 > rms_deviation_mm(mesh, sphere, far)


@pytest.mark.parametrize("estimate", [False, True], ids=["given-neck-axis", "estimated-neck-axis"])
def test_intact_head_with_neck_does_not_read_as_collapse(estimate):
    mesh, sphere, axis, col = _measure(_head(0.0, neck=True), neck_axis=NECK, estimate=estimate)
    assert col.depth_mm < 0.3
    assert _angle_deg(axis, NECK) < 3.0
    assert abs(sphere.radius_mm - R) < 0.1
    assert np.linalg.norm(sphere.center_lps - CENTER) < 0.1
    # Without excluding the neck, the head-neck junction would be the deepest "collapse".
    assert collapse(mesh, sphere, None).depth_mm > 3.0


def test_collapsed_head_with_neck_keeps_depth_and_neck_axis():
    mesh, sphere, axis, col = _measure(_head(3.0, neck=True), estimate=True)
    assert _angle_deg(axis, NECK) < 3.0
    assert col.depth_mm == pytest.approx(3.0, abs=0.2)


def test_a_depression_alone_is_not_taken_for_the_neck():
    mesh = head_surface_mesh(_head(4.0))
    sphere = fit_reference_sphere(mesh.vertices_lps, mesh.vertex_areas_mm2())
    assert estimate_neck_axis(mesh, sphere) is None


def test_weight_bearing_dome_follows_the_roof_direction():
    posterior = np.array([0.0, 1.0, 0.3])
    _, _, _, col = _measure(_head(2.0, direction=posterior))
    assert _angle_deg(col.direction_lps, posterior) < 8.0
    assert not col.in_weight_bearing_dome
    roof = posterior + [0.0, 0.0, 0.5]
    _, _, _, col = _measure(_head(2.0, direction=posterior), roof=roof)
    assert col.in_weight_bearing_dome


def test_binary_thick_slice_mask_separates_intact_from_collapsed():
    intact = _measure(_head(0.0, binary=True))[3].depth_mm
    collapsed = _measure(_head(3.0, binary=True))[3].depth_mm
    assert intact < 1.0
    assert collapsed == pytest.approx(3.0, abs=0.4)


def test_noisy_intact_surface_reads_its_depth_net_of_the_noise_floor():
    """Radial noise on an intact head: the deepest patch lies below the sphere by chance alone; the depth
    is net of that floor, while a 1 mm depression under the same noise keeps its depth."""
    from onfh_imaging.measure.surface import SurfaceMesh

    rng = np.random.default_rng(3)
    for depth, bar in ((0.0, 0.15), (1.0, 0.15)):
        mesh = head_surface_mesh(_head(depth))
        v = mesh.vertices_lps - CENTER
        noisy = CENTER + v * (1.0 + rng.normal(0.0, 0.15, len(v)) / np.linalg.norm(v, axis=1))[:, None]
        mesh = SurfaceMesh(noisy, mesh.faces)
        sphere = fit_reference_sphere(mesh.vertices_lps, mesh.vertex_areas_mm2())
        col = collapse(mesh, sphere)
        raw = np.hypot(col.depth_mm, col.noise_floor_mm)
        assert col.noise_floor_mm > 0.0
        assert abs(col.depth_mm - depth) <= bar
        if depth == 0.0:
            assert raw - depth > col.depth_mm - depth  # the floor removed the chance depth


def test_depression_where_the_surface_was_not_traced_is_not_searched():
    """A 1.5 mm depression carried into a region the segmentation did not trace is not read (the deepest
    traced patch is, net of the same noise floor); traced, the same depression keeps its depth."""
    mesh, sphere, _, _ = _measure(_head(1.5))
    u = mesh.vertices_lps - sphere.center_lps
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    near = u @ COLLAPSE_DIR > np.cos(np.radians(45.0))
    untraced = collapse(mesh, sphere, traced=~near)
    traced = collapse(mesh, sphere, traced=np.ones(len(u), bool))
    assert untraced.depth_mm < 0.2 and untraced.noise_floor_mm == pytest.approx(traced.noise_floor_mm)
    assert traced.depth_mm == pytest.approx(1.5, abs=0.2)


def test_a_pit_on_the_non_weight_bearing_lower_half_is_not_collapse():
    """A 1.5 mm pit below the head's equator (inferior, 20 deg lateral of the inferior pole: outside the fovea's
    cone) is on the surface that carries no load and is not searched; the whole surface would read it."""
    inferior = np.array([-0.35, 0.0, -1.0]) / np.linalg.norm([-0.35, 0.0, -1.0])
    mesh, sphere, _, col = _measure(_head(1.5, direction=inferior))
    assert col.depth_mm < 0.2
    assert col.direction_lps @ [0.0, 0.0, 1.0] >= 0.0
    whole = collapse(mesh, sphere, load_bearing_half_angle_deg=180.0)
    assert whole.depth_mm == pytest.approx(1.5, abs=0.2)
    assert _angle_deg(whole.direction_lps, inferior) < 8.0

import numpy as np
import pytest

from onfh_imaging.errors import MeasurementError
from onfh_imaging.measure.analytic import (
    grid_around,
    oblique_direction,
    sphere_sdf,
    spherical_cap_sdf,
    spherical_cap_volume_ml,
    voxelise,
)
from onfh_imaging.measure.lesion import (
    head_involvement_pct,
    kerboul_angle_deg,
    lesion_volume_ml,
    mask_volume_ml,
    necrotic_arc_deg,
)
from onfh_imaging.measure.sphere import Sphere

R = 24.0
CENTER = np.array([70.2, -15.4, 60.9])
CORONAL = np.column_stack([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
GRIDS = {
    "iso-0.5": dict(shape_kji=(104, 104, 104), spacing=(0.5, 0.5, 0.5), direction=None),
    "0.7x0.7x3.5-coronal-oblique": dict(shape_kji=(20, 86, 86), spacing=(0.7, 0.7, 3.5),
                                        direction=oblique_direction((6, 4, -8)) @ CORONAL),
}
SPHERE = Sphere(center_lps=CENTER, radius_mm=R, rms_mm=0.0)


@pytest.fixture(scope="module", params=list(GRIDS))
def grid(request):
    return grid_around(CENTER + [0.3, 0.2, -0.4], **GRIDS[request.param])


@pytest.fixture(scope="module")
def head(grid):
    return voxelise(grid, sphere_sdf(CENTER, R))


@pytest.mark.parametrize("half_angle", [30.0, 40.0, 55.0])
def test_cap_lesion_volume_and_kerboul_angle(grid, head, half_angle):
    lesion = voxelise(grid, spherical_cap_sdf(CENTER, R, (0, 0, 1), half_angle))
    truth_ml = spherical_cap_volume_ml(R, half_angle)
    assert lesion_volume_ml(lesion, head) == pytest.approx(truth_ml, rel=0.05)
    assert head_involvement_pct(lesion, head) == pytest.approx(
        100 * truth_ml / (4 / 3 * np.pi * R**3 / 1000), rel=0.05)
    # A cap centred on the superior pole spans 2 x half-angle on both planes.
    for along in (False, True):
        assert kerboul_angle_deg(lesion, SPHERE, head_mask=head, along_slices=along) == pytest.approx(
            4 * half_angle, abs=6.0)


def test_binary_masks_at_half_mm():
    grid = grid_around(CENTER + [0.3, 0.2, -0.4], **GRIDS["iso-0.5"])
    head = voxelise(grid, sphere_sdf(CENTER, R), binary=True)
    lesion = voxelise(grid, spherical_cap_sdf(CENTER, R, (0, 0, 1), 50.0), binary=True)
    assert lesion_volume_ml(lesion, head) == pytest.approx(spherical_cap_volume_ml(R, 50.0), rel=0.05)
    assert kerboul_angle_deg(lesion, SPHERE, head_mask=head) == pytest.approx(200.0, abs=6.0)


def test_tilted_cap_arc_on_a_plane_that_misses_its_axis(grid, head):
    axis = np.array([1.0, 0.0, 0.0])
    lesion = voxelise(grid, spherical_cap_sdf(CENTER, R, axis, 50.0))
    # The coronal plane (normal y) contains the cap's axis; the sagittal plane (normal x) is
    # perpendicular to it and misses the cap entirely.
    assert necrotic_arc_deg(lesion, SPHERE, (0, 1, 0), head_mask=head) == pytest.approx(100.0, abs=3.0)
    assert necrotic_arc_deg(lesion, SPHERE, (1, 0, 0), head_mask=head) == 0.0


def test_lesion_is_clipped_to_the_head(grid, head):
    big = voxelise(grid, sphere_sdf(CENTER, R + 5.0))
    assert lesion_volume_ml(big, head) == pytest.approx(mask_volume_ml(head), rel=1e-6)
    assert head_involvement_pct(big, head) == pytest.approx(100.0)
    assert mask_volume_ml(big) > mask_volume_ml(head) * 1.5


def test_empty_lesion_has_zero_volume_and_angle(grid, head):
    empty = grid.with_array(np.zeros(grid.shape, np.float32))
    assert lesion_volume_ml(empty, head) == 0.0
    assert kerboul_angle_deg(empty, SPHERE, head_mask=head) == 0.0


def test_masks_on_different_grids_are_refused(head):
    other = grid_around(CENTER, (10, 10, 10), (1.0, 1.0, 1.0))
    with pytest.raises(MeasurementError, match="same image grid"):
        lesion_volume_ml(other, head)


def _ball_lesion_sdf(offset_mm: float, radius_mm: float):
    """A lesion bounded by a ball centred ``offset_mm`` above the head centre: its boundary meets the
    articular surface obliquely, at the angle between the two spheres."""
    head, ball = sphere_sdf(CENTER, R), sphere_sdf(CENTER + [0.0, 0.0, offset_mm], radius_mm)
    return lambda p: np.maximum(head(p), ball(p))


@pytest.mark.parametrize("offset, radius", [(0.6 * R, 0.75 * R), (0.9 * R, 0.45 * R)])
@pytest.mark.parametrize("slice_mm", [3.5, 5.0])
def test_kerboul_angle_of_a_boundary_meeting_the_surface_obliquely(offset, radius, slice_mm):
    # The ball meets the sphere at theta from the pole on every plane through the axis (cosine rule);
    # the masks' partial volume across thick slices must not spread the lesion's footprint.
    theta = np.degrees(np.arccos((R**2 + offset**2 - radius**2) / (2 * R * offset)))
    grid = grid_around(CENTER + [0.3, 0.2, -0.4], (int(60 / slice_mm), 86, 86), (0.7, 0.7, slice_mm),
                       direction=oblique_direction((6, 4, -8)) @ CORONAL)
    head = voxelise(grid, sphere_sdf(CENTER, R))
    lesion = voxelise(grid, _ball_lesion_sdf(offset, radius))
    for along in (False, True):
        assert kerboul_angle_deg(lesion, SPHERE, head_mask=head, along_slices=along) == pytest.approx(
            4 * theta, abs=10.0)


def test_small_cap_on_five_mm_slices():
    # A 30-degree cap on 5 mm slices: its boundary meets the surface at 30 deg, and across the slices
    # the partial volume of the surface spreads it by several degrees unless the voxels' blur is removed.
    grid = grid_around(CENTER, (12, 66, 66), (0.9, 0.9, 5.0), direction=CORONAL)
    head = voxelise(grid, sphere_sdf(CENTER, R))
    lesion = voxelise(grid, spherical_cap_sdf(CENTER, R, (0, 0, 1), 30.0))
    assert necrotic_arc_deg(lesion, SPHERE, (0, 1, 0), head_mask=head) == pytest.approx(60.0, abs=4.0)
    for along in (False, True):
        assert kerboul_angle_deg(lesion, SPHERE, head_mask=head, along_slices=along) == pytest.approx(
            120.0, abs=6.0)


def _spheroid_lesion_sdf(direction, offset_mm: float, radial_mm: float, transverse_mm: float):
    """A lesion bounded by a spheroid (axis ``direction`` from the head centre, centre ``offset_mm``
    along it): its boundary curves and meets the articular surface obliquely, as a demarcating band does."""
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    head = sphere_sdf(CENTER, R)

    def sdf(p):
        q = p - CENTER - offset_mm * d
        axial = q @ d
        transverse2 = np.maximum(np.sum(q * q, axis=-1) - axial**2, 0.0)
        k = np.sqrt(axial**2 / radial_mm**2 + transverse2 / transverse_mm**2)
        return np.maximum(head(p), (k - 1.0) * min(radial_mm, transverse_mm))

    return sdf


def _arc_on_sphere_deg(sdf, normal, step_deg: float = 0.01) -> float:
    n = np.asarray(normal, float)
    e1 = np.array([0.0, 0.0, 1.0]) - n[2] * n
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    phi = np.radians(np.arange(0.0, 360.0, step_deg))
    u = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    return float(np.count_nonzero(sdf(CENTER + (R - 1e-6) * u) <= 0) * step_deg)


@pytest.mark.parametrize("axis", [(0.35, 0.1, 0.93), (0.0, 0.0, 1.0)])
def test_arcs_of_a_curved_boundary_on_thick_slices(axis):
    # A large lesion whose boundary widens with depth (meeting the surface at about 40 deg) seen on
    # 0.9 x 0.9 x 5 mm coronal voxels. In-plane (coronal) the arc is read within a degree or two. Through
    # the slices (sagittal) a slice holding the lesion's end also holds lesion under the head beyond it:
    # read as the share of the head, the end lies up to a slice too far out (+9 to +12 deg, the angle
    # within 15 deg); read along the slice normal as the gap between the surface and the lesion, it is
    # placed within the slice.
    sdf = _spheroid_lesion_sdf(axis, 0.6 * R, 0.7 * R, 0.9 * R)
    grid = grid_around(CENTER + [0.3, 0.2, -0.4], (12, 66, 66), (0.9, 0.9, 5.0), direction=CORONAL)
    head = voxelise(grid, sphere_sdf(CENTER, R))
    lesion = voxelise(grid, sdf)
    coronal, sagittal = _arc_on_sphere_deg(sdf, (0, 1, 0)), _arc_on_sphere_deg(sdf, (1, 0, 0))
    assert kerboul_angle_deg(lesion, SPHERE, head_mask=head) == pytest.approx(coronal + sagittal, abs=15.0)
    for along in (False, True):
        assert necrotic_arc_deg(lesion, SPHERE, (0, 1, 0), head_mask=head, along_slices=along) == pytest.approx(
            coronal, abs=2.0)
    assert necrotic_arc_deg(lesion, SPHERE, (1, 0, 0), head_mask=head, along_slices=True) == pytest.approx(
        sagittal, abs=4.0)


def test_sagittal_arc_of_a_ball_lesion_on_five_mm_oblique_slices():
    # A ball-bounded lesion meets the surface obliquely (at about 50 deg) on every plane through its
    # axis; through 5 mm oblique slices the sagittal arc read along the slice normal is within a few
    # degrees (the share of the head reads it 6 deg wide).
    offset, radius = 0.6 * R, 0.75 * R
    theta = np.degrees(np.arccos((R**2 + offset**2 - radius**2) / (2 * R * offset)))
    grid = grid_around(CENTER + [0.3, 0.2, -0.4], (12, 86, 86), (0.7, 0.7, 5.0),
                       direction=oblique_direction((6, 4, -8)) @ CORONAL)
    head = voxelise(grid, sphere_sdf(CENTER, R))
    lesion = voxelise(grid, _ball_lesion_sdf(offset, radius))
    assert necrotic_arc_deg(lesion, SPHERE, (1, 0, 0), head_mask=head, along_slices=True) == pytest.approx(
        2 * theta, abs=4.0)


def _wedge_lesion_sdf(direction, half_angle_deg: float, inner_fraction: float = 0.3):
    """A wedge lesion: the head inside a cone from its centre (axis ``direction``), from ``inner_fraction``
    of the radius out to the surface; its walls are radial and meet the articular surface at right angles."""
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    alpha = np.radians(half_angle_deg)

    def sdf(p):
        q = p - CENTER
        r = np.linalg.norm(q, axis=-1)
        theta = np.arccos(np.clip((q @ d) / np.maximum(r, 1e-9), -1.0, 1.0))
        wall = r * np.sin(np.clip(theta - alpha, -np.pi / 2, np.pi / 2))
        return np.maximum.reduce([r - R, wall, inner_fraction * R - r])

    return sdf


@pytest.mark.parametrize("slice_mm, half_angle", [(3.5, 35.0), (5.0, 55.0)])
def test_arcs_of_a_wedge_with_radial_walls_on_thick_slices(slice_mm, half_angle):
    # Walls at right angles to the surface: the voxels' blur across thick oblique slices moves neither end,
    # on the in-plane (coronal) nor on the through-plane (sagittal) arc.
    sdf = _wedge_lesion_sdf((0.35, 0.1, 0.93), half_angle)
    grid = grid_around(CENTER + [0.3, 0.2, -0.4], (int(60 / slice_mm), 86, 86), (0.7, 0.7, slice_mm),
                       direction=oblique_direction((6, 4, -8)) @ CORONAL)
    head = voxelise(grid, sphere_sdf(CENTER, R))
    lesion = voxelise(grid, sdf)
    for normal in ((0, 1, 0), (1, 0, 0)):
        for along in (False, True):
            assert necrotic_arc_deg(lesion, SPHERE, normal, head_mask=head, along_slices=along) == pytest.approx(
                _arc_on_sphere_deg(sdf, normal), abs=3.0)



def _junction_hip(junction_deg: float):
    """A ball-head hip (tests/ball_hip.py) whose articular cartilage ends ``junction_deg`` from the neck axis."""
    from dataclasses import dataclass

    from ball_hip import BallHip

    @dataclass(frozen=True)
    class JunctionHip(BallHip):
        junction_deg: float = 52.0

        def _articular(self, u: np.ndarray) -> np.ndarray:
            return u @ self.neck_axis < np.cos(np.radians(self.junction_deg))

    return JunctionHip(junction_deg=junction_deg, lesion_half_angle_deg=25.0, seed=2, pixel_mm=0.7,
                       slice_mm=4.5, matrix=130, n_slices=14)


def test_the_heads_own_junction_is_measured_where_its_cartilage_ends():
    from onfh_imaging.segment.mri import segment_hips

    (seg,) = segment_hips(_junction_hip(52.0).render())
    junction = seg.junction
    assert junction is not None and junction.measured
    superior = np.cross(seg.neck_axis_lps, np.cross([0.0, 0.0, 1.0], seg.neck_axis_lps))
    assert junction.angle_at(superior / np.linalg.norm(superior)) == pytest.approx(52.0, abs=3.0)


def test_arc_ends_at_a_junction_given_per_direction():
    # a cap whose lateral end lies 45 deg from the neck axis, under a junction at 52 deg: on the
    # coronal plane its articular arc runs from the junction to its medial end, 95 deg from the axis
    neck = np.array([-np.cos(np.radians(40.0)), 0.0, -np.sin(np.radians(40.0))])
    lateral = np.radians(70.0)  # the cap's axis, 70 deg from the neck axis in the coronal plane
    up = np.array([0.0, 0.0, 1.0]) - neck[2] * neck
    axis = np.cos(lateral) * neck + np.sin(lateral) * up / np.linalg.norm(up)
    grid = grid_around(CENTER + [0.3, 0.2, -0.4], (15, 86, 86), (0.7, 0.7, 4.0), direction=CORONAL)
    head = voxelise(grid, sphere_sdf(CENTER, R))
    lesion = voxelise(grid, spherical_cap_sdf(CENTER, R, axis, 25.0))

    def junction_at(rays: np.ndarray) -> np.ndarray:
        return np.full(len(rays), 52.0)

    arc = necrotic_arc_deg(lesion, SPHERE, (0, 1, 0), head_mask=head, neck_axis_lps=neck,
                           articular_min_angle_deg=junction_at)
    assert arc == pytest.approx(95.0 - 52.0, abs=3.0)
    fixed = necrotic_arc_deg(lesion, SPHERE, (0, 1, 0), head_mask=head, neck_axis_lps=neck)
    assert fixed == pytest.approx(95.0 - 65.0, abs=3.0)

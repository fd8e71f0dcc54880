"""Radial deviation of the femoral head's surface from its reference sphere, and collapse.

The head mask is the femur inside the reference sphere, so its surface is the articular surface plus,
on the neck side, the femoral neck where it enters the sphere. The neck lies inside the sphere and is
not collapse: only surface points whose direction from the head centre is more than
``articular_min_angle_deg`` away from the neck axis count as articular.

The head-neck junction is an edge of the head's surface. On an image grid its partial volume blurs
the edge over about one voxel along the surface, and across thick slices that voxel is the slice
thickness: the blurred edge lies below the reference sphere and, just past the articular boundary,
would read as a false collapse of up to a millimetre. The collapse search therefore keeps a
resolution-dependent margin from the articular boundary (see :func:`junction_margin_mm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from onfh_imaging.fitting import robust_scale
from onfh_imaging.measure.sphere import Sphere
from onfh_imaging.measure.surface import SurfaceMesh

ARTICULAR_MIN_ANGLE_DEG = 65.0
"""Surface points further than this from the neck axis (seen from the head centre) are articular."""

WEIGHT_BEARING_HALF_ANGLE_DEG = 45.0
"""Half-angle (deg) of the weight-bearing dome around the roof direction (superior by default)."""

LOAD_BEARING_HALF_ANGLE_DEG = 90.0
"""Half-angle (deg) around the roof direction of the surface searched for collapse: the head's upper
hemisphere. Collapse in osteonecrosis is the subchondral fracture of the loaded necrotic segment (ARCO: of
the weight-bearing surface). The hip's load passes from the acetabular roof into the head's upper half (the
joint force of stance and gait lies within about 20 deg of vertical, its contact spreads over the lunate
surface above the head's equator); the lower half faces the acetabular fossa and notch, the transverse
ligament and the capsule and carries no load. The fovea capitis lies there too: its centre some 35 deg
below the medial pole (:data:`~onfh_imaging.segment.anatomy.FOVEA_TILT_DEG`), its rim 6-10 mm in radius
(12-25 deg of arc), so even its upper rim is below the equator."""

SUPERIOR_LPS = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Collapse:
    """The deepest depression of the articular surface below the reference sphere.

    Attributes
    ----------
    depth_mm : float
        Radial depth (mm, >= 0) of the deepest depression, after averaging over a small patch.
    direction_lps : ndarray, shape (3,)
        Unit vector from the head centre toward the depression.
    in_weight_bearing_dome : bool
        Whether the direction lies within the weight-bearing dome.
    location_lps : ndarray, shape (3,)
        Surface point (LPS mm) at the deepest depression.
    noise_floor_mm : float
        Depth (mm) the deepest patch of this surface would reach by its scatter alone; ``depth_mm`` is
        net of it (in quadrature).
    """

    depth_mm: float
    direction_lps: np.ndarray
    in_weight_bearing_dome: bool
    location_lps: np.ndarray
    noise_floor_mm: float = 0.0


COLLAPSE_DETECTION_MM = 0.5
"""Smallest collapse depth (mm) read as collapse (ARCO stage III) from the measured surface.

ARCO 2019 calls any collapse stage III; a measurement needs a threshold above its own floor. Measured floors on
intact heads: 0.06-0.17 mm from exact partial-volume fractions of phantoms (3-5 mm oblique coronal slices,
``benchmarks/bench_measure.py``); 0.15-0.41 mm from the automatic segmentation's fractions on the 30-hip
phantom grid (``benchmarks/accuracy_mri.py``, heads fully in the field of view); 0.05-0.09 mm on radiograph
silhouettes. Binary masks place a surface parallel to thick slices only to half a slice and can read 0.6-1.9 mm
there; such a measurement carries a warning. 0.5 mm is also the lower end of the inter-observer spread of manual
collapse measurement.
"""


def collapse_detection_mm(in_plane_pixel_mm: float) -> float:
    """Detection limit (mm) of collapse on an image with this in-plane pixel size.

    The larger of :data:`COLLAPSE_DETECTION_MM` and 0.6 pixel: a sub-voxel surface is located to a
    fraction of a pixel, and coarse whole-pelvis grids read intact heads deeper (0.66 mm at 1.4 mm
    pixels).

    Parameters
    ----------
    in_plane_pixel_mm : float
        In-plane pixel size of the image, mm (one number for both in-plane axes).

    Returns
    -------
    float
        Smallest collapse depth read as collapse, mm.
    """
    return max(COLLAPSE_DETECTION_MM, 0.6 * float(in_plane_pixel_mm))


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float).reshape(3)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"a direction needs a non-zero vector, got {v}")
    return v / n


def _directions(points: np.ndarray, center: np.ndarray) -> np.ndarray:
    v = points - center
    return v / np.maximum(np.linalg.norm(v, axis=1), 1e-12)[:, None]


def deviation_map(mesh: SurfaceMesh, sphere: Sphere) -> np.ndarray:
    """Signed radial distance (mm) of every mesh vertex from the sphere; negative inside (depressed).

    Parameters
    ----------
    mesh : SurfaceMesh
        Head surface, LPS mm.
    sphere : Sphere
        Reference sphere.

    Returns
    -------
    ndarray, shape (n_vertices,)
        Deviation, mm.
    """
    return sphere.radial_residuals(mesh.vertices_lps)


def estimate_neck_axis(mesh: SurfaceMesh, sphere: Sphere, *, deficit_fraction: float = 0.08,
                       min_area_fraction: float = 0.05,
                       disc_half_angle_deg: float = 25.0) -> np.ndarray | None:
    """Unit vector from the head centre toward the femoral neck, estimated from the surface.

    Where the neck enters the sphere, the head's surface is a ring lying well inside the sphere
    around a disc lying on it (the femur cut by the sphere). The ring is the surface deeper than
    ``deficit_fraction`` of the radius; its deficit-weighted mean direction is the candidate axis. A
    depression whose own centre is deep (within ``disc_half_angle_deg`` of the candidate the median
    deviation is more than half that depth) is a collapse, not a neck, and so is a deficit covering
    less than ``min_area_fraction`` of the sphere's area.

    Parameters
    ----------
    mesh : SurfaceMesh
        Head surface, LPS mm.
    sphere : Sphere
        Reference sphere.
    deficit_fraction : float
        Depth below the sphere, as a fraction of its radius, that counts as the neck's deficit.
    min_area_fraction : float
        Least deficit area, as a fraction of the sphere's area ``4 pi R^2``.
    disc_half_angle_deg : float
        Half-angle (deg) about the candidate axis of the disc whose median deviation is checked.

    Returns
    -------
    ndarray or None
        The axis, or None when the surface shows no neck.
    """
    dev = deviation_map(mesh, sphere)
    area = mesh.vertex_areas_mm2()
    depth = deficit_fraction * sphere.radius_mm
    deep = dev < -depth
    if area[deep].sum() < min_area_fraction * 4.0 * np.pi * sphere.radius_mm**2:
        return None
    dirs = _directions(mesh.vertices_lps, sphere.center_lps)
    mean_dir = _unit((area * deep) @ dirs)
    ring = deep & (dirs @ mean_dir > 0.0)
    # The ring's directions lie about a circle on the unit sphere: its axis is the direction of
    # least spread, which unlike the mean direction is not pulled by uneven sampling of the ring.
    d = dirs[ring] - np.average(dirs[ring], axis=0, weights=area[ring])
    cov = (d * area[ring][:, None]).T @ d
    axis = np.linalg.eigh(cov)[1][:, 0]
    axis = axis if axis @ mean_dir > 0 else -axis
    disc = dirs @ axis > np.cos(np.radians(disc_half_angle_deg))
    if not disc.any() or _weighted_median(dev[disc], area[disc]) < -0.5 * depth:
        return None
    return axis


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def articular_vertices(mesh: SurfaceMesh, sphere: Sphere, neck_axis_lps=None, *,
                       min_angle_deg: float = ARTICULAR_MIN_ANGLE_DEG) -> np.ndarray:
    """Bool per vertex: on the articular surface (more than ``min_angle_deg`` from the neck axis).

    All vertices are articular when ``neck_axis_lps`` is None.

    Parameters
    ----------
    mesh : SurfaceMesh
        Head surface, LPS mm.
    sphere : Sphere
        Reference sphere.
    neck_axis_lps : array_like, shape (3,), optional
        Direction from the head centre toward the neck (normalised here).
    min_angle_deg : float
        Angle (deg) from the neck axis beyond which the surface is articular.

    Returns
    -------
    ndarray of bool, shape (n_vertices,)
        Whether each vertex is articular.
    """
    if neck_axis_lps is None:
        return np.ones(len(mesh.vertices_lps), bool)
    dirs = _directions(mesh.vertices_lps, sphere.center_lps)
    return dirs @ _unit(neck_axis_lps) < np.cos(np.radians(min_angle_deg))


def normal_extent_mm(direction_lps, voxel_edges_lps: np.ndarray) -> float:
    """Extent (mm) of one voxel along a surface normal: ``sum_a |u . e_a|`` over its edge vectors.

    A binary mask places a surface only to within half this extent (the position inside the voxel is
    lost); across thick slices it approaches the slice thickness near the slice normal.

    Parameters
    ----------
    direction_lps : array_like, shape (3,)
        Surface normal (normalised here).
    voxel_edges_lps : ndarray, shape (3, 3)
        Voxel edge vectors (mm, columns ``i, j, k``).

    Returns
    -------
    float
        Extent, mm.
    """
    return float(np.abs(_unit(direction_lps) @ np.asarray(voxel_edges_lps, float)).sum())


def junction_margin_mm(directions_lps: np.ndarray, neck_axis_lps, voxel_edges_lps: np.ndarray) -> np.ndarray:
    """Partial-volume reach (mm) of the head-neck junction along the surface, per surface direction.

    The reach is the extent of one voxel along the surface tangent that points toward the neck,
    ``sum_a |t . e_a|`` over the voxel's edge vectors ``e_a`` (mm): the fraction of a voxel, and the
    sub-voxel surface interpolated between voxel centres, feel an edge up to one voxel away.

    Parameters
    ----------
    directions_lps : ndarray, shape (n, 3)
        Unit vectors from the head centre to surface points.
    neck_axis_lps : array_like, shape (3,)
        Unit vector from the head centre toward the neck.
    voxel_edges_lps : ndarray, shape (3, 3)
        Columns: the voxel's edge vectors along the index axes ``i, j, k`` in LPS mm
        (``direction * spacing``).

    Returns
    -------
    ndarray, shape (n,)
        Reach in mm (at least the smallest voxel edge).
    """
    n = _unit(neck_axis_lps)
    t = n[None, :] - (directions_lps @ n)[:, None] * directions_lps
    norm = np.linalg.norm(t, axis=1)
    t = t / np.maximum(norm, 1e-12)[:, None]
    edges = np.asarray(voxel_edges_lps, float)
    reach = np.abs(t @ edges).sum(axis=1)
    return np.maximum(reach, float(np.min(np.linalg.norm(edges, axis=0))))


def articular_interior(mesh: SurfaceMesh, sphere: Sphere, neck_axis_lps, voxel_edges_lps: np.ndarray, *,
                       min_angle_deg: float = ARTICULAR_MIN_ANGLE_DEG) -> np.ndarray:
    """Bool per vertex: articular and beyond the junction's partial-volume reach from the neck side.

    A vertex qualifies when its angle from the neck axis exceeds ``min_angle_deg`` by at least
    :func:`junction_margin_mm` (converted to an angle on the reference sphere). All vertices qualify
    when ``neck_axis_lps`` is None.

    Parameters
    ----------
    mesh : SurfaceMesh
        Head surface, LPS mm.
    sphere : Sphere
        Reference sphere.
    neck_axis_lps : array_like, shape (3,) or None
        Direction from the head centre toward the neck.
    voxel_edges_lps : ndarray, shape (3, 3)
        Voxel edge vectors (mm, columns ``i, j, k``).
    min_angle_deg : float
        Angle (deg) from the neck axis beyond which the surface is articular.

    Returns
    -------
    ndarray of bool, shape (n_vertices,)
        Whether each vertex lies in the articular interior.
    """
    if neck_axis_lps is None:
        return np.ones(len(mesh.vertices_lps), bool)
    dirs = _directions(mesh.vertices_lps, sphere.center_lps)
    margin_rad = junction_margin_mm(dirs, neck_axis_lps, voxel_edges_lps) / sphere.radius_mm
    angle = np.arccos(np.clip(dirs @ _unit(neck_axis_lps), -1.0, 1.0))
    return angle > np.radians(min_angle_deg) + margin_rad


def rms_deviation_mm(mesh: SurfaceMesh, sphere: Sphere, articular: np.ndarray | None = None) -> float:
    """Area-weighted RMS radial deviation (mm) of the (articular) surface from the sphere.

    Parameters
    ----------
    mesh : SurfaceMesh
        Head surface, LPS mm.
    sphere : Sphere
        Reference sphere.
    articular : ndarray of bool, shape (n_vertices,), optional
        Vertices to include; all when omitted.

    Returns
    -------
    float
        RMS deviation, mm; NaN when no vertex is selected.
    """
    dev = deviation_map(mesh, sphere)
    area = mesh.vertex_areas_mm2()
    sel = np.ones(len(dev), bool) if articular is None else np.asarray(articular, bool)
    if not sel.any():
        return float("nan")
    return float(np.sqrt(np.average(dev[sel] ** 2, weights=area[sel])))


def _patch_depth(points: np.ndarray, dev: np.ndarray, area: np.ndarray, centre: np.ndarray,
                 normal: np.ndarray) -> float:
    """Deviation at ``centre`` from an area-weighted quadratic fit over a surface patch (mm).

    A quadratic in tangent-plane coordinates keeps the bottom of a smooth depression (a plain
    mean over the patch would lift it) while averaging out vertex noise.
    """
    t1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    t1 /= np.linalg.norm(t1)
    t2 = np.cross(normal, t1)
    d = points - centre
    u, v = d @ t1, d @ t2
    design = np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])
    if len(u) < 12:
        return float(np.average(dev, weights=area))
    sw = np.sqrt(area)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], dev * sw, rcond=None)
    return float(coef[0])


def expected_extreme(n: float) -> float:
    """Expected largest of ``n`` independent standard normal values (the Gumbel mode, in standard
    deviations): ``sqrt(2 ln n) - (ln ln n + ln 4 pi) / (2 sqrt(2 ln n))``; 0 for ``n <= 2``.

    Parameters
    ----------
    n : float
        Number of independent values.

    Returns
    -------
    float
        Expected maximum, standard deviations (never below 0).
    """
    if n <= 2:
        return 0.0
    a = np.sqrt(2.0 * np.log(n))
    return float(max(a - (np.log(np.log(n)) + np.log(4.0 * np.pi)) / (2.0 * a), 0.0))


def _noise_floor_mm(pts: np.ndarray, dev: np.ndarray, area: np.ndarray, tree: cKDTree,
                    patch_radius_mm: float, samples: int = 300) -> float:
    """Depth (mm) the deepest patch of an intact surface reaches by its own scatter alone.

    The area-weighted mean deviation over a patch (the ranking of :func:`collapse`) is taken on
    ``samples`` vertices spread over the searched surface; its robust scatter times the expected largest
    of as many independent patches as the surface holds (its area over one patch's) is the depth noise
    alone gives the deepest patch. A depression is a minority of the surface and leaves the robust
    scatter alone.
    """
    pick = np.unique(np.linspace(0, len(pts) - 1, min(samples, len(pts))).astype(int))
    if len(pick) < 20:
        return 0.0
    means = np.array([np.average(dev[nb], weights=area[nb])
                      for nb in tree.query_ball_point(pts[pick], r=patch_radius_mm)])
    n_patches = float(area.sum()) / (np.pi * patch_radius_mm ** 2)
    return robust_scale(means) * expected_extreme(n_patches)


def collapse(mesh: SurfaceMesh, sphere: Sphere, neck_axis_lps=None, roof_direction_lps=None, *,
             patch_radius_mm: float = 2.5, articular_min_angle_deg: float = ARTICULAR_MIN_ANGLE_DEG,
             dome_half_angle_deg: float = WEIGHT_BEARING_HALF_ANGLE_DEG,
             candidates: int = 300, refined: int = 25, areas_mm2: np.ndarray | None = None,
             voxel_edges_lps: np.ndarray | None = None, observed: np.ndarray | None = None,
             traced: np.ndarray | None = None,
             load_bearing_half_angle_deg: float = LOAD_BEARING_HALF_ANGLE_DEG) -> Collapse:
    """Deepest inward depression of the articular surface below the reference sphere.

    The ``candidates`` deepest articular vertices are ranked by the area-weighted mean deviation
    over the surface patch within ``patch_radius_mm``; the best ``refined`` of them are re-estimated
    by a quadratic fit over the same patch, so that neither a single noisy vertex nor the averaging
    itself sets the depth. Only the load-bearing side of the head is searched (within
    ``load_bearing_half_angle_deg`` of the roof direction): collapse is of the loaded surface, and the
    non-weight-bearing lower half holds the fovea capitis, a normal pit.

    Parameters
    ----------
    mesh : SurfaceMesh
        Head surface, LPS mm.
    sphere : Sphere
        Reference sphere.
    neck_axis_lps : array_like, optional
        Unit vector from the head centre toward the neck; vertices within ``articular_min_angle_deg``
        of it are not articular. When None, all vertices are articular.
    roof_direction_lps : array_like, optional
        Centre of the weight-bearing dome (e.g. toward the acetabular roof); superior (+z) when None.
    patch_radius_mm : float
        Radius (mm) of the surface patch around each candidate.
    dome_half_angle_deg : float
        Half-angle (deg) of the weight-bearing dome around the roof direction.
    areas_mm2 : ndarray, optional
        Per-vertex areas, when already computed.
    voxel_edges_lps : ndarray, shape (3, 3), optional
        Edge vectors (mm, columns ``i, j, k``) of the voxels the mesh came from. When given, the
        search keeps :func:`junction_margin_mm` away from the articular boundary, where the
        partial volume of the head-neck junction would read as a depression.
    observed : ndarray of bool, optional
        Vertices that show real anatomy; the others (e.g. where the field of view cuts the head) are
        not searched, since a cut surface is unknown, not depressed.
    traced : ndarray of bool, optional
        Vertices whose surface the segmentation traced from the image (not carried over from around).
        The deepest patch is sought among them; the noise floor is the whole searched surface's.
    load_bearing_half_angle_deg : float
        Half-angle (deg) about the roof direction of the load-bearing surface searched
        (:data:`LOAD_BEARING_HALF_ANGLE_DEG`; 180 searches the whole articular surface).

    Returns
    -------
    Collapse
        Depth 0 when no patch lies below the sphere.

    Raises
    ------
    ValueError
        No searched vertex is left (every vertex is on the neck side or unobserved).
    """
    roof = SUPERIOR_LPS if roof_direction_lps is None else _unit(roof_direction_lps)
    dev_all = deviation_map(mesh, sphere)
    area_all = mesh.vertex_areas_mm2() if areas_mm2 is None else areas_mm2
    if voxel_edges_lps is None:
        searched = articular_vertices(mesh, sphere, neck_axis_lps, min_angle_deg=articular_min_angle_deg)
    else:
        searched = articular_interior(mesh, sphere, neck_axis_lps, voxel_edges_lps,
                                      min_angle_deg=articular_min_angle_deg)
    if observed is not None:
        searched = searched & np.asarray(observed, bool)
    loaded = _directions(mesh.vertices_lps, sphere.center_lps) @ roof >= np.cos(
        np.radians(load_bearing_half_angle_deg))
    art = np.flatnonzero(searched & loaded)
    if art.size == 0:
        raise ValueError("no articular surface: every load-bearing vertex is on the neck side or unobserved")
    pts, dev, area = mesh.vertices_lps[art], dev_all[art], area_all[art]
    tree = cKDTree(pts)
    ranked = dev if traced is None else np.where(np.asarray(traced, bool)[art], dev, np.inf)
    order = np.argsort(ranked)[: min(candidates, int(np.isfinite(ranked).sum()) or art.size)]
    patches = tree.query_ball_point(pts[order], r=patch_radius_mm)
    mean = np.array([np.average(dev[nb], weights=area[nb]) for nb in patches])
    best_depth, best = np.inf, int(order[0])
    for n in np.argsort(mean)[:refined]:
        nb = np.asarray(patches[n])
        centre = pts[order[n]]
        value = _patch_depth(pts[nb], dev[nb], area[nb], centre, _unit(centre - sphere.center_lps))
        if value < best_depth:
            best_depth, best = value, int(order[n])
    location = pts[best]
    direction = _unit(location - sphere.center_lps)
    in_dome = bool(direction @ roof >= np.cos(np.radians(dome_half_angle_deg)))
    # The deepest of many noisy patches lies below the sphere even on an intact head: the depth is
    # taken net of that noise floor, in quadrature (a depression well above the noise keeps its depth).
    raw = max(0.0, -best_depth)
    floor = _noise_floor_mm(pts, dev, area, tree, patch_radius_mm)
    return Collapse(depth_mm=float(np.sqrt(max(raw ** 2 - floor ** 2, 0.0))), direction_lps=direction,
                    in_weight_bearing_dome=in_dome, location_lps=location, noise_floor_mm=float(floor))

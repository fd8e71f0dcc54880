"""Necrotic lesion: volume, share of the head, and the modified Kerboul combined necrotic angle."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from onfh_imaging.errors import MeasurementError
from onfh_imaging.geometry import Volume
from onfh_imaging.measure.sphere import Sphere

#: A ray is necrotic at a depth when at least this share of the head there is lesion.
_HALF = 0.5

#: Depth sampling step (mm) below the articular surface: half of the finest voxels (0.5 mm) or less.
_DEPTH_STEP_MM = 0.25

READ_DEPTH_FRACTION = 0.25
"""Depth at which the lesion's ends are read, as a fraction of the voxel's extent along the ray: deep
enough that the head fills most of what the voxels see there (at the surface itself it fills half, and
the lesion's share of it is noise-prone), shallow enough that little of the boundary's own course lies
between there and the surface (its angle, read deeper, is uncertain by some degrees)."""

BOUNDARY_COURSE_MM = 2.0
"""Depth range (mm) below the layer the surface's partial volume reaches over which the lesion's boundary
is followed to read the angle at which it meets the surface: long enough to average the sampling of
0.5-1 mm voxels, short against the curvature of a demarcating band (radius of the order of the head's)."""

MIN_BOUNDARY_INCLINATION_DEG = 15.0
"""Shallowest angle (deg) between the lesion's boundary and the articular surface that is modelled: a
band closer to the surface than this runs inside the subchondral plate's partial volume over the whole
followed course and its angle is not measured; it is taken at this limit."""

THROUGH_SLICE_MIN_COS = 0.5
"""Least cosine between a ray and the slice normal at which a lesion's end on the surface is read along
the slice normal (:func:`_surface_gaps_mm`, with ``along_slices``) instead of by the voxels' blur model:
within 60 deg of the ray, the line along the slice normal through the surface point crosses the surface
at more than 30 deg, so each slice it passes holds the head's and the lesion's ends along it to a share
of its thickness; at shallower angles it runs along the surface and a slice's partial volume no longer
places either end."""

SURFACE_GAP_RESOLVED_PIXELS = 0.5
"""Gap (in-plane pixels) between the surface and the lesion along the slice normal below which the lesion
is taken to reach the surface: the in-plane partial volume, interpolated between pixel centres, rounds
the corner where a boundary meets the surface over about half a pixel."""

SURFACE_GAP_COURSE_SLICES = 1.0
"""Length (slice thicknesses) of the gap's course beyond a lesion's end from which the end is
extrapolated: within one slice the boundary's course is nearly straight (its curvature radius is of the
order of the head's); farther, a slice no longer holds both the boundary and the surface."""

FULL_SLICE_TOLERANCE = 0.05
"""A slice counts as lesion throughout along the line when its lesion fraction is within this of its
head fraction (1): the rounding of a partial-volume fraction and its in-plane interpolation."""

_GAP_WALK_SLICES = 4
"""Slices walked inward from the surface along the slice normal to find the lesion (4-5 mm slices: 16-20
mm, most of a head radius; a lesion that far from the surface along that line does not reach it)."""

#: Offsets of the voxel model, in voxels along each image axis: a voxel's box (its partial volume)
#: plus the triangle of interpolating between voxel centres; a fixed sample, so results are repeatable.
_VOXEL_MODEL = (np.random.default_rng(20060101).uniform(-0.5, 0.5, (400, 3))
                + np.random.default_rng(20060102).triangular(-1.0, 0.0, 1.0, (400, 3)))


def _fractions(mask: Volume) -> np.ndarray:
    return np.clip(np.asarray(mask.array, dtype=np.float32), 0.0, 1.0)


def _check_same_grid(a: Volume, b: Volume) -> None:
    if not a.same_grid(b):
        raise MeasurementError("the lesion and head masks are not on the same image grid",
                               hint="resample the lesion mask onto the head mask's grid")


def mask_volume_ml(mask: Volume) -> float:
    """Volume (mL) of a mask: the sum of its partial-volume fractions (or labels) times the voxel volume.

    Parameters
    ----------
    mask : Volume
        Labels or partial-volume fractions; values are clipped to 0..1 (any label above 1 counts 1).

    Returns
    -------
    float
        Volume, mL.
    """
    return float(_fractions(mask).sum(dtype=np.float64)) * mask.voxel_volume_ml


def lesion_volume_ml(lesion_mask: Volume, head_mask: Volume | None = None) -> float:
    """Volume (mL) of the necrotic lesion, clipped to the femoral head when ``head_mask`` is given.

    Fractions are honoured: a voxel counts ``min(lesion, head)`` of its volume.

    Parameters
    ----------
    lesion_mask : Volume
        Lesion labels or fractions (clipped to 0..1).
    head_mask : Volume, optional
        Femoral head mask on the same grid; no clipping when omitted.

    Returns
    -------
    float
        Lesion volume, mL.

    Raises
    ------
    MeasurementError
        The two masks are not on the same grid.
    """
    frac = _fractions(lesion_mask)
    if head_mask is not None:
        _check_same_grid(lesion_mask, head_mask)
        frac = np.minimum(frac, _fractions(head_mask))
    return float(frac.sum(dtype=np.float64)) * lesion_mask.voxel_volume_ml


def head_involvement_pct(lesion_mask: Volume, head_mask: Volume) -> float:
    """Percentage of the femoral head's volume occupied by the lesion (clipped to the head).

    Parameters
    ----------
    lesion_mask, head_mask : Volume
        Lesion and femoral head labels or fractions, on the same grid.

    Returns
    -------
    float
        Lesion volume inside the head over the head volume, percent (0..100).

    Raises
    ------
    MeasurementError
        An empty head mask, or masks on different grids.
    """
    head = mask_volume_ml(head_mask)
    if head <= 0:
        raise MeasurementError("the femoral head mask is empty")
    return 100.0 * lesion_volume_ml(lesion_mask, head_mask) / head


def _sample(mask: Volume, points_lps: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a mask at LPS points (0 outside the grid)."""
    ijk = mask.lps_to_index(points_lps.reshape(-1, 3))
    values = ndimage.map_coordinates(_fractions(mask), ijk[:, ::-1].T, order=1, mode="constant", cval=0.0)
    return values.reshape(points_lps.shape[:-1])


def _plane_basis(normal_lps) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(normal_lps, float)
    n = n / np.linalg.norm(n)
    seed = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = seed - (seed @ n) * n
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(n, e1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each circular run of True in ``mask`` (``stop`` exclusive, may exceed its length)."""
    n = len(mask)
    if mask.all():
        return [(0, n)]
    if not mask.any():
        return []
    k = int(np.argmin(mask))  # a False: no run wraps past it
    d = np.diff(np.r_[0, np.roll(mask, -k).astype(int), 0])
    return [(int(a + k), int(b + k)) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def _crossing(share: np.ndarray, end: int, outward: int, max_out: int, max_in: int) -> float | None:
    """Where, from ray ``end`` of a run, ``share`` (one value per ray) falls through one half (ray steps,
    positive in the ``outward`` direction; None when it does not within ``max_out`` / ``max_in`` rays)."""
    n = len(share)

    def on(k):
        return share[k % n] >= _HALF

    k, steps = end, 0
    if on(k):
        while on(k + outward) and steps < max_out:
            k, steps = k + outward, steps + 1
        if on(k + outward):
            return None
    else:
        while not on(k) and steps < max_in:
            k, steps = k - outward, steps + 1
        if not on(k):
            return None
    a, b = share[k % n], share[(k + outward) % n]
    return (k - end) * outward + float(np.clip((a - _HALF) / max(a - b, 1e-6), 0.0, 1.0))


def _inclination_deg(depths_mm: np.ndarray, crossings_deg: np.ndarray, surface_mm: float) -> float:
    """Angle (deg) between the outward surface tangent and the lesion's boundary running into the head,
    from where the boundary crosses ``depths_mm`` below the surface (``crossings_deg`` outward from the
    run's end): 90 for a boundary at right angles to the surface, less where the lesion widens with depth,
    more where it narrows. The boundary is a straight line in the plane (a band is locally planar)."""
    ang = np.radians(crossings_deg)
    rad = surface_mm - depths_mm
    pts = np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])  # x: along the end ray, y: outward
    v = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)[2][0]
    if v[0] > 0:  # into the head
        v = -v
    beta = float(np.degrees(np.arctan2(-v[0], v[1])))
    return float(np.clip(beta, MIN_BOUNDARY_INCLINATION_DEG, 180.0 - MIN_BOUNDARY_INCLINATION_DEG))


def _blur_shift_deg(inclination_deg: float, depth_mm: float, surface_mm: float,
                    tangent_mm: np.ndarray, normal_mm: np.ndarray) -> float:
    """Where the lesion's share of the head falls through one half at ``depth_mm`` below the surface,
    relative to where its boundary meets the surface (deg, outward positive), for a boundary at
    ``inclination_deg`` to a circular surface of radius ``surface_mm``, both seen through voxels whose
    point offsets along the surface and its normal are ``tangent_mm`` and ``normal_mm``."""
    b = np.radians(inclination_deg)
    psi = np.radians(np.arange(-20.0, 20.0, 0.2))
    t = (surface_mm - depth_mm) * np.sin(psi)[:, None] + tangent_mm[None, :]
    n = (surface_mm - depth_mm) * np.cos(psi)[:, None] - surface_mm + normal_mm[None, :]
    head = t**2 + (n + surface_mm) ** 2 < surface_mm**2
    lesion = head & (np.cos(b) * n + np.sin(b) * t < 0)
    share = lesion.mean(axis=1) / np.maximum(head.mean(axis=1), 1e-6)
    falls = np.flatnonzero((share[:-1] >= _HALF) & (share[1:] < _HALF))
    if not len(falls):
        return 0.0
    i = falls[np.argmin(np.abs(psi[falls]))]
    f = (share[i] - _HALF) / max(share[i] - share[i + 1], 1e-6)
    return float(np.degrees(psi[i] + f * (psi[1] - psi[0])))


def _plane_rays(plane_normal_lps, step_deg: float, neck_axis_lps,
                articular_min_angle_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit rays every ``step_deg`` in the plane through the head centre with normal
    ``plane_normal_lps``, the surface tangents toward increasing angle, and which rays meet the
    articular surface (farther than ``articular_min_angle_deg`` from the neck axis, a float or a
    function of the rays giving the limit per ray; all without an axis)."""
    e1, e2 = _plane_basis(plane_normal_lps)
    phi = np.radians(np.arange(0.0, 360.0, step_deg))
    rays = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    along = -np.sin(phi)[:, None] * e1 + np.cos(phi)[:, None] * e2  # surface tangent, increasing phi
    articular = np.ones(len(phi), bool)
    if neck_axis_lps is not None:
        neck = np.asarray(neck_axis_lps, float) / np.linalg.norm(neck_axis_lps)
        limit = articular_min_angle_deg(rays) if callable(articular_min_angle_deg) else articular_min_angle_deg
        articular = rays @ neck < np.cos(np.radians(limit))
    return rays, along, articular


def _surface_radii(head_mask: Volume | None, sphere: Sphere, rays: np.ndarray) -> np.ndarray:
    """Distance (mm) from the head centre along each ray to the outermost point where the head mask is
    half inside (the reference sphere's radius without a mask; NaN where a ray never enters the head)."""
    c, r = sphere.center_lps, sphere.radius_mm
    if head_mask is None:
        return np.full(len(rays), r)
    rows = np.arange(len(rays))
    radii = np.arange(1.15 * r, 0.4 * r, -0.25)
    head = _sample(head_mask, c + radii[None, :, None] * rays[:, None, :])
    inside = head >= _HALF
    first = np.argmax(inside, axis=1)
    hit = inside.any(axis=1)
    prev = np.maximum(first - 1, 0)
    h0, h1 = head[rows, prev], head[rows, first]
    t = np.where(first > 0, (_HALF - h0) / np.maximum(h1 - h0, 1e-6), 0.0)
    return np.where(hit, radii[prev] + t * (radii[first] - radii[prev]), np.nan)


def _slice_sample(mask: Volume, points_lps: np.ndarray) -> np.ndarray:
    """A mask at LPS points, taken from the slice each point lies in (not interpolated across slices:
    their partial volume is what is read) and interpolated bilinearly within it (0 outside the grid)."""
    ijk = mask.lps_to_index(points_lps.reshape(-1, 3))
    coords = np.stack([np.rint(ijk[:, 2]), ijk[:, 1], ijk[:, 0]])
    values = ndimage.map_coordinates(_fractions(mask), coords, order=1, mode="constant", cval=0.0)
    return values.reshape(points_lps.shape[:-1])


def _surface_gaps_mm(lesion_mask: Volume, head_mask: Volume, center_lps: np.ndarray, surface_mm: np.ndarray,
                     rays: np.ndarray) -> np.ndarray:
    """Per ray, the length (mm) of head that is not lesion along the slice normal from the surface point
    inward to the lesion (inf when no slice within ``_GAP_WALK_SLICES`` holds lesion).

    Along that line a slice's fractions are shares of its thickness, so the summed head-but-not-lesion
    shares of the slices before the first that holds lesion place the lesion's end below the surface to
    a fraction of a slice. That slice's own share is added when the lesion continues into the next slice
    throughout (the lesion lies at its inner face); otherwise the lesion lies at its outer face (a
    boundary that narrows with depth). The gap is 0 where the lesion reaches the surface and grows past
    its end along the surface as fast as the boundary leaves the surface."""
    normal = head_mask.axis_of_slices()
    thickness = float(head_mask.spacing[2])
    inward = -np.sign(rays @ normal)[:, None, None] * normal
    steps = np.arange(-1, _GAP_WALK_SLICES + 1)
    pts = (center_lps + surface_mm[:, None] * rays)[:, None, :] + steps[None, :, None] * thickness * inward
    head = _slice_sample(head_mask, pts)
    lesion = np.minimum(_slice_sample(lesion_mask, pts), head)
    held = lesion > FULL_SLICE_TOLERANCE
    full = np.c_[(head - lesion < FULL_SLICE_TOLERANCE) & held, np.zeros(len(rays), bool)]
    rows, first = np.arange(len(rays)), np.argmax(held, axis=1)
    deficit = np.c_[np.zeros(len(rays)), np.cumsum((head - lesion) * thickness, axis=1)]
    gap = deficit[rows, first + full[rows, first + 1]]
    return np.where(held.any(axis=1), gap, np.inf)


def _gap_end(gap: np.ndarray, end: int, outward: int, max_out: int, max_in: int, resolved_mm: float,
             course_mm: float) -> float | None:
    """Where, from ray ``end`` of a run, the surface gap (:func:`_surface_gaps_mm`, one value per ray)
    rises from zero (ray steps, positive ``outward``; None when it is unresolved on no ray within
    ``max_in``): the last ray at which it is unresolved (``resolved_mm``), plus the zero of a straight
    line fitted to it over the rays beyond, up to ``course_mm`` (half a step with fewer than two: the
    boundary leaves the surface at right angles)."""
    n = len(gap)

    def on(k):
        return gap[k % n] <= resolved_mm

    k, steps = end, 0
    if on(k):
        while on(k + outward) and steps < max_out:
            k, steps = k + outward, steps + 1
    else:
        while not on(k) and steps < max_in:
            k, steps = k - outward, steps + 1
        if not on(k):
            return None
    m = np.arange(1, max_out + 1)
    course = gap[(k + outward * m) % n]
    follow = np.cumprod((course > resolved_mm) & (course <= course_mm)).astype(bool)
    beyond = 0.5
    if follow.sum() >= 2:
        slope, intercept = np.polyfit(m[follow], course[follow], 1)
        if slope > 0:
            beyond = float(np.clip(-intercept / slope, 0.0, 1.0))
    return (k - end) * outward + beyond


def _blur_model_end(read: np.ndarray, share: np.ndarray, depths: np.ndarray, j_read: np.ndarray,
                    j_deep: np.ndarray, end: int, outward: int, limits: tuple[int, int], step_deg: float,
                    course_mm: float, surface_mm: float, offsets_along: np.ndarray,
                    offsets_ray: np.ndarray) -> float | None:
    """Where (deg, outward from ray ``end``) a run's end lies at the surface, from where the share read at
    ``j_read`` falls through one half, moved by the voxels' blur of a boundary at the inclination seen
    deeper (:func:`_blur_shift_deg`); None when the share does not fall within ``limits``."""
    x_read = _crossing(read, end, outward, *limits)
    if x_read is None:
        return None
    inclination = _seen_inclination_deg(share, depths, j_deep, end, outward, limits, step_deg, course_mm,
                                        surface_mm)
    e = end % len(read)
    shift = _blur_shift_deg(inclination, float(depths[j_read[e]]), surface_mm, offsets_along, offsets_ray)
    return x_read * step_deg - shift


def _bridge_unresolved_gaps(necrotic: np.ndarray, step_deg: float, surface_mm: np.ndarray,
                            extent_along_mm: np.ndarray) -> np.ndarray:
    """``necrotic`` (one flag per ray) with every gap narrower than a voxel along the surface filled:
    such a gap is not resolved by the image."""
    necrotic = necrotic.copy()
    if not necrotic.any():
        return necrotic
    n_rays = len(necrotic)
    for a, b in _runs(~necrotic):
        mid = (a + b) // 2 % n_rays
        if (b - a) * np.radians(step_deg) * surface_mm[mid] < extent_along_mm[mid]:
            necrotic[np.arange(a, b) % n_rays] = True
    return necrotic


def _seen_inclination_deg(share: np.ndarray, depths: np.ndarray, j_deep: np.ndarray, end: int,
                          outward: int, limits: tuple[int, int], step_deg: float, course_mm: float,
                          surface_mm: float) -> float:
    """Inclination (deg) of the lesion's boundary to the surface at a run's end, read where the boundary
    crosses the depths from ``j_deep`` (below the surface's partial volume) over ``course_mm``; 90 when
    it crosses fewer than two of them."""
    n_rays = share.shape[0]
    rows = np.arange(n_rays)
    last = len(depths) - 1
    seen = []
    for level in range(int(round(course_mm / _DEPTH_STEP_MM)) + 1):
        j = np.minimum(j_deep + level, last)
        x = _crossing(share[rows, j], end, outward, *limits)
        if x is not None:
            seen.append((depths[j[int(round(end + outward * x)) % n_rays]], x * step_deg))
    if len(seen) < 2:
        return 90.0
    d, x = np.array(seen).T
    return _inclination_deg(d, x, surface_mm)


def necrotic_arc_deg(lesion_mask: Volume, sphere: Sphere, plane_normal_lps, *,
                     head_mask: Volume | None = None, step_deg: float = 0.5,
                     course_mm: float = BOUNDARY_COURSE_MM, neck_axis_lps=None,
                     articular_min_angle_deg: float | Callable[[np.ndarray], np.ndarray] = 65.0,
                     along_slices: bool = False) -> float:
    """Arc (deg, about the head centre) that the lesion covers at the articular surface on one plane.

    Rays from the head centre in the plane through it with normal ``plane_normal_lps`` find the
    articular surface (the outermost point where the head mask is at least half inside; the reference
    sphere when no head mask is given). A ray is necrotic at a depth when at least half of the head
    there is lesion. Near the surface the masks' partial volume mixes the surface into that share: a
    boundary meeting the surface obliquely is read too wide or too narrow, by up to a voxel's extent
    along the surface (most across thick slices). So the arc is read at ``READ_DEPTH_FRACTION`` of the
    voxel's extent below the surface, and each end is moved by the shift the voxels give a planar
    boundary meeting a circular surface at the angle the boundary is seen to have deeper down (over
    ``course_mm`` below the blurred layer): the voxels' blur is removed, not the boundary's course.

    Parameters
    ----------
    lesion_mask : Volume
        Lesion labels or fractions.
    sphere : Sphere
        Reference sphere (centre and radius, LPS mm).
    plane_normal_lps : array_like
        Normal of the plane (e.g. ``(0, 1, 0)`` for the coronal plane).
    head_mask : Volume, optional
        Femoral head mask on the same grid.
    step_deg : float
        Angular sampling step (deg).
    course_mm : float
        Depth range (mm) below the blurred layer over which the boundary's angle is read.
    neck_axis_lps : array_like, optional
        Unit vector toward the femoral neck: rays within ``articular_min_angle_deg`` of it meet the
        head-neck junction, not the articular surface, and are not counted (a lesion reaching under the
        junction is not articular surface).
    articular_min_angle_deg : float or callable
        Angle (deg) from the neck axis beyond which the surface is articular, or a function of the
        rays (``(n, 3)`` LPS unit vectors) giving it per ray: the head's own head-neck junction
        (:meth:`onfh_imaging.segment.junction.HeadNeckJunction.angle_at`).
    along_slices : bool
        Read the ends the slices cross obliquely (within 60 deg of the slice normal,
        :data:`THROUGH_SLICE_MIN_COS`) along the slice normal instead of by the blur model: where the
        lesion's gap below the surface (:func:`_surface_gaps_mm`) rises from zero, to a fraction of a
        slice. It needs ``head_mask``, and masks whose fractions are box averages over the voxels
        (partial-volume masks of the boundary itself); off by default (README, MRI accuracy).

    Returns
    -------
    float
        The arc (deg, 0-360).
    """
    rays, along, articular = _plane_rays(plane_normal_lps, step_deg, neck_axis_lps, articular_min_angle_deg)
    n_rays = len(rays)
    r = sphere.radius_mm
    surface = _surface_radii(head_mask, sphere, rays)
    grid = head_mask if head_mask is not None else lesion_mask
    # columns: the voxel's edges (LPS mm)
    edges = np.asarray(grid.direction, float) * np.asarray(grid.spacing, float)[None, :]
    voxel_offsets = _VOXEL_MODEL @ edges.T  # (samples, 3) LPS mm
    extent = np.abs(rays @ edges).sum(axis=1)  # a voxel's extent along each ray (mm)
    extent_along = np.abs(along @ edges).sum(axis=1)  # and along the surface
    depths = np.arange(0.0, float(extent.max()) + course_mm + 2 * _DEPTH_STEP_MM, _DEPTH_STEP_MM)
    pts = sphere.center_lps + (surface[:, None] - depths[None, :])[..., None] * rays[:, None, :]
    share = _sample(lesion_mask, pts)
    if head_mask is not None:
        share = share / np.maximum(_sample(head_mask, pts), 1e-6)
    share = np.where((np.isfinite(surface) & articular)[:, None], share, 0.0)
    last = len(depths) - 1
    j_read = np.minimum(np.ceil(READ_DEPTH_FRACTION * extent / _DEPTH_STEP_MM).astype(int), last)
    j_deep = np.minimum(np.ceil(extent / _DEPTH_STEP_MM).astype(int), last)
    read = share[np.arange(n_rays), j_read]
    necrotic = _bridge_unresolved_gaps(read >= _HALF, step_deg, np.nan_to_num(surface, nan=r), extent_along)
    read = np.where(necrotic, np.maximum(read, _HALF), read)
    gap = (_surface_gaps_mm(lesion_mask, head_mask, sphere.center_lps, np.nan_to_num(surface, nan=r), rays)
           if head_mask is not None and along_slices else np.full(n_rays, np.inf))
    gap = np.where(np.isfinite(surface) & articular, gap, np.inf)
    through = along_slices & (np.abs(rays @ grid.axis_of_slices()) >= THROUGH_SLICE_MIN_COS)
    gap_mm = (SURFACE_GAP_RESOLVED_PIXELS * float(min(grid.spacing[:2])),
              SURFACE_GAP_COURSE_SLICES * float(grid.spacing[2]))
    total = 0.0
    for start, stop in _runs(necrotic):
        arc = (stop - start) * step_deg
        limits = (n_rays // 4, (stop - start) // 2)
        for end, outward in ((start, -1), (stop - 1, 1)):
            e = end % n_rays
            x = _gap_end(gap, end, outward, *limits, *gap_mm) if through[e] else None
            x = x * step_deg if x is not None else _blur_model_end(
                read, share, depths, j_read, j_deep, end, outward, limits, step_deg, course_mm,
                float(surface[e]), voxel_offsets @ (outward * along[e]), voxel_offsets @ rays[e])
            if x is not None:
                arc += x - 0.5 * step_deg
        total += max(arc, 0.0)
    return float(min(total, 360.0))


def kerboul_angle_deg(lesion_mask: Volume, sphere: Sphere, coronal_normal_lps=(0.0, 1.0, 0.0),
                      sagittal_normal_lps=(1.0, 0.0, 0.0), *, head_mask: Volume | None = None,
                      step_deg: float = 0.5, neck_axis_lps=None,
                      articular_min_angle_deg: float | Callable[[np.ndarray], np.ndarray] = 65.0,
                      along_slices: bool = False) -> float:
    """Modified Kerboul combined necrotic angle (deg).

    The sum of the lesion's arcs at the articular surface on the mid-coronal and mid-sagittal planes
    through the head centre (Ha YC et al., J Bone Joint Surg Am 2006;88:35-40). Masks are sampled by
    trilinear interpolation in physical space, so the planes need not be image planes.

    Parameters
    ----------
    lesion_mask : Volume
        Lesion labels or fractions.
    sphere : Sphere
        Reference sphere of the head.
    coronal_normal_lps, sagittal_normal_lps : array_like
        Plane normals (LPS unit vectors); anterior-posterior and left-right by default.
    head_mask : Volume, optional
        Femoral head mask on the same grid, to find the (possibly collapsed) articular surface.
    step_deg : float
        Angular sampling step (deg).
    neck_axis_lps : array_like, optional
        Unit vector toward the neck; the arcs then cover the articular surface only (farther than
        ``articular_min_angle_deg`` from it), as the angle is defined.
    articular_min_angle_deg : float or callable
        Angle (deg) from the neck axis beyond which the surface is articular, or a function of the
        directions giving it per direction (:func:`necrotic_arc_deg`).
    along_slices : bool
        Read the ends the slices cross obliquely along the slice normal (:func:`necrotic_arc_deg`).

    Returns
    -------
    float
        Sum of the coronal and sagittal necrotic arcs, degrees.

    Raises
    ------
    MeasurementError
        The lesion and head masks are not on the same grid.
    """
    if head_mask is not None:
        _check_same_grid(lesion_mask, head_mask)
    kw = {"head_mask": head_mask, "step_deg": step_deg, "neck_axis_lps": neck_axis_lps,
          "articular_min_angle_deg": articular_min_angle_deg, "along_slices": along_slices}
    return (necrotic_arc_deg(lesion_mask, sphere, coronal_normal_lps, **kw)
            + necrotic_arc_deg(lesion_mask, sphere, sagittal_normal_lps, **kw))

"""Finding femoral heads in a T1-weighted hip MRI, or placing one from a seed given by hand.

The T1 volume is resampled to a coarse isotropic grid and a spherical Hough transform of its edges
(gradient directions, radii in mm over the adult range) proposes centres: the head's concentric boundaries
(cortex, cartilage, joint space, acetabular cup) all vote for its centre whatever signal its marrow has, so
a large lesion, a fluid core or collapse does not hide it. From each proposal, rays find the marrow -> dark
edges; a sphere supported by the most rays (RANSAC, centre kept near the proposal), the share of rays
agreeing with it within the field of view, and a narrow cone of rays that stay bright (the femoral neck)
decide whether it is a femoral head. The neck points laterally, which gives the side of a lone hip (the
pelvis position when the neck runs nearly antero-posterior); with two heads the body midline between them
does. A clear sphere at least half in view whose neck the field of view cuts off is still a head when no
other is found: it is returned without a neck seen, so its quality flags it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.errors import MeasurementError, SegmentationError
from onfh_imaging.fitting import fit_sphere, ransac_sphere
from onfh_imaging.geometry import Volume
from onfh_imaging.segment.anatomy import HEAD_RADIUS_RANGE_MM, MIN_SHELL_SUPPORT, SEED_SEARCH_RADII
from onfh_imaging.segment.rays import fibonacci_directions, radial_profiles

__all__ = ["HeadCandidate", "find_femoral_heads", "seeded_head"]


@dataclass(frozen=True)
class HeadCandidate:
    """A femoral head found in the field of view (before its surface is delineated).

    Attributes
    ----------
    center_lps : ndarray, shape (3,)
        Centre of the sphere fitted to the inner cortical edge (mm, LPS).
    radius_mm : float
        Radius of the marrow sphere (inner cortical edge), mm; the bone radius is about a cortex larger.
    side : str
        ``"left"`` or ``"right"``: the patient's hip.
    score : float
        Share (0..1) of rays whose first marrow -> dark edge lies on the fitted sphere.
    neck_axis_lps : ndarray, shape (3,)
        Unit vector from the centre toward the femoral neck.
    neck_fraction : float
        Share (0..1) of the rays within the field of view that stay bright past the sphere (the neck).
    placed_by_hand : bool
        The head was placed from a hand seed.
    """

    center_lps: np.ndarray
    radius_mm: float
    side: str
    score: float
    neck_axis_lps: np.ndarray
    neck_fraction: float = 0.0
    placed_by_hand: bool = False



def _resample_isotropic(volume: Volume, step_mm: float) -> Volume:
    """Linear resampling onto an isotropic grid with the same orientation and extent."""
    import SimpleITK as sitk

    image = volume.to_sitk()
    image = sitk.Cast(image, sitk.sitkFloat32)
    extent = (np.array(volume.size) - 1) * np.array(volume.spacing)
    size = [int(np.floor(e / step_mm)) + 1 for e in extent]
    # Smooth before decimating so thin dark structures are averaged, not aliased.
    sigma = [max(step_mm / 2.0 - s / 2.0, 0.0) for s in volume.spacing]
    if max(sigma) > 0:
        image = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-3) for s in sigma])
    out = sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, volume.origin, (step_mm,) * 3,
                        tuple(volume.direction.reshape(-1)), 0.0, sitk.sitkFloat32)
    return Volume.from_sitk(out)


@dataclass(frozen=True)
class _Fit:
    center: np.ndarray
    radius: float
    score: float
    neck_axis: np.ndarray | None
    neck_fraction: float
    in_view: float = 1.0  # share of rays reaching the sphere inside the field of view
    out_of_view: np.ndarray | None = None  # per direction: the ray leaves the field of view near the head


def _falling_edges(prof: np.ndarray, level: float, step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """All bright -> dark crossings of ``level`` along each ray: ``(ray index, radius mm)`` arrays."""
    down = (prof[:, :-1] >= level) & (prof[:, 1:] < level)
    ray, i = np.nonzero(down)
    v0, v1 = prof[ray, i], prof[ray, i + 1]
    return ray, (i + (v0 - level) / (v0 - v1)) * step_mm


def _fit_marrow_sphere(volume: Volume, array: np.ndarray, start: np.ndarray, radius_hint: float,
                       directions: np.ndarray, max_shift_mm: float | None = None) -> _Fit | None:
    """Sphere of the inner cortical edge around ``start``, with its support and the neck cone.

    Every bright -> dark crossing along rays from ``start`` is a candidate edge; the sphere supported
    by the most rays wins (RANSAC), so the demarcating band of a large lesion, met first by many rays,
    does not pull the fit inward. With ``max_shift_mm`` the centre stays that close to ``start``.
    Support counts only rays that reach the sphere inside the field of view, and a ray that leaves
    the field of view is never taken for the femoral neck.
    """
    step = 0.5
    radii = np.arange(0.0, HEAD_RADIUS_RANGE_MM[1] * 2.0 + 10.0, step)
    prof = ndimage.gaussian_filter1d(radial_profiles(volume, array, np.asarray(start, float), directions, radii),
                                     1.0, axis=-1)
    # A fluid core or a band can fill the middle of the head: the marrow level is the upper quartile
    # of what lies well within the smallest head, not the median around the start.
    marrow = float(np.percentile(prof[:, radii < max(0.8 * radius_hint, 3.0)], 75))
    dark = float(np.percentile(prof[:, radii < 1.5 * radius_hint + 10], 5))
    if marrow <= dark:
        return None
    level = 0.5 * (marrow + dark)
    ray, r_edge = _falling_edges(prof, level, step)
    pts = start + directions[ray] * r_edge[:, None]
    rng = np.random.default_rng(0)
    lo, hi = HEAD_RADIUS_RANGE_MM
    shift = (np.asarray(start, float), max_shift_mm) if max_shift_mm is not None else None
    center, radius, support = ransac_sphere(pts, ray, (lo - 3.0, hi), 1.2, rng, near_mm=shift)
    if center is None or np.linalg.norm(center - start) > radius or not lo - 3.0 <= radius <= hi:
        return None
    # From the centre, rays that stay bright well past the sphere run down the femoral neck.
    radii_c = np.arange(0.3 * radius, 1.35 * radius + 3.0, step)
    prof_c, inside_c = radial_profiles(volume, array, center, directions, radii_c, return_inside=True)
    prof_c = ndimage.gaussian_filter1d(prof_c, 1.0, axis=-1)
    reaches = inside_c[:, np.searchsorted(radii_c, radius + 1.0)]
    if reaches.mean() < 0.4:
        return None
    score = float(np.count_nonzero(reaches[support]) / np.count_nonzero(reaches))
    stay = ~np.any(prof_c < level, axis=1) & inside_c.all(axis=1)
    neck_axis = None
    if stay.sum() >= 2:
        # Other bright tissue (fat, pelvic marrow) can also border the head: the neck is the densest
        # cluster of such rays, so the axis is the mean of the rays around the cluster's core.
        d = directions[stay]
        near = d @ d.T > np.cos(np.radians(30.0))
        core = d[int(np.argmax(near.sum(axis=1)))]
        v = d[d @ core > np.cos(np.radians(35.0))].sum(axis=0)
        neck_axis = v / np.linalg.norm(v)
    return _Fit(center, radius, score, neck_axis, float(stay.sum() / np.count_nonzero(inside_c.all(axis=1))
                                                         if inside_c.all(axis=1).any() else 0.0),
                float(reaches.mean()), ~inside_c.all(axis=1))


def _sphere_votes(iso: Volume, radius_range_mm: tuple[float, float],
                  edge_quantile: float = 0.85) -> np.ndarray:
    """Spherical Hough accumulator on an isotropic volume: evidence for a sphere centred at each voxel.

    Every strong edge voxel (gradient magnitude in the top ``1 - edge_quantile`` of the body) votes
    along its gradient, both ways, at every radius of ``radius_range_mm``. The femoral head's concentric
    boundaries (marrow -> cortex, cortex -> cartilage, cartilage -> joint space, the acetabular cup) all
    vote for the same centre whatever the signal of the marrow inside, so a lesion's band or a fluid core
    does not hide the head. A vote at radius ``r`` weighs ``1 / (4 pi r^2)`` voxels^-2, so a fully
    supported spherical shell one voxel thick scores about 1 at any radius.

    Returns
    -------
    ndarray of float32, shape of ``iso``
        Smoothed accumulator (shells of support, summed over radii).
    """
    a = np.asarray(iso.array, np.float32)
    step = float(iso.spacing[0])
    grad = np.stack([ndimage.gaussian_filter(a, 1.0, order=o) for o in ((1, 0, 0), (0, 1, 0), (0, 0, 1))])
    mag = np.sqrt(np.sum(grad ** 2, axis=0))
    body = a > 0.1 * np.percentile(a, 99.5)
    if body.sum() < 100:
        return np.zeros(a.shape, np.float32)
    edge = mag > max(float(np.quantile(mag[body], edge_quantile)), 1e-12)
    pts = np.argwhere(edge).astype(np.float32)
    normal = (grad[:, edge] / mag[edge]).T
    shape = np.array(a.shape)
    acc = np.zeros(a.size, np.float64)
    for r in np.arange(radius_range_mm[0], radius_range_mm[1] + 1e-9, step) / step:
        for sign in (1.0, -1.0):
            c = np.rint(pts + sign * r * normal).astype(np.int64)
            ok = np.all((c >= 0) & (c < shape), axis=1)
            acc += np.bincount(np.ravel_multi_index(c[ok].T, a.shape), minlength=a.size) / (4 * np.pi * r * r)
    return ndimage.gaussian_filter(acc.reshape(a.shape).astype(np.float32), 1.0)


def _side_from_pelvis(iso: Volume, center: np.ndarray, radius: float) -> str:
    """Side of a lone head whose neck runs nearly antero-posterior: the pelvis lies medial to the hip.

    The bright tissue (fat, marrow) at the level of the acetabular roof and above, away from the head, is
    dominated by the pelvis; its left-right centre of mass lies toward the body midline.
    """
    from skimage.filters import threshold_otsu

    a = np.asarray(iso.array, np.float32)
    lps = iso.voxel_centers_lps()
    fg = a[a > 0.1 * np.percentile(a, 99.5)]
    bright = a > threshold_otsu(fg)
    level = (lps[..., 2] > center[2]) & (np.linalg.norm(lps - center, axis=-1) > 2.0 * radius)
    weights = bright & level
    if weights.sum() < 10:
        # Nothing above the head: the scanner's patient coordinates are centred near the body midline.
        return "left" if center[0] > 0 else "right"
    midline_x = float(np.mean(lps[..., 0][weights]))
    return "left" if center[0] > midline_x else "right"


#: Least share of a head's marrow sphere inside the field of view for it to be found without its neck: a
#: head at least half in view is measured (and flagged as cut); less is a sliver at the image's edge.
CUT_HEAD_MIN_IN_VIEW = 0.5

#: Least share of the rays in view supporting the marrow sphere of a head whose neck lies outside the
#: field of view: without the neck to confirm it the ball must be the clearest sphere in the image, on
#: most of its rays (twice the least support of a head seen with its neck).
CUT_HEAD_MIN_SCORE = 0.6

#: Least distance (mm) of a head centre from the scanner's left-right origin for that origin to tell the
#: side: MR patient coordinates are centred at the magnet's isocentre, and the patient lies centred left
#: to right on the table within a few cm, while the femoral heads lie 75-100 mm either side of the body's
#: midline (half the 150-200 mm between adult head centres).
MIDLINE_SIDE_MIN_MM = 50.0

#: Half-angle (deg) of the cone about the usual neck direction in which the femoral neck would lie; a
#: cut head counts only when most of these rays leave the field of view (its neck is there, unseen).
_NECK_CONE_HALF_DEG = 35.0


def _neck_cut_off(fit: _Fit, directions: np.ndarray, side: str) -> bool:
    """Whether the field of view cuts off where the femoral neck of a ``side`` head at ``fit`` would run."""
    if fit.out_of_view is None:
        return False
    cone = directions @ _default_neck_axis(side) > np.cos(np.radians(_NECK_CONE_HALF_DEG))
    return bool(cone.any() and fit.out_of_view[cone].mean() >= 0.5)


#: Grid step (mm) of the spherical Hough transform: a tenth of the smallest head radius, so a centre is
#: proposed within a voxel or two of the truth, and the transform stays well under a second.
_HOUGH_STEP_MM = 2.0


def _hough(t1: Volume) -> tuple[Volume, np.ndarray]:
    """Coarse isotropic image and its spherical Hough accumulator (see :func:`_sphere_votes`)."""
    iso = _resample_isotropic(t1, _HOUGH_STEP_MM)
    lo, hi = HEAD_RADIUS_RANGE_MM
    # The cartilage and the acetabular cup extend the head's concentric edges a few mm outward.
    return iso, _sphere_votes(iso, (lo - 4.0, hi + 4.0))


def find_femoral_heads(t1: Volume) -> list[HeadCandidate]:
    """Find the femoral heads in a T1-weighted volume and tell their sides.

    Centres are proposed by a spherical Hough transform of the image edges (see
    :func:`_sphere_votes`) and confirmed by a sphere fit to the inner cortical edge seen from each
    proposal, the share of rays supporting it and a narrow cone of rays that stay bright (the femoral
    neck). The strongest confirmed sphere is a femoral head; a second one across the midline, level
    with it and of similar size, is the other hip.

    Parameters
    ----------
    t1 : Volume
        T1-weighted MR volume (any orientation, any scanner intensity scale).

    Returns
    -------
    list of HeadCandidate
        Zero, one or two heads, sorted right hip first. Side comes from the body midline between two
        heads, or from the lateral direction of the femoral neck for a lone head (the pelvis position
        when the neck runs nearly antero-posterior).
    """
    array = np.asarray(t1.array, np.float32)
    iso, votes = _hough(t1)
    if not np.any(votes > 0):
        return []
    directions = fibonacci_directions(400)
    fits, cut = _confirmed_spheres(t1, array, iso, votes, directions)
    if not fits:
        return _cut_head(iso, cut, directions)
    chosen = _one_or_two_hips(fits)
    best = chosen[0]
    if len(chosen) == 2:
        midline_x = 0.5 * (chosen[0].center[0] + chosen[1].center[0])
        sides = ["left" if f.center[0] > midline_x else "right" for f in chosen]
    elif abs(best.neck_axis[0]) >= 0.3:
        # The neck points laterally: -x (patient right) for the right hip.
        sides = ["left" if best.neck_axis[0] > 0 else "right"]
    else:
        sides = [_side_from_pelvis(iso, best.center, best.radius)]
    heads = [HeadCandidate(center_lps=f.center, radius_mm=float(f.radius), side=s, score=f.score,
                           neck_axis_lps=f.neck_axis, neck_fraction=f.neck_fraction)
             for f, s in zip(chosen, sides)]
    return sorted(heads, key=lambda h: h.side != "right")


def _confirmed_spheres(t1: Volume, array: np.ndarray, iso: Volume, votes: np.ndarray,
                       directions: np.ndarray) -> tuple[list[tuple[_Fit, float]], list[_Fit]]:
    """Marrow spheres confirmed at the Hough peaks, strongest first, with their vote support; and the clear
    spheres without a neck seen that may be heads cut by the field of view."""
    from skimage.feature import peak_local_max

    step = _HOUGH_STEP_MM
    lo = HEAD_RADIUS_RANGE_MM[0]
    peaks = peak_local_max(votes, min_distance=max(1, round(lo / 2.0 / step)), num_peaks=12,
                           threshold_rel=0.1, exclude_border=False)
    peaks = [p for p in peaks if votes[tuple(p)] >= MIN_SHELL_SUPPORT]
    fits: list[tuple[_Fit, float]] = []
    cut: list[_Fit] = []  # clear spheres whose neck the field of view cuts off
    for p in peaks:
        start = iso.index_to_lps(np.asarray(p[::-1], float))
        support = float(votes[tuple(p)])
        if any(np.linalg.norm(start - f.center) < f.radius for f, _ in fits):
            continue
        # The vote peak is within a voxel or two of the centre.
        fit = _fit_marrow_sphere(t1, array, start, lo, directions, max_shift_mm=3.0 * step)
        if fit is not None and fit.neck_axis is None and fit.score >= CUT_HEAD_MIN_SCORE \
                and fit.in_view >= CUT_HEAD_MIN_IN_VIEW:
            cut.append(fit)
        if fit is None or fit.neck_axis is None:
            continue
        if fit.score < 0.3 or not (0.005 <= fit.neck_fraction <= 0.3):
            continue
        if any(np.linalg.norm(fit.center - f.center) < f.radius + fit.radius for f, _ in fits):
            continue
        fits.append((fit, support))
    return fits, cut


def _one_or_two_hips(fits: list[tuple[_Fit, float]]) -> list[_Fit]:
    """The strongest confirmed sphere, and a second one across the midline level with it (the other hip)."""
    # Peaks come strongest first: the head's concentric shells and cup outvote the trochanter.
    best, best_support = fits[0]
    chosen = [best]
    for f, support in fits[1:]:
        # A second femoral head lies across the midline, level with the first.
        d = f.center - best.center
        if support >= 0.3 * best_support and f.score >= 0.6 * best.score \
                and np.hypot(d[0], d[1]) > 2.5 * best.radius and abs(d[2]) < 1.5 * best.radius \
                and abs(f.radius - best.radius) < 0.25 * best.radius:
            chosen.append(f)
            break
    return chosen


def _cut_head(iso: Volume, cut: list[_Fit], directions: np.ndarray) -> list[HeadCandidate]:
    """The clearest sphere whose neck lies outside the field of view, as a lone head (or none).

    With no head seen with its neck, a head cut by the field of view where its neck runs (lateral and
    inferior) is still the femoral head: it is returned with the usual neck direction and no neck seen
    (``neck_fraction`` 0), so its quality says it was not confirmed by the neck and that it is cut.
    """
    for fit in cut:
        # The image may show one hip only, cut where the pelvis begins: the scanner's origin tells the side.
        x = float(fit.center[0])
        side = ("left" if x > 0 else "right") if abs(x) >= MIDLINE_SIDE_MIN_MM \
            else _side_from_pelvis(iso, fit.center, fit.radius)
        if _neck_cut_off(fit, directions, side):
            return [HeadCandidate(center_lps=fit.center, radius_mm=float(fit.radius), side=side, score=fit.score,
                                  neck_axis_lps=_default_neck_axis(side), neck_fraction=0.0)]
    return []


#: Neck direction assumed for a hand-placed head whose neck the rays cannot see: lateral and inferior at
#: the mean adult neck-shaft angle (about 130 deg, so the neck axis is about 40 deg below horizontal).
_DEFAULT_NECK_ELEVATION_DEG = -40.0


def _default_neck_axis(side: str) -> np.ndarray:
    lateral = -1.0 if side == "right" else 1.0  # LPS: +x is the patient's left
    e = np.radians(_DEFAULT_NECK_ELEVATION_DEG)
    return np.array([lateral * np.cos(e), 0.0, np.sin(e)])


def _outline_sphere(points: np.ndarray, flat_mm: float = 1.0) -> tuple[np.ndarray, float] | None:
    """Centre and radius (mm) of the head outline through hand-placed points (n >= 3, LPS mm).

    Points clicked on one slice (within ``flat_mm`` of a plane, about a slice's partial volume) give the
    circle through them in that plane; points spread over slices give the least-squares sphere.
    None when the points are degenerate (collinear).
    """
    centred = points - points.mean(axis=0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    if len(points) == 3 or sv[-1] / np.sqrt(len(points)) < flat_mm:
        if sv[1] / np.sqrt(len(points)) < flat_mm:
            return None
        uv = centred @ vt[:2].T
        a = np.column_stack([2.0 * uv, np.ones(len(uv))])
        sol, *_ = np.linalg.lstsq(a, np.sum(uv ** 2, axis=1), rcond=None)
        r2 = sol[2] + sol[:2] @ sol[:2]
        if not np.isfinite(r2) or r2 <= 0:
            return None
        return points.mean(axis=0) + sol[:2] @ vt[:2], float(np.sqrt(r2))
    try:
        sphere = fit_sphere(points)
    except MeasurementError:
        return None
    return np.asarray(sphere.center_lps, float), float(sphere.radius_mm)


def seeded_head(t1: Volume, side: str, seed_lps, *, array: np.ndarray | None = None,
                source: str | None = None) -> HeadCandidate:
    """A femoral head placed from a seed given by hand, instead of the automatic search.

    Parameters
    ----------
    t1 : Volume
        T1-weighted MR volume.
    side : str
        ``"left"`` or ``"right"``: the hip the seed belongs to.
    seed_lps : array_like, shape (3,) or (n >= 3, 3)
        One LPS point (mm) near the head centre, or at least three points on the head's bone outline
        (then centre and radius of the circle or sphere through them start the fit).
    array : ndarray, optional
        ``t1``'s pixels as float32, when already at hand.
    source : str, optional
        Series named in error messages.

    Returns
    -------
    HeadCandidate
        With ``placed_by_hand`` set. The inner cortical sphere is fitted locally, its centre within
        :data:`~onfh_imaging.segment.anatomy.SEED_SEARCH_RADII` head radii of the seed.

    Raises
    ------
    SegmentationError
        When no head-sized sphere fits near the seed, or the outline points are degenerate.
    """
    if side not in ("left", "right"):
        raise SegmentationError(f"a head seed needs side 'left' or 'right', got {side!r}", path=source)
    pts = np.asarray(seed_lps, float).reshape(-1, 3)
    if not np.all(np.isfinite(pts)):
        raise SegmentationError(f"the {side} head seed has non-finite coordinates", path=source)
    lo, hi = HEAD_RADIUS_RANGE_MM
    if len(pts) >= 3:
        through = _outline_sphere(pts)
        if through is None:
            raise SegmentationError(f"the {side} head's outline points are degenerate (collinear)",
                                    path=source, hint="place three or more points around the head's outline")
        start, radius_hint = through
        radius_hint = float(np.clip(radius_hint, lo, hi))
    elif len(pts) == 1:
        start, radius_hint = pts[0], 0.5 * (lo + hi)
    else:
        raise SegmentationError(f"the {side} head seed needs one point or at least three", path=source)
    a = np.asarray(t1.array, np.float32) if array is None else array
    directions = fibonacci_directions(400)
    # The concentric shells' vote peak nearest the seed, within the search reach, starts the fit as in
    # the automatic search; the seed itself when no shell supports a head there.
    iso, votes = _hough(t1)
    near = np.linalg.norm(iso.voxel_centers_lps() - np.asarray(start, float), axis=-1) \
        <= SEED_SEARCH_RADII * radius_hint
    fit = None
    if np.any(near & (votes >= MIN_SHELL_SUPPORT)):
        peak = np.unravel_index(int(np.argmax(np.where(near, votes, -np.inf))), votes.shape)
        peak_lps = iso.index_to_lps(np.asarray(peak[::-1], float))
        fit = _fit_marrow_sphere(t1, a, peak_lps, lo, directions, max_shift_mm=3.0 * _HOUGH_STEP_MM)
    if fit is None:
        fit = _fit_marrow_sphere(t1, a, np.asarray(start, float), lo, directions,
                                 max_shift_mm=0.5 * radius_hint)
    if fit is None:
        raise SegmentationError(f"no femoral head fits near the {side} seed {np.round(pts[0], 1).tolist()} mm",
                                path=source, hint="place the seed inside the femoral head, near its centre")
    neck = fit.neck_axis if fit.neck_axis is not None else _default_neck_axis(side)
    return HeadCandidate(center_lps=fit.center, radius_mm=float(fit.radius), side=side, score=fit.score,
                         neck_axis_lps=neck, neck_fraction=fit.neck_fraction, placed_by_hand=True)

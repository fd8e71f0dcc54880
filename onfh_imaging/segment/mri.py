"""Automatic segmentation of femoral heads and necrotic lesions on T1-weighted hip MRI.

The method follows the anatomy rather than a trained model, and every threshold comes from the image:

1. **Finding heads.** The T1 volume is resampled to a coarse isotropic grid and a spherical Hough
   transform of its edges (gradient directions, radii in mm over the adult range) proposes centres: the
   head's concentric boundaries (cortex, cartilage, joint space, acetabular cup) all vote for its centre
   whatever signal its marrow has, so a large lesion, a fluid core or collapse does not hide it. From
   each proposal, rays find the marrow -> dark edges; a sphere supported by the most rays (RANSAC, centre
   kept near the proposal), the share of rays agreeing with it within the field of view, and a narrow
   cone of rays that stay bright (the femoral neck) decide whether it is a femoral head. The neck points
   laterally, which gives the side of a lone hip (the pelvis position when the neck runs nearly
   antero-posterior); with two heads the body midline between them does.
2. **Bone surface.** Radial intensity profiles are sampled in physical space (trilinear, 0.1 mm steps)
   on a polar grid whose pole is the neck axis. Levels come from the head itself (marrow, cortex and
   cartilage of the median profile of well-resolved rays). The reference sphere is fitted (one-sided,
   robust) to the outer cortical edge of rays the slices do not blur. On every articular ray the bone
   surface is then located by fitting the outer anatomy, which is the same with or without a lesion
   beneath: bone of any signal, the dark subchondral plate, the brighter cartilage and anything beyond,
   each at a free level, blurred by the ray's own point-spread function (voxel extent along the ray per
   image axis, so thick slices blur rays near the slice normal most). Plate and cartilage thickness are
   learned from the sharpest rays over normal marrow. Rays too blurred to resolve plate and cartilage are
   left out, the rest are weighted by their resolution, and a normalised convolution over the sphere
   regularises the radii, pulling unsupported directions to the reference sphere. The femoral head mask is the star-shaped region
   ``|x - c| < r(u)`` (clipped to the reference sphere around the neck), voxelised on the input grid with
   partial-volume fractions.
3. **Necrotic lesion.** On a fine isotropic grid inside the cortex, marrow clearly darker than the head's
   own marrow (the demarcating band, a fluid core) splits the bone; normal marrow is what stays connected to
   the neck, and the rest, away from the neck, reaching the subchondral bone and larger than
   ``MIN_LESION_VOLUME_ML``, is the necrotic segment. A threshold puts its boundary where the blurred band
   reaches, up to half the slice thickness into normal marrow, so the boundary is moved to the band's
   outer edge found by fitting marrow | band | core, blurred by the image's point-spread function, to
   profiles across it. The segment is then carried radially out to the bone surface. With no band the
   lesion mask is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from onfh_imaging.errors import SegmentationError, UnsupportedInputError
from onfh_imaging.geometry import Volume
from onfh_imaging.segment.rays import (
    DirectionGrid,
    orthonormal_frame,
    radial_profiles,
    sample_volume,
    star_fraction,
)

Progress = Callable[[float, str], None]

#: Physical size range (mm) of an adult femoral head's bone radius.
HEAD_RADIUS_RANGE_MM = (18.0, 32.0)
#: Directions closer than this to the neck axis (deg) are neck, not articular surface.
NECK_CONE_DEG = 65.0
#: Lesions are only sought farther than this from the neck axis (deg).
LESION_MIN_NECK_ANGLE_DEG = 60.0
#: Smallest lesion reported (mL); smaller dark specks are noise or vessels, not a necrotic segment.
MIN_LESION_VOLUME_ML = 0.1

_RAY_STEP_MM = 0.1
#: Least spherical-Hough support of a femoral head, in spherical shells (a head's concentric
#: boundaries give several tenths; image noise a few thousandths).
_MIN_SHELL_SUPPORT = 0.05


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
    """

    center_lps: np.ndarray
    radius_mm: float
    side: str
    score: float
    neck_axis_lps: np.ndarray


@dataclass(frozen=True)
class HipSegmentation:
    """Masks and geometry of one hip, on the input image grid.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"`` (patient side).
    femoral_head_mask : Volume
        Bool: the femur (cortex, marrow, lesion) inside the reference sphere.
    lesion_mask : Volume
        Bool: the necrotic segment including its low-signal band; empty when there is none.
    head_center_lps : ndarray, shape (3,)
        Reference sphere centre estimate (mm, LPS).
    head_radius_mm : float
        Reference sphere radius estimate (mm).
    neck_axis_lps : ndarray, shape (3,)
        Unit vector from the head centre toward the femoral neck.
    warnings : tuple of str
        Anything a reader should check.
    femoral_head_fraction, lesion_fraction : Volume
        Partial-volume fractions (float32, 0..1) of the same masks: the sub-voxel surfaces the bool masks
        were thresholded from (>= 0.5). Measuring these avoids the information loss of thick slices. They
        lie on a sub-grid of the image grid around the head (``Volume.offset_in`` gives where).
    """

    side: str
    femoral_head_mask: Volume
    lesion_mask: Volume
    head_center_lps: np.ndarray
    head_radius_mm: float
    neck_axis_lps: np.ndarray
    warnings: tuple[str, ...] = ()
    femoral_head_fraction: Volume | None = field(default=None, repr=False)
    lesion_fraction: Volume | None = field(default=None, repr=False)


# --- small helpers ---------------------------------------------------------------------------------
def _fibonacci_directions(n: int) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + 5 ** 0.5) * k
    rho = np.sqrt(1.0 - z * z)
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


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


def _last_crossing_above(profiles: np.ndarray, level: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fractional index of the last upward crossing of ``level`` with ``lo <= index <= hi`` per ray."""
    n = profiles.shape[-1]
    idx = np.arange(1, n)
    up = (profiles[..., :-1] < level) & (profiles[..., 1:] >= level)
    up &= (idx >= lo[..., None]) & (idx <= hi[..., None])
    has = up.any(axis=-1)
    last = n - 2 - np.argmax(up[..., ::-1], axis=-1)
    v0 = np.take_along_axis(profiles, last[..., None], -1)[..., 0]
    v1 = np.take_along_axis(profiles, (last + 1)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.clip((level - v0) / (v1 - v0), 0.0, 1.0)
    return np.where(has, last + f, np.nan)


def _robust_sphere(points: np.ndarray, weights: np.ndarray | None = None, *,
                   keep_quantile: float = 0.6) -> tuple[np.ndarray, float, np.ndarray]:
    """Sphere of the outermost coherent edge points: ``(centre, radius, inlier mask)``.

    Edges a ray meets too early (a lesion's band, a depressed segment) lie inside the head sphere, so
    the fit starts from the outer ``keep_quantile`` of radial residuals and then trims residuals beyond
    2.5 robust standard deviations (inward) or 4 (outward) until the inlier set settles.
    """
    from onfh_imaging.measure.sphere import fit_sphere

    pts = np.asarray(points, float)
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, float)
    keep = np.ones(len(pts), bool)
    sphere = fit_sphere(pts, w)
    for _ in range(4):
        res = sphere.radial_residuals(pts)
        keep = (res >= np.quantile(res, 1.0 - keep_quantile)) & (res <= np.quantile(res, 0.98))
        sphere = fit_sphere(pts[keep], w[keep])
    for _ in range(10):
        res = sphere.radial_residuals(pts)
        med = np.median(res[keep])
        sd = max(1.4826 * np.median(np.abs(res[keep] - med)), 0.1)
        new_keep = (res >= med - 2.5 * sd) & (res <= med + 4.0 * sd)
        if np.array_equal(new_keep, keep) or new_keep.sum() < 10:
            break
        keep = new_keep
        sphere = fit_sphere(pts[keep], w[keep])
    return np.asarray(sphere.center_lps, float), float(sphere.radius_mm), keep


# --- 1. finding heads ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Fit:
    center: np.ndarray
    radius: float
    score: float
    neck_axis: np.ndarray | None
    neck_fraction: float


def _falling_edges(prof: np.ndarray, level: float, step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """All bright -> dark crossings of ``level`` along each ray: ``(ray index, radius mm)`` arrays."""
    down = (prof[:, :-1] >= level) & (prof[:, 1:] < level)
    ray, i = np.nonzero(down)
    v0, v1 = prof[ray, i], prof[ray, i + 1]
    return ray, (i + (v0 - level) / (v0 - v1)) * step_mm


def _ransac_sphere(points: np.ndarray, ray: np.ndarray, radius_range: tuple[float, float], tol: float,
                   rng: np.random.Generator, *, near_mm: tuple[np.ndarray, float] | None = None,
                   iterations: int = 300) -> tuple[np.ndarray | None, float, np.ndarray]:
    """Sphere supported by the most rays (a ray supports it if any of its edges lies within ``tol``).

    ``near_mm = (point, distance)`` restricts the centre to lie within ``distance`` of ``point``.
    Returns ``(centre, radius, ids of the supporting rays)``; the centre is None when nothing fits.
    """
    from onfh_imaging.measure.sphere import fit_sphere

    none = (None, 0.0, np.zeros(0, int))
    if len(points) < 4:
        return none

    def supporters(c: np.ndarray, r: float) -> np.ndarray:
        return np.abs(np.linalg.norm(points - c, axis=1) - r) < tol

    best, best_support = None, -1
    for _ in range(iterations):
        q = points[rng.choice(len(points), 4, replace=False)]
        try:
            c = np.linalg.solve(2 * (q[1:] - q[0]), np.sum(q[1:] ** 2 - q[0] ** 2, axis=1))
        except np.linalg.LinAlgError:
            continue
        r = float(np.linalg.norm(q[0] - c))
        if not radius_range[0] <= r <= radius_range[1]:
            continue
        if near_mm is not None and np.linalg.norm(c - near_mm[0]) > near_mm[1]:
            continue
        support = np.unique(ray[supporters(c, r)]).size
        if support > best_support:
            best, best_support = (c, r), support
    if best is None:
        return none
    c, r = best
    for _ in range(3):
        sphere = fit_sphere(points[supporters(c, r)])
        c, r = np.asarray(sphere.center_lps, float), float(sphere.radius_mm)
    return c, r, np.unique(ray[supporters(c, r)])


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
    center, radius, support = _ransac_sphere(pts, ray, (lo - 3.0, hi), 1.2, rng, near_mm=shift)
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
                                                         if inside_c.all(axis=1).any() else 0.0))


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
    from skimage.feature import peak_local_max

    array = np.asarray(t1.array, np.float32)
    step = 2.0
    iso = _resample_isotropic(t1, step)
    lo, hi = HEAD_RADIUS_RANGE_MM
    # The cartilage and the acetabular cup extend the head's concentric edges a few mm outward.
    votes = _sphere_votes(iso, (lo - 4.0, hi + 4.0))
    if not np.any(votes > 0):
        return []
    peaks = peak_local_max(votes, min_distance=max(1, round(lo / 2.0 / step)), num_peaks=12,
                           threshold_rel=0.1, exclude_border=False)
    peaks = [p for p in peaks if votes[tuple(p)] >= _MIN_SHELL_SUPPORT]
    directions = _fibonacci_directions(400)
    fits: list[tuple[_Fit, float]] = []
    for p in peaks:
        start = iso.index_to_lps(np.asarray(p[::-1], float))
        support = float(votes[tuple(p)])
        if any(np.linalg.norm(start - f.center) < f.radius for f, _ in fits):
            continue
        # The vote peak is within a voxel or two of the centre.
        fit = _fit_marrow_sphere(t1, array, start, lo, directions, max_shift_mm=3.0 * step)
        if fit is None or fit.neck_axis is None:
            continue
        if fit.score < 0.3 or not (0.005 <= fit.neck_fraction <= 0.3):
            continue
        if any(np.linalg.norm(fit.center - f.center) < f.radius + fit.radius for f, _ in fits):
            continue
        fits.append((fit, support))
    if not fits:
        return []
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
    if len(chosen) == 2:
        midline_x = 0.5 * (chosen[0].center[0] + chosen[1].center[0])
        sides = ["left" if f.center[0] > midline_x else "right" for f in chosen]
    elif abs(best.neck_axis[0]) >= 0.3:
        # The neck points laterally: -x (patient right) for the right hip.
        sides = ["left" if best.neck_axis[0] > 0 else "right"]
    else:
        sides = [_side_from_pelvis(iso, best.center, best.radius)]
    heads = [HeadCandidate(center_lps=f.center, radius_mm=float(f.radius), side=s, score=f.score,
                           neck_axis_lps=f.neck_axis) for f, s in zip(chosen, sides)]
    return sorted(heads, key=lambda h: h.side != "right")


# --- 2. bone surface and 3. lesion ------------------------------------------------------------------
@dataclass(frozen=True)
class _Levels:
    marrow: float
    cortex: float
    cartilage: float
    cortex_mm: float  # inner cortical edge -> outer bone surface, measured on well-resolved rays
    outer_offset_mm: float  # outer bone surface relative to the inner-edge sphere


def _tissue_levels(prof: np.ndarray, radii: np.ndarray, vectors: np.ndarray, inner_radius: float,
                   volume: Volume, articular: np.ndarray) -> _Levels:
    """Marrow, cortex and cartilage levels from the head's own profiles (median over well-resolved rays)."""
    inferior = (vectors[..., 2] < -0.3) & articular
    if inferior.sum() < 20:
        inferior = articular
    marrow = float(np.median(prof[inferior][:, radii < 0.6 * inner_radius]))
    # Rays nearly within the slice plane see the cortex at in-plane resolution.
    normal = volume.axis_of_slices()
    resolved = (np.abs(vectors @ normal) < 0.35) & articular
    if resolved.sum() < 20:
        resolved = articular
    s = np.arange(-6.0, 8.0 + 1e-9, _RAY_STEP_MM)
    idx = (inner_radius + s - radii[0]) / _RAY_STEP_MM
    aligned = ndimage.map_coordinates(prof[resolved], np.stack(np.meshgrid(
        np.arange(resolved.sum()), idx, indexing="ij")), order=1, mode="nearest")
    med = np.median(aligned, axis=0)
    win = (s > -1.5) & (s < 4.0)
    i_min = int(np.flatnonzero(win)[np.argmin(med[win])])
    cortex = float(med[i_min])
    after = (s > s[i_min]) & (s < s[i_min] + 4.0)
    i_max = int(np.flatnonzero(after)[np.argmax(med[after])]) if after.any() else i_min
    cartilage = float(med[i_max])
    lvl_in = 0.5 * (marrow + cortex)
    lvl_out = 0.5 * (cortex + cartilage)
    before = np.flatnonzero(med[:i_min] >= lvl_in)
    s_in = s[before[-1]] if before.size else s[i_min] - 0.75
    rising = np.flatnonzero(med[i_min:i_max + 1] >= lvl_out)
    s_out = s[i_min + rising[0]] if rising.size else s[i_min] + 0.75
    return _Levels(marrow, cortex, cartilage, float(s_out - s_in), float(s_out))


def _grid_median(values: np.ndarray, size: int = 3) -> np.ndarray:
    """Median filter on a (polar, azimuth) map: edges repeat in polar angle, azimuth wraps around."""
    h = size // 2
    padded = np.pad(values, ((h, h), (0, 0)), mode="edge")
    padded = np.pad(padded, ((0, 0), (h, h)), mode="wrap")
    return ndimage.median_filter(padded, size=size)[h:-h, h:-h]


@dataclass(frozen=True)
class _Surface:
    center: np.ndarray
    radius: float
    grid: DirectionGrid
    vectors: np.ndarray
    radii: np.ndarray
    profiles: np.ndarray
    r_surface: np.ndarray
    levels: _Levels
    articular: np.ndarray
    found_fraction: float


def _outer_edges(prof: np.ndarray, radii: np.ndarray, level: float, radius: float) -> np.ndarray:
    """Radius (mm) of the last cortex -> cartilage rising crossing near the sphere of ``radius``; NaN if none."""
    shape = prof.shape[:-1]
    lo = np.full(shape, (radius - 5.5 - radii[0]) / _RAY_STEP_MM)
    hi = np.full(shape, (radius + 1.2 - radii[0]) / _RAY_STEP_MM)
    return radii[0] + _last_crossing_above(prof, level, lo, hi) * _RAY_STEP_MM


def _ray_blur_cdf(widths_mm: Sequence[float], smooth_sigma_mm: float,
                  step_mm: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative point-spread function along a ray: ``(offsets mm, cdf)``.

    Each image axis contributes its voxel average (a box of the voxel's extent along the ray) and the
    trilinear interpolation of the samples (two more such boxes); the radial smoothing of the profiles
    adds a Gaussian.
    """
    kernel = np.array([1.0])
    for w in widths_mm:
        n = max(1, int(round(w / step_mm)))
        box = np.full(n, 1.0 / n)
        for _ in range(3):
            kernel = np.convolve(kernel, box)
    half = int(np.ceil(3.0 * smooth_sigma_mm / step_mm))
    x = np.arange(-half, half + 1) * step_mm
    kernel = np.convolve(kernel, np.exp(-0.5 * (x / smooth_sigma_mm) ** 2))
    offsets = (np.arange(len(kernel)) - 0.5 * (len(kernel) - 1)) * step_mm
    cdf = np.cumsum(kernel)
    return offsets, cdf / cdf[-1]


def _layer_design(s: np.ndarray, plate_mm: float, cartilage_mm: float,
                  cdf: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Blurred indicators of bone inside the plate, plate, cartilage and beyond at offsets ``s`` (mm).

    ``s`` is measured from the bone surface outward; returns shape ``(len(s), 4)``.
    """
    x, c = cdf

    def step(at: float) -> np.ndarray:
        return np.interp(s - at, x, c, left=0.0, right=1.0)

    inner, surface, outer = step(-plate_mm), step(0.0), step(cartilage_mm)
    return np.column_stack([1.0 - inner, inner - surface, surface - outer, outer])


@dataclass(frozen=True)
class _LayerFit:
    shift_mm: np.ndarray    # surface offset from the reference radius per ray (mm)
    valid: np.ndarray       # the fit found a dark plate under brighter cartilage
    cost: np.ndarray        # relative residual (0 perfect, 1 no better than a constant)


def _fit_layers(prof: np.ndarray, radii: np.ndarray, radius: float, cdf: tuple[np.ndarray, np.ndarray],
                plate_mm: float, cartilage_mm: float, min_contrast: float, dark_limit: float,
                bright_limit: float, *, search_mm: tuple[float, float] = (-6.0, 2.0), sub: int = 2,
                window_mm: tuple[float, float] | None = None) -> _LayerFit:
    """Locate the bone surface on rays sharing one point-spread function by fitting the layer model.

    The model is the outer anatomy of the head, which is the same with or without a lesion beneath:
    bone of any signal (marrow, band or fluid core), the dark subchondral plate, the brighter articular
    cartilage, and anything beyond, each at its own free level, blurred by the ray's point-spread
    function. For every candidate surface offset the levels are solved by least squares over a window
    from ``1.5 mm`` inside the plate to ``1 mm`` past the cartilage; the offset of least relative
    residual wins (parabolic sub-sample refinement). Only fits with a plate darker than ``dark_limit``,
    and cartilage brighter than the plate by ``min_contrast`` but darker than ``bright_limit`` (not
    marrow: a band over a strip of marrow under the plate mimics plate over cartilage) count. What lies
    past the cartilage is the joint, so it must be darker than ``bright_limit`` too: otherwise a lesion's
    band fits as the plate and the bright necrotic core above it as the joint.
    """
    step = radii[1] - radii[0]
    lo, hi = window_mm if window_mm is not None else (-plate_mm - 1.5, cartilage_mm + 1.0)
    s = np.arange(lo, hi + 1e-9, sub * step)
    design = _layer_design(s, plate_mm, cartilage_mm, cdf)
    pinv = np.linalg.pinv(design)
    project = design @ pinv
    offsets = np.arange(search_mm[0], search_mm[1] + 1e-9, step)
    base = (radius - radii[0]) / step
    n_rays = prof.shape[0]
    cost = np.full((n_rays, len(offsets)), np.inf)
    ok_all = np.zeros((n_rays, len(offsets)), bool)
    s_idx = np.round(s / step).astype(int)
    for n, d in enumerate(offsets):
        idx = np.clip(int(round(base + d / step)) + s_idx, 0, prof.shape[-1] - 1)
        y = prof[:, idx]
        fit = y @ project.T
        levels = y @ pinv.T
        centred = y - y.mean(axis=1, keepdims=True)
        total = np.einsum("ij,ij->i", centred, centred) + 1e-12
        res = y - fit
        cost[:, n] = np.einsum("ij,ij->i", res, res) / total
        ok_all[:, n] = ((levels[:, 2] - levels[:, 1] > min_contrast) & (levels[:, 1] < dark_limit)
                        & (levels[:, 2] < bright_limit) & (levels[:, 3] < bright_limit))
    masked = np.where(ok_all, cost, np.inf)
    best = np.argmin(masked, axis=1)
    rows = np.arange(n_rays)
    valid = np.isfinite(masked[rows, best])
    b0 = np.clip(best, 1, len(offsets) - 2)
    cm, c0, cp = cost[rows, b0 - 1], cost[rows, b0], cost[rows, b0 + 1]
    den = cm - 2 * c0 + cp
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.isfinite(den) & (den > 0), 0.5 * (cm - cp) / den, 0.0)
    shift = offsets[best] + np.where(best == b0, np.clip(frac, -1, 1), 0.0) * step
    return _LayerFit(shift, valid, np.where(valid, masked[rows, best], 1.0))


def _learn_layers(prof: np.ndarray, radii: np.ndarray, radius: float, cdf: tuple[np.ndarray, np.ndarray],
                  min_contrast: float, dark_limit: float, bright_limit: float) -> tuple[float, float]:
    """Plate and cartilage thickness (mm) that explain the sharpest rays best.

    Every candidate pair is scored by the median relative residual over the same window about the
    surface, coarse (0.5 mm) then fine (0.25 mm).
    """
    def score(plate: float, cart: float) -> float:
        fit = _fit_layers(prof, radii, radius, cdf, plate, cart, min_contrast, dark_limit, bright_limit,
                          search_mm=(-2.0, 2.0), sub=2, window_mm=(-4.0, 3.5))
        return float(np.median(fit.cost))

    pairs = [(p, c) for p in np.arange(0.5, 3.01, 0.5) for c in np.arange(1.0, 3.51, 0.5)]
    best = min(pairs, key=lambda pc: score(*pc))
    fine = [(best[0] + dp, best[1] + dc) for dp in (-0.25, 0.0, 0.25) for dc in (-0.25, 0.0, 0.25)
            if best[0] + dp > 0.2 and best[1] + dc > 0.5]
    best = min(fine, key=lambda pc: score(*pc))
    return float(best[0]), float(best[1])


def _sphere_smooth(values: np.ndarray, grid: DirectionGrid, sigma_deg: float) -> np.ndarray:
    """Gaussian smoothing of a (polar, azimuth) map by about ``sigma_deg`` of arc on the sphere."""
    out = ndimage.gaussian_filter1d(values, sigma_deg / grid.polar_step_deg, axis=0, mode="nearest")
    sin = np.sin(np.deg2rad(grid.polar_deg))
    n_az = grid.shape[1]
    for row in range(out.shape[0]):
        sig = sigma_deg / grid.azimuth_step_deg / max(sin[row], 1e-3)
        if sig >= n_az:
            out[row] = out[row].mean()
        else:
            out[row] = ndimage.gaussian_filter1d(out[row], sig, mode="wrap")
    return out


def _regularise(shift: np.ndarray, weight: np.ndarray, grid: DirectionGrid, radius: float,
                sigma_mm: float = 1.2, reach_mm: float = 5.0, target_se_mm: float = 0.05,
                min_coverage: float = 0.25) -> np.ndarray:
    """Smooth per-ray surface shifts (mm) over the sphere, weighted by each ray's precision.

    ``weight`` is each ray's precision (inverse variance, mm^-2; 0 for no fit). Each direction gets a
    normalised convolution of the fits around it, a weighted mean that does not depend on the scale of the weights, so no prior pulls a supported depression toward the
    reference sphere. The kernel widens along a ladder from ``sigma_mm`` to ``reach_mm`` until its
    standard error (from the rays' variances) is within ``target_se_mm``, but only while it agrees
    with the narrower kernels within their noise (Lepski's rule): sharp rays keep a depression's shape,
    rays blurred by the slice thickness are averaged over as many as their noise needs, and a
    depression's floor is not shaved by a kernel wider than it. Directions where fewer than
    ``min_coverage`` of the rays around have a fit even at ``reach_mm`` keep the reference sphere
    (shift 0); once a direction has an estimate, wider kernels refine it even where their coverage
    falls below ``min_coverage`` (the edge of the fitted region). Rays far from their neighbourhood's
    consensus are dropped first.
    """
    sig = np.degrees(sigma_mm / radius)
    w = weight.copy()
    for _ in range(2):
        num = _sphere_smooth(w * shift, grid, sig)
        den = _sphere_smooth(w, grid, sig)
        local = num / np.maximum(den, 1e-12)
        resid = np.abs(shift - local)
        spread = 1.4826 * np.median(resid[w > 0]) if np.any(w > 0) else 0.0
        w = np.where(resid > max(3.0 * spread, 0.5), 0.0, w)
    fitted = w > 0
    if not fitted.any():
        return np.zeros_like(shift)
    # Area (mm^2) each grid direction stands for on the sphere: how many rays a kernel averages.
    cell_mm2 = grid.solid_angle_weights() * radius ** 2
    out = np.zeros(shift.shape)
    done = np.zeros(shift.shape, bool)
    has = np.zeros(shift.shape, bool)
    lower: list[tuple[np.ndarray, np.ndarray]] = []  # (value, standard error) at the narrower kernels
    for scale_mm in np.geomspace(sigma_mm, reach_mm, 5):
        s_deg = np.degrees(scale_mm / radius)
        num = _sphere_smooth(w * shift, grid, s_deg)
        den = _sphere_smooth(w, grid, s_deg)
        # Variance of a normalised convolution, sum(g^2 w) / (sum g w)^2, with the squared
        # kernel a Gaussian of sigma / sqrt 2 over 4 pi sigma^2 of area.
        den_sq = _sphere_smooth(w, grid, s_deg / np.sqrt(2.0)) * cell_mm2 / (4 * np.pi * scale_mm ** 2)
        covered = (den > 0) & (_sphere_smooth(fitted.astype(float), grid, s_deg) >= min_coverage)
        # A direction already estimated keeps widening past the coverage limit: at the edge of the
        # fitted region the narrow kernels see the fits on one side only, and a wider kernel averages
        # more of those same fits rather than carrying a noisy narrow estimate outward.
        supported = covered | (has & (den > 0))
        se = np.where(supported, np.sqrt(den_sq) / np.maximum(den, 1e-12), np.inf)
        value = np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)
        # Lepski's rule: a wider kernel is kept only while it agrees with every narrower one within
        # their noise; disagreement is the wider kernel's bias on real shape (a depression's floor).
        agrees = np.ones(shift.shape, bool)
        for v_j, se_j in lower:
            agrees &= ~np.isfinite(se_j) | (np.abs(value - v_j) <= 3.0 * (se_j + se))
        done |= has & supported & ~agrees
        take = ~done & supported
        out[take] = value[take]
        has |= take
        done |= take & (se <= target_se_mm)
        lower.append((value, se))
    return out


def _bone_surface(volume: Volume, array: np.ndarray, cand: HeadCandidate) -> _Surface:
    grid = DirectionGrid(orthonormal_frame(cand.neck_axis_lps))
    vectors = grid.vectors()
    polar = np.broadcast_to(grid.polar_deg[:, None], grid.shape)
    articular = polar > NECK_CONE_DEG + 10.0
    # Extent of a voxel along each ray, per image axis (mm): the ray's point-spread function.
    extent = np.abs(vectors @ volume.direction) * np.asarray(volume.spacing)
    in_plane = float(min(volume.spacing[0], volume.spacing[1]))
    smooth_mm = 3.0 * _RAY_STEP_MM
    blur_mm = extent.max(axis=-1)
    resolved = articular & (blur_mm < 1.5 * in_plane + 0.5)
    if resolved.sum() < 50:
        resolved = articular & (blur_mm <= np.quantile(blur_mm[articular], 0.2))
    center = np.asarray(cand.center_lps, float)
    inner = cand.radius_mm

    radii = np.arange(0.2 * inner, inner + 10.0, _RAY_STEP_MM)
    prof = ndimage.gaussian_filter1d(radial_profiles(volume, array, center, vectors, radii), 3.0, axis=-1)
    levels = _tissue_levels(prof, radii, vectors, inner, volume, articular)
    min_contrast = 0.3 * (levels.cartilage - levels.cortex)
    dark_limit = 0.5 * (levels.marrow + levels.cortex)
    bright_limit = 0.5 * (levels.marrow + levels.cartilage)
    radius = inner + levels.outer_offset_mm
    sharp_cdf = _ray_blur_cdf(np.median(extent[resolved], axis=0), smooth_mm)
    # Layer thicknesses are learned where normal marrow lies under the plate: a fluid core or a band
    # there merges with the plate and mimics a thicker one.
    under = (radii > radius - 8.0) & (radii < radius - 4.0)
    healthy = resolved & (np.median(prof[..., under], axis=-1) > bright_limit)
    learn_from = healthy if healthy.sum() >= 50 else resolved
    pick = np.flatnonzero(learn_from.reshape(-1))[:: max(1, int(learn_from.sum()) // 200)]
    plate_mm, cartilage_mm = _learn_layers(prof.reshape(-1, prof.shape[-1])[pick], radii, radius, sharp_cdf,
                                           min_contrast, dark_limit, bright_limit)
    weights = grid.solid_angle_weights()
    # Reference sphere from the outer cortical edge on rays the thick slices do not blur.
    level = 0.5 * (levels.cortex + levels.cartilage)
    prof_resolved = prof[resolved]
    for iteration in range(2):
        r_edge = _outer_edges(prof_resolved, radii, level, radius)
        ok = np.isfinite(r_edge)
        if ok.sum() < 0.3 * resolved.sum():
            raise SegmentationError("the bone surface of the femoral head could not be traced",
                                    hint="check that the series is a T1-weighted hip MRI")
        pts = center + vectors[resolved][ok] * r_edge[ok][:, None]
        center, radius, _ = _robust_sphere(pts, weights[resolved][ok], keep_quantile=0.8)
        radii = np.arange(max(0.2 * radius, radius - 12.0), radius + 8.0, _RAY_STEP_MM)
        # Only the last pass needs every ray; the refit before it needs the resolved ones.
        rays = vectors if iteration == 1 else vectors[resolved]
        sampled = ndimage.gaussian_filter1d(radial_profiles(volume, array, center, rays, radii), 3.0, axis=-1)
        if iteration == 1:
            prof = sampled
        else:
            prof_resolved = sampled
    found_fraction = float(ok.mean())

    # Every articular ray, grouped by its point-spread function (the slice thickness it sees).
    shift = np.zeros(grid.shape)
    fitted = np.zeros(grid.shape, bool)
    class_of = np.full(grid.shape, -1)
    class_sigma, class_var = [], []
    sigma_limit = 0.5 * (plate_mm + cartilage_mm)
    key = np.round(blur_mm / 0.25).astype(int)
    # Within a blur's reach of the head-neck junction the cartilage ends and the layer model does not
    # hold: the surface there is carried over from the articular rays around.
    surface_rays = articular
    for k in np.unique(key[surface_rays]):
        members = surface_rays & (key == k)
        widths = np.median(extent[members], axis=0)
        sigma = float(np.sqrt(np.sum(widths ** 2) / 4.0 + smooth_mm ** 2))
        if sigma > sigma_limit:
            continue
        fit = _fit_layers(prof[members], radii, radius, _ray_blur_cdf(widths, smooth_mm), plate_mm,
                          cartilage_mm, min_contrast, dark_limit, bright_limit)
        # The intact majority of each class lies on the reference sphere: its median offset is the
        # model's bias at this blur, not anatomy, and its scatter about it the class's noise.
        intact = fit.valid & articular[members]
        bias = float(np.median(fit.shift_mm[intact])) if intact.sum() >= 20 else 0.0
        shift[members] = fit.shift_mm - bias
        fitted[members] = fit.valid
        class_of[members] = len(class_sigma)
        class_sigma.append(sigma)
        mad = float(np.median(np.abs(fit.shift_mm[intact] - bias))) if intact.sum() >= 20 else np.nan
        class_var.append((1.4826 * mad) ** 2 if np.isfinite(mad) else np.nan)
    # Rays are weighted by the inverse variance of their class's fits; classes too small to tell
    # take it from the classes of nearest blur. Resolution sets the floor: a fit is not more precise
    # than a tenth of the profiles' sampling step.
    conf = np.zeros(grid.shape)
    if class_sigma:
        sig_arr, var_arr = np.asarray(class_sigma), np.asarray(class_var)
        known = np.isfinite(var_arr)
        if known.any():
            order = np.argsort(sig_arr[known])
            var_arr = np.interp(sig_arr, sig_arr[known][order], var_arr[known][order])
        else:
            var_arr = np.ones_like(sig_arr)
        var_arr = np.maximum(var_arr, (0.1 * _RAY_STEP_MM) ** 2)
        conf = np.where(fitted & (class_of >= 0), 1.0 / var_arr[np.maximum(class_of, 0)], 0.0)
    smooth = _regularise(np.where(conf > 0, shift, 0.0), conf, grid, radius)
    r_surface = radius + np.minimum(smooth, 1.0)

    r_direct = _outer_edges(prof, radii, level, radius)
    neck = polar < NECK_CONE_DEG
    # Around the neck the femur inside the reference sphere is bounded by the neck's own surface.
    r_neck = np.where(np.isfinite(r_direct), np.minimum(r_direct, radius), radius)
    r = np.where(neck, r_neck, r_surface)
    r = np.where(polar < NECK_CONE_DEG + 10.0, np.minimum(r, radius), r)
    return _Surface(center, float(radius), grid, vectors, radii, prof, r, levels, articular, found_fraction)


def _band_edge_offset(t: np.ndarray, profile: np.ndarray, cdf: tuple[np.ndarray, np.ndarray],
                      min_contrast: float) -> float | None:
    """Where normal marrow ends along a mean profile crossing a lesion's demarcating band (mm).

    ``profile`` is sampled at offsets ``t`` (mm) from the current boundary, positive into the lesion
    (NaN where nothing was sampled). The model is normal marrow, then the band, then the necrotic core,
    each at a free level, blurred by the point-spread function ``cdf`` along the profile; the band's
    outer edge ``e`` and width are searched on a grid, the levels solved by least squares. A band thinner
    than the blur is never resolved by its half-depth, but this fit keeps its true edge. Returns ``e``,
    or None when no fit shows a band darker than the marrow by ``min_contrast``.
    """
    ok = np.isfinite(profile)
    if ok.sum() < 10:
        return None
    t, y = t[ok], profile[ok]
    x, c = cdf
    w, e = (g.reshape(-1) for g in np.meshgrid(np.arange(0.5, 5.01, 0.25), np.arange(-2.0, 4.01, 0.05)))
    inner = np.interp(t[None, :] - e[:, None], x, c, left=0.0, right=1.0)
    outer = np.interp(t[None, :] - (e + w)[:, None], x, c, left=0.0, right=1.0)
    design = np.stack([1.0 - inner, inner - outer, outer], axis=-1)  # (candidate, sample, level)
    gram = np.einsum("nsi,nsj->nij", design, design) + 1e-9 * np.eye(3)
    levels = np.linalg.solve(gram, np.einsum("nsi,s->ni", design, y)[..., None])[..., 0]
    cost = np.sum((np.einsum("nsi,ni->ns", design, levels) - y) ** 2, axis=1)
    cost = np.where(levels[:, 0] - levels[:, 1] >= min_contrast, cost, np.inf)
    best = int(np.argmin(cost))
    return float(e[best]) if np.isfinite(cost[best]) else None


def _lesion_edge_field(volume: Volume, array: np.ndarray, lesion: np.ndarray, normal: np.ndarray,
                       valid: np.ndarray, origin: np.ndarray, step_mm: float, min_contrast: float) -> np.ndarray:
    """Continuous lesion indicator on the fine grid whose 0.5 level lies on the band's outer edge.

    ``lesion`` and ``normal`` are the necrotic and the normal marrow found by thresholding on the fine
    grid (origin ``origin`` LPS, isotropic ``step_mm``); ``valid`` marks where the image may be sampled
    (inside the cortex). A threshold puts the boundary where the blurred band reaches it, which moves it
    into normal marrow by up to half the blur, most on thick slices. Profiles across the boundary are
    therefore sampled on the input image along the boundary's normal, averaged over boundary voxels
    sharing a point-spread function, and fitted with :func:`_band_edge_offset`; every lesion voxel then
    gets its signed distance from the corrected edge as a ramp one fine voxel wide.
    """
    field_ = lesion.astype(np.float32)
    touching = lesion & ndimage.binary_dilation(normal)
    if touching.sum() < 20:
        return field_
    smooth = ndimage.gaussian_filter(normal.astype(np.float32) - lesion.astype(np.float32), 1.0)
    grad = np.stack(np.gradient(smooth), axis=-1)[..., ::-1]  # (x, y, z): toward normal marrow
    idx = np.argwhere(touching)
    n_vec = grad[touching]
    n_vec /= np.maximum(np.linalg.norm(n_vec, axis=1, keepdims=True), 1e-9)
    p0 = origin + idx[:, ::-1] * step_mm + 0.5 * step_mm * n_vec
    widths = np.abs(n_vec @ volume.direction) * np.asarray(volume.spacing)
    reach = 0.5 * float(np.max(volume.spacing)) + 4.0
    t = np.arange(-reach, reach + 1e-9, 0.2)
    pts = p0[:, None, :] - n_vec[:, None, :] * t[None, :, None]
    prof = sample_volume(volume, array, pts)
    fine_idx = np.rint((pts - origin) / step_mm).astype(int)[..., ::-1]
    inside = np.all((fine_idx >= 0) & (fine_idx < np.array(valid.shape)), axis=-1)
    fine_idx = np.clip(fine_idx, 0, np.array(valid.shape) - 1)
    inside &= valid[fine_idx[..., 0], fine_idx[..., 1], fine_idx[..., 2]]
    prof = np.where(inside, prof, np.nan)
    # Boundary voxels sharing a point-spread function (blur along the normal) share one fit.
    blur = np.linalg.norm(widths, axis=1)
    order = np.argsort(blur)
    offsets = np.zeros(len(idx))
    for members in np.array_split(order, int(np.clip(len(idx) // 300, 1, 6))):
        counts = inside[members].sum(axis=0)
        mean = np.where(counts >= max(5, 0.2 * len(members)),
                        np.nansum(prof[members], axis=0) / np.maximum(counts, 1), np.nan)
        cdf = _ray_blur_cdf(np.median(widths[members], axis=0), 0.05)
        e = _band_edge_offset(t, mean, cdf, min_contrast)
        offsets[members] = 0.0 if e is None else float(np.clip(e, -1.5, 3.0))
    # Signed distance (mm) from the present boundary, positive into the lesion, and each voxel's
    # correction from its nearest boundary voxel.
    d_lesion = ndimage.distance_transform_edt(~normal) * step_mm - 0.5 * step_mm
    d_normal = ndimage.distance_transform_edt(~lesion) * step_mm - 0.5 * step_mm
    signed = np.where(lesion, d_lesion, -d_normal)
    nearest = ndimage.distance_transform_edt(~touching, return_distances=False, return_indices=True)
    offset_map = np.zeros(lesion.shape)
    offset_map[touching] = offsets
    offset_map = offset_map[tuple(nearest)]
    ramp = np.clip(0.5 + (signed - offset_map) / step_mm, 0.0, 1.0)
    near = (lesion | normal) & (np.abs(signed) < reach)
    return np.where(near, ramp, field_).astype(np.float32)


def _lesion_fraction(volume: Volume, array: np.ndarray, surface: _Surface, grid: Volume,
                     step_mm: float = 0.6) -> np.ndarray:
    """Partial-volume fraction of the necrotic segment (band included) on ``grid`` (a sub-grid of
    ``volume``, the image whose pixels are ``array``).

    On a fine isotropic grid around the head, marrow darker than the marrow/cortex mid-level (the
    demarcating band, a fluid core) splits the bone inside the cortex; normal marrow is what stays
    connected to the neck side, and the lesion is the rest of the head away from the neck. Its boundary
    with normal marrow is then moved to the band's outer edge (:func:`_lesion_edge_field`) and the
    lesion extended radially through the subchondral plate to the bone surface.
    """
    lv = surface.levels
    c = surface.center
    reach = float(np.nanmax(surface.r_surface)) + 1.0
    n = int(np.ceil(2 * reach / step_mm)) + 1
    axis = np.arange(n) * step_mm - reach
    zz, yy, xx = np.meshgrid(axis, axis, axis, indexing="ij")
    offs = np.stack([xx, yy, zz], axis=-1)
    rho = np.linalg.norm(offs, axis=-1)
    u = offs / np.maximum(rho, 1e-9)[..., None]
    r_s = surface.grid.interpolate(surface.r_surface, u)
    head = rho < r_s
    vals = np.zeros(head.shape, np.float32)
    vals[head] = sample_volume(volume, array, c + offs[head])
    vals = ndimage.gaussian_filter(np.where(head, vals, lv.marrow), 0.5 / step_mm * 1.0)
    # Thick slices smear the dark plate inward along rays near the slice normal by up to half their
    # extent along the ray; that smear is not marrow signal loss.
    slice_normal = volume.axis_of_slices()
    slice_mm = float(volume.spacing[2])
    depth_in = lv.cortex_mm + 0.8 + 0.5 * slice_mm * np.abs(u @ slice_normal)
    inner = rho < r_s - depth_in
    # Thick slices average a thin band with the marrow beside it, so anything clearly darker than the
    # head's marrow (a quarter of the way to cortex) counts as band; closing seals the remaining gaps.
    dark = vals < lv.marrow - 0.25 * (lv.marrow - lv.cortex)
    dark = ndimage.binary_closing(dark, iterations=2) & inner
    region = inner & ~dark
    neck_axis = surface.grid.frame[:, 2]
    cos_neck = u @ neck_axis
    seeds = region & (cos_neck > np.cos(np.radians(35.0))) & (rho > 0.2 * surface.radius)
    labels, _ = ndimage.label(region)
    normal_labels = np.unique(labels[seeds])
    normal = np.isin(labels, normal_labels[normal_labels > 0])
    away = cos_neck < np.cos(np.radians(LESION_MIN_NECK_ANGLE_DEG))
    lesion = inner & ~normal & away
    lesion = ndimage.binary_opening(lesion, iterations=1)
    lab, n_lab = ndimage.label(lesion)
    if n_lab:
        # A necrotic segment reaches the subchondral bone and is not a speck.
        sub = rho >= r_s - depth_in - 1.5
        sizes = ndimage.sum(np.ones_like(rho), lab, index=np.arange(1, n_lab + 1)) * step_mm ** 3 / 1000.0
        touches = ndimage.maximum(sub, lab, index=np.arange(1, n_lab + 1))
        keep = np.flatnonzero((sizes >= MIN_LESION_VOLUME_ML) & (touches > 0)) + 1
        lesion = np.isin(lab, keep)
    if not lesion.any():
        return np.zeros(grid.shape, np.float32)
    origin = c - reach
    value = _lesion_edge_field(volume, array, lesion, normal & inner, inner, origin, step_mm,
                               0.25 * (lv.marrow - lv.cortex))
    value = np.where(inner & away, value, 0.0)
    # Carry the lesion out through the subchondral plate along each ray.
    vec = surface.vectors
    depth_ray = lv.cortex_mm + 0.8 + 0.5 * slice_mm * np.abs(vec @ slice_normal)
    probe = c + vec * (surface.r_surface - depth_ray - 0.5 * step_mm)[..., None]
    fine = Volume(value.astype(np.float32), spacing=(step_mm,) * 3, origin=tuple(origin))
    flag = sample_volume(fine, np.asarray(fine.array), probe)
    shell = head & ~inner & away
    value[shell] = surface.grid.interpolate(flag, u[shell])
    fine = fine.with_array(value.astype(np.float32))
    return _resample_fraction(fine, grid)


def _resample_fraction(fine: Volume, grid: Volume, supersample_mm: float = 0.35) -> np.ndarray:
    """Box-average a fine (axis-aligned) indicator onto ``grid`` by sub-voxel sampling."""
    from onfh_imaging.segment.rays import _supersample_offsets

    out = np.zeros(grid.shape, np.float32)
    arr = np.asarray(fine.array, np.float32)
    corners = fine.index_to_lps(np.array([[a, b, d] for a in (0, fine.size[0] - 1)
                                          for b in (0, fine.size[1] - 1) for d in (0, fine.size[2] - 1)], float))
    idx = grid.lps_to_index(corners)
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 1, np.array(grid.size))
    if np.any(hi <= lo):
        return out
    k3, j3, i3 = np.meshgrid(*(np.arange(lo[n], hi[n]) for n in (2, 1, 0)), indexing="ij")
    ijk = np.stack([i3, j3, k3], axis=-1).reshape(-1, 3).astype(float)
    centers = sample_volume(fine, arr, grid.index_to_lps(ijk))
    touched = centers > 0
    # Supersample only voxels near the indicator (their centre sees some of it within a voxel).
    near = ndimage.binary_dilation(touched.reshape(k3.shape), iterations=1).reshape(-1)
    offs = _supersample_offsets(grid.spacing, supersample_mm)
    vals = np.zeros(len(ijk), np.float32)
    if near.any():
        pts = grid.index_to_lps(ijk[near][:, None, :] + offs[None])
        vals[near] = (sample_volume(fine, arr, pts) >= 0.5).mean(axis=1)
    out[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = vals.reshape(k3.shape)
    return out


def _fraction_outside_fov(volume: Volume, center: np.ndarray, radius: float) -> float:
    """Share of a sphere's surface (centre LPS mm, radius mm) outside the volume's field of view."""
    points = np.asarray(center, float) + _fibonacci_directions(1000) * radius
    ijk = volume.lps_to_index(points)
    inside = np.all((ijk >= -0.5) & (ijk <= np.asarray(volume.size) - 0.5), axis=1)
    return float(1.0 - inside.mean())


def _head_box(t1: Volume, surface: _Surface) -> tuple[Volume, np.ndarray]:
    """The image cropped to the head with a margin wide enough for any voxel the head touches, and the
    ``(i, j, k)`` index of its first voxel in the image."""
    reach = float(np.nanmax(surface.r_surface)) + 0.5 * float(np.linalg.norm(t1.spacing)) + 1.0
    corners = np.array([[a, b, d] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)], float) * reach
    idx = t1.lps_to_index(surface.center + corners)
    start = np.clip(np.floor(idx.min(axis=0)).astype(int) - 3, 0, t1.size)
    stop = np.clip(np.ceil(idx.max(axis=0)).astype(int) + 4, start, t1.size)
    return t1.crop(start, stop), start


def _on_image_grid(t1: Volume, box_mask: np.ndarray, box_start: np.ndarray) -> Volume:
    """A mask computed on a box of the image, placed on the image's whole grid."""
    full = np.zeros(t1.shape, bool)
    i0, j0, k0 = (int(v) for v in box_start)
    nk, nj, ni = box_mask.shape
    full[k0:k0 + nk, j0:j0 + nj, i0:i0 + ni] = box_mask
    return t1.with_array(full)


def _segment_head(t1: Volume, array: np.ndarray, cand: HeadCandidate) -> HipSegmentation:
    warnings: list[str] = []
    surface = _bone_surface(t1, array, cand)
    if surface.found_fraction < 0.7:
        warnings.append(f"the bone surface was traced on only {100 * surface.found_fraction:.0f}% of the "
                        "articular directions; check the head outline")
    lo, hi = HEAD_RADIUS_RANGE_MM
    if not lo <= surface.radius <= hi:
        warnings.append(f"head radius {surface.radius:.1f} mm is outside the adult range {lo:.0f}-{hi:.0f} mm")
    outside = _fraction_outside_fov(t1, surface.center, surface.radius)
    if outside > 0.02:
        warnings.append(f"{100 * outside:.0f}% of the femoral head's surface lies outside the field of view; "
                        "the head is cut there and its shape and collapse are unreliable")
    # The fractions are computed and kept only around the head: a whole-pelvis float grid per hip costs
    # more memory than the image itself.
    box, box_start = _head_box(t1, surface)
    head_frac = star_fraction(box, surface.center, surface.grid, surface.r_surface)
    lesion_frac = np.minimum(_lesion_fraction(t1, array, surface, box), head_frac)
    if float(lesion_frac.sum()) * t1.voxel_volume_ml < MIN_LESION_VOLUME_ML:
        lesion_frac[:] = 0.0
    axis = surface.grid.frame[:, 2]
    head_mask = _on_image_grid(t1, head_frac >= 0.5, box_start)
    lesion_mask = _on_image_grid(t1, lesion_frac >= 0.5, box_start)
    k, j, i = np.nonzero(head_frac)
    start = np.array([i.min(), j.min(), k.min()]) - 2
    stop = np.array([i.max(), j.max(), k.max()]) + 3
    head_frac = box.with_array(head_frac).crop(start, stop)
    lesion_frac = box.with_array(lesion_frac).crop(start, stop)
    return HipSegmentation(
        side=cand.side,
        femoral_head_mask=head_mask,
        lesion_mask=lesion_mask,
        head_center_lps=np.asarray(surface.center, float),
        head_radius_mm=float(surface.radius),
        neck_axis_lps=axis.copy(),
        warnings=tuple(warnings),
        femoral_head_fraction=head_frac,
        lesion_fraction=lesion_frac,
    )


def segment_hips(t1: Volume, *, fluid_sensitive: Volume | None = None,
                 progress: Progress | None = None, source: str | None = None) -> list[HipSegmentation]:
    """Segment every femoral head (and its necrotic lesion) in a T1-weighted MR volume.

    Parameters
    ----------
    t1 : Volume
        T1-weighted hip MRI (coronal preferred; any obliquity, slice thickness or intensity scale).
    fluid_sensitive : Volume, optional
        STIR / fat-saturated T2 of the same frame of reference. The lesion is delineated on T1 (its
        demarcating band); when given, this series is checked for a lesion's high signal and a warning is
        added where T1 and the fluid-sensitive series disagree.
    progress : callable, optional
        ``progress(fraction, message)`` with fraction in [0, 1].
    source : str, optional
        Series or folder named in error messages.

    Returns
    -------
    list of HipSegmentation
        One per femoral head found, right hip first.

    Raises
    ------
    SegmentationError
        When no femoral head is found.
    """
    def report(f: float, msg: str) -> None:
        if progress is not None:
            progress(f, msg)

    report(0.0, "finding the femoral heads")
    heads = find_femoral_heads(t1)
    if not heads:
        raise SegmentationError(
            "no femoral head found in the field of view", path=source,
            hint="the series should be a T1-weighted MRI covering at least one hip")
    array = np.asarray(t1.array, np.float32)
    out = []
    for n, cand in enumerate(heads):
        report(0.2 + 0.8 * n / len(heads), f"delineating the {cand.side} femoral head")
        seg = _segment_head(t1, array, cand)
        if fluid_sensitive is not None:
            seg = _check_fluid_sensitive(seg, fluid_sensitive)
        out.append(seg)
    report(1.0, "segmentation done")
    return out


def _check_fluid_sensitive(seg: HipSegmentation, fluid: Volume) -> HipSegmentation:
    """Compare the T1 lesion with the fluid-sensitive series (signal of lesion vs normal head marrow)."""
    head = seg.femoral_head_fraction.array >= 0.5
    lesion = seg.lesion_fraction.array >= 0.5
    normal = head & ~ndimage.binary_dilation(lesion, iterations=2)
    if normal.sum() < 20:
        return seg
    pts_normal = seg.femoral_head_fraction.index_to_lps(np.argwhere(normal)[:, ::-1].astype(float))
    fl = np.asarray(fluid.array, np.float32)
    base = sample_volume(fluid, fl, pts_normal)
    spread = 1.4826 * float(np.median(np.abs(base - np.median(base)))) + 1e-6
    extra = []
    if lesion.sum() >= 20:
        pts = seg.femoral_head_fraction.index_to_lps(np.argwhere(lesion)[:, ::-1].astype(float))
        vals = sample_volume(fluid, fl, pts)
        if np.percentile(vals, 90) < np.median(base) + 2 * spread:
            extra.append("the T1 lesion shows no high signal on the fluid-sensitive series")
    else:
        vals = sample_volume(fluid, fl, seg.femoral_head_fraction.index_to_lps(
            np.argwhere(head)[:, ::-1].astype(float)))
        bright = vals > np.median(base) + 6 * spread
        if bright.mean() > 0.05:
            extra.append("high signal in the femoral head on the fluid-sensitive series without a T1 band "
                         "(bone marrow oedema?)")
    if not extra:
        return seg
    from dataclasses import replace

    return replace(seg, warnings=seg.warnings + tuple(extra))


# --- choosing the series ---------------------------------------------------------------------------
def _attr(info: Any, name: str, default: Any = None) -> Any:
    return getattr(info, name, default)


def select_series(series_infos: Sequence[Any]) -> tuple[Any, Any | None]:
    """Choose the T1 series to measure and an optional fluid-sensitive series of the same frame.

    Parameters
    ----------
    series_infos : sequence of SeriesInfo
        The MR series of one study (from :func:`onfh_imaging.io.scan`).

    Returns
    -------
    (SeriesInfo, SeriesInfo or None)
        The T1-weighted series (coronal first, then thinner slices, then more slices), and a STIR or
        fat-saturated T2 series sharing its frame of reference (same orientation preferred), if any.

    Raises
    ------
    UnsupportedInputError
        If no series of the study is a T1-weighted volume.
    """
    volumes = [s for s in series_infos if (_attr(s, "n_slices", 2) or 0) >= 2]
    t1 = [s for s in volumes if str(_attr(s, "sequence", "")).upper() == "T1"
          and not _attr(s, "fat_saturated", False)]
    if not t1:
        first = series_infos[0] if series_infos else None
        path = None if first is None or not _attr(first, "files") else str(_attr(first, "files")[0])
        raise UnsupportedInputError(
            "no T1-weighted MR series (non fat-saturated) in the study", path=path,
            hint="femoral heads are measured on a T1-weighted series, coronal preferred")

    def t1_rank(s: Any) -> tuple:
        orientation = str(_attr(s, "orientation", "")).lower()
        slice_mm = _attr(s, "slice_spacing", None) or _attr(s, "slice_spacing_mm", None) or 99.0
        return (orientation != "coronal", orientation not in ("coronal", "oblique"), float(slice_mm),
                -int(_attr(s, "n_slices", 0) or 0))

    primary = sorted(t1, key=t1_rank)[0]
    frame = _attr(primary, "frame_of_reference_uid")

    def is_fluid(s: Any) -> bool:
        seq = str(_attr(s, "sequence", "")).upper()
        return seq == "STIR" or (seq == "T2" and bool(_attr(s, "fat_saturated", False)))

    fluid = [s for s in volumes if s is not primary and is_fluid(s)
             and frame is not None and _attr(s, "frame_of_reference_uid") == frame]
    fluid.sort(key=lambda s: (str(_attr(s, "orientation", "")) != str(_attr(primary, "orientation", "")),
                              str(_attr(s, "sequence", "")).upper() != "STIR"))
    return primary, (fluid[0] if fluid else None)

"""The femoral head's bone surface on T1-weighted MRI, ray by ray from the head centre.

Radial intensity profiles are sampled in physical space (trilinear, 0.1 mm steps) on a polar grid whose
pole is the neck axis. Levels come from the head itself (marrow, cortex and cartilage of the median
profile of well-resolved rays). The reference sphere is fitted (one-sided, robust) to the outer cortical
edge of rays the slices do not blur. On every articular ray the bone surface is then located by fitting
the outer anatomy, which is the same with or without a lesion beneath: bone of any signal, the dark
subchondral plate, the brighter cartilage and anything beyond, each at a free level, blurred by the ray's
own point-spread function (voxel extent along the ray per image axis, so thick slices blur rays near the
slice normal most). Plate and cartilage thickness are learned from the sharpest rays over normal marrow.
Rays too blurred to resolve plate and cartilage are left out, the rest are weighted by their resolution,
and a normalised convolution over the sphere regularises the radii, pulling unsupported directions to the
reference sphere. Where the image shows no cartilage rising beyond the plate (plate, cartilage and joint
blurred into one dark band), only the marrow edge is resolved: the surface is then carried by it (a
depressed segment moves the marrow edge with the plate), a typical plate beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.fitting import MAD_TO_SIGMA, robust_sphere
from onfh_imaging.geometry import Volume
from onfh_imaging.segment._layer_model import (
    _BLUR_REACH_SIGMAS,
    _CARTILAGE_PROBE_MM,
    TissueLevels,
    _LayerModel,
    _learn_model,
    _tissue_levels,
)
from onfh_imaging.segment.anatomy import (
    CORTEX_RANGE_MM,
    NECK_CONE_DEG,
    RAY_STEP_MM,
)
from onfh_imaging.segment.heads import HeadCandidate
from onfh_imaging.segment.layers import _fit_layers, _ray_sigma, ray_blur_cdf
from onfh_imaging.segment.rays import DirectionGrid, orthonormal_frame, radial_profiles

__all__ = ["BoneSurface", "TissueLevels", "ray_blur_cdf", "trace_bone_surface"]

#: The outer cortical edge is met too early where a band or a depressed segment lies (inside the
#: sphere): the fit starts from the outer 80 % of residuals, then trims 2.5 robust standard deviations
#: inward and 4 outward (stray edges beyond the cartilage), with a 0.1 mm floor (a tenth of a pixel).
#: Least share of the well-resolved rays on which the outer cortical edge must be traced to refit the
#: reference sphere to it (below, the edges are too few to outvote stray ones).
_MIN_TRACED_SHARE = 0.3

_OUTER_EDGE_FIT = {"start_outer_quantile": 0.8, "inward_sigma": 2.5, "outward_sigma": 4.0,
                   "min_spread_mm": 0.1, "max_iterations": 10, "min_points": 10}


def _last_crossing_above(profiles: np.ndarray, level: float, lo: np.ndarray, hi: np.ndarray, *,
                         ceiling: float | None = None, reach: int = 1,
                         plate_run: tuple[int, int] | None = None, dark_core: bool = False) -> np.ndarray:
    """Fractional index of the last upward crossing of ``level`` with ``lo <= index <= hi`` per ray.

    With ``ceiling``, a crossing counts only when the ``reach`` samples after it stay below ``ceiling``
    (it rises into cartilage, not into marrow). With ``plate_run = (longest, lookback)`` (samples), a
    crossing counts only when the dark run it ends (the samples below ``level`` before it) is a plate on
    bone: at most ``longest`` samples long, with no other dark layer within ``lookback`` samples inside
    it. A longer dark run holds more than the plate (a lesion's dark core, or cartilage and fluid the
    image does not resolve), and the rise out of it may be any layer beyond the plate; with ``dark_core``
    a run that starts before ``lo`` still counts (dark bone under the plate).
    """
    n = profiles.shape[-1]
    idx = np.arange(1, n)
    up = (profiles[..., :-1] < level) & (profiles[..., 1:] >= level)
    up &= (idx >= lo[..., None]) & (idx <= hi[..., None])
    if ceiling is not None:
        # max over the ``reach`` samples after each crossing (window [j, j + reach - 1] at sample j)
        ahead = ndimage.maximum_filter1d(profiles, reach, axis=-1, origin=-(reach // 2), mode="nearest")
        up &= ahead[..., 1:] < ceiling
    if plate_run is not None:
        longest, lookback = plate_run
        # index of the last sample at or above ``level`` up to each sample (-1: none yet)
        above = np.where(profiles >= level, np.arange(n), -1)
        run_start = np.maximum.accumulate(above, axis=-1)[..., :-1]
        # min over the ``lookback + 1`` samples ending at each sample (window [j - lookback, j])
        behind = ndimage.minimum_filter1d(profiles, lookback + 1, axis=-1, origin=lookback // 2, mode="nearest")
        on_bone = np.take_along_axis(behind, np.maximum(run_start, 0), -1) >= level
        short = idx - run_start <= longest
        up &= (on_bone & short) | (dark_core & (run_start < lo[..., None]))
    has = up.any(axis=-1)
    last = n - 2 - np.argmax(up[..., ::-1], axis=-1)
    v0 = np.take_along_axis(profiles, last[..., None], -1)[..., 0]
    v1 = np.take_along_axis(profiles, (last + 1)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.clip((level - v0) / (v1 - v0), 0.0, 1.0)
    return np.where(has, last + f, np.nan)


@dataclass(frozen=True)
class BoneSurface:
    """The head's bone surface as radii per direction about the reference sphere's centre.

    Arrays marked ``grid`` have shape ``grid.shape`` = (n_polar, n_azimuth).

    Attributes
    ----------
    center : ndarray, shape (3,)
        Reference sphere centre, LPS mm.
    radius : float
        Reference sphere radius, mm.
    grid : DirectionGrid
        Directions, pole on the neck axis.
    vectors : ndarray, shape grid + (3,)
        LPS unit vector of each direction.
    radii : ndarray, shape (R,)
        Sample radii (mm) of ``profiles``.
    profiles : ndarray, shape grid + (R,)
        Smoothed radial intensity profiles from ``center``.
    r_surface : ndarray, shape grid
        Bone surface radius (mm) per direction (not beyond ``radius`` around the neck).
    levels : TissueLevels
        The head's tissue levels.
    articular : ndarray of bool, shape grid
        Directions farther than :data:`NECK_CONE_DEG` + 10 deg from the neck axis.
    found_fraction : float
        Share (0..1) of well-resolved rays on which the outer cortical edge was traced.
    edge_rms_mm : float
        RMS (mm) of the outer-edge inliers about the sphere (NaN when not fitted).
    edge_inlier_fraction : float
        Share (0..1) of the traced outer edges on the sphere.
    fitted, resolvable : ndarray of bool, shape grid, optional
        The layer model resolved the surface there; the ray's blur lets plate and cartilage show.
    """

    center: np.ndarray
    radius: float
    grid: DirectionGrid
    vectors: np.ndarray
    radii: np.ndarray
    profiles: np.ndarray
    r_surface: np.ndarray
    levels: TissueLevels
    articular: np.ndarray
    found_fraction: float
    edge_rms_mm: float = float("nan")      # RMS residual of the outer-edge inliers about the sphere
    edge_inlier_fraction: float = float("nan")  # share of traced outer edges on the sphere
    fitted: np.ndarray | None = None       # (polar, azimuth) bool: the layer model resolved the surface
    resolvable: np.ndarray | None = None   # (polar, azimuth) bool: the ray's blur lets plate and cartilage show


def _outer_edges(prof: np.ndarray, radii: np.ndarray, level: float, radius: float,
                 bright_limit: float, plate: tuple[float, float, float] | None = None,
                 dark_core: bool = False) -> np.ndarray:
    """Radius (mm) of the last cortex -> cartilage rising crossing near the sphere of ``radius``; NaN if none.

    The femoral head's edge rises from the dark plate into cartilage, which is darker than marrow; a rise
    into something as bright as marrow (above ``bright_limit``) within :data:`_CARTILAGE_PROBE_MM` is the
    acetabular bone across a narrow joint space, or necrotic marrow above a lesion's band, not the edge.

    With ``plate = (plate_mm, cartilage_mm, blur_mm)`` the dark layer before the rise must be the plate
    on bone: no longer than the plate blurred on both sides (``plate_mm + 2 blur_mm``), with no other
    dark layer within a cartilage's thickness plus blur inside it. Over a collapsed segment the joint
    fluid widens and the rise from it into the acetabular cartilage comes within reach of the sphere;
    the dark layer before that rise is fluid, and inside it lie the femoral cartilage and, a cartilage's
    thickness deeper, the plate. ``dark_core`` also accepts a dark layer reaching below the search
    window (a lesion's dark core under the plate).
    """
    shape = prof.shape[:-1]
    lo = np.full(shape, (radius - 5.5 - radii[0]) / RAY_STEP_MM)
    hi = np.full(shape, (radius + 1.2 - radii[0]) / RAY_STEP_MM)
    reach = max(1, int(round(_CARTILAGE_PROBE_MM / RAY_STEP_MM)))
    run = None
    if plate is not None:
        plate_mm, cartilage_mm, blur_mm = plate
        run = (int(round((plate_mm + 2.0 * blur_mm) / RAY_STEP_MM)),
               max(1, int(round((cartilage_mm + blur_mm) / RAY_STEP_MM))))
    return radii[0] + _last_crossing_above(prof, level, lo, hi, ceiling=bright_limit, reach=reach,
                                           plate_run=run, dark_core=dark_core) * RAY_STEP_MM


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
        spread = MAD_TO_SIGMA * np.median(resid[w > 0]) if np.any(w > 0) else 0.0
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


def trace_bone_surface(volume: Volume, array: np.ndarray, cand: HeadCandidate) -> BoneSurface:
    """Trace a femoral head's bone surface ray by ray (see the module docstring).

    Parameters
    ----------
    volume : Volume
        The T1-weighted image (its geometry; ``array`` holds its pixels).
    array : ndarray, shape ``volume.shape``
        The image's pixel values.
    cand : HeadCandidate
        The head as found: inner cortical (marrow) sphere, neck axis.

    Returns
    -------
    BoneSurface
        The surface; when too few outer edges are traced to refit it, the reference sphere stays the
        marrow sphere widened by the cortex (``found_fraction`` says so).
    """
    grid = DirectionGrid(orthonormal_frame(cand.neck_axis_lps))
    vectors = grid.vectors()
    polar = np.broadcast_to(grid.polar_deg[:, None], grid.shape)
    articular = polar > NECK_CONE_DEG + 10.0
    extent, blur_mm, resolved = _ray_blur(volume, vectors, articular)
    center = np.asarray(cand.center_lps, float)
    inner = cand.radius_mm

    radii = np.arange(0.2 * inner, inner + 10.0, RAY_STEP_MM)
    prof = ndimage.gaussian_filter1d(radial_profiles(volume, array, center, vectors, radii), 3.0, axis=-1)
    levels = _tissue_levels(prof, radii, vectors, inner, volume, articular)
    radius = inner + levels.outer_offset_mm
    model = _learn_model(prof, radii, radius, levels, extent, resolved)
    ref = _fit_reference_sphere(volume, array, center, radius, vectors, resolved, grid.solid_angle_weights(),
                                model, extent, prof[resolved], radii)
    center, radius, radii, prof = ref.center, ref.radius, ref.radii, ref.profiles
    if levels.cartilage_seen:
        classes = _class_fits(prof, radii, radius, extent, blur_mm, articular, model)
    else:
        classes = _marrow_edge_fits(prof, radii, radius - levels.cortex_mm, extent, blur_mm, articular, model)
    conf = _class_confidence(classes)
    smooth = _regularise(np.where(conf > 0, classes.shift, 0.0), conf, grid, radius)
    r_surface = radius + np.minimum(smooth, 1.0)

    r_direct = _outer_edges(prof, radii, model.level, radius, model.bright_limit)
    neck = polar < NECK_CONE_DEG
    # Around the neck the femur inside the reference sphere is bounded by the neck's own surface.
    r_neck = np.where(np.isfinite(r_direct), np.minimum(r_direct, radius), radius)
    r = np.where(neck, r_neck, r_surface)
    r = np.where(polar < NECK_CONE_DEG + 10.0, np.minimum(r, radius), r)
    return BoneSurface(center, float(radius), grid, vectors, radii, prof, r, levels, articular,
                       ref.found_fraction, ref.edge_rms_mm, ref.edge_inliers, conf > 0, classes.resolvable)


def _ray_blur(volume: Volume, vectors: np.ndarray, articular: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ray: voxel extent along it per image axis (mm; its point-spread function), the largest of
    them (mm), and whether the slices leave it sharp (well resolved)."""
    extent = np.abs(vectors @ volume.direction) * np.asarray(volume.spacing)
    in_plane = float(min(volume.spacing[0], volume.spacing[1]))
    blur_mm = extent.max(axis=-1)
    resolved = articular & (blur_mm < 1.5 * in_plane + 0.5)
    if resolved.sum() < 50:
        resolved = articular & (blur_mm <= np.quantile(blur_mm[articular], 0.2))
    return extent, blur_mm, resolved



@dataclass(frozen=True)
class _ReferenceSphere:
    center: np.ndarray     # LPS mm
    radius: float          # mm
    radii: np.ndarray      # sample radii (mm) of ``profiles``
    profiles: np.ndarray   # smoothed profiles of every ray from ``center``
    found_fraction: float  # share of well-resolved rays with an outer cortical edge traced
    edge_rms_mm: float
    edge_inliers: float


def _fit_reference_sphere(volume: Volume, array: np.ndarray, center: np.ndarray, radius: float,
                          vectors: np.ndarray, resolved: np.ndarray, weights: np.ndarray, model: _LayerModel,
                          extent: np.ndarray, prof_resolved: np.ndarray, radii: np.ndarray) -> _ReferenceSphere:
    """Reference sphere from the outer cortical edge on rays the thick slices do not blur (two passes)."""
    levels = model.levels
    # How far inside the rise the bone beneath the plate must show on the sharp rays: the plate's blurred
    # inner edge reaches the bone level within the ray's blur of where it falls below the edge level.
    sharp_reach = _BLUR_REACH_SIGMAS * _ray_sigma(np.median(extent[resolved], axis=0), model.smooth_mm) \
        + RAY_STEP_MM
    edge_rms_mm, edge_inliers = float("nan"), 0.0
    for iteration in range(2):
        r_edge = _outer_edges(prof_resolved, radii, model.level, radius, model.bright_limit,
                              (model.plate_mm, model.cartilage_mm, sharp_reach), dark_core=True)
        # Without cartilage seen beyond the plate, the rises traced are the acetabulum's, not the head's.
        ok = np.isfinite(r_edge) & levels.cartilage_seen
        traced = ok.sum() >= _MIN_TRACED_SHARE * resolved.sum()
        if traced:
            pts = center + vectors[resolved][ok] * r_edge[ok][:, None]
            sphere = robust_sphere(pts, weights[resolved][ok], start=(center, radius), **_OUTER_EDGE_FIT)
            center, radius = np.asarray(sphere.center_lps, float), float(sphere.radius_mm)
            edge_rms_mm, edge_inliers = float(sphere.rms_mm), float(sphere.inlier_fraction)
        # Too few edges to fit: the head keeps the marrow sphere plus the cortex, and its quality says so.
        radii = np.arange(max(0.2 * radius, radius - 12.0), radius + 8.0, RAY_STEP_MM)
        # Only the last pass needs every ray; the refit before it needs the resolved ones.
        last = iteration == 1 or not traced
        rays = vectors if last else vectors[resolved]
        sampled = ndimage.gaussian_filter1d(radial_profiles(volume, array, center, rays, radii), 3.0, axis=-1)
        if last:
            return _ReferenceSphere(center, radius, radii, sampled, float(ok.mean()), edge_rms_mm, edge_inliers)
        prof_resolved = sampled
    raise AssertionError("unreachable: the second pass returns")


@dataclass(frozen=True)
class _ClassFits:
    shift: np.ndarray        # grid: surface offset (mm) from the reference sphere, net of its class's bias
    fitted: np.ndarray       # grid bool: the layer model resolved the surface there
    resolvable: np.ndarray   # grid bool: the ray's blur lets plate and cartilage show
    class_of: np.ndarray     # grid int: the ray's blur class (-1: not fitted)
    sigma: list[float]       # per class: the point-spread function's standard deviation (mm)
    var: list[float]         # per class: variance (mm^2) of the intact fits about the sphere (NaN: too few)


def _class_fits(prof: np.ndarray, radii: np.ndarray, radius: float, extent: np.ndarray, blur_mm: np.ndarray,
                articular: np.ndarray, model: _LayerModel) -> _ClassFits:
    """The layer model fitted on every articular ray, grouped by its point-spread function (the slice
    thickness it sees)."""
    shape = articular.shape
    shift = np.zeros(shape)
    fitted = np.zeros(shape, bool)
    resolvable = np.zeros(shape, bool)
    class_of = np.full(shape, -1)
    class_sigma, class_var = [], []
    sigma_limit = 0.5 * (model.plate_mm + model.cartilage_mm)
    key = np.round(blur_mm / 0.25).astype(int)
    # Within a blur's reach of the head-neck junction the cartilage ends and the layer model does not
    # hold: the surface there is carried over from the articular rays around.
    surface_rays = articular
    # The bone surface is the femur side of the joint space: the outermost rise from the dark plate to
    # the cartilage. A demarcating band under a strip of necrotic bone repeats the plate | cartilage
    # pattern deeper in, where thick slices blur it into a convincing copy; the layer model may not
    # place the surface deeper than that outermost rise by more than the ray's blur.
    for k in np.unique(key[surface_rays]):
        members = surface_rays & (key == k)
        widths = np.median(extent[members], axis=0)
        sigma = _ray_sigma(widths, model.smooth_mm)
        if sigma > sigma_limit:
            continue
        resolvable |= members
        reach = _BLUR_REACH_SIGMAS * sigma + RAY_STEP_MM
        outermost = _outer_edges(prof[members], radii, model.level, radius, model.bright_limit,
                                 (model.plate_mm, model.cartilage_mm, reach), dark_core=True) - radius
        fit = _fit_layers(prof[members], radii, radius, ray_blur_cdf(widths, model.smooth_mm), model.plate_mm,
                          model.cartilage_mm, model.min_contrast, model.dark_limit, model.bright_limit,
                          min_shift_mm=outermost - reach)
        # The intact majority of each class lies on the reference sphere: its median offset is the
        # model's bias at this blur, not anatomy, and its scatter about it the class's noise.
        intact = fit.valid & articular[members]
        bias = float(np.median(fit.shift_mm[intact])) if intact.sum() >= 20 else 0.0
        shift[members] = fit.shift_mm - bias
        fitted[members] = fit.valid
        class_of[members] = len(class_sigma)
        class_sigma.append(sigma)
        mad = float(np.median(np.abs(fit.shift_mm[intact] - bias))) if intact.sum() >= 20 else np.nan
        class_var.append((MAD_TO_SIGMA * mad) ** 2 if np.isfinite(mad) else np.nan)
    return _ClassFits(shift, fitted, resolvable, class_of, class_sigma, class_var)


#: Where the image shows no cartilage beyond the plate only the marrow edge is resolved (the fall from
#: bright fatty marrow into the plate, a single step at any blur): it is sought from this far inside the
#: marrow sphere (mm; a collapse of up to 4-5 mm plus the ray's blur, as the layer model's search) to
#: this far outside it (a plate's thickness, :data:`CORTEX_RANGE_MM`'s lower part, past which lies
#: cartilage or the joint, never marrow).
_MARROW_EDGE_SEARCH_MM = (-6.0, 1.0)

#: The plate beyond a marrow edge is at least this thick (mm): the thinnest subchondral plate and cortex
#: (:data:`CORTEX_RANGE_MM`' lower end). A shorter dark dip is a vessel or noise inside the marrow.
_MARROW_EDGE_DARK_MM = CORTEX_RANGE_MM[0]


def _marrow_edges(prof: np.ndarray, radii: np.ndarray, marrow_radius: float,
                  level: float | np.ndarray) -> np.ndarray:
    """Radius (mm) of the outermost fall from marrow below ``level`` near the marrow sphere; NaN if none.

    The fall must stay below ``level`` for :data:`_MARROW_EDGE_DARK_MM` beyond it (a plate, not a dip in
    the marrow). The outermost fall is the plate's: a lesion's band or a red-marrow island lies deeper,
    under marrow or necrotic fat that is bright again before the plate. ``level`` is one value or one per ray.
    """
    level = np.asarray(level, float)[..., None] if np.ndim(level) else float(level)
    n = prof.shape[-1]
    lo = (marrow_radius + _MARROW_EDGE_SEARCH_MM[0] - radii[0]) / RAY_STEP_MM
    hi = (marrow_radius + _MARROW_EDGE_SEARCH_MM[1] - radii[0]) / RAY_STEP_MM
    reach = max(1, int(round(_MARROW_EDGE_DARK_MM / RAY_STEP_MM)))
    idx = np.arange(1, n)
    down = (prof[..., :-1] >= level) & (prof[..., 1:] < level) & (idx >= lo) & (idx <= hi)
    ahead = ndimage.maximum_filter1d(prof, reach, axis=-1, origin=-(reach // 2), mode="nearest")
    down &= ahead[..., 1:] < level
    has = down.any(axis=-1)
    last = n - 2 - np.argmax(down[..., ::-1], axis=-1)
    v0 = np.take_along_axis(prof, last[..., None], -1)[..., 0]
    v1 = np.take_along_axis(prof, (last + 1)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.clip((v0 - np.squeeze(level, -1) if np.ndim(level) else v0 - level) / (v0 - v1), 0.0, 1.0)
    return np.where(has, radii[0] + (last + f) * RAY_STEP_MM, np.nan)


#: The marrow's own level next to its edge is read from this far (mm) inside it: beyond the plate's blur
#: (a plate's thickness and the ray's point-spread, 1 mm and more) and within the few millimetres over
#: which oedema or a necrotic segment changes the marrow's signal.
_MARROW_PLATEAU_MM = (-3.0, -1.2)


def _own_half_level_edges(prof: np.ndarray, radii: np.ndarray, marrow_radius: float, cortex: float,
                          level: float) -> np.ndarray:
    """Marrow edges (mm) at half each ray's own marrow -> plate contrast, NaN where none.

    A step blurred by a symmetric point-spread function crosses half its own contrast at the edge; a
    fixed level does not where the marrow beside the edge is dimmer (oedema, necrotic marrow) or
    brighter than the head's median, and moves the edge outward or inward by a share of the blur.
    The edge is first found at the head's ``level``, then again at half-way between the marrow read
    :data:`_MARROW_PLATEAU_MM` inside it and the ``cortex`` level.
    """
    first = _marrow_edges(prof, radii, marrow_radius, level)
    at = np.where(np.isfinite(first), first, marrow_radius)[..., None] + np.asarray(_MARROW_PLATEAU_MM)
    idx = np.clip(np.round((at - radii[0]) / RAY_STEP_MM).astype(int), 0, prof.shape[-1] - 1)
    inside = np.arange(prof.shape[-1]) >= idx[..., :1]
    inside &= np.arange(prof.shape[-1]) <= idx[..., 1:]
    plateau = np.nanmedian(np.where(inside, prof, np.nan), axis=-1)
    own = 0.5 * (np.maximum(plateau, level) + cortex)
    return np.where(np.isfinite(first), _marrow_edges(prof, radii, marrow_radius, own), np.nan)


def _marrow_edge_fits(prof: np.ndarray, radii: np.ndarray, marrow_radius: float, extent: np.ndarray,
                      blur_mm: np.ndarray, articular: np.ndarray, model: _LayerModel) -> _ClassFits:
    """The surface carried by the marrow edge on every articular ray, grouped by point-spread function.

    Where the image shows no cartilage beyond the plate, the bone surface is the marrow edge plus the
    plate, and a depressed segment moves both together: the marrow edge's offset from the marrow sphere
    is the surface's offset from the reference sphere. Each class's median offset is its blur's bias on
    the half-level crossing (curvature, the joint beyond a narrow plate), removed as in
    :func:`_class_fits`; its scatter about it the class's noise.
    """
    shape = articular.shape
    shift, fitted, class_of = np.zeros(shape), np.zeros(shape, bool), np.full(shape, -1)
    class_sigma, class_var = [], []
    key = np.round(blur_mm / 0.25).astype(int)
    for k in np.unique(key[articular]):
        members = articular & (key == k)
        edge = _own_half_level_edges(prof[members], radii, marrow_radius, model.levels.cortex,
                                     model.dark_limit) - marrow_radius
        ok = np.isfinite(edge)
        bias = float(np.median(edge[ok])) if ok.sum() >= 20 else 0.0
        shift[members] = np.where(ok, edge - bias, 0.0)
        fitted[members] = ok
        class_of[members] = len(class_sigma)
        class_sigma.append(_ray_sigma(np.median(extent[members], axis=0), model.smooth_mm))
        mad = float(np.median(np.abs(edge[ok] - bias))) if ok.sum() >= 20 else np.nan
        class_var.append((MAD_TO_SIGMA * mad) ** 2 if np.isfinite(mad) else np.nan)
    return _ClassFits(shift, fitted, np.zeros(shape, bool), class_of, class_sigma, class_var)


def _class_confidence(classes: _ClassFits) -> np.ndarray:
    """Per ray precision (mm^-2; 0 where not fitted): the inverse variance of its class's fits.

    Classes too small to tell take it from the classes of nearest blur. Resolution sets the floor: a fit
    is not more precise than a tenth of the profiles' sampling step.
    """
    conf = np.zeros(classes.fitted.shape)
    if classes.sigma:
        sig_arr, var_arr = np.asarray(classes.sigma), np.asarray(classes.var)
        known = np.isfinite(var_arr)
        if known.any():
            order = np.argsort(sig_arr[known])
            var_arr = np.interp(sig_arr, sig_arr[known][order], var_arr[known][order])
        else:
            var_arr = np.ones_like(sig_arr)
        var_arr = np.maximum(var_arr, (0.1 * RAY_STEP_MM) ** 2)
        conf = np.where(classes.fitted & (classes.class_of >= 0),
                        1.0 / var_arr[np.maximum(classes.class_of, 0)], 0.0)
    return conf

"""The outer silhouette of a femoral head on a radiograph, and an inner contour inside it.

The contour that is measured is the head's outer silhouette, the outline the Mose circles are drawn on.
Per angle the silhouette is where the profile, followed from outside inward, first leaves the
soft-tissue level by a few noise standard deviations and stays above it; the edge is then placed
sub-pixel by fitting the projected chord of a sphere's rim, ``b + k sqrt(R - r)`` blurred, and
regularised over angle by a running median. A second bright-to-dark step inside the silhouette (the
depressed plate or a crescent seen side-on: a double contour) is kept as the inner contour. Every
window is in mm at the patient; radii are pixels from the head's centre.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from onfh_imaging.fitting import MAD_TO_SIGMA, robust_scale

SILHOUETTE_AGREEMENT_MM = 0.5
"""The outer silhouette (the sub-pixel rim where the head's projection leaves the background) is the
contour where it lies no more than this inside the traced outline (the faint outer rim of a depressed
segment lies outside the strong edge of its floor) and is not pinned at its search's outer limit
(bone beyond the rim, as where the head overlaps the pelvis); elsewhere the traced outline is."""
# The silhouette leaves the soft-tissue level by this many noise standard deviations (of the profile
# smoothed over SILHOUETTE_SMOOTH_MM) and stays above it over SILHOUETTE_HOLD_MM inward.
SILHOUETTE_NOISE_SDS = 4.0
SILHOUETTE_SMOOTH_MM = 0.1
SILHOUETTE_HOLD_MM = 0.3
# Reach of the silhouette search: inside the located rim (a depressed segment) and beyond it.
SILHOUETTE_INNER_MM = 7.0
SILHOUETTE_OUTER_MM = 1.0
# Soft tissue just outside the rim (beyond the located rim), where the noise is measured.
SOFT_TISSUE_BAND_MM = (0.5, 1.5)
# An inner contour: a bright-to-dark step at least this far inside the silhouette, this many noise
# standard deviations of the radial derivative (at a scale of INNER_SMOOTH_MM, averaged over
# INNER_ARC_MM of the rim) strong, separated from the rim by a pause in the fall.
INNER_MIN_DEPTH_MM = 0.6
INNER_STRENGTH_SDS = 5.0
INNER_SMOOTH_MM = 0.3
INNER_ARC_MM = 2.0


def _radial_profiles(img: np.ndarray, center: tuple[float, float], angles_deg: np.ndarray, r_lo: float,
                     r_hi: float, step: float = 0.25, spread_deg: float = 1.5, rays: int = 5
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Image values along rays from ``center``: (radii, profiles (n_angles, n_radii)), each the mean of
    ``rays`` rays spanning +-``spread_deg`` to lower the noise."""
    radii = np.arange(max(r_lo, 0.0), r_hi, step)
    prof = np.zeros((len(angles_deg), len(radii)))
    for offset in np.linspace(-spread_deg, spread_deg, rays):
        a = np.radians(angles_deg + offset)
        rows = center[0] - np.cos(a)[:, None] * radii[None, :]
        cols = center[1] + np.sin(a)[:, None] * radii[None, :]
        prof += ndimage.map_coordinates(img, [rows, cols], order=1, mode="nearest")
    return radii, prof / rays


def _subpixel_extremum(values: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Parabolic offset (in samples) of the extremum at index ``k`` of each row of ``values``."""
    n = values.shape[1]
    k = np.clip(k, 1, n - 2)
    rows = np.arange(values.shape[0])
    y0, y1, y2 = values[rows, k - 1], values[rows, k], values[rows, k + 1]
    denom = y0 - 2.0 * y1 + y2
    off = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(np.abs(denom) > 1e-12, denom, 1.0), 0.0)
    return k + np.clip(off, -0.5, 0.5)




def _blurred_sqrt(x: np.ndarray, sigma: float) -> np.ndarray:
    """``sqrt(max(x, 0))`` convolved with a Gaussian of width ``sigma`` (same unit as ``x``): the
    profile of a sphere's projected chord near its rim, blurred."""
    grid = np.arange(-8.0 * sigma - 2.0, float(np.max(x)) + 8.0 * sigma + 2.0, 0.05)
    table = ndimage.gaussian_filter1d(np.sqrt(np.maximum(grid, 0.0)), sigma / 0.05, mode="nearest")
    return np.interp(x, grid, table)


def _circular_median(values: np.ndarray, window: int) -> np.ndarray:
    """Running median around a circle, ignoring NaN; NaN where most of the window is."""
    half = window // 2
    idx = (np.arange(len(values))[:, None] + np.arange(-half, half + 1)[None, :]) % len(values)
    win = values[idx]
    count = np.isfinite(win).sum(axis=1)
    with np.errstate(all="ignore"):
        med = np.nanmedian(np.where(count[:, None] > 0, win, 0.0), axis=1)
    return np.where((count > half) & np.isfinite(values), med, np.nan)


def _rim_crossings(radii: np.ndarray, smooth: np.ndarray, noise: float, limit_px: float, hold: int) -> np.ndarray:
    """Per profile, the outermost radius (below ``limit_px``) where the smoothed profile rises above the
    darkest level beyond it by ``SILHOUETTE_NOISE_SDS`` noise SDs and stays there over ``hold`` samples
    inward; NaN where it never does."""
    beyond_min = np.minimum.accumulate(smooth[:, ::-1], axis=1)[:, ::-1]
    above = (smooth > beyond_min + SILHOUETTE_NOISE_SDS * noise).astype(np.uint8)
    held = ndimage.minimum_filter1d(above, hold, axis=1, origin=(hold - 1) // 2, mode="nearest") > 0
    index = np.arange(len(radii))
    k = np.where(held & (radii[None, :] < limit_px), index[None, :], -1).max(axis=1)
    return np.where(k >= 0, radii[np.maximum(k, 0)], np.nan)


def _fit_rim(radii: np.ndarray, prof: np.ndarray, start: np.ndarray, px_mm: float, step: float
             ) -> np.ndarray:
    """Sub-pixel rim radius per profile: least squares of ``b + k sqrt(R - r)`` (Gaussian-blurred,
    ``k >= 0``) over 0.5 mm inside to 0.6 mm outside ``start``, with ``R`` searched on a 0.05-pixel
    grid from 0.3 mm inside to 0.6 mm outside ``start``. The blur (0.5, 1 or 2 pixels) is chosen once
    for the whole image, as the one that fits all profiles best."""
    n = len(start)
    ok = np.isfinite(start)
    k0 = np.searchsorted(radii, np.where(ok, start, radii[0]))
    n_in, n_out = round(0.5 / px_mm / step), round(0.6 / px_mm / step)
    win = np.clip(k0[:, None] + np.arange(-n_in, n_out + 1)[None, :], 0, len(radii) - 1)
    r = radii[win]
    p = prof[np.arange(n)[:, None], win]
    pm = p - p.mean(axis=1, keepdims=True)
    offsets = np.arange(-0.3 / px_mm, 0.6 / px_mm, 0.05)
    rim = radii[k0][:, None] + offsets[None, :]
    best_total, best = np.inf, np.full(n, np.nan)
    for sigma in (0.5, 1.0, 2.0):  # pixels
        x = _blurred_sqrt(rim[:, :, None] - r[:, None, :], sigma)
        xm = x - x.mean(axis=2, keepdims=True)
        sxx = np.maximum((xm**2).sum(axis=2), 1e-12)
        sxp = (xm * pm[:, None, :]).sum(axis=2)
        k = np.maximum(sxp / sxx, 0.0)
        cost = (pm**2).sum(axis=1)[:, None] - 2.0 * k * sxp + k**2 * sxx
        j = np.argmin(cost, axis=1)
        total = float(np.sum(cost[np.arange(n), j][ok]))
        if total < best_total:
            best_total, best = total, np.where(ok, rim[np.arange(n), j], np.nan)
    return best


def _silhouette(img: np.ndarray, center, angles_deg: np.ndarray, radius_px: float, px_mm: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Outer silhouette and inner contour radii (pixels) along radial profiles; NaN where none.

    ``radius_px`` is the located rim; every window is in mm at the patient (``px_mm`` per pixel).
    """
    step = 0.25
    radii, prof = _radial_profiles(img, center, angles_deg, radius_px - SILHOUETTE_INNER_MM / px_mm - 1.0,
                                   radius_px + (SOFT_TISSUE_BAND_MM[1] + 0.1) / px_mm, step,
                                   spread_deg=float(np.degrees(0.7 / px_mm / max(radius_px, 1.0))))
    smooth = ndimage.gaussian_filter1d(prof, max(1.0, SILHOUETTE_SMOOTH_MM / px_mm) / step, axis=1, mode="nearest")
    band = (radii > radius_px + SOFT_TISSUE_BAND_MM[0] / px_mm) & (radii < radius_px + SOFT_TISSUE_BAND_MM[1] / px_mm)
    outside = smooth[:, band] - np.median(smooth[:, band], axis=1, keepdims=True)
    noise = robust_scale(outside, center=0.0) + 1e-12
    hold = max(2, round(SILHOUETTE_HOLD_MM / px_mm / step))
    start = _rim_crossings(radii, smooth, noise, radius_px + SILHOUETTE_OUTER_MM / px_mm, hold)
    rim = _fit_rim(radii, prof, start, px_mm, step)
    arc_px = max(radius_px, 1.0) * float(np.radians(np.median(np.diff(angles_deg))))  # rim between profiles
    rim = _circular_median(rim, 2 * max(1, round(0.75 / px_mm / arc_px)) + 1)  # over about 1.5 mm of rim
    return rim, _inner_contour(radii, prof, rim, band, px_mm, step, arc_px)


def _outline(silhouette: np.ndarray, traced: np.ndarray, radius_px: float, px_mm: float) -> np.ndarray:
    """Per angle, the silhouette where it is a rim of the traced outline (see ``SILHOUETTE_AGREEMENT_MM``),
    else the traced outline, pixels."""
    pinned = silhouette >= radius_px + (SILHOUETTE_OUTER_MM - 0.3) / px_mm
    usable = np.isfinite(silhouette) & ~pinned & (silhouette >= traced - SILHOUETTE_AGREEMENT_MM / px_mm)
    return np.where(usable, silhouette, traced)


def _inner_contour(radii: np.ndarray, prof: np.ndarray, rim: np.ndarray, band: np.ndarray, px_mm: float,
                   step: float, arc_px: float) -> np.ndarray:
    """Radius of a second bright-to-dark step inside the silhouette ``rim`` per profile, NaN where none.

    The radial derivative is taken at the scale of the step (``INNER_SMOOTH_MM``) and averaged over
    ``INNER_ARC_MM`` of neighbouring profiles (``arc_px`` pixels of arc between profiles); its noise
    is measured in the soft tissue beyond the rim (``band`` of radii). The step is the steepest outward fall between
    ``SILHOUETTE_INNER_MM`` and ``INNER_MIN_DEPTH_MM`` inside the rim, at least ``INNER_STRENGTH_SDS``
    noise SDs strong, and separate from the rim's own fall: between the two the
    fall slows to less than half. Along all the steps found, the median stands out from the head's own
    texture inside the zone by ``INNER_STRENGTH_SDS`` as well, or there is no inner contour.
    """
    deriv = ndimage.gaussian_filter1d(prof, INNER_SMOOTH_MM / px_mm / step, axis=1, order=1, mode="nearest") / step
    width = max(1, round(INNER_ARC_MM / px_mm / arc_px))
    deriv = ndimage.uniform_filter1d(deriv, width, axis=0, mode="wrap")
    outside = deriv[:, band] - np.median(deriv[:, band], axis=1, keepdims=True)
    r = radii[None, :]
    zone = (r >= rim[:, None] - SILHOUETTE_INNER_MM / px_mm) & (r <= rim[:, None] - INNER_MIN_DEPTH_MM / px_mm)
    noise = robust_scale(outside, center=0.0) + 1e-12
    k = np.argmin(np.where(zone, deriv, np.inf), axis=1)
    fall = deriv[np.arange(len(k)), k]
    between = (r > radii[k][:, None]) & (r < rim[:, None] - 0.2 / px_mm)
    pause = np.where(between, deriv, -np.inf).max(axis=1)
    present = np.isfinite(rim) & (-fall > INNER_STRENGTH_SDS * noise) & (pause > 0.5 * fall)
    # a contour, not texture: along the steps found, the median step stands out from the head's own texture
    # (the spread of the derivative inside the head about each profile's median) by as much
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # profiles without a zone (no rim): NaN
        inside = np.where(zone, deriv, np.nan)
        centre = np.nanmedian(inside, axis=1)
        texture = MAD_TO_SIGMA * float(np.nanmedian(np.abs(inside - centre[:, None]))) + 1e-12
    if present.any() and np.median((centre - fall)[present]) < INNER_STRENGTH_SDS * texture:
        present[:] = False
    return np.where(present, radii[0] + step * _subpixel_extremum(-deriv, k), np.nan)

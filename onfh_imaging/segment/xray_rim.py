"""Whether the head's rim is seen on each ray: the edge's evidence pooled along the traced outline.

The head's outline is one continuous curve (:mod:`onfh_imaging.segment.xray_outline` traces it as a
smooth closed path). On a noisy or scatter-laden view the cortex's fall on a single ray can stand only
3-5 noise SDs above the trabecular texture, and a per-ray test at a fixed number of SDs keeps the outline
in fragments although the path lies on it all along. Along a continuous edge the evidence adds up: the
mean fall over ``POOL_ARC_MM`` of the path has the same contrast as one ray but its noise falls as the
square root of the number of independent rays in that arc (the arc over the texture's own correlation
length along the outline).

What "no rim" looks like is read from the same image: the same closed-path tracer is run through an
annulus of the head's interior of the same width (texture, trabecular lines and any overlapping pelvis,
but no rim), so the null distribution of the fall found along a path, with the selection the tracer's
freedom adds, is the image's own. The null path's mean fall over every arc of the same length around the
circle gives the null of the pooled mean directly, with the texture's correlation along the outline in its
spread (which falls as the square root of the independent rays per arc). A ray is traced when the mean
fall of the arc centred on it exceeds the null arcs' median by the one-sided normal quantile of
``FALSE_TRACE_RATE`` in their robust SDs, and its own fall exceeds the null's median (a ray in a gap,
where the edge is absent, is not carried by its traced neighbours).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.stats import norm

from onfh_imaging.fitting import robust_scale
from onfh_imaging.segment.xray_outline import closed_path
from onfh_imaging.segment.xray_silhouette import _radial_profiles

POOL_ARC_MM = 3.0
"""Length of rim (mm at the patient) whose mean fall is tested: an eighth of the smallest collapsing
segment's arc in a plane (30 deg of a 24 mm head, 12.6 mm) and under the 5 mm patch collapse is read over, so
pooling cannot bridge a depression's wall or a gap of the outline by more than 1.5 mm at either end."""
FALSE_TRACE_RATE = 1e-3
"""Accepted probability that one pooled arc of texture without a rim is traced: about 50 independent arcs
of ``POOL_ARC_MM`` make a 24 mm head's outline, so one head in twenty has one 3 mm arc traced falsely
somewhere, about one in eighty on its 90 deg weight-bearing dome; the threshold is the one-sided normal
quantile of this rate (3.1 standard errors)."""
NULL_CLEARANCE_MM = 2.0
"""The interior annulus the null is traced in ends this far inside the head's circle: beyond the cortex's
blur (0.5 mm) and the shell of subchondral bone, so the rim itself is not in it (a collapsed segment's
depressed rim may be, over its arc: a minority of rays, which the robust statistics ignore, and a higher
threshold if not)."""
NULL_MIN_RADIUS = 0.4
"""... and begins no nearer the centre than 0.4 of the radius, where rays 1 deg apart still sample different
texture (the annulus is narrowed when the head is small)."""


def path_edges(prof: np.ndarray, radii: np.ndarray, win: np.ndarray, step: float, sigma_px: float,
               outline_px: float, arc_px: float) -> dict[str, np.ndarray]:
    """The smooth closed path of outward falls through radial profiles, and the fall found along it.

    Parameters
    ----------
    prof : ndarray, shape (n_angles, n_radii)
        Image values along rays evenly spaced around the circle.
    radii : ndarray, shape (n_radii,)
        Radius of each sample, pixels (``step`` apart).
    win : ndarray of bool, shape (n_radii,)
        Radii the path may take.
    step : float
        Radius sample spacing, pixels.
    sigma_px : float
        Scale of the fine derivative the edge is placed on, pixels.
    outline_px : float
        Scale (pixels) at which the path is traced, and the reach about it the edge is placed within.
    arc_px : float
        Length of arc between neighbouring rays at the path, pixels.

    Returns
    -------
    dict
        ``path`` (radius index of the path per ray), ``k`` (index of the steepest fine-scale fall within
        ``outline_px`` of it), ``deriv`` (the fine derivative, per pixel, shape of ``prof``), ``noise``
        (its robust spread over all samples) and ``fall`` (``-deriv`` at ``k`` over ``noise``, per ray).
    """
    deriv, noise = radial_derivative(prof, step, sigma_px)
    coarse, coarse_noise = radial_derivative(prof, step, max(sigma_px, outline_px))
    path = closed_path(np.where(win[None, :], -coarse / coarse_noise, -np.inf), arc_px, step)
    near = np.abs(radii[None, :] - radii[path][:, None]) <= max(sigma_px, outline_px)
    k = np.argmin(np.where(near & win[None, :], deriv, np.inf), axis=1)
    fall = -deriv[np.arange(len(k)), k] / noise
    return {"path": path, "k": k, "deriv": deriv, "noise": noise, "fall": fall}


def radial_derivative(prof: np.ndarray, step: float, sigma_px: float) -> tuple[np.ndarray, float]:
    """Gaussian-smoothed d(profile)/d(radius) and its typical magnitude away from edges.

    Parameters
    ----------
    prof : ndarray, shape (n_angles, n_radii)
        Radial profiles.
    step : float
        Radius sample spacing, pixels.
    sigma_px : float
        Gaussian scale, pixels.

    Returns
    -------
    deriv : ndarray, shape of ``prof``
        The derivative, per pixel.
    noise : float
        Its robust spread over all profiles (noise plus texture), against which edges are judged.
    """
    deriv = ndimage.gaussian_filter1d(prof, sigma_px / step, axis=1, order=1, mode="nearest") / step
    return deriv, robust_scale(deriv) + 1e-12


def null_falls(img: np.ndarray, center, angles_deg: np.ndarray, radius_px: float, width_px: float,
               px_mm: float, sigma_px: float, outline_px: float) -> tuple[np.ndarray, np.ndarray]:
    """The fall the rim tracer finds along a path through the head's interior, where there is no rim.

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The image.
    center : (float, float)
        The head's centre (row, col), pixels.
    angles_deg : ndarray, shape (N,)
        Ray angles, evenly spaced around the circle.
    radius_px : float
        The head's radius, pixels.
    width_px : float
        Width of the annulus the rim was traced in, pixels (the null annulus has the same, or less on a
        small head).
    px_mm : float
        mm per pixel.
    sigma_px, outline_px : float
        The scales of :func:`path_edges`, pixels.

    Returns
    -------
    fall : ndarray, shape (N,)
        Fall along the null path, in noise units of its own profiles.
    inside : ndarray of bool, shape (N,)
        Rays whose null path lies inside the image (elsewhere the profile is the image's edge value).
    """
    step = 0.25
    hi = radius_px - NULL_CLEARANCE_MM / px_mm
    lo = max(NULL_MIN_RADIUS * radius_px, hi - width_px)
    radii, prof = _radial_profiles(img, center, angles_deg, lo - 2.0, hi + 2.0, step,
                                   spread_deg=float(np.degrees(0.7 / px_mm / max(radius_px, 1.0))))
    win = (radii >= lo) & (radii <= hi)
    arc = 0.5 * (lo + hi) * float(np.radians(np.median(np.diff(angles_deg))))
    e = path_edges(prof, radii, win, step, sigma_px, outline_px, arc)
    a = np.radians(angles_deg)
    r = radii[e["path"]]
    rows, cols = center[0] - r * np.cos(a), center[1] + r * np.sin(a)
    h, w = img.shape
    inside = (rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)
    return e["fall"], inside


def arc_means(values: np.ndarray, weight: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` over the circular window of ``width`` rays centred on each ray, where ``weight``.

    Parameters
    ----------
    values : ndarray, shape (N,)
        One value per ray, evenly spaced around the circle.
    weight : ndarray of bool, shape (N,)
        Rays that count.
    width : int
        Window width, rays (odd).

    Returns
    -------
    mean : ndarray, shape (N,)
        The window means (0 where no ray of the window counts).
    count : ndarray, shape (N,)
        Rays counted in each window.
    """
    n = len(values)
    idx = (np.arange(n)[:, None] + np.arange(width)[None, :] - width // 2) % n
    w = np.asarray(weight, dtype=float)[idx]
    count = w.sum(axis=1)
    return (np.where(weight, values, 0.0)[idx]).sum(axis=1) / np.maximum(count, 1.0), count


def pooled_rim(fall: np.ndarray, null_fall: np.ndarray, null_inside: np.ndarray, in_image: np.ndarray,
               arc_per_ray_mm: float) -> np.ndarray:
    """Rays whose rim is seen when the fall is pooled along ``POOL_ARC_MM`` of the path.

    The null of the pooled mean is measured, not modelled: the same window's mean along the interior path
    (:func:`null_falls`) around the circle, whose robust centre and spread hold the texture's correlation
    along the outline (the spread falls as the square root of the independent rays in the window).

    Parameters
    ----------
    fall : ndarray, shape (N,)
        Fall found along the rim's path per ray, noise units (:func:`path_edges`).
    null_fall : ndarray, shape (N,)
        Fall found along a path through the head's interior (:func:`null_falls`), noise units.
    null_inside : ndarray of bool, shape (N,)
        Rays whose null path lies in the image.
    in_image : ndarray of bool, shape (N,)
        Rays whose rim lies in the image.
    arc_per_ray_mm : float
        Length of rim between neighbouring rays, mm.

    Returns
    -------
    ndarray of bool, shape (N,)
        The window centred on the ray, traced over at least half its rays in the image, exceeds the
        null's by the normal quantile of ``FALSE_TRACE_RATE`` in SDs of the null's window means, and
        the ray's own fall exceeds the null's median; all False when fewer than a quarter of the rays
        give a null.
    """
    n = len(fall)
    width = max(1, int(round(POOL_ARC_MM / max(arc_per_ray_mm, 1e-9))) | 1)
    null_mean, null_count = arc_means(null_fall, null_inside, width)
    whole = null_count >= width  # windows of the null wholly in the image
    if whole.sum() < n // 4:
        return np.zeros(n, dtype=bool)
    centre, spread = float(np.median(null_mean[whole])), robust_scale(null_mean[whole]) + 1e-12
    mean, count = arc_means(fall, in_image, width)
    z = (mean - centre) / spread
    own = fall > float(np.median(null_fall[null_inside]))
    return in_image & (count >= 0.5 * width) & (z > norm.isf(FALSE_TRACE_RATE)) & own


__all__ = ["FALSE_TRACE_RATE", "NULL_CLEARANCE_MM", "NULL_MIN_RADIUS", "POOL_ARC_MM", "arc_means",
           "null_falls", "path_edges", "pooled_rim", "radial_derivative"]

"""Where a femoral head may be on a radiograph: an exhaustive search for circles with a bright inside.

On a real hip radiograph the femoral head is not an isolated bright disc: it overlaps the acetabulum,
the teardrop and the ischium, trabecular texture crosses it, and its outline is a faint arc of cortex
next to far stronger edges (the ilioischial line, the pelvic brim, the acetabular roof). A vote-counting
Hough transform over the strongest gradients is ruled by those strong edges and by texture. Here
every circle of a grid of centres and radii is scored instead, by how consistently the image falls
*outward* across it:

* the gradient is divided by its local root-mean-square (over ``ENERGY_SCALE`` times the gradient's
  own scale), so a faint cortical arc counts as much as a strong line, and texture, whose gradients
  point every way, averages out;
* each angle contributes ``tanh`` of that normalised outward fall (at most 1, so one strong line
  crossing the circle cannot carry it);
* the score is the mean over the angles whose point lies inside the image, counted over at least
  ``MIN_ARC_COUNTED`` of the circle (a head cut by the crop edge keeps its score; a small circle
  hugging a corner is not rewarded for the little of it that is seen), and only circles with at
  least ``MIN_ARC_IN_IMAGE`` of their outline in the image are scored.

Radii from a few to several hundred pixels are searched over octaves: each octave is reduced so its
radii span ``OCTAVE_RADII_PX`` pixels (enough angular sampling for the outline, few enough centres
to score every one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.segment.xray_anatomy import DOME_HALF_ARC_DEG, DOME_MIN_IN_IMAGE

SEARCH_ANGLES = 64
"""Angles per circle: one every 5.6 deg, a sample every 1-3 pixels of outline at 8-32 pixels of radius."""
OCTAVE_RADII_PX = (8.0, 32.0)
"""Radii (reduced pixels) scored in one octave: below 8 pixels a circle's outline is too coarsely
sampled for 64 angles; a 4:1 span keeps the number of octaves at one or two for any image."""
MIN_REDUCED_PX = 96
"""The reduced image keeps at least this many pixels across its shorter side, so that a head filling
the image is still placed to about 1 % of its size."""
RADIUS_STEP = 0.04
"""Relative step between the radii scored (4 %: about a pixel at the octave's smallest radius, well
inside the refinement's reach)."""
GRADIENT_SCALE_PX = 1.0
"""Gaussian scale (reduced pixels) of the gradient: about 2 % of a head's radius at the octave's
smallest radius, wide enough to average trabecular texture, narrow next to the joint space."""
ENERGY_SCALE = 4.0
"""The gradient is normalised by its root-mean-square over this many gradient scales."""
MIN_ARC_IN_IMAGE = 0.45
"""Fraction of a circle's outline that must lie in the image for it to be scored: a head cut by the
edge of a crop or detector shows at least its articular half above the neck."""
ROOF_TO_HEAD = 0.9
"""A head under a roof circle has 0.9 times its radius: the joint space with both cartilages (2-5 mm)
and the sourcil's edge on a 24 mm head (see ``xray_anatomy.JOINT_SPACE_RADII``); the trace re-fits it."""
ROOF_MIN_HEAD_PX = 40.0
"""Roofs are sought over heads of at least 40 pixels radius: a roof arc of 120 deg is then at least 80
pixels long, long enough to be told from trabecular texture; smaller heads (a whole pelvis on a small
image) are found by their own rim."""
ROOF_MIN_IN_IMAGE = 0.8
"""A roof is scored where at least 80 % of its dome arc lies inside the image."""
MIN_ARC_COUNTED = MIN_ARC_IN_IMAGE
"""The mean is taken over at least this fraction of the outline (angles outside the image beyond it
count as no evidence)."""


@dataclass(frozen=True)
class CircleCandidate:
    """A circle with a bright inside, in pixels of the image as stored.

    Attributes
    ----------
    center_px : (float, float)
        Centre (row, column).
    radius_px : float
        Radius, pixels.
    score : float
        Mean normalised outward fall over the outline (-1..1).
    arc_in_image : float
        Fraction of the outline inside the image.
    """

    center_px: tuple[float, float]
    radius_px: float
    score: float
    arc_in_image: float


def _reduce(img: np.ndarray, factor: int) -> np.ndarray:
    """Block mean by ``factor`` (the image cropped to a multiple of it)."""
    if factor <= 1:
        return img
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    return img[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _overlap(shape: tuple[int, int], dr: int, dc: int) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Where a circle centre ``(i, j)`` and its outline point ``(i + dr, j + dc)`` are both inside an image:
    the centres' window and the outline points' window, or None when they never are."""
    h, w = shape
    i0, i1 = max(0, -dr), min(h, h - dr)
    j0, j1 = max(0, -dc), min(w, w - dc)
    if i1 <= i0 or j1 <= j0:
        return None
    return (slice(i0, i1), slice(j0, j1)), (slice(i0 + dr, i1 + dr), slice(j0 + dc, j1 + dc))


def normalised_gradient(img: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (d/drow, d/dcol) at scale ``sigma`` divided by its local RMS over ``ENERGY_SCALE sigma``.

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The image.
    sigma : float
        Gaussian scale of the derivative, pixels.

    Returns
    -------
    g_row, g_col : ndarray, shape (H, W)
        The two components, dimensionless (about unit RMS locally).
    """
    gr = ndimage.gaussian_filter(img, sigma, order=(1, 0))
    gc = ndimage.gaussian_filter(img, sigma, order=(0, 1))
    energy = np.sqrt(ndimage.gaussian_filter(gr**2 + gc**2, ENERGY_SCALE * sigma))
    energy += 1e-6 * (float(energy.max()) + 1e-12)
    return gr / energy, gc / energy


def _outline_sums(grad: tuple[np.ndarray, np.ndarray], sign: float, angle_ids: np.ndarray, radii: np.ndarray,
                  marked: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sum of ``tanh(sign * outward gradient)`` over the outline points of every circle, shape (K, H, W).

    ``angle_ids`` index the ``SEARCH_ANGLES`` angles summed (image angle from image-up, toward increasing
    column); a point counts where both the circle's centre and the point lie inside the image. Also
    returned: how many points were summed and, with ``marked`` (bool per angle), how many of them lie at
    marked angles (the dome).
    """
    gr, gc = grad
    h, w = gr.shape
    theta = np.radians(np.arange(SEARCH_ANGLES) * 360.0 / SEARCH_ANGLES)
    ur, uc = -np.cos(theta), np.sin(theta)
    total = np.zeros((len(radii), h, w))
    count = np.zeros((len(radii), h, w))
    marked_count = np.zeros((len(radii), h, w)) if marked is not None else None
    for a in angle_ids:
        value = np.tanh(sign * (gr * ur[a] + gc * uc[a]))
        for k, r in enumerate(radii):
            windows = _overlap((h, w), round(r * ur[a]), round(r * uc[a]))
            if windows is None:
                continue
            at, source = windows
            total[(k, *at)] += value[source]
            count[(k, *at)] += 1.0
            if marked_count is not None and marked[a]:
                marked_count[(k, *at)] += 1.0
    return total, count, marked_count


def roof_scores(img: np.ndarray, radii: np.ndarray, superior_deg: float = 0.0) -> np.ndarray:
    """Score of every circle as an acetabular roof over a head centred on it, shape (len(radii), H, W).

    The roof's inner edge (the sourcil over the joint space) is where the image *rises* outward from the
    head's centre over the dome (``DOME_HALF_ARC_DEG`` about ``superior_deg``); the score is the mean
    ``tanh`` of the normalised outward rise over the dome's angles, -1 where less than
    ``ROOF_MIN_IN_IMAGE`` of them lie inside the image.

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The (reduced) image, bone bright.
    radii : ndarray, shape (K,)
        Roof radii scored, pixels of ``img``.
    superior_deg : float
        Image angle of the patient's superior direction (from image-up toward increasing column),
        degrees.

    Returns
    -------
    ndarray, shape (K, H, W)
        Roof score (-1..1) of the circle of each radius centred on each pixel.
    """
    gr, gc = normalised_gradient(img, GRADIENT_SCALE_PX)
    theta = np.radians(np.arange(SEARCH_ANGLES) * 360.0 / SEARCH_ANGLES)
    off = (np.degrees(theta) - superior_deg + 180.0) % 360.0 - 180.0
    dome = np.flatnonzero(np.abs(off) <= DOME_HALF_ARC_DEG)
    total, count, _ = _outline_sums((gr, gc), 1.0, dome, radii)
    return np.where(count >= ROOF_MIN_IN_IMAGE * len(dome), total / np.maximum(count, 1.0), -1.0)


def circle_scores(img: np.ndarray, radii: np.ndarray, superior_deg: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Score of every circle centred on a pixel of ``img``, shape (len(radii), H, W).

    With ``superior_deg`` (image angle of the patient's superior direction), circles with less than
    ``DOME_MIN_IN_IMAGE`` of their dome (``DOME_HALF_ARC_DEG`` about it) inside the image are not
    scored: their dome, where a head articulates and is measured, is not seen.

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The (reduced) image, bone bright.
    radii : ndarray, shape (K,)
        Radii scored, pixels of ``img``.
    superior_deg : float, optional
        Image angle of the patient's superior direction (from image-up toward increasing column),
        degrees; None scores circles whatever their dome.

    Returns
    -------
    score : ndarray, shape (K, H, W)
        Mean ``tanh`` of the normalised outward fall over the in-image outline (see the module notes);
        -1 where less than ``MIN_ARC_IN_IMAGE`` of the outline is inside.
    arc : ndarray, shape (K, H, W)
        Fraction of each outline inside the image.
    """
    gr, gc = normalised_gradient(img, GRADIENT_SCALE_PX)
    theta = np.radians(np.arange(SEARCH_ANGLES) * 360.0 / SEARCH_ANGLES)
    off = (np.degrees(theta) - (superior_deg or 0.0) + 180.0) % 360.0 - 180.0
    dome = (np.abs(off) <= DOME_HALF_ARC_DEG) if superior_deg is not None else np.zeros(SEARCH_ANGLES, dtype=bool)
    total, count, dome_count = _outline_sums((gr, gc), -1.0, np.arange(SEARCH_ANGLES), radii,
                                             dome if dome.any() else None)
    arc = count / SEARCH_ANGLES
    score = total / np.maximum(count, MIN_ARC_COUNTED * SEARCH_ANGLES)
    scored = arc >= MIN_ARC_IN_IMAGE
    if dome_count is not None:
        scored &= dome_count >= DOME_MIN_IN_IMAGE * dome.sum()
    return np.where(scored, score, -1.0), arc


def _local_maxima(score: np.ndarray, arc: np.ndarray, radii: np.ndarray, factor: int, count: int
                  ) -> list[CircleCandidate]:
    """Up to ``count`` best circles, each centre at least half the smallest radius from the others."""
    best = score.max(axis=0)
    which = score.argmax(axis=0)
    rr, cc = np.mgrid[0:best.shape[0], 0:best.shape[1]]
    work = best.copy()
    out: list[CircleCandidate] = []
    while len(out) < count:
        i = int(np.argmax(work))
        r, c = np.unravel_index(i, work.shape)
        if work[r, c] <= 0.0:
            break
        k = int(which[r, c])
        out.append(CircleCandidate(((r + 0.5) * factor - 0.5, (c + 0.5) * factor - 0.5), float(radii[k]) * factor,
                                   float(work[r, c]), float(arc[k, r, c])))
        work[(rr - r) ** 2 + (cc - c) ** 2 < (0.5 * radii[0]) ** 2] = -np.inf
    return out


def roof_candidates(img: np.ndarray, radius_range_px: tuple[float, float], count: int = 3,
                    superior_deg: float = 0.0) -> list[CircleCandidate]:
    """Heads under the best-scoring acetabular roofs (:func:`roof_scores`), best first.

    A head's faint rim can score below texture circles while the roof over it, a sclerotic arc, is
    clear; each roof circle gives a head candidate on the same centre, ``ROOF_TO_HEAD`` times its
    radius. Only roofs of heads at least ``ROOF_MIN_HEAD_PX`` pixels in radius are sought (smaller
    ones are too short an arc to tell from texture).

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The image, bone bright, normalised to about 0..1.
    radius_range_px : (float, float)
        Smallest and largest head radius searched, pixels (the smallest raised to ``ROOF_MIN_HEAD_PX``).
    count : int
        Roofs kept per octave.
    superior_deg : float
        Image angle of the patient's superior direction, degrees.

    Returns
    -------
    list of CircleCandidate
        Head circles (radius ``ROOF_TO_HEAD`` times the roof's), scored by their roof; ``arc_in_image``
        is 1.
    """
    lo = max(float(radius_range_px[0]), ROOF_MIN_HEAD_PX) / ROOF_TO_HEAD
    hi = float(radius_range_px[1]) / ROOF_TO_HEAD
    found: list[CircleCandidate] = []
    r0 = lo
    while r0 < hi:
        factor = max(1, min(int(np.floor(r0 / OCTAVE_RADII_PX[0])), min(img.shape) // MIN_REDUCED_PX))
        r1 = min(hi, r0 * OCTAVE_RADII_PX[1] / OCTAVE_RADII_PX[0])
        small = _reduce(img, factor)
        n = max(2, int(np.ceil(np.log(r1 / r0) / np.log1p(RADIUS_STEP))) + 1)
        radii = np.geomspace(r0, r1, n) / factor
        if radii.size and 2 * radii[0] < max(small.shape):
            score = roof_scores(small, radii, superior_deg)
            for c in _local_maxima(score, np.ones_like(score), radii, factor, count):
                found.append(CircleCandidate(c.center_px, ROOF_TO_HEAD * c.radius_px, c.score, c.arc_in_image))
        r0 = r1
    return sorted(found, key=lambda c: -c.score)


def head_candidates(img: np.ndarray, radius_range_px: tuple[float, float], count: int = 6,
                    superior_deg: float | None = None) -> list[CircleCandidate]:
    """The best-scoring circles with radii in ``radius_range_px`` (pixels of ``img``), best first.

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The image, bone bright, normalised to about 0..1.
    radius_range_px : (float, float)
        Smallest and largest radius searched, pixels.
    count : int
        Candidates kept per octave.
    superior_deg : float, optional
        Image angle of the patient's superior direction: circles whose dome is mostly outside the
        image are not candidates (see :func:`circle_scores`).

    Returns
    -------
    list of CircleCandidate
    """
    lo, hi = float(radius_range_px[0]), float(radius_range_px[1])
    found: list[CircleCandidate] = []
    r0 = lo
    while r0 <= hi:
        factor = max(1, min(int(np.floor(r0 / OCTAVE_RADII_PX[0])), min(img.shape) // MIN_REDUCED_PX))
        r1 = min(hi, r0 * OCTAVE_RADII_PX[1] / OCTAVE_RADII_PX[0])
        small = _reduce(img, factor)
        n = max(2, int(np.ceil(np.log(r1 / r0) / np.log1p(RADIUS_STEP))) + 1)
        radii = np.geomspace(r0, r1, n) / factor
        if radii.size and 2 * radii[0] < max(small.shape):
            score, arc = circle_scores(small, radii, superior_deg)
            found += _local_maxima(score, arc, radii, factor, count)
        if r1 >= hi:
            break
        r0 = r1
    return sorted(found, key=lambda c: -c.score)


def best_radius_at(img: np.ndarray, center: tuple[float, float], radius_range_px: tuple[float, float]) -> float:
    """Radius (pixels) of the best-scoring circle around a fixed centre (a hand-placed seed).

    Scored as :func:`circle_scores` does, on the full-resolution image with the gradient at the scale
    the octave of ``radius_range_px[0]`` would use.

    Parameters
    ----------
    img : ndarray, shape (H, W)
        The image, bone bright.
    center : (float, float)
        The fixed centre (row, column), pixels.
    radius_range_px : (float, float)
        Smallest and largest radius tried, pixels.

    Returns
    -------
    float
        The best radius, pixels.
    """
    lo, hi = float(radius_range_px[0]), float(radius_range_px[1])
    sigma = GRADIENT_SCALE_PX * max(1.0, lo / OCTAVE_RADII_PX[0])
    gr, gc = normalised_gradient(img, sigma)
    radii = np.arange(lo, hi + 1e-9, max(0.5, sigma / 2.0))
    theta = np.radians(np.arange(4 * SEARCH_ANGLES) * 90.0 / SEARCH_ANGLES)
    ur, uc = -np.cos(theta), np.sin(theta)
    rows = center[0] + radii[:, None] * ur[None, :]
    cols = center[1] + radii[:, None] * uc[None, :]
    h, w = img.shape
    inside = (rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)
    g_r = ndimage.map_coordinates(gr, [rows, cols], order=1, mode="nearest")
    g_c = ndimage.map_coordinates(gc, [rows, cols], order=1, mode="nearest")
    fall = np.where(inside, np.tanh(-(g_r * ur + g_c * uc)), 0.0)
    count = inside.sum(axis=1)
    score = np.where(count >= MIN_ARC_IN_IMAGE * len(theta),
                     fall.sum(axis=1) / np.maximum(count, MIN_ARC_COUNTED * len(theta)), -1.0)
    return float(radii[int(np.argmax(score))])


__all__ = ["CircleCandidate", "best_radius_at", "circle_scores", "head_candidates", "normalised_gradient",
           "roof_candidates", "roof_scores"]

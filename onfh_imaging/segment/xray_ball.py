"""Calibration balls on projection radiographs: a steel sphere of known diameter, placed at the hip's depth.

A calibration ball is a disc far brighter than bone with a sharp rim all round. It is found by a
gradient-directed circular Hough transform (each edge votes only toward its bright side) at the radii
its nominal size allows, then located along radial profiles and fitted as a circle; it must show a
sharp rim over nearly all of its circle, fit that circle closely and be brighter inside than 99 % of
the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.geometry import Radiograph
from onfh_imaging.segment.xray import (
    SPHERE_EDGE_SHIFT,
    _fit_circle,
    _nominal_pixel_mm,
    _normalised,
    _radial_profiles,
    _subpixel_extremum,
)
from onfh_imaging.segment.xray_rim import radial_derivative
from onfh_imaging.segment.xray_search import _reduce


@dataclass(frozen=True)
class CalibrationBall:
    """A calibration sphere found on the image.

    Attributes
    ----------
    center_px : (float, float)
        Centre (row, column), pixels.
    diameter_px : float
        Fitted diameter, pixels (pixels are taken as square).
    edge_fraction : float
        Fraction (0..1) of the angles round the rim (one every 2 deg) with a sharp edge.
    """

    center_px: tuple[float, float]
    diameter_px: float
    edge_fraction: float


def _directed_hough(img: np.ndarray, radii: np.ndarray, sigma: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Circle accumulator (fraction of the perimeter voting) for bright discs, shape (len(radii), H, W).

    Each strong-gradient pixel votes for the centre one radius away along its gradient (toward the
    bright side). Returns the accumulator and the gradient magnitude threshold used.
    """
    gr = ndimage.gaussian_filter(img, sigma, order=(1, 0))
    gc = ndimage.gaussian_filter(img, sigma, order=(0, 1))
    mag = np.hypot(gr, gc)
    # Edge pixels: the strongest gradients, thinned to local maxima along the gradient
    thresh = np.percentile(mag, 85.0)
    rr, cc = np.nonzero(mag > thresh)
    m = mag[rr, cc]
    ur, uc = gr[rr, cc] / m, gc[rr, cc] / m
    ahead = ndimage.map_coordinates(mag, [rr + ur, cc + uc], order=1, mode="nearest")
    behind = ndimage.map_coordinates(mag, [rr - ur, cc - uc], order=1, mode="nearest")
    keep = (m >= ahead) & (m >= behind)
    rr, cc, ur, uc, m = rr[keep], cc[keep], ur[keep], uc[keep], m[keep]
    h, w = img.shape
    acc = np.zeros((len(radii), h, w))
    for k, r in enumerate(radii):
        vr = np.round(rr + r * ur).astype(int)
        vc = np.round(cc + r * uc).astype(int)
        ok = (vr >= 0) & (vr < h) & (vc >= 0) & (vc < w)
        np.add.at(acc[k], (vr[ok], vc[ok]), 1.0)
        acc[k] = ndimage.gaussian_filter(acc[k], 1.0) * (2.0 * np.pi * 1.0**2) / (2.0 * np.pi * r)
    return acc, thresh


def _peaks(acc: np.ndarray, radii: np.ndarray, min_distance: float, count: int, floor: float
           ) -> list[tuple[float, float, float, float]]:
    """Up to ``count`` (row, col, radius, score) accumulator maxima, at least ``min_distance`` apart."""
    best = acc.max(axis=0)
    which = acc.argmax(axis=0)
    out: list[tuple[float, float, float, float]] = []
    work = best.copy()
    rr, cc = np.mgrid[0:best.shape[0], 0:best.shape[1]]
    while len(out) < count:
        i = int(np.argmax(work))
        r, c = np.unravel_index(i, work.shape)
        score = float(work[r, c])
        if score < floor:
            break
        out.append((float(r), float(c), float(radii[which[r, c]]), score))
        work[(rr - r) ** 2 + (cc - c) ** 2 < min_distance**2] = -1.0
    return out


def find_calibration_ball(rx: Radiograph, diameter_mm: float = 25.0,
                          avoid_px: list[tuple[float, float, float]] | None = None) -> CalibrationBall | None:
    """Find a calibration sphere: a bright disc with a sharp rim all round, brighter than bone.

    Parameters
    ----------
    rx : Radiograph
        The image; its nominal pixel size (if any) bounds the searched radii to 0.7-1.4 times the
        ball's nominal size in pixels.
    diameter_mm : float
        The ball's true diameter, mm.
    avoid_px : list of (row, col, radius), optional
        Discs (e.g. femoral heads) the ball may not overlap, pixels.

    Returns
    -------
    CalibrationBall or None
        The first candidate, in decreasing vote, whose rim is sharp on at least 85 % of its angles,
        round to 3 % of its radius and whose centre is brighter than the image's 99th percentile;
        None when none is (or the image is too small for the ball).
    """
    lo_mm, hi_mm = _nominal_pixel_mm(rx)
    r_min = 0.5 * diameter_mm / hi_mm * (0.7 if rx.calibrated else 1.0)
    r_max = 0.5 * diameter_mm / lo_mm * (1.4 if rx.calibrated else 1.0)
    h, w = rx.shape
    if 2 * r_min + 4 > min(h, w):
        return None
    img = _normalised(rx.pixels)
    factor = max(1, int(np.floor(r_min / 10.0)))
    small = _reduce(img, factor)
    radii = np.arange(np.floor(r_min / factor), np.ceil(r_max / factor) + 1.0)
    acc, _ = _directed_hough(small, radii)
    angles = np.arange(-180.0, 180.0, 2.0)
    for r, c, rad, _ in _peaks(acc, radii, min_distance=2.0 * radii[0], count=4, floor=0.3):
        centre = ((r + 0.5) * factor - 0.5, (c + 0.5) * factor - 0.5)
        r_px = rad * factor
        if any(np.hypot(centre[0] - a, centre[1] - b) < rr + r_px for a, b, rr in (avoid_px or [])):
            continue
        e = None
        for _ in range(2):
            radii_p, prof = _radial_profiles(img, centre, angles, 0.6 * r_px, 1.3 * r_px, 0.25)
            deriv, noise = radial_derivative(prof, 0.25, 1.0)
            k = np.argmin(deriv, axis=1)
            edge_r = radii_p[0] + 0.25 * _subpixel_extremum(-deriv, k) + SPHERE_EDGE_SHIFT * 1.0
            strong = -deriv[np.arange(len(k)), k] / noise > 6.0
            if strong.sum() < 10:
                break
            a = np.radians(angles[strong])
            pts = np.column_stack([centre[0] - np.cos(a) * edge_r[strong], centre[1] + np.sin(a) * edge_r[strong]])
            c_fit, r_fit = _fit_circle(pts)
            centre, r_px = (float(c_fit[0]), float(c_fit[1])), r_fit
            e = (strong, pts, edge_r)
        if e is None:
            continue
        strong, pts, _ = e
        res = np.hypot(*(pts - np.asarray(centre)).T) - r_px
        fraction = float(strong.mean())
        inside = ndimage.map_coordinates(img, [[centre[0]], [centre[1]]], order=1)[0]
        if fraction < 0.85 or np.std(res) > 0.03 * r_px or inside < np.percentile(img, 99.0):
            continue
        return CalibrationBall(center_px=centre, diameter_px=2.0 * r_px, edge_fraction=fraction)
    return None


__all__ = ["CalibrationBall", "find_calibration_ball"]

"""The reference circle of a head outline on a radiograph: a robust circle fit and its uncertainty.

The circle is fitted to the *intact* part of the contour it is given. Collapse only moves the contour
inward, so the fit trims one-sidedly: points inside the current circle by more than
``INWARD_TRIM_SIGMAS`` robust standard deviations are dropped (a stray outward edge, such as the
acetabular roof taken for the head, is dropped beyond 4), and the fit is repeated until the inliers stop
changing. :func:`radial_sd` gives how well the fitted circle is known in any direction, from how much of
the outline it rests on and how far that outline scatters about it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.errors import MeasurementError
from onfh_imaging.fitting import MAD_TO_SIGMA

INWARD_TRIM_SIGMAS = 2.5
"""Outline points further inside the reference circle than this many residual sigmas are read as
depressed (not intact): about 1 % of an intact outline's noise lies beyond it."""


@dataclass(frozen=True)
class ReferenceCircle:
    """A circle fitted to the intact contour, in the fit's coordinates (mm or pixels).

    Attributes
    ----------
    center : ndarray, shape (2,)
        (row, col) coordinate of the centre.
    radius : float
    rms : float
        RMS radial residual of the inliers.
    inliers : ndarray of bool
        Which input points the final fit used.
    """

    center: np.ndarray
    radius: float
    rms: float
    inliers: np.ndarray


def _geometric_fit(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares circle (radial residuals): algebraic start, Gauss-Newton refinement."""
    mean = pts.mean(axis=0)
    q = pts - mean
    a = np.column_stack([2.0 * q, np.ones(len(q))])
    sol, *_ = np.linalg.lstsq(a, (q**2).sum(axis=1), rcond=None)
    c = sol[:2]
    r = float(np.sqrt(max(sol[2] + c @ c, 1e-12)))
    for _ in range(10):
        d = q - c
        dist = np.hypot(d[:, 0], d[:, 1])
        dist = np.where(dist > 0, dist, 1e-12)
        jac = np.column_stack([-d[:, 0] / dist, -d[:, 1] / dist, -np.ones(len(d))])
        step, *_ = np.linalg.lstsq(jac, -(dist - r), rcond=None)
        c, r = c + step[:2], r + float(step[2])
        if np.abs(step).max() < 1e-9 * max(r, 1.0):
            break
    return c + mean, abs(r)


LMEDS_START_CIRCLES = 120
"""Circles through three contour points a third of the contour apart that the least-median start of
the reference circle compares (enough to meet one through three intact points when up to half of the
contour is depressed)."""


def _least_median_circle(pts: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The circle through three contour points (a third of the contour apart) with the least median
    absolute radial residual over all points (least median of squares): robust to up to half of the
    contour lying off it, as a collapsed arc does. None with too few points or degenerate triples."""
    n = len(pts)
    if n < 9:
        return None
    third = n // 3
    best, best_med = None, np.inf
    for i in np.unique(np.linspace(0, third - 1, min(third, LMEDS_START_CIRCLES)).astype(int)):
        a, b, c = pts[i], pts[i + third], pts[i + 2 * third]
        m = 2.0 * np.array([b - a, c - a])
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        centre = np.linalg.solve(m, np.array([b @ b - a @ a, c @ c - a @ a]))
        radius = float(np.hypot(*(a - centre)))
        med = float(np.median(np.abs(np.hypot(*(pts - centre).T) - radius)))
        if med < best_med:
            best, best_med = (centre, radius), med
    return best


def fit_reference_circle(points: np.ndarray, *, inward_k: float = INWARD_TRIM_SIGMAS, outward_k: float = 4.0,
                         floor: float = 0.0, max_iterations: int = 30) -> ReferenceCircle:
    """Robust reference circle of a head contour, trimming inward (depressed) points one-sidedly.

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        Contour points (row, col) in mm (or pixels).
    inward_k, outward_k : float
        Points further inside than ``inward_k`` robust sigmas, or outside than ``outward_k``, are
        dropped from the next fit.
    floor : float
        Lower bound of the robust sigma, in the points' unit (keeps the trimming from eating the
        intact contour when the edge is extremely clean).
    max_iterations : int
        Bound on refits.

    Returns
    -------
    ReferenceCircle

    Raises
    ------
    MeasurementError
        With fewer than 8 finite points.
    """
    pts = np.asarray(points, dtype=float)
    finite = np.all(np.isfinite(pts), axis=1)
    if finite.sum() < 8:
        raise MeasurementError(f"a reference circle needs at least 8 contour points, got {int(finite.sum())}")
    inl = finite.copy()
    centre, radius = _geometric_fit(pts[inl])
    start = _least_median_circle(pts[finite])
    if start is not None:  # a start the depressed arc cannot pull: the circle most of the contour lies on
        res = np.hypot(*(pts - start[0]).T) - start[1]
        sigma = max(MAD_TO_SIGMA * float(np.median(np.abs(res[finite]))), floor, 1e-9)
        near = finite & (res > -inward_k * sigma) & (res < outward_k * sigma)
        if near.sum() >= 8:
            inl = near
            centre, radius = _geometric_fit(pts[inl])
    for _ in range(max_iterations):
        res = np.hypot(*(pts - centre).T) - radius
        sigma = max(MAD_TO_SIGMA * float(np.median(np.abs(res[inl] - np.median(res[inl])))), floor, 1e-9)
        new = finite & (res > -inward_k * sigma) & (res < outward_k * sigma)
        if new.sum() < 8 or np.array_equal(new, inl):
            break
        inl = new
        centre, radius = _geometric_fit(pts[inl])
    res = np.hypot(*(pts[inl] - centre).T) - radius
    return ReferenceCircle(center=centre, radius=float(radius), rms=float(np.sqrt(np.mean(res**2))), inliers=inl)



def radial_sd(points: np.ndarray, circle: ReferenceCircle, directions_deg: np.ndarray, *,
              correlated_points: float = 1.0) -> np.ndarray:
    """Standard deviation of the fitted circle's edge along given directions, from the fit's covariance.

    The circle's centre and radius are known as well as the inlier points pin them: their scatter about the
    circle (the fit's RMS residual) and the arc they cover. A circle fitted to a short arc is well known
    along that arc and poorly across the rest, where it is extrapolated. The departure of an outline point
    from the circle in direction ``u`` changes by ``-u . dc - dr`` with the centre and radius, so its
    variance is ``g C g^T`` with ``g = (-u, -1)`` and ``C`` the covariance of (centre, radius).

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        The points the circle was fitted to (row, col), in its unit; only its inliers count.
    circle : ReferenceCircle
        The fit (:func:`fit_reference_circle`).
    directions_deg : ndarray, shape (M,)
        Image angles (from image-up, positive toward increasing column), degrees.
    correlated_points : float
        How many neighbouring points carry one point's worth of independent evidence (a smooth trace's
        neighbours are not independent): the covariance is scaled by it.

    Returns
    -------
    ndarray, shape (M,)
        SD of the circle's radial position along each direction, in the points' unit; inf when the inliers
        do not determine a circle.
    """
    d = np.asarray(points, dtype=float)[circle.inliers] - circle.center
    dist = np.hypot(d[:, 0], d[:, 1])
    jac = np.column_stack([-d / np.where(dist > 0, dist, 1e-12)[:, None], -np.ones(len(d))])
    a = np.radians(np.asarray(directions_deg, dtype=float))
    g = np.column_stack([np.cos(a), -np.sin(a), -np.ones(len(a))])  # -u with u = (-cos, sin) in (row, col)
    normal = jac.T @ jac
    if len(d) < 4 or np.linalg.cond(normal) > 1e12:
        return np.full(len(a), np.inf)
    cov = circle.rms**2 * max(correlated_points, 1.0) * np.linalg.inv(normal)
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g, cov, g), 0.0))


def circle_disagreement(centre_a, radius_a: float, centre_b, radius_b: float) -> float:
    """How far two estimates of one head's circle lie apart, relative to the second's radius.

    Parameters
    ----------
    centre_a, centre_b : (float, float)
        The circles' centres (row, col), in one unit (mm or pixels).
    radius_a, radius_b : float
        Their radii, same unit.

    Returns
    -------
    float
        The larger of the radii's and the centres' differences over ``radius_b``.
    """
    offset = float(np.hypot(centre_a[0] - centre_b[0], centre_a[1] - centre_b[1]))
    apart = max(abs(radius_a - radius_b), offset)
    return apart / max(radius_b, 1e-9)


__all__ = ["INWARD_TRIM_SIGMAS", "LMEDS_START_CIRCLES", "ReferenceCircle", "circle_disagreement",
           "fit_reference_circle", "radial_sd"]

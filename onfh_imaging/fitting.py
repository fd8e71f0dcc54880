"""Robust fitting shared by segmentation and measurement: spheres and robust statistics.

Written once, below both :mod:`onfh_imaging.segment` and :mod:`onfh_imaging.measure` (neither imports
the other for it):

* :func:`robust_scale` - the median absolute deviation scaled to a normal standard deviation;
* :func:`fit_sphere` - least squares (algebraic fit refined geometrically);
* :func:`robust_sphere` - a trimmed fit: collapse and a lesion's band only ever lie *inside* a femoral
  head's sphere, so residuals are trimmed by robust spreads, one-sided by default;
* :func:`ransac_sphere` - the sphere supported by the most rays when every ray offers several
  candidate edges (the head's cortex, a lesion's band, the acetabular cortex beyond the joint).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from onfh_imaging.errors import MeasurementError

MAD_TO_SIGMA = 1.4826
"""Scale from the median absolute deviation to the standard deviation of a normal distribution."""


def robust_scale(values: np.ndarray, center: float | None = None) -> float:
    """Robust standard deviation: ``MAD_TO_SIGMA * median(|v - median(v)|)`` (0 for no values).

    Parameters
    ----------
    values : array_like
        Values in any unit; non-finite ones are ignored.
    center : float, optional
        Centre to take deviations from (same unit as `values`); the median of `values` by default.

    Returns
    -------
    float
        Robust SD in the unit of `values`; 0 when no finite value is given.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0
    c = float(np.median(v)) if center is None else float(center)
    return MAD_TO_SIGMA * float(np.median(np.abs(v - c)))


@dataclass(frozen=True)
class Sphere:
    """A sphere in patient space.

    Attributes
    ----------
    center_lps : ndarray, shape (3,)
        Centre, LPS mm.
    radius_mm : float
        Radius, mm.
    rms_mm : float
        Root-mean-square radial residual (mm) of the points the sphere was fitted to (inliers only).
    inlier_fraction : float
        Fraction (by weight) of the input points kept by the fit (1 for a plain fit).
    inliers : ndarray of bool, optional
        Which input points were kept (robust fits only).
    """

    center_lps: np.ndarray
    radius_mm: float
    rms_mm: float
    inlier_fraction: float = 1.0
    inliers: np.ndarray | None = field(default=None, repr=False, compare=False)

    def radial_residuals(self, points_lps: np.ndarray) -> np.ndarray:
        """Signed distance (mm) of points from the sphere, negative inside.

        Parameters
        ----------
        points_lps : ndarray, shape (..., 3)
            Points, LPS mm.

        Returns
        -------
        ndarray, shape (...)
            Distance from the centre minus the radius, mm.
        """
        return np.linalg.norm(np.asarray(points_lps, float) - self.center_lps, axis=-1) - self.radius_mm


def _check_points(points_lps) -> np.ndarray:
    pts = np.asarray(points_lps, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise MeasurementError(f"sphere fit needs an (n, 3) array of points, got shape {pts.shape}")
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 4:
        raise MeasurementError(f"sphere fit needs at least 4 surface points, got {len(pts)}")
    return pts


def _weights(w, n: int) -> np.ndarray:
    return np.ones(n) if w is None else np.asarray(w, float)[:n]


def _algebraic_fit(pts: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Linear least squares of ``|p|^2 = 2 c.p + (R^2 - |c|^2)`` (Kasa fit), weighted."""
    mean = np.average(pts, axis=0, weights=w)
    q = pts - mean
    a = np.column_stack([2.0 * q, np.ones(len(q))])
    b = np.einsum("ij,ij->i", q, q)
    sw = np.sqrt(w)
    sol, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
    c = sol[:3]
    r2 = sol[3] + c @ c
    if not np.isfinite(r2) or r2 <= 0:
        raise MeasurementError("surface points are degenerate (coplanar or collinear); no sphere fits them")
    return c + mean, float(np.sqrt(r2))


def _geometric_fit(pts: np.ndarray, w: np.ndarray, c: np.ndarray, r: float,
                   iterations: int = 20) -> tuple[np.ndarray, float]:
    """Gauss-Newton minimisation of the weighted squared radial residuals ``|p - c| - R``."""
    for _ in range(iterations):
        v = pts - c
        dist = np.maximum(np.sqrt(np.einsum("ij,ij->i", v, v)), 1e-12)
        res = dist - r
        jac = np.empty((len(pts), 4))
        jac[:, :3] = -v / dist[:, None]
        jac[:, 3] = -1.0
        jw = jac * w[:, None]
        step = np.linalg.solve(jw.T @ jac, -(jw.T @ res))
        c = c + step[:3]
        r = r + float(step[3])
        if np.max(np.abs(step)) < 1e-6:
            break
    return c, r


def _weighted_rms(res: np.ndarray, w: np.ndarray) -> float:
    return float(np.sqrt(np.average(res**2, weights=w)))


def _solve(pts: np.ndarray, w: np.ndarray, c=None, r=None, iterations: int = 20) -> tuple[np.ndarray, float]:
    if c is None:
        c, r = _algebraic_fit(pts, w)
    try:
        c, r = _geometric_fit(pts, w, c, r, iterations)
    except np.linalg.LinAlgError as exc:
        raise MeasurementError(
            "surface points are degenerate (coplanar or collinear); no sphere fits them") from exc
    if not (np.all(np.isfinite(c)) and np.isfinite(r) and r > 0):
        raise MeasurementError("the sphere fit did not converge on these surface points")
    return c, float(r)


def fit_sphere(points_lps, weights=None) -> Sphere:
    """Least-squares sphere through points: algebraic fit refined geometrically.

    Parameters
    ----------
    points_lps : array_like, shape (n, 3)
        Surface points, LPS mm.
    weights : array_like, shape (n,), optional
        Non-negative weights (e.g. the surface area each point represents, mm^2).

    Returns
    -------
    Sphere
        Centre and radius minimising the sum of squared radial distances (mm).

    Raises
    ------
    MeasurementError
        Not an (n, 3) array, fewer than 4 finite points, degenerate points or no convergence.
    """
    pts = _check_points(points_lps)
    w = _weights(weights, len(pts))
    c, r = _solve(pts, w)
    res = np.linalg.norm(pts - c, axis=1) - r
    return Sphere(center_lps=c, radius_mm=r, rms_mm=_weighted_rms(res, w))


def robust_sphere(points_lps, weights=None, *, inward_sigma: float = 2.5, outward_sigma: float | None = None,
                  min_spread_mm: float = 0.06, start_outer_quantile: float | None = None,
                  max_iterations: int = 30, min_points: int = 4,
                  start: tuple[np.ndarray, float] | None = None) -> Sphere:
    """Sphere of the coherent outer points, trimming residuals by their robust spread.

    Points lying inside the current sphere by more than ``inward_sigma`` robust standard deviations
    (:func:`robust_scale` of the inliers' residuals, at least ``min_spread_mm``) are trimmed, and with
    ``outward_sigma`` also those outside by more than that many; the fit is repeated until the inlier
    set no longer changes. Trimming is one-sided by default because collapse only moves the articular
    surface inward.

    Parameters
    ----------
    points_lps : array_like, shape (n, 3)
        Surface points, LPS mm.
    weights : array_like, shape (n,), optional
        Non-negative weights (area each point represents, mm^2).
    inward_sigma, outward_sigma : float
        Trimming limits in robust standard deviations (``outward_sigma`` None: no outward trim).
    min_spread_mm : float
        Floor of the robust spread (mm), so noise-free surfaces are not trimmed to nothing.
    start_outer_quantile : float, optional
        Start from the outer share of radial residuals (e.g. 0.6): edges a ray meets too early (a
        lesion's band, a depressed segment) lie inside the head's sphere and should not seed the fit.
    max_iterations : int
        Upper bound on refits.
    min_points : int
        The trimming stops before leaving fewer points than this.
    start : (ndarray (3,), float), optional
        An independent estimate of the sphere (centre LPS mm, radius mm) to start the trimming from
        instead of a fit to all points: a cluster of stray points (edges met beyond the surface over
        one region) pulls a first fit toward it, and then survives the trimming.

    Returns
    -------
    Sphere
        With ``inliers``, ``inlier_fraction`` (by weight) and ``rms_mm`` over the inliers.

    Raises
    ------
    MeasurementError
        Not an (n, 3) array, fewer than 4 finite points, degenerate points or no convergence.
    """
    pts = _check_points(points_lps)
    w = _weights(weights, len(pts))
    keep = np.ones(len(pts), bool)
    if start is not None:
        c, r = np.asarray(start[0], float), float(start[1])
        res = np.linalg.norm(pts - c, axis=1) - r
        med = float(np.median(res))
        spread = max(robust_scale(res, med), min_spread_mm)
        keep = res >= med - inward_sigma * spread
        if outward_sigma is not None:
            keep &= res <= med + outward_sigma * spread
        if np.count_nonzero(keep) < min_points:
            keep = np.ones(len(pts), bool)
        c, r = _solve(pts[keep], w[keep])
    else:
        c, r = _solve(pts, w)
    if start_outer_quantile is not None and start is None:
        for _ in range(4):
            res = np.linalg.norm(pts - c, axis=1) - r
            keep = (res >= np.quantile(res, 1.0 - start_outer_quantile)) & (res <= np.quantile(res, 0.98))
            c, r = _solve(pts[keep], w[keep])
    for _ in range(max_iterations):
        res = np.linalg.norm(pts - c, axis=1) - r
        med = float(np.median(res[keep]))
        spread = max(robust_scale(res[keep], med), min_spread_mm)
        new_keep = res >= med - inward_sigma * spread
        if outward_sigma is not None:
            new_keep &= res <= med + outward_sigma * spread
        if np.count_nonzero(new_keep) < min_points or np.array_equal(new_keep, keep):
            break
        keep = new_keep
        c, r = _geometric_fit(pts[keep], w[keep], c, r, iterations=5)
    c, r = _solve(pts[keep], w[keep], c, r)
    res = np.linalg.norm(pts[keep] - c, axis=1) - r
    return Sphere(center_lps=c, radius_mm=r, rms_mm=_weighted_rms(res, w[keep]),
                  inlier_fraction=float(np.sum(w[keep]) / np.sum(w)), inliers=keep)


def sphere_through(points_lps) -> tuple[np.ndarray, float] | None:
    """Centre and radius of the sphere through 4 points (or the circle's sphere through 3, centred in
    their plane); None when they are degenerate.

    Parameters
    ----------
    points_lps : array_like, shape (3, 3) or (4, 3)
        Points, LPS mm (with more than 4, the first 4 are used).

    Returns
    -------
    tuple of (ndarray, shape (3,), float) or None
        Centre (LPS mm) and radius (mm); None for collinear or coplanar points.
    """
    q = np.asarray(points_lps, float)
    try:
        if len(q) == 3:
            a, b = q[1] - q[0], q[2] - q[0]
            n = np.cross(a, b)
            if np.linalg.norm(n) < 1e-9:
                return None
            m = np.array([a, b, n])
            rhs = np.array([0.5 * a @ a, 0.5 * b @ b, 0.0])
            c = q[0] + np.linalg.solve(m, rhs)
        else:
            c = np.linalg.solve(2 * (q[1:4] - q[0]), np.sum(q[1:4] ** 2 - q[0] ** 2, axis=1))
    except np.linalg.LinAlgError:
        return None
    return c, float(np.linalg.norm(q[0] - c))


def ransac_sphere(points: np.ndarray, ray: np.ndarray, radius_range: tuple[float, float], tol_mm: float,
                  rng: np.random.Generator, *, near_mm: tuple[np.ndarray, float] | None = None,
                  iterations: int = 300) -> tuple[np.ndarray | None, float, np.ndarray]:
    """Sphere supported by the most rays (a ray supports it if any of its edges lies within ``tol_mm``).

    Parameters
    ----------
    points : ndarray, shape (n, 3)
        Candidate edge points, LPS mm; several may belong to one ray.
    ray : ndarray of int, shape (n,)
        Which ray each point lies on.
    radius_range : (float, float)
        Accepted radii (mm).
    tol_mm : float
        Distance (mm) within which an edge supports a sphere.
    rng : numpy Generator
    near_mm : (point, distance), optional
        Keep the centre within ``distance`` mm of ``point``.

    Returns
    -------
    (centre, radius, ids of the supporting rays)
        The centre is None when nothing fits.
    """
    none = (None, 0.0, np.zeros(0, int))
    if len(points) < 4:
        return none

    def supporters(c: np.ndarray, r: float) -> np.ndarray:
        return np.abs(np.linalg.norm(points - c, axis=1) - r) < tol_mm

    best, best_support = None, -1
    for _ in range(iterations):
        found = sphere_through(points[rng.choice(len(points), 4, replace=False)])
        if found is None:
            continue
        c, r = found
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

"""Sphere fits to surface points: plain least squares and the robust reference-sphere fit.

The reference sphere of a femoral head is fitted to its *intact* articular surface. Collapse only
ever moves the surface inward, so the robust fit trims one-sidedly: points lying inside the current
sphere by more than a threshold scaled from the robust spread of the residuals are dropped, and the
fit is repeated until the set of inliers stops changing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.errors import MeasurementError

MAD_TO_SIGMA = 1.4826


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
        Fraction of the input points kept by the fit (1 for a plain fit).
    """

    center_lps: np.ndarray
    radius_mm: float
    rms_mm: float
    inlier_fraction: float = 1.0

    def radial_residuals(self, points_lps: np.ndarray) -> np.ndarray:
        """Signed distance (mm) of points from the sphere, negative inside."""
        return np.linalg.norm(np.asarray(points_lps, float) - self.center_lps, axis=1) - self.radius_mm


def _check_points(points_lps) -> np.ndarray:
    pts = np.asarray(points_lps, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise MeasurementError(f"sphere fit needs an (n, 3) array of points, got shape {pts.shape}")
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 4:
        raise MeasurementError(f"sphere fit needs at least 4 surface points, got {len(pts)}")
    return pts


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
    """
    pts = _check_points(points_lps)
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, float)[: len(pts)]
    c, r = _algebraic_fit(pts, w)
    try:
        c, r = _geometric_fit(pts, w, c, r)
    except np.linalg.LinAlgError as exc:
        raise MeasurementError(
            "surface points are degenerate (coplanar or collinear); no sphere fits them") from exc
    if not (np.all(np.isfinite(c)) and np.isfinite(r) and r > 0):
        raise MeasurementError("the sphere fit did not converge on these surface points")
    res = np.linalg.norm(pts - c, axis=1) - r
    return Sphere(center_lps=c, radius_mm=float(r), rms_mm=_weighted_rms(res, w))


def fit_reference_sphere(points_lps, weights=None, *, inward_threshold_sigma: float = 2.5,
                         min_threshold_mm: float = 0.15, max_iterations: int = 30) -> Sphere:
    """Sphere of the intact surface, ignoring inward (depressed) segments.

    Points lying inside the current sphere by more than
    ``max(inward_threshold_sigma * 1.4826 * MAD(residuals), min_threshold_mm)`` are trimmed and the
    fit is repeated on the remaining points until the inlier set no longer changes. Trimming is
    one-sided because collapse only moves the articular surface inward.

    Parameters
    ----------
    points_lps : array_like, shape (n, 3)
        Surface points, LPS mm (e.g. vertices of the articular surface).
    weights : array_like, shape (n,), optional
        Non-negative weights (area each point represents, mm^2).
    inward_threshold_sigma : float
        Trimming threshold in robust standard deviations of the radial residuals of the inliers.
    min_threshold_mm : float
        Lower bound of the threshold (mm), so that noise-free surfaces are not trimmed to nothing.
    max_iterations : int
        Upper bound on refits.

    Returns
    -------
    Sphere
        With ``inlier_fraction`` the share of points kept and ``rms_mm`` over the inliers.
    """
    pts = _check_points(points_lps)
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, float)[: len(pts)]
    sphere = fit_sphere(pts, w)
    c, r = sphere.center_lps, sphere.radius_mm
    keep = np.ones(len(pts), bool)
    for _ in range(max_iterations):
        res = np.linalg.norm(pts - c, axis=1) - r
        med = np.median(res[keep])
        spread = MAD_TO_SIGMA * np.median(np.abs(res[keep] - med))
        threshold = max(inward_threshold_sigma * spread, min_threshold_mm)
        new_keep = res >= med - threshold
        if np.count_nonzero(new_keep) < 4:
            raise MeasurementError("too few surface points remain on the reference sphere")
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
        c, r = _geometric_fit(pts[keep], w[keep], c, r, iterations=5)
    try:
        c, r = _geometric_fit(pts[keep], w[keep], c, r)
    except np.linalg.LinAlgError as exc:
        raise MeasurementError("the inlier surface points are degenerate; no sphere fits them") from exc
    res = np.linalg.norm(pts[keep] - c, axis=1) - r
    return Sphere(center_lps=c, radius_mm=float(r), rms_mm=_weighted_rms(res, w[keep]),
                  inlier_fraction=float(np.sum(w[keep]) / np.sum(w)))

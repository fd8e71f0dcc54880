"""Vectors and signed distances for the analytic hip model: unit vectors, directions from a centre, and
signed distance functions (mm) of capsules, spheroids, ellipsoids and ellipses, vectorised over ``(N, 3)``
points. Exact for capsules; Quilez's gradient estimate ``k0 (k0 - 1) / k1`` for the ellipsoidal shapes."""

from __future__ import annotations

import numpy as np

__all__ = ["Vec3", "ellipsoid_sdf", "spheroid_sdf"]

Vec3 = tuple[float, float, float]


def _unit(v, name: str = "vector") -> np.ndarray:
    a = np.asarray(v, dtype=float).reshape(3)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"{name} must be a non-zero finite 3-vector, got {v!r}")
    return a / n


def _tuple(v) -> Vec3:
    a = np.asarray(v, dtype=float).reshape(3)
    return (float(a[0]), float(a[1]), float(a[2]))


def _angle(u: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle in radians between unit vectors ``u`` (N,3) and ``axis`` (3,)."""
    return np.arccos(np.clip(u @ axis, -1.0, 1.0))


def _norm(q: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", q, q))


def _directions(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = _norm(q)
    u = q / np.where(r > 0, r, 1.0)[..., None]
    u[r == 0] = (0.0, 0.0, 1.0)
    return r, u


def _capsule_sdf(p: np.ndarray, a: np.ndarray, axis: np.ndarray, length: float, radius: float) -> np.ndarray:
    q = p - a
    t = np.clip(q @ axis, 0.0, length)
    return _norm(q - t[:, None] * axis) - radius


def spheroid_sdf(q: np.ndarray, axis: np.ndarray, along: float, across: float) -> np.ndarray:
    """Approximate signed distance (mm) to a spheroid centred at the origin of ``q``.

    Quilez's estimate ``k0 (k0 - 1) / k1``; exact on the surface, within a few percent nearby.

    Parameters
    ----------
    q : ndarray, shape (N, 3)
        Points relative to the spheroid's centre, mm.
    axis : ndarray, shape (3,)
        Unit axis of revolution.
    along, across : float
        Semi-axes along and across ``axis``, mm.

    Returns
    -------
    ndarray, shape (N,)
        Negative inside, mm.
    """
    a = q @ axis
    b = np.sqrt(np.maximum(np.einsum("ij,ij->i", q, q) - a * a, 0.0))
    k0 = np.hypot(a / along, b / across)
    k1 = np.hypot(a / along**2, b / across**2)
    return np.where(k1 > 0, k0 * (k0 - 1.0) / np.where(k1 > 0, k1, 1.0), -min(along, across))


def ellipsoid_sdf(q: np.ndarray, semi_axes: np.ndarray) -> np.ndarray:
    """Approximate signed distance (mm) to an LPS-axis-aligned ellipsoid centred at the origin of ``q``.

    Parameters
    ----------
    q : ndarray, shape (N, 3)
        Points relative to the ellipsoid's centre, mm.
    semi_axes : ndarray, shape (3,)
        Semi-axes along L, P, S, mm.

    Returns
    -------
    ndarray, shape (N,)
        Negative inside, mm.
    """
    k0 = _norm(q / semi_axes)
    k1 = _norm(q / semi_axes**2)
    return np.where(k1 > 0, k0 * (k0 - 1.0) / np.where(k1 > 0, k1, 1.0), -float(np.min(semi_axes)))


def _ellipse_sdf(x: np.ndarray, y: np.ndarray, ax: float, ay: float) -> np.ndarray:
    """Approximate signed distance (mm) to the ellipse ``(x/ax)^2 + (y/ay)^2 = 1``."""
    k0 = np.sqrt((x / ax) ** 2 + (y / ay) ** 2)
    k1 = np.sqrt((x / ax**2) ** 2 + (y / ay**2) ** 2)
    return np.where(k1 > 0, k0 * (k0 - 1.0) / np.where(k1 > 0, k1, 1.0), -min(ax, ay))

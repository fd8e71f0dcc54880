"""Geometric primitives of the label-map anatomy: patient directions, unit vectors and frames, signed
distances (ellipsoid, capsule, smooth union) and spherical caps, in LPS millimetres over ``(N, 3)`` points."""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["ANTERIOR", "FAR_MM", "SUPERIOR", "Side", "cap_volume", "capsule_sdf", "dot", "ellipsoid_sdf", "lateral",
           "orthonormal_frame", "smooth_min", "unit"]

Side = Literal["left", "right"]

#: LPS unit vectors toward the head and toward the front of the patient.
SUPERIOR = np.array([0.0, 0.0, 1.0])
ANTERIOR = np.array([0.0, -1.0, 0.0])


def unit(v) -> np.ndarray:
    """``v`` scaled to length 1 (a 3-vector).

    Parameters
    ----------
    v : 3 floats
        A direction.

    Returns
    -------
    ndarray, shape (3,)

    Raises
    ------
    ValueError
        ``v`` is zero or not finite.
    """
    a = np.asarray(v, dtype=float).reshape(3)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"a direction must be a non-zero finite 3-vector, got {v!r}")
    return a / n


def lateral(side: Side) -> np.ndarray:
    """LPS unit vector pointing away from the midline for a hip of ``side``.

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.

    Returns
    -------
    ndarray, shape (3,)
        +x for the left hip, -x for the right.

    Raises
    ------
    ValueError
        ``side`` is neither.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])


def orthonormal_frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors completing ``axis`` to a right-handed orthonormal frame.

    Parameters
    ----------
    axis : ndarray, shape (3,)
        A unit vector.

    Returns
    -------
    e1, e2 : ndarray, shape (3,)
        ``(e1, e2, axis)`` is right-handed and orthonormal.
    """
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(helper, axis)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(axis, e1)


def _norm(q: np.ndarray) -> np.ndarray:
    return np.sqrt(q[:, 0] * q[:, 0] + q[:, 1] * q[:, 1] + q[:, 2] * q[:, 2])


def dot(q: np.ndarray, v) -> np.ndarray:
    """Row-wise dot product of points with one vector (a skinny matmul is slow in some BLAS builds).

    Parameters
    ----------
    q : ndarray, shape (N, 3)
        Points or vectors.
    v : 3 floats
        The vector.

    Returns
    -------
    ndarray, shape (N,)
    """
    return q[:, 0] * v[0] + q[:, 1] * v[1] + q[:, 2] * v[2]


def _angle_from(u: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return np.arccos(np.clip(dot(u, axis), -1.0, 1.0))


#: signed distance (mm) reported for points outside a primitive's bounding sphere (never the minimum)
FAR_MM = 1.0e3


def _within(p: np.ndarray, centre: np.ndarray, radius: float, fn) -> np.ndarray:
    """``fn(p)`` for the points within ``radius`` (mm) of ``centre``, :data:`FAR_MM` elsewhere."""
    sel = ((p[:, 0] - centre[0]) ** 2 + (p[:, 1] - centre[1]) ** 2
           + (p[:, 2] - centre[2]) ** 2) < radius * radius
    out = np.full(len(p), FAR_MM)
    if sel.any():
        out[sel] = fn(p[sel])
    return out


def smooth_min(a: np.ndarray, b: np.ndarray, k_mm: float) -> np.ndarray:
    """Polynomial smooth minimum of two signed distances (mm): a fillet of about ``k_mm``.

    Parameters
    ----------
    a, b : ndarray
        Signed distances, mm (same shapes).
    k_mm : float
        Width of the blend, mm; 0 or less gives the plain minimum.

    Returns
    -------
    ndarray
        The blended signed distance (the union of both shapes with a fillet), mm.
    """
    if k_mm <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k_mm, 0.0, 1.0)
    return b * (1 - h) + a * h - k_mm * h * (1 - h)


def ellipsoid_sdf(q: np.ndarray, axes: np.ndarray | None, semi: np.ndarray) -> np.ndarray:
    """Approximate signed distance (mm) to an ellipsoid at the origin of ``q``; exact on the surface.

    Parameters
    ----------
    q : ndarray, shape (N, 3)
        Points relative to the ellipsoid's centre, LPS mm.
    axes : ndarray, shape (3, 3), or None
        Orthonormal axes of the ellipsoid as columns; None: the LPS axes.
    semi : ndarray, shape (3,)
        Semi-axes along those axes, mm.

    Returns
    -------
    ndarray, shape (N,)
        Negative inside, mm.
    """
    local = q if axes is None else np.einsum("ij,jk->ik", q, axes)
    k0 = _norm(local / semi)
    k1 = _norm(local / semi**2)
    return np.where(k1 > 0, k0 * (k0 - 1.0) / np.where(k1 > 0, k1, 1.0), -float(np.min(semi)))


def capsule_sdf(p: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Signed distance (mm) to the capsule of ``radius`` around the segment ``a``-``b``.

    Parameters
    ----------
    p : ndarray, shape (N, 3)
        Points, LPS mm.
    a, b : ndarray, shape (3,)
        Ends of the segment, LPS mm.
    radius : float
        Capsule radius, mm.

    Returns
    -------
    ndarray, shape (N,)
        Negative inside, mm.
    """
    ab = b - a
    t = np.clip(dot(p - a, ab) / float(ab @ ab), 0.0, 1.0)
    return _norm(p - a - t[:, None] * ab) - radius


def cap_volume(rim_mm: float, sagitta_mm: float) -> float:
    """Signed volume (mm3) of a spherical cap of rim radius ``rim_mm`` and sagitta ``sagitta_mm``.

    Parameters
    ----------
    rim_mm : float
        Radius of the cap's rim circle, mm.
    sagitta_mm : float
        Height of the cap above the rim's plane, mm (negative: a cap the other way).

    Returns
    -------
    float
        mm3.
    """
    return float(np.pi * sagitta_mm * (3 * rim_mm**2 + sagitta_mm**2) / 6.0)


def _ray_sphere(u: np.ndarray, w: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances ``t_near, t_far`` (mm) along rays ``c + t u`` to the sphere of radius ``rho`` centred
    at ``c + w``, and where they meet it."""
    b = dot(u, w)
    disc = b * b - float(w @ w) + rho * rho
    hit = disc >= 0
    s = np.sqrt(np.where(hit, disc, 0.0))
    return b - s, b + s, hit

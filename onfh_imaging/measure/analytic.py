"""Analytic femoral-head masks with exact partial-volume fractions, for tests and benchmarks.

Shapes are given as signed distance bounds in LPS mm (negative inside, Lipschitz <= ~1), so a grid
is voxelised by sampling voxel centres and super-sampling only the voxels near the surface. The
fraction of a voxel inside a shape is estimated from ``n_i x n_j x n_k`` regularly spaced sub-samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onfh_imaging.geometry import Volume

SignedDistance = Callable[[np.ndarray], np.ndarray]


def grid_around(center_lps, shape_kji, spacing, direction=None) -> Volume:
    """An empty float32 volume of ``shape_kji`` voxels whose centre lies at ``center_lps``.

    Parameters
    ----------
    center_lps : sequence of 3 float
        LPS position (mm) of the grid centre.
    shape_kji : sequence of 3 int
        Array shape ``(nk, nj, ni)``.
    spacing : sequence of 3 float
        Voxel size (mm) along ``i, j, k``.
    direction : (3, 3) array, optional
        Direction cosines; identity when omitted.

    Returns
    -------
    Volume
        Zero-filled float32 volume of shape ``shape_kji``, its origin placed so that its centre
        voxel position is ``center_lps``.
    """
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    nk, nj, ni = shape_kji
    half = (np.array([ni, nj, nk], float) - 1.0) / 2.0
    origin = np.asarray(center_lps, float) - direction @ (half * np.asarray(spacing, float))
    return Volume(np.zeros(shape_kji, np.float32), spacing=spacing, origin=origin, direction=direction)


def oblique_direction(angles_deg=(12.0, -8.0, 20.0)) -> np.ndarray:
    """An orthonormal direction matrix from rotations about x, y, z (degrees, applied in that order).

    Parameters
    ----------
    angles_deg : sequence of 3 float
        Rotation angles about x, y and z, degrees.

    Returns
    -------
    ndarray, shape (3, 3)
        Rotation matrix ``Rz @ Ry @ Rx``.
    """
    ax, ay, az = np.radians(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def voxelise(grid: Volume, sdf: SignedDistance, *, supersample=(4, 4, 8), binary: bool = False) -> Volume:
    """Fraction of each voxel of ``grid`` inside the shape ``sdf(points_lps) <= 0``.

    Parameters
    ----------
    grid : Volume
        Target grid (its values are ignored).
    sdf : callable
        Signed distance bound in mm for LPS points of shape ``(n, 3)``.
    supersample : int or 3 ints
        Sub-samples per voxel along ``i, j, k``.
    binary : bool
        Return a bool mask (voxel centre inside) instead of fractions.

    Returns
    -------
    Volume
        ``grid`` with its array replaced by the fractions (float32, 0..1) or the bool mask.
    """
    centers = grid.voxel_centers_lps().reshape(-1, 3)
    d = sdf(centers)
    if binary:
        return grid.with_array((d <= 0).reshape(grid.shape))
    frac = (d <= 0).astype(np.float32)
    half_diag = 0.5 * float(np.linalg.norm(grid.spacing))
    band = np.flatnonzero(np.abs(d) <= 1.5 * half_diag + 0.5)
    n = np.broadcast_to(np.asarray(supersample, int), (3,))
    offs = [(np.arange(m) + 0.5) / m - 0.5 for m in n]
    sub = np.stack(np.meshgrid(*offs, indexing="ij"), axis=-1).reshape(-1, 3)
    step = grid.direction * np.asarray(grid.spacing)[None, :]
    sub_lps = sub @ step.T
    for chunk in np.array_split(band, max(1, band.size // 20000)):
        pts = centers[chunk, None, :] + sub_lps[None, :, :]
        inside = sdf(pts.reshape(-1, 3)).reshape(len(chunk), -1) <= 0
        frac[chunk] = inside.mean(axis=1)
    return grid.with_array(frac.reshape(grid.shape))


def sphere_sdf(center_lps, radius_mm: float) -> SignedDistance:
    """Signed distance (mm) to a sphere.

    Parameters
    ----------
    center_lps : sequence of 3 float
        Centre, LPS mm.
    radius_mm : float
        Radius, mm.

    Returns
    -------
    callable
        ``f(points_lps (..., 3)) -> (...)``: distance from the centre minus the radius, mm.
    """
    c = np.asarray(center_lps, float)
    return lambda p: np.linalg.norm(p - c, axis=-1) - radius_mm


def depression_profile(theta: np.ndarray, depth_mm: float, half_angle_deg: float) -> np.ndarray:
    """Radial inward displacement (mm) of a smooth depressed segment at angle ``theta`` (rad) from its axis.

    ``depth_mm * (1 - (theta/alpha)^2)^2`` inside the half-angle ``alpha``, zero outside: the
    deepest point is at the axis and the rim joins the sphere tangentially.

    Parameters
    ----------
    theta : ndarray
        Angle from the segment's axis, radians.
    depth_mm : float
        Depth at the axis, mm.
    half_angle_deg : float
        Half-angle ``alpha`` of the segment, degrees.

    Returns
    -------
    ndarray
        Inward displacement, mm, same shape as ``theta``.
    """
    a = np.radians(half_angle_deg)
    t = np.clip(theta / a, 0.0, 1.0)
    return depth_mm * (1.0 - t**2) ** 2


def femoral_head_sdf(center_lps, radius_mm: float, *, collapse_depth_mm: float = 0.0,
                     collapse_direction_lps=(0.0, 0.0, 1.0), collapse_half_angle_deg: float = 35.0,
                     neck_axis_lps=None, neck_radius_mm: float | None = None,
                     neck_cut_angle_deg: float = 72.0) -> SignedDistance:
    """Signed distance bound (mm) of a femoral head: the femur inside its reference sphere.

    The articular surface is the sphere pushed inward by a smooth depressed segment (collapse). When
    ``neck_axis_lps`` is given, the femur beyond the head-neck junction is a cylinder of
    ``neck_radius_mm`` along that axis: the head is then the sphere cut by the plane at
    ``neck_cut_angle_deg`` from the axis, united with the cylinder, all inside the sphere.

    Parameters
    ----------
    center_lps : sequence of 3 float
        Sphere centre, LPS mm.
    radius_mm : float
        Sphere radius, mm.
    collapse_depth_mm : float
        Depth of the depressed segment at its axis, mm (0: intact sphere).
    collapse_direction_lps : sequence of 3 float
        Axis of the depressed segment (normalised here); superior by default.
    collapse_half_angle_deg : float
        Half-angle of the depressed segment, degrees.
    neck_axis_lps : sequence of 3 float, optional
        Direction from the centre toward the neck (normalised here); no neck cut when omitted.
    neck_radius_mm : float, optional
        Neck cylinder radius, mm; ``0.65 * radius_mm`` when omitted.
    neck_cut_angle_deg : float
        Angle (deg) from the neck axis of the head-neck cut plane.

    Returns
    -------
    callable
        ``f(points_lps (..., 3)) -> (...)``: signed distance bound, mm, negative inside.
    """
    c = np.asarray(center_lps, float)
    u = np.asarray(collapse_direction_lps, float)
    u = u / np.linalg.norm(u)

    def sdf(p: np.ndarray) -> np.ndarray:
        v = p - c
        r = np.linalg.norm(v, axis=-1)
        cos_t = np.clip((v @ u) / np.maximum(r, 1e-9), -1.0, 1.0)
        surface_r = radius_mm - depression_profile(np.arccos(cos_t), collapse_depth_mm,
                                                    collapse_half_angle_deg)
        d = r - surface_r
        if neck_axis_lps is None:
            return d
        n = np.asarray(neck_axis_lps, float)
        n = n / np.linalg.norm(n)
        axial = v @ n
        cut = axial - radius_mm * np.cos(np.radians(neck_cut_angle_deg))
        radial = np.linalg.norm(v - axial[..., None] * n, axis=-1)
        cylinder = radial - (neck_radius_mm if neck_radius_mm is not None else 0.65 * radius_mm)
        return np.maximum(d, np.minimum(cut, cylinder))

    return sdf


def spherical_cap_sdf(center_lps, radius_mm: float, direction_lps, half_angle_deg: float) -> SignedDistance:
    """Signed distance bound (mm) of the cap of a sphere cut off at ``half_angle_deg`` from its axis.

    Parameters
    ----------
    center_lps : sequence of 3 float
        Sphere centre, LPS mm.
    radius_mm : float
        Sphere radius, mm.
    direction_lps : sequence of 3 float
        Axis of the cap (normalised here).
    half_angle_deg : float
        Half-angle of the cap about its axis, degrees.

    Returns
    -------
    callable
        ``f(points_lps (..., 3)) -> (...)``: signed distance bound, mm, negative inside.
    """
    c = np.asarray(center_lps, float)
    u = np.asarray(direction_lps, float)
    u = u / np.linalg.norm(u)
    h = radius_mm * np.cos(np.radians(half_angle_deg))
    return lambda p: np.maximum(np.linalg.norm(p - c, axis=-1) - radius_mm, h - (p - c) @ u)


def spherical_cap_volume_ml(radius_mm: float, half_angle_deg: float) -> float:
    """Exact volume (mL) of a spherical cap of the given half-angle.

    Parameters
    ----------
    radius_mm : float
        Sphere radius, mm.
    half_angle_deg : float
        Half-angle of the cap about its axis, degrees.

    Returns
    -------
    float
        ``pi h^2 (3 R - h) / 3`` with cap height ``h = R (1 - cos alpha)``, mL.
    """
    h = radius_mm * (1.0 - np.cos(np.radians(half_angle_deg)))
    return float(np.pi * h * h * (3.0 * radius_mm - h) / 3.0 / 1000.0)

"""Radial sampling around a femoral head: direction grids, intensity profiles and star-shaped masks.

A femoral head is star-shaped seen from its centre, so its bone surface and its necrotic segment are
described by radii per direction. Directions live on a regular (polar, azimuth) grid whose pole is a
chosen axis (the femoral neck), which makes maps of radii cheap to interpolate anywhere and keeps the
grid's degenerate poles on the neck and the fovea, away from the weight-bearing dome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.geometry import Volume


def fibonacci_directions(n: int) -> np.ndarray:
    """``n`` nearly evenly spread unit vectors (Fibonacci lattice on the sphere).

    Parameters
    ----------
    n : int
        Number of directions.

    Returns
    -------
    ndarray, shape (n, 3)
        Unit vectors, in whatever frame the caller gives them (LPS in this package).
    """
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + 5 ** 0.5) * k
    rho = np.sqrt(1.0 - z * z)
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


def orthonormal_frame(axis: np.ndarray) -> np.ndarray:
    """A 3x3 rotation whose third column is ``axis`` (normalised); columns are LPS unit vectors.

    Parameters
    ----------
    axis : ndarray, shape (3,)
        Pole direction, LPS (any non-zero length).

    Returns
    -------
    ndarray, shape (3, 3)
        Orthonormal columns ``u, v, w`` with ``w`` the normalised axis.
    """
    w = np.asarray(axis, float)
    w = w / np.linalg.norm(w)
    helper = np.array([1.0, 0.0, 0.0]) if abs(w[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(helper, w)
    u /= np.linalg.norm(u)
    v = np.cross(w, u)
    return np.column_stack([u, v, w])


@dataclass(frozen=True)
class DirectionGrid:
    """Unit vectors on a (polar, azimuth) grid about a pole axis.

    Attributes
    ----------
    frame : ndarray, shape (3, 3)
        Rotation whose third column is the pole (LPS unit vector).
    polar_step_deg, azimuth_step_deg : float
        Grid steps (deg). Polar angles run 0..180 inclusive, azimuths 0..360 exclusive.
    """

    frame: np.ndarray
    polar_step_deg: float = 3.0
    azimuth_step_deg: float = 3.0

    @property
    def polar_deg(self) -> np.ndarray:
        """Polar angles of the grid rows (deg), 0..180 inclusive."""
        n = int(round(180.0 / self.polar_step_deg)) + 1
        return np.linspace(0.0, 180.0, n)

    @property
    def azimuth_deg(self) -> np.ndarray:
        """Azimuths of the grid columns (deg), 0..360 exclusive."""
        n = int(round(360.0 / self.azimuth_step_deg))
        return np.arange(n) * (360.0 / n)

    @property
    def shape(self) -> tuple[int, int]:
        """Grid shape ``(n_polar, n_azimuth)``."""
        return (len(self.polar_deg), len(self.azimuth_deg))

    def vectors(self) -> np.ndarray:
        """LPS unit vectors, shape ``(n_polar, n_azimuth, 3)``."""
        th = np.deg2rad(self.polar_deg)[:, None]
        ph = np.deg2rad(self.azimuth_deg)[None, :]
        local = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph),
                          np.cos(th) * np.ones_like(ph)], axis=-1)
        return local @ self.frame.T

    def solid_angle_weights(self) -> np.ndarray:
        """Solid angle (sr) each grid direction stands for, shape ``(n_polar, n_azimuth)``."""
        th = np.deg2rad(self.polar_deg)
        dth = np.deg2rad(self.polar_step_deg)
        band = np.clip(np.cos(np.maximum(th - dth / 2, 0)) - np.cos(np.minimum(th + dth / 2, np.pi)), 0, None)
        return np.repeat((band / self.shape[1])[:, None] * 2 * np.pi, self.shape[1], axis=1)

    def grid_coordinates(self, unit_lps: np.ndarray) -> np.ndarray:
        """Continuous (polar, azimuth) grid indices of LPS unit vectors.

        Parameters
        ----------
        unit_lps : ndarray, shape (..., 3)
            Unit vectors, LPS.

        Returns
        -------
        ndarray, shape (2, ...)
            Fractional polar row and azimuth column indices (azimuth in ``[0, n_azimuth)``).
        """
        local = np.asarray(unit_lps, float) @ self.frame
        th = np.degrees(np.arccos(np.clip(local[..., 2], -1.0, 1.0)))
        ph = np.degrees(np.arctan2(local[..., 1], local[..., 0])) % 360.0
        return np.stack([th / self.polar_step_deg, ph * self.shape[1] / 360.0])

    def interpolate(self, values: np.ndarray, unit_lps: np.ndarray) -> np.ndarray:
        """Bilinear interpolation of a map on the grid at arbitrary directions (azimuth wraps).

        Parameters
        ----------
        values : ndarray, shape ``self.shape``
            Map on the grid (e.g. radii, mm).
        unit_lps : ndarray, shape (..., 3)
            Directions to interpolate at, LPS unit vectors.

        Returns
        -------
        ndarray, shape (...)
            Interpolated values, in the unit of ``values``; clamped to the nearest row at the poles.
        """
        coords = self.grid_coordinates(unit_lps)
        wrapped = np.concatenate([values, values[:, :1]], axis=1)
        return ndimage.map_coordinates(wrapped, coords, order=1, mode="nearest")


def sample_volume(volume: Volume, array: np.ndarray, points_lps: np.ndarray) -> np.ndarray:
    """Trilinear samples of ``array`` (on ``volume``'s grid) at LPS points; edge-clamped.

    Parameters
    ----------
    volume : Volume
        Grid geometry of ``array``.
    array : ndarray, shape ``volume.shape`` (k, j, i)
        Values to sample.
    points_lps : ndarray, shape (..., 3)
        Sample points, LPS mm.

    Returns
    -------
    ndarray, shape (...)
        Sampled values; points outside the grid take the nearest edge value.
    """
    ijk = volume.lps_to_index(points_lps)
    coords = np.moveaxis(ijk[..., ::-1], -1, 0)
    return ndimage.map_coordinates(array, coords, order=1, mode="nearest")


def radial_profiles(volume: Volume, array: np.ndarray, center_lps: np.ndarray, directions: np.ndarray,
                    radii_mm: np.ndarray, *, return_inside: bool = False):
    """Intensities along rays from ``center_lps``: shape ``directions.shape[:-1] + (len(radii_mm),)``.

    Samples are trilinear and edge-clamped. With ``return_inside`` a boolean array of the same shape
    tells which samples lie within the field of view (half a voxel beyond the outer voxel centres).

    Parameters
    ----------
    volume : Volume
        Grid geometry of ``array``.
    array : ndarray, shape ``volume.shape`` (k, j, i)
        Values to sample.
    center_lps : ndarray, shape (3,)
        Origin of the rays, LPS mm.
    directions : ndarray, shape (..., 3)
        Ray directions, LPS unit vectors.
    radii_mm : ndarray, shape (R,)
        Distances from the centre at which to sample, mm.
    return_inside : bool
        Also return the in-field-of-view mask.

    Returns
    -------
    values : ndarray, shape ``directions.shape[:-1] + (R,)``
        Sampled intensities.
    inside : ndarray of bool, same shape
        Only with ``return_inside``: whether each sample lies within the field of view.
    """
    # The map from LPS to index is affine: step along the rays in index space directly.
    c_idx = volume.lps_to_index(np.asarray(center_lps, float))
    d_idx = np.asarray(directions, float) @ np.asarray(volume.direction) / np.asarray(volume.spacing)
    ijk = c_idx + d_idx[..., None, :] * np.asarray(radii_mm, float)[:, None]
    coords = np.moveaxis(ijk[..., ::-1], -1, 0)
    values = ndimage.map_coordinates(array, coords, order=1, mode="nearest")
    if not return_inside:
        return values
    size = np.asarray(volume.size, float)
    inside = np.all((ijk >= -0.5) & (ijk <= size - 0.5), axis=-1)
    return values, inside


def supersample_offsets(spacing: tuple[float, float, float], step_mm: float) -> np.ndarray:
    """Sub-voxel offsets (in index units, (i, j, k)) of a regular pattern filling a voxel.

    Parameters
    ----------
    spacing : tuple of float
        Voxel spacing (i, j, k), mm.
    step_mm : float
        Largest spacing between sub-samples, mm (at least one sample per axis).

    Returns
    -------
    ndarray, shape (M, 3)
        Offsets from the voxel centre, index units, each in ``(-0.5, 0.5)``.
    """
    axes = []
    for s in spacing:
        n = max(1, int(np.ceil(s / step_mm)))
        axes.append((np.arange(n) + 0.5) / n - 0.5)
    grid = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.reshape(-1) for g in grid], axis=-1)


def star_fraction(grid_volume: Volume, center_lps: np.ndarray, directions: DirectionGrid,
                  outer_mm: np.ndarray, inner_mm: np.ndarray | None = None, *,
                  supersample_mm: float = 0.35) -> np.ndarray:
    """Partial-volume fraction of each voxel lying in the star-shaped region ``inner(u) <= |x - c| < outer(u)``.

    Parameters
    ----------
    grid_volume : Volume
        The image grid (only its geometry is used).
    center_lps : ndarray, shape (3,)
        Centre the radii are measured from, LPS mm.
    directions : DirectionGrid
        Grid on which ``outer_mm`` and ``inner_mm`` are given.
    outer_mm, inner_mm : ndarray, shape ``directions.shape``
        Outer and (optional) inner radius (mm) per direction; ``inner >= outer`` means empty.
    supersample_mm : float
        Spacing (mm) of the sub-voxel samples used where the boundary passes through a voxel.

    Returns
    -------
    ndarray of float32, shape of the grid
        Fractions in [0, 1].
    """
    out = np.zeros(grid_volume.shape, np.float32)
    r_max = float(np.nanmax(outer_mm))
    c = np.asarray(center_lps, float)
    corners = np.array([[a, b, d] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)], float) * (r_max + 1.0)
    idx = grid_volume.lps_to_index(c + corners)
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 2, np.array(grid_volume.size))
    if np.any(hi <= lo):
        return out
    ii, jj, kk = (np.arange(lo[n], hi[n]) for n in range(3))
    k3, j3, i3 = np.meshgrid(kk, jj, ii, indexing="ij")
    ijk = np.stack([i3, j3, k3], axis=-1).reshape(-1, 3).astype(float)
    half_diag = 0.5 * float(np.linalg.norm(grid_volume.spacing))

    def inside(points_lps: np.ndarray) -> np.ndarray:
        d = points_lps - c
        rho = np.linalg.norm(d, axis=-1)
        u = d / np.maximum(rho, 1e-9)[..., None]
        ok = rho < directions.interpolate(outer_mm, u)
        if inner_mm is not None:
            ok &= rho >= directions.interpolate(inner_mm, u)
        return ok, rho, u

    centers = grid_volume.index_to_lps(ijk)
    ok, rho, u = inside(centers)
    r_out = directions.interpolate(outer_mm, u)
    near = np.abs(rho - r_out) < half_diag
    if inner_mm is not None:
        r_in = directions.interpolate(inner_mm, u)
        near |= (np.abs(rho - r_in) < half_diag) & (r_in < r_out)
    # Directions change quickly near the centre: always supersample there.
    near |= rho < 2 * half_diag
    frac = ok.astype(np.float32)
    if near.any():
        offs = supersample_offsets(grid_volume.spacing, supersample_mm)
        sub = ijk[near][:, None, :] + offs[None, :, :]
        sub_ok, _, _ = inside(grid_volume.index_to_lps(sub))
        frac[near] = sub_ok.mean(axis=1)
    out[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = frac.reshape(len(kk), len(jj), len(ii))
    return out

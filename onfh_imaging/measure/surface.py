"""Sub-voxel surface meshes of masks, and their volume, area and sphericity.

A mask on a (possibly thick-slice, oblique) image grid is turned into a smooth level function:
partial-volume fractions are used as they are (the 0.5 level is the surface); a binary mask is
replaced by its signed distance in mm, smoothed in-plane to remove the voxel staircase. The level
function is interpolated onto a grid refined along each index axis to at most ``max_step_mm`` (so the
direction matrix is respected exactly) and triangulated by marching cubes. Vertices are mapped to LPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage
from skimage.measure import marching_cubes

from onfh_imaging.errors import MeasurementError
from onfh_imaging.geometry import Volume


@dataclass(frozen=True, eq=False)
class SurfaceMesh:
    """A closed triangle mesh in patient space.

    Attributes
    ----------
    vertices_lps : ndarray, shape (n, 3)
        Vertex positions, LPS mm.
    faces : ndarray, shape (m, 3)
        Vertex indices of each triangle.
    """

    vertices_lps: np.ndarray
    faces: np.ndarray

    @cached_property
    def triangle_areas_mm2(self) -> np.ndarray:
        """Area (mm^2) of each triangle.

        Returns
        -------
        ndarray, shape (n_faces,)
            Triangle areas, mm^2.
        """
        return _triangle_areas(self.vertices_lps, self.faces)

    def vertex_areas_mm2(self) -> np.ndarray:
        """Area (mm^2) each vertex represents: a third of the area of its adjacent triangles.

        Returns
        -------
        ndarray, shape (n_vertices,)
            Vertex areas, mm^2.
        """
        third = np.repeat(self.triangle_areas_mm2 / 3.0, 3)
        return np.bincount(self.faces.reshape(-1), weights=third, minlength=len(self.vertices_lps))


def is_fractional(mask: np.ndarray) -> bool:
    """True when a mask holds partial-volume fractions rather than 0/1 labels.

    Parameters
    ----------
    mask : ndarray
        Mask of any shape (bool, labels or fractions).

    Returns
    -------
    bool
        Whether any value lies strictly between 0 and 1 (False for a bool array).
    """
    if mask.dtype == bool:
        return False
    m = np.asarray(mask)
    return bool(np.any((m > 0.0) & (m < 1.0)))


def _fraction_level(frac: np.ndarray, spacing_kji: np.ndarray) -> np.ndarray:
    """Signed distance (mm, positive inside) reconstructed from partial-volume fractions.

    A partial voxel whose box straddles a locally planar surface with unit normal ``n`` holds a
    fraction that rises from 0 to 1 over the box's extent along ``n``, ``w = sum_a |n_a| h_a``; its
    centre therefore lies ``(f - 0.5) w`` inside the surface. Every other voxel takes the first-order
    extension ``d_p + n_p . (x - x_p)`` from its nearest partial voxel ``p``, bounded by its own
    all-in / all-out state. Unlike interpolating the clipped fractions directly, this keeps the
    surface where it is across thick slices, where a single slab holds the whole transition.
    """
    smooth = ndimage.gaussian_filter(frac, sigma=0.5, mode="nearest")
    grad = np.stack(np.gradient(smooth, *spacing_kji), axis=0)
    norm = np.linalg.norm(grad, axis=0)
    normal = grad / np.maximum(norm, 1e-12)[None]
    width = np.einsum("a...,a->...", np.abs(normal), spacing_kji)
    partial = (frac > 0.0) & (frac < 1.0) & (norm > 0)
    if not partial.any():
        return None
    _, nearest = ndimage.distance_transform_edt(~partial, sampling=spacing_kji, return_indices=True)
    idx = np.indices(frac.shape)
    offset = (idx - nearest) * spacing_kji[:, None, None, None]
    near = tuple(nearest)
    d_p = (frac[near] - 0.5) * width[near]
    level = d_p + np.einsum("a...,a...->...", normal[(slice(None),) + near], offset)
    half = 0.5 * width
    level = np.where(frac >= 1.0, np.maximum(level, half), level)
    level = np.where(frac <= 0.0, np.minimum(level, -half), level)
    return level.astype(np.float32)


def _level_function(arr: np.ndarray, spacing: np.ndarray, smooth_binary: bool) -> np.ndarray:
    """Float array positive inside, zero on the surface (signed distance in mm)."""
    spacing_kji = spacing[::-1].astype(float)
    if is_fractional(arr):
        level = _fraction_level(np.clip(arr.astype(np.float32), 0.0, 1.0), spacing_kji)
        if level is not None:
            return level
    inside = arr >= 0.5
    outside_d = ndimage.distance_transform_edt(~inside, sampling=spacing_kji)
    inside_d = ndimage.distance_transform_edt(inside, sampling=spacing_kji)
    # Adjacent inside/outside voxels get -h and +h, so the zero level falls midway between them.
    level = (inside_d - outside_d).astype(np.float32)
    if smooth_binary:
        in_plane = float(min(spacing[0], spacing[1]))
        sigma_mm = np.array([0.0, in_plane, in_plane])
        sigma_mm[0] = min(float(spacing[2]), in_plane) if spacing[2] <= 2 * in_plane else 0.0
        level = ndimage.gaussian_filter(level, sigma=sigma_mm / spacing_kji, mode="nearest", truncate=3.0)
    return level


def _refine(level: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Linear interpolation of ``level`` onto a grid ``factors`` times finer along each array axis."""
    out = level
    for axis, f in enumerate(factors):
        if f == 1 or out.shape[axis] < 2:
            continue
        n = out.shape[axis]
        t = np.arange((n - 1) * f + 1) / f
        lo = np.minimum(np.floor(t).astype(int), n - 2)
        frac = (t - lo).astype(np.float32)
        a = np.take(out, lo, axis=axis)
        b = np.take(out, lo + 1, axis=axis)
        shape = [1, 1, 1]
        shape[axis] = -1
        out = a + (b - a) * frac.reshape(shape)
    return out


def _triangle_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v0 = vertices[faces[:, 0]]
    a = vertices[faces[:, 1]] - v0
    b = vertices[faces[:, 2]] - v0
    cx = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    cy = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    cz = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return 0.5 * np.sqrt(cx * cx + cy * cy + cz * cz)


def mask_bounding_box(mask: np.ndarray, margin: int = 2) -> tuple[slice, slice, slice] | None:
    """Array slices around the voxels of ``mask`` above 0, grown by ``margin``; None when no voxel is
    at least half inside.

    Parameters
    ----------
    mask : ndarray, shape (I, J, K)
        Labels or partial-volume fractions.
    margin : int
        Voxels added on each side, clipped to the grid.

    Returns
    -------
    tuple of 3 slice or None
        The box, one slice per array axis; None when no voxel reaches 0.5.
    """
    inside = np.asarray(mask) >= 0.5
    if not inside.any():
        return None
    present = np.asarray(mask) > 0
    lo, hi = [], []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(present.any(axis=other))
        lo.append(max(int(idx[0]) - margin, 0))
        hi.append(min(int(idx[-1]) + margin + 1, mask.shape[axis]))
    return tuple(slice(a, b) for a, b in zip(lo, hi))  # type: ignore[return-value]


def touches_border(mask: np.ndarray) -> bool:
    """True when any voxel on the outer faces of the grid is inside the mask (>= 0.5).

    Parameters
    ----------
    mask : ndarray, shape (I, J, K)
        Labels or partial-volume fractions.

    Returns
    -------
    bool
        Whether a voxel on one of the grid's six faces is at least half inside.
    """
    m = np.asarray(mask) >= 0.5
    return bool(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()
                or m[:, :, 0].any() or m[:, :, -1].any())


def head_surface_mesh(mask: Volume, *, max_step_mm: float = 0.5, smooth_binary: bool = True,
                      taubin_iterations: int = 0) -> SurfaceMesh:
    """Sub-voxel triangle mesh of a mask's boundary in LPS mm.

    Parameters
    ----------
    mask : Volume
        Bool or 0/1 labels, or partial-volume fractions in [0, 1] (>= 0.5 is inside).
    max_step_mm : float
        Largest spacing (mm) of the refined grid the surface is extracted on.
    smooth_binary : bool
        Smooth the signed distance of a binary mask in-plane to remove the voxel staircase.
    taubin_iterations : int
        Optional volume-preserving Taubin smoothing passes applied to the mesh.

    Returns
    -------
    SurfaceMesh
        Closed mesh (the grid is padded so the surface never stops at the array border).

    Raises
    ------
    MeasurementError
        If the mask is empty.
    """
    arr = np.asarray(mask.array)
    box = mask_bounding_box(arr, margin=2)
    if box is None:
        raise MeasurementError("the mask is empty: no voxel is at least half inside")
    spacing = np.asarray(mask.spacing, float)
    crop = arr[box]
    if crop.dtype == bool:
        crop = crop.astype(np.uint8)
    crop = np.pad(crop, 1, mode="constant", constant_values=0)
    offset_kji = np.array([s.start for s in box], float) - 1.0
    level = _level_function(crop, spacing, smooth_binary)
    factors = tuple(int(np.ceil(s / max_step_mm - 1e-9)) for s in spacing[::-1])
    fine = _refine(level, factors)
    try:
        verts, faces, _, _ = marching_cubes(fine, level=0.0, allow_degenerate=False)
    except (ValueError, RuntimeError) as exc:
        raise MeasurementError(f"no surface could be extracted from the mask ({exc})") from exc
    kji = verts / np.asarray(factors, float)[None, :] + offset_kji[None, :]
    vertices = mask.index_to_lps(kji[:, ::-1])
    mesh = SurfaceMesh(vertices_lps=vertices, faces=faces.astype(np.int64))
    if taubin_iterations:
        mesh = taubin_smooth(mesh, iterations=taubin_iterations)
    return mesh


def taubin_smooth(mesh: SurfaceMesh, iterations: int = 5, lam: float = 0.5, mu: float = -0.53) -> SurfaceMesh:
    """Taubin lambda/mu smoothing (umbrella operator), which smooths without shrinking the mesh.

    Parameters
    ----------
    mesh : SurfaceMesh
        Mesh to smooth (LPS mm).
    iterations : int
        Number of lambda/mu step pairs.
    lam, mu : float
        Shrinking (> 0) and inflating (< 0) step factors, dimensionless.

    Returns
    -------
    SurfaceMesh
        New mesh with moved vertices (LPS mm) and the same faces.
    """
    from scipy import sparse

    n = len(mesh.vertices_lps)
    f = mesh.faces
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    avg = sparse.diags(1.0 / np.maximum(deg, 1)) @ adj
    v = mesh.vertices_lps.copy()
    for _ in range(iterations):
        v = v + lam * (avg @ v - v)
        v = v + mu * (avg @ v - v)
    return SurfaceMesh(vertices_lps=v, faces=mesh.faces)


def mesh_volume_ml(mesh: SurfaceMesh) -> float:
    """Enclosed volume (mL) of a closed mesh, from the divergence theorem.

    Parameters
    ----------
    mesh : SurfaceMesh
        Closed mesh, LPS mm.

    Returns
    -------
    float
        Absolute enclosed volume, mL.
    """
    v = mesh.vertices_lps
    f = mesh.faces
    signed = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0
    return abs(float(signed)) / 1000.0


def mesh_area_mm2(mesh: SurfaceMesh) -> float:
    """Surface area (mm^2) of a mesh.

    Parameters
    ----------
    mesh : SurfaceMesh
        Mesh, LPS mm.

    Returns
    -------
    float
        Sum of its triangle areas, mm^2.
    """
    return float(mesh.triangle_areas_mm2.sum())


def sphericity(mesh: SurfaceMesh) -> float:
    """Sphericity ``pi^(1/3) (6 V)^(2/3) / A`` of a closed mesh (1 for a sphere; pyradiomics' definition).

    Parameters
    ----------
    mesh : SurfaceMesh
        Closed mesh, LPS mm.

    Returns
    -------
    float
        Sphericity, dimensionless (at most 1 for a closed surface).

    Raises
    ------
    MeasurementError
        The mesh has no area.
    """
    volume_mm3 = mesh_volume_ml(mesh) * 1000.0
    area = mesh_area_mm2(mesh)
    if area <= 0:
        raise MeasurementError("the surface mesh has no area")
    return float(np.pi ** (1.0 / 3.0) * (6.0 * volume_mm3) ** (2.0 / 3.0) / area)

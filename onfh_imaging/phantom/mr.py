"""Render a hip model as a thick-slice MR series (coronal T1 or STIR) with realistic imperfections.

The signal of each voxel is the mean tissue signal over its slice profile: voxels within reach of a
tissue interface are supersampled in-plane and through the slice thickness, the rest take the signal
at their centre. A smooth multiplicative bias field and Rician noise (the magnitude of complex
Gaussian noise) follow. Intensities are relative to fatty marrow on T1 (1.0) times
``intensity_scale``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from onfh_imaging.geometry import Volume
from onfh_imaging.phantom.model import CULL_MM, TISSUES, HipModel, PelvisModel

Sequence = Literal["T1", "STIR"]

#: Relative signal of each tissue (fatty marrow on T1 = 1).
TISSUE_SIGNAL: dict[str, dict[str, float]] = {
    "T1": {"air": 0.0, "fat": 1.05, "muscle": 0.33, "cortex": 0.04, "marrow": 1.0, "cartilage": 0.45,
           "joint_fluid": 0.18, "acetabular_cartilage": 0.45, "pelvic_marrow": 0.82, "lesion_fatty": 0.9,
           "lesion_fluid": 0.22, "lesion_band": 0.1, "bladder": 0.12},
    "STIR": {"air": 0.0, "fat": 0.08, "muscle": 0.28, "cortex": 0.03, "marrow": 0.12, "cartilage": 0.38,
             "joint_fluid": 0.95, "acetabular_cartilage": 0.38, "pelvic_marrow": 0.2, "lesion_fatty": 0.16,
             "lesion_fluid": 0.8, "lesion_band": 0.55, "bladder": 1.0},
}


def _signal_lut(sequence: str) -> np.ndarray:
    if sequence not in TISSUE_SIGNAL:
        raise ValueError(f"sequence must be one of {sorted(TISSUE_SIGNAL)}, got {sequence!r}")
    lut = np.zeros(max(TISSUES.values()) + 1)
    for name, value in TISSUE_SIGNAL[sequence].items():
        lut[TISSUES[name]] = value
    return lut


def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    a = np.radians(deg)
    k = axis / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def coronal_grid(center_lps, *, in_plane_mm: float = 0.7, slice_mm: float = 4.0, gap_mm: float = 0.0,
                 matrix: tuple[int, int] = (256, 256), n_slices: int = 24,
                 oblique_deg: tuple[float, float] = (0.0, 0.0)) -> Volume:
    """An empty coronal (optionally oblique) slice grid centred on ``center_lps``.

    Columns (``i``) run from the patient's right to left (+x), rows (``j``) from superior to inferior
    (-z), slices (``k``) from anterior to posterior (+y): a right-handed grid, as DICOM stores it.

    Parameters
    ----------
    center_lps : 3 floats
        Centre of the field of view, LPS mm.
    in_plane_mm : float
        Pixel size, mm.
    slice_mm, gap_mm : float
        Slice thickness and gap between slices, mm.
    matrix : (int, int)
        Rows and columns.
    n_slices : int
        Number of slices.
    oblique_deg : (float, float)
        ``(a, b)`` rotates the grid about ``center_lps``, first by ``b`` degrees about the left-right
        axis (tilting the slices), then by ``a`` degrees about the superior axis (coronal oblique, e.g.
        parallel to the femoral neck).

    Returns
    -------
    Volume
        A uint8 zero array of shape ``(n_slices, rows, columns)`` carrying the grid geometry;
        ``spacing[2]`` is the slice pitch ``slice_mm + gap_mm``.

    Raises
    ------
    ValueError
        A non-positive size, count, pixel size or thickness, or a negative gap.
    """
    rows, cols = (int(v) for v in matrix)
    if min(rows, cols, n_slices) < 1 or in_plane_mm <= 0 or slice_mm <= 0 or gap_mm < 0:
        raise ValueError("matrix, slice count, pixel size and slice thickness must be positive")
    base = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns: i, j, k
    rot = _rotation(np.array([0.0, 0.0, 1.0]), oblique_deg[0]) @ _rotation(np.array([1.0, 0.0, 0.0]),
                                                                          oblique_deg[1])
    direction = rot @ base
    spacing = np.array([in_plane_mm, in_plane_mm, slice_mm + gap_mm])
    half = spacing * (np.array([cols, rows, n_slices]) - 1) / 2.0
    origin = np.asarray(center_lps, dtype=float) - direction @ half
    return Volume(np.zeros((n_slices, rows, cols), dtype=np.uint8), spacing, origin, direction)


def default_center(model: PelvisModel | HipModel) -> np.ndarray:
    """Field-of-view centre: the mean head centre, raised by half a head radius to include the roof.

    Parameters
    ----------
    model : PelvisModel or HipModel
        The phantom.

    Returns
    -------
    ndarray, shape (3,)
        LPS mm.
    """
    hips = model.hips if isinstance(model, PelvisModel) else (model,)
    c = np.mean([h.center for h in hips], axis=0)
    return c + np.array([0.0, 0.0, 0.5 * np.mean([h.head_radius_mm for h in hips])])


def _labels(model: PelvisModel | HipModel, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(model, PelvisModel):
        return model.tissue_labels(pts)
    label, dist = model.tissue_labels(pts)
    label = label.copy()
    label[label < 0] = TISSUES["muscle"]
    return label, dist


def bias_field(grid: Volume, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field ``exp(strength * f)`` with ``|f| <= 1`` varying over the FOV.

    ``f`` is a sum of a few random plane waves with wavelengths of one to two fields of view,
    like the receive-coil sensitivity of a phased array.

    Parameters
    ----------
    grid : Volume
        The image grid.
    strength : float
        Amplitude of ``f`` in the exponent (0: no bias; 0.15: about +-15 %).
    rng : numpy.random.Generator
        Draws the waves.

    Returns
    -------
    ndarray, shape grid.shape
        The field, positive.
    """
    if strength == 0:
        return np.ones(grid.shape)
    nk, nj, ni = grid.shape
    steps = grid.direction * np.asarray(grid.spacing)[None, :]  # LPS mm per index step, columns i, j, k
    center = np.asarray(grid.index_to_lps((np.array(grid.size) - 1) / 2.0))
    extent = float(np.max(np.asarray(grid.spacing) * np.array(grid.size)))
    f = np.zeros(grid.shape)
    for _ in range(4):
        k = rng.normal(size=3)
        k *= 2 * np.pi / (extent * rng.uniform(1.0, 2.0) * np.linalg.norm(k))
        # k . (p - center) is separable over the index axes
        phase0 = k @ (np.asarray(grid.origin) - center) + rng.uniform(0, 2 * np.pi)
        a_i, a_j, a_k = (k @ steps[:, n] * np.arange(m) for n, m in enumerate((ni, nj, nk)))
        phase = a_k[:, None, None] + a_j[None, :, None] + a_i[None, None, :] + phase0
        f += rng.uniform(0.5, 1.0) * np.cos(phase)
    f /= np.abs(f).max() or 1.0
    return np.exp(strength * f)


_BLOCK = 4


def _index_to_lps(grid: Volume, ijk: np.ndarray) -> np.ndarray:
    """``grid.index_to_lps`` for (N, 3) indices, via einsum (a skinny matmul is slow in some BLAS)."""
    m = grid.direction * np.asarray(grid.spacing)[None, :]
    return np.einsum("ij,kj->ik", ijk, m) + np.asarray(grid.origin)


def _reach(in_plane_mm: float, thickness_mm: float) -> float:
    """Distance from a sample's centre beyond which no interface can cross its cell, with a margin
    for the approximate signed distances of the model."""
    return 1.15 * 0.5 * float(np.sqrt(2 * in_plane_mm**2 + thickness_mm**2)) + 0.15


def _evaluate(model, grid: Volume, ijk: np.ndarray, lut: np.ndarray, chunk: int):
    signal = np.empty(len(ijk))
    dist = np.empty(len(ijk))
    for start in range(0, len(ijk), chunk):
        sl = slice(start, start + chunk)
        label, dist[sl] = _labels(model, _index_to_lps(grid, ijk[sl]))
        signal[sl] = lut[label]
    return signal, dist


def _partial_volume_signal(model, grid: Volume, lut: np.ndarray, slice_mm: float, n_in: int, n_thru: int,
                           chunk: int) -> np.ndarray:
    """Mean tissue signal over each voxel's slice profile (a box of the slice thickness).

    Coarse to fine: blocks of pixels; for blocks near an interface, voxel centres; for voxels near an
    interface, ``n_thru`` sub-slabs through the slice; for sub-slabs near an interface,
    ``n_in x n_in`` points in-plane.
    """
    nk, nj, ni = grid.shape
    px = grid.spacing[0]
    # level 0: blocks of b x b pixels; a block far from every interface holds one tissue
    b = _BLOCK
    while b > 1 and _reach(b * px, slice_mm) > CULL_MM:
        b //= 2
    nbj, nbi = -(-nj // b), -(-ni // b)
    kk, bj, bi = np.meshgrid(np.arange(nk), np.arange(nbj), np.arange(nbi), indexing="ij")
    block_ijk = np.stack([bi.ravel() * b + (b - 1) / 2, bj.ravel() * b + (b - 1) / 2, kk.ravel()], axis=1)
    block_signal, block_dist = _evaluate(model, grid, block_ijk, lut, chunk)
    full = np.repeat(np.repeat(block_signal.reshape(nk, nbj, nbi), b, axis=1), b, axis=2)
    signal = np.ascontiguousarray(full[:, :nj, :ni]).reshape(-1)
    near = np.repeat(np.repeat((block_dist < _reach(b * px, slice_mm)).reshape(nk, nbj, nbi), b, axis=1),
                     b, axis=2)[:, :nj, :ni]
    kk, jj, ii = np.nonzero(near)
    ijk = np.stack([ii, jj, kk], axis=1).astype(float)
    flat = np.ravel_multi_index((kk, jj, ii), grid.shape)

    # level 1: voxel centres
    vox_signal, dist = _evaluate(model, grid, ijk, lut, chunk)
    signal[flat] = vox_signal
    sel = np.nonzero(dist < _reach(px, slice_mm))[0]
    voxels, ijk = flat[sel], ijk[sel]
    if voxels.size == 0:
        return signal.reshape(grid.shape)

    sub_mm = slice_mm / n_thru
    thru = ((np.arange(n_thru) + 0.5) / n_thru - 0.5) * slice_mm / grid.spacing[2]
    slab_ijk = (ijk[:, None, :] + np.stack([np.zeros(n_thru), np.zeros(n_thru), thru], axis=1)[None])
    slab_ijk = slab_ijk.reshape(-1, 3)
    slab_signal, slab_dist = _evaluate(model, grid, slab_ijk, lut, chunk)

    refine = np.nonzero(slab_dist < _reach(px, sub_mm))[0]
    if refine.size:
        s = (np.arange(n_in) + 0.5) / n_in - 0.5
        inplane = np.stack(np.meshgrid(s, s, indexing="ij"), axis=-1).reshape(-1, 2)
        offsets = np.column_stack([inplane, np.zeros(len(inplane))])
        per_chunk = max(1, chunk // len(offsets))
        for start in range(0, len(refine), per_chunk):
            idx = refine[start:start + per_chunk]
            pts = _index_to_lps(grid, (slab_ijk[idx][:, None, :] + offsets[None]).reshape(-1, 3))
            label, _ = _labels(model, pts)
            slab_signal[idx] = lut[label].reshape(len(idx), -1).mean(axis=1)
    signal[voxels] = slab_signal.reshape(len(voxels), n_thru).mean(axis=1)
    return signal.reshape(grid.shape)


def render_mr(model: PelvisModel | HipModel, *, in_plane_mm: float = 0.7, slice_mm: float = 4.0,
              gap_mm: float = 0.0, matrix: tuple[int, int] = (256, 256), n_slices: int = 24,
              plane: Literal["coronal"] = "coronal", oblique_deg: tuple[float, float] = (0.0, 0.0),
              sequence: Sequence = "T1", noise_sigma: float = 0.03, bias_strength: float = 0.15,
              intensity_scale: float = 1000.0, seed: int = 0, center_lps=None,
              supersample: tuple[int, int] = (2, 5), chunk: int = 300_000) -> Volume:
    """Render a coronal MR series of the model.

    Parameters
    ----------
    model : PelvisModel or HipModel
        The phantom.
    in_plane_mm : float
        Pixel size, mm.
    slice_mm, gap_mm : float
        Slice thickness and inter-slice gap, mm.
    matrix : (rows, columns)
        In-plane matrix.
    n_slices : int
        Number of slices.
    plane : "coronal"
        Slice plane (hip protocols are coronal; obliquity via ``oblique_deg``).
    oblique_deg : (float, float)
        Rotation of the grid about its centre, degrees (see :func:`coronal_grid`).
    sequence : {"T1", "STIR"}
        Contrast (see :data:`TISSUE_SIGNAL`).
    noise_sigma : float
        Standard deviation of each Gaussian noise channel as a fraction of ``intensity_scale``.
    bias_strength : float
        Amplitude of the log bias field (0 for none; 0.15 gives about +-15 %).
    intensity_scale : float
        Signal of T1 fatty marrow in scanner units.
    seed : int
        Seed of the bias field and the noise.
    center_lps : 3 floats, optional
        Centre of the field of view; defaults to :func:`default_center`.
    supersample : (int, int)
        Sub-samples per pixel edge in-plane and through the slice thickness near interfaces.

    Returns
    -------
    Volume
        int16 image on the coronal grid (non-negative values).
    """
    if plane != "coronal":
        raise ValueError(f"only coronal series are rendered, got plane={plane!r}")
    lut = _signal_lut(sequence)
    center = default_center(model) if center_lps is None else np.asarray(center_lps, dtype=float)
    grid = coronal_grid(center, in_plane_mm=in_plane_mm, slice_mm=slice_mm, gap_mm=gap_mm, matrix=matrix,
                        n_slices=n_slices, oblique_deg=oblique_deg)
    n_in, n_thru = (int(v) for v in supersample)

    signal = _partial_volume_signal(model, grid, lut, slice_mm, n_in, n_thru, chunk)
    rng = np.random.default_rng(seed)
    clean = signal * bias_field(grid, bias_strength, rng) * intensity_scale
    sigma = noise_sigma * intensity_scale
    real = clean + sigma * rng.standard_normal(clean.shape)
    noisy = np.hypot(real, sigma * rng.standard_normal(clean.shape))
    return grid.with_array(np.clip(np.rint(noisy), 0, np.iinfo(np.int16).max).astype(np.int16))


__all__ = ["TISSUE_SIGNAL", "bias_field", "coronal_grid", "default_center", "render_mr"]

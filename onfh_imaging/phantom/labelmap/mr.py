"""MR rendering of the label-map anatomy: thick coronal slices with a Gaussian slice profile.

Each voxel's signal is the tissue signal averaged over its point-spread function:

* through the slice, a Gaussian profile of FWHM equal to the slice thickness (truncated at
  +-``PROFILE_SUPPORT`` thicknesses and renormalised), sampled on planes shared by neighbouring slices;
* in-plane, the pixel's box (fine sub-samples near each hip, the pixel centre elsewhere) followed by a
  Gaussian blur of ``psf_fwhm_px`` pixels (the k-space window);
* then a receive-coil sensitivity (anterior and posterior arrays of loop elements, combined as root sum
  of squares) and Rician noise (the magnitude of complex Gaussian noise).

Tissue signals are drawn per study from physical ranges (:data:`T1_RANGE`, :data:`STIR_RANGE`), so
no two studies share intensities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

from onfh_imaging.geometry import Volume
from onfh_imaging.phantom.labelmap.anatomy import TISSUES, PelvisAnatomy

#: T1 signal of each tissue relative to subcutaneous fat (uniform ranges; spin-echo T1 at 1.5-3 T)
T1_RANGE: dict[str, tuple[float, float]] = {
    "air": (0.0, 0.0), "fat": (1.0, 1.0), "muscle": (0.25, 0.40), "femoral_cortex": (0.0, 0.06),
    "yellow_marrow": (0.82, 1.0), "red_marrow": (0.45, 0.70), "oedema": (0.50, 0.72),
    "femoral_cartilage": (0.30, 0.50), "joint_fluid": (0.10, 0.25), "acetabular_cartilage": (0.30, 0.50),
    "labrum": (0.03, 0.12), "pelvic_cortex": (0.0, 0.06), "pelvic_marrow": (0.60, 0.85),
    "lesion_fatty": (0.72, 0.95), "lesion_fluid": (0.15, 0.32), "lesion_band": (0.03, 0.15),
    "ligamentum_teres": (0.08, 0.22), "pulvinar_fat": (0.80, 1.0),
}
#: STIR signal of each tissue relative to joint fluid (fat nulled; oedema and fluid bright)
STIR_RANGE: dict[str, tuple[float, float]] = {
    "air": (0.0, 0.0), "fat": (0.03, 0.10), "muscle": (0.15, 0.30), "femoral_cortex": (0.0, 0.05),
    "yellow_marrow": (0.05, 0.12), "red_marrow": (0.15, 0.30), "oedema": (0.45, 0.80),
    "femoral_cartilage": (0.30, 0.50), "joint_fluid": (1.0, 1.0), "acetabular_cartilage": (0.30, 0.50),
    "labrum": (0.03, 0.12), "pelvic_cortex": (0.0, 0.05), "pelvic_marrow": (0.10, 0.25),
    "lesion_fatty": (0.10, 0.25), "lesion_fluid": (0.60, 0.90), "lesion_band": (0.30, 0.60),
    "ligamentum_teres": (0.15, 0.30), "pulvinar_fat": (0.05, 0.12),
}
#: reference signal in scanner units (T1 fat, STIR fluid), drawn per study
SCALE_RANGE = (400.0, 3000.0)
#: the slice profile is truncated this many slice thicknesses from the slice centre (2.6 sigma)
PROFILE_SUPPORT = 1.1
#: largest distance (mm) between fine samples near a hip: a third of a 1 mm cortex or plate
FINE_STEP_MM = 0.35
#: at most this many fine samples per pixel edge (coarse pixels, > 1.4 mm, are sampled every pixel / 4)
FINE_SUB_MAX = 4
#: largest distance (mm) between through-slice planes near a hip: an eighth of a 4 mm slice; the
#: Gaussian profile weights neighbouring planes smoothly, so surfaces are not quantised to planes
FINE_SLICE_STEP_MM = 0.5
#: largest distance (mm) between through-slice samples away from the hips (muscle, fat, pelvis)
COARSE_STEP_MM = 1.0
#: fine sampling reaches this far (mm) beyond the head's surface: joint, acetabulum, labrum, neck
FINE_MARGIN_MM = 20.0


@dataclass(frozen=True)
class Contrast:
    """Signal per tissue label of one series, and the noise level (scanner units).

    Attributes
    ----------
    name : str
        ``"T1"`` or ``"STIR"``.
    lut : ndarray
        Signal of each tissue label (:data:`~onfh_imaging.phantom.labelmap.anatomy.TISSUES` value as index),
        scanner units.
    scale : float
        Signal of the reference tissue (T1 fat, STIR fluid), scanner units.
    noise_sigma : float
        Standard deviation of each Gaussian noise channel, scanner units.
    """

    name: str
    lut: np.ndarray
    scale: float
    noise_sigma: float


def draw_contrast(name: str, rng: np.random.Generator, snr: float) -> Contrast:
    """Draw tissue signals of one contrast from their ranges (:data:`T1_RANGE`, :data:`STIR_RANGE`).

    Parameters
    ----------
    name : {"T1", "STIR"}
        The contrast.
    rng : numpy.random.Generator
        Draws the signals and the scale (:data:`SCALE_RANGE`).
    snr : float
        The reference tissue's signal over the noise standard deviation of one channel.

    Returns
    -------
    Contrast
    """
    ranges = {"T1": T1_RANGE, "STIR": STIR_RANGE}[name]
    lut = np.zeros(max(TISSUES.values()) + 1)
    for tissue, (lo, hi) in ranges.items():
        lut[TISSUES[tissue]] = rng.uniform(lo, hi)
    scale = rng.uniform(*SCALE_RANGE)
    return Contrast(name, lut * scale, scale, scale / snr)


def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    a = np.radians(deg)
    k = axis / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def coronal_grid(center_lps, *, in_plane_mm: float, pitch_mm: float, matrix: tuple[int, int], n_slices: int,
                 oblique_deg: tuple[float, float] = (0.0, 0.0)) -> Volume:
    """A coronal slice grid centred on ``center_lps``.

    Columns run from patient right to left, rows superior to inferior, slices anterior to posterior;
    tilted by ``oblique_deg[1]`` about the left-right axis, then turned by ``oblique_deg[0]`` about the
    superior axis.

    Parameters
    ----------
    center_lps : 3 floats
        Centre of the field of view, LPS mm.
    in_plane_mm : float
        Pixel size, mm.
    pitch_mm : float
        Distance between slice centres, mm.
    matrix : (int, int)
        Rows and columns.
    n_slices : int
        Number of slices.
    oblique_deg : (float, float)
        Rotations about the superior and the left-right axis, degrees.

    Returns
    -------
    Volume
        uint8 zeros of shape ``(n_slices, rows, columns)``, spacing ``(px, px, pitch)``.
    """
    rows, cols = (int(v) for v in matrix)
    base = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    direction = (_rotation(np.array([0.0, 0.0, 1.0]), oblique_deg[0])
                 @ _rotation(np.array([1.0, 0.0, 0.0]), oblique_deg[1]) @ base)
    spacing = np.array([in_plane_mm, in_plane_mm, pitch_mm])
    origin = np.asarray(center_lps, float) - direction @ (spacing * (np.array([cols, rows, n_slices]) - 1) / 2)
    return Volume(np.zeros((n_slices, rows, cols), np.uint8), spacing, origin, direction)


def _profile(thickness_mm: float, pitch_mm: float, step_target_mm: float) -> tuple[int, np.ndarray]:
    """Planes per slice pitch and the Gaussian weights of one slice's planes at offsets
    ``m / per_pitch`` slices, ``m = -half..half``."""
    per_pitch = max(1, int(np.ceil(pitch_mm / step_target_mm)))
    step = pitch_mm / per_pitch
    half = int(np.ceil(PROFILE_SUPPORT * thickness_mm / step))
    z = np.arange(-half, half + 1) * step
    sigma = thickness_mm / (2 * np.sqrt(2 * np.log(2)))
    w = np.exp(-0.5 * (z / sigma) ** 2)
    return per_pitch, w / w.sum()


def _plane_signal(anatomy: PelvisAnatomy, grid: Volume, luts: list[np.ndarray], z: float, js: slice,
                  is_: slice, need: np.ndarray, sub: int) -> list[np.ndarray]:
    """Mean signal over each needed pixel of the plane at slice index ``z`` (one array per contrast).

    Labels are evaluated at pixel centres; pixels whose 8 neighbours do not all share their label are
    resampled on ``sub`` x ``sub`` points (the box of the pixel), the others take their centre's tissue.
    """
    nj, ni = js.stop - js.start, is_.stop - is_.start
    jj, ii = np.nonzero(need)
    label = np.zeros((nj, ni), np.uint8)
    ijk = np.column_stack([ii + is_.start, jj + js.start, np.full(ii.size, z)]).astype(float)
    label[jj, ii] = anatomy.labels(grid.index_to_lps(ijk))
    planes = [lut[label] for lut in luts]
    if sub > 1:
        padded = np.pad(label, 1, mode="edge")
        mixed = np.zeros_like(need)
        for dj in (0, 1, 2):
            for di in (0, 1, 2):
                mixed |= padded[dj:dj + nj, di:di + ni] != label
        mj, mi = np.nonzero(mixed & need)
        if mj.size:
            frac = (np.arange(sub) + 0.5) / sub - 0.5
            fj, fi = np.meshgrid(frac, frac, indexing="ij")
            sub_ijk = np.stack([(mi[:, None] + is_.start + fi.ravel()[None, :]).ravel(),
                                (mj[:, None] + js.start + fj.ravel()[None, :]).ravel(),
                                np.full(mj.size * sub * sub, z)], axis=1)
            fine = anatomy.labels(grid.index_to_lps(sub_ijk)).reshape(mj.size, sub * sub)
            for plane, lut in zip(planes, luts):
                plane[mj, mi] = lut[fine].mean(axis=1)
    return planes


def _accumulate(anatomy: PelvisAnatomy, grid: Volume, luts: list[np.ndarray], out: list[np.ndarray],
                box: tuple[slice, slice, slice], sub: int, thickness_mm: float, step_target_mm: float,
                skip: list[tuple[slice, slice, slice]] = ()) -> None:
    """Sum the slice-profile-weighted signal of the planes through ``box`` (k, j, i slices of ``grid``)
    into ``out`` (one array of the box's shape per contrast); voxels inside a ``skip`` box are left out
    (they are rendered finely elsewhere)."""
    ks, js, is_ = box
    nj, ni = js.stop - js.start, is_.stop - is_.start
    per_pitch, weights = _profile(thickness_mm, grid.spacing[2], step_target_mm)
    half = (len(weights) - 1) // 2
    m_lo, m_hi = ks.start * per_pitch - half, (ks.stop - 1) * per_pitch + half
    for m in range(m_lo, m_hi + 1):
        slices = range(max(ks.start, int(np.ceil((m - half) / per_pitch))),
                       min(ks.stop - 1, int(np.floor((m + half) / per_pitch))) + 1)
        need = np.zeros((nj, ni), bool)
        for k in slices:
            free = np.ones((nj, ni), bool)
            for sk, sj, si in skip:
                if sk.start <= k < sk.stop:
                    free[sj.start - js.start:sj.stop - js.start, si.start - is_.start:si.stop - is_.start] = False
            need |= free
        if not need.any():
            continue
        planes = _plane_signal(anatomy, grid, luts, m / per_pitch, js, is_, need, sub)
        for k in slices:
            w = weights[m - k * per_pitch + half]
            for acc, s in zip(out, planes):
                acc[k - ks.start] += w * s


def _hip_boxes(anatomy: PelvisAnatomy, grid: Volume) -> list[tuple[slice, slice, slice]]:
    """Index boxes (k, j, i) of the grid around each head, out to :data:`FINE_MARGIN_MM`."""
    size = np.asarray(grid.size)
    boxes = []
    for hip in anatomy.hips:
        h = hip.radius_mm + FINE_MARGIN_MM
        corners = hip.c + h * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        idx = grid.lps_to_index(corners)
        lo = np.clip(np.floor(idx.min(axis=0)), 0, size).astype(int)
        hi = np.clip(np.ceil(idx.max(axis=0)) + 1, 0, size).astype(int)
        if np.all(hi > lo):
            boxes.append((slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])))
    return boxes


def coil_sensitivity(grid: Volume, anatomy: PelvisAnatomy, rng: np.random.Generator) -> np.ndarray:
    """Receive sensitivity of a torso array on the grid.

    Loops on the anterior and posterior body surface over the hips, each with the on-axis falloff of a
    loop of radius ``a`` (``(1 + (d / a)^2)^-1.5``), combined as root sum of squares; normalised to 1 at
    the mean head centre.

    Parameters
    ----------
    grid : Volume
        The image grid.
    anatomy : PelvisAnatomy
        Gives the body outline and the head centres.
    rng : numpy.random.Generator
        Jitters the element positions (8 mm) and radii (60-90 mm).

    Returns
    -------
    ndarray, shape grid.shape
        Relative sensitivity (1 at the mean head centre).
    """
    body = anatomy.body
    cx, cy = body.center_xy
    ax, ay = body.semi_axes_mm
    z0 = float(np.mean([h.c[2] for h in anatomy.hips]))
    elements = []
    for y in (cy - ay - 5.0, cy + ay + 5.0):
        for x in np.linspace(cx - 0.6 * ax, cx + 0.6 * ax, 4):
            for z in (z0 - 60.0, z0 + 60.0):
                elements.append((np.array([x, y, z]) + rng.normal(0, 8.0, 3), rng.uniform(60.0, 90.0)))
    nk, nj, ni = grid.shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(0, nj, 4), np.arange(0, ni, 4), indexing="ij")
    pts = grid.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3))

    def rss(p: np.ndarray) -> np.ndarray:
        total = np.zeros(len(p))
        for centre, a in elements:
            d2 = np.sum((p - centre) ** 2, axis=1)
            total += (1 + d2 / a**2) ** -3.0  # squared loop falloff, summed over elements
        return np.sqrt(total)

    coarse = rss(pts).reshape(k.shape)
    ref = float(rss(np.mean([h.c for h in anatomy.hips], axis=0)[None, :])[0])
    full = zoom(coarse / ref, (1, nj / coarse.shape[1], ni / coarse.shape[2]), order=1)
    return full[:, :nj, :ni]


def render_series(anatomy: PelvisAnatomy, grid: Volume, contrasts: list[Contrast], *, thickness_mm: float,
                  psf_fwhm_px: float, bias_strength: float, rng: np.random.Generator) -> list[Volume]:
    """Render the anatomy on ``grid`` in every contrast at once (the label map is evaluated once).

    Parameters
    ----------
    anatomy : PelvisAnatomy
        The label map.
    grid : Volume
        Slice grid (its ``spacing[2]`` is the slice pitch, thickness plus gap).
    contrasts : list of Contrast
        Tissue signals and noise of each series.
    thickness_mm : float
        Slice thickness: the FWHM of the Gaussian slice profile.
    psf_fwhm_px : float
        FWHM of the in-plane Gaussian blur, pixels (0 for none).
    bias_strength : float
        0: uniform receive sensitivity; 1: the full coil profile.
    rng : numpy Generator
        Draws the coil layout and the noise.

    Returns
    -------
    list of Volume
        One int16 (non-negative) volume per contrast, on ``grid``.
    """
    luts = [c.lut for c in contrasts]
    whole = (slice(0, grid.shape[0]), slice(0, grid.shape[1]), slice(0, grid.shape[2]))
    images = [np.zeros(grid.shape) for _ in contrasts]
    boxes = _hip_boxes(anatomy, grid)
    _accumulate(anatomy, grid, luts, images, whole, 1, thickness_mm, COARSE_STEP_MM, skip=boxes)
    sub = min(FINE_SUB_MAX, max(2, int(np.ceil(grid.spacing[0] / FINE_STEP_MM))))
    for box in boxes:
        fine = [np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start, box[2].stop - box[2].start))
                for _ in contrasts]
        _accumulate(anatomy, grid, luts, fine, box, sub, thickness_mm, FINE_SLICE_STEP_MM)
        for img, f in zip(images, fine):
            img[box] = f
    sens = coil_sensitivity(grid, anatomy, rng)
    bias = np.clip(1.0 + bias_strength * (sens - 1.0), 0.2, 5.0)
    out = []
    sigma_px = psf_fwhm_px / (2 * np.sqrt(2 * np.log(2)))
    for img, contrast in zip(images, contrasts):
        if sigma_px > 0:
            img = gaussian_filter(img, sigma=(0, sigma_px, sigma_px), mode="nearest")
        clean = img * bias
        s = contrast.noise_sigma
        noisy = np.hypot(clean + s * rng.standard_normal(clean.shape), s * rng.standard_normal(clean.shape))
        out.append(grid.with_array(np.clip(np.rint(noisy), 0, np.iinfo(np.int16).max).astype(np.int16)))
    return out


__all__ = ["COARSE_STEP_MM", "FINE_STEP_MM", "PROFILE_SUPPORT", "STIR_RANGE", "T1_RANGE", "Contrast",
           "coil_sensitivity", "coronal_grid", "draw_contrast", "render_series"]

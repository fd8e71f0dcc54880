"""The layer model of the femoral head's outer anatomy along a ray, blurred by the ray's point-spread function.

Bone of any signal, the dark subchondral plate, the brighter articular cartilage and anything beyond, each
at a free level, blurred by the voxel's extent along the ray per image axis (so thick slices blur rays near
the slice normal most) and the profiles' smoothing. :mod:`onfh_imaging.segment.bone_surface` fits it on
every articular ray to locate the bone surface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ray_blur_cdf"]

#: Share of the required plate -> cartilage contrast that the fitted profile must show (a blurred layer
#: keeps at least half its contrast when its point-spread function is narrower than the layer pair).
_SEEN_CONTRAST = 0.5

#: Thinnest subchondral plate (mm) the layer model may learn: the dark line of plate and cortex on hip MRI
#: is 1-2 mm; thinner than half a millimetre it is below every hip series' pixel (0.3-0.9 mm) and the
#: blurred design cannot tell its thickness from its darkness.
_PLATE_MIN_MM = 0.5


def ray_blur_cdf(widths_mm: Sequence[float], smooth_sigma_mm: float,
                  step_mm: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative point-spread function along a ray: ``(offsets mm, cdf)``.

    Each image axis contributes its voxel average (a box of the voxel's extent along the ray) and the
    trilinear interpolation of the samples (two more such boxes); the radial smoothing of the profiles
    adds a Gaussian.

    Parameters
    ----------
    widths_mm : sequence of float
        Extent (mm) of a voxel along the ray, per image axis.
    smooth_sigma_mm : float
        Standard deviation (mm) of the profiles' Gaussian smoothing.
    step_mm : float
        Sampling step (mm) of the kernel.

    Returns
    -------
    offsets : ndarray, shape (M,)
        Offsets along the ray (mm), centred on 0.
    cdf : ndarray, shape (M,)
        Cumulative point-spread function, rising from near 0 to 1.
    """
    kernel = np.array([1.0])
    for w in widths_mm:
        n = max(1, int(round(w / step_mm)))
        box = np.full(n, 1.0 / n)
        for _ in range(3):
            kernel = np.convolve(kernel, box)
    half = int(np.ceil(3.0 * smooth_sigma_mm / step_mm))
    x = np.arange(-half, half + 1) * step_mm
    kernel = np.convolve(kernel, np.exp(-0.5 * (x / smooth_sigma_mm) ** 2))
    offsets = (np.arange(len(kernel)) - 0.5 * (len(kernel) - 1)) * step_mm
    cdf = np.cumsum(kernel)
    return offsets, cdf / cdf[-1]


def _ray_sigma(widths_mm: np.ndarray, smooth_sigma_mm: float) -> float:
    """Standard deviation (mm) of a ray's point-spread function: a box of each voxel extent along the
    ray (variance ``w^2 / 12``, three of them for the trilinear sampling: ``w^2 / 4``) and the profiles'
    Gaussian smoothing."""
    return float(np.sqrt(np.sum(np.asarray(widths_mm, float) ** 2) / 4.0 + smooth_sigma_mm ** 2))


def _layer_design(s: np.ndarray, plate_mm: float, cartilage_mm: float,
                  cdf: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Blurred indicators of bone inside the plate, plate, cartilage and beyond at offsets ``s`` (mm).

    ``s`` is measured from the bone surface outward; returns shape ``(len(s), 4)``.
    """
    x, c = cdf

    def step(at: float) -> np.ndarray:
        return np.interp(s - at, x, c, left=0.0, right=1.0)

    inner, surface, outer = step(-plate_mm), step(0.0), step(cartilage_mm)
    return np.column_stack([1.0 - inner, inner - surface, surface - outer, outer])


@dataclass(frozen=True)
class _LayerFit:
    shift_mm: np.ndarray    # surface offset from the reference radius per ray (mm)
    valid: np.ndarray       # the fit found a dark plate under brighter cartilage
    cost: np.ndarray        # relative residual (0 perfect, 1 no better than a constant)


def _fit_layers(prof: np.ndarray, radii: np.ndarray, radius: float, cdf: tuple[np.ndarray, np.ndarray],
                plate_mm: float, cartilage_mm: float, min_contrast: float, dark_limit: float,
                bright_limit: float, *, search_mm: tuple[float, float] = (-6.0, 2.0), sub: int = 2,
                window_mm: tuple[float, float] | None = None,
                min_shift_mm: np.ndarray | None = None) -> _LayerFit:
    """Locate the bone surface on rays sharing one point-spread function by fitting the layer model.

    The model is the outer anatomy of the head, which is the same with or without a lesion beneath:
    bone of any signal (marrow, band or fluid core), the dark subchondral plate, the brighter articular
    cartilage, and anything beyond, each at its own free level, blurred by the ray's point-spread
    function. For every candidate surface offset the levels are solved by least squares over a window
    from ``1.5 mm`` inside the plate to ``1 mm`` past the cartilage; the offset of least relative
    residual wins (parabolic sub-sample refinement). Only fits with a plate darker than ``dark_limit``,
    and cartilage brighter than the plate by ``min_contrast`` but darker than ``bright_limit`` (not
    marrow: a band over a strip of marrow under the plate mimics plate over cartilage) count. What lies
    past the cartilage is the joint, so it must be darker than ``bright_limit`` too: otherwise a lesion's
    band fits as the plate and the bright necrotic core above it as the joint.
    """
    step = radii[1] - radii[0]
    lo, hi = window_mm if window_mm is not None else (-plate_mm - 1.5, cartilage_mm + 1.0)
    s = np.arange(lo, hi + 1e-9, sub * step)
    design = _layer_design(s, plate_mm, cartilage_mm, cdf)
    pinv = np.linalg.pinv(design)
    project = design @ pinv
    offsets = np.arange(search_mm[0], search_mm[1] + 1e-9, step)
    base = (radius - radii[0]) / step
    n_rays = prof.shape[0]
    cost = np.full((n_rays, len(offsets)), np.inf)
    ok_all = np.zeros((n_rays, len(offsets)), bool)
    s_idx = np.round(s / step).astype(int)
    in_plate = (s >= -plate_mm) & (s <= 0.0)
    in_cartilage = (s >= 0.0) & (s <= cartilage_mm)
    for n, d in enumerate(offsets):
        idx = np.clip(int(round(base + d / step)) + s_idx, 0, prof.shape[-1] - 1)
        y = prof[:, idx]
        fit = y @ project.T
        levels = y @ pinv.T
        centred = y - y.mean(axis=1, keepdims=True)
        total = np.einsum("ij,ij->i", centred, centred) + 1e-12
        res = y - fit
        cost[:, n] = np.einsum("ij,ij->i", res, res) / total
        # The cartilage must be seen rising above the plate in the profile itself (its least-squares
        # fit, which averages the noise), not only in levels a blurred design may overshoot to.
        seen = fit[:, in_cartilage].max(axis=1) - fit[:, in_plate].min(axis=1)
        ok_all[:, n] = ((levels[:, 2] - levels[:, 1] > min_contrast) & (levels[:, 1] < dark_limit)
                        & (levels[:, 2] < bright_limit) & (levels[:, 3] < bright_limit)
                        & (seen > _SEEN_CONTRAST * min_contrast))
    if min_shift_mm is not None:
        ok_all &= ~(offsets[None, :] < np.asarray(min_shift_mm, float)[:, None])  # NaN bound: no limit
    masked = np.where(ok_all, cost, np.inf)
    best = np.argmin(masked, axis=1)
    rows = np.arange(n_rays)
    valid = np.isfinite(masked[rows, best])
    b0 = np.clip(best, 1, len(offsets) - 2)
    cm, c0, cp = cost[rows, b0 - 1], cost[rows, b0], cost[rows, b0 + 1]
    den = cm - 2 * c0 + cp
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.isfinite(den) & (den > 0), 0.5 * (cm - cp) / den, 0.0)
    shift = offsets[best] + np.where(best == b0, np.clip(frac, -1, 1), 0.0) * step
    return _LayerFit(shift, valid, np.where(valid, masked[rows, best], 1.0))


def _learn_layers(prof: np.ndarray, radii: np.ndarray, radius: float, cdf: tuple[np.ndarray, np.ndarray],
                  min_contrast: float, dark_limit: float, bright_limit: float) -> tuple[float, float]:
    """Plate and cartilage thickness (mm) that explain the sharpest rays best.

    Every candidate pair is scored by the median relative residual over the same window about the
    surface, coarse (0.5 mm) then fine (0.25 mm).
    """
    def score(plate: float, cart: float) -> float:
        fit = _fit_layers(prof, radii, radius, cdf, plate, cart, min_contrast, dark_limit, bright_limit,
                          search_mm=(-2.0, 2.0), sub=2, window_mm=(-4.0, 3.5))
        return float(np.median(fit.cost))

    pairs = [(p, c) for p in np.arange(0.5, 3.01, 0.5) for c in np.arange(1.0, 3.51, 0.5)]
    best = min(pairs, key=lambda pc: score(*pc))
    fine = [(best[0] + dp, best[1] + dc) for dp in (-0.25, 0.0, 0.25) for dc in (-0.25, 0.0, 0.25)
            if best[0] + dp >= _PLATE_MIN_MM and best[1] + dc > 0.5]
    best = min(fine, key=lambda pc: score(*pc))
    return float(best[0]), float(best[1])

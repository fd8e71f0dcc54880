"""The layer model's learned thicknesses on a joint whose fluid is about as dark as its cartilage on T1."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from onfh_imaging.segment.anatomy import FEMORAL_CARTILAGE_MAX_MM, RAY_STEP_MM
from onfh_imaging.segment.layers import _fit_layers, _learn_layers, ray_blur_cdf

R = 21.5
RADII = np.arange(10.0, R + 10.0, RAY_STEP_MM)
#: (signal, thickness mm) outward from the bone surface: cartilage, joint fluid, acetabular cartilage,
#: acetabular plate, pelvic bone; a 3 mm joint whose fluid is only a quarter darker than its cartilage.
BEYOND = ((580.0, 1.1), (430.0, 0.65), (500.0, 1.25), (150.0, 2.0), (1000.0, 20.0))
MARROW, PLATE, PLATE_MM = 1500.0, 150.0, 1.5
WIDTHS = (0.4, 0.4, 0.35)  # voxel extent (mm) along the ray per image axis
SMOOTH_MM = 3 * RAY_STEP_MM


def _rays(depth_mm: float, n: int, rng) -> np.ndarray:
    """Blurred noisy profiles whose femoral layers sink ``depth_mm`` while the acetabulum stays."""
    edges = [R - depth_mm - PLATE_MM, R - depth_mm, R - depth_mm + BEYOND[0][1]]
    levels = [MARROW, PLATE, BEYOND[0][0]]
    at = R + BEYOND[0][1]  # the acetabulum's side of the joint does not move
    for level, mm in BEYOND[1:]:
        levels.append(level)
        edges.append(at + mm)
        at += mm
    x, cdf = ray_blur_cdf(WIDTHS, 1e-3)
    kernel = np.diff(cdf, prepend=0.0)
    fine = np.arange(RADII[0], RADII[-1] + 1e-9, 0.05)
    sharp = np.select([fine < e for e in edges], levels, default=levels[-1])
    blurred = np.convolve(sharp, kernel, mode="same")
    prof = np.interp(RADII, fine, blurred)[None, :] + rng.normal(0.0, 15.0, (n, len(RADII)))
    return ndimage.gaussian_filter1d(prof, 3.0, axis=-1)


def test_learned_cartilage_is_the_femurs_own_and_a_shallow_depression_keeps_its_depth():
    """Across this joint a cartilage of 3.25 mm (the joint read as one layer) explains the intact rays as well
    as the femur's 1.1 mm; the learned thickness stays within the femur's anatomy and a 0.8 mm depression,
    whose joint fluid widens while the acetabulum stays, reads its depth."""
    rng = np.random.default_rng(0)
    intact, dented = _rays(0.0, 120, rng), _rays(0.8, 40, rng)
    cdf = ray_blur_cdf(WIDTHS, SMOOTH_MM)
    contrast, dark, bright = 0.3 * (580.0 - PLATE), 0.5 * (MARROW + PLATE), 0.5 * (MARROW + 580.0)
    plate_mm, cartilage_mm = _learn_layers(intact, RADII, R, cdf, contrast, dark, bright)
    assert cartilage_mm <= FEMORAL_CARTILAGE_MAX_MM
    fits = [_fit_layers(p, RADII, R, cdf, plate_mm, cartilage_mm, contrast, dark, bright) for p in (intact, dented)]
    assert all(f.valid.mean() > 0.9 for f in fits)
    depth = np.median(fits[0].shift_mm[fits[0].valid]) - np.median(fits[1].shift_mm[fits[1].valid])
    assert depth == pytest.approx(0.8, abs=0.15)

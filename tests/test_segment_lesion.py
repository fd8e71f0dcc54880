"""The band-edge fit of the MRI lesion segmentation on profiles of known truth."""

from __future__ import annotations

import numpy as np
import pytest

from onfh_imaging.segment.layers import ray_blur_cdf
from onfh_imaging.segment.lesion import _band_edge_offset

#: marrow | band (2 mm) | core levels (image units) and the cortex level the contrast is taken against
MARROW, BAND, CORE, CORTEX = 2050.0, 250.0, 1650.0, 175.0
BAND_MM = 2.0
PIXEL_MM = 0.65
OFFSETS = np.arange(-6.0, 6.0 + 1e-9, 0.2)


def _blurred_step_profile(edge_mm: float, widths_mm: tuple[float, float, float]) -> np.ndarray:
    """Marrow | band | core with the band's outer edge at ``edge_mm``, blurred by the voxel and
    trilinear point-spread function of voxel extents ``widths_mm`` along the profile."""
    x, c = ray_blur_cdf(widths_mm, 0.05)
    pdf = np.diff(c, prepend=0.0)
    s = OFFSETS[:, None] - x[None, :]
    level = np.where(s < edge_mm, MARROW, np.where(s < edge_mm + BAND_MM, BAND, CORE))
    return level @ pdf


@pytest.mark.parametrize(("slice_mm", "edge_mm"), [(4.0, 1.1), (4.5, 1.3)])
def test_band_edge_on_thick_slices_seen_at_varying_obliquity(slice_mm, edge_mm):
    # A group of boundary voxels facing the slice normal at cosines 0.5-1: its mean profile is blurred
    # by a mixture of point-spread functions, fitted with the one at the group's median obliquity. The
    # band (2 mm) is thinner than the blur; its outer edge is still read within 0.25 mm.
    rng = np.random.default_rng(0)
    cosines = np.linspace(0.5, 1.0, 11)
    profiles = [_blurred_step_profile(edge_mm, (PIXEL_MM * np.sqrt(1 - c * c), 0.05, slice_mm * c))
                for c in cosines]
    mean = np.mean(profiles, axis=0) + rng.normal(0.0, 10.0, len(OFFSETS))
    cdf = ray_blur_cdf((PIXEL_MM * np.sqrt(1 - 0.75 ** 2), 0.05, slice_mm * 0.75), 0.05)
    e = _band_edge_offset(OFFSETS, mean, cdf, 0.25 * (MARROW - CORTEX))
    assert e is not None
    assert abs(e - edge_mm) <= 0.25


def test_band_edge_in_plane():
    # In-plane (0.65 mm pixels) the 2 mm band is resolved: its outer edge is read within 0.1 mm.
    widths = (PIXEL_MM, 0.05, 0.05)
    e = _band_edge_offset(OFFSETS, _blurred_step_profile(0.4, widths), ray_blur_cdf(widths, 0.05),
                          0.25 * (MARROW - CORTEX))
    assert e is not None and abs(e - 0.4) <= 0.1

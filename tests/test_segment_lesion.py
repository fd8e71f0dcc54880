"""The MRI lesion segmentation's band-edge fit and the plate's darkening under it, on images of known
truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from onfh_imaging.geometry import Volume
from onfh_imaging.segment.bone_surface import TissueLevels
from onfh_imaging.segment.layers import ray_blur_cdf
from onfh_imaging.segment.lesion import (
    MARROW_SMOOTHING_MM,
    PLATE_SMEAR_SLICES,
    UNDER_PLATE_MARGIN_MM,
    _band_edge_offset,
    _plate_darkening,
)
from onfh_imaging.segment.rays import sample_volume

#: marrow | band (2 mm) | core levels (image units) and the cortex level the contrast is taken against
MARROW, BAND, CORE, CORTEX = 2050.0, 250.0, 1650.0, 175.0
#: articular cartilage beyond the plate (image units)
CARTILAGE = 700.0
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



def _plate_phantom(normal: np.ndarray, pixel_mm: float, slice_mm: float, plate_mm: float,
                   shift_mm: tuple[float, float, float]) -> Volume:
    """Thick-slice image of a flat subchondral plate (``plate_mm`` thick) between marrow and cartilage,
    the bone surface through the origin with outward ``normal``: each voxel the mean of its box
    (sub-sampled), the grid shifted by ``shift_mm`` (x, y, z) against the surface."""
    n_ip, n_sl, sub = 40, 10, (4, 4, 25)
    origin = (-0.5 * n_ip * pixel_mm + shift_mm[0], -0.5 * n_ip * pixel_mm + shift_mm[1],
              -0.5 * n_sl * slice_mm + shift_mm[2])
    vol = Volume(np.zeros((n_sl, n_ip, n_ip), np.float32), spacing=(pixel_mm, pixel_mm, slice_mm),
                 origin=origin)
    k, j, i = np.meshgrid(np.arange(n_sl), np.arange(n_ip), np.arange(n_ip), indexing="ij")
    centres = vol.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3).astype(float))
    offs = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) / n - 0.5 for n in sub], indexing="ij"), -1)
    offs = offs.reshape(-1, 3)
    depth = -(centres[:, None, :] + offs[None] * np.asarray(vol.spacing)) @ normal
    level = np.where(depth > plate_mm, MARROW, np.where(depth > 0, CORTEX, CARTILAGE))
    return vol.with_array(level.mean(axis=1).reshape(vol.shape).astype(np.float32))


@pytest.mark.parametrize("cos_slice", [0.35, 0.6, 0.95])
def test_plate_darkening_reaches_the_marrow_as_the_thick_slices_carry_it(cos_slice):
    # A flat 2 mm plate under cartilage on 5 mm slices, crossed by rays at 0.35-0.95 of the slice normal:
    # the marrow's darkening below it, sampled as the lesion search samples it (trilinear, then the fine
    # grid's smoothing) and averaged over where the slices lie against the surface, is what the plate's
    # point-spread function predicts within 3 % of the marrow-to-cortex contrast at every depth; beyond
    # the under-plate margin the steepest rays still see more than 5 % of it (a whole slice's reach).
    pixel_mm, slice_mm, plate_mm = 0.8, 5.0, 2.0
    s = np.sqrt(0.5 * (1.0 - cos_slice ** 2))
    normal = np.array([s, s, cos_slice])
    t = np.arange(-4.0, 16.0, 0.05)  # depth (mm) below the surface along the ray
    depths = np.arange(plate_mm + 0.5, 9.0, 0.25)
    measured = np.zeros(len(depths))
    for phase in np.arange(4) / 4:
        vol = _plate_phantom(normal, pixel_mm, slice_mm, plate_mm,
                             (phase * pixel_mm, (3 * phase) % 1 * pixel_mm, phase * slice_mm))
        profile = sample_volume(vol, np.asarray(vol.array), -t[:, None] * normal[None, :])
        profile = ndimage.gaussian_filter1d(profile, MARROW_SMOOTHING_MM / 0.05)
        measured += (MARROW - np.interp(depths, t, profile)) / 4
    surface = SimpleNamespace(levels=TissueLevels(MARROW, CORTEX, CARTILAGE, plate_mm, plate_mm, True))
    predicted = _plate_darkening(vol, surface, 20.0 - depths, np.tile(normal, (len(depths), 1)),
                                 np.full(len(depths), 20.0))
    assert np.max(np.abs(measured - predicted)) <= 0.03 * (MARROW - CORTEX)
    margin = plate_mm + UNDER_PLATE_MARGIN_MM + PLATE_SMEAR_SLICES * slice_mm * cos_slice
    if cos_slice > 0.9:
        assert np.max(measured[depths > margin]) >= 0.05 * (MARROW - CORTEX)

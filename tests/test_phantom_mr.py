"""The MR renderer: contrast, partial volume, noise, bias, determinism, geometry."""

import numpy as np
import pytest

from onfh_imaging.phantom import (
    TISSUE_SIGNAL,
    TISSUES,
    Lesion,
    PelvisModel,
    coronal_grid,
    default_dome_direction,
    render_mr,
)
from onfh_imaging.phantom.mr import _reach

R = 24.0
SMALL = {"matrix": (96, 96), "n_slices": 10, "in_plane_mm": 1.2}


@pytest.fixture(scope="module")
def right_model():
    d = default_dome_direction("right")
    return PelvisModel.standard("right", right={"lesion": Lesion.preset("large", R, d, core="fluid")})


def _pure_voxels(model, vol, slice_mm=4.0):
    """Labels of voxels whose whole cell holds one tissue (centre farther than the cell's reach)."""
    nk, nj, ni = vol.shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    pts = vol.index_to_lps(np.stack([i, j, k], -1).reshape(-1, 3))
    label, dist = model.tissue_labels(pts)
    pure = dist > _reach(vol.spacing[0], slice_mm)
    return label.reshape(vol.shape), pure.reshape(vol.shape)


def test_coronal_grid_axes_and_oblique_rotation_about_centre():
    c = np.array([-88.0, 20.0, -60.0])
    g = coronal_grid(c, in_plane_mm=0.7, slice_mm=4.0, gap_mm=1.0, matrix=(256, 200), n_slices=24)
    assert g.shape == (24, 256, 200) and g.spacing == (0.7, 0.7, 5.0)
    np.testing.assert_allclose(g.direction[:, 0], [1, 0, 0])   # columns: right -> left
    np.testing.assert_allclose(g.direction[:, 1], [0, 0, -1])  # rows: superior -> inferior
    np.testing.assert_allclose(g.direction[:, 2], [0, 1, 0])   # slices: anterior -> posterior
    np.testing.assert_allclose(g.index_to_lps((np.array(g.size) - 1) / 2), c, atol=1e-9)
    o = coronal_grid(c, oblique_deg=(30.0, 0.0))
    a = np.radians(30)
    np.testing.assert_allclose(o.direction[:, 0], [np.cos(a), np.sin(a), 0], atol=1e-12)
    np.testing.assert_allclose(o.direction[:, 1], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(o.index_to_lps((np.array(o.size) - 1) / 2), c, atol=1e-9)
    assert np.linalg.det(o.direction) == pytest.approx(1.0)


def test_t1_contrast_order_and_stir_fluid(right_model):
    kw = dict(SMALL, noise_sigma=0.0, bias_strength=0.0, center_lps=right_model.hips[0].center)
    t1 = render_mr(right_model, sequence="T1", **kw)
    stir = render_mr(right_model, sequence="STIR", **kw)
    label, pure = _pure_voxels(right_model, t1)

    def mean(vol, tissue):
        sel = pure & (label == TISSUES[tissue])
        assert sel.sum() > 5, tissue
        return vol.array[sel].mean()

    # cortex is never a whole 4 mm voxel here; compare the voxels centred in it
    cortex = np.median(t1.array[label == TISSUES["cortex"]])
    assert mean(t1, "marrow") > mean(t1, "muscle") > cortex
    assert mean(t1, "fat") > mean(t1, "muscle")
    assert mean(t1, "marrow") == pytest.approx(1000.0, abs=1)
    assert mean(t1, "lesion_fluid") < 0.5 * mean(t1, "marrow")   # fluid core: low T1
    assert mean(stir, "lesion_fluid") > 3 * mean(stir, "marrow")  # high STIR, fat suppressed
    assert mean(stir, "fat") < mean(stir, "muscle")


def test_partial_volume_mixes_tissues_at_edges(right_model):
    vol = render_mr(right_model, noise_sigma=0.0, bias_strength=0.0, **SMALL)
    levels = {round(1000 * v) for v in TISSUE_SIGNAL["T1"].values()}
    values = vol.array.ravel()
    mixed = ~np.isin(values, list(levels))
    assert mixed.mean() > 0.05
    # every mixed value lies within the range of tissue signals
    assert values.min() >= 0 and values.max() <= max(levels)
    # voxels far from every interface hold exactly one tissue's signal: mixing happens only at edges
    label, pure = _pure_voxels(right_model, vol)
    assert np.all(np.isin(values[pure.ravel()], list(levels)))


def test_background_noise_is_rician():
    model = PelvisModel.standard("right")
    sigma = 0.05
    # a block of slices in front of the body: air only, signal 0 -> Rayleigh magnitude
    air = render_mr(model, matrix=(64, 64), n_slices=6, in_plane_mm=2.0, noise_sigma=sigma, bias_strength=0.0,
                    intensity_scale=4000.0, center_lps=(0.0, -200.0, -80.0), seed=5)
    s = sigma * 4000.0
    x = air.array.astype(float)
    assert x.mean() == pytest.approx(s * np.sqrt(np.pi / 2), rel=0.03)
    assert x.std() == pytest.approx(s * np.sqrt((4 - np.pi) / 2), rel=0.05)


def test_bias_field_is_smooth_and_bounded(right_model):
    kw = dict(SMALL, noise_sigma=0.0, center_lps=right_model.hips[0].center)
    flat = render_mr(right_model, bias_strength=0.0, **kw).array.astype(float)
    biased = render_mr(right_model, bias_strength=0.2, seed=7, **kw).array.astype(float)
    ratio = biased[flat > 500] / flat[flat > 500]
    assert ratio.min() >= np.exp(-0.2) - 0.01 and ratio.max() <= np.exp(0.2) + 0.01
    assert ratio.max() - ratio.min() > 0.05


def test_same_seed_same_image_other_seed_other_noise(right_model):
    a = render_mr(right_model, seed=1, **SMALL)
    b = render_mr(right_model, seed=1, **SMALL)
    c = render_mr(right_model, seed=2, **SMALL)
    assert np.array_equal(a.array, b.array)
    assert not np.array_equal(a.array, c.array)


def test_both_sides_render_as_mirror_images():
    d = default_dome_direction("right")
    right = {"lesion": Lesion.preset("small", R, d)}
    left = {"lesion": Lesion.preset("small", R, d * np.array([-1.0, 1.0, 1.0]))}
    model = PelvisModel.standard("both", right=right, left=left, center_lps=(0.0, 20.0, -80.0))
    vol = render_mr(model, matrix=(96, 128), n_slices=6, in_plane_mm=2.8, noise_sigma=0.0, bias_strength=0.0)
    img = vol.array.astype(int)
    assert np.abs(img - img[:, :, ::-1]).max() <= 1
    # the right hip (x < 0) is on the low-column side of the image
    i_right = vol.lps_to_index(model.hip("right").center)[0]
    assert i_right < img.shape[2] / 2


@pytest.mark.parametrize("oblique", [(0.0, 0.0), (20.0, -10.0)])
def test_model_points_land_where_index_to_lps_says(right_model, oblique):
    hip = right_model.hips[0]
    vol = render_mr(right_model, oblique_deg=oblique, noise_sigma=0.0, bias_strength=0.0,
                    center_lps=hip.center, **SMALL)
    label, pure = _pure_voxels(right_model, vol)
    lut = np.zeros(max(TISSUES.values()) + 1)
    for name, v in TISSUE_SIGNAL["T1"].items():
        lut[TISSUES[name]] = v
    np.testing.assert_allclose(vol.array[pure], np.rint(1000 * lut[label[pure]]), atol=0.5)
    # a point of the head's marrow below the lesion lands in a marrow voxel where index_to_lps says
    point = hip.center - 0.4 * R * np.asarray(hip.lesion.direction_lps)
    i, j, k = np.rint(vol.lps_to_index(point)).astype(int)
    assert label[k, j, i] == TISSUES["marrow"] and vol.array[k, j, i] == 1000

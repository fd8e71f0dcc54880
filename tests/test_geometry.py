import numpy as np
import pytest

from onfh_imaging.geometry import Radiograph, Volume


def _oblique_direction(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    rot = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    coronal = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # rows L, cols S (downwards), slices A
    return rot @ coronal


def test_index_to_lps_round_trip():
    vol = Volume(np.zeros((4, 5, 6)), spacing=(0.7, 0.7, 4.0), origin=(10, -20, 30),
                 direction=_oblique_direction(12))
    ijk = np.array([[1.5, 2.0, 3.0], [0, 0, 0]])
    assert np.allclose(vol.lps_to_index(vol.index_to_lps(ijk)), ijk)
    assert np.allclose(vol.index_to_lps([0, 0, 0]), (10, -20, 30))
    # one step along k moves 4 mm along the slice normal
    step = vol.index_to_lps([0, 0, 1]) - vol.index_to_lps([0, 0, 0])
    assert np.isclose(np.linalg.norm(step), 4.0)


def test_sitk_round_trip_is_lossless():
    rng = np.random.default_rng(0)
    vol = Volume(rng.integers(0, 1000, (4, 5, 6)).astype(np.int16), spacing=(0.7, 0.8, 4.0),
                 origin=(1, 2, 3), direction=_oblique_direction(-9))
    img = vol.to_sitk()
    # SimpleITK's own index -> physical mapping agrees with ours
    assert np.allclose(img.TransformContinuousIndexToPhysicalPoint((1.0, 2.0, 3.0)),
                       vol.index_to_lps([1, 2, 3]))
    back = Volume.from_sitk(img)
    assert back.same_grid(vol) and np.array_equal(back.array, vol.array)


def test_geometry_agrees_with_highdicom_volume():
    """highdicom reads the same SimpleITK image to the same LPS affine (its array is indexed (i, j, k))."""
    hd = pytest.importorskip("highdicom")
    rng = np.random.default_rng(1)
    vol = Volume(rng.integers(0, 1000, (4, 5, 6)).astype(np.int16), spacing=(0.7, 0.8, 3.0),
                 origin=(-5, 12, 40), direction=_oblique_direction(14))
    other = hd.Volume.from_simpleitk(vol.to_sitk())
    np.testing.assert_allclose(other.affine, vol.affine_lps, atol=1e-9)
    assert np.array_equal(other.array, vol.array.transpose(2, 1, 0))
    point = other.map_indices_to_reference(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(point[0], vol.index_to_lps([1, 2, 3]), atol=1e-9)


def test_nifti_round_trip_and_ras_affine():
    vol = Volume(np.arange(120, dtype=np.float32).reshape(4, 5, 6), spacing=(0.5, 0.6, 3.0),
                 origin=(5, 6, 7), direction=_oblique_direction(15))
    nii = vol.to_nifti()
    # the NIfTI affine maps voxel (i, j, k) to RAS = LPS with x and y negated
    lps = vol.index_to_lps([2, 3, 1])
    ras = nii.affine @ np.array([2, 3, 1, 1.0])
    assert np.allclose(ras[:3], lps * [-1, -1, 1])
    assert nii.get_fdata()[2, 3, 1] == vol.array[1, 3, 2]
    back = Volume.from_nifti(nii)
    assert back.same_grid(vol) and np.array_equal(back.array, vol.array)


def test_volume_is_immutable_and_validated():
    vol = Volume(np.zeros((2, 2, 2)), spacing=(1, 1, 1))
    with pytest.raises(ValueError):
        vol.array[0, 0, 0] = 1
    with pytest.raises(ValueError):
        Volume(np.zeros((2, 2)), spacing=(1, 1, 1))
    with pytest.raises(ValueError):
        Volume(np.zeros((2, 2, 2)), spacing=(1, 0, 1))
    with pytest.raises(ValueError):
        Volume(np.zeros((2, 2, 2)), spacing=(1, 1, 1), direction=np.ones((3, 3)))


def test_radiograph_calibration_flags():
    rx = Radiograph(np.zeros((10, 12)), pixel_size_mm=(0.15, 0.15), pixel_size_source="PixelSpacing")
    assert rx.calibrated and rx.shape == (10, 12)
    assert not Radiograph(np.zeros((3, 3)), pixel_size_mm=None).calibrated
    with pytest.raises(ValueError):
        Radiograph(np.zeros((3, 3)), pixel_size_mm=(0, 1))


def test_crop_keeps_positions_and_finds_its_offset():
    vol = Volume(np.arange(4 * 5 * 6).reshape(4, 5, 6), spacing=(0.7, 0.8, 4.0), origin=(1, 2, 3),
                 direction=_oblique_direction(11))
    sub = vol.crop((1, 2, 1), (4, 5, 3))
    assert sub.shape == (2, 3, 3)
    assert np.allclose(sub.index_to_lps([0, 0, 0]), vol.index_to_lps([1, 2, 1]))
    assert sub.array[1, 2, 0] == vol.array[2, 4, 1]
    assert sub.array.base is None or sub.array.base is not vol.array.base  # a copy, not a view
    assert sub.offset_in(vol) == (1, 2, 1)
    assert vol.crop((-3, 0, 0), (99, 99, 99)).same_grid(vol)  # clipped to the grid
    shifted = Volume(sub.array, spacing=sub.spacing, origin=np.add(sub.origin, 0.3), direction=sub.direction)
    assert shifted.offset_in(vol) is None

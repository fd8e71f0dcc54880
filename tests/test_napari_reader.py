"""The plugin's reader: DICOM folders and files and NIfTI at their physical position (checked independently)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

napari = pytest.importorskip("napari", reason="napari is not installed")

from napari.layers import Image  # noqa: E402

from onfh_imaging.errors import NotDicomError  # noqa: E402
from onfh_imaging.geometry import Volume  # noqa: E402
from onfh_imaging.io.dicom_write import write_mr_series, write_nifti  # noqa: E402
from onfh_napari._reader import META_SERIES, META_VOLUME, lps_to_world, read_study  # noqa: E402

OBLIQUE_CORONAL = np.array([[0.9848, 0.0, 0.1736], [0.0302, -0.1710, -0.9848], [0.1710, 0.9698, -0.0302]])


def _layer(layer_data) -> Image:
    data, kwargs, kind = layer_data
    assert kind == "image"
    return Image(data, **kwargs)


def _volume(direction, seed=0) -> Volume:
    u, _, vt = np.linalg.svd(np.asarray(direction, float))
    rng = np.random.default_rng(seed)
    return Volume(rng.integers(0, 1000, (5, 18, 22)).astype(np.uint16), spacing=(0.7, 0.75, 4.0),
                  origin=(-120.0, -30.5, 88.0), direction=u @ vt)


def _sitk_lps(image: sitk.Image, kji) -> np.ndarray:
    k, j, i = (int(v) for v in kji)
    return np.array(image.TransformIndexToPhysicalPoint((i, j, k)))


@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE_CORONAL], ids=["axial", "oblique coronal"])
def test_dicom_folder_layers_agree_with_simpleitk(tmp_path, direction):
    vol = _volume(direction)
    t1 = write_mr_series(vol, tmp_path / "study" / "T1", series_description="COR T1", sequence="T1",
                         series_number=3)
    write_mr_series(vol.with_array(vol.array // 2), tmp_path / "study" / "STIR", series_description="COR STIR",
                    sequence="STIR", series_number=4, study_instance_uid=None)
    layers = read_study(str(tmp_path / "study"))
    assert len(layers) == 2
    by_name = {ld[1]["name"]: ld for ld in layers}
    t1_data = next(ld for name, ld in by_name.items() if "T1" in name)
    stir_data = next(ld for name, ld in by_name.items() if "STIR" in name)
    assert t1_data[1]["visible"] and not stir_data[1]["visible"]

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for p in sorted(t1, key=lambda p: _slice_pos(p, vol))])
    truth = reader.Execute()
    layer = _layer(t1_data)
    assert np.array_equal(layer.data, sitk.GetArrayFromImage(truth))
    assert tuple(layer.scale) == pytest.approx(truth.GetSpacing()[::-1], abs=1e-4)
    for kji in [(0, 0, 0), (4, 17, 21), (2, 9, 3)]:
        expected = lps_to_world(layer.metadata[META_VOLUME], _sitk_lps(truth, kji))
        assert np.allclose(layer.data_to_world(kji), expected, atol=1e-3)
    assert layer.metadata[META_SERIES]["series_description"] == "COR T1"
    assert layer.metadata[META_SERIES]["series_instance_uid"]
    assert isinstance(layer.metadata[META_VOLUME], Volume)

    one_file = read_study(str(t1[2]))
    assert len(one_file) == 1 and one_file[0][0].shape == vol.shape


def _slice_pos(path, vol: Volume) -> float:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return float(np.dot(np.asarray(ds.ImagePositionPatient, float), vol.direction[:, 2]))


def test_nifti_layer_agrees_with_nibabel(tmp_path):
    vol = _volume(OBLIQUE_CORONAL, seed=1)
    path = write_nifti(vol, tmp_path / "t1.nii.gz")
    (layer_data,) = read_study(str(path))
    layer = _layer(layer_data)
    img = nib.load(str(path))
    assert layer.name == "t1"
    assert np.array_equal(layer.data, np.asarray(img.dataobj).transpose(2, 1, 0))
    for kji in [(0, 0, 0), (4, 17, 21), (1, 5, 8)]:
        ras = img.affine @ np.array([kji[2], kji[1], kji[0], 1.0])
        lps = ras[:3] * np.array([-1, -1, 1])
        assert np.allclose(layer.data_to_world(kji), lps_to_world(layer.metadata[META_VOLUME], lps), atol=1e-4)


def test_a_text_file_named_dcm_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "image.dcm"
    bad.write_text("not an image")
    with pytest.raises(NotDicomError, match="image.dcm"):
        read_study(str(bad))

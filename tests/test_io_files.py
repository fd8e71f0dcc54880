"""Real DICOM files shipped with pydicom, radiographs, Enhanced MR, scanning folders and zips, the CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import CORONAL, assert_geometry_matches, oblique_coronal, simpleitk_series
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.pixels import apply_rescale
from pydicom.sequence import Sequence
from pydicom.uid import EnhancedMRImageStorage, ExplicitVRLittleEndian, generate_uid

from onfh_imaging.cli import main
from onfh_imaging.errors import IncompleteSeriesError, InputError
from onfh_imaging.geometry import Volume
from onfh_imaging.io import (
    read_image,
    read_nifti,
    read_radiograph,
    read_series,
    scan,
    write_mr_series,
    write_radiograph,
)
from onfh_imaging.io._classify import orientation_label

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _bundled(name: str) -> Path:
    path = TEST_FILES / name
    if not path.exists():
        pytest.skip(f"{name} is not bundled with this pydicom")
    return path


# --- pydicom's bundled files ----------------------------------------------------------------------
MR_SMALL_VARIANTS = ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                     "MR_small_jpeg_ls_lossless.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"]


@pytest.mark.parametrize("name", MR_SMALL_VARIANTS + ["CT_small.dcm"])
def test_bundled_single_images_stack_and_decode(tmp_path, name):
    """Two copies of a bundled image one slice apart form a volume whose pixels match pydicom's decode."""
    src = _bundled(name)
    ds = pydicom.dcmread(src)
    reference = apply_rescale(ds.pixel_array.astype(np.float64), ds)
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    for k in range(2):
        copy = pydicom.dcmread(src)
        copy.SOPInstanceUID = generate_uid()
        copy.ImagePositionPatient = [float(v) + 5.0 * k * n for v, n in zip(ds.ImagePositionPatient, normal)]
        copy.save_as(tmp_path / f"slice{k}.dcm")
    series = read_series(tmp_path)
    assert series.volume.shape == (2, ds.Rows, ds.Columns)
    assert series.volume.spacing[2] == pytest.approx(5.0)
    assert np.allclose(series.volume.direction[:, 2], normal, atol=1e-5)
    for k in range(2):
        assert np.array_equal(series.volume.array[k].astype(np.float64), reference)


def test_bundled_ct_series_matches_simpleitk():
    folder = _bundled("dicomdirtests/98892001/CT5N")
    ours = read_series(folder).volume
    image = simpleitk_series(folder)
    assert_geometry_matches(image, ours, atol=1e-4, direction_atol=1e-5)
    assert np.array_equal(sitk.GetArrayFromImage(image), ours.array)


def test_bundled_ct_with_missing_slices_is_refused():
    """pydicom ships 4 slices of a longer CT: the reader must notice the hole, not stack them."""
    with pytest.raises(IncompleteSeriesError, match=r"gap of 202\.50 mm.*expected 1\.25 mm"):
        read_series(_bundled("dicomdirtests/77654033/CT2"))


@pytest.mark.parametrize("name", ["CR1/6154", "CR2/6247", "CR3/6278"])
def test_bundled_monochrome1_cr_is_inverted(name):
    path = _bundled(f"dicomdirtests/77654033/{name}")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    radiograph, info = read_radiograph(path)
    values = apply_rescale(ds.pixel_array.astype(np.float64), ds)
    bits = int(ds.BitsStored)
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    expected = (intercept + (intercept + ((1 << bits) - 1) * slope)) - values
    assert np.allclose(radiograph.pixels, expected)
    assert info.modality == "CR"
    assert radiograph.pixel_size_source == "ImagerPixelSpacing"  # detector size, no magnification known
    assert radiograph.pixel_size_mm == pytest.approx((float(ds.ImagerPixelSpacing[0]),
                                                      float(ds.ImagerPixelSpacing[1])))


# --- radiographs written by the toolkit -----------------------------------------------------------
@pytest.fixture
def hip_radiograph():
    rows, cols = 60, 80
    r, c = np.mgrid[:rows, :cols]
    return (1000 + 2000 * np.exp(-((r - 30) ** 2 + (c - 40) ** 2) / 200.0)).astype(np.float32)


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_radiograph_round_trip_bone_bright(tmp_path, hip_radiograph, photometric):
    path = write_radiograph(hip_radiograph, tmp_path / "pelvis.dcm", imager_pixel_spacing=(0.15, 0.15),
                            magnification=1.2, photometric=photometric, view="AP", laterality="left")
    assert pydicom.dcmread(path).PhotometricInterpretation == photometric
    radiograph, info = read_radiograph(path)
    step = (hip_radiograph.max() - hip_radiograph.min()) / 65535
    assert np.abs(radiograph.pixels - hip_radiograph).max() <= step
    assert radiograph.pixels[30, 40] > radiograph.pixels[0, 0]  # bone (centre) bright
    # magnification-corrected size at the patient: 0.15 mm / 1.2
    assert radiograph.pixel_size_mm == pytest.approx((0.125, 0.125))
    assert radiograph.pixel_size_source == "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
    assert (radiograph.view, radiograph.laterality) == ("AP", "left")
    assert (info.view, info.laterality, info.modality) == ("AP", "left", "DX")


def test_radiograph_pixel_size_precedence(tmp_path, hip_radiograph):
    calibrated = write_radiograph(hip_radiograph, tmp_path / "a.dcm", imager_pixel_spacing=0.15,
                                  magnification=1.2, pixel_spacing=(0.13, 0.14), view="frog")
    radiograph, _ = read_radiograph(calibrated)
    assert radiograph.pixel_size_mm == (0.13, 0.14) and radiograph.pixel_size_source == "PixelSpacing"
    assert radiograph.view == "lateral"
    bare = write_radiograph(hip_radiograph, tmp_path / "b.dcm", imager_pixel_spacing=0.15, magnification=None,
                            extra={"ImagerPixelSpacing": None, "ViewPosition": "",
                                   "SeriesDescription": "HIP LAUENSTEIN"})
    radiograph, info = read_radiograph(bare)
    assert radiograph.pixel_size_mm is None and radiograph.pixel_size_source == "none"
    assert not radiograph.calibrated and radiograph.view == "lateral"
    assert isinstance(read_image(calibrated), type(radiograph))


def test_rgb_radiograph_becomes_luminance(tmp_path, hip_radiograph):
    path = write_radiograph(hip_radiograph, tmp_path / "rgb.dcm", imager_pixel_spacing=0.2, magnification=None)
    ds = pydicom.dcmread(path)
    gray = ds.pixel_array.astype(np.uint8)
    rgb = np.stack([gray, gray // 2, gray // 4], axis=-1)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = rgb.tobytes()
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.save_as(path)
    radiograph, _ = read_radiograph(path)
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    assert np.allclose(radiograph.pixels, expected, atol=1e-3)


# --- Enhanced MR (multi-frame with functional groups) ---------------------------------------------
def test_datasets_read_through_the_toolkit_name_their_file(tmp_path):
    """pydicom reopens a file by its name for values it left on disk; the name must be the path."""
    from onfh_imaging.io._header import read_dataset
    from onfh_imaging.io._open import open_binary

    files = write_mr_series(Volume(np.zeros((2, 4, 3), np.int16), spacing=(1.0, 1.0, 2.0), direction=CORONAL),
                            tmp_path / "s")
    assert read_dataset(files[0]).filename == str(files[0])
    with open_binary(files[0]) as fp:
        ds = pydicom.dcmread(fp, defer_size=8)
        assert fp.name == str(files[0])
    assert ds.filename == str(files[0]) and ds.SOPInstanceUID  # a deferred value, read after closing


@pytest.mark.parametrize("signed", [False, True])
def test_bits_above_bits_stored_are_ignored(tmp_path, signed):
    """12 of 16 bits stored: the high bits (old overlays) are dropped and signed values sign-extended."""
    rng = np.random.default_rng(5)
    low, high = (-2048, 2048) if signed else (0, 4096)
    values = rng.integers(low, high, (3, 6, 5)).astype(np.int16 if signed else np.uint16)
    files = write_mr_series(Volume(values, spacing=(0.7, 0.7, 3.0), direction=CORONAL), tmp_path / "s",
                            shuffle_seed=None)
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, int(signed)
        garbage = rng.integers(0, 16, values[k].shape).astype(np.uint16) << 12
        ds.PixelData = ((values[k].astype(np.uint16) & 0x0FFF) | garbage).astype("<u2").tobytes()
        ds.save_as(f)
    array = read_series(tmp_path / "s").volume.array
    assert array.dtype == (np.int16 if signed else np.uint16)
    assert np.array_equal(array, values)


def _enhanced_mr(volume, path: Path, slope: float, intercept: float, order: np.ndarray) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedMRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "MR", "P1", generate_uid(), generate_uid()
    ds.SeriesDescription, ds.SeriesNumber, ds.FrameOfReferenceUID = "COR PD FS", 7, generate_uid()
    nk, nj, ni = volume.shape
    ds.Rows, ds.Columns, ds.NumberOfFrames = nj, ni, nk
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [volume.spacing[1], volume.spacing[0]]
    measures.SliceThickness = volume.spacing[2]
    orient = Dataset()
    orient.ImageOrientationPatient = [*volume.direction[:, 0], *volume.direction[:, 1]]
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = slope, intercept, "US"
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in order:
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = list(volume.index_to_lps([0, 0, k]))
        item.PlanePositionSequence = Sequence([pos])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.ascontiguousarray(volume.array[order]).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_enhanced_mr_multiframe(tmp_path, textured_volume):
    source = textured_volume(oblique_coronal(12, 12), dtype=np.uint16)
    order = np.random.default_rng(1).permutation(source.shape[0])
    _enhanced_mr(source, tmp_path / "enhanced.dcm", slope=0.5, intercept=-10.0, order=order)
    series = read_series(tmp_path)
    assert series.volume.same_grid(source, atol=1e-6)
    assert np.allclose(series.volume.array, source.array * 0.5 - 10.0)
    info = scan(tmp_path).series[0]
    assert info.multiframe and info.n_slices == source.shape[0]
    assert (info.sequence, info.fat_saturated, info.orientation) == ("PD", True, "coronal")


# --- scanning ------------------------------------------------------------------------------------
@pytest.fixture
def study(tmp_path, textured_volume, hip_radiograph):
    root = tmp_path / "study"
    vol = textured_volume(oblique_coronal(12, 0))
    study_uid = generate_uid()
    write_mr_series(vol, root / "t1", study_instance_uid=study_uid, series_number=3, patient_id="P7")
    write_mr_series(vol, root / "stir", study_instance_uid=study_uid, series_number=4, patient_id="P7",
                    sequence="STIR", series_description="COR STIR")
    write_mr_series(textured_volume(np.eye(3)), root / "ax", study_instance_uid=study_uid, series_number=5,
                    patient_id="P7", sequence="T2FS", series_description="AX T2 SPAIR")
    write_radiograph(hip_radiograph, root / "xr" / "ap.dcm", imager_pixel_spacing=0.15, magnification=1.15,
                     patient_id="P7", study_date="20251201", view="AP", laterality="right")
    (root / "notes.txt").write_text("not an image")
    (root / "DICOMDIR").write_bytes(b"")
    return root


def test_scan_groups_and_describes(study):
    result = scan(study)
    assert len(result.patients) == 1 and len(result.studies) == 2
    assert len(result.skipped_non_dicom) == 2
    by_number = {s.series_number: s for s in result.series}
    t1, stir, ax = by_number[3], by_number[4], by_number[5]
    assert (t1.sequence, t1.fat_saturated, t1.orientation, t1.n_slices) == ("T1", False, "coronal", 7)
    assert (stir.sequence, stir.fat_saturated) == ("STIR", True)
    assert (ax.sequence, ax.fat_saturated, ax.orientation) == ("T2", True, "axial")
    assert t1.pixel_spacing == (0.7, 0.7) and t1.slice_spacing == pytest.approx(4.0)
    assert t1.study_date == "2026-01-01"
    assert read_series(t1.files).files == t1.files  # files sorted spatially
    xr = next(s for s in result.series if s.modality == "DX")
    assert (xr.view, xr.laterality, xr.magnification) == ("AP", "right", 1.15)
    assert result.studies[0].study_date == "2025-12-01"  # studies sorted by date


def test_scan_and_read_inside_zip(study, tmp_path):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(study.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(study).as_posix())
    result = scan(archive)
    assert len(result.series) == 4 and len(result.skipped_non_dicom) == 2
    t1 = next(s for s in result.series if s.series_number == 3)
    from_zip = read_series(archive, t1.series_instance_uid)
    from_disk = read_series(study / "t1")
    assert from_zip.volume.same_grid(from_disk.volume) and np.array_equal(from_zip.volume.array,
                                                                         from_disk.volume.array)


def test_series_with_two_echoes_splits(tmp_path, textured_volume):
    vol = textured_volume(CORONAL)
    uid, study_uid = generate_uid(), generate_uid()
    write_mr_series(vol, tmp_path / "e1", series_instance_uid=uid, study_instance_uid=study_uid, extra={"EchoNumbers": 1, "EchoTime": "12"})
    write_mr_series(vol.with_array(vol.array * 2), tmp_path / "e2", series_instance_uid=uid,
                    study_instance_uid=study_uid, extra={"EchoNumbers": 2, "EchoTime": "80"})
    infos = scan(tmp_path).series
    assert [i.key.split("#")[0] for i in infos] == [uid, uid] and "echo 2" in infos[1].subseries
    with pytest.raises(InputError, match="2 series found"):
        read_series(tmp_path, uid)
    second = read_series(tmp_path, infos[1].key)
    assert np.array_equal(second.volume.array, vol.array * 2)
    # the key names the images, not the folder scanned: the echo-2 folder alone still answers to it
    assert scan(tmp_path / "e2").find(infos[1].key).sub_key == infos[1].key
    assert np.array_equal(read_series(tmp_path / "e2", infos[1].key).volume.array, vol.array * 2)


@pytest.mark.parametrize("normal, label", [((0, 0, 1), "axial"), ((0, 1, 0), "coronal"), ((1, 0, 0), "sagittal"),
                                           ((0, np.sin(0.2), np.cos(0.2)), "axial"),
                                           ((0, 1, 1), "oblique")])
def test_orientation_label(normal, label):
    n = np.asarray(normal, float)
    assert orientation_label(n / np.linalg.norm(n)) == label


# --- command line ---------------------------------------------------------------------------------
def test_cli_scan_json_and_convert(study, tmp_path, capsys):
    assert main(["scan", str(study), "--json"]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out)
    assert {s["series_number"] for s in listed} == {1, 3, 4, 5}
    t1 = next(s for s in listed if s["series_number"] == 3)

    assert main(["scan", str(study)]) == 0
    table = capsys.readouterr().out
    assert "STIR" in table and "skipped 2 non-DICOM" in table

    target = tmp_path / "out" / "t1.nii.gz"
    assert main(["convert", str(study), str(target), "--series-uid", t1["series_instance_uid"]]) == 0
    assert np.array_equal(read_nifti(target).array, read_series(study / "t1").volume.array)
    assert main(["convert", str(study), str(tmp_path / "x.nii.gz")]) == 2  # several series: user error
    assert "series found" in capsys.readouterr().err

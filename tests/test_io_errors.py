"""Bad input is refused with the project's errors, naming the file and the problem."""

from __future__ import annotations

import os
import shutil
import tracemalloc

import numpy as np
import pydicom
import pytest

from onfh_imaging.errors import (
    IncompleteSeriesError,
    InputError,
    NoPixelDataError,
    NotDicomError,
    TooLargeError,
    UnreadableFileError,
    UnsupportedInputError,
)
from onfh_imaging.io import read_radiograph, read_series, scan, write_mr_series

from conftest import CORONAL, oblique_coronal


@pytest.fixture
def series_dir(tmp_path, textured_volume):
    folder = tmp_path / "series"
    files = write_mr_series(textured_volume(oblique_coronal(12, 12)), folder)
    return folder, files


def test_missing_middle_slice_reports_gap_in_mm(series_dir):
    folder, files = series_dir
    files[3].unlink()
    with pytest.raises(IncompleteSeriesError) as err:
        read_series(folder)
    msg = str(err.value)
    assert "gap of 8.00 mm" in msg and "expected 4.00 mm" in msg and "1 slice(s) missing" in msg
    assert files[2].name in msg and files[4].name in msg


def test_uneven_spacing_is_refused(tmp_path, textured_volume):
    vol = textured_volume(CORONAL)
    files = write_mr_series(vol, tmp_path)
    ds = pydicom.dcmread(files[-1])
    ds.ImagePositionPatient[1] = float(ds.ImagePositionPatient[1]) + 1.5  # last slice 5.5 mm away
    ds.save_as(files[-1])
    with pytest.raises(IncompleteSeriesError, match=r"gap of 5\.50 mm.*uneven slice spacing"):
        read_series(tmp_path)


def test_identical_duplicate_is_dropped_with_warning(series_dir):
    folder, files = series_dir
    ds = pydicom.dcmread(files[2])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(folder / "copy.dcm")
    series = read_series(folder)
    assert series.volume.shape[0] == len(files)
    assert any("duplicate" in w and "copy.dcm" in w or files[2].name in w for w in series.warnings)


def test_different_images_at_same_position_are_refused(series_dir):
    folder, files = series_dir
    ds = pydicom.dcmread(files[2])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    arr = ds.pixel_array.copy()
    arr[0, 0] += 1
    ds.PixelData = arr.tobytes()
    ds.save_as(folder / "other.dcm")
    with pytest.raises(IncompleteSeriesError, match="two different images at the same position"):
        read_series(folder)


def test_gantry_tilt_is_rejected_with_angle(tmp_path, textured_volume):
    files = write_mr_series(textured_volume(CORONAL), tmp_path)
    shift_per_slice = 4.0 * np.tan(np.deg2rad(15.0))  # positions drift superiorly: 15 degree shear
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + k * shift_per_slice
        ds.save_as(f)
    with pytest.raises(UnsupportedInputError, match=r"15\.00 degrees"):
        read_series(tmp_path)


def test_several_series_need_a_uid(tmp_path, textured_volume):
    vol = textured_volume(CORONAL)
    write_mr_series(vol, tmp_path, series_instance_uid="1.2.3.1", series_number=1)
    write_mr_series(vol.with_array(vol.array + 1), tmp_path / "b", series_instance_uid="1.2.3.2",
                    series_number=2, sequence="STIR", series_description="COR STIR")
    with pytest.raises(InputError, match=r"2 series found.*1\.2\.3\.1.*1\.2\.3\.2"):
        read_series(tmp_path)
    stir = read_series(tmp_path, "1.2.3.2")
    assert np.array_equal(stir.volume.array, vol.array + 1)
    with pytest.raises(InputError, match="no series 9.9"):
        read_series(tmp_path, "9.9")


def test_truncated_file(series_dir):
    folder, files = series_dir
    data = files[1].read_bytes()
    files[1].write_bytes(data[: len(data) - 100])
    with pytest.raises(UnreadableFileError) as err:
        read_series(folder)
    assert files[1].name in str(err.value) and "truncated" in str(err.value)


def test_truncated_header(tmp_path, series_dir):
    folder, files = series_dir
    bad = tmp_path / "cut.dcm"
    bad.write_bytes(files[0].read_bytes()[:400])
    with pytest.raises(UnreadableFileError, match="cut.dcm"):
        read_series([bad])


def test_zero_byte_and_text_files(tmp_path, series_dir):
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("hip MRI report\n" * 20)
    with pytest.raises(NotDicomError, match="empty.dcm.*0 bytes"):
        read_series([empty])
    with pytest.raises(NotDicomError, match="notes.txt"):
        read_radiograph(text)
    # in a folder they are skipped, counted, and reported as a warning
    folder, files = series_dir
    shutil.copy(empty, folder)
    shutil.copy(text, folder)
    series = read_series(folder)
    assert any("2 non-DICOM" in w for w in series.warnings)
    assert len(scan(folder).skipped_non_dicom) == 2


def test_dicom_without_pixel_data(tmp_path, series_dir):
    folder, files = series_dir
    ds = pydicom.dcmread(files[0])
    del ds.PixelData
    ds.save_as(tmp_path / "header_only.dcm")
    with pytest.raises(NoPixelDataError, match="header_only.dcm"):
        read_series([tmp_path / "header_only.dcm"])
    with pytest.raises(NoPixelDataError, match="header_only.dcm"):
        read_radiograph(tmp_path / "header_only.dcm")


def test_short_pixel_data(tmp_path, series_dir):
    folder, files = series_dir
    ds = pydicom.dcmread(files[0])
    ds.PixelData = ds.PixelData[:-200]  # a well-formed element shorter than Rows x Columns
    ds.save_as(files[0])
    with pytest.raises(UnreadableFileError, match=f"{files[0].name}.*pixel data holds"):
        read_series(folder)


def test_impossible_dimensions_refused_before_allocating(tmp_path, series_dir):
    folder, files = series_dir
    ds = pydicom.dcmread(files[0])
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 5000
    ds.save_as(tmp_path / "huge.dcm")
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match="GiB"):
            read_series([tmp_path / "huge.dcm"])
        with pytest.raises(TooLargeError, match="huge.dcm"):
            read_radiograph(tmp_path / "huge.dcm")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024**2


def test_memory_limit_is_configurable(series_dir):
    folder, files = series_dir
    with pytest.raises(TooLargeError):
        read_series(folder, max_bytes=1000)


def test_single_slice_is_not_a_volume(tmp_path, textured_volume):
    vol = textured_volume(CORONAL, shape=(1, 8, 8))
    write_mr_series(vol, tmp_path)
    with pytest.raises(UnsupportedInputError, match="lone slice"):
        read_series(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permissions(series_dir):
    folder, files = series_dir
    files[0].chmod(0)
    try:
        with pytest.raises(UnreadableFileError, match="permission denied"):
            read_series([files[0]])
    finally:
        files[0].chmod(0o644)


def test_missing_path():
    with pytest.raises(UnreadableFileError, match="no such file"):
        read_series("/nonexistent/series")

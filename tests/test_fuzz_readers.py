"""Property-based fuzzing of the DICOM readers.

Mutated copies of a valid slice (bit flips, truncations, insertions, overwritten length fields) may be
read or refused, but only with an :class:`~onfh_imaging.errors.OnfhError`: any other exception is a bug.
The fast header walker is checked against pydicom on random valid datasets.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from onfh_imaging.errors import OnfhError
from onfh_imaging.geometry import Volume
from onfh_imaging.io import read_radiograph, read_series, scan, write_mr_series
from onfh_imaging.io._header import KEYWORDS, header_from_dataset, read_header

from conftest import CORONAL

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _valid_slice() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        volume = Volume(np.arange(2 * 8 * 6, dtype=np.int16).reshape(2, 8, 6), spacing=(0.7, 0.7, 4.0),
                        direction=CORONAL)
        return write_mr_series(volume, tmp, shuffle_seed=None)[0].read_bytes()


VALID = _valid_slice()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@st.composite
def mutated(draw) -> bytes:
    """The valid slice with 1-4 random mutations."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "length"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "length" and at + 4 <= len(data):  # a 16- or 32-bit field set to a hostile value
            value = draw(st.sampled_from([0, 1, 3, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE]))
            width = draw(st.sampled_from([2, 4]))
            data[at:at + width] = struct.pack("<I", value)[:width]
    return bytes(data)


def _only_project_errors(fn) -> None:
    try:
        fn()
    except OnfhError:
        pass


@FUZZ
@given(data=mutated())
def test_mutated_files_raise_only_project_errors(workdir, data):
    path = workdir / "fuzzed.dcm"
    path.write_bytes(data)
    _only_project_errors(lambda: read_series([path]))
    _only_project_errors(lambda: read_radiograph(path))
    result = scan(path)  # never raises for an existing path: the file lands in exactly one list
    found = [f for s in result.series for f in s.files]
    assert len(found + result.skipped_non_dicom + result.non_image + result.unreadable) == 1


@FUZZ
@given(data=mutated())
def test_mutated_slice_in_a_folder(workdir, data):
    """A mutated slice next to an intact one: reading the folder returns a volume or a project error."""
    folder = workdir / "pair"
    folder.mkdir(exist_ok=True)
    (folder / "a.dcm").write_bytes(VALID)
    (folder / "b.dcm").write_bytes(data)
    _only_project_errors(lambda: read_series(folder))


# --- the walker against pydicom ---------------------------------------------------------------------
_TEXT = st.text(alphabet="ABCXYZ019 ^-_.", min_size=0, max_size=20).map(str.strip)
_DS = st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: float(f"{v:.6g}"))
_FIELDS = {
    "PatientName": _TEXT, "PatientID": _TEXT, "SeriesDescription": _TEXT, "ProtocolName": _TEXT,
    "Modality": st.sampled_from(["MR", "CT", "DX", "CR"]), "StudyDate": st.just("20260102"),
    "SeriesNumber": st.integers(-999, 99999), "InstanceNumber": st.integers(0, 99999),
    "EchoTime": _DS, "RepetitionTime": _DS, "SliceThickness": _DS,
    "PixelSpacing": st.lists(_DS, min_size=2, max_size=2),
    "ImagePositionPatient": st.lists(_DS, min_size=3, max_size=3),
    "ImageOrientationPatient": st.lists(_DS, min_size=6, max_size=6),
    "Rows": st.integers(1, 65535), "Columns": st.integers(1, 65535),
    "BitsAllocated": st.sampled_from([8, 16]), "PixelRepresentation": st.integers(0, 1),
    "ImageType": st.lists(st.sampled_from(["ORIGINAL", "PRIMARY", "M", "ND"]), min_size=1, max_size=4),
}


@st.composite
def datasets(draw) -> Dataset:
    ds = Dataset()
    chosen = draw(st.lists(st.sampled_from(sorted(_FIELDS)), unique=True, max_size=len(_FIELDS)))
    for keyword in chosen:
        setattr(ds, keyword, draw(_FIELDS[keyword]))
    if draw(st.booleans()):  # a nested sequence the walker must skip
        inner = Dataset()
        inner.CodeValue = draw(_TEXT) or "X"
        outer = Dataset()
        outer.ProcedureCodeSequence = Sequence([inner])
        ds.RequestAttributesSequence = Sequence([outer, Dataset()])
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.add_new(0x7FE00010, "OW", b"\x00\x01" * draw(st.integers(0, 8)))
    return ds


@FUZZ
@given(ds=datasets())
def test_walker_agrees_with_pydicom(workdir, ds):
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = workdir / "walker.dcm"
    ds.save_as(path, enforce_file_format=True)
    fast = read_header(path)
    assert fast.dataset is None, "the fast walker should read a classic explicit-VR file"
    slow = header_from_dataset(pydicom.dcmread(path, stop_before_pixels=True), path, None)
    for keyword in KEYWORDS:
        assert fast.text(keyword) == slow.text(keyword), keyword
        assert fast.floats(keyword) == slow.floats(keyword), keyword
    with path.open("rb") as f:
        f.seek(fast.pixel_offset)
        assert f.read(fast.pixel_length) == ds.PixelData

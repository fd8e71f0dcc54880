"""Headers read through the layout of an already walked file equal what a full read gives.

:class:`~onfh_imaging.io._layouts.HeaderReader` skips the element walk for files whose tag, VR and
length bytes match a file it has walked. These tests check that it never changes a result: on a
series whose files have several layouts, on files that differ only in their transfer syntax, and on
randomly damaged copies of a walked file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from onfh_imaging.errors import OnfhError
from onfh_imaging.geometry import Volume
from onfh_imaging.io import _header, read_series, write_mr_series
from onfh_imaging.io._header import KEYWORDS, read_header
from onfh_imaging.io._layouts import HeaderReader

from conftest import CORONAL
from test_fuzz_readers import FUZZ, VALID, mutated


def _same(a: _header.Header, b: _header.Header) -> None:
    assert (a.path, a.transfer_syntax, a.pixel_offset, a.pixel_length, a.file_size) == (
        b.path, b.transfer_syntax, b.pixel_offset, b.pixel_length, b.file_size)
    for keyword in KEYWORDS:
        assert a.text(keyword) == b.text(keyword), keyword
        assert a.floats(keyword) == b.floats(keyword), keyword


def _outcome(read, path: Path):
    try:
        return read(path)
    except OnfhError as exc:
        return type(exc), str(exc)


@pytest.fixture(scope="module")
def long_series(tmp_path_factory) -> tuple[Volume, list[Path]]:
    """120 slices: instance numbers of 1-3 digits and positions of several lengths give several layouts."""
    values = np.arange(120 * 6 * 5, dtype=np.int16).reshape(120, 6, 5)
    volume = Volume(values, spacing=(0.7, 0.7, 1.3), origin=(-10.0, 3.25, -70.0), direction=CORONAL)
    return volume, write_mr_series(volume, tmp_path_factory.mktemp("long"), shuffle_seed=3)


def test_every_header_of_a_series_equals_the_walked_one(long_series, monkeypatch):
    _, files = long_series
    walked = [read_header(f) for f in files]
    walks = []
    real_walk = _header._walk
    monkeypatch.setattr(_header, "_walk", lambda *a: walks.append(1) or real_walk(*a))
    reader = HeaderReader()
    for f, expected in zip(files, walked):
        _same(reader(f), expected)
    layouts = {(h.pixel_offset, h.text("InstanceNumber").__len__(), h.text("ImagePositionPatient").__len__())
               for h in walked}
    assert 1 < len(walks) <= len(layouts) + 8 < len(files) // 4  # most headers were not walked


def test_series_read_through_layouts_is_exact(long_series):
    volume, files = long_series
    series = read_series(files[0].parent)
    assert np.array_equal(series.volume.array, volume.array)
    np.testing.assert_allclose(series.volume.affine_lps, volume.affine_lps, atol=1e-4)


def test_a_changed_transfer_syntax_is_not_taken_from_the_layout(tmp_path):
    """Same length, same structure, another encoding: the file must be read as what it says it is."""
    little = tmp_path / "little.dcm"
    little.write_bytes(VALID)
    big = tmp_path / "big.dcm"
    big.write_bytes(VALID.replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.2\x00", 1))
    reader = HeaderReader()
    reader(little)
    assert _outcome(reader, big) == _outcome(read_header, big)
    assert _outcome(read_header, big) != _outcome(read_header, little)


@FUZZ
@given(data=mutated())
def test_damaged_copy_of_a_walked_file_reads_as_a_full_read_does(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("layout", numbered=True)
    original, damaged = folder / "a.dcm", folder / "b.dcm"
    original.write_bytes(VALID)
    damaged.write_bytes(data)
    reader = HeaderReader()
    reader(original)
    through_layout, full = _outcome(reader, damaged), _outcome(read_header, damaged)
    if isinstance(full, tuple):
        assert through_layout == full
    else:
        _same(through_layout, full)

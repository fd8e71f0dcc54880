"""Hostile and damaged input: every reader refuses it with a project error naming the file.

A corpus of damaged files is built from one valid slice (truncations, broken lengths, wrong value
representations, impossible sizes, deep nesting...). Each goes through ``read_series``,
``read_radiograph``, ``read_image``, ``scan`` and the command line. Nothing may escape but an
:class:`~onfh_imaging.errors.OnfhError` whose message names the file; nothing may hang (every test runs
under an alarm) or allocate what the header claims; no message may carry the patient's identifiers.
"""

from __future__ import annotations

import ast
import logging
import os
import shutil
import signal
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.cli import main as cli_main
from onfh_imaging.errors import (
    IncompleteSeriesError,
    InputError,
    NoPixelDataError,
    NotDicomError,
    OnfhError,
    TooLargeError,
    UnreadableFileError,
    UnsupportedInputError,
)
from onfh_imaging.geometry import Volume
from onfh_imaging.io import read_image, read_radiograph, read_series, scan, write_mr_series
from onfh_imaging.io import _header, _open

from conftest import CORONAL

PATIENT_NAME = "Qzxwvut^Crafted"
PATIENT_ID = "PID-7734-SECRET"
IDENTIFIERS = ("Qzxwvut", "Crafted", PATIENT_ID)
TIME_LIMIT_S = 60
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_hang():
    """Fail (instead of hanging CI) when a test runs longer than TIME_LIMIT_S."""

    def expire(signum, frame):
        raise TimeoutError(f"reader did not finish within {TIME_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- a valid series and a small explicit-VR element editor -----------------------------------------
def _volume(nk: int = 4, nj: int = 12, ni: int = 10) -> Volume:
    values = np.arange(nk * nj * ni, dtype=np.int16).reshape(nk, nj, ni) * 3 + 100
    return Volume(values, spacing=(0.7, 0.7, 4.0), origin=(-20.0, 5.0, 60.0), direction=CORONAL)


def _write_series(folder: Path, **kwargs) -> list[Path]:
    kwargs.setdefault("shuffle_seed", None)
    return write_mr_series(_volume(), folder, patient_name=PATIENT_NAME, patient_id=PATIENT_ID, **kwargs)


@pytest.fixture(scope="module")
def base_bytes(tmp_path_factory) -> bytes:
    """One valid MR slice (explicit VR little endian, 10 x 12 int16 pixels) as bytes."""
    return _write_series(tmp_path_factory.mktemp("base"))[1].read_bytes()


_LONG = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}


def _elements(data: bytes) -> dict[int, tuple[int, bytes, int, int]]:
    """Top-level elements of a file without sequences: tag -> (offset, VR, value offset, length)."""
    out, pos = {}, 132
    while pos + 8 <= len(data):
        group, elem, vr = struct.unpack_from("<HH2s", data, pos)
        if vr in _LONG:
            (length,) = struct.unpack_from("<I", data, pos + 8)
            start = pos + 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            start = pos + 8
        tag = (group << 16) | elem
        out[tag] = (pos, vr, start, length)
        if tag == 0x7FE00010:
            break
        pos = start + length
    return out


def _encode(tag: int, vr: bytes, value: bytes, length: int | None = None) -> bytes:
    length = len(value) if length is None else length
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr
    head += struct.pack("<HI", 0, length) if vr in _LONG else struct.pack("<H", length)
    return head + value


def _set(data: bytes, tag: int, vr: bytes, value: bytes, length: int | None = None) -> bytes:
    """Replace (or insert in tag order) a top-level element, optionally with a forged length field."""
    elements = _elements(data)
    if tag in elements:
        pos, _, start, old_len = elements[tag]
        return data[:pos] + _encode(tag, vr, value, length) + data[start + old_len:]
    after = min((e[0] for t, e in elements.items() if t > tag), default=len(data))
    return data[:after] + _encode(tag, vr, value, length) + data[after:]


def _text(value: str) -> bytes:
    raw = value.encode("latin-1")
    return raw + b" " if len(raw) % 2 else raw


def _delete(data: bytes, tag: int) -> bytes:
    pos, _, start, length = _elements(data)[tag]
    return data[:pos] + data[start + length:]


def _pixel_offset(data: bytes) -> int:
    return _elements(data)[0x7FE00010][2]


def _nested_sequence(depth: int) -> bytes:
    """A private sequence nested ``depth`` deep, every sequence and item of undefined length."""
    opening = (_encode(0x00091010, b"SQ", b"", 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF))
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    leaf = _encode(0x00091011, b"LO", b"leaf")
    return opening * depth + leaf + closing * depth


def _before_pixels(data: bytes, blob: bytes) -> bytes:
    pos = _elements(data)[0x7FE00010][0]
    return data[:pos] + blob + data[pos:]


# --- the corpus -----------------------------------------------------------------------------------
ROWS, COLUMNS, NUMBER_OF_FRAMES, BITS_ALLOCATED, BITS_STORED = 0x00280010, 0x00280011, 0x00280008, 0x00280100, 0x00280101
PIXEL_SPACING, ORIENTATION, SLOPE, SAMPLES = 0x00280030, 0x00200037, 0x00281053, 0x00280002
SERIES_DESCRIPTION, META_VERSION, STUDY_TIME, PIXEL_DATA = 0x0008103E, 0x00020001, 0x00080030, 0x7FE00010


def _truncations(data: bytes) -> dict[str, bytes]:
    px = _pixel_offset(data)
    meta_end = _elements(data)[0x00080016][0]
    cuts = {"in-preamble": 60, "in-magic": 130, "in-meta-tag": 134, "in-meta-value": 150,
            "end-of-meta": meta_end, "in-dataset-quarter": meta_end + (px - meta_end) // 4 + 3,
            "in-dataset-half": meta_end + (px - meta_end) // 2 + 1, "in-pixel-tag": px - 7,
            "at-pixel-value": px, "in-pixel-value": px + 1, "pixel-half": px + (len(data) - px) // 2,
            "last-byte": len(data) - 1}
    cases = {f"truncated-{name}": data[:cut] for name, cut in cuts.items()}
    nested = _before_pixels(data, _nested_sequence(40))
    sq = _elements(data)[PIXEL_DATA][0]
    for frac in (0.1, 0.5, 0.9):
        cases[f"truncated-in-sequence-{frac}"] = nested[:sq + int(frac * 40 * 40)]
    return cases


def _corpus(data: bytes) -> dict[str, bytes]:
    px = _pixel_offset(data)
    cases = _truncations(data)
    cases.update({
        "zero-bytes": b"",
        "text": b"hip MRI report\n" * 50,
        "wrong-magic": data[:128] + b"DICN" + data[132:],
        "garbage-preamble": os.urandom(128) + data[128:],
        "no-preamble": data[132:],
        "length-beyond-eof-short-vr": _set(data, STUDY_TIME, b"TM", b"120000", length=0xFFF0),
        "length-beyond-eof-wanted": _set(data, SERIES_DESCRIPTION, b"LO", b"COR T1", length=0xFFF0),
        "length-beyond-eof-long-vr": _set(data, META_VERSION, b"OB", b"\x00\x01", length=0x7FFFFFF0),
        "odd-length-rows": _set(data, ROWS, b"US", struct.pack("<H", 12) + b"\x00"),
        "odd-length-spacing": _set(data, PIXEL_SPACING, b"DS", b"0.7\\0.7", length=7),
        "undefined-length-non-sq": _set(data, META_VERSION, b"OB", b"\x00\x01", length=0xFFFFFFFF),
        "undefined-length-uncompressed-pixels": data[:px - 4] + struct.pack("<I", 0xFFFFFFFF) + data[px:],
        "undefined-length-text": _set(data, 0x00091012, b"UT", b"x" * 8, length=0xFFFFFFFF),
        "missing-pixel-data": data[:_elements(data)[PIXEL_DATA][0]],
        "short-pixel-element": data[:px - 4] + struct.pack("<I", 40) + data[px:px + 40],
        "terabyte-claim": _set(_set(_set(data, ROWS, b"US", struct.pack("<H", 65535)), COLUMNS, b"US",
                                    struct.pack("<H", 65535)), NUMBER_OF_FRAMES, b"IS", b"2147483647"),
        "frames-claim": _set(data, NUMBER_OF_FRAMES, b"IS", b"99999999"),
        "negative-frames": _set(data, NUMBER_OF_FRAMES, b"IS", b"-3"),
        "deep-nesting": _before_pixels(data, _nested_sequence(5000)),
        "deep-nesting-truncated": _before_pixels(data, _nested_sequence(5000))[:px + 5000 * 16],
        "rows-as-text": _set(data, ROWS, b"IS", b"abc "),
        "rows-zero": _set(data, ROWS, b"US", struct.pack("<H", 0)),
        "rows-nan": _set(data, ROWS, b"DS", b"nan "),
        "rows-negative": _set(data, ROWS, b"SS", struct.pack("<h", -12)),
        "bits-allocated-12": _set(data, BITS_ALLOCATED, b"US", struct.pack("<H", 12)),
        "bits-stored-40": _set(data, BITS_STORED, b"US", struct.pack("<H", 40)),
        "samples-zero": _set(data, SAMPLES, b"US", struct.pack("<H", 0)),
        "slope-nan": _set(data, SLOPE, b"DS", b"nan "),
        "spacing-text": _set(data, PIXEL_SPACING, b"DS", _text("a\\b")),
        "spacing-nan": _set(data, PIXEL_SPACING, b"DS", _text("nan\\nan")),
        "spacing-zero": _set(data, PIXEL_SPACING, b"DS", _text("0\\0")),
        "spacing-negative": _set(data, PIXEL_SPACING, b"DS", _text("-0.7\\-0.7")),
        "orientation-zeros": _set(data, ORIENTATION, b"DS", _text("0\\0\\0\\0\\0\\0")),
        "orientation-parallel": _set(data, ORIENTATION, b"DS", _text("1\\0\\0\\1\\0\\0")),
        "orientation-not-unit": _set(data, ORIENTATION, b"DS", _text("2\\0\\0\\0\\0\\-2")),
        "position-infinite": _set(data, 0x00200032, b"DS", _text("1e999\\0\\0")),
        "garbage-vr": data[:px - 12] + b"\x00\x00" + data[px - 10:],
        "random-after-meta": data[:_elements(data)[0x00080016][0]] + np.random.default_rng(1).bytes(600),
    })
    return cases


def _messages_without_identifiers(*texts: str) -> None:
    for text in texts:
        for ident in IDENTIFIERS:
            assert ident not in text, f"patient identifier in a message: {text!r}"


def _outcome(fn: Callable, path: Path) -> str:
    """Run a reader: 'ok', or the name of the OnfhError it raised (anything else fails the test)."""
    try:
        fn()
    except OnfhError as exc:
        assert path.name in str(exc), f"message does not name the file: {exc}"
        _messages_without_identifiers(str(exc))
        return type(exc).__name__
    return "ok"


EXPECTED = {  # read_series([file]) of a single damaged file; cases absent here may also read ("ok")
    "zero-bytes": NotDicomError, "text": NotDicomError, "wrong-magic": NotDicomError,
    "length-beyond-eof-short-vr": UnreadableFileError, "length-beyond-eof-wanted": UnreadableFileError,
    "missing-pixel-data": NoPixelDataError, "short-pixel-element": UnreadableFileError,
    "terabyte-claim": TooLargeError, "frames-claim": InputError, "negative-frames": UnreadableFileError,
    "rows-as-text": UnreadableFileError, "rows-zero": UnreadableFileError, "rows-nan": UnreadableFileError,
    "rows-negative": UnreadableFileError, "bits-allocated-12": UnsupportedInputError,
    "bits-stored-40": UnreadableFileError, "samples-zero": UnreadableFileError, "slope-nan": UnreadableFileError,
    "truncated-in-preamble": NotDicomError, "truncated-in-magic": NotDicomError,
    "truncated-in-pixel-value": UnreadableFileError, "truncated-pixel-half": UnreadableFileError,
    "truncated-last-byte": UnreadableFileError, "truncated-at-pixel-value": UnreadableFileError,
    "undefined-length-uncompressed-pixels": UnreadableFileError,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, base_bytes) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    paths = {}
    for name, data in _corpus(base_bytes).items():
        path = folder / f"{name}.dcm"
        path.write_bytes(data)
        paths[name] = path
    return paths


def _case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = _write_series(Path(tmp))[1].read_bytes()
    return sorted(_corpus(data))


@pytest.mark.parametrize("case", _case_names())
def test_damaged_file_through_every_reader(case, corpus, tmp_path, caplog):
    """Each damaged file gives 'ok' or a project error naming it, through every reader and the CLI."""
    path = corpus[case]
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        single = _outcome(lambda: read_series([path]), path)
        _outcome(lambda: read_radiograph(path), path)
        _outcome(lambda: read_image(path), path)
        result = scan(path)
    if case in EXPECTED:
        assert single == EXPECTED[case].__name__ or issubclass(
            getattr(sys.modules["onfh_imaging.errors"], single, type(None)), EXPECTED[case]), single
    accounted = ([f for s in result.series for f in s.files] + result.skipped_non_dicom + result.non_image
                 + [p for p, _ in result.unreadable])
    assert accounted == [path], "scan must account for the file exactly once"
    for _, reason in result.unreadable:
        assert path.name in reason
    _messages_without_identifiers(caplog.text, *(str(w.message) for w in caught), *(r for _, r in result.unreadable))


def test_header_damage_is_caught_by_scan_not_just_by_reading(corpus):
    """Truncated pixel data and impossible sizes are listed as unreadable by a headers-only scan."""
    for case in ("truncated-pixel-half", "truncated-last-byte", "short-pixel-element", "terabyte-claim",
                 "rows-as-text", "bits-stored-40", "length-beyond-eof-wanted"):
        result = scan(corpus[case])
        assert [p for p, _ in result.unreadable] == [corpus[case]], case


def test_valid_variants_read_exactly(corpus, base_bytes):
    """Encodings that are unusual but valid read the same pixels as the original slice."""
    reference = np.frombuffer(base_bytes[_pixel_offset(base_bytes):], dtype="<i2").reshape(12, 10)
    for case in ("garbage-preamble", "no-preamble", "deep-nesting", "odd-length-rows"):
        radiograph, _ = read_radiograph(corpus[case])
        assert np.array_equal(radiograph.pixels, reference.astype(np.float32)), case


def test_damaged_slice_in_a_series_names_the_file(tmp_path):
    """A damaged slice among good ones: read_series names it; scan lists it and keeps the others."""
    original = tmp_path / "original"
    files = _write_series(original)
    damaged = _corpus(files[2].read_bytes())
    for case in sorted(EXPECTED):
        folder = tmp_path / case
        shutil.copytree(original, folder)
        (folder / files[2].name).write_bytes(damaged[case])
        with pytest.raises(OnfhError) as err:
            read_series(folder)
        names = {files[2].name, files[1].name}  # a skipped slice is reported as the gap after its neighbour
        assert any(n in str(err.value) for n in names), (case, str(err.value))
        _messages_without_identifiers(str(err.value))
        result = scan(folder)
        assert len(result.series) == 1 and result.series[0].n_slices == 3, case


@pytest.mark.parametrize("case", ["spacing-nan", "spacing-zero", "spacing-negative", "spacing-text",
                                  "orientation-zeros", "orientation-parallel", "orientation-not-unit",
                                  "position-infinite"])
def test_bad_geometry_in_every_slice(tmp_path, case):
    """Non-physical spacing or orientation in a whole series is refused, naming a file."""
    folder = tmp_path / "s"
    files = _write_series(folder)
    for f in files:
        f.write_bytes(_corpus(f.read_bytes())[case])
    with pytest.raises((UnreadableFileError, UnsupportedInputError)) as err:
        read_series(folder)
    assert any(f.name in str(err.value) for f in files)
    assert len(scan(folder).series) == 1  # the headers still describe a series


def test_terabyte_claims_refused_before_allocating(corpus):
    tracemalloc.start()
    try:
        for reader in (lambda p: read_series([p]), read_radiograph, read_image, scan):
            try:
                reader(corpus["terabyte-claim"])
            except TooLargeError as exc:
                assert "GiB" in str(exc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024**2


def test_deep_nesting_does_not_recurse(corpus, tmp_path):
    """Sequences nested 5000 deep: the header walker is iterative; pydicom's recursion is caught."""
    assert _header.read_header(corpus["deep-nesting"]).pixel_offset is not None
    data = corpus["deep-nesting"].read_bytes()
    pixel_element = data.rfind(b"\xe0\x7f\x10\x00OW")
    fallback = tmp_path / "deep.dcm"  # an element without a VR after the nesting sends the file to pydicom
    fallback.write_bytes(data[:pixel_element] + struct.pack("<HHI", 0x0009, 0x1020, 2) + b"xy"
                         + data[pixel_element:])
    assert _outcome(lambda: read_series([fallback]), fallback) != "ok"


# --- folders and archives -------------------------------------------------------------------------
def test_mixed_series_and_single_slice(tmp_path):
    _write_series(tmp_path / "a", series_instance_uid="1.2.3.1", series_number=1)
    _write_series(tmp_path / "b", series_instance_uid="1.2.3.2", series_number=2)
    with pytest.raises(InputError, match=r"2 series found.*1\.2\.3\.1.*1\.2\.3\.2"):
        read_series(tmp_path)
    assert len(scan(tmp_path).series) == 2
    single = tmp_path / "single"
    write_mr_series(_volume(nk=1), single, patient_name=PATIENT_NAME, patient_id=PATIENT_ID)
    with pytest.raises(UnsupportedInputError, match="lone slice") as err:
        read_series(single)
    _messages_without_identifiers(str(err.value))


def test_permission_denied_path_without_root(tmp_path, monkeypatch):
    """open() raising PermissionError (what a non-root user gets) is reported per file, scan goes on."""
    files = _write_series(tmp_path / "s")
    real_open = _open._open_regular

    def guarded(path):
        if Path(path) == files[0]:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path)

    monkeypatch.setattr(_open, "_open_regular", guarded)
    with pytest.raises(UnreadableFileError, match=f"{files[0].name}.*permission denied"):
        read_series([files[0]])
    with pytest.raises(UnreadableFileError, match=files[0].name):
        read_series(tmp_path / "s")
    result = scan(tmp_path / "s")
    assert [p for p, _ in result.unreadable] == [files[0]] and "permission denied" in result.unreadable[0][1]
    assert cli_main(["convert", str(files[0]), str(tmp_path / "out.nii")]) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_for_real(tmp_path):
    files = _write_series(tmp_path / "s")
    files[0].chmod(0)
    try:
        result = scan(tmp_path / "s")
        assert [p for p, _ in result.unreadable] == [files[0]]
    finally:
        files[0].chmod(0o644)


def test_symlink_loops_do_not_hang(tmp_path):
    study = tmp_path / "study"
    files = _write_series(study / "series")
    (study / "series" / "loop").symlink_to(study, target_is_directory=True)  # a folder link back up
    (study / "self").symlink_to(study / "self")  # a link to itself
    (study / "a").symlink_to(study / "b")
    (study / "b").symlink_to(study / "a")
    result = scan(study)
    assert len(result.series) == 1 and result.series[0].files == files
    assert {p.name for p, _ in result.unreadable} == {"self", "a", "b"}
    with pytest.raises(UnreadableFileError, match="self"):
        read_series([study / "self"])
    with pytest.raises(UnreadableFileError):
        scan(study / "self")
    with pytest.raises(UnreadableFileError, match="unreadable file"):
        read_series(study)  # the loops are unreadable files of this folder


def test_folder_named_like_a_file(tmp_path):
    files = _write_series(tmp_path / "s")
    fake = tmp_path / "s" / "IM_9999.dcm"
    fake.mkdir()
    series = read_series(tmp_path / "s")
    assert series.volume.shape[0] == len(files)
    with pytest.raises(UnreadableFileError, match="IM_9999.dcm.*folder"):
        read_series([fake])
    with pytest.raises(UnreadableFileError, match="IM_9999.dcm"):
        read_radiograph(fake)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipes_and_devices_are_refused_not_waited_on(tmp_path):
    """A pipe among the files would block a plain open() until a writer appears; it is refused."""
    files = _write_series(tmp_path / "s")
    pipe = tmp_path / "s" / "IM_PIPE.dcm"
    os.mkfifo(pipe)
    result = scan(tmp_path / "s")
    assert len(result.series) == 1 and result.series[0].files == files
    assert [(p, "not a regular file" in e) for p, e in result.unreadable] == [(pipe, True)]
    with pytest.raises(UnreadableFileError, match="IM_PIPE.dcm.*not a regular file"):
        read_series([pipe])
    with pytest.raises(UnreadableFileError, match="not a regular file"):
        read_radiograph(Path(os.devnull))


def test_many_tiny_non_dicom_files_are_skipped(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    for n in range(3000):
        (folder / f"f{n:05d}").write_bytes(b"x" * (n % 7))
    files = _write_series(folder / "series")
    result = scan(folder)
    assert len(result.skipped_non_dicom) == 3000 and result.series[0].files == files
    assert read_series(folder).volume.shape[0] == len(files)


def _zip_with_forged_size(path: Path, member: str, data: bytes, claimed: int) -> None:
    """A zip whose central directory claims ``claimed`` uncompressed bytes for ``member``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member, data)
    raw = bytearray(path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = struct.pack("<I", claimed)
    path.write_bytes(bytes(raw))


def test_zip_member_claiming_a_huge_size_is_refused(tmp_path, base_bytes):
    archive = tmp_path / "bomb.zip"
    _zip_with_forged_size(archive, "IM1.dcm", base_bytes, 0xFFFF0000)
    tracemalloc.start()
    try:
        result = scan(archive)
        with pytest.raises(TooLargeError, match="IM1.dcm.*GiB"):
            read_series(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.name for p, _ in result.unreadable] == ["IM1.dcm"] and "GiB" in result.unreadable[0][1]
    assert peak < 20 * 1024**2


def test_highly_compressed_member_is_streamed_not_inflated(tmp_path, monkeypatch):
    """A member of 64 MB of zeros (deflated to ~64 kB) is sniffed from its first bytes only."""
    archive = tmp_path / "zeros.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.dcm", bytes(64 * 1024**2))
    tracemalloc.start()
    try:
        result = scan(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.name for p in result.skipped_non_dicom] == ["zeros.dcm"]
    assert peak < 8 * 1024**2
    monkeypatch.setattr(_open, "MAX_ZIP_MEMBER_BYTES", 1024**2)
    assert "limit" in scan(archive).unreadable[0][1]


def test_zip_member_names_cannot_escape(tmp_path, base_bytes):
    """Members named ``../x`` or ``/abs/x`` are never read from (or written to) outside the archive."""
    outside = tmp_path / "outside"
    victim_files = _write_series(outside)
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../outside/" + victim_files[0].name, base_bytes)
        z.writestr(str(victim_files[1]), base_bytes)  # an absolute name pointing at a real file
        z.writestr("ok/IM.dcm", base_bytes)
    before = sorted(p for p in tmp_path.rglob("*"))
    result = scan(archive)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing extracted anywhere
    assert all(str(f).startswith(str(archive) + os.sep) for s in result.series for f in s.files)
    refused = sorted(reason for _, reason in result.unreadable)
    assert len(refused) == 2 and all("points outside the archive" in r for r in refused)
    assert [f.name for s in result.series for f in s.files] == ["IM.dcm"]
    assert all(str(p).startswith(str(archive)) for p, _ in result.unreadable)


def test_damaged_zip_archive(tmp_path, base_bytes):
    archive = tmp_path / "cut.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("IM1.dcm", base_bytes)
    archive.write_bytes(archive.read_bytes()[:-30])  # central directory cut off
    result = scan(archive)
    assert [p for p, _ in result.unreadable] == [archive]
    with pytest.raises(OnfhError, match="cut.zip"):
        read_series(archive)
    corrupt = tmp_path / "crc.zip"
    with zipfile.ZipFile(corrupt, "w", zipfile.ZIP_STORED) as z:
        z.writestr("IM1.dcm", base_bytes)
    raw = bytearray(corrupt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip a pixel byte: CRC mismatch when the member is read to its end
    corrupt.write_bytes(bytes(raw))
    assert _outcome(lambda: read_radiograph(corrupt / "IM1.dcm"), corrupt) in ("ok", "UnreadableFileError")


# --- the command line -----------------------------------------------------------------------------
def test_cli_in_process_reports_one_line(corpus, capsys, tmp_path):
    for case in ("truncated-pixel-half", "terabyte-claim", "zero-bytes", "deep-nesting-truncated", "rows-nan"):
        code = cli_main(["convert", str(corpus[case]), str(tmp_path / "x.nii.gz")])
        err = capsys.readouterr().err
        assert code == 2 and corpus[case].name in err and "Traceback" not in err, (case, err)
        _messages_without_identifiers(err)
    assert cli_main(["scan", str(next(iter(corpus.values())).parent)]) == 0
    out = capsys.readouterr().out
    assert "unreadable" in out


def test_cli_subprocess_over_the_whole_corpus(corpus, tmp_path):
    """``python -m onfh_imaging scan`` over every damaged file at once exits 0 and never tracebacks."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    folder = next(iter(corpus.values())).parent
    done = subprocess.run([sys.executable, "-m", "onfh_imaging", "scan", "--json", str(folder)], env=env,
                          capture_output=True, text=True, timeout=TIME_LIMIT_S)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "unreadable" in done.stderr
    done = subprocess.run([sys.executable, "-m", "onfh_imaging", "convert", str(corpus["truncated-pixel-half"]),
                           str(tmp_path / "o.nii")], env=env, capture_output=True, text=True,
                          timeout=TIME_LIMIT_S)
    assert done.returncode == 2 and "truncated" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o.nii").exists()


# --- outputs stay where they are asked to go; nothing executes ------------------------------------
def test_convert_writes_only_the_chosen_file(tmp_path):
    hostile = "../../../../tmp/evil"
    folder = tmp_path / "in"
    _write_series(folder, series_description=hostile, extra={"ProtocolName": "/etc/passwd",
                                                              "StudyDescription": "..\\..\\x"})
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = sorted(tmp_path.rglob("*"))
    assert cli_main(["convert", str(folder), str(out_dir / "vol.nii.gz")]) == 0
    assert sorted(tmp_path.rglob("*")) == sorted(before + [out_dir / "vol.nii.gz"])


def test_export_folders_named_from_headers_stay_inside(tmp_path):
    from onfh_imaging.export import study_folder

    out = tmp_path / "out"
    for patient_id in ("../../evil", "/etc", "..", "a/../../b", "C:\\x", "\x00", "con"):
        record = {"input": {"patient_id": patient_id, "study_date": "../..", "series_instance_uid": "../x"}}
        folder = study_folder(out, record).resolve()
        assert folder.is_relative_to(out.resolve()) and folder != out.resolve(), patient_id


def test_io_never_executes_input():
    """The readers neither unpickle nor evaluate anything (static check of the io package)."""
    banned_calls = {"eval", "exec", "compile", "__import__"}
    banned_modules = {"pickle", "marshal", "shelve", "dill", "cloudpickle"}
    for source in (ROOT / "onfh_imaging" / "io").glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in banned_calls, f"{source.name} calls {node.func.id}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not banned_modules & {n.split(".")[0] for n in names}, f"{source.name} imports {names}"


def test_missing_series_and_identifiers_absent_from_errors(tmp_path, caplog):
    """Errors about a series (gaps, mixed series) name files and UIDs, never the patient."""
    caplog.set_level(logging.DEBUG)
    files = _write_series(tmp_path / "s")
    files[2].unlink()
    with pytest.raises(IncompleteSeriesError) as err:
        read_series(tmp_path / "s")
    _messages_without_identifiers(str(err.value), caplog.text)


# --- memory: pixels stream into one preallocated array ----------------------------------------------
@pytest.mark.parametrize("rescaled", [False, True])
def test_reading_a_series_allocates_little_beyond_the_volume(tmp_path, rescaled):
    """Peak traced allocations of read_series stay within 1.5x the returned array (256 x 256 x 60)."""
    rng = np.random.default_rng(3)
    values = rng.integers(0, 4000, (60, 256, 256)).astype(np.float32)
    if rescaled:
        values = values * np.float32(0.25) - np.float32(100.0)  # stored with RescaleSlope/Intercept
    volume = Volume(values, spacing=(0.7, 0.7, 4.0), direction=CORONAL)
    write_mr_series(volume, tmp_path)
    scan(tmp_path)  # first use of every code path (imports, caches) happens outside the measurement
    tracemalloc.start()
    try:
        series = read_series(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    array = series.volume.array
    assert np.allclose(array, values, atol=0.125 if rescaled else 0)
    assert array.dtype == (np.float32 if rescaled else np.uint16)
    assert peak <= 1.5 * array.nbytes, f"peak {peak / array.nbytes:.2f}x the array"

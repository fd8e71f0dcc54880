"""DICOM headers, read fast and uniformly.

A :class:`Header` holds the attributes the toolkit needs (as text, converted on access) plus where the
pixel data starts. Little-endian explicit-VR files without functional groups (nearly every classic
MR/CT/CR/DX file) are parsed by a small element walker that reads only the bytes before the pixel data;
anything else (implicit VR, big endian, deflate, Enhanced multi-frame) goes through pydicom. Both
paths give the same :class:`Header`.

Files may live inside a zip archive: ``archive.zip/folder/IM1`` names member ``folder/IM1``
(:mod:`onfh_imaging.io._open`).
"""

from __future__ import annotations

import io
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.errors import InvalidDicomError

from onfh_imaging.errors import NotDicomError, TruncatedFileError, UnreadableFileError
from onfh_imaging.io._formats import OTHER_FORMAT_HINTS, looks_like_raw_dicom, other_format
from onfh_imaging.io._open import READ_ERRORS, open_binary, read_error, short_text

if TYPE_CHECKING:
    from onfh_imaging.io._layouts import HeaderReader

__all__ = ["EXPLICIT_LE", "FIRST_READ", "IMPLICIT_LE", "KEYWORDS", "MAX_WALK_BYTES", "UNCOMPRESSED_LE", "Header",
           "header_from_dataset", "read_dataset", "read_header"]

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
UNCOMPRESSED_LE = {EXPLICIT_LE, IMPLICIT_LE}

KEYWORDS = (
    "SOPClassUID", "SOPInstanceUID", "Modality", "PatientID", "PatientName", "StudyInstanceUID", "StudyDate",
    "StudyDescription", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "ProtocolName",
    "SequenceName", "ScanningSequence", "SequenceVariant", "ScanOptions", "EchoTime", "RepetitionTime",
    "InversionTime", "EchoNumbers", "ImageType", "Rows", "Columns", "NumberOfFrames", "PixelSpacing",
    "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor", "SliceThickness",
    "SpacingBetweenSlices", "ImagePositionPatient", "ImageOrientationPatient", "FrameOfReferenceUID",
    "ViewPosition", "ImageLaterality", "Laterality", "InstanceNumber", "BitsAllocated", "BitsStored",
    "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation", "RescaleSlope",
    "RescaleIntercept", "PlanarConfiguration", "Manufacturer", "AcquisitionNumber", "BodyPartExamined",
    "PresentationIntentType", "GantryDetectorTilt", "MRAcquisitionType", "PatientOrientation",
)
_TAG_TO_KEYWORD = {int(tag_for_keyword(k)): k for k in KEYWORDS}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}  # PixelData, FloatPixelData, DoubleFloatPixelData
_FUNCTIONAL_GROUPS = {0x52009229, 0x52009230}
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
              b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
_BINARY_FORMATS = {b"US": "H", b"SS": "h", b"UL": "I", b"SL": "i", b"FL": "f", b"FD": "d"}
_UNDEFINED = 0xFFFFFFFF
FIRST_READ = 16384  # bytes read first; enough for the header of nearly every file
# The fast walker holds the whole header in memory; past this size (huge private elements, or a length
# field pointing far beyond the end of the file) pydicom reads it with large values left on disk.
MAX_WALK_BYTES = 64 * 1024**2


class _Fallback(Exception):
    """The fast walker met something it leaves to pydicom."""


class _NeedMore(Exception):
    """The header continues beyond the bytes read so far."""


@dataclass
class Header:
    """Selected attributes of one DICOM file and the location of its pixel data.

    Attributes
    ----------
    path : Path
        The file (``archive.zip/member`` for zip members).
    values : dict
        Keyword -> value as DICOM text (multi-values joined by backslashes); read through
        :meth:`text`, :meth:`floats`, :meth:`float` and :meth:`int`.
    transfer_syntax : str
        Transfer syntax UID.
    pixel_offset : int or None
        Byte offset of the pixel data value in the file; None when the file has no pixel data.
    pixel_length : int or None
        Length of the pixel data value in bytes; None when encapsulated (compressed) or absent.
    dataset : pydicom Dataset or None
        The parsed header when pydicom read it (needed for functional groups).
    file_size : int or None
        Size of the file (or zip member) in bytes.
    """

    path: Path
    values: dict[str, str | tuple[bytes, bytes]] = field(default_factory=dict)
    transfer_syntax: str = EXPLICIT_LE
    pixel_offset: int | None = None
    pixel_length: int | None = None
    dataset: Any = None
    file_size: int | None = None
    _numbers: dict[str, list[float] | None] = field(default_factory=dict, repr=False)

    def text(self, keyword: str, default: str = "") -> str:
        """An attribute as DICOM text.

        Parameters
        ----------
        keyword : str
            DICOM keyword, one of :data:`KEYWORDS`.
        default : str
            Returned when the attribute is absent.

        Returns
        -------
        str
            The value, multi-values joined by backslashes, padding stripped.
        """
        value = self.values.get(keyword)
        if value is None:
            return default
        if isinstance(value, tuple):  # (VR, raw bytes) from the fast walker, decoded on first use
            value = self.values[keyword] = _decode(*value)
        return value

    def floats(self, keyword: str) -> list[float] | None:
        """All values of a numeric attribute (DS, IS or binary); None when absent, empty or not numbers.

        Parameters
        ----------
        keyword : str
            DICOM keyword, one of :data:`KEYWORDS`.

        Returns
        -------
        list of float or None
            In the attribute's own unit (mm for PixelSpacing, ms for EchoTime...).
        """
        cache = self._numbers
        if keyword in cache:
            return cache[keyword]
        raw = self.text(keyword)
        try:
            result = [float(v) for v in raw.split("\\")] if raw.strip() else None
        except ValueError:
            result = None
        cache[keyword] = result
        return result

    def float(self, keyword: str) -> float | None:
        """The first value of a numeric attribute; None when absent or not a number.

        Parameters
        ----------
        keyword : str
            DICOM keyword, one of :data:`KEYWORDS`.

        Returns
        -------
        float or None
        """
        vals = self._numbers[keyword] if keyword in self._numbers else self.floats(keyword)
        return vals[0] if vals else None

    def int(self, keyword: str, default: int | None = None) -> int | None:
        """The first value of a numeric attribute, rounded to an integer.

        Parameters
        ----------
        keyword : str
            DICOM keyword, one of :data:`KEYWORDS`.
        default : int, optional
            Returned when the attribute is absent, not a number or not finite.

        Returns
        -------
        int or None
        """
        vals = self._numbers[keyword] if keyword in self._numbers else self.floats(keyword)
        if not vals or not math.isfinite(vals[0]):
            return default
        return int(round(vals[0]))

    @property
    def has_pixels(self) -> bool:
        """Whether the file holds pixel data (an image)."""
        return self.pixel_offset is not None

    @property
    def uncompressed(self) -> bool:
        """Whether the pixel data is native little endian of known length, readable in place."""
        return self.transfer_syntax in UNCOMPRESSED_LE and self.pixel_length is not None


# --- the fast walker ----------------------------------------------------------------------------
def _skip_items(buf: bytes, pos: int) -> int:
    """Position after an undefined-length explicit-VR sequence whose items start at ``pos``.

    Iterative, with an explicit stack, so that sequences nested thousands deep cannot exhaust the
    interpreter's recursion limit.
    """
    n = len(buf)
    inside_item = [False]  # one entry per open undefined-length sequence or item
    while inside_item:
        if pos + 8 > n:
            raise _NeedMore
        group, elem, length = struct.unpack_from("<HHI", buf, pos)
        if not inside_item[-1]:  # at the level of a sequence's items
            pos += 8
            if (group, elem) == (0xFFFE, 0xE0DD):
                inside_item.pop()
            elif (group, elem) != (0xFFFE, 0xE000):
                raise _Fallback
            elif length != _UNDEFINED:
                pos += length
            else:
                inside_item.append(True)
            continue
        if (group, elem) == (0xFFFE, 0xE00D):  # end of an undefined-length item
            pos += 8
            inside_item.pop()
            continue
        _, vr, length, start = _element_header(buf, pos)
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _Fallback
            inside_item.append(False)
            pos = start
        else:
            pos = start + length
    return pos


_SHORT_HEADER = struct.Struct("<HH2sH")
_LONG_LENGTH = struct.Struct("<I")


def _element_header(buf: bytes, pos: int) -> tuple[int, bytes, int, int]:
    """``(tag, vr, length, value position)`` of the explicit-VR element at ``pos``."""
    if pos + 8 > len(buf):
        raise _NeedMore
    group, elem, vr, length = _SHORT_HEADER.unpack_from(buf, pos)
    if vr in _LONG_VRS:
        if pos + 12 > len(buf):
            raise _NeedMore
        (length,) = _LONG_LENGTH.unpack_from(buf, pos + 8)
        return (group << 16) | elem, vr, length, pos + 12
    if vr not in _SHORT_VRS:
        raise _Fallback  # implicit VR inside an explicit dataset, or garbage
    return (group << 16) | elem, vr, length, pos + 8


def _decode(vr: bytes, raw: bytes) -> str:
    fmt = _BINARY_FORMATS.get(vr)
    if fmt is not None:
        count = len(raw) // struct.calcsize(fmt)
        return "\\".join(str(v) for v in struct.unpack(f"<{count}{fmt}", raw[:count * struct.calcsize(fmt)]))
    return raw.decode("latin-1").strip(" \x00")


# Tags the walker treats specially; every other tag not in _TAG_TO_KEYWORD is skipped.
_SPECIAL = {t: "pixel" for t in _PIXEL_TAGS} | {t: "groups" for t in _FUNCTIONAL_GROUPS} | {
    0x00020010: "syntax"}


def _walk(buf: bytes, path: Path, complete: bool) -> Header:
    """Parse the meta group and dataset of an explicit-VR little-endian Part 10 file.

    ``complete`` says whether ``buf`` holds the whole file (else running off its end asks for more).
    This loop runs once per element of every file scanned, so it is kept flat.
    """
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise _Fallback
    header = Header(path=path)
    values = header.values
    wanted = _TAG_TO_KEYWORD
    special = _SPECIAL
    long_vrs = _LONG_VRS
    short_vrs = _SHORT_VRS
    unpack_short = _SHORT_HEADER.unpack_from
    unpack_long = _LONG_LENGTH.unpack_from
    pos = 132
    n = len(buf)
    while True:
        if pos + 12 > n:
            if pos == n and complete:
                return header  # a dataset without pixel data (beyond n: a length runs past the end)
            if not complete or pos + 8 > n:
                raise _NeedMore
        group, elem, vr, length = unpack_short(buf, pos)
        if vr in long_vrs:
            (length,) = unpack_long(buf, pos + 8)
            start = pos + 12
        elif vr in short_vrs:
            start = pos + 8
        else:
            raise _Fallback  # implicit VR inside an explicit dataset, or garbage
        tag = (group << 16) | elem
        end = start + length
        keyword = wanted.get(tag)
        if keyword is not None:
            if length == _UNDEFINED:
                raise _Fallback
            if end > n:
                raise _NeedMore
            values[keyword] = (vr, buf[start:end])
        elif tag in special and _special_element(header, special[tag], buf, start, length):
            return header
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _Fallback
            pos = _skip_items(buf, start)
        else:
            pos = end


def _special_element(header: Header, kind: str, buf: bytes, start: int, length: int) -> bool:
    """Record where the pixel data starts (True) or the transfer syntax; leave groups and other syntaxes to pydicom."""
    if kind == "pixel":
        header.pixel_offset = start
        header.pixel_length = None if length == _UNDEFINED else length
        return True
    if kind == "groups":
        raise _Fallback
    if start + length > len(buf):
        raise _NeedMore
    ts = buf[start:start + length].decode("ascii", "replace").strip(" \x00")
    header.transfer_syntax = ts
    if ts == IMPLICIT_LE or ts.startswith(("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")):
        raise _Fallback
    return False


# --- the pydicom path ---------------------------------------------------------------------------
def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(_text_value(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    return str(value)


def _transfer_syntax(ds: pydicom.Dataset) -> str:
    """The transfer syntax UID, or the one matching how pydicom found the dataset encoded."""
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if ts:
        return ts
    implicit, little = ds.original_encoding
    if implicit is None:
        return EXPLICIT_LE
    if not little:
        return "1.2.840.10008.1.2.2"
    return IMPLICIT_LE if implicit else EXPLICIT_LE


def header_from_dataset(ds: pydicom.Dataset, path: Path, pixel_offset: int | None) -> Header:
    """A :class:`Header` from a pydicom dataset read with ``stop_before_pixels``.

    Parameters
    ----------
    ds : pydicom.Dataset
        The parsed header.
    path : Path
        The file it came from.
    pixel_offset : int or None
        Byte offset of the pixel data value in the file; None when there is none.

    Returns
    -------
    Header
        The :data:`KEYWORDS` values present in ``ds`` as text, with ``ds`` kept as ``dataset``.
    """
    ts = _transfer_syntax(ds)
    values = {}
    for keyword in KEYWORDS:
        elem = ds.get(keyword)
        if elem is not None and elem != "":
            values[keyword] = _text_value(elem)
    return Header(path=path, values=values, transfer_syntax=ts, pixel_offset=pixel_offset, dataset=ds)


def _pixel_element_after(fp: io.BufferedIOBase, ds: pydicom.Dataset) -> tuple[int | None, int | None]:
    """Locate the pixel data element at the file position where pydicom stopped.

    Returns ``(value offset, value length)``; the length is None for encapsulated data, the offset
    None when no pixel data follows.
    """
    implicit, little = ds.original_encoding
    endian = "<" if little in (None, True) else ">"
    pos = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return None, None
    group, elem = struct.unpack_from(f"{endian}HH", head, 0)
    if ((group << 16) | elem) not in _PIXEL_TAGS:
        return None, None
    if implicit:
        (length,) = struct.unpack_from(f"{endian}I", head, 4)
        start = pos + 8
    else:
        (length,) = struct.unpack_from(f"{endian}I", head, 8)
        start = pos + 12
    return start, (None if length == _UNDEFINED else length)


def _file_size(fp: io.BufferedIOBase) -> int | None:
    """Size in bytes of an open file; None for a zip member (whose size only its archive knows)."""
    try:
        return os.fstat(fp.fileno()).st_size
    except (OSError, io.UnsupportedOperation, AttributeError):
        return None


def _check_pixel_extent(header: Header) -> None:
    """Refuse, from the file size alone, a file whose uncompressed pixel data is cut short."""
    if header.pixel_offset is None or header.pixel_length is None or header.file_size is None:
        return
    end = header.pixel_offset + header.pixel_length
    if end > header.file_size:
        exc = TruncatedFileError(
            f"file truncated: pixel data ends after {max(0, header.file_size - header.pixel_offset)} of "
            f"{header.pixel_length} bytes", path=header.path, hint="copy the file again from its source")
        exc.header = header  # complete up to the pixels: the scan can tell which series lost this file
        raise exc


def read_header(path: str | os.PathLike) -> Header:
    """Read the header of one DICOM file (no pixel data).

    Parameters
    ----------
    path : path
        The file, or ``archive.zip/member`` for a zip member.

    Returns
    -------
    Header
        The attributes of :data:`KEYWORDS` and where the pixel data lies.

    Raises
    ------
    NotDicomError
        The file is not DICOM (empty, text, another format).
    UnreadableFileError
        Permission denied, missing, or a header that cannot be parsed (truncated).
    TooLargeError
        A zip member whose declared size is above :data:`onfh_imaging.io._open.MAX_ZIP_MEMBER_BYTES`.
    """
    return _read_header(Path(path), None)


def _read_header(path: Path, layouts: HeaderReader | None) -> Header:
    with open_binary(path) as fp:
        try:
            buf = fp.read(FIRST_READ)
            file_size = _file_size(fp)
        except READ_ERRORS as exc:
            raise read_error(exc, path, "the file") from exc
        if not buf:
            raise NotDicomError("empty file (0 bytes), not DICOM", path=path)
        has_preamble = len(buf) >= 132 and buf[128:132] == b"DICM"
        if not has_preamble and not looks_like_raw_dicom(buf):
            if buf.startswith(b"PK\x03\x04") and path.suffix.lower() == ".zip":
                raise UnreadableFileError("a zip archive that cannot be opened (damaged)", path=path)
            what = other_format(buf, path)
            raise NotDicomError(f"{what}, not DICOM" if what else "not DICOM: no 'DICM' marker at byte 128 and "
                                "no DICOM elements", path=path, hint=OTHER_FORMAT_HINTS.get(what))
        oversized = False
        if has_preamble:
            header = layouts.match(buf, path, file_size) if layouts is not None else None
            if header is None:
                header = _walk_file(fp, buf, path)
                if layouts is not None and isinstance(header, Header):
                    layouts.learn(buf, header)
            if isinstance(header, Header):
                header.file_size = file_size
                _check_pixel_extent(header)
                return header
            oversized = header == "oversized"
        try:
            fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=not has_preamble,
                                 defer_size=_DEFER if oversized else None)
            pixel_offset, pixel_length = _pixel_element_after(fp, ds)
            header = header_from_dataset(ds, path, pixel_offset)
        except InvalidDicomError as exc:
            raise NotDicomError(f"not a DICOM file ({short_text(exc)})", path=path) from exc
        except Exception as exc:  # pydicom raises many types on corrupt input
            raise UnreadableFileError(f"cannot parse the DICOM header: {short_text(exc)}", path=path) from exc
    header.pixel_length = pixel_length
    header.file_size = file_size
    if not has_preamble and "SOPClassUID" not in header.values and "Modality" not in header.values:
        raise NotDicomError("not a DICOM file (no preamble and no DICOM attributes)", path=path)
    _check_pixel_extent(header)
    return header


_DEFER = 1024**2  # values larger than this stay on disk when pydicom reads an oversized header


def _walk_file(fp: io.BufferedIOBase, buf: bytes, path: Path) -> Header | str:
    """The fast walker over a file whose first bytes are ``buf``.

    Returns the header, or why pydicom must read the file instead: ``"fallback"`` (an encoding the
    walker leaves to pydicom) or ``"oversized"`` (more than :data:`MAX_WALK_BYTES` before the pixels).
    """
    complete = len(buf) < FIRST_READ
    while True:
        try:
            return _walk(buf, path, complete)
        except _NeedMore:
            if complete:
                raise TruncatedFileError("file truncated inside the DICOM header", path=path,
                                          hint="an element runs past the end of the file") from None
            if len(buf) >= MAX_WALK_BYTES:
                return "oversized"
            want = min(len(buf) * 3, MAX_WALK_BYTES)
            try:
                more = fp.read(want)
            except READ_ERRORS as exc:
                raise read_error(exc, path, "the file") from exc
            complete = len(more) < want
            buf += more
        except (_Fallback, struct.error, UnicodeDecodeError):
            return "fallback"


def read_dataset(path: Path) -> pydicom.Dataset:
    """The complete dataset, pixel data included, wrapping pydicom's errors.

    Parameters
    ----------
    path : Path
        The file, or ``archive.zip/member``.

    Returns
    -------
    pydicom.Dataset

    Raises
    ------
    UnreadableFileError
        The file cannot be opened, read or parsed.
    """
    try:
        with open_binary(path) as fp:
            return pydicom.dcmread(fp, force=True)
    except (UnreadableFileError, NotDicomError):
        raise
    except Exception as exc:
        raise UnreadableFileError(f"cannot read the DICOM file: {exc}", path=path) from exc

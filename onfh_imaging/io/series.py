"""Read one DICOM series into a :class:`~onfh_imaging.geometry.Volume`, refusing what cannot be stacked.

Slices are ordered by their position along the slice normal (never by InstanceNumber or file name).
Missing slices, uneven spacing, duplicate positions with different pixels, gantry tilt and claimed sizes
that would exhaust memory are detected from the headers and reported with the file and the distance in
mm. Pixels of uncompressed files are read straight into one preallocated array; compressed and Enhanced
(multi-frame) objects are decoded by pydicom.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from onfh_imaging.errors import (
    IncompleteSeriesError,
    InputError,
    MixedAcquisitionsError,
    NoPixelDataError,
    NotAVolumeError,
    TooLargeError,
    TruncatedFileError,
    UnreadableFileError,
    UnsupportedInputError,
)
from onfh_imaging.geometry import Volume
from onfh_imaging.io._checks import DEFAULT_MAX_BYTES, TOO_LARGE_HINT, check_image_header
from onfh_imaging.io._header import Header, read_dataset
from onfh_imaging.io._layouts import HeaderReader
from onfh_imaging.io._open import READ_ERRORS, open_binary, read_error
from onfh_imaging.io._prefetch import prefetch
from onfh_imaging.io._records import ImageRecord
from onfh_imaging.io.scan import (
    SeriesInfo,
    group_series,
    is_series,
    iter_files,
    read_headers,
    spatial_order,
)

# Slices whose positions along the normal differ by less than this fraction of the slice spacing
# are the same slice; spacings may differ from the median by this fraction before the series counts
# as uneven.
DUPLICATE_FRACTION = 0.01
SPACING_TOLERANCE = 0.02
# A stack whose slice positions drift sideways by more than this fraction of a pixel is sheared
# (gantry tilt) and cannot be represented as a rectangular grid.
SHEAR_TOLERANCE_PX = 0.25
# Positions are decimal strings of a few digits: steps under a micrometre (mm) are rounding, and the
# duplicate and spacing tolerances never fall below these floors (mm) however fine the slices.
POSITION_FLOOR_MM = 1e-3
SPACING_FLOOR_MM = 0.01
# Pixel spacings written with different digits by one scanner still agree within this (relative, mm).
PIXEL_SPACING_RTOL, PIXEL_SPACING_ATOL_MM = 1e-4, 1e-5
# A sideways drift of the slices below the shear limit is ignored, said in a warning above this tilt.
TILT_WARNING_DEG = 0.01


@dataclass
class Series:
    """A volume read from DICOM with where it came from.

    Attributes
    ----------
    volume : Volume
        Pixels (modality values; float32 when rescaled, else the stored integer type) and geometry.
    info : SeriesInfo
        Header description of the series.
    warnings : list of str
        Things a reader should know (dropped duplicates, skipped files, slight tilt).
    files : list of Path
        The source files in spatial order: for classic series ``files[k]`` holds slice ``k``.
    """

    volume: Volume
    info: SeriesInfo
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


# --- collecting headers -------------------------------------------------------------------------
def _collect_headers(files_or_folder: str | os.PathLike | Iterable[str | os.PathLike],
                     warnings: list[str], max_bytes: int = DEFAULT_MAX_BYTES) -> list[Header]:
    if isinstance(files_or_folder, (str, os.PathLike)):
        root = Path(files_or_folder)
        if not root.exists() and not root.parent.exists():
            raise UnreadableFileError("no such file or folder", path=root)
        if root.is_dir() or root.suffix.lower() == ".zip":
            headers, non_dicom, non_image, unreadable = read_headers(iter_files(root), max_bytes)
            if unreadable:
                exc = unreadable[0][1]
                raise type(exc)(str(exc), hint=f"{len(unreadable)} unreadable file(s) in {root}") from exc
            if non_dicom:
                warnings.append(f"skipped {len(non_dicom)} non-DICOM file(s) in {root}")
            if non_image:
                warnings.append(f"skipped {len(non_image)} DICOM file(s) without an image in {root}")
            if not headers:
                raise NoPixelDataError("no DICOM images found", path=root)
            return headers
        paths = [root]
    else:
        paths = [Path(p) for p in files_or_folder]
        if not paths:
            raise InputError("no files given")
    headers = []
    read_header = HeaderReader()
    for p in paths:
        h = read_header(p)
        if not h.has_pixels:
            raise NoPixelDataError("DICOM file without pixel data (not an image)", path=p)
        check_image_header(h, max_bytes)
        headers.append(h)
    return headers


def _select(groups: list[tuple[SeriesInfo, list[ImageRecord]]], uid: str | None,
            source: object) -> tuple[SeriesInfo, list[ImageRecord]]:
    if uid is not None:
        hits = [g for g in groups if uid == g[0].key]
        if not hits:
            hits = [g for g in groups if is_series(g[0], uid)]
        if not hits:
            raise InputError(f"no series {uid} here", path=str(source),
                             hint="available: " + "; ".join(series_listing(g[0]) for g in groups))
    else:
        hits = groups
    if len(hits) > 1:
        raise InputError(f"{len(hits)} series found; choose one by series UID or key", path=str(source),
                         hint="; ".join(series_listing(g[0]) for g in hits))
    return hits[0]


def series_listing(info: SeriesInfo) -> str:
    """``KEY (#N 'DESCRIPTION', M images [sub-series])``: a series as the user picks it by key.

    Parameters
    ----------
    info : SeriesInfo
        The series' header description.

    Returns
    -------
    str
        One line naming the series' key, number, description, image count and sub-series.
    """
    extra = f" [{info.subseries}]" if info.subseries else ""
    return (f"{info.key} (#{info.series_number} {info.series_description!r}, {info.n_slices} images"
            f"{extra})")


# --- geometry -----------------------------------------------------------------------------------
def _check_size(records: list[ImageRecord], float_out: bool, max_bytes: int, name: str) -> None:
    """Refuse, from the headers alone, series whose pixels would not fit in ``max_bytes``."""
    total = 0
    seen: set[Path] = set()
    for r in records:
        if r.path in seen:
            continue
        seen.add(r.path)
        h = r.header
        per_value = max(4 if float_out else 0, ((h.int("BitsAllocated", 16) or 16) + 7) // 8)
        total += ((h.int("Rows", 0) or 0) * (h.int("Columns", 0) or 0) * r.n_frames
                  * (h.int("SamplesPerPixel", 1) or 1) * per_value)
    if total > max_bytes:
        raise TooLargeError(
            f"the headers claim {total / 1024**3:.1f} GiB of pixels, above the {max_bytes / 1024**3:.1f} GiB limit",
            path=name, hint=TOO_LARGE_HINT)


def _unique_positions(records: list[ImageRecord], normal: np.ndarray) -> list[list[ImageRecord]]:
    """Records grouped by position along the normal (duplicates share a group)."""
    along = np.array([float(r.position @ normal) for r in records])
    steps = np.diff(along)
    positive = steps[steps > POSITION_FLOOR_MM]
    scale = float(np.median(positive)) if positive.size else 1.0
    tol = max(DUPLICATE_FRACTION * scale, POSITION_FLOOR_MM)
    groups = [[records[0]]]
    for r, step in zip(records[1:], steps):
        if step < tol:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _check_spacing(groups: list[list[ImageRecord]], normal: np.ndarray, name: str) -> float:
    """Uniform slice spacing in mm along the normal, or IncompleteSeriesError naming the gap."""
    along = np.array([float(g[0].position @ normal) for g in groups])
    steps = np.diff(along)
    spacing = float(np.median(steps))
    tol = max(SPACING_TOLERANCE * spacing, SPACING_FLOOR_MM)
    bad = np.flatnonzero(np.abs(steps - spacing) > tol)
    if bad.size:
        k = int(bad[0])
        gap = float(steps[k])
        missing = gap / spacing - 1
        what = (f"{missing:.0f} slice(s) missing" if gap > spacing and abs(missing - round(missing)) < 0.1
                else "uneven slice spacing")
        raise IncompleteSeriesError(
            f"gap of {gap:.2f} mm between slices at {along[k]:.2f} mm and {along[k + 1]:.2f} mm along the "
            f"slice normal (files {groups[k][0].path.name} and {groups[k + 1][0].path.name}), expected "
            f"{spacing:.2f} mm: {what}", path=name,
            hint=f"{bad.size} irregular step(s) in {len(groups)} slices; the series cannot be stacked")
    return float((along[-1] - along[0]) / (len(along) - 1))


def _check_shear(groups: list[list[ImageRecord]], normal: np.ndarray, pixel: float, name: str,
                 warnings: list[str]) -> None:
    """Reject stacks whose slices drift sideways (gantry tilt / shear)."""
    p = np.array([g[0].position for g in groups])
    rel = p - p[0]
    along = rel @ normal
    lateral = np.linalg.norm(rel - along[:, None] * normal[None, :], axis=1)
    k = int(np.argmax(lateral))
    if lateral[k] <= 1e-6:
        return
    angle = float(np.degrees(np.arctan2(lateral[k], abs(along[k]))))
    if lateral[k] > SHEAR_TOLERANCE_PX * pixel:
        raise UnsupportedInputError(
            f"slice positions are not along the slice normal: gantry tilt or sheared stack of "
            f"{angle:.2f} degrees ({lateral[k]:.2f} mm sideways over {abs(along[k]):.1f} mm)", path=name,
            hint="resample the series onto an orthogonal grid before measuring")
    if angle > TILT_WARNING_DEG:
        warnings.append(f"slice positions drift {lateral[k]:.3f} mm sideways ({angle:.3f} degrees tilt); ignored")


# --- pixels -------------------------------------------------------------------------------------
_STORED = {(bits, signed): np.dtype(kind).newbyteorder("<") for bits, kinds in
           {8: (np.uint8, np.int8), 16: (np.uint16, np.int16), 32: (np.uint32, np.int32)}.items()
           for signed, kind in enumerate(kinds)}


def _stored_dtype(h: Header) -> np.dtype:
    return _raw_format(h)[0]


def _raw_format(h: Header) -> tuple[np.dtype, int | None]:
    """Stored dtype, and how many low bits hold the value when not all of them do (else None)."""
    bits = h.int("BitsAllocated", 16) or 16
    signed = int((h.int("PixelRepresentation", 0) or 0) == 1)
    dtype = _STORED.get((bits, signed))
    if dtype is None:
        raise UnsupportedInputError(f"BitsAllocated {bits} is not supported", path=h.path)
    stored = h.int("BitsStored", bits) or bits
    return dtype, (stored if stored < bits else None)


def _mask_bits(arr: np.ndarray, stored: int | None) -> np.ndarray:
    """Keep only the ``stored`` low bits (high bits may hold overlays), sign-extending signed data.

    Works in place: ``arr`` is the slice just read, still in the processor's cache.
    """
    if stored is None:
        return arr
    if arr.dtype.kind == "u":
        return np.bitwise_and(arr, np.array((1 << stored) - 1, dtype=arr.dtype), out=arr)
    shift = np.array(arr.dtype.itemsize * 8 - stored, dtype=arr.dtype)
    np.left_shift(arr, shift, out=arr)
    return np.right_shift(arr, shift, out=arr)


def _read_raw_frame(r: ImageRecord, out: np.ndarray) -> None:
    """Read frame ``r.frame`` of an uncompressed file directly into ``out`` (stored dtype)."""
    h = r.header
    frame_bytes = out.nbytes
    needed = frame_bytes * r.n_frames
    if h.pixel_length is not None and h.pixel_length < needed:
        raise TruncatedFileError(
            f"pixel data holds {h.pixel_length} bytes but Rows x Columns x frames needs {needed}",
            path=h.path, hint="the file is truncated or its header is wrong")
    offset = h.pixel_offset + r.frame * frame_bytes
    with open_binary(h.path) as fp:
        try:
            got = _read_at(fp, offset, memoryview(out).cast("B"))
        except READ_ERRORS as exc:
            raise read_error(exc, h.path, "the pixel data") from exc
    if got != frame_bytes:
        raise TruncatedFileError(
            f"file truncated: pixel data ends after {got + r.frame * frame_bytes} of {needed} bytes",
            path=h.path)


_PREADV = getattr(os, "preadv", None)


def _read_at(fp: io.BufferedIOBase, offset: int, into: memoryview) -> int:
    """Read ``len(into)`` bytes from ``offset`` (fewer at the end of the file); returns the count."""
    raw = getattr(fp, "raw", None)
    if _PREADV is not None and isinstance(raw, io.FileIO):  # one system call, bypassing the buffer
        fd, got = raw.fileno(), 0
        while got < len(into):
            n = _PREADV(fd, [into[got:]], offset + got)
            if not n:
                break
            got += n
        return got
    fp.seek(offset)
    return fp.readinto(into) or 0



def _decode_file(path: Path) -> tuple[np.ndarray, object]:
    """All frames of a (compressed or multi-frame) file as ``(frames, rows, cols)`` stored values."""
    ds = read_dataset(path)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise NoPixelDataError("DICOM file without pixel data", path=path)
    try:
        arr = ds.pixel_array
    except Exception as exc:  # decoders raise many types
        raise UnreadableFileError(f"cannot decode the pixel data: {exc}", path=path,
                                  hint=f"transfer syntax {ds.file_meta.get('TransferSyntaxUID', '?')}") from exc
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise UnsupportedInputError("colour images cannot form a volume", path=path)
    return arr.reshape(n_frames, int(ds.Rows), int(ds.Columns)), ds


def _decode_colour(path: Path) -> np.ndarray:
    """A single colour image as float32 ``(rows, cols, 3)`` RGB."""
    ds = read_dataset(path)
    try:
        arr = ds.pixel_array
    except Exception as exc:
        raise UnreadableFileError(f"cannot decode the pixel data: {exc}", path=path) from exc
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise UnsupportedInputError(f"expected one RGB image, got pixel array of shape {arr.shape}", path=path)
    return arr.astype(np.float32)


def _pixel_ranges(slices: list[list[ImageRecord]]) -> list[tuple[Path, int, int]]:
    """Where each file's pixel data lies, in the order the slices are read."""
    ranges, seen = [], set()
    for group in slices:
        for r in group:
            h = r.header
            if h.path not in seen:
                seen.add(h.path)
                ranges.append((h.path, h.pixel_offset or 0, h.pixel_length or 0))
    return ranges


def _fill(slot: np.ndarray, r: ImageRecord, scratch: np.ndarray | None, decoded: dict) -> None:
    """Write record ``r``'s modality values into ``slot``.

    ``scratch`` (stored dtype) is given when ``slot`` is float and values need rescaling; otherwise the
    stored values are read straight into ``slot``.
    """
    h = r.header
    has_lut = h.dataset is not None and "ModalityLUTSequence" in h.dataset
    if h.uncompressed and not has_lut:
        stored, kept_bits = _raw_format(h)
        target = scratch if scratch is not None else slot
        if target.dtype != stored:
            target = np.empty(slot.shape, dtype=stored)
        _read_raw_frame(r, target)
        raw = _mask_bits(target, kept_bits)
        if slot.dtype.kind == "f":
            np.multiply(raw, r.slope, out=slot, casting="unsafe")
            slot += np.float32(r.intercept)
        elif raw is not slot:
            slot[...] = raw
        return
    if h.path not in decoded:
        decoded.clear()  # keep at most one decoded file in memory
        decoded[h.path] = _decode_file(h.path)
    frames, ds = decoded[h.path]
    frame = frames[r.frame]
    if has_lut:
        from pydicom.pixels import apply_modality_lut

        slot[...] = apply_modality_lut(frame, ds)
    elif slot.dtype.kind == "f":
        np.multiply(frame, r.slope, out=slot, casting="unsafe")
        slot += np.float32(r.intercept)
    else:
        slot[...] = frame


def read_series(files_or_folder: str | os.PathLike | Sequence[str | os.PathLike],
                series_instance_uid: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Series:
    """Read one DICOM series as a volume in LPS mm.

    Parameters
    ----------
    files_or_folder : path or sequence of paths
        A folder (searched recursively, zip archives included; non-DICOM files skipped with a warning),
        a zip file, one file, or the files of a series.
    series_instance_uid : str, optional
        Which series to read when several are present: a SeriesInstanceUID or a sub-series key
        (``"<uid>#<n>"``, see :class:`~onfh_imaging.io.scan.SeriesInfo`).
    max_bytes : int
        Refuse (TooLargeError) series whose headers claim more pixel memory than this (default 4 GiB).

    Returns
    -------
    Series
        ``volume.array[k]`` is the slice at the k-th position along ``direction[:, 2]``
        (= row cosines x column cosines); ``spacing`` is (column spacing, row spacing, slice spacing).

    Raises
    ------
    InputError
        Several series and no (matching) UID.
    IncompleteSeriesError
        Missing slices or uneven spacing (message gives the gap in mm and the files around it),
        different images at the same position, inconsistent pixel spacing or size.
    UnsupportedInputError
        Gantry tilt / sheared stack (with the angle), a single image, colour data, no geometry.
    TooLargeError
        Claimed dimensions above ``max_bytes``; nothing is allocated.
    NotDicomError, UnreadableFileError, NoPixelDataError
        A file that is not DICOM, cannot be read or decoded (truncated), or holds no image.
    """
    warnings: list[str] = []
    headers = _collect_headers(files_or_folder, warnings, max_bytes)
    source = files_or_folder if isinstance(files_or_folder, (str, os.PathLike)) else headers[0].path.parent
    info, records = _select(group_series(headers), series_instance_uid, source)
    name = f"series {info.series_number} {info.series_description!r} ({info.key})"
    float_out = _needs_float(records)
    _check_size(records, float_out, max_bytes, name)
    slices, slice_spacing = _stacked_slices(info, spatial_order(records), name, warnings)
    volume = _stack_volume(_read_pixels(slices, float_out, name, warnings), slices, slice_spacing, name)
    info.files = files = _slice_files(slices)
    info.n_slices = len(slices)
    info.slice_spacing = slice_spacing
    return Series(volume=volume, info=info, warnings=warnings, files=files)


def _needs_float(records: list[ImageRecord]) -> bool:
    """Whether modality values differ from the stored ones (rescale or a modality LUT): float32 output."""
    return any(r.slope != 1.0 or r.intercept != 0.0 for r in records) or any(
        r.header.dataset is not None and "ModalityLUTSequence" in r.header.dataset for r in records)


def _check_slice_geometry(records: list[ImageRecord], name: str) -> None:
    """Every image has a position, an orientation and the same valid pixel spacing (mm), one sample."""
    first = records[0]
    if any(r.position is None or r.orientation is None for r in records):
        raise UnsupportedInputError("images without ImagePositionPatient/ImageOrientationPatient are not a volume",
                                    path=first.path, hint="radiographs are read with read_radiograph")
    if (first.header.int("SamplesPerPixel", 1) or 1) != 1:
        raise UnsupportedInputError("colour images cannot form a volume", path=first.path)
    if first.pixel_spacing is None:
        raise UnsupportedInputError("images without PixelSpacing have no physical size", path=first.path)
    checked: set[tuple] = set()
    for r in records:  # slices of a series share spacing and orientation: check each combination once
        key = (r.pixel_spacing, tuple(r.orientation))
        if key not in checked:
            _check_geometry(r)
            checked.add(key)
    for r in records[1:]:
        if r.pixel_spacing != first.pixel_spacing and not np.allclose(
                r.pixel_spacing or (0, 0), first.pixel_spacing, rtol=PIXEL_SPACING_RTOL, atol=PIXEL_SPACING_ATOL_MM):
            raise IncompleteSeriesError(
                f"pixel spacing changes within the series ({first.pixel_spacing} in {first.path.name}, "
                f"{r.pixel_spacing} in {r.path.name})", path=name)


def _stacked_slices(info: SeriesInfo, records: list[ImageRecord], name: str,
                    warnings: list[str]) -> tuple[list[list[ImageRecord]], float]:
    """Records in spatial order grouped by slice position, and the uniform slice spacing (mm)."""
    _check_slice_geometry(records, name)
    first = records[0]
    normal = first.normal
    slices = _unique_positions(records, normal)
    if len(slices) < 2:
        raise _not_a_volume(info, records, name)
    slice_spacing = _check_spacing(slices, normal, name)
    _check_shear(slices, normal, min(first.pixel_spacing), name, warnings)
    return slices, slice_spacing


def _read_pixels(slices: list[list[ImageRecord]], float_out: bool, name: str, warnings: list[str]) -> np.ndarray:
    """Modality values ``(slices, rows, columns)``; a duplicate at a position must equal its first image."""
    first = slices[0][0]
    normal = first.normal
    rows, cols = first.header.int("Rows"), first.header.int("Columns")
    dtype = np.dtype(np.float32) if float_out else _stored_dtype(first.header).newbyteorder("=")
    out = np.empty((len(slices), rows, cols), dtype=dtype)
    scratch = np.empty((rows, cols), dtype=_stored_dtype(first.header)) if float_out else None
    compare = np.empty((rows, cols), dtype=dtype)
    prefetch(_pixel_ranges(slices))
    decoded: dict = {}
    for k, group in enumerate(slices):
        _fill(out[k], group[0], scratch, decoded)
        for dup in group[1:]:
            _fill(compare, dup, scratch, decoded)
            if not np.array_equal(compare, out[k]):
                raise MixedAcquisitionsError(
                    f"two different images at the same position ({group[0].path.name} and {dup.path.name}, "
                    f"{float(dup.position @ normal):.2f} mm along the slice normal)", path=name,
                    hint="the series mixes acquisitions; split it by echo or acquisition before reading")
            warnings.append(f"dropped {dup.path.name}: duplicate of {group[0].path.name} at the same position")
    return out


def _stack_volume(pixels: np.ndarray, slices: list[list[ImageRecord]], slice_spacing: float,
                  name: str) -> Volume:
    """The pixels with the first slice's origin, orthonormalised cosines and spacing (LPS mm)."""
    first = slices[0][0]
    orientation = first.orientation
    direction = _orthonormalise(np.column_stack([orientation[:3], orientation[3:], first.normal]))
    try:
        return Volume(pixels, spacing=(first.pixel_spacing[1], first.pixel_spacing[0], slice_spacing),
                      origin=tuple(first.position), direction=direction)
    except ValueError as exc:  # positions so far apart that the spacing overflows
        raise UnreadableFileError(f"the slice geometry does not form a volume: {exc}", path=name) from exc


def _slice_files(slices: list[list[ImageRecord]]) -> list[Path]:
    """The file of each slice in spatial order, a multi-frame file once."""
    files: list[Path] = []
    for g in slices:
        if not files or (files[-1] is not g[0].path and files[-1] != g[0].path):
            files.append(g[0].path)
    return files


MOSAIC_HINT = ("convert it with dcm2niix, which unpacks mosaics, or export the series from the scanner "
               "without mosaic")
LONE_SLICE_HINT = "copy the whole series; single images are measured only as radiographs (CR, DX)"


def mosaic_reason(file_names: Sequence[str]) -> str:
    """Why a Siemens mosaic (ImageType MOSAIC) is not read as a volume.

    Parameters
    ----------
    file_names : sequence of str
        Names of the mosaic's files (at least one).

    Returns
    -------
    str
        The reason in words, naming the first file.
    """
    return (f"a Siemens mosaic ({len(file_names)} file(s) such as {file_names[0]}, each a grid of slices tiled "
            "into one image, ImageType MOSAIC), not a stack of slices")


REPEATED_HINT = "export the series as a stack of slices at different positions"


def repeated_acquisitions_reason(file_names: Sequence[str]) -> str:
    """Why several images at one position are not a volume.

    Parameters
    ----------
    file_names : sequence of str
        Names of the images at that position, sorted (at least one).

    Returns
    -------
    str
        The reason in words, naming the first and last file.
    """
    return (f"{len(file_names)} images all at one position ({file_names[0]} ... {file_names[-1]}): repeated "
            "acquisitions of one slice (a time series, echoes or b-values), not a stack of slices")


def lone_slice_reason(file_name: str) -> str:
    """Why one image is not a volume.

    Parameters
    ----------
    file_name : str
        Name of the image's file.

    Returns
    -------
    str
        The reason in words.
    """
    return f"a lone slice ({file_name}): a volume needs at least two slices"


def _not_a_volume(info: SeriesInfo, records: list[ImageRecord], name: str) -> NotAVolumeError:
    """Why images that all lie at one position do not form a volume: a mosaic, repeated acquisitions of
    one slice, or a lone slice."""
    files = sorted({r.path.name for r in records})
    if info.mosaic:
        return NotAVolumeError(mosaic_reason(files), path=name, hint=MOSAIC_HINT)
    if len(records) > 1:
        return NotAVolumeError(repeated_acquisitions_reason(files), path=name, hint=REPEATED_HINT)
    return NotAVolumeError(lone_slice_reason(files[0]), path=name, hint=LONE_SLICE_HINT)


# Row and column cosines may deviate this much from unit length and orthogonality (they are stored
# as decimal strings with few digits).
ORIENTATION_TOLERANCE = 0.01


def _check_geometry(r: ImageRecord) -> None:
    """Refuse non-positive or non-finite pixel spacing and orientations that are not two unit vectors."""
    ps = r.pixel_spacing
    if ps is None or not all(np.isfinite(ps)) or min(ps) <= 0:
        raise UnreadableFileError(f"PixelSpacing {ps} is not two positive numbers (mm)", path=r.path,
                                  hint="the DICOM header is damaged")
    row, col = r.orientation[:3], r.orientation[3:]
    if (abs(np.linalg.norm(row) - 1) > ORIENTATION_TOLERANCE or abs(np.linalg.norm(col) - 1) > ORIENTATION_TOLERANCE
            or abs(float(row @ col)) > ORIENTATION_TOLERANCE):
        raise UnreadableFileError(
            f"ImageOrientationPatient {[round(float(v), 4) for v in r.orientation]} is not two orthogonal unit "
            f"vectors", path=r.path, hint="the DICOM header is damaged")


def _orthonormalise(direction: np.ndarray) -> np.ndarray:
    """Nearest orthonormal matrix (cosines stored with few digits are not exactly orthogonal)."""
    u, _, vt = np.linalg.svd(direction)
    return u @ vt


__all__ = ["DEFAULT_MAX_BYTES", "Series", "read_series", "series_listing"]

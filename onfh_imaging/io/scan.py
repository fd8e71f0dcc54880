"""Find the images in folders and zip files: patients > studies > series, from headers only.

:func:`scan` reads each file's header (never its pixels), describes every series with a
:class:`SeriesInfo` (contrast, fat suppression, orientation, size, spacing, view...) and counts what it
skipped. A series that mixes orientations or echoes is split into sub-series, each with its own
``key`` (``"<SeriesInstanceUID>#<8 hex digits>"``, the same whichever folder is scanned, see
:func:`sub_series_key`) that :func:`onfh_imaging.io.read_series` accepts.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onfh_imaging.errors import (
    NoPixelDataError,
    NotDicomError,
    OnfhError,
    TooLargeError,
    TruncatedFileError,
    UnreadableFileError,
    UnsupportedInputError,
)
from onfh_imaging.io._header import FIRST_READ, UNCOMPRESSED_LE, Header, HeaderReader, member_path
from onfh_imaging.io._prefetch import prefetch
from onfh_imaging.vocab import RADIOGRAPH_MODALITIES, VIEW_AP, VIEW_LATERAL, VIEW_UNKNOWN

# Orientation names are given when the slice normal lies within this angle of a patient axis.
OBLIQUE_LIMIT_DEG = 30.0


# --- one 2-D image: a classic file or a frame of a multi-frame file ------------------------------
@dataclass
class ImageRecord:
    """Geometry and decoding parameters of one 2-D image (a file, or one frame of a file).

    Positions and orientations are in LPS mm as DICOM gives them.
    """

    header: Header
    frame: int
    n_frames: int
    position: np.ndarray | None
    orientation: np.ndarray | None  # (6,) row cosines then column cosines
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) mm
    slice_thickness: float | None
    spacing_between_slices: float | None
    echo_time: float | None
    echo_number: int | None
    slope: float
    intercept: float
    stack_id: str = ""

    @property
    def path(self) -> Path:
        return self.header.path

    @property
    def normal(self) -> np.ndarray | None:
        if self.orientation is None:
            return None
        n = np.cross(self.orientation[:3], self.orientation[3:])
        norm = np.linalg.norm(n)
        return n / norm if norm > 0 else None


def _first(seq: Any) -> Any:
    return seq[0] if seq is not None and len(seq) else None


def _fg_value(frame_groups: Any, shared: Any, sequence: str, keyword: str) -> Any:
    """An attribute from a per-frame functional group, else from the shared groups."""
    for groups in (frame_groups, shared):
        item = _first(groups.get(sequence)) if groups is not None else None
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _as_array(value: Any, n: int) -> np.ndarray | None:
    """``n`` finite numbers as an array, else None (runs per image, so checked in plain Python)."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != n or not all(map(math.isfinite, numbers)):
        return None
    return np.array(numbers)


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def image_records(header: Header) -> list[ImageRecord]:
    """The 2-D images in one file, with their geometry (functional groups for Enhanced objects).

    Raises
    ------
    UnreadableFileError
        Functional groups that cannot be parsed.
    """
    try:
        return _image_records(header)
    except OnfhError:
        raise
    except Exception as exc:  # pydicom converts nested values lazily and raises many types
        raise UnreadableFileError(f"cannot read the per-frame geometry: {type(exc).__name__}",
                                  path=header.path, hint="the functional group sequences are damaged") from exc


def _image_records(header: Header) -> list[ImageRecord]:
    n_frames = header.int("NumberOfFrames", 1) or 1
    ds = header.dataset
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") if ds is not None else None
    if per_frame is None:
        ps = header.floats("PixelSpacing")
        base = dict(
            header=header, n_frames=n_frames,
            position=_as_array(header.floats("ImagePositionPatient"), 3),
            orientation=_as_array(header.floats("ImageOrientationPatient"), 6),
            pixel_spacing=(ps[0], ps[1]) if ps and len(ps) >= 2 else None,
            slice_thickness=header.float("SliceThickness"),
            spacing_between_slices=header.float("SpacingBetweenSlices"),
            echo_time=header.float("EchoTime"), echo_number=header.int("EchoNumbers"),
            slope=header.float("RescaleSlope") or 1.0, intercept=header.float("RescaleIntercept") or 0.0,
        )
        return [ImageRecord(frame=f, **base) for f in range(n_frames)]

    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    records = []
    for f, groups in enumerate(per_frame):
        ps = _as_array(_fg_value(groups, shared, "PixelMeasuresSequence", "PixelSpacing"), 2)
        echo = _fg_value(groups, shared, "MREchoSequence", "EffectiveEchoTime")
        stack = _fg_value(groups, shared, "FrameContentSequence", "StackID")
        records.append(ImageRecord(
            header=header, frame=f, n_frames=len(per_frame),
            position=_as_array(_fg_value(groups, shared, "PlanePositionSequence", "ImagePositionPatient"), 3),
            orientation=_as_array(
                _fg_value(groups, shared, "PlaneOrientationSequence", "ImageOrientationPatient"), 6),
            pixel_spacing=None if ps is None else (float(ps[0]), float(ps[1])),
            slice_thickness=_float_or_none(_fg_value(groups, shared, "PixelMeasuresSequence", "SliceThickness")),
            spacing_between_slices=_float_or_none(
                _fg_value(groups, shared, "PixelMeasuresSequence", "SpacingBetweenSlices")),
            echo_time=_float_or_none(echo), echo_number=None,
            slope=_float_or_none(_fg_value(groups, shared, "PixelValueTransformationSequence", "RescaleSlope"))
            or (header.float("RescaleSlope") or 1.0),
            intercept=_float_or_none(
                _fg_value(groups, shared, "PixelValueTransformationSequence", "RescaleIntercept"))
            or (header.float("RescaleIntercept") or 0.0),
            stack_id="" if stack is None else str(stack),
        ))
    return records


# --- sanity of the values that size and decode the pixels ----------------------------------------
DEFAULT_MAX_BYTES = 4 * 1024**3
TOO_LARGE_HINT = ("most likely a damaged header; a genuine image this large is read from Python with a "
                  "larger max_bytes")
# Frames in one file; far above any Enhanced MR/CT object, low enough that describing them is instant.
MAX_FRAMES = 1 << 17
_BITS = (8, 16, 32)


def _bad(header: Header, what: str) -> UnreadableFileError:
    return UnreadableFileError(what, path=header.path, hint="the DICOM header is damaged")


def check_image_header(header: Header, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a header whose image attributes are missing, out of range, or claim too much memory.

    Checks Rows, Columns (1..65535), BitsAllocated (8, 16, 32), BitsStored, SamplesPerPixel (1 or 3),
    NumberOfFrames, finite RescaleSlope/Intercept, the claimed pixel bytes against ``max_bytes`` and
    against what the file holds, and that Enhanced objects' functional groups parse.

    Raises
    ------
    UnreadableFileError
        A value out of range or pixel data shorter than the claimed image.
    UnsupportedInputError
        An allocation (bits) the toolkit does not decode.
    TooLargeError
        Claimed pixel memory above ``max_bytes``, or more than :data:`MAX_FRAMES` frames.
    """
    rows, cols = header.int("Rows"), header.int("Columns")
    for name, value in (("Rows", rows), ("Columns", cols)):
        if value is None or not 1 <= value <= 65535:
            raise _bad(header, f"{name} is {header.text(name)!r}, not an image size (1 to 65535)")
    bits = header.int("BitsAllocated", 16)
    if bits not in _BITS:
        raise UnsupportedInputError(f"BitsAllocated {header.text('BitsAllocated')!r} is not supported "
                                    f"(8, 16 or 32)", path=header.path)
    stored = header.int("BitsStored", bits)
    if stored is None or not 1 <= stored <= bits:
        raise _bad(header, f"BitsStored {header.text('BitsStored')!r} does not fit BitsAllocated {bits}")
    samples = header.int("SamplesPerPixel", 1)
    if samples not in (1, 3):
        raise _bad(header, f"SamplesPerPixel {header.text('SamplesPerPixel')!r} is not 1 or 3")
    frames = header.int("NumberOfFrames", 1)
    if frames is None or frames < 1:
        raise _bad(header, f"NumberOfFrames {header.text('NumberOfFrames')!r} is not a positive number")
    for name in ("RescaleSlope", "RescaleIntercept"):
        value = header.float(name)
        if value is not None and not math.isfinite(value):
            raise _bad(header, f"{name} {header.text(name)!r} is not a finite number")
    frame_bytes = rows * cols * samples * bits // 8
    claimed = frame_bytes * frames
    if claimed > max_bytes:
        raise TooLargeError(
            f"the header claims {claimed / 1024**3:.1f} GiB of pixels ({frames} frame(s) of {rows} x {cols}), "
            f"above the {max_bytes / 1024**3:.1f} GiB limit", path=header.path,
            hint=TOO_LARGE_HINT)
    if frames > MAX_FRAMES:
        raise TooLargeError(f"NumberOfFrames {frames} is above the limit of {MAX_FRAMES}", path=header.path)
    if header.transfer_syntax in UNCOMPRESSED_LE and header.pixel_length is None:
        raise _bad(header, "uncompressed pixel data of undefined length")
    if header.uncompressed and header.pixel_length < claimed:
        raise TruncatedFileError(
            f"pixel data holds {header.pixel_length} bytes but Rows x Columns x frames needs {claimed}",
            path=header.path, hint="the file is truncated or its header is wrong")
    if header.file_size is not None and header.pixel_offset is not None and \
            frames > header.file_size - header.pixel_offset:
        raise _bad(header, f"NumberOfFrames {frames} is more than the file's pixel data could hold")
    if header.dataset is not None and "PerFrameFunctionalGroupsSequence" in header.dataset:
        image_records(header)


# --- classification -----------------------------------------------------------------------------
def orientation_label(normal: np.ndarray | None) -> str:
    """``"axial"``, ``"coronal"``, ``"sagittal"`` or ``"oblique"`` from the slice normal (LPS).

    A plane is named when its normal lies within :data:`OBLIQUE_LIMIT_DEG` of the patient axis
    (an oblique-coronal hip series tilted by 12 degrees is still coronal).
    """
    if normal is None:
        return "unknown"
    n = np.abs(np.asarray(normal, dtype=float))
    axis = int(np.argmax(n))
    if np.degrees(np.arccos(min(1.0, n[axis]))) > OBLIQUE_LIMIT_DEG:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _has_word(text: str, pattern: str) -> bool:
    return re.search(pattern, text) is not None


def sequence_hint(header: Header) -> tuple[str, bool]:
    """Contrast (``"T1"``, ``"T2"``, ``"STIR"``, ``"PD"``, ``"unknown"``) and fat suppression of an MR image.

    Uses, in order: an inversion-recovery with a short inversion time (STIR), keywords of the series
    description, protocol and sequence name, then repetition/echo times (T1: TR < 1000 ms and
    TE < 30 ms; T2: TR >= 1500 ms and TE >= 60 ms; PD: TR >= 1500 ms and TE < 50 ms).
    """
    text = " ".join(header.text(k) for k in ("SeriesDescription", "ProtocolName", "SequenceName")).upper()
    scanning = header.text("ScanningSequence").upper()
    options = header.text("ScanOptions").upper()
    tr, te, ti = header.float("RepetitionTime"), header.float("EchoTime"), header.float("InversionTime")

    fat_sat = bool(
        re.search(r"(^|\\)(FS|FAT_SAT|FSS|SFS|SP_FS)($|\\)", options)
        or _has_word(text, r"(?<![A-Z])(FS|FATSAT|FAT SAT|FAT-SAT|SPAIR|SPIR|SPECIAL|CHESS)(?![A-Z])")
        or _has_word(text, r"T[12]W?FS|PDW?FS")
    )
    if ("IR" in scanning.split("\\") and ti is not None and 80 <= ti <= 250) or _has_word(
            text, r"(?<![A-Z])(STIR|TIRM)(?![A-Z])"):
        return "STIR", True
    if _has_word(text, r"(?<![A-Z0-9])T1(?!\d)"):
        return "T1", fat_sat
    if _has_word(text, r"(?<![A-Z0-9])T2(?!\d)") or _has_word(text, r"(?<![A-Z])FLAIR"):
        return "T2", fat_sat
    if _has_word(text, r"(?<![A-Z])(PD|PROTON)(?=W|FS|[^A-Z]|$)"):
        return "PD", fat_sat
    if tr is not None and te is not None and "GR" not in scanning.split("\\"):
        if tr < 1000 and te < 30:
            return "T1", fat_sat
        if tr >= 1500 and te >= 60:
            return "T2", fat_sat
        if tr >= 1500 and te < 50:
            return "PD", fat_sat
    return "unknown", fat_sat


def radiograph_view(header: Header) -> str:
    """``"AP"`` (AP/PA), ``"lateral"`` (LL/RL/lateral/frog-leg) or ``"unknown"``."""
    view = header.text("ViewPosition").upper()
    if view in ("AP", "PA"):
        return VIEW_AP
    if view in ("LL", "RL", "LLD", "RLD", "LATERAL", "LAT"):
        return VIEW_LATERAL
    text = " ".join(header.text(k) for k in ("SeriesDescription", "ProtocolName")).upper()
    if _has_word(text, r"FROG|LAT(ERAL)?(?![A-Z])|LAUENSTEIN|CROSS.?TABLE"):
        return VIEW_LATERAL
    if _has_word(text, r"(?<![A-Z])(AP|PA)(?![A-Z])|ANTEROPOSTERIOR|PELVIS"):
        return VIEW_AP
    return VIEW_UNKNOWN


def radiograph_laterality(header: Header) -> str:
    """``"left"``, ``"right"``, ``"both"`` or ``"unknown"`` from ImageLaterality / Laterality."""
    code = (header.text("ImageLaterality") or header.text("Laterality")).upper()
    return {"L": "left", "R": "right", "B": "both"}.get(code, "unknown")


def _iso_date(value: str) -> str:
    value = value.strip()
    if re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


# --- series descriptions ------------------------------------------------------------------------
@dataclass
class SeriesInfo:
    """What a series is, from its headers.

    Spacings are in mm; ``pixel_spacing`` is ``(row spacing, column spacing)``; ``slice_spacing``
    is the median distance between neighbouring slice positions along the slice normal (None for a
    single image). ``files`` are sorted along the slice normal when positions are known.
    ``body_part`` is BodyPartExamined as written; ``mosaic`` is true for Siemens mosaic images (several
    slices tiled in one image, ImageType ``MOSAIC``); ``broken_files`` lists files of this series that
    could not be read (truncated...) as ``(path, kind, reason)``, so a reader of the series can name them.
    ``sub_key`` is the key these images have as a sub-series (``"<uid>#<8 hex>"``) even where the scanned
    folder holds no other part of the series and ``key`` is the plain SeriesInstanceUID.
    """

    patient_id: str
    patient_name: str
    study_instance_uid: str
    study_date: str
    study_description: str
    series_instance_uid: str
    series_number: int | None
    modality: str
    series_description: str
    sequence: str
    fat_saturated: bool
    orientation: str
    rows: int
    columns: int
    n_slices: int
    pixel_spacing: tuple[float, float] | None
    slice_spacing: float | None
    slice_thickness: float | None
    frame_of_reference_uid: str
    view: str
    laterality: str
    imager_pixel_spacing: tuple[float, float] | None = None
    magnification: float | None = None
    echo_time: float | None = None
    sop_class_uid: str = ""
    multiframe: bool = False
    key: str = ""
    subseries: str = ""
    files: list[Path] = field(default_factory=list)
    body_part: str = ""
    mosaic: bool = False
    broken_files: list[tuple[Path, str, str]] = field(default_factory=list)
    sub_key: str = ""

    @property
    def is_radiograph(self) -> bool:
        return self.modality in RADIOGRAPH_MODALITIES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (paths as strings)."""
        out = asdict(self)
        out["files"] = [str(p) for p in self.files]
        out["broken_files"] = [{"path": str(p), "kind": k, "error": e} for p, k, e in self.broken_files]
        return out


def _sub_key(record: ImageRecord) -> tuple:
    orient = None if record.orientation is None else tuple(round(float(v), 3) for v in record.orientation)
    echo = record.echo_number if record.echo_number is not None else None
    te = None if record.echo_time is None else round(record.echo_time, 2)
    rows, cols = record.header.int("Rows", 0), record.header.int("Columns", 0)
    return (orient, echo, te, rows, cols, record.stack_id)


def _describe_key(key: tuple) -> str:
    orient, echo, te, rows, cols, stack = key
    parts = []
    if orient is not None:
        parts.append(orientation_label(np.cross(orient[:3], orient[3:])))
    if echo is not None:
        parts.append(f"echo {echo}")
    if te is not None:
        parts.append(f"TE {te:g} ms")
    parts.append(f"{rows}x{cols}")
    if stack:
        parts.append(f"stack {stack}")
    return ", ".join(parts)


def spatial_order(records: list[ImageRecord]) -> list[ImageRecord]:
    """Records sorted by position along the slice normal (InstanceNumber only when no geometry)."""
    normal = records[0].normal
    if normal is not None and all(r.position is not None for r in records):
        return sorted(records, key=lambda r: (float(r.position @ normal), str(r.path), r.frame))
    return sorted(records, key=lambda r: (r.header.int("InstanceNumber", 0) or 0, str(r.path), r.frame))


def describe_series(records: list[ImageRecord], key: str = "", subseries: str = "") -> SeriesInfo:
    """A :class:`SeriesInfo` for records that form one (sub-)series."""
    ordered = spatial_order(records)
    h = ordered[0].header
    modality = h.text("Modality").upper()
    normal = ordered[0].normal
    slice_spacing = None
    if normal is not None and len(ordered) > 1 and all(r.position is not None for r in ordered):
        steps = np.diff([float(r.position @ normal) for r in ordered])
        steps = steps[steps > 1e-4]
        slice_spacing = float(np.median(steps)) if steps.size else None
    sequence, fat_sat = sequence_hint(h) if modality == "MR" else ("unknown", False)
    radiograph = modality in RADIOGRAPH_MODALITIES
    ips = h.floats("ImagerPixelSpacing")
    files: list[Path] = []
    for r in ordered:
        if not files or (files[-1] is not r.path and files[-1] != r.path):
            files.append(r.path)
    return SeriesInfo(
        patient_id=h.text("PatientID"), patient_name=h.text("PatientName"),
        study_instance_uid=h.text("StudyInstanceUID"), study_date=_iso_date(h.text("StudyDate")),
        study_description=h.text("StudyDescription"), series_instance_uid=h.text("SeriesInstanceUID"),
        series_number=h.int("SeriesNumber"), modality=modality,
        series_description=h.text("SeriesDescription"), sequence=sequence, fat_saturated=fat_sat,
        orientation="unknown" if radiograph else orientation_label(normal),
        rows=h.int("Rows", 0) or 0, columns=h.int("Columns", 0) or 0, n_slices=len(ordered),
        pixel_spacing=ordered[0].pixel_spacing, slice_spacing=slice_spacing,
        slice_thickness=ordered[0].slice_thickness,
        frame_of_reference_uid=h.text("FrameOfReferenceUID"),
        view=radiograph_view(h) if radiograph else "", laterality=radiograph_laterality(h) if radiograph else "",
        imager_pixel_spacing=(ips[0], ips[1]) if ips and len(ips) >= 2 else None,
        magnification=h.float("EstimatedRadiographicMagnificationFactor"),
        echo_time=ordered[0].echo_time, sop_class_uid=h.text("SOPClassUID"),
        multiframe=ordered[0].n_frames > 1 or h.dataset is not None and "PerFrameFunctionalGroupsSequence" in h.dataset,
        key=key or h.text("SeriesInstanceUID"), subseries=subseries, files=files,
        body_part=h.text("BodyPartExamined"), mosaic=_is_mosaic(h),
    )


def _is_mosaic(header: Header) -> bool:
    """A Siemens mosaic: ImageType holds ``MOSAIC`` (slices tiled in one image)."""
    return "MOSAIC" in header.text("ImageType").upper().split("\\")


def group_series(headers: Iterable[Header]) -> list[tuple[SeriesInfo, list[ImageRecord]]]:
    """Group image headers into (sub-)series, each described and with its image records."""
    by_uid: dict[str, list[ImageRecord]] = {}
    for h in headers:
        uid = h.text("SeriesInstanceUID") or f"no-series-uid:{h.path.parent}"
        by_uid.setdefault(uid, []).extend(image_records(h))
    out = []
    for uid, records in by_uid.items():
        subs: dict[tuple, list[ImageRecord]] = {}
        for r in records:
            subs.setdefault(_sub_key(r), []).append(r)
        if len(subs) == 1:
            info = describe_series(records, key=uid)
            info.sub_key = sub_series_key(uid, next(iter(subs)))
            out.append((info, records))
            continue
        ordered_keys = sorted(subs, key=lambda k: (k[1] or 0, k[2] or 0.0, str(k[0]), k[3], k[4], k[5]))
        for k in ordered_keys:
            info = describe_series(subs[k], key=sub_series_key(uid, k), subseries=_describe_key(k))
            info.sub_key = info.key
            out.append((info, subs[k]))
    return out


def is_series(info: SeriesInfo, wanted: str) -> bool:
    """True when ``wanted`` is this series' SeriesInstanceUID, key, or sub-series key (the key the
    same images get when the scanned folder also holds other parts of their series)."""
    return wanted in (info.key, info.series_instance_uid, info.sub_key)


def sub_series_key(uid: str, key: tuple) -> str:
    """``"<SeriesInstanceUID>#<8 hex digits>"``: a sub-series named by what sets it apart (orientation, echo,
    TE, size, stack), so the same images get the same key whichever folder of the series is scanned."""
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
    return f"{uid}#{digest}"


# --- walking folders and zips -------------------------------------------------------------------
def iter_files(path: str | os.PathLike) -> Iterator[Path]:
    """Every regular file under ``path`` (sorted), zip archives expanded into their members.

    Symbolic links to folders are not followed (a link back up the tree cannot loop the walk).
    Folders that cannot be listed are yielded themselves, so that the reader reports them. Zip
    members are named ``archive.zip/member``; names that would point outside the archive
    (absolute, ``..``) are made inert and refused when read.
    """
    root = Path(path)
    if root.is_file():
        candidates: Iterable[Path] = [root]
    elif root.is_dir():
        def walk() -> Iterator[Path]:
            errors: list[OSError] = []
            for folder, dirs, names in os.walk(root, onerror=errors.append):
                dirs.sort()
                base = Path(folder)
                for name in sorted(names):
                    yield base / name
                while errors:
                    failed = errors.pop(0).filename
                    if failed is not None:
                        yield Path(failed)
            for exc in errors:
                if exc.filename is not None:
                    yield Path(exc.filename)
        candidates = walk()
    else:
        candidates = [root]  # let the reader report it (may be a zip member path)
    for p in candidates:
        names = _zip_names(p) if p.suffix.lower() == ".zip" else None
        if names is None:
            yield p
            continue
        for name in sorted(names):
            if not name.endswith("/"):
                yield member_path(p, name)


def _zip_names(path: Path) -> list[str] | None:
    """Member names of a zip archive; None when ``path`` is not a zip archive that can be opened."""
    try:
        if not (path.is_file() and zipfile.is_zipfile(path)):
            return None
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
        return None  # read_header reports a damaged archive


@dataclass
class StudyEntry:
    """One imaging study of a patient and its series."""

    study_instance_uid: str
    study_date: str
    study_description: str
    series: list[SeriesInfo] = field(default_factory=list)


@dataclass
class PatientEntry:
    """One patient and their studies."""

    patient_id: str
    patient_name: str
    studies: list[StudyEntry] = field(default_factory=list)


@dataclass
class ScanResult:
    """What :func:`scan` found.

    Attributes
    ----------
    patients : list of PatientEntry
        Patients > studies (by date) > series (by series number).
    skipped_non_dicom : list of Path
        Files that are not DICOM (skipped).
    non_image : list of Path
        DICOM files without pixel data (reports, presentation states, DICOMDIR).
    unreadable : list of (Path, str)
        Files that look like DICOM but could not be read, with the reason.
    reasons : dict of Path to OnfhError
        Why each skipped, non-image or unreadable file was set aside (the error's ``kind`` and message).
    """

    patients: list[PatientEntry] = field(default_factory=list)
    skipped_non_dicom: list[Path] = field(default_factory=list)
    non_image: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    reasons: dict[Path, OnfhError] = field(default_factory=dict)

    @property
    def series(self) -> list[SeriesInfo]:
        """Every series, flattened in patient > study > series order."""
        return [s for p in self.patients for st in p.studies for s in st.series]

    @property
    def studies(self) -> list[StudyEntry]:
        return [st for p in self.patients for st in p.studies]

    def find(self, key: str) -> SeriesInfo:
        """The series with this key or SeriesInstanceUID (KeyError if absent or ambiguous)."""
        hits = [s for s in self.series if is_series(s, key)]
        if len(hits) != 1:
            raise KeyError(key)
        return hits[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": [s.to_dict() for s in self.series],
            "skipped_non_dicom": [str(p) for p in self.skipped_non_dicom],
            "non_image": [str(p) for p in self.non_image],
            "unreadable": [{"path": str(p), "error": e} for p, e in self.unreadable],
        }


def organise(series: Iterable[SeriesInfo]) -> list[PatientEntry]:
    """Nest series into patients > studies, sorted by patient id, study date, series number."""
    patients: dict[str, PatientEntry] = {}
    studies: dict[tuple[str, str], StudyEntry] = {}
    for s in series:
        p = patients.setdefault(s.patient_id, PatientEntry(s.patient_id, s.patient_name))
        skey = (s.patient_id, s.study_instance_uid)
        if skey not in studies:
            studies[skey] = StudyEntry(s.study_instance_uid, s.study_date, s.study_description)
            p.studies.append(studies[skey])
        studies[skey].series.append(s)
    for p in patients.values():
        p.studies.sort(key=lambda st: (st.study_date, st.study_instance_uid))
        for st in p.studies:
            st.series.sort(key=lambda s: (s.series_number if s.series_number is not None else 1 << 30, s.key))
    return [patients[k] for k in sorted(patients)]


def read_headers(paths: Iterable[Path], max_bytes: int = DEFAULT_MAX_BYTES,
                 reasons: dict[Path, OnfhError] | None = None
                 ) -> tuple[list[Header], list[Path], list[Path], list[tuple[Path, OnfhError]]]:
    """Headers of image files, plus non-DICOM, non-image and unreadable files (with their error).

    Image headers pass :func:`check_image_header` (with ``max_bytes``); those that fail are unreadable,
    and their error keeps the header as ``exc.header`` (so the series that lost them can be named).
    ``reasons``, when given, receives why each file that is not an image was set aside.
    """
    reasons = {} if reasons is None else reasons
    images, non_dicom, non_image, unreadable = [], [], [], []
    paths = list(paths)
    prefetch([(p, 0, FIRST_READ) for p in paths])
    read_header = HeaderReader()
    for path in paths:
        try:
            h = read_header(path)
        except NotDicomError as exc:
            non_dicom.append(path)
            reasons[path] = exc
            continue
        except OnfhError as exc:
            unreadable.append((path, exc))
            reasons[path] = exc
            continue
        if not h.has_pixels:
            non_image.append(path)
            reasons[path] = NoPixelDataError(
                f"DICOM file without pixel data ({_sop_class_name(h)}), not an image", path=path)
            continue
        try:
            check_image_header(h, max_bytes)
        except OnfhError as exc:
            exc.header = h
            unreadable.append((path, exc))
            reasons[path] = exc
            continue
        images.append(h)
    return images, non_dicom, non_image, unreadable


def scan(path: str | os.PathLike) -> ScanResult:
    """Describe every DICOM image series under a folder, zip file or single file.

    Only headers are read. Files that are not DICOM are skipped and counted; unreadable ones are
    listed with the reason. Neither stops the scan.

    Parameters
    ----------
    path : path
        Folder (searched recursively), zip archive or file.

    Returns
    -------
    ScanResult
    """
    root = Path(path)
    if not root.exists():
        raise UnreadableFileError("no such file or folder", path=root)
    reasons: dict[Path, OnfhError] = {}
    headers, non_dicom, non_image, unreadable = read_headers(iter_files(root), reasons=reasons)
    series = [info for info, _ in group_series(headers)]
    _attach_broken_files(series, unreadable)
    return ScanResult(patients=organise(series), skipped_non_dicom=non_dicom, non_image=non_image,
                      unreadable=[(p, str(exc)) for p, exc in unreadable], reasons=reasons)


def _attach_broken_files(series: list[SeriesInfo], unreadable: list[tuple[Path, OnfhError]]) -> None:
    """Give each series the unreadable files whose (complete) header names it."""
    by_uid: dict[str, list[SeriesInfo]] = {}
    for info in series:
        by_uid.setdefault(info.series_instance_uid, []).append(info)
    for path, exc in unreadable:
        header = getattr(exc, "header", None)
        for info in by_uid.get(header.text("SeriesInstanceUID") if header is not None else "", ()):
            info.broken_files.append((path, exc.kind, exc.reason))


def _sop_class_name(header: Header) -> str:
    """The SOP class of a header in words (``"Basic Text SR"``), or its UID when pydicom does not know it."""
    uid = header.text("SOPClassUID")
    if not uid:
        return "no SOP class"
    from pydicom.uid import UID

    name = UID(uid).name
    return name if name and name != uid else f"SOP class {uid}"

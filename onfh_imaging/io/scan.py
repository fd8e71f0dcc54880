"""Find the images in folders and zip files: patients > studies > series, from headers only.

:func:`scan` reads each file's header (never its pixels), describes every series with a
:class:`SeriesInfo` (contrast, fat suppression, orientation, size, spacing, view...) and counts what it
skipped. A series that mixes orientations or echoes is split into sub-series, each with its own
``key`` (``"<SeriesInstanceUID>#<8 hex digits>"``, the same whichever folder is scanned, see
:func:`sub_series_key`) that :func:`onfh_imaging.io.read_series` accepts.
"""

from __future__ import annotations

import hashlib
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
    UnreadableFileError,
)
from onfh_imaging.io._checks import DEFAULT_MAX_BYTES, check_image_header
from onfh_imaging.io._classify import orientation_label, radiograph_laterality, radiograph_view, sequence_hint
from onfh_imaging.io._header import FIRST_READ, Header
from onfh_imaging.io._layouts import HeaderReader
from onfh_imaging.io._open import member_path
from onfh_imaging.io._prefetch import prefetch
from onfh_imaging.io._records import ImageRecord, image_records
from onfh_imaging.vocab import RADIOGRAPH_MODALITIES

__all__ = ["PatientEntry", "ScanResult", "SeriesInfo", "StudyEntry", "describe_series", "group_series", "is_series",
           "iter_files", "organise", "read_headers", "scan", "spatial_order", "sub_series_key"]


def _iso_date(value: str) -> str:
    value = value.strip()
    if re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


# --- series descriptions ------------------------------------------------------------------------
@dataclass
class SeriesInfo:
    """What a series is, from its headers.

    Attributes
    ----------
    patient_id, patient_name : str
        PatientID and PatientName as written.
    study_instance_uid, study_description : str
        StudyInstanceUID and StudyDescription.
    study_date : str
        StudyDate as ``YYYY-MM-DD`` (as written when not eight digits).
    series_instance_uid : str
        SeriesInstanceUID.
    series_number : int or None
        SeriesNumber.
    modality : str
        Modality, upper case (``"MR"``, ``"DX"``, ``"CR"``...).
    series_description : str
        SeriesDescription.
    sequence : str
        MR contrast from :func:`~onfh_imaging.io._classify.sequence_hint` (``"T1"``, ``"T2"``, ``"STIR"``,
        ``"PD"``); ``"unknown"`` for other modalities.
    fat_saturated : bool
        Fat suppression of an MR series.
    orientation : str
        ``"axial"``, ``"coronal"``, ``"sagittal"``, ``"oblique"`` or ``"unknown"`` (radiographs).
    rows, columns : int
        Image size in pixels.
    n_slices : int
        Number of images (frames of multi-frame files each count).
    pixel_spacing : (float, float) or None
        PixelSpacing ``(row spacing, column spacing)``, mm.
    slice_spacing : float or None
        Median distance between neighbouring slice positions along the slice normal, mm (None for a
        single image).
    slice_thickness : float or None
        SliceThickness, mm.
    frame_of_reference_uid : str
        FrameOfReferenceUID (series that share it share patient coordinates).
    view, laterality : str
        Radiograph view (``"AP"``, ``"lateral"``, ``"unknown"``) and side (``"left"``, ``"right"``,
        ``"both"``, ``"unknown"``); "" for other modalities.
    imager_pixel_spacing : (float, float) or None
        ImagerPixelSpacing (detector pitch), mm.
    magnification : float or None
        EstimatedRadiographicMagnificationFactor.
    echo_time : float or None
        EchoTime, ms.
    sop_class_uid : str
        SOPClassUID.
    multiframe : bool
        The images come from multi-frame (Enhanced) objects.
    key : str
        What :func:`~onfh_imaging.io.read_series` accepts to pick this series: the SeriesInstanceUID, or
        ``"<uid>#<8 hex>"`` for a sub-series (a series split by orientation, echo, size or stack).
    subseries : str
        What sets a sub-series apart, in words (``"coronal, echo 2, 512x512"``); "" otherwise.
    files : list of Path
        The files, sorted along the slice normal when positions are known.
    body_part : str
        BodyPartExamined as written.
    mosaic : bool
        Siemens mosaic images (several slices tiled in one image, ImageType ``MOSAIC``).
    broken_files : list of (Path, str, str)
        Files of this series that could not be read (truncated...) as ``(path, kind, reason)``, so a
        reader of the series can name them.
    sub_key : str
        The key these images have as a sub-series (``"<uid>#<8 hex>"``) even where the scanned folder
        holds no other part of the series and ``key`` is the plain SeriesInstanceUID.
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
        """Whether the modality is a projection radiograph (:data:`~onfh_imaging.vocab.RADIOGRAPH_MODALITIES`)."""
        return self.modality in RADIOGRAPH_MODALITIES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of every attribute (paths as strings, broken files as dictionaries)."""
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
    """Records sorted by position along the slice normal (InstanceNumber only when no geometry).

    Parameters
    ----------
    records : list of ImageRecord
        Images of one (sub-)series, at least one; the first one's normal is used for all.

    Returns
    -------
    list of ImageRecord
        Sorted by distance along the normal (mm), then file name and frame; by InstanceNumber when
        any image lacks a position or the first an orientation.
    """
    normal = records[0].normal
    if normal is not None and all(r.position is not None for r in records):
        return sorted(records, key=lambda r: (float(r.position @ normal), str(r.path), r.frame))
    return sorted(records, key=lambda r: (r.header.int("InstanceNumber", 0) or 0, str(r.path), r.frame))


def describe_series(records: list[ImageRecord], key: str = "", subseries: str = "") -> SeriesInfo:
    """A :class:`SeriesInfo` for records that form one (sub-)series.

    Parameters
    ----------
    records : list of ImageRecord
        The series' images, in any order; the spatially first one's header describes the series.
    key : str
        The series' key; "" uses the SeriesInstanceUID.
    subseries : str
        What sets the sub-series apart, in words ("" for a whole series).

    Returns
    -------
    SeriesInfo
    """
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
    """Group image headers into (sub-)series, each described and with its image records.

    A series whose images differ in orientation, echo, TE, size or stack is split into sub-series, each
    keyed by :func:`sub_series_key`.

    Parameters
    ----------
    headers : iterable of Header
        Headers of image files (any number of series); files without SeriesInstanceUID are grouped by
        folder.

    Returns
    -------
    list of (SeriesInfo, list of ImageRecord)
        One entry per (sub-)series, in the order series were first met, sub-series by echo and TE.
    """
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
    """Whether ``wanted`` names this series.

    Parameters
    ----------
    info : SeriesInfo
        A described series.
    wanted : str
        A SeriesInstanceUID, key, or sub-series key (the key the same images get when the scanned folder
        also holds other parts of their series).

    Returns
    -------
    bool
    """
    return wanted in (info.key, info.series_instance_uid, info.sub_key)


def sub_series_key(uid: str, key: tuple) -> str:
    """``"<SeriesInstanceUID>#<8 hex digits>"``: a sub-series named by what sets it apart.

    The digits hash the orientation, echo, TE, size and stack, so the same images get the same key
    whichever folder of the series is scanned.

    Parameters
    ----------
    uid : str
        The SeriesInstanceUID.
    key : tuple
        What sets the sub-series apart: ``(orientation cosines, echo number, TE ms, rows, columns, stack)``.

    Returns
    -------
    str
    """
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
    return f"{uid}#{digest}"


# --- walking folders and zips -------------------------------------------------------------------
def iter_files(path: str | os.PathLike) -> Iterator[Path]:
    """Every regular file under ``path`` (sorted), zip archives expanded into their members.

    Symbolic links to folders are not followed (a link back up the tree cannot loop the walk).
    Folders that cannot be listed are yielded themselves, so that the reader reports them. Zip
    members are named ``archive.zip/member``; names that would point outside the archive
    (absolute, ``..``) are made inert and refused when read.

    Parameters
    ----------
    path : path
        A folder, a zip archive or a file (a missing path is yielded as is, for the reader to report).

    Yields
    ------
    Path
        Files, and members of zip archives as ``archive.zip/member``.
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
    """One imaging study of a patient and its series.

    Attributes
    ----------
    study_instance_uid, study_description : str
        StudyInstanceUID and StudyDescription.
    study_date : str
        ``YYYY-MM-DD``.
    series : list of SeriesInfo
        Sorted by series number.
    """

    study_instance_uid: str
    study_date: str
    study_description: str
    series: list[SeriesInfo] = field(default_factory=list)


@dataclass
class PatientEntry:
    """One patient and their studies.

    Attributes
    ----------
    patient_id, patient_name : str
        PatientID and PatientName.
    studies : list of StudyEntry
        Sorted by study date.
    """

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
        """Every study, flattened in patient > study order."""
        return [st for p in self.patients for st in p.studies]

    def find(self, key: str) -> SeriesInfo:
        """The series with this key or SeriesInstanceUID.

        Parameters
        ----------
        key : str
            A series key, sub-series key or SeriesInstanceUID.

        Returns
        -------
        SeriesInfo

        Raises
        ------
        KeyError
            No series, or several series, match ``key``.
        """
        hits = [s for s in self.series if is_series(s, key)]
        if len(hits) != 1:
            raise KeyError(key)
        return hits[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: the series, skipped, non-image and unreadable files."""
        return {
            "series": [s.to_dict() for s in self.series],
            "skipped_non_dicom": [str(p) for p in self.skipped_non_dicom],
            "non_image": [str(p) for p in self.non_image],
            "unreadable": [{"path": str(p), "error": e} for p, e in self.unreadable],
        }


def organise(series: Iterable[SeriesInfo]) -> list[PatientEntry]:
    """Nest series into patients > studies, sorted by patient id, study date, series number.

    Parameters
    ----------
    series : iterable of SeriesInfo
        Series of any patients and studies.

    Returns
    -------
    list of PatientEntry
        Sorted by patient id; studies by date then UID; series by number (unnumbered last) then key.
    """
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

    Parameters
    ----------
    paths : iterable of Path
        Files to read (their first bytes are prefetched).
    max_bytes : int
        Largest pixel memory an image header may claim, bytes.
    reasons : dict, optional
        Receives, by path, the error saying why each file that is not an image was set aside.

    Returns
    -------
    images : list of Header
        Headers of readable images, in the order of ``paths``.
    non_dicom : list of Path
        Files that are not DICOM.
    non_image : list of Path
        DICOM files without pixel data.
    unreadable : list of (Path, OnfhError)
        Files that could not be read or whose image header is damaged or too large.
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

    Raises
    ------
    UnreadableFileError
        ``path`` does not exist.
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

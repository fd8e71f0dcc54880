"""Standard outputs of a measured study: DICOM SEG and SR for PACS, NIfTI for research, JSON.

:func:`export_study` writes everything for one measured series into an output folder;
:func:`export_dicom` writes the DICOM SEG and SR to given paths. Both optionally pseudonymise
every output with a keyed hash (:class:`~onfh_imaging.export.phi.Pseudonymizer`).

Folder layout of :func:`export_study` (names made safe with
:func:`~onfh_imaging.export.phi.safe_filename`, always inside ``out_dir``)::

    out_dir/<patient>/<study date>_<modality>_<series description>[_<view>]/
        seg.dcm                DICOM Segmentation (femoral heads, necrotic lesions)
        sr.dcm                 DICOM Comprehensive 3D SR (TID 1500 measurement report)
        image.nii.gz           the measured series
        <side>_hip_labels.nii.gz + .json   1 femoral head, 2 necrotic lesion
        measurements.json      the measurement JSON contract
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom

from onfh_imaging.errors import InputError, OnfhError, UnsupportedInputError
from onfh_imaging.export._files import write_dicom
from onfh_imaging.export.phi import Pseudonymizer, safe_filename, safe_join
from onfh_imaging.io._atomic import write_json


@dataclass
class ExportedFiles:
    """Paths written by an export.

    Attributes
    ----------
    seg, sr : Path or None
        The DICOM Segmentation and the DICOM SR measurement report.
    image : Path or None
        The measured series as NIfTI.
    label_maps : list of Path
        Each hip's NIfTI label map (its JSON sidecar next to it).
    json : Path or None
        ``measurements.json``.
    """

    seg: Path | None = None
    sr: Path | None = None
    image: Path | None = None
    label_maps: list[Path] = field(default_factory=list)
    json: Path | None = None

    def all(self) -> list[Path]:
        """Every written file (label map sidecars included)."""
        from onfh_imaging.export.nifti import sidecar_path

        paths = [p for p in (self.seg, self.sr, self.image) if p is not None]
        for p in self.label_maps:
            paths += [p, sidecar_path(p)]
        return paths + ([self.json] if self.json is not None else [])


def read_source_headers(files: Sequence[str | os.PathLike]) -> list[pydicom.Dataset]:
    """Headers (no pixel data) of a series' files, files inside zip archives included.

    Parameters
    ----------
    files : sequence of path
        The series' files (``archive.zip/member`` for zip members).

    Returns
    -------
    list of pydicom.Dataset
        One header per file, in the order given, each with ``filename`` set to its path.

    Raises
    ------
    UnreadableFileError
        If a file cannot be read as DICOM.
    """
    from onfh_imaging.errors import UnreadableFileError
    from onfh_imaging.io._open import open_binary

    headers = []
    for f in files:
        try:
            with open_binary(Path(f)) as fp:
                ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
        except UnreadableFileError:
            raise
        except Exception as exc:  # pydicom raises many types on corrupt files
            raise UnreadableFileError(f"cannot read the DICOM header: {exc}", path=f) from exc
        ds.filename = str(f)
        headers.append(ds)
    return headers


def _hip_parts(hip: Any) -> tuple[str, Any, Any, dict]:
    """``(side, head mask, lesion mask or None, measures dict)`` of a pipeline hip result."""
    seg = getattr(hip, "segmentation", None)
    head = getattr(hip, "head_mask", None)
    if head is None and seg is not None:
        head = getattr(seg, "femoral_head_mask", None)
    lesion = getattr(hip, "lesion_mask", None)
    if lesion is None and seg is not None:
        lesion = getattr(seg, "lesion_mask", None)
    measures = getattr(hip, "measures", None)
    if measures is not None and not isinstance(measures, dict):
        measures = measures.to_dict()
    if measures is None:
        measures = hip.to_dict()
    return str(hip.side), head, lesion, dict(measures)


def _require_mr(result: Any) -> Any:
    series = getattr(result, "series", None)
    if series is None:
        raise UnsupportedInputError(
            "DICOM SEG, SR and NIfTI masks are written for MR series only",
            hint="radiograph measures are exported as JSON")
    return series


def _segments(result: Any, masks_edited: bool) -> list:
    from onfh_imaging.export.seg import femoral_head_segment, necrotic_lesion_segment

    algorithm_type = "SEMIAUTOMATIC" if masks_edited else "AUTOMATIC"
    segments = []
    for hip in result.hips:
        side, head, lesion, _ = _hip_parts(hip)
        if head is not None:
            segments.append(femoral_head_segment(side, head, algorithm_type=algorithm_type))
        if lesion is not None and bool(lesion.array.any()):
            segments.append(necrotic_lesion_segment(side, lesion, algorithm_type=algorithm_type))
    return segments


def build_dicom_outputs(result: Any, *, seg: bool = True, sr: bool = True, reader_name: str | None = None,
                        masks_edited: bool = False) -> tuple[pydicom.Dataset | None, pydicom.Dataset | None]:
    """The DICOM SEG and SR of a measured MR study (not pseudonymised), either may be None.

    Parameters
    ----------
    result : onfh_imaging.pipeline.StudyResult
        An MR result (with ``series`` and ``hips``).
    seg, sr : bool
        Which objects to return (the SEG is built whenever either is asked: the SR references it).
    reader_name : str, optional
        Reader who confirmed the measures (person observer in the SR; segment creator when
        ``masks_edited``).
    masks_edited : bool
        The reader edited the masks (segments SEMIAUTOMATIC instead of AUTOMATIC).

    Returns
    -------
    seg : pydicom.Dataset or None
        None when not asked or when no femoral head was segmented.
    sr : pydicom.Dataset or None
        None when not asked.

    Raises
    ------
    UnsupportedInputError
        The result is not an MR series (radiographs are exported as JSON).
    UnreadableFileError
        A source file's header cannot be read.
    """
    from onfh_imaging.export.seg import build_segmentation
    from onfh_imaging.export.sr import build_measurement_report

    series = _require_mr(result)
    sources = read_source_headers(series.files)
    segments = _segments(result, masks_edited)
    seg_obj = None
    if segments and (seg or sr):
        creator = reader_name if masks_edited else None
        seg_obj = build_segmentation(sources, segments, content_creator_name=creator)
    sr_obj = None
    if sr:
        hips = [_hip_parts(h)[3] for h in result.hips]
        sr_obj = build_measurement_report(sources, seg_obj, hips, reader_name=reader_name)
    return (seg_obj if seg else None), sr_obj


def export_dicom(result: Any, *, seg_path: str | os.PathLike | None = None,
                 sr_path: str | os.PathLike | None = None, pseudonymize_key: str | None = None,
                 reader_name: str | None = None, masks_edited: bool = False) -> ExportedFiles:
    """Write a measured MR study's DICOM SEG and/or SR to the given files.

    Parameters
    ----------
    result : onfh_imaging.pipeline.StudyResult
        An MR result (with ``series`` and ``hips``).
    seg_path, sr_path : path, optional
        Output files; None skips that object.
    pseudonymize_key : str, optional
        Pseudonymise both objects with this key (see :class:`Pseudonymizer`).
    reader_name : str, optional
        Reader who confirmed the measures (person observer in the SR).
    masks_edited : bool
        The reader edited the masks (segments become SEMIAUTOMATIC, the reader their creator).

    Returns
    -------
    ExportedFiles
        The SEG and SR paths written (an SR is skipped when there is none to build).

    Raises
    ------
    UnsupportedInputError
        The result is not an MR series.
    InputError
        A SEG was asked for but no femoral head was segmented.
    """
    seg_obj, sr_obj = build_dicom_outputs(result, seg=seg_path is not None, sr=sr_path is not None,
                                          reader_name=reader_name, masks_edited=masks_edited)
    pseudo = Pseudonymizer(pseudonymize_key) if pseudonymize_key else None
    out = ExportedFiles()
    if seg_path is not None:
        if seg_obj is None:
            raise InputError("no femoral head was segmented; there is no DICOM SEG to write", path=seg_path)
        out.seg = write_dicom(seg_path, pseudo.pseudonymize_dataset(seg_obj) if pseudo else seg_obj)
    if sr_path is not None and sr_obj is not None:
        out.sr = write_dicom(sr_path, pseudo.pseudonymize_dataset(sr_obj) if pseudo else sr_obj)
    return out


def study_folder(out_dir: str | os.PathLike, record: dict) -> Path:
    """The folder for one study's outputs: ``out_dir/<patient>/<study date>_<modality>_<series description>``.

    A radiograph adds its view when the description does not name it. When the folder already holds
    the outputs of another series (two series of one date with the same description), ``_2``, ``_3``...
    is appended; a series exported again reuses its own folder.

    Parameters
    ----------
    out_dir : path
        Output root; the folder returned is always inside it.
    record : dict
        The study's (possibly pseudonymised) measurement JSON; its ``input`` names the folder.

    Returns
    -------
    Path
        The folder (not created).

    Raises
    ------
    OnfhError
        More than 999 series of one patient and date share the name.
    """
    info = record.get("input") or {}
    patient = safe_filename(info.get("patient_id") or "unknown-patient")
    date = str(info.get("study_date") or "nodate").replace("-", "")
    description = str(info.get("series_description") or "").strip() or "series"
    words = [date, str(info.get("modality") or "unknown-modality"), description]
    view = info.get("view")
    if view and view != "unknown" and str(view).lower() not in description.lower():
        words.append(str(view))
    name = safe_filename("_".join(words))
    series_uid = info.get("series_instance_uid")
    for n in range(1, 1000):
        folder = safe_join(out_dir, patient, name if n == 1 else f"{name}_{n}")
        if _holds_other_series(folder, series_uid):
            continue
        return folder
    raise OnfhError(f"more than 999 series named {name!r} on one date", path=str(out_dir))


def _holds_other_series(folder: Path, series_uid: Any) -> bool:
    """Whether ``folder`` already holds the exported outputs of a series other than ``series_uid``."""
    recorded = folder / "measurements.json"
    if not recorded.is_file():
        return False
    try:
        other = (json.loads(recorded.read_text(encoding="utf-8")).get("input") or {}).get("series_instance_uid")
    except (OSError, ValueError, AttributeError):
        return True  # unreadable: never overwrite it
    return other != series_uid


def export_study(result: Any, out_dir: str | os.PathLike, *, seg: bool = True, sr: bool = True,
                 nifti: bool = True, pseudonymize_key: str | None = None, reader_name: str | None = None,
                 masks_edited: bool = False, verdicts: Sequence[Mapping[str, Any]] | None = None) -> ExportedFiles:
    """Write the standard outputs of one measured study into its own folder under ``out_dir``.

    Parameters
    ----------
    result : onfh_imaging.pipeline.StudyResult
        The measured study.
    out_dir : path
        Output root; the study's folder (see the module notes) is created inside it and nothing is
        ever written outside it, whatever the headers contain.
    seg, sr, nifti : bool
        Which outputs to write (MR only); ``measurements.json`` is always written.
    pseudonymize_key : str, optional
        Pseudonymise every output, folder names included, with this key.
    reader_name : str, optional
        Reader who confirmed the measures.
    masks_edited : bool
        The reader edited the masks.
    verdicts : sequence of mapping, optional
        The ARCO verdicts of the study's visit (:func:`onfh_imaging.verdict.with_verdicts`), written into
        ``measurements.json`` as ``onfh measure --json`` does (pseudonymised with the rest).

    Returns
    -------
    ExportedFiles
        Every path written.

    Raises
    ------
    UnsupportedInputError
        SEG, SR or NIfTI asked for a result that is not an MR series (a radiograph's are JSON only).
    """
    pseudo = Pseudonymizer(pseudonymize_key) if pseudonymize_key else None
    record = result.to_json()
    if verdicts is not None:
        record = {**record, "verdicts": [dict(v) for v in verdicts]}
    if pseudo is not None:
        record = pseudo.pseudonymize_record(record)
    folder = study_folder(out_dir, record)
    out = ExportedFiles()
    if seg or sr:
        seg_obj, sr_obj = build_dicom_outputs(result, seg=seg, sr=sr, reader_name=reader_name,
                                              masks_edited=masks_edited)
        for name, obj in (("seg", seg_obj), ("sr", sr_obj)):
            if obj is not None:
                path = write_dicom(safe_join(folder, f"{name}.dcm"),
                                   pseudo.pseudonymize_dataset(obj) if pseudo else obj)
                setattr(out, name, path)
    if nifti:
        _write_nifti_outputs(out, folder, result, (record.get("input") or {}).get("series_instance_uid"))
    out.json = write_json(safe_join(folder, "measurements.json"), record, ensure_ascii=False)
    return out


def _write_nifti_outputs(out: ExportedFiles, folder: Path, result: Any, series_uid: Any) -> None:
    """The measured series and each hip's label map (head 1, lesion 2) as NIfTI in ``folder``."""
    from onfh_imaging.export.nifti import write_hip_label_map, write_image

    series = _require_mr(result)
    out.image = write_image(safe_join(folder, "image.nii.gz"), series.volume)
    for hip in result.hips:
        side, head, lesion, _ = _hip_parts(hip)
        if head is None:
            continue
        path, _ = write_hip_label_map(safe_join(folder, f"{safe_filename(side)}_hip_labels.nii.gz"), side,
                                      head, lesion, {"series_instance_uid": series_uid})
        out.label_maps.append(path)


__all__ = ["ExportedFiles", "build_dicom_outputs", "export_dicom", "export_study", "read_source_headers",
           "study_folder"]

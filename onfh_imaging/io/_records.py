"""One 2-D image of a DICOM file (a classic file, or one frame of an Enhanced multi-frame object) and its
geometry: position, orientation, pixel spacing, echo, rescale, read from the header or the functional groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from onfh_imaging.errors import OnfhError, UnreadableFileError
from onfh_imaging.io._header import Header

__all__ = ["ImageRecord", "image_records"]


@dataclass
class ImageRecord:
    """Geometry and decoding parameters of one 2-D image (a file, or one frame of a file).

    Attributes
    ----------
    header : Header
        The header of the file holding the image.
    frame : int
        Index of the image among the file's frames (0 for single-frame files).
    n_frames : int
        Number of frames in the file.
    position : ndarray, shape (3,), or None
        ImagePositionPatient: centre of the first pixel, LPS mm.
    orientation : ndarray, shape (6,), or None
        ImageOrientationPatient: row direction cosines then column direction cosines (LPS).
    pixel_spacing : (float, float) or None
        PixelSpacing (row spacing, column spacing), mm.
    slice_thickness, spacing_between_slices : float or None
        SliceThickness and SpacingBetweenSlices, mm.
    echo_time : float or None
        EchoTime, ms.
    echo_number : int or None
        EchoNumbers.
    slope, intercept : float
        RescaleSlope and RescaleIntercept: modality value = stored value * slope + intercept.
    stack_id : str
        StackID of an Enhanced object's frame ("" for classic images).
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
        """The file holding the image (``archive.zip/member`` for zip members)."""
        return self.header.path

    @property
    def normal(self) -> np.ndarray | None:
        """Unit slice normal, row cosines x column cosines (LPS); None without a valid orientation."""
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

    Parameters
    ----------
    header : Header
        The file's header; an Enhanced object's must carry its pydicom ``dataset``.

    Returns
    -------
    list of ImageRecord
        One record per frame, in frame order.

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

"""Read a projection radiograph (CR, DX) with its pixel size at the patient."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from onfh_imaging.errors import NoPixelDataError, UnsupportedInputError
from onfh_imaging.geometry import Radiograph
from onfh_imaging.io._checks import DEFAULT_MAX_BYTES, check_image_header
from onfh_imaging.io._header import Header, read_header
from onfh_imaging.io._records import ImageRecord, image_records
from onfh_imaging.io.scan import SeriesInfo, describe_series
from onfh_imaging.io.series import _check_size, _fill, _stored_dtype

__all__ = ["PICTURE_SUFFIXES", "is_picture", "patient_orientation", "pixel_size_at_patient", "read_picture",
           "read_radiograph"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


def _positive_pair(values: list[float] | None) -> bool:
    """Two finite, positive numbers (a usable pixel size)."""
    return values is not None and len(values) >= 2 and all(math.isfinite(v) and v > 0 for v in values[:2])


def pixel_size_at_patient(header: Header) -> tuple[tuple[float, float] | None, str]:
    """Pixel size ``(row, column)`` in mm at the patient and its source (see ``PixelSizeSource``).

    PixelSpacing is already calibrated; otherwise ImagerPixelSpacing (the detector pitch) divided by
    EstimatedRadiographicMagnificationFactor; otherwise ImagerPixelSpacing alone, which is the size
    at the detector, larger than at the patient by the (unknown) magnification.

    Parameters
    ----------
    header : Header
        The radiograph's DICOM header.

    Returns
    -------
    size : (float, float) or None
        Pixel size along rows and columns, mm; None when the header gives no usable size.
    source : str
        ``"PixelSpacing"``, ``"ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"``,
        ``"ImagerPixelSpacing"`` or ``"none"``.
    """
    ps = header.floats("PixelSpacing")
    if _positive_pair(ps):
        return (ps[0], ps[1]), "PixelSpacing"
    ips = header.floats("ImagerPixelSpacing")
    if _positive_pair(ips):
        mag = header.float("EstimatedRadiographicMagnificationFactor")
        if mag is not None and math.isfinite(mag) and mag > 0:
            return (ips[0] / mag, ips[1] / mag), "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
        return (ips[0], ips[1]), "ImagerPixelSpacing"
    return None, "none"


def patient_orientation(header: Header) -> tuple[str, str] | None:
    """PatientOrientation (0020,0020) as (row direction, column direction), e.g. ``("L", "F")``.

    Parameters
    ----------
    header : Header
        The radiograph's DICOM header.

    Returns
    -------
    (str, str) or None
        Direction of increasing column index and of increasing row index, each made of the letters
        A, P, R, L, H, F (anterior, posterior, right, left, head, foot); None when the element is
        absent or not two such values.
    """
    parts = [p.strip().upper() for p in header.text("PatientOrientation").split("\\")]
    if len(parts) != 2 or not all(p and set(p) <= set("APRLHF") for p in parts):
        return None
    return parts[0], parts[1]


def _stored_range(header: Header, slope: float, intercept: float) -> tuple[float, float]:
    """Modality values of the smallest and largest storable pixel."""
    bits = header.int("BitsStored", header.int("BitsAllocated", 16)) or 16
    if (header.int("PixelRepresentation", 0) or 0) == 1:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    a, b = lo * slope + intercept, hi * slope + intercept
    return min(a, b), max(a, b)


def read_radiograph(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[Radiograph, SeriesInfo]:
    """Read a CR or DX image as raw modality values with bone bright.

    MONOCHROME1 images are inverted over the storable value range, colour images reduced to
    luminance; no VOI window is applied. The pixel size comes from :func:`pixel_size_at_patient`.

    Parameters
    ----------
    path : path
        The DICOM file.
    max_bytes : int
        Refuse images whose header claims more pixel memory than this.

    Returns
    -------
    (Radiograph, SeriesInfo)
        Pixels as float32, shape ``(rows, columns)``, with pixel size (mm), its source, view and
        laterality; and the header description.

    Raises
    ------
    NoPixelDataError
        The file is DICOM without pixel data.
    UnsupportedInputError
        The file holds more than one frame, or a pixel layout this reader does not support.
    UnreadableFileError, TooLargeError
        The header's image description is damaged or claims more than ``max_bytes``.
    """
    path = Path(path)
    header = read_header(path)
    if not header.has_pixels:
        raise NoPixelDataError("DICOM file without pixel data (not an image)", path=path)
    check_image_header(header, max_bytes)
    records = image_records(header)
    _check_size(records, True, max_bytes, str(path))
    if len(records) > 1:
        raise UnsupportedInputError(f"{len(records)} frames: a radiograph has one image", path=path)
    info = describe_series(records)
    pixels = _bone_bright_pixels(path, header, records[0])
    size, source = pixel_size_at_patient(header)
    radiograph = Radiograph(pixels=pixels, pixel_size_mm=size, pixel_size_source=source,
                            view=info.view or "unknown", laterality=info.laterality or "unknown",
                            patient_orientation=patient_orientation(header))
    return radiograph, info


def _bone_bright_pixels(path: Path, header: Header, record: ImageRecord) -> np.ndarray:
    """The one image's modality values as float32 ``(rows, columns)``, luminance for colour, bone bright."""
    rows, cols = header.int("Rows"), header.int("Columns")
    samples = header.int("SamplesPerPixel", 1) or 1
    if samples == 1:
        pixels = np.empty((rows, cols), dtype=np.float32)
        scratch = np.empty((rows, cols), dtype=_stored_dtype(header))
        _fill(pixels, record, scratch, {})
    else:
        from onfh_imaging.io.series import _decode_colour

        pixels = _decode_colour(path) @ _LUMA
    if header.text("PhotometricInterpretation").upper() == "MONOCHROME1":
        lo, hi = _stored_range(header, record.slope, record.intercept)
        pixels = np.float32(lo + hi) - pixels
    return pixels


PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
"""Exported pictures of a radiograph (screenshots, PACS exports): pixels only, no header."""


def is_picture(path: str | os.PathLike) -> bool:
    """True for a PNG or JPEG file name (a picture, not DICOM).

    Parameters
    ----------
    path : path
        A file name; only its suffix is looked at (case-insensitive).

    Returns
    -------
    bool
        Whether the suffix is one of ``PICTURE_SUFFIXES``.
    """
    return Path(path).suffix.lower() in PICTURE_SUFFIXES


def read_picture(path: str | os.PathLike, *, pixel_mm: float | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[Radiograph, SeriesInfo]:
    """Read a PNG or JPEG picture of a radiograph (bone bright, as displayed).

    A picture has no header: no pixel size (unless ``pixel_mm`` is given, source ``"user"``), no
    side, no view. Colour is reduced to luminance (ITU-R BT.601), an alpha channel dropped.

    Parameters
    ----------
    path : path
        The picture file.
    pixel_mm : float, optional
        Size of a pixel at the patient, mm (the user's; square pixels).
    max_bytes : int
        Refuse pictures whose decoded pixels would take more memory than this.

    Returns
    -------
    (Radiograph, SeriesInfo)
        Pixels as float32, shape ``(rows, columns)``, with the pixel size (mm) or None; and a
        description of the picture as a one-image series of modality ``"OT"``.

    Raises
    ------
    UnsupportedInputError
        ``pixel_mm`` is not a finite positive number.
    UnreadableFileError
        The file is not a picture PIL can decode.
    TooLargeError
        The picture's pixels exceed ``max_bytes``.
    """
    path = Path(path)
    if pixel_mm is not None and not (math.isfinite(pixel_mm) and pixel_mm > 0):
        raise UnsupportedInputError(f"pixel size {pixel_mm} mm is not a positive number", path=path,
                                    hint="give --pixel-mm as the size of one pixel at the patient, e.g. 0.15")
    pixels = _decode_picture(path, max_bytes)
    size = None if pixel_mm is None else (float(pixel_mm), float(pixel_mm))
    rx = Radiograph(pixels=pixels, pixel_size_mm=size, pixel_size_source="none" if size is None else "user")
    return rx, _picture_info(path, size, *pixels.shape)


def _decode_picture(path: Path, max_bytes: int) -> np.ndarray:
    """Luminance of a PNG or JPEG file as float32 ``(rows, columns)``, grey levels as stored."""
    from PIL import Image, UnidentifiedImageError

    from onfh_imaging.errors import TooLargeError, UnreadableFileError

    try:
        with Image.open(path) as im:
            w, h = im.size
            if 4 * w * h > max_bytes:
                raise TooLargeError(f"picture of {w} x {h} pixels is larger than the {max_bytes} byte limit",
                                    path=path)
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
                return np.asarray(im, dtype=np.float32)
            return np.asarray(im.convert("RGB"), dtype=np.float32) @ _LUMA
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, TooLargeError):
            raise
        raise UnreadableFileError(f"not a readable PNG or JPEG picture ({exc})", path=path,
                                  hint="export the radiograph as DICOM, PNG or JPEG") from exc


def _picture_info(path: Path, size: tuple[float, float] | None, rows: int, columns: int) -> SeriesInfo:
    """A header-less picture described as a one-image series (no patient, study, side or view)."""
    return SeriesInfo(patient_id="", patient_name="", study_instance_uid="", study_date="", study_description="",
                      series_instance_uid="", series_number=None, modality="OT",
                      series_description=path.name, sequence="", fat_saturated=False, orientation="",
                      rows=rows, columns=columns, n_slices=1, pixel_spacing=size, slice_spacing=None,
                      slice_thickness=None, frame_of_reference_uid="", view="unknown", laterality="unknown",
                      files=[path])

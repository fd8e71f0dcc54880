"""Write volumes and radiographs as standard DICOM (and NIfTI) files.

These writers produce the files that the toolkit's own readers, PACS viewers, SimpleITK and dcm2niix
read: classic MR Image Storage (one file per slice), DX / CR radiographs, and NIfTI-1. They are used
for the digital phantoms and for exporting converted data. Every file is written atomically.

Geometry follows DICOM exactly: slice ``k`` of a :class:`~onfh_imaging.geometry.Volume` becomes an
image whose ImagePositionPatient is ``origin + k * spacing_k * direction[:, 2]``, whose
ImageOrientationPatient holds the row direction (``direction[:, 0]``, along ``i``) then the column
direction (``direction[:, 1]``, along ``j``), and whose PixelSpacing is ``[spacing_j, spacing_i]``.
DICOM cannot express a left-handed grid: a reader stacks slices along
``cross(row direction, column direction)``, so a volume whose ``direction`` has determinant -1 reads
back with its ``k`` axis reversed (same voxels in space, different array order).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

from onfh_imaging import __version__
from onfh_imaging.geometry import Volume
from onfh_imaging.io._atomic import atomic_path

MANUFACTURER = "onfh-imaging phantom"

# Typical 1.5 T acquisition parameters per contrast: (ScanningSequence, SequenceVariant, SequenceName,
# RepetitionTime ms, EchoTime ms, InversionTime ms or None, EchoTrainLength).
_SEQUENCES: dict[str, tuple[list[str], list[str], str, float, float, float | None, int]] = {
    "T1": (["SE"], ["SP"], "se2d1", 500.0, 10.0, None, 1),
    "T2": (["SE"], ["SK", "SP", "OSP"], "tse2d1_15", 4000.0, 90.0, None, 15),
    "PD": (["SE"], ["SK", "SP", "OSP"], "tse2d1_9", 3000.0, 30.0, None, 9),
    "STIR": (["SE", "IR"], ["SK", "SP", "MP", "OSP"], "tir2d1_15", 5000.0, 40.0, 150.0, 15),
}


@dataclass(frozen=True)
class _Encoded:
    """Stored integer pixels and the linear map back to real values (value = stored*slope + intercept)."""

    stored: np.ndarray
    slope: float
    intercept: float

    @property
    def signed(self) -> bool:
        return self.stored.dtype == np.int16

    @property
    def rescaled(self) -> bool:
        return self.slope != 1.0 or self.intercept != 0.0


def _ds(value: float) -> str:
    """A Decimal String of at most 16 characters (DICOM's limit) keeping as many digits as fit."""
    return format_number_as_ds(float(value))


def _ds_float(value: float) -> float:
    """The float a reader recovers from :func:`_ds` of ``value``."""
    return float(_ds(value))


def _encode_pixels(array: np.ndarray) -> _Encoded:
    """Choose uint16 / int16 storage, adding RescaleSlope/Intercept only when values need it.

    Integer-valued data inside the uint16 or int16 range is stored as is (slope 1, intercept 0).
    Other data (real-valued or out of range) is mapped linearly onto the full uint16 range; the
    round-trip error is at most half a step, ``(max - min) / 131070``.
    """
    arr = np.asarray(array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.size == 0:
        raise ValueError("cannot write an empty image")
    if not np.all(np.isfinite(arr)):
        raise ValueError("cannot write non-finite pixel values (NaN or inf)")
    vmin, vmax = float(arr.min()), float(arr.max())
    integral = np.issubdtype(arr.dtype, np.integer) or bool(np.all(arr == np.round(arr)))
    if integral and vmin >= 0 and vmax <= 65535:
        return _Encoded(arr.astype(np.uint16), 1.0, 0.0)
    if integral and vmin >= -32768 and vmax <= 32767:
        return _Encoded(arr.astype(np.int16), 1.0, 0.0)
    intercept = _ds_float(vmin)
    slope = _ds_float((vmax - intercept) / 65535.0) if vmax > intercept else 1.0
    stored = np.clip(np.rint((arr.astype(np.float64) - intercept) / slope), 0, 65535).astype(np.uint16)
    return _Encoded(stored, slope, intercept)


@dataclass(frozen=True)
class _Identity:
    """Patient, study and series attributes shared by every image of a written series."""

    patient_id: str
    patient_name: str
    study_instance_uid: str
    study_date: str
    series_instance_uid: str
    series_number: int
    series_description: str
    modality: str


def _file_dataset(sop_class_uid: str, sop_instance_uid: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "ONFH_" + __version__.replace("+", "_")[:11]
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    return ds


def _image_dataset(sop_class_uid: str, who: _Identity) -> FileDataset:
    """A new image (fresh SOPInstanceUID) of the given class with its patient, study and series set."""
    ds = _file_dataset(sop_class_uid, generate_uid())
    ds.PatientID = who.patient_id
    ds.PatientName = who.patient_name
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = who.study_instance_uid
    ds.StudyDate = who.study_date
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "HIP"
    ds.SeriesInstanceUID = who.series_instance_uid
    ds.SeriesNumber = int(who.series_number)
    ds.SeriesDescription = who.series_description
    ds.SeriesDate = who.study_date
    ds.SeriesTime = "120000"
    ds.Modality = who.modality
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "digital phantom"
    ds.SoftwareVersions = __version__
    ds.ContentDate = who.study_date
    ds.ContentTime = "120000"
    ds.AcquisitionDate = who.study_date
    ds.AcquisitionTime = "120000"
    return ds


def _set_pixels(ds: FileDataset, enc: _Encoded, photometric: str = "MONOCHROME2",
                always_rescale: bool = False) -> None:
    rows, cols = enc.stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if enc.signed else 0
    if enc.rescaled or always_rescale:
        ds.RescaleIntercept = _ds(enc.intercept)
        ds.RescaleSlope = _ds(enc.slope)
        ds.RescaleType = "US"
    ds.PixelData = np.ascontiguousarray(enc.stored).astype(enc.stored.dtype.newbyteorder("<")).tobytes()


def _apply_extra(ds: FileDataset, extra: Mapping[str, Any] | None) -> None:
    """Set (or, with value None, delete) attributes by keyword after the defaults."""
    for keyword, value in (extra or {}).items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)


def _save(ds: FileDataset, path: Path) -> None:
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``range(n)`` that is never the identity (for n > 1)."""
    perm = rng.permutation(n)
    if n > 1 and np.array_equal(perm, np.arange(n)):
        perm = np.roll(perm, 1)
    return perm


def _sequence_parameters(sequence: str) -> tuple[str, bool]:
    """Base contrast and fat suppression of a sequence label such as ``"T1"``, ``"STIR"``, ``"T2FS"``."""
    label = sequence.upper().replace("-", "").replace("_", "").replace(" ", "")
    fat_sat = label.endswith("FS") and label not in _SEQUENCES
    base = label[:-2] if fat_sat else label
    if base not in _SEQUENCES:
        raise ValueError(f"unknown sequence {sequence!r}; use one of {sorted(_SEQUENCES)} (optionally + 'FS')")
    return base, fat_sat or base == "STIR"


def write_mr_series(volume: Volume, folder: str | os.PathLike, *, patient_id: str = "ANON",
                    patient_name: str = "Anonymous", study_instance_uid: str | None = None,
                    series_instance_uid: str | None = None, frame_of_reference_uid: str | None = None,
                    study_date: str = "20260101", series_description: str = "COR T1", series_number: int = 1,
                    sequence: str = "T1", modality: str = "MR", shuffle_seed: int | None = 0,
                    extra: Mapping[str, Any] | None = None) -> list[Path]:
    """Write a volume as a classic MR Image Storage series, one file per slice.

    Parameters
    ----------
    volume : Volume
        Pixels ``(k, j, i)`` and geometry (LPS mm). Integer-valued data within uint16/int16 is stored
        unchanged; other data as uint16 with RescaleSlope/RescaleIntercept (error <= half a step).
    folder : path
        Output folder (created if needed). Existing files of the same names are replaced.
    patient_id, patient_name, study_date : str
        Patient and study attributes (date as ``YYYYMMDD``).
    study_instance_uid, series_instance_uid, frame_of_reference_uid : str, optional
        UIDs; new ones are generated when omitted.
    series_description, series_number : str, int
        SeriesDescription and SeriesNumber.
    sequence : str
        ``"T1"``, ``"T2"``, ``"PD"`` or ``"STIR"``, optionally suffixed ``"FS"`` for fat suppression
        (``"T2FS"``): sets ScanningSequence, SequenceVariant, ScanOptions, SequenceName, TR, TE, TI.
    modality : str
        Modality attribute (``"MR"``).
    shuffle_seed : int or None
        When not None, InstanceNumber and file names are permuted so that neither follows the spatial
        order (readers must sort by position). None numbers slices 1..n in spatial order.
    extra : mapping, optional
        Attributes set on every slice after the defaults, by keyword; None deletes the attribute.

    Returns
    -------
    list of Path
        The written files in spatial order: ``files[k]`` holds slice ``k`` of ``volume``.
    """
    base, fat_sat = _sequence_parameters(sequence)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    who = _Identity(patient_id, patient_name, study_instance_uid or generate_uid(), study_date,
                    series_instance_uid or generate_uid(), series_number, series_description, modality)
    for_uid = frame_of_reference_uid or generate_uid()
    enc = _encode_pixels(volume.array)
    instance_numbers, name_keys = _instance_order(volume.shape[0], shuffle_seed)
    width = max(4, len(str(volume.shape[0])))
    paths = [out / f"IM_{int(key):0{width}d}.dcm" for key in name_keys]
    for k, path in enumerate(paths):
        ds = _mr_slice(volume, k, who, for_uid, int(instance_numbers[k]))
        _set_mr_sequence(ds, base, fat_sat)
        _set_pixels(ds, _Encoded(enc.stored[k], enc.slope, enc.intercept))
        _apply_extra(ds, extra)
        _save(ds, path)
    return paths


def _instance_order(n: int, shuffle_seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """InstanceNumber and file-name number (1-based) of each of ``n`` slices in spatial order."""
    if shuffle_seed is None:
        return np.arange(1, n + 1), np.arange(1, n + 1)
    rng = np.random.default_rng(shuffle_seed)
    instance_numbers = _derangement(n, rng) + 1
    return instance_numbers, _derangement(n, rng) + 1


def _mr_slice(volume: Volume, k: int, who: _Identity, for_uid: str, instance_number: int) -> FileDataset:
    """Slice ``k`` of ``volume`` as an MR image without pixels: identity, position and orientation (LPS mm)."""
    direction = volume.direction
    si, sj, sk = volume.spacing
    position = np.asarray(volume.origin) + k * sk * direction[:, 2]
    ds = _image_dataset(MRImageStorage, who)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.InstanceNumber = instance_number
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = for_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "FFS"
    ds.BodyPartExamined = "HIP"
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.ImageOrientationPatient = [_ds(v) for v in (*direction[:, 0], *direction[:, 1])]
    ds.PixelSpacing = [_ds(sj), _ds(si)]
    ds.SliceThickness = _ds(sk)
    ds.SpacingBetweenSlices = _ds(sk)
    ds.SliceLocation = _ds(float(position @ np.cross(direction[:, 0], direction[:, 1])))
    return ds


def _set_mr_sequence(ds: FileDataset, base: str, fat_sat: bool) -> None:
    """Acquisition attributes of a contrast (``_SEQUENCES`` key) at 1.5 T, with or without fat suppression."""
    scanning, variant, seq_name, tr_ms, te_ms, ti_ms, etl = _SEQUENCES[base]
    scan_options = [opt for opt, on in (("FS", fat_sat and base != "STIR"), ("IR", base == "STIR")) if on]
    ds.ScanningSequence = scanning if len(scanning) > 1 else scanning[0]
    ds.SequenceVariant = variant if len(variant) > 1 else variant[0]
    ds.ScanOptions = scan_options if len(scan_options) != 1 else scan_options[0]
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = seq_name
    ds.RepetitionTime = _ds(tr_ms)
    ds.EchoTime = _ds(te_ms)
    if ti_ms is not None:
        ds.InversionTime = _ds(ti_ms)
    ds.EchoNumbers = 1
    ds.EchoTrainLength = etl
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = "63.87"
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = "1.5"
    ds.FlipAngle = "90" if base != "T1" else "70"


_RADIOGRAPH_SOP_CLASSES = {
    ("DX", "PRESENTATION"): DigitalXRayImageStorageForPresentation,
    ("DX", "PROCESSING"): DigitalXRayImageStorageForProcessing,
    ("CR", "PRESENTATION"): ComputedRadiographyImageStorage,
    ("CR", "PROCESSING"): ComputedRadiographyImageStorage,
}
_VIEW_POSITIONS = {"AP": "AP", "PA": "PA", "LATERAL": "LL", "LL": "LL", "RL": "RL", "FROG": "LL"}
_LATERALITY_CODES = {"": "", "LEFT": "L", "L": "L", "RIGHT": "R", "R": "R", "BOTH": "B", "B": "B"}


def write_radiograph(pixels: np.ndarray, path: str | os.PathLike, *,
                     imager_pixel_spacing: tuple[float, float] | float, magnification: float | None,
                     pixel_spacing: tuple[float, float] | float | None = None, photometric: str = "MONOCHROME2",
                     modality: str = "DX", purpose: str = "PRESENTATION", view: str = "AP", laterality: str = "",
                     patient_id: str = "ANON", patient_name: str = "Anonymous",
                     study_instance_uid: str | None = None, series_instance_uid: str | None = None,
                     study_date: str = "20260101", series_description: str = "PELVIS AP", series_number: int = 1,
                     source_to_detector_mm: float = 1150.0, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a projection radiograph as a DX (or CR) DICOM file.

    Parameters
    ----------
    pixels : ndarray, shape (rows, columns)
        Image with bone bright (as displayed). With ``photometric="MONOCHROME1"`` the stored values
        are inverted (``65535 - v`` on the uint16 scale) so that a conforming viewer, and
        :func:`onfh_imaging.io.read_radiograph`, shows the same image. RescaleSlope/RescaleIntercept
        are always written (1 and 0 for integer data).
    path : path
        Output file.
    imager_pixel_spacing : (float, float) or float
        Detector pixel size in mm (row spacing, column spacing): ImagerPixelSpacing.
    magnification : float or None
        EstimatedRadiographicMagnificationFactor (source-to-detector / source-to-object distance);
        also sets DistanceSourceToPatient accordingly. None omits both.
    pixel_spacing : (float, float) or float, optional
        Calibrated pixel size at the patient in mm (PixelSpacing), omitted when None.
    photometric, modality, purpose : str
        ``"MONOCHROME2"`` or ``"MONOCHROME1"``; ``"DX"`` or ``"CR"``; ``"PRESENTATION"`` or
        ``"PROCESSING"`` (DX SOP class and PresentationIntentType).
    view : str
        ``"AP"``, ``"PA"``, ``"lateral"``/``"LL"``/``"RL"`` or ``"frog"``: ViewPosition.
    laterality : str
        ``""`` (not set), ``"left"``/``"L"``, ``"right"``/``"R"`` or ``"both"``/``"B"``: ImageLaterality.
    patient_id, patient_name, study_instance_uid, series_instance_uid, study_date, series_description, series_number
        Identity attributes as in :func:`write_mr_series` (UIDs generated when None).
    source_to_detector_mm : float
        DistanceSourceToDetector, mm.
    extra : mapping, optional
        Attributes set after the defaults by keyword; None deletes.

    Returns
    -------
    Path
        The written file.
    """
    pixels = np.asarray(pixels)
    modality, purpose, photometric, view_position, lat_code = _radiograph_options(
        pixels, modality, purpose, photometric, view, laterality)
    enc = _radiograph_encoding(pixels, photometric)
    who = _Identity(patient_id, patient_name, study_instance_uid or generate_uid(), study_date,
                    series_instance_uid or generate_uid(), series_number, series_description, modality)
    ds = _image_dataset(_RADIOGRAPH_SOP_CLASSES[(modality, purpose)], who)
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"] if view_position in ("AP", "") else ["P", "F"]
    ds.BodyPartExamined = "HIP"
    ds.ViewPosition = view_position
    if lat_code:
        ds.ImageLaterality = lat_code
    if modality == "DX":
        ds.PresentationIntentType = f"FOR {purpose}"
        ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    _set_projection_geometry(ds, imager_pixel_spacing, pixel_spacing, source_to_detector_mm, magnification)
    ds.KVP = "75"
    _set_pixels(ds, enc, photometric=photometric, always_rescale=True)
    _apply_extra(ds, extra)
    out = Path(path)
    _save(ds, out)
    return out


def _radiograph_options(pixels: np.ndarray, modality: str, purpose: str, photometric: str, view: str,
                        laterality: str) -> tuple[str, str, str, str, str]:
    """Upper-cased modality, purpose and photometric, DICOM ViewPosition and ImageLaterality, each checked."""
    if pixels.ndim != 2:
        raise ValueError(f"a radiograph needs a 2-D array, got shape {pixels.shape}")
    modality, purpose, photometric = modality.upper(), purpose.upper(), photometric.upper()
    if (modality, purpose) not in _RADIOGRAPH_SOP_CLASSES:
        raise ValueError(f"unsupported radiograph modality/purpose {modality}/{purpose}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, got {photometric!r}")
    view_position = _VIEW_POSITIONS.get(view.upper(), view.upper())
    lat_code = _LATERALITY_CODES.get(laterality.upper())
    if lat_code is None:
        raise ValueError(f"unknown laterality {laterality!r}")
    return modality, purpose, photometric, view_position, lat_code


def _radiograph_encoding(pixels: np.ndarray, photometric: str) -> _Encoded:
    """Stored pixels for the photometric interpretation (inverted on the uint16 scale for MONOCHROME1)."""
    enc = _encode_pixels(pixels)
    if photometric == "MONOCHROME1":
        if enc.signed:  # move to the unsigned scale so the inversion is exact
            enc = _Encoded((enc.stored.astype(np.int32) + 32768).astype(np.uint16), enc.slope,
                           enc.intercept - 32768.0 * enc.slope)
        # MONOCHROME1 shows low stored values bright; a reader maps v -> (lo + hi) - v over the
        # modality range [lo, hi] of the stored type, which recovers the original values exactly.
        enc = _Encoded((65535 - enc.stored.astype(np.int32)).astype(np.uint16), enc.slope, enc.intercept)
    return enc


def _set_projection_geometry(ds: FileDataset, imager_pixel_spacing: tuple[float, float] | float,
                             pixel_spacing: tuple[float, float] | float | None, source_to_detector_mm: float,
                             magnification: float | None) -> None:
    """Detector and patient pixel sizes (mm), source distances (mm) and magnification of a projection."""
    ds.ImagerPixelSpacing = [_ds(v) for v in np.broadcast_to(np.asarray(imager_pixel_spacing, float), (2,))]
    if pixel_spacing is not None:
        ds.PixelSpacing = [_ds(v) for v in np.broadcast_to(np.asarray(pixel_spacing, float), (2,))]
    ds.DistanceSourceToDetector = _ds(source_to_detector_mm)
    if magnification is not None:
        if magnification <= 0:
            raise ValueError(f"magnification must be positive, got {magnification}")
        ds.EstimatedRadiographicMagnificationFactor = _ds(magnification)
        ds.DistanceSourceToPatient = _ds(source_to_detector_mm / magnification)


def write_nifti(volume: Volume, path: str | os.PathLike) -> Path:
    """Write a volume as NIfTI-1 (``.nii`` or ``.nii.gz``) with its RAS affine in sform and qform.

    Parameters
    ----------
    volume : Volume
        Pixels and geometry; boolean masks are stored as uint8.
    path : path
        Output file; the extension chooses compression.

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    if not (out.name.endswith(".nii") or out.name.endswith(".nii.gz")):
        raise ValueError(f"{out}: a NIfTI file name must end in .nii or .nii.gz")
    image = volume.to_nifti()
    with atomic_path(out) as tmp:
        image.to_filename(str(tmp))
    return out


__all__ = ["MANUFACTURER", "write_mr_series", "write_nifti", "write_radiograph"]

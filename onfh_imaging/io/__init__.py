"""Reading and writing images: DICOM discovery, series to volumes, radiographs, NIfTI.

Public functions
----------------
scan(path) -> ScanResult
    Headers only: patients > studies > series (:class:`SeriesInfo`), skipped files counted.
read_series(files_or_folder, series_instance_uid=None) -> Series
    One series as a :class:`~onfh_imaging.geometry.Volume` (LPS mm), files sorted spatially.
read_radiograph(path) -> (Radiograph, SeriesInfo)
    A CR/DX image with its pixel size at the patient.
read_nifti(path) -> Volume, read_image(path) -> Series | Radiograph | Volume
write_mr_series, write_radiograph, write_nifti
    Standard DICOM / NIfTI output (see :mod:`onfh_imaging.io.dicom_write`).
"""

from onfh_imaging.io.dicom_write import write_mr_series, write_nifti, write_radiograph
from onfh_imaging.io.image import read_image, read_nifti
from onfh_imaging.io.radiograph import pixel_size_at_patient, read_radiograph
from onfh_imaging.io.scan import PatientEntry, ScanResult, SeriesInfo, StudyEntry, scan
from onfh_imaging.io.series import DEFAULT_MAX_BYTES, Series, read_series

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PatientEntry",
    "ScanResult",
    "Series",
    "SeriesInfo",
    "StudyEntry",
    "pixel_size_at_patient",
    "read_image",
    "read_nifti",
    "read_radiograph",
    "read_series",
    "scan",
    "write_mr_series",
    "write_nifti",
    "write_radiograph",
]

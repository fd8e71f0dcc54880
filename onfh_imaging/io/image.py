"""NIfTI input and one entry point that reads whatever image a path holds."""

from __future__ import annotations

import os
from pathlib import Path

from onfh_imaging.errors import UnreadableFileError, UnsupportedInputError
from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.io._header import read_header
from onfh_imaging.io.series import Series, read_series
from onfh_imaging.vocab import RADIOGRAPH_MODALITIES

__all__ = ["read_image", "read_nifti"]


def _is_nifti(path: Path) -> bool:
    return path.name.endswith(".nii") or path.name.endswith(".nii.gz")


def read_nifti(path: str | os.PathLike) -> Volume:
    """Read a 3-D NIfTI image as a volume in LPS mm (its RAS affine converted).

    Parameters
    ----------
    path : path
        A ``.nii`` or ``.nii.gz`` file.

    Returns
    -------
    Volume
        The voxels with origin, spacing (mm) and direction cosines in LPS.

    Raises
    ------
    UnreadableFileError
        Missing, unreadable or corrupt file.
    UnsupportedInputError
        Not 3-D (a 4-D series or a 2-D image).
    """
    import nibabel as nib

    path = Path(path)
    try:
        image = nib.load(str(path))
        return Volume.from_nifti(image)
    except FileNotFoundError as exc:
        raise UnreadableFileError("no such file", path=path) from exc
    except PermissionError as exc:
        raise UnreadableFileError("permission denied", path=path) from exc
    except ValueError as exc:
        raise UnsupportedInputError(str(exc), path=path) from exc
    except Exception as exc:  # nibabel raises several types on corrupt files
        raise UnreadableFileError(f"cannot read the NIfTI file: {exc}", path=path) from exc


def read_image(path: str | os.PathLike, series_instance_uid: str | None = None) -> Series | Radiograph | Volume:
    """Read a NIfTI file (Volume), a CR/DX file (Radiograph) or a DICOM series (Series).

    A folder or zip is read with :func:`read_series`; a single DICOM file whose modality is a
    projection radiograph with :func:`read_radiograph`, any other single file as a multi-frame series.

    Parameters
    ----------
    path : path
        A NIfTI file, a DICOM file, a folder or a zip archive.
    series_instance_uid : str, optional
        Which series to read when the folder holds several (UID or sub-series key).

    Returns
    -------
    Series or Radiograph or Volume

    Raises
    ------
    InputError
        Whatever the reader for that kind of input raises (see :func:`read_series`,
        :func:`read_radiograph`, :func:`read_nifti`).
    """
    from onfh_imaging.io.radiograph import read_radiograph

    p = Path(path)
    if p.is_file() and _is_nifti(p):
        return read_nifti(p)
    if p.is_file() and p.suffix.lower() != ".zip":
        header = read_header(p)
        if header.text("Modality").upper() in RADIOGRAPH_MODALITIES:
            return read_radiograph(p)[0]
        return read_series([p], series_instance_uid)  # a multi-frame object
    return read_series(p, series_instance_uid)

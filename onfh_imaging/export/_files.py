"""Atomic writers shared by the exporters (temporary file in the target folder, then rename)."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom

from onfh_imaging.io._atomic import atomic_path

__all__ = ["write_dicom"]


def write_dicom(path: str | os.PathLike, ds: pydicom.Dataset) -> Path:
    """Write a DICOM object atomically as a Part 10 file (preamble and file meta information).

    Parameters
    ----------
    path : path
        Output file (its folder is created if needed).
    ds : pydicom.Dataset
        The object, with its file meta information.

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    with atomic_path(out) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return out

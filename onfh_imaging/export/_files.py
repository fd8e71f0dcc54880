"""Atomic writers shared by the exporters (temporary file in the target folder, then rename)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pydicom

from onfh_imaging.io._atomic import atomic_path

__all__ = ["write_dicom", "write_json"]


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


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write a JSON document atomically (UTF-8, indented, trailing newline).

    Parameters
    ----------
    path : path
        Output file (its folder is created if needed).
    obj : object
        Anything :func:`json.dumps` serialises.

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out

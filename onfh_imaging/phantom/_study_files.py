"""Phantom study folders on disk, shared by both phantom families: refusing to write over files,
writing each MR series into place whole (a folder holding a series holds all of it), and reading a
study's ``truth.json``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Volume


def check_study_folder(out: Path, series_folders: Iterable[str]) -> None:
    """Refuse a study folder that is a file, or whose series folders already hold files.

    Parameters
    ----------
    out : Path
        The study folder (it may not exist yet).
    series_folders : iterable of str
        Names of the series folders that will be written inside it.

    Raises
    ------
    InputError
        When ``out`` is not a folder, or one of its series folders is not an empty folder.
    """
    if out.exists() and not out.is_dir():
        raise InputError("not a folder", path=out, hint="give a folder for the phantom study")
    for name in series_folders:
        folder = out / name
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise InputError("output folder is not empty", path=folder,
                             hint="write the phantom to a new or empty folder")


def write_series_folder(volume: Volume, final: Path, **series: Any) -> None:
    """Write an MR series into ``final`` whole: into a hidden sibling folder first, then renamed into place.

    Parameters
    ----------
    volume : Volume
        The series, shape (slices, rows, columns), LPS mm.
    final : Path
        Its folder, absent or empty (:func:`check_study_folder`); its parent must exist.
    **series
        Passed to :func:`onfh_imaging.io.dicom_write.write_mr_series` (identity, UIDs, description...).
    """
    from onfh_imaging.io.dicom_write import write_mr_series

    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        write_mr_series(volume, tmp, **series)
        if final.exists():
            final.rmdir()  # checked empty before
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_truth_file(path: str | os.PathLike, hint: str) -> tuple[Path, Any]:
    """The parsed JSON of a phantom ``truth.json``, before any check of its content.

    Parameters
    ----------
    path : path
        A study folder or its ``truth.json``.
    hint : str
        What to do when the file is missing (how to generate one).

    Returns
    -------
    path : Path
        The file read.
    data : object
        Its JSON content.

    Raises
    ------
    InputError
        When the file is missing, unreadable or not JSON.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no phantom truth file", path=p, hint=hint) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read phantom truth: {exc}", path=p) from exc
    return p, data


__all__ = ["check_study_folder", "read_truth_file", "write_series_folder"]

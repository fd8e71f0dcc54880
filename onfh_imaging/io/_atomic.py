"""Atomic output: write to a temporary file in the target folder, then rename over the target.

The one writer every output of the toolkit goes through (DICOM, NIfTI, JSON, batch records and tables).
The temporary file is fsynced before the rename and the folder after it, so after a crash the target is
either the old file or the whole new one. Its name, ``.<target name>.<pid>-<random>.tmp`` (plus the
target's suffix for writers that pick a format by it), says which process owns it (:func:`owner_pid`), so
stale leftovers of killed processes can be cleaned safely.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TMP_MARK", "atomic_path", "is_temporary", "json_default", "owner_pid", "write_json"]

TMP_MARK = ".tmp"
"""Marks a temporary output file's name."""


#: Suffixes whose writers choose the format from the file name (nibabel, matplotlib, Pillow): a temporary
#: file keeps them. Any other temporary ends in :data:`TMP_MARK`, so a half-written ``record.json`` is never
#: taken for a record by a reader that lists ``*.json``.
SNIFFED_SUFFIXES = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".svg", ".pdf")


def _suffix(path: Path) -> str:
    """The suffix a temporary file for ``path`` must keep for format-sniffing writers ('' for none)."""
    name = path.name.lower()
    return next((s for s in SNIFFED_SUFFIXES if name.endswith(s)), "")


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: setting the umask to read it is not thread-safe


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a temporary file left by :func:`atomic_path`.

    Parameters
    ----------
    path : path
        Any file name; only the name is looked at.

    Returns
    -------
    bool
    """
    name = Path(path).name
    return name.startswith(".") and owner_pid(path) is not None


def owner_pid(path: str | os.PathLike) -> int | None:
    """Process id of the writer of a temporary output file, or None if ``path`` is not one.

    Parameters
    ----------
    path : path
        A file name of the form ``.<target name>.<pid>-<random>.tmp[suffix]``.

    Returns
    -------
    int or None
    """
    name = Path(path).name
    head, mark, _ = name.rpartition(TMP_MARK)
    if not mark:
        return None
    pid = head.rsplit(".", 1)[-1].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    The temporary file keeps ``path``'s suffix where writers choose a format by it (nibabel,
    matplotlib; :data:`SNIFFED_SUFFIXES`). On any exception the temporary file is removed and
    ``path`` is untouched. The parent folder is created if needed.

    Parameters
    ----------
    path : path
        The output file.

    Yields
    ------
    Path
        The temporary file to write; it is fsynced, given the umask's permissions and renamed over
        ``path`` when the ``with`` block ends without an exception.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}-",
                                    suffix=TMP_MARK + _suffix(target))
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file owner-only; outputs get the permissions any new file would get
        os.chmod(tmp, 0o666 & ~_UMASK)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, target)
        _fsync_dir(target.parent)  # and the rename itself survives a crash
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def json_default(obj: Any) -> Any:
    """JSON value of a NumPy scalar or array (the ``default`` of :func:`json.dumps`).

    Parameters
    ----------
    obj : object
        A value :mod:`json` cannot serialise itself.

    Returns
    -------
    object
        ``obj.item()`` for a NumPy scalar, ``obj.tolist()`` for an array.

    Raises
    ------
    TypeError
        For anything else, as :func:`json.dumps` expects.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2, ensure_ascii: bool = True) -> Path:
    """Write a JSON document atomically (UTF-8, indented, trailing newline; NumPy values converted).

    Parameters
    ----------
    path : path
        Output file (its folder is created if needed).
    obj : object
        Anything :func:`json.dumps` serialises, NumPy scalars and arrays included.
    indent : int
        Indentation, spaces.
    ensure_ascii : bool
        Escape non-ASCII characters (False writes them as UTF-8).

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    text = json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii, default=json_default) + "\n"
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out

"""Opening the files the readers read: regular files (never blocking on pipes or devices), ``.gz``
files decompressed as a stream, and members of zip archives (``archive.zip/folder/IM1`` names member
``folder/IM1``), with OS and archive errors turned into toolkit errors that name the file."""

from __future__ import annotations

import gzip
import io
import os
import stat
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

from onfh_imaging.errors import TooLargeError, TruncatedFileError, UnreadableFileError

__all__ = ["MAX_ZIP_MEMBER_BYTES", "READ_ERRORS", "member_path", "open_binary", "read_error", "short_text",
           "split_zip_member", "unsafe_member_name"]

# Zip members declaring more uncompressed bytes than this are refused unread (a zip bomb, or a damaged
# directory); members are streamed, never inflated whole into memory.
MAX_ZIP_MEMBER_BYTES = 2 * 1024**3


def short_text(exc: BaseException) -> str:
    """An exception's text cut to one short line (parsers may quote whole element values).

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        Its message on one line, whitespace collapsed, at most 160 characters (its class name when empty).
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def unsafe_member_name(name: str) -> bool:
    """True for zip member names that would point outside the archive (absolute, drive, ``..``).

    Parameters
    ----------
    name : str
        A member name as stored in the archive's directory.

    Returns
    -------
    bool
    """
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _escape_member(name: str) -> str:
    """A relative path for a zip member name, with absolute roots and ``..`` parts made inert."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join("%2E%2E" if p == ".." else p.replace(":", "%3A") for p in parts)


def member_path(archive: Path, name: str) -> Path:
    """The path that names zip member ``name`` of ``archive`` (``archive.zip/folder/IM1``).

    Parameters
    ----------
    archive : Path
        The zip file.
    name : str
        The member's name; an unsafe one (see :func:`unsafe_member_name`) is escaped so that it stays
        inside the archive's path.

    Returns
    -------
    Path
    """
    return archive / (_escape_member(name) if unsafe_member_name(name) else name)


def split_zip_member(path: Path) -> tuple[Path, str] | None:
    """``(archive, member)`` when ``path`` points inside a zip archive, else None.

    Parameters
    ----------
    path : Path
        A path that may not exist on disk because part of it is inside a zip file.

    Returns
    -------
    (Path, str) or None
        The zip file and the member name (``/``-separated) below it; None for a path that exists or
        has no zip file among its parents.
    """
    if path.exists():
        return None
    for parent in path.parents:
        if parent.is_file() and zipfile.is_zipfile(parent):
            return parent, path.relative_to(parent).as_posix()
        if parent.exists():
            return None
    return None


@lru_cache(maxsize=8)
def _zip(archive: Path, mtime: float) -> zipfile.ZipFile:
    return zipfile.ZipFile(archive)


def _open_member(path: Path, archive: Path, name: str) -> io.BufferedIOBase:
    """A zip member as a stream, refusing unsafe names and sizes above :data:`MAX_ZIP_MEMBER_BYTES`."""
    z = _zip(archive, archive.stat().st_mtime)
    try:
        info = z.getinfo(name)
    except KeyError:
        unsafe = [n for n in z.namelist() if unsafe_member_name(n) and _escape_member(n) == name]
        if unsafe:
            raise UnreadableFileError(
                f"zip member name {unsafe[0]!r} points outside the archive; not read", path=path,
                hint="re-create the archive with relative member names") from None
        raise UnreadableFileError("no such member in the zip archive", path=path) from None
    if info.file_size > MAX_ZIP_MEMBER_BYTES:
        raise TooLargeError(
            f"zip member claims {info.file_size / 1024**3:.1f} GiB uncompressed, above the "
            f"{MAX_ZIP_MEMBER_BYTES / 1024**3:.1f} GiB limit", path=path,
            hint="a damaged or malicious archive; extract it with a checked tool if it is genuine")
    return z.open(info)


class _GzipStream(io.BufferedReader):
    """A gzip-compressed file read as its decompressed bytes. It has no file number, so nothing takes
    the compressed file's size for the DICOM object's (like a zip member, its size is not known)."""

    def fileno(self) -> int:
        raise io.UnsupportedOperation("a gzip-compressed stream has no file number")


def _maybe_gunzip(fp: io.BufferedReader, path: Path) -> io.BufferedIOBase:
    """``fp`` itself, or its decompressed stream when ``path`` ends in ``.gz`` and holds gzip data."""
    if not path.name.lower().endswith(".gz") or fp.peek(2)[:2] != b"\x1f\x8b":
        return fp
    return _GzipStream(gzip.GzipFile(fileobj=fp, mode="rb"))


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file or zip member for binary reading, wrapping OS errors in toolkit errors.

    A regular file whose name ends in ``.gz`` and that holds gzip data (a ``.dcm.gz``) is read
    decompressed, as a stream.

    Parameters
    ----------
    path : Path
        A regular file, or ``archive.zip/member``.

    Returns
    -------
    io.BufferedIOBase
        The open stream (to be closed by the caller, e.g. in a ``with`` block).

    Raises
    ------
    UnreadableFileError
        Missing, a folder, permission denied, not a regular file (pipe, socket, device), a damaged
        archive or an unsafe member name.
    TooLargeError
        A zip member declaring more than :data:`MAX_ZIP_MEMBER_BYTES` uncompressed.
    """
    try:
        try:
            return _maybe_gunzip(_open_regular(path), path)
        except (FileNotFoundError, NotADirectoryError):
            member = split_zip_member(path)
            if member is None:
                raise FileNotFoundError(path) from None
            return _open_member(path, *member)
    except PermissionError as exc:
        raise UnreadableFileError("permission denied", path=path,
                                  hint="check the file's read permissions") from exc
    except FileNotFoundError as exc:
        raise UnreadableFileError("no such file", path=path) from exc
    except IsADirectoryError as exc:
        raise UnreadableFileError("a folder, not a file", path=path) from exc
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as exc:
        raise UnreadableFileError(f"cannot read the file: {short_text(exc)}", path=path) from exc


# Opening never blocks: a named pipe among the files would otherwise hang the reader.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _open_regular(path: Path) -> io.BufferedReader:
    """Open a regular file for reading; pipes, sockets and devices are refused, never waited on."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise UnreadableFileError("not a regular file (a pipe, socket or device)", path=path)
        fp = open(fd, "rb")
        fp.raw.name = os.fspath(path)  # readers such as pydicom name (and reopen) the file by it
        return fp
    except BaseException:
        os.close(fd)
        raise


# Errors a read from an open file or zip member can raise (I/O, corrupt compressed data, bad CRC).
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, gzip.BadGzipFile, RuntimeError, ValueError)


def read_error(exc: BaseException, path: Path, what: str) -> UnreadableFileError:
    """The toolkit error for a failed read of an open file.

    A compressed stream (gzip, zip member) that ends early is truncated; anything else is unreadable.

    Parameters
    ----------
    exc : BaseException
        The error the read raised (one of :data:`READ_ERRORS`).
    path : Path
        The file being read.
    what : str
        What was being read, in words: ``"the file"``, ``"the pixel data"``.

    Returns
    -------
    UnreadableFileError
        A ``TruncatedFileError`` for an ``EOFError``, else an ``UnreadableFileError``; to be raised.
    """
    if isinstance(exc, EOFError):
        return TruncatedFileError(f"compressed file truncated: {short_text(exc)}", path=path,
                                  hint="copy the file again from its source")
    return UnreadableFileError(f"cannot read {what}: {short_text(exc)}", path=path)

"""Ask the operating system to start reading files into its cache before they are needed.

A series is hundreds of small files. Read one after another, each read waits for the disk; told
about all of them at once, the disk fetches them while the headers already read are being parsed.
Where the OS gives no read-ahead advice (``posix_fadvise``), this does nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["prefetch"]

_ADVISE = getattr(os, "posix_fadvise", None)
_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)
# Opening never blocks (a FIFO named like a DICOM file would otherwise hang the thread).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def prefetch(ranges: Sequence[tuple[Path, int, int]]) -> None:
    """Start reading byte ranges of files into the page cache, in the background.

    Parameters
    ----------
    ranges : sequence of (path, offset, length)
        In the order they will be read; ``length`` 0 means to the end of the file.

    Returns at once. Files that cannot be opened (zip members, missing, no permission) are left
    for the reader, which reports them.
    """
    if _ADVISE is None or _WILLNEED is None or not ranges:
        return
    threading.Thread(target=_advise, args=(list(ranges),), name="onfh-prefetch", daemon=True).start()


def _advise(ranges: list[tuple[Path, int, int]]) -> None:
    for path, offset, length in ranges:
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError:
            continue
        try:
            _ADVISE(fd, offset, length, _WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

"""Sanity of the header values that size and decode the pixels, checked before any pixel is read."""

from __future__ import annotations

import math

from onfh_imaging.errors import TooLargeError, TruncatedFileError, UnreadableFileError, UnsupportedInputError
from onfh_imaging.io._header import UNCOMPRESSED_LE, Header
from onfh_imaging.io._records import image_records

__all__ = ["DEFAULT_MAX_BYTES", "MAX_FRAMES", "TOO_LARGE_HINT", "check_image_header"]


#: Largest pixel memory (bytes) a header may claim before anything is allocated: 4 GiB holds any real hip
#: MR series (a 512 x 512 x 200 float32 volume is 0.2 GiB) and any radiograph with room to spare.
DEFAULT_MAX_BYTES = 4 * 1024**3
TOO_LARGE_HINT = ("most likely a damaged header; a genuine image this large is read from Python with a "
                  "larger max_bytes")
# Frames in one file; far above any Enhanced MR/CT object, low enough that describing them is instant.
MAX_FRAMES = 1 << 17
_BITS = (8, 16, 32)


def _bad(header: Header, what: str) -> UnreadableFileError:
    return UnreadableFileError(what, path=header.path, hint="the DICOM header is damaged")


def check_image_header(header: Header, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a header whose image attributes are missing, out of range, or claim too much memory.

    Checks Rows, Columns (1..65535), BitsAllocated (8, 16, 32), BitsStored, SamplesPerPixel (1 or 3),
    NumberOfFrames, finite RescaleSlope/Intercept, the claimed pixel bytes against ``max_bytes`` and
    against what the file holds, and that Enhanced objects' functional groups parse.

    Parameters
    ----------
    header : Header
        The file's parsed header (no pixel read).
    max_bytes : int
        Largest pixel memory the header may claim, bytes.

    Raises
    ------
    UnreadableFileError
        A value out of range or pixel data shorter than the claimed image (``TruncatedFileError``).
    UnsupportedInputError
        An allocation (bits) the toolkit does not decode.
    TooLargeError
        Claimed pixel memory above ``max_bytes``, or more than :data:`MAX_FRAMES` frames.
    """
    rows, cols, bits, samples, frames = _image_layout(header)
    _check_claimed_bytes(header, rows * cols * samples * bits // 8 * frames, frames, max_bytes)
    if header.dataset is not None and "PerFrameFunctionalGroupsSequence" in header.dataset:
        image_records(header)


def _image_layout(header: Header) -> tuple[int, int, int, int, int]:
    """Rows, Columns, BitsAllocated, SamplesPerPixel and NumberOfFrames, each checked for range."""
    rows, cols = header.int("Rows"), header.int("Columns")
    for name, value in (("Rows", rows), ("Columns", cols)):
        if value is None or not 1 <= value <= 65535:
            raise _bad(header, f"{name} is {header.text(name)!r}, not an image size (1 to 65535)")
    bits = header.int("BitsAllocated", 16)
    if bits not in _BITS:
        raise UnsupportedInputError(f"BitsAllocated {header.text('BitsAllocated')!r} is not supported "
                                    f"(8, 16 or 32)", path=header.path)
    stored = header.int("BitsStored", bits)
    if stored is None or not 1 <= stored <= bits:
        raise _bad(header, f"BitsStored {header.text('BitsStored')!r} does not fit BitsAllocated {bits}")
    samples = header.int("SamplesPerPixel", 1)
    if samples not in (1, 3):
        raise _bad(header, f"SamplesPerPixel {header.text('SamplesPerPixel')!r} is not 1 or 3")
    frames = header.int("NumberOfFrames", 1)
    if frames is None or frames < 1:
        raise _bad(header, f"NumberOfFrames {header.text('NumberOfFrames')!r} is not a positive number")
    for name in ("RescaleSlope", "RescaleIntercept"):
        value = header.float(name)
        if value is not None and not math.isfinite(value):
            raise _bad(header, f"{name} {header.text(name)!r} is not a finite number")
    return rows, cols, bits, samples, frames


def _check_claimed_bytes(header: Header, claimed: int, frames: int, max_bytes: int) -> None:
    """The claimed pixel bytes fit the memory limit and the file that should hold them."""
    if claimed > max_bytes:
        rows, cols = header.int("Rows"), header.int("Columns")
        raise TooLargeError(
            f"the header claims {claimed / 1024**3:.1f} GiB of pixels ({frames} frame(s) of {rows} x {cols}), "
            f"above the {max_bytes / 1024**3:.1f} GiB limit", path=header.path,
            hint=TOO_LARGE_HINT)
    if frames > MAX_FRAMES:
        raise TooLargeError(f"NumberOfFrames {frames} is above the limit of {MAX_FRAMES}", path=header.path)
    if header.transfer_syntax in UNCOMPRESSED_LE and header.pixel_length is None:
        raise _bad(header, "uncompressed pixel data of undefined length")
    if header.uncompressed and header.pixel_length < claimed:
        raise TruncatedFileError(
            f"pixel data holds {header.pixel_length} bytes but Rows x Columns x frames needs {claimed}",
            path=header.path, hint="the file is truncated or its header is wrong")
    if header.file_size is not None and header.pixel_offset is not None and \
            frames > header.file_size - header.pixel_offset:
        raise _bad(header, f"NumberOfFrames {frames} is more than the file's pixel data could hold")

"""What a file that is not DICOM is, from its first bytes: the words a skipped or refused file is named by."""

from __future__ import annotations

from pathlib import Path

__all__ = ["OTHER_FORMAT_HINTS", "looks_like_raw_dicom", "other_format"]

# Leading bytes of the files most often found next to DICOM series, to say what a skipped file is.
_MAGIC = ((b"\x1f\x8b", "a gzip-compressed file"), (b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG\r\n\x1a\n", "a PNG image"),
          (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"%PDF", "a PDF document"),
          (b"PK\x03\x04", "a zip archive"), (b"BM", "a BMP image"))
_NIFTI_HEADER_BYTES = 348  # sizeof_hdr of a NIfTI-1 header, stored in its first 4 bytes
OTHER_FORMAT_HINTS = {
    "a gzip-compressed file": "decompress it first (gunzip -k FILE); zip archives are read as they are",
    "a NIfTI image": "NIfTI has no modality or sequence: measure the DICOM series it was made from",
    "a JPEG image": "export the study from the PACS as DICOM",
}


def other_format(buf: bytes, path: Path) -> str:
    """What a file that is not DICOM is, from its first bytes.

    Parameters
    ----------
    buf : bytes
        The file's first bytes (4096 are enough).
    path : Path
        The file; a ``.nii`` or ``.nii.gz`` name counts as NIfTI.

    Returns
    -------
    str
        ``"a JPEG image"``, ``"a NIfTI image"``, ``"a text file"``..., or "" when the bytes do not tell.
    """
    if buf[:4] in (_NIFTI_HEADER_BYTES.to_bytes(4, "little"), _NIFTI_HEADER_BYTES.to_bytes(4, "big")) or \
            buf[344:348] in (b"n+1\x00", b"ni1\x00") or path.name.lower().endswith((".nii", ".nii.gz")):
        return "a NIfTI image"
    for magic, name in _MAGIC:
        if buf.startswith(magic):
            return name
    sample = buf[:4096]
    if all(32 <= c < 127 or c in (9, 10, 13) for c in sample):
        return "a text file"
    return ""


def looks_like_raw_dicom(head: bytes) -> bool:
    """Whether a file without preamble starts like DICOM: with a group 0x0002 or 0x0008 element.

    Parameters
    ----------
    head : bytes
        The file's first bytes (8 are enough).

    Returns
    -------
    bool
    """
    return len(head) >= 8 and head[0:2] in (b"\x02\x00", b"\x08\x00") and head[2:4] != b"\x00\x00" or (
        len(head) >= 8 and head[0:4] in (b"\x08\x00\x00\x00", b"\x02\x00\x00\x00"))

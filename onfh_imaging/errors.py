"""One small exception hierarchy.

Every error a user can cause says which file (or series) is at fault and what to do about it.
The CLI prints these as one line, without a traceback; anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IncompleteSeriesError", "InputError", "MeasurementError", "MixedAcquisitionsError", "NoPixelDataError",
           "NotAVolumeError", "NotDicomError", "NotMeasuredError", "OnfhError", "SegmentationError",
           "TooLargeError", "TruncatedFileError", "UnreadableFileError", "UnsupportedInputError"]


class OnfhError(Exception):
    """Base class of every error the toolkit raises on purpose.

    ``kind`` names the reason in a few words (``"truncated"``, ``"not DICOM"``...), the same for every
    error of a class, so that reports and tables can group refusals by why they happened.

    Parameters
    ----------
    message : str
        What is wrong, in words.
    path : str or Path, optional
        The file or series at fault; the text reads ``"<path>: <message>"``.
    hint : str, optional
        What to do about it, appended in parentheses.

    Attributes
    ----------
    kind : str
        The class's reason in a few words.
    reason : str
        The message without the path and hint.
    path : str or None
        The file or series at fault.
    hint : str or None
        What to do about it.
    """

    kind = "error"

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.hint = hint
        self.reason = message
        text = message if self.path is None else f"{self.path}: {message}"
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class InputError(OnfhError):
    """The input cannot be used as given (unreadable, not an image, incomplete, too large)."""

    kind = "unusable input"


class NotDicomError(InputError):
    """The file is not a DICOM file."""

    kind = "not DICOM"


class UnreadableFileError(InputError):
    """The file exists but cannot be read or decoded (truncated, corrupt, permissions, codec)."""

    kind = "unreadable"


class TruncatedFileError(UnreadableFileError):
    """A file that ends before its header or its pixel data does (an interrupted copy or download)."""

    kind = "truncated"


class NoPixelDataError(InputError):
    """A DICOM object that holds no image (a report, a presentation state, a header-only file)."""

    kind = "no pixels"


class IncompleteSeriesError(InputError):
    """A series with missing slices, duplicate positions or non-uniform spacing that cannot be stacked."""

    kind = "incomplete series"


class TooLargeError(InputError):
    """Claimed dimensions that would exhaust memory; refused before anything is allocated."""

    kind = "too large"


class UnsupportedInputError(InputError):
    """A valid input the toolkit does not handle (wrong modality, gantry tilt, 4-D data...)."""

    kind = "unsupported"


class NotAVolumeError(UnsupportedInputError):
    """Images that do not stack into a volume: a lone slice, a Siemens mosaic, repeated acquisitions at
    the same positions. The message says which."""

    kind = "not a volume"


class MixedAcquisitionsError(NotAVolumeError, IncompleteSeriesError):
    """Different images at the same slice position: one series holding several acquisitions."""


class NotMeasuredError(UnsupportedInputError):
    """A valid image of something the toolkit does not measure (a CT, a knee MRI, a fat-saturated T2)."""

    kind = "not measured"


class SegmentationError(OnfhError):
    """Automatic segmentation found no usable anatomy (no femoral head in the field of view...)."""

    kind = "segmentation failed"


class MeasurementError(OnfhError):
    """Masks that cannot be measured (empty, touching the image border, too few surface points...)."""

    kind = "not measurable"

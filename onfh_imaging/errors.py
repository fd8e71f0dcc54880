"""One small exception hierarchy.

Every error a user can cause says which file (or series) is at fault and what to do about it.
The CLI prints these as one line, without a traceback; anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path


class OnfhError(Exception):
    """Base class of every error the toolkit raises on purpose."""

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.hint = hint
        text = message if self.path is None else f"{self.path}: {message}"
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class InputError(OnfhError):
    """The input cannot be used as given (unreadable, not an image, incomplete, too large)."""


class NotDicomError(InputError):
    """The file is not a DICOM file."""


class UnreadableFileError(InputError):
    """The file exists but cannot be read or decoded (truncated, corrupt, permissions, codec)."""


class NoPixelDataError(InputError):
    """A DICOM object that holds no image (a report, a presentation state, a header-only file)."""


class IncompleteSeriesError(InputError):
    """A series with missing slices, duplicate positions or non-uniform spacing that cannot be stacked."""


class TooLargeError(InputError):
    """Claimed dimensions that would exhaust memory; refused before anything is allocated."""


class UnsupportedInputError(InputError):
    """A valid input the toolkit does not handle (wrong modality, gantry tilt, 4-D data...)."""


class SegmentationError(OnfhError):
    """Automatic segmentation found no usable anatomy (no femoral head in the field of view...)."""


class MeasurementError(OnfhError):
    """Masks that cannot be measured (empty, touching the image border, too few surface points...)."""

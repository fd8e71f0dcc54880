"""Human-readable summaries of a scan (a rich table) for the command line and notebooks."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from onfh_imaging.io.scan import ScanResult, SeriesInfo

__all__ = ["COLUMNS", "scan_summary", "scan_table", "series_row"]

COLUMNS = ("patient", "study date", "modality", "series", "description", "sequence", "fat-sat",
           "orientation", "size", "spacing (mm)", "slices", "view / side", "key (--series-uid)")


def _spacing(info: SeriesInfo) -> str:
    ps = info.pixel_spacing or info.imager_pixel_spacing
    if ps is None:
        return "-"
    text = f"{ps[0]:.3g} x {ps[1]:.3g}"
    if info.slice_spacing:
        text += f" x {info.slice_spacing:.3g}"
    return text


def series_row(info: SeriesInfo) -> tuple[str, ...]:
    """One table row describing a series.

    Parameters
    ----------
    info : SeriesInfo
        The series.

    Returns
    -------
    tuple of str
        One cell per :data:`COLUMNS` entry; "-" where a value is absent or does not apply (MR fields of a
        radiograph, view of an MR series).
    """
    radiograph = info.is_radiograph
    return (
        info.patient_id or "-",
        info.study_date or "-",
        info.modality or "-",
        "-" if info.series_number is None else str(info.series_number),
        info.series_description + (f" [{info.subseries}]" if info.subseries else ""),
        "-" if radiograph else info.sequence,
        "-" if radiograph else ("yes" if info.fat_saturated else "no"),
        "-" if radiograph else info.orientation,
        f"{info.columns}x{info.rows}",
        _spacing(info),
        str(info.n_slices),
        f"{info.view} / {info.laterality}" if radiograph else "-",
        info.key or info.series_instance_uid,
    )


def scan_table(result: ScanResult) -> Table:
    """A rich table with one row per series of the scan.

    Parameters
    ----------
    result : ScanResult
        What :func:`~onfh_imaging.io.scan` found.

    Returns
    -------
    rich.table.Table
        Columns :data:`COLUMNS`; cells are plain text (never rich markup).
    """
    table = Table(title=f"{len(result.series)} series")
    for name in COLUMNS:
        table.add_column(name, overflow="fold")
    for info in result.series:  # as plain text: "[echo 2]" or a description in brackets is not rich markup
        table.add_row(*(Text(cell) for cell in series_row(info)))
    return table


def scan_summary(result: ScanResult) -> str:
    """One line counting what the scan skipped.

    Parameters
    ----------
    result : ScanResult
        What :func:`~onfh_imaging.io.scan` found.

    Returns
    -------
    str
        Series count and the counts of non-DICOM, non-image and unreadable files.
    """
    return (f"{len(result.series)} series; skipped {len(result.skipped_non_dicom)} non-DICOM file(s), "
            f"{len(result.non_image)} DICOM file(s) without an image, {len(result.unreadable)} unreadable")

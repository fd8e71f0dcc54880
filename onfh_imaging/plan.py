"""What is measured under a path, and why each other file and series is not.

:func:`plan_scan` turns a headers-only scan (:func:`onfh_imaging.io.scan`) into the series to measure
(every radiograph, and each study's chosen T1-weighted MR series with its fluid-sensitive companion) and
a :class:`Refusal` for every file and series that will not be measured, with the reason and what to do.
The command line, the batch layer and the napari reader all report these same refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onfh_imaging.errors import (
    IncompleteSeriesError,
    InputError,
    NoPixelDataError,
    NotAVolumeError,
    NotDicomError,
    NotMeasuredError,
    OnfhError,
    UnreadableFileError,
)
from onfh_imaging.io.scan import is_series
from onfh_imaging.io.series import (
    LONE_SLICE_HINT,
    MOSAIC_HINT,
    REPEATED_HINT,
    lone_slice_reason,
    mosaic_reason,
    repeated_acquisitions_reason,
)
from onfh_imaging.vocab import MEASURED_MODALITIES, MR_MODALITY, RADIOGRAPH_MODALITIES, may_show_a_hip

__all__ = [
    "LINES_PER_KIND", "MIN_MR_SLICES", "SIDE_FILE_KINDS", "Refusal", "RefusalReport", "SelectSeries", "StudyPlan",
    "explain_failure", "file_refusals", "plan_scan", "plan_study", "refusal_from_error", "refusal_lines",
    "series_label", "unfit_mr_reason", "why_not_measured",
]

#: ``select(mr_series) -> (primary, fluid_sensitive_or_None)``; raises InputError when none fits.
SelectSeries = Callable[[Sequence[Any]], tuple[Any, Any]]

#: Fewest slices of an MR series that is segmented. An adult femoral head (36 mm across or more) spans at
#: least six slices of the thickest hip protocols (6 mm); a stack of three slices or fewer cannot hold
#: its surface, and the segmentation's 3-D smoothing needs four samples along every axis.
MIN_MR_SLICES = 4

#: Refusals of one kind printed one by one before the rest are counted in a single line (a folder of
#: 3000 JPEGs is one reason, not 3000 lines).
LINES_PER_KIND = 5


@dataclass(frozen=True)
class Refusal:
    """Why one file or series is not measured.

    Attributes
    ----------
    where : str
        The file's path, or the series as ``FOLDER: series N 'DESCRIPTION' (KEY)``.
    kind : str
        The reason in a few words (``"truncated"``, ``"not DICOM"``, ``"not a volume"``...), the
        ``kind`` of the :mod:`onfh_imaging.errors` class it comes from.
    reason : str
        What is wrong, naming the file inside a series when one file is at fault.
    hint : str
        What to do about it ("" when nothing can be done).
    is_series : bool
        True for a series, False for a single file.
    """

    where: str
    kind: str
    reason: str
    hint: str = ""
    is_series: bool = False

    def __str__(self) -> str:
        said = self.kind.lower() in self.reason.lower()
        text = f"{self.where}: {self.reason}" if said else f"{self.where}: {self.kind}: {self.reason}"
        return f"{text} ({self.hint})" if self.hint else text


def series_label(info: Any) -> str:
    """``FOLDER: series N 'DESCRIPTION' (KEY)``: where a series lies and how to choose it.

    Parameters
    ----------
    info : SeriesInfo
        A scanned series (``files``, ``series_number``, ``series_description``, ``key``,
        ``series_instance_uid``).

    Returns
    -------
    str
        The folder of its first file (left out when it has none), its number (``?`` when unknown),
        its description, and its sub-series key or SeriesInstanceUID.
    """
    files = list(getattr(info, "files", None) or ())
    folder = f"{Path(files[0]).parent}: " if files else ""
    number = "?" if info.series_number is None else info.series_number
    return f"{folder}series {number} {info.series_description!r} ({info.key or info.series_instance_uid})"


def refusal_from_error(where: str, exc: Exception, is_series: bool = True) -> Refusal:
    """A :class:`Refusal` for ``where`` from the error that refused it.

    The error's own path is kept in the reason when it names a file other than ``where`` (the slice of
    a series that is at fault). Errors that are not the toolkit's are reported as internal errors.

    Parameters
    ----------
    where : str
        The file's path or the series' label (:func:`series_label`).
    exc : Exception
        The error; an :class:`~onfh_imaging.errors.OnfhError` gives its ``kind``, ``reason`` and
        ``hint``.
    is_series : bool
        Whether ``where`` is a series.

    Returns
    -------
    Refusal
    """
    if not isinstance(exc, OnfhError):
        return Refusal(where, "internal error", f"{type(exc).__name__}: {exc}",
                       "please report it with this line; the other series were still measured", is_series)
    reason = exc.reason
    if exc.path and not where.endswith(exc.path):
        path = Path(exc.path)
        reason = f"{path.name if where.startswith(f'{path.parent}: ') else exc.path}: {reason}"
    return Refusal(where, exc.kind, reason, exc.hint or "", is_series=is_series)


def explain_failure(info: Any, exc: Exception) -> Refusal:
    """The refusal of a planned series whose reading or measuring failed with ``exc``.

    A series that lost a file to damage (a truncated copy) has a gap where that slice was: the broken
    file, not a missing one, is given as the reason.

    Parameters
    ----------
    info : SeriesInfo
        The planned series (with ``broken_files`` as the scan found them).
    exc : Exception
        What reading or measuring it raised.

    Returns
    -------
    Refusal
        A series refusal labelled with :func:`series_label`.
    """
    if getattr(info, "broken_files", None) and isinstance(exc, IncompleteSeriesError):
        return _broken_files_refusal(info, exc.reason)
    return refusal_from_error(series_label(info), exc)


def _broken_files_refusal(info: Any, without_them: str) -> Refusal:
    """A series that lost files to damage, naming them first: ``without_them`` says what is left."""
    broken = list(info.broken_files)
    names = ", ".join(f"{Path(p).name} ({reason})" for p, _, reason in broken)
    return Refusal(series_label(info), broken[0][1], f"{len(broken)} file(s) of the series are broken: {names}; "
                   f"without them {without_them}", "copy the files again from their source", True)


def file_refusals(scan_result: Any) -> list[Refusal]:
    """One refusal per file of a scan that is not part of an image series.

    Files whose (complete) header names a series are left to that series' refusal or warning, which
    says they are broken.

    Parameters
    ----------
    scan_result : ScanResult
        A headers-only scan (``series`` and ``reasons``: path to the error that refused the file).

    Returns
    -------
    list of Refusal
        File refusals (``is_series`` False), in the scan's order.
    """
    in_series = {Path(b[0]) for s in scan_result.series for b in getattr(s, "broken_files", ())}
    reasons = getattr(scan_result, "reasons", {}) or {}
    out = []
    for path, exc in reasons.items():
        if Path(path) not in in_series:
            out.append(Refusal(str(path), exc.kind, exc.reason, exc.hint or ""))
    return out


@dataclass
class StudyPlan:
    """The series of one study to measure, and every other series with why it is not measured.

    Attributes
    ----------
    measure : list of (SeriesInfo, SeriesInfo or None)
        Each series to measure with its fluid-sensitive companion (MR) or None.
    refused : list of (SeriesInfo, Refusal)
        Series that cannot be measured.
    not_chosen : list of (SeriesInfo, str)
        Usable MR series left aside because another series of the study is measured.
    """

    measure: list[tuple[Any, Any]] = field(default_factory=list)
    refused: list[tuple[Any, Refusal]] = field(default_factory=list)
    not_chosen: list[tuple[Any, str]] = field(default_factory=list)


def _default_select(mr_series: Sequence[Any]) -> tuple[Any, Any]:
    from onfh_imaging.io.series_choice import select_series

    return select_series(list(mr_series))


def _modality_refusal(info: Any) -> Refusal:
    modality = info.modality or "unknown"
    return Refusal(series_label(info), NotMeasuredError.kind,
                   f"modality {modality} is not measured (MR and radiographs {', '.join(sorted(RADIOGRAPH_MODALITIES))}"
                   " are)", "", True)


def _body_part_refusal(info: Any) -> Refusal:
    return Refusal(series_label(info), NotMeasuredError.kind,
                   f"body part {info.body_part} is not measured (hips are: BodyPartExamined HIP, PELVIS...)",
                   f"if it does show a hip, choose it with --series-uid {info.key or info.series_instance_uid}", True)


def unfit_mr_reason(info: Any) -> Refusal:
    """Why an MR series cannot be the measured one, from its headers: not a volume, or not T1-weighted.

    The checks run in order: a mosaic, no orientation, a lone slice, repeated acquisitions at one
    position, fewer than :data:`MIN_MR_SLICES` slices, then the contrast.

    Parameters
    ----------
    info : SeriesInfo
        A scanned MR series.

    Returns
    -------
    Refusal
        The first check that fails; for a series that passes the volume checks, that it is not a
        T1-weighted series without fat saturation (what it is instead, as far as the headers tell).
    """
    where = series_label(info)
    names = sorted(Path(f).name for f in info.files) or ["?"]
    if getattr(info, "mosaic", False):
        return Refusal(where, NotAVolumeError.kind, mosaic_reason(names), MOSAIC_HINT, True)
    if info.orientation == "unknown":
        return Refusal(where, UnreadableFileError.kind,
                       f"{names[0]}: ImageOrientationPatient is missing or degenerate (all zeros, or row and column "
                       "parallel): the slices have no orientation", "the DICOM header is damaged", True)
    if (info.n_slices or 0) < 2:
        return Refusal(where, NotAVolumeError.kind, lone_slice_reason(names[0]), LONE_SLICE_HINT, True)
    if info.slice_spacing is None and info.orientation != "unknown":
        return Refusal(where, NotAVolumeError.kind, repeated_acquisitions_reason(names), REPEATED_HINT, True)
    if info.n_slices < MIN_MR_SLICES:
        few = f"only {info.n_slices} slices: a femoral head needs at least {MIN_MR_SLICES}"
        if getattr(info, "broken_files", None):
            return _broken_files_refusal(info, f"there are {few}")
        return Refusal(where, NotAVolumeError.kind, few,
                       "copy the whole series; files of it that could not be read are listed above", True)
    sequence = str(info.sequence or "unknown")
    if sequence.upper() == "T1" and info.fat_saturated:
        what = "a fat-saturated T1-weighted series"
    elif sequence == "unknown":
        what = "a series whose contrast the headers do not tell (no T1 in its description, TR or TE)"
    else:
        what = f"a {sequence}{' fat-saturated' if info.fat_saturated else ''} series"
    return Refusal(where, NotMeasuredError.kind,
                   f"no T1-weighted series in the study, and this one is {what} (femoral heads are measured on "
                   "a T1-weighted series without fat saturation)",
                   "add the study's T1-weighted series (coronal preferred), or choose a series with --series-uid",
                   True)


def plan_study(study_series: Sequence[Any], series_uid: str | None = None,
               select: SelectSeries | None = None) -> StudyPlan:
    """Which series of one study are measured, and why each other one is not.

    Parameters
    ----------
    study_series : sequence of SeriesInfo
        Every series of one study.
    series_uid : str, optional
        A SeriesInstanceUID or sub-series key chosen by the user: only that series is planned, whatever
        its body part says (its modality must still be measured).
    select : callable, optional
        MR series choice; defaults to :func:`onfh_imaging.io.series_choice.select_series`.

    Returns
    -------
    StudyPlan
        Every radiograph that may show a hip and the chosen MR series with its fluid-sensitive
        companion to measure; series of another modality or body part, MR series that are mosaics or
        have fewer than :data:`MIN_MR_SLICES` slices (and every MR series when ``select`` finds none
        fit) refused; other usable MR series not chosen. With ``series_uid``, only that series:
        measured, or refused for its modality or too few MR slices.
    """
    select = select or _default_select
    plan = StudyPlan()
    if series_uid is not None:
        for info in study_series:
            if is_series(info, series_uid):
                if info.modality not in MEASURED_MODALITIES:
                    plan.refused.append((info, _modality_refusal(info)))
                elif info.modality == MR_MODALITY and (info.n_slices or 0) < MIN_MR_SLICES:
                    plan.refused.append((info, unfit_mr_reason(info)))
                else:
                    plan.measure.append((info, None))
        return plan
    mr = []
    for info in study_series:
        if info.modality not in MEASURED_MODALITIES:
            plan.refused.append((info, _modality_refusal(info)))
        elif not may_show_a_hip(getattr(info, "body_part", "")):
            plan.refused.append((info, _body_part_refusal(info)))
        elif info.modality in RADIOGRAPH_MODALITIES:
            plan.measure.append((info, None))
        elif getattr(info, "mosaic", False) or (info.n_slices or 0) < MIN_MR_SLICES:
            plan.refused.append((info, unfit_mr_reason(info)))
        else:
            mr.append(info)
    if not mr:
        return plan
    try:
        primary, fluid = select(mr)
    except InputError:
        plan.refused.extend((info, unfit_mr_reason(info)) for info in mr)
        return plan
    plan.measure.append((primary, fluid))
    measured = series_label(primary)
    for info in mr:
        if info is not primary and info is not fluid:
            plan.not_chosen.append((info, f"not selected: {measured} is measured for this study"))
    return plan


def why_not_measured(info: Any) -> Refusal | None:
    """Why one series would not be measured on its own, or None when it would be.

    What a viewer shows for the series it displays: its modality, body part, not a volume, or not T1.

    Parameters
    ----------
    info : SeriesInfo
        A scanned series, planned as if it were its study's only one.

    Returns
    -------
    Refusal or None
    """
    refused = plan_study([info]).refused
    return refused[0][1] if refused else None


def plan_scan(scan_results: Iterable[Any], series_uid: str | None = None,
              select: SelectSeries | None = None) -> tuple[list[tuple[Any, Any]], list[Refusal]]:
    """Series to measure and refusals (files first, then series) over one or more scans.

    Series of the same key found in several scans (the files of one series given one by one) are
    merged first, so they are planned once.

    Parameters
    ----------
    scan_results : iterable of ScanResult
        Headers-only scans (:func:`onfh_imaging.io.scan`).
    series_uid : str, optional
        Plan only this series (see :func:`plan_study`); file refusals are then left out.
    select : callable, optional
        MR series choice (see :func:`plan_study`).

    Returns
    -------
    plans : list of (SeriesInfo, SeriesInfo or None)
        Each series to measure with its fluid-sensitive companion, study by study.
    refusals : list of Refusal
        The files refused, then the series refused.
    """
    from dataclasses import replace

    merged: dict[str, Any] = {}
    studies: dict[str, list[str]] = {}
    refusals: list[Refusal] = []
    for result in scan_results:
        if series_uid is None:
            refusals.extend(file_refusals(result))
        for study in result.studies:
            for info in study.series:
                key = info.key or info.series_instance_uid
                if key in merged:
                    old = merged[key]
                    merged[key] = replace(old, files=old.files + list(info.files), n_slices=old.n_slices + info.n_slices,
                                          broken_files=old.broken_files + list(info.broken_files))
                else:
                    merged[key] = info
                    studies.setdefault(study.study_instance_uid, []).append(key)
    plans: list[tuple[Any, Any]] = []
    for keys in studies.values():
        plan = plan_study([merged[k] for k in keys], series_uid, select)
        plans.extend(plan.measure)
        refusals.extend(r for _, r in plan.refused)
    return plans, refusals


#: Kinds of file refusal that are only side files when something else is measured: a truth.json, a
#: README or a structured report next to a series is not a failure of that series.
SIDE_FILE_KINDS = frozenset({NotDicomError.kind, NoPixelDataError.kind})


class RefusalReport:
    """Refusals as they arrive, each given one line, at most ``limit_per_kind`` lines per kind.

    ``add`` returns the line to show now (None once the kind's lines are used up, and for files that
    are not DICOM images, which wait for :meth:`finish`); ``finish`` gives the remaining lines: the files
    that are not DICOM images (listed when nothing was measured, else counted in one line) and a count
    of each kind whose lines were used up.

    Parameters
    ----------
    limit_per_kind : int
        Lines shown per kind of refusal before the rest are counted.

    Attributes
    ----------
    limit_per_kind : int
        As given.
    refusals : list of Refusal
        Every refusal added, in order.
    """

    def __init__(self, limit_per_kind: int = LINES_PER_KIND):
        self.limit_per_kind = limit_per_kind
        self.refusals: list[Refusal] = []
        self._shown: dict[str, int] = {}
        self._hidden: dict[str, int] = {}

    @staticmethod
    def is_side_file(refusal: Refusal) -> bool:
        """Whether a refusal is a side file: a file (not a series) of a kind in :data:`SIDE_FILE_KINDS`.

        Parameters
        ----------
        refusal : Refusal

        Returns
        -------
        bool
        """
        return not refusal.is_series and refusal.kind in SIDE_FILE_KINDS

    def add(self, refusal: Refusal) -> str | None:
        """Keep one refusal and give the line to show for it now.

        Parameters
        ----------
        refusal : Refusal

        Returns
        -------
        str or None
            ``"refused <refusal>"``; None for a side file (it waits for :meth:`finish`) and once
            :attr:`limit_per_kind` lines of its kind were given (it is counted instead).
        """
        self.refusals.append(refusal)
        return None if self.is_side_file(refusal) else self._line(refusal)

    def _line(self, refusal: Refusal) -> str | None:
        if self._shown.get(refusal.kind, 0) >= self.limit_per_kind:
            self._hidden[refusal.kind] = self._hidden.get(refusal.kind, 0) + 1
            return None
        self._shown[refusal.kind] = self._shown.get(refusal.kind, 0) + 1
        return f"refused {refusal}"

    def finish(self, measured: bool) -> list[str]:
        """Lines still to show once measuring is over.

        Parameters
        ----------
        measured : bool
            Whether anything was measured.

        Returns
        -------
        list of str
            When something was measured, one line counting the side files (if any); else their lines
            (within the limit per kind). Then one line per kind with refusals beyond the limit, counting them.
        """
        side = [r for r in self.refusals if self.is_side_file(r)]
        lines = []
        if measured and side:
            lines.append(f"skipped {len(side)} file(s) that are not DICOM images, such as {side[0]}")
        else:
            lines.extend(line for line in map(self._line, side) if line is not None)
        lines.extend(f"... and {n} more refused as {kind} (`onfh scan --json PATH` lists every file)"
                     for kind, n in self._hidden.items())
        return lines

    def failures(self, measured: bool) -> list[Refusal]:
        """The refusals that make a run partial: all of them, but side files when something was measured.

        Parameters
        ----------
        measured : bool
            Whether anything was measured.

        Returns
        -------
        list of Refusal
        """
        return [r for r in self.refusals if not (measured and self.is_side_file(r))]

    @staticmethod
    def counts(refusals: Sequence[Refusal]) -> str:
        """``"2 files and 1 series refused"``.

        Parameters
        ----------
        refusals : sequence of Refusal

        Returns
        -------
        str
            The counts of files and of series refused, or ``"nothing refused"``.
        """
        files, series = sum(not r.is_series for r in refusals), sum(r.is_series for r in refusals)
        parts = [f"{n} {noun}{'s' if n != 1 and noun == 'file' else ''}"
                 for n, noun in ((files, "file"), (series, "series")) if n]
        return " and ".join(parts) + " refused" if parts else "nothing refused"


def refusal_lines(refusals: Sequence[Refusal], limit_per_kind: int = LINES_PER_KIND) -> list[str]:
    """One line per refusal, at most ``limit_per_kind`` of each kind, then a count of the rest.

    Parameters
    ----------
    refusals : sequence of Refusal
        In the order to show them.
    limit_per_kind : int
        Lines per kind before the rest are counted.

    Returns
    -------
    list of str
        As :class:`RefusalReport` gives them when nothing was measured (side files listed too).
    """
    report = RefusalReport(limit_per_kind)
    lines = [line for line in map(report.add, refusals) if line is not None]
    return lines + report.finish(measured=False)


"""Find the work of a batch: which series of which study of which patient to measure.

Discovery reads headers only (:func:`onfh_imaging.io.scan`) and applies the same choice as the
single-study pipeline: every radiograph of a study is measured, and of its MR series the one that
:func:`onfh_imaging.io.series_choice.select_series` picks (coronal T1 preferred), together with the
fluid-sensitive series that helps find the lesion. Every other series is listed as skipped, with
the reason, so the tables account for everything the cohort folder holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from onfh_imaging.batch.jobs import SeriesJob, content_hash
from onfh_imaging.errors import InputError
from onfh_imaging.plan import SelectSeries

__all__ = ["Discovery", "discover_cohort", "job_from_series", "plan_study"]


@dataclass
class Discovery:
    """What a cohort folder holds.

    Attributes
    ----------
    jobs : list of SeriesJob
        Series to measure, in patient, study date, series order.
    skipped : list of (SeriesJob, str)
        Series not measured, with the reason.
    unreadable : list of (str, str)
        Files that look like DICOM but could not be read, with the reason (their series is unknown).
    """

    jobs: list[SeriesJob] = field(default_factory=list)
    skipped: list[tuple[SeriesJob, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def job_from_series(info: Any, fluid: Any = None) -> SeriesJob:
    """A :class:`SeriesJob` from a scanned series and its fluid-sensitive companion.

    Parameters
    ----------
    info : SeriesInfo
        A series from :func:`onfh_imaging.io.scan` (identifiers, ``files``, and optionally
        ``sop_instance_uids``, ``sequence`` and ``key``).
    fluid : SeriesInfo, optional
        A fluid-sensitive series (STIR, fat-saturated T2) of the same study that helps find the
        lesion; its files and SOPInstanceUIDs enter the job's content hash.

    Returns
    -------
    SeriesJob
        Files sorted by path; missing identifiers become empty strings, a missing study date None;
        ``series_key`` is set only for a sub-series (a scan key other than the SeriesInstanceUID).
    """
    files = tuple(sorted(str(f) for f in info.files))
    fluid_files = tuple(sorted(str(f) for f in fluid.files)) if fluid is not None else ()
    sops = list(getattr(info, "sop_instance_uids", None) or ())
    if fluid is not None:
        sops += list(getattr(fluid, "sop_instance_uids", None) or ())
    return SeriesJob(
        patient_id=_text(info.patient_id),
        study_instance_uid=_text(info.study_instance_uid),
        study_date=info.study_date or None,
        series_instance_uid=_text(info.series_instance_uid),
        modality=_text(info.modality),
        series_description=_text(info.series_description),
        files=files,
        content_hash=content_hash(files + fluid_files, sops),
        sequence=_text(getattr(info, "sequence", "")),
        fluid_series_instance_uid=None if fluid is None else _text(fluid.series_instance_uid),
        fluid_files=fluid_files,
        series_key="" if getattr(info, "key", "") in ("", info.series_instance_uid) else _text(info.key),
    )


def plan_study(
    study_series: Sequence[Any], select: SelectSeries | None = None
) -> tuple[list[SeriesJob], list[tuple[SeriesJob, str]]]:
    """Split one study's series into jobs to measure and skipped series with reasons.

    The choice is :func:`onfh_imaging.plan.plan_study`'s, the same as ``onfh measure`` makes.

    Parameters
    ----------
    study_series : sequence of SeriesInfo
        Every series of one study.
    select : callable, optional
        MR series choice; defaults to :func:`onfh_imaging.io.series_choice.select_series`.

    Returns
    -------
    jobs : list of SeriesJob
        One job per series to measure (an MR job carries its fluid-sensitive companion).
    skipped : list of (SeriesJob, str)
        Every other series with the reason: ``"<kind>: <reason>"`` for a refused series, the
        plan's reason for a series not chosen.
    """
    from onfh_imaging.plan import plan_study as plan_series

    plan = plan_series(list(study_series), select=select)
    jobs = [job_from_series(primary, fluid) for primary, fluid in plan.measure]
    skipped = [(job_from_series(info), f"{refusal.kind}: {refusal.reason}") for info, refusal in plan.refused]
    skipped += [(job_from_series(info), reason) for info, reason in plan.not_chosen]
    return jobs, skipped


def discover_cohort(
    root: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    select: SelectSeries | None = None,
    scan: Callable[[Any], Any] | None = None,
) -> Discovery:
    """Scan a cohort folder (or several) and plan the batch.

    Parameters
    ----------
    root : path or iterable of paths
        Folders, files or zip archives holding the cohort's DICOM files.
    select : callable, optional
        MR series choice (see :func:`plan_study`).
    scan : callable, optional
        Header scanner returning a ``ScanResult`` (defaults to :func:`onfh_imaging.io.scan`).

    Returns
    -------
    Discovery
        Jobs, skipped series, and files that looked like DICOM but could not be read. Each series
        is listed once (first root wins), jobs and skipped series sorted by patient, study date,
        study and series.

    Raises
    ------
    InputError
        When a root does not exist.
    """
    if scan is None:
        from onfh_imaging.io import scan
    roots = [root] if isinstance(root, (str, os.PathLike)) else list(root)
    found = Discovery()
    seen: set[str] = set()
    for path in roots:
        if not os.path.exists(path):
            raise InputError("no such file or folder", path=path)
        result = scan(path)
        found.unreadable.extend((str(p), reason) for p, reason in getattr(result, "unreadable", ()))
        for study in result.studies:
            jobs, skipped = plan_study(list(study.series), select)
            for job in jobs:
                if job.series_id not in seen:
                    seen.add(job.series_id)
                    found.jobs.append(job)
            for job, reason in skipped:
                if job.series_id not in seen:
                    seen.add(job.series_id)
                    found.skipped.append((job, reason))
    order = lambda j: (j.patient_id, j.study_date or "", j.study_instance_uid, j.series_id)  # noqa: E731
    found.jobs.sort(key=order)
    found.skipped.sort(key=lambda item: order(item[0]))
    return found

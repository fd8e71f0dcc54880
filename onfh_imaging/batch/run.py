"""Run a batch: measure every series of a cohort, in parallel, resumably.

Work runs on local worker processes by default, on an existing Dask cluster (``scheduler=ADDRESS``)
or on a Dask cluster started for the run (``workers=N``); results are identical whatever the
executor, because every worker runs the same :func:`execute_job` and the parent process alone writes
the records. One failing series never stops the batch: its error becomes a ``failed`` record. A
series whose worker process dies (a crash, the kernel's out-of-memory killer) is retried alone;
if it kills its worker again it is recorded as failed.

Console output (progress and summary) never shows patient identifiers: counts, rates and error
types only. The tables in the output folder name the files and reasons.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from onfh_imaging import __version__
from onfh_imaging.batch._executors import InlineExecutor, make_executor
from onfh_imaging.batch._progress import ProgressBar
from onfh_imaging.batch.discover import discover_cohort
from onfh_imaging.batch.jobs import SeriesJob
from onfh_imaging.batch.store import QC_PICTURE_KEY, RECORD_SCHEMA, ResultStore, record_key
from onfh_imaging.errors import InputError, OnfhError

__all__ = [
    "WORKER_DIED", "BatchSummary", "Measure", "execute_job", "make_record", "measure_with_pipeline",
    "rebuild_tables", "run_batch", "run_jobs", "with_qc_pictures",
]

#: ``measure(job) -> dict``: the JSON measurement contract of one series.
Measure = Callable[[SeriesJob], dict]

#: Error type of a series whose worker process died measuring it (twice, when run alone the second time).
WORKER_DIED = "WorkerDied"


def measure_with_pipeline(job: SeriesJob) -> dict:
    """Measure one series with the toolkit's pipeline (the default ``measure`` of a batch).

    An MR series is read with its fluid-sensitive companion (when the study has one and it reads);
    a radiograph is measured from its single file.

    Parameters
    ----------
    job : SeriesJob
        The series: its modality, files, SeriesInstanceUID and fluid-sensitive companion.

    Returns
    -------
    dict
        The JSON measurement contract of the series (lengths in mm, volumes in mL), each hip with
        its QC picture (see :func:`with_qc_pictures`).

    Raises
    ------
    OnfhError
        When the series cannot be read or measured (:class:`~onfh_imaging.errors.InputError` and the
        other errors of :func:`onfh_imaging.pipeline.measure_files`); :func:`execute_job` records it.
    """
    from onfh_imaging.pipeline import measure_files

    result = measure_files(job.modality, job.files, job.series_instance_uid, fluid_files=job.fluid_files or (),
                           fluid_series_instance_uid=job.fluid_series_instance_uid)
    return with_qc_pictures(result.to_json(), result)


def with_qc_pictures(report: dict, result: Any) -> dict:
    """The measurement ``report`` with each hip's QC picture (PNG, base64) under :data:`QC_PICTURE_KEY`.

    The store moves the pictures into ``OUT/qc/`` (see :meth:`ResultStore.write`); a picture that
    cannot be drawn is left out with a warning, never failing the series.

    Parameters
    ----------
    report : dict
        The measurement contract of the series (``result.to_json()``); changed in place.
    result : StudyResult
        The pipeline's result the contract was made from (its images and masks draw the pictures).

    Returns
    -------
    dict
        ``report``, each hip whose side has a picture carrying it as base64 PNG text; when no
        picture could be drawn, ``report`` with a ``"no QC picture: ..."`` warning instead.
    """
    import base64

    from onfh_imaging.export.qc import study_qc_pictures

    try:
        pictures = study_qc_pictures(result)
    except Exception as exc:  # noqa: BLE001 - a picture is a convenience; the measures stand without it
        report.setdefault("warnings", []).append(f"no QC picture: {type(exc).__name__}: {exc}")
        return report
    for hip in report.get("hips", []):
        if hip.get("side") in pictures:
            hip[QC_PICTURE_KEY] = base64.b64encode(pictures[hip["side"]]).decode("ascii")
    return report


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def make_record(
    job: SeriesJob,
    status: str,
    *,
    result: dict | None = None,
    error: dict | None = None,
    seconds: float = 0.0,
    software_version: str = __version__,
) -> dict:
    """A store record (see :mod:`onfh_imaging.batch.store`) for one job.

    Parameters
    ----------
    job : SeriesJob
        The series the record is of.
    status : {"ok", "failed", "skipped"}
        What became of it.
    result : dict, optional
        The measurement contract, for ``"ok"``.
    error : dict, optional
        ``type``, ``message``, ``path`` and ``file`` of the error, for ``"failed"`` and ``"skipped"``.
    seconds : float
        Time spent measuring, s (kept to the microsecond).
    software_version : str
        Version that measured it; part of the record's key.

    Returns
    -------
    dict
        ``record_schema``, ``key`` (:func:`~onfh_imaging.batch.store.record_key`), ``status``,
        ``software_version``, ``job`` (:meth:`SeriesJob.describe`), ``result``, ``error``,
        ``finished_at`` (ISO UTC time, microseconds) and ``seconds``.
    """
    return {
        "record_schema": RECORD_SCHEMA,
        "key": record_key(job, software_version),
        "status": status,
        "software_version": software_version,
        "job": job.describe(),
        "result": result,
        "error": error,
        "finished_at": _utc_now(),
        "seconds": round(float(seconds), 6),
    }


def _error_dict(exc: BaseException, job: SeriesJob) -> dict:
    """Type, message, what the error names (a file or a series) and the series' first file."""
    first = job.files[0] if job.files else None
    if isinstance(exc, OnfhError):
        return {"type": type(exc).__name__, "message": str(exc), "path": exc.path or first, "file": first}
    return {
        "type": type(exc).__name__,
        "message": f"internal error: {type(exc).__name__}: {exc}",
        "path": first,
        "file": first,
    }


def execute_job(measure: Measure, job: SeriesJob, software_version: str = __version__) -> dict:
    """Run ``measure`` on one job inside a worker and return its record; never raises for bad input.

    Parameters
    ----------
    measure : callable
        ``measure(job) -> dict``, the measurement contract (a dict with a ``hips`` list).
    job : SeriesJob
        The series to measure.
    software_version : str
        Version recorded with the result.

    Returns
    -------
    dict
        An ``"ok"`` record with the result, or a ``"failed"`` record whose error names its type,
        message, the file it concerns and the series' first file (any exception of ``measure``, or a
        result that is not a contract, becomes one).
    """
    start = time.perf_counter()
    try:
        result = measure(job)
        if not isinstance(result, dict) or not isinstance(result.get("hips"), list):
            raise TypeError(
                f"the measure function returned {type(result).__name__}, not a measurement "
                "object with a 'hips' list"
            )
    except Exception as exc:  # noqa: BLE001 - one failing series never stops the batch
        return make_record(
            job,
            "failed",
            error=_error_dict(exc, job),
            seconds=time.perf_counter() - start,
            software_version=software_version,
        )
    return make_record(
        job, "ok", result=result, seconds=time.perf_counter() - start, software_version=software_version
    )


# --- the batch ----------------------------------------------------------------------------------
@dataclass
class BatchSummary:
    """What a batch run did.

    Attributes
    ----------
    out : Path
        Output folder.
    to_measure : int
        Series the cohort holds that are to be measured.
    measured : int
        Series measured successfully in this run.
    failed : int
        Series that failed in this run.
    already_done : int
        Series skipped because a record from an earlier run exists.
    failed_earlier : int
        Of those, series whose earlier attempt failed (``retry_failed`` measures them again).
    not_selected : int
        Series the cohort holds that are not measured by design (other sequences, other modalities).
    unreadable_files : int
        Files that look like DICOM but could not be read (listed in ``unreadable_files.csv``).
    failures_by_reason : dict of str to int
        This run's failures by error type.
    seconds : float
        Wall time of the run, s.
    executor : str
        Where the work ran.
    tables : dict of str to Path
        Tables written.
    """

    out: Path
    to_measure: int = 0
    measured: int = 0
    failed: int = 0
    already_done: int = 0
    failed_earlier: int = 0
    not_selected: int = 0
    unreadable_files: int = 0
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    executor: str = ""
    tables: dict[str, Path] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A human summary, free of patient identifiers.

        Returns
        -------
        list of str
            Counts and executor, time (s) and rate (series/min), failures by error type, where the
            reasons are written (``errors.csv``, ``unreadable_files.csv``) and the tables.
        """
        rate = (self.measured + self.failed) / self.seconds * 60 if self.seconds > 0 else 0.0
        out = [
            (f"{self.to_measure} series to measure on {self.executor}: {self.measured} measured, "
             f"{self.failed} failed, {self.already_done} already done "
             f"({self.failed_earlier} of them failed earlier); "
             f"{self.not_selected} other series not measured by design, "
             f"{self.unreadable_files} unreadable files"),
            f"{self.seconds:.1f} s, {rate:.1f} series/min",
        ]
        out += [f"  failed: {n} x {reason}" for reason, n in sorted(self.failures_by_reason.items())]
        if self.failed or self.failed_earlier:
            out.append(f"why each series failed: {self.out / 'errors.csv'} (one row per series: its files, the "
                       "error type and the reason)")
        if self.unreadable_files:
            out.append(f"why each file could not be read: {self.out / 'unreadable_files.csv'} (path and reason)")
        out += [f"tables: {', '.join(str(p) for p in self.tables.values())}"]
        return out


def rebuild_tables(out: str | os.PathLike, *, reads_db: str | os.PathLike | None = None) -> dict[str, Path]:
    """Rebuild the tables of a batch output folder from its records (atomically).

    Parameters
    ----------
    out : path
        Output folder of a batch.
    reads_db : path, optional
        Reader-confirmation database to join (default: the napari plugin's, when it exists).

    Returns
    -------
    dict of str to Path
        The tables written, by file name (see :meth:`ResultStore.rebuild_tables`).

    Raises
    ------
    InputError
        When the folder has no records, a record cannot be read, or ``reads_db`` does not exist.
    """
    store = ResultStore(out)
    if not any(store.records_dir.glob("*.json")):
        raise InputError("no batch records here", path=store.records_dir, hint="run `onfh batch` first")
    return store.rebuild_tables(_load_reads(store, reads_db))


def _load_reads(store: ResultStore, reads_db: str | os.PathLike | None):
    from onfh_imaging.batch.readers import default_reads_db, load_reads, reads_available

    db = Path(reads_db) if reads_db is not None else default_reads_db()
    if db is None or not reads_available():
        return None
    if not db.is_file():
        raise InputError("no reads database here", path=db)
    uids = {rec["job"]["series_instance_uid"] for rec in store.records()}
    return load_reads(db, uids)


def run_jobs(
    jobs: Sequence[SeriesJob],
    out: str | os.PathLike,
    *,
    skipped: Sequence[tuple[SeriesJob, str]] = (),
    unreadable: Sequence[tuple[str, str]] = (),
    scheduler: str | None = None,
    workers: int | None = None,
    processes: int | None = None,
    measure: Measure = measure_with_pipeline,
    progress: bool = True,
    retry_failed: bool = False,
    reads_db: str | os.PathLike | None = None,
) -> BatchSummary:
    """Measure the given jobs into the result store at ``out`` (see :func:`run_batch`).

    Skipped series are recorded once (status ``skipped``, error type ``NotSelected``); jobs whose
    record exists (``ok``, or ``failed`` unless ``retry_failed``) are not measured again; the tables
    are rebuilt at the end, also when the run stops on an error.

    Parameters
    ----------
    jobs : sequence of SeriesJob
        Series to measure.
    out : path
        Output folder (created when missing).
    skipped : sequence of (SeriesJob, str)
        Series not measured by design, with the reason.
    unreadable : sequence of (str, str)
        Files that could not be read, with the reason (``unreadable_files.csv``).
    scheduler, workers, processes, measure, progress, retry_failed, reads_db
        As in :func:`run_batch`.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputError
        When the output folder cannot be created or another batch holds its lock, the executor
        options contradict each other or are out of range, the Dask cluster cannot be reached, or
        ``reads_db`` does not exist.
    OnfhError
        When worker processes keep dying without finishing any series.
    """
    start = time.perf_counter()
    store = ResultStore(out)
    summary = BatchSummary(
        out=store.out, to_measure=len(jobs), not_selected=len(skipped), unreadable_files=len(unreadable)
    )
    with store.lock():
        store.clean_stale_tmp()
        store.write_unreadable(unreadable)
        for job, reason in skipped:
            if not store.has(record_key(job, __version__)):
                first = job.files[0] if job.files else None
                store.write(
                    make_record(
                        job,
                        "skipped",
                        error={"type": "NotSelected", "message": reason, "path": first, "file": first},
                    )
                )
        todo = []
        for job in jobs:
            state = store.status(record_key(job, __version__))
            if state == "ok" or (state == "failed" and not retry_failed):
                summary.already_done += 1
                summary.failed_earlier += state == "failed"
            else:
                todo.append(job)
        failures: Counter[str] = Counter()
        executor = make_executor(scheduler, workers, processes) if todo else InlineExecutor()
        summary.executor = executor.description
        bar = ProgressBar(progress, len(todo), executor.description)

        def finish(record: dict) -> None:
            store.write(record)
            bar.advance(record["status"])
            if record["status"] == "failed":
                failures[record["error"]["type"]] += 1

        try:
            _schedule(executor, todo, measure, finish)
        finally:
            executor.close()
            bar.close()
            summary.measured, summary.failed = bar.counts["ok"], bar.counts["failed"]
            summary.failures_by_reason = dict(failures)
            summary.tables = store.rebuild_tables(_load_reads(store, reads_db))
    summary.seconds = time.perf_counter() - start
    return summary


def _schedule(
    executor: InlineExecutor,
    todo: Sequence[SeriesJob],
    measure: Measure,
    finish: Callable[[dict], None],
    max_idle_restarts: int = 3,
) -> None:
    """Keep at most ``executor.window`` jobs in flight; isolate jobs whose worker process died.

    When a worker process dies every job in flight is a suspect: each is rerun alone, so the one that
    kills its worker again is recorded as failed and the others are measured. Workers that die
    ``max_idle_restarts`` times in a row without finishing any job mean a broken environment: the
    batch stops with an error instead of restarting forever.
    """
    _Scheduler(executor, todo, measure, finish, max_idle_restarts).run()


def _worker_died(job: SeriesJob, message: str) -> dict:
    return make_record(
        job, "failed", error={"type": WORKER_DIED, "message": message, "path": job.files[0], "file": job.files[0]}
    )


class _Scheduler:
    """The state of :func:`_schedule`: queued jobs, suspects of a crash, jobs in flight, the one run alone."""

    def __init__(self, executor: InlineExecutor, todo: Sequence[SeriesJob], measure: Measure,
                 finish: Callable[[dict], None], max_idle_restarts: int) -> None:
        self.executor, self.measure, self.finish = executor, measure, finish
        self.max_idle_restarts = max_idle_restarts
        self.queue: deque[SeriesJob] = deque(todo)
        self.suspects: deque[SeriesJob] = deque()
        self.inflight: dict[Any, SeriesJob] = {}
        self.alone: SeriesJob | None = None
        self.idle_restarts = 0

    def run(self) -> None:
        while self.queue or self.suspects or self.inflight:
            crashed = not self._submit_ready() or not self._collect_first()
            if crashed:
                self._recover()
            if not self.inflight:
                self.alone = None

    def _submit(self, job: SeriesJob) -> None:
        self.inflight[self.executor.submit(execute_job, self.measure, job, __version__)] = job

    def _done(self, record: dict) -> None:
        self.idle_restarts = 0
        self.finish(record)

    def _submit_ready(self) -> bool:
        """Submit a suspect alone, or fill the window from the queue; False if the pool broke."""
        try:  # submitting to a pool that broke since the last wait raises at once
            if self.suspects and not self.inflight:
                self._submit(self.suspects[0])
                self.alone = self.suspects.popleft()
            while (self.alone is None and not self.suspects and self.queue
                   and len(self.inflight) < self.executor.window):
                self._submit(self.queue[0])
                self.queue.popleft()
        except self.executor.crash_errors:
            return False
        return True

    def _collect_first(self) -> bool:
        """Record the jobs that finished first; False if a worker process died."""
        crashed = False
        for fut in self.executor.wait_first(self.inflight):
            job = self.inflight.pop(fut)
            try:
                self._done(fut.result())
            except self.executor.crash_errors:
                crashed = True
                self.suspects.append(job)
            except Exception as exc:  # noqa: BLE001 - a dead Dask worker (KilledWorker) fails only its job
                self._done(_worker_died(job, f"the worker measuring this series died ({type(exc).__name__})"))
        return not crashed

    def _recover(self) -> None:
        """After a crash: keep what finished, suspect the rest, fail a suspect that crashed alone, restart."""
        self.executor.wait_all(self.inflight)
        for fut, job in list(self.inflight.items()):
            if fut.exception() is None:
                self._done(fut.result())
            else:
                self.suspects.append(job)
        self.inflight.clear()
        if self.alone is not None and self.alone in self.suspects:
            self.suspects.remove(self.alone)
            self._done(_worker_died(self.alone, f"{self.alone.files[0]}: the worker process died measuring this "
                                    "series, twice (a crash or the out-of-memory killer)"))
        self.idle_restarts += 1
        if self.idle_restarts > self.max_idle_restarts:
            raise OnfhError(
                "worker processes keep dying without finishing any series",
                hint="check that the toolkit imports in a fresh Python process",
            )
        self.executor.restart()


def run_batch(
    root: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    processes: int | None = None,
    measure: Measure = measure_with_pipeline,
    progress: bool = True,
    retry_failed: bool = False,
    reads_db: str | os.PathLike | None = None,
) -> BatchSummary:
    """Measure every series of a cohort folder into ``out``, resuming where an earlier run stopped.

    Parameters
    ----------
    root : path or iterable of paths
        Folders, files or zip archives holding the cohort's DICOM studies.
    out : path
        Output folder: ``records/`` and the tables (see :mod:`onfh_imaging.batch.store`).
    scheduler : str, optional
        Address of an existing ``dask.distributed`` scheduler (``tcp://host:8786``).
    workers : int, optional
        Start a Dask ``LocalCluster`` of this many single-threaded worker processes.
    processes : int, optional
        Size of the local process pool when no Dask option is given (default: the usable cores;
        0 runs in this process).
    measure : callable, optional
        ``measure(job) -> dict`` (the JSON contract); defaults to the toolkit's pipeline. It must be
        picklable (a module-level function) to reach worker processes.
    progress : bool
        Show a progress bar on stderr.
    retry_failed : bool
        Measure again series whose earlier attempt failed (by default they are kept as failed).
    reads_db : path, optional
        Reader-confirmation database to join as ``reader_*`` columns (default: the napari plugin's
        database, when it exists).

    Returns
    -------
    BatchSummary
        Counts of this run (measured, failed, already done, not selected, unreadable files), its
        time in s, where it ran and the tables written.

    Raises
    ------
    InputError
        When a root does not exist, or as :func:`run_jobs` raises.
    OnfhError
        When worker processes keep dying without finishing any series.
    """
    found = discover_cohort(root)
    return run_jobs(
        found.jobs,
        out,
        skipped=found.skipped,
        unreadable=found.unreadable,
        scheduler=scheduler,
        workers=workers,
        processes=processes,
        measure=measure,
        progress=progress,
        retry_failed=retry_failed,
        reads_db=reads_db,
    )

"""An atomic, resumable store of batch results.

Layout of an output folder::

    OUT/
      records/<series uid>_<content hash>_<software version>.json   one per finished series
      measurements.csv, measurements.parquet                        one row per series and hip
      verdicts.csv, verdicts.parquet                                one row per hip and visit: the ARCO
                                                                    verdict from all series of the visit
      errors.csv                                                    failed series: file and reason
      reads.csv                                                     reader confirmations (when any)
      qc/<record key>_<side>.png                                    a QC picture per measured hip

Every finished series is one small JSON record written with tmp + fsync + ``os.replace``, so a
record is either absent or complete whatever kills the process. A record's key holds the
SeriesInstanceUID, the fingerprint of the files and the software version: a rerun skips keys
already present, and re-measures a series whose files or software changed. The tables are derived
data, rebuilt atomically from the records (:meth:`ResultStore.rebuild_tables`).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from onfh_imaging.batch.jobs import SeriesJob
from onfh_imaging.batch.rows import VERDICT_COLUMNS, flatten, quality_columns, verdict_row
from onfh_imaging.batch.visits import add_visit_columns
from onfh_imaging.errors import InputError
from onfh_imaging.io._atomic import TMP_MARK, json_default, owner_pid
from onfh_imaging.io._atomic import atomic_path as atomic_output

__all__ = [
    "CORE_COLUMNS",
    "ERROR_COLUMNS",
    "QC_PICTURE_KEY",
    "RECORD_SCHEMA",
    "STATUSES",
    "ResultStore",
    "flatten",  # the contract's flattening (onfh_imaging.batch.rows), as the tables apply it
    "record_key",
    "record_rows",
]

RECORD_SCHEMA = "onfh-imaging/batch-record/1"
#: Key of a hip's QC picture (PNG, base64) in a worker's result; the store writes it to ``qc/`` and
#: leaves its relative path under ``qc_picture`` instead.
QC_PICTURE_KEY = "qc_picture_png_base64"
STATUSES = ("ok", "failed", "skipped")

#: Columns every measurements table has, in this order; other flattened fields follow, sorted.
CORE_COLUMNS = (
    "patient_id",
    "study_instance_uid",
    "study_date",
    "visit_days",
    "visit_months",
    "visit_label",
    "series_instance_uid",
    "modality",
    "series_description",
    "sequence",
    "side",
    "status",
    "error_type",
    "error",
    "error_path",
    "error_file",
    "head_radius_mm",
    "head_volume_ml",
    "head_sphericity",
    "head_rms_deviation_mm",
    "head_collapse_depth_mm",
    "lesion_volume_ml",
    "lesion_head_involvement_pct",
    "lesion_kerboul_angle_deg",
    "staging_arco_2019",
    "staging_arco_basis",
    "staging_steinberg_extent",
    "staging_arco_1992",
    "warnings",
    "software_version",
    "schema",
    "content_hash",
    "fluid_series_instance_uid",
    "series_key",
    "record_key",
)
ERROR_COLUMNS = (
    "patient_id",
    "study_instance_uid",
    "study_date",
    "series_instance_uid",
    "modality",
    "series_description",
    "status",
    "error_type",
    "error",
    "error_path",
    "error_file",
    "record_key",
)
_SAFE = re.compile(r"[^A-Za-z0-9.+-]+")


def record_key(job: SeriesJob, software_version: str) -> str:
    """File-name-safe key of a job's result: series UID, 16 hex digits of its hash, version.

    Parameters
    ----------
    job : SeriesJob
        The series measured (its :attr:`~SeriesJob.series_id` and ``content_hash``).
    software_version : str
        Version of the software that measures it.

    Returns
    -------
    str
        ``<series id>_<first 16 hex digits of the hash>_<version>``, each part with every run of
        characters other than letters, digits, ``.``, ``+`` and ``-`` replaced by ``-``.
    """
    return "_".join(_SAFE.sub("-", part) for part in (job.series_id, job.content_hash[:16], software_version))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Table rows of one record: one per hip of a measured series, else one for the series.

    Parameters
    ----------
    record : mapping
        A batch record (:data:`RECORD_SCHEMA`): ``job`` (:meth:`SeriesJob.describe`), ``status``,
        ``key``, ``software_version``, and ``error`` or ``result`` (the measurement contract).

    Returns
    -------
    list of dict
        Rows with the job's identity, ``status``, ``record_key``, ``software_version`` and the
        ``error_*`` columns. A measured series (``status`` ``"ok"`` with hips) gives one row per
        hip, adding the flattened input and study fields (study warnings as ``study_warnings``),
        the flattened hip (``head_radius_mm`` in mm, ``lesion_volume_ml`` in mL...) and
        ``quality_score``, ``needs_review``, ``quality_reasons``; any other record gives one row.
    """
    job = record["job"]
    base = {
        "patient_id": job["patient_id"],
        "study_instance_uid": job["study_instance_uid"],
        "study_date": job["study_date"],
        "series_instance_uid": job["series_instance_uid"],
        "modality": job["modality"],
        "series_description": job["series_description"],
        "sequence": job.get("sequence", ""),
        "content_hash": job["content_hash"],
        "series_key": job.get("series_key") or job["series_instance_uid"],
        "fluid_series_instance_uid": job.get("fluid_series_instance_uid"),
        "status": record["status"],
        "record_key": record["key"],
        "software_version": record["software_version"],
    }
    error = record.get("error") or {}
    base.update(
        {
            "error_type": error.get("type"),
            "error": error.get("message"),
            "error_path": error.get("path"),
            "error_file": error.get("file"),
        }
    )
    result = record.get("result")
    if record["status"] != "ok" or result is None:
        return [base]
    study = {k: v for k, v in result.items() if k not in ("hips", "input")}
    inputs = {k: v for k, v in (result.get("input") or {}).items() if k not in base}
    base.update(flatten(inputs))
    base.update(flatten({f"study_{k}" if k == "warnings" else k: v for k, v in study.items()}))
    hips = result.get("hips") or []
    if not hips:
        return [base]
    return [{**base, **flatten(hip), **quality_columns(hip)} for hip in hips]


def _clean_for_parquet(df: pd.DataFrame) -> pd.DataFrame:
    """Make object columns Arrow-typable: NaN -> None, mixed text/number columns -> text."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue
        values = [None if (isinstance(v, float) and math.isnan(v)) else v for v in out[col]]
        kinds = {type(v) for v in values if v is not None}
        if len(kinds) > 1 and not kinds <= {int, float}:
            values = [None if v is None else str(v) for v in values]
        out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


class ResultStore:
    """Records of finished series in ``out/records`` and the tables derived from them.

    Parameters
    ----------
    out : str or Path
        Output folder (created when missing).

    Attributes
    ----------
    out : Path
        The output folder; the tables, ``qc/`` pictures and the lock file live here.
    records_dir : Path
        ``out/records``, one JSON record per finished series.

    Raises
    ------
    InputError
        When the output folder cannot be created.
    """

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.records_dir = self.out / "records"
        try:
            self.records_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output folder: {exc.strerror}", path=self.out) from exc

    # --- records --------------------------------------------------------------------------------
    def record_path(self, key: str) -> Path:
        """Path of the record with this key (``records/<key>.json``), whether or not it exists.

        Parameters
        ----------
        key : str
            A record key (:func:`record_key`).

        Returns
        -------
        Path
        """
        return self.records_dir / f"{key}.json"

    def has(self, key: str) -> bool:
        """True when a finished record with this key exists.

        Parameters
        ----------
        key : str
            A record key (:func:`record_key`).

        Returns
        -------
        bool
        """
        return self.record_path(key).is_file()

    def status(self, key: str) -> str | None:
        """Status of the record with this key, or None when there is none.

        Parameters
        ----------
        key : str
            A record key (:func:`record_key`).

        Returns
        -------
        str or None
            One of :data:`STATUSES`, or None when no record has this key.
        """
        path = self.record_path(key)
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))["status"]

    def write(self, record: Mapping[str, Any]) -> Path:
        """Write one record atomically (tmp + fsync + rename); returns its path.

        Each hip's QC picture (:data:`QC_PICTURE_KEY`, base64 PNG) is written to
        ``qc/<key>_<side>.png`` and replaced in the record by its relative path ``qc_picture``.

        Parameters
        ----------
        record : mapping
            A batch record with ``key`` and ``status`` (one of :data:`STATUSES`).

        Returns
        -------
        Path
            The record's file.

        Raises
        ------
        ValueError
            When the record's status is not one of :data:`STATUSES`.
        """
        if record.get("status") not in STATUSES:
            raise ValueError(f"record status must be one of {STATUSES}, not {record.get('status')!r}")
        path = self.record_path(record["key"])
        record = self._store_qc_pictures(record)
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(record, indent=1, default=json_default) + "\n", encoding="utf-8")
        return path

    def _store_qc_pictures(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """Move each hip's QC picture out of the record into ``qc/`` (atomically), leaving its path."""
        import base64
        import copy

        hips = ((record.get("result") or {}).get("hips")) or []
        if not any(QC_PICTURE_KEY in hip for hip in hips):
            return record
        record = copy.deepcopy(dict(record))
        for hip in record["result"]["hips"]:
            data = hip.pop(QC_PICTURE_KEY, None)
            if data is None:
                continue
            name = f"qc/{record['key']}_{hip.get('side', 'hip')}.png"
            with atomic_output(self.out / name) as tmp:
                tmp.write_bytes(base64.b64decode(data))
            hip["qc_picture"] = name
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every record, and per series only the most recently finished one.

        A series re-measured after its files or the software changed leaves its older record on disk;
        the tables show the newer.

        Returns
        -------
        list of dict
            One record per series (keyed by sub-series key or SeriesInstanceUID, sorted by it): the
            one with the latest ``finished_at`` (ties by key). Temporary files and records of another
            schema are ignored.

        Raises
        ------
        InputError
            When a record file cannot be read or is not JSON.
        """
        latest: dict[str, dict[str, Any]] = {}
        for path in sorted(self.records_dir.glob("*.json")):
            if path.name.startswith("."):  # a temporary of a writer still running (or killed)
                continue
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(
                    f"unreadable batch record: {exc}",
                    path=path,
                    hint="delete it to measure that series again",
                ) from exc
            if rec.get("record_schema") != RECORD_SCHEMA:
                continue
            uid = rec["job"].get("series_key") or rec["job"]["series_instance_uid"]
            if uid not in latest or (rec["finished_at"], rec["key"]) > (
                latest[uid]["finished_at"],
                latest[uid]["key"],
            ):
                latest[uid] = rec
        return [latest[uid] for uid in sorted(latest)]

    def clean_stale_tmp(self) -> int:
        """Remove temporary files left by processes that no longer run; returns how many.

        Returns
        -------
        int
            Temporary files removed from the output folder and ``records/``; those of a live
            process other than this one, or with no owner recorded in their name, are kept.
        """
        removed = 0
        for folder in (self.out, self.records_dir):
            for tmp in folder.glob(f".*{TMP_MARK}*"):
                pid = owner_pid(tmp)
                if pid is None or (_pid_alive(pid) and pid != os.getpid()):
                    continue
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the output folder (released by the kernel if the process dies).

        Yields
        ------
        None
            While the lock on ``out/.lock`` is held.

        Raises
        ------
        InputError
            When another process holds the lock.
        """
        fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise InputError(
                    "another batch is writing to this output folder",
                    path=self.out,
                    hint="wait for it to finish or choose another --out",
                ) from exc
            yield
        finally:
            os.close(fd)

    def write_unreadable(self, files: Sequence[tuple[str, str]]) -> Path:
        """Write ``unreadable_files.csv``: files of the cohort that could not be read, with the reason.

        Parameters
        ----------
        files : sequence of (str, str)
            File path and reason, one pair per file.

        Returns
        -------
        Path
            The CSV written (atomically), columns ``path`` and ``error``.
        """
        path = self.out / "unreadable_files.csv"
        with atomic_output(path) as tmp:
            pd.DataFrame(list(files), columns=["path", "error"]).to_csv(tmp, index=False)
        return path

    # --- tables ---------------------------------------------------------------------------------
    def measurements(self, reads: pd.DataFrame | None = None) -> pd.DataFrame:
        """The measurements table built from the records (one row per series and hip).

        Parameters
        ----------
        reads : DataFrame, optional
            Reader confirmations in long form (see :func:`onfh_imaging.batch.readers.load_reads`);
            joined as ``reader_*`` columns on series and side.

        Returns
        -------
        DataFrame
            :data:`CORE_COLUMNS` (visit columns in days and months from each patient's first study),
            then the other flattened fields sorted by name, then the ``reader_*`` columns when reads
            are given; one row per hip of a measured series and one per other series, sorted by
            patient, study date, series and side.
        """
        rows = [row for rec in self.records() for row in record_rows(rec)]
        df = pd.DataFrame(rows)
        for col in CORE_COLUMNS:
            if col not in df.columns:
                df[col] = pd.Series([None] * len(df), dtype=object)
        if len(df):
            df = add_visit_columns(df)
        extra = sorted(c for c in df.columns if c not in CORE_COLUMNS)
        df = df[list(CORE_COLUMNS) + extra]
        if reads is not None and len(reads) and len(df):
            from onfh_imaging.batch.readers import join_reads

            df = join_reads(df, reads)
        df = df.sort_values(
            ["patient_id", "study_date", "series_key", "side"], na_position="first", kind="stable"
        ).reset_index(drop=True)
        return df

    def verdicts(self) -> pd.DataFrame:
        """The verdicts table: one row per hip and visit, with the visit columns.

        Returns
        -------
        DataFrame
            :data:`~onfh_imaging.batch.rows.VERDICT_COLUMNS` (``depth_mm`` in mm, ``visit_days`` in
            days, ``visit_months`` in months); one row per hip and visit from
            :func:`onfh_imaging.verdict.verdicts_by_visit` over the measured series of each patient
            and date, sorted by patient, study date and side.
        """
        from onfh_imaging.verdict import verdicts_by_visit

        results = [rec["result"] for rec in self.records() if rec.get("status") == "ok" and rec.get("result")]
        rows = [verdict_row(v.to_dict()) for hips in verdicts_by_visit(results).values() for v in hips]
        df = pd.DataFrame(rows, columns=[c for c in VERDICT_COLUMNS if not c.startswith("visit_")])
        df = add_visit_columns(df) if len(df) else df.assign(visit_days=None, visit_months=None, visit_label=None)
        return df[list(VERDICT_COLUMNS)].sort_values(["patient_id", "study_date", "side"], kind="stable") \
            .reset_index(drop=True)

    def rebuild_tables(self, reads: pd.DataFrame | None = None) -> dict[str, Path]:
        """Rewrite ``measurements.csv``, ``measurements.parquet``, ``verdicts.csv``, ``verdicts.parquet``,
        ``errors.csv`` (and ``reads.csv``).

        Each table is written to a temporary file and renamed, so a reader of the folder sees the old
        table or the new one, never a partial one.

        Parameters
        ----------
        reads : DataFrame, optional
            Reader confirmations in long form; joined onto the measurements, and those of the
            measured series written to ``reads.csv``.

        Returns
        -------
        dict of str to Path
            The tables written, by name.
        """
        df = self.measurements(reads)
        written = {**self._write_table("measurements", df), **self._write_table("verdicts", self.verdicts())}
        errors = df.loc[df["status"] == "failed", list(ERROR_COLUMNS)].drop_duplicates("record_key")
        path = self.out / "errors.csv"
        with atomic_output(path) as tmp:
            errors.to_csv(tmp, index=False)
        written["errors.csv"] = path
        if reads is not None and len(reads):
            uids = set(df["series_instance_uid"])
            path = self.out / "reads.csv"
            with atomic_output(path) as tmp:
                reads[reads["series_instance_uid"].isin(uids)].to_csv(tmp, index=False)
            written["reads.csv"] = path
        return written


    def _write_table(self, name: str, df: pd.DataFrame) -> dict[str, Path]:
        """Write ``<name>.csv`` and ``<name>.parquet`` atomically; return them by file name."""
        written = {}
        for suffix, write in (("csv", lambda t: df.to_csv(t, index=False)),
                              ("parquet", lambda t: _clean_for_parquet(df).to_parquet(t, index=False))):
            path = self.out / f"{name}.{suffix}"
            with atomic_output(path) as tmp:
                write(tmp)
            written[path.name] = path
        return written



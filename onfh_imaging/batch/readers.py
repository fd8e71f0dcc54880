"""Reader confirmations (``onfh_imaging.reads``) as a table, and their join onto batch results.

Each confirmation covers one series; its confirmed per-hip measures become one row per hip. The
reader's final ARCO 2019 stage is recorded per confirmation and is given to every hip it covers.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from onfh_imaging.batch.rows import flatten

__all__ = ["READ_COLUMNS", "default_reads_db", "join_reads", "load_reads", "reads_available"]

#: Identity columns of the long reads table; measure columns (flattened hip contract) follow.
READ_COLUMNS = (
    "series_instance_uid",
    "study_instance_uid",
    "side",
    "reader",
    "confirmed_at",
    "read_uid",
    "edited",
    "blind",
    "arco_2019",
)


def reads_available() -> bool:
    """True when the reader-confirmation module is part of this installation.

    Returns
    -------
    bool
        Whether ``onfh_imaging.reads`` can be imported.
    """
    return importlib.util.find_spec("onfh_imaging.reads") is not None


def default_reads_db() -> Path | None:
    """The reads database the napari plugin writes to, if the module and the file exist.

    Returns
    -------
    Path or None
        :func:`onfh_imaging.reads.default_db_path` when that file exists; None otherwise.
    """
    if not reads_available():
        return None
    from onfh_imaging.reads import default_db_path

    path = default_db_path()
    return path if path.is_file() else None


def load_reads(db: str | os.PathLike, series_uids: Iterable[str]) -> pd.DataFrame:
    """Every confirmation of the given series, one row per read and hip.

    Parameters
    ----------
    db : path
        SQLite database of :class:`onfh_imaging.reads.ReadStore`.
    series_uids : iterable of str
        SeriesInstanceUIDs to look up.

    Returns
    -------
    DataFrame
        :data:`READ_COLUMNS` then the flattened confirmed hip measures (``head_collapse_depth_mm``
        in mm...), sorted by name. One row per read and hip (a read with no hips gives one row with
        ``side`` None); ``arco_2019`` is the reader's final stage of that hip.
    """
    from onfh_imaging.reads import ReadStore

    store = ReadStore(db)
    rows = []
    for uid in sorted(set(series_uids)):
        for rec in store.history(uid):
            ident = {
                "series_instance_uid": rec.series_instance_uid,
                "study_instance_uid": rec.study_instance_uid,
                "reader": rec.reader,
                "confirmed_at": rec.confirmed_at,
                "read_uid": rec.read_uid,
                "edited": bool(rec.edited),
                "blind": bool(rec.blind),
            }
            hips = list(rec.confirmed_measures) or [{"side": None}]
            # each hip carries its own final stage (a read confirms the hips one by one)
            rows.extend({**ident, "arco_2019": rec.hip_stage(hip["side"]) if hip.get("side") else rec.arco_2019,
                         **flatten(dict(hip))} for hip in hips)
    df = pd.DataFrame(rows)
    for col in READ_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype=object)
    return df[list(READ_COLUMNS) + sorted(c for c in df.columns if c not in READ_COLUMNS)]


def join_reads(measurements: pd.DataFrame, reads: pd.DataFrame) -> pd.DataFrame:
    """Add ``reader_*`` columns: the latest confirmation of each series and hip, and how many there are.

    Parameters
    ----------
    measurements : DataFrame
        Batch measurements, one row per study, hip and series, with ``series_instance_uid`` and
        ``side``.
    reads : DataFrame
        Long reads table (:func:`load_reads`), with ``series_instance_uid``, ``side``,
        ``confirmed_at``, ``read_uid``, ``reader`` and ``study_instance_uid``.

    Returns
    -------
    DataFrame
        ``measurements`` unchanged when ``reads`` is empty; otherwise the same rows (left join on
        series and side) with ``reader_count`` (int, confirmations; 0 for an unread hip),
        ``reader_names`` (distinct readers, ``"; "``-joined), ``reader_name`` (the latest reader)
        and ``reader_<field>`` for every other reads column, from the most recent confirmation
        (``reader_arco_2019`` is that reader's final stage, ``reader_head_collapse_depth_mm`` in mm
        the collapse of the confirmed masks).
    """
    if reads.empty:
        return measurements
    keys = ["series_instance_uid", "side"]
    ordered = reads.sort_values("confirmed_at", kind="stable")
    grouped = ordered.groupby(keys, dropna=False)
    latest = grouped.tail(1).drop(columns=["study_instance_uid"])
    summary = grouped.agg(
        reader_count=("read_uid", "size"), reader_names=("reader", lambda s: "; ".join(sorted(set(s))))
    ).reset_index()
    latest = latest.rename(columns={c: f"reader_{c}" for c in latest.columns if c not in keys})
    latest = latest.rename(columns={"reader_reader": "reader_name"})
    joined = measurements.merge(summary, on=keys, how="left").merge(latest, on=keys, how="left")
    joined["reader_count"] = joined["reader_count"].fillna(0).astype(int)
    return joined

"""Batch and longitudinal analysis of trial cohorts.

- :func:`run_batch` measures every study of a cohort folder into a resumable result store
  (``records/`` + ``measurements.csv`` / ``.parquet`` + ``errors.csv``), on local processes or Dask.
- :func:`rebuild_tables` rebuilds those tables from the records.
- :func:`longitudinal_report` turns the tables into per-hip trajectories, events, trial endpoints
  (per protocol and intention to treat, Wilson CIs), Kaplan-Meier survival and reader agreement.

Names are imported lazily so that worker processes unpickling a job pull in only what they need.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SeriesJob": "onfh_imaging.batch.jobs",
    "content_hash": "onfh_imaging.batch.jobs",
    "Discovery": "onfh_imaging.batch.discover",
    "discover_cohort": "onfh_imaging.batch.discover",
    "ResultStore": "onfh_imaging.batch.store",
    "BatchSummary": "onfh_imaging.batch.run",
    "run_batch": "onfh_imaging.batch.run",
    "run_jobs": "onfh_imaging.batch.run",
    "rebuild_tables": "onfh_imaging.batch.run",
    "measure_with_pipeline": "onfh_imaging.batch.run",
    "longitudinal_report": "onfh_imaging.batch.report",
}

#: The names of _EXPORTS, written out for tools that read __all__ without running the module.
__all__ = [
    "BatchSummary",
    "Discovery",
    "ResultStore",
    "SeriesJob",
    "content_hash",
    "discover_cohort",
    "longitudinal_report",
    "measure_with_pipeline",
    "rebuild_tables",
    "run_batch",
    "run_jobs",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Visit timing of a trial: days and months from each patient's baseline, nominal visit labels.

Cell-therapy trials of ONFH image patients at baseline and at 3, 6, 12, 24 months and 5 years.
A study is placed on that schedule by its StudyDate relative to the patient's earliest StudyDate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "DAYS_PER_MONTH",
    "NOMINAL_VISITS_MONTHS",
    "add_visit_columns",
    "nominal_visit_months",
    "visit_label",
]

#: Mean length of a month in days (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12.0
#: Nominal visits of the protocol, in months from baseline.
NOMINAL_VISITS_MONTHS: tuple[int, ...] = (0, 3, 6, 12, 24, 60)


def visit_label(months: float) -> str:
    """Label of the nominal visit nearest to ``months`` after baseline.

    Parameters
    ----------
    months : float
        Time since the patient's baseline study, in months.

    Returns
    -------
    str
        ``"baseline"`` or ``"M3"``, ``"M6"``, ``"M12"``, ``"M24"``, ``"M60"``; empty for NaN.
    """
    if months is None or not np.isfinite(months):
        return ""
    nominal = nominal_visit_months(months)
    return "baseline" if nominal == 0 else f"M{nominal}"


def nominal_visit_months(months: float) -> int:
    """The nominal visit nearest to ``months`` after baseline; ties go to the earlier visit.

    Parameters
    ----------
    months : float
        Time since the patient's baseline study, in months (finite).

    Returns
    -------
    int
        One of :data:`NOMINAL_VISITS_MONTHS`, in months.
    """
    grid = np.asarray(NOMINAL_VISITS_MONTHS, dtype=float)
    return int(NOMINAL_VISITS_MONTHS[int(np.argmin(np.abs(grid - months)))])


def add_visit_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``visit_days``, ``visit_months`` and ``visit_label`` from ``patient_id`` and ``study_date``.

    The baseline of a patient is the earliest ``study_date`` among all of that patient's rows
    (measured or not: a failed baseline study still dates the baseline visit).

    Parameters
    ----------
    df : DataFrame
        With columns ``patient_id`` and ``study_date`` (ISO ``YYYY-MM-DD`` strings or None).

    Returns
    -------
    DataFrame
        A copy with ``visit_days`` (float, days), ``visit_months`` (float, months of
        :data:`DAYS_PER_MONTH` days) and ``visit_label`` (str) columns.
    """
    out = df.copy()
    dates = pd.to_datetime(out["study_date"], format="%Y-%m-%d", errors="coerce")
    baseline = dates.groupby(out["patient_id"]).transform("min")
    days = (dates - baseline).dt.days.astype(float)
    out["visit_days"] = days
    out["visit_months"] = days / DAYS_PER_MONTH
    out["visit_label"] = [visit_label(m) for m in out["visit_months"]]
    return out

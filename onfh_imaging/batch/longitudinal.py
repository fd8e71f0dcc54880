"""Per-hip trajectories over a trial's visits, and the events ONFH trials count.

A hip is ``(patient_id, side)``. Its visits are the measured studies of that patient, one row per
study (the MR series when a study has MR and radiographs), timed from the patient's baseline.

Events, each with the time it was first seen (days from baseline) or the censoring time (the last
follow-up) when it was not:

- ``collapse``: collapse depth > ``collapse_mm`` (0.5 mm) or ARCO stage III or higher. Hips collapsed
  at baseline are not at risk (NaN time).
- ``collapse_progression``: for a hip intact at baseline, its collapse; for a collapsed hip, a
  deepening by more than ``collapse_mm`` or a higher stage. Its absence is "sphericity maintained".
- ``iiib``: ARCO IIIB or IV (collapse > 2 mm); hips at IIIB or IV at baseline are not at risk.
- ``stage_progression``: any ARCO stage above the baseline stage.
- ``thr``: total hip replacement, from a clinical table (``patient_id, side, thr_date``) or a
  ``prosthesis_detected`` measurement flag.
- ``regeneration``: lesion volume at or below ``(1 - threshold)`` x the baseline volume (bone
  regeneration after cell therapy); hips without a baseline lesion are not at risk.

Withdrawals (``withdrawal_date`` in the clinical table): nothing after the withdrawal date is used (no
visit, no THR), and the hip's follow-up ends there, so survival censors it at its withdrawal.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from onfh_imaging.batch.agreement import ARCO_ORDER, normalise_stage
from onfh_imaging.batch.visits import DAYS_PER_MONTH
from onfh_imaging.errors import InputError
from onfh_imaging.staging import COLLAPSE_DETECTION_MM

__all__ = [
    "CLINICAL_COLUMNS", "COLLAPSE_MM", "EARLY_LESION_PCT", "EARLY_VISIT_MONTHS", "EVENTS",
    "REGENERATION_THRESHOLD", "TRAJECTORY_MEASURES", "VISIT_COLUMNS", "add_baseline_changes",
    "cohort_warnings", "days_to_months", "drop_after_withdrawal", "early_lesion_table", "hip_events",
    "hip_visits", "load_clinical", "load_measurements", "load_verdicts", "stage_progressed",
    "visit_stages", "visit_summary", "withdrawal_days",
]

#: Collapse depth (mm) that counts as collapse: the staging's detection limit of a collapse, so that
#: one definition of a detectable collapse serves staging and events.
COLLAPSE_MM = COLLAPSE_DETECTION_MM
#: Fraction of the baseline lesion volume (0.25 = 25 %) a hip must lose to count as bone regeneration;
#: the default the report states and ``onfh longitudinal --regeneration-threshold`` changes.
REGENERATION_THRESHOLD = 0.25
#: Columns of the clinical table (``patient_id`` and ``side`` are required, and one of the event dates).
CLINICAL_COLUMNS = ("patient_id", "side", "thr_date", "withdrawal_date", "withdrawal_reason", "last_followup_date")
_CLINICAL_DATES = ("thr_date", "withdrawal_date", "last_followup_date")
#: The events of :func:`hip_events`, each with ``<event>_days`` and ``<event>_observed`` columns.
EVENTS = ("collapse", "collapse_progression", "iiib", "stage_progression", "thr", "regeneration")
#: Per-visit measures of a hip's trajectory (mL, % of the head, 1, mm, index in ARCO_ORDER).
TRAJECTORY_MEASURES = (
    "lesion_volume_ml",
    "lesion_head_involvement_pct",
    "head_sphericity",
    "head_collapse_depth_mm",
    "arco_rank",
)
_RANK = {stage: n for n, stage in enumerate(ARCO_ORDER)}


def load_measurements(results: str | os.PathLike) -> pd.DataFrame:
    """The measurements table of a batch output folder (Parquet, else CSV; rebuilt if only records exist).

    Parameters
    ----------
    results : path
        An ``onfh batch`` output folder.

    Returns
    -------
    DataFrame
        One row per study, hip and series (:meth:`onfh_imaging.batch.store.ResultStore.measurements`);
        from CSV, ``patient_id`` and ``study_date`` are read as text.

    Raises
    ------
    InputError
        When the folder has neither a measurements table nor records.
    """
    results = Path(results)
    if (results / "measurements.parquet").is_file():
        return pd.read_parquet(results / "measurements.parquet")
    if (results / "measurements.csv").is_file():
        return pd.read_csv(results / "measurements.csv", dtype={"patient_id": str, "study_date": str})
    if (results / "records").is_dir():
        from onfh_imaging.batch.run import rebuild_tables

        rebuild_tables(results)
        return pd.read_parquet(results / "measurements.parquet")
    raise InputError(
        "not a batch output folder (no measurements table, no records)",
        path=results,
        hint="run `onfh batch COHORT --out RESULTS` first",
    )


def load_verdicts(results: str | os.PathLike) -> pd.DataFrame | None:
    """The verdicts table of a batch output folder (one row per hip and visit), or None.

    Parameters
    ----------
    results : path
        An ``onfh batch`` output folder; when it has records but no ``verdicts.parquet``, its tables
        are rebuilt first.

    Returns
    -------
    DataFrame or None
        :data:`~onfh_imaging.batch.rows.VERDICT_COLUMNS`, one row per hip and visit (Parquet, else CSV
        with ``patient_id`` and ``study_date`` as text); None when the folder predates the table and
        has no records to rebuild it from.
    """
    results = Path(results)
    if not (results / "verdicts.parquet").is_file() and (results / "records").is_dir():
        from onfh_imaging.batch.run import rebuild_tables

        rebuild_tables(results)
    if (results / "verdicts.parquet").is_file():
        return pd.read_parquet(results / "verdicts.parquet")
    if (results / "verdicts.csv").is_file():
        return pd.read_csv(results / "verdicts.csv", dtype={"patient_id": str, "study_date": str})
    return None


def visit_stages(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The ARCO 2019 stage of each hip at each visit, from the verdicts table.

    A verdict reads every series of the visit (MR and radiographs), so a change only the radiographs
    show (a subchondral fracture line, joint-space narrowing) moves the stage.

    Parameters
    ----------
    verdicts : DataFrame
        The verdicts table (:func:`load_verdicts`): ``patient_id``, ``side``, ``study_date``,
        ``arco_2019`` and ``needs_review``; rows without a side are ignored.

    Returns
    -------
    DataFrame
        ``patient_id``, ``side``, ``study_date``, ``arco_2019`` (one of :data:`ARCO_ORDER`; ``I-II``
        counts as II), ``arco_rank`` and ``stage_needs_review``; one row per hip and study date.
    """
    v = verdicts[verdicts["side"].notna()].copy()
    v["patient_id"] = v["patient_id"].astype(str)
    v["arco_2019"] = v["arco_2019"].map(normalise_stage)
    v["arco_rank"] = v["arco_2019"].map(_RANK).astype(float)
    v["stage_needs_review"] = v["needs_review"].astype(bool)
    cols = ["patient_id", "side", "study_date", "arco_2019", "arco_rank", "stage_needs_review"]
    return v[cols].drop_duplicates(["patient_id", "side", "study_date"])


#: the columns of :func:`hip_visits`, in order
VISIT_COLUMNS = (
    "hip", "patient_id", "side", "study_date", "visit_days", "visit_months", "visit_label",
    "series_instance_uid", "modality", "lesion_volume_ml", "lesion_head_involvement_pct", "head_sphericity",
    "head_collapse_depth_mm", "arco_2019", "arco_rank", "stage_source", "stage_needs_review",
    "lesion_jic_type", "prosthesis_detected", "qc_picture",
)


def hip_visits(measurements: pd.DataFrame, verdicts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per hip and study, from the measured (``ok``) rows.

    When a study has several measured series of a hip, the MR series with a lesion measurement is
    kept (then the lowest SeriesInstanceUID, for a reproducible choice). With ``verdicts`` (the batch's
    verdicts table), the stage of each visit is its verdict's (:func:`visit_stages`), read from all
    series of the visit; ``stage_source`` says ``"verdict"`` or ``"series"`` (no verdict for that visit).

    Parameters
    ----------
    measurements : DataFrame
        The measurements table (:func:`load_measurements`): ``status``, ``side``, ``patient_id``,
        ``study_instance_uid``, ``series_instance_uid``, ``modality``, ``study_date``, the visit
        columns and ``staging_arco_2019``; measure columns that are missing are added as NaN.
    verdicts : DataFrame, optional
        The verdicts table (see :func:`visit_stages`).

    Returns
    -------
    DataFrame
        :data:`VISIT_COLUMNS`, one row per hip (``"<patient_id>:<side>"``) and study: the visit in
        days and months from the patient's baseline, the trajectory measures (mL, %, mm),
        ``arco_2019`` and ``arco_rank`` (index in :data:`ARCO_ORDER`), ``stage_source``,
        ``stage_needs_review``, ``lesion_jic_type``, ``prosthesis_detected`` and ``qc_picture``.
    """
    df = measurements[(measurements["status"] == "ok") & measurements["side"].notna()].copy()
    for col in (
        "lesion_volume_ml",
        "lesion_head_involvement_pct",
        "head_sphericity",
        "head_collapse_depth_mm",
        "prosthesis_detected",
        "lesion_jic_type",
        "qc_picture",
    ):
        if col not in df.columns:
            df[col] = np.nan
    df["arco_2019"] = df["staging_arco_2019"].map(normalise_stage)
    df["arco_rank"] = df["arco_2019"].map(_RANK).astype(float)
    df["_pref"] = (df["modality"] != "MR").astype(int) * 2 + df["lesion_volume_ml"].isna().astype(int)
    df = df.sort_values(
        ["patient_id", "side", "visit_days", "_pref", "series_instance_uid"], kind="stable"
    ).drop_duplicates(["patient_id", "side", "study_instance_uid"])
    df["hip"] = df["patient_id"].astype(str) + ":" + df["side"].astype(str)
    df["stage_source"], df["stage_needs_review"] = "series", False
    if verdicts is not None and len(verdicts):
        df = _stages_from_verdicts(df, verdicts)
    return df[list(VISIT_COLUMNS)].reset_index(drop=True)


def _stages_from_verdicts(df: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """Replace each visit's series stage by its verdict's, where the visit has one."""
    stages = visit_stages(verdicts).rename(columns=lambda c: f"_v_{c}" if c.startswith(("arco", "stage")) else c)
    df = df.assign(_pid=df["patient_id"].astype(str)).merge(
        stages.rename(columns={"patient_id": "_pid"}), on=["_pid", "side", "study_date"], how="left")
    judged = df["_v_arco_2019"].notna()
    df.loc[judged, "arco_2019"] = df.loc[judged, "_v_arco_2019"]
    df.loc[judged, "arco_rank"] = df.loc[judged, "_v_arco_rank"]
    df.loc[judged, "stage_needs_review"] = df.loc[judged, "_v_stage_needs_review"].astype(bool)
    df.loc[judged, "stage_source"] = "verdict"
    return df


def load_clinical(path: str | os.PathLike) -> pd.DataFrame:
    """A clinical table of the trial's hips: ``patient_id, side`` and their event dates (ISO ``YYYY-MM-DD``).

    Columns (:data:`CLINICAL_COLUMNS`): ``thr_date`` (total hip replacement), ``withdrawal_date`` and an
    optional free-text ``withdrawal_reason`` (the hip leaves the trial that day: per protocol excludes it
    from later visits, intention to treat counts it as a failure), ``last_followup_date`` (clinical
    follow-up beyond the last imaging visit). At least one of ``thr_date`` and ``withdrawal_date`` must
    be present; an empty cell means "none".

    Parameters
    ----------
    path : path
        A CSV file with a header row.

    Returns
    -------
    DataFrame
        One row per line of the file: its columns (names stripped, text cells, ``""`` when empty),
        ``side`` in lower case, the three date columns as timestamps (NaT when empty; added when
        missing) and ``withdrawal_reason`` (added empty when missing).

    Raises
    ------
    InputError
        When the file cannot be read, lacks ``patient_id``, ``side`` or both event dates, has a side
        other than left or right, or a date not written ``YYYY-MM-DD``.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str).fillna("")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the clinical table: {exc}", path=path) from exc
    df.columns = [str(c).strip() for c in df.columns]
    missing = {"patient_id", "side"} - set(df.columns)
    if missing or not {"thr_date", "withdrawal_date"} & set(df.columns):
        names = sorted(missing) or ["thr_date or withdrawal_date"]
        raise InputError(
            f"the clinical table lacks column(s) {', '.join(names)}",
            path=path,
            hint="columns: patient_id, side (left/right), thr_date and/or withdrawal_date (YYYY-MM-DD), "
            "optional withdrawal_reason, last_followup_date",
        )
    df["side"] = df["side"].str.strip().str.lower()
    bad = sorted(set(df["side"]) - {"left", "right"})
    if bad:
        raise InputError(f"side must be left or right, not {bad[0]!r}", path=path)
    for col in _CLINICAL_DATES:
        if col not in df.columns:
            df[col] = ""
        text = df[col].str.strip()
        parsed = pd.to_datetime(text.replace("", None), format="%Y-%m-%d", errors="coerce")
        if (parsed.isna() & (text != "")).any():
            raise InputError(f"{col} must be YYYY-MM-DD", path=path)
        df[col] = parsed
    if "withdrawal_reason" not in df.columns:
        df["withdrawal_reason"] = ""
    return df


def cohort_warnings(measurements: pd.DataFrame) -> list[str]:
    """What the analyst must know about the cohort's visit dates before trusting its trajectories.

    A patient with several studies that all share one StudyDate (or have none) would silently become
    "all baseline": no follow-up, no event. Each such patient gets a warning.

    Parameters
    ----------
    measurements : DataFrame
        A measurements table (``patient_id``, ``study_instance_uid``, ``study_date``).

    Returns
    -------
    list of str
        One warning per such patient, by patient ID; empty when every patient has dated follow-up.
    """
    out = []
    df = measurements.dropna(subset=["patient_id"])
    for patient, rows in df.groupby("patient_id", sort=True):
        studies = rows["study_instance_uid"].nunique()
        dates = rows["study_date"].dropna().astype(str).replace("", np.nan).dropna().unique()
        if studies > 1 and len(dates) <= 1:
            when = f"all dated {dates[0]}" if len(dates) else "none dated"
            out.append(
                f"patient {patient}: {studies} studies, {when}: every study is its baseline and the "
                "patient has no follow-up; check the StudyDate of its studies"
            )
    return out


def withdrawal_days(visits: pd.DataFrame, clinical: pd.DataFrame | None) -> pd.Series:
    """Days from the patient's baseline to each hip's withdrawal (NaN when not withdrawn), by ``hip``.

    Parameters
    ----------
    visits : DataFrame
        :func:`hip_visits` (``hip``, ``patient_id``, ``study_date``); a patient's baseline is its
        earliest ``study_date`` here.
    clinical : DataFrame or None
        :func:`load_clinical` (``patient_id``, ``side``, ``withdrawal_date``); None for no withdrawals.

    Returns
    -------
    Series of float
        Days, indexed by ``hip`` (every hip of ``visits``); the earliest date when a hip has several.
    """
    hips = visits.drop_duplicates("hip").set_index("hip")
    out = pd.Series(np.nan, index=hips.index, dtype=float)
    if clinical is None or clinical["withdrawal_date"].isna().all():
        return out
    start = pd.to_datetime(visits.groupby("patient_id")["study_date"].min(), format="%Y-%m-%d")
    for _, c in clinical.dropna(subset=["withdrawal_date"]).iterrows():
        hip = f"{c['patient_id']}:{c['side']}"
        if hip in out.index:
            days = float((c["withdrawal_date"] - start[hips.loc[hip, "patient_id"]]).days)
            out[hip] = days if np.isnan(out[hip]) else min(out[hip], days)
    return out


def drop_after_withdrawal(visits: pd.DataFrame, clinical: pd.DataFrame | None) -> pd.DataFrame:
    """The visits a trial may use: those on or before each hip's withdrawal date.

    Parameters
    ----------
    visits : DataFrame
        :func:`hip_visits` (``hip``, ``patient_id``, ``study_date``, ``visit_days``).
    clinical : DataFrame or None
        :func:`load_clinical`; None keeps every visit.

    Returns
    -------
    DataFrame
        The rows of ``visits`` kept, in order, with a new index.
    """
    withdrawn = visits["hip"].map(withdrawal_days(visits, clinical))
    return visits[~(withdrawn.notna() & (visits["visit_days"] > withdrawn))].reset_index(drop=True)


def add_baseline_changes(visits: pd.DataFrame) -> pd.DataFrame:
    """Add each visit's change from the hip's baseline visit.

    Parameters
    ----------
    visits : DataFrame
        :func:`hip_visits` (``hip``, ``visit_days``, ``lesion_head_involvement_pct``,
        ``lesion_volume_ml``, ``head_collapse_depth_mm``); a hip's baseline is its earliest visit.

    Returns
    -------
    DataFrame
        A copy in the same row order with ``lesion_pct_change`` (percentage points of the head),
        ``lesion_volume_change_pct`` (% of the baseline lesion volume; NaN when that volume is 0 or
        missing) and ``collapse_depth_change_mm`` (mm).
    """
    out = visits.sort_values(["hip", "visit_days"], kind="stable").copy()
    first = out.groupby("hip")
    base_pct = first["lesion_head_involvement_pct"].transform("first")
    base_vol = first["lesion_volume_ml"].transform("first")
    base_depth = first["head_collapse_depth_mm"].transform("first")
    out["lesion_pct_change"] = out["lesion_head_involvement_pct"] - base_pct
    out["lesion_volume_change_pct"] = 100 * (out["lesion_volume_ml"] - base_vol) / base_vol.where(base_vol > 0)
    out["collapse_depth_change_mm"] = out["head_collapse_depth_mm"] - base_depth
    return out.sort_index()


def _median_iqr(values: pd.Series) -> dict[str, float]:
    x = values.astype(float).dropna()
    if x.empty:
        return {"n": 0, "median": np.nan, "q1": np.nan, "q3": np.nan}
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return {"n": len(x), "median": float(med), "q1": float(q1), "q3": float(q3)}


def visit_summary(visits: pd.DataFrame) -> pd.DataFrame:
    """Per nominal visit: n, median and interquartile range of lesion %, its change, collapse depth; stages.

    Parameters
    ----------
    visits : DataFrame
        :func:`hip_visits` (with :func:`add_baseline_changes` columns, added when missing).

    Returns
    -------
    DataFrame
        One row per visit label in time order: ``visit``, ``hips``, and for ``lesion_pct`` (% of the
        head), ``lesion_pct_change`` (points from baseline) and ``collapse_mm``: ``<m>_n``, ``<m>_median``,
        ``<m>_q1``, ``<m>_q3``; ``stage_median`` and ``stages`` (count of hips per ARCO 2019 stage).
    """
    if "lesion_pct_change" not in visits.columns:
        visits = add_baseline_changes(visits)
    measures = {
        "lesion_pct": "lesion_head_involvement_pct",
        "lesion_pct_change": "lesion_pct_change",
        "collapse_mm": "head_collapse_depth_mm",
    }
    rows = []
    order = visits.groupby("visit_label")["visit_months"].median().sort_values()
    for label in order.index:
        v = visits[visits["visit_label"] == label]
        row: dict[str, object] = {"visit": label, "hips": int(v["hip"].nunique())}
        for name, col in measures.items():
            row.update({f"{name}_{k}": value for k, value in _median_iqr(v[col]).items()})
        ranks = v["arco_rank"].dropna()
        row["stage_median"] = ARCO_ORDER[int(np.floor(np.median(ranks)))] if len(ranks) else ""
        counts = v["arco_2019"].dropna().value_counts()
        row["stages"] = ", ".join(f"{s}: {int(counts[s])}" for s in ARCO_ORDER if s in counts.index)
        rows.append(row)
    return pd.DataFrame(rows)


#: Early lesion size that predicted the outcome after cell therapy (REBORNE companion report): a lesion
#: under 10 % of the head at the 3-month visit was followed by no progression.
EARLY_LESION_PCT = 10.0
EARLY_VISIT_MONTHS = 3


def early_lesion_table(
    visits: pd.DataFrame,
    events: pd.DataFrame,
    *,
    visit_months: float = EARLY_VISIT_MONTHS,
    limit_pct: float = EARLY_LESION_PCT,
) -> pd.DataFrame:
    """Hips by their lesion % at an early visit (below / at or above ``limit_pct``) and what followed.

    Parameters
    ----------
    visits, events : DataFrame
        :func:`hip_visits` and :func:`hip_events`.
    visit_months : float
        The early visit (nominal months, e.g. 3): each hip's visit labelled with it.
    limit_pct : float
        Lesion size, % of the head.

    Returns
    -------
    DataFrame
        Two rows (``lesion at M3``: ``< 10 %`` / ``>= 10 %``) with ``hips``, ``progressed`` (collapse
        progression, stage progression or THR seen at any time) and ``followup_months`` (median).
        Empty when no hip was measured at that visit.
    """
    label = f"M{int(visit_months)}"
    early = visits[(visits["visit_label"] == label) & visits["lesion_head_involvement_pct"].notna()]
    early = early.drop_duplicates("hip").set_index("hip")["lesion_head_involvement_pct"]
    if early.empty:
        return pd.DataFrame()
    ev = events.set_index("hip").loc[early.index]
    failed = ev["collapse_progression_observed"] | ev["stage_progression_observed"] | ev["thr_observed"]
    rows = []
    for name, group in ((f"< {limit_pct:g} %", early < limit_pct), (f">= {limit_pct:g} %", early >= limit_pct)):
        hips = group[group].index
        rows.append(
            {
                f"lesion at {label}": name,
                "hips": len(hips),
                "progressed or replaced": int(failed.loc[hips].sum()),
                "median follow-up (months)": float(np.median(ev.loc[hips, "followup_days"]) / DAYS_PER_MONTH)
                if len(hips) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def stage_progressed(rank: pd.Series, baseline_rank: float) -> pd.Series:
    """Per visit of one hip: is its ARCO 2019 stage above its baseline stage?

    The one definition of stage progression the events use (collapse progression and
    ``stage_progression``); per-visit verdicts combining MR and radiographs plug in here.

    Parameters
    ----------
    rank : Series
        The hip's stage at each visit, as an index in :data:`ARCO_ORDER` (NaN when unstaged).
    baseline_rank : float
        Its baseline stage index.

    Returns
    -------
    Series of bool
        Per visit, on the index of ``rank``; False where either stage is NaN.
    """
    return rank > baseline_rank


def _flag(value: object) -> bool:
    """A yes/no measurement flag that may be missing (NaN/None), boolean, number or text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return str(value).strip().lower() not in ("", "false", "0", "no")


def _number(value: object) -> float:
    """A measure that may be missing (None, NaN) as a float (NaN when missing)."""
    return float("nan") if value is None or pd.isna(value) else float(value)


def _first(days: np.ndarray, mask: np.ndarray) -> float:
    """The first of ``days`` (ascending) where ``mask`` holds (NaN comparisons are False), or NaN."""
    hit = np.flatnonzero(np.asarray(mask, bool))
    return float(days[hit[0]]) if len(hit) else float("nan")


def hip_events(
    visits: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    *,
    collapse_mm: float = COLLAPSE_MM,
    regeneration_threshold: float = REGENERATION_THRESHOLD,
) -> pd.DataFrame:
    """Per hip: baseline state, follow-up, and each event's time (days) and whether it was observed.

    Parameters
    ----------
    visits : DataFrame
        From :func:`hip_visits`.
    clinical : DataFrame, optional
        From :func:`load_clinical`.
    collapse_mm : float
        Collapse depth (mm) that counts as collapse, and as collapse progression over baseline.
    regeneration_threshold : float
        Fractional decrease of the lesion volume from baseline that counts as regeneration
        (0.25 = 25 %).

    Returns
    -------
    DataFrame
        One row per hip: ``hip``, ``patient_id``, ``side``, ``baseline_days``, ``n_visits``,
        ``baseline_*`` measures (mL, mm, %, stage, JIC type), ``collapsed_at_baseline``,
        ``withdrawal_days`` and ``withdrawal_reason``, ``followup_days``, and ``<event>_days`` /
        ``<event>_observed`` for each of :data:`EVENTS` (the event's day, or the follow-up when not
        observed; NaN when the hip is not at risk).
    """
    rows = []
    patient_baseline = visits.groupby("patient_id")["study_date"].min()
    withdrawn = withdrawal_days(visits, clinical)
    visits = drop_after_withdrawal(visits, clinical).sort_values(["hip", "visit_days"], kind="stable")
    clinical_by_hip = {} if clinical is None else dict(tuple(clinical.groupby(["patient_id", "side"])))
    no_rows = None if clinical is None else clinical.iloc[:0]
    for hip, v in visits.groupby("hip", sort=True):
        days = v["visit_days"].to_numpy(float)
        base = v.iloc[0].to_dict()
        followup = float(days[-1])
        depth, rank = v["head_collapse_depth_mm"].to_numpy(float), v["arco_rank"].to_numpy(float)
        collapsed = (depth > collapse_mm) | (rank >= _RANK["IIIA"])
        row = _baseline_row(hip, base, collapsed, withdrawn[hip])
        stop = withdrawn[hip] if np.isfinite(withdrawn[hip]) else np.inf
        times, at_risk = _event_times(v, collapsed, collapse_mm=collapse_mm,
                                      regeneration_threshold=regeneration_threshold)
        if clinical is not None:
            c = clinical_by_hip.get((base["patient_id"], base["side"]), no_rows)
            start = pd.Timestamp(patient_baseline[base["patient_id"]])
            followup = _add_clinical(times, row, c, start, followup, stop)
        row["followup_days"] = followup
        for event in EVENTS:
            observed = at_risk[event] and np.isfinite(times[event])
            row[f"{event}_observed"] = bool(observed)
            row[f"{event}_days"] = (
                (times[event] if observed else followup) if at_risk[event] else float("nan")
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _baseline_row(hip: str, base: dict, collapsed: np.ndarray, withdrawal_days: float) -> dict:
    return {
        "hip": hip,
        "patient_id": base["patient_id"],
        "side": base["side"],
        "baseline_days": float(base["visit_days"]),
        "n_visits": len(collapsed),
        "baseline_lesion_volume_ml": base["lesion_volume_ml"],
        "baseline_collapse_depth_mm": base["head_collapse_depth_mm"],
        "baseline_arco_2019": base["arco_2019"],
        "baseline_lesion_pct": base["lesion_head_involvement_pct"],
        "baseline_jic_type": base["lesion_jic_type"],
        "collapsed_at_baseline": bool(collapsed[0]),
        "withdrawal_days": withdrawal_days,
        "withdrawal_reason": "",
    }


def _event_times(v: pd.DataFrame, collapsed: np.ndarray, *, collapse_mm: float, regeneration_threshold: float
                 ) -> tuple[dict[str, float], dict[str, bool]]:
    """Days of each event's first observation in one hip's visits (NaN if never), and whether it was at risk."""
    days = v["visit_days"].to_numpy(float)
    base = v.iloc[0].to_dict()
    depth, rank = v["head_collapse_depth_mm"].to_numpy(float), v["arco_rank"].to_numpy(float)
    later = days > base["visit_days"]
    times: dict[str, float] = {}
    at_risk: dict[str, bool] = {}
    at_risk["collapse"] = not collapsed[0]
    times["collapse"] = _first(days, collapsed & later)
    base_depth = _number(base["head_collapse_depth_mm"])
    deeper = depth > (base_depth if np.isfinite(base_depth) else 0.0) + collapse_mm
    higher = np.asarray(stage_progressed(rank, _number(base["arco_rank"])), bool)
    at_risk["collapse_progression"] = True
    times["collapse_progression"] = (
        times["collapse"] if at_risk["collapse"] else _first(days, (deeper | higher) & later)
    )
    at_risk["iiib"] = not (base["arco_rank"] >= _RANK["IIIB"])
    times["iiib"] = _first(days, (rank >= _RANK["IIIB"]) & later)
    at_risk["stage_progression"] = bool(np.isfinite(base["arco_rank"]))
    times["stage_progression"] = _first(days, higher & later)
    at_risk["thr"] = True
    times["thr"] = _first(days, np.array([_flag(x) for x in v["prosthesis_detected"]], bool))
    base_lesion = _number(base["lesion_volume_ml"])
    at_risk["regeneration"] = bool(np.isfinite(base_lesion) and base_lesion > 0)
    times["regeneration"] = _first(
        days, (v["lesion_volume_ml"].to_numpy(float) <= (1 - regeneration_threshold) * base_lesion) & later
    )
    return times, at_risk


def _add_clinical(times: dict[str, float], row: dict, c: pd.DataFrame, start: pd.Timestamp, followup: float,
                  stop: float) -> float:
    """Add one hip's clinical THR date and withdrawal reason; return its follow-up (days)."""
    thr_days = [float((d - start).days) for d in c["thr_date"].dropna()]
    thr_days = [d for d in thr_days if d <= stop]  # after a withdrawal the trial knows nothing
    if thr_days:
        times["thr"] = min(thr_days) if np.isnan(times["thr"]) else min(times["thr"], *thr_days)
        followup = max(followup, min(thr_days))
    if c["last_followup_date"].notna().any():
        followup = max(followup, float((c["last_followup_date"].max() - start).days))
    if np.isfinite(stop):
        followup = stop  # followed up to the withdrawal, no further
        reasons = c.loc[c["withdrawal_date"].notna(), "withdrawal_reason"].astype(str)
        row["withdrawal_reason"] = "; ".join(r for r in reasons if r.strip())
    return followup


def days_to_months(days: np.ndarray | pd.Series | float) -> np.ndarray | pd.Series | float:
    """Days to months of :data:`~onfh_imaging.batch.visits.DAYS_PER_MONTH` days.

    Parameters
    ----------
    days : float, array or Series
        Durations, in days.

    Returns
    -------
    float, array or Series
        The same durations in months, of the same type and shape.
    """
    return days / DAYS_PER_MONTH

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

COLLAPSE_MM = COLLAPSE_DETECTION_MM  # one definition of a detectable collapse
REGENERATION_THRESHOLD = 0.25
EVENTS = ("collapse", "collapse_progression", "iiib", "stage_progression", "thr", "regeneration")
TRAJECTORY_MEASURES = (
    "lesion_volume_ml",
    "lesion_head_involvement_pct",
    "head_sphericity",
    "head_collapse_depth_mm",
    "arco_rank",
)
_RANK = {stage: n for n, stage in enumerate(ARCO_ORDER)}


def load_measurements(results: str | os.PathLike) -> pd.DataFrame:
    """The measurements table of a batch output folder (Parquet, else CSV; rebuilt if only records exist)."""
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


def hip_visits(measurements: pd.DataFrame) -> pd.DataFrame:
    """One row per hip and study, from the measured (``ok``) rows.

    When a study has several measured series of a hip, the MR series with a lesion measurement is
    kept (then the lowest SeriesInstanceUID, for a reproducible choice).

    Returns
    -------
    DataFrame
        ``hip``, ``patient_id``, ``side``, ``study_date``, ``visit_days``, ``visit_months``,
        ``visit_label``, ``series_instance_uid``, ``modality``, the trajectory measures, ``arco_2019``
        and ``arco_rank`` (index in :data:`ARCO_ORDER`), ``prosthesis_detected``.
    """
    df = measurements[(measurements["status"] == "ok") & measurements["side"].notna()].copy()
    for col in (
        "lesion_volume_ml",
        "lesion_head_involvement_pct",
        "head_sphericity",
        "head_collapse_depth_mm",
        "prosthesis_detected",
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
    cols = [
        "hip",
        "patient_id",
        "side",
        "study_date",
        "visit_days",
        "visit_months",
        "visit_label",
        "series_instance_uid",
        "modality",
        "lesion_volume_ml",
        "lesion_head_involvement_pct",
        "head_sphericity",
        "head_collapse_depth_mm",
        "arco_2019",
        "arco_rank",
        "prosthesis_detected",
    ]
    return df[cols].reset_index(drop=True)


def load_clinical(path: str | os.PathLike) -> pd.DataFrame:
    """A clinical table of total hip replacements: ``patient_id, side, thr_date`` (ISO dates).

    An optional ``last_followup_date`` column extends follow-up beyond the last imaging visit.
    Rows with an empty ``thr_date`` mean "no THR".
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str).fillna("")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the clinical table: {exc}", path=path) from exc
    missing = {"patient_id", "side", "thr_date"} - set(df.columns)
    if missing:
        raise InputError(
            f"the clinical table lacks column(s) {', '.join(sorted(missing))}",
            path=path,
            hint="columns: patient_id, side (left/right), thr_date (YYYY-MM-DD)",
        )
    df["side"] = df["side"].str.strip().str.lower()
    bad = sorted(set(df["side"]) - {"left", "right"})
    if bad:
        raise InputError(f"side must be left or right, not {bad[0]!r}", path=path)
    for col in ("thr_date", "last_followup_date"):
        if col in df.columns:
            parsed = pd.to_datetime(df[col].replace("", None), format="%Y-%m-%d", errors="coerce")
            if (parsed.isna() & (df[col] != "")).any():
                raise InputError(f"{col} must be YYYY-MM-DD", path=path)
            df[col] = parsed
    return df


def _flag(value: object) -> bool:
    """A yes/no measurement flag that may be missing (NaN/None), boolean, number or text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return str(value).strip().lower() not in ("", "false", "0", "no")


def _first(days: pd.Series, mask: pd.Series) -> float:
    hit = days[mask.fillna(False).astype(bool)]
    return float(hit.iloc[0]) if len(hit) else float("nan")


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
        Fractional decrease of the lesion volume from baseline that counts as regeneration.

    Returns
    -------
    DataFrame
        One row per hip: ``hip``, ``patient_id``, ``side``, ``baseline_days``, ``followup_days``,
        ``baseline_*`` measures, and ``<event>_days`` / ``<event>_observed`` for each of :data:`EVENTS`
        (days NaN when the hip is not at risk).
    """
    rows = []
    patient_baseline = visits.groupby("patient_id")["study_date"].min()
    for hip, v in visits.groupby("hip", sort=True):
        v = v.sort_values("visit_days")
        days = v["visit_days"]
        base = v.iloc[0]
        followup = float(days.iloc[-1])
        depth, rank = v["head_collapse_depth_mm"], v["arco_rank"]
        collapsed = (depth > collapse_mm) | (rank >= _RANK["IIIA"])
        row = {
            "hip": hip,
            "patient_id": base["patient_id"],
            "side": base["side"],
            "baseline_days": float(base["visit_days"]),
            "n_visits": len(v),
            "baseline_lesion_volume_ml": base["lesion_volume_ml"],
            "baseline_collapse_depth_mm": base["head_collapse_depth_mm"],
            "baseline_arco_2019": base["arco_2019"],
            "collapsed_at_baseline": bool(collapsed.iloc[0]),
        }
        later = days > base["visit_days"]
        times: dict[str, float] = {}
        at_risk: dict[str, bool] = {}
        at_risk["collapse"] = not collapsed.iloc[0]
        times["collapse"] = _first(days, collapsed & later)
        deeper = (
            depth
            > (base["head_collapse_depth_mm"] if np.isfinite(base["head_collapse_depth_mm"]) else 0.0)
            + collapse_mm
        )
        higher = rank > base["arco_rank"]
        at_risk["collapse_progression"] = True
        times["collapse_progression"] = (
            times["collapse"] if at_risk["collapse"] else _first(days, (deeper | higher) & later)
        )
        at_risk["iiib"] = not (base["arco_rank"] >= _RANK["IIIB"])
        times["iiib"] = _first(days, (rank >= _RANK["IIIB"]) & later)
        at_risk["stage_progression"] = bool(np.isfinite(base["arco_rank"]))
        times["stage_progression"] = _first(days, higher & later)
        at_risk["thr"] = True
        times["thr"] = _first(days, v["prosthesis_detected"].map(_flag))
        base_lesion = base["lesion_volume_ml"]
        at_risk["regeneration"] = bool(np.isfinite(base_lesion) and base_lesion > 0)
        times["regeneration"] = _first(
            days, (v["lesion_volume_ml"] <= (1 - regeneration_threshold) * base_lesion) & later
        )
        if clinical is not None:
            c = clinical[(clinical["patient_id"] == base["patient_id"]) & (clinical["side"] == base["side"])]
            start = pd.Timestamp(patient_baseline[base["patient_id"]])
            thr_dates = c["thr_date"].dropna()
            if len(thr_dates):
                thr_days = float((thr_dates.min() - start).days)
                times["thr"] = thr_days if np.isnan(times["thr"]) else min(times["thr"], thr_days)
                followup = max(followup, thr_days)
            if "last_followup_date" in c.columns and c["last_followup_date"].notna().any():
                followup = max(followup, float((c["last_followup_date"].max() - start).days))
        row["followup_days"] = followup
        for event in EVENTS:
            observed = at_risk[event] and np.isfinite(times[event])
            row[f"{event}_observed"] = bool(observed)
            row[f"{event}_days"] = (
                (times[event] if observed else followup) if at_risk[event] else float("nan")
            )
        rows.append(row)
    return pd.DataFrame(rows)


def days_to_months(days: np.ndarray | pd.Series | float):
    """Days to months of :data:`~onfh_imaging.batch.visits.DAYS_PER_MONTH` days."""
    return days / DAYS_PER_MONTH

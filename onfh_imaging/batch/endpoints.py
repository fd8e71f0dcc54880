"""Trial endpoints as ONFH cell-therapy trials report them.

At a chosen visit (12 months by default; the hip's visit nearest to it within a window), each hip
either maintained its sphericity (no collapse progression), kept its ARCO stage and its own hip
(no THR), or failed; ``success`` needs all three. A THR before the visit fails every endpoint.

- **Per protocol**: hips assessed at that visit, plus hips already replaced (known failures).
- **Intention to treat**: every enrolled hip (every hip with a baseline measurement); a hip not
  assessed counts as a failure.

Fractions carry Wilson score 95 % intervals. Survival to THR and to collapse is estimated with the
Kaplan-Meier method (lifelines), with its exponential Greenwood (log-log) 95 % intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from onfh_imaging.batch.visits import DAYS_PER_MONTH
from onfh_imaging.errors import InputError

ENDPOINTS = ("sphericity_maintained", "no_stage_progression", "no_thr", "success", "regeneration")


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes, n : int
        Successes and trials.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    (float, float)
        Lower and upper bounds (NaN when ``n`` is 0).
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    z = norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def default_window_months(visit_months: float) -> float:
    """Half-width of the visit window: a quarter of the visit time, at least one month (12 -> +/- 3)."""
    return max(1.0, 0.25 * visit_months)


def visit_outcomes(
    visits: pd.DataFrame,
    events: pd.DataFrame,
    *,
    visit_months: float = 12,
    window_months: float | None = None,
) -> pd.DataFrame:
    """Each hip's outcome at the chosen visit.

    Parameters
    ----------
    visits : DataFrame
        :func:`onfh_imaging.batch.longitudinal.hip_visits`.
    events : DataFrame
        :func:`onfh_imaging.batch.longitudinal.hip_events`.
    visit_months : float
        The visit, in months from baseline.
    window_months : float, optional
        Accept the visit nearest to ``visit_months`` within this many months (default
        :func:`default_window_months`).

    Returns
    -------
    DataFrame
        One row per hip: ``assessed`` (a visit in the window), ``assessed_days``, ``thr_by_visit``,
        ``per_protocol`` (assessed or replaced), and one boolean column per endpoint (NaN for
        ``regeneration`` when the hip had no baseline lesion; values apply to per-protocol hips).
    """
    window = default_window_months(visit_months) if window_months is None else float(window_months)
    target, half = visit_months * DAYS_PER_MONTH, window * DAYS_PER_MONTH
    rows = []
    for _, ev in events.iterrows():
        v = visits[visits["hip"] == ev["hip"]]
        distance = (v["visit_days"] - target).abs()
        in_window = v[(distance <= half) & (v["visit_days"] > ev["baseline_days"])]
        assessed = len(in_window) > 0
        at = (
            float(in_window.loc[(in_window["visit_days"] - target).abs().idxmin(), "visit_days"])
            if assessed
            else target
        )

        def by(event: str, ev: pd.Series = ev, at: float = at) -> bool:
            return bool(ev[f"{event}_observed"]) and ev[f"{event}_days"] <= at

        thr = by("thr") if assessed else (bool(ev["thr_observed"]) and ev["thr_days"] <= target + half)
        row = {
            "hip": ev["hip"],
            "patient_id": ev["patient_id"],
            "side": ev["side"],
            "assessed": assessed,
            "assessed_days": at if assessed else np.nan,
            "thr_by_visit": thr,
            "per_protocol": assessed or thr,
        }
        row["sphericity_maintained"] = not thr and not by("collapse_progression")
        row["no_stage_progression"] = not thr and not by("stage_progression")
        row["no_thr"] = not thr
        row["success"] = row["sphericity_maintained"] and row["no_stage_progression"] and row["no_thr"]
        at_risk = np.isfinite(ev["regeneration_days"])
        row["regeneration"] = (not thr and by("regeneration")) if at_risk else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def endpoint_table(outcomes: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Fractions of hips meeting each endpoint, per protocol and intention to treat, with Wilson CIs.

    Returns
    -------
    DataFrame
        ``endpoint``, ``population`` (``per_protocol`` / ``intention_to_treat``), ``n``, ``successes``,
        ``fraction``, ``ci_low``, ``ci_high``.
    """
    rows = []
    for endpoint in ENDPOINTS:
        eligible = outcomes if endpoint != "regeneration" else outcomes[outcomes["regeneration"].notna()]
        pp = eligible[eligible["per_protocol"]]
        populations = {
            "per_protocol": pp[endpoint].astype(bool),
            # not assessed counts as a failure
            "intention_to_treat": eligible[endpoint].where(eligible["per_protocol"], False).astype(bool),
        }
        for population, values in populations.items():
            n, k = len(values), int(values.sum())
            lo, hi = wilson_ci(k, n, confidence)
            rows.append(
                {
                    "endpoint": endpoint,
                    "population": population,
                    "n": n,
                    "successes": k,
                    "fraction": k / n if n else np.nan,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows)


def kaplan_meier(events: pd.DataFrame, event: str, *, confidence: float = 0.95):
    """Kaplan-Meier survival (free of ``event``) of the hips at risk, in months.

    Parameters
    ----------
    events : DataFrame
        :func:`onfh_imaging.batch.longitudinal.hip_events`.
    event : str
        ``"thr"``, ``"collapse"``...: uses ``<event>_days`` and ``<event>_observed``.

    Returns
    -------
    table : DataFrame
        ``months``, ``survival``, ``ci_low``, ``ci_high``, ``at_risk``, ``events``, ``censored`` at
        every distinct time (the first row is time 0).
    fitter : lifelines.KaplanMeierFitter
        The fitted estimator (for plots), or None when no hip is at risk.
    """
    try:
        from lifelines import KaplanMeierFitter
    except ImportError as exc:
        raise InputError(
            "Kaplan-Meier estimates need lifelines", hint="pip install 'onfh-imaging[survival]'"
        ) from exc
    at_risk = events[np.isfinite(events[f"{event}_days"].astype(float))]
    columns = ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "censored"]
    if at_risk.empty:
        return pd.DataFrame(columns=columns), None
    durations = at_risk[f"{event}_days"].astype(float) / DAYS_PER_MONTH
    fitter = KaplanMeierFitter(alpha=1 - confidence)
    fitter.fit(
        durations.to_numpy(), at_risk[f"{event}_observed"].astype(bool).to_numpy(), label=f"free of {event}"
    )
    sf = fitter.survival_function_.iloc[:, 0]
    ci = fitter.confidence_interval_survival_function_
    table = fitter.event_table
    out = pd.DataFrame(
        {
            "months": sf.index.to_numpy(dtype=float),
            "survival": sf.to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
            "at_risk": table["at_risk"].to_numpy(),
            "events": table["observed"].to_numpy(),
            "censored": table["censored"].to_numpy(),
        }
    )
    return out, fitter


def survival_at(table: pd.DataFrame, months: float) -> tuple[float, float, float]:
    """(survival, ci_low, ci_high) of a :func:`kaplan_meier` table at ``months`` (step function)."""
    if table.empty:
        return (float("nan"),) * 3
    row = table[table["months"] <= months].iloc[-1]
    return (float(row["survival"]), float(row["ci_low"]), float(row["ci_high"]))

"""Trial endpoints as a cell-therapy trial of ONFH reports them, on cohorts whose answers are published.

The REBORNE cohort (Gomez-Barrena et al., J Clin Med 2021;10:508) as a measurements table: 22 hips,
two drop-outs from imaging at 3 and 5 months, four progressions, three of them to THR in the first
year. Its published figures: the primary endpoint (sphericity maintained and bone regeneration) at
12 months in 16/20 per protocol and 16/22 intention to treat; at 5 years 17/21 free of THR and 16/21
free of progression or THR per protocol; Kaplan-Meier freedom from THR 0.818 at 5 years. 0.818 is
18/22: the drop-outs stayed under clinical follow-up (no censoring before the last THR), which the
clinical table states with ``last_followup_date`` (the 3-month drop-out) and a THR date (the 5-month
drop-out, replaced at 20 months: a known failure at 5 years, hence 21 hips per protocol).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from onfh_imaging.batch.endpoints import (
    PRIMARY,
    endpoint_table,
    flow_table,
    kaplan_meier,
    load_endpoint_file,
    parse_endpoint,
    survival_at,
    visit_outcomes,
    with_primary,
)
from onfh_imaging.batch.longitudinal import (
    add_baseline_changes,
    cohort_warnings,
    early_lesion_table,
    hip_events,
    hip_visits,
    load_clinical,
    visit_summary,
)
from onfh_imaging.batch.visits import add_visit_columns
from onfh_imaging.errors import InputError

START = dt.date(2012, 3, 1)
HEAD_ML = 50.0
M = {0: 0, 3: 91, 5: 152, 6: 183, 12: 365, 24: 730, 60: 1826}


def _offsets(n: int, step: float) -> list[float]:
    """n offsets symmetric about 0 (median 0)."""
    return list(step * (np.arange(n) - (n - 1) / 2))


def reborne_visits() -> dict[str, list[tuple[int, float, str, float]]]:
    """hip -> visits (month, collapse mm, ARCO stage, lesion % of the head)."""
    base = iter(18.7 + np.array(_offsets(22, 0.4)))
    m3 = iter(11.6 + np.array(_offsets(22, 0.3)))
    m12 = iter(3.7 + np.array(_offsets(17, 0.2)))
    cohort = {}
    for n in range(16):  # healed: sphericity kept, lesion regenerated
        cohort[f"S{n:02d}"] = [
            (0, 0.0, "II", next(base)),
            (3, 0.1, "II", next(m3)),
            (12, 0.1, "II", (v12 := next(m12))),
            (24, 0.1, "II", v12 * 0.8),
            (60, 0.2, "II", v12 * 0.6),
        ]
    for n, thr_month in enumerate((6, 8, 10)):  # collapse, then THR within the first year
        cohort[f"P{n}"] = [(0, 0.0, "II", next(base)), (3, 1.0, "IIIA", next(m3))]
    cohort["P3"] = [  # collapses by 6 months, kept its hip
        (0, 0.0, "II", next(base)),
        (3, 0.2, "II", next(m3)),
        (6, 1.2, "IIIA", 14.0),
        (12, 1.6, "IIIA", next(m12)),
        (60, 2.6, "IIIB", 10.0),
    ]
    cohort["D1"] = [(0, 0.0, "II", next(base)), (3, 0.1, "II", next(m3))]
    cohort["D2"] = [(0, 0.0, "II", next(base)), (3, 0.1, "II", next(m3)), (5, 0.1, "II", 10.0)]
    return cohort


def measurements(cohort: dict, start: dt.date = START) -> pd.DataFrame:
    rows = []
    for hip, visits in cohort.items():
        for n, (month, depth, stage, pct) in enumerate(visits):
            rows.append(
                {
                    "patient_id": hip,
                    "study_instance_uid": f"{hip}.{n}",
                    "study_date": (start + dt.timedelta(days=M.get(month, month))).isoformat(),
                    "series_instance_uid": f"{hip}.{n}.1",
                    "modality": "MR",
                    "side": "right",
                    "status": "ok",
                    "head_collapse_depth_mm": depth,
                    "staging_arco_2019": stage,
                    "lesion_volume_ml": pct / 100 * HEAD_ML,
                    "lesion_head_involvement_pct": pct,
                    "head_sphericity": 0.98 - 0.01 * depth,
                }
            )
    return add_visit_columns(pd.DataFrame(rows))


def _date(days: int) -> str:
    return (START + dt.timedelta(days=days)).isoformat()


def reborne_clinical(tmp_path):
    path = tmp_path / "clinical.csv"
    lines = ["patient_id,side,thr_date,last_followup_date"]
    lines += [f"P{n},right,{_date(int(m * 30.44))}," for n, m in enumerate((6, 8, 10))]
    lines += [f"D1,right,,{_date(1840)}", f"D2,right,{_date(609)},"]
    path.write_text("\n".join(lines) + "\n")
    return load_clinical(path)


@pytest.fixture()
def reborne(tmp_path):
    visits = hip_visits(measurements(reborne_visits()))
    return visits, hip_events(visits, reborne_clinical(tmp_path))


def _count(table: pd.DataFrame, endpoint: str, population: str) -> tuple[int, int]:
    row = table.set_index(["endpoint", "population"]).loc[(endpoint, population)]
    return int(row["successes"]), int(row["n"])


def test_reborne_primary_endpoint_at_12_months(reborne):
    visits, events = reborne
    outcomes = visit_outcomes(visits, events, visit_months=12)
    table = endpoint_table(outcomes, composites=with_primary())
    assert _count(table, "primary", "per_protocol") == (16, 20)
    assert _count(table, "primary", "intention_to_treat") == (16, 22)
    assert _count(table, "sphericity_maintained", "per_protocol") == (16, 20)
    lo, hi = table.set_index(["endpoint", "population"]).loc[("primary", "per_protocol"), ["ci_low", "ci_high"]]
    assert (lo, hi) == pytest.approx((0.584, 0.919), abs=1e-3)  # Wilson 95 % of 16/20


def test_reborne_at_5_years_and_kaplan_meier(reborne):
    visits, events = reborne
    outcomes = visit_outcomes(visits, events, visit_months=60)
    free = parse_endpoint("free_of_failure = no_thr & no_stage_progression")
    table = endpoint_table(outcomes, composites=with_primary([free]))
    assert _count(table, "no_thr", "per_protocol") == (17, 21)
    assert _count(table, "free_of_failure", "per_protocol") == (16, 21)
    assert _count(table, "free_of_failure", "intention_to_treat") == (16, 22)
    km, _ = kaplan_meier(events, "thr")
    assert survival_at(km, 60)[0] == pytest.approx(18 / 22)
    assert round(survival_at(km, 60)[0], 3) == 0.818


def test_reborne_flow_and_lesion_per_visit(reborne):
    visits, events = reborne
    flow = flow_table(visits, events, visit_months=(3, 12, 60)).set_index("visit_months")
    assert flow.loc[12].to_dict() == {
        "enrolled": 22, "assessed": 17, "replaced": 3, "withdrawn": 0, "missing": 2,
        "per_protocol": 20, "intention_to_treat": 22,
    }
    assert (flow.loc[60, "replaced"], flow.loc[60, "per_protocol"]) == (4, 21)
    summary = visit_summary(add_baseline_changes(visits)).set_index("visit")
    # the companion paper: 18.7 % -> 11.6 % -> 3.7 % of the head at baseline, 3 and 12 months
    assert summary.loc["baseline", "lesion_pct_median"] == pytest.approx(18.7)
    assert summary.loc["M3", "lesion_pct_median"] == pytest.approx(11.6)
    assert summary.loc["M12", "lesion_pct_median"] == pytest.approx(3.7)
    assert summary.loc["M12", "hips"] == 17
    assert summary.loc["baseline", "lesion_pct_q1"] < 18.7 < summary.loc["baseline", "lesion_pct_q3"]
    assert summary.loc["M12", "stages"] == "II: 16, IIIA: 1"
    assert summary.loc["M60", "collapse_mm_n"] == 17
    assert summary.loc["M12", "lesion_pct_change_median"] < -10
    # the companion paper's predictor: the six hips under 10 % at 3 months all did well
    early = early_lesion_table(visits, events).set_index("lesion at M3")
    assert early.loc["< 10 %", ["hips", "progressed or replaced"]].tolist() == [6, 0]
    assert early.loc[">= 10 %", ["hips", "progressed or replaced"]].tolist() == [16, 5]


# --- withdrawals ----------------------------------------------------------------------------------
WITHDRAWAL_COHORT = {
    "A": [(0, 0.0, "II", 20.0), (3, 0.0, "II", 15.0), (12, 0.0, "II", 10.0), (24, 0.0, "II", 8.0)],
    # withdrew at 4 months; its 12-month study must not count
    "W1": [(0, 0.0, "II", 20.0), (3, 0.0, "II", 18.0), (12, 0.0, "II", 10.0)],
    # withdrew at 18 months: counted at 12 months, excluded at 24
    "W2": [(0, 0.0, "II", 20.0), (12, 0.0, "II", 12.0), (24, 2.5, "IIIB", 12.0)],
    # THR at 6 months, then withdrew: a known failure at every later visit
    "W3": [(0, 0.0, "II", 20.0), (3, 1.0, "IIIA", 20.0)],
    "B": [(0, 0.0, "II", 20.0), (12, 0.0, "II", 11.0), (24, 0.0, "II", 9.0)],
}


def test_withdrawals_per_protocol_and_intention_to_treat(tmp_path):
    path = tmp_path / "clinical.csv"
    path.write_text(
        "patient_id,side,thr_date,withdrawal_date,withdrawal_reason\n"
        f"W1,right,,{_date(122)},consent withdrawn\n"
        f"W2,right,,{_date(548)},moved abroad\n"
        f"W3,right,{_date(183)},{_date(240)},\n"
        f"B,right,{_date(2000)},,\n"
    )
    clinical = load_clinical(path)
    visits = hip_visits(measurements(WITHDRAWAL_COHORT))
    events = hip_events(visits, clinical).set_index("hip")
    assert events.loc["W1:right", "withdrawal_reason"] == "consent withdrawn"
    assert events.loc["W1:right", "followup_days"] == 122  # censored at its withdrawal
    assert events.loc["W1:right", "n_visits"] == 2
    assert events.loc["B:right", "thr_observed"] and events.loc["B:right", "thr_days"] == 2000
    at12 = visit_outcomes(visits, events.reset_index(), visit_months=12).set_index("hip")
    assert at12.loc["W1:right", "withdrawn"] and not at12.loc["W1:right", "per_protocol"]
    assert at12.loc["W2:right", "per_protocol"] and not at12.loc["W2:right", "withdrawn"]
    assert at12.loc["W3:right", "per_protocol"] and at12.loc["W3:right", "thr_by_visit"]
    table = endpoint_table(at12, composites=with_primary())
    assert _count(table, "no_thr", "per_protocol") == (3, 4)  # A, W2, B; W3 replaced; W1 out
    assert _count(table, "no_thr", "intention_to_treat") == (3, 5)  # W1 counts as a failure
    at24 = visit_outcomes(visits, events.reset_index(), visit_months=24).set_index("hip")
    assert at24.loc["W2:right", "withdrawn"] and not at24.loc["W2:right", "per_protocol"]
    flow = flow_table(visits, events.reset_index(), visit_months=(12, 24)).set_index("visit_months")
    assert flow.loc[24, ["assessed", "replaced", "withdrawn", "missing"]].tolist() == [2, 1, 2, 0]
    km, _ = kaplan_meier(events.reset_index(), "thr")
    # A, W1 (at 4 months) and W2 (at 18 months) censored; W3 and B replaced
    assert (km["censored"].sum(), km["events"].sum()) == (3, 2)
    assert survival_at(km, 12)[0] == pytest.approx(3 / 4)  # W1 left the risk set before W3's THR


def test_studies_all_on_one_date_are_warned():
    df = measurements({"X": [(0, 0.0, "II", 20.0), (0, 0.0, "II", 18.0)], "Y": [(0, 0.0, "II", 20.0)]})
    warnings = cohort_warnings(df)
    assert len(warnings) == 1 and "patient X: 2 studies, all dated 2012-03-01" in warnings[0]


def test_endpoint_expressions_and_file(tmp_path):
    outcomes = pd.DataFrame(
        {
            "per_protocol": [True, True, True, False],
            "sphericity_maintained": [True, True, False, True],
            "no_stage_progression": [True, False, False, True],
            "no_thr": [True, True, False, True],
            "success": [True, False, False, True],
            "regeneration": [True, np.nan, np.nan, True],
        }
    )
    file = tmp_path / "endpoints.txt"
    file.write_text("# analyst's endpoints\nfree = no_thr & no_stage_progression\n"
                    "either: regeneration | ~sphericity_maintained  # or-ed\n")
    composites = with_primary(load_endpoint_file(file))
    assert [c.name for c in composites] == ["primary", "free", "either"]
    table = endpoint_table(outcomes, composites=composites)
    assert _count(table, "free", "per_protocol") == (1, 3)
    assert _count(table, "free", "intention_to_treat") == (1, 4)
    # Kleene logic: hip 1 (no lesion, sphericity kept) has no primary outcome; hip 2 failed sphericity
    assert _count(table, "primary", "per_protocol") == (1, 2)
    assert _count(table, "either", "per_protocol") == (2, 2)
    assert parse_endpoint("sphericity_maintained & regeneration") == PRIMARY.__class__(
        "sphericity_maintained_and_regeneration", "sphericity_maintained & regeneration"
    )
    with pytest.raises(InputError, match="unknown endpoint 'no_collapse'"):
        endpoint_table(outcomes, composites=[parse_endpoint("x = no_collapse & no_thr")])
    with pytest.raises(InputError, match="line 1"):
        file.write_text("bad name = no_thr\n")
        load_endpoint_file(file)
    with pytest.raises(InputError, match="taken"):
        with_primary([parse_endpoint("no_thr = success")])

"""Longitudinal analysis: events, endpoints, Kaplan-Meier and agreement against hand-computed answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from onfh_imaging.batch.agreement import icc_2_1, normalise_stage, reader_agreement, weighted_kappa
from onfh_imaging.batch.endpoints import endpoint_table, kaplan_meier, survival_at, visit_outcomes, wilson_ci
from onfh_imaging.batch.longitudinal import hip_events, hip_visits, load_clinical
from onfh_imaging.batch.report import longitudinal_report
from onfh_imaging.batch.visits import add_visit_columns
from onfh_imaging.errors import InputError

START = dt.date(2020, 1, 1)

# hip -> visits as (day, collapse depth mm, ARCO stage, lesion volume mL); see the expected answers below
COHORT = {
    "H0": [(0, 0.0, "II", 10.0), (91, 0.1, "II", 10.0)],  # THR day 183
    "H1": [(0, 0.0, "II", 10.0), (91, 0.0, "II", 10.0), (183, 0.1, "II", 10.0)],  # THR day 365
    "H2": [(0, 0.0, "II", 10.0), (183, 0.1, "II", 10.0), (365, 0.2, "II", 10.0)],  # THR day 730
    "H3": [(0, 0.0, "II", 10.0), (183, 0.2, "II", 10.0), (365, 1.2, "IIIA", 10.0)],  # collapse at 12 m
    "H4": [(0, 0.0, "I", 10.0), (365, 0.1, "II", 10.0)],  # stage I -> II
    "H5": [(0, 0.0, "II", 10.0), (91, 0.0, "II", 10.0), (365, 0.1, "II", 10.0), (730, 2.5, "IIIB", 10.0)],
    "H6": [(0, 0.0, "II", 10.0), (730, 0.0, "II", 10.0)],  # misses 12 m
    "H7": [(0, 0.0, "II", 10.0), (380, 0.0, "II", 7.0), (1095, 0.0, "II", 6.0)],  # regenerates
    "H8": [(0, 0.0, "II", 10.0), (365, 0.0, "II", 8.0), (1095, 0.0, "II", 8.0)],  # -20 %: not enough
    "H9": [
        (0, 1.0, "IIIA", 10.0),
        (365, 1.3, "IIIA", 10.0),
        (1095, 1.3, "IIIA", 10.0),
    ],  # collapsed at baseline
}
THR_DAYS = {"H0": 183, "H1": 365, "H2": 730}


def cohort_measurements() -> pd.DataFrame:
    rows = []
    for hip, visits in COHORT.items():
        for n, (day, depth, stage, lesion) in enumerate(visits):
            rows.append(
                {
                    "patient_id": hip,
                    "study_instance_uid": f"{hip}.{n}",
                    "study_date": (START + dt.timedelta(days=day)).isoformat(),
                    "series_instance_uid": f"1.2.{hip[1]}.{n}",
                    "modality": "MR",
                    "side": "right",
                    "status": "ok",
                    "head_collapse_depth_mm": depth,
                    "staging_arco_2019": stage,
                    "lesion_volume_ml": lesion,
                    "lesion_head_involvement_pct": lesion * 2.5,
                    "head_sphericity": 0.98 - 0.01 * depth,
                }
            )
        # a failed series and a radiograph of the baseline study must not disturb the hip's trajectory
        rows.append(
            {
                "patient_id": hip,
                "study_instance_uid": f"{hip}.0",
                "study_date": START.isoformat(),
                "series_instance_uid": f"9.{hip[1]}",
                "modality": "MR",
                "side": None,
                "status": "failed",
            }
        )
        rows.append(
            {
                "patient_id": hip,
                "study_instance_uid": f"{hip}.0",
                "study_date": START.isoformat(),
                "series_instance_uid": f"8.{hip[1]}",
                "modality": "DX",
                "side": "right",
                "status": "ok",
                "head_collapse_depth_mm": 0.0,
                "staging_arco_2019": "I-II",
            }
        )
    return add_visit_columns(pd.DataFrame(rows))


def clinical_table(tmp_path):
    path = tmp_path / "thr.csv"
    lines = ["patient_id,side,thr_date"] + [
        f"{hip},right,{(START + dt.timedelta(days=d)).isoformat()}" for hip, d in THR_DAYS.items()
    ]
    lines.append("H7,right,")  # listed, no THR
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def cohort(tmp_path):
    visits = hip_visits(cohort_measurements())
    events = hip_events(visits, load_clinical(clinical_table(tmp_path))).set_index("hip")
    return visits, events


def test_visits_keep_one_mr_row_per_hip_and_study(cohort):
    visits, _ = cohort
    assert len(visits) == sum(len(v) for v in COHORT.values())
    assert set(visits["modality"]) == {"MR"}
    assert visits.loc[visits["hip"] == "H4:right", "arco_2019"].tolist() == ["I", "II"]


def test_events_first_seen_and_censored(cohort):
    _, ev = cohort
    assert ev.loc["H3:right", "collapse_observed"] and ev.loc["H3:right", "collapse_days"] == 365
    assert ev.loc["H5:right", "iiib_observed"] and ev.loc["H5:right", "iiib_days"] == 730
    assert not ev.loc["H8:right", "collapse_observed"] and ev.loc["H8:right", "collapse_days"] == 1095
    assert np.isnan(ev.loc["H9:right", "collapse_days"])  # collapsed at baseline: not at risk
    assert not ev.loc["H9:right", "collapse_progression_observed"]  # +0.3 mm is below 0.5 mm
    assert ev.loc["H4:right", "stage_progression_days"] == 365
    assert ev.loc["H0:right", "thr_observed"] and ev.loc["H0:right", "followup_days"] == 183
    assert ev.loc["H7:right", "regeneration_days"] == 380 and ev.loc["H7:right", "regeneration_observed"]
    assert not ev.loc["H8:right", "regeneration_observed"]


def test_endpoints_per_protocol_and_intention_to_treat(cohort):
    visits, ev = cohort
    outcomes = visit_outcomes(visits, ev.reset_index(), visit_months=12)
    assert sorted(outcomes.loc[~outcomes["per_protocol"], "hip"]) == ["H6:right"]
    table = endpoint_table(outcomes).set_index(["endpoint", "population"])
    expected = {  # (successes, n) per protocol, then intention to treat
        "sphericity_maintained": ((6, 9), (6, 10)),
        "no_stage_progression": ((5, 9), (5, 10)),
        "no_thr": ((7, 9), (7, 10)),
        "success": ((5, 9), (5, 10)),
        "regeneration": ((1, 9), (1, 10)),
    }
    for endpoint, ((k_pp, n_pp), (k_itt, n_itt)) in expected.items():
        pp = table.loc[(endpoint, "per_protocol")]
        itt = table.loc[(endpoint, "intention_to_treat")]
        assert (pp["successes"], pp["n"]) == (k_pp, n_pp), endpoint
        assert (itt["successes"], itt["n"]) == (k_itt, n_itt), endpoint
        assert pp["fraction"] == pytest.approx(k_pp / n_pp)
    # a narrow window excludes H7's visit at day 380 (15 days late)
    narrow = visit_outcomes(visits, ev.reset_index(), visit_months=12, window_months=0.3)
    assert not narrow.set_index("hip").loc["H7:right", "assessed"]


def wilson_by_quadratic(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Roots in p of (k/n - p)^2 = z^2 p (1 - p) / n, the definition of the Wilson interval."""
    ph = k / n
    roots = np.roots([1 + z * z / n, -(2 * ph + z * z / n), ph * ph])
    return tuple(sorted(roots.real))


@pytest.mark.parametrize("k,n", [(5, 9), (1, 10), (0, 12), (12, 12), (37, 50)])
def test_wilson_interval(k, n):
    assert wilson_ci(k, n) == pytest.approx(wilson_by_quadratic(k, n), abs=1e-9)


def test_kaplan_meier_survival_to_thr_by_hand(cohort):
    _, ev = cohort
    table, _ = kaplan_meier(ev.reset_index(), "thr")
    month = 30.4375
    # 10 hips; THR at 6, 12, 24 months; 2 censored at 12, 2 at 24, 3 at 36 months
    assert survival_at(table, 5.9)[0] == 1.0
    assert survival_at(table, 183 / month)[0] == pytest.approx(9 / 10)
    assert survival_at(table, 365 / month)[0] == pytest.approx(9 / 10 * 8 / 9)
    assert survival_at(table, 730 / month)[0] == pytest.approx(9 / 10 * 8 / 9 * 5 / 6)
    assert survival_at(table, 40)[0] == pytest.approx(2 / 3)
    assert table["at_risk"].tolist()[:4] == [10, 10, 9, 6]
    # exponential Greenwood interval at 6 months: Var(log -log S) = sum d/(n(n-d)) / log(S)^2
    s = 0.9
    sd = np.sqrt(1 / (10 * 9)) / abs(np.log(s))
    lo, hi = survival_at(table, 183 / month)[1:]
    assert lo == pytest.approx(s ** np.exp(1.959964 * sd), rel=1e-5)
    assert hi == pytest.approx(s ** np.exp(-1.959964 * sd), rel=1e-5)


def test_kaplan_meier_survival_to_collapse_by_hand(cohort):
    _, ev = cohort
    table, _ = kaplan_meier(ev.reset_index(), "collapse")
    assert table["at_risk"].iloc[0] == 9  # the hip collapsed at baseline is not at risk
    assert survival_at(table, 12.5)[0] == pytest.approx(7 / 8)
    assert survival_at(table, 24.5)[0] == pytest.approx(7 / 8 * 4 / 5)


def test_report_folder(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    cohort_measurements().to_parquet(results / "measurements.parquet")
    summary = longitudinal_report(results, tmp_path / "report", clinical=clinical_table(tmp_path))
    out = tmp_path / "report"
    assert (summary.n_patients, summary.n_hips, summary.n_visits) == (10, 10, 28)
    assert len(list((out / "hips").glob("*.png"))) == 10
    assert (out / "cohort.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "index.html").read_text()
    assert "data:image/png;base64," in page and "src='hips/H3_right.png'" in page
    endpoints = pd.read_csv(out / "endpoints.csv").set_index(["endpoint", "population"])
    assert endpoints.loc[("success", "intention_to_treat"), "successes"] == 5
    km = pd.read_csv(out / "survival_thr.csv")
    assert km["survival"].min() == pytest.approx(2 / 3)
    assert not list(out.rglob("*.tmp"))


def test_clinical_table_errors_name_the_file(tmp_path):
    bad = tmp_path / "thr.csv"
    bad.write_text("patient,side,thr_date\nP1,right,2021-01-01\n")
    with pytest.raises(InputError, match="thr.csv.*patient_id"):
        load_clinical(bad)
    bad.write_text("patient_id,side,thr_date\nP1,R,2021-01-01\n")
    with pytest.raises(InputError, match="left or right"):
        load_clinical(bad)
    bad.write_text("patient_id,side,thr_date\nP1,right,01/02/2021\n")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        load_clinical(bad)


# --- agreement ----------------------------------------------------------------------------------
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
)


def test_icc_2_1_shrout_fleiss_table_2():
    # Shrout & Fleiss (1979), Psychol Bull 86:420, Table 4: ICC(2,1) = .29
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.2897, abs=5e-4)
    assert icc_2_1(np.column_stack([np.arange(5.0), np.arange(5.0)])) == pytest.approx(1.0)
    # a constant offset between readers lowers absolute agreement
    x = np.linspace(1, 10, 8)
    assert icc_2_1(np.column_stack([x, x + 2])) < 0.9


def test_weighted_kappa_textbook_and_closed_form():
    # two categories: weighted kappa is Cohen's kappa; 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert weighted_kappa(a, b, ["no", "yes"]) == pytest.approx(0.4)
    # quadratic kappa = 2 cov / (var a + var b + (mean a - mean b)^2) with 1/n moments (Fleiss & Cohen 1973)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, 60)
    y = np.clip(x + rng.integers(-1, 2, 60), 0, 4)
    closed = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert weighted_kappa(list(x), list(y), range(5)) == pytest.approx(closed)
    assert weighted_kappa(list(x), list(x), range(5)) == pytest.approx(1.0)


def test_stage_names():
    assert [normalise_stage(s) for s in ("IIIB", "ARCO 3a", "I-II", "none", "IV", "x", None)] == [
        "IIIB",
        "IIIA",
        "II",
        "0",
        "IV",
        None,
        None,
    ]


def test_reader_agreement_from_reads_table():
    rows = []
    for n, (vol, stage) in enumerate([(5.0, "II"), (12.0, "IIIA"), (20.0, "IIIB"), (8.0, "II")]):
        for reader, dv, ds in (("AB", 0.0, stage), ("CD", 0.5, stage if n else "IIIA")):
            rows.append(
                {
                    "series_instance_uid": f"1.{n}",
                    "side": "right",
                    "reader": reader,
                    "confirmed_at": f"2026-01-0{n + 1}T10:00:00+00:00",
                    "read_uid": f"{reader}{n}",
                    "arco_2019": ds,
                    "lesion_volume_ml": vol + dv,
                    "head_collapse_depth_mm": 0.1 * n,
                }
            )
    # an older read by AB of hip 0 is superseded by the latest
    rows.append(
        {**rows[0], "confirmed_at": "2025-01-01T00:00:00+00:00", "lesion_volume_ml": 99.0, "read_uid": "old"}
    )
    table = reader_agreement(pd.DataFrame(rows)).set_index("measure")
    vols = np.array([[5.0, 5.5], [12.0, 12.5], [20.0, 20.5], [8.0, 8.5]])
    assert table.loc["lesion_volume_ml", "value"] == pytest.approx(icc_2_1(vols))
    assert table.loc["lesion_volume_ml", "n_hips"] == 4
    assert table.loc["arco_2019", "value"] == pytest.approx(
        weighted_kappa(
            ["II", "IIIA", "IIIB", "II"],
            ["IIIA", "IIIA", "IIIB", "II"],
            ["0", "I", "II", "IIIA", "IIIB", "IV"],
        )
    )


def test_cli_longitudinal(tmp_path, capsys):
    from onfh_imaging.cli import main

    results = tmp_path / "results"
    results.mkdir()
    cohort_measurements().to_parquet(results / "measurements.parquet")
    code = main(
        [
            "longitudinal",
            str(results),
            "--out",
            str(tmp_path / "rep"),
            "--visit",
            "12",
            "--clinical",
            str(clinical_table(tmp_path)),
            "--regeneration-threshold",
            "0.35",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "10 patients, 10 hips, 28 hip visits" in printed
    table = pd.read_csv(tmp_path / "rep" / "endpoints.csv").set_index(["endpoint", "population"])
    assert table.loc[("regeneration", "per_protocol"), "successes"] == 0  # H7's -30 % is below 35 %
    assert main(["longitudinal", str(tmp_path / "nothing"), "--out", str(tmp_path / "rep2")]) == 2

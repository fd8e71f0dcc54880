"""Time of ``onfh longitudinal`` (the trial report) on synthetic cohorts of growing size.

Usage::

    python benchmarks/bench_longitudinal.py [--sizes 22 100 500] [--repeat 2] [--processes N]

No imaging: each cohort is a measurements table like ``onfh batch`` writes (one MR row per hip and
visit, plus a failed series and a radiograph per patient), made from a random trial: hips seen at
baseline, 3, 6, 12, 24 months and 5 years (about 5.2 visits a hip, the 22-hip cohort has about 115),
a few drop-outs, collapses, stage progressions and THRs, lesions shrinking. The report is then written
from scratch (``longitudinal_report``, the function behind the command, with every figure), and the
best of ``--repeat`` runs is kept. A straight line ``t = a + b n`` over the sizes separates the fixed
cost ``a`` (imports, cohort figures, page) from the time per hip ``b``; R^2 shows how linear it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onfh_imaging.batch.report import longitudinal_report
from onfh_imaging.batch.visits import add_visit_columns

VISIT_DAYS = (0, 91, 183, 365, 730, 1826)


def synthetic_trial(n_hips: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measurements table, clinical table) of a random trial cohort of ``n_hips`` hips."""
    rng = np.random.default_rng(seed)
    start = dt.date(2015, 1, 1)
    rows, clinical = [], []
    for h in range(n_hips):
        patient, side = f"T{h // 2:04d}", ("right", "left")[h % 2]
        last = len(VISIT_DAYS) if rng.random() > 0.1 else int(rng.integers(2, len(VISIT_DAYS)))
        collapse_at = int(rng.integers(1, len(VISIT_DAYS))) if rng.random() < 0.25 else 99
        lesion, depth = rng.uniform(8, 35), 0.0
        thr = None
        for k, day in enumerate(VISIT_DAYS[:last]):
            day += int(rng.integers(-10, 11)) if k else 0
            if k >= collapse_at:
                depth += rng.uniform(0.5, 1.5)
            stage = "II" if depth <= 0.5 else ("IIIA" if depth <= 2 else "IIIB")
            rows.append(
                {
                    "patient_id": patient,
                    "study_instance_uid": f"{patient}.{k}",
                    "study_date": (start + dt.timedelta(days=day)).isoformat(),
                    "series_instance_uid": f"{patient}.{k}.{side}",
                    "modality": "MR",
                    "side": side,
                    "status": "ok",
                    "head_collapse_depth_mm": depth + abs(rng.normal(0, 0.1)),
                    "staging_arco_2019": stage,
                    "lesion_volume_ml": lesion * 0.5 * (0.85**k),
                    "lesion_head_involvement_pct": lesion * (0.85**k),
                    "head_sphericity": 0.985 - 0.01 * depth,
                    "lesion_jic_type": ("A", "B", "C1", "C2")[h % 4],
                }
            )
            if depth > 2 and thr is None and rng.random() < 0.5:
                thr = day + 30
        if thr is not None:
            clinical.append({"patient_id": patient, "side": side, "thr_date": start + dt.timedelta(days=thr)})
    return add_visit_columns(pd.DataFrame(rows)), pd.DataFrame(clinical, columns=["patient_id", "side", "thr_date"])


def time_report(n_hips: int, repeat: int, processes: int | None) -> tuple[float, int]:
    measurements, clinical = synthetic_trial(n_hips)
    best = np.inf
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        results.mkdir()
        measurements.to_parquet(results / "measurements.parquet")
        clinical_csv = Path(tmp) / "clinical.csv"
        clinical.to_csv(clinical_csv, index=False, date_format="%Y-%m-%d")
        for r in range(repeat):
            t0 = time.perf_counter()
            longitudinal_report(results, Path(tmp) / f"report{r}", clinical=clinical_csv, processes=processes)
            best = min(best, time.perf_counter() - t0)
    return best, len(measurements)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[22, 100, 500])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--processes", type=int, help="figure-drawing processes (default: the report's choice)")
    args = ap.parse_args()
    sizes, seconds = [], []
    print("| hips | hip visits | seconds | ms per hip |")
    print("| ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        t, visits = time_report(n, args.repeat, args.processes)
        sizes.append(n)
        seconds.append(t)
        print(f"| {n} | {visits} | {t:.2f} | {1000 * t / n:.0f} |", flush=True)
    if len(sizes) >= 2:
        b, a = np.polyfit(sizes, seconds, 1)
        fit = a + b * np.asarray(sizes)
        r2 = 1 - np.sum((np.asarray(seconds) - fit) ** 2) / np.sum((np.asarray(seconds) - np.mean(seconds)) ** 2)
        print(f"\nt = {a:.2f} s + {1000 * b:.1f} ms x hips (R^2 {r2:.3f})")


if __name__ == "__main__":
    main()

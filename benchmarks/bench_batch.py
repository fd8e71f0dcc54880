"""Throughput of ``onfh batch`` on phantom cohorts of growing size.

Usage::

    python benchmarks/bench_batch.py [--sizes 10 50 200] [--processes N] [--matrix 128] [--machinery-only]

One phantom study (one hip, coronal T1, ``matrix`` x ``matrix`` x 16 slices at 1.4 x 1.4 x 4 mm: a
small grid, to keep the benchmark minutes long) is rendered once and cloned as many patients' visits
(new UIDs, same pixels). For each cohort size the batch runs from scratch, then again (a resumed run
that finds everything done). A straight line ``t = a + b n`` fitted to the fresh runs separates the
fixed start-up ``a`` (discovery, starting worker processes, importing the toolkit, writing tables)
from the time per study ``b``; R^2 shows how linear the scaling is.

``--machinery-only`` replaces the pipeline with a measure that only reads the series' headers, so the
numbers show the batch layer's own overhead (discovery, scheduling, records, tables).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onfh_imaging.batch.jobs import SeriesJob
from onfh_imaging.batch.run import measure_with_pipeline, run_batch
from onfh_imaging.phantom import HipSpec, PhantomSpec, clone_phantom_study, write_phantom_study


def headers_only(job: SeriesJob) -> dict:
    """A stand-in measure: read every header of the series, return one empty hip."""
    for f in job.files:
        pydicom.dcmread(f, stop_before_pixels=True)
    return {
        "schema": "onfh-imaging/measurement/1",
        "software_version": "bench",
        "input": {"patient_id": job.patient_id},
        "hips": [{"side": "right", "head": {}, "warnings": []}],
    }


def make_cohort(template: Path, root: Path, n: int) -> None:
    """``n`` visits of the template study: patients P000, P001, ... with up to five visits each."""
    dates = ("20240110", "20240410", "20240710", "20250110", "20260110")
    for k in range(n):
        patient, visit = divmod(k, len(dates))
        clone_phantom_study(template, root / f"P{patient:03d}" / f"V{visit}", patient_id=f"P{patient:03d}",
                            study_date=dates[visit])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--processes", type=int, default=None, help="local worker processes (default: all cores)")
    ap.add_argument("--matrix", type=int, default=128)
    ap.add_argument("--machinery-only", action="store_true")
    args = ap.parse_args()
    measure = headers_only if args.machinery_only else measure_with_pipeline

    with tempfile.TemporaryDirectory(prefix="onfh-bench-batch-") as tmp:
        tmp = Path(tmp)
        write_phantom_study(
            tmp / "template",
            PhantomSpec(
                hips="right",
                matrix=(args.matrix, args.matrix),
                n_slices=16,
                in_plane_mm=1.4,
                right=HipSpec(1.5, lesion="large"),
                seed=3,
            ),
        )
        rows = []
        for n in args.sizes:
            cohort = tmp / f"cohort{n}"
            make_cohort(tmp / "template", cohort, n)
            out = tmp / f"out{n}"
            start = time.perf_counter()
            s = run_batch(cohort, out, processes=args.processes, measure=measure, progress=False)
            fresh = time.perf_counter() - start
            assert s.measured == n and s.failed == 0, s.lines()
            start = time.perf_counter()
            again = run_batch(cohort, out, processes=args.processes, measure=measure, progress=False)
            resumed = time.perf_counter() - start
            assert again.already_done == n
            rows.append((n, fresh, resumed, s.executor))
            print(f"{n} studies: {fresh:.1f} s fresh, {resumed:.2f} s resumed", file=sys.stderr, flush=True)

    sizes = np.array([r[0] for r in rows], float)
    times = np.array([r[1] for r in rows], float)
    slope, intercept = np.polyfit(sizes, times, 1) if len(rows) > 1 else (times[0] / sizes[0], 0.0)
    fit = intercept + slope * sizes
    ss_res, ss_tot = ((times - fit) ** 2).sum(), ((times - times.mean()) ** 2).sum()
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    what = "headers only (batch machinery)" if args.machinery_only else "real pipeline"
    print(f"\nmeasure: {what}; grid {args.matrix}x{args.matrix}x16; {rows[0][3]}; {os.cpu_count()} cores\n")
    print("| studies | fresh run (s) | studies/min | resumed run (s) |")
    print("|---:|---:|---:|---:|")
    for n, fresh, resumed, _ in rows:
        print(f"| {n} | {fresh:.1f} | {60 * n / fresh:.1f} | {resumed:.2f} |")
    print(
        f"\nfit t = a + b n: fixed start-up a = {intercept:.1f} s, "
        f"per study b = {slope:.2f} s, R^2 = {r2:.4f}"
    )


if __name__ == "__main__":
    main()

"""SIGKILL a batch at random points, including while it rebuilds its tables; reruns lose nothing.

Each round adds studies to the cohort (as a trial's data arrives), starts a batch in a separate process,
kills it with SIGKILL after a seeded random delay or as soon as it has a table half-written, checks that
nothing on disk is half-written, then reruns the batch to completion and checks that every series is in
both tables exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

from onfh_imaging.batch.jobs import SeriesJob, content_hash
from onfh_imaging.batch.run import run_jobs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PER_ROUND = 8
ROUNDS = 5


def make_jobs(root: Path, n: int) -> list[SeriesJob]:
    """``n`` one-series studies with one small file each (files are written once, never touched again)."""
    root.mkdir(parents=True, exist_ok=True)
    jobs = []
    for p in range(n):
        f = root / f"IM{p:04d}.dcm"
        if not f.exists():
            f.write_bytes(p.to_bytes(2, "little") * 32)
        jobs.append(SeriesJob(
            patient_id=f"PAT{p // 2:04d}", study_instance_uid=f"1.2.826.0.2.{p}",
            study_date=f"2024-0{1 + p % 9}-1{p % 10}", series_instance_uid=f"1.2.826.0.2.{p}.1",
            modality="MR", series_description="COR T1", files=(str(f),),
            content_hash=content_hash([f]), sequence="T1"))
    return jobs


def quick_measure(job: SeriesJob) -> dict:
    """Two hips whose numbers derive from the series UID."""
    seed = int(job.study_instance_uid.rsplit(".", 1)[-1])
    return {
        "schema": "onfh-imaging/measurement/1", "software_version": "test",
        "input": {"patient_id": job.patient_id, "study_instance_uid": job.study_instance_uid,
                  "study_date": job.study_date, "series_instance_uid": job.series_instance_uid,
                  "modality": "MR", "series_description": job.series_description},
        "hips": [{"side": side,
                  "head": {"radius_mm": 22.0 + 0.01 * seed, "volume_ml": 45.0, "sphericity": 0.97,
                           "rms_deviation_mm": 0.3, "collapse_depth_mm": 0.1 * (seed % 7)},
                  "lesion": None, "staging": {"arco_2019": "II", "arco_basis": "no collapse",
                                              "steinberg_extent": "A"}, "warnings": []}
                 for side in ("right", "left")],
    }


def slow_measure(job: SeriesJob) -> dict:
    time.sleep(0.04)
    return quick_measure(job)


# The batch process: measures slowly and holds each table's temporary file for a moment before renaming
# it, so that a kill can land while a table is half-written.
BATCH = textwrap.dedent("""
    import sys, time
    from contextlib import contextmanager
    from pathlib import Path
    sys.path.insert(0, {here!r})
    import onfh_imaging.batch.store as store
    from onfh_imaging.batch.run import run_jobs
    from test_batch_crash import make_jobs, slow_measure

    plain_atomic_output = store.atomic_output

    @contextmanager
    def lingering_atomic_output(path):
        with plain_atomic_output(path) as tmp:
            yield tmp
            if path.name.startswith("measurements"):
                time.sleep(0.3)

    store.atomic_output = lingering_atomic_output

    if __name__ == "__main__":
        jobs = make_jobs(Path(sys.argv[1]), int(sys.argv[2]))
        run_jobs(jobs, sys.argv[3], measure=slow_measure, processes=0, progress=False)
""")


def table_tmp_files(out: Path) -> list[Path]:
    return list(out.glob(".measurements.*.tmp*"))


def kill_batch(script: Path, cohort: Path, n: int, out: Path, after_records: int | None, extra_s: float) -> None:
    """Start the batch and SIGKILL its process group ``extra_s`` s after ``after_records`` records exist
    in ``out``, or (None) as soon as a table is half-written."""
    records = out / "records"
    proc = subprocess.Popen([sys.executable, str(script), str(cohort), str(n), str(out)],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and proc.poll() is None:
            if after_records is None and table_tmp_files(out):
                break
            if after_records is not None and records.is_dir() and len(list(records.glob("*.json"))) >= after_records:
                time.sleep(extra_s)
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    assert proc.returncode in (0, -signal.SIGKILL), stderr
    if after_records is None:
        assert proc.returncode == -signal.SIGKILL, "the batch finished before a table was being written"


def assert_nothing_half_written(out: Path) -> None:
    """Every record is complete JSON; the tables on disk, if any, parse and list each series once."""
    for rec in (out / "records").glob("*.json"):
        json.loads(rec.read_text(encoding="utf-8"))
    csv, parquet = out / "measurements.csv", out / "measurements.parquet"
    for table in [pd.read_csv(csv)] if csv.exists() else []:
        assert table.groupby(["series_instance_uid", "side"]).size().eq(1).all()
    for table in [pd.read_parquet(parquet)] if parquet.exists() else []:
        assert table.groupby(["series_instance_uid", "side"]).size().eq(1).all()


def assert_complete(out: Path, jobs: list[SeriesJob]) -> None:
    """Every series of ``jobs`` exactly once per hip in both tables; no temporary files; records valid."""
    assert not list(out.rglob("*.tmp*"))
    records = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "records").glob("*.json")]
    assert sorted(r["job"]["series_instance_uid"] for r in records) == sorted(j.series_instance_uid for j in jobs)
    assert all(r["status"] == "ok" for r in records)
    expected = sorted((j.series_instance_uid, side) for j in jobs for side in ("left", "right"))
    for table in (pd.read_csv(out / "measurements.csv"), pd.read_parquet(out / "measurements.parquet")):
        assert sorted(zip(table["series_instance_uid"], table["side"])) == expected
        radius = dict(zip(zip(table["series_instance_uid"], table["side"]), table["head_radius_mm"]))
        for job in jobs:
            want = quick_measure(job)["hips"][0]["head"]["radius_mm"]
            assert radius[(job.series_instance_uid, "right")] == want


def test_sigkill_at_random_points_then_rerun_gives_every_series_exactly_once(tmp_path):
    rng = random.Random(20240611)
    script = tmp_path / "batch.py"
    script.write_text(BATCH.format(here=str(HERE)))
    cohort, out = tmp_path / "cohort", tmp_path / "out"
    # two kills while a table is being written (the first when no table exists yet, then over old ones);
    # the others at a random moment after a random number of this round's series were recorded
    during_tables = {0, 3}
    killed_mid_measuring = 0
    for round_ in range(ROUNDS):
        n = PER_ROUND * (round_ + 1)
        records_before = len(list((out / "records").glob("*.json")))
        after = None if round_ in during_tables else records_before + rng.randint(0, PER_ROUND - 2)
        kill_batch(script, cohort, n, out, after, rng.uniform(0.0, 0.06))
        assert_nothing_half_written(out)
        done = len(list((out / "records").glob("*.json")))
        killed_mid_measuring += records_before < done < n

        jobs = make_jobs(cohort, n)
        summary = run_jobs(jobs, out, measure=quick_measure, processes=0, progress=False)
        assert summary.already_done == done and summary.measured == n - done
        assert_complete(out, jobs)
    assert killed_mid_measuring >= 1  # the seeded delays do land part-way through the measuring

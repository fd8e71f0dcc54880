"""Batch machinery: discovery fingerprints, the resumable store, executors, failures, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from onfh_imaging.batch.jobs import SeriesJob, content_hash
from onfh_imaging.batch.run import run_jobs
from onfh_imaging.batch.store import ResultStore, flatten, record_rows
from onfh_imaging.batch.visits import add_visit_columns, visit_label
from onfh_imaging.errors import IncompleteSeriesError

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


# --- a deterministic stand-in for the pipeline -------------------------------------------------
def fake_hip(side: str, seed: int) -> dict:
    return {
        "side": side,
        "head": {
            "center_lps_mm": [(-1 if side == "right" else 1) * 90.0, 10.0 + seed, -5.0],
            "radius_mm": 22.0 + 0.01 * seed,
            "volume_ml": 40.0 + 0.1 * seed,
            "sphericity": 0.97,
            "rms_deviation_mm": 0.3,
            "collapse_depth_mm": 0.05 * seed,
            "collapse_direction_lps": [0.0, -0.5, 0.8660254],
        },
        "lesion": None
        if side == "left"
        else {"volume_ml": 8.0 - 0.2 * seed, "head_involvement_pct": 20.0, "kerboul_angle_deg": 210.0},
        "staging": {"arco_2019": "II", "arco_basis": "no collapse", "steinberg_extent": "B"},
        "warnings": ["lesion touches the neck cut"] if side == "right" else [],
    }


def seed_of(job: SeriesJob) -> int:
    return int(job.series_instance_uid.rsplit(".", 1)[-1])


def fake_measure(job: SeriesJob) -> dict:
    """Two hips whose numbers derive from the series UID; descriptions containing FAIL fail."""
    if "FAIL" in job.series_description:
        raise IncompleteSeriesError(
            "slices missing: gap of 8.0 mm between slices 5 and 6",
            path=job.files[0],
            hint="re-export the series",
        )
    if "CRASH" in job.series_description:
        os._exit(3)  # a worker that dies, like a segfault or the out-of-memory killer
    seed = seed_of(job)
    return {
        "schema": "onfh-imaging/measurement/1",
        "software_version": "test",
        "input": {
            "patient_id": job.patient_id,
            "study_instance_uid": job.study_instance_uid,
            "study_date": job.study_date,
            "series_instance_uid": job.series_instance_uid,
            "modality": job.modality,
            "series_description": job.series_description,
        },
        "hips": [fake_hip("left", seed), fake_hip("right", seed)],
    }


def make_jobs(
    root: Path,
    n_patients: int = 3,
    dates=("2024-01-10", "2024-04-12", "2025-01-08"),
    fail: set[int] = frozenset(),
    crash: set[int] = frozenset(),
) -> list[SeriesJob]:
    """One MR series per patient and visit, with two small files each on disk."""
    jobs = []
    n = 0
    for p in range(n_patients):
        for v, date in enumerate(dates):
            n += 1
            folder = root / f"P{p}" / f"V{v}"
            folder.mkdir(parents=True, exist_ok=True)
            files = []
            for s in range(2):
                f = folder / f"IM{s}.dcm"
                if not f.exists():  # rebuilding the job list must not touch the files
                    f.write_bytes(bytes([n, s]) * 64)
                files.append(str(f))
            desc = "COR T1" + (" FAIL" if n in fail else "") + (" CRASH" if n in crash else "")
            jobs.append(
                SeriesJob(
                    patient_id=f"PAT{p:03d}",
                    study_instance_uid=f"1.2.3.{p}.{v}",
                    study_date=date,
                    series_instance_uid=f"1.2.3.{p}.{v}.{n}",
                    modality="MR",
                    series_description=desc,
                    files=tuple(files),
                    content_hash=content_hash(files),
                    sequence="T1",
                )
            )
    return jobs


def measurement_rows(out: Path) -> pd.DataFrame:
    df = pd.read_parquet(out / "measurements.parquet")
    return df.drop(columns=["record_key"]).sort_values(["series_instance_uid", "side"]).reset_index(drop=True)


# --- fingerprints -------------------------------------------------------------------------------
def test_content_hash_tracks_file_changes_but_not_folder_moves(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    files = []
    for n in range(3):
        f = a / f"IM{n}"
        f.write_bytes(b"x" * (10 + n))
        files.append(f)
    h = content_hash(files, ["1.2.3", "1.2.4"])
    assert h == content_hash(list(reversed(files)), ["1.2.4", "1.2.3"])  # order does not matter
    assert h != content_hash(files, ["1.2.3", "1.2.5"])  # new images
    b = tmp_path / "moved"
    a.rename(b)
    assert h == content_hash([b / f.name for f in files], ["1.2.3", "1.2.4"])
    (b / "IM1").write_bytes(b"y" * 11)  # same size, new mtime
    os.utime(b / "IM1", ns=(1, 1))
    assert h != content_hash([b / f.name for f in files], ["1.2.3", "1.2.4"])


# --- flattening and visits ----------------------------------------------------------------------
def test_flatten_keeps_every_field_with_column_names_from_the_contract():
    flat = flatten(fake_hip("right", 2))
    assert flat["head_radius_mm"] == pytest.approx(22.02)
    assert (flat["head_center_lps_mm_x"], flat["head_center_lps_mm_y"], flat["head_center_lps_mm_z"]) == (
        -90.0,
        12.0,
        -5.0,
    )
    assert flat["head_collapse_direction_lps_z"] == pytest.approx(0.8660254)
    assert flat["lesion_volume_ml"] == pytest.approx(7.6)
    assert flat["staging_arco_2019"] == "II"
    assert flat["warnings"] == "lesion touches the neck cut"
    assert flatten({"center_px": [3, 4]}) == {"center_px_0": 3, "center_px_1": 4}


def test_visit_labels_from_each_patients_earliest_study():
    df = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "A", "B", "B", "A"],
            "study_date": [
                "2024-03-01",
                "2024-01-01",
                "2024-04-05",
                "2025-01-20",
                "2023-06-01",
                "2028-06-01",
                None,
            ],
        }
    )
    out = add_visit_columns(df)
    assert list(out["visit_days"][:6]) == [60, 0, 95, 385, 0, 1827]
    assert list(out["visit_label"]) == ["M3", "baseline", "M3", "M12", "baseline", "M60", ""]
    assert out["visit_months"][3] == pytest.approx(385 / 30.4375)
    assert np.isnan(out["visit_days"][6])
    # boundaries: 4.5 months is a tie between M3 and M6 and goes to the earlier visit
    assert [visit_label(m) for m in (1.4, 1.6, 4.5, 4.6, 9.0, 18.1, 42.5)] == [
        "baseline",
        "M3",
        "M3",
        "M6",
        "M6",
        "M24",
        "M60",
    ]


# --- the store and the runner -------------------------------------------------------------------
def test_batch_measures_every_series_and_a_rerun_measures_nothing(tmp_path):
    jobs = make_jobs(tmp_path / "cohort")
    out = tmp_path / "out"
    first = run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False)
    assert (first.measured, first.failed, first.already_done) == (9, 0, 0)
    df = measurement_rows(out)
    assert len(df) == 18 and set(df["status"]) == {"ok"}
    row = df[(df["series_instance_uid"] == "1.2.3.1.2.6") & (df["side"] == "right")].iloc[0]
    assert row["head_radius_mm"] == pytest.approx(22.06)
    assert row["lesion_volume_ml"] == pytest.approx(6.8)
    assert row["visit_label"] == "M12" and row["visit_days"] == 364
    assert row["patient_id"] == "PAT001"
    left = df[df["side"] == "left"]
    assert left["lesion_volume_ml"].isna().all()  # a null lesion stays null
    csv = pd.read_csv(out / "measurements.csv")
    assert len(csv) == 18 and set(csv.columns) == set(df.columns) | {"record_key"}
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "records").iterdir()}

    again = run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False)
    assert (again.measured, again.failed, again.already_done) == (0, 0, 9)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "records").iterdir()} == mtimes
    pd.testing.assert_frame_equal(measurement_rows(out), df)


def test_a_failing_series_is_recorded_and_the_others_are_measured(tmp_path):
    jobs = make_jobs(tmp_path / "cohort", fail={4})
    out = tmp_path / "out"
    summary = run_jobs(jobs, out, measure=fake_measure, processes=2, progress=False)
    assert (summary.measured, summary.failed) == (8, 1)
    assert summary.failures_by_reason == {"IncompleteSeriesError": 1}
    assert not any("PAT" in line for line in summary.lines())  # no patient identifiers on the console
    errors = pd.read_csv(out / "errors.csv")
    assert len(errors) == 1
    bad = errors.iloc[0]
    assert bad["error_type"] == "IncompleteSeriesError"
    assert bad["error_path"] == jobs[3].files[0]
    assert "gap of 8.0 mm" in bad["error"] and jobs[3].files[0] in bad["error"]
    df = measurement_rows(out)
    assert (df["status"] == "ok").sum() == 16 and (df["status"] == "failed").sum() == 1

    kept = run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False)
    assert (kept.measured, kept.failed, kept.already_done) == (0, 0, 9)
    retried = run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False, retry_failed=True)
    assert (retried.measured, retried.failed, retried.already_done) == (0, 1, 8)


def test_a_series_that_kills_its_worker_fails_alone(tmp_path):
    jobs = make_jobs(tmp_path / "cohort", n_patients=2, crash={2})
    out = tmp_path / "out"
    summary = run_jobs(jobs, out, measure=fake_measure, processes=2, progress=False)
    assert (summary.measured, summary.failed) == (5, 1)
    assert summary.failures_by_reason == {"WorkerDied": 1}
    df = measurement_rows(out)
    failed = df[df["status"] == "failed"]
    assert list(failed["series_instance_uid"]) == [jobs[1].series_instance_uid]
    assert df[df["status"] == "ok"]["series_instance_uid"].nunique() == 5


def test_a_changed_series_is_measured_again_and_replaces_its_row(tmp_path):
    jobs = make_jobs(tmp_path / "cohort", n_patients=1)
    out = tmp_path / "out"
    run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False)
    f = Path(jobs[0].files[0])
    f.write_bytes(b"changed content, other size")
    changed = [SeriesJob(**{**j.__dict__, "content_hash": content_hash(j.files)}) for j in jobs]
    summary = run_jobs(changed, out, measure=fake_measure, processes=0, progress=False)
    assert (summary.measured, summary.already_done) == (1, 2)
    df = measurement_rows(out)
    assert len(df) == 6 and df.groupby(["series_instance_uid", "side"]).size().max() == 1
    assert jobs[0].series_instance_uid in set(df["series_instance_uid"])
    assert set(df["content_hash"]) == {j.content_hash for j in changed}


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    store = ResultStore(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = store.records_dir / f".x.json.{dead.pid}.tmp"
    live = store.records_dir / f".y.json.{os.getppid()}.tmp"
    stale.write_text("{")
    live.write_text("{")
    assert store.clean_stale_tmp() == 1
    assert not stale.exists() and live.exists()


def test_a_second_batch_on_the_same_output_is_refused(tmp_path):
    from onfh_imaging.errors import InputError

    store = ResultStore(tmp_path)
    with store.lock():
        with pytest.raises(InputError, match="another batch is writing"):
            run_jobs([], tmp_path, measure=fake_measure, processes=0, progress=False)


def test_record_rows_of_a_failed_series():
    job = SeriesJob("P", "1.2", "2024-01-01", "1.2.3", "MR", "COR T1", ("/x/IM1",), "ab" * 32)
    from onfh_imaging.batch.run import make_record

    rec = make_record(
        job, "failed", error={"type": "NotDicomError", "message": "/x/IM1: not DICOM", "path": "/x/IM1"}
    )
    (row,) = record_rows(rec)
    assert (
        row["status"] == "failed" and row["error_type"] == "NotDicomError" and row["error_path"] == "/x/IM1"
    )
    assert "side" not in row and row["error"] == "/x/IM1: not DICOM"


# --- SIGKILL part-way ---------------------------------------------------------------------------
SLOW_BATCH = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {here!r})
    from test_batch import fake_measure, make_jobs
    from onfh_imaging.batch.run import run_jobs

    def slow_measure(job):
        time.sleep(0.15)
        return fake_measure(job)

    if __name__ == "__main__":
        jobs = make_jobs(__import__("pathlib").Path(sys.argv[1]), n_patients=10)
        run_jobs(jobs, sys.argv[2], measure=slow_measure, processes=2, progress=False)
""")


def test_sigkill_part_way_then_rerun_gives_every_row_exactly_once(tmp_path):
    script = tmp_path / "slow_batch.py"
    script.write_text(SLOW_BATCH.format(here=str(HERE)))
    cohort, out = tmp_path / "cohort", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(cohort), str(out)],
        env=env,
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    records = out / "records"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if records.is_dir() and len(list(records.glob("*.json"))) >= 6:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its worker processes, mid-write
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done_before = len(list(records.glob("*.json")))
    assert 6 <= done_before < 30
    for rec in records.glob("*.json"):
        json.loads(rec.read_text())  # every record on disk is complete

    jobs = make_jobs(cohort, n_patients=10)
    summary = run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False)
    assert summary.already_done == done_before
    assert summary.measured == 30 - done_before
    assert not list(out.rglob("*.tmp"))
    df = pd.read_parquet(out / "measurements.parquet")
    assert len(df) == 60
    assert df.groupby(["series_instance_uid", "side"]).size().eq(1).all()
    assert len(pd.read_csv(out / "measurements.csv")) == 60


# --- Dask ---------------------------------------------------------------------------------------
def test_dask_local_cluster_gives_the_same_rows_as_running_locally(tmp_path):
    pytest.importorskip("distributed")
    import cloudpickle

    jobs = make_jobs(tmp_path / "cohort", fail={5})
    run_jobs(jobs, tmp_path / "local", measure=fake_measure, processes=0, progress=False)
    # the workers cannot import this test module: ship its functions by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        summary = run_jobs(jobs, tmp_path / "dask", measure=fake_measure, workers=2, progress=False)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert summary.executor == "Dask LocalCluster of 2 workers"
    assert (summary.measured, summary.failed) == (8, 1)
    pd.testing.assert_frame_equal(measurement_rows(tmp_path / "dask"), measurement_rows(tmp_path / "local"))


# --- reader confirmations -----------------------------------------------------------------------
def _one_patient_batch(tmp_path):
    """A measured one-patient batch and an empty reads store: ``(out, store, series uid)``."""
    reads = pytest.importorskip("onfh_imaging.reads")
    jobs = make_jobs(tmp_path / "cohort", n_patients=1)
    out = tmp_path / "out"
    run_jobs(jobs, out, measure=fake_measure, processes=0, progress=False)
    return out, reads.ReadStore(tmp_path / "reads.sqlite"), jobs[0].series_instance_uid


def test_reader_confirmations_are_joined_and_exported(tmp_path):
    reads = pytest.importorskip("onfh_imaging.reads")
    from onfh_imaging.batch.run import rebuild_tables

    out, store, uid = _one_patient_batch(tmp_path)
    for reader, stage, when, depth in (
        ("AB", "II", "2026-01-01T10:00:00+00:00", 0.4),
        ("CD", "IIIA", "2026-01-02T10:00:00+00:00", 0.9),
    ):
        hip = fake_hip("right", 1)
        hip["head"]["collapse_depth_mm"] = depth
        store.add(
            reads.ReadRecord(
                reader=reader,
                series_instance_uid=uid,
                arco_2019=stage,
                confirmed_at=when,
                confirmed_measures=[hip],
            )
        )
    rebuild_tables(out, reads_db=tmp_path / "reads.sqlite")
    df = pd.read_parquet(out / "measurements.parquet")
    right = df[(df["series_instance_uid"] == uid) & (df["side"] == "right")].iloc[0]
    assert right["reader_count"] == 2 and right["reader_names"] == "AB; CD"
    assert right["reader_name"] == "CD" and right["reader_arco_2019"] == "IIIA"  # the latest confirmation
    assert right["reader_head_collapse_depth_mm"] == pytest.approx(0.9)
    assert df.loc[df["series_instance_uid"] != uid, "reader_count"].eq(0).all()
    long = pd.read_csv(out / "reads.csv")
    assert sorted(long["reader"]) == ["AB", "CD"] and set(long["arco_2019"]) == {"II", "IIIA"}


def test_each_hip_joins_its_own_confirmed_stage(tmp_path):
    reads = pytest.importorskip("onfh_imaging.reads")
    from onfh_imaging.batch.run import rebuild_tables

    out, store, uid = _one_patient_batch(tmp_path)
    store.add(reads.ReadRecord(
        reader="AB", series_instance_uid=uid, arco_2019="IIIB", confirmed_at="2026-01-01T10:00:00+00:00",
        confirmed_measures=[fake_hip("right", 1), fake_hip("left", 1)],
        hips=[{"side": "right", "arco_2019": "IIIB"}, {"side": "left", "arco_2019": "II"}]))
    rebuild_tables(out, reads_db=tmp_path / "reads.sqlite")
    df = pd.read_parquet(out / "measurements.parquet")
    rows = df[df["series_instance_uid"] == uid].set_index("side")
    # the read's single stage is the most severe one; each hip row shows that hip's own decision
    assert rows.loc["right", "reader_arco_2019"] == "IIIB" and rows.loc["left", "reader_arco_2019"] == "II"

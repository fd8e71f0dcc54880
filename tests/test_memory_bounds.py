"""Memory of a batch does not grow with the size of the cohort.

A batch holds at most its window of jobs in flight and writes each result to disk as it arrives, so
the parent process's peak memory while measuring must be the same for 20 or 200 studies. Only the
final tables, which hold one row per series and hip, grow with the cohort: their share is measured
separately and must stay a few kilobytes per series.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np

from onfh_imaging.batch.jobs import SeriesJob, content_hash
from onfh_imaging.batch.run import run_jobs
from onfh_imaging.batch.store import ResultStore

#: A deliberately large per-series payload of the measure function: 2 MiB of pixels that the
#: measure function allocates and drops, standing in for a series read into a worker.
PIXELS = (256, 256, 16)


def cheap_measure(job: SeriesJob) -> dict:
    """A measurement object for one series whose numbers derive from its UID; allocates a series' pixels."""
    seed = int(job.series_instance_uid.rsplit(".", 1)[-1])
    pixels = np.full(PIXELS, seed % 1000, dtype=np.int16)
    hips = []
    for side in ("right", "left"):
        hips.append({
            "side": side,
            "head": {"center_lps_mm": [90.0 if side == "left" else -90.0, 10.0, -5.0],
                     "radius_mm": 22.0 + 0.001 * seed, "volume_ml": 45.0, "sphericity": 0.97,
                     "rms_deviation_mm": 0.3, "collapse_depth_mm": float(pixels[0, 0, 0]) / 1000,
                     "collapse_direction_lps": [0.0, -0.5, 0.8660254]},
            "lesion": {"volume_ml": 5.0, "head_involvement_pct": 11.1, "kerboul_angle_deg": 180.0},
            "staging": {"arco_2019": "II", "arco_basis": "no collapse", "steinberg_extent": "A"},
            "warnings": [],
        })
    return {"schema": "onfh-imaging/measurement/1", "software_version": "test",
            "input": {"patient_id": job.patient_id, "study_instance_uid": job.study_instance_uid,
                      "study_date": job.study_date, "series_instance_uid": job.series_instance_uid,
                      "modality": "MR", "series_description": job.series_description},
            "hips": hips}


def make_jobs(root: Path, n: int) -> list[SeriesJob]:
    """``n`` one-series studies of distinct patients, each with one small file on disk."""
    root.mkdir(parents=True, exist_ok=True)
    jobs = []
    for p in range(n):
        f = root / f"IM{p:05d}.dcm"
        f.write_bytes(p.to_bytes(4, "little") * 16)
        jobs.append(SeriesJob(
            patient_id=f"PAT{p:05d}", study_instance_uid=f"1.2.826.0.1.{p}",
            study_date=f"20{20 + p % 5}-0{1 + p % 9}-1{p % 10}", series_instance_uid=f"1.2.826.0.1.{p}.{p}",
            modality="MR", series_description="COR T1", files=(str(f),),
            content_hash=content_hash([f]), sequence="T1"))
    return jobs


def traced_peaks(tmp: Path, n: int, measure=None) -> tuple[int, int]:
    """Traced peaks (bytes) while measuring ``n`` studies in process and while rebuilding their tables.

    The measuring peak is sampled at the start of every job and once after the last record is written,
    so it covers every job, record write and the scheduler's bookkeeping, but not the final tables.
    """
    jobs = make_jobs(tmp / f"cohort{n}", n)
    out = tmp / f"out{n}"
    store = ResultStore(out)
    measure = measure or cheap_measure
    samples: list[int] = []

    def sampled(job: SeriesJob) -> dict:
        samples.append(tracemalloc.get_traced_memory()[1])
        return measure(job)

    rebuild = ResultStore.rebuild_tables

    def sampled_rebuild(self, *args, **kwargs):
        samples.append(tracemalloc.get_traced_memory()[1])
        return rebuild(self, *args, **kwargs)

    gc.collect()
    ResultStore.rebuild_tables = sampled_rebuild
    tracemalloc.start()
    try:
        run_jobs(jobs, out, measure=sampled, processes=0, progress=False)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        rebuild(store)
        tables_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
        ResultStore.rebuild_tables = rebuild
    assert len(list(store.records_dir.glob("*.json"))) == n
    assert len(samples) == n + 1
    return max(samples), tables_peak


def test_measuring_memory_does_not_grow_with_the_cohort(tmp_path):
    traced_peaks(tmp_path, 3)  # first use imports pandas, pyarrow and the batch modules
    small, small_tables = traced_peaks(tmp_path, 20)
    large, large_tables = traced_peaks(tmp_path, 200)
    series_bytes = int(np.prod(PIXELS)) * 2
    assert small >= series_bytes  # the measure function's pixels are traced: a leak would show
    assert large < 1.5 * small + 256 * 1024, (
        f"measuring peak {large / 1024**2:.2f} MiB for 200 studies vs {small / 1024**2:.2f} MiB for 20")
    # the tables hold one row per series and hip: linear, but a few kilobytes per series
    per_series = (large_tables - small_tables) / 180
    assert 0 < per_series < 32 * 1024, f"the tables cost {per_series:.0f} bytes per series"


def test_a_leak_per_series_would_be_caught(tmp_path):
    """The same comparison fails for a batch that keeps every series' pixels."""
    traced_peaks(tmp_path, 3)
    kept: list[np.ndarray] = []

    def leaky(job: SeriesJob) -> dict:
        kept.append(np.ones(PIXELS, dtype=np.int16))
        return cheap_measure(job)

    small, _ = traced_peaks(tmp_path, 5, leaky)
    kept.clear()
    large, _ = traced_peaks(tmp_path, 40, leaky)
    assert large > 1.5 * small + 256 * 1024

"""Batch over real DICOM: discovery from headers, and the real pipeline on phantom studies."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydicom.uid import generate_uid

from onfh_imaging.batch.discover import discover_cohort
from onfh_imaging.cli import main
from onfh_imaging.geometry import Volume
from onfh_imaging.io.dicom_write import write_mr_series, write_radiograph

CORONAL = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def small_volume(direction=CORONAL, seed=0) -> Volume:
    rng = np.random.default_rng(seed)
    return Volume(
        rng.integers(0, 1000, (6, 16, 16)).astype(np.int16),
        spacing=(1.0, 1.0, 4.0),
        origin=(-100.0, 20.0, -60.0),
        direction=direction,
    )


def write_cohort(root: Path) -> dict:
    """Patient A: visit 1 (COR T1, COR STIR, AX T2), visit 2 (COR T1, radiograph); patient B: AX T2."""
    uids = {}
    s1, frame = generate_uid(), generate_uid()
    uids["t1_v1"] = generate_uid()
    write_mr_series(
        small_volume(),
        root / "A" / "v1" / "t1",
        patient_id="A",
        study_instance_uid=s1,
        series_instance_uid=uids["t1_v1"],
        frame_of_reference_uid=frame,
        study_date="20240110",
    )
    uids["stir_v1"] = generate_uid()
    write_mr_series(
        small_volume(seed=1),
        root / "A" / "v1" / "stir",
        patient_id="A",
        study_instance_uid=s1,
        series_instance_uid=uids["stir_v1"],
        frame_of_reference_uid=frame,
        study_date="20240110",
        series_description="COR STIR",
        series_number=2,
        sequence="STIR",
    )
    uids["t2_v1"] = generate_uid()
    write_mr_series(
        small_volume(np.eye(3), seed=2),
        root / "A" / "v1" / "t2",
        patient_id="A",
        study_instance_uid=s1,
        series_instance_uid=uids["t2_v1"],
        study_date="20240110",
        series_description="AX T2",
        series_number=3,
        sequence="T2",
    )
    s2 = generate_uid()
    uids["t1_v2"] = generate_uid()
    write_mr_series(
        small_volume(seed=3),
        root / "A" / "v2" / "t1",
        patient_id="A",
        study_instance_uid=s2,
        series_instance_uid=uids["t1_v2"],
        study_date="20240712",
    )
    uids["dx_v2"] = generate_uid()
    write_radiograph(
        np.full((64, 64), 500, np.uint16),
        root / "A" / "v2" / "pelvis.dcm",
        imager_pixel_spacing=0.15,
        magnification=1.2,
        patient_id="A",
        study_instance_uid=s2,
        series_instance_uid=uids["dx_v2"],
        study_date="20240712",
    )
    uids["t2_b"] = generate_uid()
    write_mr_series(
        small_volume(np.eye(3), seed=4),
        root / "B" / "t2",
        patient_id="B",
        series_instance_uid=uids["t2_b"],
        study_date="20240301",
        series_description="AX T2",
        sequence="T2",
    )
    (root / "B" / "notes.txt").write_text("not an image")
    first = sorted((root / "A" / "v1" / "t1").iterdir())[0]
    (root / "B" / "broken.dcm").write_bytes(first.read_bytes()[:400])
    return uids


def test_discovery_plans_every_series_of_the_cohort(tmp_path):
    uids = write_cohort(tmp_path)
    found = discover_cohort(tmp_path)
    jobs = {j.series_instance_uid: j for j in found.jobs}
    assert set(jobs) == {uids["t1_v1"], uids["t1_v2"], uids["dx_v2"]}
    t1 = jobs[uids["t1_v1"]]
    assert (t1.patient_id, t1.study_date, t1.modality, len(t1.files)) == ("A", "2024-01-10", "MR", 6)
    assert t1.fluid_series_instance_uid == uids["stir_v1"] and len(t1.fluid_files) == 6
    assert jobs[uids["dx_v2"]].modality == "DX" and jobs[uids["t1_v2"]].fluid_series_instance_uid is None
    skipped = {j.series_instance_uid: reason for j, reason in found.skipped}
    assert set(skipped) == {uids["t2_v1"], uids["t2_b"]}
    assert skipped[uids["t2_v1"]].startswith("not selected")
    assert "no T1-weighted" in skipped[uids["t2_b"]]
    assert [Path(p).name for p, _ in found.unreadable] == ["broken.dcm"]
    # touching one STIR file changes the T1 job's fingerprint (the STIR feeds its lesion)
    stir_file = Path(t1.fluid_files[0])
    os.utime(stir_file, ns=(1, 1))
    again = {j.series_instance_uid: j for j in discover_cohort(tmp_path).jobs}
    assert again[uids["t1_v1"]].content_hash != t1.content_hash
    assert again[uids["t1_v2"]].content_hash == jobs[uids["t1_v2"]].content_hash


@pytest.mark.slow  # ~10 s alone; minutes when the cores are shared
def test_batch_with_the_real_pipeline_on_phantom_studies(tmp_path):
    from onfh_imaging.batch.report import longitudinal_report
    from onfh_imaging.batch.run import run_batch
    from onfh_imaging.phantom import HipSpec, PhantomSpec, clone_phantom_study, write_phantom_study

    truth = write_phantom_study(
        tmp_path / "phantom",
        PhantomSpec(
            hips="right",
            matrix=(128, 128),
            n_slices=16,
            in_plane_mm=1.4,
            right=HipSpec(0.0, lesion="large"),
            seed=1,
        ),
    )
    cohort = tmp_path / "cohort"
    clone_phantom_study(tmp_path / "phantom", cohort / "P1_base", patient_id="P1", study_date="20240105")
    clone_phantom_study(tmp_path / "phantom", cohort / "P1_m12", patient_id="P1", study_date="20250107")
    clone_phantom_study(tmp_path / "phantom", cohort / "P2_base", patient_id="P2", study_date="20240301")
    clone_phantom_study(
        tmp_path / "phantom", cohort / "P2_m3", patient_id="P2", study_date="20240603", drop_middle_slice=True
    )

    out = tmp_path / "out"
    summary = run_batch(cohort, out, processes=2, progress=False)
    assert (summary.measured, summary.failed, summary.to_measure) == (3, 1, 4)
    assert summary.failures_by_reason == {"IncompleteSeriesError": 1}
    df = pd.read_parquet(out / "measurements.parquet")
    ok = df[df["status"] == "ok"]
    assert len(ok) == 3 and set(ok["side"]) == {"right"}
    true_head = truth["hips"][0]["head"]
    assert np.allclose(ok["head_radius_mm"], true_head["radius_mm"], atol=1.0)
    assert ok["head_radius_mm"].nunique() == 1  # same pixels, same numbers, whichever process measured them
    assert list(ok["visit_label"]) == ["baseline", "M12", "baseline"]
    failed = df[df["status"] == "failed"].iloc[0]
    assert failed["visit_label"] == "M3" and "P2_m3" in failed["error_file"]
    errors = pd.read_csv(out / "errors.csv")
    assert len(errors) == 1 and "P2_m3" in errors["error_file"].iloc[0] and " mm" in errors["error"].iloc[0]
    verdicts = pd.read_parquet(out / "verdicts.parquet")  # one row per hip and visit, beside the series rows
    assert list(verdicts["visit_label"]) == ["baseline", "M12", "baseline"]
    assert set(verdicts["arco_2019"]) == {"I-II"}  # a lesion, no collapse, MR only: I or II, and it says so
    assert verdicts["not_assessed"].str.contains("I or II: no radiograph").all()

    # the CLI: a rerun measures nothing; the tables can be rebuilt alone
    assert main(["batch", str(cohort), "--out", str(out), "--processes", "0", "--no-progress"]) == 1
    records = sorted((out / "records").glob("*.json"))
    assert len(records) == 4 + 0  # the STIR-less phantom has no skipped series
    assert all(json.loads(r.read_text())["status"] in ("ok", "failed") for r in records)
    assert main(["batch", "--out", str(out), "--tables-only"]) == 0

    report = longitudinal_report(out, tmp_path / "report", visit_months=12)
    assert (report.n_patients, report.n_hips, report.n_visits) == (2, 2, 3)
    assert (tmp_path / "report" / "index.html").is_file()
    shutil.rmtree(tmp_path / "phantom")

"""End to end through the `onfh measure` command: a phantom study in, the JSON contract out."""

import json
import subprocess
import sys

import pytest

from onfh_imaging.phantom import load_truth
from onfh_imaging.phantom.study import HipSpec, PhantomSpec, write_phantom_study

CONTRACT_HEAD_KEYS = {"center_lps_mm", "radius_mm", "volume_ml", "sphericity", "rms_deviation_mm",
                      "collapse_depth_mm", "collapse_direction_lps"}


def _onfh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onfh_imaging", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def right_hip_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "right_hip"
    spec = PhantomSpec(hips="right", right=HipSpec(collapse_mm=3.0, lesion="large"), in_plane_mm=0.9,
                       matrix=(160, 160), n_slices=18, slice_mm=4.0, seed=3)
    write_phantom_study(out, spec)
    return out


def test_measure_json_follows_the_contract(right_hip_study):
    proc = _onfh("measure", str(right_hip_study), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1  # one study, and nothing else on stdout
    report = json.loads(lines[0])
    truth = load_truth(right_hip_study)
    assert report["schema"] == "onfh-imaging/measurement/1"
    assert report["input"]["modality"] == "MR"
    assert report["input"]["study_instance_uid"] == truth["study_instance_uid"]
    assert report["input"]["study_date"] == "2026-01-01"
    (hip,) = report["hips"]
    assert hip["side"] == "right"
    assert CONTRACT_HEAD_KEYS <= set(hip["head"])
    true_head = truth["hips"][0]["head"]
    assert abs(hip["head"]["radius_mm"] - true_head["radius_mm"]) < 0.5
    assert max(abs(a - b) for a, b in zip(hip["head"]["center_lps_mm"], true_head["center_lps_mm"])) < 1.0
    assert hip["lesion"]["volume_ml"] > 0.5 * truth["hips"][0]["lesion"]["volume_ml"]
    assert hip["staging"]["arco_2019"].startswith("III")
    (verdict,) = report["verdicts"]  # the visit's verdict rides on each series object
    assert verdict["side"] == "right" and verdict["arco_2019"].startswith("III")
    assert verdict["depth"]["series"] == "MR COR T1"
    assert any(n.startswith("IV") for n in verdict["not_assessed"])  # no radiograph at this visit


def test_measure_table_is_readable(right_hip_study):
    proc = _onfh("measure", str(right_hip_study))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    hip = next(n for n, line in enumerate(lines) if line.startswith("RIGHT HIP"))
    assert "ARCO 2019 III" in lines[hip]  # the verdict first
    assert lines[hip + 1].strip().startswith("Basis: collapse of")
    assert "MR COR T1" in proc.stdout and "None" not in proc.stdout
    assert "PHANTOM" not in proc.stdout  # the patient is pseudonymised unless asked
    assert "Patient PHANTOM" in _onfh("measure", str(right_hip_study), "--show-patient").stdout


def test_measure_reports_user_errors_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    proc = _onfh("measure", str(tmp_path), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and "no measurable series" in proc.stderr

    proc = _onfh("measure", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "missing" in proc.stderr


def test_sample_study_measures_both_hips_against_its_truth():
    """The README's quick start: the bundled T1 + STIR study of both hips."""
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "sample_data"
    proc = _onfh("measure", str(sample), "--json")
    assert proc.returncode == 0, proc.stderr
    (report,) = [json.loads(line) for line in proc.stdout.splitlines()]
    truth = {h["side"]: h for h in load_truth(sample / "phantom_both_hips")["hips"]}
    hips = {h["side"]: h for h in report["hips"]}
    assert set(hips) == {"left", "right"}
    for side, hip in hips.items():
        assert abs(hip["head"]["radius_mm"] - truth[side]["head"]["radius_mm"]) < 0.6
        rel = abs(hip["lesion"]["volume_ml"] - truth[side]["lesion"]["volume_ml"]) / truth[side]["lesion"]["volume_ml"]
        assert rel < 0.15
        # the STIR of the same study agrees with the T1 lesion: no discordance warning
        assert not any("fluid-sensitive" in w for w in hip["warnings"])
    assert hips["right"]["staging"]["arco_2019"] == "IIIB"
    assert not hips["left"]["staging"]["arco_2019"].startswith("III")

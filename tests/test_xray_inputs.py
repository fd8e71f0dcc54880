"""Radiograph inputs without a header: PNG pictures, pixel-only scale search, PatientOrientation sides,
prostheses, and the real crops in ../shared (skipped when absent)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.geometry import Radiograph
from onfh_imaging.pipeline import measure_radiograph
from onfh_imaging.phantom.model import Collapse, PelvisModel
from onfh_imaging.phantom.radiograph import render_radiograph
from onfh_imaging.segment.xray import find_femoral_heads_2d
from onfh_imaging.segment.xray_prosthesis import find_prostheses
from onfh_imaging.segment.xray_sides import assign_sides

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-xray" / "images"
_CACHE: dict = {}


def _render(side: str = "left"):
    if side not in _CACHE:
        _CACHE[side] = render_radiograph(PelvisModel.standard(side), side=side, view="AP", detector_shape=(640, 640),
                                         detector_pixel_mm=0.2, magnification=1.2, seed=7)
    return _CACHE[side]


def _to_8bit(pixels: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(pixels, [0.5, 99.5])
    return np.clip(255 * (pixels - lo) / (hi - lo), 0, 255).astype(np.uint8)


def test_pixel_only_view_is_measured_in_pixels_within_2_percent():
    pixels, truth = _render("left")
    t = truth["hips"][0]
    report = measure_radiograph(Radiograph(pixels, None))
    head = report["hips"][0]["head"]
    assert head["radius_mm"] is None
    assert head["radius_px"] == pytest.approx(t["radius_px"], rel=0.02)
    checks = {c["name"] for c in report["hips"][0]["quality"]["checks"]}
    assert "scale_assumed" in checks


def test_png_through_onfh_measure_with_and_without_pixel_size(tmp_path):
    from PIL import Image

    pixels, truth = _render("left")
    png = tmp_path / "hip.png"
    Image.fromarray(_to_8bit(pixels)).save(png)
    t = truth["hips"][0]
    cmd = [str(Path(sys.executable).parent / "onfh"), "measure", str(png), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.splitlines()[0])
    assert report["input"]["pixel_size_source"] == "none" and report["input"]["pixel_size_mm"] is None
    head = report["hips"][0]["head"]
    assert head["radius_mm"] is None and head["radius_px"] == pytest.approx(t["radius_px"], rel=0.02)
    assert any("pixels" in w for w in report["warnings"])
    size = truth["pixel_size_mm"]
    out = subprocess.run(cmd + ["--pixel-mm", f"{size:.6f}"], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.splitlines()[0])
    assert report["input"]["pixel_size_source"] == "user"
    assert report["hips"][0]["head"]["radius_mm"] == pytest.approx(t["radius_mm"], abs=0.3)


def test_sides_follow_patient_orientation():
    rx = Radiograph(np.zeros((100, 200)), None)
    centres, necks = [(50.0, 40.0), (50.0, 160.0)], [None, None]
    assert [s for s, _ in assign_sides(rx, centres, necks, 200)] == ["right", "left"]
    flipped = Radiograph(np.zeros((100, 200)), None, patient_orientation=("R", "F"))
    sides = assign_sides(flipped, centres, necks, 200)
    assert [s for s, _ in sides] == ["left", "right"] and "PatientOrientation R\\F" in sides[0][1]
    # one head whose neck points toward increasing column: the patient's left on a normal view
    assert assign_sides(rx, [(50.0, 100.0)], [135.0], 200)[0][0] == "left"
    assert assign_sides(flipped, [(50.0, 100.0)], [135.0], 200)[0][0] == "right"


def test_a_flipped_view_reads_its_side_from_patient_orientation():
    pixels, truth = _render("left")
    flipped = np.ascontiguousarray(pixels[:, ::-1])
    size = truth["pixel_size_mm"]
    normal = find_femoral_heads_2d(Radiograph(pixels, (size, size)))
    mirrored = find_femoral_heads_2d(Radiograph(flipped, (size, size), patient_orientation=("R", "F")))
    assert normal[0].side == "left" and mirrored[0].side == "left"


def _with_prosthesis(pixels: np.ndarray, truth: dict) -> np.ndarray:
    """A rendered hip with a metal ball, neck and stem painted in (far brighter than bone)."""
    out = pixels.astype(float).copy()
    t = truth["hips"][0]
    r0, c0 = t["center_px"]
    ball = 0.7 * t["radius_px"]
    rr, cc = np.mgrid[0:out.shape[0], 0:out.shape[1]]
    metal = np.hypot(rr - r0, cc - c0) < ball
    lateral = 1.0 if t["side"] == "left" else -1.0  # image columns run toward the patient's left
    # the neck runs 45 deg down and laterally from the ball, then the stem straight down
    for s in np.linspace(0.0, 1.6 * ball, 60):
        metal |= np.hypot(rr - (r0 + s * 0.7), cc - (c0 + lateral * s * 0.7)) < 0.22 * ball
    top = (r0 + 1.6 * ball * 0.7, c0 + lateral * 1.6 * ball * 0.7)
    metal |= (np.abs(cc - top[1]) < 0.2 * ball) & (rr > top[0]) & (rr < top[0] + 4 * ball)
    level = np.percentile(pixels, 50) + 4.0 * (np.percentile(pixels, 95) - np.percentile(pixels, 50))
    out[metal] = level
    return out


def test_prosthesis_is_found_on_a_replacement_and_not_on_the_native_hip():
    pixels, truth = _render("left")
    size = truth["pixel_size_mm"]
    assert find_prostheses(Radiograph(pixels, (size, size))) == []
    replaced = Radiograph(_with_prosthesis(pixels, truth), (size, size))
    found = find_prostheses(replaced)
    assert [p.side for p in found] == ["left"]
    report = measure_radiograph(replaced)
    assert report["prosthesis_detected"] is True
    hip = report["hips"][0]
    assert hip["prosthesis_detected"] is True and hip["head"] is None and hip["staging"]["arco_2019"] is None
    assert any("replacement" in w for w in report["warnings"])


def test_no_stage_iii_when_the_outline_fails_its_checks():
    """A collapsed head with a double contour is staged III only while its outline passes its checks."""
    from onfh_imaging.measure.radiograph import measure_head_contour
    from onfh_imaging.staging import stage_radiograph_head

    model = PelvisModel.standard("right", right={"collapse": Collapse(3.0, (-0.45, 0.0, 0.89))})
    pixels, truth = render_radiograph(model, side="right", view="AP", detector_shape=(640, 640),
                                      detector_pixel_mm=0.2, magnification=1.2, seed=3)
    size = truth["pixel_size_mm"]
    contour = find_femoral_heads_2d(Radiograph(pixels, (size, size)))[0]
    m = measure_head_contour(contour, (size, size))
    assert m.collapse_depth_mm > 1.0 and m.quality.collapse_trusted
    assert stage_radiograph_head(m)["arco_2019"].startswith("III")
    # the same measures on an outline traced over a third of its arc: the checks fail, no stage III
    from dataclasses import replace

    short = replace(contour, radii_px=np.where(np.abs(contour.angles_deg) < 60.0, contour.radii_px, np.nan))
    m_short = measure_head_contour(short, (size, size))
    assert m_short.quality.needs_review and not m_short.quality.collapse_trusted
    staging = stage_radiograph_head(m_short)
    assert not str(staging["arco_2019"]).startswith("III") and "failed its checks" in staging["arco_basis"]


def test_joint_space_narrowing_is_stage_iv_only_on_a_collapsed_head():
    """A narrowed joint space stages IV on a view showing collapse; on an intact head it is not staged IV
    (osteoarthritis has other causes than osteonecrosis) and the basis says why."""
    from dataclasses import replace

    from onfh_imaging.measure.radiograph import measure_head_contour
    from onfh_imaging.staging import stage_radiograph_head

    stages = {}
    for name, hip in (("intact", {}), ("collapsed", {"collapse": Collapse(3.0, (-0.45, 0.0, 0.89))})):
        model = PelvisModel.standard("right", right=hip)
        pixels, truth = render_radiograph(model, side="right", view="AP", detector_shape=(640, 640),
                                          detector_pixel_mm=0.2, magnification=1.2, seed=3)
        size = truth["pixel_size_mm"]
        m = measure_head_contour(find_femoral_heads_2d(Radiograph(pixels, (size, size)))[0], (size, size))
        assert m.quality.collapse_trusted
        stages[name] = stage_radiograph_head(replace(m, joint_space_width_mm=1.2))
    assert stages["collapsed"]["arco_2019"] == "IV"
    assert stages["intact"]["arco_2019"] != "IV" and "not staged IV" in stages["intact"]["arco_basis"]


@pytest.mark.skipif(not REAL.is_dir(), reason="the real radiographs in ../shared are not present")
def test_real_crops_heads_found_without_prosthesis():
    """A fixed subset of the real crops: a head on each, radius plausible, no prosthesis, no stage III."""
    from onfh_imaging.io.radiograph import read_picture

    files = sorted(REAL.glob("*_512.png"))[::33][:4]
    assert files
    for f in files:
        rx, info = read_picture(f)
        report = measure_radiograph(rx, info)
        assert report["prosthesis_detected"] is False, f.name
        hip = report["hips"][0]
        assert hip["head"] is not None, f.name
        assert 80 <= hip["head"]["radius_px"] <= 230, f.name
        assert re.search(r"_[LR]_[012]_512\.png$", f.name)

"""Radiograph phantoms, femoral head contours and radiograph measures against known truth."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.errors import InputError, OnfhError, SegmentationError
from onfh_imaging.geometry import Radiograph
from onfh_imaging.io import read_radiograph
from onfh_imaging.measure.radiograph import (
    double_contour,
    fit_reference_circle,
    neck_junction_tails,
)
from onfh_imaging.pipeline import measure_radiograph
from onfh_imaging.phantom.axes import default_dome_direction, lateral_lps
from onfh_imaging.phantom.model import Collapse, PelvisModel
from onfh_imaging.phantom.projection import ProjectionGeometry
from onfh_imaging.phantom.radiograph import render_radiograph, write_radiograph_study

TOL_MM = 0.3
SHAPE = (640, 640)


def _superolateral(side: str) -> tuple[float, float, float]:
    """A collapse direction in the coronal plane: seen in profile on the AP view."""
    v = 0.5 * lateral_lps(side) + np.array([0.0, 0.0, 1.0])
    return tuple(v / np.linalg.norm(v))


def _angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


_CACHE: dict = {}


def _render(key, model, **kw):
    if key not in _CACHE:
        _CACHE[key] = render_radiograph(model, **kw)
    return _CACHE[key]


def _rx(pixels, truth, **kw) -> Radiograph:
    size = truth["pixel_size_mm"]
    return Radiograph(pixels, (size, size), kw.pop("source", "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"),
                      view=kw.pop("view", "AP"), laterality=kw.pop("laterality", "unknown"))


# --- projection geometry -----------------------------------------------------------------------------
def test_projection_magnifies_about_the_central_ray():
    geom = ProjectionGeometry(1100.0, 180.0, 0.15, (1001, 1001), (10.0, 50.0, -20.0))
    assert geom.magnification == pytest.approx(1100.0 / 920.0)
    # a point on the object plane 12 mm to the patient's left of the central ray, 5 mm towards the head
    rc = geom.project(np.array([[22.0, 50.0, -15.0]]))[0]
    m = geom.magnification
    assert rc[1] == pytest.approx(500.0 + 12.0 * m / 0.15)  # columns run toward the patient's left
    assert rc[0] == pytest.approx(500.0 - 5.0 * m / 0.15)  # rows run toward the feet
    # a point nearer the detector is magnified less
    assert geom.magnification_at((0.0, 150.0, 0.0)) < m < geom.magnification_at((0.0, -50.0, 0.0))


def test_rendered_head_has_truth_geometry():
    model = PelvisModel.standard("right")
    pixels, truth = _render("ap_right_intact", model, side="right", detector_shape=SHAPE, detector_pixel_mm=0.2)
    hip = truth["hips"][0]
    assert pixels.shape == SHAPE and pixels.dtype == np.uint16
    assert hip["radius_px"] == pytest.approx(24.0 * truth["magnification"] / 0.2)
    assert hip["center_px"] == pytest.approx([(SHAPE[0] - 1) / 2, (SHAPE[1] - 1) / 2])
    # bone is bright: the head's centre is brighter than the soft tissue lateral to it
    r, c = (round(v) for v in hip["center_px"])
    assert pixels[r, c] > pixels[r, 20] + 300


# --- reference circle ------------------------------------------------------------------------------------
def test_reference_circle_ignores_a_depressed_arc_and_a_stray_outer_edge():
    rng = np.random.default_rng(3)
    theta = np.radians(np.arange(0.0, 260.0, 1.0))
    r = np.full(theta.shape, 24.0) + rng.normal(0.0, 0.03, theta.shape)
    r[(theta > np.radians(40)) & (theta < np.radians(80))] -= 3.0  # collapsed segment
    r[200:206] += 4.0  # the acetabular roof taken for the rim
    pts = np.column_stack([5.0 - r * np.cos(theta), 7.0 + r * np.sin(theta)])
    circle = fit_reference_circle(pts)
    assert circle.radius == pytest.approx(24.0, abs=0.02)
    assert circle.center == pytest.approx([5.0, 7.0], abs=0.02)
    assert not circle.inliers[50:70].any() and not circle.inliers[200:206].any()


def test_reference_circle_is_not_pulled_by_a_wide_deep_collapse():
    """A collapse over a quarter of the traced arc, 15 px deep: the least-median start keeps the circle
    on the intact outline (a plain least-squares start settles between the two)."""
    rng = np.random.default_rng(5)
    deg = np.arange(-33.0, 180.0, 1.0)
    r = np.full(deg.shape, 138.0) + rng.normal(0.0, 0.3, deg.shape)
    dip = (deg > 0.0) & (deg < 55.0)
    r[dip] -= 15.0 * np.sin(np.radians((deg[dip] - 0.0) * 180.0 / 55.0))
    theta = np.radians(deg)
    pts = np.column_stack([300.0 - r * np.cos(theta), 310.0 + r * np.sin(theta)])
    circle = fit_reference_circle(pts, floor=0.2)
    assert circle.radius == pytest.approx(138.0, abs=0.3)
    assert circle.center == pytest.approx([300.0, 310.0], abs=0.3)
    assert not circle.inliers[dip & (np.abs(deg - 27.0) < 20.0)].any()


def test_neck_junction_tail_is_trimmed_but_a_dome_depression_is_kept():
    """An inward run reaching the end of the articular arc (the neck's cortex crossing into the outline)
    is not a depression; a dip with intact outline on both sides of it is."""
    angles = np.arange(-180.0, 180.0, 1.0)
    neck = -83.0
    diff = np.abs((angles - neck + 180.0) % 360.0 - 180.0)
    articular = diff > 70.0
    dev = np.where(articular, 0.0, np.nan)
    tail = (diff > 70.0) & (diff <= 75.0) & (angles < neck)  # the arc's end beside the neck, inferior
    dev[tail] = -0.1 - 0.23 * (75.0 - diff[tail]) / 4.0  # deepening toward the neck
    dome = np.abs(angles - 40.0) <= 10.0  # a depression on the dome, intact on both sides
    dev[dome] = -1.0
    trimmed = neck_junction_tails(angles, dev, articular, neck, inward_limit=0.08)
    assert trimmed[tail].all() and not trimmed[dome].any()
    assert trimmed.sum() == tail.sum()
    assert not neck_junction_tails(angles, dev, articular, None, inward_limit=0.08).any()


def test_isolated_outline_fragments_are_not_measured_as_collapse():
    """Short pieces of outline isolated by gaps (another edge the trace touched) do not set the collapse
    depth; a depression traced continuously does."""
    from onfh_imaging.measure.radiograph import measure_head_contour
    from onfh_imaging.segment.xray import HeadContour2D

    angles = np.arange(-180.0, 180.0, 1.0)
    radii = np.full(angles.shape, 150.0) + np.random.default_rng(2).normal(0.0, 0.1, angles.shape)
    for lo in (-30.0, 10.0):  # 3-deg fragments 2 px inside, with 6-deg gaps on both sides
        radii[(angles >= lo - 6) & (angles < lo)] = np.nan
        radii[(angles >= lo) & (angles < lo + 3)] -= 2.0
        radii[(angles >= lo + 3) & (angles < lo + 9)] = np.nan
    dip = (angles >= 22.0) & (angles <= 42.0)  # on the weight-bearing dome
    radii[dip] -= 1.2  # a continuous 1.2 px depression: a segment sunk as a whole
    radii[np.abs(angles - 180.0 + 45.0) < 35.0] = np.nan  # the neck's gap
    contour = HeadContour2D("right", "test", (300.0, 300.0), 150.0, angles, radii, np.full(angles.shape, 10.0),
                            np.full(angles.shape, np.nan), 135.0, 0.8)
    m = measure_head_contour(contour, None)
    assert m.collapse_depth_px == pytest.approx(1.2, abs=0.2)
    assert 22.0 <= m.collapse_angle_deg <= 42.0


# --- accuracy on phantoms --------------------------------------------------------------------------------
CASES = [
    # key, side, view, collapse direction (seen in profile in that view), depth
    ("ap_right_3", "right", "AP", "superolateral", 3.0),
    ("frog_left_2", "left", "frog_lateral", "dome", 2.0),
    ("ap_left_0", "left", "AP", None, 0.0),
    ("frog_right_4", "right", "frog_lateral", "dome", 4.0),
]


@pytest.mark.parametrize("key,side,view,direction,depth", CASES, ids=[c[0] for c in CASES])
def test_radius_collapse_and_joint_space_at_015_mm(key, side, view, direction, depth):
    extra = {}
    if depth > 0:
        d = _superolateral(side) if direction == "superolateral" else default_dome_direction(side)
        extra = {"collapse": Collapse(depth, d)}
    model = PelvisModel.standard(side, **{side: extra})
    pixels, truth = _render(key, model, side=side, view=view, detector_shape=SHAPE, detector_pixel_mm=0.15,
                            magnification=1.2, seed=7)
    t = truth["hips"][0]
    report = measure_radiograph(_rx(pixels, truth, view="AP" if view == "AP" else "lateral"))
    assert [h["side"] for h in report["hips"]] == [side]
    head = report["hips"][0]["head"]
    assert head["radius_mm"] == pytest.approx(24.0, abs=TOL_MM)
    assert np.hypot(*(np.subtract(head["center_px"], t["center_px"]))) * truth["pixel_size_mm"] < TOL_MM
    assert head["collapse_depth_mm"] == pytest.approx(t["collapse_depth_mm"], abs=TOL_MM)
    assert head["max_deviation_mm"] >= head["collapse_depth_mm"]
    assert head["joint_space_width_mm"] == pytest.approx(t["joint_space_width_mm"], abs=TOL_MM)
    assert head["max_deviation_mm"] == pytest.approx(t["collapse_depth_mm"], abs=TOL_MM)
    if depth > 0:
        # the collapse is measured on the outer silhouette, which the depression moves less than its depth
        assert t["collapse_depth_mm"] < depth
        # the deepest point lies where the silhouette is deepest, and inside the reference circle
        assert _angle_error(head["collapse_angle_deg"], t["collapse_angle_deg"]) < 15.0
        loc = np.asarray(head["collapse_location_px"])
        assert np.hypot(*(loc - head["center_px"])) < head["radius_px"]
        stage = report["hips"][0]["staging"]["arco_2019"]
        if t["collapse_depth_mm"] > 2.0 + TOL_MM:
            assert stage == "IIIB"
        elif 1.0 + TOL_MM < t["collapse_depth_mm"] < 2.0 - TOL_MM:
            assert stage == "IIIA"
    else:
        assert not head["double_contour"] and head["double_contour_arc_deg"] == 0.0
        assert report["hips"][0]["staging"]["arco_2019"] is None


def test_oblique_depression_is_a_double_contour_not_a_deep_outline():
    """A dome depression seen at a slant on AP: the outline barely moves (truth 0.19 mm) while the
    depressed plate projects as an inner contour several mm inside it, reported and staged IIIA."""
    model = PelvisModel.standard("right", right={"collapse": Collapse(4.0, default_dome_direction("right"))})
    pixels, truth = _render("ap_right_oblique_4", model, side="right", detector_shape=SHAPE, detector_pixel_mm=0.15,
                            magnification=1.2, seed=14)
    t = truth["hips"][0]
    assert t["collapse_depth_mm"] < 0.3 < t["collapse_depth_section_mm"]
    report = measure_radiograph(_rx(pixels, truth))
    hip = report["hips"][0]
    head = hip["head"]
    assert head["radius_mm"] == pytest.approx(24.0, abs=TOL_MM)
    assert head["collapse_depth_mm"] == pytest.approx(t["collapse_depth_mm"], abs=TOL_MM)
    assert head["max_deviation_mm"] == pytest.approx(t["collapse_depth_mm"], abs=TOL_MM)
    assert head["double_contour"] and head["double_contour_arc_deg"] >= 10.0
    # the plate lies deeper inside the outline than the depression is deep in the central section
    assert t["collapse_depth_section_mm"] < head["double_contour_max_depth_mm"] < 4.0 + 2.0
    assert hip["staging"]["arco_2019"] == "IIIA"
    assert "subchondral fracture" in hip["staging"]["arco_basis"]
    assert any("double contour" in w and "IIIA" in w for w in hip["warnings"])


def test_double_contour_needs_an_arc_of_the_superior_surface():
    angles = np.arange(-180.0, 180.0, 1.0)
    outer = np.full(angles.shape, 200.0)
    inner = np.full(angles.shape, np.nan)
    articular = np.abs(angles) < 110.0
    inner[(angles >= 10) & (angles < 30)] = 180.0  # a 20-degree crescent, 20 px inside the rim
    inner[[12, 25]] = np.nan  # missed profiles do not split it
    inner[(angles >= 150) | (angles < -170)] = 150.0  # inside the neck: not articular
    present, arc, depth = double_contour(angles, outer, inner, articular, (0.1, 0.1))
    assert present and arc == pytest.approx(20.0, abs=1.0) and depth == pytest.approx(2.0)
    inner[:] = np.nan
    inner[(angles >= 10) & (angles < 16)] = 180.0  # 6 degrees: an edge crossing the rim, not a contour
    assert double_contour(angles, outer, inner, articular, (0.1, 0.1)) == (False, 0.0, None)


def test_pelvis_both_sides_by_position():
    model = PelvisModel.standard("both", right={"collapse": Collapse(3.0, _superolateral("right"))})
    pixels, truth = _render("pelvis", model, detector_pixel_mm=0.3, seed=2)
    report = measure_radiograph(_rx(pixels, truth))
    assert [h["side"] for h in report["hips"]] == ["right", "left"]
    by_side = {h["side"]: h["head"] for h in report["hips"]}
    t = {h["side"]: h for h in truth["hips"]}
    assert by_side["right"]["center_px"][1] < by_side["left"]["center_px"][1]  # patient's right on image left
    for side in ("right", "left"):
        assert np.hypot(*np.subtract(by_side[side]["center_px"], t[side]["center_px"])) < 3.0
        assert by_side[side]["radius_mm"] == pytest.approx(24.0, abs=TOL_MM)
    # 0.3 mm pixels: the silhouette depth (truth about 1.8 mm) within two pixels, the intact side flat
    assert by_side["right"]["collapse_depth_mm"] == pytest.approx(t["right"]["collapse_depth_mm"], abs=0.6)
    assert by_side["left"]["collapse_depth_mm"] < 0.5


# --- pixel size: calibration ball, magnification, pixels only -----------------------------------------------
def _ball_image():
    model = PelvisModel.standard("right")
    return _render("ball", model, side="right", detector_shape=(900, 900), detector_pixel_mm=0.2,
                   magnification=1.2, calibration_ball_mm=25.0, seed=3)


def test_calibration_ball_beats_a_detector_pixel_size():
    pixels, truth = _ball_image()
    # header with the detector pitch only: 20 % too large at the patient
    rx = Radiograph(pixels, (0.2, 0.2), "ImagerPixelSpacing", view="AP")
    report = measure_radiograph(rx)
    assert report["input"]["pixel_size_source"] == "calibration marker"
    assert report["input"]["pixel_size_mm"][0] == pytest.approx(truth["pixel_size_mm"], rel=0.005)
    assert report["hips"][0]["head"]["radius_mm"] == pytest.approx(24.0, abs=TOL_MM)
    assert any("calibration ball" in w for w in report["warnings"])
    ball = report["input"]["calibration_ball"]
    assert np.hypot(*np.subtract(ball["center_px"], truth["calibration_ball"]["center_px"])) < 1.0


def test_detector_pixel_size_without_ball_is_flagged():
    model = PelvisModel.standard("right")
    pixels, truth = _render("ap_right_intact", model, side="right", detector_shape=SHAPE, detector_pixel_mm=0.2)
    report = measure_radiograph(Radiograph(pixels, (0.2, 0.2), "ImagerPixelSpacing", view="AP"))
    assert report["input"]["pixel_size_source"] == "ImagerPixelSpacing"
    assert any("overestimated" in w for w in report["warnings"])
    # without the magnification, lengths come out magnified
    assert report["hips"][0]["head"]["radius_mm"] == pytest.approx(24.0 * truth["magnification"], abs=TOL_MM)


def test_head_radius_range_is_the_anatomical_one_magnified_on_a_detector_pixel_size():
    """One anatomical head range (the MRI's): a 31 mm head magnified 1.28 measures 39.7 mm on a detector-plane
    pixel size, beyond the range at the patient plus its margin, and is still found there."""
    from onfh_imaging.segment import anatomy, xray

    assert xray.HEAD_RADIUS_RANGE_MM is anatomy.HEAD_RADIUS_RANGE_MM
    model = PelvisModel.standard("right", head_radius_mm=31.0)
    pixels, truth = _render("ap_right_large_head", model, side="right", detector_shape=(720, 720),
                            detector_pixel_mm=0.25, magnification=1.28)
    assert 31.0 * 1.28 > anatomy.HEAD_RADIUS_RANGE_MM[1] + 2.0
    report = measure_radiograph(Radiograph(pixels, (0.25, 0.25), "ImagerPixelSpacing", view="AP"))
    head = report["hips"][0]["head"]
    assert head["radius_mm"] == pytest.approx(31.0 * truth["magnification"], abs=TOL_MM)


def test_uncalibrated_image_is_measured_in_pixels_and_flagged():
    model = PelvisModel.standard("right")
    pixels, truth = _render("ap_right_intact", model, side="right", detector_shape=SHAPE, detector_pixel_mm=0.2)
    report = measure_radiograph(Radiograph(pixels, None, "none", view="AP"))
    head = report["hips"][0]["head"]
    assert head["radius_mm"] is None and head["collapse_depth_mm"] is None
    assert head["radius_px"] == pytest.approx(truth["hips"][0]["radius_px"], abs=2.0)
    assert report["input"]["pixel_size_mm"] is None
    assert any("pixels" in w for w in report["warnings"])
    assert any("pixels" in w for w in report["hips"][0]["warnings"])


# --- DICOM round trip and real files ----------------------------------------------------------------------
def test_written_study_reads_back_and_measures(tmp_path):
    model = PelvisModel.standard("left", left={"collapse": Collapse(3.0, _superolateral("left"))})
    doc = write_radiograph_study(tmp_path, model, views=("AP",), detector_shape=SHAPE, detector_pixel_mm=0.2,
                                 photometric="MONOCHROME1", modality="CR", seed=5)
    rx, info = read_radiograph(tmp_path / doc["files"]["AP"])
    assert info.modality == "CR" and rx.laterality == "left"
    assert rx.pixel_size_source.startswith("ImagerPixelSpacing/")
    report = measure_radiograph(rx, info)
    t = doc["views"]["AP"]["hips"][0]
    head = report["hips"][0]["head"]
    assert report["hips"][0]["side"] == "left"
    assert head["radius_mm"] == pytest.approx(24.0, abs=TOL_MM)
    assert head["collapse_depth_mm"] == pytest.approx(t["collapse_depth_mm"], abs=TOL_MM)
    assert (tmp_path / "radiograph_truth.json").exists()


def _pydicom_images() -> list[str]:
    from pydicom.data import get_charset_files, get_testdata_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cr = [f for n in ("chrJapMulti.dcm", "chrKoreanMulti.dcm") for f in get_charset_files(n)]
        names = ("image_dfl.dcm", "SC_rgb.dcm", "MR_small.dcm", "CT_small.dcm", "JPEG2000.dcm", "SC_rgb_jpeg.dcm")
        return cr + [f for n in names for f in get_testdata_files(n)]


@pytest.mark.parametrize("path", _pydicom_images(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_real_dicom_files_are_measured_or_refused_clearly(path):
    try:
        rx, info = read_radiograph(path)
    except InputError:
        return  # refused by the reader with a reason
    try:
        report = measure_radiograph(rx, info)
    except SegmentationError as exc:
        assert "no femoral head found" in str(exc)
        return
    except OnfhError as exc:  # pragma: no cover - any other refusal must still say why
        assert str(exc)
        return
    assert report["schema"] == "onfh-imaging/measurement/1"


def test_header_only_cr_file_is_refused_by_the_reader():
    """pydicom's CR charset sample has a CR header (32 x 32, 0.15 mm) but no pixel data."""
    from pydicom.data import get_charset_files

    from onfh_imaging.errors import NoPixelDataError

    with pytest.raises(NoPixelDataError, match="without pixel data"):
        read_radiograph(get_charset_files("chrJapMulti.dcm")[0])


def test_image_smaller_than_a_head_is_refused():
    rx = Radiograph(np.random.default_rng(1).normal(size=(32, 32)), (0.15, 0.15), "ImagerPixelSpacing")
    with pytest.raises(SegmentationError, match="no femoral head found.*smaller than a femoral head"):
        measure_radiograph(rx)


def test_uniform_and_noise_images_have_no_head():
    rng = np.random.default_rng(0)
    with pytest.raises(SegmentationError, match="no femoral head found"):
        measure_radiograph(Radiograph(rng.normal(100.0, 5.0, (600, 600)), (0.15, 0.15), "PixelSpacing"))
    with pytest.raises(SegmentationError):
        measure_radiograph(Radiograph(np.full((600, 600), 7.0), (0.15, 0.15), "PixelSpacing"))


# --- hip replacements --------------------------------------------------------------------------------
REAL_XRAY = Path(__file__).resolve().parents[1].parent / "shared" / "real-xray" / "images"


def _labelmap_replacement(prosthesis: bool):
    from onfh_imaging.phantom.labelmap import radiograph as lm_xray
    from onfh_imaging.phantom.labelmap.study import LabelmapSpec

    key = ("labelmap_replacement", prosthesis)
    if key not in _CACHE:
        spec = lm_xray.RadiographSpec(LabelmapSpec(hips="right", seed=5), side="right", detector_pixel_mm=0.4,
                                      shape=(260, 260), volume_step_mm=1.0, offset_mm=(0.0, -15.0),
                                      prosthesis=prosthesis)
        _CACHE[key] = lm_xray.render_radiograph(spec)
    return _CACHE[key]


def _windows(img: np.ndarray) -> dict[str, np.ndarray]:
    """The picture as rendered, under a window that saturates its brightest 15 and 30 %, and as an
    8-bit export clipped at the 90th percentile: monotonic displays of one exposure."""
    lo, hi = np.percentile(img, [1.0, 90.0])
    return {"rendered": img, "clipped_15pct": np.minimum(img, np.percentile(img, 85.0)),
            "clipped_30pct": np.minimum(img, np.percentile(img, 70.0)),
            "8bit": np.rint(255.0 * np.clip((img - lo) / (hi - lo), 0.0, 1.0))}


def test_prosthesis_found_under_any_window_and_never_on_the_native_hip():
    """Second phantom family: a cobalt-chrome ball and cup on a titanium stem, scatter-limited behind the
    metal, is found as rendered and when a window saturates it; the same hip without the implant is not
    a replacement, even when the window saturates its bone."""
    from onfh_imaging.segment.xray_prosthesis import find_prostheses

    for prosthesis in (True, False):
        pixels, truth = _labelmap_replacement(prosthesis)
        size = truth["pixel_size_mm"]
        for name, img in _windows(pixels.astype(float)).items():
            for px in ((size, size), None):
                found = find_prostheses(Radiograph(img, px, laterality="right"))
                assert [p.side for p in found] == (["right"] if prosthesis else []), (prosthesis, name, px)
                if prosthesis:
                    r0, c0 = truth["hips"][0]["center_px"]
                    # the widest disc of ball and cup lies at the hip (toward the cup's pole from the head centre)
                    assert np.hypot(found[0].ball_center_px[0] - r0, found[0].ball_center_px[1] - c0) < \
                        truth["hips"][0]["radius_px"]


@pytest.mark.skipif(not REAL_XRAY.is_dir(), reason="../shared/real-xray is not present")
def test_no_prosthesis_on_real_native_hips():
    """The real crops are native hips (normal and osteonecrosis classes): no replacement on any."""
    from onfh_imaging.io.radiograph import read_picture
    from onfh_imaging.segment.xray_prosthesis import find_prostheses

    files = sorted(REAL_XRAY.glob("*.png"))
    assert files
    found = [f.name for f in files if find_prostheses(read_picture(f)[0])]
    assert found == []


def test_a_picture_with_a_calibration_ball_is_measured_in_mm_and_not_warned_as_pixels(tmp_path):
    """A PNG has no pixel size, but a calibration ball in it gives one: no 'measured in pixels' warning."""
    from PIL import Image

    from onfh_imaging.pipeline import measure_picture_file

    pixels, truth = _ball_image()
    lo, hi = np.percentile(pixels, [0.5, 99.5])
    Image.fromarray(np.clip((pixels - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)).save(tmp_path / "ball.png")
    report = measure_picture_file(tmp_path / "ball.png").to_json()
    assert report["input"]["pixel_size_source"] == "calibration marker"
    assert report["hips"][0]["head"]["radius_mm"] == pytest.approx(24.0, abs=0.3)
    assert not any("measured in pixels" in w for w in report["warnings"])


# --- the rim's evidence pooled along the outline ------------------------------------------------------
def _falls(rng, n=360, edge=None, level=3.0):
    """Per-ray falls of a path: texture-like null (correlated over 3 rays) plus an edge of ``level`` where ``edge``."""
    null = np.convolve(rng.normal(size=n + 2), np.ones(3) / np.sqrt(3), mode="valid") * 0.7 + 1.6
    return null + (level * edge if edge is not None else 0.0)


def test_pooled_rim_traces_a_faint_continuous_edge_and_not_texture():
    from onfh_imaging.segment.xray_rim import pooled_rim

    rng = np.random.default_rng(3)
    angles = np.arange(360)
    edge = (np.abs(angles - 180) > 45).astype(float)  # the rim everywhere but a 90-ray gap (the neck)
    fall = _falls(rng, edge=edge, level=2.0)  # 2 null SDs above texture per ray on average: 3-4 SD edges
    null = _falls(rng)
    everywhere = np.ones(360, dtype=bool)
    traced = pooled_rim(fall, null, everywhere, everywhere, arc_per_ray_mm=0.42)
    assert traced[edge > 0].mean() > 0.85  # a per-ray test at 4 SD keeps under a third of them
    assert (fall[edge > 0] > 4.0).mean() < 0.35
    # the gap is not bridged by more than half a pooled arc (3 mm / 0.42 mm per ray / 2) at either end
    assert not traced[(np.abs(angles - 180) < 45 - 4)].any()
    # texture alone: an honest false-trace share, not a traced outline
    false = np.mean([pooled_rim(_falls(np.random.default_rng(s)), _falls(np.random.default_rng(100 + s)),
                                everywhere, everywhere, 0.42).mean() for s in range(20)])
    assert false < 0.01


def test_pooled_rim_needs_a_null_inside_the_image():
    from onfh_imaging.segment.xray_rim import pooled_rim

    rng = np.random.default_rng(4)
    fall = _falls(rng, edge=np.ones(360), level=3.0)
    outside = np.zeros(360, dtype=bool)
    outside[:60] = True  # the interior path mostly off the image: no null, nothing pooled
    assert not pooled_rim(fall, _falls(rng), outside, np.ones(360, dtype=bool), 0.42).any()


@pytest.mark.parametrize("depth", [2.0, 0.0])
def test_dome_of_a_noisy_view_is_traced_and_its_collapse_read(depth):
    """2000 photons per pixel with 30 % scatter: the frog-leg rim stands 3-4 noise SDs above the texture on
    each ray, so a per-ray test keeps none of the dome; pooled along the outline it is traced, and the collapse
    seen in profile is read within the bar (an intact head reads no collapse above it)."""
    extra = {"collapse": Collapse(depth, default_dome_direction("left"))} if depth else {}
    model = PelvisModel.standard("left", left=extra)
    pixels, truth = _render(f"frog_left_noisy_{depth:g}", model, side="left", view="frog_lateral",
                            detector_shape=SHAPE, detector_pixel_mm=0.15, magnification=1.2, seed=7,
                            photons_per_pixel=2000.0, scatter_fraction=0.3)
    t = truth["hips"][0]
    hip = measure_radiograph(_rx(pixels, truth, view="lateral"))["hips"][0]
    head = hip["head"]
    assert head["radius_mm"] == pytest.approx(24.0, abs=TOL_MM)
    assert head["dome_traced"] >= 0.6
    assert head["collapse_depth_mm"] == pytest.approx(t["collapse_depth_mm"], abs=TOL_MM)
    if depth == 0.0:
        assert not str(hip["staging"]["arco_2019"] or "").startswith("III")

"""Collapse depth over the weight-bearing dome and the Mose deviation over the articular arc of a radiograph
head: sustained departures of the traced outline, against known truth (synthetic outlines, rendered phantoms)
and, where the public real crops are present, how they differ between their classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.measure.radiograph import measure_head_contour
from onfh_imaging.measure.radiograph_outline import (
    DOME_HALF_ARC_DEG,
    MIN_DEPARTURE_ARC_DEG,
    MOSE_HALF_ARC_DEG,
    sustained_departure,
)
from onfh_imaging.segment.xray import TYPICAL_HEAD_RADIUS_MM, HeadContour2D

ANGLES = np.arange(-180.0, 180.0, 1.0)
RADIUS_PX = 150.0
NECK_DEG = 135.0  # inferolateral, as on an AP view of a hip shown on the image's left


def _outline(noise_px: float = 0.3, seed: int = 0) -> np.ndarray:
    """A round outline of ``RADIUS_PX`` with edge noise, the neck's gap cut out."""
    radii = RADIUS_PX + np.random.default_rng(seed).normal(0.0, noise_px, ANGLES.shape)
    radii[np.abs((ANGLES - NECK_DEG + 180.0) % 360.0 - 180.0) < 40.0] = np.nan
    return radii


def _contour(radii: np.ndarray) -> HeadContour2D:
    return HeadContour2D("left", "test", (300.0, 300.0), RADIUS_PX, ANGLES, radii, np.full(ANGLES.shape, 10.0),
                         np.full(ANGLES.shape, np.nan), NECK_DEG, 0.8)


def _near(centre: float, half: float) -> np.ndarray:
    return np.abs((ANGLES - centre + 180.0) % 360.0 - 180.0) <= half


def test_a_wander_over_a_few_rays_is_not_collapse_but_a_sunk_segment_is():
    """A 6 px inward step of the trace over 4 rays on the dome (a trabecular line it stepped onto) reads no
    collapse; a segment sunk 2 px with a flat floor over 20 deg reads its depth."""
    radii = _outline()
    radii[_near(10.0, 1.5)] -= 6.0
    m = measure_head_contour(_contour(radii), None)
    assert m.collapse_depth_px < 0.5 and m.max_deviation_px < 0.5
    sunk = _outline()
    floor, wall = _near(15.0, 10.0), _near(15.0, 16.0) & ~_near(15.0, 10.0)
    sunk[floor] -= 2.0
    sunk[wall] -= 1.0
    m = measure_head_contour(_contour(sunk), None)
    assert m.collapse_depth_px == pytest.approx(2.0, abs=0.4)
    assert abs(m.collapse_angle_deg - 15.0) <= 10.0
    assert m.max_deviation_px >= m.collapse_depth_px
    assert m.quality.collapse_trusted and m.dome_traced > 0.9


def test_departures_off_the_dome_are_not_collapse():
    """A sunk segment lateral to the dome and a pit where the fovea lies (below the medial pole) do
    not count as collapse; the lateral one, inside the articular arc seen in profile, counts in Mose."""
    radii = _outline()
    radii[_near(54.0, 8.0)] -= 3.0  # superolateral, beyond the dome, short of the neck's junction
    radii[_near(-125.0, 10.0)] -= 5.0  # the fovea capitis
    m = measure_head_contour(_contour(radii), None)
    assert DOME_HALF_ARC_DEG < 54.0 - 8.0 < MOSE_HALF_ARC_DEG < 125.0 - 10.0
    assert m.collapse_depth_px < 0.5
    assert m.max_deviation_px == pytest.approx(3.0, abs=0.4)


def test_a_depression_is_read_only_where_the_outline_is_traced():
    """Rays the outline was not traced on are not read, whatever lies across them: a short inward piece
    beside a gap is not a depression, and a dome traced on too little of its arc gives no collapse depth
    (one could lie in the gap) and fails the dome check, which withholds stage III."""
    radii = _outline()
    radii[_near(10.0, 14.0)] = np.nan  # the middle of the dome untraced
    radii[_near(-10.0, 3.0)] -= 3.0  # a short inward piece beside the gap
    m = measure_head_contour(_contour(radii), None)
    assert 0.6 <= m.dome_traced and m.collapse_depth_px < 0.5
    radii[_near(5.0, 25.0)] = np.nan
    m = measure_head_contour(_contour(radii), None)
    assert m.dome_traced < 0.6 and m.collapse_depth_px is None and m.collapse_angle_deg is None
    assert not m.quality.collapse_trusted and any("weight-bearing dome" in r for r in m.quality.reasons)
    assert m.max_deviation_px is not None  # the articular arc is still read


def test_sustained_departure_holds_over_the_minimum_arc():
    """The depth read is the one the outline holds over every traced ray of the arc."""
    dev = np.zeros(ANGLES.shape)
    width = int(MIN_DEPARTURE_ARC_DEG)
    dev[:width + 1] = -1.0
    dev[3] = -4.0  # one ray deeper
    depth, ray = sustained_departure(ANGLES, dev, np.ones(ANGLES.shape, dtype=bool))
    assert depth == pytest.approx(1.0) and ray == 3
    short = np.zeros(ANGLES.shape)
    short[: width - 3] = -1.0
    assert sustained_departure(ANGLES, short, np.ones(ANGLES.shape, dtype=bool))[0] == 0.0
    assert np.isnan(sustained_departure(ANGLES, np.full(ANGLES.shape, np.nan), np.ones(ANGLES.shape, dtype=bool))[0])


def _flattened(noise_px: float, seed: int, depth_px: float = 2.0, half_deg: float = 30.0) -> np.ndarray:
    """A round outline whose dome is sunk ``depth_px`` over ``half_deg`` either side of superior, with walls."""
    radii = _outline(noise_px, seed)
    floor = _near(0.0, half_deg)
    radii[floor] -= depth_px
    radii[_near(0.0, half_deg + 6.0) & ~floor] -= depth_px / 2.0
    return radii


def test_a_flattened_dome_is_read_against_the_intact_rim_not_the_circle_it_pulls():
    """A dome sunk 2 px over 60 deg, shallower than the whole outline's fit trims: the circle fitted to the whole
    outline is pulled onto it and reads well under the truth (the collapse depth as staged), the circle of the rim
    outside the dome reads it within 0.35 px."""
    for seed in range(4):
        m = measure_head_contour(_contour(_flattened(0.7, seed)), None)
        assert m.rim_collapse_depth_px == pytest.approx(2.0, abs=0.35)
        assert m.collapse_depth_px < 1.2  # the pulled circle
        assert m.intact_rim_traced > 0.9 and m.dome_reference_sd_px < 0.01 * RADIUS_PX
    m = measure_head_contour(_contour(_outline(0.7, 5)), None)  # intact: neither reads a departure
    assert m.rim_collapse_depth_px < 0.5 and m.collapse_depth_px < 0.5


def test_no_departure_is_read_against_an_intact_rim_traced_too_little_or_onto_another_edge():
    """A rim outside the dome traced over too little of its arc, or traced onto another edge (a circle 12 % smaller
    there: the teardrop's or the fossa's line), gives no departure from the rim's circle; the collapse depth from
    the whole outline's circle is still read."""
    short = _flattened(0.5, 1)
    short[~_near(0.0, 60.0)] = np.nan  # the dome and a little either side: the rest untraced
    off = _flattened(0.5, 2)
    off[_near(-100.0, 50.0)] -= 0.12 * RADIUS_PX
    for radii in (short, off):
        m = measure_head_contour(_contour(radii), None)
        assert m.rim_collapse_depth_px is None and m.max_deviation_px is not None
    assert measure_head_contour(_contour(off), None).collapse_depth_px is not None


def _switched(noise_px: float, seed: int, lateral_end_deg: float, depth_px: float = 8.0) -> np.ndarray:
    """A round outline whose trace, from ``lateral_end_deg`` medially to the dome's end and beyond, has left the head
    for a second edge concentric with it ``depth_px`` inside (the acetabular fossa's edge under the teardrop): an
    abrupt step onto it between neighbouring rays, and no return onto the rim before a gap of 20 deg."""
    radii = _outline(noise_px, seed)
    on_edge = _near((lateral_end_deg - 65.0) / 2.0, (lateral_end_deg + 65.0) / 2.0)  # -65 deg .. lateral_end_deg
    radii[on_edge] -= depth_px
    radii[_near(-75.0, 10.0) & ~on_edge] = np.nan
    return radii


def test_a_dome_end_on_a_second_concentric_edge_is_not_read_as_collapse_but_a_sunk_dome_is():
    """The trace leaving the head at the dome's medial end for a concentric edge 8 px inside is not read as an 8 px
    collapse: over 40 deg of the dome (44 %) no collapse is read and the dome check says why; over 15 deg the
    collapse is read on the rest of the dome (below 0.5 px) with a warning. A dome sunk as deep (8 px, walls of
    4 deg either side, continuous with the rim) is read within 0.5 px of its depth."""
    for seed in range(3):
        m = measure_head_contour(_contour(_switched(0.5, seed, -5.0)), None)
        assert m.collapse_depth_px is None and not m.quality.collapse_trusted
        assert any("left the head's outline" in r for r in m.quality.reasons)
        m = measure_head_contour(_contour(_switched(0.5, seed, -30.0)), None)
        assert m.collapse_depth_px is not None and m.collapse_depth_px < 0.5 and m.max_deviation_px < 0.5
        assert any("left the head's outline" in w for w in m.warnings)
        sunk = _outline(0.5, seed)
        floor = _near(10.0, 20.0)
        sunk[floor] -= 8.0
        for k in range(1, 5):  # the walls: 1.6 px a degree, 0.4 of the wall a collapse can make at this radius
            sunk[_near(10.0 - 20.0 - k, 0.5) | _near(10.0 + 20.0 + k, 0.5)] -= 8.0 * (1.0 - k / 5.0)
        m = measure_head_contour(_contour(sunk), None)
        assert m.collapse_depth_px == pytest.approx(8.0, abs=0.5) and m.dome_traced > 0.9
        assert not any("left the head's outline" in w for w in m.warnings)


def test_an_excursion_is_detached_only_where_it_does_not_return_continuously_onto_the_rim():
    """:func:`detached_excursions` on deviations: a depression with walls back onto the circle is the head's, one that
    steps onto its floor faster than a collapsed segment's wall rises, or runs into a long gap beyond the dome, is
    not."""
    from onfh_imaging.measure.radiograph_outline import WALL_SLOPE, detached_excursions

    wall_per_ray = WALL_SLOPE * RADIUS_PX * np.radians(1.0)
    dev = np.zeros(ANGLES.shape)
    dev[_near(0.0, 10.0)] = -6.0
    dev[_near(-11.5, 1.0) | _near(11.5, 1.0)] = -3.0  # walls of 3 px a ray: within a wall's rise
    assert 3.0 < wall_per_ray and not detached_excursions(ANGLES, dev, RADIUS_PX).any()
    steep = np.zeros(ANGLES.shape)
    steep[_near(0.0, 10.0)] = -1.5 * wall_per_ray  # one step onto the floor, 1.5 walls' rise
    assert detached_excursions(ANGLES, steep, RADIUS_PX)[_near(0.0, 10.0)].all()
    gap = dev.copy()
    gap[_near(20.0, 7.0)] = np.nan  # the lateral wall's return unseen over 14 deg
    gap[_near(0.0, 12.5) & (ANGLES > 0)] = -6.0
    off = detached_excursions(ANGLES, gap, RADIUS_PX)
    assert off[_near(0.0, 10.0)].all() and not off[_near(90.0, 60.0)].any()
    # over the dome a gap hides the return without showing another edge: kept; running on beyond it, not
    assert not detached_excursions(ANGLES, gap, RADIUS_PX, open_within=_near(0.0, 45.0)).any()
    assert detached_excursions(ANGLES, gap, RADIUS_PX, open_within=_near(0.0, 8.0))[_near(0.0, 10.0)].all()


def test_the_reference_circle_is_known_across_the_dome_as_its_fit_says():
    """The radial SD :func:`radial_sd` gives across from a 130 deg arc (where the dome lies from the rim) matches
    the scatter of the fitted circle's edge there over repeated noisy arcs, within 20 %."""
    from onfh_imaging.measure.radiograph_circle import fit_reference_circle, radial_sd

    arc = np.radians(np.arange(45.0, 175.0, 1.0))
    rng = np.random.default_rng(3)
    edges, predicted = [], []
    for _ in range(300):
        r = 150.0 + rng.normal(0.0, 1.0, arc.shape)
        pts = np.column_stack([-r * np.cos(arc), r * np.sin(arc)])
        circle = fit_reference_circle(pts, inward_k=1e9, outward_k=1e9)
        u = np.array([-np.cos(0.0), np.sin(0.0)])  # image-up, 45-175 deg from the arc
        edges.append(circle.radius + u @ circle.center)  # the edge along u
        predicted.append(radial_sd(pts, circle, np.array([0.0]))[0])
    assert np.std(edges) == pytest.approx(np.median(predicted), rel=0.2)
    assert np.median(predicted) > 3.0 * 1.0 / np.sqrt(len(arc))  # extrapolated: far worse than along the arc


# --- rendered views of the label-map phantom family (trabecular texture, quantum noise, scatter) ---------------
def _labelmap_view(name: str, tmp_path) -> tuple[dict, dict]:
    """The head measured on one view of the label-map radiograph grid, and its truth."""
    from onfh_imaging.phantom.labelmap.radiograph import write_labelmap_radiograph, xray_grid
    from onfh_imaging.pipeline import measure_path

    spec = dict(xray_grid())[name]
    truth = write_labelmap_radiograph(tmp_path / f"{name}.dcm", spec)["hips"][0]
    report = measure_path(tmp_path / f"{name}.dcm")[0].to_json()
    hip = min(report["hips"], key=lambda h: np.hypot(*(np.asarray(h["head"]["center_px"]) - truth["center_px"])))
    return hip, truth


def _analytic_view(depth_mm: float, seed: int) -> tuple[dict, dict]:
    """The head measured on an AP view of the analytic phantom (quantum noise, 0.15 mm detector pixels) with a
    superolateral collapse of ``depth_mm`` (none at 0), and its truth."""
    from onfh_imaging.geometry import Radiograph
    from onfh_imaging.phantom.axes import lateral_lps
    from onfh_imaging.phantom.model import Collapse, PelvisModel
    from onfh_imaging.phantom.radiograph import render_radiograph
    from onfh_imaging.pipeline import measure_radiograph

    direction = 0.5 * lateral_lps("right") + np.array([0.0, 0.0, 1.0])
    extra = {"collapse": Collapse(depth_mm, tuple(direction / np.linalg.norm(direction)))} if depth_mm else {}
    pixels, truth = render_radiograph(PelvisModel.standard("right", right=extra), side="right", view="AP",
                                      detector_shape=(640, 640), detector_pixel_mm=0.15, magnification=1.2, seed=seed)
    size = truth["pixel_size_mm"]
    rx = Radiograph(pixels, (size, size), "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor", view="AP")
    return measure_radiograph(rx)["hips"][0], truth["hips"][0]


def test_an_intact_head_reads_no_collapse_and_a_collapsed_one_its_depth():
    """Quantum noise on an intact head reads collapse and Mose deviation below the detection limit, with no
    stage III; a 3 mm collapse seen in profile reads the silhouette's depth within 0.3 mm."""
    from onfh_imaging.staging import COLLAPSE_DETECTION_MM

    hip, truth = _analytic_view(0.0, seed=11)
    head = hip["head"]
    assert truth["collapse_depth_mm"] == 0.0 and head["dome_traced"] >= 0.6
    assert head["collapse_depth_mm"] < COLLAPSE_DETECTION_MM and head["max_deviation_mm"] < COLLAPSE_DETECTION_MM
    assert not str(hip["staging"]["arco_2019"]).startswith("III")
    hip, truth = _analytic_view(3.0, seed=12)
    assert hip["head"]["collapse_depth_mm"] == pytest.approx(truth["collapse_depth_mm"], abs=0.3)
    assert abs((hip["head"]["collapse_angle_deg"] - truth["collapse_angle_deg"] + 180.0) % 360.0 - 180.0) < 15.0


def test_a_textured_head_is_never_staged_iii_and_its_collapse_is_read_where_its_dome_is_traced(tmp_path):
    """Label-map views (trabecular texture, quantum noise, scatter; never used to choose the arcs): an intact
    AP head is not staged III, and reads no collapse above the detection limit, or none at all when its dome
    is traced too little to read; a frog-leg view of a 3 mm collapse reads the silhouette depth within 0.3 mm."""
    from onfh_imaging.staging import COLLAPSE_DETECTION_MM

    hip, truth = _labelmap_view("xr08", tmp_path)
    head = hip["head"]
    assert truth["collapse_depth_mm"] == 0.0 and not str(hip["staging"]["arco_2019"]).startswith("III")
    if head["dome_traced"] >= 0.6:
        assert head["collapse_depth_mm"] < COLLAPSE_DETECTION_MM
    else:
        assert head["collapse_depth_mm"] is None and hip["quality"]["needs_review"]
    hip, truth = _labelmap_view("xr01", tmp_path)
    assert truth["collapse_depth_mm"] > 2.0
    assert hip["head"]["collapse_depth_mm"] == pytest.approx(truth["collapse_depth_mm"], abs=0.3)
    assert hip["head"]["max_deviation_mm"] >= hip["head"]["collapse_depth_mm"]


# --- the public real crops (skipped where they are absent) -------------------------------------------------------
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-xray" / "images"


@pytest.mark.skipif(not REAL.is_dir(), reason="the real radiographs in ../shared are not present")
def test_normal_real_hips_read_no_collapse_and_a_round_articular_outline():
    """A fixed fifth of the normal real crops (class 0): the median collapse depth over the dome and the median
    Mose deviation read below the collapse detection limit on an adult head (0.5 mm of a 24 mm radius, 2.1 %
    of the radius; the largest departure of any one ray over the whole outline reads about 5 % of it)."""
    from onfh_imaging.io.radiograph import read_picture
    from onfh_imaging.pipeline import measure_radiograph
    from onfh_imaging.staging import COLLAPSE_DETECTION_MM

    limit = COLLAPSE_DETECTION_MM / TYPICAL_HEAD_RADIUS_MM
    collapse, mose = [], []
    for f in sorted(REAL.glob("*_0_512.png"))[::5]:
        hips = [h for h in measure_radiograph(*read_picture(f))["hips"] if h.get("head")]
        if not hips:
            continue
        head = hips[0]["head"]
        assert not str(hips[0]["staging"]["arco_2019"]).startswith("III"), f.name
        if head["collapse_depth_px"] is not None:
            collapse.append(head["collapse_depth_px"] / head["radius_px"])
        if head["max_deviation_px"] is not None:
            mose.append(head["max_deviation_px"] / head["radius_px"])
    assert len(collapse) >= 6 and len(mose) >= 10
    assert np.median(collapse) < limit and np.median(mose) < limit

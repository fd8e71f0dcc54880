"""The reading session without a screen: edits anywhere measured, one decision per hip, failed hips refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.measure.hip import measure_hip
from onfh_imaging.reading import (
    FRACTION_MARGIN_VOXELS,
    MR_ROWS,
    RADIOGRAPH_ROWS,
    HipDecision,
    ReadingSession,
    measure_value,
    measured_masks,
)
from onfh_imaging.reads import HEAD, LESION, NOT_ASSESSABLE, ReadStore, mask_name, mask_sha256


@pytest.fixture(scope="module")
def sample_study(tmp_path_factory):
    """The plugin's sample study (both hips: right large lesion with 2.5 mm collapse, left small lesion)."""
    from onfh_imaging.io import read_series
    from onfh_imaging.phantom import HipSpec, PhantomSpec, write_phantom_study

    folder = tmp_path_factory.mktemp("phantom")
    spec = PhantomSpec(hips="both", right=HipSpec(collapse_mm=2.5, lesion="large"), left=HipSpec(lesion="small"),
                       n_slices=20, seed=3)
    truth = write_phantom_study(folder, spec)
    t1 = next(p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.upper().startswith("T1"))
    return read_series(t1), truth


@pytest.fixture(scope="module")
def segmented(sample_study):
    series, _ = sample_study
    session = ReadingSession(series.volume, series.info)
    return session.compute()


def _session(sample_study, segmented) -> ReadingSession:
    """A fresh session on the automatic result (labels copied, so each test edits its own)."""
    from dataclasses import replace

    series, _ = sample_study
    session = ReadingSession(series.volume, series.info)
    session.load(replace(segmented, hips=[replace(h, labels={}, current=None, error=None, measures=None)
                                          for h in segmented.hips]))
    return session


def test_fractions_kept_where_labels_agree_and_edits_beyond_the_box_share_one_grid():
    grid = Volume(np.zeros((10, 30, 30), bool), spacing=(0.8, 0.8, 3.0), origin=(5.0, -3.0, 12.0))
    k, j, i = np.mgrid[:10, :30, :30]
    fraction_full = np.clip(6.0 - np.sqrt((i - 10) ** 2 + (j - 10) ** 2 + (3 * (k - 4)) ** 2), 0, 1)
    automatic = grid.with_array(fraction_full >= 0.5)
    fraction = grid.with_array(fraction_full.astype(np.float32)).crop((2, 2, 0), (19, 19, 9))
    assert fraction.offset_in(grid) == (2, 2, 0)
    labels = np.asarray(automatic.array, np.uint8).copy()
    labels[8, 26:28, 26:28] = 1  # painted far outside the fraction's box
    lesion = np.zeros_like(labels)
    lesion[4, 9:12, 9:12] = 1
    out = measured_masks({HEAD: labels, LESION: lesion}, {HEAD: automatic, LESION: grid},
                         {HEAD: fraction, LESION: None})
    assert out[HEAD].same_grid(out[LESION])
    assert out[HEAD].offset_in(grid) == (2, 2, 0)
    assert out[HEAD].shape == (10, 28, 28)  # grown to the painted voxels and their margin (to the image's edge)
    head = out[HEAD].array
    # unchanged voxels keep their sub-voxel fraction, painted ones count 1
    assert head[4, 10, 13] == pytest.approx(fraction_full[4, 12, 15]) and 0.5 < head[4, 10, 13] < 1
    assert head[8, 24, 24] == 1.0
    assert out[LESION].array.sum() == 9
    # an untouched mask measures on the fraction's box widened by the margin only
    small = measured_masks({HEAD: np.asarray(automatic.array, np.uint8)}, {HEAD: automatic}, {HEAD: fraction})
    assert small[HEAD].offset_in(grid) == (2, 2, 0)
    assert small[HEAD].array.sum() == pytest.approx(fraction.array.sum(), rel=1e-6)
    assert FRACTION_MARGIN_VOXELS >= 1


def test_a_painted_and_an_erased_voxel_against_the_fraction_kept_around_the_head():
    full = Volume(np.array([[[0.0, 0.2, 0.6, 1.0, 0.7, 0.0]]], np.float32), spacing=(1, 1, 1))
    automatic = full.with_array(full.array >= 0.5)
    fraction = full.crop((1, 0, 0), (5, 1, 1))  # what segmentation keeps
    labels = np.array([[[0, 1, 1, 0, 1, 0]]], np.uint8)  # painted voxel 1, erased voxel 3
    (measured,) = measured_masks({HEAD: labels}, {HEAD: automatic}, {HEAD: fraction}).values()
    assert measured.same_grid(full)  # the fraction's box and the labels' margin cover this small grid
    assert np.allclose(measured.array, [[[0.0, 1.0, 0.6, 0.0, 0.7, 0.0]]])
    (binary,) = measured_masks({HEAD: labels}, {HEAD: automatic}, {HEAD: None}).values()
    assert np.array_equal(binary.array, labels.astype(np.float32))


def test_paint_beyond_the_automatic_box_in_head_and_lesion_is_measured(sample_study, segmented):
    session = _session(sample_study, segmented)
    volume = session.image
    hip = max(session.hips, key=lambda h: measure_value(h.automatic, "lesion", "volume_ml") or 0)
    before = hip.current
    head_box = hip.fractions[HEAD]
    i0, j0, k0 = head_box.offset_in(volume)
    # extend the head along its neck, well beyond the automatic box, and put lesion there too
    points = volume.voxel_centers_lps().reshape(-1, 3)
    axis = hip.neck_axis_lps / np.linalg.norm(hip.neck_axis_lps)
    rel = points - hip.center_lps
    along = rel @ axis
    off_axis = np.linalg.norm(rel - along[:, None] * axis, axis=1)
    neck = ((off_axis <= 8.0) & (along > 0.5 * hip.radius_mm) & (along < 1.6 * hip.radius_mm)).reshape(volume.shape)
    inside = np.zeros(volume.shape, bool)
    inside[k0:k0 + head_box.shape[0], j0:j0 + head_box.shape[1], i0:i0 + head_box.shape[2]] = True
    assert (neck & ~inside).sum() > 20, "the painted neck must reach beyond the automatic box"
    hip.labels[HEAD][neck] = 1
    lesion_paint = neck & ~inside & (along > 1.3 * hip.radius_mm).reshape(volume.shape)
    hip.labels[LESION][lesion_paint] = 1
    session.remeasure()
    assert hip.current is not None, hip.error
    assert hip.edited
    assert session.table(hip.side)[0][2] != "-"
    # measuring the labels as drawn (binary) agrees with the session's fractional measure
    direct = measure_hip(volume.with_array(hip.labels[HEAD] != 0), volume.with_array(hip.labels[LESION] != 0),
                         side=hip.side, neck_axis_lps=hip.neck_axis_lps).to_dict()
    for section, key, rel_tol in (("head", "volume_ml", 0.05), ("lesion", "volume_ml", 0.1)):
        assert measure_value(hip.current, section, key) == pytest.approx(measure_value(direct, section, key),
                                                                         rel=rel_tol)
    added_ml = lesion_paint.sum() * volume.voxel_volume_ml
    gained = measure_value(hip.current, "lesion", "volume_ml") - measure_value(before, "lesion", "volume_ml")
    assert gained == pytest.approx(added_ml, rel=0.15)
    assert hip.automatic == before  # the automatic read is kept as it was


def test_undo_gives_back_the_automatic_measures(sample_study, segmented):
    session = _session(sample_study, segmented)
    hip = session.hips[0]
    original = hip.labels[LESION].copy()
    free = np.argwhere((hip.labels[HEAD] > 0) & (hip.labels[LESION] == 0))
    hip.labels[LESION][tuple(free[: len(free) // 4].T)] = 1
    session.remeasure()
    assert measure_value(hip.current, "lesion", "volume_ml") != measure_value(hip.automatic, "lesion", "volume_ml")
    hip.labels[LESION][...] = original
    assert session.jobs() == []  # back to the automatic masks: no measuring needed
    assert hip.current == hip.automatic and not hip.edited and hip.measures is hip.automatic_measures


def test_two_hips_two_stages_read_back_from_the_store(sample_study, segmented, tmp_path):
    session = _session(sample_study, segmented)
    assert [h.side for h in session.hips] == ["right", "left"]
    store = ReadStore(tmp_path / "reads.sqlite")
    with pytest.raises(InputError, match="left hip has no decision"):
        session.confirm(store, reader="AB", decisions={"right": HipDecision("IIIB")})
    assert len(store) == 0
    record = session.confirm(store, reader="AB", decisions={"right": HipDecision("IIIB", comment="crescent"),
                                                            "left": HipDecision("II")}, comment="both hips")
    (stored,) = store.history(record.series_instance_uid)
    assert stored == record
    assert stored.hip_stage("right") == "IIIB" and stored.hip_stage("left") == "II"
    assert stored.arco_2019 == "IIIB"  # the read's summary is the most severe hip
    by_side = {h["side"]: h for h in stored.hips}
    assert by_side["right"]["comment"] == "crescent" and not by_side["left"]["edited"]
    assert not by_side["right"]["head_placed_by_hand"]
    assert {m["side"] for m in stored.confirmed_measures} == {"right", "left"}
    assert stored.mask_sha256[mask_name("left", LESION)] == mask_sha256(session.hip("left").labels[LESION])


def test_a_failed_hip_is_refused_unless_recorded_not_assessable(sample_study, segmented, tmp_path):
    session = _session(sample_study, segmented)
    left = session.hip("left")
    left.labels[HEAD][...] = 0  # the reader erased the whole head: nothing left to measure
    session.remeasure()
    assert left.current is None and left.error
    assert session.table("left")[0][2] == "-"
    assert any(n.startswith("not measured") for n in left.notes())
    store = ReadStore(tmp_path / "reads.sqlite")
    with pytest.raises(InputError, match="left hip cannot be staged"):
        session.confirm(store, reader="AB", decisions={"right": HipDecision("IIIB"), "left": HipDecision("I")})
    assert len(store) == 0
    record = session.confirm(store, reader="AB", decisions={"right": HipDecision("IIIB"),
                                                            "left": HipDecision(NOT_ASSESSABLE)})
    assert record.hip_stage("left") is None and record.hip_stage("right") == "IIIB"
    left_read = next(h for h in record.hips if h["side"] == "left")
    assert not left_read["assessable"] and left_read["measurement_error"] and left_read["edited"]


def test_each_modality_has_its_own_rows_and_warnings_reach_the_reader(tmp_path):
    from onfh_imaging.phantom.model import PelvisModel
    from onfh_imaging.phantom.radiograph import render_radiograph

    pixels, _ = render_radiograph(PelvisModel.standard("right"), magnification=1.2, detector_pixel_mm=0.2, seed=1)
    session = ReadingSession(Radiograph(pixels, pixel_size_mm=None), {"series_instance_uid": "1.2.3"})
    assert session.rows == RADIOGRAPH_ROWS and "Max deviation, Mose (mm)" not in [r[0] for r in MR_ROWS]
    session.segment()
    assert [h.side for h in session.hips] == ["right"]
    side = "right"
    labels = [row[0] for row in session.table(side)]
    assert labels == [r[0] for r in RADIOGRAPH_ROWS]
    notes = session.hip(side).notes() + session.warnings
    assert any("pixel" in n for n in notes), notes  # uncalibrated: measured in pixels, and said so
    record = session.confirm(ReadStore(tmp_path / "r.sqlite"), reader="CD", decisions={side: HipDecision("0")})
    assert record.hip_stage(side) == "0" and record.mask_sha256 == {}


@pytest.fixture
def search_misses_the_right_head(monkeypatch):
    """The automatic head search finds no right head, as it will on some real scans."""
    from onfh_imaging.segment import mri

    real = mri.find_femoral_heads
    monkeypatch.setattr(mri, "find_femoral_heads", lambda t1, *a, **k: [c for c in real(t1, *a, **k)
                                                                          if c.side != "right"])


def test_a_head_the_search_misses_is_measured_from_a_seed_here_and_from_the_command_line(
        sample_study, search_misses_the_right_head, capsys):
    import json

    from onfh_imaging.cli import main

    series, truth = sample_study
    right_truth = next(h for h in truth["hips"] if h["side"] == "right")
    centre, radius = np.asarray(right_truth["head"]["center_lps_mm"], float), right_truth["head"]["radius_mm"]
    session = ReadingSession(series.volume, series.info)
    session.segment()
    assert [h.side for h in session.hips] == ["left"]
    click = centre + np.array([2.0, -1.5, 3.0])  # a click a few mm off the centre
    session.segment(head_seeds={"right": click})
    right = session.hip("right")
    assert right.current is not None, right.error
    assert np.linalg.norm(right.center_lps - centre) < 1.0
    assert right.radius_mm == pytest.approx(radius, abs=1.0)
    assert right.head_seed == [tuple(click)] and any("by hand" in n for n in right.notes())
    assert [h.side for h in session.hips] == ["right", "left"]  # the unseeded side is still searched

    folder = Path(series.files[0]).parent
    assert main(["measure", str(folder), "--json", "--head-seed", "right", *(f"{v:.2f}" for v in click)]) == 0
    (report,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    hip = next(h for h in report["hips"] if h["side"] == "right")
    assert np.linalg.norm(np.asarray(hip["head"]["center_lps_mm"]) - centre) < 1.0
    assert "head placed by hand" in hip["quality"]["reasons"]


def test_head_seed_option_is_checked():
    from onfh_imaging.cli import _head_seeds

    assert _head_seeds([["right", "1", "2", "3"]]) == {"right": (1.0, 2.0, 3.0)}
    assert _head_seeds([["left", "10", "20"]] * 3) == {"left": [(10.0, 20.0)] * 3}
    for bad in ([["middle", "1", "2", "3"]], [["left", "1"]], [["left", "1", "2", "3"]] * 2):
        with pytest.raises(InputError, match="head-seed"):
            _head_seeds(bad)


def test_the_worker_process_measures_like_this_process(sample_study, segmented):
    from onfh_imaging.reading import measure_job
    from onfh_imaging.reading_worker import ProcessWorker

    session = _session(sample_study, segmented)
    hip = session.hips[0]
    free = np.argwhere((hip.labels[HEAD] > 0) & (hip.labels[LESION] == 0))
    hip.labels[LESION][tuple(free[: len(free) // 5].T)] = 1
    (job,) = session.jobs()
    worker = ProcessWorker()
    try:
        ((side, hashes, there, _),) = worker.measure([job])
        assert (side, hashes) == (job.side, job.hashes)
        assert there == measure_job(job)[2]
        with pytest.raises(KeyError):
            worker._run("no such task", (), None)
        worker.measure([])  # the child keeps serving after an error
    finally:
        worker.shutdown()


def test_head_seed_on_a_radiograph_from_the_command_line(tmp_path, capsys):
    import json

    from onfh_imaging.cli import main
    from onfh_imaging.io.dicom_write import write_radiograph
    from onfh_imaging.phantom.model import PelvisModel
    from onfh_imaging.phantom.radiograph import render_radiograph

    pixels, truth = render_radiograph(PelvisModel.standard("right"), magnification=1.2, detector_pixel_mm=0.2, seed=1)
    path = tmp_path / "pelvis_ap.dcm"
    write_radiograph(pixels, path, imager_pixel_spacing=0.2, magnification=1.2)
    r0, c0 = truth["hips"][0]["center_px"]
    assert main(["measure", str(path), "--json", "--head-seed", "right", str(r0 + 10), str(c0 - 6)]) == 0
    (report,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    (hip,) = report["hips"]
    assert hip["side"] == "right" and "head placed by hand" in hip["warnings"]
    assert hip["head"]["radius_mm"] == pytest.approx(truth["hips"][0]["radius_mm"], abs=1.0)


def test_the_deviation_map_shown_is_decimated_faithfully(sample_study, segmented):
    from scipy.spatial import cKDTree

    from onfh_imaging.reading import DISPLAY_CELL_VOXELS, decimate_surface

    series, _ = sample_study
    cell = DISPLAY_CELL_VOXELS * min(series.volume.spacing)
    for hip in segmented.hips:
        mesh, deviation = hip.automatic_measures.mesh, np.asarray(hip.automatic_measures.deviation_mm)
        shown = hip.automatic_surface
        assert shown is not None and hip.surface is shown
        assert len(shown.vertices_lps) <= len(mesh.vertices_lps) / 2
        assert shown.faces.max() < len(shown.vertices_lps) and len(shown.deviation_mm) == len(shown.vertices_lps)
        # every shown vertex lies within one cell of the measuring mesh, and the deepest and highest points
        # keep their deviation to a fraction of the 0.5 mm collapse detection limit
        distance, _ = cKDTree(mesh.vertices_lps).query(shown.vertices_lps)
        assert distance.max() <= cell * np.sqrt(3)
        assert np.nanmin(shown.deviation_mm) == pytest.approx(np.nanmin(deviation), abs=0.25)
        assert np.nanmax(shown.deviation_mm) == pytest.approx(np.nanmax(deviation), abs=0.25)
        # a closed surface stays closed: Euler characteristic of a sphere
        edges = np.unique(np.sort(shown.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
        assert len(shown.vertices_lps) - len(edges) + len(shown.faces) == 2

    # one cell holding a triangle merges it to a point: no triangle is left, and NaN values are skipped
    flat = decimate_surface(np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]]), np.array([[0, 1, 2]]),
                            np.array([1.0, np.nan, 3.0]), cell_mm=1.0)
    assert len(flat.vertices_lps) == 1 and len(flat.faces) == 0 and flat.deviation_mm[0] == pytest.approx(2.0)


def test_the_worker_measures_and_makes_the_map_to_show(sample_study, segmented):
    from onfh_imaging.reading import measure_job_shown
    from onfh_imaging.reading_worker import ProcessWorker

    session = _session(sample_study, segmented)
    hip = session.hips[0]
    free = np.argwhere((hip.labels[HEAD] > 0) & (hip.labels[LESION] == 0))
    hip.labels[LESION][tuple(free[: len(free) // 5].T)] = 1
    (job,) = session.jobs()
    worker = ProcessWorker()
    try:
        ((result, shown),) = worker.measure_shown([job])
    finally:
        worker.shutdown()
    here, shown_here = measure_job_shown(job)
    assert result[2] == here[2]
    np.testing.assert_allclose(shown.vertices_lps, shown_here.vertices_lps)
    session.apply([result], [shown])
    assert hip.surface is shown and not hip.stale
    session.apply([result])  # made here when the worker did not
    np.testing.assert_allclose(hip.surface.deviation_mm, shown.deviation_mm)

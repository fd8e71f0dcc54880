"""The napari plugin in a real viewer (under Xvfb): open, segment, edit, re-measure, confirm, screenshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

napari = pytest.importorskip("napari", reason="napari is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    pytest.skip("no display: install Xvfb and pytest-xvfb (or run under xvfb-run)", allow_module_level=True)

import SimpleITK as sitk  # noqa: E402
from app_model.types import KeyBinding  # noqa: E402

from onfh_imaging.reads import HEAD, LESION, ReadStore, mask_name, mask_sha256  # noqa: E402
from onfh_napari._reader import META_VOLUME, lps_to_world  # noqa: E402
from onfh_napari._widget import ConfirmDialog, ReadingWidget, measure_value  # noqa: E402

pytestmark = pytest.mark.gui

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PLUGIN = "onfh-imaging"


@pytest.fixture(scope="module")
def phantom_study(tmp_path_factory):
    """A two-hip phantom study: right hip large lesion with 2.5 mm collapse, left hip small lesion."""
    from onfh_imaging.phantom import HipSpec, PhantomSpec, write_phantom_study

    folder = tmp_path_factory.mktemp("phantom")
    spec = PhantomSpec(hips="both", right=HipSpec(collapse_mm=2.5, lesion="large"), left=HipSpec(lesion="small"),
                       n_slices=20, stir=True, seed=3)
    return folder, write_phantom_study(folder, spec)


_PIPELINE_CACHE: dict[str, list] = {}


@pytest.fixture
def cached_pipeline(monkeypatch):
    """Segment each distinct image once per session; later "Segment" clicks reuse the result.

    The widget still runs the (cached) pipeline in its worker thread; only the repeated
    segmentation of identical pixels is skipped to keep the GUI tests short.
    """
    import hashlib

    import onfh_napari._widget as widget_module

    real = widget_module._segment_and_measure

    def cached(volume, fluid_sensitive, info, progress):
        key = hashlib.sha256(np.ascontiguousarray(volume.array).tobytes()).hexdigest()
        if key not in _PIPELINE_CACHE:
            _PIPELINE_CACHE[key] = real(volume, fluid_sensitive, info, progress)
        progress(1.0, "done")
        return _PIPELINE_CACHE[key]

    monkeypatch.setattr(widget_module, "_segment_and_measure", cached)


@pytest.fixture
def reads_db(tmp_path, monkeypatch):
    path = tmp_path / "reads" / "reads.sqlite"
    monkeypatch.setenv("ONFH_READS_DB", str(path))
    return path


def _t1_folder(study: Path) -> Path:
    return next(p for p in sorted(study.iterdir()) if p.is_dir() and p.name.upper().startswith("T1"))


def _open(viewer, path) -> list:
    from npe2 import PluginManager

    if PLUGIN not in PluginManager.instance():
        pytest.skip("the onfh-imaging plugin is not installed (pip install -e .)")
    return viewer.open(str(path), plugin=PLUGIN)


def _segmented_widget(viewer, qtbot, study: Path) -> ReadingWidget:
    _open(viewer, _t1_folder(study))
    widget = ReadingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ONFH reading")
    worker = widget.segment()
    assert worker is not None
    qtbot.waitUntil(lambda: widget._worker is None, timeout=180_000)
    assert widget.hips, widget.status.text()
    return widget


def test_reader_places_the_phantom_in_mm(make_napari_viewer, phantom_study):
    study, _ = phantom_study
    viewer = make_napari_viewer()
    layers = _open(viewer, study)
    t1 = next(layer for layer in layers if layer.visible)
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(_t1_folder(study)))
    truth = sitk.ReadImage(files)
    assert tuple(t1.scale) == pytest.approx(truth.GetSpacing()[::-1], abs=1e-4)
    nk, nj, ni = t1.data.shape
    for k, j, i in [(0, 0, 0), (nk - 1, nj - 1, ni - 1), (nk // 2, 10, ni - 5)]:
        expected = lps_to_world(t1.metadata[META_VOLUME], truth.TransformIndexToPhysicalPoint((i, j, k)))
        assert np.allclose(t1.data_to_world((k, j, i)), expected, atol=1e-3)
    assert {layer.metadata["onfh_series"]["sequence"] for layer in layers} >= {"T1"}


def test_segment_edit_remeasure_confirm_and_screenshot(make_napari_viewer, qtbot, phantom_study, reads_db):
    study, truth = phantom_study
    viewer = make_napari_viewer(show=True)
    widget = _segmented_widget(viewer, qtbot, study)
    assert widget.store().path == reads_db
    sides = sorted(s.side for s in widget.hips)
    assert sides and set(sides) <= {h["side"] for h in truth["hips"]}
    names = {layer.name for layer in viewer.layers}
    for side in sides:
        assert {f"{side} femoral head", f"{side} lesion", f"{side} reference sphere"} <= names
    assert widget.table.columnCount() == 2 * len(sides)
    assert widget.table.item(0, 0).text() not in ("", "-")

    # Paint a compact block of head voxels (outside the lesion) into the lesion labels.
    hip = max(widget.hips, key=lambda s: measure_value(s.current, "lesion", "volume_ml") or 0)
    lesion_layer, head_layer = hip.layers[LESION], hip.layers[HEAD]
    volume = widget.image_layer.metadata[META_VOLUME]
    before = measure_value(hip.current, "lesion", "volume_ml")
    free = np.argwhere((head_layer.data > 0) & (lesion_layer.data == 0))
    centre = volume.index_to_lps(free.mean(axis=0)[::-1])
    dist = np.linalg.norm(volume.index_to_lps(free[:, ::-1]) - centre, axis=1)
    block = free[dist <= 6.0]
    lesion_layer.data_setitem(tuple(block.T), 1)
    added_ml = len(block) * volume.voxel_volume_ml
    qtbot.waitUntil(lambda: measure_value(hip.current, "lesion", "volume_ml") != before, timeout=60_000)
    after = measure_value(hip.current, "lesion", "volume_ml")
    assert after - before == pytest.approx(added_ml, rel=0.25)
    assert measure_value(hip.automatic, "lesion", "volume_ml") == before
    qtbot.waitUntil(lambda: widget._measure_worker is None, timeout=60_000)

    # Screenshot with the layers, kept as an artifact.
    viewer.dims.set_point(0, viewer.layers[lesion_layer.name].data_to_world(block[0])[0])
    shot = viewer.screenshot(canvas_only=True, flash=False)
    ARTIFACTS.mkdir(exist_ok=True)
    from skimage.io import imsave

    imsave(ARTIFACTS / "napari_reading.png", shot, check_contrast=False)
    rgb = shot[..., :3].astype(int)
    assert rgb.std() > 10
    orange = (rgb[..., 0] > 150) & (rgb[..., 2] < 120) & (rgb[..., 0] - rgb[..., 2] > 80)
    assert orange.sum() > 50, "lesion labels not visible in the screenshot"

    # Confirm and read the record back from SQLite.
    record = widget.confirm("AB", "IIIB", "painted extra lesion")
    assert record is not None, widget.status.text()
    (stored,) = ReadStore(reads_db).history(record.series_instance_uid)
    assert stored == record
    assert stored.reader == "AB" and stored.arco_2019 == "IIIB" and stored.edited
    assert stored.mask_sha256[mask_name(hip.side, LESION)] == mask_sha256(lesion_layer.data)
    assert stored.mask_sha256[mask_name(hip.side, HEAD)] == mask_sha256(hip.automatic_masks[mask_name(hip.side, HEAD)])
    confirmed = {m["side"]: m for m in stored.confirmed_measures}
    automatic = {m["side"]: m for m in stored.automatic_measures}
    assert confirmed[hip.side]["lesion"]["volume_ml"] == after
    assert automatic[hip.side]["lesion"]["volume_ml"] == before
    assert Path(stored.files["seg"]).exists()
    assert json.loads(Path(stored.files["json"]).read_text())["read_uid"] == stored.read_uid
    assert "AB" in widget.reads_view.toPlainText()


def test_undo_restores_the_automatic_measures(make_napari_viewer, qtbot, phantom_study, reads_db,
                                              cached_pipeline):
    study, _ = phantom_study
    viewer = make_napari_viewer()
    widget = _segmented_widget(viewer, qtbot, study)
    hip = widget.hips[0]
    lesion_layer = hip.layers[LESION]
    automatic = measure_value(hip.automatic, "lesion", "volume_ml")
    viewer.layers.selection.active = lesion_layer
    lesion_layer.brush_size = 9
    lesion_layer.selected_label = 1
    free = np.argwhere((hip.layers[HEAD].data > 0) & (lesion_layer.data == 0))
    target = free[np.argmin(np.linalg.norm(free - free.mean(axis=0), axis=1))]
    lesion_layer.paint(tuple(float(v) for v in target), 1)  # the brush, in the displayed plane
    assert lesion_layer.data[tuple(target)] == 1
    qtbot.waitUntil(lambda: measure_value(hip.current, "lesion", "volume_ml") != automatic, timeout=60_000)
    qtbot.waitUntil(lambda: widget._measure_worker is None, timeout=60_000)
    lesion_layer.undo()
    qtbot.waitUntil(lambda: measure_value(hip.current, "lesion", "volume_ml") == automatic, timeout=60_000)
    assert mask_sha256(lesion_layer.data) == mask_sha256(hip.automatic_masks[mask_name(hip.side, LESION)])


def test_blind_read_hides_previous_reads_until_confirmed(make_napari_viewer, qtbot, phantom_study, reads_db,
                                                        cached_pipeline, monkeypatch):
    study, _ = phantom_study
    viewer = make_napari_viewer()
    widget = _segmented_widget(viewer, qtbot, study)

    def fill_and_accept(dialog):
        assert dialog.stage.currentText() == (widget.suggested_stage() or "0")
        dialog.reader.setText("First Reader")
        dialog.stage.setCurrentText("IIIA")
        dialog._accept_if_named()
        return dialog.result()

    monkeypatch.setattr(ConfirmDialog, "exec", fill_and_accept)
    first = widget.ask_and_confirm()
    assert first is not None and not first.edited and first.arco_2019 == "IIIA"

    # A second reader opens the same study in a new viewer and reads blind.
    viewer2 = make_napari_viewer()
    _open(viewer2, _t1_folder(study))
    second = ReadingWidget(viewer2)
    viewer2.window.add_dock_widget(second)
    assert "First Reader" in second.reads_view.toPlainText()
    second.blind.setChecked(True)
    assert "First Reader" not in second.reads_view.toPlainText()
    assert "blind" in second.reads_view.toPlainText().lower()
    second.segment()
    qtbot.waitUntil(lambda: second._worker is None, timeout=180_000)
    assert "First Reader" not in second.reads_view.toPlainText()
    record = second.confirm("SR", "IIIA", "blind")
    assert record is not None and record.blind
    text = second.reads_view.toPlainText()
    assert "First Reader" in text and "SR" in text
    assert [r.reader for r in ReadStore(reads_db).history(first.series_instance_uid)] == ["First Reader", "SR"]


def test_shortcuts_toggle_layers_and_start_segmentation(make_napari_viewer, qtbot, phantom_study,
                                                        cached_pipeline):
    study, _ = phantom_study
    viewer = make_napari_viewer()
    widget = _segmented_widget(viewer, qtbot, study)
    lesion_layers = [s.layers[LESION] for s in widget.hips]
    head_layers = [s.layers[HEAD] for s in widget.hips]
    viewer.keymap[KeyBinding.from_str("Shift-L")](viewer)
    assert not any(layer.visible for layer in lesion_layers) and all(layer.visible for layer in head_layers)
    viewer.keymap[KeyBinding.from_str("Shift-H")](viewer)
    assert not any(layer.visible for layer in head_layers)
    viewer.keymap[KeyBinding.from_str("Shift-L")](viewer)
    assert all(layer.visible for layer in lesion_layers)
    assert KeyBinding.from_str("Shift-C") in viewer.keymap
    viewer.keymap[KeyBinding.from_str("Shift-S")](viewer)
    assert widget._worker is not None
    qtbot.waitUntil(lambda: widget._worker is None, timeout=180_000)


@pytest.mark.slow
def test_sample_data_opens_a_phantom(make_napari_viewer):
    viewer = make_napari_viewer()
    from npe2 import PluginManager

    if PLUGIN not in PluginManager.instance():
        pytest.skip("the onfh-imaging plugin is not installed (pip install -e .)")
    viewer.open_sample(PLUGIN, "phantom_hip_mri")
    volumes = [layer for layer in viewer.layers if layer.metadata.get(META_VOLUME) is not None]
    assert volumes and volumes[0].data.ndim == 3
    assert all(s > 0.3 for s in volumes[0].scale)


def test_radiograph_opens_calibrated_and_gets_its_reference_circles(make_napari_viewer, qtbot, tmp_path):
    from onfh_imaging.io.dicom_write import write_radiograph
    from onfh_imaging.phantom.model import PelvisModel
    from onfh_imaging.phantom.radiograph import render_radiograph

    pixels, rtruth = render_radiograph(PelvisModel.standard("right"), magnification=1.2, detector_pixel_mm=0.2,
                                       seed=1)
    path = tmp_path / "pelvis_ap.dcm"
    write_radiograph(pixels, path, imager_pixel_spacing=0.2, magnification=1.2)
    viewer = make_napari_viewer()
    (layer,) = _open(viewer, path)
    assert tuple(layer.scale) == pytest.approx((0.2 / 1.2, 0.2 / 1.2))
    widget = ReadingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.segment()
    qtbot.waitUntil(lambda: widget._worker is None, timeout=120_000)
    assert [s.side for s in widget.hips] == ["right"], widget.status.text()
    circle = widget.hips[0].layers["sphere"]
    (ellipse,) = circle.data
    radius_mm = (ellipse[:, 1].max() - ellipse[:, 1].min()) / 2 * layer.scale[1]
    assert radius_mm == pytest.approx(widget.hips[0].current["head"]["radius_mm"], rel=1e-3)
    assert radius_mm == pytest.approx(24.0, abs=1.0)  # the model's head radius
    ruler = widget.add_collapse_ruler()
    ruler.add_lines(np.array([[100.0, 100.0], [100.0, 160.0]]))
    assert widget.ruler_label.text().endswith(f"{60 * 0.2 / 1.2:.2f} mm")

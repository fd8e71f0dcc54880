"""Dock widget: segment a study, let the reader correct the masks, confirm a read.

The widget is a thin face over the library: "Segment" runs the toolkit's pipeline
(:func:`onfh_imaging.pipeline.measure_mr`: segmentation and measures), edited masks are measured
again with :func:`onfh_imaging.measure.hip.measure_hip` (radiographs:
:func:`onfh_imaging.measure.radiograph.measure_radiograph`), confirmations go through
:func:`onfh_imaging.reads.confirm_read`. Long work runs in worker threads so the viewer never freezes;
edits to the head or lesion labels trigger a debounced re-measurement.

Shortcuts: Shift-S segment, Shift-C confirm, Shift-L toggle lesion layers, Shift-H toggle head layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from onfh_imaging.errors import OnfhError
from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.reads import (
    ARCO_2019_STAGES,
    HEAD,
    LESION,
    ReadRecord,
    ReadStore,
    confirm_read,
    default_db_path,
    mask_name,
    mask_sha256,
)

from ._reader import (
    META_FILES,
    META_RADIOGRAPH,
    META_SERIES,
    META_SERIES_INFO,
    META_VOLUME,
    lps_to_world,
    radiograph_transform,
    volume_transform,
)

if TYPE_CHECKING:
    import napari

HEAD_COLOR = (0.25, 0.55, 1.0, 1.0)
LESION_COLOR = (1.0, 0.35, 0.05, 1.0)
SPHERE_COLOR = "yellow"
DEBOUNCE_MS = 300

# (row label, section of the per-hip measures dict, key)
MEASURE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Lesion volume (mL)", "lesion", "volume_ml"),
    ("Head involvement (%)", "lesion", "head_involvement_pct"),
    ("Sphericity", "head", "sphericity"),
    ("Collapse depth (mm)", "head", "collapse_depth_mm"),
    ("Kerboul angle (deg)", "lesion", "kerboul_angle_deg"),
    ("Head radius (mm)", "head", "radius_mm"),
    ("Max deviation, Mose (mm)", "head", "max_deviation_mm"),
    ("Suggested ARCO 2019", "staging", "arco_2019"),
)


def _label_colormap(color: tuple[float, ...]) -> Any:
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: color})


def measure_value(measures: dict[str, Any] | None, section: str, key: str) -> Any:
    """One value of a per-hip measures dict (JSON contract), or None where absent."""
    part = (measures or {}).get(section)
    return None if not isinstance(part, dict) else part.get(key)


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def line_lengths_mm(layer: Any) -> list[float]:
    """Length in world units (mm) of every line of a Shapes layer, through the layer's full transform."""
    lengths = []
    for shape, kind in zip(layer.data, layer.shape_type):
        if kind not in ("line", "path") or len(shape) < 2:
            continue
        world = np.array([layer.data_to_world(p) for p in shape])
        lengths.append(float(np.linalg.norm(np.diff(world, axis=0), axis=1).sum()))
    return lengths


def reference_sphere_ellipses(volume: Volume, center_lps: Any, radius_mm: float) -> list[np.ndarray]:
    """The reference sphere's cross-section on every slice of ``volume``, as Shapes ellipses.

    Each ellipse is 4 corners of its bounding box in ``(k, j, i)`` data coordinates, to be shown
    with the image's own transform (:func:`~onfh_napari._reader.volume_transform`).
    """
    ci, cj, ck = volume.lps_to_index(np.asarray(center_lps, dtype=float))
    si, sj, sk = volume.spacing
    ellipses = []
    for k in range(volume.shape[0]):
        d = (k - ck) * sk
        if abs(d) >= radius_mm:
            continue
        r = float(np.sqrt(radius_mm**2 - d**2))
        ri, rj = r / si, r / sj
        ellipses.append(np.array([[k, cj - rj, ci - ri], [k, cj - rj, ci + ri],
                                  [k, cj + rj, ci + ri], [k, cj + rj, ci - ri]]))
    return ellipses


@dataclass
class HipState:
    """One hip in the viewer: its layers and its automatic and current measures."""

    side: str
    automatic_masks: dict[str, Volume]
    automatic_fractions: dict[str, Volume | None] = field(default_factory=dict)
    neck_axis_lps: Any = None
    automatic: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    layers: dict[str, Any] = field(default_factory=dict)
    measured_hashes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.measured_hashes:
            self.measured_hashes = {name: mask_sha256(m) for name, m in self.automatic_masks.items()}

    def label_hashes(self) -> dict[str, str]:
        """Hashes of the head and lesion labels as they are now."""
        return {mask_name(self.side, part): mask_sha256(np.asarray(self.layers[part].data))
                for part in (HEAD, LESION) if part in self.layers}


class _Relay(QObject):
    """Carries progress reports from a worker thread to the GUI thread (queued signal)."""

    progress = Signal(float, str)


def measured_mask(labels: np.ndarray, automatic: Volume, fraction: Volume | None) -> Volume:
    """What to measure for a mask the reader may have edited.

    Where the labels still agree with the automatic mask, the automatic partial-volume fraction is
    kept (its sub-voxel surface); painted voxels count as 1 and erased ones as 0. Without a fraction,
    or with edits outside the fraction's sub-grid, the labels themselves are measured.
    """
    current = np.asarray(labels) != 0
    offset = None if fraction is None else fraction.offset_in(automatic)
    if offset is None:
        return automatic.with_array(current)
    unchanged = current == np.asarray(automatic.array, dtype=bool)
    i0, j0, k0 = offset
    nk, nj, ni = fraction.shape
    inside = (slice(k0, k0 + nk), slice(j0, j0 + nj), slice(i0, i0 + ni))
    outside_edits = unchanged.copy()
    outside_edits[inside] = True
    if not outside_edits.all():  # painted beyond the automatic head's box: measure the labels as drawn
        return automatic.with_array(current)
    return fraction.with_array(np.where(unchanged[inside], fraction.array,
                                        current[inside].astype(fraction.array.dtype)))


def _measure(side: str, head: Volume, lesion: Volume, neck_axis: Any) -> tuple[dict[str, Any] | None, Any]:
    from onfh_imaging.measure.hip import measure_hip

    try:
        measures = measure_hip(head, lesion, side=side, neck_axis_lps=neck_axis)
    except OnfhError as exc:
        return None, str(exc)
    return measures.to_dict(), measures


def _segment_and_measure(volume: Volume, fluid_sensitive: Volume | None, info: Any,
                         progress: Any) -> list[tuple[Any, dict[str, Any] | None, Any]]:
    """The toolkit's MR pipeline (:func:`onfh_imaging.pipeline.measure_mr`), so the viewer shows the
    same automatic numbers as ``onfh measure`` and the batch layer."""
    from onfh_imaging.io import Series
    from onfh_imaging.pipeline import measure_mr

    fluid = None if fluid_sensitive is None else Series(volume=fluid_sensitive, info=info)
    result = measure_mr(Series(volume=volume, info=info), fluid_sensitive=fluid, progress=progress)
    return [(hip.segmentation, hip.measures.to_dict(), hip.measures) for hip in result.hips]


def _measure_masks(jobs: list[tuple[str, Volume, Volume, Any]]) -> list[tuple[str, dict[str, Any] | None, Any]]:
    return [(side, *_measure(side, head, lesion, neck_axis)) for side, head, lesion, neck_axis in jobs]


def _measure_radiograph(radiograph: Radiograph, info: Any) -> dict[str, Any]:
    from onfh_imaging.measure.radiograph import measure_radiograph

    return measure_radiograph(radiograph, info)


class ConfirmDialog(QDialog):
    """Asks for the reader's name or initials, the final ARCO 2019 stage and a comment."""

    def __init__(self, suggested_stage: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Confirm read")
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("name or initials")
        self.stage = QComboBox()
        self.stage.addItems(list(ARCO_2019_STAGES))
        if suggested_stage in ARCO_2019_STAGES:
            self.stage.setCurrentText(suggested_stage)
        self.comment = QPlainTextEdit()
        form = QFormLayout(self)
        form.addRow("Reader", self.reader)
        form.addRow("Final ARCO 2019 stage", self.stage)
        form.addRow("Comment", self.comment)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_named)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _accept_if_named(self) -> None:
        if self.reader.text().strip():
            self.accept()
        else:
            self.reader.setFocus()


class ReadingWidget(QWidget):
    """Segment, review, correct and confirm the femoral heads of the selected series."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer", parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.hips: list[HipState] = []
        self.radiograph_result: dict[str, Any] | None = None
        self.last_record: ReadRecord | None = None
        self._image_layer: Any = None
        self._worker: Any = None
        self._measure_worker: Any = None
        self._remeasure_pending = False
        self._dirty_sides: set[str] = set()
        self._confirmed_here = False
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.remeasure)
        self._build_ui()
        self.viewer.layers.events.inserted.connect(self._refresh_series)
        self.viewer.layers.events.removed.connect(self._refresh_series)
        self._refresh_series()
        self._bind_keys()

    # --- layout -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.series_combo = QComboBox()
        self.series_combo.currentIndexChanged.connect(self._on_series_changed)
        self.segment_button = QPushButton("Segment (Shift-S)")
        self.segment_button.clicked.connect(self.segment)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.hips_list = QListWidget()
        self.hips_list.setMaximumHeight(60)
        self.table = QTableWidget(len(MEASURE_ROWS), 0)
        self.table.setVerticalHeaderLabels([row[0] for row in MEASURE_ROWS])
        self.ruler_button = QPushButton("Measure collapse by hand (line)")
        self.ruler_button.clicked.connect(self.add_collapse_ruler)
        self.ruler_label = QLabel("")
        self.db_path = QLineEdit(str(default_db_path()))
        self.db_path.editingFinished.connect(self.refresh_reads)
        self.blind = QCheckBox("Blind read (hide previous reads until I confirm)")
        self.blind.toggled.connect(self.refresh_reads)
        self.reads_view = QTextBrowser()
        self.reads_view.setMaximumHeight(120)
        self.confirm_button = QPushButton("Confirm (Shift-C)")
        self.confirm_button.clicked.connect(self.ask_and_confirm)
        self.confirm_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Series"))
        layout.addWidget(self.series_combo)
        row = QHBoxLayout()
        row.addWidget(self.segment_button)
        row.addWidget(self.progress)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Hips"))
        layout.addWidget(self.hips_list)
        layout.addWidget(self.table)
        layout.addWidget(self.ruler_button)
        layout.addWidget(self.ruler_label)
        form = QFormLayout()
        form.addRow("Reads database", self.db_path)
        layout.addLayout(form)
        layout.addWidget(self.blind)
        layout.addWidget(QLabel("Previous reads"))
        layout.addWidget(self.reads_view)
        layout.addWidget(self.confirm_button)

    def _bind_keys(self) -> None:
        self.viewer.bind_key("Shift-S", lambda _v: self.segment(), overwrite=True)
        self.viewer.bind_key("Shift-C", lambda _v: self.ask_and_confirm(), overwrite=True)
        self.viewer.bind_key("Shift-L", lambda _v: self.toggle_layers(LESION), overwrite=True)
        self.viewer.bind_key("Shift-H", lambda _v: self.toggle_layers(HEAD), overwrite=True)

    # --- series -----------------------------------------------------------------------------
    def _image_layers(self) -> list[Any]:
        return [layer for layer in self.viewer.layers
                if layer.metadata.get(META_VOLUME) is not None or layer.metadata.get(META_RADIOGRAPH) is not None]

    def _refresh_series(self, *_: Any) -> None:
        layers = self._image_layers()
        current = self._image_layer
        self.series_combo.blockSignals(True)
        self.series_combo.clear()
        for layer in layers:
            self.series_combo.addItem(layer.name)
        if current in layers:
            self.series_combo.setCurrentIndex(layers.index(current))
        else:
            visible = [n for n, layer in enumerate(layers) if layer.visible]
            self.series_combo.setCurrentIndex(visible[0] if visible else (0 if layers else -1))
        self.series_combo.blockSignals(False)
        self._on_series_changed()

    def _on_series_changed(self, *_: Any) -> None:
        layers = self._image_layers()
        index = self.series_combo.currentIndex()
        layer = layers[index] if 0 <= index < len(layers) else None
        if layer is not self._image_layer:
            # Masks and measures belong to the series they were made on: another series starts afresh.
            self._image_layer = layer
            self._confirmed_here = False
            self.hips = []
            self.radiograph_result = None
            self._fill_table()
            self._show_hips()
            self.confirm_button.setEnabled(False)
            self.refresh_reads()

    @property
    def image_layer(self) -> Any:
        """The image layer being read."""
        return self._image_layer

    @property
    def series_info(self) -> dict[str, Any]:
        return dict(self._image_layer.metadata.get(META_SERIES) or {}) if self._image_layer is not None else {}

    # --- segmentation -----------------------------------------------------------------------
    def segment(self) -> Any:
        """Run segmentation and measurement of the selected series in a worker thread."""
        from napari.qt.threading import create_worker

        layer = self._image_layer
        if layer is None:
            self._say("Open a study first (File > Open, or the ONFH sample data).")
            return None
        if self._worker is not None:
            return self._worker
        self.segment_button.setEnabled(False)
        self.progress.setValue(0)
        radiograph = layer.metadata.get(META_RADIOGRAPH)
        if radiograph is not None:
            self._worker = create_worker(_measure_radiograph, radiograph, layer.metadata.get(META_SERIES_INFO))
            self._worker.returned.connect(self._on_radiograph_done)
        else:
            self._worker = create_worker(_segment_and_measure, layer.metadata[META_VOLUME],
                                         self._fluid_sensitive_volume(), layer.metadata.get(META_SERIES_INFO),
                                         self._relay.progress.emit)
            self._worker.returned.connect(self._on_segmented)
        self._worker.errored.connect(self._on_error)
        self._worker.finished.connect(self._on_worker_finished)
        self._say("Segmenting...")
        self._worker.start()
        return self._worker

    def _fluid_sensitive_volume(self) -> Volume | None:
        """A STIR or fat-suppressed series on the same grid as the series being read, if one is open."""
        t1: Volume = self._image_layer.metadata[META_VOLUME]
        for layer in self._image_layers():
            volume = layer.metadata.get(META_VOLUME)
            info = layer.metadata.get(META_SERIES) or {}
            fluid = info.get("sequence") == "STIR" or bool(info.get("fat_saturated"))
            if layer is not self._image_layer and volume is not None and fluid and volume.same_grid(t1):
                return volume
        return None

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(round(100 * max(0.0, min(1.0, fraction)))))
        if message:
            self._say(message)

    def _on_worker_finished(self) -> None:
        self._worker = None
        self.segment_button.setEnabled(True)

    def _on_error(self, exc: Exception) -> None:
        self._say(f"Failed: {exc}")

    def _on_segmented(self, results: list[tuple[Any, dict[str, Any] | None, Any]]) -> None:
        self._clear_hip_layers()
        volume: Volume = self._image_layer.metadata[META_VOLUME]
        transform = volume_transform(volume)
        self.hips = []
        for hip, measures_dict, measures in results:
            head = hip.femoral_head_mask
            lesion = hip.lesion_mask
            state = HipState(
                side=hip.side,
                automatic_masks={mask_name(hip.side, HEAD): head, mask_name(hip.side, LESION): lesion},
                automatic_fractions={mask_name(hip.side, HEAD): hip.femoral_head_fraction,
                                     mask_name(hip.side, LESION): hip.lesion_fraction},
                neck_axis_lps=hip.neck_axis_lps,
                automatic=measures_dict,
                current=measures_dict,
            )
            state.layers[HEAD] = self._add_mask_layer(head, f"{hip.side} femoral head", HEAD_COLOR, transform,
                                                      hip.side)
            state.layers[LESION] = self._add_mask_layer(lesion, f"{hip.side} lesion", LESION_COLOR, transform,
                                                        hip.side)
            ellipses = reference_sphere_ellipses(volume, hip.head_center_lps, float(hip.head_radius_mm))
            if ellipses:
                state.layers["sphere"] = self.viewer.add_shapes(
                    ellipses, shape_type="ellipse", name=f"{hip.side} reference sphere", edge_color=SPHERE_COLOR,
                    face_color="transparent", edge_width=0.5, opacity=0.8, **transform)
            self._add_deviation_surface(state, measures)
            if measures_dict is None:
                self._say(f"{hip.side} hip: {measures}")
            self.hips.append(state)
        if self._image_layer is not None:
            self.viewer.layers.selection.active = self._image_layer
        self._show_hips()
        self._fill_table()
        self.confirm_button.setEnabled(bool(self.hips))
        if results:
            self._say(f"Found {len(results)} hip(s). Edit the labels, then Confirm.")
        else:
            self._say("No femoral head found.")

    def _on_radiograph_done(self, result: dict[str, Any]) -> None:
        self._clear_hip_layers()
        self.radiograph_result = result
        radiograph: Radiograph = self._image_layer.metadata[META_RADIOGRAPH]
        self.hips = []
        for hip in result.get("hips", []):
            head = hip.get("head") or {}
            state = HipState(side=hip["side"], automatic_masks={}, automatic=hip, current=hip)
            if head.get("center_px") is not None and head.get("radius_px") is not None:
                r, c = head["center_px"]
                if radiograph.calibrated and head.get("radius_mm") is not None:
                    rr, rc = (float(head["radius_mm"]) / s for s in radiograph.pixel_size_mm)
                else:
                    rr = rc = float(head["radius_px"])
                state.layers["sphere"] = self.viewer.add_shapes(
                    [np.array([[r - rr, c - rc], [r - rr, c + rc], [r + rr, c + rc], [r + rr, c - rc]])],
                    shape_type="ellipse", name=f"{hip['side']} reference circle", edge_color=SPHERE_COLOR,
                    face_color="transparent", edge_width=1.0, **radiograph_transform(radiograph))
            self.hips.append(state)
        self._show_hips()
        self._fill_table()
        self.confirm_button.setEnabled(False)
        self._say(f"Found {len(self.hips)} hip(s) on the radiograph.")

    def _add_mask_layer(self, mask: Volume, name: str, color: tuple[float, ...], transform: dict,
                        side: str) -> Any:
        layer = self.viewer.add_labels(np.asarray(mask.array, dtype=np.uint8).copy(), name=name,
                                       colormap=_label_colormap(color), opacity=0.45, **transform)
        # Brush, eraser and fill emit ``paint``; undo and redo only refresh the layer (``set_data``).
        for event in (layer.events.paint, layer.events.data, layer.events.set_data):
            event.connect(lambda *_: self._on_mask_edited(side))
        return layer

    def _surface_data(self, measures: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        mesh, deviation = getattr(measures, "mesh", None), getattr(measures, "deviation_mm", None)
        if mesh is None or deviation is None:
            return None
        vertices = lps_to_world(self._image_layer.metadata[META_VOLUME], mesh.vertices_lps)
        return vertices, np.asarray(mesh.faces), np.asarray(deviation, dtype=float)

    def _add_deviation_surface(self, state: HipState, measures: Any) -> None:
        data = self._surface_data(measures)
        if data is None:
            return
        limit = float(max(np.nanmax(np.abs(data[2])), 0.5))
        transform = volume_transform(self._image_layer.metadata[META_VOLUME])
        state.layers["deviation"] = self.viewer.add_surface(
            data, units=transform["units"], axis_labels=transform["axis_labels"],
            name=f"{state.side} deviation (mm)", colormap="coolwarm", contrast_limits=(-limit, limit),
            visible=self.viewer.dims.ndisplay == 3)

    def _clear_hip_layers(self) -> None:
        for state in self.hips:
            for layer in state.layers.values():
                if layer in self.viewer.layers:
                    self.viewer.layers.remove(layer)
        self.hips = []

    def _show_hips(self) -> None:
        self.hips_list.clear()
        for state in self.hips:
            head = (state.current or {}).get("head") or {}
            radius = head.get("radius_mm")
            self.hips_list.addItem(f"{state.side}: head radius {format_value(radius)} mm")

    def toggle_layers(self, structure: str) -> None:
        """Show or hide every hip's head (``"femoral_head"``) or lesion (``"lesion"``) labels."""
        layers = [s.layers[structure] for s in self.hips if structure in s.layers]
        visible = not all(layer.visible for layer in layers)
        for layer in layers:
            layer.visible = visible

    # --- measures ---------------------------------------------------------------------------
    def _fill_table(self) -> None:
        self.table.setColumnCount(2 * len(self.hips))
        headers = []
        for state in self.hips:
            headers += [f"{state.side} automatic", f"{state.side} current"]
        self.table.setHorizontalHeaderLabels(headers)
        for col, state in enumerate(self.hips):
            for row, (_, section, key) in enumerate(MEASURE_ROWS):
                for offset, measures in enumerate((state.automatic, state.current)):
                    item = QTableWidgetItem(format_value(measure_value(measures, section, key)))
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(row, 2 * col + offset, item)

    def current_masks(self) -> dict[str, Volume]:
        """The masks as the reader left them, as Volumes on the image grid, keyed by mask name."""
        volume: Volume = self._image_layer.metadata[META_VOLUME]
        masks = {}
        for state in self.hips:
            for structure in (HEAD, LESION):
                layer = state.layers.get(structure)
                if layer is not None:
                    masks[mask_name(state.side, structure)] = volume.with_array(np.asarray(layer.data) != 0)
        return masks

    def _on_mask_edited(self, side: str) -> None:
        self._dirty_sides.add(side)
        self._debounce.start()

    def remeasure(self) -> Any:
        """Measure edited hips again in a worker thread (one at a time; edits meanwhile queue one more).

        A hip whose labels equal the automatic masks again (after undo) gets its automatic
        measures back without measuring.
        """
        from napari.qt.threading import create_worker

        if not self.hips or self._image_layer is None or META_VOLUME not in self._image_layer.metadata:
            return None
        if self._measure_worker is not None:
            self._remeasure_pending = True
            return self._measure_worker
        dirty, self._dirty_sides = self._dirty_sides or {s.side for s in self.hips}, set()
        jobs = []
        for state in self.hips:
            if HEAD not in state.layers or state.side not in dirty:
                continue
            hashes = state.label_hashes()
            if hashes == state.measured_hashes:
                continue
            state.measured_hashes = hashes
            if hashes == {name: mask_sha256(m) for name, m in state.automatic_masks.items()}:
                state.current = state.automatic
                continue
            head, lesion = (
                measured_mask(state.layers[part].data, state.automatic_masks[mask_name(state.side, part)],
                              state.automatic_fractions.get(mask_name(state.side, part)))
                for part in (HEAD, LESION))
            jobs.append((state.side, head, lesion, state.neck_axis_lps))
        if not jobs:
            self._fill_table()
            self._show_hips()
            return None
        self._measure_worker = create_worker(_measure_masks, jobs)
        self._measure_worker.returned.connect(self._on_remeasured)
        self._measure_worker.errored.connect(self._on_error)
        self._measure_worker.finished.connect(self._on_measure_finished)
        self._measure_worker.start()
        return self._measure_worker

    def _on_remeasured(self, results: list[tuple[str, dict[str, Any] | None, Any]]) -> None:
        by_side = {s.side: s for s in self.hips}
        for side, measures_dict, measures in results:
            state = by_side.get(side)
            if state is None:
                continue
            if measures_dict is None:
                self._say(f"{side} hip: {measures}")
                state.current = {"side": side, "warnings": [str(measures)]}
                continue
            state.current = measures_dict
            deviation, surface = state.layers.get("deviation"), self._surface_data(measures)
            if deviation is not None and surface is not None:
                deviation.data = surface
        self._fill_table()
        self._show_hips()

    def _on_measure_finished(self) -> None:
        self._measure_worker = None
        if self._remeasure_pending:
            self._remeasure_pending = False
            self.remeasure()

    def add_collapse_ruler(self) -> Any:
        """Add a Shapes layer for drawing lines; their lengths (mm) are shown as they change."""
        if self._image_layer is None:
            return None
        meta = self._image_layer.metadata
        if meta.get(META_VOLUME) is not None:
            transform = volume_transform(meta[META_VOLUME])
        else:
            transform = radiograph_transform(meta[META_RADIOGRAPH])
        layer = self.viewer.add_shapes(ndim=self._image_layer.ndim, name="collapse (manual)",
                                       edge_color="cyan", edge_width=0.5, **transform)
        layer.events.data.connect(lambda *_: self._show_ruler(layer))
        layer.mode = "add_line"
        self._show_ruler(layer)
        return layer

    def _show_ruler(self, layer: Any) -> None:
        lengths = line_lengths_mm(layer)
        unit = "mm" if self._image_layer_calibrated() else "px"
        self.ruler_label.setText(
            "Manual lines: " + (", ".join(f"{v:.2f} {unit}" for v in lengths) if lengths else "draw a line"))

    def _image_layer_calibrated(self) -> bool:
        radiograph = self._image_layer.metadata.get(META_RADIOGRAPH) if self._image_layer is not None else None
        return radiograph is None or radiograph.calibrated

    # --- reads ------------------------------------------------------------------------------
    def store(self) -> ReadStore:
        """The reads database chosen in the widget (default: ``$ONFH_READS_DB`` or ``~/.onfh-imaging``)."""
        return ReadStore(Path(self.db_path.text().strip() or default_db_path()))

    def refresh_reads(self, *_: Any) -> None:
        """List earlier confirmations of this series, unless the reader reads blind."""
        uid = self.series_info.get("series_instance_uid")
        if not uid:
            self.reads_view.setPlainText("")
            return
        if self.blind.isChecked() and not self._confirmed_here:
            self.reads_view.setPlainText("Hidden: blind read. Previous reads appear after you confirm.")
            return
        try:
            records = self.store().history(str(uid))
        except OnfhError as exc:
            self.reads_view.setPlainText(str(exc))
            return
        if not records:
            self.reads_view.setPlainText("No previous reads of this series.")
            return
        lines = [f"{r.confirmed_at[:19]}Z  {r.reader}: ARCO {r.arco_2019}"
                 f"{' (edited masks)' if r.edited else ''}{' [blind]' if r.blind else ''}"
                 f"{' - ' + r.comment if r.comment else ''}" for r in records]
        self.reads_view.setPlainText("\n".join(lines))

    def suggested_stage(self) -> str | None:
        stages = [measure_value(s.current, "staging", "arco_2019") for s in self.hips]
        order = {stage: n for n, stage in enumerate(ARCO_2019_STAGES)}
        known = [s for s in stages if s in order]
        return max(known, key=order.__getitem__) if known else None

    def ask_and_confirm(self) -> ReadRecord | None:
        """Ask the reader for name, final stage and comment, then confirm."""
        if not self.hips or META_VOLUME not in (self._image_layer.metadata if self._image_layer else {}):
            self._say("Segment an MR series before confirming.")
            return None
        dialog = ConfirmDialog(self.suggested_stage(), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return self.confirm(dialog.reader.text(), dialog.stage.currentText(), dialog.comment.toPlainText())

    def confirm(self, reader: str, arco_2019: str, comment: str = "") -> ReadRecord | None:
        """Store the read: masks, automatic and confirmed measures, hashes; files next to the database."""
        if self._debounce.isActive():
            self._debounce.stop()
            self.remeasure()
        if self._measure_worker is not None:
            self._say("Measures are being updated; confirm again in a moment.")
            return None
        info = self.series_info
        try:
            record = confirm_read(
                self.store(),
                reader=reader,
                arco_2019=arco_2019,
                series_instance_uid=str(info.get("series_instance_uid") or self._image_layer.name),
                study_instance_uid=info.get("study_instance_uid"),
                masks=self.current_masks(),
                automatic_masks={k: v for s in self.hips for k, v in s.automatic_masks.items()},
                automatic_measures=[s.automatic for s in self.hips if s.automatic],
                confirmed_measures=[s.current for s in self.hips if s.current],
                comment=comment,
                blind=self.blind.isChecked(),
                source_datasets=self._source_headers(),
            )
        except OnfhError as exc:
            self._say(f"Not confirmed: {exc}")
            return None
        self.last_record = record
        self._confirmed_here = True
        self.refresh_reads()
        self._say(f"Confirmed by {record.reader}: ARCO {record.arco_2019}; saved in {Path(record.files['json']).parent}")
        return record

    def _source_headers(self) -> list[Any] | None:
        import pydicom

        files = self._image_layer.metadata.get(META_FILES) or []
        if not files:
            return None
        return [pydicom.dcmread(f, stop_before_pixels=True) for f in files]

    def _say(self, message: str) -> None:
        self.status.setText(message)

"""Dock widget: segment a study, let the reader correct the masks, confirm each hip.

The widget only displays and drives a :class:`onfh_imaging.reading.ReadingSession` (the reading
workflow without a screen): "Segment" runs the session's pipeline in a worker thread, edits of the head
and lesion labels are measured again by the session (debounced, in a worker thread), and "Confirm" stores
one decision per hip through :meth:`~onfh_imaging.reading.ReadingSession.confirm`. When the automatic
search misses a head, the reader clicks its centre (or three points on its outline) in the "head seeds"
Points layer and segments again from those seeds.

Shortcuts: Shift-S segment, Shift-C confirm, Shift-L toggle lesion layers, Shift-H toggle head layers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import QDialog, QTableWidgetItem, QWidget

from onfh_imaging.errors import OnfhError
from onfh_imaging.geometry import Volume
from onfh_imaging.reading import HipDecision, ReadingSession, Segmented, format_value, measure_job_shown
from onfh_imaging.reading_worker import ProcessWorker
from onfh_imaging.reads import HEAD, LESION, ReadRecord, ReadStore, default_db_path

from . import _geometry as G
from . import _layers as L
from ._dialogs import ConfirmDialog, ask_discard_edits
from ._panel import ReadingPanel
from ._reader import (
    META_FILES,
    META_RADIOGRAPH,
    META_SERIES,
    META_SERIES_INFO,
    META_VOLUME,
    radiograph_transform,
    volume_transform,
)
from ._steps import StepQueue

if TYPE_CHECKING:
    import napari

DEBOUNCE_MS = 300
SEED_LAYER = "head seeds"
SEPARATE_PROCESS = True
"""Run segmentation and measuring in a child process (the GUI thread never waits for the GIL); False runs
them in this process's worker threads."""
WORKER = ProcessWorker()


class _Relay(QObject):
    """Carries progress reports from a worker thread to the GUI thread (queued signal)."""

    progress = Signal(float, str)


class ReadingWidget(ReadingPanel):
    """Segment, review, correct and confirm the femoral heads of the selected series.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose image layers are read (napari passes it to a dock widget).
    parent : QWidget, optional
        The Qt parent.

    Attributes
    ----------
    viewer : napari.Viewer
        As given.
    session : ReadingSession or None
        The reading of the selected series; None when no image is open.
    layers : ReadLayers
        The read's layers in the viewer, side -> structure -> layer.
    selected_side : str or None
        The hip whose measures the table shows.
    last_record : ReadRecord or None
        The read confirmed last in this widget.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session: ReadingSession | None = None
        self.layers = L.ReadLayers(napari_viewer, self._on_mask_edited)  # side -> {"femoral_head", "lesion"...}
        self.selected_side: str | None = None
        self.last_record: ReadRecord | None = None
        self._image_layer: Any = None
        self._worker: Any = None
        self._measure_worker: Any = None
        self._placeholder_worker: Any = None
        self._remeasure_pending = False
        self._dirty_sides: set[str] = set()
        self._confirmed_here = False
        self._measured: dict[str, dict[str, Any]] = {}  # series uid -> its current measurement JSON
        self._steps = StepQueue()  # GUI work, one piece per turn of the event loop
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.remeasure)
        self._build_ui()
        self.viewer.layers.events.inserted.connect(self._refresh_series)
        self.viewer.layers.events.removed.connect(self._refresh_series)
        self.viewer.dims.events.ndisplay.connect(self._show_deviation)
        self._refresh_series()
        self._bind_keys()
        threading.Thread(target=_import_ahead, daemon=True).start()

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
        if layer is self._image_layer:
            return
        # Masks and measures belong to the series they were made on: another series starts afresh.
        if self._steps:
            self._steps.clear()
            self._segment_done()
        self._clear_hip_layers()
        self._image_layer = layer
        self._confirmed_here = False
        self.session = None if layer is None else ReadingSession(
            self.radiograph or self.volume, layer.metadata.get(META_SERIES_INFO) or self.series_info)
        self.progress.setValue(0)
        if layer is not None and SEPARATE_PROCESS:
            WORKER.start()  # the child imports the toolkit while the reader looks at the images
        self._say("" if layer is None else f"{layer.name}: press Segment.")
        self._show_view()
        if self.volume is not None:  # the layers Segment fills, added now: it then only sets their data
            self._make_placeholders(self.volume)
        self._show_session()
        self.refresh_reads()

    def _make_placeholders(self, volume: Volume) -> None:
        """Make the empty layers Segment fills in a worker thread, then add them one per step (if the
        reader still reads that image)."""
        from napari.qt.threading import create_worker

        def add(made: dict[str, Any]) -> None:
            if volume is self.volume:
                self._steps.extend(self.layers.placeholders(volume, made))

        def finished() -> None:
            if self._placeholder_worker is worker:
                self._placeholder_worker = None

        worker = self._placeholder_worker = create_worker(L.ReadLayers.placeholder_layers, volume)
        worker.returned.connect(add)
        worker.finished.connect(finished)
        worker.start()

    def _show_view(self) -> None:
        """Radiographs and MR are separate views: show only the image being read (and its layers)."""
        if self._image_layer is None:
            return
        for layer in self._image_layers():
            if layer is not self._image_layer and (layer.ndim == 2 or self._image_layer.ndim == 2):
                layer.visible = False  # a radiograph shares no space with an MR volume, nor with another view
        self._image_layer.visible = True
        if self.radiograph is not None:
            self.viewer.dims.ndisplay = 2
        self.viewer.reset_view()

    @property
    def image_layer(self) -> Any:
        """The image layer being read."""
        return self._image_layer

    @property
    def volume(self) -> Volume | None:
        return None if self._image_layer is None else self._image_layer.metadata.get(META_VOLUME)

    @property
    def radiograph(self) -> Any:
        return None if self._image_layer is None else self._image_layer.metadata.get(META_RADIOGRAPH)

    @property
    def series_info(self) -> dict[str, Any]:
        return dict(self._image_layer.metadata.get(META_SERIES) or {}) if self._image_layer is not None else {}

    @property
    def hips(self) -> list[Any]:
        """The session's hips (empty before Segment)."""
        return [] if self.session is None else self.session.hips

    # --- segmentation -----------------------------------------------------------------------
    def segment(self, from_seeds: bool = False, ask: bool = True) -> Any:
        """Segment and measure the selected series in a worker thread (from the clicked seeds if asked).

        Parameters
        ----------
        from_seeds : bool
            Segment from the head seeds clicked in the "head seeds" layer.
        ask : bool
            When the reader has edited masks, ask before discarding them (False does not ask).

        Returns
        -------
        napari worker or None
            The worker running (or already running) the pipeline; None when nothing was started (no
            series, edits kept, or no seed clicked), with the reason in the status line.
        """
        from napari.qt.threading import create_worker

        if self.session is None:
            self._say("Open a study first (File > Open, or the ONFH sample data).")
            return None
        if self._worker is not None:
            return self._worker
        self._sync_labels()
        edited = [h.side for h in self.hips if h.edited]
        if edited and ask and not ask_discard_edits(self, edited):
            self._say("Kept your edits; not segmented again.")
            return None
        seeds = self.head_seeds() if from_seeds else {}
        if from_seeds and not seeds:
            self._say("Click a head centre (or three points on its outline) in the 'head seeds' layer first.")
            return None
        self.segment_button.setEnabled(False)
        self.confirm_button.setEnabled(False)
        self.progress.setValue(0)
        fluid = self._fluid_sensitive_volume()
        self.session.fluid_sensitive = fluid
        self._worker = create_worker(_segment, self.session, seeds, self._relay.progress.emit, self.volume)
        self._worker.returned.connect(self._on_segmented)
        self._worker.errored.connect(self._on_error)
        self._worker.finished.connect(self._on_worker_finished)
        self._say("Segmenting from your seeds..." if seeds else "Segmenting...")
        self._worker.start()
        return self._worker

    def _fluid_sensitive_volume(self) -> Volume | None:
        """A STIR or fat-suppressed series on the same grid as the series being read, if one is open."""
        t1 = self.volume
        if t1 is None:
            return None
        for layer in self._image_layers():
            volume = layer.metadata.get(META_VOLUME)
            info = layer.metadata.get(META_SERIES) or {}
            fluid = info.get("sequence") == "STIR" or bool(info.get("fat_saturated"))
            if layer is not self._image_layer and volume is not None and fluid and volume.same_grid(t1):
                return volume
        return None

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(100 * max(0.0, min(1.0, fraction))))
        if message:
            self._say(message)

    def _on_worker_finished(self) -> None:
        if self._segmented_shown not in self._steps:  # a result is shown step by step; its last step ends it
            self._segment_done()

    def _segment_done(self) -> None:
        self._worker = None
        self.segment_button.setEnabled(True)
        self.confirm_button.setEnabled(bool(self.hips))

    def _on_error(self, exc: Exception) -> None:
        hint = " Click the head centre in the 'head seeds' layer, then 'Segment from seeds'." \
            if "no femoral head" in str(exc) else ""
        self._say(f"Failed: {exc}{hint}")

    def _on_segmented(self, result: tuple[ReadingSession, Segmented, dict[str, Any] | None]) -> None:
        session, segmented, prepared = result
        if session is not self.session:  # the reader moved to another series meanwhile
            return
        session.load(segmented)
        sides = {h.side for h in session.hips}
        steps: list[Callable[[], None]] = [partial(self.layers.remove, side) for side in self.layers
                                           if side not in sides]
        if self.volume is None:
            steps.append(partial(self.layers.circles, session.hips, self.radiograph))
        else:  # one layer per structure for every hip, its data made in the worker thread
            hips = [hip for hip in session.hips if hip.labels]
            steps += [partial(self.layers.labels, hips, s, self.volume, self.outline.isChecked(), prepared)
                      for s in (HEAD, LESION)]
            steps += [self._set_sphere, self._set_deviation, self.layers.colorbar]
        steps.append(self._segmented_shown)
        # one layer per turn of the event loop: each change of a layer costs napari a redraw
        self._steps.clear()  # a result replaces whatever was still to be shown
        self._steps.extend(steps)

    def _segmented_shown(self) -> None:
        self.progress.setValue(100)
        self.viewer.layers.selection.active = self._image_layer
        self.selected_side = None
        self.viewer.reset_view()
        self._show_session()
        self._segment_done()
        found = ", ".join(f"{h.side}{' (not measured)' if h.current is None else ''}" for h in self.hips)
        self._say(f"Found: {found}. Edit the labels, then Confirm each hip." if found else "No femoral head found.")

    def _deviation_shown(self) -> bool:
        # A 3D surface drawn over a 2D slice would hide it: the map shows in the 3D view.
        return self.deviation.isChecked() and self.viewer.dims.ndisplay == 3

    def _set_deviation(self) -> None:
        """Update the hips' deviation maps; add their layer only when the 3D view shows it."""
        if self.volume is None:
            return
        layer = self.layers.deviation(self.hips, self.volume, create=self._deviation_shown())
        if layer is not None and layer.visible != self._deviation_shown():
            layer.visible = self._deviation_shown()

    def _show_deviation(self, *_: Any) -> None:
        """Show or hide the deviation maps as the view and the check box ask, then their colour bar."""
        self._steps.extend((self._set_deviation, self.layers.colorbar))

    def _apply_outline(self, *_: Any) -> None:
        L.set_outline([layer for layers in self.layers.values() for key, layer in layers.items()
                       if key in (HEAD, LESION)], self.outline.isChecked())

    def _clear_hip_layers(self) -> None:
        self.layers.remove_all()

    def toggle_layers(self, structure: str) -> None:
        """Show or hide every hip's head or lesion labels.

        Parameters
        ----------
        structure : str
            ``"femoral_head"`` or ``"lesion"``.
        """
        layers = [s[structure] for s in self.layers.values() if structure in s]
        visible = not all(layer.visible for layer in layers)
        for layer in layers:
            layer.visible = visible

    # --- hips and measures ------------------------------------------------------------------
    def _show_session(self) -> None:
        """Hips list, the selected hip's table and notes, the study's warnings."""
        self.hips_list.blockSignals(True)
        self.hips_list.clear()
        for hip in self.hips:
            stage = format_value((hip.current or {}).get("staging", {}).get("arco_2019")) if hip.current else "-"
            flag = " - not measured" if hip.current is None else (" - review" if hip.quality.get("needs_review")
                                                                  else "")
            self.hips_list.addItem(f"{hip.side}: suggested ARCO {stage}{' (edited)' if hip.edited else ''}{flag}")
        sides = [h.side for h in self.hips]
        if self.selected_side not in sides:
            self.selected_side = sides[0] if sides else None
        if self.selected_side is not None:
            self.hips_list.setCurrentRow(sides.index(self.selected_side))
        self.hips_list.blockSignals(False)
        self._fill_table()
        self._show_verdict()
        self.confirm_button.setEnabled(bool(self.hips) and self._worker is None)

    def _show_verdict(self) -> None:
        """The ARCO verdict of each hip from every series of this visit measured in the widget (MR and
        radiographs, each with its current masks)."""
        if self.session is not None and self.session.segmented and self.session.series_instance_uid:
            self._measured[self.session.series_instance_uid] = self.session.measurement()
        current = None if self.session is None else self._measured.get(self.session.series_instance_uid or "")
        if current is None:
            self.verdict_view.setPlainText("Segment the series of this visit (MR and radiographs) to see the verdict.")
            return
        # imported once a series is measured (the measuring modules: about a second), by then in the background
        from onfh_imaging.textreport import verdict_lines
        from onfh_imaging.verdict import visit_key, visit_verdicts

        visit = [r for r in self._measured.values() if visit_key(r) == visit_key(current)]
        lines = [line for v in visit_verdicts(visit) for line in verdict_lines(v.to_dict()) + [""]]
        self.verdict_view.setPlainText("\n".join(lines).strip() or "No hip measured in this visit.")

    def _fill_table(self) -> None:
        rows = [] if self.session is None or self.selected_side is None else self.session.table(self.selected_side)
        labels = [r[0] for r in (self.session.rows if self.session is not None else ())]
        self.table.setRowCount(len(labels))
        self.table.setVerticalHeaderLabels(labels)
        for row, (_, automatic, current) in enumerate(rows):
            for col, text in enumerate((automatic, current)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, col, item)
        if not rows:
            self.table.clearContents()
        # every row in view, no scroll bars: the table is as tall as its rows and as wide as the dock
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth()
                                  + sum(self.table.rowHeight(r) for r in range(self.table.rowCount())))
        notes = [] if self.selected_side is None else self.session.hip(self.selected_side).notes()
        study = [] if self.session is None else [f"study: {w}" for w in self.session.warnings]
        self.notes.setPlainText("\n".join(f"- {n}" for n in notes + study) or "No warnings.")

    def _on_hip_row(self, row: int) -> None:
        if 0 <= row < len(self.hips):
            self.select_hip(self.hips[row].side)

    def select_hip(self, side: str) -> None:
        """Show one hip's measures and centre the view (and the slice) on its head.

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.
        """
        self.selected_side = side
        self._fill_table()
        hip = self.session.hip(side)
        world = G.hip_world_center(self._image_layer, hip, self.volume)
        if world is None:
            return
        if self.volume is not None and self.viewer.dims.ndisplay == 2:
            self.viewer.dims.set_point(self.viewer.dims.not_displayed, world[list(self.viewer.dims.not_displayed)])
        self.viewer.camera.center = tuple(world[-self.viewer.dims.ndisplay:])

    def _on_mask_edited(self, side: str) -> None:
        if self.layers.loading or self.session is None or side not in {h.side for h in self.hips}:
            return
        self._dirty_sides.add(side)  # its labels are taken from the layers when measured (_sync_labels)
        self._debounce.start()

    def _sync_labels(self) -> None:
        """Give the hips edited since last measured their part of the labels layers."""
        for side in self._dirty_sides & {h.side for h in self.hips}:
            self.session.hip(side).labels.update(self.layers.sync(side))

    def remeasure(self) -> Any:
        """Measure edited hips again in a worker thread (one at a time; edits meanwhile queue one more)."""
        from napari.qt.threading import create_worker

        if self.session is None or not self.hips or self.volume is None:
            return None
        if self._measure_worker is not None:
            self._remeasure_pending = True
            return self._measure_worker
        self._sync_labels()
        dirty, self._dirty_sides = self._dirty_sides or {h.side for h in self.hips}, set()
        before = {h.side: h.measures for h in self.hips}
        jobs = self.session.jobs(sorted(dirty))
        back = {h.side for h in self.hips if h.measures is not before[h.side]}  # labels back to the automatic
        if back or not jobs:
            self._after_measures(back)
        if not jobs:
            return None
        sides = {job.side for job in jobs}
        self._measure_worker = create_worker(_measure, jobs)
        self._measure_worker.returned.connect(lambda results: self._on_remeasured(results, sides))
        self._measure_worker.errored.connect(self._on_error)
        self._measure_worker.finished.connect(self._on_measure_finished)
        self._measure_worker.start()
        return self._measure_worker

    def _on_remeasured(self, results: list[Any], sides: set[str]) -> None:
        if self.session is not None:
            self.session.apply([result for result, _ in results], [shown for _, shown in results])
        self._after_measures(sides)

    def _after_measures(self, sides: set[str]) -> None:
        """Show new measures: the table at once, then each changed hip's sphere and map, one per step."""
        self._show_session()
        if sides and self.volume is not None:
            self._steps.extend((self._set_sphere, self._set_deviation))

    def _set_sphere(self) -> None:
        if self.volume is not None:
            self.layers.sphere([hip for hip in self.hips if hip.labels], self.volume)

    def _on_measure_finished(self) -> None:
        self._measure_worker = None
        if self._remeasure_pending:
            self._remeasure_pending = False
            self.remeasure()

    # --- head seeds and the manual ruler ----------------------------------------------------
    def _transform(self) -> dict[str, Any]:
        return volume_transform(self.volume) if self.volume is not None else radiograph_transform(self.radiograph)

    def seed_layer(self) -> Any:
        """The Points layer where the reader clicks head centres (or outline points), side by side."""
        if self._image_layer is None:
            return None
        layer = next((x for x in self.viewer.layers if x.name == SEED_LAYER and x.ndim == self._image_layer.ndim),
                     None)
        if layer is None:
            layer = self.viewer.add_points(ndim=self._image_layer.ndim, name=SEED_LAYER, size=4,
                                           face_color=L.SEED_COLOR, features={"side": np.empty(0, dtype=object)},
                                           **self._transform())
        layer.feature_defaults = {"side": self.seed_side.currentText()}
        layer.mode = "add"
        self.viewer.layers.selection.active = layer
        self._say(f"Click the {self.seed_side.currentText()} head's centre (or 3 points on its outline), "
                  "then 'Segment from seeds'.")
        return layer

    def head_seeds(self) -> dict[str, list[tuple[float, ...]]]:
        """The clicked seeds per side (LPS mm on MR, row/column on a radiograph)."""
        layer = next((x for x in self.viewer.layers if x.name == SEED_LAYER), None)
        if layer is None or self._image_layer is None or layer.ndim != self._image_layer.ndim:
            return {}
        return G.seed_points(layer, self.volume)

    def add_collapse_ruler(self) -> Any:
        """Add a Shapes layer for drawing lines; their lengths (mm) are shown as they change."""
        if self._image_layer is None:
            return None
        layer = self.viewer.add_shapes(ndim=self._image_layer.ndim, name="collapse (manual)",
                                       edge_color="cyan", edge_width=0.5, **self._transform())
        layer.events.data.connect(lambda *_: self._show_ruler(layer))
        layer.mode = "add_line"
        self._show_ruler(layer)
        return layer

    def _show_ruler(self, layer: Any) -> None:
        lengths = G.line_lengths_mm(layer)
        unit = "mm" if self.radiograph is None or self.radiograph.calibrated else "px"
        self.ruler_label.setText(
            "Manual lines: " + (", ".join(f"{v:.2f} {unit}" for v in lengths) if lengths else "draw a line"))

    # --- reads ------------------------------------------------------------------------------
    def store(self) -> ReadStore:
        """The reads database chosen in the widget (default: ``$ONFH_READS_DB`` or ``~/.onfh-imaging``)."""
        return ReadStore(Path(self.db_path.text().strip() or default_db_path()))

    def refresh_reads(self, *_: Any) -> None:
        """List earlier confirmations of this series, unless the reader reads blind.

        Parameters
        ----------
        *_ : object
            The arguments of the Qt signal that calls it (ignored).
        """
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
        lines = []
        for r in records:
            stages = ", ".join(f"{h['side']} {h['arco_2019'] or 'not assessable'}" for h in r.hips) or r.arco_2019
            lines.append(f"{r.confirmed_at[:19]}Z  {r.reader}: ARCO {stages}{' (edited masks)' if r.edited else ''}"
                         f"{' [blind]' if r.blind else ''}{' - ' + r.comment if r.comment else ''}")
        self.reads_view.setPlainText("\n".join(lines) or "No previous reads of this series.")

    def ask_and_confirm(self) -> ReadRecord | None:
        """Ask the reader for name, each hip's final stage and comments, then confirm."""
        if not self.hips:
            self._say("Segment the series before confirming.")
            return None
        dialog = ConfirmDialog(self.session, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return self.confirm(dialog.reader.text(), dialog.decisions(), dialog.comment.toPlainText())

    def confirm(self, reader: str, decisions: dict[str, HipDecision | str | None], comment: str = "") -> ReadRecord | None:
        """Store the read: one decision per hip (a stage, ``"not assessable"``, or a :class:`HipDecision`).

        Parameters
        ----------
        reader : str
            Who confirms.
        decisions : dict of str to HipDecision, str or None
            Side -> its decision: a :class:`HipDecision`, an ARCO 2019 stage or ``"not assessable"``.
        comment : str
            A comment on the whole read.

        Returns
        -------
        ReadRecord or None
            The stored read; None when refused (the reason in the status line): while measures are
            being updated, when a hip has no decision, or a stage is given for a hip whose measurement
            failed.
        """
        if self._debounce.isActive():
            self._debounce.stop()
            self.remeasure()
        if self._measure_worker is not None:
            self._say("Measures are being updated; confirm again in a moment.")
            return None
        try:
            chosen = {side: d if isinstance(d, HipDecision) else HipDecision(d) for side, d in decisions.items()}
            record = self.session.confirm(self.store(), reader=reader, decisions=chosen, comment=comment,
                                          blind=self.blind.isChecked(), source_datasets=self._source_headers())
        except OnfhError as exc:
            self._say(f"Not confirmed: {exc}")
            return None
        self.last_record = record
        self._confirmed_here = True
        self.refresh_reads()
        self._show_session()
        stages = ", ".join(f"{h['side']} {h['arco_2019'] or 'not assessable'}" for h in record.hips)
        self._say(f"Confirmed by {record.reader}: {stages}; saved in {Path(record.files['json']).parent}")
        return record

    def _source_headers(self) -> list[Any] | None:
        import pydicom

        files = self._image_layer.metadata.get(META_FILES) or []
        if not files or self.volume is None:
            return None
        return [pydicom.dcmread(f, stop_before_pixels=True) for f in files]

    def _say(self, message: str) -> None:
        self.status.setText(message)


def _import_ahead() -> None:
    """Import in a worker thread what the GUI thread would otherwise import when first needed: pandas, which
    napari imports on its first labels layer (for the layer's features table), and the visit verdict with the
    measuring modules it imports (scipy's), which the widget uses once a series is measured: a second or
    more each, while the reader looks at the images."""
    import pandas  # noqa: F401

    from onfh_imaging import textreport, verdict  # noqa: F401


def _compute(session: ReadingSession, seeds: dict[str, Any], progress: Any) -> tuple[ReadingSession, Segmented]:
    """The session's pipeline run (worker thread); returns the session it ran for with its result."""
    if SEPARATE_PROCESS:
        return session, WORKER.compute(session, seeds or None, progress)
    return session, session.compute(head_seeds=seeds or None, progress=progress)


def _segment(session: ReadingSession, seeds: dict[str, Any], progress: Any,
             volume: Volume | None) -> tuple[ReadingSession, Segmented, dict[str, Any] | None]:
    """Segment (worker thread), then make the hips' combined labels and regions on an MR ``volume``."""
    session, segmented = _compute(session, seeds, progress)
    hips = [hip for hip in segmented.hips if hip.labels]
    return session, segmented, None if volume is None else G.prepare_labels(hips, volume)


def _measure(jobs: list[Any]) -> list[Any]:
    """Measure edited hips and make the deviation maps to show (worker thread)."""
    if SEPARATE_PROCESS:
        return WORKER.measure_shown(jobs)
    return [measure_job_shown(job) for job in jobs]


__all__ = ["ConfirmDialog", "ReadingWidget"]

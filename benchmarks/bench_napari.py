"""Latency of the napari reading widget against the pipeline it drives, on the plugin's sample study.

Measured in one run, on the same study:

- **opening**: the widget created and docked, taking the series (and adding the empty layers Segment fills,
  made in a worker thread), before the toolkit's measuring modules are imported in this process;
- **Segment**: click to layers shown and table filled, against :func:`onfh_imaging.pipeline.measure_mr`
  called directly (no GUI);
- **re-measure**: an edit of the lesion labels to the table showing its new volume (without the
  debounce), against :func:`onfh_imaging.measure.hip.measure_hip` on the same edited masks;
- **longest canvas block**: the longest gap between ticks of a 10 ms timer on the GUI thread while
  Segment runs and while a re-measure runs (the time the canvas could not repaint or take input);
- **longest widget step**: the longest of the widget's own GUI steps (one layer added or updated, or the
  table filled; :class:`onfh_napari._steps.StepQueue`), without the repaints between them;
- **3D view**: opening it (napari builds the 3D visuals; the widget then adds each hip's deviation map)
  and going back to 2D;
- **floors**: the same gap while the reader only moves the slice slider (what any update of the canvas
  costs on this machine, software OpenGL here), and while nothing happens at all for as long as Segment
  took (what the machine's other work costs the GUI thread), measured in the same run.

Run under a display (``xvfb-run -a python benchmarks/bench_napari.py``); prints a Markdown table.
Optional ``--out docs/img/napari_widget.png`` saves a screenshot of the viewer and widget after Segment.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

TICK_MS = 10


class StepMeter:
    """Longest single step (s) the widget's :class:`~onfh_napari._steps.StepQueue` runs."""

    def __init__(self, queue):
        self.longest = 0.0
        run_one = queue.run_one

        def timed() -> None:
            step = queue._steps[0] if queue else None
            name = getattr(getattr(step, "func", step), "__name__", "?")
            t = time.perf_counter()
            run_one()
            took = time.perf_counter() - t
            if took > self.longest:
                self.longest, self.name = took, name

        queue.run_one = timed

    def take(self) -> tuple[float, str]:
        """The longest step since the last call: ``(seconds, name of the step's function)``."""
        longest, self.longest = self.longest, 0.0
        return longest, getattr(self, "name", "") if longest else ""


class BlockMeter:
    """Longest interval between ticks of a GUI-thread timer (s): how long the event loop was blocked."""

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.longest = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self.longest, self._last = 0.0, time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        self._tick()
        return self.longest


def _wait(app, condition, timeout_s: float = 300.0) -> None:
    end = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the widget did not finish in time")
        app.processEvents()
        time.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="save a screenshot of the window after Segment (PNG)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="Segment runs (>= 2): the first creates the layers, the others reuse them (median)")
    args = parser.parse_args()

    import napari
    from onfh_napari._sample_data import phantom_study
    from onfh_napari._widget import ReadingWidget
    from qtpy.QtWidgets import QApplication

    from onfh_imaging.reads import HEAD, LESION

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    for data, kwargs, kind in phantom_study():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    end = time.perf_counter() + 2.0  # the window's first paint is not the widget's
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)
    # opening: the widget takes the series and adds the (empty) layers Segment will fill
    meter = BlockMeter()
    meter.start()
    widget = ReadingWidget(viewer)
    steps = StepMeter(widget._steps)
    viewer.window.add_dock_widget(widget, name="ONFH reading", area="right")
    _wait(app, lambda: getattr(widget, "_placeholder_worker", None) is None and not widget._steps)
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    open_block, open_step = meter.stop(), steps.take()
    # imported after the opening, as a reader's session imports them only when it measures
    from onfh_imaging.io import read_series
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.pipeline import measure_mr
    from onfh_imaging.reading import measure_value, measured_masks

    files = widget.image_layer.metadata["onfh_files"]
    series = read_series([Path(f) for f in files])

    pipeline_s, segment_s, segment_block, segment_step = [], [], [], []
    for _ in range(max(args.repeat, 2)):
        t = time.perf_counter()
        measure_mr(series)
        pipeline_s.append(time.perf_counter() - t)
        meter.start()
        t = time.perf_counter()
        widget.segment(ask=False)
        _wait(app, lambda: widget._worker is None)
        segment_s.append(time.perf_counter() - t)
        segment_block.append(meter.stop())
        segment_step.append(steps.take())

    if args.out is not None:
        app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        viewer.window.resize(1280, 800)
        viewer.reset_view()
        for _ in range(20):
            app.processEvents()
        from skimage.io import imsave
        from skimage.transform import rescale

        shot = viewer.screenshot(canvas_only=False, flash=False)
        shot = (rescale(shot[..., :3], 0.75, channel_axis=2, anti_aliasing=True) * 255).astype(np.uint8)
        imsave(args.out, shot, check_contrast=False)

    # the 3D view: napari's 3D visuals, then the widget adds the deviation maps step by step
    steps.take()
    meter.start()
    viewer.dims.ndisplay = 3
    _wait(app, lambda: all("deviation" in widget.layers[h.side] for h in widget.hips if h.surface is not None)
          and not widget._steps)
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    open3d_block, open3d_step = meter.stop(), steps.take()
    meter.start()
    viewer.dims.ndisplay = 2
    _wait(app, lambda: not widget._steps)
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    close3d_block, close3d_step = meter.stop(), steps.take()

    # the floor: redraws alone, moving through the slices
    meter.start()
    for k in range(widget.volume.shape[0]):
        viewer.dims.set_current_step(0, k)
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            app.processEvents()
    redraw_block = meter.stop()
    meter.start()
    end = time.perf_counter() + float(np.median(segment_s[1:]))
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    idle_block = meter.stop()

    # re-measure: paint a block of head voxels into the lesion labels
    hip = max(widget.hips, key=lambda h: measure_value(h.current, "lesion", "volume_ml") or 0)
    layer = widget.layers[hip.side][LESION]
    free = np.argwhere((hip.labels[HEAD] > 0) & (hip.labels[LESION] == 0))
    block = free[np.linalg.norm(free - free.mean(axis=0), axis=1) <= 4]
    before = measure_value(hip.current, "lesion", "volume_ml")
    widget._debounce.setInterval(0)
    meter.start()
    t = time.perf_counter()
    layer.data_setitem(tuple(block.T), 1)
    _wait(app, lambda: widget._measure_worker is None and measure_value(hip.current, "lesion", "volume_ml") != before
          and not hip.stale)
    remeasure_s = time.perf_counter() - t
    _wait(app, lambda: not widget._steps)
    remeasure_block, remeasure_step = meter.stop(), steps.take()
    masks = measured_masks(hip.labels, hip.automatic_masks, hip.fractions)
    t = time.perf_counter()
    measure_hip(masks[HEAD], masks[LESION], side=hip.side, neck_axis_lps=hip.neck_axis_lps)
    direct_s = time.perf_counter() - t

    shape = "x".join(str(n) for n in series.volume.shape)
    print(f"Sample study: {shape} voxels, {len(widget.hips)} hips; Segment again: median of "
          f"{len(segment_s) - 1} runs\n")
    print("| step | widget (s) | pipeline call (s) | ratio | longest canvas block (s) | above idle floor (s) "
          "| longest widget step (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def row(name: str, block: float, step: tuple[float, str] | None = None, times: str = "| | | |") -> None:
        print(f"| {name} {times} {block:.3f} | {max(block - idle_block, 0.0):.3f} | "
              f"{'' if step is None else f'{step[0]:.3f} ({step[1]})'} |")

    row("opening the series (widget and its empty layers added)", open_block, open_step)
    row("Segment, first", segment_block[0], segment_step[0],
        f"| {segment_s[0]:.2f} | {pipeline_s[0]:.2f} | {segment_s[0] / pipeline_s[0]:.2f} |")
    seg, pipe = float(np.median(segment_s[1:])), float(np.median(pipeline_s[1:]))
    row("Segment again", max(segment_block[1:]), max(segment_step[1:]),
        f"| {seg:.2f} | {pipe:.2f} | {seg / pipe:.2f} |")
    row("re-measure after an edit", remeasure_block, remeasure_step,
        f"| {remeasure_s:.2f} | {direct_s:.2f} | {remeasure_s / direct_s:.2f} |")
    row("opening the 3D view (deviation map added)", open3d_block, open3d_step)
    row("back to the 2D view", close3d_block, close3d_step)
    row("moving the slice slider only (redraws)", redraw_block)
    row("nothing happening, as long as Segment again (idle floor)", idle_block)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    viewer.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()

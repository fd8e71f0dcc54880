"""Latency of the napari reading widget against the pipeline it drives, on the plugin's sample study.

Measured in one run, on the same study:

- **Segment**: click to layers shown and table filled, against :func:`onfh_imaging.pipeline.measure_mr`
  called directly (no GUI);
- **re-measure**: an edit of the lesion labels to the table showing its new volume (without the
  debounce), against :func:`onfh_imaging.measure.hip.measure_hip` on the same edited masks;
- **longest canvas block**: the longest gap between ticks of a 10 ms timer on the GUI thread while
  Segment runs and while a re-measure runs (the time the canvas could not repaint or take input);
- **floors**: the same gap while the reader only moves the slice slider (what any update of the canvas
  costs on this machine, software OpenGL here), and while nothing happens at all for as long as Segment
  took (what the machine's other work costs the GUI thread).

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

    from onfh_imaging.io import read_series
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.pipeline import measure_mr
    from onfh_imaging.reading import measure_value, measured_masks
    from onfh_imaging.reads import HEAD, LESION

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    for data, kwargs, kind in phantom_study():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = ReadingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ONFH reading", area="right")
    files = widget.image_layer.metadata["onfh_files"]
    series = read_series([Path(f) for f in files])
    meter = BlockMeter()
    end = time.perf_counter() + 2.0  # the window's first paint is not Segment's
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)

    pipeline_s, segment_s, segment_block = [], [], []
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
    remeasure_block = meter.stop()
    masks = measured_masks(hip.labels, hip.automatic_masks, hip.fractions)
    t = time.perf_counter()
    measure_hip(masks[HEAD], masks[LESION], side=hip.side, neck_axis_lps=hip.neck_axis_lps)
    direct_s = time.perf_counter() - t

    shape = "x".join(str(n) for n in series.volume.shape)
    print(f"Sample study: {shape} voxels, {len(widget.hips)} hips; Segment again: median of "
          f"{len(segment_s) - 1} runs\n")
    print("| step | widget (s) | pipeline call (s) | ratio | longest canvas block (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| Segment, first (layers created) | {segment_s[0]:.2f} | {pipeline_s[0]:.2f} | "
          f"{segment_s[0] / pipeline_s[0]:.2f} | {segment_block[0]:.3f} |")
    seg, pipe = float(np.median(segment_s[1:])), float(np.median(pipeline_s[1:]))
    print(f"| Segment again (layers reused) | {seg:.2f} | {pipe:.2f} | {seg / pipe:.2f} | "
          f"{max(segment_block[1:]):.3f} |")
    print(f"| re-measure after an edit | {remeasure_s:.2f} | {direct_s:.2f} | {remeasure_s / direct_s:.2f} | "
          f"{remeasure_block:.3f} |")
    print(f"| moving the slice slider only (redraws) | | | | {redraw_block:.3f} |")
    print(f"| nothing happening, as long as Segment again | | | | {idle_block:.3f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    viewer.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()

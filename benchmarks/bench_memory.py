"""Peak memory of reading and measuring a large MR series, and of batches, relative to the data.

Run: ``python benchmarks/bench_memory.py [--what read pipeline batch] [--shape 400 512 512]``.

``read``
    Writes a random series (int16, one file per slice) into a temporary folder, then reads it in a fresh
    interpreter and prints the growth of the peak resident set size during ``read_series`` and the peak
    of Python's traced allocations, both as multiples of the returned array's bytes. Bound 1.3x: pixels
    are streamed from each file into one preallocated array, without intermediate copies.
``pipeline``
    Renders a two-hip phantom (256 x 256 x 100 at 1.4 x 1.4 x 2 mm), upsamples it to the requested shape
    at 0.7 x 0.7 x 0.5 mm and writes it as a DICOM series, then runs
    ``onfh_imaging.pipeline.measure_files("MR", files)`` (read + segment + measure) in a fresh
    interpreter. Prints the peak resident set of that process (absolute and its growth over the
    interpreter with the toolkit imported) as multiples of the series' array bytes, then, in a second
    interpreter with ``tracemalloc``, the traced peak of each step (read, segment, measure each hip).
``batch``
    Writes ``--studies`` small phantom studies (default 10 and 50), runs ``run_batch`` over each cohort
    in a fresh interpreter (one local worker process) and prints the peak resident set of the batch
    process and of its workers: it must not grow with the cohort.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
RSS_BOUND = 1.3
#: Peak resident set of measuring a series, as a multiple of its array's bytes (absolute, including
#: the interpreter and the imported libraries).
PIPELINE_BOUND = 10.0
#: Growth of the batch process's peak resident set from the smaller to the larger cohort, MiB.
BATCH_GROWTH_BOUND_MIB = 32.0
OUT_SPACING = (0.7, 0.7, 0.5)


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes.

    Linux's VmHWM belongs to the process image; ``ru_maxrss`` is kept across exec, so a child started
    by a large parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _children_peak_rss() -> int:
    """Largest peak resident set of the waited-for child processes of this process, bytes."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale


def _child(args: list[str]) -> dict:
    """Run this file with ``args`` in a fresh interpreter and return the JSON it prints last."""
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- read_series ---------------------------------------------------------------------------------
def _measure_read(folder: str, traced: bool) -> dict:
    """Read the series in this process and report memory growth (run in a fresh interpreter)."""
    import tracemalloc

    from onfh_imaging.io import read_series, scan

    scan(folder)  # import and warm every code path on the headers first
    before = _peak_rss()
    if traced:
        tracemalloc.start()
    series = read_series(folder)
    peak_traced = tracemalloc.get_traced_memory()[1] if traced else None
    after = _peak_rss()
    nbytes = series.volume.array.nbytes
    return {"array_bytes": nbytes, "rss_growth": after - before, "rss_ratio": (after - before) / nbytes,
            "traced_peak_ratio": None if peak_traced is None else peak_traced / nbytes}


def bench_read(shape: tuple[int, int, int]) -> None:
    from onfh_imaging.geometry import Volume
    from onfh_imaging.io import write_mr_series

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        array = np.empty(shape, dtype=np.int16)
        for k in range(shape[0]):
            array[k] = rng.integers(0, 4000, shape[1:], dtype=np.int16)
        write_mr_series(Volume(array, spacing=(0.7, 0.7, 4.0), direction=CORONAL), tmp)
        del array
        plain = _child(["--read-child", tmp])
        traced = _child(["--read-child", tmp, "--traced"])
    mib = plain["array_bytes"] / 1024**2
    print(f"[read] series {shape[0]} x {shape[1]} x {shape[2]} int16: array {mib:.1f} MiB")
    print(f"[read] peak RSS growth during read_series: {plain['rss_growth'] / 1024**2:.1f} MiB = "
          f"{plain['rss_ratio']:.3f}x the array (bound {RSS_BOUND}x)")
    print(f"[read] peak traced allocations: {traced['traced_peak_ratio']:.3f}x the array")
    if plain["rss_ratio"] > RSS_BOUND:
        raise SystemExit(f"read_series above the documented bound of {RSS_BOUND}x")


# --- the measuring pipeline ------------------------------------------------------------------------
def upsample_volume(volume, shape: tuple[int, int, int], spacing: tuple[float, float, float]):
    """Linear resampling of ``volume`` onto a finer grid covering the same box, one output slice at a time.

    Parameters
    ----------
    volume : Volume
        Source image.
    shape : (slices, rows, columns)
        Output array shape.
    spacing : (x, y, z)
        Output voxel size, mm, in (i, j, k) order. The output grid shares the source's direction and the
        outer corner of its first voxel.

    Returns
    -------
    Volume
        int16 image of ``shape``.
    """
    from scipy import ndimage

    from onfh_imaging.geometry import Volume

    src = volume.array
    s_src = np.asarray(volume.spacing, dtype=float)
    s_out = np.asarray(spacing, dtype=float)
    origin = np.asarray(volume.origin) - np.asarray(volume.direction) @ (0.5 * s_src - 0.5 * s_out)
    # continuous source index of each output voxel centre along k, j and i (voxel-box aligned)
    def positions(n_out: int, axis: int, n_src: int) -> np.ndarray:
        pos = (np.arange(n_out) + 0.5) * s_out[axis] / s_src[axis] - 0.5
        return np.clip(pos, 0, n_src - 1)

    nk, nj, ni = shape
    zk = positions(nk, 2, src.shape[0])
    yj = positions(nj, 1, src.shape[1])
    xi = positions(ni, 0, src.shape[2])
    rows, cols = np.meshgrid(yj, xi, indexing="ij")
    out = np.empty(shape, dtype=np.int16)
    for k, z in enumerate(zk):
        k0 = int(np.floor(z))
        k1 = min(k0 + 1, src.shape[0] - 1)
        w = z - k0
        plane = (1 - w) * src[k0].astype(np.float32) + w * src[k1].astype(np.float32)
        out[k] = np.rint(ndimage.map_coordinates(plane, [rows, cols], order=1, mode="nearest"))
    return Volume(out, tuple(s_out), tuple(origin), volume.direction)


def write_large_phantom(folder: str, shape: tuple[int, int, int]) -> dict:
    """Write a two-hip phantom series of ``shape`` at :data:`OUT_SPACING` into ``folder``."""
    from onfh_imaging.io import write_mr_series
    from onfh_imaging.phantom.study import PhantomSpec, render_series

    box_ap_mm = shape[0] * OUT_SPACING[2]
    spec = PhantomSpec(hips="both", in_plane_mm=shape[2] * OUT_SPACING[0] / 256, matrix=(256, 256),
                       n_slices=100, slice_mm=box_ap_mm / 100)
    coarse = render_series(spec)
    fine = upsample_volume(coarse, shape, OUT_SPACING)
    write_mr_series(fine, folder, series_description="COR T1 0.5MM")
    return {"array_bytes": fine.array.nbytes}


def _measure_pipeline(folder: str) -> dict:
    """Measure the series with ``measure_files`` and report the peak resident set (fresh interpreter)."""
    import onfh_imaging.measure.hip  # noqa: F401 - imported before the baseline, like the pipeline does
    import onfh_imaging.segment.mri  # noqa: F401
    from onfh_imaging.pipeline import measure_files

    files = sorted(str(p) for p in Path(folder).iterdir())
    baseline = _peak_rss()
    start = time.perf_counter()
    result = measure_files("MR", files)
    seconds = time.perf_counter() - start
    return {"baseline": baseline, "peak": _peak_rss(), "seconds": seconds,
            "array_bytes": result.series.volume.array.nbytes,
            "hips": [(h.side, h.measures.to_dict()["head"]["radius_mm"]) for h in result.hips]}


def _trace_pipeline_steps(folder: str) -> dict:
    """Traced peak and resident-set peak after each step of the pipeline (fresh interpreter)."""
    import tracemalloc

    from onfh_imaging.io import read_series
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.segment.mri import segment_hips

    files = sorted(str(p) for p in Path(folder).iterdir())
    steps = []
    tracemalloc.start()

    def step(name: str) -> None:
        current, peak = tracemalloc.get_traced_memory()
        steps.append({"step": name, "traced_peak": peak, "traced_after": current, "rss_peak": _peak_rss()})
        tracemalloc.reset_peak()

    series = read_series(files)
    step("read_series")
    hips = segment_hips(series.volume)
    step("segment_hips")
    top = tracemalloc.take_snapshot().statistics("lineno")[:8]
    for seg in hips:
        head = getattr(seg, "femoral_head_fraction", None)
        head = seg.femoral_head_mask if head is None else head
        lesion = getattr(seg, "lesion_fraction", None)
        lesion = seg.lesion_mask if lesion is None else lesion
        measure_hip(head, lesion, side=seg.side, neck_axis_lps=seg.neck_axis_lps)
        step(f"measure_hip {seg.side}")
    return {"array_bytes": series.volume.array.nbytes, "steps": steps,
            "held_after_segment": [f"{s.traceback[0].filename}:{s.traceback[0].lineno} {s.size / 1024**2:.1f} MiB"
                                   for s in top]}


def bench_pipeline(shape: tuple[int, int, int], trace: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(Path(tmp) / "T1")
        made = _child(["--make-phantom", folder, *map(str, shape)])
        run = _child(["--pipeline-child", folder])
        traced = _child(["--trace-child", folder]) if trace else None
    nbytes = made["array_bytes"]
    mib = 1024**2
    print(f"[pipeline] series {shape[0]} x {shape[1]} x {shape[2]} int16 at {OUT_SPACING} mm: "
          f"array {nbytes / mib:.1f} MiB; measured in {run['seconds']:.0f} s, hips {run['hips']}")
    print(f"[pipeline] peak RSS of measure_files: {run['peak'] / mib:.0f} MiB = {run['peak'] / nbytes:.2f}x "
          f"the array (bound {PIPELINE_BOUND}x); growth over the imported toolkit "
          f"({run['baseline'] / mib:.0f} MiB): {(run['peak'] - run['baseline']) / nbytes:.2f}x")
    if traced is not None:
        for s in traced["steps"]:
            print(f"[pipeline]   {s['step']:<20} traced peak {s['traced_peak'] / nbytes:5.2f}x, held after "
                  f"{s['traced_after'] / nbytes:5.2f}x, RSS peak so far {s['rss_peak'] / nbytes:5.2f}x")
        print("[pipeline]   largest traced allocations held after segment_hips:")
        for line in traced["held_after_segment"]:
            print(f"[pipeline]     {line}")
    if run["peak"] / nbytes > PIPELINE_BOUND:
        raise SystemExit(f"measure_files above the documented bound of {PIPELINE_BOUND}x")


# --- batches -------------------------------------------------------------------------------------------
def _write_cohort(folder: str, n: int) -> None:
    """``n`` small phantom studies (one hip, 128 x 128 x 16), one per patient, as DICOM series."""
    from onfh_imaging.io import write_mr_series
    from onfh_imaging.phantom.study import PhantomSpec, render_series

    volume = render_series(PhantomSpec(hips="right", in_plane_mm=1.0, matrix=(128, 128), n_slices=16,
                                       slice_mm=4.0))
    for p in range(n):
        write_mr_series(volume, Path(folder) / f"P{p:04d}", patient_id=f"P{p:04d}", shuffle_seed=p)


def _run_batch_child(cohort: str, out: str) -> dict:
    from onfh_imaging.batch import run_batch

    baseline = _peak_rss()
    summary = run_batch(cohort, out, processes=1, progress=False)
    return {"baseline": baseline, "peak": _peak_rss(), "workers_peak": _children_peak_rss(),
            "measured": summary.measured, "failed": summary.failed, "seconds": summary.seconds}


def bench_batch(counts: list[int]) -> None:
    mib = 1024**2
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = max(counts)
        cohort = str(Path(tmp) / "cohort")
        _child(["--make-cohort", cohort, str(big)])
        for n in sorted(counts):
            sub = Path(tmp) / f"cohort{n}"
            sub.mkdir()
            for p in range(n):  # hard links: folder walks do not follow symbolic links to folders
                (sub / f"P{p:04d}").mkdir()
                for f in (Path(cohort) / f"P{p:04d}").iterdir():
                    os.link(f, sub / f"P{p:04d}" / f.name)
            results[n] = _child(["--batch-child", str(sub), str(Path(tmp) / f"out{n}")])
            r = results[n]
            print(f"[batch] {n} studies: {r['measured']} measured, {r['failed']} failed in {r['seconds']:.0f} s; "
                  f"batch process peak RSS {r['peak'] / mib:.0f} MiB (after imports {r['baseline'] / mib:.0f}), "
                  f"worker peak RSS {r['workers_peak'] / mib:.0f} MiB")
    if any(r["measured"] + r["failed"] != n for n, r in results.items()):
        raise SystemExit("the batch did not find every study of the cohort")
    small, large = results[min(counts)], results[max(counts)]
    growth = (large["peak"] - small["peak"]) / mib
    print(f"[batch] growth of the batch process's peak from {min(counts)} to {max(counts)} studies: "
          f"{growth:+.1f} MiB (bound {BATCH_GROWTH_BOUND_MIB} MiB)")
    if growth > BATCH_GROWTH_BOUND_MIB:
        raise SystemExit("the batch process's memory grows with the cohort")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", nargs="+", choices=("read", "pipeline", "batch"),
                        default=["read", "pipeline", "batch"])
    parser.add_argument("--shape", type=int, nargs=3, default=(400, 512, 512), metavar=("SLICES", "ROWS", "COLS"))
    parser.add_argument("--studies", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--no-trace", action="store_true", help="skip the per-step tracemalloc run")
    parser.add_argument("--read-child", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make-phantom", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-child", help=argparse.SUPPRESS)
    parser.add_argument("--trace-child", help=argparse.SUPPRESS)
    parser.add_argument("--make-cohort", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--batch-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_child:
        print(json.dumps(_measure_read(args.read_child, args.traced)))
    elif args.make_phantom:
        folder, *shape = args.make_phantom
        print(json.dumps(write_large_phantom(folder, tuple(int(v) for v in shape))))
    elif args.pipeline_child:
        print(json.dumps(_measure_pipeline(args.pipeline_child)))
    elif args.trace_child:
        print(json.dumps(_trace_pipeline_steps(args.trace_child)))
    elif args.make_cohort:
        _write_cohort(args.make_cohort[0], int(args.make_cohort[1]))
        print("{}")
    elif args.batch_child:
        print(json.dumps(_run_batch_child(*args.batch_child)))
    else:
        shape = tuple(args.shape)
        if "read" in args.what:
            bench_read(shape)
        if "pipeline" in args.what:
            bench_pipeline(shape, trace=not args.no_trace)
        if "batch" in args.what:
            bench_batch(args.studies)


if __name__ == "__main__":
    main()

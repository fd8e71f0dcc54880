"""Peak memory of reading a large DICOM series, relative to the size of the volume it returns.

Run: ``python benchmarks/bench_memory.py [--shape 400 512 512]``. Writes the series (int16, one file per
slice) into a temporary folder, then reads it in a fresh interpreter and prints the growth of the peak
resident set size during ``read_series`` and the peak of Python's traced allocations,
both as multiples of the returned array's bytes. The documented bound is 1.3x for the resident set:
pixels are streamed from each file into one preallocated array, without intermediate copies.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
RSS_BOUND = 1.3


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


def _measure(folder: str, traced: bool) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=(400, 512, 512), metavar=("SLICES", "ROWS", "COLS"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.traced)))
        return

    from onfh_imaging.geometry import Volume
    from onfh_imaging.io import write_mr_series

    shape = tuple(args.shape)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        array = np.empty(shape, dtype=np.int16)
        for k in range(shape[0]):
            array[k] = rng.integers(0, 4000, shape[1:], dtype=np.int16)
        write_mr_series(Volume(array, spacing=(0.7, 0.7, 4.0), direction=CORONAL), tmp)
        del array
        results = {}
        for traced in (False, True):
            cmd = [sys.executable, __file__, "--child", tmp] + (["--traced"] if traced else [])
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results[traced] = json.loads(done.stdout.strip().splitlines()[-1])
    plain, traced = results[False], results[True]
    mib = plain["array_bytes"] / 1024**2
    print(f"series {shape[0]} x {shape[1]} x {shape[2]} int16: array {mib:.1f} MiB")
    print(f"peak RSS growth during read_series: {plain['rss_growth'] / 1024**2:.1f} MiB = "
          f"{plain['rss_ratio']:.3f}x the array (bound {RSS_BOUND}x)")
    print(f"peak traced allocations: {traced['traced_peak_ratio']:.3f}x the array")
    if plain["rss_ratio"] > RSS_BOUND:
        raise SystemExit(f"above the documented bound of {RSS_BOUND}x")


if __name__ == "__main__":
    main()

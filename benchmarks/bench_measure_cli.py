"""`onfh measure` start to JSON on a 256x256x24 coronal series: wall time and peak memory.

Run: python benchmarks/bench_measure_cli.py [--repeats 5]

Also times the stages in-process (read, segment, measure) so the measurement step alone (masks to numbers)
can be compared with its 0.5 s goal. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from onfh_imaging.io import read_series
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec, write_phantom_study
    from onfh_imaging.segment.mri import segment_hips

    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study"
        spec = PhantomSpec(hips="right", right=HipSpec(collapse_mm=2.5, lesion="large"), in_plane_mm=0.7,
                           matrix=(256, 256), n_slices=24, slice_mm=4.0, seed=1)
        write_phantom_study(study, spec)

        wall = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "onfh_imaging", "measure", str(study), "--json"],
                                  capture_output=True, text=True)
            wall.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        read_t, seg_t, meas_t = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            series = read_series(study / "T1_COR")
            t1 = time.perf_counter()
            hips = segment_hips(series.volume)
            t2 = time.perf_counter()
            for seg in hips:
                head = seg.femoral_head_fraction if seg.femoral_head_fraction is not None else seg.femoral_head_mask
                lesion = seg.lesion_fraction if seg.lesion_fraction is not None else seg.lesion_mask
                measure_hip(head, lesion, side=seg.side, neck_axis_lps=seg.neck_axis_lps)
            t3 = time.perf_counter()
            read_t.append(t1 - t0)
            seg_t.append(t2 - t1)
            meas_t.append(t3 - t2)

    med = statistics.median
    print("| step (256x256x24, 0.7x0.7x4 mm, one hip) | median s | goal |")
    print("|---|---|---|")
    print(f"| `onfh measure --json`, start to JSON (new process) | {med(wall):.2f} | < 5 s |")
    print(f"| read series | {med(read_t):.3f} | |")
    print(f"| segment | {med(seg_t):.2f} | |")
    print(f"| measure (masks to numbers) | {med(meas_t):.3f} | < 0.5 s |")
    print(f"| peak memory of `onfh measure` | {peak_mb:.0f} MB | < 1.5 GB |")


if __name__ == "__main__":
    main()

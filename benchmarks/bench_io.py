"""Time scanning and reading DICOM series against reading the bytes, SimpleITK and dcm2niix.

Run: ``python benchmarks/bench_io.py [--repeats N] [--dir FOLDER]``. Prints a markdown table of median
seconds and ratios to reading the files' bytes, in two conditions:

cold
    The files are evicted from the operating system's page cache before each run (``fsync`` then
    ``posix_fadvise(DONTNEED)``), so every reader fetches them from the disk, as when a study is
    opened for the first time.
warm
    The files are already in the page cache; what is measured is the CPU cost of each reader.

"Read bytes" opens every file and reads all of its bytes once, in file order, keeping nothing. The
series are written under ``--dir`` (default: the system's temporary folder), which must be on a disk
file system for the cold condition to mean anything (on tmpfs nothing can be evicted; the script says
so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from onfh_imaging.geometry import Volume
from onfh_imaging.io import read_series, scan, write_mr_series

CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
SHAPES = {"512x512x40": (40, 512, 512), "256x256x200": (200, 256, 256)}


def evict(files: list[Path]) -> None:
    """Drop the files' pages from the page cache (they are written back first)."""
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def median_seconds(fn: Callable[[], object], repeats: int, before: Callable[[], None] | None = None) -> float:
    fn()  # imports, first-call caches
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def read_bytes(files: list[Path]) -> None:
    for f in files:
        with open(f, "rb") as fp:
            fp.read()


def simpleitk(folder: Path) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayViewFromImage(reader.Execute())


def dcm2niix(folder: Path, out: Path) -> np.ndarray:
    import dcm2niix as d2n

    subprocess.run([d2n.bin, "-z", "n", "-f", "vol", "-o", str(out), str(folder)], check=True,
                   capture_output=True)
    return np.asanyarray(nib.load(str(out / "vol.nii")).dataobj)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the series (a disk, not tmpfs)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for label, shape in SHAPES.items():
            folder = Path(tmp) / label
            volume = Volume(rng.integers(0, 4000, shape, dtype=np.int16), spacing=(0.7, 0.7, 4.0),
                            direction=CORONAL)
            files = write_mr_series(volume, folder)
            out = Path(tmp) / f"{label}-nifti"
            out.mkdir()
            assert np.array_equal(read_series(folder).volume.array, volume.array)
            readers: dict[str, Callable[[], object]] = {
                "read bytes": lambda: read_bytes(files),
                "onfh scan": lambda: scan(folder),
                "onfh read_series": lambda: read_series(folder),
                "SimpleITK ImageSeriesReader": lambda: simpleitk(folder),
                "dcm2niix + nibabel": lambda: dcm2niix(folder, out),
            }
            for condition, before in (("cold", lambda: evict(files)), ("warm", None)):
                results[(label, condition)] = {name: median_seconds(fn, args.repeats, before)
                                               for name, fn in readers.items()}
    columns = list(results)
    print("| reader | " + " | ".join(f"{label}, {cond}" for label, cond in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in results[columns[0]]:
        cells = [f"{results[c][name]:.4f} s ({results[c][name] / results[c]['read bytes']:.2f}x)" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for label, cond in columns:
        t = results[(label, cond)]
        print(f"{label}, {cond}: read_series = {t['onfh read_series'] / t['read bytes']:.2f}x reading the bytes, "
              f"{t['onfh read_series'] / t['SimpleITK ImageSeriesReader']:.2f}x SimpleITK")
    for label, _ in columns[::2]:
        if results[(label, "cold")]["read bytes"] < 1.5 * results[(label, "warm")]["read bytes"]:
            print(f"note: evicting {label} barely slowed reading its bytes; is {tmp} on tmpfs?")


if __name__ == "__main__":
    main()

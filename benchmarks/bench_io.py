"""Time scanning and reading DICOM series against reading the bytes, SimpleITK and dcm2niix.

Run: ``python benchmarks/bench_io.py [--repeats N]``. Prints a markdown table of median seconds and
ratios to reading the files' bytes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from onfh_imaging.geometry import Volume
from onfh_imaging.io import read_series, scan, write_mr_series

CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
SHAPES = {"512x512x40": (40, 512, 512), "256x256x200": (200, 256, 256)}


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm the page cache and imports
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _read_bytes(files: list[Path]) -> None:
    for f in files:
        f.read_bytes()


def _simpleitk(folder: Path) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayViewFromImage(reader.Execute())


def _dcm2niix(folder: Path, out: Path) -> np.ndarray:
    import dcm2niix

    subprocess.run([dcm2niix.bin, "-z", "n", "-f", "vol", "-o", str(out), str(folder)], check=True,
                   capture_output=True)
    return np.asanyarray(nib.load(str(out / "vol.nii")).dataobj)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, shape in SHAPES.items():
            folder = Path(tmp) / label
            volume = Volume(rng.integers(0, 4000, shape, dtype=np.int16), spacing=(0.7, 0.7, 4.0),
                            direction=CORONAL)
            files = write_mr_series(volume, folder)
            out = Path(tmp) / f"{label}-nifti"
            out.mkdir()
            assert np.array_equal(read_series(folder).volume.array, volume.array)
            timings = {
                "read bytes": _median_seconds(lambda: _read_bytes(files), args.repeats),
                "onfh scan": _median_seconds(lambda: scan(folder), args.repeats),
                "onfh read_series": _median_seconds(lambda: read_series(folder), args.repeats),
                "SimpleITK ImageSeriesReader": _median_seconds(lambda: _simpleitk(folder), args.repeats),
                "dcm2niix + nibabel": _median_seconds(lambda: _dcm2niix(folder, out), args.repeats),
            }
            rows.append((label, timings))
    base_names = list(rows[0][1])
    print("| series | " + " | ".join(base_names) + " |")
    print("|---" * (len(base_names) + 1) + "|")
    for label, timings in rows:
        cells = [f"{t:.4f} s ({t / timings['read bytes']:.2f}x)" for t in timings.values()]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for label, timings in rows:
        ratio_bytes = timings["onfh read_series"] / timings["read bytes"]
        ratio_sitk = timings["onfh read_series"] / timings["SimpleITK ImageSeriesReader"]
        print(f"{label}: read_series = {ratio_bytes:.2f}x reading bytes, {ratio_sitk:.2f}x SimpleITK")


if __name__ == "__main__":
    main()

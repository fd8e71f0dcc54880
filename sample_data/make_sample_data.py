"""Regenerate the sample study in ``sample_data/phantom_both_hips``.

One both-hips digital phantom (coronal T1 and STIR, 256 x 256 x 20, 1.4 mm pixels, 4 mm slices):
the right hip has a 2.5 mm collapse (ARCO IIIB) over a large necrotic lesion, the left hip a small
lesion without collapse. ``truth.json`` beside the series holds the exact measures.

Run from anywhere: ``python sample_data/make_sample_data.py``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from onfh_imaging.phantom import HipSpec, PhantomSpec, truth_summary, write_phantom_study

HERE = Path(__file__).resolve().parent
STUDY = HERE / "phantom_both_hips"

SPEC = PhantomSpec(
    hips="both",
    right=HipSpec(collapse_mm=2.5, lesion="large", lesion_core="fatty"),
    left=HipSpec(lesion="small", lesion_core="fatty"),
    matrix=(256, 256),
    n_slices=20,
    stir=True,
    seed=2026,
    patient_id="PHANTOM-0001",
    patient_name="Phantom^BothHips",
)


def main() -> int:
    if STUDY.exists():
        if not (STUDY / "truth.json").is_file():
            print(f"{STUDY} exists and is not a phantom study; not touching it", file=sys.stderr)
            return 1
        shutil.rmtree(STUDY)
    truth = write_phantom_study(STUDY, SPEC)
    size = sum(p.stat().st_size for p in STUDY.rglob("*") if p.is_file())
    print(f"{STUDY}: {size / 1e6:.1f} MB")
    print("\n".join(truth_summary(truth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

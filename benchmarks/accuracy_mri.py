"""Accuracy of the automatic MRI segmentation over the phantom grid.

Run ``python benchmarks/accuracy_mri.py [--quick]``: renders each phantom of
:func:`onfh_imaging.evaluation.grid_cases`, segments it, measures the masks with ``measure_hip``
and compares with the exact truth. Prints a markdown table (per case and summary) and writes it to
``benchmarks/results/accuracy_mri.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from onfh_imaging.evaluation import evaluate_case, grid_cases, summarize

BARS = {"center_error_mm": 0.7, "radius_error_mm": 0.3, "collapse_error_mm": 0.3,
        "lesion_volume_error_pct": 10.0, "head_dice": 0.95, "lesion_dice": 0.85}


def _fmt(v, nd=2):
    if isinstance(v, float):
        return "-" if v != v else f"{v:.{nd}f}"
    return str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the first 6 phantoms")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "accuracy_mri.md"))
    args = ap.parse_args(argv)
    cases = grid_cases()[: 6 if args.quick else None]
    rows = []
    for case in cases:
        t = time.perf_counter()
        try:
            got = evaluate_case(case)
        except Exception as exc:  # a failure is a result of the benchmark, not a crash of it
            got = [{"case": case.name, "side": f"error: {exc}", "truth_side": None}]
        rows.extend(got)
        print(f"{case.name}: {len(got)} hip(s), {time.perf_counter() - t:.1f} s", file=sys.stderr)
    cols = ["case", "side", "center_error_mm", "radius_error_mm", "true_collapse_mm", "collapse_mm",
            "collapse_error_mm", "head_dice", "true_lesion_ml", "lesion_ml", "lesion_volume_error_pct",
            "lesion_dice", "invented_lesion", "true_kerboul_deg", "kerboul_deg", "true_stage", "stage",
            "needs_review", "quality_reasons", "head_outside_fov_pct", "seconds"]
    spec = {c.name: c for c in cases}
    lines = ["# MRI segmentation accuracy on the phantom grid", "",
             "Bars: centre <= 0.7 mm, radius <= 0.3 mm, collapse <= 0.3 mm, lesion volume <= 10 %, "
             "head Dice >= 0.95, lesion Dice >= 0.85, Kerboul <= 15 deg, no invented lesion, no stage III on an "
             "intact head, a wrong stage only with needs_review. Collapse is summarised over heads "
             "inside the field of view (`head_outside_fov_pct` < 2).", "",
             "| " + " | ".join(cols + ["phantom"]) + " |", "|" + "---|" * (len(cols) + 1)]
    for r in rows:
        c = spec.get(r["case"])
        desc = (f"{c.hips}, {c.lesion}/{c.core}, {c.slice_mm} mm x {c.in_plane_mm} mm, obl {c.oblique_deg}, "
                f"noise {c.noise}, bias {c.bias}, R {c.radius_mm}") if c else ""
        lines.append("| " + " | ".join(_fmt(r.get(k, "")) for k in cols) + f" | {desc} |")
    summary = summarize(rows)
    lines += ["", "## Summary", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v, 3)} |" for k, v in summary.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".accuracy_mri.", suffix=".md")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

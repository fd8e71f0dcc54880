"""The lesion's radiographic finding (sclerotic margin, lucency) on the real hip crops, per class.

Runs the pixel-only radiograph pipeline on every PNG crop of ``../shared/real-xray/images`` (see its README:
131 crops around one hip; class 0 normal, 1 and 2 the source's two grades of osteonecrosis) and reads
each hip's ``radiographic_lesion`` block (:mod:`onfh_imaging.measure.radiograph_lesion`). There is no
outline or lesion truth: the figures are how often the finding is present, absent or not read per class.
A finding on class 0 is a false positive (or a head outline that missed the head); a finding absent on
class 1-2 may be a lesion without radiographic sign or a missed one.

Writes ``benchmarks/results/real_xray_lesion.md`` and ``benchmarks/results/real_xray_lesion.json`` (one row
per crop); the crops are never copied into the project.

Run: ``.venv/bin/python benchmarks/real_xray_lesion.py [--limit N]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from onfh_imaging.io.radiograph import read_picture
from onfh_imaging.measure.radiograph import calibrate
from onfh_imaging.pipeline import radiograph_hip_report
from onfh_imaging.segment.xray import find_femoral_heads_2d

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_xray import RESULTS, crops  # the crop list and its class from the file name


def run_one(path: Path, side: str) -> dict:
    """The finding of the hip of the file name's side (the head found nearest it when the side differs)."""
    rx, _ = read_picture(path)
    rx_cal, _, _ = calibrate(rx)
    try:
        contours = find_femoral_heads_2d(rx_cal, max_heads=1)
    except Exception as exc:  # noqa: BLE001 - a benchmark records every failure and goes on
        return {"status": "no head", "reason": str(exc)}
    hip = radiograph_hip_report(contours[0], rx_cal)
    block = hip.get("radiographic_lesion") or {}
    if hip.get("head") is None or not block:
        return {"status": "not read", "reason": "; ".join(hip.get("warnings") or [])}
    status = {True: "found", False: "absent"}.get(block.get("finding"), "not read")
    return {"status": status, "kind": block.get("kind"), "contrast_sd": block.get("contrast_sd"),
            "band_length_mm": block.get("band_length_mm"), "lucent_area_mm2": block.get("lucent_area_mm2"),
            "reason": block.get("reason"), "needs_review": hip["quality"]["needs_review"]}


def table(rows: list[dict]) -> str:
    statuses = ("found", "absent", "not read", "no head")
    out = ["| class | crops | " + " | ".join(statuses) + " | sclerotic margin | lucency |",
           "| --- | --- | " + " | ".join("---" for _ in statuses) + " | --- | --- |"]
    for cls in (0, 1, 2):
        sub = [r for r in rows if r["class"] == cls]
        if not sub:
            continue
        n = Counter(r["status"] for r in sub)
        kinds = Counter(r.get("kind") or "" for r in sub if r["status"] == "found")
        margin = sum(v for k, v in kinds.items() if "margin" in k)
        lucency = sum(v for k, v in kinds.items() if "lucency" in k)
        out.append(f"| {cls} | {len(sub)} | " + " | ".join(f"{n[s]} ({100 * n[s] / len(sub):.0f} %)" for s in statuses)
                   + f" | {margin} | {lucency} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="every k-th crop, N in all")
    args = parser.parse_args(argv)
    rows = []
    for path, side, cls in crops(args.limit):
        row = dict(run_one(path, side), file=path.name, side=side, **{"class": cls})
        rows.append(row)
        print(f"{path.name}: {row['status']} {row.get('kind') or ''} {row.get('contrast_sd') or ''}", file=sys.stderr)
    text = table(rows)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "real_xray_lesion.json").write_text(json.dumps(rows, indent=1))
    (RESULTS / "real_xray_lesion.md").write_text("# Radiographic lesion finding on the real crops\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

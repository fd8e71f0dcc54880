"""The radiograph pipeline on real hip radiographs: detection, side, radius and measures per class.

Runs the pixel-only radiograph pipeline (no pixel size: the head is searched over plausible scales
and measured in pixels) on every PNG crop in ``../shared/real-xray/images`` (relative to the repository
root; see its README: 131 crops around one hip, 511 x 511, side and class in the file name, class 0
normal, 1 and 2 the source's two grades of osteonecrosis). There is no outline truth; the figures are
the detection rate, the side against the file name, the radius distribution, and how Mose deviation
and collapse depth differ between the classes (in pixels and relative to the head's radius; medians and
quartiles over every head reported, over the heads whose weight-bearing dome is traced enough to read, and
over those whose dome's departure from the circle of the intact rim outside it is read,
:mod:`onfh_imaging.measure.radiograph_dome`).

It writes ``benchmarks/results/real_xray_mosaic.png`` (every crop, its local contrast equalised for viewing,
with its reference circle in yellow,
the traced outline in green, an inner double contour in red, the ends of the weight-bearing dome in blue and
the deepest point of the collapse read over it in magenta, the side found / the side in the file name, and
the measures) and ``benchmarks/results/real_xray.json`` (one row per crop). The crops are
never copied into the project.

Run: ``.venv/bin/python benchmarks/real_xray.py [--limit N] [--excerpt N]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from onfh_imaging.io.radiograph import read_picture
from onfh_imaging.measure.radiograph import calibrate
from onfh_imaging.measure.radiograph_outline import DOME_HALF_ARC_DEG
from onfh_imaging.measure.radiograph_quality import MIN_DOME_TRACED
from onfh_imaging.pipeline import radiograph_hip_report
from onfh_imaging.segment.xray import find_femoral_heads_2d

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared" / "real-xray" / "images"
RESULTS = ROOT / "benchmarks" / "results"
TILE = 256
NAME = re.compile(r"_(?P<side>[LR])_(?P<cls>[012])_512\.png$")


def crops(limit: int | None = None) -> list[tuple[Path, str, int]]:
    """(path, side, class) of the real crops, sorted by name (every k-th when ``limit`` is given)."""
    files = sorted(IMAGES.glob("*.png"))
    out = []
    for f in files:
        m = NAME.search(f.name)
        if m:
            out.append((f, "left" if m["side"] == "L" else "right", int(m["cls"])))
    if limit and limit < len(out):
        out = out[:: max(1, len(out) // limit)][:limit]
    return out


def run_one(path: Path) -> tuple[dict, list]:
    """The pipeline's hips for one crop and the contours they came from."""
    rx, _ = read_picture(path)
    rx_cal, _, _ = calibrate(rx)
    try:
        contours = find_femoral_heads_2d(rx_cal)
    except Exception as exc:  # noqa: BLE001 - a benchmark records every failure and goes on
        return {"error": str(exc)}, []
    return {"hips": [radiograph_hip_report(c, rx_cal) for c in contours]}, contours


def _ratio(value: float | None, radius: float) -> float | None:
    """``value`` over the radius; None when the value was not measured."""
    return None if value is None else value / radius


def _row(path: Path, side: str, cls: int, result: dict, seconds: float) -> dict:
    row = {"file": path.name, "side_truth": side, "class": cls, "seconds": round(seconds, 2), "found": False}
    hips = [h for h in result.get("hips", []) if h.get("head") is not None]
    if not hips:
        row["error"] = result.get("error") or (result["hips"][0]["warnings"][0] if result.get("hips") else "none")
        return row
    hip = hips[0]
    head = hip["head"]
    r = head["radius_px"]
    row.update(found=True, side=hip["side"], side_ok=hip["side"] == side, radius_px=r,
               center_px=head["center_px"], mose_px=head["max_deviation_px"], collapse_px=head["collapse_depth_px"],
               mose_rel=_ratio(head["max_deviation_px"], r), collapse_rel=_ratio(head["collapse_depth_px"], r),
               wander_px=head["outline_wander_px"], dome_traced=head["dome_traced"],
               rim_traced=head["intact_rim_traced"], reference_sd_px=head["dome_reference_sd_px"],
               rim_collapse_px=head["rim_collapse_depth_px"], rim_collapse_rel=_ratio(head["rim_collapse_depth_px"], r),
               collapse_angle=head["collapse_angle_deg"], collapse_location=head["collapse_location_px"],
               double_contour=head["double_contour"], stage=hip["staging"]["arco_2019"],
               needs_review=hip["quality"]["needs_review"], quality=hip["quality"]["score"],
               reasons=hip["quality"]["reasons"], outline_ok=head["outline_checks_passed"])
    return row


def _shown(value: float | None) -> str:
    """A length in pixels for a tile, '-' when not measured."""
    return "-" if value is None else f"{value:.1f}"


def _tile(path: Path, row: dict, contours: list):
    from PIL import Image, ImageDraw
    from skimage import exposure

    # shown with its local contrast equalised, so that the faint rim and the joint space can be checked at a
    # glance (the pipeline reads the crop as stored)
    grey = np.asarray(Image.open(path).convert("L"), dtype=float) / 255.0
    shown = exposure.equalize_adapthist(grey, clip_limit=0.02)
    im = Image.fromarray((255 * shown).astype(np.uint8)).convert("RGB")
    scale = TILE / max(im.size)
    im = im.resize((round(im.size[0] * scale), round(im.size[1] * scale)))
    d = ImageDraw.Draw(im)
    if row["found"] and contours:
        c = contours[0]
        for radii, colour in ((c.radii_px, (0, 255, 0)), (c.inner_radii_px, (255, 60, 60))):
            if radii is None:
                continue
            pts = c.points_px(radii) * scale
            for y, x in pts[np.isfinite(pts[:, 0])]:
                d.point((x, y), fill=colour)
        (cy, cx), r = row["center_px"], row["radius_px"]
        cy, cx, r = cy * scale, cx * scale, r * scale
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 230, 0), width=2)
        for a in np.radians([-DOME_HALF_ARC_DEG, DOME_HALF_ARC_DEG]):  # the weight-bearing dome's ends
            d.line([cx + 0.9 * r * np.sin(a), cy - 0.9 * r * np.cos(a), cx + r * np.sin(a), cy - r * np.cos(a)],
                   fill=(0, 160, 255), width=2)
        if row.get("collapse_location"):  # the deepest point of the collapse read over the dome
            ly, lx = (v * scale for v in row["collapse_location"])
            d.ellipse([lx - 3, ly - 3, lx + 3, ly + 3], outline=(255, 0, 255), width=2)
        d.line([cx - 3, cy, cx + 3, cy], fill=(255, 230, 0))
        d.line([cx, cy - 3, cx, cy + 3], fill=(255, 230, 0))
        ok = "ok" if row["side_ok"] else "WRONG"
        lines = [f"{row['side'][0].upper()}/{row['side_truth'][0].upper()} {ok}  class {row['class']}",
                 f"r {row['radius_px']:.0f}px mose {_shown(row['mose_px'])} col {_shown(row['collapse_px'])}",
                 f"{'review' if row['needs_review'] else 'checks ok'} q {row['quality']:.2f} {row['stage'] or 'not staged'}"]
    else:
        lines = [f"NOT FOUND class {row['class']} {row['side_truth']}", row.get("error", "")[:40]]
    for i, text in enumerate(lines):
        d.rectangle([0, 12 * i, 7 * len(text) + 4, 12 * i + 12], fill=(0, 0, 0))
        d.text((2, 12 * i), text, fill=(255, 255, 255))
    return np.asarray(im)


def mosaic(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    """Tiles (H, W, 3) laid out row by row, padded with black."""
    h, w = TILE, TILE
    rows = -(-len(tiles) // columns)
    out = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * h:r * h + t.shape[0], c * w:c * w + t.shape[1]] = t
    return out


def _quartiles(values: list[float], scale: float = 1.0) -> str:
    """Median (25-75 %) and count of the measured ``values`` (None: not measured) times ``scale``."""
    v = scale * np.asarray([x for x in values if x is not None], dtype=float)
    if not len(v):
        return "-"
    return f"{np.median(v):5.2f} ({np.percentile(v, 25):.2f}-{np.percentile(v, 75):.2f}) n{len(v)}"


def _class_table(sel_rows: list[dict], rows: list[dict], title: str) -> None:
    """Per class: Mose deviation and collapse depth (px and % of the radius), median and quartiles."""
    print(f"\n{title}")
    print("class  n  heads  Mose px                collapse px            Mose/r %               "
          "collapse/r %           outline ok  stage III")
    for cls in (0, 1, 2):
        sel = [r for r in sel_rows if r["class"] == cls]
        if not sel:
            continue
        iii = sum(str(r["stage"]).startswith("III") for r in sel)
        print(f"{cls:5d} {sum(r['class'] == cls for r in rows):3d} {len(sel):5d}  "
              f"{_quartiles([r['mose_px'] for r in sel]):22} {_quartiles([r['collapse_px'] for r in sel]):22} "
              f"{_quartiles([r['mose_rel'] for r in sel], 100):22} {_quartiles([r['collapse_rel'] for r in sel], 100):22} "
              f"{sum(r['outline_ok'] for r in sel):10d} {iii:10d}")


def _rim_table(sel_rows: list[dict], rows: list[dict]) -> None:
    """Per class: the dome's departure below the intact rim's circle beside the collapse depth on the same heads."""
    print("\nheads whose dome's departure from the intact rim's circle is read (dome traced, the rim's circle known)")
    print("class  n  heads  rim collapse px        collapse px            rim collapse/r %       collapse/r %")
    for cls in (0, 1, 2):
        sel = [r for r in sel_rows if r["class"] == cls]
        if sel:
            print(f"{cls:5d} {sum(r['class'] == cls for r in rows):3d} {len(sel):5d}  "
                  f"{_quartiles([r['rim_collapse_px'] for r in sel]):22} {_quartiles([r['collapse_px'] for r in sel]):22} "
                  f"{_quartiles([r['rim_collapse_rel'] for r in sel], 100):22} "
                  f"{_quartiles([r['collapse_rel'] for r in sel], 100):22}")


def summarise(rows: list[dict]) -> None:
    found = [r for r in rows if r["found"]]
    n = len(rows)
    print(f"\nhead found on {len(found)} of {n} crops ({100 * len(found) / max(n, 1):.1f} %)")
    if not found:
        return
    print(f"side right (neck direction vs the file name) on {sum(r['side_ok'] for r in found)} of {len(found)}")
    radii = np.array([r["radius_px"] for r in found])
    print(f"radius px: median {np.median(radii):.0f}, 5-95 % {np.percentile(radii, 5):.0f}-"
          f"{np.percentile(radii, 95):.0f}, min {radii.min():.0f}, max {radii.max():.0f}")
    print(f"needs review {sum(r['needs_review'] for r in found)}, outline checks passed "
          f"{sum(r['outline_ok'] for r in found)}, double contour {sum(r['double_contour'] for r in found)}")
    _class_table(found, rows, "every head reported")
    _class_table([r for r in found if r["dome_traced"] >= MIN_DOME_TRACED], rows,
                 f"heads whose weight-bearing dome is traced over >= {100 * MIN_DOME_TRACED:.0f} % of its arc")
    _rim_table([r for r in found if r["rim_collapse_px"] is not None], rows)
    reasons: dict[str, int] = {}
    for r in found:
        for why in r["reasons"]:
            key = re.sub(r"[\d.]+", "#", why)
            reasons[key] = reasons.get(key, 0) + 1
    print("\nreview reasons:")
    for why, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {count:4d}  {why}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="run on this many crops (spread over the set)")
    parser.add_argument("--excerpt", type=int, default=0,
                        help="also write an excerpt mosaic of this many crops (docs/img/real_xray_mosaic_excerpt.png)")
    args = parser.parse_args(argv)
    if not IMAGES.is_dir():
        print(f"no real radiographs at {IMAGES}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, tiles = [], []
    for path, side, cls in crops(args.limit):
        t0 = time.perf_counter()
        result, contours = run_one(path)
        row = _row(path, side, cls, result, time.perf_counter() - t0)
        rows.append(row)
        tiles.append(_tile(path, row, contours))
    from PIL import Image

    order = np.argsort([r["class"] for r in rows], kind="stable")
    Image.fromarray(mosaic([tiles[i] for i in order], 12)).save(RESULTS / "real_xray_mosaic.png")
    for cls in (0, 1, 2):
        sel = [tiles[i] for i in order if rows[i]["class"] == cls]
        for page in range(0, len(sel), 24):
            Image.fromarray(mosaic(sel[page:page + 24], 6)).save(RESULTS / f"real_xray_class{cls}_{page // 24}.png")
    if args.excerpt:
        pick = [i for cls in (0, 1, 2) for i in [j for j in order if rows[j]["class"] == cls][:args.excerpt // 3]]
        excerpt = Image.fromarray(mosaic([tiles[i] for i in pick], max(1, args.excerpt // 3)))
        out = ROOT / "docs" / "img" / "real_xray_mosaic_excerpt.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        excerpt.resize((excerpt.size[0] * 3 // 4, excerpt.size[1] * 3 // 4)).save(out, optimize=True)
    tmp = RESULTS / "real_xray.json.tmp"
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(RESULTS / "real_xray.json")
    summarise(rows)
    print(f"\nmean {np.mean([r['seconds'] for r in rows]):.1f} s per crop; mosaic: {RESULTS / 'real_xray_mosaic.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

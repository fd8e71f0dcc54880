"""Accuracy of the radiograph measures on rendered phantoms: a grid of sides, views and collapse depths.

Each case renders a single-hip radiograph (0.15 mm detector pixels, magnification 1.2, quantum noise)
of the analytic hip model, measures it from the pixels with the nominal pixel size
(ImagerPixelSpacing / magnification), and compares with the truth the renderer reports: head radius,
collapse depth as this view shows it (the depression's depth in the head's central section, the rim
the rays graze), its image angle, and the joint space width.

The collapse is placed where each view sees it in profile (superolateral for AP, antero-superior for
the frog-leg lateral). Cases with the depression seen obliquely (antero-superior on AP) are listed
separately: there the depressed plate projects inside the rim as a second contour and the visible
contour is ambiguous.

Run: ``.venv/bin/python benchmarks/accuracy_xray.py [--quick]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from onfh_imaging.geometry import Radiograph
from onfh_imaging.measure.radiograph import measure_radiograph
from onfh_imaging.phantom.model import Collapse, PelvisModel, default_dome_direction, lateral_lps
from onfh_imaging.phantom.radiograph import render_radiograph

TOL_MM = 0.3


def superolateral(side: str) -> tuple[float, float, float]:
    v = 0.5 * lateral_lps(side) + np.array([0.0, 0.0, 1.0])
    return tuple(v / np.linalg.norm(v))


def run_case(side: str, view: str, direction: str, depth: float, seed: int) -> dict:
    extra = {}
    if depth > 0:
        d = superolateral(side) if direction == "superolateral" else default_dome_direction(side)  # dome: anterosuperior
        extra = {"collapse": Collapse(depth, d)}
    model = PelvisModel.standard(side, **{side: extra})
    t0 = time.perf_counter()
    pixels, truth = render_radiograph(model, side=side, view=view, detector_shape=(640, 640),
                                      detector_pixel_mm=0.15, magnification=1.2, seed=seed)
    t1 = time.perf_counter()
    size = truth["pixel_size_mm"]
    rx = Radiograph(pixels, (size, size), "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor",
                    view="AP" if view == "AP" else "lateral")
    report = measure_radiograph(rx)
    t2 = time.perf_counter()
    hip = report["hips"][0]
    head = hip["head"]
    t = truth["hips"][0]
    angle_err = None
    if t["collapse_angle_deg"] is not None and head["collapse_angle_deg"] is not None:
        angle_err = abs((head["collapse_angle_deg"] - t["collapse_angle_deg"] + 180) % 360 - 180)
    return {
        "side": side, "view": view, "direction": direction if depth > 0 else "-", "depth_3d": depth,
        "truth_depth": t["collapse_depth_mm"], "depth": head["collapse_depth_mm"],
        "radius": head["radius_mm"], "jsw": head["joint_space_width_mm"], "truth_jsw": t["joint_space_width_mm"],
        "angle_err": angle_err, "side_ok": hip["side"] == side, "stage": hip["staging"]["arco_2019"],
        "render_s": t1 - t0, "measure_s": t2 - t1,
    }


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'side':5} {'view':12} {'collapse':13} {'3D':>4} | {'radius':>6} {'err':>5} | {'truth':>5} "
          f"{'meas':>5} {'err':>5} {'angle':>5} | {'jsw':>5} {'err':>5} | {'stage':5} side  render measure")
    for r in rows:
        ang = "-" if r["angle_err"] is None else f"{r['angle_err']:.0f}"
        print(f"{r['side']:5} {r['view']:12} {r['direction']:13} {r['depth_3d']:4.1f} | {r['radius']:6.2f} "
              f"{r['radius'] - 24.0:+5.2f} | {r['truth_depth']:5.2f} {r['depth']:5.2f} "
              f"{r['depth'] - r['truth_depth']:+5.2f} {ang:>5} | {r['jsw']:5.2f} {r['jsw'] - r['truth_jsw']:+5.2f} | "
              f"{r['stage']!s:5} {'ok' if r['side_ok'] else 'WRONG':5} {r['render_s']:5.1f}s {r['measure_s']:5.2f}s")


def summarise(rows: list[dict]) -> bool:
    rad = max(abs(r["radius"] - 24.0) for r in rows)
    dep = max(abs(r["depth"] - r["truth_depth"]) for r in rows)
    jsw = max(abs(r["jsw"] - r["truth_jsw"]) for r in rows)
    angles = [r["angle_err"] for r in rows if r["angle_err"] is not None and r["truth_depth"] >= 1.0]
    print(f"\nmax |error|: radius {rad:.3f} mm, collapse {dep:.3f} mm, joint space {jsw:.3f} mm; "
          f"collapse angle {max(angles) if angles else 0:.0f} deg; sides {'all right' if all(r['side_ok'] for r in rows) else 'WRONG'}")
    ok = rad <= TOL_MM and dep <= TOL_MM and jsw <= TOL_MM and all(r["side_ok"] for r in rows)
    print("PASS" if ok else "FAIL", f"(tolerance {TOL_MM} mm)")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="depths 0 and 3 mm only")
    args = parser.parse_args(argv)
    depths = (0.0, 3.0) if args.quick else (0.0, 1.0, 2.0, 3.0, 4.0)
    rows, oblique = [], []
    seed = 0
    for side in ("right", "left"):
        for view, direction in (("AP", "superolateral"), ("frog_lateral", "anterosuperior")):
            for depth in depths:
                seed += 1
                rows.append(run_case(side, view, direction, depth, seed))
        for depth in (2.0, 4.0):
            seed += 1
            oblique.append(run_case(side, "AP", "anterosuperior", depth, seed))
    print_table(rows, "Collapse seen in profile (0.15 mm detector pixels, magnification 1.2)")
    ok = summarise(rows)
    print_table(oblique, "Collapse seen obliquely (reported, not graded)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""JIC type and lateral acetabular edge through the whole MR pipeline, on both phantom families.

Usage::

    python benchmarks/accuracy_jic.py [--tilts -35 -15 0 25] [--sizes small large] [--seeds 2]

Each study has a lesion in each hip, tilted in the coronal plane by ``tilt`` degrees from the superior
pole (negative: medial; the left hip gets the next tilt of the list), so the types span A to C2. The
image is rendered in memory (coronal T1, 1.4 mm pixels, 4 mm slices) and measured by
:func:`onfh_imaging.pipeline.measure_mr`: segmentation, lesion, acetabular edge, JIC type, as in
``onfh measure``. Printed per hip: the truth's type, the measured one, and the edge's lateral error (mm);
then the share of hips typed right and the edge error's median and largest magnitude per family.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onfh_imaging.io.series import Series
from onfh_imaging.pipeline import measure_mr
from onfh_imaging.segment.acetabulum import lateral_lps


def _tilted(side: str, tilt_deg: float, anterior: float) -> np.ndarray:
    t = np.radians(tilt_deg)
    d = np.cos(t) * np.array([0.0, 0.0, 1.0]) + np.sin(t) * lateral_lps(side) + np.array([0.0, -anterior, 0.0])
    return d / np.linalg.norm(d)


def _measured(volume) -> dict[str, dict]:
    result = measure_mr(Series(volume=volume, info=None))
    return {hip.side: hip.to_dict() for hip in result.hips}


def family_a(tilts: tuple[float, float], size: str, seed: int) -> list[tuple]:
    from onfh_imaging.phantom import HipSpec, PhantomSpec
    from onfh_imaging.phantom.study import render_series
    from onfh_imaging.phantom.truth import hip_truth

    spec = PhantomSpec(hips="both", right=HipSpec(0.0, tuple(_tilted("right", tilts[0], 0.3)), lesion=size),
                       left=HipSpec(0.0, tuple(_tilted("left", tilts[1], 0.3)), lesion=size), seed=seed)
    measured = _measured(render_series(spec, "T1"))
    rows = []
    for hip in spec.model().hips:
        truth = hip_truth(hip, 200, 400)
        edge = (np.array(truth.lateral_edge_lps_mm) - np.array(truth.center_lps_mm)) @ lateral_lps(hip.side)
        rows.append(("A", hip.side, truth.jic_type, edge, measured.get(hip.side)))
    return rows


def family_b(tilts: tuple[float, float], size: str, seed: int) -> list[tuple]:
    from onfh_imaging.phantom import labelmap

    spec = labelmap.LabelmapSpec(hips="both", right=labelmap.HipDisease(0.0, lesion=size),
                                 left=labelmap.HipDisease(0.0, lesion=size), in_plane_mm=1.4, stir=False, seed=seed)
    anatomy = labelmap.with_lesion_tilts(spec.anatomy(), dict(zip(("right", "left"), tilts, strict=True)))
    measured = _measured(labelmap.render_labelmap_series(spec, anatomy)["T1"])
    rows = []
    for hip in (anatomy.hip("right"), anatomy.hip("left")):
        truth = labelmap.hip_truth(hip, 100, 200)
        centre = np.array(truth["head"]["center_lps_mm"])
        edge = (np.array(truth["acetabulum"]["lateral_edge_lps_mm"]) - centre) @ lateral_lps(hip.side)
        rows.append(("B", hip.side, truth["lesion"]["jic_type"], edge, measured.get(hip.side)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tilts", type=float, nargs="+", default=[-35.0, -15.0, 0.0, 25.0])
    ap.add_argument("--sizes", nargs="+", default=["small", "large"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2])
    args = ap.parse_args()
    pairs = [(a, b) for a, b in zip(args.tilts, args.tilts[1:] + args.tilts[:1], strict=True)]
    rows = []
    print("| family | lesion | tilt (R, L) | side | true type | measured | edge error (mm) |")
    print("| --- | --- | --- | --- | --- | --- | ---: |")
    for family, run in (("A", family_a), ("B", family_b)):
        for size in args.sizes:
            for seed in args.seeds:
                for tilts in pairs:
                    for fam, side, true_type, true_edge, hip in run(tilts, size, seed):
                        lesion = (hip or {}).get("lesion") or {}
                        block = (hip or {}).get("acetabulum") or {}
                        offset = block.get("lateral_edge_offset_mm")
                        error = np.nan if offset is None else offset - true_edge
                        measured = lesion.get("jic_type") if hip else "not measured"
                        rows.append((fam, true_type, measured, error))
                        print(f"| {fam} | {size} | {tilts[0]:g}, {tilts[1]:g} | {side} | {true_type} | {measured} | "
                              f"{error:+.2f} |", flush=True)
    print("\n| family | hips | typed right | typed wrong | no type (reason given) | edge error median / max abs (mm) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for fam in ("A", "B"):
        mine = [r for r in rows if r[0] == fam]
        right = sum(r[1] == r[2] for r in mine)
        untyped = sum(r[2] in (None, "not measured") for r in mine)
        err = np.abs([r[3] for r in mine if np.isfinite(r[3])])
        edge = f"{np.median(err):.2f} / {err.max():.2f}" if len(err) else "no edge found"
        print(f"| {fam} | {len(mine)} | {right} | {len(mine) - right - untyped} | {untyped} | {edge} |")


if __name__ == "__main__":
    main()

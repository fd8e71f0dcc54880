"""The Kerboul angle plane by plane: where its error lies.

Run ``.venv/bin/python benchmarks/kerboul_planes.py [--all] [--family A|B]``: for every lesion of a
subset of both phantom families (``--all``: every lesion of both grids), the necrotic arc on the
mid-coronal and on the mid-sagittal plane through the head centre, read three ways:

* ``auto``: the automatic segmentation's fractions, measured as the pipeline measures them (its
  reference sphere and neck axis, :func:`onfh_imaging.measure.hip.measure_hip`);
* ``mask``: the exact partial-volume truth masks on the same image grid, with the true sphere and neck
  axis (the arc measurement alone, without the segmentation);
* ``truth``: the analytic arc of the construction (what the benchmarks grade against);
* ``*_along``: ``mask`` and ``auto`` with the ends the slices cross obliquely read along the slice
  normal (``along_slices=True`` of :func:`onfh_imaging.measure.lesion.necrotic_arc_deg`; off in the
  pipeline).

Family A is :func:`onfh_imaging.evaluation.grid_cases` (the project's generator), family B
:func:`onfh_imaging.phantom.labelmap.mr_grid` (the independent label-map anatomy, read back from DICOM as
``benchmarks/accuracy_mri_labelmap.py`` does). Prints one markdown table; its last columns give the
junction the segmentation measured (:mod:`onfh_imaging.segment.junction`; not used by the arcs) on the
superior side of its neck axis (where the coronal arc's lateral end meets it), the construction's
junction there in the same frame, and the neck axis's error (deg).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from onfh_imaging.fitting import Sphere
from onfh_imaging.measure.hip import measure_hip
from onfh_imaging.measure.lesion import necrotic_arc_deg
from onfh_imaging.segment.mri import segment_hips

#: the two planes of the modified Kerboul angle (LPS normals): mid-coronal, mid-sagittal
PLANES = {"coronal": (0.0, 1.0, 0.0), "sagittal": (1.0, 0.0, 0.0)}
#: lesion cases run without ``--all``: both lesion sizes and cores, 4-5 mm slices, with and without obliquity;
#: on family B the under-read ones (lm11, lm13, lm14) and one read within the bar (lm15)
SUBSET = {"A": ("p02", "p04", "p11", "p20"), "B": ("lm11", "lm13", "lm14", "lm15")}


def _arcs(lesion, head, sphere, neck_axis, along_slices: bool = False, limit=65.0) -> dict[str, float]:
    return {plane: necrotic_arc_deg(lesion, sphere, normal, head_mask=head, neck_axis_lps=neck_axis,
                                    along_slices=along_slices, articular_min_angle_deg=limit)
            for plane, normal in PLANES.items()}


def _both_arcs(lesion, head, sphere, neck_axis, limit=65.0) -> tuple[dict[str, float], dict[str, float]]:
    """Arcs as the pipeline reads them, and with the through-slice ends read along the slice normal."""
    return (_arcs(lesion, head, sphere, neck_axis, limit=limit),
            _arcs(lesion, head, sphere, neck_axis, along_slices=True, limit=limit))


def _lateral_of_neck(axis: np.ndarray) -> np.ndarray:
    """Unit vector at right angles to the neck axis on its superior side: where the coronal arc's lateral
    end meets the junction."""
    v = np.array([0.0, 0.0, 1.0]) - axis[2] * axis
    return v / np.linalg.norm(v)


def junction_columns(seg, true_axis: np.ndarray, true_junction_deg: float) -> dict[str, float]:
    """The segmentation's head-neck junction on the superior side of its neck axis (deg from that axis),
    and the construction's junction there: where the rays of that half-plane leave the true articular cone
    (``true_junction_deg`` about ``true_axis``), in the same frame."""
    axis = np.asarray(seg.neck_axis_lps, float)
    side = _lateral_of_neck(axis)
    th = np.radians(np.arange(0.0, 120.0, 0.1))
    rays = np.cos(th)[:, None] * axis + np.sin(th)[:, None] * side
    cone = np.degrees(np.arccos(np.clip(rays @ np.asarray(true_axis, float), -1.0, 1.0))) > true_junction_deg
    measured = seg.junction is not None and seg.junction.measured
    return {"junction_auto": float(seg.junction.angle_at(side)) if measured else float("nan"),
            "junction_true": float(np.degrees(th[np.argmax(cone)])),
            "axis_error": float(np.degrees(np.arccos(np.clip(axis @ true_axis, -1.0, 1.0))))}


def _auto_arcs(t1, side: str, true_axis, true_junction_deg: float):
    """Both readings of the automatic segmentation of ``side``'s hip, and its measured junction beside the
    construction's (None, None, {} when it is not found)."""
    for seg in segment_hips(t1):
        if seg.side == side:
            m = measure_hip(seg.femoral_head_fraction, seg.lesion_fraction, side=seg.side,
                            neck_axis_lps=seg.neck_axis_lps, segmentation_quality=seg.quality,
                            surface_resolved_at=seg.surface_resolved_at)
            return (*_both_arcs(seg.lesion_fraction, seg.femoral_head_fraction, m.sphere, m.neck_axis_lps),
                    junction_columns(seg, np.asarray(true_axis, float), true_junction_deg))
    return None, None, {}


def family_a(names) -> list[dict]:
    """Rows of family A's lesion cases named in ``names`` (all when None)."""
    from onfh_imaging.evaluation import build_phantom, grid_cases
    from onfh_imaging.phantom.truth import _lesion_arc_deg

    rows = []
    for case in grid_cases():
        if case.lesion == "none" or (names is not None and case.name not in names):
            continue
        model, t1, head_truth, lesion_truth = build_phantom(case)
        side = "left" if case.hips == "left" else "right"
        hip = {h.side: h for h in model.hips}[side]
        sphere = Sphere(np.asarray(hip.head_center_lps, float), hip.head_radius_mm, 0.0)
        truth = {p: _lesion_arc_deg(hip, np.asarray(n)) for p, n in PLANES.items()}
        mask, mask_along = _both_arcs(lesion_truth, head_truth, sphere, hip.neck_axis)
        auto, auto_along, junction = _auto_arcs(t1, side, hip.neck_axis, hip.articular_margin_deg)
        rows.append({"case": case.name, "side": side, "lesion": f"{case.lesion}/{case.core}",
                     "grid": f"{case.slice_mm:g}x{case.in_plane_mm:g} obl{case.oblique_deg}",
                     "truth": truth, "mask": mask, "auto": auto, "mask_along": mask_along,
                     "auto_along": auto_along, "junction": junction})
    return rows


def family_b(names) -> list[dict]:
    """Rows of family B's lesions in the studies named in ``names`` (all when None)."""
    from onfh_imaging.io.series import read_series
    from onfh_imaging.phantom.labelmap import mr_grid, truth_masks, write_labelmap_study
    from onfh_imaging.phantom.labelmap.truth import _lesion_arc_deg

    rows = []
    for name, spec in mr_grid():
        if names is not None and name not in names:
            continue
        anatomy = spec.anatomy()
        with tempfile.TemporaryDirectory() as tmp:
            write_labelmap_study(Path(tmp), spec)
            t1 = read_series(Path(tmp) / "T1_COR").volume
        for hip in anatomy.hips:
            if hip.lesion is None:
                continue
            head_truth, lesion_truth = truth_masks(hip, t1)
            sphere = Sphere(hip.c, hip.radius_mm, 0.0)
            disease = getattr(spec, hip.side)
            mask, mask_along = _both_arcs(lesion_truth, head_truth, sphere, np.asarray(hip.neck_axis))
            auto, auto_along, junction = _auto_arcs(t1, hip.side, hip.neck_axis, np.degrees(hip.neck_exit_angle))
            rows.append({"case": name, "side": hip.side, "lesion": f"{disease.lesion}/{disease.core}",
                         "grid": f"{spec.slice_mm:g}x{spec.in_plane_mm:g} obl{tuple(spec.oblique_deg)}",
                         "truth": {p: _lesion_arc_deg(hip, np.asarray(n)) for p, n in PLANES.items()},
                         "mask": mask, "auto": auto, "mask_along": mask_along, "auto_along": auto_along,
                         "junction": junction})
    return rows


def table(rows: list[dict], family: str) -> str:
    cols = ["family", "case", "side", "lesion", "grid"] + [
        f"{p}_{k}" for p in PLANES for k in ("truth", "mask", "auto", "mask_err", "auto_err", "mask_along_err",
                                             "auto_along_err")] + [
        "kerboul_truth", "kerboul_auto_err", "kerboul_auto_along_err", "junction_auto", "junction_true",
        "axis_error"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    missing = {p: float("nan") for p in PLANES}
    for r in rows:
        auto, auto_along = r["auto"] or missing, r["auto_along"] or missing
        cells = [family, r["case"], r["side"], r["lesion"], r["grid"]]
        for p in PLANES:
            t = r["truth"][p]
            cells += [f"{t:.1f}", f"{r['mask'][p]:.1f}", f"{auto[p]:.1f}", f"{r['mask'][p] - t:+.1f}",
                      f"{auto[p] - t:+.1f}", f"{r['mask_along'][p] - t:+.1f}", f"{auto_along[p] - t:+.1f}"]
        total = sum(r["truth"].values())
        cells += [f"{total:.1f}", f"{sum(auto.values()) - total:+.1f}", f"{sum(auto_along.values()) - total:+.1f}"]
        cells += [f"{r['junction'].get(k, float('nan')):.1f}" for k in ("junction_auto", "junction_true", "axis_error")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="every lesion of both grids, not the subset")
    ap.add_argument("--family", choices=("A", "B"), help="one family only")
    ap.add_argument("--cases", nargs="*", help="case names to run (overrides the subset)")
    args = ap.parse_args(argv)
    out = []
    for family, run in (("A", family_a), ("B", family_b)):
        if args.family and args.family != family:
            continue
        names = set(args.cases) if args.cases else (None if args.all else set(SUBSET[family]))
        t0 = time.perf_counter()
        rows = run(names)
        print(f"family {family}: {len(rows)} lesion(s), {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        out.append(table(rows, family))
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

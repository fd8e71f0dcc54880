"""Accuracy of the MRI segmentation against digital phantoms with known truth.

Used by the tests and by ``benchmarks/accuracy_mri.py``: render a phantom, segment it, measure the
masks with :func:`onfh_imaging.measure.hip.measure_hip`, and compare with the phantom's exact truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhantomCase:
    """One phantom of the accuracy grid (see :func:`build_phantom`).

    Attributes
    ----------
    name : str
        Case name in tables.
    hips : str
        ``"right"``, ``"left"`` or ``"both"``: the hips in the field of view.
    collapse_mm : float
        Collapse depth of the measured hip's dome, mm (0: intact).
    lesion : str
        ``"none"``, ``"small"`` or ``"large"`` necrotic lesion preset.
    core : str
        ``"fatty"`` or ``"fluid"`` lesion core signal.
    slice_mm : float
        Slice thickness and spacing, mm.
    in_plane_mm : float
        In-plane pixel size, mm.
    oblique_deg : (float, float)
        Rotation of the coronal grid about its centre, degrees (see
        :func:`onfh_imaging.phantom.mr.coronal_grid`).
    radius_mm : float
        Femoral head radius, mm.
    noise : float
        Standard deviation of each Gaussian noise channel (Rician noise) as a fraction of
        ``intensity_scale``.
    bias : float
        Amplitude of the log bias field (0.15: about +-15 %).
    intensity_scale : float
        Signal of T1 fatty marrow in scanner units.
    matrix : int or None
        Rows of the in-plane matrix (columns: the same for one hip, 2.4 times for both); None: a
        ~115 mm field of view.
    fov_height_mm : float
        Extent covered by the slices (anterior to posterior), mm.
    seed : int
        Seed of the bias field and the noise.
    """

    name: str
    hips: str = "right"                 # "right" | "left" | "both"
    collapse_mm: float = 0.0
    lesion: str = "none"                # "none" | "small" | "large"
    core: str = "fatty"                 # "fatty" | "fluid"
    slice_mm: float = 4.0
    in_plane_mm: float = 0.7
    oblique_deg: tuple[float, float] = (0.0, 0.0)
    radius_mm: float = 24.0
    noise: float = 0.03
    bias: float = 0.15
    intensity_scale: float = 1000.0
    matrix: int | None = None  # default: a ~115 mm square field of view per hip
    fov_height_mm: float = 80.0
    seed: int = 0


def build_phantom(case: PhantomCase):
    """Render one phantom case and its exact truth.

    The measured hip (collapse and lesion) is the first side named by ``case.hips`` ("both": right).

    Parameters
    ----------
    case : PhantomCase
        What to render.

    Returns
    -------
    model : PelvisModel
        The anatomy.
    t1 : Volume
        The rendered T1-weighted volume (LPS mm).
    head_fraction, lesion_fraction : Volume
        Exact partial-volume fractions (0..1) of femoral head and lesion on ``t1``'s grid.
    """
    from onfh_imaging.phantom.axes import default_dome_direction
    from onfh_imaging.phantom.model import Collapse, Lesion, PelvisModel
    from onfh_imaging.phantom.mr import render_mr
    from onfh_imaging.phantom.truth import truth_masks

    side = "left" if case.hips == "left" else "right"
    dome = default_dome_direction(side)
    extra: dict = {}
    if case.collapse_mm > 0:
        extra["collapse"] = Collapse(case.collapse_mm, dome)
    if case.lesion != "none":
        extra["lesion"] = Lesion.preset(case.lesion, case.radius_mm, dome, core=case.core)
    model = PelvisModel.standard(case.hips, head_radius_mm=case.radius_mm, **{side: extra})
    n_slices = int(np.ceil(case.fov_height_mm / case.slice_mm))
    side_px = case.matrix or int(round(115.0 / case.in_plane_mm))
    matrix = (side_px, int(side_px * 2.4)) if case.hips == "both" else (side_px, side_px)
    t1 = render_mr(model, in_plane_mm=case.in_plane_mm, slice_mm=case.slice_mm, matrix=matrix,
                   n_slices=n_slices, oblique_deg=case.oblique_deg, noise_sigma=case.noise,
                   bias_strength=case.bias, intensity_scale=case.intensity_scale, seed=case.seed)
    head, lesion = truth_masks(model, t1)
    return model, t1, head, lesion


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * float(np.sum(a & b)) / total


def evaluate_case(case: PhantomCase, *, use_fractions: bool = True, built=None) -> list[dict]:
    """Segment and measure one phantom; one row of errors per hip found.

    Hips are measured as the pipeline measures them (segmentation quality and collapse evidence
    merged).

    Parameters
    ----------
    case : PhantomCase
        The phantom to render and measure.
    use_fractions : bool
        Measure the segmentation's partial-volume fractions (as the pipeline does) rather than its
        binary masks.
    built : tuple, optional
        ``build_phantom(case)``'s result, when already rendered.

    Returns
    -------
    list of dict
        One row per hip found, keys ``case, side, truth_side, center_error_mm, radius_error_mm,
        collapse_mm, true_collapse_mm, collapse_error_mm, head_dice, lesion_dice, lesion_ml,
        true_lesion_ml, lesion_volume_error_pct, invented_lesion, stage, true_stage, kerboul_deg,
        true_kerboul_deg, needs_review, quality_score, quality_reasons, head_outside_fov_pct,
        seconds`` (mm, mL, %, degrees; seconds of segmentation). A hip of the phantom that was not
        found gets a row ``{case, side: "missed", truth_side, missed: True}``; a hip found where the
        phantom has none ``{case, side, truth_side: None}``.
    """
    import time

    from onfh_imaging.segment.mri import segment_hips

    model, t1, head_truth, lesion_truth = built if built is not None else build_phantom(case)
    start = time.perf_counter()
    segs = segment_hips(t1)
    seconds = time.perf_counter() - start
    centers = t1.voxel_centers_lps()
    rows = []
    found = {seg.side for seg in segs}
    for hip in model.hips:
        if hip.side not in found:
            rows.append({"case": case.name, "side": "missed", "truth_side": hip.side, "missed": True})
    for seg in segs:
        truth_hip = {h.side: h for h in model.hips}.get(seg.side)
        if truth_hip is None:
            rows.append({"case": case.name, "side": seg.side, "truth_side": None})
            continue
        row = _hip_errors(seg, truth_hip, t1, centers, head_truth, lesion_truth, use_fractions)
        rows.append({"case": case.name, "side": seg.side, "truth_side": truth_hip.side, **row, "seconds": seconds})
    return rows


def _hip_errors(seg, truth_hip, t1, centers: np.ndarray, head_truth, lesion_truth, use_fractions: bool) -> dict:
    """Errors of one segmented and measured hip against its phantom truth (the row's measured columns)."""
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.phantom.truth import hip_truth
    from onfh_imaging.staging import stage_hip

    truth = hip_truth(truth_hip, 300, 720)
    head_mask = seg.femoral_head_fraction if use_fractions else seg.femoral_head_mask
    lesion_mask = seg.lesion_fraction if use_fractions else seg.lesion_mask
    m = stage_hip(measure_hip(head_mask, lesion_mask, side=seg.side, neck_axis_lps=seg.neck_axis_lps,
                              segmentation_quality=seg.quality, surface_resolved_at=seg.surface_resolved_at))
    near = np.linalg.norm(centers - np.asarray(truth.center_lps_mm), axis=-1) < truth.radius_mm + 10
    head_dice = _dice(seg.femoral_head_mask.array, (head_truth.array >= 0.5) & near)
    true_lesion = (lesion_truth.array >= 0.5) & near
    lesion_dice = _dice(seg.lesion_mask.array, true_lesion)
    lesion_ml = float(np.sum(lesion_mask.array, dtype=float)) * t1.voxel_volume_ml
    true_ml = truth.lesion_volume_ml or 0.0
    d = m.to_dict()
    return {
        "center_error_mm": float(np.linalg.norm(np.asarray(d["head"]["center_lps_mm"])
                                                - np.asarray(truth.center_lps_mm))),
        "radius_error_mm": float(d["head"]["radius_mm"] - truth.radius_mm),
        "collapse_mm": float(d["head"]["collapse_depth_mm"]),
        "true_collapse_mm": float(truth.collapse_depth_mm),
        "collapse_error_mm": float(d["head"]["collapse_depth_mm"] - truth.collapse_depth_mm),
        "head_dice": head_dice,
        "lesion_dice": lesion_dice if true_ml > 0 else float("nan"),
        "lesion_ml": lesion_ml, "true_lesion_ml": true_ml,
        "lesion_volume_error_pct": 100.0 * (lesion_ml - true_ml) / true_ml if true_ml > 0 else float("nan"),
        "invented_lesion": bool(true_ml == 0 and seg.lesion_mask.array.any()),
        "stage": d["staging"]["arco_2019"], "true_stage": truth.arco_2019,
        "kerboul_deg": float((d["lesion"] or {}).get("kerboul_angle_deg") or 0.0),
        "true_kerboul_deg": float(truth.kerboul_angle_deg or 0.0),
        "needs_review": bool(m.quality.needs_review), "quality_score": float(m.quality.score),
        "quality_reasons": "; ".join(m.quality.reasons),
        "head_outside_fov_pct": 100.0 * _outside_fov(t1, np.asarray(truth.center_lps_mm), truth.radius_mm),
    }


def _outside_fov(grid, center: np.ndarray, radius_mm: float) -> float:
    """Share of the true head sphere's surface outside the image grid's field of view."""
    k = np.arange(2000) + 0.5
    z = 1.0 - 2.0 * k / len(k)
    phi = np.pi * (1.0 + 5 ** 0.5) * k
    u = np.column_stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z])
    ijk = grid.lps_to_index(center + radius_mm * u)
    return float(1.0 - np.all((ijk >= -0.5) & (ijk <= np.asarray(grid.size) - 0.5), axis=1).mean())


def grid_cases() -> list[PhantomCase]:
    """The accuracy grid: 24 phantoms over side, collapse, lesion, core, slices, obliquity, noise, bias."""
    cases = []
    sides = ["right", "left", "both"]
    collapses = [0.0, 1.0, 1.5, 2.6, 3.0, 4.0]
    lesions = ["none", "small", "large"]
    n = 0
    for i in range(24):
        lesion = lesions[i % 3]
        collapse = 0.0 if lesion == "none" else collapses[(i * 5) % len(collapses)]
        cases.append(PhantomCase(
            name=f"p{n:02d}", hips=sides[(i // 3) % 3], collapse_mm=collapse, lesion=lesion,
            core="fluid" if i % 4 == 3 else "fatty", slice_mm=(3.0, 4.0, 5.0)[i % 3 if i % 2 else (i // 2) % 3],
            oblique_deg=((0.0, 0.0), (10.0, 0.0), (0.0, 12.0), (15.0, 8.0))[i % 4],
            in_plane_mm=(0.5, 0.7, 0.9)[(i // 2) % 3], noise=(0.02, 0.03, 0.05)[i % 3],
            bias=(0.0, 0.15, 0.3)[(i // 4) % 3], intensity_scale=(1000.0, 4000.0)[i % 2],
            radius_mm=(22.0, 24.0, 27.0)[(i // 6) % 3], seed=i))
        n += 1
    return cases


def _stage_class(stage: str | None) -> str:
    """A stage as the measurement decides it: IIIA, IIIB, or no collapse (I, II, I-II, I/II, none)."""
    return stage if stage in ("IIIA", "IIIB") else "no collapse"


def summarize(rows: list[dict]) -> dict:
    """Max / mean absolute errors, Dice minima, invented lesions and IIIA/IIIB agreement.

    Heads of the phantom not found are counted (``hips_missed``). Collapse errors are summarised over
    heads lying within the field of view (less than 2 % of the true sphere outside it): a head cut by
    the field of view has no surface there to measure; those are counted in ``heads_cut_by_fov``.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`evaluate_case` over any number of cases.

    Returns
    -------
    dict
        Counts (``hips``, ``hips_missed``, ``wrong_side``, ``heads_cut_by_fov``, ``invented_lesions``,
        ``needs_review``, ``stage_iii_on_intact_heads``, ``wrong_stage_not_flagged``), ``max_abs_*`` and
        ``mean_abs_*`` errors (mm, %, degrees), ``min_*`` / ``mean_*`` Dice, and
        ``staging_iiia_iiib_agreement`` as ``"agreed/decisive"`` over collapses farther than 0.5 mm from 2 mm.
    """
    ok = [r for r in rows if r.get("truth_side") is not None and not r.get("missed")]
    inside = [r for r in ok if r.get("head_outside_fov_pct", 0.0) < 2.0]

    def col(key, among=ok):
        v = np.array([r[key] for r in among], float)
        return v[np.isfinite(v)]

    out = {"hips": len(ok), "hips_missed": sum(bool(r.get("missed")) for r in rows),
           "wrong_side": sum(r.get("side") != r.get("truth_side") for r in ok),
           "heads_cut_by_fov": len(ok) - len(inside)}
    for key in ("center_error_mm", "radius_error_mm", "collapse_error_mm", "lesion_volume_error_pct"):
        v = np.abs(col(key, inside if key == "collapse_error_mm" else ok))
        out[f"max_abs_{key}"] = float(v.max()) if v.size else float("nan")
        out[f"mean_abs_{key}"] = float(v.mean()) if v.size else float("nan")
    for key in ("head_dice", "lesion_dice"):
        v = col(key)
        out[f"min_{key}"] = float(v.min()) if v.size else float("nan")
        out[f"mean_{key}"] = float(v.mean()) if v.size else float("nan")
    out["invented_lesions"] = sum(r["invented_lesion"] for r in ok)
    kerboul = np.array([abs(r["kerboul_deg"] - r["true_kerboul_deg"]) for r in ok
                        if r.get("true_kerboul_deg", 0) > 0], float)
    out["max_abs_kerboul_error_deg"] = float(kerboul.max()) if kerboul.size else float("nan")
    out["mean_abs_kerboul_error_deg"] = float(kerboul.mean()) if kerboul.size else float("nan")
    out["needs_review"] = sum(bool(r.get("needs_review")) for r in ok)
    out["stage_iii_on_intact_heads"] = sum(r["true_collapse_mm"] == 0 and r["stage"] in ("IIIA", "IIIB")
                                           for r in ok)
    out["wrong_stage_not_flagged"] = sum(_stage_class(r["stage"]) != _stage_class(r["true_stage"])
                                         and not r.get("needs_review") for r in inside)
    decisive = [r for r in inside if r["true_collapse_mm"] > 0 and abs(r["true_collapse_mm"] - 2.0) > 0.5]
    out["staging_iiia_iiib_agreement"] = (f"{sum(r['stage'] == r['true_stage'] for r in decisive)}/"
                                          f"{len(decisive)}")
    return out


__all__ = ["PhantomCase", "build_phantom", "evaluate_case", "grid_cases", "summarize"]

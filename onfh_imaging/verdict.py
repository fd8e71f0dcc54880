"""One ARCO 2019 verdict per hip and visit, from every series measured at that visit.

ARCO 2019 is defined across modalities (Yoon BH et al., J Arthroplasty 2020;35:933-940):

* I    - necrotic lesion on MRI, radiograph normal;
* II   - radiograph abnormal (sclerosis, osteolysis, focal osteoporosis), no subchondral fracture or collapse;
* IIIA - subchondral fracture or collapse up to 2 mm on the radiograph (or CT); IIIB - collapse over 2 mm;
* IV   - osteoarthritis: joint-space narrowing, acetabular changes.

Each series is measured and staged alone (:mod:`onfh_imaging.staging`). A visit's verdict reads all of
them for one hip, as a radiologist reads the MR and the AP and frog-leg views side by side:

* **IV** when a radiograph shows the joint space narrowed (``staging.JOINT_SPACE_NARROWING_MM``) in a head
  the visit shows is necrotic (a lesion on MRI or a radiograph, or confirmed collapse); narrowing without
  that is osteoarthritis, which has other causes, and is said in the basis, not staged;
* **III** when trusted collapse evidence exists: a depression of the articular surface at or above its
  series' detection limit, or a subchondral fracture line (double contour) on a radiograph. A series whose
  hip needs review cannot decide stage III alone: another series must show collapse too. Evidence whose
  quality check failed in a way that blocks stage III is not used at all. When a trusted 3-D surface shows
  no collapse, radiograph evidence alone does not make stage III: it asks for review.
* **IIIA / IIIB** from the best-resolved depth: a 3-D surface (MRI) measures the depression itself, the
  finest grid first; a radiograph sees only the head's silhouette, which a depression moves inward only
  where the beam is tangent to it, so a silhouette depth is a lower bound of the true depth and is used
  only when no 3-D depth is trusted (then the deepest view).
* **I vs II** from the lesion's finding inside the head on each radiograph (sclerotic margin, lucency:
  :mod:`onfh_imaging.measure.radiograph_lesion`; the rule is :mod:`onfh_imaging.verdict_early`): an MR
  lesion without collapse is **II** when any radiograph that read the head found it (the views that did
  not are listed as a disagreement: a margin projects as a line only where the beam is tangent to it),
  **I** when every radiograph read the head and found none, ``I-II`` with the reason otherwise (no
  radiograph, a head not read). It never raises a hip to III. MRI alone cannot see joint-space narrowing
  either.

Disagreements between series are listed, with what explains them; ``needs_review`` is set when series
conflict beyond their uncertainty (a silhouette deeper than the 3-D surface by more than both detection
limits, joint-space views on either side of the narrowing limit by more than their uncertainty, collapse
or fracture on a head without a necrotic lesion) or when a series of the hip needs review.

The functions are pure: they take the measurement JSON contract of each series (``StudyResult.to_json()``
or a batch record's ``result``) and return :class:`HipVerdict` objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from onfh_imaging.measure.radiograph_lesion import RadiographicLesion
from onfh_imaging.staging import (
    COLLAPSE_DETECTION_MM,
    IIIB_MIN_COLLAPSE_MM,
    JOINT_SPACE_NARROWING_MM,
    SUBTYPE_CHECK,
    arco_1992,
    collapse_detection_mm,
    steinberg_extent,
)
from onfh_imaging.verdict_conflicts import conflicts
from onfh_imaging.verdict_early import NO_RADIOGRAPH, stage_without_collapse

VERDICT_SCHEMA = "onfh-imaging/verdict/1"

STAGE_ORDER = ("none", "I", "I-II", "II", "IIIA", "IIIB", "IV")
"""Stages from least to most advanced (``I-II`` sits between: it is one of the two)."""

@dataclass(frozen=True)
class SeriesHip:
    """One hip as one series saw it: what the verdict reads from that series' measurement.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    series_instance_uid, label : str
        The series and its name for a reader (modality, description, view).
    radiograph : bool
        A projection radiograph (else a 3-D MR series).
    stage : str or None
        The series' own suggested ARCO 2019 stage.
    depth_mm : float or None
        Collapse depth (mm): the 3-D surface's on MRI, the silhouette's on a radiograph; None when not
        measured in mm.
    detection_mm : float
        Smallest depth this series reads as collapse (mm); also its depth uncertainty.
    fracture : bool
        A double contour (subchondral fracture line) on a radiograph.
    joint_space_mm : float or None
        Narrowest joint space width at the weight-bearing zone (radiograph), mm.
    lesion_present : bool or None
        Necrotic lesion found (MRI); None when not assessed.
    involvement_pct : float or None
        Percentage of the head involved by the lesion (MRI).
    needs_review : bool
        The series' quality block asked for review of this hip.
    collapse_trusted : bool
        False when a failed quality check means this series' collapse evidence cannot support stage III.
    reasons : tuple of str
        The series' review reasons.
    finding : RadiographicLesion or None
        The lesion's radiographic finding inside the head (a radiograph's; None on MR).
    """

    side: str
    series_instance_uid: str
    label: str
    radiograph: bool
    stage: str | None
    depth_mm: float | None
    detection_mm: float
    fracture: bool = False
    joint_space_mm: float | None = None
    lesion_present: bool | None = None
    involvement_pct: float | None = None
    needs_review: bool = False
    collapse_trusted: bool = True
    reasons: tuple[str, ...] = ()
    finding: RadiographicLesion | None = None

    @property
    def collapsed(self) -> bool:
        """The depth reaches this series' detection limit."""
        return self.depth_mm is not None and self.depth_mm >= self.detection_mm

    @property
    def collapse_evidence(self) -> bool:
        """Collapse or a fracture line, whatever its trust."""
        return self.collapsed or self.fracture

    @property
    def narrowed(self) -> bool:
        """The joint space is at or below ``JOINT_SPACE_NARROWING_MM``."""
        return self.joint_space_mm is not None and self.joint_space_mm <= JOINT_SPACE_NARROWING_MM

    def depth_text(self) -> str:
        """The depth and its detection limit in words (mm); only for a measured depth."""
        return f"{self.depth_mm:.1f} mm (detection limit {self.detection_mm:.1f} mm)"

    def to_dict(self) -> dict[str, Any]:
        """This series' entry in the verdict's ``series`` list (depths and widths in mm)."""
        return {"series_instance_uid": self.series_instance_uid, "series": self.label,
                "radiograph": self.radiograph, "arco_2019": self.stage,
                "collapse_depth_mm": _round(self.depth_mm), "detection_limit_mm": _round(self.detection_mm),
                "double_contour": self.fracture, "joint_space_width_mm": _round(self.joint_space_mm),
                "radiographic_lesion": self.lesion_finding, "needs_review": self.needs_review}

    @property
    def lesion_finding(self) -> bool | None:
        """The radiographic finding: True found, False read and absent, None not read."""
        return None if self.finding is None else self.finding.found

    def finding_text(self) -> str:
        """The radiographic finding in words, naming this series (a radiograph's only)."""
        return self.finding.describe(self.label)


@dataclass(frozen=True)
class DepthMeasurement:
    """One collapse depth of the hip: its value, where it came from and how it measures.

    Attributes
    ----------
    series_instance_uid, series : str
        The series that measured it and its name for a reader.
    depth_mm : float
        The collapse depth, mm.
    detection_limit_mm : float
        Smallest depth that series reads as collapse, mm (also the depth's uncertainty).
    method : str
        How it was measured (3-D articular surface, or a radiograph silhouette: a lower bound).
    """

    series_instance_uid: str
    series: str
    depth_mm: float
    detection_limit_mm: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """The depth's JSON block (mm)."""
        return {"series_instance_uid": self.series_instance_uid, "series": self.series,
                "depth_mm": _round(self.depth_mm), "detection_limit_mm": _round(self.detection_limit_mm),
                "method": self.method}


@dataclass(frozen=True)
class HipVerdict:
    """The ARCO 2019 verdict of one hip at one visit.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    patient_id, study_date : str or None
        The visit.
    study_instance_uids : tuple of str
        Studies of the visit that saw this hip.
    stage : str or None
        ``"none"``, ``"I"``, ``"II"``, ``"I-II"`` (I or II: the radiographs did not tell), ``"IIIA"``,
        ``"IIIB"``, ``"IV"``; None when the series do not support a stage (``basis`` says why).
    basis : str
        What decided the stage, naming the series.
    decided_by : tuple of str
        Labels of the series whose findings decided the stage.
    depth : DepthMeasurement or None
        The depth used for IIIA/IIIB (or the best one measured when the hip is not collapsed).
    other_depths : tuple of DepthMeasurement
        The other depth measurements of the hip.
    not_assessed : tuple of str
        What this visit cannot tell (e.g. ``"I or II: ..."``, ``"IV: ..."``).
    disagreements : tuple of str
        Series whose findings differ from the verdict, with the explanation when one is known.
    notes : tuple of str
        Caveats of the stage itself (a depth within its uncertainty of the IIIA/IIIB limit).
    needs_review : bool
        Series conflict beyond their uncertainty, or a series of this hip needs review.
    reasons : tuple of str
        Why review is needed.
    steinberg_extent : str or None
        Extent of the lesion on MRI (A < 15 %, B 15-30 %, C > 30 %).
    series : tuple of SeriesHip
        Every series of the visit that measured this hip.
    """

    side: str
    patient_id: str | None
    study_date: str | None
    study_instance_uids: tuple[str, ...]
    stage: str | None
    basis: str
    decided_by: tuple[str, ...] = ()
    depth: DepthMeasurement | None = None
    other_depths: tuple[DepthMeasurement, ...] = ()
    not_assessed: tuple[str, ...] = ()
    disagreements: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    needs_review: bool = False
    reasons: tuple[str, ...] = ()
    steinberg_extent: str | None = None
    series: tuple[SeriesHip, ...] = field(default=(), repr=False)

    @property
    def arco_1992(self) -> str | None:
        """The ARCO 1992 stage with its extent letter, from the stage and the MR involvement."""
        return arco_1992(self.stage, _involvement(self.series))

    def to_dict(self) -> dict[str, Any]:
        """The verdict as it appears in the measurement JSON's ``verdicts`` block."""
        return {
            "schema": VERDICT_SCHEMA,
            "side": self.side,
            "patient_id": self.patient_id,
            "study_date": self.study_date,
            "studies": [{"study_instance_uid": uid} for uid in self.study_instance_uids],
            "arco_2019": self.stage,
            "basis": self.basis,
            "decided_by": list(self.decided_by),
            "depth": None if self.depth is None else self.depth.to_dict(),
            "other_depths": [d.to_dict() for d in self.other_depths],
            "not_assessed": list(self.not_assessed),
            "disagreements": list(self.disagreements),
            "notes": list(self.notes),
            "needs_review": self.needs_review,
            "reasons": list(self.reasons),
            "steinberg_extent": self.steinberg_extent,
            "arco_1992": self.arco_1992,
            "series": [s.to_dict() for s in self.series],
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _involvement(series: Iterable[SeriesHip]) -> float | None:
    return next((s.involvement_pct for s in series if s.involvement_pct is not None), None)


def is_radiograph(report: Mapping[str, Any]) -> bool:
    """Whether a measurement JSON object is a radiograph's.

    Parameters
    ----------
    report : mapping
        One series' measurement JSON contract.

    Returns
    -------
    bool
        True when its input block carries a pixel-size source or a modality other than MR.
    """
    inp = report.get("input") or {}
    return "pixel_size_source" in inp or inp.get("modality") not in (None, "MR")


def series_label(report: Mapping[str, Any]) -> str:
    """A reader's name for a measured series.

    Parameters
    ----------
    report : mapping
        One series' measurement JSON contract.

    Returns
    -------
    str
        Modality, description and, for a radiograph, the view unless the description names it; an MR
        series names the fluid-sensitive series that outlined its lesion (``MR COR T1 + COR STIR``);
        the series UID when nothing else is known.
    """
    inp = report.get("input") or {}
    words = [inp.get("modality") or "?", inp.get("series_description") or ""]
    if is_radiograph(report) and inp.get("view"):
        view = str(inp["view"])
        if view.lower() not in str(inp.get("series_description") or "").lower():
            words.append(f"({view})")
    if inp.get("fluid_sensitive_series_description"):
        words.append(f"+ {inp['fluid_sensitive_series_description']}")
    return " ".join(w for w in words if w) or str(inp.get("series_instance_uid"))


def _quality(hip: Mapping[str, Any]) -> tuple[bool, bool, tuple[str, ...]]:
    """(needs_review, collapse_trusted, reasons) of a hip's quality block (absent: no review asked).

    The series' own IIIA/IIIB subtype check is left out: the verdict judges the subtype again from the
    depth it chooses (:func:`_notes`), and an open subtype does not make that series' collapse doubtful.
    """
    quality = hip.get("quality") or {}
    checks = quality.get("checks") or []
    trusted = quality.get("collapse_trusted")
    if trusted is None:
        trusted = not any(c.get("blocks_stage_iii") and not c.get("passed", True) for c in checks)
    subtype = {c.get("reason") for c in checks if c.get("name") == SUBTYPE_CHECK and not c.get("passed", True)}
    reasons = tuple(r for r in quality.get("reasons") or () if r not in subtype)
    review = bool(quality.get("needs_review")) and (bool(reasons) or not subtype)
    return review, bool(trusted), reasons


def _radiograph_detection_mm(inp: Mapping[str, Any]) -> float | None:
    size = inp.get("pixel_size_mm")
    if not size:
        return None
    return collapse_detection_mm(math.sqrt(float(size[0]) * float(size[-1])))


def series_hips(report: Mapping[str, Any]) -> list[SeriesHip]:
    """The hips of one measured series as the verdict reads them.

    Parameters
    ----------
    report : mapping
        One series' measurement JSON contract.

    Returns
    -------
    list of SeriesHip
        One per measured hip (hips without a head measurement are left out).
    """
    inp = report.get("input") or {}
    radiograph = is_radiograph(report)
    label = series_label(report)
    out = []
    for hip in report.get("hips") or []:
        head = hip.get("head")
        if not head or hip.get("side") not in ("left", "right"):
            continue
        review, trusted, reasons = _quality(hip)
        staging = hip.get("staging") or {}
        lesion = hip.get("lesion")
        if radiograph:
            finding = RadiographicLesion.from_dict(hip.get("radiographic_lesion"))
            detection = _radiograph_detection_mm(inp)
            depth = _number(head.get("collapse_depth_mm")) if detection is not None else None
            out.append(SeriesHip(
                side=hip["side"], series_instance_uid=str(inp.get("series_instance_uid")), label=label, radiograph=True,
                stage=staging.get("arco_2019"), depth_mm=depth,
                detection_mm=COLLAPSE_DETECTION_MM if detection is None else detection,
                fracture=bool(head.get("double_contour")),
                joint_space_mm=_number(head.get("joint_space_width_mm")),
                needs_review=review, collapse_trusted=trusted, reasons=reasons, finding=finding))
        else:
            detection = _number(head.get("collapse_detection_mm")) or COLLAPSE_DETECTION_MM
            out.append(SeriesHip(
                side=hip["side"], series_instance_uid=str(inp.get("series_instance_uid")), label=label, radiograph=False,
                stage=staging.get("arco_2019"), depth_mm=_number(head.get("collapse_depth_mm")),
                detection_mm=max(detection, COLLAPSE_DETECTION_MM),
                lesion_present=None if lesion is None else (_number(lesion.get("volume_ml")) or 0.0) > 0,
                involvement_pct=None if lesion is None else _number(lesion.get("head_involvement_pct")),
                needs_review=review, collapse_trusted=trusted, reasons=reasons))
    return out


def _depth_measurement(s: SeriesHip) -> DepthMeasurement:
    method = ("head silhouette on the radiograph (a projection: a lower bound of the depth)" if s.radiograph
              else "3-D articular surface below the reference sphere (MRI)")
    return DepthMeasurement(s.series_instance_uid, s.label, float(s.depth_mm), s.detection_mm, method)


def _best_depth(series: Sequence[SeriesHip]) -> SeriesHip | None:
    """The best-resolved depth: a trusted 3-D surface (finest detection limit first), else the deepest
    trusted silhouette; untrusted ones only when nothing else measured a depth."""
    measured = [s for s in series if s.depth_mm is not None]
    for pool in ([s for s in measured if s.collapse_trusted and not s.needs_review],
                 [s for s in measured if s.collapse_trusted], measured):
        direct = [s for s in pool if not s.radiograph]
        if direct:
            return min(direct, key=lambda s: (s.detection_mm, -s.depth_mm))
        if pool:
            return max(pool, key=lambda s: s.depth_mm)
    return None


def _collapse_decision(series: Sequence[SeriesHip], best: SeriesHip | None) -> tuple[list[SeriesHip], list[str]]:
    """The series whose collapse evidence decides stage III (empty when it is not decided), and the
    review reasons of evidence that could not decide it.

    ``best`` is the best-resolved depth (:func:`_best_depth`). When the 3-D surfaces whose collapse evidence
    passed its checks (a review asked for another reason does not void the surface) all lie within their
    detection limit, radiograph evidence alone does not make the head collapsed and asks for review: a
    silhouette depression deeper than the surface is impossible, and a double contour without any
    depression may be a fracture line (IIIA) or the dense margin of a lesion or noise, which the
    software cannot tell apart (a false stage III on an intact head is the worst output).
    """
    surfaces = [s for s in series if not s.radiograph and s.collapse_trusted and s.depth_mm is not None]
    intact_3d = bool(surfaces) and not any(s.collapsed for s in surfaces)
    if intact_3d and (best is None or best.radiograph or best.collapsed):
        best = min(surfaces, key=lambda s: s.detection_mm)
    evidence, reasons = [], []
    for s in series:
        if not s.collapse_evidence:
            continue
        if not s.collapse_trusted:
            reasons.append(f"collapse evidence on {s.label} is not used: its quality checks failed")
        elif intact_3d and s.radiograph:
            reasons.append(f"{_finding(s)} is not confirmed: the 3-D surface of {best.label} shows no collapse "
                           f"({best.depth_mm:.1f} mm, detection limit {best.detection_mm:.1f} mm)"
                           + ("; a fracture line without depression (IIIA) and the dense margin of a lesion or "
                              "noise (not III) look alike to the software" if s.fracture else ""))
        else:
            evidence.append(s)
    if any(not s.needs_review for s in evidence):
        return evidence, reasons
    if len({s.series_instance_uid for s in evidence}) >= 2:
        return evidence, reasons  # series that each need review confirm one another
    reasons += [f"collapse on {s.label} needs confirmation: that series needs review of this hip and no "
                "other series shows collapse" for s in evidence]
    return [], reasons


def _finding(s: SeriesHip) -> str:
    parts = []
    if s.collapsed:
        parts.append(f"collapse {s.depth_text()}")
    if s.fracture:
        parts.append("double contour (subchondral fracture line)")
    return f"{' and '.join(parts)} on {s.label}"


def _stage_iii(depth: SeriesHip | None, deciders: Sequence[SeriesHip]) -> tuple[str, str]:
    if depth is not None and depth.collapsed:
        stage = "IIIB" if depth.depth_mm > IIIB_MIN_COLLAPSE_MM else "IIIA"
        limit = ">" if stage == "IIIB" else "<="
        basis = f"collapse of {depth.depth_mm:.1f} mm ({limit} {IIIB_MIN_COLLAPSE_MM:g} mm) on {depth.label}"
        if depth.fracture:
            basis += " with a double contour (subchondral fracture line)"
        if depth.radiograph:
            basis += " (silhouette depth, a lower bound: no trusted 3-D depth at this visit)"
        others = [_finding(s) for s in deciders if s is not depth]
        return stage, basis + ("; also " + "; ".join(others) if others else "")
    return "IIIA", ("subchondral fracture without measurable collapse: " + "; ".join(_finding(s) for s in deciders))


def _stage_iv(radiographs: Sequence[SeriesHip]) -> tuple[str | None, str, list[str], list[str]]:
    """(stage IV or None, basis, deciding series, review reasons) from the joint space on the radiographs.

    Like collapse, a view whose hip needs review decides only when another view shows the narrowing too.
    """
    narrowed = [s for s in radiographs if s.narrowed]
    trusted = [s for s in narrowed if not s.needs_review] or (narrowed if len(narrowed) >= 2 else [])
    if not trusted:
        reasons = ["joint-space narrowing on " + ", ".join(s.label for s in narrowed) + " needs confirmation: "
                   "that series needs review of this hip and no other view shows it"] if narrowed else []
        return None, "", [], reasons
    n = min(trusted, key=lambda s: s.joint_space_mm)
    others = [s for s in narrowed if s is not n]
    basis = (f"joint space narrowed to {n.joint_space_mm:.1f} mm (<= {JOINT_SPACE_NARROWING_MM:g} mm) on {n.label}"
             + "".join(f", {s.joint_space_mm:.1f} mm on {s.label}" for s in others) + ": osteoarthritis")
    return "IV", basis, [n.label] + [s.label for s in others], []


def _missing_modalities(mr: Sequence[SeriesHip], radiographs: Sequence[SeriesHip]) -> list[str]:
    """What the visit cannot tell for want of a modality: stage IV without a radiograph, the lesion
    without MRI."""
    missing = [] if radiographs else [f"IV (joint-space narrowing): {NO_RADIOGRAPH}; MRI does not measure it"]
    return missing + ([] if mr else ["necrotic lesion: no MR series at this visit (ARCO I shows on MRI only)"])


def _osteoarthritis_only(stage: str | None, basis: str, series: Sequence[SeriesHip],
                         collapse_deciders: Sequence[SeriesHip]) -> str | None:
    """The basis of a stage IV the visit does not show on a necrotic head (no lesion on MRI or a radiograph,
    no confirmed collapse), said as osteoarthritis without an ARCO stage; None otherwise. ARCO stage IV is
    the osteoarthritis of a necrotic head; joint-space narrowing alone has other causes."""
    necrotic = bool(collapse_deciders) or any(s.lesion_present is True or s.lesion_finding is True for s in series)
    if stage != "IV" or necrotic:
        return None
    return f"{basis} without osteonecrosis shown at this visit: not an ARCO stage"


def _notes(stage: str | None, depth: SeriesHip | None) -> list[str]:
    """Caveats of the stage itself: a depth within its uncertainty of the IIIA/IIIB limit."""
    if stage not in ("IIIA", "IIIB") or depth is None or not depth.collapsed or \
            abs(depth.depth_mm - IIIB_MIN_COLLAPSE_MM) > depth.detection_mm:
        return []
    return [f"the depth {depth.depth_mm:.1f} mm is within its uncertainty ({depth.detection_mm:.1f} mm) of the "
            f"IIIA/IIIB limit of {IIIB_MIN_COLLAPSE_MM:g} mm"]


def hip_verdict(series: Sequence[SeriesHip], *, side: str, patient_id: str | None = None,
                study_date: str | None = None, study_instance_uids: Sequence[str] = ()) -> HipVerdict:
    """The ARCO 2019 verdict of one hip from what each series of the visit measured.

    Parameters
    ----------
    series : sequence of SeriesHip
        This hip on every measured series of the visit (MR and radiographs).
    side : str
        ``"left"`` or ``"right"``.
    patient_id, study_date : str or None
        The visit's patient and date (DICOM ``YYYYMMDD`` or ISO), carried into the verdict.
    study_instance_uids : sequence of str
        Studies of the visit that saw this hip (duplicates are dropped).

    Returns
    -------
    HipVerdict
        The stage with its basis, depths (mm), disagreements, what was not assessed and review reasons.
    """
    series = sorted(series, key=lambda s: (s.radiograph, s.label))
    mr = [s for s in series if not s.radiograph]
    radiographs = [s for s in series if s.radiograph]
    reasons = [f"{s.label}: {r}" for s in series if s.needs_review for r in (s.reasons or ("needs review",))]
    not_assessed = _missing_modalities(mr, radiographs)
    best = depth = _best_depth(series)
    deciders, collapse_reasons = _collapse_decision(series, best)
    stage, basis, decided, iv_reasons = _stage_iv(radiographs)
    reasons += collapse_reasons + iv_reasons
    osteoarthritis_only = _osteoarthritis_only(stage, basis, series, deciders)
    if osteoarthritis_only is not None:
        stage, basis, decided = None, "", []
    if deciders:
        chosen = depth if depth is not None and depth.collapsed and depth in deciders else None
        if chosen is None and any(s.collapsed for s in deciders):
            chosen = _best_depth([s for s in deciders if s.collapsed])
        stage_iii, basis_iii = _stage_iii(chosen, deciders)
        if stage is None:
            stage, basis = stage_iii, basis_iii
            decided = ([chosen.label] if chosen is not None else []) + [s.label for s in deciders]
        else:
            basis += "; " + basis_iii
        depth = chosen or depth
    if stage is None:
        stage, basis, decided, cannot, finding_disagreements = stage_without_collapse(series)
        not_assessed = cannot + not_assessed
        if osteoarthritis_only is not None:
            basis = f"{basis}; {osteoarthritis_only}"
    else:
        finding_disagreements = []
    disagreements, conflict_reasons = conflicts(series, depth, best, stage)
    disagreements = finding_disagreements + disagreements
    reasons += conflict_reasons
    for s in series:
        if s.stage != stage and s.stage is not None and stage is not None and \
                not any(s.label in d for d in disagreements) and s.label not in decided:
            disagreements.append(f"{s.label} alone suggests {s.stage}")
    others = tuple(_depth_measurement(s) for s in series if s.depth_mm is not None and s is not depth)
    notes = _notes(stage, depth)
    reasons += [f"IIIA or IIIB: {n}" for n in notes]  # the stage's subtype is not resolved by the depth
    return HipVerdict(
        side=side, patient_id=patient_id, study_date=study_date,
        study_instance_uids=tuple(dict.fromkeys(study_instance_uids)), stage=stage, basis=basis,
        decided_by=tuple(dict.fromkeys(decided)),
        depth=None if depth is None or depth.depth_mm is None else _depth_measurement(depth),
        other_depths=others, not_assessed=tuple(not_assessed), disagreements=tuple(dict.fromkeys(disagreements)),
        notes=tuple(notes), needs_review=bool(reasons), reasons=tuple(dict.fromkeys(reasons)),
        steinberg_extent=steinberg_extent(_involvement(mr)), series=tuple(series))


def visit_key(report: Mapping[str, Any]) -> tuple[str, str]:
    """The visit a series belongs to.

    Parameters
    ----------
    report : mapping
        One series' measurement JSON contract.

    Returns
    -------
    tuple of (str, str)
        (patient ID, study date): MR and radiographs of one day are often separate studies; the study
        UID stands for the date when the date is missing.
    """
    inp = report.get("input") or {}
    return (str(inp.get("patient_id")), str(inp.get("study_date") or inp.get("study_instance_uid")))


def visit_verdicts(reports: Iterable[Mapping[str, Any]]) -> list[HipVerdict]:
    """One verdict per hip of one visit, from the measurement JSON of each series of that visit.

    Parameters
    ----------
    reports : iterable of mapping
        The measurement JSON contract of every series of one visit (one patient, one date).

    Returns
    -------
    list of HipVerdict
        Right hip first, then left; only hips some series measured.
    """
    reports = list(reports)
    by_side: dict[str, list[SeriesHip]] = {}
    for report in reports:
        for s in series_hips(report):
            by_side.setdefault(s.side, []).append(s)
    first = (reports[0].get("input") or {}) if reports else {}
    uids = [str((r.get("input") or {}).get("study_instance_uid")) for r in reports]
    return [hip_verdict(by_side[side], side=side, patient_id=first.get("patient_id"),
                        study_date=first.get("study_date"), study_instance_uids=uids)
            for side in ("right", "left") if side in by_side]


def group_by_visit(reports: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Series reports grouped by visit.

    Parameters
    ----------
    reports : iterable of mapping
        Measurement JSON contracts of any number of series.

    Returns
    -------
    list of list of mapping
        One list per visit (:func:`visit_key`), in the order visits first appear.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for report in reports:
        groups.setdefault(visit_key(report), []).append(report)
    return list(groups.values())


def with_verdicts(reports: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The series reports, each with its visit's ``verdicts`` block added.

    Parameters
    ----------
    reports : iterable of mapping
        Measurement JSON contracts of any number of series and visits.

    Returns
    -------
    list of dict
        Shallow copies of the reports, in order, each with ``verdicts``: a list of
        :meth:`HipVerdict.to_dict`, one per hip of its visit; no other field changes. Every series of a
        visit carries the same block, so each JSON object stands alone.
    """
    reports = [dict(r) for r in reports]
    verdicts = {key: [v.to_dict() for v in hips] for key, hips in verdicts_by_visit(reports).items()}
    for report in reports:
        report["verdicts"] = verdicts[visit_key(report)]
    return reports


def verdicts_by_visit(reports: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[HipVerdict]]:
    """Every visit's verdicts.

    Parameters
    ----------
    reports : iterable of mapping
        Measurement JSON contracts of any number of series and visits.

    Returns
    -------
    dict
        :func:`visit_key` to that visit's list of :class:`HipVerdict` (right hip first).
    """
    return {visit_key(group[0]): visit_verdicts(group) for group in group_by_visit(reports)}


__all__ = ["DepthMeasurement", "HipVerdict", "JOINT_SPACE_NARROWING_MM", "STAGE_ORDER", "SeriesHip",
           "VERDICT_SCHEMA", "group_by_visit", "hip_verdict", "is_radiograph", "series_hips", "series_label",
           "verdicts_by_visit", "visit_key", "visit_verdicts", "with_verdicts"]

"""Suggested stages of osteonecrosis of the femoral head from measured quantities.

ARCO 2019 (Yoon BH, Mont MA, Koo KH, et al. The 2019 revised version of Association Research
Circulation Osseous staging system of osteonecrosis of the femoral head. J Arthroplasty.
2020;35(4):933-940):

* I   - MRI positive (necrotic lesion), radiograph normal;
* II  - radiograph abnormal (sclerosis, osteolysis, focal osteoporosis), no subchondral fracture
  or collapse;
* III - subchondral fracture or collapse of the femoral head on radiograph or CT:
  IIIA (early) collapse <= 2 mm, IIIB (late) collapse > 2 mm;
* IV  - osteoarthritis: joint-space narrowing, acetabular changes.

The extent of the lesion follows Steinberg (A < 15 %, B 15-30 %, C > 30 % of the head involved);
the older ARCO 1992 label is the stage number 0-4 followed by that letter (e.g. ``3C``).

MRI alone cannot tell I from II (that needs the radiograph) nor see joint-space narrowing reliably,
so without radiograph findings a lesion without collapse is reported as ``I-II``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from onfh_imaging.measure.deviation import COLLAPSE_DETECTION_MM, collapse_detection_mm
from onfh_imaging.quality import QualityCheck, combine

if TYPE_CHECKING:
    from onfh_imaging.measure.hip import HipMeasures
    from onfh_imaging.measure.radiograph import RadiographHeadMeasures

__all__ = ["COLLAPSE_DETECTION_MM", "IIIB_MIN_COLLAPSE_MM", "JOINT_SPACE_NARROWING_MM", "ONSET_CHECK", "RADIOGRAPH_ABNORMAL_FINDINGS",
           "RADIOGRAPH_COLLAPSE_FINDINGS", "RADIOGRAPH_OA_FINDINGS", "STEINBERG_B_MIN_PCT", "STEINBERG_C_MIN_PCT",
           "SUBTYPE_CHECK", "arco_1992", "arco_2019", "collapse_detection_mm", "onset_check", "stage_hip", "stage_radiograph_head", "steinberg_extent",
           "subtype_check"]

IIIB_MIN_COLLAPSE_MM = 2.0
"""ARCO 2019: collapse of more than 2 mm is stage IIIB (late), up to 2 mm IIIA (early)."""


SUBTYPE_CHECK = "stage_iii_subtype_resolved"
"""Name of the :func:`subtype_check` quality check (the collapse is trusted; only IIIA vs IIIB is open)."""


def subtype_check(stage: str | None, collapse_depth_mm: float, uncertainty_mm: float) -> QualityCheck | None:
    """Whether a stage III's A/B subtype is resolved by the depth measurement.

    A depth within ``uncertainty_mm`` (the measurement's detection limit, which is also the spread of
    its depth errors) of :data:`IIIB_MIN_COLLAPSE_MM` cannot tell IIIA from IIIB: the stage is kept as the
    best estimate and the hip is flagged for review.

    Parameters
    ----------
    stage : str or None
        The suggested ARCO 2019 stage.
    collapse_depth_mm : float
        The measured collapse depth, mm.
    uncertainty_mm : float
        The depth measurement's uncertainty, mm.

    Returns
    -------
    QualityCheck or None
        :data:`SUBTYPE_CHECK`, its value the distance of the depth from 2 mm and its limit the
        uncertainty (mm), support 1; None when ``stage`` is not IIIA or IIIB.
    """
    if stage not in ("IIIA", "IIIB"):
        return None
    margin = abs(float(collapse_depth_mm) - IIIB_MIN_COLLAPSE_MM)
    passed = margin > uncertainty_mm
    reason = (f"collapse of {collapse_depth_mm:.1f} mm is within its uncertainty ({uncertainty_mm:.1f} mm) of "
              f"the {IIIB_MIN_COLLAPSE_MM:g} mm IIIA/IIIB limit: IIIA or IIIB")
    # support 1: the check is about the stage's subtype, not about how well the image supported the surface
    return QualityCheck(SUBTYPE_CHECK, passed, 1.0, reason, value=margin, limit=uncertainty_mm, unit="mm")


ONSET_CHECK = "collapse_onset_resolved"
"""Name of the :func:`onset_check` quality check (a lesion without collapse: is the depth clear of the limit?)."""


def onset_check(stage: str | None, collapse_depth_mm: float, detection_mm: float, uncertainty_mm: float
                ) -> QualityCheck | None:
    """Whether a lesion's stage below III is clear of the collapse detection limit.

    A depth below the detection limit but within its uncertainty of it (the surface's own noise floor, the
    depth its scatter alone would give) cannot tell a lesion without collapse (I or II) from an early
    collapse (IIIA): the stage below III is kept and the hip is flagged for review. A depth beyond the limit
    on a hip staged below III is one whose collapse evidence failed its checks: it is flagged as "or III".

    Parameters
    ----------
    stage : str or None
        The suggested ARCO 2019 stage.
    collapse_depth_mm : float
        The measured collapse depth, mm.
    detection_mm : float
        The smallest depth read as collapse on this image, mm.
    uncertainty_mm : float
        The depth measurement's uncertainty, mm.

    Returns
    -------
    QualityCheck or None
        :data:`ONSET_CHECK`, its value the distance of the depth below the detection limit and its limit the
        uncertainty (mm), support 1; None unless ``stage`` is a lesion without collapse (I, II or I-II).
    """
    if stage not in ("I", "II", "I-II") or not math.isfinite(float(collapse_depth_mm)):
        return None
    margin = float(detection_mm) - float(collapse_depth_mm)
    passed = margin > uncertainty_mm
    if margin <= 0:  # deep enough to read, but its collapse evidence failed a check (see the other reasons)
        reason = (f"a depression of {collapse_depth_mm:.2f} mm, beyond the {detection_mm:.2f} mm collapse "
                  f"detection limit, is not confirmed as collapse: {stage} or III")
    else:
        reason = (f"a depression of {collapse_depth_mm:.2f} mm is within its uncertainty ({uncertainty_mm:.2f} mm) "
                  f"of the {detection_mm:.2f} mm collapse detection limit: {stage} or IIIA")
    return QualityCheck(ONSET_CHECK, passed, 1.0, reason, value=margin, limit=float(uncertainty_mm), unit="mm")


STEINBERG_B_MIN_PCT = 15.0
"""Steinberg: a lesion involving 15 % of the head or more is extent B (below: A)."""
STEINBERG_C_MIN_PCT = 30.0
"""Steinberg: a lesion involving more than 30 % of the head is extent C."""

#: Radiograph findings, in words (lower case), that make ARCO stage II, III and IV respectively.
JOINT_SPACE_NARROWING_MM = 2.0
"""Minimum joint space width (mm) at or below which the hip joint space is read as narrowed, the
radiographic definition of hip osteoarthritis used in epidemiology (Jacobsen S, Sonne-Holm S. Hip
dysplasia: a significant risk factor for the development of hip osteoarthritis. Rheumatology 2005)."""

RADIOGRAPH_ABNORMAL_FINDINGS = frozenset({"sclerosis", "cysts", "osteolysis", "focal osteoporosis"})
RADIOGRAPH_COLLAPSE_FINDINGS = frozenset({"crescent sign", "subchondral fracture", "collapse"})
RADIOGRAPH_OA_FINDINGS = frozenset({"joint space narrowing", "acetabular changes", "osteoarthritis"})


def _findings(radiograph_findings: Iterable[str] | None) -> set[str] | None:
    if radiograph_findings is None:
        return None
    return {str(f).strip().lower() for f in radiograph_findings}


def arco_2019(collapse_depth_mm: float | None, lesion_present: bool | None, *,
              radiograph_findings: Iterable[str] | None = None,
              oa_signs: bool = False,
              collapse_detection_mm: float = COLLAPSE_DETECTION_MM,
              collapse_trusted: bool = True) -> tuple[str | None, str]:
    """Suggested ARCO 2019 stage and the basis for it.

    Parameters
    ----------
    collapse_depth_mm : float or None
        Measured collapse depth of the articular surface (mm); None when not measured.
    lesion_present : bool or None
        Whether a necrotic lesion was found on MRI; None when the lesion was not assessed.
    radiograph_findings : iterable of str, optional
        Findings on the radiograph, e.g. ``{"sclerosis"}``; an empty iterable means a normal
        radiograph; None means no radiograph was read.
    oa_signs : bool
        Osteoarthritis (joint-space narrowing, acetabular changes) seen.
    collapse_detection_mm : float
        Smallest depth read as collapse for this measurement (mm); never below
        :data:`COLLAPSE_DETECTION_MM`. :func:`collapse_detection_mm` derives it from the image's pixel size.
    collapse_trusted : bool
        False when the collapse evidence failed its checks (``quality.collapse_trusted``): a measured
        depth then never suggests stage III; the stage is what the rest of the evidence supports and
        the basis says the collapse was not confirmed.

    Returns
    -------
    stage : str or None
        ``"none"``, ``"I"``, ``"II"``, ``"I-II"``, ``"IIIA"``, ``"IIIB"``, ``"IV"``; None when the
        stage cannot be suggested.
    basis : str
        One sentence saying what the stage rests on.
    """
    findings = _findings(radiograph_findings)
    if oa_signs or (findings is not None and findings & RADIOGRAPH_OA_FINDINGS):
        return "IV", "osteoarthritis (joint-space narrowing or acetabular changes)"
    depth = None if collapse_depth_mm is None or math.isnan(collapse_depth_mm) else float(collapse_depth_mm)
    collapsed = depth is not None and depth >= max(collapse_detection_mm, COLLAPSE_DETECTION_MM)
    if collapsed and not collapse_trusted:
        stage, basis = _stage_without_collapse(lesion_present, findings)
        return stage, (f"a {depth:.1f} mm depression was read but its collapse evidence failed the checks "
                       f"(needs review); {basis}")
    if collapsed:
        if depth > IIIB_MIN_COLLAPSE_MM:
            return "IIIB", f"collapse of {depth:.1f} mm (> {IIIB_MIN_COLLAPSE_MM:g} mm)"
        return "IIIA", f"collapse of {depth:.1f} mm (<= {IIIB_MIN_COLLAPSE_MM:g} mm)"
    return _stage_without_collapse(lesion_present, findings)


def _stage_without_collapse(lesion_present: bool | None, findings: set[str] | None) -> tuple[str | None, str]:
    """The stage when no collapse is measured (osteoarthritis already ruled out): III from a radiograph's
    fracture, else I, II or I-II from the lesion and the radiograph."""
    if findings is not None and findings & RADIOGRAPH_COLLAPSE_FINDINGS:
        return "IIIA", "subchondral fracture on the radiograph without measurable collapse"
    if lesion_present is None:
        return None, ("no collapse, and the lesion not assessed on this series: the visit's verdict reads a "
                      "radiograph's lesion finding")
    if not lesion_present:
        return "none", "no necrotic lesion on MRI"
    if findings is None:
        return "I-II", "MRI alone cannot separate I from II; the radiograph decides"
    if findings & RADIOGRAPH_ABNORMAL_FINDINGS:
        return "II", "necrotic lesion with an abnormal radiograph and no collapse"
    return "I", "necrotic lesion on MRI with a normal radiograph"


def stage_hip(m: HipMeasures, *, radiograph_findings: Iterable[str] | None = None) -> HipMeasures:
    """The MR measures of one hip with their suggested stages.

    ARCO 2019 from the collapse depth (read as collapse only from its detection limit on, and only when
    the collapse evidence passed its checks, ``m.quality.collapse_trusted``) and the lesion; the IIIA/IIIB
    subtype check joins the quality block when the depth is within its uncertainty of the 2 mm boundary, and
    the onset check for a lesion without collapse (:func:`onset_check`);
    the Steinberg extent and the ARCO 1992 label from the share of the head involved.

    Parameters
    ----------
    m : HipMeasures
        From :func:`onfh_imaging.measure.hip.measure_hip`.
    radiograph_findings : iterable of str, optional
        Findings on a radiograph of the same hip (see :func:`arco_2019`).

    Returns
    -------
    HipMeasures
        A copy of ``m`` with ``arco_2019``, ``arco_basis``, ``steinberg_extent``, ``arco_1992`` set and
        the subtype check added to ``quality`` when it applies.
    """
    lesion_present = None if m.lesion_volume_ml is None else m.lesion_volume_ml > 0
    depth = m.collapse.depth_mm
    stage, basis = arco_2019(depth, lesion_present, radiograph_findings=radiograph_findings,
                             collapse_detection_mm=m.collapse_detection_mm,
                             collapse_trusted=m.quality.collapse_trusted)
    quality = m.quality
    added = (subtype_check(stage, depth, m.collapse_detection_mm),
             onset_check(stage, depth, m.collapse_detection_mm, m.collapse.noise_floor_mm))
    if any(c is not None for c in added):
        quality = combine(quality.checks + tuple(c for c in added if c is not None))
    return dataclasses.replace(m, arco_2019=stage, arco_basis=basis,
                               steinberg_extent=steinberg_extent(m.head_involvement_pct),
                               arco_1992=arco_1992(stage, m.head_involvement_pct), quality=quality)


def stage_radiograph_head(m: RadiographHeadMeasures) -> dict[str, Any]:
    """Suggested ARCO 2019 stage of one hip from its radiograph measures.

    The outline's collapse, double contour (read as a subchondral fracture) and joint space (narrowing:
    stage IV) count only when the outline passed its checks (``m.quality.collapse_trusted``). Narrowing
    makes stage IV only on a head this view shows collapsed or fractured: ARCO IV is the osteoarthritis of
    a necrotic head, and narrowing alone has other causes (the visit's verdict reads the MR lesion too).

    Parameters
    ----------
    m : RadiographHeadMeasures
        From :func:`onfh_imaging.measure.radiograph.measure_head_contour`.

    Returns
    -------
    dict
        The contract's ``staging`` block: ``arco_2019``, ``arco_basis`` (in words, with the outline's
        failed checks when they withheld stage III) and ``steinberg_extent`` (None: a radiograph does not
        measure the lesion's extent).
    """
    trusted = m.quality.collapse_trusted
    narrowed = (trusted and m.joint_space_width_mm is not None
                and m.joint_space_width_mm <= JOINT_SPACE_NARROWING_MM)
    findings = {"subchondral fracture"} if m.double_contour and trusted else set()
    stage, basis = arco_2019(m.collapse_depth_mm, None, radiograph_findings=findings, collapse_trusted=trusted)
    if narrowed and stage in ("IIIA", "IIIB"):  # stage IV: the osteoarthritis of a necrotic head
        stage, basis = arco_2019(m.collapse_depth_mm, None, oa_signs=True)
    elif narrowed:
        basis = ("this view shows no collapse or fracture line, so the narrowing is not staged IV (the "
                 "osteoarthritis of a necrotic head): the visit's verdict reads the MR lesion and the lesion "
                 f"finding; {basis}")
    if not trusted:
        basis = f"the head's outline failed its checks ({'; '.join(m.quality.reasons)}): no stage III; {basis}"
    if m.double_contour and stage == "IIIA" and basis.startswith("subchondral fracture"):
        basis = f"double contour over {m.double_contour_arc_deg:.0f} deg read as a subchondral fracture; {basis}"
    if narrowed:
        basis = f"joint space narrowed to {m.joint_space_width_mm:.1f} mm (<= {JOINT_SPACE_NARROWING_MM:g} mm); {basis}"
    return {"arco_2019": stage, "arco_basis": basis, "steinberg_extent": None}


def steinberg_extent(head_involvement_pct: float | None) -> str | None:
    """Steinberg extent letter of a lesion: ``A`` < 15 %, ``B`` 15-30 %, ``C`` > 30 % of the head.

    Parameters
    ----------
    head_involvement_pct : float or None
        Percentage of the femoral head's volume involved by the lesion.

    Returns
    -------
    str or None
        ``"A"``, ``"B"`` or ``"C"``; None when the involvement is unknown or zero (no lesion).
    """
    if head_involvement_pct is None or math.isnan(head_involvement_pct) or head_involvement_pct <= 0:
        return None
    if head_involvement_pct < STEINBERG_B_MIN_PCT:
        return "A"
    if head_involvement_pct <= STEINBERG_C_MIN_PCT:
        return "B"
    return "C"


_ARCO_1992_NUMBER = {"none": "0", "I": "1", "II": "2", "I-II": "1-2", "IIIA": "3", "IIIB": "3", "IV": "4"}


def arco_1992(stage_2019: str | None, head_involvement_pct: float | None) -> str | None:
    """ARCO 1992 label: stage number 0-4 followed by the extent letter, e.g. ``"3C"`` or ``"2A"``.

    Parameters
    ----------
    stage_2019 : str or None
        The ARCO 2019 stage (III A/B map to 3, IV to 4, "I-II" to "1-2").
    head_involvement_pct : float or None
        Percentage of the head involved by the lesion.

    Returns
    -------
    str or None
        ``"0"``, or the number and extent letter (the number alone when the extent is unknown); None
        when the 2019 stage is None or not an ARCO stage.
    """
    if stage_2019 is None or stage_2019 not in _ARCO_1992_NUMBER:
        return None
    number = _ARCO_1992_NUMBER[stage_2019]
    if number == "0":
        return "0"
    return number + (steinberg_extent(head_involvement_pct) or "")

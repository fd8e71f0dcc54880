"""Disagreements between the series of one hip at one visit, and those that ask for review.

Series see one hip differently for known reasons: a radiograph's silhouette moves inward only where the
beam is tangent to a depression, so it is a lower bound of the 3-D depth; two views measure the joint
space at different places. The verdict lists every disagreement with its explanation; it asks for review
only when series conflict beyond their uncertainty (a projection deeper than the surface it projects,
joint-space widths on either side of the narrowing limit by more than a view's uncertainty, collapse on a
head without a necrotic lesion). The functions take the :class:`onfh_imaging.verdict.SeriesHip` records of
one hip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from onfh_imaging.staging import IIIB_MIN_COLLAPSE_MM, JOINT_SPACE_NARROWING_MM

if TYPE_CHECKING:  # the records are defined by the verdict, which calls this module
    from onfh_imaging.verdict import SeriesHip


def conflicts(series: Sequence[SeriesHip], depth: SeriesHip | None, best: SeriesHip | None,
              stage: str | None) -> tuple[list[str], list[str]]:
    """Disagreements between the series of one hip, and those beyond their uncertainty.

    Parameters
    ----------
    series : sequence of SeriesHip
        This hip on every series of the visit.
    depth : SeriesHip or None
        The series whose depth decided the stage.
    best : SeriesHip or None
        The best-resolved depth measurement (a trusted 3-D surface first).
    stage : str or None
        The verdict's stage.

    Returns
    -------
    disagreements : list of str
        Every series whose depth or joint space differs from the verdict's, with what explains it (a
        silhouette is a lower bound of the depth).
    reasons : list of str
        The disagreements that ask for review: a silhouette deeper than the 3-D surface by more than
        both detection limits, joint-space views on either side of the narrowing limit by more than the
        view's uncertainty, stage III on a head whose MR shows no necrotic lesion.
    """
    disagreements, reasons = [], []
    direct = best if best is not None and not best.radiograph else None
    reference = direct or depth
    for s in series:
        if s is reference or s.depth_mm is None or not s.collapse_trusted:
            continue  # a depth whose checks failed is in the review reasons already
        if s.radiograph and direct is not None:
            excess = s.depth_mm - direct.depth_mm
            if excess > s.detection_mm + direct.detection_mm:
                text = (f"{s.label} silhouette depth {s.depth_mm:.1f} mm exceeds the 3-D depth "
                        f"{direct.depth_mm:.1f} mm on {direct.label} by more than both detection limits "
                        "(a projection cannot be deeper than the surface)")
                disagreements.append(text)
                reasons.append(text)
            elif direct.collapsed and not s.collapsed:
                disagreements.append(f"{s.label} silhouette depth {s.depth_text()}, less than {direct.label} "
                                     f"({direct.depth_mm:.1f} mm): the silhouette moves inward only where "
                                     "the beam is tangent to the depression")
            elif direct.collapsed and _a_or_b(s.depth_mm) != _a_or_b(direct.depth_mm):
                disagreements.append(f"{s.label} silhouette depth {s.depth_mm:.1f} mm reads "
                                     f"{_a_or_b(s.depth_mm)}; the 3-D depth on {direct.label} decides")
            elif not direct.collapsed and s.collapsed:
                disagreements.append(f"{s.label} shows collapse {s.depth_text()} that {direct.label} "
                                     f"does not ({direct.depth_mm:.1f} mm), within their uncertainty")
        elif reference is not None and reference.collapsed and not s.collapsed:
            disagreements.append(f"{s.label} shows no collapse (depth {s.depth_text()}); "
                                 f"{reference.label} shows {reference.depth_mm:.1f} mm")
    views = [s for s in series if s.joint_space_mm is not None]
    narrowed = [s for s in views if s.narrowed]
    for n in narrowed:
        for s in views:
            if s.narrowed:
                continue
            gap = s.joint_space_mm - JOINT_SPACE_NARROWING_MM
            text = (f"joint space {n.joint_space_mm:.1f} mm on {n.label} but {s.joint_space_mm:.1f} mm on "
                    f"{s.label} (narrowing: <= {JOINT_SPACE_NARROWING_MM:g} mm)")
            disagreements.append(text)
            if gap > s.detection_mm:
                reasons.append(text)
    lesion_absent = [s for s in series if s.lesion_present is False]
    if lesion_absent and stage in ("IIIA", "IIIB"):
        text = (f"no necrotic lesion on {lesion_absent[0].label} although the head is staged {stage}: "
                "collapse or fracture without osteonecrosis (subchondral insufficiency fracture?) or a missed lesion")
        disagreements.append(text)
        reasons.append(text)
    return disagreements, reasons


def _a_or_b(depth_mm: float) -> str:
    return "IIIB" if depth_mm > IIIB_MIN_COLLAPSE_MM else "IIIA"


__all__ = ["conflicts"]

"""The sphere a radiograph's dome is measured against: the circle of the intact rim, away from the dome.

Collapse is the departure of the weight-bearing dome from the sphere the *intact* part of the head
defines (the head's sphericity; Mose's concentric template laid on the rim). A circle fitted to the whole
outline, dome included, is drawn toward a flattened dome and hides part of its depth: a least-squares
circle takes a shallow flattening spread over the dome to about half of it, and the one-sided trimming of
:func:`onfh_imaging.measure.radiograph_circle.fit_reference_circle` drops only points deeper than
``INWARD_TRIM_SIGMAS`` residual SDs, so a flattening shallower than that still pulls the circle onto itself.

Here the reference circle is fitted to the **intact rim**: the articular outline outside the weight-bearing
dome (beyond ``DOME_HALF_ARC_DEG`` of the patient's superior direction, where no load is carried and the
necrotic segment does not collapse) and away from the neck (the articular arc: medially the head under the
acetabular fossa and inferiorly to the neck, laterally the rim between the sourcil's edge and the head-neck
junction). The dome's departure is then read against it. How well that circle is known over the dome is
its radial SD there (:func:`onfh_imaging.measure.radiograph_circle.radial_sd`): the dome lies across from
most of the rim, so the circle is extrapolated over it. When the rim is traced over too little of its arc,
or the circle is known over the dome no better than ``MAX_DOME_REFERENCE_SD`` of the radius, or it lies
further from the whole outline's circle than ``MAX_ESTIMATE_DISAGREEMENT`` of the radius, the dome's
departure from it is not read.

That departure is reported beside the collapse depth (``rim_collapse_depth_*``) and is not what staging
reads: the rim's arc is one-sided (medial and inferior, with 10-20 deg laterally before the neck), and
extrapolated across the dome it carries the trace's own systematic error there, which its noise-based SD
does not see. On the rendered phantoms it read collapse 0.05-0.2 mm further from the truth than the whole
outline's circle (an intact textured head 0.23 mm instead of 0.07 mm), while on outlines whose dome is
flattened shallower than the whole fit trims it reads the depth the whole outline's circle halves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.measure.deviation import COLLAPSE_DETECTION_MM
from onfh_imaging.measure.radiograph_circle import (
    ReferenceCircle,
    circle_disagreement,
    fit_reference_circle,
    radial_sd,
)
from onfh_imaging.measure.radiograph_outline import (
    DOME_HALF_ARC_DEG,
    MOSE_HALF_ARC_DEG,
    arc_mask,
    outline_wander,
    sustained_departure,
    traced_share,
)
from onfh_imaging.measure.radiograph_quality import (
    MAX_ESTIMATE_DISAGREEMENT,
    MIN_ARTICULAR_TRACED,
    MIN_DOME_TRACED,
)
from onfh_imaging.segment.xray import TYPICAL_HEAD_RADIUS_MM

MIN_RIM_TRACED = MIN_ARTICULAR_TRACED
"""Share (0..1) of the intact rim's arc inside the image that must be traced for its circle to be the dome's
reference: the share the whole articular outline needs, for the same reason (below it the circle rests on a
short arc, and a part of it traced onto another edge is not outvoted)."""
MAX_DOME_REFERENCE_SD = 0.5 * COLLAPSE_DETECTION_MM / TYPICAL_HEAD_RADIUS_MM
"""Largest radial SD of the intact rim's circle over the dome, relative to the radius (1.0 %): half the
collapse detection limit of an adult head (0.5 mm of a 24 mm radius), so that the reference's own noise
reaches that limit on fewer than one head in twenty."""

TRACE_CORRELATION_ARC_DEG = 5.0
"""Arc (deg) over which neighbouring rays of a traced outline are one piece of evidence: the outline is
traced as one smooth path on a 2 deg grid and read through a running median of 5 rays (1 deg apart)."""


@dataclass(frozen=True)
class DomeReference:
    """The intact rim's circle and how well it is known over the dome.

    Attributes
    ----------
    circle : ReferenceCircle or None
        Fitted to the intact rim's points; its ``inliers`` are the whole outline's circle's (which of the traced
        articular points are the head's outline, not an edge beyond it). None when too few rim points were traced.
    rim_traced : float
        Share (0..1) of the intact rim's arc inside the image that is traced.
    dome_sd : float
        Largest radial SD of the circle over the dome (unit of the points; inf without a circle).
    disagreement : float
        Larger of its radius's and centre's differences from the whole outline's circle, relative to the
        radius (inf without a circle).
    readable : bool
        The dome's departure may be read against it (``MIN_RIM_TRACED``, ``MAX_DOME_REFERENCE_SD``,
        ``MAX_ESTIMATE_DISAGREEMENT``).
    """

    circle: ReferenceCircle | None
    rim_traced: float
    dome_sd: float
    disagreement: float
    readable: bool


def intact_rim(angles_deg: np.ndarray, articular: np.ndarray, superior_deg: float) -> np.ndarray:
    """The intact rim: the articular outline's rays outside the weight-bearing dome.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each ray, degrees.
    articular : ndarray of bool, shape (N,)
        Rays on the articular outline (away from the neck).
    superior_deg : float
        Image angle of the patient's superior direction, degrees.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    return np.asarray(articular, dtype=bool) & ~arc_mask(angles_deg, superior_deg, DOME_HALF_ARC_DEG)


def dome_reference(angles_deg: np.ndarray, points: np.ndarray, use: np.ndarray, articular: np.ndarray,
                   superior_deg: float, whole: ReferenceCircle, *, visible: np.ndarray | None = None,
                   floor: float = 0.0) -> DomeReference:
    """The circle of the intact rim, as the reference the dome's departure is read against.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each ray, degrees, evenly spaced around the circle.
    points : ndarray, shape (K, 2)
        The traced articular outline's points (row, col) on the rays ``use`` (mm or pixels).
    use : ndarray of bool, shape (N,)
        Rays whose outline point is in ``points`` (K of them).
    articular : ndarray of bool, shape (N,)
        Rays on the articular outline (away from the neck).
    superior_deg : float
        Image angle of the patient's superior direction, degrees.
    whole : ReferenceCircle
        The circle of the whole articular outline: an independent estimate of the same head. A collapse it
        trims leaves it on the head; a rim circle far from it rests on another edge the rim was traced onto
        (the teardrop, the acetabular fossa's lines), or on too short an arc.
    visible : ndarray of bool, shape (N,), optional
        Rays whose outline lies inside the image (all when None): the rim's traced share is counted over them
        (a rim cut off by the image edge shortens the arc, which the circle's SD over the dome weighs).
    floor : float
        Lower bound of the fit's robust sigma, in the points' unit.

    Returns
    -------
    DomeReference
    """
    angles = np.asarray(angles_deg, dtype=float)
    rim = intact_rim(angles, articular, superior_deg)
    seen = rim if visible is None else rim & visible
    share = float((seen & use).sum() / max(int(seen.sum()), 1))
    on = rim[use]
    if on.sum() < 8:
        return DomeReference(None, share, float("inf"), float("inf"), False)
    pts = np.asarray(points, dtype=float)
    fit = fit_reference_circle(pts[on], floor=floor)
    step = 360.0 / max(len(angles), 1)
    dome = arc_mask(angles, superior_deg, DOME_HALF_ARC_DEG)
    sd = radial_sd(pts[on], fit, angles[dome], correlated_points=TRACE_CORRELATION_ARC_DEG / step)
    dome_sd = float(np.max(sd)) if len(sd) else float("inf")
    # which points are the head's outline (not an edge beyond it) the whole outline's fit decides: the rim's
    # circle is extrapolated over the dome, and an intact dome a little outside it is still the head
    circle = ReferenceCircle(center=fit.center, radius=fit.radius, rms=fit.rms, inliers=whole.inliers)
    apart = circle_disagreement(fit.center, fit.radius, whole.center, whole.radius)
    readable = (share >= MIN_RIM_TRACED and dome_sd <= MAX_DOME_REFERENCE_SD * fit.radius
                and apart <= MAX_ESTIMATE_DISAGREEMENT)
    return DomeReference(circle, share, dome_sd, apart, bool(readable))


def read_departures(angles_deg: np.ndarray, outline: np.ndarray, dome_outline: np.ndarray | None,
                    superior_deg: float) -> dict:
    """Collapse over the weight-bearing dome and the Mose deviation over the articular arc seen in profile.

    Each is the departure held over ``MIN_DEPARTURE_ARC_DEG`` of traced outline
    (:func:`onfh_imaging.measure.radiograph_outline.sustained_departure`) from the circle of the whole articular
    outline: the collapse inward over the dome, the Mose deviation inward or outward over the articular arc seen
    in profile. The dome's departure below the intact rim's circle (:func:`dome_reference`) is read beside them.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each ray, degrees.
    outline : ndarray, shape (N,)
        Deviation of the traced outline from the whole outline's circle (negative inward; NaN where not read).
    dome_outline : ndarray, shape (N,) or None
        Deviation from the intact rim's circle; None when that circle cannot be the dome's reference.
    superior_deg : float
        Image angle of the patient's superior direction, degrees.

    Returns
    -------
    dict
        ``depth`` (None when the dome is traced over less than ``MIN_DOME_TRACED``), ``ray`` (index of its
        deepest ray, or None), ``rim_depth`` (the dome's departure below the intact rim's circle; None without
        that circle or with too little of the dome traced), ``max_dev`` (None when no arc is read),
        ``dome_traced`` (share of the dome's arc traced; 0 when no arc of it can be read) and ``wander`` (the
        outline's robust SD over the articular arc, its uncertainty; None with too few rays), in the unit of the
        deviations.
    """
    dome = arc_mask(angles_deg, superior_deg, DOME_HALF_ARC_DEG)
    seen = arc_mask(angles_deg, superior_deg, MOSE_HALF_ARC_DEG)
    inward, _ = sustained_departure(angles_deg, outline, seen)
    outward, _ = sustained_departure(angles_deg, outline, seen, inward=False)
    depth, ray = sustained_departure(angles_deg, outline, dome)
    dome_traced = traced_share(outline, dome) if np.isfinite(depth) else 0.0
    if dome_traced < MIN_DOME_TRACED:  # a collapse could lie in the gaps
        depth, ray = float("nan"), None
    rim_depth = float("nan")
    if dome_outline is not None and traced_share(dome_outline, dome) >= MIN_DOME_TRACED:
        rim_depth, _ = sustained_departure(angles_deg, dome_outline, dome)
    mose = float(np.nanmax([inward, outward])) if np.isfinite([inward, outward]).any() else None
    wander = outline_wander(outline, seen)
    return {"depth": float(depth) if np.isfinite(depth) else None, "ray": ray, "max_dev": mose,
            "rim_depth": float(rim_depth) if np.isfinite(rim_depth) else None,
            "dome_traced": dome_traced, "wander": float(wander) if np.isfinite(wander) else None}


__all__ = ["MAX_DOME_REFERENCE_SD", "MIN_RIM_TRACED", "TRACE_CORRELATION_ARC_DEG",
           "DomeReference", "dome_reference", "intact_rim", "read_departures"]

"""Anatomical evidence that a traced circle on a radiograph is a femoral head and not another rounded structure.

A circle of outward falls is found on many structures of a hip radiograph: the acetabular roof and
the ilium above the joint, the teardrop, the obturator ring, trabecular texture inside the head. The
femoral head is the one that *articulates*: its weight-bearing dome, the superior part of its
outline, lies under the acetabular roof, separated from it by the joint space (articular cartilage
of head and acetabulum, 2-5 mm together in an adult hip, about 0.1-0.2 head radii). On each ray
through the dome the profile therefore falls at the head's rim (bone to cartilage) and rises again
beyond it (cartilage to the roof's subchondral bone, the sourcil). A circle traced on the roof itself
sees the ilium beyond its rim, a texture circle inside the head sees more head; neither sees a roof.

The evidence is read on the rays already traced (``head_r``, the rim, and ``roof_r``/``roof_strength``,
the strongest dark-to-bright step beyond it), so it costs nothing beyond the trace.
"""

from __future__ import annotations

import numpy as np

from onfh_imaging.geometry import Radiograph

DOME_HALF_ARC_DEG = 60.0
"""Half-width (deg) of the weight-bearing dome about the patient's superior direction: the arc of the head
the acetabular roof covers on an AP or frog-leg view (lateral centre-edge angle 25-40 deg, the roof
extending medially to the acetabular fossa)."""
DOME_MIN_IN_IMAGE = 0.5
"""At least half of the dome's arc lies inside the image: a circle whose dome is cut off is not measurable
(Mose deviation and collapse are read on the dome) and, on an image of the hip joint, is most often the
ilium or the roof above the joint."""
ROOF_MIN_SNR = 4.0
"""A roof step beyond the dome counts when it is at least this many noise SDs of the radial derivative
(the same bar as the head edge measured, ``RIM_MIN_SNR``)."""
JOINT_SPACE_RADII = (0.03, 0.4)
"""The roof's step lies between 3 % and 40 % of the head radius beyond the rim: the joint space with both
cartilages is 2-5 mm on a 24 mm head (0.08-0.2), down to under 1 mm when narrowed and up to about 9 mm
with the sourcil's width when widened by an effusion or a subluxation."""
ROOF_FLOOR = 0.1
"""The share of the dome capped by a roof weighs a candidate as ``ROOF_FLOOR + share``: a head with no roof
found (a dislocated or dysplastic hip, a very narrow or very wide joint, an image without the
acetabulum) can still be chosen when no capped circle competes, but a capped circle is preferred over
one with nothing beyond its dome by up to a factor of 11."""

CONCENTRIC_RADII = 0.25
"""Two circles are concentric arcs of one joint when their centres lie within a quarter of the outer radius
(the roof's arc is short and its circle's centre poorly fixed; a circle on the ilium above the joint lies
a radius or more away)."""
INNER_MIN_SUPPORT = 0.1
"""An inner circle replaces the outer when its support is at least a tenth of the outer's: the head's faint
rim is traced over less of its outline than the sclerotic roof over it, but not ten times less."""
ROOF_EXPLAINS_OVERLAP = 0.1
"""A tenth of the dome capped by a roof across the joint space: the acetabulum lies over the circle (the share
above which a rim traced over less of its outline is still a head's, ``segment.xray``)."""

DOME_INSIDE_MARGIN = 0.03
"""A circle's dome lies inside a larger circle when its apex lies at least 3 % of the larger radius inside it
(the narrowest joint space, ``JOINT_SPACE_RADII``): nearer, the apex may be the larger circle's own rim."""


def superior_angle_deg(rx: Radiograph) -> float:
    """Image angle (deg, from image-up toward increasing column) of the patient's superior direction.

    DICOM PatientOrientation's second element gives the patient direction of increasing row: ``F``
    (feet, the usual display) puts the head's dome toward row 0 (angle 0); ``H`` puts it toward
    increasing row (180). Without it the usual display is assumed.

    Parameters
    ----------
    rx : Radiograph
        Its ``patient_orientation`` is read.

    Returns
    -------
    float
        0.0 (superior toward row 0) or 180.0 (superior toward increasing row), degrees.
    """
    orientation = rx.patient_orientation
    if orientation is not None and len(orientation) > 1:
        col_dir = orientation[1]
        if "H" in col_dir and "F" not in col_dir:
            return 180.0
    return 0.0


def dome_evidence(angles_deg: np.ndarray, head_r: np.ndarray, traced: np.ndarray, in_image: np.ndarray,
                  roof_r: np.ndarray, roof_strength: np.ndarray, radius_px: float, superior_deg: float = 0.0
                  ) -> dict[str, float]:
    """How much of a traced circle's dome is in the image, traced, and capped by an acetabular roof.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each ray.
    head_r : ndarray, shape (N,)
        Traced rim radius per ray, pixels.
    traced : ndarray of bool, shape (N,)
        A head edge was traced on the ray (inside the image).
    in_image : ndarray of bool, shape (N,)
        The circle's point on the ray lies inside the image.
    roof_r, roof_strength : ndarray, shape (N,)
        Radius (pixels) and strength (noise SDs) of the strongest dark-to-bright step beyond the rim.
    radius_px : float
        The circle's radius, pixels.
    superior_deg : float
        Image angle of the patient's superior direction (:func:`superior_angle_deg`).

    Returns
    -------
    dict
        ``dome_in_image`` (fraction of the dome's arc inside the image), ``dome_traced`` (fraction of
        the in-image dome with a traced rim) and ``roof_over_dome`` (fraction of the in-image dome whose
        traced rim has a roof step ``JOINT_SPACE_RADII`` beyond it), each 0..1.
    """
    off = (np.asarray(angles_deg, dtype=float) - superior_deg + 180.0) % 360.0 - 180.0
    dome = np.abs(off) <= DOME_HALF_ARC_DEG
    seen = dome & in_image
    n_seen = max(int(seen.sum()), 1)
    gap = (roof_r - head_r) / max(radius_px, 1e-9)
    capped = (traced & seen & (roof_strength > ROOF_MIN_SNR)
              & (gap >= JOINT_SPACE_RADII[0]) & (gap <= JOINT_SPACE_RADII[1]))
    return {"dome_in_image": float(seen.sum() / max(int(dome.sum()), 1)),
            "dome_traced": float((traced & seen).sum() / n_seen),
            "roof_over_dome": float(capped.sum() / n_seen),
            "roof_radius_px": float(np.median(roof_r[capped])) if capped.any() else float("nan")}


def largest_gap(valid: np.ndarray, angles_deg: np.ndarray) -> tuple[float | None, float]:
    """Middle angle and width (degrees) of the widest circular run of invalid angles.

    On a traced head this is the neck (plus overlap and the image edge).

    Parameters
    ----------
    valid : ndarray of bool, shape (N,)
        Whether each ray is valid (e.g. its rim was traced).
    angles_deg : ndarray, shape (N,)
        Ray angles, degrees, ascending and evenly spaced over the full circle.

    Returns
    -------
    mid_deg : float or None
        Middle angle of the widest invalid run, degrees in [-180, 180); None when every ray is valid
        or none is.
    width_deg : float
        Angular width of that run, degrees: 0.0 when every ray is valid, 360.0 when none is.
    """
    if valid.all():
        return None, 0.0
    if not valid.any():
        return None, 360.0
    step = float(np.median(np.diff(angles_deg)))
    start = int(np.argmax(valid))  # begin at a valid angle so runs do not wrap
    v = np.roll(valid, -start)
    best_len, best_mid, run = 0, 0.0, 0
    for i, ok in enumerate(np.append(v, True)):
        if not ok:
            run += 1
            continue
        if run > best_len:
            best_len, best_mid = run, (i - run + (i - 1)) / 2.0
        run = 0
    mid = angles_deg[0] + ((best_mid + start) % len(valid)) * step
    return float((mid + 180.0) % 360.0 - 180.0), best_len * step


def under_its_roof(best: dict, others: list[dict]) -> dict:
    """The head, of a traced circle and the circles traced inside it: the inner of two concentric arcs.

    The acetabular roof is an arc concentric with the head and larger by the joint space; a circle traced
    on the roof or the sourcil therefore has the head inside it, on about the same centre (within
    ``CONCENTRIC_RADII`` of the outer radius), smaller by ``JOINT_SPACE_RADII``. Such an inner circle
    is the head when it sees at least as much roof over its dome as the outer one (it lies under the
    roof the outer circle was traced on) and the search supports it at least ``INNER_MIN_SUPPORT`` as
    well. The roof step the inner circle sees must lie within the outer circle (``roof_radius_px`` at
    most the outer radius): the outer circle is then the roof's upper edge. Where the inner circle's roof
    step lies beyond the outer circle, the outer circle is the head's rim with the joint space and the
    roof beyond it, and the inner one a circle of texture inside the head (bone beyond its rim up to the
    head's rim, no joint space). Inner circles are tried in decreasing support, each against the current
    choice.

    Parameters
    ----------
    best : dict
        The circle chosen so far: ``centre`` (row, col, pixels), ``radius_px`` (pixels), ``support``
        (search score) and ``dome`` (:func:`dome_evidence`; without ``roof_radius_px`` the roof step is
        not located).
    others : list of dict
        Other traced circles, with the same keys.

    Returns
    -------
    dict
        The chosen circle: ``best`` itself or one of ``others``.
    """
    choice = best
    for f in sorted(others, key=lambda f: -f["support"]):
        if (_concentric(inner=f, outer=choice)
                and f["dome"]["roof_over_dome"] >= choice["dome"]["roof_over_dome"]
                and f["support"] >= INNER_MIN_SUPPORT * choice["support"]
                and not f["dome"].get("roof_radius_px", -np.inf) > choice["radius_px"]):
            choice = f
    return choice


def _concentric(inner: dict, outer: dict) -> bool:
    """Whether ``outer`` lies a joint space beyond ``inner``: larger by ``JOINT_SPACE_RADII`` of ``inner``'s
    radius, centres within ``CONCENTRIC_RADII`` of ``outer``'s."""
    ratio = outer["radius_px"] / inner["radius_px"] - 1.0
    off = float(np.hypot(inner["centre"][0] - outer["centre"][0], inner["centre"][1] - outer["centre"][1]))
    lo, hi = JOINT_SPACE_RADII
    return bool(lo <= ratio <= hi and off <= CONCENTRIC_RADII * outer["radius_px"])


def inside_the_head(best: dict, others: list[dict]) -> dict:
    """The head, of a traced circle and the circles traced around it: the outer of two concentric arcs when the
    inner one is inside the head.

    A circle of texture inside the head sees bone beyond its rim up to the head's own rim, then the joint
    space and the roof: the roof step it finds lies beyond the head's rim. So when the chosen circle's roof
    step (``roof_radius_px``) lies beyond a circle around it, concentric (centres within ``CONCENTRIC_RADII``
    of its radius) and larger by ``JOINT_SPACE_RADII``, and that circle is supported at least
    ``INNER_MIN_SUPPORT`` as well, that circle is the head's rim (the counterpart of
    :func:`under_its_roof`, where the roof step lies within the outer circle, the roof).

    Parameters
    ----------
    best : dict
        The circle chosen so far: ``centre`` (row, col, pixels), ``radius_px`` (pixels), ``support`` and
        ``dome`` (:func:`dome_evidence`, with ``roof_radius_px``).
    others : list of dict
        Other traced circles, with the same keys.

    Returns
    -------
    dict
        The chosen circle: ``best`` itself or one of ``others``.
    """
    choice = best
    for f in sorted(others, key=lambda f: -f["support"]):
        if (_concentric(inner=choice, outer=f)
                and f["support"] >= INNER_MIN_SUPPORT * choice["support"]
                and choice["dome"].get("roof_radius_px", np.nan) > f["radius_px"]):
            choice = f
    return choice


def beneath_the_dome(best: dict, others: list[dict], superior_deg: float = 0.0) -> dict:
    """The head, of a traced circle and larger circles whose interior holds its dome: the larger one when capped
    by the acetabular roof.

    The head's dome is the highest bone of the proximal femur under the acetabulum: the neck, the trochanters
    and the trabecular arcs of the head and neck lie below it or inside it. A circle whose dome's apex lies
    inside another traced circle (by ``DOME_INSIDE_MARGIN`` of its radius) is therefore one of those
    structures when the larger circle articulates: its dome capped by a roof across the joint space over at
    least ``ROOF_EXPLAINS_OVERLAP`` of it and more than the smaller one's, and supported at least
    ``INNER_MIN_SUPPORT`` as well. The concentric case, a texture circle inside the head, is
    :func:`inside_the_head`; this one holds wherever the smaller circle lies within the head.

    Parameters
    ----------
    best : dict
        The circle chosen so far: ``centre`` (row, col, pixels), ``radius_px`` (pixels), ``support`` (search
        score) and ``dome`` (:func:`dome_evidence`).
    others : list of dict
        Other traced circles, with the same keys.
    superior_deg : float
        Image angle of the patient's superior direction (:func:`superior_angle_deg`), degrees.

    Returns
    -------
    dict
        The chosen circle: ``best`` itself or one of ``others``.
    """
    a = np.radians(superior_deg)
    apex = (best["centre"][0] - best["radius_px"] * np.cos(a), best["centre"][1] + best["radius_px"] * np.sin(a))
    floor = max(ROOF_EXPLAINS_OVERLAP, best["dome"]["roof_over_dome"])
    for f in sorted(others, key=lambda f: -f["support"]):
        if (f["radius_px"] > best["radius_px"] and f["dome"]["roof_over_dome"] >= floor
                and f["support"] >= INNER_MIN_SUPPORT * best["support"]
                and float(np.hypot(apex[0] - f["centre"][0], apex[1] - f["centre"][1]))
                < (1.0 - DOME_INSIDE_MARGIN) * f["radius_px"]):
            return f
    return best


def articular_weight(evidence: dict[str, float]) -> float:
    """Factor (0..1.1) by which a candidate's support is weighed for being an articulating head.

    Parameters
    ----------
    evidence : dict
        :func:`dome_evidence` of the candidate (``dome_in_image`` and ``roof_over_dome``, each 0..1).

    Returns
    -------
    float
        0 when less than ``DOME_MIN_IN_IMAGE`` of the dome is in the image, else ``ROOF_FLOOR`` plus
        the share of the dome capped by a roof.
    """
    if evidence["dome_in_image"] < DOME_MIN_IN_IMAGE:
        return 0.0
    return ROOF_FLOOR + evidence["roof_over_dome"]


__all__ = [
    "CONCENTRIC_RADII",
    "DOME_HALF_ARC_DEG",
    "DOME_MIN_IN_IMAGE",
    "INNER_MIN_SUPPORT",
    "JOINT_SPACE_RADII",
    "ROOF_FLOOR",
    "ROOF_MIN_SNR",
    "DOME_INSIDE_MARGIN",
    "ROOF_EXPLAINS_OVERLAP",
    "articular_weight",
    "beneath_the_dome",
    "dome_evidence",
    "inside_the_head",
    "largest_gap",
    "superior_angle_deg",
    "under_its_roof",
]

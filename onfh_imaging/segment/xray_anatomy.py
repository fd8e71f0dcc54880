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

SAME_SIZE_RADII = 0.15
"""Two traced circles whose radii differ by less than 15 % are of one size: the re-fit to the traced rim moves a
radius by up to that much (``RECENTRE_MAX_SHIFT`` of ``segment.xray``), and left and right heads, or a head
and the trabecular arc of its lower half, differ by less."""

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
    capped = np.isfinite(roof_steps(angles_deg, head_r, traced, in_image, roof_r, roof_strength, radius_px,
                                    superior_deg))
    return {"dome_in_image": float(seen.sum() / max(int(dome.sum()), 1)),
            "dome_traced": float((traced & seen).sum() / n_seen),
            "roof_over_dome": float(capped.sum() / n_seen),
            "roof_radius_px": float(np.median(roof_r[capped])) if capped.any() else float("nan")}


def roof_steps(angles_deg: np.ndarray, head_r: np.ndarray, traced: np.ndarray, in_image: np.ndarray,
               roof_r: np.ndarray, roof_strength: np.ndarray, radius_px: float, superior_deg: float = 0.0
               ) -> np.ndarray:
    """The acetabular roof's step over a traced circle's dome, ray by ray: where the roof caps it.

    Parameters
    ----------
    angles_deg, head_r, traced, in_image, roof_r, roof_strength, radius_px, superior_deg
        As for :func:`dome_evidence`.

    Returns
    -------
    ndarray, shape (N,)
        Distance (pixels) from the circle's centre to the roof's dark-to-bright step on each ray of the
        dome whose traced rim has a step of ``ROOF_MIN_SNR`` ``JOINT_SPACE_RADII`` beyond it; NaN on
        every other ray.
    """
    off = (np.asarray(angles_deg, dtype=float) - superior_deg + 180.0) % 360.0 - 180.0
    gap = (roof_r - head_r) / max(radius_px, 1e-9)
    capped = (traced & in_image & (np.abs(off) <= DOME_HALF_ARC_DEG) & (roof_strength > ROOF_MIN_SNR)
              & (gap >= JOINT_SPACE_RADII[0]) & (gap <= JOINT_SPACE_RADII[1]))
    return np.where(capped, roof_r, np.nan)


def roof_beyond(inner: dict, outer: dict) -> bool:
    """Whether the roof over an inner circle's dome lies beyond an outer circle, across a joint space.

    Along each ray from the head's centre the layers come in one order: the head's bright bone, its rim (a
    fall), the dark joint space, the roof's femoral edge (a rise, the step :func:`roof_steps` finds), the
    sclerotic roof (the sourcil, 2-5 mm thick) and its upper edge (a fall). The outer of two concentric
    circles is the head's rim, with a circle of texture inside the head, when the inner circle's roof steps
    lie beyond it by at least the narrowest joint space (``JOINT_SPACE_RADII``, of the outer radius); it is
    the roof's upper edge, with the head's rim the inner circle, when the steps lie inside it (the rise onto
    the roof comes before the outer circle's fall). Each ray is read where the outer circle crosses it (its
    centre is not the inner one's), and the steps beyond it must outnumber those inside it (the two circles
    cross where the roof ends, so some rays see each order).

    Parameters
    ----------
    inner, outer : dict
        Traced circles: ``centre`` (row, col, pixels) and ``radius_px`` (pixels); ``inner`` also
        ``angles_deg`` (its rays' image angles) and ``roof_steps_px`` (:func:`roof_steps` on them).

    Returns
    -------
    bool
        True when more of the inner circle's roof steps lie a joint space beyond the outer circle than
        inside it.
    """
    steps = np.asarray(inner["roof_steps_px"], dtype=float)
    a = np.radians(np.asarray(inner["angles_deg"], dtype=float))
    d = np.subtract(inner["centre"], outer["centre"])
    along = -np.cos(a) * d[0] + np.sin(a) * d[1]
    disc = along**2 - (d @ d - outer["radius_px"] ** 2)
    cross = np.where(disc >= 0.0, -along + np.sqrt(np.maximum(disc, 0.0)), np.nan)  # outer circle on each ray
    seen = np.isfinite(steps) & np.isfinite(cross)
    beyond = int((steps[seen] >= cross[seen] + JOINT_SPACE_RADII[0] * outer["radius_px"]).sum())
    return beyond > int((steps[seen] <= cross[seen]).sum())


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
    space and the roof: the roof steps it finds lie beyond the head's rim. So when the chosen circle's roof
    steps lie beyond a circle around it, ray by ray across a joint space (:func:`roof_beyond`), that circle
    concentric (centres within ``CONCENTRIC_RADII`` of its radius), larger by ``JOINT_SPACE_RADII`` and
    supported at least ``INNER_MIN_SUPPORT`` as well, that circle is the head's rim (the counterpart of
    :func:`under_its_roof`). Where the steps lie inside the circle around it, that circle is the upper edge of
    the roof's sclerotic band, concentric with the head and a joint space and the band's width beyond it,
    and the chosen circle stays.

    Parameters
    ----------
    best : dict
        The circle chosen so far: ``centre`` (row, col, pixels), ``radius_px`` (pixels), ``support``,
        ``angles_deg`` and ``roof_steps_px`` (:func:`roof_steps`).
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
                and roof_beyond(choice, f)):
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
    ``INNER_MIN_SUPPORT`` as well. The other circle may also be of the same size (within ``SAME_SIZE_RADII``)
    when its own apex lies outside the first: its dome is then above the first one's, which is the arc of the
    head's lower half, the physeal scar or the neck's junction, on a centre below the head's. The concentric
    case, a texture circle inside the head, is :func:`inside_the_head`; this one holds wherever the first circle
    lies within the head.

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
    floor = max(ROOF_EXPLAINS_OVERLAP, best["dome"]["roof_over_dome"])
    for f in sorted(others, key=lambda f: -f["support"]):
        higher = (f["radius_px"] > best["radius_px"]
                  or (f["radius_px"] > (1.0 - SAME_SIZE_RADII) * best["radius_px"]
                      and not _apex_inside(f, best, superior_deg)))
        if (higher and f["dome"]["roof_over_dome"] >= floor
                and f["support"] >= INNER_MIN_SUPPORT * best["support"] and _apex_inside(best, f, superior_deg)):
            return f
    return best


def _apex_inside(circle: dict, other: dict, superior_deg: float) -> bool:
    """Whether ``circle``'s dome's apex (its most superior point) lies inside ``other`` by ``DOME_INSIDE_MARGIN``
    of ``other``'s radius."""
    a = np.radians(superior_deg)
    apex = (circle["centre"][0] - circle["radius_px"] * np.cos(a),
            circle["centre"][1] + circle["radius_px"] * np.sin(a))
    off = float(np.hypot(apex[0] - other["centre"][0], apex[1] - other["centre"][1]))
    return off < (1.0 - DOME_INSIDE_MARGIN) * other["radius_px"]


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
    "SAME_SIZE_RADII",
    "DOME_INSIDE_MARGIN",
    "ROOF_EXPLAINS_OVERLAP",
    "articular_weight",
    "beneath_the_dome",
    "dome_evidence",
    "inside_the_head",
    "largest_gap",
    "roof_beyond",
    "roof_steps",
    "superior_angle_deg",
    "under_its_roof",
]

"""Where on a radiograph's head outline collapse and the Mose deviation are read, and how far it departs.

The outline's radial deviation from the reference circle is read per image angle (negative inward).
Two arcs of it are measured, both about the patient's superior direction:

* the **weight-bearing dome**, within ``DOME_HALF_ARC_DEG`` of superior, where collapse is read: the
  necrotic segment fails under load, under the acetabular roof;
* the **articular arc seen in profile**, within ``MOSE_HALF_ARC_DEG`` of superior, where the Mose
  deviation is read: the fovea capitis (a normal, non-articular pit) lies below the medial pole and the
  head-neck junction below the lateral one, so neither counts.

Both are read only where the outline was traced (never across a gap), as a **sustained** departure: the
depth the outline holds over every traced ray of an arc of at least ``MIN_DEPARTURE_ARC_DEG``. A
collapsed segment sinks as a whole, so its floor spans several millimetres; a departure over a ray or
two (a trabecular line or a vessel canal the trace stepped onto, a step where the trace changes edge)
does not hold over the arc and is not read.

A departure is read only where it is the head's own outline (:func:`detached_excursions`): a depression
of the articular surface is continuous with the intact rim on both sides, its floor and walls traced, the
outline sinking below the circle and rising back onto it with no step steeper than a collapsed segment's
wall. An excursion of the trace that leaves the circle and does not come back onto it through traced
outline (it runs into a gap or off the measured arc), or that steps between neighbouring rays more than a
wall can, is the trace following another edge (the acetabular fossa's edge under the teardrop, a line of
the pelvis crossing the head, the roof's shadow): its rays are not the head's outline and are not read,
like rays left untraced. An excursion over the dome whose return falls in a gap is kept: the gap hides the
return without showing another edge.
"""

from __future__ import annotations

import warnings

import numpy as np

from onfh_imaging.fitting import robust_scale
from onfh_imaging.measure.deviation import COLLAPSE_DETECTION_MM, WEIGHT_BEARING_HALF_ANGLE_DEG
from onfh_imaging.segment.anatomy import FOVEA_HALF_ANGLE_DEG, FOVEA_TILT_DEG
from onfh_imaging.segment.xray import TYPICAL_HEAD_RADIUS_MM
from onfh_imaging.segment.xray_outline import MAX_SLOPE

DOME_HALF_ARC_DEG = WEIGHT_BEARING_HALF_ANGLE_DEG
"""Half-width (deg) of the weight-bearing dome about the superior direction, the MRI's dome too (45 deg):
the sourcil, the roof's weight-bearing zone, ends laterally at the lateral centre-edge angle (25-40 deg
from the vertical in an adult hip) and medially where the acetabular fossa begins, about as far; beyond
it the head is uncovered laterally or faces the fossa medially, and carries no load to collapse under."""
MOSE_HALF_ARC_DEG = 90.0 + FOVEA_TILT_DEG[0] - FOVEA_HALF_ANGLE_DEG
"""Half-width (deg) of the articular arc the Mose deviation is read on, about the superior direction:
the fovea capitis lies ``FOVEA_TILT_DEG`` below the medial pole and reaches ``FOVEA_HALF_ANGLE_DEG``
either side of it, so the non-articular zone begins at the medial pole (90 deg); laterally the outline
below the equator runs into the head-neck junction."""
MIN_DEPARTURE_ARC_DEG = 12.0
"""Shortest arc (deg) a departure must hold over to be read: 5 mm of a 24 mm head, the diameter of the
surface patch the MRI's collapse is averaged over. It is over three times the outline's own smoothing
(1.5 mm of rim) and several trabecular spacings, and far below the collapsed segment of ONFH (the
necrotic segment under the dome subtends 30 deg or more of the head in a plane)."""
HOLD_SHARE = 1.0
"""Share of an arc's traced rays that reach the depth read: all of them."""
MIN_WINDOW_TRACED = 0.75
"""Share of an arc's rays that must be traced for the arc to be read: the floor is then seen over most
of it, not guessed across a gap."""


WALL_SLOPE = MAX_SLOPE
"""Steepest radial slope (radius change per length of arc) of the head's own outline: the wall of a collapsed
segment, about 56 deg to the circle (the slope the outline's tracer is built to follow,
:data:`onfh_imaging.segment.xray_outline.MAX_SLOPE`). A steeper step between neighbouring traced rays is a
change of edge, not the head's surface."""
STEP_NOISE_SDS = 4.0
"""Allowance added to the wall's rise between two neighbouring traced rays, in robust SDs of the outline's own
steps between neighbouring rays (the edge's placement scatter from ray to ray, :func:`ray_jitter`): a one-sided
rate of 3e-5 per step, about one false step in a hundred outlines of 300 rays."""
EXCURSION_MIN_DEPTH = COLLAPSE_DETECTION_MM / TYPICAL_HEAD_RADIUS_MM
"""Departure from the circle, relative to the radius (2.1 %), beyond which an excursion of the trace is tested for
continuity with the rim: the collapse detection limit of an adult head (0.5 mm of a 24 mm radius), the depth from
which a departure would be reported as collapse. It does not depend on how well the circle fits, so a trace that
wanders far from its circle is tested too."""
RETURN_SDS = 1.0
"""An excursion has returned onto the circle at a traced ray within this many of the outline's robust SDs of it
(:func:`outline_wander`): about two thirds of an intact outline's rays lie there, so an intact rim beside a
departure shows its return within a ray or two."""
WALL_GAP_DEG = 4.0
"""Longest gap (deg) of untraced rays an excursion's wall or floor may be bridged across: 1.7 mm of a 24 mm
head, under a third of the shortest departure read (``MIN_DEPARTURE_ARC_DEG``), where the edge of a steep wall,
oblique to the rays, can be missed. A longer gap leaves the excursion's return onto the rim unseen."""


def arc_mask(angles_deg: np.ndarray, centre_deg: float, half_arc_deg: float) -> np.ndarray:
    """Which image angles lie within ``half_arc_deg`` of ``centre_deg``.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angles, degrees.
    centre_deg : float
        The arc's centre (e.g. the superior direction), degrees.
    half_arc_deg : float
        Half-width of the arc, degrees.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    return np.abs((np.asarray(angles_deg, dtype=float) - centre_deg + 180.0) % 360.0 - 180.0) <= half_arc_deg


def _windows(n: int, width: int) -> np.ndarray:
    """Indices (n, width) of the circular windows of ``width`` rays centred on each ray."""
    return (np.arange(n)[:, None] + np.arange(width)[None, :] - width // 2) % n


def _held(win: np.ndarray, share: float) -> np.ndarray:
    """Per window (row), the depth at least ``share`` of its traced rays reach (NaN rays ignored)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows without a traced ray: NaN, not read
        return np.nanquantile(win, 1.0 - share, axis=1, method="lower")


def sustained_departure(angles_deg: np.ndarray, deviation: np.ndarray, region: np.ndarray, *,
                        inward: bool = True, min_arc_deg: float = MIN_DEPARTURE_ARC_DEG
                        ) -> tuple[float, int | None]:
    """Largest departure of the outline from its circle held over an arc of at least ``min_arc_deg``.

    Every window of ``min_arc_deg`` centred in ``region`` whose rays are traced (finite deviation) on at
    least ``MIN_WINDOW_TRACED`` of them is read as the smallest departure among its traced rays (the
    depth the outline holds all along it); the largest of these is the sustained departure.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each ray, evenly spaced around the circle.
    deviation : ndarray, shape (N,)
        Radial deviation of the outline from the reference circle (negative inward); NaN where the
        outline is not traced or not measured.
    region : ndarray of bool, shape (N,)
        Rays a window may be centred on.
    inward : bool
        Read inward departures (a depression); False reads outward ones (a bulge).
    min_arc_deg : float
        Width of the windows, degrees.

    Returns
    -------
    depth : float
        The sustained departure (>= 0, in the unit of ``deviation``); 0 when nothing departs, NaN when no
        window is traced enough to be read.
    ray : int or None
        Index of the deepest traced ray of the window read (within ``region`` when one is); None when no
        window is read or nothing departs.
    """
    n = len(angles_deg)
    step = 360.0 / max(n, 1)
    width = max(1, int(round(min_arc_deg / step)) | 1)  # odd: centred on its ray
    depth = -np.asarray(deviation, dtype=float) if inward else np.asarray(deviation, dtype=float)
    idx = _windows(n, width)
    win = depth[idx]
    traced = np.isfinite(win)
    readable = region & (traced.sum(axis=1) >= MIN_WINDOW_TRACED * width)
    if not readable.any():
        return float("nan"), None
    held = _held(np.where(traced, win, np.nan), HOLD_SHARE)
    held[~readable] = -np.inf
    best = int(np.argmax(held))
    if held[best] <= 0.0:
        return 0.0, None
    inside = traced[best] & region[idx[best]]  # the deepest ray of the window within the region read
    ray = int(idx[best][np.argmax(np.where(inside if inside.any() else traced[best], win[best], -np.inf))])
    return float(held[best]), ray


def _links(side: np.ndarray, gap_rays: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The traced rays (``side`` not NaN) in circular order, the traced ray after each, whether the gap between
    them is bridged, and whether both lie off the circle on the same side (one stretch)."""
    n = len(side)
    rays = np.flatnonzero(np.isfinite(side))
    after = np.roll(rays, -1)
    bridged = ((after - rays - 1) % n <= gap_rays) & (len(rays) > 1)
    same = bridged & (side[after] == side[rays]) & (side[rays] != 0)
    return rays, after, bridged, same


def ray_jitter(deviation: np.ndarray) -> float:
    """Robust SD of the outline's radial step between neighbouring traced rays: the edge's placement scatter.

    Parameters
    ----------
    deviation : ndarray, shape (N,)
        Radial deviation of the outline from its circle around the circle of rays (NaN where not traced).

    Returns
    -------
    float
        MAD-based SD of the steps between neighbouring traced rays, in the unit of ``deviation``; 0 with fewer
        than 5 such pairs.
    """
    d = np.asarray(deviation, dtype=float)
    steps = (np.roll(d, -1) - d)[np.isfinite(d) & np.isfinite(np.roll(d, -1))]
    return robust_scale(steps) if len(steps) >= 5 else 0.0


def detached_excursions(angles_deg: np.ndarray, deviation: np.ndarray, radius: float, *, wander: float = 0.0,
                        min_depth: float = EXCURSION_MIN_DEPTH, gap_deg: float = WALL_GAP_DEG,
                        open_within: np.ndarray | None = None) -> np.ndarray:
    """Rays of the excursions of the traced outline that are not the head's own outline.

    An excursion is a stretch of traced rays off the circle on one side (beyond ``RETURN_SDS`` of the outline's
    wander; gaps up to ``gap_deg`` bridged) that departs from it by more than ``min_depth`` of the radius
    somewhere. It is the
    head's outline when it returns onto the circle at both ends through traced rays (the traced ray beyond each
    end, across at most ``gap_deg``, lies on the circle or beyond it on the other side) and no two neighbouring
    traced rays of it, or of its two returns, differ in radius by more than a collapsed segment's wall rises
    over the arc between them (``WALL_SLOPE``) plus the edge's placement scatter from ray to ray
    (``STEP_NOISE_SDS`` of :func:`ray_jitter`).
    Otherwise the trace left the head for another edge there. An excursion whose return lies in a gap is kept when
    that end lies within ``open_within`` (the weight-bearing dome, where a collapsed segment's floor or wall may be
    traced only in part): the gap hides its return without showing another edge; one that runs on beyond it into
    a gap is not a depression of the dome.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each ray, evenly spaced around the circle.
    deviation : ndarray, shape (N,)
        Radial deviation of the outline from the reference circle (negative inward); NaN where not traced.
    radius : float
        Radius of the reference circle, in the unit of ``deviation``.
    wander : float
        The outline's robust SD about the circle (:func:`outline_wander`), same unit: the excursion's return
        level (``RETURN_SDS``).
    min_depth : float
        Departure, relative to ``radius``, from which an excursion is tested.
    gap_deg : float
        Longest run of untraced rays bridged, degrees.
    open_within : ndarray of bool, shape (N,), optional
        Rays at which an excursion may end in a gap (None: nowhere).

    Returns
    -------
    ndarray of bool, shape (N,)
        True on the rays of excursions not continuous with the rim.
    """
    dev = np.asarray(deviation, dtype=float)
    n = len(dev)
    out = np.zeros(n, dtype=bool)
    step_rad = np.radians(360.0 / max(n, 1))
    side = np.where(np.isfinite(dev), np.sign(dev) * (np.abs(dev) > RETURN_SDS * wander), np.nan)
    rays, after, bridged, same = _links(side, int(gap_deg / np.degrees(step_rad)))
    if len(rays) < 2 or same.all():
        return out
    jump = np.abs(dev[after] - dev[rays])
    allowed = WALL_SLOPE * radius * step_rad * ((after - rays) % n) + STEP_NOISE_SDS * ray_jitter(dev)
    piece: list[int] = []
    for k in np.roll(np.arange(len(rays)), -int(np.argmin(same)) - 1):  # from a stretch's start: none wraps
        piece.append(k)
        if same[k]:
            continue
        before = (piece[0] - 1) % len(rays)  # the link entering the stretch
        links = [before, *piece]
        off = side[rays[piece[0]]] != 0 and np.any(np.abs(dev[rays[piece]]) > min_depth * radius)
        ends = [rays[piece[0]]] * (not bridged[before]) + [rays[piece[-1]]] * (not bridged[k])  # ends at a gap
        unseen = any(open_within is None or not open_within[e] for e in ends)
        if off and ((jump[links] > allowed[links]).any() or unseen):
            out[rays[piece]] = True
        piece = []
    return out


def traced_share(deviation: np.ndarray, region: np.ndarray) -> float:
    """Share (0..1) of the rays of ``region`` where the outline is traced and measured (finite deviation).

    Parameters
    ----------
    deviation : ndarray, shape (N,)
        Radial deviation of the outline (NaN where not traced or not measured).
    region : ndarray of bool, shape (N,)
        The arc (e.g. the dome), in the image or not: an arc cut off by the image edge is not traced.

    Returns
    -------
    float
    """
    return float((np.isfinite(deviation) & region).sum() / max(int(region.sum()), 1))


def outline_wander(deviation: np.ndarray, region: np.ndarray) -> float:
    """Robust standard deviation of the traced outline about the reference circle over ``region``.

    The outline's own scatter and wander about the circle (edge noise, trabecular texture, the trace's
    steps between edges): a departure within a couple of it is not told from an intact outline by the
    outline alone. It is the uncertainty reported with the collapse depth and the Mose deviation. A
    collapse over less than half of the region moves the median absolute deviation little.

    Parameters
    ----------
    deviation : ndarray, shape (N,)
        Radial deviation of the outline (NaN where not traced or not measured).
    region : ndarray of bool, shape (N,)
        The arc it is measured over.

    Returns
    -------
    float
        MAD-based SD in the unit of ``deviation``; NaN with fewer than 5 traced rays.
    """
    d = np.asarray(deviation, dtype=float)[region]
    d = d[np.isfinite(d)]
    if len(d) < 5:
        return float("nan")
    return robust_scale(d)


__all__ = ["DOME_HALF_ARC_DEG", "EXCURSION_MIN_DEPTH", "MIN_DEPARTURE_ARC_DEG", "MIN_WINDOW_TRACED", "MOSE_HALF_ARC_DEG", "RETURN_SDS", "STEP_NOISE_SDS",
           "WALL_GAP_DEG", "WALL_SLOPE", "arc_mask", "detached_excursions", "outline_wander", "ray_jitter", "sustained_departure",
           "traced_share"]

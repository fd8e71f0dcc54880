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
"""

from __future__ import annotations

import warnings

import numpy as np

from onfh_imaging.fitting import robust_scale
from onfh_imaging.measure.deviation import WEIGHT_BEARING_HALF_ANGLE_DEG
from onfh_imaging.segment.anatomy import FOVEA_HALF_ANGLE_DEG, FOVEA_TILT_DEG

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


__all__ = ["DOME_HALF_ARC_DEG", "MIN_DEPARTURE_ARC_DEG", "MIN_WINDOW_TRACED", "MOSE_HALF_ARC_DEG", "arc_mask",
           "outline_wander", "sustained_departure", "traced_share"]

"""The femoral head's outline as one continuous path around its centre.

On a real radiograph each radial profile through the head's rim crosses several edges: trabecular
lines, the acetabular roof and its sourcil beyond the joint space, the teardrop and the ilioischial
line where the head overlaps the pelvis. Picking the strongest fall on each profile on its own jumps
between them. The head's outline is instead taken as the closed path, one radius per angle, that
collects the most edge evidence while its radius changes by at most ``MAX_SLOPE`` (radius change per
length of arc) between neighbouring angles and pays ``SLOPE_COST`` per unit of slope: a smooth outline
that follows the cortex through texture, and can still step into a depressed segment.

The evidence at each (angle, radius) is the outward fall in multiples of the profile noise, clipped
to ``EVIDENCE_CLIP`` so that one strong line crossing the path cannot pull it away from the rim
elsewhere, and a rise (bone outside) costs at most the lower clip.
"""

from __future__ import annotations

import numpy as np

EVIDENCE_CLIP = (-2.0, 6.0)
"""Outward fall, noise SDs, credited to the path at a point: from a mild rise to a clear edge."""
MAX_SLOPE = 1.5
"""Largest radius change per length of arc between neighbouring angles: the wall of a collapsed
segment is steep (about 56 deg) on the outline, a circle's is 0."""
PATH_ANGLES = 180
PATH_RADII = 96
"""The path is found on at most this many angles (2 deg apart) and radius samples, then refined."""
SLOPE_COST = 0.3
"""Cost per unit of slope (radius change over arc length), noise SDs: a step is taken only for evidence."""


def closed_path(evidence: np.ndarray, arc_per_angle: float, step: float) -> np.ndarray:
    """Index of the radius chosen at each angle: the best closed path through ``evidence``.

    Parameters
    ----------
    evidence : ndarray, shape (n_angles, n_radii)
        Evidence for the outline at each angle (evenly spaced around the circle) and radius sample;
        -inf where the outline may not pass.
    arc_per_angle : float
        Length of arc between neighbouring angles at the rim, pixels.
    step : float
        Radius sample spacing, pixels.

    Returns
    -------
    ndarray of int, shape (n_angles,)

    Notes
    -----
    Dynamic programming over three turns of the circle; the middle turn is returned, so the path
    closes on itself without a fixed starting radius.
    """
    n_full, m_full = evidence.shape
    # traced on a coarser grid (at most PATH_ANGLES angles, PATH_RADII radii): the outline is smooth at
    # that scale, and the path is refined on the full profiles afterwards
    a_bin = max(1, n_full // PATH_ANGLES)
    r_bin = max(1, int(np.ceil(m_full / PATH_RADII)))
    n, m = n_full // a_bin, m_full // r_bin
    blocked = np.isneginf(evidence)
    clipped = np.clip(np.where(blocked, 0.0, np.nan_to_num(evidence, nan=EVIDENCE_CLIP[0])), *EVIDENCE_CLIP)
    coarse = clipped[:n * a_bin, :m * r_bin].reshape(n, a_bin, m, r_bin).mean(axis=(1, 3))
    coarse_blocked = blocked[:n * a_bin, :m * r_bin].reshape(n, a_bin, m, r_bin).all(axis=(1, 3))
    path = _closed_path(np.where(coarse_blocked, -np.inf, coarse), arc_per_angle * a_bin, step * r_bin)
    # back to every angle and radius sample: the middle of each coarse cell, interpolated around the circle
    centres = path * r_bin + (r_bin - 1) / 2.0
    angle_at = np.arange(n) * a_bin + (a_bin - 1) / 2.0
    full = np.interp(np.arange(n_full), angle_at, centres, period=n_full)
    return np.clip(np.round(full).astype(int), 0, m_full - 1)


def _closed_path(ev: np.ndarray, arc_per_angle: float, step: float) -> np.ndarray:
    """:func:`closed_path` on evidence already clipped and binned (-inf where blocked)."""
    n, m = ev.shape
    reach = max(1, int(np.ceil(MAX_SLOPE * arc_per_angle / step)))
    turns = np.concatenate([ev, ev, ev])
    score = turns[0].copy()
    back = np.zeros((3 * n, m), dtype=np.int32)
    # window k of the padded scores holds the predecessors of radius k at offsets -reach..reach
    sources = np.clip(np.arange(m)[:, None] + np.arange(-reach, reach + 1)[None, :], 0, m - 1)
    cost = SLOPE_COST * np.abs(np.arange(-reach, reach + 1)) * step / max(arc_per_angle, 1e-9)
    for i in range(1, 3 * n):
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(score, reach, constant_values=-np.inf),
                                                           2 * reach + 1) - cost[None, :]
        j = np.argmax(windows, axis=1)
        score = windows[np.arange(m), j] + turns[i]
        back[i] = sources[np.arange(m), j]
    path = np.zeros(3 * n, dtype=np.int32)
    path[-1] = int(np.argmax(score))
    for i in range(3 * n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path[n:2 * n]


__all__ = ["EVIDENCE_CLIP", "MAX_SLOPE", "SLOPE_COST", "closed_path"]

"""The head-neck junction of a femoral head, measured on its own image.

The articular surface of the femoral head ends at the head-neck junction: there the bone surface
leaves the head's sphere, inward where the neck is narrower than the head (a head-neck offset) or
outward where a fillet or a cam-like bump blends the neck into the head, and the cartilage ends.
Heads differ: the junction lies 40-75 deg from the neck axis (:data:`JUNCTION_RANGE_DEG`) and varies
around the neck (an elliptic neck, a bump on one side), and the neck axis the segmentation estimates
may be some degrees off, so no fixed angle serves every head.

Along each ray from the head centre the segmentation's own outer bone edge (the rise from the dark
plate into the cartilage, :func:`onfh_imaging.segment.bone_surface._outer_edges`) is sought near the
reference sphere. On the articular surface it lies on the sphere; past the junction it lies off it
(the neck's surface inside the sphere) or is not found (no cartilage: the neck's cortex rises into
capsule, fluid or fat). Per azimuth about the neck axis the junction is where, coming from the
articular side, the edge leaves the sphere and stays off it; rays the slices blur are not read. The
angle is kept per azimuth (:meth:`HeadNeckJunction.angle_at`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.geometry import Volume
from onfh_imaging.segment.anatomy import (
    LESION_JUNCTION_REACH_DEG,
    LESION_MIN_NECK_ANGLE_DEG,
    NECK_CONE_DEG,
    RAY_STEP_MM,
)
from onfh_imaging.segment.bone_surface import BoneSurface, _outer_edges
from onfh_imaging.segment.rays import radial_profiles

__all__ = ["JUNCTION_NOT_MEASURED", "HeadNeckJunction", "lesion_search_min_angle_deg", "measure_junction"]

JUNCTION_RANGE_DEG = (40.0, 75.0)
"""Floor and ceiling (deg from the neck axis) of a head-neck junction. Floor: where the anterior
head-neck contour leaves the head's circle on normal hips, the alpha angle, 42 +- 2.2 deg (Noetzli HP et
al., J Bone Joint Surg Br 2002;84:556-560). Ceiling: the head forms about two-thirds of a sphere (Gray's
Anatomy), a cap ending 70.5 deg from the neck axis, and a cam-type junction reaches 74 +- 4 deg (same
study). A reading beyond either is clipped to it."""

SPHERE_TOLERANCE_MM = 0.5
"""The outer bone edge counts as on the head's sphere within this (mm): the plate's outer edge on sharp
rays scatters by 0.1-0.3 mm and the head's surface lies within some 0.5 mm of its fitted sphere; past
the junction the neck's surface leaves the sphere by millimetres within a few degrees."""

SUSTAINED_OFF_DEG = 6.0
"""Polar extent (deg) over which the edge must stay off the sphere for the junction to lie there: the
neck's surface runs off the sphere for 15 deg or more (from the junction to where the ray runs inside
the neck), noise or a vessel's pit on the articular surface for a few degrees at most."""

ARTICULAR_ON_SHARE = 0.6
"""Least share of the rays over :data:`ARTICULAR_SPAN_DEG` on the articular side of a junction whose
edge lies on the sphere: the articular surface is there."""

ARTICULAR_SPAN_DEG = 12.0
"""Polar extent (deg) on the articular side of a junction checked for the head's sphere."""

MIN_MEASURED_AZIMUTH_DEG = 30.0
"""Least azimuth (deg about the neck axis, summed) over which the junction must be read for the head's
junction to count as measured: slices of 3-5 mm leave sharp only the rays within some 20-25 deg of the
slice plane, so on coronal slices the junction is read on the superior and inferior sides of the neck
(where the coronal arc ends), some 40-50 deg of azimuth each, and elsewhere carried over from them."""

AZIMUTH_SMOOTHING_DEG = 15.0
"""Half-width (deg of azimuth) of the running median over the azimuths where the junction is read: a
junction's angle changes smoothly around the neck (its elliptic section, a bump some 20-30 deg wide)."""

POLAR_STEP_DEG = 1.0
"""Polar sampling (deg) of the rays: a third of a 3 mm junction fillet on a 24 mm head."""

FALLBACK_JUNCTION_DEG = NECK_CONE_DEG
"""Junction angle (deg from the neck axis) taken where the image does not give it: the fixed articular
limit, within the 55-70 deg of a normal head."""

JUNCTION_NOT_MEASURED = (f"the head-neck junction could not be read from the image; the lesion search and the "
                         f"Kerboul arcs stop at the fixed {FALLBACK_JUNCTION_DEG:.0f} deg from the neck axis")
"""The hip's warning when the junction was not measured."""

_POLAR_SCAN_DEG = (JUNCTION_RANGE_DEG[0] - SUSTAINED_OFF_DEG, 95.0)
_AZIMUTH_STEP_DEG = 3.0
_PROFILE_REACH_MM = (6.0, 3.0)  # inside and outside the sphere


@dataclass(frozen=True)
class HeadNeckJunction:
    """Angle (deg) from the neck axis at which the articular surface ends, per azimuth about the axis.

    Attributes
    ----------
    frame : ndarray, shape (3, 3)
        Rotation whose third column is the neck axis (LPS); azimuth 0 is its first column.
    azimuth_deg : ndarray, shape (n,)
        Azimuths (deg, 0..360 exclusive, evenly spaced).
    angle_deg : ndarray, shape (n,)
        Junction angle (deg from the neck axis) at each azimuth; the fallback everywhere when not measured.
    measured : bool
        Whether the image gave the junction (else ``angle_deg`` is the fallback).
    measured_share : float
        Share (0..1) of azimuths on which the junction was read from the image.
    """

    frame: np.ndarray
    azimuth_deg: np.ndarray
    angle_deg: np.ndarray
    measured: bool
    measured_share: float

    @property
    def median_deg(self) -> float:
        """Median junction angle over the azimuths (deg)."""
        return float(np.median(self.angle_deg))

    def angle_at(self, directions_lps: np.ndarray) -> np.ndarray:
        """Junction angle (deg from the neck axis) at the azimuth of each direction.

        Parameters
        ----------
        directions_lps : ndarray, shape (..., 3)
            Unit vectors from the head centre, LPS.

        Returns
        -------
        ndarray, shape (...)
            Angle, deg, interpolated linearly in azimuth (wrapping).
        """
        local = np.asarray(directions_lps, float) @ self.frame
        phi = np.degrees(np.arctan2(local[..., 1], local[..., 0])) % 360.0
        return np.interp(phi, np.r_[self.azimuth_deg, 360.0], np.r_[self.angle_deg, self.angle_deg[0]])


def _on_sphere(volume: Volume, array: np.ndarray, surface: BoneSurface, vectors: np.ndarray) -> np.ndarray:
    """Per ray: +1 its outer bone edge lies on the sphere, -1 off it or not found, 0 the slices blur it."""
    r = surface.radius
    radii = np.arange(r - _PROFILE_REACH_MM[0], r + _PROFILE_REACH_MM[1], RAY_STEP_MM)
    prof = ndimage.gaussian_filter1d(radial_profiles(volume, array, surface.center, vectors, radii), 3.0,
                                     axis=-1)
    lv = surface.levels
    edge = _outer_edges(prof, radii, 0.5 * (lv.cortex + lv.cartilage), r, 0.5 * (lv.marrow + lv.cartilage))
    state = np.where(np.abs(edge - r) <= SPHERE_TOLERANCE_MM, 1, -1)
    # the ray's point-spread function: a voxel's extent along it, largest over the image axes
    blur = (np.abs(vectors @ volume.direction) * np.asarray(volume.spacing)).max(axis=-1)
    sharp = blur < 1.5 * float(min(volume.spacing[:2])) + 0.5
    return np.where(sharp, state, 0)


def _junction_per_azimuth(state: np.ndarray, polar_deg: np.ndarray) -> np.ndarray:
    """Junction angle (deg) per azimuth (column of ``state``, rows ``polar_deg`` ascending), NaN where
    not read: the highest polar angle below which the edge stays off the sphere over
    :data:`SUSTAINED_OFF_DEG` while, above it, the sphere holds on :data:`ARTICULAR_ON_SHARE` of the rays."""
    step = float(polar_deg[1] - polar_deg[0])
    n_off = round(SUSTAINED_OFF_DEG / step)
    n_on = round(ARTICULAR_SPAN_DEG / step)
    n = len(polar_deg)
    cum_off = np.r_[np.zeros((1, state.shape[1])), np.cumsum(state == -1, axis=0)]
    cum_on = np.r_[np.zeros((1, state.shape[1])), np.cumsum(state == 1, axis=0)]
    rows = np.arange(n)
    lo, hi = np.clip(rows - n_off, 0, n), np.clip(rows + n_on, 0, n)
    below = (cum_off[rows] - cum_off[lo]) / n_off  # share off over the n_off rows below row i
    above = (cum_on[hi] - cum_on[rows]) / n_on  # share on over the n_on rows from row i up
    ok = (below >= 1.0) & (above >= ARTICULAR_ON_SHARE) & (state == 1)
    ok &= ((rows >= n_off) & (rows + n_on <= n))[:, None]
    top = len(polar_deg) - 1 - np.argmax(ok[::-1], axis=0)
    return np.where(ok.any(axis=0), polar_deg[top] - 0.5 * step, np.nan)


def _circular_fill(azimuth_deg: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running median of the read values over :data:`AZIMUTH_SMOOTHING_DEG`, interpolated (wrapping)
    over the azimuths where none was read."""
    read = np.isfinite(values)
    gap = np.abs((azimuth_deg[:, None] - azimuth_deg[None, read] + 180.0) % 360.0 - 180.0)
    near = gap <= AZIMUTH_SMOOTHING_DEG
    med = np.array([np.median(values[read][m]) if m.any() else np.nan for m in near])
    have = np.isfinite(med)
    a, v = azimuth_deg[have], med[have]
    return np.interp(azimuth_deg, np.r_[a - 360.0, a, a + 360.0], np.r_[v, v, v])


def measure_junction(volume: Volume, array: np.ndarray, surface: BoneSurface, *,
                     fallback_deg: float = FALLBACK_JUNCTION_DEG) -> HeadNeckJunction:
    """The head-neck junction of one head, per azimuth about its neck axis.

    Parameters
    ----------
    volume : Volume
        The T1-weighted image (its geometry; ``array`` holds its pixels).
    array : ndarray, shape ``volume.shape``
        The image's pixel values.
    surface : BoneSurface
        The head's traced bone surface (centre, radius, neck axis in ``surface.grid.frame``, levels).
    fallback_deg : float
        Angle (deg from the neck axis) used everywhere when the image does not give the junction.

    Returns
    -------
    HeadNeckJunction
        Angles per azimuth (clipped to :data:`JUNCTION_RANGE_DEG`); ``measured`` False and
        ``fallback_deg`` throughout when it was read over less than :data:`MIN_MEASURED_AZIMUTH_DEG`.
    """
    frame = np.asarray(surface.grid.frame, float)
    polar = np.arange(_POLAR_SCAN_DEG[0], _POLAR_SCAN_DEG[1] + 1e-9, POLAR_STEP_DEG)
    azimuth = np.arange(0.0, 360.0, _AZIMUTH_STEP_DEG)
    th, ph = np.radians(polar)[:, None], np.radians(azimuth)[None, :]
    local = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th) * np.ones_like(ph)], axis=-1)
    state = _on_sphere(volume, array, surface, local @ frame.T)
    per_azimuth = _junction_per_azimuth(state, polar)
    share = float(np.isfinite(per_azimuth).mean())
    if share * 360.0 < MIN_MEASURED_AZIMUTH_DEG:
        return HeadNeckJunction(frame, azimuth, np.full(len(azimuth), float(fallback_deg)), False, share)
    angle = np.clip(_circular_fill(azimuth, per_azimuth), *JUNCTION_RANGE_DEG)
    return HeadNeckJunction(frame, azimuth, angle, True, share)


def lesion_search_min_angle_deg(directions_lps: np.ndarray, junction: HeadNeckJunction | None) -> np.ndarray | float:
    """Angle (deg from the neck axis) from which a necrotic lesion is sought, per direction.

    Parameters
    ----------
    directions_lps : ndarray, shape (..., 3)
        Unit vectors from the head centre, LPS.
    junction : HeadNeckJunction or None
        The head's junction; None (or not measured) gives the fixed
        :data:`~onfh_imaging.segment.anatomy.LESION_MIN_NECK_ANGLE_DEG`.

    Returns
    -------
    ndarray of float, shape (...), or float
        :data:`~onfh_imaging.segment.anatomy.LESION_JUNCTION_REACH_DEG` short of the junction at each
        direction's azimuth; the fixed angle without a measured junction.
    """
    if junction is None or not junction.measured:
        return LESION_MIN_NECK_ANGLE_DEG
    return junction.angle_at(directions_lps) - LESION_JUNCTION_REACH_DEG

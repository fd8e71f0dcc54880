"""The head's cartilage and joint-space model: its own tissue levels and the plate and cartilage learned.

Levels come from the head itself (marrow, plate / cortex and cartilage of the median profile of
well-resolved rays, aligned on the inner cortical edge); the plate and cartilage thickness are learned
from the sharpest rays over normal marrow. The bone surface tracer (:mod:`onfh_imaging.segment.bone_surface`)
fits this model ray by ray.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.geometry import Volume
from onfh_imaging.segment.anatomy import (
    CORTEX_RANGE_MM,
    FEMORAL_CARTILAGE_MAX_MM,
    PLATE_TYPICAL_MM,
    RAY_STEP_MM,
)
from onfh_imaging.segment.layers import _learn_layers, _ray_sigma, ray_blur_cdf

#: How far (in the ray's blur sigmas) a blurred edge's half-level crossing can lie from the edge itself.
_BLUR_REACH_SIGMAS = 2.0

@dataclass(frozen=True)
class TissueLevels:
    """The head's own tissue levels and layer offsets, from the median profile of well-resolved rays.

    Attributes
    ----------
    marrow, cortex, cartilage : float
        Signal of marrow, of the subchondral plate / cortex (first dip) and of cartilage (first rise
        after it), in the image's intensity units.
    cortex_mm : float
        Distance (mm) from the inner cortical edge to the outer bone surface (half-level crossings).
    outer_offset_mm : float
        Outer bone surface relative to the inner-edge (marrow) sphere, mm.
    cartilage_seen : bool
        Whether the first rise past the plate is cartilage, not bone across an unresolved joint.
    """

    marrow: float
    cortex: float
    cartilage: float
    cortex_mm: float  # inner cortical edge -> outer bone surface, measured on well-resolved rays
    outer_offset_mm: float  # outer bone surface relative to the inner-edge sphere
    cartilage_seen: bool = True  # the first rise past the plate is cartilage, not bone across the joint


def _tissue_levels(prof: np.ndarray, radii: np.ndarray, vectors: np.ndarray, inner_radius: float,
                   volume: Volume, articular: np.ndarray) -> TissueLevels:
    """Marrow, cortex and cartilage levels from the head's own profiles (median over well-resolved rays)."""
    inferior = (vectors[..., 2] < -0.3) & articular
    if inferior.sum() < 20:
        inferior = articular
    marrow = float(np.median(prof[inferior][:, radii < 0.6 * inner_radius]))
    # Rays nearly within the slice plane see the cortex at in-plane resolution.
    normal = volume.axis_of_slices()
    resolved = (np.abs(vectors @ normal) < 0.35) & articular
    if resolved.sum() < 20:
        resolved = articular
    s = np.arange(-6.0, 8.0 + 1e-9, RAY_STEP_MM)
    idx = (inner_radius + s - radii[0]) / RAY_STEP_MM
    aligned = ndimage.map_coordinates(prof[resolved], np.stack(np.meshgrid(
        np.arange(resolved.sum()), idx, indexing="ij")), order=1, mode="nearest")
    med = np.median(aligned, axis=0)
    widths = np.median(np.abs(vectors[resolved] @ volume.direction) * np.asarray(volume.spacing), axis=0)
    blur_mm = _BLUR_REACH_SIGMAS * _ray_sigma(widths, 3.0 * RAY_STEP_MM)
    i_min, i_max, cartilage_seen = _first_dip_and_rise(med, s, marrow, blur_mm)
    cortex = float(med[i_min])
    cartilage = float(med[i_max])
    lvl_in = 0.5 * (marrow + cortex)
    lvl_out = 0.5 * (cortex + cartilage)
    before = np.flatnonzero(med[:i_min] >= lvl_in)
    s_in = s[before[-1]] if before.size else s[i_min] - 0.75
    rising = np.flatnonzero(med[i_min:i_max + 1] >= lvl_out)
    s_out = s[i_min + rising[0]] if rising.size else s[i_min] + 0.75
    if not cartilage_seen:
        # No rise out of the plate into cartilage: the first rise beyond is the acetabulum's, and only the
        # marrow edge is resolved; the bone surface lies a typical plate beyond it.
        s_out = s_in + PLATE_TYPICAL_MM
    return TissueLevels(marrow, cortex, cartilage, float(s_out - s_in), float(s_out), cartilage_seen)


#: How far (mm) past the head's edge the profile must stay in cartilage (below the marrow level): femoral
#: cartilage over the head is 1-3 mm thick, so 0.8 mm beyond its inner surface is still cartilage.
_CARTILAGE_PROBE_MM = 0.8

#: Cartilage on T1 is intermediate: its level lies less than this share of the way from the plate to
#: fatty marrow (hyaline cartilage has about half the signal of fat on T1-weighted spin echo).
_CARTILAGE_MAX_FRACTION = 0.75

#: The cartilage must rise above the plate by this share of the marrow -> plate contrast to count as a
#: layer (below it, a wiggle of the blurred joint is not a cartilage).
_MIN_RISE_FRACTION = 0.1


def _first_dip_and_rise(med: np.ndarray, s: np.ndarray, marrow: float,
                        blur_mm: float = 0.0) -> tuple[int, int, bool]:
    """Indices of the subchondral plate (dip) and cartilage (rise) on the head's median profile.

    ``med`` is sampled at offsets ``s`` (mm) from the inner cortical edge. Outward from the marrow the
    femur's own layers come first: plate, then cartilage; the joint fluid, the acetabular cartilage and
    cortex lie beyond, at widths that vary between patients. So the plate is the *first* dip below the
    marrow / dark mid-level after the marrow edge and the cartilage the first rise after it, not the
    darkest and brightest samples around (a wide, dark joint space would win those, and the acetabular
    cartilage beyond it). The third value tells whether that rise is cartilage: cartilage is darker
    than marrow (below :data:`_CARTILAGE_MAX_FRACTION` of the way from plate to marrow); a first rise as
    bright as marrow is the acetabular bone across a joint space too narrow for the slices to resolve.
    The rise is sought no farther than a plate and half a cartilage beyond the marrow edge, plus
    ``blur_mm`` (how far the profile's blur moves an edge): without a rise there, the cartilage is not
    seen (a thin plate under cartilage about as dark blurs into one band with the joint).
    """
    win = (s > -1.5) & (s < 4.0)
    i_dark = int(np.flatnonzero(win)[np.argmin(med[win])])
    dark = float(med[i_dark])
    level = 0.5 * (marrow + dark)
    k = max(1, int(round(0.3 / (s[1] - s[0]))))  # local extrema over +-0.3 mm (the profile's smoothing)
    hi = int(np.flatnonzero(win)[-1])
    below = np.flatnonzero(win & (med < level))
    start = int(below[0]) if below.size else i_dark
    i_min = i_dark
    for i in range(start, hi + 1):
        seg = med[max(i - k, 0):i + k + 1]
        if med[i] < level and med[i] <= seg.min():
            i_min = i
            break
    min_rise = _MIN_RISE_FRACTION * (marrow - float(med[i_min]))
    # The femur's cartilage lies on its plate: its brightest point is at most a plate and half a
    # cartilage beyond the marrow edge. A rise farther out is the acetabulum across a joint whose
    # femoral layers the image blurs into one dark band (a thin plate under cartilage about as dark).
    reach = CORTEX_RANGE_MM[1] + 0.5 * FEMORAL_CARTILAGE_MAX_MM + blur_mm
    after = np.flatnonzero((s > s[i_min]) & (s < min(s[i_min] + 4.0, s[start] + reach)))
    i_max = int(after[np.argmax(med[after])]) if after.size else i_min
    rose = False
    for i in after:
        seg = med[max(i - k, 0):i + k + 1]
        if med[i] >= seg.max() and med[i] - med[i_min] >= min_rise:
            i_max, rose = int(i), True
            break
    seen = rose and bool(med[i_max] < med[i_min] + _CARTILAGE_MAX_FRACTION * (marrow - med[i_min]))
    return i_min, i_max, seen




@dataclass(frozen=True)
class _LayerModel:
    """The head's layer model: its tissue levels, the limits drawn from them, the learned plate and
    cartilage thickness (mm), and the profiles' Gaussian smoothing (mm)."""

    levels: TissueLevels
    plate_mm: float
    cartilage_mm: float
    smooth_mm: float

    @property
    def min_contrast(self) -> float:
        return 0.3 * (self.levels.cartilage - self.levels.cortex)

    @property
    def dark_limit(self) -> float:
        return 0.5 * (self.levels.marrow + self.levels.cortex)

    @property
    def bright_limit(self) -> float:
        return 0.5 * (self.levels.marrow + self.levels.cartilage)

    @property
    def level(self) -> float:
        """The outer cortical edge's level, half-way from plate to cartilage."""
        return 0.5 * (self.levels.cortex + self.levels.cartilage)


def _learn_model(prof: np.ndarray, radii: np.ndarray, radius: float, levels: TissueLevels, extent: np.ndarray,
                 resolved: np.ndarray) -> _LayerModel:
    """Plate and cartilage thickness learned on the sharp rays over normal marrow."""
    smooth_mm = 3.0 * RAY_STEP_MM
    bright_limit = 0.5 * (levels.marrow + levels.cartilage)
    sharp_cdf = ray_blur_cdf(np.median(extent[resolved], axis=0), smooth_mm)
    # Layer thicknesses are learned where normal marrow lies under the plate: a fluid core or a band
    # there merges with the plate and mimics a thicker one.
    under = (radii > radius - 8.0) & (radii < radius - 4.0)
    healthy = resolved & (np.median(prof[..., under], axis=-1) > bright_limit)
    learn_from = healthy if healthy.sum() >= 50 else resolved
    pick = np.flatnonzero(learn_from.reshape(-1))[:: max(1, int(learn_from.sum()) // 200)]
    plate_mm, cartilage_mm = _learn_layers(prof.reshape(-1, prof.shape[-1])[pick], radii, radius, sharp_cdf,
                                           0.3 * (levels.cartilage - levels.cortex),
                                           0.5 * (levels.marrow + levels.cortex), bright_limit)
    return _LayerModel(levels, plate_mm, cartilage_mm, smooth_mm)


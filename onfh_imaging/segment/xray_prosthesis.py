"""Hip replacements on radiographs: metal far brighter than bone, with a stem and a ball or cup.

A total hip replacement (the usual end of a collapsed, necrotic head) replaces the femoral head with a
metal or ceramic ball on a stem down the femoral canal, and lines the acetabulum with a cup. On a
radiograph the metal attenuates far more than any bone: it is the brightest structure, nearly
uniform, with sharp edges.

Metal is found against the image's own statistics: pixels above the median by more than
``METAL_CONTRAST`` times the spread from the median to the 95th percentile (the brightest tenth of a
hip image is bone; metal lies well beyond it). When the picture is saturated below that level (an
8-bit export clipping bone and metal alike), the saturated plateau is taken instead, and the shape
tests below must still hold. A replacement is declared when the metal, after an opening that removes
thin bright lines (cortex seen edge-on, wires), holds

* a **stem**: a component at least ``STEM_ELONGATION`` times longer than wide, and
* a **ball or cup**: a round part (the largest inscribed disc of the metal) wider than the stem,
  within one stem length of it.

A calibration ball (round, no stem) and bone (below the level) are not replacements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.geometry import Radiograph
from onfh_imaging.segment.xray_sides import column_toward_left

METAL_CONTRAST = 2.0
"""Metal lies above the median by at least twice the median-to-95th-percentile spread: cortical bone
reaches about 1.2 times that spread on a hip radiograph, cobalt-chrome and titanium many times it."""
SATURATION_SHARE = 0.002
"""A picture counts as clipped when at least this share of its pixels sits at its maximum value."""
OPENING_FRACTION = 0.01
"""The opening that removes thin bright lines is this fraction of the image's shorter side (about 1 mm
on a hip crop, 4 mm on a whole pelvis): a stem is 10-20 mm wide, cortex seen edge-on 1-3 mm."""
STEM_ELONGATION = 3.0
"""A stem's length over its width (a femoral stem: 100-150 mm long, 10-20 mm wide)."""
MIN_METAL_SHARE = 0.005
"""Metal must cover at least this share of the image (a stem and ball on a pelvis view cover 1-3 %)."""


@dataclass(frozen=True)
class Prosthesis:
    """A hip replacement found on a radiograph (pixels of the image as stored).

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    side_basis : str
        How the side was decided.
    ball_center_px : (float, float)
        Centre of the round part (ball or cup), (row, column).
    ball_radius_px : float
        Radius of the largest disc inscribed in the metal there, pixels.
    stem_length_px, stem_width_px : float
        Length and width of the stem, pixels.
    metal_level : float
        Intensity above which pixels were read as metal.
    """

    side: str
    side_basis: str
    ball_center_px: tuple[float, float]
    ball_radius_px: float
    stem_length_px: float
    stem_width_px: float
    metal_level: float


def metal_mask(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """Pixels read as metal (see the module notes) and the level used."""
    img = np.asarray(pixels, dtype=float)
    p50, p95, top = np.percentile(img, [50.0, 95.0, 100.0])
    level = p50 + METAL_CONTRAST * (p95 - p50)
    if level >= top and np.mean(img >= top) >= SATURATION_SHARE:
        level = top - 1e-6 * max(abs(top), 1.0)  # clipped picture: the saturated plateau
    mask = img > level
    size = max(1, round(OPENING_FRACTION * min(img.shape)))
    return ndimage.binary_opening(mask, structure=np.ones((size, size), dtype=bool)), float(level)


def _axes(rows: np.ndarray, cols: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Length and width (4 SDs along the principal axes) of a set of pixels, and the long axis."""
    cov = np.cov(np.vstack([rows, cols]))
    vals, vecs = np.linalg.eigh(cov)
    return 4.0 * float(np.sqrt(max(vals[1], 0.0))), 4.0 * float(np.sqrt(max(vals[0], 0.0))), vecs[:, 1]


def find_prostheses(rx: Radiograph) -> list[Prosthesis]:
    """Hip replacements on a radiograph (bone bright), at most one per side.

    Parameters
    ----------
    rx : Radiograph

    Returns
    -------
    list of Prosthesis
    """
    mask, level = metal_mask(rx.pixels)
    if mask.mean() < MIN_METAL_SHARE:
        return []
    labels, n = ndimage.label(mask)
    dist = ndimage.distance_transform_edt(mask)
    found: list[Prosthesis] = []
    sign, orientation = column_toward_left(rx)
    for k in range(1, n + 1):
        rows, cols = np.nonzero(labels == k)
        if rows.size < MIN_METAL_SHARE * mask.size * 0.5:
            continue
        length, width, _ = _axes(rows.astype(float), cols.astype(float))
        # the round part: the widest inscribed disc of this component or of metal near it
        near = (np.hypot(*(np.mgrid[0:mask.shape[0], 0:mask.shape[1]] -
                           np.array([rows.mean(), cols.mean()])[:, None, None])) < length) & mask
        d_near = np.where(near, dist, 0.0)
        br, bc = np.unravel_index(int(np.argmax(d_near)), d_near.shape)
        ball_r = float(d_near[br, bc])
        stem_width = 2.0 * float(np.median(dist[rows, cols][dist[rows, cols] >= np.percentile(dist[rows, cols], 50)]))
        if length < STEM_ELONGATION * max(width, 1.0) and length < STEM_ELONGATION * max(stem_width, 1.0):
            continue  # no stem: a ball, a cup alone or a plate-like object
        if ball_r <= 0.5 * stem_width:
            continue  # no part wider than the stem: a rod or nail, not a replacement
        # the stem leaves the ball laterally: the side is where the stem's mass lies relative to the ball
        lateral = sign * (cols.mean() - bc)
        lat = (rx.laterality or "").lower()
        if lat in ("left", "right"):
            side, basis = lat, "image laterality"
        else:
            side = "left" if lateral > 0 else "right"
            basis = f"stem direction (the stem lies lateral to the ball); {orientation}"
        if any(p.side == side for p in found):
            continue
        found.append(Prosthesis(side, basis, (float(br), float(bc)), ball_r, length, stem_width, level))
    return found


__all__ = ["Prosthesis", "find_prostheses", "metal_mask"]

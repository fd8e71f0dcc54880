"""Hip replacements on radiographs: uniform metal with sharp edges, shaped as a ball or cup and a stem.

A total hip replacement (the usual end of a collapsed, necrotic head) replaces the femoral head with a
metal or ceramic ball on a stem down the femoral canal, and lines the acetabulum with a cup. Near
60 keV cobalt-chrome attenuates about 1/mm and titanium about 0.3/mm, against 0.06/mm for cortical bone:
a ball or a stem transmits almost nothing, so what reaches the detector behind it is scatter (smooth)
or, after the display window of digital radiography, the top of the stored range (clipped). Either way
metal is

* at the **top of the image's range**: the brightest class of the picture,
* **uniform**: no cortex, trabeculae or overlapping bone shows through it, so the strongest edges inside
  it are a small fraction of the step at its boundary (bone seen through bone has internal edges, cortex,
  canal and overlaps, as strong as its outline),
* **shaped**: a round part (ball or cup, the largest inscribed disc) and a **stem** leaving it, longer
  than wide and narrower than the ball.

Candidate metal is taken at three levels, each from the image's own statistics: the saturated plateau of a
clipped picture, pixels above the median by more than ``METAL_CONTRAST`` times the spread from the median to
the 95th percentile (metal covering little of the image), and the brightest class of the bright half
(Otsu's split, metal covering much of the image). A candidate is a replacement only when it passes both the
uniformity and the shape tests, after an opening that removes thin bright lines (cortex seen edge-on, wires).
A calibration ball (round, no stem) and bone (textured, or a native femur below the top class) are not
replacements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from onfh_imaging.geometry import Radiograph
from onfh_imaging.segment.xray import (
    ASSUMED_FIELD_OF_VIEW_MM,
    PAIR_HEIGHT_RADII,
    PAIR_MIN_SEPARATION_RADII,
    HeadContour2D,
)
from onfh_imaging.segment.xray_sides import column_toward_left

METAL_CONTRAST = 2.0
"""Metal lies above the median by at least twice the median-to-95th-percentile spread when it covers
little of the image: cortical bone reaches about 1.2 times that spread on a hip radiograph."""
SATURATION_SHARE = 0.002
"""A picture counts as clipped when at least this share of its pixels sits at its maximum value."""
OPENING_FRACTION = 0.01
"""The opening that removes thin bright lines is this fraction of the image's shorter side (about 1 mm
on a hip crop, 4 mm on a whole pelvis): a stem is 10-20 mm wide, cortex seen edge-on 1-3 mm."""
STEM_ELONGATION = 2.5
"""A stem's visible length over its width: a femoral stem is 100-150 mm long and 10-20 mm wide; a hip crop
shows at least 30-50 mm of it below the ball."""
BALL_CLEARANCE = 1.2
"""The stem is the metal beyond this many ball radii from the ball's centre (the ball's own partial-volume
rim and the cup around it lie within)."""
MIN_BALL_RADIUS_MM = 10.0
"""Prosthetic heads are 22-36 mm across and cups 44-60 mm: the largest disc inscribed in the ball or cup is
at least 11 mm in radius (10 mm allows for the partial-volume rim). Without a pixel size, 10 mm at the
widest field of view the head search assumes (``ASSUMED_FIELD_OF_VIEW_MM``)."""
MIN_METAL_SHARE = 0.005
"""Metal must cover at least this share of the image (a stem and ball on a pelvis view cover 1-3 %)."""
METAL_INTERIOR_EDGE_RATIO = 0.25
"""Uniformity: the strongest edges inside metal (95th percentile of the gradient, away from its boundary)
stay below this fraction of the gradient across its boundary. Metal transmits almost nothing, so only
quantum noise and the smooth scatter field vary inside it; a femur or pelvis seen through itself shows its
cortex, canal and overlapping bones with edges about as strong as its outline (ratio 0.5-1)."""
METAL_EDGE_SHARPNESS = 0.6
"""Sharp edges: metal's rim stands above the ring just outside it by at least this share of the spread from
the median to the 95th percentile of the rest of the image (about the bone-to-soft-tissue contrast). Beside
metal lies bone or soft tissue, and metal attenuates 5-15 times more than cortical bone, so the step is at
least that contrast (the share allows for the partial-volume rim and scatter lifting the metal's shadow).
Where a harsh window saturates bone instead, the plateau runs on into the bone just below the clip level
and the step is near zero."""
SMOOTHING_PX = 2.0
"""Gaussian smoothing (pixels) before the gradient of the uniformity test: quantum noise is independent
from pixel to pixel, so two pixels reduce it about sevenfold while a metal edge (a step) stays a step."""


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
    interior_edge_ratio : float
        Strongest interior edge over the boundary edge (see :data:`METAL_INTERIOR_EDGE_RATIO`).
    """

    side: str
    side_basis: str
    ball_center_px: tuple[float, float]
    ball_radius_px: float
    stem_length_px: float
    stem_width_px: float
    metal_level: float
    interior_edge_ratio: float = 0.0


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a set of values (the split maximising the between-class variance)."""
    hist, edges = np.histogram(values, bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(hist).astype(float)
    m0 = np.cumsum(hist * centres)
    w1 = w0[-1] - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (m0 / w0 - (m0[-1] - m0) / w1) ** 2
    between[~np.isfinite(between)] = 0.0
    return float(centres[int(np.argmax(between[:-1]))])


def metal_levels(pixels: np.ndarray) -> list[float]:
    """Candidate metal levels of an image, brightest first (see the module notes).

    Up to three levels: just below the maximum when at least :data:`SATURATION_SHARE` of the pixels sit at
    it (a clipped picture's saturated plateau); the median plus :data:`METAL_CONTRAST` times the
    median-to-95th-percentile spread, when that is below the maximum; and Otsu's split of the pixels above
    the median, when they are not all equal.

    Parameters
    ----------
    pixels : ndarray, shape (rows, cols)
        The radiograph, bone bright, in its own intensity units.

    Returns
    -------
    list of float
        The distinct levels (same units as ``pixels``), each below the image's maximum, in decreasing
        order; empty when none of the three applies.
    """
    img = np.asarray(pixels, dtype=float)
    p50, p95, top = np.percentile(img, [50.0, 95.0, 100.0])
    levels = []
    if np.mean(img >= top) >= SATURATION_SHARE:
        levels.append(top - 1e-6 * max(abs(top), 1.0))  # clipped picture: the saturated plateau
    contrast = p50 + METAL_CONTRAST * (p95 - p50)
    if contrast < top:
        levels.append(float(contrast))
    upper = img[img > p50]
    if upper.size and upper.max() > upper.min():
        levels.append(_otsu(upper))
    return sorted({float(v) for v in levels}, reverse=True)


def metal_mask(pixels: np.ndarray, level: float | None = None) -> tuple[np.ndarray, float]:
    """Pixels above a metal level, after the opening that removes thin bright lines.

    Parameters
    ----------
    pixels : ndarray, shape (rows, cols)
        The radiograph, bone bright, in its own intensity units.
    level : float, optional
        Intensity (units of ``pixels``) above which a pixel is metal; default the brightest of
        :func:`metal_levels`, or the image's maximum (an empty mask) when it gives none.

    Returns
    -------
    mask : ndarray of bool, shape (rows, cols)
        Pixels strictly above ``level``, opened with a square of side :data:`OPENING_FRACTION` times the
        image's shorter side (at least 1 pixel).
    level : float
        The level used.
    """
    img = np.asarray(pixels, dtype=float)
    if level is None:
        levels = metal_levels(img)
        level = levels[0] if levels else float(img.max())
    size = max(1, round(OPENING_FRACTION * min(img.shape)))
    return ndimage.binary_opening(img > level, structure=np.ones((size, size), dtype=bool)), float(level)


def _axes(rows: np.ndarray, cols: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Length and width (4 SDs along the principal axes) of a set of pixels, and the long axis."""
    cov = np.cov(np.vstack([rows, cols]))
    vals, vecs = np.linalg.eigh(cov)
    return 4.0 * float(np.sqrt(max(vals[1], 0.0))), 4.0 * float(np.sqrt(max(vals[0], 0.0))), vecs[:, 1]


def interior_edge_ratio(gradient: np.ndarray, component: np.ndarray, margin_px: int) -> float:
    """Strongest edge inside a region over the edge across its boundary (see
    :data:`METAL_INTERIOR_EDGE_RATIO`).

    Parameters
    ----------
    gradient : ndarray, shape (rows, cols)
        Gradient magnitude of the smoothed image.
    component : ndarray of bool, shape (rows, cols)
        The region.
    margin_px : int
        The interior lies this far inside the boundary (clear of the boundary's blur).

    Returns
    -------
    float
        95th percentile of the gradient inside over the 75th percentile across the boundary (inf when the
        region has no interior or no boundary edge).
    """
    band = ndimage.binary_dilation(component, iterations=2) & ~ndimage.binary_erosion(component, iterations=2)
    inner = ndimage.binary_erosion(component, iterations=margin_px)
    if inner.sum() < 20 or not band.any():
        return float("inf")
    boundary = float(np.percentile(gradient[band], 75.0))
    return float(np.percentile(gradient[inner], 95.0)) / boundary if boundary > 0 else float("inf")


def boundary_step(img: np.ndarray, component: np.ndarray, margin_px: int) -> float:
    """The step down from a region's rim to the ring just outside it, relative to the image around it.

    Parameters
    ----------
    img : ndarray, shape (rows, cols)
        The radiograph, bone bright, in its own intensity units.
    component : ndarray of bool, shape (rows, cols)
        The region (a candidate metal component).
    margin_px : int
        Width (pixels) of the rim inside the region and of the ring outside it; the ring starts one pixel
        beyond the region's edge.

    Returns
    -------
    float
        Median of the rim minus median of the ring, over the median-to-95th-percentile spread of the pixels
        outside the region (dimensionless; compared with :data:`METAL_EDGE_SHARPNESS`; negative when the
        ring is the brighter). 0 when the rim or the ring is empty or fewer than 20 pixels lie outside.
    """
    rim = component & ~ndimage.binary_erosion(component, iterations=margin_px)
    outer = ndimage.binary_dilation(component, iterations=margin_px + 1) & ~ndimage.binary_dilation(component)
    rest = img[~component]
    if not rim.any() or not outer.any() or rest.size < 20:
        return 0.0
    p50, p95 = np.percentile(rest, [50.0, 95.0])
    spread = max(float(p95 - p50), 1e-9)
    return float(np.median(img[rim]) - np.median(img[outer])) / spread


def _ball_and_stem(component: np.ndarray, dist: np.ndarray, min_ball_px: float
                   ) -> tuple[tuple[int, int], float, float, float] | None:
    """The ball (centre, radius: the largest inscribed disc, at least ``min_ball_px``) and the stem
    (length, width) of a metal region, or None when there is no such ball or no elongated part narrower
    than the ball leaving it."""
    d = np.where(component, dist, 0.0)
    br, bc = np.unravel_index(int(np.argmax(d)), d.shape)
    ball_r = float(d[br, bc])
    if ball_r < min_ball_px:
        return None
    rr, cc = np.nonzero(component)
    far = np.hypot(rr - br, cc - bc) > BALL_CLEARANCE * ball_r
    if far.sum() < 20:
        return None
    rest = np.zeros_like(component)
    rest[rr[far], cc[far]] = True
    labels, n = ndimage.label(rest)
    sizes = ndimage.sum(rest, labels, index=np.arange(1, n + 1))
    stem = labels == 1 + int(np.argmax(sizes))
    srows, scols = np.nonzero(stem)
    if srows.size < 20:
        return None
    length, width, _ = _axes(srows.astype(float), scols.astype(float))
    stem_width = 2.0 * float(np.percentile(dist[stem], 90.0))  # the widest inscribed disc along the stem
    width = max(min(width, stem_width), 1.0)
    if length < STEM_ELONGATION * width or ball_r <= 0.5 * width:
        return None  # no stem, or no part wider than it: a ball alone, a rod or nail, a plate
    return (int(br), int(bc)), ball_r, length, width


def find_prostheses(rx: Radiograph) -> list[Prosthesis]:
    """Hip replacements on a radiograph (bone bright), at most one per side.

    Parameters
    ----------
    rx : Radiograph

    Returns
    -------
    list of Prosthesis
        Empty when no candidate metal region is uniform and shaped as a ball or cup with a stem.
    """
    img = np.asarray(rx.pixels, dtype=float)
    gradient = None
    size = max(1, round(OPENING_FRACTION * min(img.shape)))
    sign, orientation = column_toward_left(rx)
    if rx.pixel_size_mm is not None:
        min_ball_px = MIN_BALL_RADIUS_MM / float(np.sqrt(rx.pixel_size_mm[0] * rx.pixel_size_mm[1]))
    else:
        min_ball_px = MIN_BALL_RADIUS_MM / ASSUMED_FIELD_OF_VIEW_MM[1] * max(img.shape)
    found: list[Prosthesis] = []
    for level in metal_levels(img):
        mask, _ = metal_mask(img, level)
        if mask.mean() < MIN_METAL_SHARE:
            continue
        if gradient is None:
            smooth = ndimage.gaussian_filter(img, SMOOTHING_PX)
            gradient = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)) / 8.0
        labels, n = ndimage.label(mask)
        dist = ndimage.distance_transform_edt(mask)
        for k in range(1, n + 1):
            component = labels == k
            if component.sum() < 0.5 * MIN_METAL_SHARE * mask.size:
                continue
            parts = _ball_and_stem(component, dist, min_ball_px)
            if parts is None:
                continue
            ratio = interior_edge_ratio(gradient, component, 2 * size)
            if not ratio <= METAL_INTERIOR_EDGE_RATIO:
                continue  # edges inside: bone seen through bone, not metal
            if not boundary_step(img, component, size) >= METAL_EDGE_SHARPNESS:
                continue  # a soft border: bone brightness cut by the window, not a metal step
            (br, bc), ball_r, length, width = parts
            rows, cols = np.nonzero(component)
            # the stem leaves the ball laterally: the side is where the metal's mass lies relative to the ball
            lateral = sign * (cols.mean() - bc)
            lat = (rx.laterality or "").lower()
            if lat in ("left", "right"):
                side, basis = lat, "image laterality"
            else:
                side = "left" if lateral > 0 else "right"
                basis = f"stem direction (the stem lies lateral to the ball); {orientation}"
            if any(p.side == side for p in found):
                continue
            found.append(Prosthesis(side, basis, (float(br), float(bc)), ball_r, length, width, level, ratio))
        if found:
            break
    return found


def native_heads(contours: Sequence[HeadContour2D], prostheses: Sequence[Prosthesis]) -> list[HeadContour2D]:
    """The head contours that can be native beside the replacements found.

    Beside a replacement a native head is the other hip: on the other side, at about the ball's height and
    across the pelvis from it (the same rules as for a pair of heads,
    :data:`~onfh_imaging.segment.xray.PAIR_HEIGHT_RADII` and
    :data:`~onfh_imaging.segment.xray.PAIR_MIN_SEPARATION_RADII`).

    Parameters
    ----------
    contours : sequence of HeadContour2D
        Heads found on the radiograph.
    prostheses : sequence of Prosthesis
        Replacements found on the same radiograph (:func:`find_prostheses`).

    Returns
    -------
    list of HeadContour2D
        The contours kept, in their order.
    """
    replaced = {p.side for p in prostheses}
    return [c for c in contours if c.side not in replaced
            and all(abs(c.center_px[1] - p.ball_center_px[1]) >= PAIR_MIN_SEPARATION_RADII * c.radius_px
                    and abs(c.center_px[0] - p.ball_center_px[0]) <= PAIR_HEIGHT_RADII * c.radius_px
                    for p in prostheses)]


__all__ = ["Prosthesis", "boundary_step", "find_prostheses", "interior_edge_ratio", "metal_levels", "metal_mask",
           "native_heads"]

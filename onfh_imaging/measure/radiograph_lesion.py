"""The necrotic lesion's own radiographic finding inside a femoral head's outline (ARCO I vs II).

ARCO 2019 separates stage I (MRI shows the lesion, the radiograph is normal) from stage II (the radiograph
is abnormal without fracture or collapse) by what the radiograph shows inside the head: a **sclerotic
margin** (the reactive bone around the necrotic segment: a dense curvilinear band, concave toward the
weight-bearing dome, a few millimetres wide) or **lucency / cysts** (resorbed bone darker than the head's
trabecular bone). Both are judged against the head's own bone, not against fixed grey levels:

* the image is resampled around the head to ``WORK_PIXEL_MM`` (bone bright: MONOCHROME1 is already
  inverted by the reader);
* **band**: at the scales of a 1-4 mm band, the Hessian gives the direction across a ridge and the band
  response is how much brighter a pixel is than the brighter of its two sides (a band is denser than the
  bone on both sides; the bright side of an overlapping bone's edge is not), in robust standard
  deviations (:func:`onfh_imaging.fitting.robust_scale`) of the same second difference over the head's
  interior, which holds the trabecular texture and the noise. Centreline pixels above ``RIDGE_SIGMAS``
  link into lines (directions coherent, gaps up to ``LINK_GAP_MM`` bridged); a line counts as a margin
  when it runs at least ``MIN_BAND_LENGTH_MM`` with a median response of ``BAND_MIN_CONTRAST``, stays
  inside the head (a line that goes on beyond the outline is another bone's: acetabular wall, teardrop,
  the neck's trabeculae), lies in the head's superior half and is not convex toward the dome;
* **lucency**: the image minus its smooth trend over the head (``TREND_MM``), smoothed over
  ``LUCENCY_SMOOTH_MM``, in robust standard deviations of the same residual over the head; a compact
  region below ``-LUCENCY_SIGMAS`` of at least ``MIN_LUCENCY_AREA_MM2``, ``LUCENCY_EDGE_CLEARANCE_MM``
  inside the image's edges, is a lucency.

A head the finding cannot be read on says so (``resolved`` False with the reason): the outline failed its
checks, the interior under the weight-bearing dome (``DOME_HALF_ANGLE_DEG`` either side of the vertical
through the head's centre, where the necrotic segment and its margin lie) is cut by the image edge, or too
few interior pixels. The interior rests on the head's circle, not on the traced rim: of the outline's
checks the finding needs those that confirm the circle (``CIRCLE_CHECKS``), so a rim traced over less of
its arc than the Mose and collapse measures need is read. A head cut by the image edge outside its dome
is read on its part in the image, each band scale where its filter's reach (``BAR_SIDE_SCALES`` + 1
scales) lies in the image. A line whose course beyond the outline leaves the image cannot be shown to end at the
surface and is not counted. Without a pixel size the head's radius is taken as
``TYPICAL_HEAD_RADIUS_MM`` (the reason says the scale was assumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from onfh_imaging.fitting import robust_scale
from onfh_imaging.geometry import Radiograph
from onfh_imaging.measure.deviation import WEIGHT_BEARING_HALF_ANGLE_DEG
from onfh_imaging.quality import QualityCheck
from onfh_imaging.segment.xray import TYPICAL_HEAD_RADIUS_MM, HeadContour2D

WORK_PIXEL_MM = 0.2
"""Pixel (mm) of the grid the head is analysed on: five pixels across the narrowest (1 mm) band."""
BAND_SCALES_MM = (0.5, 0.9, 1.4, 2.0)
"""Gaussian scales (mm) of the ridge filter: a bar of width w responds most at sigma = w / 2 (with the
scale-normalised second derivative), so these cover the 1-4 mm width of a sclerotic margin."""
RIM_MARGIN_MM = 2.5
"""The head's interior, where its own statistics are taken and a margin is sought, ends this far inside
the outline: the subchondral plate and cortex (1-2 mm) and their blur are bone of another density."""
RIDGE_SIGMAS = 3.0
"""A band pixel stands out from the head's texture by this many robust SDs."""
BAND_MIN_CONTRAST = 5.0
"""A margin's median band response, in robust SDs of the head's texture: a band, not the upper tail of
the texture (which ``RIDGE_SIGMAS`` already cuts at 3)."""
MIN_BAND_LENGTH_MM = 10.0
"""Shortest margin (mm, along its line): a small lesion (Steinberg A, under 15 % of the head) spans about
60 deg of a 24 mm head's dome, a margin near 20 mm long; half of it must be seen. Trabeculae and texture
ridges are a few millimetres long."""
LINE_COHERENCE_DEG = 15.0
"""Neighbouring ridge pixels belong to one line when their directions differ by less than this: a margin
curving around a 10 mm radius turns by about 1 deg per working pixel; bone edges crossing it meet it at
larger angles."""
LINK_GAP_MM = 1.5
"""Gaps (mm) along a line that are bridged: trabecular texture interrupts a faint margin for about a
trabecular spacing (1 mm)."""
MAX_OUTSIDE_REACH_MM = 2.0
"""A line reaching this far beyond the outline (radially, excluding lines along the outline: the cortex
and the acetabular roof) continues outside the head: it is another bone's edge crossing it."""
END_DIRECTION_MM = 3.0
"""The direction a line is followed beyond its end is that of its last 3 mm."""
LINE_PATH_TOLERANCE_MM = 1.0
"""A line followed beyond its end may stray this far (mm) from the straight path (it curves)."""
RIM_CLEARANCE_MM = 1.0
"""Beyond the outline, the path is judged from this far out (mm): clear of the cortex and its blur."""
MIN_OUTSIDE_PATH_MM = 2.0
OUTSIDE_COVER = 0.6
"""A line goes on outside the head when ridge pixels cover at least 60 % of at least 2 mm of its path
beyond the outline; a margin's path beyond the surface crosses the dark joint space and meets the
acetabular roof only across it (a millimetre or two)."""
BAR_SIDE_SCALES = 2.0
"""The band's sides are sampled this many scales from its centre: a bar of width w answers best at scale
w / 2, so its edges lie one scale from the centre and the sides one scale beyond them."""
TANGENTIAL_DEG = 45.0
"""Ridges within this angle of the outline's tangent, near or beyond the outline, are the head's cortex
or the acetabular roof and do not connect lines across the outline."""
OUTSIDE_BAND_MM = 6.0
"""How far beyond the outline lines are followed to see whether they continue outside the head."""
MARGIN_ABOVE_CENTRE_MM = 0.0
"""A margin's mid-point lies at least this far (mm) above the head's centre (toward the dome, image-up): the
necrotic segment is the superior, weight-bearing one; a lesion whose margin runs below the centre holds
more than half the head, which has collapsed (stage III) long before, and lines there are the neck's and
the acetabular walls'."""
MAX_CONVEX_SAGITTA_MM = 1.5
"""A margin bows toward the necrotic segment under the dome: a line whose middle lies more than this
(mm) nearer the dome than its ends (convex toward the dome) is not one (within the band's own width)."""
TREND_MM = 5.0
"""Scale (mm) of the head's smooth intensity trend (the projected thickness of a sphere, overlapping
bone): larger than a cyst, removed before lucency is judged."""
LUCENCY_EDGE_CLEARANCE_MM = TREND_MM
"""A lucency is judged only this far (mm) inside the image's edges: the trend at a pixel is the mean of the
head's bone within about ``TREND_MM``; nearer the edge it is averaged from one side only, so the projected
sphere's slope across the edge biases the residual there (a dark band along the cut)."""
LUCENCY_SMOOTH_MM = 1.0
"""The residual is smoothed over this scale (mm) before lucency is judged: above the trabecular texture
(about 1 mm), below a cyst."""
LUCENCY_SIGMAS = 3.5
"""A lucent pixel lies this many robust SDs of the smoothed residual below the head's own bone."""
MIN_LUCENCY_AREA_MM2 = 12.0
"""Smallest lucency counted: a cyst about 4 mm across (the subchondral cysts of ARCO II are 2-10 mm)."""
MIN_LUCENCY_WIDTH_MM = 2.5
"""A lucency is compact: its narrower axis spans at least this (mm); the dark side of an overlapping
bone's edge is a thin line."""
MIN_INTERIOR_PX = 2000
"""Interior pixels (on the working grid, 80 mm2) needed for robust statistics of the head's bone."""
OWN_EDGE_CHECK = "head_in_image"
"""An outline check (:mod:`onfh_imaging.measure.radiograph_quality`) that the finding judges itself: a
head cut by the image edge is read when the interior under its dome is in the image."""
CIRCLE_CHECKS = ("circle_fit_residual", "circle_inliers", "estimates_agree", "edge_contrast")
"""The outline checks the finding needs: the interior rests on the head's circle, and these confirm that the
circle lies on the head's edge (a strong edge, on one circle, the searched and the fitted circle agreeing
within 1.2 mm, inside ``RIM_MARGIN_MM``). The other checks serve the measures read along the traced rim
(Mose, collapse: how much of the rim and of the dome was traced) and do not withhold the finding."""
DOME_HALF_ANGLE_DEG = WEIGHT_BEARING_HALF_ANGLE_DEG
"""The weight-bearing dome, where the necrotic segment lies, spans this far (deg) either side of the vertical
through the head's centre (the dome collapse is read over, on MRI and radiographs): the acetabular roof
(sourcil) covers the head from its lateral edge (centre-edge angle 25-40 deg) to its medial end about as far
medially. Its interior must be in the image to read the head: a margin there cannot be missed for want of
image."""
EDGE_CLEARANCE_MM = (BAR_SIDE_SCALES + 1.0) * max(BAND_SCALES_MM)
"""The band response at scale s uses the image up to ``(BAR_SIDE_SCALES + 1) s`` from a pixel (its sides,
``BAR_SIDE_SCALES`` scales away, plus the smoothing); beyond the edge there is no image (only its border
repeated, which makes stripes across the edge). A pixel is read at the scales whose reach lies in the image;
the dome's interior must be this far (the largest scale's reach, mm) inside the edge, so that every scale
reads it."""
READ_CLEARANCE_MM = (BAR_SIDE_SCALES + 1.0) * min(BAND_SCALES_MM)
"""Pixels nearer the image edge than this (mm, the smallest scale's reach) are not read at all."""


@dataclass(frozen=True)
class RadiographicLesion:
    """The lesion's radiographic finding in one head on one radiograph.

    Attributes
    ----------
    found : bool or None
        A sclerotic margin or a lucency was found; False when resolved and absent; None when the head
        could not be read (``reason`` says why).
    kind : str or None
        ``"sclerotic margin"``, ``"lucency"`` or ``"sclerotic margin and lucency"``; None when absent.
    contrast : float or None
        The strongest finding's contrast in robust SDs of the head's own texture (ridge response for a
        margin, darkness for a lucency); None when nothing stood out.
    band_length_mm : float
        Length of the longest margin found along its line, mm (0 when none).
    lucent_area_mm2 : float
        Area of the largest lucency, mm2 (0 when none).
    resolved : bool
        The head's interior could be read (the finding is trustworthy either way).
    reason : str or None
        Why not resolved; or, when resolved, a caveat (the scale assumed).
    mri_margin : dict or None
        The test along the outline of the lesion the MRI of the same visit shows
        (:mod:`onfh_imaging.measure.radiograph_prior`): ``tested``, and its figures or why not; None when
        no such test was made.
    """

    found: bool | None
    kind: str | None = None
    contrast: float | None = None
    band_length_mm: float = 0.0
    lucent_area_mm2: float = 0.0
    resolved: bool = False
    reason: str | None = None
    mri_margin: dict[str, Any] | None = None

    def describe(self, series: str) -> str:
        """The finding in words on ``series``, with its contrast.

        Parameters
        ----------
        series : str
            Name of the radiograph (series) the finding was read on.

        Returns
        -------
        str
            The kind (or "no radiographic finding"), the series and, when known, the contrast in SDs
            of the head's texture.
        """
        contrast = "" if self.contrast is None else f", contrast {self.contrast:.1f} SD of the head's texture"
        test = self.mri_margin or {}
        if self.found and test.get("found"):
            contrast += (f", {test['z']:.1f} SD above the same curve turned elsewhere in the head "
                         f"(limit {test['z_limit']:.1f}), outline from {test.get('mr_series')}")
        return f"{self.kind or 'no radiographic finding'} on {series}{contrast}"

    @classmethod
    def from_dict(cls, block: Any) -> RadiographicLesion:
        """The finding from its JSON block (:meth:`to_dict`); not read when the block is missing.

        Parameters
        ----------
        block : dict or Any
            The ``radiographic_lesion`` block; anything but a dict gives an unresolved finding.

        Returns
        -------
        RadiographicLesion
            The finding; ``found`` is None unless the block says it was resolved.
        """
        if not isinstance(block, dict):
            return _not_resolved("the radiograph's measurement holds no radiographic lesion finding")
        resolved = bool(block.get("resolved"))
        found = block.get("finding") if resolved else None
        contrast = block.get("contrast_sd")
        return cls(found=None if found is None else bool(found), kind=block.get("kind"),
                   contrast=None if contrast is None else float(contrast),
                   band_length_mm=float(block.get("band_length_mm") or 0.0),
                   lucent_area_mm2=float(block.get("lucent_area_mm2") or 0.0), resolved=resolved,
                   reason=block.get("reason") or (None if resolved else "not read"),
                   mri_margin=block.get("mri_margin") if isinstance(block.get("mri_margin"), dict) else None)

    def to_dict(self) -> dict[str, Any]:
        """The ``radiographic_lesion`` block of a radiograph hip's JSON."""
        return {"finding": self.found, "kind": self.kind,
                "contrast_sd": None if self.contrast is None else round(float(self.contrast), 2),
                "band_length_mm": round(float(self.band_length_mm), 1),
                "lucent_area_mm2": round(float(self.lucent_area_mm2), 1),
                "resolved": self.resolved, "reason": self.reason, "mri_margin": self.mri_margin}


def _not_resolved(reason: str) -> RadiographicLesion:
    return RadiographicLesion(found=None, resolved=False, reason=reason)


def _head_grid(contour: HeadContour2D, rx: Radiograph, px_mm: tuple[float, float], reach_mm: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The image resampled at ``WORK_PIXEL_MM`` around the head: (pixels, radius mm, outline radius mm,
    angle rad, distance mm inside the image's edges, negative outside) of every grid point; the angle is
    the image angle (0 toward row 0, positive toward increasing column)."""
    r0, c0 = contour.center_px
    n = int(np.ceil(reach_mm / WORK_PIXEL_MM))
    offs = np.arange(-n, n + 1) * WORK_PIXEL_MM
    dy, dx = np.meshgrid(offs, offs, indexing="ij")  # mm: rows down, columns right
    rows, cols = r0 + dy / px_mm[0], c0 + dx / px_mm[1]
    img = ndimage.map_coordinates(np.asarray(rx.pixels, float), [rows, cols], order=1, mode="nearest")
    h, w = rx.shape
    edge_mm = np.minimum(np.minimum(rows, h - 1 - rows) * px_mm[0], np.minimum(cols, w - 1 - cols) * px_mm[1])
    radius = np.hypot(dy, dx)
    angle = np.arctan2(dx, -dy)
    outline = _outline_mm(contour, px_mm)
    k = np.round((np.degrees(angle) - contour.angles_deg[0]) / np.median(np.diff(contour.angles_deg))).astype(int)
    return img, radius, outline[k % len(outline)], angle, edge_mm


def _outline_mm(contour: HeadContour2D, px_mm: tuple[float, float]) -> np.ndarray:
    """Radius (mm) of the head's circle at each of the contour's angles. The circle, not the traced edge:
    the traced edge has gaps (the neck, overlapping bone) and a depression moves it by millimetres only."""
    a = np.radians(contour.angles_deg)
    return contour.radius_px * np.hypot(np.cos(a) * px_mm[0], np.sin(a) * px_mm[1])


def _ridge_sigmas(img: np.ndarray, interior: np.ndarray, edge_mm: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band response in robust SDs of the head's texture, normal angle, scale mm) per pixel, the best
    scale's.

    At each scale the Hessian gives the direction across a ridge; the band response is how much the
    pixel (image smoothed over half the scale) is brighter than the *brighter* of its two sides,
    ``BAR_SIDE_SCALES`` scales away across the ridge: a band is denser than the bone on both sides, the
    bright side of an edge (overlapping bone) is not. A pixel answers at the scales whose reach
    (``BAR_SIDE_SCALES`` + 1 scales) lies inside the image's edges (``edge_mm``, mm).
    """
    best = np.zeros(img.shape)
    normal = np.zeros(img.shape)
    scale_mm = np.full(img.shape, BAND_SCALES_MM[0])
    rows, cols = np.mgrid[0:img.shape[0], 0:img.shape[1]].astype(float)
    for s_mm in BAND_SCALES_MM:
        s = s_mm / WORK_PIXEL_MM
        hrr = ndimage.gaussian_filter(img, s, order=(2, 0))
        hcc = ndimage.gaussian_filter(img, s, order=(0, 2))
        hrc = ndimage.gaussian_filter(img, s, order=(1, 1))
        mean, half = 0.5 * (hrr + hcc), np.sqrt(0.25 * (hrr - hcc) ** 2 + hrc**2)
        lam1, lam2 = mean - half, mean + half  # lam1 most negative across a bright ridge
        # the eigenvector of lam2 lies at 0.5 atan2(2 hrc, hrr - hcc) from the row axis; lam1's (across the
        # ridge) is perpendicular to it
        theta = 0.5 * np.arctan2(2 * hrc, hrr - hcc) + 0.5 * np.pi
        sm = ndimage.gaussian_filter(img, 0.5 * s)
        dr, dc = BAR_SIDE_SCALES * s * np.cos(theta), BAR_SIDE_SCALES * s * np.sin(theta)
        side_a = ndimage.map_coordinates(sm, [rows + dr, cols + dc], order=1, mode="nearest")
        side_b = ndimage.map_coordinates(sm, [rows - dr, cols - dc], order=1, mode="nearest")
        bar = sm - np.maximum(side_a, side_b)
        reached = edge_mm >= (BAR_SIDE_SCALES + 1.0) * s_mm
        # the texture's scale: the same second difference with the sides averaged (a linear trend, as on
        # the projected sphere's slopes, cancels), robust over the head's interior
        scale = robust_scale((sm - 0.5 * (side_a + side_b))[interior & reached])
        if scale <= 0:
            continue
        z = np.where((lam1 < 0) & (np.abs(lam2) < np.abs(lam1)) & reached, bar / scale, 0.0)
        take = z > best
        best = np.where(take, z, best)
        normal = np.where(take, theta, normal)
        scale_mm = np.where(take, s_mm, scale_mm)
    return best, normal, scale_mm


def _centreline(z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """True where the ridge response is a maximum across the ridge (along its normal): the line's centre,
    one pixel wide, so that lines crossing meet in a pixel instead of a blurred patch."""
    rows, cols = np.mgrid[0:z.shape[0], 0:z.shape[1]].astype(float)
    dr, dc = np.cos(theta), np.sin(theta)
    ahead = ndimage.map_coordinates(z, [rows + dr, cols + dc], order=1, mode="nearest")
    behind = ndimage.map_coordinates(z, [rows - dr, cols - dc], order=1, mode="nearest")
    return (z >= ahead) & (z >= behind)


def _coherent_lines(mask: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, int]:
    """Lines of ridge pixels: two centreline pixels up to ``LINK_GAP_MM`` apart join when their ridge
    directions differ by less than ``LINE_COHERENCE_DEG`` and the step between them runs along the ridge
    (within the same angle), so lines crossing at a junction stay apart, a curved band stays whole and a
    band broken by trabecular texture is bridged. Returns (labels 1..n, 0 outside the mask; n)."""
    rows, cols = np.nonzero(mask)
    labels = np.zeros(mask.shape, dtype=np.int64)
    if len(rows) < 2:
        labels[rows, cols] = 1
        return labels, len(rows)
    pts = np.column_stack([rows, cols]).astype(float)
    pairs = cKDTree(pts).query_pairs(LINK_GAP_MM / WORK_PIXEL_MM, output_type="ndarray")
    a, b = pairs[:, 0], pairs[:, 1]
    t = theta[rows, cols]
    limit = np.radians(LINE_COHERENCE_DEG)
    same = np.abs(((t[a] - t[b] + np.pi / 2) % np.pi) - np.pi / 2) < limit
    step = pts[b] - pts[a]
    step /= np.linalg.norm(step, axis=1)[:, None]
    # the normal is across the ridge: a step along the ridge is nearly perpendicular to it
    across = np.abs(step[:, 0] * np.cos(t[a]) + step[:, 1] * np.sin(t[a]))
    join = same & (across < np.sin(limit) + (np.hypot(*(pts[b] - pts[a]).T) < 1.5))
    graph = coo_matrix((np.ones(int(join.sum())), (a[join], b[join])), shape=(len(rows), len(rows)))
    n, lab = connected_components(graph, directed=False)
    labels[rows, cols] = lab + 1
    return labels, int(n)


def _continues_outside(rr: np.ndarray, cc: np.ndarray, strong: np.ndarray, radius: np.ndarray,
                       outline: np.ndarray, in_image: np.ndarray) -> bool:
    """Whether a line (pixels ``rr, cc`` of the working grid) goes on beyond the head's outline: followed
    straight on from each end along the end's direction (whether the line ends near the outline or was
    broken inside the head by noise or a crossing), the ridge mask ``strong`` (dilated by the
    path tolerance) covers most of the path beyond the outline. A margin ends at the articular surface; an
    acetabular wall, the teardrop or the neck's trabeculae cross it and go on. A path beyond the outline
    that leaves the image (``in_image`` False) cannot be followed: the line is taken to go on."""
    pts = np.column_stack([rr, cc]).astype(float)
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    along = (pts - centre) @ vt[0]
    end_px = END_DIRECTION_MM / WORK_PIXEL_MM
    for sign in (-1.0, 1.0):
        tip = int(np.argmax(sign * along))
        near = sign * along >= sign * along[tip] - end_px
        directions = [vt[0] * sign]  # the line's own axis, and the direction of its last millimetres
        if near.sum() >= 3:
            _, _, ve = np.linalg.svd(pts[near] - pts[near].mean(axis=0), full_matrices=False)
            directions.append(ve[0] * np.sign(ve[0] @ (pts[tip] - centre) or 1.0))
        depth = outline[rr[tip], cc[tip]] - radius[rr[tip], cc[tip]]  # from the end to the outline, at least
        steps = np.arange(1, int((2.0 * max(depth, 0.0) + OUTSIDE_BAND_MM) / WORK_PIXEL_MM))
        for d in directions:
            path = pts[tip][None] + steps[:, None] * d[None]
            ok = (path[:, 0] >= 0) & (path[:, 0] <= strong.shape[0] - 1) & (path[:, 1] >= 0) & \
                (path[:, 1] <= strong.shape[1] - 1)
            pr, pc = np.round(path[ok]).astype(int).T
            beyond = radius[pr, pc] > outline[pr, pc] + RIM_CLEARANCE_MM
            if not in_image[pr[beyond], pc[beyond]].all():
                return True  # its course beyond the outline is not in the image
            if beyond.sum() * WORK_PIXEL_MM >= MIN_OUTSIDE_PATH_MM and \
                    np.mean(strong[pr[beyond], pc[beyond]]) >= OUTSIDE_COVER:
                return True
    return False


def _bands(img: np.ndarray, radius: np.ndarray, outline: np.ndarray, angle: np.ndarray,
           interior: np.ndarray, edge_mm: np.ndarray) -> tuple[float, float]:
    """(contrast, length mm) of the strongest sclerotic margin; (0, 0) when none."""
    z, theta, _ = _ridge_sigmas(img, interior, edge_mm)
    # a ridge along the outline has its normal (across the ridge) radial; the outward radial direction at
    # image angle a is (row, col) = (-cos a, sin a)
    radial = np.arctan2(np.sin(angle), -np.cos(angle))
    normal_vs_radial = np.abs(((theta - radial + np.pi / 2) % np.pi) - np.pi / 2)
    tangential = normal_vs_radial < np.radians(TANGENTIAL_DEG)
    near_or_out = radius > outline - RIM_MARGIN_MM
    ridge = (z > RIDGE_SIGMAS) & ~(near_or_out & tangential) & (edge_mm >= READ_CLEARANCE_MM)
    keep = ridge & (radius < outline + OUTSIDE_BAND_MM) & _centreline(z, theta)
    strong = ndimage.binary_dilation(ridge, iterations=max(1, round(LINE_PATH_TOLERANCE_MM / WORK_PIXEL_MM)))
    labels, n = _coherent_lines(keep, theta)
    centre_mm = (np.array(img.shape, dtype=float) - 1.0) / 2.0 * WORK_PIXEL_MM  # the head's centre
    best = (0.0, 0.0)
    if n == 0:
        return best
    rows, cols = np.nonzero(keep)
    lab = labels[rows, cols]
    for k in range(1, n + 1):
        sel = lab == k
        if sel.sum() * WORK_PIXEL_MM**2 < MIN_BAND_LENGTH_MM * WORK_PIXEL_MM:
            continue
        rr, cc = rows[sel], cols[sel]
        inside = interior[rr, cc]
        if not inside.any():
            continue
        if np.max(radius[rr, cc] - outline[rr, cc]) > MAX_OUTSIDE_REACH_MM or \
                _continues_outside(rr, cc, strong, radius, outline, edge_mm >= READ_CLEARANCE_MM):
            continue  # continues beyond the outline: another bone's line
        pts = np.column_stack([rr[inside], cc[inside]]).astype(float) * WORK_PIXEL_MM
        if len(pts) < 3:
            continue
        centred = pts - pts.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        along = centred @ vt[0]
        length = float(along.max() - along.min())
        if length < MIN_BAND_LENGTH_MM:
            continue
        if pts[:, 0].mean() - centre_mm[0] > -MARGIN_ABOVE_CENTRE_MM:
            continue  # below the head's centre: not the margin of a segment under the dome
        across = centred @ vt[1]
        if vt[1][0] > 0:  # orient the across axis toward the dome (image-up: decreasing row)
            across = -across
        mid = np.abs(along) < 0.25 * length / 2
        ends = np.abs(along) > 0.75 * length / 2
        if mid.any() and ends.any() and np.median(across[mid]) - np.median(across[ends]) > MAX_CONVEX_SAGITTA_MM:
            continue  # convex toward the dome
        contrast = float(np.median(z[rr[inside], cc[inside]]))
        if contrast >= BAND_MIN_CONTRAST and contrast > best[0]:
            best = (contrast, length)
    return best


def _lucency(img: np.ndarray, interior: np.ndarray, judged: np.ndarray) -> tuple[float, float]:
    """(contrast, area mm2) of the largest compact lucency among the ``judged`` pixels of the interior;
    (0, 0) when none."""
    w = interior.astype(float)
    s = TREND_MM / WORK_PIXEL_MM
    trend = ndimage.gaussian_filter(img * w, s) / np.maximum(ndimage.gaussian_filter(w, s), 1e-6)
    resid = ndimage.gaussian_filter((img - trend) * w, LUCENCY_SMOOTH_MM / WORK_PIXEL_MM) / np.maximum(
        ndimage.gaussian_filter(w, LUCENCY_SMOOTH_MM / WORK_PIXEL_MM), 1e-6)
    vals = resid[interior]
    centre = float(np.median(vals))
    scale = robust_scale(vals, centre)
    if scale <= 0:
        return 0.0, 0.0
    z = (centre - resid) / scale
    labels, n = ndimage.label((z > LUCENCY_SIGMAS) & interior & judged)
    best = (0.0, 0.0)
    for k in range(1, n + 1):
        rr, cc = np.nonzero(labels == k)
        area = len(rr) * WORK_PIXEL_MM**2
        if area < MIN_LUCENCY_AREA_MM2:
            continue
        pts = np.column_stack([rr, cc]).astype(float) * WORK_PIXEL_MM
        sv = np.linalg.svd(pts - pts.mean(axis=0), compute_uv=False)
        width = 4.0 * sv[-1] / np.sqrt(len(pts))  # 4 SDs across the narrower axis
        if width < MIN_LUCENCY_WIDTH_MM:
            continue
        if area > best[1]:
            best = (float(np.median(z[rr, cc])), area)
    return best


def _edge_cut(interior: np.ndarray, angle: np.ndarray, edge_mm: np.ndarray) -> str | None:
    """How the image edge cuts the head's interior (grid masks of :func:`_head_grid`): ``"dome"`` when the
    interior within ``DOME_HALF_ANGLE_DEG`` of the vertical is not wholly ``EDGE_CLEARANCE_MM`` inside the
    image, a note when the rest of the interior is cut, None when the whole interior is clear."""
    dome = interior & (np.abs(angle) <= np.radians(DOME_HALF_ANGLE_DEG))
    if not dome.any() or np.min(edge_mm[dome]) < EDGE_CLEARANCE_MM:
        return "dome"
    if np.min(edge_mm[interior]) < EDGE_CLEARANCE_MM:
        return "the image edge cuts the head outside its dome: read on the part of the head in the image"
    return None


def radiographic_lesion(contour: HeadContour2D, rx: Radiograph, *, outline_problems: Sequence[str] = (),
                        outline_checks: Sequence[QualityCheck] = ()) -> RadiographicLesion:
    """Look for the necrotic lesion's radiographic finding (sclerotic margin, lucency) inside a head.

    Parameters
    ----------
    contour : HeadContour2D
        The head's traced outline (:func:`onfh_imaging.segment.xray.find_femoral_heads_2d`).
    rx : Radiograph
        The radiograph it was traced on, bone bright; its pixel size at the patient, if known.
    outline_problems : sequence of str
        Reasons of the outline's failed quality checks: the head is not read when any failed (an
        outline off the head would make the statistics of some other bone). A head cut by the image
        edge is judged here instead: it is read when its interior under the dome is in the image.
    outline_checks : sequence of QualityCheck
        The outline's quality checks: the failed ones of ``CIRCLE_CHECKS`` are added to
        ``outline_problems``.

    Returns
    -------
    RadiographicLesion
        ``found`` True/False when the head's interior was read, None (with the reason) when not.
    """
    problems = [*outline_problems, *(c.reason for c in outline_checks if not c.passed and c.name in CIRCLE_CHECKS)]
    if problems:
        return _not_resolved("the head's outline failed its checks (" + "; ".join(problems) + ")")
    note = None
    if rx.pixel_size_mm is not None:
        px_mm = (float(rx.pixel_size_mm[0]), float(rx.pixel_size_mm[1]))
    else:
        size = TYPICAL_HEAD_RADIUS_MM / contour.radius_px
        px_mm = (size, size)
        note = f"scale assumed: the pixel size is unknown, the head's radius taken as {TYPICAL_HEAD_RADIUS_MM:g} mm"
    outline = _outline_mm(contour, px_mm)
    reach = float(np.max(outline)) + OUTSIDE_BAND_MM + 3 * max(BAND_SCALES_MM)
    img, radius, outline_at, angle, edge_mm = _head_grid(contour, rx, px_mm, reach)
    if float(np.min(outline)) <= RIM_MARGIN_MM:
        return _not_resolved("the head's outline is too small to hold an interior")
    inside_rim = radius < outline_at - RIM_MARGIN_MM
    cut = _edge_cut(inside_rim, angle, edge_mm)
    if cut == "dome":
        return _not_resolved("the head is cut by the image edge: its interior under the dome, where a margin "
                             "lies, is not wholly in the image")
    if cut:
        note = cut if note is None else f"{note}; {cut}"
    interior = inside_rim & (edge_mm >= READ_CLEARANCE_MM)
    if interior.sum() < MIN_INTERIOR_PX:
        return _not_resolved("too few pixels inside the head's outline for its own statistics")
    band_contrast, band_length = _bands(img, radius, outline_at, angle, interior, edge_mm)
    lucent_contrast, lucent_area = _lucency(img, interior, edge_mm >= LUCENCY_EDGE_CLEARANCE_MM)
    kinds = [k for k, c in (("sclerotic margin", band_contrast), ("lucency", lucent_contrast)) if c > 0]
    return RadiographicLesion(
        found=bool(kinds), kind=" and ".join(kinds) if kinds else None,
        contrast=max(band_contrast, lucent_contrast) if kinds else None,
        band_length_mm=band_length, lucent_area_mm2=lucent_area, resolved=True, reason=note)


__all__ = ["BAND_MIN_CONTRAST", "CIRCLE_CHECKS", "MIN_BAND_LENGTH_MM", "OWN_EDGE_CHECK", "RadiographicLesion",
           "radiographic_lesion"]

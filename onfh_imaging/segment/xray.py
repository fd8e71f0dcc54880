"""Femoral heads on projection radiographs: where each head is and the outline of its articular surface.

On a real hip radiograph the head overlaps the acetabulum, the teardrop and the pelvis, trabecular
texture crosses it, its outline is a faint arc of cortex and the image may cut it at any side. A head
is found in three steps:

1. **Search** (:mod:`onfh_imaging.segment.xray_search`): every circle of a grid of centres and radii
   (the anatomical ``HEAD_RADIUS_RANGE_MM`` at the patient, magnified on a detector-plane pixel size,
   or, without a pixel size, the radii such a head takes over fields of view of
   ``ASSUMED_FIELD_OF_VIEW_MM``) is scored by how consistently the image falls outward across it, on
   the gradient normalised by its local strength; circles cut by the image edge are scored on the part
   inside.
2. **Trace** (:mod:`onfh_imaging.segment.xray_outline`): from each candidate circle, the rim is the
   closed, smooth path of strongest outward falls in an annulus around it (so that it follows the
   cortex through texture and is not pulled onto the acetabular roof or the teardrop); the circle is
   re-fitted to the traced rim and the rim traced again. A ray's rim counts as seen where its edge is strong on
   its own, or where the edge's fall pooled along the path around it stands out from what the same tracer
   finds inside the head (:mod:`onfh_imaging.segment.xray_rim`): a faint but continuous cortex is traced.
3. **Verify**: a head's rim is traced over at least half of its outline inside the image, its widest
   gap is the neck (plus overlap and the image edge), and one circle explains it; the best supported
   candidate is the head (two on a pelvis: a pair of similar radius, at the same height, across the
   pelvis). A head articulates (:mod:`onfh_imaging.segment.xray_anatomy`): its dome is in the image and
   capped by the acetabular roof across the joint space; circles under a clear roof are traced too, and
   of two concentric arcs the head is the inner one. A hand-placed seed replaces steps 1 and 2's search: the head is traced from it.

The side comes from :mod:`onfh_imaging.segment.xray_sides` (PatientOrientation, laterality, position
or the neck's direction).

The contour that is measured is the head's outer silhouette, the outline the Mose circles are drawn
on (:mod:`onfh_imaging.segment.xray_silhouette`). A depressed segment seen on a radiograph shows two contours: a faint outer one, where rays graze
the intact bone around the depression, and a stronger inner one (the depression's floor seen
side-on, or the depressed plate seen at a slant), the double contour. Per angle the silhouette is
where the profile, followed from outside inward, first leaves the soft-tissue level by a few noise
standard deviations and stays above it; the edge is then placed sub-pixel by fitting the projected
chord of a sphere's rim, ``b + k sqrt(R - r)`` blurred, and regularised over angle by a running
median. It is the contour wherever it is a rim of the traced outline (``SILHOUETTE_AGREEMENT_MM``);
where bone lies beyond the rim (the head over the pelvis) the traced outline is. A second
bright-to-dark step inside the silhouette is kept as the inner contour.

Image angles are measured from image-up (toward row 0), positive toward increasing column, in
degrees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from onfh_imaging.errors import SegmentationError
from onfh_imaging.fitting import robust_scale
from onfh_imaging.geometry import Radiograph
from onfh_imaging.segment.anatomy import HEAD_RADIUS_RANGE_MM
from onfh_imaging.segment.xray_anatomy import (
    ROOF_EXPLAINS_OVERLAP,
    articular_weight,
    beneath_the_dome,
    dome_evidence,
    inside_the_head,
    largest_gap,
    roof_steps,
    superior_angle_deg,
    under_its_roof,
)
from onfh_imaging.segment.xray_rim import null_falls, path_edges, pooled_rim
from onfh_imaging.segment.xray_search import (
    MIN_ARC_IN_IMAGE,
    ROOF_TO_HEAD,
    best_radius_at,
    head_candidates,
    normalised_gradient,
    roof_candidates,
)
from onfh_imaging.segment.xray_sides import assign_sides
from onfh_imaging.segment.xray_silhouette import (
    SILHOUETTE_INNER_MM,
    _outline,
    _radial_profiles,
    _silhouette,
    _subpixel_extremum,
)

PROJECTION_MAGNIFICATION_RANGE = (1.0, 1.3)
"""Magnification of the hip's plane on the detector (source-to-detector over source-to-hip distance): at
least 1 for a divergent beam; the hip lies 15-25 cm before the detector at 100-120 cm from the source (1.1-1.25),
up to 1.3 for a large patient. A detector-plane pixel size (``ImagerPixelSpacing`` without a magnification
factor) sees the head this much larger than at the patient."""
# The projection of a sphere (or a spherical shell's outer surface) falls to the background as
# sqrt(R - r); after Gaussian smoothing of width sigma its steepest point lies 0.76 sigma inside the true
# rim (a property of that profile). The contour is corrected by this amount for the smoothing applied.
SPHERE_EDGE_SHIFT = 0.76
# Without a pixel size, the field of view of a hip or pelvis radiograph is assumed to lie in this range:
# from a crop just around one hip joint (a 60 mm head and its joint) to a whole pelvis on a 43 cm detector.
ASSUMED_FIELD_OF_VIEW_MM = (70.0, 450.0)
OUTLINE_SCALE_MM = 0.5
"""Scale (mm) at which the outline's path is traced: the width of the cortical edge's blur on a hip
radiograph, above most of the trabecular texture's fine lines."""
RIM_MIN_SNR = 4.0
"""A measured head edge is at least this many noise SDs (of the radial derivative over the whole
annulus) strong."""
RIM_INNER_MM = 6.5
RIM_OUTER_MM = 2.5
"""The rim is traced from 6.5 mm inside to 2.5 mm outside the circle traced from: a collapsed segment's floor
(up to about 5 mm deep) and the search's placement error inside, the joint space's near part outside."""
RIM_TRACE_SNR = 3.0
"""An edge this strong counts toward the share of the rim traced when a circle is verified as a head
(a faint arc of cortex through overlapping pelvis is still the head's), but is not measured."""
VERIFY_RMS = 0.02
VERIFY_SHIFT = 0.05
"""A traced head's support (the fraction of its rim traced, times the fraction with an edge strong enough
to measure) falls by 1/e when the circle fitted to the rim has a robust residual (1.48 median absolute)
of 2 % of the radius, or moves by 5 % of the radius from the circle traced from: a head's rim is one
circle, the edges around a texture blob or another bone are not."""
RECENTRE_ROUNDS = 3
"""Times the circle is re-fitted to the traced rim and the rim traced again."""
RECENTRE_MAX_SHIFT = 0.15
"""A re-fit may move the centre or change the radius by at most 15 % of the radius (3.6 mm on a 24 mm
head): the search's circle is a head's, only roughly placed; a larger move is another structure."""
TYPICAL_HEAD_RADIUS_MM = 24.0
"""Radius of an adult femoral head at the patient (a 48 mm diameter, mid-way in the adult range of both sexes,
within ``HEAD_RADIUS_RANGE_MM``): without a pixel size the
rim search's mm windows are scaled as if the head found had this radius."""
GRADIENT_MM = 0.4
"""Scale (mm) of the gradient the head circle is refined on: the cortex's edge, below trabecular size. As in
the search, the gradient is normalised by its local strength and each angle counts ``tanh`` of its outward
fall, so the faint arc of the head's cortex weighs as much as the ilioischial line or the teardrop next to
it (on the raw gradient those strong lines pull the circle off the head)."""
SEARCH_CANDIDATES = 12
"""Circles of each octave of the search that are traced; the best supported is the head. A pelvis view
holds two heads among as many rounded bright structures (pubis, ischium, sacrum, trochanters)."""
ROOF_CANDIDATES = 3
"""Heads under the best acetabular roofs of each octave that are traced as well (a faint rim under a clear roof)."""
MIN_RIM_TRACED = 0.5
"""A head's rim is traced over at least half of its outline inside the image: the neck takes a
quarter of the circle and overlapping bone may hide some more."""
MIN_RIM_TRACED_UNDER_ROOF = 0.4
"""... or over at least 40 % of it (144 deg of a whole circle, more than the 120 deg dome, so the circle is
fixed by more than the arc under the roof) when at least a tenth of its dome is capped by an acetabular roof
across the joint space: the acetabulum is then over the head, and where the head overlaps the teardrop and
the acetabular walls (a further quarter to a third of its outline on an AP view) its faint rim is lost among
their edges."""
DUPLICATE_RADII = 0.2
"""Search candidates whose centres lie within a fifth of a radius of one already traced, with a radius within a
fifth of its, are that circle, when its trace stayed on it (ended within that fifth): a trace that moved off onto
another structure (the roof, a trabecular arc) left the circles around it untraced, the head among them."""
PAIR_RADIUS_RATIO = 0.15
"""A second head is the other hip: its radius within 15 % of the first (left and right heads differ by a
few percent, plus the beam's different magnification at the two hips)."""
PAIR_HEIGHT_RADII = 0.6
"""... at about the same height: centres within 0.6 radius in rows (pelvic tilt and obliquity)."""
PAIR_MIN_SEPARATION_RADII = 4.0
"""... and across the pelvis: centres at least 4 radii apart in columns (about 100 mm; adult heads are
150-200 mm apart)."""
MAX_GAP_DEG = 200.0
"""The widest untraced arc of a head: the neck (about 90 deg) and overlap or a cut by the image edge."""


@dataclass(frozen=True)
class HeadContour2D:
    """One femoral head's outline on a radiograph, in pixels of the image as stored.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"`` (the patient's hip).
    side_basis : str
        How the side was decided (image laterality, position in the image, neck direction).
    center_px : (float, float)
        Centre (row, column) the radial profiles were taken from.
    radius_px : float
        Radius of the detected circle, pixels.
    angles_deg : ndarray
        Image angle of each radial profile.
    radii_px : ndarray
        Distance (pixels) from ``center_px`` to the head's outer silhouette at each angle; NaN where no
        edge was found.
    strength : ndarray
        Edge contrast at each angle, in multiples of the profile noise.
    roof_radii_px : ndarray
        Distance (pixels) to the acetabular roof's inner edge at each angle; NaN where none.
    neck_angle_deg : float or None
        Image angle of the neck (the middle of the widest gap in the contour).
    score : float
        Fraction of angles with a head edge.
    inner_radii_px : ndarray or None
        Distance (pixels) to a second bright-to-dark edge inside the silhouette (a double contour) at
        each angle; NaN where none.
    arc_in_image : float
        Fraction of the head's circle inside the image (1 unless the image edge cuts the head).
    placed_by_hand : bool
        The head was delineated from a hand-placed seed, not found by the search.
    image_shape : (int, int) or None
        (rows, columns) of the image, to tell which angles of the outline lie inside it.
    noise : float
        Noise (robust SD) of the radial derivative the head edge was judged against, normalised
        intensity per pixel; ``strength`` is in multiples of it.
    """

    side: str
    side_basis: str
    center_px: tuple[float, float]
    radius_px: float
    angles_deg: np.ndarray
    radii_px: np.ndarray
    strength: np.ndarray
    roof_radii_px: np.ndarray
    neck_angle_deg: float | None
    score: float
    inner_radii_px: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    arc_in_image: float = 1.0
    placed_by_hand: bool = False
    noise: float = float("nan")
    image_shape: tuple[int, int] | None = None

    def in_image(self, radius_px: float | None = None) -> np.ndarray:
        """Which angles of the outline lie inside the image, on a circle about ``center_px``.

        Parameters
        ----------
        radius_px : float, optional
            Radius of the circle tested, pixels (default the head's ``radius_px``).

        Returns
        -------
        ndarray of bool, shape (N,)
            True at each angle of ``angles_deg`` whose point lies inside the image (all True when
            ``image_shape`` is unknown).
        """
        if self.image_shape is None:
            return np.ones(len(self.angles_deg), dtype=bool)
        r = self.radius_px if radius_px is None else radius_px
        a = np.radians(self.angles_deg)
        rows, cols = self.center_px[0] - r * np.cos(a), self.center_px[1] + r * np.sin(a)
        return (rows >= 0) & (rows <= self.image_shape[0] - 1) & (cols >= 0) & (cols <= self.image_shape[1] - 1)

    @property
    def valid(self) -> np.ndarray:
        """True at angles where the head edge was found."""
        return np.isfinite(self.radii_px)

    def points_px(self, radii: np.ndarray | None = None) -> np.ndarray:
        """Image positions of the contour.

        Parameters
        ----------
        radii : ndarray, shape (N,), optional
            Distance (pixels) from ``center_px`` at each angle of ``angles_deg`` (default the head's
            silhouette ``radii_px``); NaN where none.

        Returns
        -------
        ndarray, shape (N, 2)
            (row, column) of each point, pixels; NaN where the radius is.
        """
        r = self.radii_px if radii is None else radii
        a = np.radians(self.angles_deg)
        return np.column_stack([self.center_px[0] - r * np.cos(a), self.center_px[1] + r * np.sin(a)])


# --- image helpers ----------------------------------------------------------------------------------
def _normalised(pixels: np.ndarray) -> np.ndarray:
    img = np.asarray(pixels, dtype=float)
    lo, hi = np.percentile(img, [0.5, 99.5])
    if not np.isfinite(lo) or hi <= lo:
        raise SegmentationError("the image has no contrast (it is uniform)")
    return (img - lo) / (hi - lo)


def _nominal_pixel_mm(rx: Radiograph) -> tuple[float, float]:
    """(smallest, largest) plausible pixel size at the patient, mm."""
    if rx.pixel_size_mm is not None:
        p = float(np.mean(rx.pixel_size_mm))
        return p, p
    width = max(rx.shape)
    return ASSUMED_FIELD_OF_VIEW_MM[0] / width, ASSUMED_FIELD_OF_VIEW_MM[1] / width


def _edges_along(img: np.ndarray, center, angles_deg, expected_px: float, inner_px: float, outer_px: float,
                 px_mm: float) -> dict[str, np.ndarray]:
    """Head edge (bright inside to dark outside) and acetabular roof edge along radial profiles."""
    step = 0.25
    roof_reach = 9.0 / px_mm
    radii, prof = _radial_profiles(img, center, angles_deg, expected_px - inner_px - 2.0,
                                   expected_px + outer_px + roof_reach + 2.0, step,
                                   spread_deg=float(np.degrees(0.7 / px_mm / max(expected_px, 1.0))))
    sigma_px = max(1.0, 0.2 / px_mm)
    win = (radii >= expected_px - inner_px) & (radii <= expected_px + outer_px)
    # the outline: one closed path through the outward falls at the scale of the cortex's edge, then the
    # steepest fine-scale fall within that scale of the path
    arc = max(expected_px, 1.0) * float(np.radians(np.median(np.diff(angles_deg))))
    pe = path_edges(prof, radii, win, step, sigma_px, OUTLINE_SCALE_MM / px_mm, arc)
    path, k, deriv, noise = pe["path"], pe["k"], pe["deriv"], pe["noise"]
    # an edge is present on the ray when the path or the floor of a depression inside it falls steeply (the
    # faint outer rim over a depressed segment is weaker than the floor's edge)
    reach = max(sigma_px, OUTLINE_SCALE_MM / px_mm)
    below = ((radii[None, :] >= radii[path][:, None] - SILHOUETTE_INNER_MM / px_mm)
             & (radii[None, :] <= radii[path][:, None] + reach))
    head_strength = -np.where(below & win[None, :], deriv, np.inf).min(axis=1) / noise
    head_r = radii[0] + step * _subpixel_extremum(-deriv, k) + SPHERE_EDGE_SHIFT * sigma_px
    # roof: the strongest dark-to-bright step beyond the head edge, with a dark gap between
    beyond = (radii[None, :] > head_r[:, None] + 0.4 / px_mm) & (radii[None, :] < head_r[:, None] + roof_reach)
    d_roof = np.where(beyond, deriv, -np.inf)
    kr = np.argmax(d_roof, axis=1)
    roof_strength = deriv[np.arange(len(kr)), kr] / noise
    roof_r = radii[0] + step * _subpixel_extremum(deriv, kr) + SPHERE_EDGE_SHIFT * sigma_px
    return {"head_r": head_r, "head_strength": head_strength, "roof_r": roof_r, "roof_strength": roof_strength,
            "noise": np.full(len(k), noise), "fall": pe["fall"]}


def _fit_circle(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Algebraic (Kasa) circle fit to points (N, 2): centre and radius."""
    mean = points.mean(axis=0)
    q = points - mean
    a = np.column_stack([2.0 * q, np.ones(len(q))])
    sol, *_ = np.linalg.lstsq(a, (q**2).sum(axis=1), rcond=None)
    centre = sol[:2] + mean
    return centre, float(np.sqrt(max(sol[2] + sol[:2] @ sol[:2], 0.0)))


# --- public --------------------------------------------------------------------------------------
def _refine_circle(grad: tuple[np.ndarray, np.ndarray], center, radius_px: float, px_mm: float
                   ) -> tuple[tuple[float, float], float, float]:
    """Local search for the circle along which the image falls most consistently outward.

    ``grad`` is the normalised gradient (:func:`~onfh_imaging.segment.xray_search.normalised_gradient`);
    the score of a circle is the mean, over its best 60 % of angles (the neck and overlapping bone
    interrupt the rim), of ``tanh`` of the outward fall. Searched coarse to fine around the Hough circle.
    """
    gr, gc = grad
    angles = np.radians(np.arange(0.0, 360.0, 3.0))
    ca, sa = -np.cos(angles), np.sin(angles)  # unit (row, col) of each angle
    best = (center, radius_px, -np.inf)
    for reach_mm, step_mm, r_reach_mm, r_step_mm in ((6.0, 1.0, 5.0, 0.5), (1.2, 0.25, 1.0, 0.2)):
        offs = np.arange(-reach_mm, reach_mm + 1e-9, step_mm) / px_mm
        rads = best[1] + np.arange(-r_reach_mm, r_reach_mm + 1e-9, r_step_mm) / px_mm
        c0 = best[0]
        dr, dc, rr = np.meshgrid(offs, offs, rads, indexing="ij")
        rows = c0[0] + dr[..., None] + rr[..., None] * ca
        cols = c0[1] + dc[..., None] + rr[..., None] * sa
        g_r = ndimage.map_coordinates(gr, [rows.ravel(), cols.ravel()], order=1, mode="nearest").reshape(rows.shape)
        g_c = ndimage.map_coordinates(gc, [rows.ravel(), cols.ravel()], order=1, mode="nearest").reshape(rows.shape)
        drop = np.tanh(-(g_r * ca + g_c * sa))
        keep = int(0.6 * len(angles))
        score = np.sort(drop, axis=-1)[..., -keep:].mean(axis=-1)
        i = np.unravel_index(int(np.argmax(score)), score.shape)
        best = ((c0[0] + offs[i[0]], c0[1] + offs[i[1]]), float(rads[i[2]]), float(score[i]))
    return best


def _head_contour(img: np.ndarray, grad, center, radius_px: float, px_mm: float, angles: np.ndarray
                  ) -> tuple[tuple[float, float], dict[str, np.ndarray], np.ndarray]:
    """The head's rim along radial profiles from a refined circle, re-centred on the rim it traces."""
    center, radius_px, _ = _refine_circle(grad, center, radius_px, px_mm)
    for attempt in range(RECENTRE_ROUNDS + 1):
        e = _edges_along(img, center, angles, radius_px, RIM_INNER_MM / px_mm, RIM_OUTER_MM / px_mm, px_mm)
        ok = (e["head_strength"] > RIM_MIN_SNR) & (e["head_r"] < radius_px + 1.5 / px_mm)
        if attempt == RECENTRE_ROUNDS or ok.sum() < 30:
            break
        a = np.radians(angles[ok])
        pts = np.column_stack([center[0] - np.cos(a) * e["head_r"][ok], center[1] + np.sin(a) * e["head_r"][ok]])
        core = np.ones(len(pts), dtype=bool)
        for _ in range(5):
            c_new, r_new = _fit_circle(pts[core])
            res = np.hypot(*(pts - c_new).T) - r_new
            spread = robust_scale(res[core]) + 0.05 / px_mm
            new_core = np.abs(res) < 2.5 * spread
            if new_core.sum() < 20 or np.array_equal(new_core, core):
                break
            core = new_core
        moved = max(abs(r_new - radius_px), float(np.hypot(c_new[0] - center[0], c_new[1] - center[1])))
        if moved > RECENTRE_MAX_SHIFT * radius_px or moved < 0.05 / px_mm:
            break  # another structure, or settled: the edges found match the circle
        center, radius_px = (float(c_new[0]), float(c_new[1])), float(r_new)
    return center, dict(e, radius_px=np.float64(radius_px)), ok


def _traced_head(img: np.ndarray, grads: dict, center, radius_px: float, px_mm: float, angles: np.ndarray,
                 superior_deg: float = 0.0) -> dict:
    """Locate the head's rim from a circle (a search candidate or a seed) and say how much of it was traced.

    Returns the refined centre and radius, the edges along the rays, ``ok`` (a head edge at that
    angle, inside the image), the fraction of the in-image outline traced, the fraction of the
    outline inside the image, the neck (the widest gap) and the dome's evidence of a joint
    (:func:`~onfh_imaging.segment.xray_anatomy.dome_evidence`, about ``superior_deg``).
    """
    sigma = max(1.0, GRADIENT_MM / px_mm)
    if sigma not in grads:
        grads[sigma] = normalised_gradient(img, sigma)
    center, e, ok = _head_contour(img, grads[sigma], center, radius_px, px_mm, angles)
    rad_px = float(e["radius_px"])
    a = np.radians(angles)
    h, w = img.shape
    rows, cols = center[0] - rad_px * np.cos(a), center[1] + rad_px * np.sin(a)
    in_image = (rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)
    near = e["head_r"] < rad_px + 1.5 / px_mm
    pooled = _pooled_rim(img, center, angles, rad_px, px_mm, e["fall"], in_image) & near
    ok = (ok | pooled) & in_image
    traced = ((e["head_strength"] > RIM_TRACE_SNR) | pooled) & near & in_image
    gap_mid, _ = largest_gap(traced, angles)
    _, gap = largest_gap(traced | ~in_image, angles)  # the untraced arc inside the image
    fraction = float(traced.sum() / max(in_image.sum(), 1))
    # how well one circle explains the traced rim: residual and agreement with the circle traced from
    fit_rms, shift = np.inf, np.inf
    if traced.sum() >= 8:
        pts = np.column_stack([center[0] - e["head_r"][traced] * np.cos(a[traced]),
                               center[1] + e["head_r"][traced] * np.sin(a[traced])])
        c_fit, r_fit = _fit_circle(pts)
        res = np.hypot(*(pts - c_fit).T) - r_fit
        keep = np.abs(res) <= 2.5 * robust_scale(res, center=0.0) + 1e-9  # a depressed arc is not the circle
        if keep.sum() >= 8:
            c_fit, r_fit = _fit_circle(pts[keep])
            res = np.hypot(*(pts - c_fit).T) - r_fit
        fit_rms = robust_scale(res, center=0.0) / rad_px  # robust
        shift = max(abs(r_fit - rad_px), float(np.hypot(*(c_fit - np.asarray(center))))) / rad_px
    strong = float(ok.sum() / max(in_image.sum(), 1))  # share of the rim with a measurable edge
    support = fraction * strong * float(np.exp(-fit_rms / VERIFY_RMS) * np.exp(-shift / VERIFY_SHIFT))
    rays = (angles, e["head_r"], traced, in_image, e["roof_r"], e["roof_strength"], rad_px, superior_deg)
    return {"centre": center, "e": dict(e, radius_px=rad_px, gap_mid=gap_mid), "ok": ok, "px_mm": px_mm,
            "radius_px": rad_px, "fraction": fraction, "support": support, "dome": dome_evidence(*rays),
            "angles_deg": angles, "roof_steps_px": roof_steps(*rays),
            "arc_in_image": float(in_image.mean()), "gap_deg": gap}


def _pooled_rim(img: np.ndarray, center, angles: np.ndarray, radius_px: float, px_mm: float, fall: np.ndarray,
                in_image: np.ndarray) -> np.ndarray:
    """Rays whose rim is seen when its fall is pooled along the outline (:mod:`onfh_imaging.segment.xray_rim`),
    against the fall a path through the head's interior finds."""
    sigma_px = max(1.0, 0.2 / px_mm)
    null, inside = null_falls(img, center, angles, radius_px, (RIM_INNER_MM + RIM_OUTER_MM) / px_mm, px_mm, sigma_px,
                              OUTLINE_SCALE_MM / px_mm)
    arc_mm = radius_px * px_mm * float(np.radians(np.median(np.diff(angles))))
    return pooled_rim(fall, null, inside, in_image, arc_mm)


def _head_radius_range_mm(rx: Radiograph) -> tuple[float, float]:
    """(smallest, largest) head radius in mm of the image's pixel size: the anatomical range at the patient
    (``HEAD_RADIUS_RANGE_MM``), magnified by ``PROJECTION_MAGNIFICATION_RANGE`` when the pixel size is the
    detector's (``ImagerPixelSpacing`` alone). Without a pixel size the assumed fields of view are at the patient."""
    lo, hi = HEAD_RADIUS_RANGE_MM
    if rx.pixel_size_source == "ImagerPixelSpacing":
        return lo * PROJECTION_MAGNIFICATION_RANGE[0], hi * PROJECTION_MAGNIFICATION_RANGE[1]
    return lo, hi


def _head_px_mm(rx: Radiograph, radius_px: float) -> float:
    """mm per pixel used for the windows of the rim search: the header's, else the one that makes the
    circle a typical adult head (``TYPICAL_HEAD_RADIUS_MM``)."""
    return float(np.mean(rx.pixel_size_mm)) if rx.calibrated else TYPICAL_HEAD_RADIUS_MM / radius_px


def _unlike_a_head(hd: dict, rx: Radiograph, search_radius_px: float) -> str | None:
    """Why a traced circle cannot be a head, or None when it can: its radius within the range searched (in mm,
    or in pixels over the assumed fields of view), widened by 1 mm below and 2 mm above (a flattened or enlarged
    head re-fits a little larger); its rim traced over ``MIN_RIM_TRACED`` of the outline in the image (or
    ``MIN_RIM_TRACED_UNDER_ROOF`` under a roof); the widest gap no wider than ``MAX_GAP_DEG``; not a
    complete ring (a calibration ball or other round object)."""
    lo_mm, hi_mm = _nominal_pixel_mm(rx)
    head_lo, head_hi = _head_radius_range_mm(rx)
    lo_r, hi_r = head_lo - 1.0, head_hi + 2.0
    plausible = (lo_r / hi_mm <= hd["radius_px"] <= hi_r / lo_mm if not rx.calibrated
                 else lo_r <= hd["radius_px"] * _head_px_mm(rx, search_radius_px) <= hi_r)
    under_roof = hd["dome"]["roof_over_dome"] >= ROOF_EXPLAINS_OVERLAP
    if not plausible or hd["arc_in_image"] < MIN_ARC_IN_IMAGE or hd["gap_deg"] > MAX_GAP_DEG:
        return "no femoral head's size, or too little of it in the image"
    if hd["fraction"] < (MIN_RIM_TRACED_UNDER_ROOF if under_roof else MIN_RIM_TRACED):
        return (f"its rim traced over {100 * hd['fraction']:.0f} % of its outline (at least "
                f"{100 * MIN_RIM_TRACED:.0f} % needed, {100 * MIN_RIM_TRACED_UNDER_ROOF:.0f} % under a roof)")
    if hd["gap_deg"] < 25.0 and hd["fraction"] > 0.92 and hd["arc_in_image"] > 0.99:
        return "a complete ring"
    return None


def _same_circle(centre, radius_px: float, other: tuple[float, float, float]) -> bool:
    """Whether a circle (centre row, col and radius, pixels) is ``other`` (row, col, radius): centres within
    ``DUPLICATE_RADII`` of its radius, radii within that fraction."""
    row, col, rad = other
    return bool(np.hypot(centre[0] - row, centre[1] - col) < DUPLICATE_RADII * rad
                and abs(radius_px / rad - 1.0) < DUPLICATE_RADII)


def _searched_heads(img: np.ndarray, rx: Radiograph, angles: np.ndarray, max_heads: int) -> tuple[list[dict], str]:
    """Heads found by the circle search, each verified by tracing its rim, best traced first; and, when none is,
    what the circle with the most of its rim traced lacked."""
    lo_mm, hi_mm = _nominal_pixel_mm(rx)
    head_lo, head_hi = _head_radius_range_mm(rx)
    r_range = (head_lo / hi_mm, head_hi / lo_mm)
    grads: dict = {}
    superior_deg = superior_angle_deg(rx)
    found: list[dict] = []
    traced: list[tuple[float, float, float]] = []
    nearest = (-1.0, "no circular outline with a femoral head's size and a traced rim")
    # heads under a roof first: of two candidates on one centre, the one placed by the joint is traced
    candidates = (roof_candidates(img, r_range, count=ROOF_CANDIDATES, superior_deg=superior_deg)
                  + head_candidates(img, r_range, count=SEARCH_CANDIDATES, superior_deg=superior_deg))
    for cand in candidates:
        if any(_same_circle(cand.center_px, cand.radius_px, seed) for seed in traced):
            continue  # the same circle as one traced already, which its trace kept
        hd = _traced_head(img, grads, cand.center_px, cand.radius_px, _head_px_mm(rx, cand.radius_px), angles,
                          superior_deg)
        if _same_circle(hd["centre"], hd["radius_px"], (*cand.center_px, cand.radius_px)):
            traced.append((*cand.center_px, cand.radius_px))
        why = _unlike_a_head(hd, rx, cand.radius_px)
        if why is not None:
            if why.startswith("its rim") and hd["fraction"] > nearest[0]:
                nearest = (hd["fraction"], (f"the circle with the most of its rim traced (radius "
                                            f"{hd['radius_px']:.0f} pixels) has {why}"))
            continue
        # and the search's evidence for the circle as a whole, and for a joint over its dome
        hd["support"] *= cand.score * articular_weight(hd["dome"])
        if hd["support"] <= 0.0:
            continue
        found.append(hd)
    # of overlapping heads (one bone), the best supported
    kept: list[dict] = []
    for f in sorted(found, key=lambda f: -f["support"]):
        if not any(np.hypot(f["centre"][0] - g["centre"][0], f["centre"][1] - g["centre"][1]) < g["radius_px"]
                   for g in kept):
            kept.append(f)
    if not kept:
        return [], nearest[1]
    first = under_its_roof(kept[0], [f for f in found if f is not kept[0]])
    first = inside_the_head(first, [f for f in found if f is not first])
    first = beneath_the_dome(first, [f for f in found if f is not first], superior_deg)
    found = [first] + [f for f in kept[1:] if f is not first]
    pair = [f for f in found[1:] if abs(f["radius_px"] / first["radius_px"] - 1.0) <= PAIR_RADIUS_RATIO
            and abs(f["centre"][0] - first["centre"][0]) <= PAIR_HEIGHT_RADII * first["radius_px"]
            and abs(f["centre"][1] - first["centre"][1]) >= PAIR_MIN_SEPARATION_RADII * first["radius_px"]]
    return ([first] + pair)[:max_heads], ""


def _seeded_head(img: np.ndarray, rx: Radiograph, side: str, seed: Sequence[float], angles: np.ndarray) -> dict:
    """The head delineated from a hand-placed seed: a point near its centre, or >= 3 points on its outline.

    Around a centre point the acetabular roof is a concentric arc too: the circle ``ROOF_TO_HEAD`` times
    the best one's radius (the head under it, were the best the roof) is traced as well; the better
    supported of the two is the head, unless the other is the inner arc under its roof
    (:func:`~onfh_imaging.segment.xray_anatomy.under_its_roof`), as in the search."""
    pts = np.asarray(seed, dtype=float).reshape(-1, 2)
    h, w = img.shape
    if not np.all(np.isfinite(pts)) or len(pts) == 2:
        raise ValueError(f"the {side} head's seed must be one (row, col) point or at least 3 outline points, "
                         f"got {np.asarray(seed).tolist()}")
    inner = None
    if len(pts) >= 3:
        centre, radius = _fit_circle(pts)
    else:
        centre = pts[0]
        if not (0 <= centre[0] <= h - 1 and 0 <= centre[1] <= w - 1):
            raise ValueError(f"the {side} head's seed {pts[0].tolist()} lies outside the {h} x {w} image")
        lo_mm, hi_mm = _nominal_pixel_mm(rx)
        head_lo, head_hi = _head_radius_range_mm(rx)
        radius = best_radius_at(img, (float(centre[0]), float(centre[1])), (head_lo / hi_mm, head_hi / lo_mm))
        inner = ROOF_TO_HEAD * radius  # the head under it, were the best circle the roof's
    grads: dict = {}
    hd = _traced_head(img, grads, (float(centre[0]), float(centre[1])), float(radius), _head_px_mm(rx, radius), angles)
    if inner is not None:
        hd_in = _traced_head(img, grads, (float(centre[0]), float(centre[1])), float(inner), _head_px_mm(rx, inner),
                             angles)
        best, other = sorted((hd, hd_in), key=lambda f: -f["support"])  # as the search chooses
        hd = under_its_roof(best, [other])
    return dict(hd, side=side)


def find_femoral_heads_2d(rx: Radiograph, *, max_heads: int = 2,
                          seeds: Mapping[str, Sequence[float]] | None = None) -> list[HeadContour2D]:
    """Find the femoral heads on a hip or pelvis radiograph and read their contours.

    Parameters
    ----------
    rx : Radiograph
        The image (bone bright) with its pixel size at the patient; without one, head sizes are searched
        over the radii an adult head takes for fields of view of ``ASSUMED_FIELD_OF_VIEW_MM``.
    max_heads : int
        At most this many heads are returned (2 on a pelvis).
    seeds : mapping of side to points, optional
        ``{"left": (row, col), ...}``: a point near the head's centre, or a flat or (N, 2) sequence of
        N >= 3 (row, col) points on its outline (the circle through them). Seeded heads are delineated
        from the seed without the automatic search and marked ``placed_by_hand``.

    Returns
    -------
    list of HeadContour2D
        Heads ordered by side (right first).

    Raises
    ------
    SegmentationError
        When no femoral head is found (the image is too small to hold one, or no circular outline
        with a head's size is traced).
    ValueError
        A seed that is not a point inside the image or at least 3 outline points, or a side that is
        not ``"left"`` or ``"right"``.
    """
    _, hi_mm = _nominal_pixel_mm(rx)
    h, w = rx.shape
    if 2.0 * _head_radius_range_mm(rx)[0] / hi_mm * MIN_ARC_IN_IMAGE + 4 > min(h, w):
        size = f"{h * hi_mm:.0f} x {w * hi_mm:.0f} mm" if rx.calibrated else f"{h} x {w} pixels"
        raise SegmentationError(f"no femoral head found: the image ({size}) is smaller than a femoral head")
    img = _normalised(rx.pixels)
    angles = np.arange(-180.0, 180.0, 1.0)
    if seeds:
        bad = [s for s in seeds if s not in ("left", "right")]
        if bad:
            raise ValueError(f"seed sides must be 'left' or 'right', got {bad}")
        heads = [_seeded_head(img, rx, side, pts, angles) for side, pts in seeds.items()]
        sides = [(hd["side"], "given with the hand-placed seed") for hd in heads]
    else:
        heads, lacking = _searched_heads(img, rx, angles, max_heads)
        if not heads:
            raise SegmentationError(f"no femoral head found: {lacking}",
                                    hint="is this a hip or pelvis radiograph, and not too noisy?")
        sides = assign_sides(rx, [hd["centre"] for hd in heads], [hd["e"]["gap_mid"] for hd in heads], w)
    out = []
    for hd, (side, basis) in zip(heads, sides):
        e, ok = hd["e"], hd["ok"]
        roof_ok = ok & (e["roof_strength"] > 4.0)
        rim, inner = _silhouette(img, hd["centre"], angles, float(e["radius_px"]), hd["px_mm"])
        rim = _outline(rim, e["head_r"], float(e["radius_px"]), hd["px_mm"])
        out.append(HeadContour2D(
            side=side, side_basis=basis, center_px=hd["centre"], radius_px=float(e["radius_px"]),
            angles_deg=angles.copy(), radii_px=np.where(ok, rim, np.nan),
            strength=e["head_strength"], roof_radii_px=np.where(roof_ok, e["roof_r"], np.nan),
            neck_angle_deg=e["gap_mid"], score=hd["fraction"], inner_radii_px=np.where(ok, inner, np.nan),
            arc_in_image=hd["arc_in_image"], placed_by_hand=bool(seeds),
            noise=float(e["noise"][0]), image_shape=(h, w)))
    return sorted(out, key=lambda c: c.side != "right")


__all__ = ["HeadContour2D", "find_femoral_heads_2d"]

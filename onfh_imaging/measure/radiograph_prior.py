"""The sclerotic margin tested on an AP radiograph along the outline of the lesion MRI shows at the same visit.

A radiologist who has the MRI of the visit looks on the radiograph where the MRI shows the necrotic lesion.
A blind search over every line in the head (:mod:`onfh_imaging.measure.radiograph_lesion`) must beat the
strongest of the head's own texture lines (the look-elsewhere effect); a test along **one** curve predicted
from the MRI only needs to beat the statistic's null at that place, a much lower limit for the same
false-alarm rate:

* **the predicted curve** (:func:`lesion_outline_ap`): the MRI lesion mask projected along the AP beam
  (the patient's anterior-posterior axis) onto the coronal plane, about the MRI head's centre and in units of
  its radius; its outline is where the beam runs tangent to the lesion's boundary, the only place the
  reactive band around the necrotic segment projects as a line;
* **the statistic** (:func:`margin_at_lesion_outline`): on the radiograph minus the projected sphere's dome,
  the band response along the curve (the image smoothed over half a scale minus the brighter of its two
  sides ``SIDE_SCALES`` scales away across the curve), averaged over the curve's samples inside the head's
  interior, in robust SDs of the head's texture; the curve is scaled by the radiograph head's radius about
  its centre, and its best placement within the registration tolerance (``REGISTRATION_MM`` either way,
  the band ``INSETS_MM`` inside the outline) is taken;
* **its null in the same head**: the same curve rotated about the head's centre to ``NULL_ROTATIONS_DEG``
  (at least ``NULL_MIN_ROTATION_DEG`` away from the lesion, each placed within the same tolerance); the
  margin is found when the statistic is above zero (brighter than its brighter side on average along the
  curve) and stands ``z_limit`` robust SDs of that null above its median, the one-sided normal quantile of
  ``FALSE_ALARM_PER_HIP`` shared among the scales tested.

Only the AP view is tested: the frog-leg view rotates the femur by an abduction and external rotation the
MRI does not know. A radiograph without a patient orientation (which side of the image is the patient's
left, which is up) cannot place the curve and is not tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.stats import norm

from onfh_imaging.fitting import robust_scale
from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.segment.xray import TYPICAL_HEAD_RADIUS_MM

WORK_PIXEL_MM = 0.2
"""Pixel (mm) of the grid the head is analysed on (that of the radiographic lesion finding)."""
OUTLINE_STEP = 0.01
"""Pixel of the projected lesion's grid, in head radii (0.24 mm on a 24 mm head): finer than the MRI's
in-plane voxel (0.5-0.8 mm), so the outline is the mask's, not the grid's."""
SCALES_MM = (0.9, 1.4)
"""Band scales (mm, Gaussian sigma; a bar of width w answers best at w / 2): a 2-3 mm band, the reactive
margin (1-4 mm) seen through the radiograph's blur and its obliquity to the beam."""
SIDE_SCALES = 2.0
"""The band's sides lie this many scales from the curve: its edges one scale from its centre and its sides
one scale beyond them."""
RIM_MARGIN_MM = 2.5
"""The head's interior ends this far inside its circle: the subchondral plate and cortex (1-2 mm) and their
blur are bone of another density, and the margin meets the surface there anyway."""
REGISTRATION_MM = 1.0
"""The curve is placed up to this far (mm) either way, in both image directions, from where the circles put
it: the radiograph head's circle is checked to agree with a second estimate within 1.2 mm (the outline's
``estimates_agree`` check) and the MRI head's centre is known to about half a voxel."""
REGISTRATION_STEP_MM = 0.5
"""Step (mm) of those placements: a quarter of a 2 mm band's width at its sides."""
INSETS_MM = (0.0, 0.5, 1.0, 1.5)
"""The curve is also moved this far (mm) into the lesion along its normal: the reactive band is the lesion's
own edge, 1-3 mm wide, so its centre lies up to 1.5 mm inside the outline of a mask that holds it."""
MIN_CURVE_MM = 10.0
"""The curve is tested over at least this length (mm) inside the head's interior: several trabecular
spacings, so that its mean is a statistic of the curve, not of one trabecula."""
NULL_MIN_ROTATION_DEG = 50.0
"""The null's curves lie at least this far (deg) from the lesion's: a large lesion's margin spans about
100 deg of the head, so a curve turned by less would still lie along part of it."""
NULL_ROTATIONS_DEG = tuple(float(a) for a in range(-180, 180, 10) if abs(a) >= NULL_MIN_ROTATION_DEG)
"""Rotations (deg, about the head's centre) of the null's curves: 26, 10 deg apart (4 mm on a 24 mm
head, more than a band's width and its sides)."""
FALSE_ALARM_PER_HIP = 1e-2
"""The test's false-alarm rate per hip, split among the scales tested (Bonferroni)."""
MIN_INTERIOR_PX = 2000
"""Interior pixels (on the working grid, 80 mm2) needed for robust statistics of the head's bone."""


@dataclass(frozen=True)
class LesionOutline:
    """The outline of the MRI lesion projected along the AP beam onto the coronal plane.

    Attributes
    ----------
    points : ndarray, shape (n, 2)
        Outline points, (superior, patient's left) offsets from the MRI head's centre in its radii.
    normals : ndarray, shape (n, 2)
        Unit normals at the points, (superior, left), pointing out of the lesion.
    """

    points: np.ndarray
    normals: np.ndarray


@dataclass(frozen=True)
class MarginTest:
    """The band statistic along the MRI lesion's outline on one radiograph head.

    Attributes
    ----------
    found : bool
        The statistic is above zero and above ``z_limit`` of its null at some scale.
    contrast_sd : float
        The statistic (mean band response along the curve, robust SDs of the head's texture) at the scale
        with the largest ``z``.
    z : float
        The statistic's distance above its null's median, in the null's robust SDs, at that scale.
    z_limit : float
        The limit ``z`` had to reach.
    null_median_sd, null_max_sd : float
        The null's median and maximum at that scale, robust SDs of the head's texture.
    scale_mm : float
        That scale, mm.
    """

    found: bool
    contrast_sd: float
    z: float
    z_limit: float
    null_median_sd: float
    null_max_sd: float
    scale_mm: float

    def to_dict(self) -> dict[str, Any]:
        """The test's JSON block.

        Returns
        -------
        dict
            ``found``, ``contrast_sd``, ``z``, ``z_limit``, ``null_median_sd``, ``null_max_sd``,
            ``scale_mm``, rounded.
        """
        return {"found": bool(self.found), "contrast_sd": round(self.contrast_sd, 2), "z": round(self.z, 2),
                "z_limit": round(self.z_limit, 2), "null_median_sd": round(self.null_median_sd, 2),
                "null_max_sd": round(self.null_max_sd, 2), "scale_mm": self.scale_mm}


def z_limit(n_scales: int = len(SCALES_MM)) -> float:
    """The null distance the statistic must reach: the one-sided normal quantile of the false-alarm rate.

    Parameters
    ----------
    n_scales : int
        Scales tested, each a test (the rate is shared among them).

    Returns
    -------
    float
        ``norm.isf(FALSE_ALARM_PER_HIP / n_scales)`` (2.58 for two scales).
    """
    return float(norm.isf(FALSE_ALARM_PER_HIP / max(n_scales, 1)))


def _footprint(mask: Volume, centre_lps: np.ndarray, radius_mm: float) -> np.ndarray:
    """(superior, left) offsets in head radii of points filling each lesion voxel (3 per axis)."""
    k, j, i = np.nonzero(np.asarray(mask.array) >= 0.5)
    sub = np.array([-1.0 / 3.0, 0.0, 1.0 / 3.0])
    offs = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), axis=-1).reshape(-1, 3)
    ijk = np.column_stack([i, j, k]).astype(float)[:, None, :] + offs[None, :, :]
    lps = mask.index_to_lps(ijk.reshape(-1, 3)) - np.asarray(centre_lps, float)
    return np.column_stack([lps[:, 2], lps[:, 0]]) / float(radius_mm)  # LPS: z superior, x left


def lesion_outline_ap(mask: Volume, centre_lps: np.ndarray, radius_mm: float) -> LesionOutline | None:
    """The MRI lesion's outline as the AP beam projects it, about the head's centre in head radii.

    Parameters
    ----------
    mask : Volume
        The lesion mask (or partial-volume fraction, counted where at least 0.5) on the MRI grid.
    centre_lps : ndarray, shape (3,)
        The MRI head's centre, LPS mm.
    radius_mm : float
        The MRI head's radius, mm.

    Returns
    -------
    LesionOutline or None
        The outline's points and outward normals, (superior, left) in head radii; None when the mask holds
        no lesion inside the head.
    """
    pts = _footprint(mask, centre_lps, radius_mm)
    pts = pts[np.hypot(pts[:, 0], pts[:, 1]) < 1.0]
    if len(pts) == 0:
        return None
    # the gaps between slices that do not lie along the beam are closed over the largest voxel side
    close = int(np.ceil(max(float(np.max(mask.spacing)) / radius_mm, OUTLINE_STEP) / OUTLINE_STEP))
    n = int(np.ceil(1.0 / OUTLINE_STEP)) + 2 + close
    idx = np.rint(pts / OUTLINE_STEP).astype(int) + n
    grid = np.zeros((2 * n + 1, 2 * n + 1), bool)
    grid[idx[:, 0], idx[:, 1]] = True
    structure = ndimage.generate_binary_structure(2, 1)
    grid = ndimage.binary_fill_holes(ndimage.binary_closing(grid, structure, iterations=close))
    edge = grid & ~ndimage.binary_erosion(grid, structure)
    r, c = np.nonzero(edge)
    smooth = ndimage.gaussian_filter(grid.astype(float), 4.0)
    gr, gc = np.gradient(smooth)
    normals = -np.column_stack([gr[r, c], gc[r, c]])  # the mask falls outward
    normals /= np.maximum(np.hypot(normals[:, 0], normals[:, 1]), 1e-12)[:, None]
    return LesionOutline(points=np.column_stack([r - n, c - n]) * OUTLINE_STEP, normals=normals)


def _image_axes(rx: Radiograph) -> tuple[float, float] | None:
    """(row sign of superior, column sign of the patient's left) from the patient orientation; None when
    it is not given."""
    orientation = rx.patient_orientation
    if orientation is None or len(orientation) < 2:
        return None
    row_dir, col_dir = orientation[1].upper(), orientation[0].upper()
    up = -1.0 if "F" in row_dir and "H" not in row_dir else (1.0 if "H" in row_dir and "F" not in row_dir else 0.0)
    left = 1.0 if "L" in col_dir and "R" not in col_dir else (-1.0 if "R" in col_dir and "L" not in col_dir else 0.0)
    return None if up == 0.0 or left == 0.0 else (up, left)


def _head_grid(rx: Radiograph, centre_px: tuple[float, float], radius_px: float, px_mm: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """(image, interior mask, circle radius mm) resampled at ``WORK_PIXEL_MM`` about the head's centre."""
    radius_mm = radius_px * float(np.sqrt(px_mm[0] * px_mm[1]))
    reach = radius_mm + (SIDE_SCALES + 1.0) * max(SCALES_MM) + REGISTRATION_MM + max(INSETS_MM)
    n = int(np.ceil(reach / WORK_PIXEL_MM))
    offs = np.arange(-n, n + 1) * WORK_PIXEL_MM
    dy, dx = np.meshgrid(offs, offs, indexing="ij")
    rows, cols = centre_px[0] + dy / px_mm[0], centre_px[1] + dx / px_mm[1]
    img = ndimage.map_coordinates(np.asarray(rx.pixels, float), [rows, cols], order=1, mode="nearest")
    h, w = rx.shape
    edge_mm = np.minimum(np.minimum(rows, h - 1 - rows) * px_mm[0], np.minimum(cols, w - 1 - cols) * px_mm[1])
    interior = (np.hypot(dy, dx) < radius_mm - RIM_MARGIN_MM) & (edge_mm >= (SIDE_SCALES + 1.0) * max(SCALES_MM))
    return img, interior, radius_mm


def sphere_residual(img: np.ndarray, interior: np.ndarray, radius_mm: float, px_mm: float) -> np.ndarray:
    """The image minus the projected sphere's dome, fitted over the head's interior.

    Every straight line through the centre of a projected ball is brighter than both its sides (the chord a
    ray travels falls off across it); without this a chord through the centre would read as a band.

    Parameters
    ----------
    img : ndarray, shape (n, n)
        The image on a square grid centred on the head's centre (grid pixel (n - 1) / 2).
    interior : ndarray of bool, shape (n, n)
        The pixels the fit is made over.
    radius_mm : float
        The head circle's radius, mm.
    px_mm : float
        The grid's pixel, mm.

    Returns
    -------
    ndarray, shape (n, n)
        ``img`` minus a least-squares quadratic in the projected thickness ``sqrt(R^2 - r^2) / R`` (the
        quadratic takes up a monotone display curve).
    """
    n = img.shape[0]
    offs = (np.arange(n) - (n - 1) / 2.0) * px_mm
    t = np.sqrt(np.clip(radius_mm**2 - offs[:, None] ** 2 - offs[None, :] ** 2, 0.0, None)) / radius_mm
    design = np.stack([np.ones_like(t), t, t * t], axis=-1)
    coef, *_ = np.linalg.lstsq(design[interior], img[interior], rcond=None)
    return img - design @ coef


def _texture_scale(sm: np.ndarray, interior: np.ndarray, s_px: float) -> float:
    """Robust SD over the interior of the smoothed image minus the mean of its sides, across 8 directions:
    the band response's texture, in which a linear trend cancels."""
    values = []
    for k in range(8):
        a = np.pi * k / 8
        dr, dc = SIDE_SCALES * s_px * np.cos(a), SIDE_SCALES * s_px * np.sin(a)
        side = 0.5 * (ndimage.shift(sm, (dr, dc), order=1, mode="nearest")
                      + ndimage.shift(sm, (-dr, -dc), order=1, mode="nearest"))
        values.append((sm - side)[interior])
    return robust_scale(np.concatenate(values))


def _curve_statistic(sm: np.ndarray, interior: np.ndarray, points_mm: np.ndarray, normals: np.ndarray,
                     s_mm: float, step_mm: float) -> float:
    """The best mean band response along the curve (grid mm offsets from the centre, image row / col; one
    outline pixel of ``step_mm`` per point) over its placements within the registration tolerance; ``-inf``
    when no placement holds ``MIN_CURVE_MM`` of it inside the interior."""
    c = (sm.shape[0] - 1) / 2.0
    min_held = MIN_CURVE_MM / step_mm

    def at(q: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(sm, [c + q[:, 0] / WORK_PIXEL_MM, c + q[:, 1] / WORK_PIXEL_MM], order=1)

    shifts = np.arange(-REGISTRATION_MM, REGISTRATION_MM + 1e-9, REGISTRATION_STEP_MM)
    side = SIDE_SCALES * s_mm * normals
    best = -np.inf
    for inset in INSETS_MM:
        for dy in shifts:
            for dx in shifts:
                p = points_mm - inset * normals + np.array([dy, dx])
                rr = np.clip(np.rint(c + p[:, 0] / WORK_PIXEL_MM).astype(int), 0, sm.shape[0] - 1)
                cc = np.clip(np.rint(c + p[:, 1] / WORK_PIXEL_MM).astype(int), 0, sm.shape[1] - 1)
                held = interior[rr, cc]
                if held.sum() < min_held:
                    continue
                band = at(p[held]) - np.maximum(at(p[held] + side[held]), at(p[held] - side[held]))
                best = max(best, float(band.mean()))
    return best


def _rotated(points: np.ndarray, normals: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.radians(deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rot.T, normals @ rot.T


def _scale_test(resid: np.ndarray, interior: np.ndarray, points_mm: np.ndarray, normals: np.ndarray,
                s_mm: float, step_mm: float) -> MarginTest | None:
    """The test at one scale; None when the curve or the texture cannot be read."""
    sm = ndimage.gaussian_filter(resid, 0.5 * s_mm / WORK_PIXEL_MM)
    texture = _texture_scale(sm, interior, s_mm / WORK_PIXEL_MM)
    value = _curve_statistic(sm, interior, points_mm, normals, s_mm, step_mm)
    if not texture > 0 or not np.isfinite(value):
        return None
    null = np.array([_curve_statistic(sm, interior, *_rotated(points_mm, normals, a), s_mm, step_mm)
                     for a in NULL_ROTATIONS_DEG])
    null = null[np.isfinite(null)] / texture
    spread = robust_scale(null) if len(null) >= len(NULL_ROTATIONS_DEG) // 2 else 0.0
    if not spread > 0:
        return None
    centre, limit = float(np.median(null)), z_limit()
    z = (value / texture - centre) / spread
    return MarginTest(found=bool(value > 0 and z >= limit), contrast_sd=float(value / texture), z=float(z),
                      z_limit=limit, null_median_sd=centre, null_max_sd=float(null.max()), scale_mm=s_mm)


def margin_at_lesion_outline(rx: Radiograph, centre_px: tuple[float, float], radius_px: float,
                             outline: LesionOutline) -> MarginTest | str:
    """Test an AP radiograph head for a sclerotic margin along the MRI lesion's projected outline.

    Parameters
    ----------
    rx : Radiograph
        The AP radiograph (bone bright), its pixel size at the patient if known and its patient orientation.
    centre_px : (float, float)
        The head circle's centre (row, column), pixels.
    radius_px : float
        The head circle's radius, pixels.
    outline : LesionOutline
        From :func:`lesion_outline_ap`.

    Returns
    -------
    MarginTest or str
        The test at the scale whose statistic stands farthest above its null; a sentence saying why the
        head was not tested (no patient orientation, too little of the head or of the curve in the image).
    """
    axes = _image_axes(rx)
    if axes is None:
        return "the radiograph gives no patient orientation: the MRI lesion cannot be placed on it"
    if rx.pixel_size_mm is not None:
        px_mm = (float(rx.pixel_size_mm[0]), float(rx.pixel_size_mm[1]))
    else:
        px_mm = (TYPICAL_HEAD_RADIUS_MM / radius_px,) * 2
    img, interior, radius_mm = _head_grid(rx, centre_px, radius_px, px_mm)
    if interior.sum() < MIN_INTERIOR_PX:
        return "too little of the head's interior lies in the image"
    resid = sphere_residual(img, interior, radius_mm, WORK_PIXEL_MM)
    flip = np.array(axes)  # (superior, left) -> (row, column) directions
    points, normals = outline.points * radius_mm * flip, outline.normals * flip
    step_mm = OUTLINE_STEP * radius_mm
    tests = [t for t in (_scale_test(resid, interior, points, normals, s, step_mm) for s in SCALES_MM)
             if t is not None]
    if not tests:
        return f"the MRI lesion's outline runs less than {MIN_CURVE_MM:g} mm inside the head's interior"
    return max(tests, key=lambda t: t.z)


__all__ = ["FALSE_ALARM_PER_HIP", "LesionOutline", "MarginTest", "lesion_outline_ap", "margin_at_lesion_outline",
           "sphere_residual", "z_limit"]

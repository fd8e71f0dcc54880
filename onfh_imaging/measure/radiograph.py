"""Measures of the femoral head on a radiograph: reference circle, Mose deviation, collapse, joint space.

The reference circle is the 2-D counterpart of the reference sphere: a circle fitted to the *intact*
part of the head's contour, trimming depressed points one-sidedly
(:mod:`onfh_imaging.measure.radiograph_circle`). Only the articular contour is used: angles within 70
degrees of the neck are left out.

The contour is the head's outer silhouette (see :mod:`onfh_imaging.segment.xray`), the outline the
Mose concentric circles are laid on.

* ``collapse_depth_mm``: the deepest inward displacement of the outline below the circle over the
  weight-bearing dome, and ``max_deviation_mm`` (Mose): the largest distance of the outline from the
  circle, either way, over the articular arc seen in profile (the superior hemicircle); each held over
  an arc of traced outline (:mod:`onfh_imaging.measure.radiograph_outline`), with its image angle and
  position, the share of the dome traced and the outline's wander (their uncertainty). Beside them,
  ``rim_collapse_depth_mm``: the dome's departure below the circle of the intact rim outside the dome
  (:mod:`onfh_imaging.measure.radiograph_dome`), which a flattened dome does not pull onto itself. Edges the fit
  rejects as lying outside the head (an overlapping acetabular wall or roof) are not the head's contour
  and do not count.
* ``double_contour``: a second bright-to-dark contour inside the silhouette over an arc of at least
  ``DOUBLE_CONTOUR_MIN_ARC_DEG`` degrees of the superior articular surface (the crescent sign or a
  depressed subchondral plate), with the arc and the largest depth of that contour below the
  silhouette. It is reported to staging as a subchondral fracture on the radiograph.
* ``joint_space_width_mm``: the narrowest gap (running median over 7 degrees) between the head's rim
  and the acetabular roof across the weight-bearing zone, the superior 60 degrees of the head.

Image angles are measured from image-up (toward row 0), positive toward increasing column.
Lengths are in mm at the patient when the pixel size is known, and in pixels (``*_px``) always.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage

from onfh_imaging.errors import MeasurementError
from onfh_imaging.geometry import Radiograph
from onfh_imaging.measure.radiograph_circle import INWARD_TRIM_SIGMAS, ReferenceCircle, fit_reference_circle
from onfh_imaging.measure.radiograph_dome import DomeReference, dome_reference, read_departures
from onfh_imaging.measure.radiograph_outline import (
    DOME_HALF_ARC_DEG,
    arc_mask,
    detached_excursions,
    outline_wander,
)
from onfh_imaging.measure.radiograph_quality import outline_quality
from onfh_imaging.quality import Quality, combine
from onfh_imaging.segment.xray import HeadContour2D
from onfh_imaging.segment.xray_ball import CalibrationBall, find_calibration_ball

NECK_EXCLUSION_DEG = 70.0
NECK_JUNCTION_REACH_DEG = 90.0
"""An inward run at an end of the articular arc (next to the neck) is trimmed up to this angle from the
neck: there the neck's cortex crosses into the head's outline (most on the frog-leg lateral, where the
neck is foreshortened over the head) and the edge bends onto it. The weight-bearing dome, where collapse
is measured, lies in the half of the head away from the neck, beyond this angle."""
WEIGHT_BEARING_HALF_WIDTH_DEG = 30.0
CALIBRATION_BALL_MM = 25.0
CALIBRATION_DISAGREEMENT = 0.03
DOUBLE_CONTOUR_MIN_ARC_DEG = 10.0
DOUBLE_CONTOUR_GAP_DEG = 4.0
DOUBLE_CONTOUR_CONTINUITY = 0.0125
"""Largest radial step between the inner contour at neighbouring angles (1 deg apart), relative to the
head's radius: 0.3 mm on a 24 mm head, where 1 deg is 0.4 mm of arc. A contour, not scattered texture."""
DOUBLE_CONTOUR_ZONE_DEG = 90.0
"""The double contour is looked for within this angle of image-up: the weight-bearing half of the head."""


@dataclass
class RadiographHeadMeasures:
    """One head's measures on one radiograph (pixels always; mm when the pixel size is known).

    Every ``*_mm`` attribute is None when the pixel size is unknown.

    Attributes
    ----------
    side : {"left", "right"}
        The patient's hip.
    side_basis : str
        How the side was decided (image laterality, position in the image, neck direction).
    center_px : (float, float)
        Reference circle's centre (row, col), pixels, 0-based.
    radius_px, radius_mm : float
        Reference circle's radius, pixels and mm.
    max_deviation_px, max_deviation_mm : float or None
        Mose deviation: the largest radial deviation of the articular outline seen in profile (the
        superior hemicircle, away from the neck) from the circle, either way, held over
        ``MIN_DEPARTURE_ARC_DEG`` of traced outline; None when no such arc is traced.
    collapse_depth_px, collapse_depth_mm : float or None
        Deepest inward deviation of the outline below the circle over the weight-bearing dome, held
        over ``MIN_DEPARTURE_ARC_DEG`` of traced outline (0 when none is inward); None when the dome is
        traced over less than ``MIN_DOME_TRACED`` of its arc (a collapse could lie in the rest).
    collapse_angle_deg : float or None
        Image angle of the deepest point (from image-up, positive toward increasing column); None
        without depth.
    collapse_location_px : (float, float) or None
        Outline point (row, col) at the deepest point, pixels.
    joint_space_width_px, joint_space_width_mm : float or None
        Narrowest head rim to acetabular roof gap over the weight-bearing zone; None where the roof
        was not found.
    contour_points : int
        Articular outline angles measured.
    inlier_fraction : float
        Share (0..1) of them the reference circle keeps.
    rms_mm : float or None
        RMS residual of the circle fit over its inliers, mm.
    double_contour : bool
        An inner contour runs along the superior articular surface (:func:`double_contour`).
    double_contour_arc_deg : float
        Its arc, degrees (0 when absent).
    double_contour_max_depth_px, double_contour_max_depth_mm : float or None
        Its largest depth below the outline.
    warnings : list of str
        Reasons to check the result.
    quality : Quality
        The outline checks (:func:`onfh_imaging.measure.radiograph_quality.outline_quality`).
    outline_wander_px, outline_wander_mm : float or None
        Robust SD of the traced articular outline about the circle
        (:func:`onfh_imaging.measure.radiograph_outline.outline_wander`): the uncertainty of the Mose
        deviation and the collapse depth; None where too little is traced.
    dome_traced : float
        Share (0..1) of the weight-bearing dome's arc where the outline is traced and measured; 0 when
        no arc of it can be read.
    intact_rim_traced : float
        Share (0..1) of the intact rim's arc (the articular outline outside the dome) inside the image traced.
    rim_collapse_depth_px, rim_collapse_depth_mm : float or None
        The dome's inward departure, held over ``MIN_DEPARTURE_ARC_DEG``, below the circle of the intact rim
        (:mod:`onfh_imaging.measure.radiograph_dome`), which a flattened dome does not pull; None where that
        circle is not known well enough over the dome or the dome is traced too little. Reported beside the
        collapse depth, not staged.
    dome_reference_sd_px, dome_reference_sd_mm : float or None
        Radial SD of the intact rim's circle over the dome (the reference's uncertainty); None without one.
    """

    side: str
    side_basis: str
    center_px: tuple[float, float]
    radius_px: float
    radius_mm: float | None
    max_deviation_px: float | None
    max_deviation_mm: float | None
    collapse_depth_px: float | None
    collapse_depth_mm: float | None
    collapse_angle_deg: float | None
    collapse_location_px: tuple[float, float] | None
    joint_space_width_px: float | None
    joint_space_width_mm: float | None
    contour_points: int
    inlier_fraction: float
    rms_mm: float | None
    double_contour: bool = False
    double_contour_arc_deg: float = 0.0
    double_contour_max_depth_px: float | None = None
    double_contour_max_depth_mm: float | None = None
    warnings: list[str] = field(default_factory=list)
    quality: Quality = field(default_factory=lambda: combine(()))
    outline_wander_px: float | None = None
    outline_wander_mm: float | None = None
    dome_traced: float = 1.0
    intact_rim_traced: float = 1.0
    rim_collapse_depth_px: float | None = None
    rim_collapse_depth_mm: float | None = None
    dome_reference_sd_px: float | None = None
    dome_reference_sd_mm: float | None = None

    def head_dict(self) -> dict[str, Any]:
        """The contract's ``head`` object for a radiograph."""
        def rnd(v, n=3):
            return None if v is None else round(float(v), n)

        return {
            "center_px": [rnd(self.center_px[0], 2), rnd(self.center_px[1], 2)],
            "radius_mm": rnd(self.radius_mm),
            "max_deviation_mm": rnd(self.max_deviation_mm),
            "collapse_depth_mm": rnd(self.collapse_depth_mm),
            "joint_space_width_mm": rnd(self.joint_space_width_mm),
            "radius_px": rnd(self.radius_px, 2),
            "max_deviation_px": rnd(self.max_deviation_px, 2),
            "collapse_depth_px": rnd(self.collapse_depth_px, 2),
            "joint_space_width_px": rnd(self.joint_space_width_px, 2),
            "collapse_angle_deg": rnd(self.collapse_angle_deg, 1),
            "collapse_location_px": None if self.collapse_location_px is None
            else [rnd(self.collapse_location_px[0], 2), rnd(self.collapse_location_px[1], 2)],
            "contour_points": self.contour_points,
            "inlier_fraction": rnd(self.inlier_fraction),
            "rms_deviation_mm": rnd(self.rms_mm),
            "double_contour": bool(self.double_contour),
            "double_contour_arc_deg": rnd(self.double_contour_arc_deg, 1),
            "double_contour_max_depth_mm": rnd(self.double_contour_max_depth_mm),
            "double_contour_max_depth_px": rnd(self.double_contour_max_depth_px, 2),
            "outline_checks_passed": bool(self.quality.collapse_trusted),
            "outline_wander_mm": rnd(self.outline_wander_mm),
            "outline_wander_px": rnd(self.outline_wander_px, 2),
            "dome_traced": rnd(self.dome_traced),
            "intact_rim_traced": rnd(self.intact_rim_traced),
            "rim_collapse_depth_mm": rnd(self.rim_collapse_depth_mm),
            "rim_collapse_depth_px": rnd(self.rim_collapse_depth_px, 2),
            "dome_reference_sd_mm": rnd(self.dome_reference_sd_mm),
            "dome_reference_sd_px": rnd(self.dome_reference_sd_px, 2),
        }


def _angle_diff(a, b) -> np.ndarray:
    return np.abs((np.asarray(a, float) - b + 180.0) % 360.0 - 180.0)


def _circular_running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Running median of a sequence around a circle, ignoring NaN; NaN where the window is mostly empty."""
    n = len(values)
    half = window // 2
    idx = (np.arange(n)[:, None] + np.arange(-half, half + 1)[None, :]) % n
    win = values[idx]
    count = np.isfinite(win).sum(axis=1)
    with np.errstate(all="ignore"):
        med = np.nanmedian(np.where(count[:, None] > 0, win, 0.0), axis=1)
    return np.where(count > half, med, np.nan)


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """The longest circular run of True in ``mask`` (as a mask); all False when there is none."""
    n = len(mask)
    if not mask.any():
        return np.zeros(n, dtype=bool)
    if mask.all():
        return mask.copy()
    start = int(np.argmin(mask))  # begin at a False so runs do not wrap
    rolled = np.roll(mask, -start)
    best, best_at, run = 0, 0, 0
    for i, v in enumerate(np.append(rolled, False)):
        if v:
            run += 1
            continue
        if run > best:
            best, best_at = run, i - run
        run = 0
    out = np.zeros(n, dtype=bool)
    out[best_at:best_at + best] = True
    return np.roll(out, start)


MIN_OUTLINE_RUN_DEG = 5.0
"""Outline found over fewer consecutive angles than this (degrees), with gaps on both sides, is not
measured for collapse or Mose deviation: the silhouette is a continuous curve and a depression spans its
floor and two walls, while a fragment isolated by gaps is as likely another edge the trace touched (pelvic
cortex over the dome, a trabecular line) at an offset nothing anchors. 5 deg is 2 mm of a 24 mm head."""


def _short_runs(found: np.ndarray, angles_deg: np.ndarray, min_deg: float = MIN_OUTLINE_RUN_DEG) -> np.ndarray:
    """True on the runs of consecutive found angles (around the circle) spanning fewer than ``min_deg``."""
    n = len(found)
    out = np.zeros(n, dtype=bool)
    if n == 0 or found.all() or not found.any():
        return out
    step = 360.0 / n
    start = int(np.argmin(found))  # begin at a gap so that runs do not wrap
    rolled = np.roll(found, -start)
    labels, count = ndimage.label(rolled)
    sizes = ndimage.sum(rolled, labels, index=np.arange(1, count + 1))
    short = np.isin(labels, 1 + np.flatnonzero(sizes * step < min_deg))
    return np.roll(short, start)


def neck_junction_tails(angles_deg: np.ndarray, deviation: np.ndarray, articular: np.ndarray,
                        neck_angle_deg: float | None, inward_limit: float,
                        reach_deg: float = NECK_JUNCTION_REACH_DEG) -> np.ndarray:
    """Inward runs of the outline at the ends of the articular arc, next to the neck.

    A depression of the articular surface lies below the reference circle with intact outline on both
    sides of it. At an end of the articular arc the outline meets the neck, whose cortex crosses into
    the head's outline at a shallow angle: an inward run reaching that end is the junction, not a
    depression with an intact side beyond it.

    Parameters
    ----------
    angles_deg : ndarray, shape (N,)
        Image angle of each radial profile (evenly spaced around the circle).
    deviation : ndarray, shape (N,)
        Radial deviation of the outline from the reference circle (negative inward); NaN where none.
    articular : ndarray of bool, shape (N,)
        The articular arc (the angles away from the neck).
    neck_angle_deg : float or None
        Image angle of the neck.
    inward_limit : float
        Deviation (same unit, positive) below which the outline counts as inward of the intact circle.
    reach_deg : float
        The runs are followed no further than this angle from the neck.

    Returns
    -------
    ndarray of bool, shape (N,)
        True on the trimmed angles; all False without a neck.
    """
    n = len(angles_deg)
    out = np.zeros(n, dtype=bool)
    if neck_angle_deg is None or not articular.any() or articular.all():
        return out
    near = _angle_diff(angles_deg, neck_angle_deg) <= reach_deg
    ends = np.flatnonzero(articular & ~np.roll(articular, 1)), np.flatnonzero(articular & ~np.roll(articular, -1))
    for starts, step in ((ends[0], 1), (ends[1], -1)):
        for i in starts:
            while articular[i] and near[i] and not (np.isfinite(deviation[i]) and deviation[i] > -inward_limit):
                out[i] = True
                i = (i + step) % n
    return out


def double_contour(angles_deg: np.ndarray, outer_px: np.ndarray, inner_px: np.ndarray, articular: np.ndarray,
                   scale: tuple[float, float]) -> tuple[bool, float, float | None]:
    """A double contour along the superior articular surface: (present, arc in degrees, largest depth).

    Parameters
    ----------
    angles_deg : ndarray
        Image angle of each radial profile (evenly spaced around the circle).
    outer_px, inner_px : ndarray
        Radii (pixels) of the silhouette and of the inner contour at each angle (NaN where none).
    articular : ndarray of bool
        Angles on the articular surface (away from the neck).
    scale : (float, float)
        Pixel size (row, col), mm (or (1, 1) for pixels).

    Returns
    -------
    present : bool
        An inner contour runs along at least ``DOUBLE_CONTOUR_MIN_ARC_DEG`` of the superior surface.
    arc_deg : float
        Its arc (degrees), gaps up to ``DOUBLE_CONTOUR_GAP_DEG`` bridged; 0 when absent.
    max_depth : float or None
        Its largest depth below the silhouette (median over 5 profiles), in the unit of ``scale``.
    """
    a = np.radians(angles_deg)
    along = np.hypot(np.cos(a) * scale[0], np.sin(a) * scale[1])
    depth = (outer_px - inner_px) * along
    zone = articular & (_angle_diff(angles_deg, 0.0) <= DOUBLE_CONTOUR_ZONE_DEG)
    # a contour is continuous: each inner point lies close to a neighbour's (texture inside the head
    # gives steps at scattered depths, a crescent or depressed plate a line)
    inner_mm = inner_px * along
    limit = DOUBLE_CONTOUR_CONTINUITY * float(np.nanmedian(outer_px * along)) if np.isfinite(outer_px).any() else 0.0
    near = np.zeros(len(depth), dtype=bool)
    for shift in (-1, 1):
        with np.errstate(invalid="ignore"):
            near |= np.abs(inner_mm - np.roll(inner_mm, shift)) <= limit
    seen = zone & np.isfinite(depth) & near
    step = float(np.median(np.diff(angles_deg)))
    # short gaps (up to DOUBLE_CONTOUR_GAP_DEG) where the inner edge was missed do not split the arc
    gap = max(1, round(DOUBLE_CONTOUR_GAP_DEG / step))
    padded = np.concatenate([seen[-gap:], seen, seen[:gap]])
    closed = ndimage.binary_closing(padded, structure=np.ones(gap + 1, dtype=bool))[gap:-gap]
    run = _longest_run((closed | seen) & zone)
    arc = float(run.sum() * step)
    if arc < DOUBLE_CONTOUR_MIN_ARC_DEG:
        return False, 0.0, None
    smooth = _circular_running_median(np.where(run, depth, np.nan), 5)
    return True, arc, float(np.nanmax(smooth)) if np.isfinite(smooth).any() else float(np.nanmax(depth[run]))


def measure_head_contour(contour: HeadContour2D, pixel_size_mm: tuple[float, float] | None, *,
                         superior_deg: float = 0.0) -> RadiographHeadMeasures:
    """Reference circle, Mose deviation, collapse and joint space of one head contour.

    Parameters
    ----------
    contour : HeadContour2D
        From :func:`onfh_imaging.segment.xray.find_femoral_heads_2d`.
    pixel_size_mm : (float, float) or None
        Pixel size (row, col) at the patient; None measures in pixels only.
    superior_deg : float
        Image angle of the patient's superior direction (0: toward row 0, the usual display), about
        which the weight-bearing dome and the articular arc lie
        (:func:`onfh_imaging.segment.xray_anatomy.superior_angle_deg`).

    Returns
    -------
    RadiographHeadMeasures

    Raises
    ------
    MeasurementError
        When too little of the articular contour was found.
    """
    sr, sc = (1.0, 1.0) if pixel_size_mm is None else (float(pixel_size_mm[0]), float(pixel_size_mm[1]))
    angles = contour.angles_deg
    articular = np.ones(len(angles), dtype=bool)
    if contour.neck_angle_deg is not None:
        articular = _angle_diff(angles, contour.neck_angle_deg) > NECK_EXCLUSION_DEG
    use = contour.valid & articular
    if use.sum() < 30:
        raise MeasurementError(f"the {contour.side} head's articular contour was found at only {int(use.sum())} "
                               "angles (at least 30 needed)")
    pts = contour.points_px()[use] * np.array([sr, sc])  # (row, col) in mm (or px)
    mean_px = float(np.sqrt(sr * sc))
    # the trimming's sigma never drops below a fifth of a pixel: sub-pixel edges are not sharper than that
    circle = fit_reference_circle(pts, floor=0.2 * mean_px)
    read = _read_outline(contour, pts, use, articular, circle, superior_deg, mean_px)
    warnings: list[str] = []
    if read["off_head_dome_deg"] > 0.0:
        warnings.append(f"over {read['off_head_dome_deg']:.0f} deg of the weight-bearing dome the trace left the "
                        "head's outline for another edge (not continuous with the rim): collapse is not read there")
    jsw = _joint_space_width(contour, sr, sc)
    if jsw is None:
        warnings.append("the acetabular roof was not found over the weight-bearing zone: no joint space width")
    double = _inner_double_contour(contour, articular, (sr, sc))
    if double[0]:
        warnings.append(f"double contour inside the head's outline over {double[1]:.0f} deg (a subchondral fracture "
                        "or depressed subchondral plate): staged at least IIIA")
    return _measures(contour, circle, use, articular, read, jsw, double, warnings, pixel_size_mm)


def _read_outline(contour: HeadContour2D, pts: np.ndarray, use: np.ndarray, articular: np.ndarray,
                  circle: ReferenceCircle, superior_deg: float, mean_px: float) -> dict:
    """:func:`~onfh_imaging.measure.radiograph_dome.read_departures` on the outline: collapse and the Mose deviation
    from the whole outline's circle, the dome's departure from the intact rim's (``reference``, a
    :class:`~onfh_imaging.measure.radiograph_dome.DomeReference`), the deepest point's image angle and
    outline position (row, col px; None without depth)."""
    smooth = _outline_deviation(contour, pts, use, articular, circle, mean_px)
    if np.all(np.isnan(smooth)):
        raise MeasurementError(f"the {contour.side} head's contour is too fragmented to measure")
    # excursions of the trace not continuous with the rim are another edge, not the head's outline: not read
    dome_rays = arc_mask(contour.angles_deg, superior_deg, DOME_HALF_ARC_DEG)
    off = detached_excursions(contour.angles_deg, smooth, circle.radius,
                              wander=np.nan_to_num(outline_wander(smooth, articular)), open_within=dome_rays)
    smooth[off] = np.nan
    ref = dome_reference(contour.angles_deg, pts, use, articular, superior_deg, circle, visible=contour.in_image(),
                         floor=0.2 * mean_px)  # a rim traced onto another edge moves its circle off the whole one's
    dome = _outline_deviation(contour, pts, use, articular, ref.circle, mean_px) if ref.readable else None
    if dome is not None:
        dome[off] = np.nan
    read = read_departures(contour.angles_deg, smooth, dome, superior_deg)
    read.update(reference=ref, angle=None, location=None,
                off_head_dome_deg=float((off & dome_rays).sum() * 360.0 / len(off)))
    if read["ray"] is not None:
        read["angle"] = float(contour.angles_deg[read["ray"]])
        p = contour.points_px()[read["ray"]]
        read["location"] = (float(p[0]), float(p[1]))
    return read


def _measures(contour: HeadContour2D, circle: ReferenceCircle, use: np.ndarray, articular: np.ndarray, read: dict,
              jsw: float | None, double: tuple[bool, float, float | None], warnings: list[str],
              pixel_size_mm: tuple[float, float] | None) -> RadiographHeadMeasures:
    """The measures and their quality block, in pixels and (with a pixel size) mm."""
    sr, sc = (1.0, 1.0) if pixel_size_mm is None else (float(pixel_size_mm[0]), float(pixel_size_mm[1]))
    mean_px = float(np.sqrt(sr * sc))
    centre_px = (float(circle.center[0] / sr), float(circle.center[1] / sc))
    radius_px = circle.radius / mean_px
    to_mm = (lambda v: v) if pixel_size_mm is not None else (lambda v: None)
    to_px = (lambda v: v / mean_px) if pixel_size_mm is not None else (lambda v: v)
    ref: DomeReference = read["reference"]
    quality = outline_quality(
        articular_traced=float(use.sum() / max((articular & contour.in_image()).sum(), 1)),
        fit_rms_px=circle.rms / mean_px, radius_px=float(radius_px), inlier_fraction=float(circle.inliers.mean()),
        search_radius_px=contour.radius_px, search_center_px=contour.center_px, fit_center_px=centre_px,
        edge_snr=float(np.median(contour.strength[use])), arc_in_image=contour.arc_in_image,
        placed_by_hand=contour.placed_by_hand, pixel_only=pixel_size_mm is None, dome_traced=read["dome_traced"],
        dome_off_head_deg=read["off_head_dome_deg"])
    depth, max_dev, wander = read["depth"], read["max_dev"], read["wander"]
    has_double, arc, dc_depth = double
    px = (lambda v: None if v is None else float(to_px(v)))
    mm = (lambda v: None if v is None else to_mm(v))
    return RadiographHeadMeasures(
        side=contour.side, side_basis=contour.side_basis, center_px=centre_px, radius_px=float(radius_px),
        radius_mm=to_mm(circle.radius), max_deviation_px=px(max_dev), max_deviation_mm=mm(max_dev),
        collapse_depth_px=px(depth), collapse_depth_mm=mm(depth), collapse_angle_deg=read["angle"],
        collapse_location_px=read["location"], joint_space_width_px=px(jsw),
        joint_space_width_mm=mm(jsw), contour_points=int(use.sum()),
        inlier_fraction=float(circle.inliers.mean()), rms_mm=to_mm(circle.rms), double_contour=has_double,
        double_contour_arc_deg=arc, double_contour_max_depth_px=px(dc_depth),
        double_contour_max_depth_mm=mm(dc_depth), warnings=warnings,
        quality=quality, outline_wander_px=px(wander), outline_wander_mm=mm(wander),
        dome_traced=read["dome_traced"], intact_rim_traced=ref.rim_traced,
        rim_collapse_depth_px=px(read["rim_depth"]), rim_collapse_depth_mm=mm(read["rim_depth"]),
        dome_reference_sd_px=px(ref.dome_sd) if np.isfinite(ref.dome_sd) else None,
        dome_reference_sd_mm=mm(ref.dome_sd) if np.isfinite(ref.dome_sd) else None,
    )


def _outline_deviation(contour: HeadContour2D, pts: np.ndarray, use: np.ndarray, articular: np.ndarray,
                       circle: ReferenceCircle, mean_px: float) -> np.ndarray:
    """Radial deviation of the articular outline from the reference circle (negative inward), per angle.

    A running median over 5 profiles, in the unit of ``pts`` (mm, or pixels); NaN where the outline is
    not measured: off the articular arc, beyond the head (rejected outward by the fit), on short isolated
    fragments and on the inward tails where the neck meets the head.
    """
    angles = contour.angles_deg
    dev = np.full(len(angles), np.nan)
    dev[use] = np.hypot(*(pts - circle.center).T) - circle.radius
    # edges the fit rejects outward lie beyond the head (an overlapping acetabular wall or roof)
    outward = np.zeros(len(angles), dtype=bool)
    outward[np.flatnonzero(use)[~circle.inliers]] = dev[use][~circle.inliers] > 0
    dev[outward] = np.nan
    smooth = _circular_running_median(dev, 5)
    smooth[~use | outward | _short_runs(np.isfinite(dev), angles)] = np.nan
    # inward of the intact circle: beyond the fit's trimming level (its residual, at least a fifth of a pixel)
    smooth[neck_junction_tails(angles, smooth, articular, contour.neck_angle_deg,
                               INWARD_TRIM_SIGMAS * max(circle.rms, 0.2 * mean_px))] = np.nan
    return smooth


def _inner_double_contour(contour: HeadContour2D, articular: np.ndarray, scale: tuple[float, float]
                          ) -> tuple[bool, float, float | None]:
    """:func:`double_contour` of the contour's inner edge; absent when no inner edge was traced."""
    if contour.inner_radii_px is None:
        return False, 0.0, None
    return double_contour(contour.angles_deg, contour.radii_px, contour.inner_radii_px, articular, scale)


def _joint_space_width(contour: HeadContour2D, sr: float, sc: float) -> float | None:
    """Narrowest head rim to acetabular roof gap along the contour's rays over the weight-bearing zone
    (mm with pixel size ``(sr, sc)``, else pixels); None where the roof was found at fewer than 10 angles."""
    angles = contour.angles_deg
    gap_px = contour.roof_radii_px - contour.radii_px
    a = np.radians(angles)
    along_mm = np.hypot(np.cos(a) * sr, np.sin(a) * sc)
    gap = gap_px * along_mm
    zone = _angle_diff(angles, 0.0) <= WEIGHT_BEARING_HALF_WIDTH_DEG
    gap_s = _circular_running_median(np.where(zone, gap, np.nan), 7)
    if np.isfinite(gap_s[zone]).sum() >= 10:
        return float(np.nanmin(gap_s[zone]))
    return None


def calibrate(rx: Radiograph, diameter_mm: float = CALIBRATION_BALL_MM) -> tuple[Radiograph, CalibrationBall | None,
                                                                                 list[str]]:
    """The radiograph with its best pixel size: a calibration ball when one is found, else the header's.

    Parameters
    ----------
    rx : Radiograph
        The image (bone bright) with its nominal pixel size at the patient, if any.
    diameter_mm : float
        True diameter of the calibration sphere to look for, mm
        (:func:`onfh_imaging.segment.xray_ball.find_calibration_ball`).

    Returns
    -------
    rx : Radiograph
        With a ball found: a copy with square pixels of ``diameter_mm`` over the ball's diameter in pixels
        (mm per pixel, source ``"calibration marker"``); otherwise ``rx`` itself.
    ball : CalibrationBall or None
        The ball found.
    warnings : list of str
        The assumption behind the pixel size: with a ball, the header's size when it differs from the
        ball's by more than the fraction :data:`CALIBRATION_DISAGREEMENT`; without one, an unknown size
        (lengths in pixels), a detector size without magnification correction, or an estimated
        magnification factor.
    """
    warnings: list[str] = []
    ball = find_calibration_ball(rx, diameter_mm)
    if ball is not None:
        size = diameter_mm / ball.diameter_px
        if rx.calibrated:
            nominal = float(np.sqrt(rx.pixel_size_mm[0] * rx.pixel_size_mm[1]))
            if abs(nominal / size - 1.0) > CALIBRATION_DISAGREEMENT:
                warnings.append(f"the {diameter_mm:g} mm calibration ball gives {size:.4f} mm per pixel; the header "
                                f"({rx.pixel_size_source}) gives {nominal:.4f} ({100 * (nominal / size - 1):+.1f} %): "
                                "the ball is used")
        return replace(rx, pixel_size_mm=(size, size), pixel_size_source="calibration marker"), ball, warnings
    source = rx.pixel_size_source
    if not rx.calibrated:
        warnings.append("pixel size unknown (no PixelSpacing, ImagerPixelSpacing or calibration ball): "
                        "lengths are in pixels only")
    elif source == "ImagerPixelSpacing":
        warnings.append("pixel size is the detector's (ImagerPixelSpacing) without a magnification factor: "
                        "lengths are overestimated by the radiographic magnification (typically 10-25 %)")
    elif source.startswith("ImagerPixelSpacing/"):
        warnings.append("pixel size from the estimated radiographic magnification factor: assumes the hips lie "
                        "at its reference depth; no calibration ball found")
    return rx, None, warnings


__all__ = ["CALIBRATION_BALL_MM", "NECK_JUNCTION_REACH_DEG", "RadiographHeadMeasures", "ReferenceCircle", "calibrate",
           "double_contour", "fit_reference_circle", "measure_head_contour", "neck_junction_tails"]

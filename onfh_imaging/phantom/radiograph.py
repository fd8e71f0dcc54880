"""Digitally reconstructed radiographs of the analytic hip model, with their known truth.

A point source casts divergent rays through the 3-D model onto a flat detector. Each ray's line
integral of attenuation is the sum over tissues of (attenuation coefficient x path length):

* soft tissue (skin outline, muscle, pelvic fat, bladder) are quadrics, intersected analytically;
* bone (femur cortex and marrow, acetabulum, necrotic lesion) is integrated from the model's signed
  distance functions: samples every few millimetres, with each surface crossing refined by regula
  falsi, so path lengths are exact to a few micrometres even at coarse sampling;
* a calibration ball (steel sphere) is intersected analytically.

Bone is rendered on a coarse ray grid (about 0.5 mm at the patient) for the whole image and on every
detector pixel in an annulus around each femoral head (head contour, joint space, acetabular roof),
blended smoothly. The detector adds scatter, blur and quantum noise, then takes the logarithm so
that bone is bright, as a real DR detector's presentation image.

Coordinates are patient LPS mm. The AP beam travels anterior to posterior (+y); image columns run
toward the patient's left (+x) and rows toward the feet (-z), so the patient's right hip is on the
image's left. The frog-leg lateral view keeps the AP beam and turns each femur about its head
centre: externally rotated about the long axis, then abducted.

Image angles (used in the truth) are measured from image-up (toward row 0), positive toward
increasing column, in degrees: ``atan2(d_col, -d_row)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from onfh_imaging.phantom.model import HipModel, PelvisModel
from onfh_imaging.phantom.projection import MU_PER_MM, ProjectionGeometry, _PosedHip, frog_rotation, image_angle_deg

View = Literal["AP", "frog_lateral"]

_COARSE_PATIENT_MM = 0.5  # ray spacing of the coarse pass, at the patient
_COARSE_STEP_MM = 3.0  # sample spacing along rays (crossings are refined)
_FINE_STEP_MM = 3.0
_TAPER_MM = 2.0


# --- line integrals ------------------------------------------------------------------------------
def _slab(origin: np.ndarray, dirs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit distances of rays through an axis-aligned box (entry > exit when missed)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dirs
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    tmin = np.nanmax(np.minimum(t1, t2), axis=1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=1)
    return tmin, tmax


def _quadric_chord(origin: np.ndarray, dirs: np.ndarray, center: np.ndarray, semi_axes: np.ndarray) -> np.ndarray:
    """Chord length (mm) of unit rays through an axis-aligned ellipsoid; an infinite semi-axis makes a
    cylinder."""
    inv = np.where(np.isfinite(semi_axes), 1.0 / semi_axes, 0.0)
    o = (origin - center) * inv
    d = dirs * inv
    a = np.einsum("ij,ij->i", d, d)
    b = 2.0 * d @ o
    c = float(o @ o) - 1.0
    disc = b * b - 4.0 * a * c
    return np.where(disc > 0, np.sqrt(np.maximum(disc, 0.0)) / np.where(a > 0, a, 1.0), 0.0)


def _sphere_interval(origin, dirs, center, radius) -> tuple[np.ndarray, np.ndarray]:
    oc = np.asarray(center, float) - origin
    tc = dirs @ oc
    h2 = radius**2 - (float(oc @ oc) - tc**2)
    h = np.sqrt(np.maximum(h2, 0.0))
    return np.where(h2 > 0, tc - h, 1.0), np.where(h2 > 0, tc + h, 0.0)


def _path_lengths(groups, origin: np.ndarray, dirs: np.ndarray, t0: np.ndarray, t1: np.ndarray,
                  step_mm: float, refine: int = 2) -> np.ndarray:
    """Weighted path lengths of rays through nested solids given by signed distance functions.

    Each of ``groups`` maps points ``(N, 3)`` to a list of ``(weight, sdf (N,))``. Rays are sampled
    every ``step_mm`` (at most) on ``[t0, t1]``; every sign change is refined by ``refine``
    regula-falsi steps, and intervals that come within a step of a surface without crossing it are
    split once, so grazing rays are not lost. Returns ``sum(weight * length inside)`` per ray.
    """
    n = len(dirs)
    out = np.zeros(n)
    span = np.maximum(t1 - t0, 0.0)
    if n == 0 or span.max() <= 0:
        return out
    k = int(np.ceil(span.max() / step_mm)) + 1
    steps = np.maximum(span / (k - 1), 1e-9)
    ts = t0[:, None] + steps[:, None] * np.arange(k)[None, :]
    pts = (origin + ts[..., None] * dirs[:, None, :]).reshape(-1, 3)
    for fn in groups:
        fields = fn(pts)
        for idx, (weight, values) in enumerate(fields):
            f = values.reshape(n, k)
            f0, f1 = f[:, :-1], f[:, 1:]
            out += weight * ((f0 <= 0) & (f1 <= 0)).sum(axis=1) * steps
            pieces = []  # (ray, t_a, f_a, t_b, f_b): brackets around one crossing each
            ri, ci = np.nonzero((f0 <= 0) != (f1 <= 0))
            pieces.append((ri, ts[ri, ci], f0[ri, ci], ts[ri, ci + 1], f1[ri, ci]))
            # grazing: both ends outside, yet close enough that the surface may dip in between
            gi, gc = np.nonzero((f0 > 0) & (f1 > 0) & (f0 + f1 < steps[:, None]))
            if gi.size:
                tm = ts[gi, gc] + 0.5 * steps[gi]
                fm = fn(origin + tm[:, None] * dirs[gi])[idx][1]
                dip = fm <= 0
                gi, gc, tm, fm = gi[dip], gc[dip], tm[dip], fm[dip]
                pieces.append((gi, ts[gi, gc], f0[gi, gc], tm, fm))
                pieces.append((gi, tm, fm, ts[gi, gc + 1], f1[gi, gc]))
            for ray, a_t, a_f, b_t, b_f in pieces:
                if ray.size == 0:
                    continue
                root = _refine_roots(fn, idx, origin, dirs[ray], a_t, a_f, b_t, b_f, refine)
                np.add.at(out, ray, weight * np.where(a_f <= 0, root - a_t, b_t - root))
    return out


def _refine_roots(fn, idx: int, origin, dirs, a_t, a_f, b_t, b_f, iterations: int) -> np.ndarray:
    """Regula falsi (Illinois) on one field of ``fn`` between bracketing samples."""
    a_t, b_t, a_f, b_f = a_t.copy(), b_t.copy(), a_f.copy(), b_f.copy()
    root = a_t + (b_t - a_t) * a_f / np.where(a_f != b_f, a_f - b_f, 1.0)
    for _ in range(iterations):
        fr = fn(origin + root[:, None] * dirs)[idx][1]
        same_a = (fr <= 0) == (a_f <= 0)
        a_t, a_f, b_t, b_f = (np.where(same_a, root, a_t), np.where(same_a, fr, 0.5 * a_f),
                              np.where(same_a, b_t, root), np.where(same_a, 0.5 * b_f, fr))
        denom = a_f - b_f
        root = a_t + (b_t - a_t) * a_f / np.where(denom != 0, denom, 1.0)
        root = np.clip(root, np.minimum(a_t, b_t), np.maximum(a_t, b_t))
    return root


def _bone_integral(hips: list[_PosedHip], origin, dirs, step_mm: float, clip=None, refine: int = 2,
                   with_outside: bool = True, chunk: int = 400000) -> tuple[np.ndarray, np.ndarray]:
    """Excess bone attenuation (dimensionless line integral) along rays: the part inside the ball
    ``clip=(center, radius)`` and the part outside it (all outside when ``clip`` is None; zeros when
    ``with_outside`` is False).

    Ray segments are grouped by their number of samples so short segments are not over-sampled;
    ``chunk`` bounds the number of points evaluated at once.
    """
    inside = np.zeros(len(dirs))
    outside = np.zeros(len(dirs))
    if clip is not None:
        c0, c1 = _sphere_interval(origin, dirs, clip[0], clip[1])
    for ph in hips:
        for fields, (lo, hi) in ph.groups():
            t0, t1 = _slab(origin, dirs, lo, hi)
            if clip is None:
                a0 = a1 = t0
            else:
                a0, a1 = np.clip(c0, t0, t1), np.clip(c1, t0, t1)
                a1 = np.maximum(a1, a0)
            segments = ((outside, t0, a0), (inside, a0, a1), (outside, a1, t1)) if with_outside else \
                ((inside, a0, a1),)
            for target, a, b in segments:
                n_samples = np.where(b > a, np.ceil((b - a) / step_mm).astype(int) + 1, 0)
                for k in np.unique(n_samples[n_samples > 0]):
                    idx = np.nonzero(n_samples == k)[0]
                    per = max(1, chunk // int(k))
                    for s in range(0, idx.size, per):
                        sel = idx[s:s + per]
                        target[sel] += _path_lengths((fields,), origin, dirs[sel], a[sel], b[sel], step_mm, refine)
    return inside, outside


def _soft_tissue_integral(model: PelvisModel, origin, dirs) -> np.ndarray:
    mu = MU_PER_MM
    b = np.asarray(model.body_center_lps)
    ax, ay = model.body_semi_axes_mm
    fat = model.subcutaneous_fat_mm
    skin = _quadric_chord(origin, dirs, b, np.array([ax, ay, np.inf]))
    inner = _quadric_chord(origin, dirs, b, np.array([ax - fat, ay - fat, np.inf]))
    cavity = _quadric_chord(origin, dirs, model.pelvic_fat_center, np.asarray(model.pelvic_fat_semi_axes_mm))
    total = mu["fat"] * skin + (mu["muscle"] - mu["fat"]) * inner + (mu["fat"] - mu["muscle"]) * cavity
    if model.bladder_semi_axes_mm is not None:
        total += (mu["water"] - mu["fat"]) * _quadric_chord(origin, dirs, model.bladder_center,
                                                             np.asarray(model.bladder_semi_axes_mm))
    return total


# --- truth from the projected silhouette -----------------------------------------------------------
def _silhouette_radii(ph: _PosedHip, geom: ProjectionGeometry, angles_deg: np.ndarray) -> np.ndarray:
    """Outermost radius (mm at the head's depth) of the projected femoral head along image angles.

    Bisection on rays through the detector; a ray hits the head when the head's signed function is
    non-positive anywhere along it (sampled at 201 points across the reference sphere's chord).
    """
    hip = ph.hip
    R = hip.head_radius_mm
    c = hip.center
    m = geom.magnification_at(c)
    centre = geom.project(c[None])[0]
    a = np.radians(angles_deg)
    d_row, d_col = -np.cos(a), np.sin(a)
    lo = np.full(len(a), R - (hip.collapse.depth_mm if hip.collapse else 0.0) - 1.0)
    hi = np.full(len(a), R + 0.5)
    s = np.linspace(-1.0, 1.0, 201)
    for _ in range(17):
        mid = 0.5 * (lo + hi)
        px = mid * m / geom.detector_pixel_mm
        origin, dirs, _ = geom.rays(centre[0] + px * d_row, centre[1] + px * d_col)
        oc = c - origin
        tc = dirs @ oc
        half = np.sqrt(np.maximum(R**2 - (oc @ oc - tc**2), 0.0)) + 0.2  # the ray's chord in the sphere
        ts = tc[:, None] + half[:, None] * s[None, :]
        pts = origin + ts[..., None] * dirs[:, None, :]
        hit = (ph.head_sdf(pts.reshape(-1, 3)).reshape(len(a), -1) <= 0).any(axis=1)
        lo = np.where(hit, mid, lo)
        hi = np.where(hit, hi, mid)
    return 0.5 * (lo + hi)


def _central_section_radii(ph: _PosedHip, geom: ProjectionGeometry, angles_deg: np.ndarray) -> np.ndarray:
    """Radius (mm) of the articular surface in the head's central section: the plane through the head
    centre perpendicular to the ray that hits it, along the directions that project to the image angles.
    A depression in this section shows on the radiograph as an inner contour (its floor seen side-on);
    the outline itself is the silhouette (:func:`_silhouette_radii`)."""
    hip = ph.hip
    c = hip.center
    centre = geom.project(c[None])[0]
    a = np.radians(angles_deg)
    probe = geom.detector_points(centre[0] - np.cos(a) * 10.0, centre[1] + np.sin(a) * 10.0)
    ray = c - geom.source
    ray /= np.linalg.norm(ray)
    # the point of each probe ray closest to the centre lies in the central section
    d = probe - geom.source
    d /= np.linalg.norm(d, axis=1)[:, None]
    t = (d @ (c - geom.source)) / (d @ ray)
    u = geom.source + t[:, None] * d - c
    u /= np.linalg.norm(u, axis=1)[:, None]
    u_model = u @ ph.rotation  # R^T u, row-vector form
    return hip.surface_radius(u_model)


def _hip_truth(ph: _PosedHip, geom: ProjectionGeometry) -> dict[str, Any]:
    hip = ph.hip
    c = hip.center
    R = hip.head_radius_mm
    centre = geom.project(c[None])[0]
    m = geom.magnification_at(c)
    truth: dict[str, Any] = {
        "side": hip.side,
        "center_px": [float(centre[0]), float(centre[1])],
        "radius_mm": float(R),
        "radius_px": float(R * m / geom.detector_pixel_mm),
        "magnification": float(m),
        "joint_space_width_mm": float(hip.socket_radius_mm - R),
        "collapse_depth_3d_mm": float(hip.collapse.depth_mm) if hip.collapse else 0.0,
        "collapse_depth_mm": 0.0,
        "collapse_angle_deg": None,
        "collapse_visibility": 0.0,
        "collapse_depth_section_mm": 0.0,
        "collapse_section_angle_deg": None,
    }
    if hip.collapse is not None and hip.collapse.depth_mm > 0:
        u = ph.rotation @ np.asarray(hip.collapse.direction_lps)
        tip = geom.project((c + R * u)[None])[0] - centre
        centre_angle = float(image_angle_deg(tip[0], tip[1]))
        half = hip.collapse.angular_radius_deg + 20.0
        angles = centre_angle + np.arange(-half, half + 0.01, 0.5)
        section = _central_section_radii(ph, geom, angles)
        k = int(np.argmin(section))
        section_depth = float(max(R - section[k], 0.0))
        silhouette = _silhouette_radii(ph, geom, angles[::2])
        j = int(np.argmin(silhouette))
        depth = float(max(R - silhouette[j], 0.0))
        truth.update(collapse_depth_mm=depth, collapse_visibility=depth / hip.collapse.depth_mm,
                     collapse_angle_deg=float((angles[::2][j] + 180.0) % 360.0 - 180.0) if depth > 0 else None,
                     collapse_depth_section_mm=section_depth,
                     collapse_section_angle_deg=float((angles[k] + 180.0) % 360.0 - 180.0)
                     if section_depth > 0 else None)
    return truth


# --- rendering -------------------------------------------------------------------------------------
def _as_pelvis(model: HipModel | PelvisModel) -> PelvisModel:
    if isinstance(model, PelvisModel):
        return model
    if isinstance(model, HipModel):
        c = model.center
        return PelvisModel(hips=(model,), body_center_lps=(0.0, float(c[1]) + 10.0, float(c[2])))
    raise TypeError(f"render_radiograph needs a HipModel or PelvisModel, got {type(model).__name__}")


def _place_ball(bone_coarse: np.ndarray, stride: int, ball_px: float, heads_px: list[np.ndarray]) -> np.ndarray:
    """Detector (row, col) for the ball's centre: inside the image, over the least bone, away from heads."""
    r_c = ball_px / stride
    margin = int(np.ceil(r_c * 1.3)) + 1
    h, w = bone_coarse.shape
    if h <= 2 * margin or w <= 2 * margin:
        raise ValueError("the detector is too small to hold the calibration ball")
    yy, xx = np.mgrid[-margin:margin + 1, -margin:margin + 1]
    disc = (yy**2 + xx**2) <= (1.3 * r_c) ** 2
    load = ndimage.maximum_filter(bone_coarse, footprint=disc, mode="nearest")
    rr, cc = np.mgrid[0:h, 0:w]
    score = load.copy()
    for hp in heads_px:
        dist = np.hypot(rr * stride - hp[0], cc * stride - hp[1])
        score += np.where(dist < 4 * ball_px, 1.0, 0.0)
    inner = np.full_like(score, np.inf)
    inner[margin:h - margin, margin:w - margin] = score[margin:h - margin, margin:w - margin]
    best = np.flatnonzero(inner == inner.min())
    # among equally clear spots, the one farthest from the heads
    if heads_px:
        far = np.min([np.hypot(rr.ravel()[best] * stride - hp[0], cc.ravel()[best] * stride - hp[1])
                      for hp in heads_px], axis=0)
        pick = best[int(np.argmax(far))]
    else:
        pick = best[0]
    return np.array([rr.ravel()[pick] * stride, cc.ravel()[pick] * stride], dtype=float)


def _default_shape(model: PelvisModel, hips_shown: list[HipModel], magnification: float, pixel_mm: float
                   ) -> tuple[int, int]:
    if len(hips_shown) == 2:
        span = abs(hips_shown[1].center[0] - hips_shown[0].center[0]) + 4.5 * hips_shown[0].head_radius_mm
        size = (0.75 * span, span)
    else:
        size = (5.0 * hips_shown[0].head_radius_mm, 5.0 * hips_shown[0].head_radius_mm)
    return tuple(int(np.ceil(s * magnification / pixel_mm / 2.0)) * 2 for s in size)  # type: ignore[return-value]


def render_radiograph(
    model: HipModel | PelvisModel,
    *,
    view: View = "AP",
    side: Literal["left", "right", "both"] | None = None,
    source_to_image_mm: float = 1100.0,
    object_to_image_mm: float | None = None,
    magnification: float = 1.18,
    detector_pixel_mm: float = 0.15,
    detector_shape: tuple[int, int] | None = None,
    center_lps=None,
    photons_per_pixel: float | None = 20000.0,
    scatter_fraction: float = 0.2,
    blur_px: float = 0.5,
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    calibration_ball_mm: float | None = None,
    frog_abduction_deg: float = 45.0,
    frog_external_rotation_deg: float = 40.0,
    occult_lesion_sides: tuple[str, ...] = (),
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Render a hip or pelvis radiograph of the analytic model and report its truth.

    Parameters
    ----------
    model : HipModel or PelvisModel
        The 3-D model (LPS mm). A bare hip gets a default soft-tissue outline.
    view : {"AP", "frog_lateral"}
        AP, or frog-leg lateral (the femora abducted and externally rotated about the head centres).
    side : {"left", "right", "both"}, optional
        Which hip the field of view is centred on; default every hip of the model.
    source_to_image_mm : float
        Source-to-detector distance, mm (1000-1150 clinically).
    object_to_image_mm : float, optional
        Head-centre plane to detector distance, mm; default from ``magnification``.
    magnification : float
        Magnification of the head-centre plane (1.1-1.25 clinically), used when
        ``object_to_image_mm`` is None.
    detector_pixel_mm : float
        Detector pixel pitch, mm (0.1-0.2).
    detector_shape : (rows, cols), optional
        Detector size in pixels; default covers the hip(s) with a margin.
    center_lps : 3 floats, optional
        Object-plane point on the central ray; default the mean centre of the hips shown.
    photons_per_pixel : float or None
        Unattenuated quanta per pixel (quantum noise); None renders without noise.
    scatter_fraction : float
        Mean scatter-to-primary ratio (a smooth veil, as behind an anti-scatter grid).
    blur_px : float
        Detector blur (Gaussian sigma), pixels.
    photometric : {"MONOCHROME1", "MONOCHROME2"}
        Recorded in the truth; the returned pixels always have bone bright (the DICOM writer
        inverts for MONOCHROME1).
    calibration_ball_mm : float, optional
        Diameter of a steel calibration ball placed at the depth of the head centres, in a part of the
        field clear of bone, mm.
    frog_abduction_deg, frog_external_rotation_deg : float
        Femoral pose of the frog-leg lateral view, degrees.
    occult_lesion_sides : tuple of str
        Hips (``"left"``, ``"right"``) whose necrotic lesion is radiographically occult: an early lesion
        without mineral change (ARCO I), whose band and core attenuate as the marrow they replace while
        MRI shows them. Other lesions show their dense margin and core (ARCO II).
    seed : int
        Noise seed.

    Returns
    -------
    pixels : ndarray of uint16, shape (rows, cols)
        The presentation image (log-transformed, bone bright, 12-bit range).
    truth : dict
        Geometry (source/detector distances, pixel sizes, magnification), and per hip ``center_px``
        ([row, col], 0-based), ``radius_mm``, ``radius_px``, ``collapse_depth_mm`` (as seen in this
        view: the deepest inward displacement of the projected head silhouette below the reference
        sphere's outline, mm at the head's depth), ``collapse_angle_deg`` (image angle of that deepest
        point), ``collapse_visibility`` (``collapse_depth_mm`` over the 3-D depth),
        ``collapse_depth_3d_mm``, ``collapse_depth_section_mm`` and ``collapse_section_angle_deg``
        (the depression's depth and image angle in the head's central section facing the beam, which
        shows as an inner contour rather than as the silhouette), ``joint_space_width_mm``; and the
        ball (centre px, diameter px) when present; ``radiographic_lesion`` per hip (a lesion drawn).
    """
    if view not in ("AP", "frog_lateral"):
        raise ValueError(f"view must be 'AP' or 'frog_lateral', got {view!r}")
    pelvis = _as_pelvis(model)
    drawn = {h.side: h.lesion is not None and h.side not in occult_lesion_sides for h in pelvis.hips}
    if occult_lesion_sides:
        pelvis = replace(pelvis, hips=tuple(replace(h, lesion=None) if h.side in occult_lesion_sides else h
                                            for h in pelvis.hips))
    shown = [h for h in pelvis.hips if side in (None, "both", h.side)]
    if not shown:
        raise ValueError(f"the model has no {side} hip")
    geom, centre, mag = _projection(pelvis, shown, source_to_image_mm, object_to_image_mm, magnification,
                                    detector_pixel_mm, detector_shape, center_lps)
    posed = [_PosedHip(h, frog_rotation(h.side, frog_abduction_deg, frog_external_rotation_deg)
                       if view == "frog_lateral" else np.eye(3)) for h in pelvis.hips]
    nr, nc = geom.shape
    rows, cols = np.mgrid[0:nr, 0:nc].astype(float)
    stride = max(1, round(_COARSE_PATIENT_MM * mag / detector_pixel_mm))
    bone, bone_c = _bone_image(posed, geom, rows, cols, stride)

    _, dirs_all, _ = geom.rays(rows, cols)
    line = bone + _soft_tissue_integral(pelvis, geom.source, dirs_all).reshape(nr, nc)
    ball_truth = None
    if calibration_ball_mm is not None:
        ball_line, ball_truth = _calibration_ball(geom, pelvis, centre, dirs_all, bone_c, stride, mag,
                                                  calibration_ball_mm)
        line += ball_line

    pixels = _detector(line, photons_per_pixel, scatter_fraction, blur_px, detector_pixel_mm, seed)
    truth = {
        "view": view,
        "source_to_image_mm": geom.source_to_image_mm,
        "object_to_image_mm": geom.object_to_image_mm,
        "magnification": mag,
        "detector_pixel_mm": detector_pixel_mm,
        "pixel_size_mm": detector_pixel_mm / mag,
        "shape": [nr, nc],
        "photometric": photometric,
        "hips": [],
        "calibration_ball": ball_truth,
    }
    for ph in posed:
        ht = _hip_truth(ph, geom)
        r, cl = ht["center_px"]
        rp = ht["radius_px"]
        ht["in_view"] = bool(rp <= r <= nr - 1 - rp and rp <= cl <= nc - 1 - rp)
        ht["radiographic_lesion"] = drawn[ph.hip.side]
        truth["hips"].append(ht)
    return pixels, truth


def _projection(pelvis: PelvisModel, shown: list[HipModel], source_to_image_mm: float,
                object_to_image_mm: float | None, magnification: float, detector_pixel_mm: float,
                detector_shape: tuple[int, int] | None, center_lps
                ) -> tuple[ProjectionGeometry, np.ndarray, float]:
    """The projection of :func:`render_radiograph`, the object-plane point on its central ray (LPS mm) and
    the magnification of that plane."""
    if object_to_image_mm is None:
        object_to_image_mm = source_to_image_mm * (1.0 - 1.0 / magnification)
    if not 0 <= object_to_image_mm < source_to_image_mm:
        raise ValueError("object_to_image_mm must lie between 0 and the source-to-image distance")
    centre = np.mean([h.center for h in shown], axis=0) if center_lps is None else np.asarray(center_lps, float)
    # object plane through the head centres (their mean depth)
    centre = np.array([centre[0], np.mean([h.center[1] for h in pelvis.hips]), centre[2]])
    mag = source_to_image_mm / (source_to_image_mm - object_to_image_mm)
    shape = detector_shape or _default_shape(pelvis, shown, mag, detector_pixel_mm)
    geom = ProjectionGeometry(float(source_to_image_mm), float(object_to_image_mm), float(detector_pixel_mm),
                              (int(shape[0]), int(shape[1])), tuple(float(v) for v in centre))
    return geom, centre, mag


def _bone_image(posed: list[_PosedHip], geom: ProjectionGeometry, rows: np.ndarray, cols: np.ndarray,
                stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Bone line integral on every detector pixel, and on the coarse ray grid (every ``stride`` pixels).

    Every structure is integrated on the coarse grid; around each head, the bone inside a ball is
    integrated again on every pixel (fine) and blended in over an annulus holding the head contour,
    the joint space and the acetabular roof.
    """
    nr, nc = geom.shape
    origin = geom.source
    rc = np.arange(0, nr - 1 + stride, stride, dtype=float)
    cc = np.arange(0, nc - 1 + stride, stride, dtype=float)
    grid_r, grid_c = np.meshgrid(rc, cc, indexing="ij")
    _, dirs_c, _ = geom.rays(grid_r, grid_c)
    up = np.stack([rows / stride, cols / stride])

    def upsample(img: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(img.reshape(grid_r.shape), up, order=1, mode="nearest")

    clips, coarse_inside = [], []
    bone_c = np.zeros(grid_r.size)
    for ph in posed:
        hip = ph.hip
        r_out = hip.socket_radius_mm + 3.0
        clips.append((hip.head_radius_mm - 7.0, r_out, (hip.center, r_out + _TAPER_MM + 1.5)))
        inside, outside = _bone_integral([ph], origin, dirs_c, _COARSE_STEP_MM, clip=clips[-1][2], refine=1)
        coarse_inside.append(inside)
        bone_c += inside + outside
    bone = upsample(bone_c)
    for ph, (r_in, r_out, clip), inside_c in zip(posed, clips, coarse_inside):
        c = ph.hip.center
        pc = geom.project(c[None])[0]
        rad = np.hypot(rows - pc[0], cols - pc[1]) * geom.detector_pixel_mm / geom.magnification_at(c)
        w = np.clip(np.minimum(rad - (r_in - _TAPER_MM), (r_out + _TAPER_MM) - rad) / _TAPER_MM, 0.0, 1.0)
        w = (0.5 - 0.5 * np.cos(np.pi * w)).ravel()
        sel = np.nonzero(w > 0)[0]
        if sel.size == 0:
            continue
        _, dirs_f, _ = geom.rays(rows.ravel()[sel], cols.ravel()[sel])
        fine, _ = _bone_integral([ph], origin, dirs_f, _FINE_STEP_MM, clip=clip, refine=2, with_outside=False)
        flat = bone.ravel()
        flat[sel] += w[sel] * (fine - upsample(inside_c).ravel()[sel])
        bone = flat.reshape(nr, nc)
    return bone, bone_c.reshape(grid_r.shape)


def _calibration_ball(geom: ProjectionGeometry, pelvis: PelvisModel, centre: np.ndarray, dirs_all: np.ndarray,
                      bone_c: np.ndarray, stride: int, mag: float, diameter_mm: float
                      ) -> tuple[np.ndarray, dict[str, Any]]:
    """Line integral (rows, cols) of a steel ball at the depth of ``centre``, over the least bone, and its truth."""
    nr, nc = geom.shape
    origin = geom.source
    pixel_mm = geom.detector_pixel_mm
    ball_px = 0.5 * diameter_mm * mag / pixel_mm
    heads_px = [geom.project(h.center[None])[0] for h in pelvis.hips]
    b_rc = _place_ball(bone_c, stride, ball_px, heads_px)
    target = geom.detector_points(b_rc[:1], b_rc[1:])[0]
    ray = (target - origin) / np.linalg.norm(target - origin)
    b_centre = origin + ray * ((centre - origin) @ geom.beam) / (ray @ geom.beam)
    t0, t1 = _sphere_interval(origin, dirs_all, b_centre, 0.5 * diameter_mm)
    b_px = geom.project(b_centre[None])[0]
    truth = {"center_px": [float(b_px[0]), float(b_px[1])], "diameter_mm": float(diameter_mm),
             "diameter_px": float(diameter_mm * geom.magnification_at(b_centre) / pixel_mm)}
    return MU_PER_MM["ball"] * np.maximum(t1 - t0, 0.0).reshape(nr, nc), truth


def _detector(line: np.ndarray, photons: float | None, scatter_fraction: float, blur_px: float,
              pixel_mm: float, seed: int) -> np.ndarray:
    """Quanta through the patient, scatter veil, detector blur and noise, then log to a 12-bit image."""
    primary = np.exp(-line)
    scatter = ndimage.gaussian_filter(primary, sigma=40.0 / pixel_mm / 4.0, mode="nearest") * scatter_fraction
    signal = primary + scatter
    if blur_px > 0:
        signal = ndimage.gaussian_filter(signal, blur_px, mode="nearest")
    if photons is not None:
        rng = np.random.default_rng(seed)
        counts = signal * photons
        counts = counts + np.sqrt(counts) * rng.standard_normal(counts.shape)
        signal = np.maximum(counts, 1.0) / photons
    log = -np.log(np.maximum(signal, 1e-6))
    clean = -np.log(np.maximum(primary + scatter, 1e-6))
    lo, hi = np.percentile(clean, 0.5), np.max(clean)
    return np.clip(np.round((log - lo) / max(hi - lo, 1e-6) * 4095.0), 0, 4095).astype(np.uint16)


# --- files -----------------------------------------------------------------------------------------
RADIOGRAPH_FILES = {"AP": "XR_AP.dcm", "frog_lateral": "XR_FROG_LATERAL.dcm"}


def write_radiograph_study(
    out_dir: str | os.PathLike,
    spec_or_model: Any,
    *,
    views: tuple[View, ...] = ("AP", "frog_lateral"),
    side: Literal["left", "right", "both"] | None = None,
    modality: Literal["DX", "CR"] = "DX",
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    record_magnification: bool = True,
    study_instance_uid: str | None = None,
    seed: int = 0,
    **render: Any,
) -> dict[str, Any]:
    """Render radiographs of a phantom and write them as DICOM files with a ``radiograph_truth.json``.

    Parameters
    ----------
    out_dir : path
        Output folder (created if needed); files ``XR_AP.dcm``, ``XR_FROG_LATERAL.dcm`` and
        ``radiograph_truth.json`` are written atomically.
    spec_or_model : PhantomSpec, PelvisModel or HipModel
        A phantom spec (its ``model()``, patient, study date are used) or a model.
    views : tuple of {"AP", "frog_lateral"}
        Views to write.
    side : {"left", "right", "both"}, optional
        Field of view (default every hip of the model).
    modality : {"DX", "CR"}
        DICOM modality.
    photometric : {"MONOCHROME1", "MONOCHROME2"}
        Stored photometric interpretation.
    record_magnification : bool
        Write EstimatedRadiographicMagnificationFactor (else only ImagerPixelSpacing, so readers see
        the pixel size at the detector).
    study_instance_uid : str, optional
        Study UID shared by the views (new when omitted).
    seed : int
        Noise seed (view ``n`` uses ``seed + n``).
    **render
        Passed to :func:`render_radiograph` (distances, pixel size, ``calibration_ball_mm``, ...);
        ``occult_lesion_sides`` defaults to the hips whose spec has ``radiographic_lesion=False``.

    Returns
    -------
    dict
        ``{"files": {view: file name}, "views": {view: truth of render_radiograph}}``.
    """
    from pydicom.uid import generate_uid

    from onfh_imaging.io._atomic import atomic_path
    from onfh_imaging.io.dicom_write import write_radiograph

    model = spec_or_model.model() if hasattr(spec_or_model, "model") else spec_or_model
    render.setdefault("occult_lesion_sides", tuple(s for s in ("right", "left")
                                                   if not getattr(getattr(spec_or_model, s, None),
                                                                  "radiographic_lesion", True)))
    patient_id = getattr(spec_or_model, "patient_id", "PHANTOM")
    patient_name = getattr(spec_or_model, "patient_name", "Phantom^Hip")
    study_date = getattr(spec_or_model, "study_date", "20260101")
    study_uid = study_instance_uid or generate_uid()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pelvis = _as_pelvis(model)
    laterality = "both" if side in (None, "both") and len(pelvis.hips) == 2 else (side or pelvis.hips[0].side)
    doc: dict[str, Any] = {"files": {}, "views": {}}
    for n, view in enumerate(views):
        pixels, truth = render_radiograph(model, view=view, side=side, photometric=photometric,
                                          seed=seed + n, **render)
        name = RADIOGRAPH_FILES[view]
        write_radiograph(
            pixels, out / name, imager_pixel_spacing=truth["detector_pixel_mm"],
            magnification=truth["magnification"] if record_magnification else None,
            photometric=photometric, modality=modality, view="AP" if view == "AP" else "frog",
            laterality=laterality, patient_id=patient_id, patient_name=patient_name,
            study_instance_uid=study_uid, study_date=study_date,
            series_description="PELVIS AP" if view == "AP" else "HIP FROG LATERAL", series_number=100 + n,
            source_to_detector_mm=truth["source_to_image_mm"],
            # the frog-leg view is still an AP projection: columns run toward the patient's left
            extra={"PatientOrientation": ["L", "F"]},
        )
        doc["files"][view] = name
        doc["views"][view] = truth
    with atomic_path(out / "radiograph_truth.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2))
    return doc


__all__ = [
    "MU_PER_MM",
    "RADIOGRAPH_FILES",
    "ProjectionGeometry",
    "frog_rotation",
    "image_angle_deg",
    "render_radiograph",
    "write_radiograph_study",
]

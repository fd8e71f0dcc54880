"""The necrotic lesion of a femoral head on T1-weighted MRI, band included.

On a fine isotropic grid inside the cortex, marrow clearly darker than the head's own marrow (the
demarcating band, a fluid core) splits the bone; normal marrow is what stays connected to the neck, and the
rest, away from the neck, reaching the subchondral bone and larger than ``MIN_LESION_VOLUME_ML``, is the
necrotic segment. A threshold puts its boundary where the blurred band reaches, up to half the slice
thickness into normal marrow, so the boundary is moved to the band's outer edge found by fitting marrow |
band | core, blurred by the image's point-spread function, to profiles across it. The segment is then
carried radially out to the bone surface. With no band the lesion mask is empty.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from onfh_imaging.fitting import robust_scale
from onfh_imaging.geometry import Volume
from onfh_imaging.segment.anatomy import LESION_MIN_NECK_ANGLE_DEG, MIN_LESION_VOLUME_ML
from onfh_imaging.segment.bone_surface import BoneSurface, ray_blur_cdf
from onfh_imaging.segment.rays import sample_volume, supersample_offsets

if TYPE_CHECKING:
    from onfh_imaging.segment.mri import HipSegmentation

__all__ = ["check_fluid_sensitive", "lesion_fraction"]

#: Length (mm) of the band's course beneath the plate from which its continuation to the surface is
#: extrapolated: long enough to average the fine grid's steps, short against the band's curvature.
_BAND_COURSE_MM = 2.0

MARROW_SMOOTHING_MM = 0.5
"""Gaussian sigma (mm) smoothing the fine grid's samples before thresholding: averages the noise of
neighbouring samples, well under the thinnest band (2 mm) so the band keeps its contrast."""

BAND_WIDTH_SEARCH_MM = (0.5, 5.0, 0.25)
"""Band widths (mm: first, last, step) searched by the edge fit: from under a fine voxel to wider than
the thickest demarcating band (about 4 mm) seen through the blur."""

BAND_EDGE_SEARCH_MM = (-2.0, 4.0, 0.05)
"""Offsets (mm: first, last, step, positive into the lesion) of the band's outer edge searched by the
edge fit from the thresholded boundary: beyond ``EDGE_OFFSET_RANGE_MM`` on both sides, so a fit at its
limit is seen as clipped rather than bounded by the search."""

BAND_LEVEL_FLOOR = 0.0
"""Lowest signal (image units) the edge fit allows the demarcating band: no tissue is darker than no
signal in a magnitude image. A band thinner than the blur leaves only its dip's centre and integrated
darkness (width times contrast) in the profile, so an unbounded fit trades width for darkness and reads an
ever thinner, impossibly dark (negative) band whose outer edge lies half the missing width too deep in
the lesion (across 3.5-4.5 mm slices, 0.5-0.9 mm too deep); bounded, the band is at least as wide as its
darkness requires."""

UNDER_PLATE_MARGIN_MM = 0.8
"""Depth (mm) beneath the subchondral plate's own thickness where marrow darkening is still the plate's
in-plane partial volume, not signal loss: about one in-plane pixel of hip MRI (0.5-0.9 mm). Thick slices
add ``PLATE_SMEAR_SLICES`` of their extent along the ray on top (the plate smeared along the slice normal)."""

PLATE_SMEAR_SLICES = 0.5
"""How far (in slice thicknesses, along the slice normal) the subchondral plate's darkening is taken to
reach into the marrow: each slice averages a box one slice thick, so the plate's own slice reaches half a
slice beyond its centre. Interpolating between slice centres spreads the box over a triangle, but the
part beyond half a slice keeps under 17 % of the plate's darkness, below ``BAND_CONTRAST``: darker marrow
there is image evidence. (Taking the reach as a whole slice narrows the lesion's surface footprint on
4-5 mm slices but under-reads lesion volume past 10 % on an independently drawn ball-head phantom.)"""

BAND_CONTRAST = 0.25
"""Share of the marrow-to-cortex contrast by which marrow must be darker than the head's marrow to count
as band or core (1). A band of cortical darkness ``w`` mm thick seen through a slice ``s`` mm thick keeps
about ``w / s`` of its contrast (a 2 mm band in a 5 mm slice: 0.4); a quarter lies below that with margin,
and well above marrow noise and texture (a few per cent of the contrast at the SNR of hip MRI)."""

PLATE_BLUR_COSINE_STEP = 0.1
"""Step of the cosine between a ray and the slice normal at which the point-spread function that carries
the subchondral plate's darkness into the marrow is computed (1): across one step the slice's extent
along the ray changes by a tenth of a slice, under the in-plane pixel on 3-6 mm slices."""

BAND_CLOSING_ITERATIONS = 2
"""Binary closing (fine-grid voxels, 0.6 mm each) that seals gaps noise leaves in the thresholded band: a
gap of one or two voxels (about 1 mm) is noise lifting single voxels over the threshold; a real opening of
the band, where normal marrow meets the segment, is wider than the band is thick (2 mm or more). Two
iterations bridge up to four voxels (2.4 mm): where the slices cross the surface obliquely (the lesion's
ends along the slice normal) the band runs that close to the plate's smeared layer beyond the marrow
searched, and a closing that counts that layer as band joins the two (``net_of_plate`` of
:func:`lesion_fraction` closes the band within the searched marrow only)."""

SPECK_OPENING_ITERATIONS = 1
"""Binary opening (fine-grid voxels) that removes lesion specks and threads one voxel thin: noise, not
a necrotic segment (a segment is millimetres thick in every direction)."""

NORMAL_SEED_CONE_DEG = 35.0
"""Half-angle (deg) about the neck axis of the cone whose marrow seeds normal marrow: the femoral neck is
about 0.6 head radii wide in radius, so from the head centre its marrow fills rays within about
asin(0.6) = 37 deg of its axis, where a necrotic segment (farther than ``LESION_MIN_NECK_ANGLE_DEG``
from the neck) never lies."""

NORMAL_SEED_MIN_RADIUS = 0.2
"""Seeds of normal marrow lie farther than this share of the head radius from its centre (1): nearer,
every direction of the cone meets in a few voxels and the cone no longer selects the neck side."""

SUBCHONDRAL_REACH_MM = 1.5
"""A dark component counts as reaching the subchondral bone when it comes within this depth (mm) of the
layer the plate's partial volume darkens: about two fine-grid voxels and one in-plane pixel, the
uncertainty of where that layer ends."""

EDGE_OFFSET_RANGE_MM = (-1.5, 3.0)
"""Limits (mm, positive into the lesion) of the correction moving the thresholded boundary to the band's
outer edge. The threshold is reached where the blurred band begins to darken marrow, at most half the
blur (half of a 6 mm slice, 3 mm) into normal marrow; outward, the threshold may fall inside a faint
band by at most about half the thinnest band's width (bands are 2-4 mm thick)."""

EDGE_PROFILE_REACH_MM = 4.0
"""Half-length (mm) of the profiles across the boundary beyond half the coarsest voxel: room for the
marrow level on one side and the band and core (bands up to 4 mm) on the other."""

MIN_BOUNDARY_VOXELS = 20
"""Fewest boundary voxels (fine grid) a fit of the band's edge is made from, alone or as a group: fewer
average too little noise out of the profiles (about 2 mm2 of boundary)."""

EDGE_FIT_GROUP_VOXELS = 300
"""Boundary voxels per fit group (fine grid): facing groups larger than this are split by their blur
into up to three (thin-slice, oblique and thick-slice courses), each still averaging enough profiles."""

FLUID_LESION_SD = 2.0
"""A T1 lesion whose 90th percentile on the fluid-sensitive series is below the normal marrow's median
plus this many robust SDs shows no high signal there (1: the usual two-sigma limit)."""

OEDEMA_SD = 6.0
"""Fluid-sensitive signal above the normal marrow's median by this many robust SDs is high signal
(oedema), far beyond marrow's noise (a false alarm rate well under one voxel per head)."""

MIN_COMPARED_VOXELS = 20
"""Fewest voxels (image grid) of normal marrow, or of lesion, whose fluid-sensitive signal is compared:
fewer give no stable median and robust SD."""

OEDEMA_SHARE = 0.05
"""Share of the head with such high signal, without a T1 band, that is reported as possible oedema (1):
more than a few vessels or a red-marrow island."""


def _band_levels(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares marrow, band and core levels per candidate (``design``: candidate, sample, level)
    of the profile ``y``, the band's level bounded below by ``BAND_LEVEL_FLOOR``: where the free fit
    reads it darker, the optimum lies on the bound, so the band is fixed there and the other two refitted."""
    gram = np.einsum("nsi,nsj->nij", design, design) + 1e-9 * np.eye(3)
    levels = np.linalg.solve(gram, np.einsum("nsi,s->ni", design, y)[..., None])[..., 0]
    low = levels[:, 1] < BAND_LEVEL_FLOOR
    if low.any():
        d2 = design[low][..., [0, 2]]
        rhs = y[None, :] - BAND_LEVEL_FLOOR * design[low][..., 1]
        g2 = np.einsum("nsi,nsj->nij", d2, d2) + 1e-9 * np.eye(2)
        two = np.linalg.solve(g2, np.einsum("nsi,ns->ni", d2, rhs)[..., None])[..., 0]
        levels[low] = np.stack([two[:, 0], np.full(len(two), BAND_LEVEL_FLOOR), two[:, 1]], axis=1)
    return levels


def _band_edge_offset(t: np.ndarray, profile: np.ndarray, cdf: tuple[np.ndarray, np.ndarray],
                      min_contrast: float) -> float | None:
    """Where normal marrow ends along a mean profile crossing a lesion's demarcating band (mm).

    ``profile`` is sampled at offsets ``t`` (mm) from the current boundary, positive into the lesion
    (NaN where nothing was sampled). The model is normal marrow, then the band, then the necrotic core,
    each at a free level (the band's no darker than ``BAND_LEVEL_FLOOR``), blurred by the point-spread
    function ``cdf`` along the profile; the band's outer edge ``e`` and width are searched on a grid, the
    levels solved by least squares (:func:`_band_levels`). A band thinner than the blur is never resolved
    by its half-depth, but this fit keeps its true edge. Returns ``e``,
    or None when no fit shows a band darker than the marrow by ``min_contrast``.
    """
    ok = np.isfinite(profile)
    if ok.sum() < 10:
        return None
    t, y = t[ok], profile[ok]
    x, c = cdf
    (w0, w1, dw), (e0, e1, de) = BAND_WIDTH_SEARCH_MM, BAND_EDGE_SEARCH_MM
    w, e = (g.reshape(-1) for g in np.meshgrid(np.arange(w0, w1 + 0.01, dw), np.arange(e0, e1 + 0.01, de)))
    inner = np.interp(t[None, :] - e[:, None], x, c, left=0.0, right=1.0)
    outer = np.interp(t[None, :] - (e + w)[:, None], x, c, left=0.0, right=1.0)
    design = np.stack([1.0 - inner, inner - outer, outer], axis=-1)  # (candidate, sample, level)
    levels = _band_levels(design, y)
    cost = np.sum((np.einsum("nsi,ni->ns", design, levels) - y) ** 2, axis=1)
    cost = np.where(levels[:, 0] - levels[:, 1] >= min_contrast, cost, np.inf)
    best = int(np.argmin(cost))
    return float(e[best]) if np.isfinite(cost[best]) else None


def _boundary_profiles(volume: Volume, array: np.ndarray, lesion: np.ndarray, normal: np.ndarray,
                       touching: np.ndarray, valid: np.ndarray, origin: np.ndarray, step_mm: float):
    """Profiles of the image across the lesion's boundary, one per boundary voxel (``touching``).

    Returns the boundary's unit normals (toward normal marrow, LPS), the voxel's blur widths along them
    (mm, per image axis), the offsets ``t`` (mm, positive into the lesion) the profiles are sampled at,
    the profiles (boundary voxel, offset; NaN outside ``valid``) and where they are valid.
    """
    smooth = ndimage.gaussian_filter(normal.astype(np.float32) - lesion.astype(np.float32), 1.0)
    grad = np.stack(np.gradient(smooth), axis=-1)[..., ::-1]  # (x, y, z): toward normal marrow
    idx = np.argwhere(touching)
    n_vec = grad[touching]
    n_vec /= np.maximum(np.linalg.norm(n_vec, axis=1, keepdims=True), 1e-9)
    p0 = origin + idx[:, ::-1] * step_mm + 0.5 * step_mm * n_vec
    widths = np.abs(n_vec @ volume.direction) * np.asarray(volume.spacing)
    reach = 0.5 * float(np.max(volume.spacing)) + EDGE_PROFILE_REACH_MM
    t = np.arange(-reach, reach + 1e-9, 0.2)
    pts = p0[:, None, :] - n_vec[:, None, :] * t[None, :, None]
    prof = sample_volume(volume, array, pts)
    fine_idx = np.rint((pts - origin) / step_mm).astype(int)[..., ::-1]
    inside = np.all((fine_idx >= 0) & (fine_idx < np.array(valid.shape)), axis=-1)
    fine_idx = np.clip(fine_idx, 0, np.array(valid.shape) - 1)
    inside &= valid[fine_idx[..., 0], fine_idx[..., 1], fine_idx[..., 2]]
    return n_vec, widths, t, np.where(inside, prof, np.nan), inside


def _edge_offsets(n_vec: np.ndarray, widths: np.ndarray, t: np.ndarray, prof: np.ndarray, inside: np.ndarray,
                  min_contrast: float) -> np.ndarray:
    """Offset (mm, positive into the lesion) of the band's outer edge from each boundary voxel, fitted
    with :func:`_band_edge_offset` to the mean profile of its group (0 where no band is fitted)."""
    blur = np.linalg.norm(widths, axis=1)
    # Boundary voxels share a fit when they share the point-spread function along their normal and
    # face the same way (the band's deep face and its sides are different courses of the band).
    facing = np.argmax(np.abs(n_vec), axis=1) * 2 + (np.take_along_axis(
        n_vec, np.argmax(np.abs(n_vec), axis=1)[:, None], 1)[:, 0] > 0)
    offsets = np.zeros(len(n_vec))
    groups = []
    for f in np.unique(facing):
        sel = np.flatnonzero(facing == f)
        sel = sel[np.argsort(blur[sel])]
        groups += np.array_split(sel, int(np.clip(len(sel) // EDGE_FIT_GROUP_VOXELS, 1, 3)))
    for members in groups:
        if len(members) < MIN_BOUNDARY_VOXELS:
            continue
        counts = inside[members].sum(axis=0)
        mean = np.where(counts >= max(5, 0.2 * len(members)),
                        np.nansum(prof[members], axis=0) / np.maximum(counts, 1), np.nan)
        cdf = ray_blur_cdf(np.median(widths[members], axis=0), 0.05)
        e = _band_edge_offset(t, mean, cdf, min_contrast)
        offsets[members] = 0.0 if e is None else float(np.clip(e, *EDGE_OFFSET_RANGE_MM))
    return offsets


def _lesion_edge_field(volume: Volume, array: np.ndarray, lesion: np.ndarray, normal: np.ndarray,
                       valid: np.ndarray, origin: np.ndarray, step_mm: float,
                       min_contrast: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous lesion indicator on the fine grid whose 0.5 level lies on the band's outer edge, and
    the signed distance (mm, positive inside) from that edge.

    ``lesion`` and ``normal`` are the necrotic and the normal marrow found by thresholding on the fine
    grid (origin ``origin`` LPS, isotropic ``step_mm``); ``valid`` marks where the image may be sampled
    (inside the cortex). A threshold puts the boundary where the blurred band reaches it, which moves it
    into normal marrow by up to half the blur, most on thick slices. Profiles across the boundary are
    therefore sampled on the input image along the boundary's normal, averaged over boundary voxels
    sharing a point-spread function, and fitted with :func:`_band_edge_offset`; every lesion voxel then
    gets its signed distance from the corrected edge as a ramp one fine voxel wide.
    """
    field_ = lesion.astype(np.float32)
    touching = lesion & ndimage.binary_dilation(normal)
    d_lesion = ndimage.distance_transform_edt(~normal) * step_mm - 0.5 * step_mm
    d_normal = ndimage.distance_transform_edt(~lesion) * step_mm - 0.5 * step_mm
    signed = np.where(lesion, d_lesion, -d_normal)
    if touching.sum() < MIN_BOUNDARY_VOXELS:
        return field_, signed
    n_vec, widths, t, prof, inside = _boundary_profiles(volume, array, lesion, normal, touching, valid,
                                                        origin, step_mm)
    offsets = _edge_offsets(n_vec, widths, t, prof, inside, min_contrast)
    # Signed distance (mm) from the present boundary, positive into the lesion, and each voxel's
    # correction from its nearest boundary voxel.
    nearest = ndimage.distance_transform_edt(~touching, return_distances=False, return_indices=True)
    offset_map = np.zeros(lesion.shape)
    offset_map[touching] = offsets
    offset_map = offset_map[tuple(nearest)]
    ramp = np.clip(0.5 + (signed - offset_map) / step_mm, 0.0, 1.0)
    near = (lesion | normal) & (np.abs(signed) < 0.5 * float(np.max(volume.spacing)) + EDGE_PROFILE_REACH_MM)
    return np.where(near, ramp, field_).astype(np.float32), signed - offset_map


def _fine_head_grid(volume: Volume, array: np.ndarray, surface: BoneSurface, reach: float,
                    step_mm: float) -> tuple[np.ndarray, ...]:
    """The fine isotropic grid (``step_mm``, half-width ``reach`` mm) about the head centre: each point's
    distance from the centre (mm), its unit direction, the bone surface's radius there (mm), and the
    image smoothed by ``MARROW_SMOOTHING_MM`` inside the head (the marrow level outside it)."""
    lv = surface.levels
    n = int(np.ceil(2 * reach / step_mm)) + 1
    axis = np.arange(n) * step_mm - reach
    zz, yy, xx = np.meshgrid(axis, axis, axis, indexing="ij")
    offs = np.stack([xx, yy, zz], axis=-1)
    rho = np.linalg.norm(offs, axis=-1)
    u = offs / np.maximum(rho, 1e-9)[..., None]
    r_s = surface.grid.interpolate(surface.r_surface, u)
    head = rho < r_s
    vals = np.zeros(head.shape, np.float32)
    vals[head] = sample_volume(volume, array, surface.center + offs[head])
    vals = ndimage.gaussian_filter(np.where(head, vals, lv.marrow), MARROW_SMOOTHING_MM / step_mm)
    return rho, u, r_s, vals


def _under_plate_depth_mm(cortex_mm: float, slice_mm: float, cos_slice_normal: np.ndarray) -> np.ndarray:
    """Depth (mm) below the bone surface, per direction (cosine with the slice normal), to which the
    subchondral plate and its blur darken the marrow."""
    return (cortex_mm + UNDER_PLATE_MARGIN_MM
            + PLATE_SMEAR_SLICES * slice_mm * np.abs(cos_slice_normal))


def _plate_darkening(volume: Volume, surface: BoneSurface, rho: np.ndarray, u: np.ndarray,
                     r_s: np.ndarray) -> np.ndarray:
    """Darkening (image units) that the subchondral plate and the cartilage beyond it leave in normal
    marrow through the image's point-spread function, per fine-grid point (radius ``rho`` mm, direction
    ``u``, bone surface at ``r_s`` mm).

    The plate (``cortex_mm`` thick, at the cortex level) and the cartilage beyond the surface are taken
    as layers across the ray; each voxel's box along the ray and the trilinear sampling (:func:`ray_blur_cdf`,
    with the fine grid's smoothing) carry the share of them lying within its reach into the marrow below.
    Where the slices cross the surface obliquely this reaches most of a slice thickness deep, farther than
    the under-plate margin; added to a band's own blurred darkness there it would pass the band's threshold
    between the band and the plate.
    """
    lv = surface.levels
    cos_n = np.abs(u @ volume.axis_of_slices())
    depth = r_s - rho
    pixel_mm, slice_mm = float(np.mean(volume.spacing[:2])), float(volume.spacing[2])
    out = np.zeros(rho.shape, np.float32)
    edges = np.arange(0.0, 1.0 + 0.5 * PLATE_BLUR_COSINE_STEP, PLATE_BLUR_COSINE_STEP)
    for lo, hi in pairwise(edges):
        sel = (cos_n >= lo) & (cos_n <= hi) & (depth > 0)
        if not sel.any():
            continue
        c = 0.5 * (lo + hi)
        in_plane = pixel_mm * np.sqrt(0.5 * (1.0 - c * c))
        x, cdf = ray_blur_cdf((in_plane, in_plane, slice_mm * c), MARROW_SMOOTHING_MM)
        d = depth[sel]
        beyond_plate = 1.0 - np.interp(d - lv.cortex_mm, x, cdf, left=0.0, right=1.0)
        beyond_surface = 1.0 - np.interp(d, x, cdf, left=0.0, right=1.0)
        out[sel] = ((lv.marrow - lv.cortex) * (beyond_plate - beyond_surface)
                    + (lv.marrow - lv.cartilage) * beyond_surface)
    return out


def _split_marrow(vals: np.ndarray, inner: np.ndarray, rho: np.ndarray, u: np.ndarray, r_inner: np.ndarray,
                  surface: BoneSurface, step_mm: float, min_neck_deg=LESION_MIN_NECK_ANGLE_DEG,
                  close_within_inner: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Necrotic segment and normal marrow on the fine grid, and where a lesion may lie (away from the
    neck): the band splits the marrow under the plate (``inner``, which ends at radius ``r_inner``); with
    ``close_within_inner`` the band's gaps are closed within ``inner`` only."""
    lv = surface.levels
    # Thick slices average a thin band with the marrow beside it, so anything clearly darker than the
    # head's marrow (a quarter of the way to cortex) counts as band; closing seals the remaining gaps.
    dark = vals < lv.marrow - BAND_CONTRAST * (lv.marrow - lv.cortex)
    dark &= inner if close_within_inner else True
    dark = ndimage.binary_closing(dark, iterations=BAND_CLOSING_ITERATIONS) & inner
    region = inner & ~dark
    cos_neck = u @ surface.grid.frame[:, 2]
    seeds = (region & (cos_neck > np.cos(np.radians(NORMAL_SEED_CONE_DEG)))
             & (rho > NORMAL_SEED_MIN_RADIUS * surface.radius))
    labels, _ = ndimage.label(region)
    normal_labels = np.unique(labels[seeds])
    normal = np.isin(labels, normal_labels[normal_labels > 0])
    away = cos_neck < np.cos(np.radians(min_neck_deg))
    lesion = inner & ~normal & away
    lesion = ndimage.binary_opening(lesion, iterations=SPECK_OPENING_ITERATIONS)
    lab, n_lab = ndimage.label(lesion)
    if n_lab:
        # A necrotic segment reaches the subchondral bone and is not a speck.
        sub = rho >= r_inner - SUBCHONDRAL_REACH_MM
        sizes = ndimage.sum(np.ones_like(rho), lab, index=np.arange(1, n_lab + 1)) * step_mm ** 3 / 1000.0
        touches = ndimage.maximum(sub, lab, index=np.arange(1, n_lab + 1))
        keep = np.flatnonzero((sizes >= MIN_LESION_VOLUME_ML) & (touches > 0)) + 1
        lesion = np.isin(lab, keep)
    return lesion, normal, away


def _continued_under_plate(sd_fine: Volume, surface: BoneSurface, u: np.ndarray, rho: np.ndarray,
                           slice_mm: float, slice_normal: np.ndarray, step_mm: float) -> np.ndarray:
    """Signed distance (mm, positive inside) from the lesion's boundary at fine-grid points under the
    subchondral plate (directions ``u``, radii ``rho`` mm from the head centre).

    Under the plate the band cannot be seen (plate and band are both dark): the lesion's boundary is
    continued out to the bone surface along its own course, extrapolating its signed distance
    linearly from two depths beneath the plate on each ray (a band is locally planar; a boundary
    through the head centre stays radial).
    """
    c, vec = surface.center, surface.vectors
    depth_ray = _under_plate_depth_mm(surface.levels.cortex_mm, slice_mm, vec @ slice_normal)
    r1 = surface.r_surface - depth_ray - 0.5 * step_mm
    sd1 = sample_volume(sd_fine, np.asarray(sd_fine.array), c + vec * r1[..., None])
    sd2 = sample_volume(sd_fine, np.asarray(sd_fine.array), c + vec * (r1 - _BAND_COURSE_MM)[..., None])
    slope = np.clip((sd1 - sd2) / _BAND_COURSE_MM, -1.0, 1.0)  # a distance changes at most 1 mm per mm
    grid_of = surface.grid.interpolate
    return grid_of(sd1, u) + grid_of(slope, u) * (rho - grid_of(r1, u))


def lesion_fraction(volume: Volume, array: np.ndarray, surface: BoneSurface, grid: Volume,
                     step_mm: float = 0.6, min_neck_angle_deg=LESION_MIN_NECK_ANGLE_DEG,
                     net_of_plate: bool = False) -> np.ndarray:
    """Partial-volume fraction of the necrotic segment (band included) on ``grid`` (a sub-grid of
    ``volume``, the image whose pixels are ``array``).

    On a fine isotropic grid around the head, marrow darker than a quarter of the way from the head's
    marrow level to its cortex level (the demarcating band, a fluid core) splits the bone inside the
    cortex; normal marrow is what stays connected to the neck side, and the lesion is the rest of the
    head away from the neck. Its boundary with normal marrow is then moved to the band's outer edge
    (:func:`_lesion_edge_field`) and the lesion extended radially through the subchondral plate to the
    bone surface.

    Parameters
    ----------
    volume : Volume
        The T1-weighted image (its geometry; ``array`` holds its pixels).
    array : ndarray, shape ``volume.shape``
        The image's pixel values.
    surface : BoneSurface
        The head's traced bone surface (centre, radii per direction, tissue levels).
    grid : Volume
        Output grid (a sub-grid of ``volume``; only its geometry is used).
    step_mm : float
        Spacing (mm) of the fine isotropic working grid.
    min_neck_angle_deg : float or callable
        Angle (deg) from the neck axis beyond which a lesion is sought, or a function of the directions
        from the head centre (``(..., 3)``) giving it per direction (the head's own junction,
        :func:`onfh_imaging.segment.junction.lesion_search_min_angle_deg`).
    net_of_plate : bool
        Seek the band net of the darkness the plate's blur carries into the marrow
        (:func:`_plate_darkening`), closing its gaps within the searched marrow only. Where the slices
        cross the surface obliquely, the band's blurred darkness and the plate's otherwise pass the
        threshold together between them and the lesion reaches the surface too wide (family A's
        sagittal ends); but it narrows lesions already read narrow on family B and the ball-head hip, so
        it is off by default.

    Returns
    -------
    ndarray of float32, shape ``grid.shape``
        Lesion fractions in [0, 1]; all zero when no lesion (no band) is found.
    """
    lv = surface.levels
    reach = float(np.nanmax(surface.r_surface)) + 1.0
    rho, u, r_s, vals = _fine_head_grid(volume, array, surface, reach, step_mm)
    head = rho < r_s
    slice_normal = volume.axis_of_slices()
    slice_mm = float(volume.spacing[2])
    # Thick slices smear the dark plate inward along the slice normal by up to a slice thickness
    # (``PLATE_SMEAR_SLICES``); that smear is not marrow signal loss.
    depth_in = _under_plate_depth_mm(lv.cortex_mm, slice_mm, u @ slice_normal)
    inner = rho < r_s - depth_in
    if net_of_plate:
        vals = vals + _plate_darkening(volume, surface, rho, u, r_s)
    lesion, normal, away = _split_marrow(vals, inner, rho, u, r_s - depth_in, surface, step_mm,
                                         min_neck_angle_deg(u) if callable(min_neck_angle_deg) else min_neck_angle_deg,
                                         close_within_inner=net_of_plate)
    if not lesion.any():
        return np.zeros(grid.shape, np.float32)
    origin = surface.center - reach
    value, signed = _lesion_edge_field(volume, array, lesion, normal & inner, inner, origin, step_mm,
                                       BAND_CONTRAST * (lv.marrow - lv.cortex))
    value = np.where(inner & away, value, 0.0)
    sd_fine = Volume(signed.astype(np.float32), spacing=(step_mm,) * 3, origin=tuple(origin))
    shell = head & ~inner & away
    sd_shell = _continued_under_plate(sd_fine, surface, u[shell], rho[shell], slice_mm, slice_normal, step_mm)
    value[shell] = np.clip(0.5 + sd_shell / step_mm, 0.0, 1.0)
    return _resample_fraction(sd_fine.with_array(value.astype(np.float32)), grid)


def _resample_fraction(fine: Volume, grid: Volume, supersample_mm: float = 0.35) -> np.ndarray:
    """Box-average a fine (axis-aligned) indicator onto ``grid`` by sub-voxel sampling."""
    out = np.zeros(grid.shape, np.float32)
    arr = np.asarray(fine.array, np.float32)
    corners = fine.index_to_lps(np.array([[a, b, d] for a in (0, fine.size[0] - 1)
                                          for b in (0, fine.size[1] - 1) for d in (0, fine.size[2] - 1)], float))
    idx = grid.lps_to_index(corners)
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 1, np.array(grid.size))
    if np.any(hi <= lo):
        return out
    k3, j3, i3 = np.meshgrid(*(np.arange(lo[n], hi[n]) for n in (2, 1, 0)), indexing="ij")
    ijk = np.stack([i3, j3, k3], axis=-1).reshape(-1, 3).astype(float)
    centers = sample_volume(fine, arr, grid.index_to_lps(ijk))
    touched = centers > 0
    # Supersample only voxels near the indicator (their centre sees some of it within a voxel).
    near = ndimage.binary_dilation(touched.reshape(k3.shape), iterations=1).reshape(-1)
    offs = supersample_offsets(grid.spacing, supersample_mm)
    vals = np.zeros(len(ijk), np.float32)
    if near.any():
        pts = grid.index_to_lps(ijk[near][:, None, :] + offs[None])
        vals[near] = (sample_volume(fine, arr, pts) >= 0.5).mean(axis=1)
    out[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = vals.reshape(k3.shape)
    return out


def check_fluid_sensitive(seg: HipSegmentation, fluid: Volume) -> HipSegmentation:
    """Compare the T1 lesion with the fluid-sensitive series (signal of lesion vs normal head marrow).

    A T1 lesion whose 90th percentile on the fluid-sensitive series is under the normal marrow's median
    plus 2 robust SDs, or, with no T1 lesion, more than 5 % of the head brighter than that median plus
    6 robust SDs, adds a warning. Fewer than 20 normal-marrow voxels: nothing is compared.

    Parameters
    ----------
    seg : HipSegmentation
        The T1 segmentation (head and lesion fractions on the same grid).
    fluid : Volume
        The fluid-sensitive series (T2 / STIR), registered to the T1 in patient space.

    Returns
    -------
    HipSegmentation
        ``seg`` itself, or a copy with the disagreement appended to its warnings.
    """
    head = seg.femoral_head_fraction.array >= 0.5
    lesion = seg.lesion_fraction.array >= 0.5
    normal = head & ~ndimage.binary_dilation(lesion, iterations=2)
    if normal.sum() < MIN_COMPARED_VOXELS:
        return seg
    pts_normal = seg.femoral_head_fraction.index_to_lps(np.argwhere(normal)[:, ::-1].astype(float))
    fl = np.asarray(fluid.array, np.float32)
    base = sample_volume(fluid, fl, pts_normal)
    spread = robust_scale(base) + 1e-6
    extra = []
    if lesion.sum() >= MIN_COMPARED_VOXELS:
        pts = seg.femoral_head_fraction.index_to_lps(np.argwhere(lesion)[:, ::-1].astype(float))
        vals = sample_volume(fluid, fl, pts)
        if np.percentile(vals, 90) < np.median(base) + FLUID_LESION_SD * spread:
            extra.append("the T1 lesion shows no high signal on the fluid-sensitive series")
    else:
        vals = sample_volume(fluid, fl, seg.femoral_head_fraction.index_to_lps(
            np.argwhere(head)[:, ::-1].astype(float)))
        bright = vals > np.median(base) + OEDEMA_SD * spread
        if bright.mean() > OEDEMA_SHARE:
            extra.append("high signal in the femoral head on the fluid-sensitive series without a T1 band "
                         "(bone marrow oedema?)")
    if not extra:
        return seg
    return replace(seg, warnings=seg.warnings + tuple(extra))


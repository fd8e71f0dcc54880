"""A sclerotic margin read as the boundary of a segment under the dome: a statistic measured, not used.

The radiographic lesion finding (:mod:`onfh_imaging.measure.radiograph_lesion`) traces a sclerotic margin as
one line of at least 10 mm and 5 robust SDs of the head's texture. The second phantom family's margin is
crossed by the acetabular wall and breaks into pieces under that limit. This script measures a statistic
that tests the whole boundary of the necrotic segment at once, and its false-alarm rate, on both phantom
families and on a textured projected sphere without any band; it is not part of the finding because its
false-alarm rate on texture alone is not controlled (see ``benchmarks/results/segment_margin.md``).

The reactive margin of a necrotic segment bounds a subchondral segment of the head under the weight-bearing
dome: it starts at the articular surface on one side of the segment, runs down to the segment's deepest
point and turns back up to the surface on the other side (a curve concave toward the dome, or the two walls
of a wedge). A candidate boundary is two straight **legs** from points of the head's circle to a **vertex**
(the segment's deepest point) inside the head. The image (bone bright, on the finding's working grid) minus
the projected sphere's dome is compared along each leg with its two sides ``SIDE_SCALES`` band scales away
across the leg: the band response is how much brighter it is than the *brighter* side. A leg's **cover** is
the ``COVER_QUANTILE`` quantile of that response over its samples inside the head's interior: positive when
the band stands above both its sides over at least three quarters of the leg. The boundary's cover is the
weaker leg's, in robust SDs of the head's texture; the statistic is the best cover over the candidates:

* the ends lie on the head's circle and the segment's mid-direction lies within ``DOME_HALF_ANGLE_DEG`` of
  the vertical; the chord between the ends spans at least that of a segment ``MIN_DEPTH_FRACTION`` of the
  radius deep;
* the vertex is the boundary's deepest point (from it both legs rise toward the surface), above the head's
  centre and at least ``MIN_DEPTH_FRACTION`` of the radius deep; the boundary turns by ``MIN_TURN_DEG`` to
  ``MAX_TURN_DEG`` at it, and each leg runs at least ``MIN_LEG_MM`` inside the interior;
* a leg whose straight course beyond the circle (``BEYOND_MM``) is covered as the leg is goes on outside the
  head (an acetabular wall, a line of overlapping bone) and is not a wall of the segment.

Run ``.venv/bin/python benchmarks/segment_margin.py [--heads N]``: renders the AP and frog-leg views of a
hip with the lesion drawn, drawn occult and without a lesion in both families, and ``N`` textured spheres
(seeds 0..N-1) with and without a faint wedge; prints the statistic per image and writes the table to
``benchmarks/results/segment_margin.md``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from onfh_imaging.fitting import robust_scale
from onfh_imaging.measure.deviation import WEIGHT_BEARING_HALF_ANGLE_DEG
from onfh_imaging.measure.radiograph_prior import sphere_residual

SEGMENT_SCALES_MM = (0.9, 1.4)
"""Band scales (mm, Gaussian sigma): the image is smoothed over half a scale and its sides are read
``SIDE_SCALES`` scales away, so these answer to bands about 2 and 3 mm wide (a margin of 1-4 mm seen through
its blur and its obliquity to the beam)."""
SIDE_SCALES = 2.0
"""The band's sides lie this many scales from the leg: a bar of width w answers best at scale w / 2, its
edges one scale from its centre and its sides one scale beyond them."""
ORIENTATIONS = 24
"""Leg directions the side images are computed for (7.5 deg apart): a leg is compared with its sides across
the nearest one, off by at most 3.75 deg, under 0.2 mm at the sides of the widest scale."""
COVER_QUANTILE = 0.25
"""A leg's cover is this quantile of its band response: the band stands above both its sides over at least
three quarters of the leg; a quarter is left to the crossings of overlapping bone and the trabecular texture
that interrupt a faint margin."""
MIN_COVER = 0.0
"""A margin is found when the weaker leg's cover exceeds this (the band response's own zero: brighter than
the brighter side)."""
END_STEP_DEG = 3.0
"""Step (deg) of the legs' ends along the head's circle: 1.3 mm on a 24 mm head, under a band's width."""
VERTEX_STEP_MM = 1.0
"""Spacing (mm) of the candidate vertices: half the narrowest band the scales answer to."""
END_REACH_DEG = 120.0
"""The legs' ends lie within this angle (deg) of the vertical: a segment whose mid-direction lies within the
dome, spanning a large lesion (Steinberg C, over 30 % of the head, a margin meeting the surface beyond the
horizontal on one side)."""
DOME_HALF_ANGLE_DEG = WEIGHT_BEARING_HALF_ANGLE_DEG
"""The segment's mid-direction lies within this angle (deg) of the vertical: the weight-bearing dome."""
MIN_DEPTH_FRACTION = 0.25
"""The segment is at least this fraction of the head's radius deep: a small lesion (Steinberg A, under 15 %
of the head) is a segment about a quarter of the radius deep."""
MAX_TURN_DEG = 60.0
"""The boundary turns by at most this (deg) at its vertex: the walls of a wedge-shaped segment meet at
120 deg or more (a sharper turn would bound a spike of bone, not a segment under a cap of cartilage)."""
MIN_TURN_DEG = 30.0
"""The boundary turns by at least this (deg) at its vertex: its ends turn toward the articular surface (a
margin concave toward the dome; a wedge's walls meeting at 150 deg or less). A straight line across the
head is a trabecular group (the compressive trabeculae run straight from the dome toward the medial neck),
an overlapping bone's edge or the physis scar, not the boundary of a segment under a curved surface."""
MIN_LEG_MM = 5.0
"""Each leg runs at least this far (mm) inside the head's interior: several trabecular spacings, so that its
cover is a statistic of the leg, not of one trabecula."""
SAMPLE_MM = 0.5
"""Spacing (mm) of the samples along a leg: the narrowest band's half width."""
BEYOND_MM = (1.0, 6.0)
"""A leg's straight course beyond the circle is read from 1 mm (clear of the cortex) to 6 mm (across the
joint space to the acetabular roof): a margin ends at the articular surface, so its course beyond crosses the
dark joint space and meets the roof only across it; a leg whose course beyond is covered by the band as the
leg is (an acetabular wall, the teardrop, a line of overlapping bone) goes on outside the head and is another
bone's line. A course beyond that leaves the image cannot be shown to end at the surface: not counted."""
BEYOND_TOLERANCE_MM = 2.0
"""The course beyond is read along paths parallel to the leg's straight continuation up to this distance
(mm) either side of it; the leg goes on when any of them is covered: a leg whose end lies beside the point
where a line leaves the head (one band width off, the next end step) still reads that line."""


@dataclass(frozen=True)
class SegmentMargin:
    """The best-covered boundary of a segment under the dome.

    Attributes
    ----------
    cover : float
        The weaker leg's cover (``COVER_QUANTILE`` quantile of its band response), in robust SDs of the
        head's texture; a margin when above ``MIN_COVER``.
    contrast : float
        The legs' median band responses weighted by their lengths, in robust SDs of the head's texture.
    length_mm : float
        Length of the two legs inside the head's interior, mm.
    ends_deg : tuple of float
        Image angles (deg, 0 up, positive toward increasing column) of the legs' ends on the circle.
    vertex_mm : tuple of float
        The vertex (row, column offsets from the head's centre, mm).
    scale_mm : float
        The band scale it was read at, mm.
    """

    cover: float
    contrast: float
    length_mm: float
    ends_deg: tuple[float, float]
    vertex_mm: tuple[float, float]
    scale_mm: float

    @property
    def found(self) -> bool:
        """Whether the boundary is a sclerotic margin (its weaker leg's cover above ``MIN_COVER``)."""
        return self.cover > MIN_COVER


def _band_images(img: np.ndarray, s_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(band response, texture) per leg direction, each (orientation, row, col): the image smoothed over half
    a scale minus the brighter of its two sides ``SIDE_SCALES`` scales away across each of ``ORIENTATIONS``
    leg directions; and minus their mean (the texture's second difference, in which a linear trend cancels)."""
    sm = ndimage.gaussian_filter(img, 0.5 * s_px)
    band = np.empty((ORIENTATIONS, *img.shape), dtype=np.float32)
    texture = np.empty_like(band)
    for k in range(ORIENTATIONS):
        along = np.pi * k / ORIENTATIONS  # the leg's direction from the row axis
        dr, dc = -np.sin(along) * SIDE_SCALES * s_px, np.cos(along) * SIDE_SCALES * s_px
        side_a = ndimage.shift(sm, (-dr, -dc), order=1, mode="nearest")
        side_b = ndimage.shift(sm, (dr, dc), order=1, mode="nearest")
        band[k] = sm - np.maximum(side_a, side_b)
        texture[k] = sm - 0.5 * (side_a + side_b)
    return band, texture


def _quantile_held(values: np.ndarray, held: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile (linear between order statistics) of ``values`` where ``held``, along the last
    axis; ``-inf`` where nothing is held."""
    count = held.sum(axis=-1)
    ranked = np.sort(np.where(held, values, np.inf), axis=-1)
    pos = q * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    at_lo = np.take_along_axis(ranked, lo[..., None], axis=-1)[..., 0]
    at_hi = np.take_along_axis(ranked, hi[..., None], axis=-1)[..., 0]
    return np.where(count > 0, at_lo + (pos - lo) * (at_hi - at_lo), -np.inf)


def _sample(band: np.ndarray, k: np.ndarray, start: np.ndarray, step: np.ndarray, t: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band response, rows, cols) at ``start + t * step`` (grid pixels, nearest pixel; the last axis of
    ``start`` and ``step`` is row / col), across leg direction ``k``."""
    rows = np.clip(np.rint(start[..., 0:1] + t * step[..., 0:1]).astype(np.intp), 0, band.shape[1] - 1)
    cols = np.clip(np.rint(start[..., 1:2] + t * step[..., 1:2]).astype(np.intp), 0, band.shape[2] - 1)
    return band[k[..., None], rows, cols], rows, cols


def _legs(band: np.ndarray, inside: np.ndarray, readable: np.ndarray, ends: np.ndarray, vertices: np.ndarray,
          px_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Band response along the legs from each end to each vertex (grid pixels, row / col), read at the
    nearest grid pixel and leg direction: (cover, median, length mm inside ``inside``, whether the leg goes
    on beyond the circle (``BEYOND_MM``) or its course there leaves the ``readable`` image), each (ends,
    vertices)."""
    step = vertices[None, :, :] - ends[:, None, :]
    length_px = np.hypot(step[..., 0], step[..., 1])
    k = np.round((np.arctan2(step[..., 1], step[..., 0]) % np.pi) / (np.pi / ORIENTATIONS)).astype(int)
    k %= ORIENTATIONS
    n = int(np.ceil(length_px.max() * px_mm / SAMPLE_MM)) + 1
    start = np.broadcast_to(ends[:, None, :], step.shape)
    values, rows, cols = _sample(band, k, start, step, np.linspace(0.0, 1.0, n))
    held = inside[rows, cols]
    cover = _quantile_held(values, held, COVER_QUANTILE)
    median = _quantile_held(values, held, 0.5)
    out = -step / np.maximum(length_px[..., None], 1e-9)  # unit step (px) outward from the end
    beyond_px = np.arange(BEYOND_MM[0], BEYOND_MM[1] + 1e-9, SAMPLE_MM) / px_mm
    across = np.stack([out[..., 1], -out[..., 0]], axis=-1)
    goes_on = np.zeros(k.shape, bool)
    for off in np.arange(-BEYOND_TOLERANCE_MM, BEYOND_TOLERANCE_MM + 1e-9, SAMPLE_MM) / px_mm:
        after, rows, cols = _sample(band, k, start + off * across, out, beyond_px)
        goes_on |= ~readable[rows, cols].all(axis=-1)
        goes_on |= _quantile_held(after, np.ones(after.shape, bool), COVER_QUANTILE) > MIN_COVER
    return cover, median, held.sum(axis=-1) / max(n - 1, 1) * length_px * px_mm, goes_on


def _candidates(radius_mm: float, centre_px: float, px_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(end angles deg, ends (row, col) px on the circle, vertices (row, col) px): the ends within
    ``END_REACH_DEG`` of the vertical, the vertices above the centre, at least ``MIN_DEPTH_FRACTION`` of the
    radius deep."""
    angles = np.arange(-END_REACH_DEG, END_REACH_DEG + 1e-9, END_STEP_DEG)
    a = np.radians(angles)
    ends = np.column_stack([centre_px - radius_mm * np.cos(a) / px_mm, centre_px + radius_mm * np.sin(a) / px_mm])
    offs = np.arange(-radius_mm, radius_mm + 1e-9, VERTEX_STEP_MM)
    dy, dx = (g.ravel() for g in np.meshgrid(offs, offs, indexing="ij"))
    keep = (dy < 0) & (np.hypot(dy, dx) <= (1.0 - MIN_DEPTH_FRACTION) * radius_mm)
    return angles, ends, np.column_stack([centre_px + dy[keep] / px_mm, centre_px + dx[keep] / px_mm])


def _best_boundary(cover: np.ndarray, length: np.ndarray, goes_on: np.ndarray, angles: np.ndarray, ends: np.ndarray,
                   vertices: np.ndarray, centre_px: float, radius_mm: float) -> tuple[float, int, int, int]:
    """(cover, end i, end j, vertex) of the best-covered boundary among the candidates (``-inf`` when none)."""
    rel = vertices - centre_px
    rises = ((ends[:, None, :] - vertices[None, :, :]) * rel[None, :, :]).sum(axis=-1) >= 0  # leg goes outward
    usable = rises & (length >= MIN_LEG_MM) & ~goes_on
    depth = MIN_DEPTH_FRACTION * radius_mm
    min_chord = 2.0 * np.sqrt(2.0 * radius_mm * depth - depth**2)
    cos_turn = np.cos(np.radians(MAX_TURN_DEG))
    cos_bend = np.cos(np.radians(MIN_TURN_DEG))
    best = (-np.inf, -1, -1, -1)
    for i in range(len(angles)):
        j = np.arange(i + 1, len(angles))
        chord = 2.0 * radius_mm * np.sin(np.radians(angles[j] - angles[i]) / 2.0)
        j = j[(chord >= min_chord) & (np.abs(angles[i] + angles[j]) / 2.0 <= DOME_HALF_ANGLE_DEG)]
        if not len(j):
            continue
        d1 = vertices - ends[i]
        d2 = ends[j][:, None, :] - vertices[None, :, :]
        turn = (d1[None] * d2).sum(-1) / (np.hypot(*d1.T)[None] * np.hypot(d2[..., 0], d2[..., 1]) + 1e-12)
        ok = usable[i][None] & usable[j] & (turn >= cos_turn) & (turn <= cos_bend)
        score = np.where(ok, np.minimum(cover[i][None], cover[j]), -np.inf)
        jj, v = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[jj, v] > best[0]:
            best = (float(score[jj, v]), i, int(j[jj]), int(v))
    return best


def segment_margin(img: np.ndarray, interior: np.ndarray, edge_mm: np.ndarray, radius_mm: float,
                   px_mm: float) -> SegmentMargin | None:
    """The best-covered boundary of a segment under the dome, at any of ``SEGMENT_SCALES_MM``.

    Parameters
    ----------
    img : ndarray, shape (n, n)
        The image on a square grid centred on the head's centre (grid pixel (n - 1) / 2), bone bright.
    interior : ndarray of bool, shape (n, n)
        The head's interior inside its rim, where the band is read.
    edge_mm : ndarray, shape (n, n)
        Distance (mm) of each grid point inside the image's edges: a scale reads only pixels whose sides
        and smoothing (``SIDE_SCALES`` + 1 scales) lie in the image.
    radius_mm : float
        The head circle's radius, mm.
    px_mm : float
        The grid's pixel, mm.

    Returns
    -------
    SegmentMargin or None
        The boundary whose weaker leg is best covered (``found`` says whether it is a margin); None when no
        candidate could be read.
    """
    centre = (img.shape[0] - 1) / 2.0
    angles, ends, vertices = _candidates(radius_mm, centre, px_mm)
    best: SegmentMargin | None = None
    resid = sphere_residual(np.asarray(img, float), interior, radius_mm, px_mm)
    for s_mm in SEGMENT_SCALES_MM:
        inside = interior & (edge_mm >= (SIDE_SCALES + 1.0) * s_mm)
        band, second = _band_images(resid, s_mm / px_mm)
        texture = robust_scale(second[:, inside])
        if not texture > 0:
            continue
        readable = edge_mm >= (SIDE_SCALES + 1.0) * s_mm
        cover, median, length, goes_on = _legs(band, inside, readable, ends, vertices, px_mm)
        score, i, j, v = _best_boundary(cover, length, goes_on, angles, ends, vertices, centre, radius_mm)
        if not np.isfinite(score) or (best is not None and score / texture <= best.cover):
            continue
        total = length[i, v] + length[j, v]
        mid = (median[i, v] * length[i, v] + median[j, v] * length[j, v]) / total
        best = SegmentMargin(cover=score / texture, contrast=float(mid / texture), length_mm=float(total),
                             ends_deg=(float(angles[i]), float(angles[j])),
                             vertex_mm=tuple(float(x) for x in (vertices[v] - centre) * px_mm),
                             scale_mm=s_mm)
    return best



# --- the images ------------------------------------------------------------------------------------------
def _grid(contour, rx) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(image, interior, edge distance mm, circle radius mm) on the finding's own working grid."""
    from onfh_imaging.measure import radiograph_lesion as lesion

    px = (float(rx.pixel_size_mm[0]), float(rx.pixel_size_mm[1]))
    outline = lesion._outline_mm(contour, px)
    reach = float(np.max(outline)) + lesion.OUTSIDE_BAND_MM + 3 * max(lesion.BAND_SCALES_MM)
    img, radius, outline_at, _, edge_mm = lesion._head_grid(contour, rx, px, reach)
    interior = (radius < outline_at - lesion.RIM_MARGIN_MM) & (edge_mm >= lesion.READ_CLEARANCE_MM)
    return img, interior, edge_mm, float(np.median(outline))


def phantom_heads():
    """(family, view, case, margin drawn, pixels, truth) of the phantom hips of both families."""
    from onfh_imaging.phantom.labelmap import HipDisease, LabelmapSpec
    from onfh_imaging.phantom.labelmap.radiograph import RadiographSpec
    from onfh_imaging.phantom.labelmap.radiograph import render_radiograph as render_labelmap
    from onfh_imaging.phantom.radiograph import render_radiograph as render_sdf
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec

    cases = (("lesion", "large", True), ("occult lesion", "large", False), ("no lesion", "none", True))
    for view in ("AP", "frog"):
        for case, lesion, shown in cases:
            spec = LabelmapSpec(hips="right", right=HipDisease(0.0, lesion=lesion, radiographic_lesion=shown))
            pixels, truth = render_labelmap(RadiographSpec(spec, view=view))
            yield "labelmap", view, case, truth["hips"][0]["radiographic_lesion"], pixels, truth
    for view in ("AP", "frog_lateral"):
        for case, lesion, shown in cases:
            spec = PhantomSpec(hips="right", right=HipSpec(0.0, lesion=lesion, radiographic_lesion=shown))
            pixels, truth = render_sdf(spec.model(), occult_lesion_sides=() if shown else ("right",), view=view)
            yield "sdf", view, case, truth["hips"][0]["radiographic_lesion"], pixels, truth


def _phantom_row(family, view, case, drawn, pixels, truth) -> dict:
    from onfh_imaging.geometry import Radiograph
    from onfh_imaging.measure.radiograph import calibrate
    from onfh_imaging.segment.xray import find_femoral_heads_2d

    size = truth["pixel_size_mm"]
    rx, _, _ = calibrate(Radiograph(pixels.astype(float), (size, size), "PixelSpacing"))
    (head,) = [c for c in find_femoral_heads_2d(rx) if c.side == "right"]
    return {"image": f"{family} {view} {case}", "drawn": drawn, "margin": segment_margin(*_grid(head, rx), 0.2)}


def _textured_sphere(seed: int, wedge: bool):
    """A projected sphere (24 mm, 0.15 mm pixels) with isotropic trabecular texture (0.8 mm correlation,
    0.02 SD) and pixel noise (0.005), optionally a 2 mm wedge boundary at 0.05 (ends at -70 and 55 deg,
    vertex 3 mm above the centre): (contour, radiograph)."""
    from onfh_imaging.geometry import Radiograph
    from onfh_imaging.segment.xray import HeadContour2D

    n, pixel, radius = 520, 0.15, 24.0
    rng = np.random.default_rng(seed)
    y, x = ((np.mgrid[0:n, 0:n] - (n / 2.0)) * pixel).astype(float)
    r = np.hypot(y, x)
    img = 0.2 + 0.6 * np.sqrt(np.clip(radius**2 - r**2, 0, None)) / radius + 0.005 * rng.standard_normal((n, n))
    texture = ndimage.gaussian_filter(rng.standard_normal((n, n)), 0.8 / pixel)
    img += 0.02 * texture / texture.std()
    if wedge:
        pts = [(-radius * np.cos(np.radians(-70.0)), radius * np.sin(np.radians(-70.0))), (-3.0, 0.0),
               (-radius * np.cos(np.radians(55.0)), radius * np.sin(np.radians(55.0)))]
        dist = np.full(img.shape, np.inf)
        for (y0, x0), (y1, x1) in itertools.pairwise(pts):
            t = np.clip(((y - y0) * (y1 - y0) + (x - x0) * (x1 - x0)) / ((y1 - y0) ** 2 + (x1 - x0) ** 2), 0, 1)
            dist = np.minimum(dist, np.hypot(y - (y0 + t * (y1 - y0)), x - (x0 + t * (x1 - x0))))
        img += 0.05 * ((dist < 1.0) & (r < radius - 1.0))
    angles = np.arange(-180.0, 180.0, 1.0)
    rp = radius / pixel
    contour = HeadContour2D(side="right", side_basis="test", center_px=(n / 2.0, n / 2.0), radius_px=rp,
                            angles_deg=angles, radii_px=np.full(len(angles), rp), strength=np.full(len(angles), 10.0),
                            roof_radii_px=np.full(len(angles), np.nan), neck_angle_deg=135.0, score=1.0,
                            image_shape=(n, n))
    return contour, Radiograph(img, (pixel, pixel), "PixelSpacing")


def _line(row: dict) -> str:
    m = row["margin"]
    if m is None:
        return f"| {row['image']} | {row['drawn']} | - | - | - | no candidate |"
    return (f"| {row['image']} | {row['drawn']} | {m.cover:+.2f} | {m.contrast:.2f} | {m.length_mm:.0f} mm | "
            f"ends {m.ends_deg[0]:.0f} / {m.ends_deg[1]:.0f} deg, vertex ({m.vertex_mm[0]:.1f}, "
            f"{m.vertex_mm[1]:.1f}) mm, scale {m.scale_mm} mm |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", type=int, default=12, help="textured spheres per case (12)")
    args = parser.parse_args(argv)
    rows = []
    for family, view, case, drawn, pixels, truth in phantom_heads():
        rows.append(_phantom_row(family, view, case, drawn, pixels, truth))
        print(_line(rows[-1]), file=sys.stderr, flush=True)
    for wedge in (False, True):
        for seed in range(args.heads):
            contour, rx = _textured_sphere(seed, wedge)
            rows.append({"image": f"textured sphere seed {seed}{' + wedge' if wedge else ''}", "drawn": wedge,
                         "margin": segment_margin(*_grid(contour, rx), 0.2)})
            print(_line(rows[-1]), file=sys.stderr, flush=True)
    head = ("| image | margin drawn | best cover (SD) | contrast (SD) | legs | where |\n"
            "| --- | --- | --- | --- | --- | --- |\n")
    text = head + "".join(_line(r) + "\n" for r in rows)
    for label, sel in (("drawn", True), ("not drawn", False)):
        covers = [r["margin"].cover for r in rows if r["drawn"] is sel and r["margin"] is not None]
        text += (f"\n{label}: {len(covers)} images, best cover above {MIN_COVER:g} on "
                 f"{sum(c > MIN_COVER for c in covers)}; range {min(covers):+.2f} to {max(covers):+.2f} SD")
    print(text)
    out = Path(__file__).parent / "results" / "segment_margin.md"
    out.write_text("# The segment-boundary statistic on phantom and textured heads\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

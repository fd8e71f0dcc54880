"""Quality-control pictures: one small PNG per measured hip so an automatic measure can be checked at a glance.

- **MR**: the patient's coronal plane through the head centre (the mid-coronal plane the JIC type and
  the Kerboul arc are read on), lateral to the right of the picture for either hip, superior up, with
  the femoral head outline (yellow), the lesion outline (red), the reference sphere's circle (cyan,
  dashed), the lateral acetabular edge (green) and its vertical line, and the thirds of the
  weight-bearing portion (green dotted).
- **Radiograph**: the head's neighbourhood with its reference circle (cyan, dashed).

The title names the side and what was measured (collapse depth, lesion %, JIC type or stage).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from onfh_imaging.segment.acetabulum import coronal_plane_points, lateral_lps, sample_plane

__all__ = ["MR_HALF_WIDTH_R", "PALETTE_COLORS", "PICTURE_PX", "mr_qc_png", "radiograph_qc_png", "study_qc_pictures"]

#: Half-width of the MR picture in head radii: the head, its joint and the acetabular roof.
MR_HALF_WIDTH_R = 1.8
#: Pixels across a picture (before the title).
PICTURE_PX = 200
_DPI = 100


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(PICTURE_PX / _DPI, (PICTURE_PX + 34) / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, PICTURE_PX / (PICTURE_PX + 34)))
    ax.set_axis_off()
    return fig, ax


#: Colours of a picture's palette: grey levels plus the outlines' colours, at about half the bytes of a
#: full-colour PNG (a cohort keeps one picture per hip and visit).
PALETTE_COLORS = 128


def _png(fig) -> bytes:
    from PIL import Image

    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    buf = io.BytesIO()
    rgb.quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT).save(buf, format="png", optimize=True)
    return buf.getvalue()


def _grey_limits(values: np.ndarray) -> tuple[float, float]:
    """Display window from the picture's own intensities (1st to 99.5th percentile)."""
    lo, hi = np.percentile(values, [1.0, 99.5])
    return float(lo), float(max(hi, lo + 1e-6))


def mr_qc_png(image: Any, seg: Any, hip: dict, jic: Any = None) -> bytes:
    """PNG of one MR hip's mid-coronal plane with its outlines.

    Parameters
    ----------
    image : Volume
        The T1-weighted image.
    seg : HipSegmentation
        The hip's segmentation (``head_center_lps``, ``head_radius_mm``, ``side`` and its masks or
        partial-volume fractions).
    hip : dict
        The hip's contract entry (for the title).
    jic : JicResult, optional
        Its JIC classification (the acetabular edge and the weight-bearing thirds are drawn).

    Returns
    -------
    bytes
        A palette PNG of :data:`PICTURE_PX` pixels across, :data:`MR_HALF_WIDTH_R` head radii either
        side of the head centre, lateral to the right, superior up.
    """
    center, radius, side = np.asarray(seg.head_center_lps, float), float(seg.head_radius_mm), seg.side
    half = MR_HALF_WIDTH_R * radius
    step = 2 * half / PICTURE_PX
    points, offsets = coronal_plane_points(center, side, half, step)
    picture = sample_plane(image, np.asarray(image.array, np.float32), points)
    head = seg.femoral_head_fraction if seg.femoral_head_fraction is not None else seg.femoral_head_mask
    lesion = seg.lesion_fraction if seg.lesion_fraction is not None else seg.lesion_mask
    fig, ax = _figure()
    extent = (offsets[0], offsets[-1], offsets[0], offsets[-1])
    ax.imshow(picture, cmap="gray", extent=extent, vmin=_grey_limits(picture)[0], vmax=_grey_limits(picture)[1],
              interpolation="bilinear")
    x, y = np.meshgrid(offsets, offsets[::-1])
    for mask, color in ((head, "yellow"), (lesion, "red")):
        frac = sample_plane(mask, np.asarray(mask.array, np.float32), points)
        if frac.max() >= 0.5:
            ax.contour(x, y, frac, levels=[0.5], colors=color, linewidths=1.0)
    t = np.linspace(0, 2 * np.pi, 180)
    ax.plot(radius * np.cos(t), radius * np.sin(t), "--", color="cyan", lw=0.8)
    if jic is not None and jic.edge.found:
        rel = np.asarray(jic.edge.edge_lps_mm) - center
        ex, ey = float(rel @ lateral_lps(side)), float(rel[2])
        ax.plot([ex], [ey], "o", color="lime", ms=4)
        ax.axvline(ex, color="lime", lw=0.8)
        for k in (1, 2):
            ax.axvline(ex * k / 3, color="lime", lw=0.6, ls=":")
        ax.axvline(0, color="lime", lw=0.6, ls=":")
    ax.set_xlim(offsets[0], offsets[-1])
    ax.set_ylim(offsets[0], offsets[-1])
    ax.text(0.98, 0.02, "lateral \u2192", color="white", fontsize=6, ha="right", transform=ax.transAxes)
    fig.suptitle(_title(hip, jic), fontsize=7, y=0.995, va="top")
    return _png(fig)


def radiograph_qc_png(rx: Any, hip: dict) -> bytes:
    """PNG of one radiograph hip: the head's neighbourhood and its reference circle.

    Parameters
    ----------
    rx : Radiograph
        The radiograph.
    hip : dict
        Its contract entry (``head.center_px`` [row, column] and ``head.radius_px``, pixels).

    Returns
    -------
    bytes
        A palette PNG of the image within :data:`MR_HALF_WIDTH_R` head radii of the centre, as stored.
    """
    head = hip.get("head") or {}
    (row, col), r = head["center_px"], float(head["radius_px"])
    half = MR_HALF_WIDTH_R * r
    pixels = np.asarray(rx.pixels, float)
    r0, r1 = int(max(0, row - half)), int(min(pixels.shape[0], row + half))
    c0, c1 = int(max(0, col - half)), int(min(pixels.shape[1], col + half))
    crop = pixels[r0:r1, c0:c1]
    fig, ax = _figure()
    lo, hi = _grey_limits(crop)
    ax.imshow(crop, cmap="gray", vmin=lo, vmax=hi, extent=(c0 - 0.5, c1 - 0.5, r1 - 0.5, r0 - 0.5))
    t = np.linspace(0, 2 * np.pi, 180)
    ax.plot(col + r * np.cos(t), row + r * np.sin(t), "--", color="cyan", lw=0.8)
    ax.set_xlim(c0 - 0.5, c1 - 0.5)
    ax.set_ylim(r1 - 0.5, r0 - 0.5)
    ax.set_aspect("equal")
    fig.suptitle(_title(hip, None), fontsize=7, y=0.995, va="top")
    return _png(fig)


def _title(hip: dict, jic: Any) -> str:
    """Two lines: the side, stage and review flag; then what was measured."""
    head, lesion, staging = hip.get("head") or {}, hip.get("lesion") or {}, hip.get("staging") or {}
    first = [str(hip.get("side", ""))]
    if staging.get("arco_2019"):
        first.append(f"ARCO {staging['arco_2019']}")
    if (hip.get("quality") or {}).get("needs_review"):
        first.append("REVIEW")
    second = []
    if head.get("collapse_depth_mm") is not None:
        second.append(f"collapse {head['collapse_depth_mm']:.1f} mm")
    if lesion.get("head_involvement_pct") is not None:
        second.append(f"lesion {lesion['head_involvement_pct']:.0f} %")
    if jic is not None and jic.jic_type:
        second.append(f"JIC {jic.jic_type}")
    return " ".join(first) + "\n" + ", ".join(second)


def study_qc_pictures(result: Any) -> dict[str, bytes]:
    """One QC PNG per measured hip of a study, by side.

    Parameters
    ----------
    result : onfh_imaging.pipeline.StudyResult
        A measured MR or radiograph study.

    Returns
    -------
    dict of str to bytes
        ``"left"`` / ``"right"`` -> PNG; a radiograph hip without a head centre and radius has none.
    """
    out: dict[str, bytes] = {}
    if result.radiograph_report is not None:
        for hip in result.radiograph_report.get("hips", []):
            head = hip.get("head") or {}
            if head.get("center_px") is not None and head.get("radius_px"):
                out[hip["side"]] = radiograph_qc_png(result.radiograph, hip)
        return out
    for hip in result.hips:
        out[hip.side] = mr_qc_png(result.series.volume, hip.segmentation, hip.to_dict(), hip.jic)
    return out

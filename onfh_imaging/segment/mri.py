"""Automatic segmentation of femoral heads and necrotic lesions on T1-weighted hip MRI.

The method follows the anatomy every hip MRI shares rather than a trained model or one phantom's layer
order, and every threshold comes from the image or from :mod:`onfh_imaging.segment.anatomy`:

1. **Finding heads** (:mod:`onfh_imaging.segment.heads`): a spherical Hough transform proposes centres,
   a sphere fitted to the inner cortical edge and a bright cone of rays down the femoral neck confirm a
   head and tell its side. A head may instead be placed from a hand seed (``head_seeds``).
2. **Bone surface** (:mod:`onfh_imaging.segment.bone_surface`): the outer anatomy (bone, subchondral plate,
   cartilage, beyond) is fitted on every articular ray, blurred by the ray's own point-spread function.
3. **Necrotic lesion** (:mod:`onfh_imaging.segment.lesion`): marrow darker than the head's own, cut off
   from the neck, with its boundary moved to the demarcating band's outer edge.

Each hip carries a :class:`~onfh_imaging.quality.Quality` block: how much of the articular surface was
resolved, how well the edges fit one sphere, whether independent estimates agree, whether the field of
view cuts the head, whether the head is plausible (size, continuity with the neck). The measurement adds
the collapse evidence checks (:mod:`onfh_imaging.measure.evidence`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from onfh_imaging.errors import SegmentationError
from onfh_imaging.geometry import Volume
from onfh_imaging.io.series_choice import select_series
from onfh_imaging.quality import Quality, combine
from onfh_imaging.segment.anatomy import (
    HEAD_RADIUS_RANGE_MM,
    LESION_MIN_NECK_ANGLE_DEG,
    MIN_LESION_VOLUME_ML,
    NECK_CONE_DEG,
)
from onfh_imaging.segment.bone_surface import BoneSurface, trace_bone_surface
from onfh_imaging.segment.checks import segmentation_checks
from onfh_imaging.segment.heads import HeadCandidate, find_femoral_heads, seeded_head
from onfh_imaging.segment.junction import HeadNeckJunction, measure_junction
from onfh_imaging.segment.lesion import check_fluid_sensitive, lesion_fraction
from onfh_imaging.segment.rays import DirectionGrid, fibonacci_directions, star_fraction

__all__ = ["HEAD_RADIUS_RANGE_MM", "LESION_MIN_NECK_ANGLE_DEG", "MIN_LESION_VOLUME_ML", "NECK_CONE_DEG",
           "HeadCandidate", "HipSegmentation", "find_femoral_heads", "segment_hips", "select_series"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class HipSegmentation:
    """Masks and geometry of one hip, on the input image grid.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"`` (patient side).
    femoral_head_mask : Volume
        Bool: the femur (cortex, marrow, lesion) inside the reference sphere.
    lesion_mask : Volume
        Bool: the necrotic segment including its low-signal band; empty when there is none.
    head_center_lps : ndarray, shape (3,)
        Reference sphere centre estimate (mm, LPS).
    head_radius_mm : float
        Reference sphere radius estimate (mm).
    neck_axis_lps : ndarray, shape (3,)
        Unit vector from the head centre toward the femoral neck.
    warnings : tuple of str
        Anything a reader should check.
    femoral_head_fraction, lesion_fraction : Volume
        Partial-volume fractions (float32, 0..1) of the same masks: the sub-voxel surfaces the bool masks
        were thresholded from (>= 0.5). Measuring these avoids the information loss of thick slices. They
        lie on a sub-grid of the image grid around the head (``Volume.offset_in`` gives where).
    quality : Quality
        The segmentation's checks (see :func:`onfh_imaging.segment.checks.segmentation_checks`).
    placed_by_hand : bool
        The head was placed from a hand seed rather than found automatically.
    surface_grid : DirectionGrid, optional
        Directions (about the neck axis) on which ``surface_resolved`` is given.
    surface_resolved : ndarray of bool, optional
        Per direction: the bone surface was resolved there by the image (plate and cartilage seen),
        rather than carried over from neighbouring directions. Collapse evidence needs it.
    junction : HeadNeckJunction, optional
        The head's own head-neck junction, per azimuth about the neck axis (measured, not yet used by the
        lesion search or the Kerboul arcs: :func:`onfh_imaging.measure.hip.measure_hip` takes it).
    """

    side: str
    femoral_head_mask: Volume
    lesion_mask: Volume
    head_center_lps: np.ndarray
    head_radius_mm: float
    neck_axis_lps: np.ndarray
    warnings: tuple[str, ...] = ()
    femoral_head_fraction: Volume | None = field(default=None, repr=False)
    lesion_fraction: Volume | None = field(default=None, repr=False)
    quality: Quality = field(default_factory=lambda: combine(()))
    placed_by_hand: bool = False
    surface_grid: DirectionGrid | None = field(default=None, repr=False)
    surface_resolved: np.ndarray | None = field(default=None, repr=False)
    junction: HeadNeckJunction | None = field(default=None, repr=False)

    def surface_resolved_at(self, directions_lps: np.ndarray) -> np.ndarray:
        """Share (0..1) of resolved surface around each direction (1 when unknown).

        Parameters
        ----------
        directions_lps : ndarray, shape (..., 3)
            Unit vectors from the head centre, LPS.

        Returns
        -------
        ndarray of float, shape (...)
            ``surface_resolved`` interpolated bilinearly on ``surface_grid``; all ones when either is None.
        """
        d = np.asarray(directions_lps, float)
        if self.surface_grid is None or self.surface_resolved is None:
            return np.ones(d.shape[:-1])
        return self.surface_grid.interpolate(self.surface_resolved.astype(float), d)


def _fraction_outside_fov(volume: Volume, center: np.ndarray, radius: float) -> float:
    """Share of a sphere's surface (centre LPS mm, radius mm) outside the volume's field of view."""
    points = np.asarray(center, float) + fibonacci_directions(1000) * radius
    ijk = volume.lps_to_index(points)
    inside = np.all((ijk >= -0.5) & (ijk <= np.asarray(volume.size) - 0.5), axis=1)
    return float(1.0 - inside.mean())


def _head_box(t1: Volume, surface: BoneSurface) -> tuple[Volume, np.ndarray]:
    """The image cropped to the head with a margin wide enough for any voxel the head touches, and the
    ``(i, j, k)`` index of its first voxel in the image."""
    reach = float(np.nanmax(surface.r_surface)) + 0.5 * float(np.linalg.norm(t1.spacing)) + 1.0
    corners = np.array([[a, b, d] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)], float) * reach
    idx = t1.lps_to_index(surface.center + corners)
    start = np.clip(np.floor(idx.min(axis=0)).astype(int) - 3, 0, t1.size)
    stop = np.clip(np.ceil(idx.max(axis=0)).astype(int) + 4, start, t1.size)
    return t1.crop(start, stop), start


def _on_image_grid(t1: Volume, box_mask: np.ndarray, box_start: np.ndarray) -> Volume:
    """A mask computed on a box of the image, placed on the image's whole grid."""
    full = np.zeros(t1.shape, bool)
    i0, j0, k0 = (int(v) for v in box_start)
    nk, nj, ni = box_mask.shape
    full[k0:k0 + nk, j0:j0 + nj, i0:i0 + ni] = box_mask
    return t1.with_array(full)


def _segment_head(t1: Volume, array: np.ndarray, cand: HeadCandidate) -> HipSegmentation:
    surface = trace_bone_surface(t1, array, cand)
    outside = _fraction_outside_fov(t1, surface.center, surface.radius)
    checks = segmentation_checks(t1, cand, surface, outside)
    warnings = [c.reason for c in checks if not c.passed]
    junction = measure_junction(t1, array, surface)
    # The fractions are computed and kept only around the head: a whole-pelvis float grid per hip costs
    # more memory than the image itself.
    box, box_start = _head_box(t1, surface)
    head_frac = star_fraction(box, surface.center, surface.grid, surface.r_surface)
    # The lesion is sought from the fixed angle: sought from the measured junction instead (5 deg short
    # of it), family B's arcs come within the bar but family A's lesion-free heads gain lesions in the
    # neck and its Kerboul angle worsens (README, MRI accuracy), so the junction is reported, not used.
    lesion_frac = np.minimum(lesion_fraction(t1, array, surface, box), head_frac)
    if float(lesion_frac.sum()) * t1.voxel_volume_ml < MIN_LESION_VOLUME_ML:
        lesion_frac[:] = 0.0
    axis = surface.grid.frame[:, 2]
    head_mask = _on_image_grid(t1, head_frac >= 0.5, box_start)
    lesion_mask = _on_image_grid(t1, lesion_frac >= 0.5, box_start)
    k, j, i = np.nonzero(head_frac)
    start = np.array([i.min(), j.min(), k.min()]) - 2
    stop = np.array([i.max(), j.max(), k.max()]) + 3
    head_frac = box.with_array(head_frac).crop(start, stop)
    lesion_frac = box.with_array(lesion_frac).crop(start, stop)
    return HipSegmentation(
        side=cand.side,
        femoral_head_mask=head_mask,
        lesion_mask=lesion_mask,
        head_center_lps=np.asarray(surface.center, float),
        head_radius_mm=float(surface.radius),
        neck_axis_lps=axis.copy(),
        warnings=tuple(warnings),
        femoral_head_fraction=head_frac,
        lesion_fraction=lesion_frac,
        quality=combine(checks),
        placed_by_hand=cand.placed_by_hand,
        surface_grid=surface.grid,
        surface_resolved=surface.fitted,
        junction=junction,
    )


def _heads(t1: Volume, array: np.ndarray, head_seeds: Mapping[str, Sequence] | None,
           source: str | None) -> list[HeadCandidate]:
    """Heads to delineate: one per seeded side, plus the automatic search's heads of unseeded sides."""
    seeds = dict(head_seeds or {})
    heads = [seeded_head(t1, side, pts, array=array, source=source) for side, pts in seeds.items()]
    if len(seeds) < 2:
        for cand in find_femoral_heads(t1):
            if cand.side in seeds or any(np.linalg.norm(cand.center_lps - h.center_lps) < h.radius_mm
                                         for h in heads):
                continue
            heads.append(cand)
    return sorted(heads, key=lambda h: h.side != "right")


def segment_hips(t1: Volume, *, fluid_sensitive: Volume | None = None, progress: Progress | None = None,
                 source: str | None = None,
                 head_seeds: Mapping[str, Sequence[float] | Sequence[Sequence[float]]] | None = None,
                 ) -> list[HipSegmentation]:
    """Segment every femoral head (and its necrotic lesion) in a T1-weighted MR volume.

    Parameters
    ----------
    t1 : Volume
        T1-weighted hip MRI (coronal preferred; any obliquity, slice thickness or intensity scale).
    fluid_sensitive : Volume, optional
        STIR / fat-saturated T2 of the same frame of reference. The lesion is delineated on T1 (its
        demarcating band); when given, this series is checked for a lesion's high signal and a warning is
        added where T1 and the fluid-sensitive series disagree.
    progress : callable, optional
        ``progress(fraction, message)`` with fraction in [0, 1].
    source : str, optional
        Series or folder named in error messages.
    head_seeds : mapping of side to LPS points, optional
        ``{"left": [x, y, z]}``: a point (mm) near that head's centre, or a sequence of >= 3 points on its
        bone outline. For a seeded side the automatic search is skipped and the head is delineated from
        the seed (local fit within about one head radius); its quality records "head placed by hand".

    Returns
    -------
    list of HipSegmentation
        One per femoral head found, right hip first.

    Raises
    ------
    SegmentationError
        When no femoral head is found, or no head fits near a seed.
    """
    def report(f: float, msg: str) -> None:
        if progress is not None:
            progress(f, msg)

    report(0.0, "finding the femoral heads")
    array = np.asarray(t1.array, np.float32)
    heads = _heads(t1, array, head_seeds, source)
    if not heads:
        raise SegmentationError(
            "no femoral head found in the field of view", path=source,
            hint="the series should be a T1-weighted MRI covering at least one hip; a head can also be "
                 "placed by hand (head seed)")
    out = []
    for n, cand in enumerate(heads):
        report(0.2 + 0.8 * n / len(heads), f"delineating the {cand.side} femoral head")
        seg = _segment_head(t1, array, cand)
        if fluid_sensitive is not None:
            seg = check_fluid_sensitive(seg, fluid_sensitive)
        out.append(seg)
    report(1.0, "segmentation done")
    return out

"""Quality checks of one femoral head's segmentation: how far the image supported it.

Each check is a :class:`~onfh_imaging.quality.QualityCheck` with the measured value, its limit and unit.
The limits are anatomy (mm) or resolution (the image's own pixel size), named here once:

* the articular surface must be resolved by the image (plate and cartilage seen) on most of the rays
  whose blur allows it, and such rays must cover enough of it for the rest to be carried over from them;
* the outer cortical edges must lie on one sphere, within the in-plane pixel (or 0.5 mm), for most rays;
* the inner (marrow) and outer (bone surface) spheres are independent estimates of one ball: concentric
  within :data:`CENTRE_AGREEMENT_MM` and a plausible cortex + subchondral plate apart;
* cartilage (darker than marrow) must be seen rising beyond the plate, within a plate and half a
  cartilage of the marrow edge: otherwise the joint space is not resolved and the head's surface cannot
  be told from the acetabulum's;
* the field of view must not cut the head;
* the head must be a plausible adult head (radius range) continuous with a neck running lateral and
  inferior (the femur, not another round structure);
* a head placed by hand is recorded as such.

Where no cartilage is seen beyond the plate, the bone surface cannot be traced, the articular surface is
not resolved and no sphere is fitted to outer edges, all for that one cause: the four checks stay (each
with its value and limit) but share one reason, which says what was measured instead and what to do.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from onfh_imaging.geometry import Volume
from onfh_imaging.quality import QualityCheck
from onfh_imaging.segment.anatomy import CORTEX_RANGE_MM, HEAD_RADIUS_RANGE_MM, PLATE_TYPICAL_MM
from onfh_imaging.segment.bone_surface import BoneSurface
from onfh_imaging.segment.heads import HeadCandidate

__all__ = ["ramp", "segmentation_checks"]

TRACED_MIN = 0.7
"""Least share of well-resolved rays on which the outer cortical edge was traced (the former warning's
limit): fewer, and the head's outline is partly guessed."""

RESOLVED_SURFACE_MIN = 0.7
"""Least share (solid angle) of the resolvable articular surface (rays whose point-spread function is
narrower than plate and cartilage) where the image showed plate and cartilage: a head's articular surface
is covered by cartilage everywhere, so a shortfall means the edge found is not the head's."""

RESOLVABLE_SURFACE_MIN = 0.25
"""Least share of the articular surface seen by resolvable rays: the surface regularisation carries the
surface over from fitted rays only where at least a quarter of the rays around have a fit."""

EDGE_INLIER_MIN = 0.6
"""Least share of traced outer cortical edges lying on the reference sphere (as ``LOW_INLIER_FRACTION``
of the measurement): fewer means the edges traced are not one ball."""

EDGE_RMS_MIN_LIMIT_MM = 0.5
"""Floor (mm) of the allowed RMS of the outer edges about the sphere; the limit is one in-plane pixel
when pixels are coarser (an edge is located to about a pixel on a ray the slices do not blur)."""

CENTRE_AGREEMENT_MM = 1.5
"""Largest distance (mm) between the centres of the inner (marrow) and outer (bone surface) spheres: the
two cortical surfaces of a femoral head are concentric to about the variation of the cortex thickness."""

FOV_CUT_MAX = 0.02
"""Largest share of the head's sphere outside the field of view before the head counts as cut."""

NECK_LATERAL_MIN = 0.3
"""Least lateral component of the neck axis (unit vector): the femoral neck runs lateral from the head
whatever the anteversion (up to ~50 deg) and neck-shaft angle (115-145 deg)."""

NECK_INFERIOR_MAX = 0.2
"""Largest superior component of the neck axis: from the head centre the neck runs lateral and down."""

PLATE_SPREAD_MM = 0.75
"""How far (mm) a head's marrow-edge-to-surface distance may lie from :data:`PLATE_TYPICAL_MM`: half the
1-2.5 mm range of subchondral plate and cortex (:data:`~onfh_imaging.segment.anatomy.CORTEX_RANGE_MM`),
the radius's uncertainty where the plate's outer edge is not in the image."""

_FOLLOW_FROM_NO_CARTILAGE = ("bone_surface_traced", "articular_surface_resolved", "edge_fit_residual",
                             "joint_space_resolved")
"""Checks that fail together, for one cause, where no cartilage is seen beyond the plate."""


def ramp(value: float, zero_at: float, full_at: float) -> float:
    """Support 0..1 rising linearly from ``zero_at`` to ``full_at`` (either order).

    Parameters
    ----------
    value : float
        The measured value, in the unit of the two limits.
    zero_at, full_at : float
        Values where the support is 0 and 1; equal limits give a step at ``full_at``.

    Returns
    -------
    float
        Support in [0, 1]; 0 for a non-finite ``value``.
    """
    if not np.isfinite(value):
        return 0.0
    if full_at == zero_at:
        return float(value >= full_at)
    return float(np.clip((value - zero_at) / (full_at - zero_at), 0.0, 1.0))


def _resolved_shares(surface: BoneSurface) -> tuple[float, float]:
    """(share of resolvable articular surface fitted, share of articular surface resolvable)."""
    if surface.fitted is None or surface.resolvable is None:
        return float("nan"), float("nan")
    w = surface.grid.solid_angle_weights() * surface.articular
    resolvable = float(np.sum(w * surface.resolvable))
    fitted = float(np.sum(w * (surface.fitted & surface.resolvable)))
    return fitted / max(resolvable, 1e-12), resolvable / max(float(np.sum(w)), 1e-12)


def segmentation_checks(t1: Volume, cand: HeadCandidate, surface: BoneSurface,
                        outside_fov: float) -> list[QualityCheck]:
    """The segmentation's quality checks for one head (see the module docstring).

    Parameters
    ----------
    t1 : Volume
        The image segmented.
    cand : HeadCandidate
        The head as found (inner cortical sphere, neck axis, side).
    surface : BoneSurface
        The traced bone surface and reference sphere.
    outside_fov : float
        Share (0..1) of the reference sphere outside the field of view.

    Returns
    -------
    list of QualityCheck
        Bone surface traced, articular surface resolved, edge fit residual, independent estimates agree,
        field of view, radius plausible, continuous with neck, joint space resolved, and (for a head
        placed by hand) placed by hand.
    """
    checks = [*_surface_checks(t1, surface), *_anatomy_checks(cand, surface, outside_fov)]
    return checks if surface.levels.cartilage_seen else _one_reason_without_cartilage(checks, surface)


def _one_reason_without_cartilage(checks: list[QualityCheck], surface: BoneSurface) -> list[QualityCheck]:
    """The checks with one shared reason for those that fail because no cartilage is seen beyond the
    plate (the joint space, or plate and cartilage, thinner than the image resolves)."""
    traced = surface.found_fraction
    reason = (
        "no cartilage is seen rising beyond the subchondral plate (the joint space, or the plate and "
        "cartilage, too thin for the image's resolution), so the head's surface cannot be told from the "
        f"acetabular bone: the bone surface was traced on {100 * traced:.0f} % of the well-resolved "
        f"directions ({100 * TRACED_MIN:.0f} % needed) and no sphere was fitted to it; the radius is the "
        f"marrow sphere's plus a typical {PLATE_TYPICAL_MM:g} mm plate (uncertain by up to "
        f"{PLATE_SPREAD_MM:g} mm) and the collapse is read on the marrow edge, never as stage III; "
        "measure radius and collapse on a series with thinner slices or finer pixels, or check the "
        "deviation map")
    return [replace(c, reason=reason) if c.name in _FOLLOW_FROM_NO_CARTILAGE and not c.passed else c
            for c in checks]


def _surface_checks(t1: Volume, surface: BoneSurface) -> list[QualityCheck]:
    """Bone surface traced, articular surface resolved, edge fit residual."""
    checks: list[QualityCheck] = []
    traced = surface.found_fraction
    checks.append(QualityCheck(
        "bone_surface_traced", bool(traced >= TRACED_MIN), ramp(traced, 0.0, TRACED_MIN),
        f"the bone surface of the femoral head was traced on only {100 * traced:.0f} % of the well-resolved "
        f"directions ({100 * TRACED_MIN:.0f} % needed); its sphere is the marrow sphere's, not a fit",
        value=traced, limit=TRACED_MIN, unit="1", blocks_stage_iii=True))
    share, covered = _resolved_shares(surface)
    ok = bool(share >= RESOLVED_SURFACE_MIN and covered >= RESOLVABLE_SURFACE_MIN)
    checks.append(QualityCheck(
        "articular_surface_resolved", ok,
        ramp(share, 0.3, RESOLVED_SURFACE_MIN) * ramp(covered, 0.0, RESOLVABLE_SURFACE_MIN),
        f"the image resolved plate and cartilage on {100 * share:.0f} % of the articular surface its slices "
        f"can resolve ({100 * RESOLVED_SURFACE_MIN:.0f} % needed), which is {100 * covered:.0f} % of the "
        f"articular surface ({100 * RESOLVABLE_SURFACE_MIN:.0f} % needed)",
        value=share, limit=RESOLVED_SURFACE_MIN, unit="1", blocks_stage_iii=True))
    pixel = float(min(t1.spacing[0], t1.spacing[1]))
    rms_limit = max(EDGE_RMS_MIN_LIMIT_MM, pixel)
    rms, inliers = surface.edge_rms_mm, surface.edge_inlier_fraction
    fit_ok = bool(rms <= rms_limit and inliers >= EDGE_INLIER_MIN)
    checks.append(QualityCheck(
        "edge_fit_residual", fit_ok, ramp(rms, 2.0 * rms_limit, rms_limit) * ramp(inliers, 0.3, EDGE_INLIER_MIN),
        f"the traced cortical edges do not lie on one sphere (RMS {rms:.2f} mm, limit {rms_limit:.2f} mm; "
        f"{100 * inliers:.0f} % on it, {100 * EDGE_INLIER_MIN:.0f} % needed)" if np.isfinite(rms) else
        "no sphere was fitted to the outer cortical edges (too few were traced)",
        value=rms, limit=rms_limit, unit="mm", blocks_stage_iii=True))
    return checks


def _anatomy_checks(cand: HeadCandidate, surface: BoneSurface, outside_fov: float) -> list[QualityCheck]:
    """Independent estimates agree, field of view, radius plausible, continuous with the neck, joint space
    resolved, and (for a head placed by hand) placed by hand."""
    checks: list[QualityCheck] = []
    shift = float(np.linalg.norm(surface.center - cand.center_lps))
    cortex = float(surface.radius - cand.radius_mm)
    lo, hi = CORTEX_RANGE_MM
    agree = bool(shift <= CENTRE_AGREEMENT_MM and lo <= cortex <= hi)
    checks.append(QualityCheck(
        "independent_estimates_agree", agree,
        ramp(shift, 2.0 * CENTRE_AGREEMENT_MM, CENTRE_AGREEMENT_MM) * float(lo - 1.0 <= cortex <= hi + 1.0),
        f"the marrow sphere and the bone-surface sphere disagree (centres {shift:.1f} mm apart, limit "
        f"{CENTRE_AGREEMENT_MM:g} mm; {cortex:.1f} mm between them, {lo:g}-{hi:g} mm expected): the outer "
        "edge may lie beyond the joint space",
        value=shift, limit=CENTRE_AGREEMENT_MM, unit="mm", blocks_stage_iii=True))
    checks.append(QualityCheck(
        "field_of_view", bool(outside_fov <= FOV_CUT_MAX), ramp(outside_fov, 0.5, FOV_CUT_MAX),
        f"{100 * outside_fov:.0f} % of the femoral head's surface lies outside the field of view; the head "
        "is cut there and its shape and collapse are unreliable",
        value=outside_fov, limit=FOV_CUT_MAX, unit="1"))
    r_lo, r_hi = HEAD_RADIUS_RANGE_MM
    checks.append(QualityCheck(
        "radius_plausible", bool(r_lo <= surface.radius <= r_hi), float(r_lo <= surface.radius <= r_hi),
        f"head radius {surface.radius:.1f} mm is outside the adult range {r_lo:.0f}-{r_hi:.0f} mm",
        value=surface.radius, limit=r_hi if surface.radius > r_hi else r_lo, unit="mm", blocks_stage_iii=True))
    axis = np.asarray(cand.neck_axis_lps, float)
    lateral = float(axis[0] * (-1.0 if cand.side == "right" else 1.0))
    neck_ok = bool(cand.neck_fraction > 0 and lateral >= NECK_LATERAL_MIN and axis[2] <= NECK_INFERIOR_MAX)
    checks.append(QualityCheck(
        "continuous_with_neck", neck_ok, 1.0 if neck_ok else 0.5,
        "no femoral neck running lateral and inferior from the head was seen (the ball found may not be "
        f"the femoral head; neck axis {np.round(axis, 2).tolist()})",
        value=lateral, limit=NECK_LATERAL_MIN, unit="1", blocks_stage_iii=True))
    checks.append(QualityCheck(
        "joint_space_resolved", bool(surface.levels.cartilage_seen), float(surface.levels.cartilage_seen),
        "no cartilage is seen rising beyond the subchondral plate (the joint space, or the plate and "
        "cartilage, too thin for the image's resolution): the head's surface cannot be told from the "
        "acetabular bone", blocks_stage_iii=True))
    if cand.placed_by_hand:
        checks.append(QualityCheck("placed_by_hand", False, 1.0, "head placed by hand"))
    return checks

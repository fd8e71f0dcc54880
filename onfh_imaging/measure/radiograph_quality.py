"""How far a femoral head's outline on a radiograph can be trusted: the checks behind ``quality``.

Each check compares one piece of the outline evidence with a limit tied to the head (its radius) or
to the image's own noise, and says in words what it found. Collapse depth, the Mose deviation and
the double contour are read from the outline, so a failed outline check blocks stage III: the hip is
flagged ``needs_review`` with the reason and is never staged III on that outline.

Checks
------
* ``articular_rim_traced``: share of the articular outline (away from the neck, inside the image)
  where a head edge was found, at least ``MIN_ARTICULAR_TRACED``.
* ``circle_fit_residual``: RMS radial residual of the reference circle's inliers, at most
  ``MAX_FIT_RMS_RELATIVE`` of the radius.
* ``circle_inliers``: share of the traced articular outline that the reference circle keeps, at least
  ``MIN_INLIER_FRACTION`` (the rest is collapse or stray edges; more than that is not one head).
* ``estimates_agree``: the circle the rim search settled on and the reference circle fitted to the
  traced outline are independent estimates of the head; their radii and centres agree within
  ``MAX_ESTIMATE_DISAGREEMENT`` of the radius.
* ``edge_contrast``: median edge strength along the traced outline in multiples of the image's noise
  (of the radial derivative), at least ``MIN_EDGE_SNR``.
* ``head_in_image``: share of the head's circle inside the image; a cut head is measured on what is
  seen, but its reference circle rests on a partial arc, so collapse and a double contour on it are
  not taken as certain (no stage III).
* ``dome_traced``: share of the weight-bearing dome's arc (cut off by the image edge or not) where the
  outline is traced, at least ``MIN_DOME_TRACED``; collapse is read there only.
* ``head_placed_by_hand`` (recorded when a seed placed the head) and ``scale_assumed`` (pixel-only
  images: measured in pixels) are recorded as passed checks, for the record.
"""

from __future__ import annotations

import numpy as np

from onfh_imaging.measure.radiograph_circle import circle_disagreement
from onfh_imaging.quality import Quality, QualityCheck, combine

MIN_ARTICULAR_TRACED = 0.6
"""Share of the articular outline traced: below it the circle rests on less than about 160 deg of rim."""
MAX_FIT_RMS_RELATIVE = 0.02
"""RMS residual of the circle fit relative to the radius: 0.5 mm on a 24 mm head, about twice the
trabecular-edge jitter of a clean cortex outline."""
MIN_INLIER_FRACTION = 0.6
"""Share of the traced articular outline on the reference circle."""
MAX_ESTIMATE_DISAGREEMENT = 0.05
"""Disagreement (radius or centre shift, relative to the radius) between the searched circle and the
fitted reference circle: 1.2 mm on a 24 mm head."""
MIN_EDGE_SNR = 4.0
"""Median edge strength, noise SDs: an edge weaker than that is as likely texture as cortex."""
MIN_DOME_TRACED = 0.6
"""Share of the weight-bearing dome's arc (90 deg) traced for its collapse depth to count: the untraced rest is
then at most 36 deg, about the arc of the smallest collapsing necrotic segment in a plane, so a collapse cannot
lie wholly in the gaps; the same share the articular outline needs (``MIN_ARTICULAR_TRACED``)."""
MIN_HEAD_IN_IMAGE = 0.9
"""Share of the head's circle inside the image below which the head is reported as cut by the edge."""


def _support(value: float, limit: float, absent: float) -> float:
    """1 at ``limit`` or better, falling linearly to 0 at ``absent``."""
    if limit == absent:
        return 1.0
    return float(np.clip((value - absent) / (limit - absent), 0.0, 1.0))


def _off_head(arc_deg: float) -> str:
    """What the dome check says of the arc where the trace left the head's outline ('' when none)."""
    if arc_deg <= 0.0:
        return ""
    return (f"; over {arc_deg:.0f} deg of it the trace left the head's outline for another edge (not continuous "
            "with the rim on both sides) and is not read")


def outline_quality(*, articular_traced: float, fit_rms_px: float, radius_px: float, inlier_fraction: float,
                    search_radius_px: float, search_center_px: tuple[float, float],
                    fit_center_px: tuple[float, float], edge_snr: float, arc_in_image: float,
                    placed_by_hand: bool, pixel_only: bool, dome_traced: float = 1.0,
                    dome_off_head_deg: float = 0.0) -> Quality:
    """The quality block of one radiograph head from its outline evidence.

    Parameters
    ----------
    articular_traced : float
        Share (0..1) of the articular outline in the image where the head edge was found.
    fit_rms_px, radius_px : float
        RMS residual and radius of the reference circle, pixels.
    inlier_fraction : float
        Share (0..1) of the traced articular outline the reference circle kept.
    search_radius_px, search_center_px : float, (float, float)
        The circle the rim search settled on (pixels, (row, col)).
    fit_center_px : (float, float)
        Centre of the reference circle (row, col), pixels.
    edge_snr : float
        Median edge strength along the traced outline, noise SDs.
    arc_in_image : float
        Share (0..1) of the head's circle inside the image.
    placed_by_hand, pixel_only : bool
        A seed placed the head; the image has no pixel size.
    dome_traced : float
        Share (0..1) of the weight-bearing dome's arc where the outline is traced and can be read.
    dome_off_head_deg : float
        Arc (deg) of the dome where the trace left the head's outline for another edge
        (:func:`onfh_imaging.measure.radiograph_outline.detached_excursions`), not read and not counted as traced.

    Returns
    -------
    Quality
        The seven outline checks (each blocking stage III when failed), plus an informational check
        when the head was placed by hand or the scale was assumed, combined.
    """
    rel_rms = fit_rms_px / max(radius_px, 1e-9)
    disagreement = circle_disagreement(search_center_px, search_radius_px, fit_center_px, radius_px)
    checks = [
        QualityCheck("articular_rim_traced", articular_traced >= MIN_ARTICULAR_TRACED,
                     _support(articular_traced, MIN_ARTICULAR_TRACED + 0.2, 0.3),
                     f"the head's articular outline was traced over {100 * articular_traced:.0f} % of its arc "
                     f"(at least {100 * MIN_ARTICULAR_TRACED:.0f} % needed)",
                     100 * articular_traced, 100 * MIN_ARTICULAR_TRACED, "%", blocks_stage_iii=True),
        QualityCheck("circle_fit_residual", rel_rms <= MAX_FIT_RMS_RELATIVE,
                     _support(-rel_rms, -0.5 * MAX_FIT_RMS_RELATIVE, -3 * MAX_FIT_RMS_RELATIVE),
                     f"the outline departs from its reference circle by {100 * rel_rms:.1f} % of the radius RMS "
                     f"(at most {100 * MAX_FIT_RMS_RELATIVE:.0f} %)",
                     100 * rel_rms, 100 * MAX_FIT_RMS_RELATIVE, "% of radius", blocks_stage_iii=True),
        QualityCheck("circle_inliers", inlier_fraction >= MIN_INLIER_FRACTION,
                     _support(inlier_fraction, MIN_INLIER_FRACTION + 0.2, 0.3),
                     f"only {100 * inlier_fraction:.0f} % of the traced outline lies on one circle "
                     f"(at least {100 * MIN_INLIER_FRACTION:.0f} %)",
                     100 * inlier_fraction, 100 * MIN_INLIER_FRACTION, "%", blocks_stage_iii=True),
        QualityCheck("estimates_agree", disagreement <= MAX_ESTIMATE_DISAGREEMENT,
                     _support(-disagreement, -0.5 * MAX_ESTIMATE_DISAGREEMENT, -3 * MAX_ESTIMATE_DISAGREEMENT),
                     f"the searched circle and the circle fitted to the outline differ by {100 * disagreement:.1f} % "
                     f"of the radius (at most {100 * MAX_ESTIMATE_DISAGREEMENT:.0f} %)",
                     100 * disagreement, 100 * MAX_ESTIMATE_DISAGREEMENT, "% of radius", blocks_stage_iii=True),
        QualityCheck("edge_contrast", edge_snr >= MIN_EDGE_SNR, _support(edge_snr, 2 * MIN_EDGE_SNR, 1.0),
                     f"the head's edge is {edge_snr:.1f} noise SDs strong (at least {MIN_EDGE_SNR:g})",
                     edge_snr, MIN_EDGE_SNR, "noise SD", blocks_stage_iii=True),
        QualityCheck("dome_traced", dome_traced >= MIN_DOME_TRACED, _support(dome_traced, MIN_DOME_TRACED + 0.2, 0.2),
                     f"the outline over the weight-bearing dome was traced over {100 * dome_traced:.0f} % of its arc "
                     f"(at least {100 * MIN_DOME_TRACED:.0f} % needed to read collapse)" + _off_head(dome_off_head_deg),
                     100 * dome_traced, 100 * MIN_DOME_TRACED, "%", blocks_stage_iii=True),
        QualityCheck("head_in_image", arc_in_image >= MIN_HEAD_IN_IMAGE, 1.0,
                     f"the image edge cuts the head: {100 * arc_in_image:.0f} % of its circle is in the image",
                     100 * arc_in_image, 100 * MIN_HEAD_IN_IMAGE, "%", blocks_stage_iii=True),
    ]
    if placed_by_hand:
        checks.append(QualityCheck("head_placed_by_hand", True, 1.0, "head placed by hand"))
    if pixel_only:
        checks.append(QualityCheck("scale_assumed", True, 1.0,
                                   "no pixel size: the head was searched over plausible scales and measured in pixels"))
    return combine(checks)


__all__ = ["outline_quality"]

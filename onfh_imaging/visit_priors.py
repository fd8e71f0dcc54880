"""Each AP radiograph of a visit read where the MRI of the same visit shows the necrotic lesion.

The radiographic lesion finding of a radiograph is first a blind search over the head
(:func:`onfh_imaging.measure.radiograph_lesion.radiographic_lesion`). When a visit (patient and study date,
:func:`onfh_imaging.verdict.visit_key`) also holds an MR series whose lesion mask shows a lesion in that
hip, the AP radiographs on which the blind search found nothing are tested along the MR lesion's outline
projected along the beam (:func:`onfh_imaging.measure.radiograph_prior.margin_at_lesion_outline`), a test
with a stated false-alarm rate at one place instead of the look-elsewhere limit of the blind search. The
test's figures go into the hip's ``radiographic_lesion`` block as ``mri_margin``; a margin found there makes
the finding ``found`` with the kind "sclerotic margin at the MRI lesion's margin". Where the MRI shows no
lesion nothing is tested, and a radiograph without an MRI of its visit keeps its blind finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from onfh_imaging.geometry import Radiograph
from onfh_imaging.measure.radiograph_lesion import RadiographicLesion
from onfh_imaging.measure.radiograph_prior import LesionOutline, lesion_outline_ap, margin_at_lesion_outline
from onfh_imaging.verdict import series_label, visit_key
from onfh_imaging.vocab import VIEW_AP

AT_MRI_MARGIN = "sclerotic margin at the MRI lesion's margin"
"""The finding's kind when the margin was found along the MR lesion's projected outline."""


def _mri_outlines(results: Sequence[Any]) -> dict[str, tuple[LesionOutline, str]]:
    """{side: (the lesion's AP outline, the MR series' label)} of the first MR series with a lesion."""
    out: dict[str, tuple[LesionOutline, str]] = {}
    for result in results:
        if result.radiograph_report is not None or not result.hips:
            continue
        label = series_label(result.to_json())
        for hip in result.hips:
            seg = hip.segmentation
            if hip.side in out or seg is None or not np.any(np.asarray(seg.lesion_mask.array) >= 0.5):
                continue
            outline = lesion_outline_ap(seg.lesion_mask, seg.head_center_lps, seg.head_radius_mm)
            if outline is not None:
                out[hip.side] = (outline, label)
    return out


def _calibrated(result: Any) -> Radiograph:
    """The radiograph as measured: the pixel size its report used (a calibration ball's, if one was found)."""
    rx, block = result.radiograph, result.radiograph_report.get("input") or {}
    size = block.get("pixel_size_mm")
    return Radiograph(rx.pixels, None if size is None else (float(size[0]), float(size[1])),
                      block.get("pixel_size_source") or rx.pixel_size_source, view=rx.view,
                      laterality=rx.laterality, patient_orientation=rx.patient_orientation)


def _test_hip(hip: dict[str, Any], rx: Radiograph, outline: LesionOutline, mr_label: str) -> None:
    """Test one radiograph hip along the MR lesion's outline and write the result into its finding."""
    head, finding = hip.get("head"), RadiographicLesion.from_dict(hip.get("radiographic_lesion"))
    if not head or finding.found is not False:
        return  # not read (the circle is not trusted), or already found by the blind search
    test = margin_at_lesion_outline(rx, tuple(head["center_px"]), float(head["radius_px"]), outline)
    if isinstance(test, str):
        block = {"tested": False, "reason": test, "mr_series": mr_label}
        hip["radiographic_lesion"] = replace(finding, mri_margin=block).to_dict()
        return
    block = {"tested": True, **test.to_dict(), "mr_series": mr_label}
    if test.found:
        finding = replace(finding, found=True, kind=AT_MRI_MARGIN, contrast=test.contrast_sd)
    hip["radiographic_lesion"] = replace(finding, mri_margin=block).to_dict()


def with_mri_lesion_outlines(results: Sequence[Any]) -> list[Any]:
    """Test the AP radiographs of each visit along the outline of the lesion its MR series shows.

    Parameters
    ----------
    results : sequence of StudyResult
        Every series measured (:func:`onfh_imaging.pipeline.measure_path`): MR results (``hips`` with
        their segmentations) and radiograph results (``radiograph`` and ``radiograph_report``).

    Returns
    -------
    list of StudyResult
        The same results; the AP radiographs' hip findings updated in place where an MR series of the same
        visit shows a lesion in that hip.
    """
    visits: dict[tuple[str, str], list[Any]] = {}
    for result in results:
        visits.setdefault(visit_key(result.to_json()), []).append(result)
    for group in visits.values():
        radiographs = [r for r in group if r.radiograph_report is not None and r.radiograph is not None
                       and r.radiograph.view == VIEW_AP]
        outlines = _mri_outlines(group) if radiographs else {}
        for result in radiographs if outlines else ():
            rx = _calibrated(result)
            for hip in result.radiograph_report.get("hips") or []:
                if hip.get("side") in outlines and not hip.get("prosthesis_detected"):
                    _test_hip(hip, rx, *outlines[hip["side"]])
    return list(results)


__all__ = ["AT_MRI_MARGIN", "with_mri_lesion_outlines"]

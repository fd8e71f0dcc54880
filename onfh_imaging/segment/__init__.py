"""Automatic segmentation: femoral heads and necrotic lesions on T1-weighted hip MRI.

Public API (the pipeline, the napari plugin and the batch layer call exactly these):

* :func:`segment_hips` -> list of :class:`HipSegmentation` (masks on the input grid, reference sphere,
  neck axis, side, warnings; bool masks plus their partial-volume fractions),
* :func:`find_femoral_heads` -> list of :class:`HeadCandidate`,
* :func:`select_series` -> the T1 series to measure and an optional fluid-sensitive series (it lives in
  :mod:`onfh_imaging.io.series_choice`; re-exported here).

Modules: :mod:`~onfh_imaging.segment.heads` (finding heads, hand seeds),
:mod:`~onfh_imaging.segment.bone_surface`, :mod:`~onfh_imaging.segment.lesion`,
:mod:`~onfh_imaging.segment.checks` (quality), :mod:`~onfh_imaging.segment.anatomy` (named limits),
:mod:`~onfh_imaging.segment.mri` (the whole MRI segmentation).
"""

from onfh_imaging.segment.mri import (
    HeadCandidate,
    HipSegmentation,
    find_femoral_heads,
    segment_hips,
    select_series,
)

__all__ = ["HeadCandidate", "HipSegmentation", "find_femoral_heads", "segment_hips", "select_series"]

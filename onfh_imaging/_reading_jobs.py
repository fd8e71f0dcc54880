"""Measuring a hip again after the reader's edits: a snapshot of its masks (:class:`MeasureJob`), measured
and staged anywhere (a worker thread or process) by :func:`measure_job`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onfh_imaging._reading_surface import DisplaySurface, display_surface
from onfh_imaging.errors import OnfhError
from onfh_imaging.geometry import Volume
from onfh_imaging.reads import HEAD, LESION


@dataclass
class MeasureJob:
    """The masks of one edited hip to measure (a snapshot of its labels).

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    masks : dict of str to Volume
        :func:`measured_masks` of the snapshot: float32 fractions (0..1) per structure on one sub-grid.
    neck_axis_lps : ndarray, shape (3,), or None
        Unit vector of the femoral neck axis (LPS).
    hashes : dict of str to str
        SHA-256 of each structure's labels in the snapshot.
    image : Volume or None
        The T1 image: the JIC type is read on it again with the edited lesion.
    """

    side: str
    masks: dict[str, Volume]
    neck_axis_lps: Any
    hashes: dict[str, str]
    image: Volume | None = None


def measure_job(job: MeasureJob) -> tuple[str, dict[str, str], dict[str, Any] | None, Any]:
    """Measure and stage one :class:`MeasureJob` (the JIC type read again on its T1 image, if any).

    Parameters
    ----------
    job : MeasureJob
        The snapshot to measure.

    Returns
    -------
    tuple
        ``(side, hashes, measures dict, HipMeasures)``; ``(side, hashes, None, reason)`` when it failed.
    """
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.measure.jic import classify_jic, with_jic
    from onfh_imaging.staging import stage_hip

    try:
        measures = stage_hip(measure_hip(job.masks[HEAD], job.masks[LESION], side=job.side,
                                         neck_axis_lps=job.neck_axis_lps))
    except OnfhError as exc:
        return job.side, job.hashes, None, str(exc)
    jic = None
    if job.image is not None:
        jic = classify_jic(job.image, job.masks[LESION], measures.sphere.center_lps, measures.sphere.radius_mm,
                           job.side)
    return job.side, job.hashes, with_jic(measures.to_dict(), jic), measures


def measure_job_shown(job: MeasureJob) -> tuple[tuple[str, dict[str, str], dict[str, Any] | None, Any],
                                                DisplaySurface | None]:
    """:func:`measure_job`, with the deviation map the screen shows (:func:`display_surface`), so a worker
    makes both and the viewer only displays them.

    Parameters
    ----------
    job : MeasureJob
        The snapshot to measure.

    Returns
    -------
    tuple
        ``(measure_job result, DisplaySurface or None)``; None when it failed or has no surface.
    """
    result = measure_job(job)
    shown = None if result[2] is None else display_surface(result[3], job.masks[HEAD])
    return result, shown


__all__ = ["MeasureJob", "measure_job", "measure_job_shown"]

"""The measurement JSON contract's shared pieces (schema name, the ``input`` block)."""

from __future__ import annotations

from typing import Any

__all__ = ["MEASUREMENT_SCHEMA", "input_block"]

#: Schema name and version of the measurement JSON: fields are added freely; renaming or dropping one
#: needs a new version.
MEASUREMENT_SCHEMA = "onfh-imaging/measurement/1"


def input_block(info: Any) -> dict[str, Any]:
    """The contract's ``input`` object from a series' header summary.

    Parameters
    ----------
    info : SeriesInfo
        The measured series (:class:`onfh_imaging.io.SeriesInfo`, or any object with its attributes).

    Returns
    -------
    dict
        ``patient_id``, ``study_instance_uid``, ``study_date`` (``YYYY-MM-DD``), ``series_instance_uid``,
        ``modality`` and ``series_description``; None for an attribute ``info`` lacks.
    """
    return {
        "patient_id": getattr(info, "patient_id", None),
        "study_instance_uid": getattr(info, "study_instance_uid", None),
        "study_date": getattr(info, "study_date", None),
        "series_instance_uid": getattr(info, "series_instance_uid", None),
        "modality": getattr(info, "modality", None),
        "series_description": getattr(info, "series_description", None),
    }

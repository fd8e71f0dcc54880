"""The measurement JSON contract's shared pieces (schema name, the ``input`` block)."""

from __future__ import annotations

from typing import Any

MEASUREMENT_SCHEMA = "onfh-imaging/measurement/1"


def input_block(info: Any) -> dict[str, Any]:
    """The contract's ``input`` object from a series' header summary (``onfh_imaging.io.SeriesInfo``)."""
    return {
        "patient_id": getattr(info, "patient_id", None),
        "study_instance_uid": getattr(info, "study_instance_uid", None),
        "study_date": getattr(info, "study_date", None),
        "series_instance_uid": getattr(info, "series_instance_uid", None),
        "modality": getattr(info, "modality", None),
        "series_description": getattr(info, "series_description", None),
    }

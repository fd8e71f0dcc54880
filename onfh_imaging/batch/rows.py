"""Flattening of the nested measurement contract into table columns (one level of names joined by ``_``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["VERDICT_COLUMNS", "flatten", "quality_columns", "verdict_row"]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested contract object into ``a_b_c`` columns, keeping every field.

    Nested objects join their keys with ``_`` (``head.radius_mm`` -> ``head_radius_mm``); numeric
    3-vectors in LPS (names ending ``_lps`` or ``_lps_mm``) become ``_x``, ``_y``, ``_z`` columns, other
    numeric lists ``_0``, ``_1``...; lists of text join with ``"; "``; anything else is kept as JSON text.

    Parameters
    ----------
    obj : mapping
        A contract object (a hip, a study's ``input``...), nested to any depth.
    prefix : str, optional
        Name prepended to every column (``prefix_key``); empty for none.

    Returns
    -------
    dict
        Column name to scalar value (units as in the contract: mm, mL, %, degrees); an empty list
        becomes an empty string.
    """
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        elif isinstance(value, (list, tuple)):
            if value and all(_is_number(v) for v in value):
                axes = "xyz" if len(value) == 3 and name.endswith(("_lps", "_lps_mm")) else None
                for n, v in enumerate(value):
                    out[f"{name}_{axes[n] if axes else n}"] = v
            elif all(isinstance(v, str) for v in value):
                out[name] = "; ".join(value)
            else:
                out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def quality_columns(hip: Mapping[str, Any]) -> dict[str, Any]:
    """The hip's quality block as the batch tables' quality columns.

    Parameters
    ----------
    hip : mapping
        One hip of the measurement contract, with an optional ``quality`` block (``score``,
        ``needs_review``, ``reasons``).

    Returns
    -------
    dict
        ``quality_score`` (0..1, None when absent), ``needs_review`` (bool, False when absent) and
        ``quality_reasons`` (the reasons joined with ``"; "``, empty when none).
    """
    q = hip.get("quality") or {}
    return {"quality_score": q.get("score"), "needs_review": bool(q.get("needs_review")),
            "quality_reasons": "; ".join(str(r) for r in q.get("reasons") or [])}


#: Columns of the verdicts table (one row per hip and visit), in this order.
VERDICT_COLUMNS = (
    "patient_id",
    "study_date",
    "visit_days",
    "visit_months",
    "visit_label",
    "side",
    "arco_2019",
    "basis",
    "decided_by",
    "depth_mm",
    "depth_series",
    "depth_series_instance_uid",
    "depth_method",
    "depth_detection_limit_mm",
    "other_depths",
    "not_assessed",
    "disagreements",
    "notes",
    "needs_review",
    "reasons",
    "steinberg_extent",
    "arco_1992",
    "n_series",
    "series",
    "series_instance_uids",
    "study_instance_uids",
    "verdict_schema",
)


def verdict_row(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """One table row of a hip's verdict: the ARCO verdict of one hip at one visit, from all its series.

    Parameters
    ----------
    verdict : mapping
        :meth:`onfh_imaging.verdict.HipVerdict.to_dict` of one hip and visit.

    Returns
    -------
    dict
        The :data:`VERDICT_COLUMNS` except the ``visit_*`` ones: lists of text joined with
        ``"; "``, the collapse depth used in ``depth_*`` columns (``depth_mm`` and
        ``depth_detection_limit_mm`` in mm), the other series' depths as ``"<series> <depth> mm"``,
        ``n_series`` the number of series that entered the verdict.
    """
    depth = verdict.get("depth") or {}
    series = verdict.get("series") or []

    def joined(values: Any) -> str:
        return "; ".join(str(v) for v in values or [])

    return {
        "patient_id": verdict.get("patient_id"),
        "study_date": verdict.get("study_date"),
        "side": verdict.get("side"),
        "arco_2019": verdict.get("arco_2019"),
        "basis": verdict.get("basis"),
        "decided_by": joined(verdict.get("decided_by")),
        "depth_mm": depth.get("depth_mm"),
        "depth_series": depth.get("series"),
        "depth_series_instance_uid": depth.get("series_instance_uid"),
        "depth_method": depth.get("method"),
        "depth_detection_limit_mm": depth.get("detection_limit_mm"),
        "other_depths": joined(f"{d.get('series')} {d.get('depth_mm')} mm" for d in verdict.get("other_depths") or []),
        "not_assessed": joined(verdict.get("not_assessed")),
        "disagreements": joined(verdict.get("disagreements")),
        "notes": joined(verdict.get("notes")),
        "needs_review": bool(verdict.get("needs_review")),
        "reasons": joined(verdict.get("reasons")),
        "steinberg_extent": verdict.get("steinberg_extent"),
        "arco_1992": verdict.get("arco_1992"),
        "n_series": len(series),
        "series": joined(s.get("series") for s in series),
        "series_instance_uids": joined(s.get("series_instance_uid") for s in series),
        "study_instance_uids": joined(s.get("study_instance_uid") for s in verdict.get("studies") or []),
        "verdict_schema": verdict.get("schema"),
    }

"""Flattening of the nested measurement contract into table columns (one level of names joined by ``_``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten"]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested contract object into ``a_b_c`` columns, keeping every field.

    Nested objects join their keys with ``_`` (``head.radius_mm`` -> ``head_radius_mm``); numeric
    3-vectors in LPS (names ending ``_lps`` or ``_lps_mm``) become ``_x``, ``_y``, ``_z`` columns, other
    numeric lists ``_0``, ``_1``...; lists of text join with ``"; "``; anything else is kept as JSON text.
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

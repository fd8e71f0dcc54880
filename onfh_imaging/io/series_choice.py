"""Which series of an MR study to measure: the T1-weighted volume, and a fluid-sensitive companion.

Headers only (:class:`onfh_imaging.io.SeriesInfo`); nothing here reads pixels or knows of segmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onfh_imaging.errors import UnsupportedInputError

__all__ = ["select_series"]


def _attr(info: Any, name: str, default: Any = None) -> Any:
    return getattr(info, name, default)


def select_series(series_infos: Sequence[Any]) -> tuple[Any, Any | None]:
    """Choose the T1 series to measure and an optional fluid-sensitive series of the same frame.

    Parameters
    ----------
    series_infos : sequence of SeriesInfo
        The MR series of one study (from :func:`onfh_imaging.io.scan`).

    Returns
    -------
    (SeriesInfo, SeriesInfo or None)
        The T1-weighted series (coronal first, then thinner slices, then more slices), and a STIR or
        fat-saturated T2 series sharing its frame of reference (same orientation preferred), if any.

    Raises
    ------
    UnsupportedInputError
        If no series of the study is a T1-weighted volume.
    """
    volumes = [s for s in series_infos if (_attr(s, "n_slices", 2) or 0) >= 2]
    t1 = [s for s in volumes if str(_attr(s, "sequence", "")).upper() == "T1"
          and not _attr(s, "fat_saturated", False)]
    if not t1:
        first = series_infos[0] if series_infos else None
        path = None if first is None or not _attr(first, "files") else str(_attr(first, "files")[0])
        raise UnsupportedInputError(
            "no T1-weighted MR series (non fat-saturated) in the study", path=path,
            hint="femoral heads are measured on a T1-weighted series, coronal preferred")

    def t1_rank(s: Any) -> tuple:
        orientation = str(_attr(s, "orientation", "")).lower()
        slice_mm = _attr(s, "slice_spacing", None) or _attr(s, "slice_spacing_mm", None) or 99.0
        return (orientation != "coronal", orientation not in ("coronal", "oblique"), float(slice_mm),
                -int(_attr(s, "n_slices", 0) or 0))

    primary = sorted(t1, key=t1_rank)[0]
    frame = _attr(primary, "frame_of_reference_uid")

    def is_fluid(s: Any) -> bool:
        seq = str(_attr(s, "sequence", "")).upper()
        return seq == "STIR" or (seq == "T2" and bool(_attr(s, "fat_saturated", False)))

    fluid = [s for s in volumes if s is not primary and is_fluid(s)
             and frame is not None and _attr(s, "frame_of_reference_uid") == frame]
    fluid.sort(key=lambda s: (str(_attr(s, "orientation", "")) != str(_attr(primary, "orientation", "")),
                              str(_attr(s, "sequence", "")).upper() != "STIR"))
    return primary, (fluid[0] if fluid else None)

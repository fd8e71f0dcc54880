"""JIC type of the necrotic lesion (Japanese Investigation Committee, revised 2001).

On the mid-coronal T1 plane through the head centre, the weight-bearing portion of the head is the
part under the acetabulum: from the vertical line through the head centre to the vertical line
through the lateral edge of the acetabular roof, divided into thirds (Sugano et al., J Orthop Sci
2002;7:601-605). The type is where the lesion's lateral boundary lies in it:

- **A**: within the medial third of the weight-bearing portion (or medial of it);
- **B**: within the medial two thirds;
- **C1**: beyond the medial two thirds, not lateral of the acetabular edge;
- **C2**: lateral of the acetabular edge.

Five-year collapse rates are about 0 %, 8 %, 37 % and 85 % for A, B, C1 and C2: the predictor trials
stratify by. The lesion's lateral boundary is its most lateral point above the head centre (the
weight-bearing half) on that plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.geometry import Volume
from onfh_imaging.segment.acetabulum import (
    SUPERIOR_LPS,
    AcetabularEdge,
    coronal_plane_points,
    find_lateral_acetabular_edge,
    lateral_lps,
    sample_plane,
)

JIC_TYPES = ("A", "B", "C1", "C2")
#: Sampling step (mm) of the mid-coronal plane for the lesion's lateral boundary: finer than any MR
#: in-plane pixel, so the plane keeps the image's resolution.
PLANE_STEP_MM = 0.25
#: A lesion outline is where its partial-volume fraction crosses one half (as the binary masks are made).
LESION_FRACTION = 0.5


@dataclass(frozen=True)
class JicResult:
    """JIC type of one hip and what it rests on.

    Attributes
    ----------
    jic_type : str or None
        ``"A"``, ``"B"``, ``"C1"``, ``"C2"``; None when it could not be determined (see ``basis``).
    basis : str
        In words: where the lesion reaches in the weight-bearing portion, or why there is no type.
    lesion_lateral_mm : float
        Lateral offset of the lesion's lateral boundary from the head centre (mm; NaN when none).
    edge : AcetabularEdge
        The lateral acetabular edge used.
    """

    jic_type: str | None
    basis: str
    lesion_lateral_mm: float
    edge: AcetabularEdge


def jic_type(lesion_lateral_mm: float, edge_lateral_mm: float) -> str:
    """JIC type from the lateral offsets (mm, from the head centre) of the lesion boundary and the edge.

    Parameters
    ----------
    lesion_lateral_mm : float
        The lesion's most lateral point in the weight-bearing half of the mid-coronal plane.
    edge_lateral_mm : float
        The lateral acetabular edge (> 0).

    Returns
    -------
    str
        ``"A"`` (lesion offset up to 1/3 of the edge offset), ``"B"`` (up to 2/3), ``"C1"`` (up to the
        edge) or ``"C2"`` (beyond it).

    Raises
    ------
    ValueError
        The edge offset is not positive.
    """
    if not edge_lateral_mm > 0:
        raise ValueError("the acetabular edge must lie lateral of the head centre")
    share = lesion_lateral_mm / edge_lateral_mm
    if share <= 1 / 3:
        return "A"
    if share <= 2 / 3:
        return "B"
    return "C1" if share <= 1.0 else "C2"


def lesion_lateral_extent(
    lesion: Volume, center_lps: np.ndarray, radius_mm: float, side: str
) -> float:
    """Lateral offset (mm) of the lesion's most lateral point above the head centre on the mid-coronal plane.

    Parameters
    ----------
    lesion : Volume
        Lesion mask (bool) or partial-volume fraction (0..1), any grid.
    center_lps, radius_mm, side
        Reference sphere and hip.

    Returns
    -------
    float
        NaN when the lesion does not reach that half-plane.
    """
    points, _ = coronal_plane_points(center_lps, side, radius_mm, PLANE_STEP_MM)
    frac = sample_plane(lesion, np.asarray(lesion.array, dtype=np.float32), points)
    rel = points - np.asarray(center_lps, float)
    upper = (rel @ SUPERIOR_LPS) > 0
    inside_head = np.linalg.norm(rel, axis=-1) <= radius_mm
    hit = (frac >= LESION_FRACTION) & upper & inside_head
    if not hit.any():
        return float("nan")
    return float((rel[hit] @ lateral_lps(side)).max())


def classify_jic(
    image: Volume,
    lesion: Volume,
    center_lps: np.ndarray,
    radius_mm: float,
    side: str,
    *,
    edge: AcetabularEdge | None = None,
) -> JicResult:
    """JIC type of a hip from its T1 image, lesion mask and reference sphere.

    Parameters
    ----------
    image : Volume
        T1-weighted image (the acetabular edge is found on it unless ``edge`` is given).
    lesion : Volume
        Lesion mask or partial-volume fraction.
    center_lps, radius_mm, side
        Reference sphere centre (LPS mm), radius (mm) and hip.
    edge : AcetabularEdge, optional
        A lateral edge already located (e.g. placed by a reader).

    Returns
    -------
    JicResult
        Type (None, with the reason as basis, when the lesion misses the weight-bearing half-plane or
        the edge is not found or lies medial), basis, lesion lateral offset (mm) and the edge.
    """
    if edge is None:
        edge = find_lateral_acetabular_edge(image, center_lps, radius_mm, side)
    lateral = lesion_lateral_extent(lesion, center_lps, radius_mm, side)
    if not np.isfinite(lateral):
        return JicResult(None, "no lesion in the weight-bearing half of the mid-coronal plane", lateral, edge)
    if not edge.found:
        return JicResult(None, f"lateral acetabular edge not found: {edge.reason}", lateral, edge)
    if not edge.lateral_offset_mm > 0:
        return JicResult(None, "the acetabular edge found lies medial of the head centre", lateral, edge)
    kind = jic_type(lateral, edge.lateral_offset_mm)
    basis = (
        f"lesion reaches {lateral:.1f} mm lateral of the head centre, "
        f"{100 * max(lateral, 0.0) / edge.lateral_offset_mm:.0f} % of the weight-bearing portion "
        f"(acetabular edge {edge.lateral_offset_mm:.1f} mm lateral), mid-coronal plane"
    )
    return JicResult(kind, basis, lateral, edge)


def with_jic(hip: dict, jic: JicResult | None) -> dict:
    """A per-hip contract entry with its JIC type (``lesion.jic_type``, ``lesion.jic_basis``) and the
    ``acetabulum`` block; a lesion without a type gets a warning saying why.

    Parameters
    ----------
    hip : dict
        Per-hip contract entry; updated in place.
    jic : JicResult or None
        The hip's JIC result; None leaves ``hip`` unchanged.

    Returns
    -------
    dict
        The same ``hip`` dictionary.
    """
    if jic is None:
        return hip
    if hip.get("lesion") is not None:
        hip["lesion"]["jic_type"] = jic.jic_type
        hip["lesion"]["jic_basis"] = jic.basis
        if jic.jic_type is None:
            hip.setdefault("warnings", []).append(f"no JIC type: {jic.basis}")
    hip["acetabulum"] = jic.edge.to_dict()
    return hip

"""Exact truth of the label-map anatomy, computed from its construction.

Head volume and surface area are closed-form (ball minus the fovea's lens minus the depressed segment's
cap difference, see :mod:`.anatomy`). Quantities without a closed form are integrals over the head's
directions, evaluated by quadrature twice (full and half resolution) with the difference reported as
``numerical_error_ml``:

* lesion volume: the lesion is star-shaped about the head centre (a wedge of directions, from the
  inner radius out to the surface), so ``V = integral over the wedge of (r(u)^3 - r_in^3) / 3 dOmega``
  with Gauss-Legendre nodes in ``cos(theta)`` about the lesion axis up to each azimuth's half-angle;
* RMS deviation of the articular surface (area weight ``r(u)^2 dOmega``);
* collapse depth: the largest ``R - r(u)`` over articular directions (the fovea excluded), including
  the segment's axis, where the construction puts it;
* the Kerboul arcs and the JIC type, sampled every 0.005 degrees on the mid-coronal and mid-sagittal
  planes through the head centre.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onfh_imaging.geometry import Volume
from onfh_imaging.phantom.labelmap.anatomy import HipAnatomy, PelvisAnatomy, orthonormal_frame

#: angular step (degrees) of the plane samplings (Kerboul arcs, JIC boundary)
ARC_STEP_DEG = 0.005
#: the collapse depth is exact to rounding: kept to 1e-9 mm so a 2 mm construction stays 2 mm (IIIA)
DEPTH_DECIMALS = 9
#: largest distance (mm) between sub-samples of a voxel in :func:`truth_masks`
MASK_STEP_MM = 0.35


def arco_2019(collapse_depth_mm: float, has_lesion: bool) -> tuple[str, str]:
    """ARCO 2019 stage by definition: IIIA collapse <= 2 mm, IIIB > 2 mm; I/II a lesion without collapse.

    Parameters
    ----------
    collapse_depth_mm : float
        True collapse depth, mm (0: intact).
    has_lesion : bool
        Whether the hip has a necrotic lesion.

    Returns
    -------
    stage : str
        ``"IIIB"``, ``"IIIA"``, ``"I/II"`` or ``"none"``.
    basis : str
        What the stage rests on, in words.
    """
    if collapse_depth_mm > 2.0:
        return "IIIB", f"collapse {collapse_depth_mm:.1f} mm > 2 mm"
    if collapse_depth_mm > 0.0:
        return "IIIA", f"collapse {collapse_depth_mm:.1f} mm <= 2 mm"
    if has_lesion:
        return "I/II", "necrotic lesion without collapse; the radiograph decides between I and II"
    return "none", "no necrotic lesion and no collapse"


def steinberg_extent(involvement_pct: float | None) -> str | None:
    """Steinberg extent by definition: A < 15 %, B 15-30 %, C > 30 % of the head.

    Parameters
    ----------
    involvement_pct : float or None
        Percentage of the head's volume in the lesion; None without a lesion.

    Returns
    -------
    str or None
    """
    if involvement_pct is None:
        return None
    return "A" if involvement_pct < 15.0 else ("B" if involvement_pct <= 30.0 else "C")


def head_volume_mm3(hip: HipAnatomy) -> float:
    """Femoral head volume (mm3), closed form.

    Parameters
    ----------
    hip : HipAnatomy
        The constructed hip.

    Returns
    -------
    float
        The ball less the fovea's lens and the depressed segment's cap difference, mm3.
    """
    R = hip.radius_mm
    v = 4.0 / 3.0 * np.pi * R**3 - hip.fovea.removed_volume_mm3(R)
    if hip.depression is not None:
        v -= hip.depression.removed_volume_mm3(R)
    return float(v)


def head_area_mm2(hip: HipAnatomy) -> float:
    """Femoral head surface area (mm2), closed form (the whole boundary of the carved ball).

    Parameters
    ----------
    hip : HipAnatomy
        The constructed hip.

    Returns
    -------
    float
        mm2.
    """
    R = hip.radius_mm
    a = 4.0 * np.pi * R**2 + hip.fovea.surface_change_mm2(R)
    if hip.depression is not None:
        a += hip.depression.surface_change_mm2(R)
    return float(a)


def _sphere_nodes(n_mu: int, n_phi: int, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product-rule directions over the whole sphere about ``axis`` and their solid-angle weights."""
    x, w = np.polynomial.legendre.leggauss(n_mu)
    phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    e1, e2 = orthonormal_frame(axis)
    s = np.sqrt(1 - x**2)
    u = (x[:, None, None] * axis + s[:, None, None] * (np.cos(phi)[None, :, None] * e1
                                                         + np.sin(phi)[None, :, None] * e2))
    return u.reshape(-1, 3), np.repeat(w, n_phi) * (2 * np.pi / n_phi)


def _lesion_volume_mm3(hip: HipAnatomy, n_mu: int, n_phi: int) -> float:
    les = hip.lesion
    axis = np.asarray(les.direction)
    e1, e2 = orthonormal_frame(axis)
    phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    probe = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    _, beta = les.half_angle(probe)  # the half-angle depends on azimuth only
    x, w = np.polynomial.legendre.leggauss(n_mu)
    lo = np.cos(beta)
    mu = 0.5 * (1 - lo)[:, None] * x[None, :] + 0.5 * (1 + lo)[:, None]  # (n_phi, n_mu) in [cos beta, 1]
    wt = 0.5 * (1 - lo)[:, None] * w[None, :] * (2 * np.pi / n_phi)
    s = np.sqrt(np.maximum(1 - mu**2, 0))
    u = (mu[..., None] * axis + s[..., None] * (np.cos(phi)[:, None, None] * e1 + np.sin(phi)[:, None, None] * e2))
    r = hip.radial_extent(u.reshape(-1, 3)).reshape(mu.shape)
    r_in = les.inner_fraction * hip.radius_mm
    return float(np.sum(wt * np.maximum(r**3 - r_in**3, 0.0)) / 3.0)


def _surface_stats(hip: HipAnatomy, n_mu: int, n_phi: int) -> tuple[float, float]:
    """RMS radial deviation of the articular surface and its deepest depression (mm)."""
    axis = np.asarray(hip.depression.direction) if hip.depression is not None else np.array([0.0, 0.0, 1.0])
    u, w = _sphere_nodes(n_mu, n_phi, axis)
    art = hip.articular(u)
    r = hip.radial_extent(u)
    dev = hip.radius_mm - r
    area = w * r**2
    rms = float(np.sqrt(np.sum(area[art] * dev[art] ** 2) / np.sum(area[art])))
    depth = float(dev[art].max(initial=0.0))
    if hip.depression is not None:
        depth = max(depth, float(hip.radius_mm - hip.radial_extent(axis[None, :])[0]))
    return rms, round(depth, DEPTH_DECIMALS)


def _plane_directions(normal: np.ndarray) -> np.ndarray:
    e1, e2 = orthonormal_frame(normal / np.linalg.norm(normal))
    t = np.radians(np.arange(0.0, 360.0, ARC_STEP_DEG))
    return np.cos(t)[:, None] * e1 + np.sin(t)[:, None] * e2


def _lesion_arc_deg(hip: HipAnatomy, normal: np.ndarray) -> float:
    u = _plane_directions(normal)
    return float(np.count_nonzero(hip.articular(u) & hip.lesion.in_cone(u)) * ARC_STEP_DEG)


def kerboul_angle_deg(hip: HipAnatomy) -> float:
    """Modified Kerboul combined necrotic angle of the hip's lesion.

    The lesion's arc on the articular surface in the mid-coronal plus the mid-sagittal plane through
    the head centre, sampled every :data:`ARC_STEP_DEG`.

    Parameters
    ----------
    hip : HipAnatomy
        The constructed hip.

    Returns
    -------
    float
        Degrees; 0 without a lesion.
    """
    if hip.lesion is None:
        return 0.0
    return _lesion_arc_deg(hip, np.array([0.0, 1.0, 0.0])) + _lesion_arc_deg(hip, np.array([1.0, 0.0, 0.0]))


def jic_type(hip: HipAnatomy) -> tuple[str | None, float | None]:
    """JIC type on the mid-coronal plane and the lesion's lateral boundary as a fraction of the weight-bearing portion.

    The weight-bearing portion is the head under the acetabular roof, from the vertical through the
    head centre (its medial end) to the lateral acetabular edge; A: the lesion's lateral boundary lies
    within its medial third, B: two thirds, C1: beyond two thirds but not beyond the lateral edge,
    C2: beyond the lateral edge.

    Parameters
    ----------
    hip : HipAnatomy
        The constructed hip.

    Returns
    -------
    jic : str or None
        ``"A"``, ``"B"``, ``"C1"`` or ``"C2"``; None without a lesion or when the lesion misses the plane.
    fraction : float or None
        The lesion's lateral boundary over the distance to the lateral edge (1: at the edge).
    """
    if hip.lesion is None:
        return None, None
    u = _plane_directions(np.array([0.0, 1.0, 0.0]))
    inside = hip.lesion.in_cone(u)
    if not inside.any():
        return None, None
    lat = u[inside] @ hip.lateral
    r = np.where(lat > 0, hip.radial_extent(u[inside]), hip.lesion.inner_fraction * hip.radius_mm)
    boundary = float(np.max(r * lat))
    edge = float((hip.lateral_acetabular_edge() - hip.c) @ hip.lateral)
    f = boundary / edge
    kind = "A" if f <= 1 / 3 else "B" if f <= 2 / 3 else "C1" if f <= 1.0 else "C2"
    return kind, f


def hip_truth(hip: HipAnatomy, n_mu: int = 400, n_phi: int = 720) -> dict[str, Any]:
    """The hip's entry of ``truth.json`` (same keys as the first family's, plus this family's).

    Parameters
    ----------
    hip : HipAnatomy
        The constructed hip.
    n_mu, n_phi : int
        Quadrature nodes in ``cos(theta)`` and in azimuth (the lesion volume is also computed at half of
        each, and the difference reported as ``numerical_error_ml``).

    Returns
    -------
    dict
        ``side``, ``head`` (mm, mL, unit vectors), ``lesion`` (None without one), ``staging``,
        ``acetabulum`` (edge in LPS mm, coverage %, angles in degrees) and ``numerical_error_ml``.
    """
    V = head_volume_mm3(hip)
    A = head_area_mm2(hip)
    rms, depth = _surface_stats(hip, n_mu, n_phi)
    err = 0.0
    lesion = None
    if hip.lesion is not None:
        fine = _lesion_volume_mm3(hip, n_mu, n_phi)
        err = abs(fine - _lesion_volume_mm3(hip, n_mu // 2, n_phi // 2))
        jic, frac = jic_type(hip)
        lesion = {"volume_ml": fine / 1000.0, "head_involvement_pct": 100.0 * fine / V,
                  "kerboul_angle_deg": kerboul_angle_deg(hip), "core": hip.lesion.core, "jic_type": jic,
                  "jic_lateral_fraction": frac, "band_mm": hip.lesion.band_mm,
                  "direction_lps": list(hip.lesion.direction)}
    stage, basis = arco_2019(depth, hip.lesion is not None)
    edge = hip.lateral_acetabular_edge()
    return {
        "side": hip.side,
        "head": {"center_lps_mm": [float(v) for v in hip.c], "radius_mm": float(hip.radius_mm),
                 "volume_ml": V / 1000.0, "sphericity": float(np.pi ** (1 / 3) * (6 * V) ** (2 / 3) / A),
                 "rms_deviation_mm": rms, "collapse_depth_mm": depth,
                 "collapse_direction_lps": None if hip.depression is None else list(hip.depression.direction),
                 "neck_axis_lps": list(hip.neck_axis), "fovea_direction_lps": list(hip.fovea.direction),
                 "fovea_width_mm": hip.fovea.width_mm, "fovea_depth_mm": hip.fovea.depth_mm,
                 "cam_bump_mm": hip.cam_bump_mm},
        "lesion": lesion,
        "staging": {"arco_2019": stage, "arco_basis": basis,
                    "steinberg_extent": steinberg_extent(None if lesion is None else lesion["head_involvement_pct"])},
        "acetabulum": {"lateral_edge_lps_mm": [float(v) for v in edge], "coverage_pct": hip.coverage_pct,
                       "inclination_deg": hip.inclination_deg, "joint_space_mm": hip.joint_space_mm,
                       "lateral_center_edge_deg": float(np.degrees(np.arctan2((edge - hip.c) @ hip.lateral,
                                                                               (edge - hip.c)[2])))},
        "numerical_error_ml": err / 1000.0,
    }


def outside_fov_fraction(grid: Volume, centre, radius_mm: float, n: int = 4000) -> float:
    """Share (0..1) of a sphere's surface outside the field of view of ``grid`` (Fibonacci points).

    Parameters
    ----------
    grid : Volume
        The image grid.
    centre : 3 floats
        Centre of the sphere, LPS mm.
    radius_mm : float
        Its radius, mm.
    n : int
        Points on the sphere.

    Returns
    -------
    float
    """
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5**0.5) * k
    u = np.column_stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z])
    ijk = grid.lps_to_index(np.asarray(centre, float) + radius_mm * u)
    return float(1 - np.all((ijk >= -0.5) & (ijk <= np.asarray(grid.size) - 0.5), axis=1).mean())


def truth_masks(anatomy: PelvisAnatomy | HipAnatomy, grid: Volume, step_mm: float = MASK_STEP_MM,
                chunk: int = 500_000) -> tuple[Volume, Volume]:
    """Fractions of every voxel of ``grid`` inside the femoral head(s) and the lesion(s).

    Each voxel (a box of its spacing) is sampled on a regular sub-grid with at most ``step_mm`` between
    samples along every edge.

    Parameters
    ----------
    anatomy : PelvisAnatomy or HipAnatomy
        The constructed anatomy.
    grid : Volume
        The image grid (LPS mm).
    step_mm : float
        Largest distance between sub-samples along a voxel edge, mm.
    chunk : int
        Sub-samples evaluated at once (bounds memory).

    Returns
    -------
    head_fraction, lesion_fraction : Volume
        float32 in [0, 1] on ``grid``.
    """
    hips = anatomy.hips if isinstance(anatomy, PelvisAnatomy) else (anatomy,)
    counts = [max(2, int(np.ceil(s / step_mm))) for s in grid.spacing]
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in counts]
    offsets = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    head = np.zeros(grid.shape, np.float32)
    lesion = np.zeros(grid.shape, np.float32)
    size = np.asarray(grid.size)
    for hip in hips:
        R = hip.radius_mm + 1.0
        corners = hip.c + R * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        idx = grid.lps_to_index(corners)
        lo = np.clip(np.floor(idx.min(axis=0)) - 1, 0, size - 1).astype(int)
        hi = np.clip(np.ceil(idx.max(axis=0)) + 1, 0, size - 1).astype(int)
        if np.any(idx.max(axis=0) < -1) or np.any(idx.min(axis=0) > size):
            continue
        ii, jj, kk = np.meshgrid(*(np.arange(lo[a], hi[a] + 1) for a in range(3)), indexing="ij")
        vox = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], axis=1)
        centres = grid.index_to_lps(vox)
        vox = vox[np.linalg.norm(centres - hip.c, axis=1) < R + float(np.linalg.norm(grid.spacing))]
        per = max(1, chunk // len(offsets))
        for start in range(0, len(vox), per):
            v = vox[start:start + per]
            pts = grid.index_to_lps((v[:, None, :] + offsets[None]).reshape(-1, 3))
            head[v[:, 2], v[:, 1], v[:, 0]] += hip.head_mask(pts).reshape(len(v), -1).mean(axis=1)
            if hip.lesion is not None:
                lesion[v[:, 2], v[:, 1], v[:, 0]] += hip.lesion_mask(pts).reshape(len(v), -1).mean(axis=1)
    return grid.with_array(np.clip(head, 0, 1)), grid.with_array(np.clip(lesion, 0, 1))


__all__ = [
    "ARC_STEP_DEG",
    "MASK_STEP_MM",
    "arco_2019",
    "head_area_mm2",
    "head_volume_mm3",
    "hip_truth",
    "jic_type",
    "kerboul_angle_deg",
    "outside_fov_fraction",
    "steinberg_extent",
    "truth_masks",
]

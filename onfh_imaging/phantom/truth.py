"""Exact truth of a hip model: head and lesion volumes, collapse, Kerboul angle, stages, masks.

The femoral head (femur inside the reference sphere) is star-shaped about the head centre, so its
volume is ``integral of extent(u)^3 / 3 over the sphere of directions``, and the lesion's volume the
same integral over each ray's lesion interval (rays meet a spheroid in one interval). The integrals
use Gauss-Legendre nodes in ``cos(theta)`` about the neck axis, split where the head boundary changes
formula (sphere, neck cylinder, junction plane, articular surface), and a periodic rule in azimuth.
:func:`hip_truth` repeats the integration at half resolution and reports the difference as
``numerical_error_ml``; it is below 1e-4 mL for the default models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from onfh_imaging.geometry import Volume
from onfh_imaging.phantom.axes import Side, default_dome_direction, lateral_lps
from onfh_imaging.phantom.model import Collapse, HipModel, PelvisModel
from onfh_imaging.phantom.mr import coronal_grid

#: depth below the articular surface (mm) at which the Kerboul arc probes the lesion
_SURFACE_PROBE_MM = 1e-6


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(axis, e1)


@dataclass(frozen=True)
class _Rays:
    u: np.ndarray        # (N, 3) unit directions
    weight: np.ndarray   # (N,) solid-angle weights (steradian), summing to 4 pi
    region: np.ndarray   # (N,) 0 neck end cap of the sphere, 1 neck cylinder, 2 junction plane, 3 articular


def _rays(hip: HipModel, n_mu: int, n_phi: int) -> _Rays:
    """Quadrature directions over the sphere, split at the kinks of the head boundary."""
    R, rn, h = hip.head_radius_mm, hip.neck_radius_mm, hip.head_neck_cut_mm
    theta_cap = np.arcsin(rn / R)
    theta_cross = np.arctan2(rn, h)
    theta_margin = np.arccos(h / R)
    edges = np.cos([0.0, theta_cap, theta_cross, theta_margin, np.pi])  # decreasing mu
    counts = [max(n_mu // 4, 16)] * 3 + [n_mu]
    x, w = [], []
    region = []
    for idx in range(4):
        hi, lo = edges[idx], edges[idx + 1]
        gx, gw = np.polynomial.legendre.leggauss(counts[idx])
        x.append(0.5 * (hi - lo) * gx + 0.5 * (hi + lo))
        w.append(0.5 * (hi - lo) * gw)
        region.append(np.full(counts[idx], idx))
    mu, wmu, reg = np.concatenate(x), np.concatenate(w), np.concatenate(region)
    phi = (np.arange(n_phi) + 0.5) * (2 * np.pi / n_phi)
    n = hip.neck_axis
    e1, e2 = _frame(n)
    s = np.sqrt(1 - mu**2)
    u = (mu[:, None, None] * n + s[:, None, None] * (np.cos(phi)[None, :, None] * e1
                                                     + np.sin(phi)[None, :, None] * e2))
    weight = (wmu[:, None] * np.full(n_phi, 2 * np.pi / n_phi)[None, :])
    return _Rays(u.reshape(-1, 3), weight.reshape(-1), np.repeat(reg, n_phi))


def _integrals(hip: HipModel, n_mu: int, n_phi: int) -> dict[str, float]:
    rays = _rays(hip, n_mu, n_phi)
    u, w, reg = rays.u, rays.weight, rays.region
    extent = hip.head_radial_extent(u)
    R = hip.head_radius_mm
    out = {"head_mm3": float(np.sum(w * extent**3) / 3.0)}

    # surface area: dA = extent^2 dOmega / cos(gamma), gamma between the ray and the surface normal
    cos_gamma = np.ones_like(extent)
    mu = u @ hip.neck_axis
    cos_gamma[reg == 1] = np.sqrt(np.maximum(1 - mu[reg == 1] ** 2, 0))
    cos_gamma[reg == 2] = mu[reg == 2]
    art = reg == 3
    if hip.collapse is not None and hip.collapse.depth_mm > 0:
        psi = np.arccos(np.clip(u[art] @ np.asarray(hip.collapse.direction_lps), -1, 1))
        slope = -hip.collapse.depth_mm * hip.collapse.profile_slope(psi)
        r = extent[art]
        cos_gamma[art] = r / np.sqrt(r**2 + slope**2)
    area_w = w * extent**2 / cos_gamma
    out["area_mm2"] = float(np.sum(area_w))
    dev = R - extent[art]
    out["rms_deviation_mm"] = float(np.sqrt(np.sum(area_w[art] * dev**2) / np.sum(area_w[art])))

    if hip.lesion is not None:
        t0, t1 = hip.lesion.interval_along_rays(u)
        a = np.maximum(np.nan_to_num(t0, nan=0.0), 0.0)
        b = np.minimum(np.nan_to_num(t1, nan=0.0), extent)
        out["lesion_mm3"] = float(np.sum(w * np.where(b > a, b**3 - a**3, 0.0)) / 3.0)
    return out


def _lesion_arc_deg(hip: HipModel, normal: np.ndarray, step_deg: float = 0.005) -> float:
    """Arc (degrees) of the articular surface covered by the lesion in the plane through the head
    centre with LPS ``normal``."""
    e1, e2 = _frame(normal / np.linalg.norm(normal))
    phi = np.radians(np.arange(0.0, 360.0, step_deg))
    u = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    extent = hip.head_radial_extent(u)
    articular = np.isclose(extent, hip.surface_radius(u))
    t = extent - _SURFACE_PROBE_MM
    t0, t1 = hip.lesion.interval_along_rays(u)
    inside = articular & (t >= np.nan_to_num(t0, nan=np.inf)) & (t <= np.nan_to_num(t1, nan=-np.inf))
    return float(np.count_nonzero(inside) * step_deg)


def kerboul_angle_deg(hip: HipModel) -> float:
    """Modified Kerboul combined necrotic angle of the model's lesion.

    The lesion's arc on the articular surface in the mid-coronal plus the mid-sagittal plane through
    the head centre.

    Parameters
    ----------
    hip : HipModel
        The modelled hip.

    Returns
    -------
    float
        Degrees; 0 without a lesion.
    """
    if hip.lesion is None:
        return 0.0
    return _lesion_arc_deg(hip, np.array([0.0, 1.0, 0.0])) + _lesion_arc_deg(hip, np.array([1.0, 0.0, 0.0]))


def arco_2019(collapse_depth_mm: float, has_lesion: bool) -> tuple[str, str]:
    """Suggested ARCO 2019 stage and its basis from the collapse depth and lesion presence.

    Parameters
    ----------
    collapse_depth_mm : float
        True collapse depth, mm (0: intact).
    has_lesion : bool
        Whether the hip has a necrotic lesion.

    Returns
    -------
    stage : str
        ``"IIIB"`` (> 2 mm), ``"IIIA"`` (> 0 mm), ``"I/II"`` (lesion without collapse) or ``"none"``.
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


def steinberg_extent(head_involvement_pct: float | None) -> str | None:
    """Steinberg extent letter: A < 15 %, B 15-30 %, C > 30 % of the head involved.

    Parameters
    ----------
    head_involvement_pct : float or None
        Percentage of the head's volume in the lesion; None without a lesion.

    Returns
    -------
    str or None
    """
    if head_involvement_pct is None:
        return None
    if head_involvement_pct < 15.0:
        return "A"
    return "B" if head_involvement_pct <= 30.0 else "C"


@dataclass(frozen=True)
class HipTruth:
    """Exact measures of one modelled hip (see the measures of the design notes).

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    center_lps_mm : (float, float, float)
        Centre of the reference sphere, LPS mm.
    radius_mm : float
        Radius of the reference sphere, mm.
    neck_axis_lps : (float, float, float)
        Unit vector from the head centre toward the neck.
    volume_ml : float
        Volume of the femoral head, mL.
    sphericity : float
        pi^(1/3) (6V)^(2/3) / A of the femoral head (1 for a sphere).
    rms_deviation_mm : float
        RMS radial distance of the articular surface from the reference sphere, mm.
    collapse_depth_mm : float
        Depth of the collapsed segment, mm (0: intact).
    collapse_direction_lps : (float, float, float) or None
        Unit vector to the centre of the depression; None without collapse.
    lesion_volume_ml, head_involvement_pct, kerboul_angle_deg : float or None
        Lesion volume (mL), percentage of the head involved, modified Kerboul angle (degrees); None
        without a lesion.
    lesion_core : str or None
        ``"fatty"`` or ``"fluid"``.
    arco_2019, arco_basis : str
        True stage (see :func:`arco_2019`) and its basis.
    steinberg_extent : str or None
        ``"A"``, ``"B"`` or ``"C"``.
    numerical_error_ml : float
        Difference between the quadrature at full and half resolution, mL: the truth's own accuracy.
    jic_type : str or None
        JIC type of the lesion (:func:`jic_truth`).
    lateral_edge_lps_mm : (float, float, float) or None
        Lateral edge of the acetabulum on the mid-coronal plane, LPS mm.
    """

    side: str
    center_lps_mm: tuple[float, float, float]
    radius_mm: float
    neck_axis_lps: tuple[float, float, float]
    volume_ml: float
    sphericity: float
    rms_deviation_mm: float
    collapse_depth_mm: float
    collapse_direction_lps: tuple[float, float, float] | None
    lesion_volume_ml: float | None
    head_involvement_pct: float | None
    kerboul_angle_deg: float | None
    lesion_core: str | None
    arco_2019: str
    arco_basis: str
    steinberg_extent: str | None
    numerical_error_ml: float
    jic_type: str | None = None
    lateral_edge_lps_mm: tuple[float, float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The hip's entry of ``truth.json``."""
        lesion = None
        if self.lesion_volume_ml is not None:
            lesion = {"volume_ml": self.lesion_volume_ml, "head_involvement_pct": self.head_involvement_pct,
                      "kerboul_angle_deg": self.kerboul_angle_deg, "core": self.lesion_core,
                      "jic_type": self.jic_type}
        return {
            "side": self.side,
            "head": {"center_lps_mm": list(self.center_lps_mm), "radius_mm": self.radius_mm,
                     "volume_ml": self.volume_ml, "sphericity": self.sphericity,
                     "rms_deviation_mm": self.rms_deviation_mm, "collapse_depth_mm": self.collapse_depth_mm,
                     "collapse_direction_lps": None if self.collapse_direction_lps is None
                     else list(self.collapse_direction_lps),
                     "neck_axis_lps": list(self.neck_axis_lps)},
            "lesion": lesion,
            "staging": {"arco_2019": self.arco_2019, "arco_basis": self.arco_basis,
                        "steinberg_extent": self.steinberg_extent},
            "acetabulum": {"lateral_edge_lps_mm": None if self.lateral_edge_lps_mm is None
                           else list(self.lateral_edge_lps_mm)},
            "numerical_error_ml": self.numerical_error_ml,
        }

    def as_dict(self) -> dict[str, Any]:
        """Every field as a plain dictionary."""
        return asdict(self)


#: Depth (mm) inside the socket's bone surface at which the acetabulum's coverage is probed.
_COVERAGE_PROBE_MM = 1.0
#: Sampling step (mm) of the mid-coronal plane for the lesion's lateral boundary.
_PLANE_STEP_MM = 0.1


def _coronal_direction(hip: HipModel, angle_rad: float) -> np.ndarray:
    return np.cos(angle_rad) * np.array([0.0, 0.0, 1.0]) + np.sin(angle_rad) * lateral_lps(hip.side)


def lateral_acetabular_edge(hip: HipModel) -> np.ndarray:
    """The lateral edge of the acetabular bone (cup and iliac pillar) on the coronal plane through the head centre.

    The end of the bone's run from the superior pole along the socket's bone surface, located by
    bisection on the model's signed distance.

    Parameters
    ----------
    hip : HipModel
        The modelled hip.

    Returns
    -------
    ndarray, shape (3,)
        The edge on the socket's bone surface, LPS mm.

    Raises
    ------
    ValueError
        The modelled acetabulum does not cover the superior pole, or has no lateral edge.
    """
    probe = hip.socket_radius_mm + _COVERAGE_PROBE_MM

    def covered(angle: float) -> bool:
        point = hip.center + probe * _coronal_direction(hip, angle)
        return bool(hip.acetabulum_sdf(point[None, :])[0] <= 0)

    if not covered(0.0):
        raise ValueError("the modelled acetabulum does not cover the head's superior pole")
    step = np.radians(0.5)
    angle = 0.0
    while covered(angle + step):
        angle += step
        if angle > np.pi:
            raise ValueError("the modelled acetabulum has no lateral edge on the coronal plane")
    lo, hi = angle, angle + step
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if covered(mid) else (lo, mid)
    return hip.center + hip.socket_radius_mm * _coronal_direction(hip, 0.5 * (lo + hi))


def jic_truth(hip: HipModel) -> str | None:
    """True JIC type of the model's lesion.

    The lesion's lateral boundary is its most lateral point above the head centre on the coronal plane
    through it; the weight-bearing portion runs from the vertical through the centre to the lateral
    acetabular edge (:func:`lateral_acetabular_edge`), in thirds: A within the medial third, B the medial
    two thirds, C1 up to the edge, C2 beyond it (written here independently of the measuring code).

    Parameters
    ----------
    hip : HipModel
        The modelled hip.

    Returns
    -------
    str or None
        ``"A"``, ``"B"``, ``"C1"`` or ``"C2"``; None without a lesion, or when it has no point above the
        head centre on that plane.
    """
    if hip.lesion is None:
        return None
    R = hip.head_radius_mm
    t = np.arange(-R, R + 1e-9, _PLANE_STEP_MM)
    lat, sup = np.meshgrid(t, t[t > 0])
    points = hip.center + lat[..., None] * lateral_lps(hip.side) + sup[..., None] * np.array([0.0, 0.0, 1.0])
    points = points.reshape(-1, 3)
    inside = hip.lesion_mask(points) & hip.head_mask(points)
    if not inside.any():
        return None
    boundary = float(lat.reshape(-1)[inside].max())
    edge = float((lateral_acetabular_edge(hip) - hip.center) @ lateral_lps(hip.side))
    share = boundary / edge
    return "A" if share <= 1 / 3 else "B" if share <= 2 / 3 else "C1" if share <= 1 else "C2"


def hip_truth(hip: HipModel, n_mu: int = 600, n_phi: int = 1440) -> HipTruth:
    """Exact truth of one hip by spherical quadrature (see the module notes for the accuracy).

    Parameters
    ----------
    hip : HipModel
        The modelled hip.
    n_mu, n_phi : int
        Quadrature nodes in ``cos(theta)`` over the articular surface and in azimuth.

    Returns
    -------
    HipTruth
        Volumes, surface measures, stage and JIC type of the hip.
    """
    fine = _integrals(hip, n_mu, n_phi)
    coarse = _integrals(hip, n_mu // 2, n_phi // 2)
    err = abs(fine["head_mm3"] - coarse["head_mm3"])
    if "lesion_mm3" in fine:
        err = max(err, abs(fine["lesion_mm3"] - coarse["lesion_mm3"]))
    V, A = fine["head_mm3"], fine["area_mm2"]
    depth = hip.collapse.depth_mm if hip.collapse is not None else 0.0
    direction = None
    if depth > 0:
        direction = tuple(float(v) for v in hip.collapse.direction_lps)
    lesion_ml = involvement = kerboul = core = None
    if hip.lesion is not None:
        lesion_ml = fine["lesion_mm3"] / 1000.0
        involvement = 100.0 * fine["lesion_mm3"] / V
        kerboul = kerboul_angle_deg(hip)
        core = hip.lesion.core
    stage, basis = arco_2019(depth, hip.lesion is not None)
    return HipTruth(
        side=hip.side, center_lps_mm=hip.head_center_lps, radius_mm=float(hip.head_radius_mm),
        neck_axis_lps=hip.neck_axis_lps, volume_ml=V / 1000.0,
        sphericity=float(np.pi ** (1 / 3) * (6 * V) ** (2 / 3) / A),
        rms_deviation_mm=fine["rms_deviation_mm"], collapse_depth_mm=float(depth),
        collapse_direction_lps=direction, lesion_volume_ml=lesion_ml, head_involvement_pct=involvement,
        kerboul_angle_deg=kerboul, lesion_core=core, arco_2019=stage, arco_basis=basis,
        steinberg_extent=steinberg_extent(involvement), numerical_error_ml=err / 1000.0,
        jic_type=jic_truth(hip),
        lateral_edge_lps_mm=tuple(float(v) for v in lateral_acetabular_edge(hip)),
    )


def _subvoxel_offsets(counts: tuple[int, int, int]) -> np.ndarray:
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in counts]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)  # (i, j, k) index units


def _samples_per_axis(spacing: tuple[float, float, float], supersample: int | tuple[int, int, int],
                      max_step_mm: float | None) -> tuple[int, int, int]:
    """At least ``supersample`` samples along each voxel edge, and enough that no two are more than
    ``max_step_mm`` apart: a 4 mm slice sampled 3 times misplaces a surface parallel to it by ~0.7 mm."""
    base = tuple(int(n) for n in np.broadcast_to(np.asarray(supersample, dtype=int), (3,)))
    if max_step_mm is None:
        return base  # type: ignore[return-value]
    return tuple(max(n, int(np.ceil(d / max_step_mm)))  # type: ignore[return-value]
                 for n, d in zip(base, spacing))


def truth_masks(model: HipModel | PelvisModel, grid: Volume, supersample: int | tuple[int, int, int] = 3,
                chunk: int = 400_000, max_step_mm: float | None = 0.5) -> tuple[Volume, Volume]:
    """Partial-volume fractions of the femoral head(s) and lesion(s) on an image grid.

    Parameters
    ----------
    model : HipModel or PelvisModel
        The phantom; for a pelvis every hip contributes.
    grid : Volume
        Any image grid (its pixels are ignored; its geometry is used).
    supersample : int or 3 ints
        Minimum sub-samples per voxel edge, one count for every edge or one per grid axis ``i, j, k``.
    max_step_mm : float or None
        Largest distance between sub-samples along an edge (mm); thick slices get more samples through
        the slice. None samples every edge ``supersample`` times.

    Returns
    -------
    head_fraction, lesion_fraction : Volume
        float32 fractions in [0, 1] on ``grid``.
    """
    if np.any(np.asarray(supersample) < 1) or np.size(supersample) not in (1, 3):
        raise ValueError("supersample must be one count >= 1 or three, one per grid axis")
    hips = model.hips if isinstance(model, PelvisModel) else (model,)
    head = np.zeros(grid.shape, dtype=np.float32)
    lesion = np.zeros(grid.shape, dtype=np.float32)
    offsets = _subvoxel_offsets(_samples_per_axis(grid.spacing, supersample, max_step_mm))
    size = np.array(grid.size)
    for hip in hips:
        c, R = hip.center, hip.head_radius_mm + 1.0
        corners = np.array([[c[0] + sx * R, c[1] + sy * R, c[2] + sz * R]
                            for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        idx = grid.lps_to_index(corners)
        lo = np.clip(np.floor(idx.min(axis=0)) - 1, 0, size - 1).astype(int)
        hi = np.clip(np.ceil(idx.max(axis=0)) + 1, 0, size - 1).astype(int)
        if np.any(idx.max(axis=0) < -1) or np.any(idx.min(axis=0) > size):
            continue
        ii, jj, kk = np.meshgrid(*(np.arange(lo[a], hi[a] + 1) for a in range(3)), indexing="ij")
        vox = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], axis=1)
        per_chunk = max(1, chunk // len(offsets))
        for start in range(0, len(vox), per_chunk):
            v = vox[start:start + per_chunk]
            pts = grid.index_to_lps((v[:, None, :] + offsets[None, :, :]).reshape(-1, 3))
            h = hip.head_mask(pts).reshape(len(v), -1).mean(axis=1)
            les = hip.lesion_mask(pts).reshape(len(v), -1).mean(axis=1) if hip.lesion is not None else 0.0
            head[v[:, 2], v[:, 1], v[:, 0]] += h
            lesion[v[:, 2], v[:, 1], v[:, 0]] += les
    return grid.with_array(np.clip(head, 0, 1)), grid.with_array(np.clip(lesion, 0, 1))


#: field of view beyond the head on every side (mm), so the whole head surface lies inside the grid
_HEAD_FOV_MARGIN_MM = 4.0
#: grid centre offset from the head centre (mm): keeps the head off any symmetry of the voxel lattice
_HEAD_GRID_OFFSET_LPS_MM = (0.3, -0.2, 0.1)


def voxelised_femoral_head(collapse_depth_mm: float = 0.0, *, in_plane_mm: float, slice_mm: float,
                           oblique_deg: tuple[float, float] = (0.0, 0.0), side: Side = "right",
                           head_radius_mm: float = 24.0, in_plane_samples: int = 3,
                           through_slice_step_mm: float = 0.25) -> tuple[HipModel, Volume]:
    """One phantom femoral head as partial-volume fractions on a coronal (optionally oblique) grid.

    The hip is the standard phantom hip of ``side`` (no lesion), intact or with a collapse of
    ``collapse_depth_mm`` in the antero-superior dome
    (:func:`~onfh_imaging.phantom.axes.default_dome_direction`).
    The grid (:func:`~onfh_imaging.phantom.mr.coronal_grid`) covers the head with a 4 mm margin, its
    centre set (0.3, -0.2, 0.1) mm off the head centre. Sub-samples lie at most
    ``through_slice_step_mm`` apart through the slice: coarser sampling quantises a surface parallel
    to the slices (3 samples across a 5 mm slice misplace it by up to 0.8 mm), an error of the
    fractions rather than of whatever measures them.

    Parameters
    ----------
    collapse_depth_mm : float
        Depth of the dome collapse, mm; 0 for an intact head.
    in_plane_mm : float
        Pixel size in the slice plane, mm.
    slice_mm : float
        Slice thickness (and pitch, no gap), mm.
    oblique_deg : (float, float)
        Rotation of the coronal grid about the head, degrees (see ``coronal_grid``).
    side : {"right", "left"}
        The patient's hip.
    head_radius_mm : float
        Radius of the reference sphere, mm.
    in_plane_samples : int
        Sub-samples per voxel along each in-plane edge.
    through_slice_step_mm : float
        Largest distance between sub-samples through the slice, mm.

    Returns
    -------
    hip : HipModel
        The phantom hip: its ``center``, ``head_radius_mm``, ``neck_axis`` and ``collapse`` are the truth.
    head_fraction : Volume
        float32 fraction of each voxel inside the femoral head (femur inside the reference sphere).
    """
    dome = default_dome_direction(side)
    extra = {"collapse": Collapse(collapse_depth_mm, dome)} if collapse_depth_mm else {}
    hip = PelvisModel.standard(side, head_radius_mm=head_radius_mm, **{side: extra}).hip(side)
    fov_mm = 2 * head_radius_mm + 2 * _HEAD_FOV_MARGIN_MM
    n = int(np.ceil(fov_mm / in_plane_mm))
    grid = coronal_grid(hip.center + np.asarray(_HEAD_GRID_OFFSET_LPS_MM), in_plane_mm=in_plane_mm,
                        slice_mm=slice_mm, matrix=(n, n), n_slices=int(np.ceil(fov_mm / slice_mm)),
                        oblique_deg=oblique_deg)
    through = int(np.ceil(slice_mm / through_slice_step_mm))
    head, _ = truth_masks(hip, grid, supersample=(in_plane_samples, in_plane_samples, through),
                          max_step_mm=None)
    return hip, head


__all__ = ["HipTruth", "arco_2019", "hip_truth", "jic_truth", "kerboul_angle_deg", "lateral_acetabular_edge",
           "steinberg_extent", "truth_masks",
           "voxelised_femoral_head"]

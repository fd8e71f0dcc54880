"""An analytic 3-D hip model in patient LPS millimetres.

The femur is a constructive solid: the femoral head (a sphere, optionally with a collapsed segment,
cut by the head-neck junction plane), the neck and shaft (capsules) and the greater trochanter (a
sphere). The acetabulum is a hemispherical shell of bone around the head, open inferolaterally,
fused with a supra-acetabular iliac pillar. All functions are vectorised over ``(N, 3)`` LPS points.

Signed distances are exact for spheres, capsules and planes and close approximations elsewhere
(radial distance for the collapsed head surface, Quilez's gradient estimate for ellipsoids).
Memberships are exact predicates of the geometry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from onfh_imaging.phantom.axes import (Side, default_acetabular_axis, default_dome_direction, default_neck_axis,
                                       default_shaft_axis, lateral_lps)
from onfh_imaging.phantom.shapes import (Vec3, _angle, _capsule_sdf, _directions, _ellipse_sdf, _norm, _tuple, _unit,
                                         ellipsoid_sdf, spheroid_sdf)
LesionCore = Literal["fatty", "fluid"]


@dataclass(frozen=True)
class Collapse:
    """A depressed segment of the articular surface.

    The surface radius along a unit direction ``u`` from the head centre is
    ``R - depth_mm * profile(angle(u, direction_lps) / angular_radius)``, where ``profile`` is 1 on
    the flat bottom (``t <= flat_fraction``) and falls smoothly (raised cosine) to 0 at ``t = 1``.

    Parameters
    ----------
    depth_mm : float
        Depth of the depression at its centre, mm (the collapse depth).
    direction_lps : 3 floats
        Unit vector from the head centre to the centre of the depression.
    angular_radius_deg : float
        Angular radius of the depressed segment, degrees.
    flat_fraction : float
        Fraction of the angular radius over which the depression is flat-bottomed.
    """

    depth_mm: float
    direction_lps: Vec3
    angular_radius_deg: float = 25.0
    flat_fraction: float = 0.4

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction_lps", _tuple(_unit(self.direction_lps, "collapse direction")))
        if not (self.depth_mm >= 0 and np.isfinite(self.depth_mm)):
            raise ValueError(f"collapse depth must be >= 0 mm, got {self.depth_mm}")
        if not 0 < self.angular_radius_deg < 90:
            raise ValueError(f"collapse angular radius must be in (0, 90) degrees, "
                             f"got {self.angular_radius_deg}")
        if not 0 <= self.flat_fraction < 1:
            raise ValueError(f"flat_fraction must be in [0, 1), got {self.flat_fraction}")

    def profile(self, psi: np.ndarray) -> np.ndarray:
        """Depression profile (0..1) at angle ``psi`` (radians) from the collapse direction."""
        t = np.asarray(psi, dtype=float) / np.radians(self.angular_radius_deg)
        f = self.flat_fraction
        taper = 0.5 * (1.0 + np.cos(np.pi * np.clip((t - f) / (1.0 - f), 0.0, 1.0)))
        return np.where(t <= f, 1.0, np.where(t >= 1.0, 0.0, taper))

    def profile_slope(self, psi: np.ndarray) -> np.ndarray:
        """d profile / d psi (per radian)."""
        alpha = np.radians(self.angular_radius_deg)
        t = np.asarray(psi, dtype=float) / alpha
        f = self.flat_fraction
        s = np.clip((t - f) / (1.0 - f), 0.0, 1.0)
        return np.where((t > f) & (t < 1.0), -0.5 * np.pi * np.sin(np.pi * s) / ((1.0 - f) * alpha), 0.0)


@dataclass(frozen=True)
class Lesion:
    """The necrotic segment: the femoral head inside a spheroid under the dome.

    The segment includes its demarcating band, the outer ``band_mm`` of the spheroid inside bone.

    Parameters
    ----------
    direction_lps : 3 floats
        Unit vector from the head centre to the spheroid centre (its axis of revolution).
    center_offset_mm : float
        Distance from the head centre to the spheroid centre, mm.
    radial_semi_axis_mm, transverse_semi_axis_mm : float
        Semi-axes along and across ``direction_lps``, mm.
    band_mm : float
        Thickness of the low-signal demarcating band, mm.
    core : {"fatty", "fluid"}
        Signal of the necrotic core: marrow-like fat, or fluid (low T1, high STIR).
    """

    direction_lps: Vec3
    center_offset_mm: float
    radial_semi_axis_mm: float
    transverse_semi_axis_mm: float
    band_mm: float = 2.5
    core: LesionCore = "fatty"

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction_lps", _tuple(_unit(self.direction_lps, "lesion direction")))
        if min(self.radial_semi_axis_mm, self.transverse_semi_axis_mm) <= 0:
            raise ValueError("lesion semi-axes must be positive")
        if self.band_mm < 0:
            raise ValueError("lesion band thickness must be >= 0 mm")
        if self.core not in ("fatty", "fluid"):
            raise ValueError(f"lesion core must be 'fatty' or 'fluid', got {self.core!r}")

    @classmethod
    def preset(cls, size: Literal["small", "large"], head_radius_mm: float, direction_lps,
               core: LesionCore = "fatty") -> "Lesion":
        """A typical small (about 10 % of the head, Steinberg A) or large (about 40 %, C) lesion."""
        r = float(head_radius_mm)
        if size == "small":
            return cls(direction_lps, 0.9 * r, 0.5 * r, 0.65 * r, band_mm=2.0, core=core)
        if size == "large":
            return cls(direction_lps, 0.6 * r, 0.7 * r, 0.9 * r, band_mm=2.5, core=core)
        raise ValueError(f"lesion size must be 'small' or 'large', got {size!r}")

    def interval_along_rays(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry and exit distances (mm) of rays ``t u`` from the head centre through the spheroid.

        Rays that miss the spheroid get ``(nan, nan)``.
        """
        d = np.asarray(self.direction_lps)
        o = self.center_offset_mm
        A2, B2 = self.radial_semi_axis_mm**2, self.transverse_semi_axis_mm**2
        c = u @ d  # q(t) = t u - o d; axial = t c - o; transverse^2 = t^2 (1 - c^2)
        qa = c * c / A2 + (1.0 - c * c) / B2
        qb = -2.0 * o * c / A2
        qc = o * o / A2 - 1.0
        disc = qb * qb - 4.0 * qa * qc
        root = np.sqrt(np.where(disc >= 0, disc, np.nan))
        return (-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa)


@dataclass(frozen=True)
class HipModel:
    """One hip: proximal femur, articular cartilage, joint and acetabulum, in LPS mm.

    Defaults (``None``) follow the adult anatomy scaled by the head radius ``R``: neck radius
    0.65 R, neck length 2 R, head-neck junction plane at 0.45 R from the centre along the neck axis,
    shaft radius 0.6 R, trochanter radius 0.7 R. Vectors default from ``side`` (neck-shaft angle 130
    degrees, anteversion 15 degrees; acetabular inclination 55 degrees, anteversion 20 degrees).

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip. The right hip lies at negative x (LPS) and its neck points further to -x.
    head_center_lps : 3 floats
        Centre of the intact head sphere (the reference sphere), mm.
    head_radius_mm : float
        Radius of the reference sphere, mm.
    neck_axis_lps : 3 floats
        Unit vector from the head centre toward the neck (lateral, inferior, slightly posterior).
    neck_radius_mm, neck_length_mm : float
        Neck capsule radius, and its length from the head centre to the neck base, mm.
    head_neck_cut_mm : float
        Distance along the neck axis of the plane where the articular head ends (head-neck junction).
    shaft_axis_lps : 3 floats
        Unit vector down the shaft from the neck base.
    shaft_radius_mm, shaft_length_mm : float
        Shaft capsule radius and length, mm.
    trochanter_radius_mm : float
        Greater trochanter sphere radius, mm; 0 for none.
    cortex_mm, subchondral_mm, shaft_cortex_mm : float
        Cortical thickness of the neck and trochanter, of the head (subchondral plate), of the shaft.
    cartilage_mm, acetabular_cartilage_mm, joint_space_mm : float
        Femoral and acetabular cartilage thickness and the fluid film between them, mm.
    acetabular_axis_lps : 3 floats
        Unit vector from the head centre to the pole of the acetabular cup.
    acetabular_coverage_deg : float
        Angle from the pole to the rim of the cup, degrees (90 = hemisphere).
    acetabular_thickness_mm, acetabular_cortex_mm : float
        Thickness of the acetabular bone shell and of its cortical layers, mm.
    ilium : bool
        Add the supra-acetabular iliac pillar above the cup.
    collapse : Collapse or None
        Depressed articular segment.
    lesion : Lesion or None
        Necrotic segment.
    """

    side: Side
    head_center_lps: Vec3
    head_radius_mm: float = 24.0
    neck_axis_lps: Vec3 | None = None
    neck_radius_mm: float | None = None
    neck_length_mm: float | None = None
    head_neck_cut_mm: float | None = None
    shaft_axis_lps: Vec3 | None = None
    shaft_radius_mm: float | None = None
    shaft_length_mm: float = 220.0
    trochanter_radius_mm: float | None = None
    cortex_mm: float = 1.8
    subchondral_mm: float = 1.5
    shaft_cortex_mm: float = 4.0
    cartilage_mm: float = 2.0
    acetabular_cartilage_mm: float = 1.5
    joint_space_mm: float = 0.6
    acetabular_axis_lps: Vec3 | None = None
    acetabular_coverage_deg: float = 90.0
    acetabular_thickness_mm: float = 9.0
    acetabular_cortex_mm: float = 1.5
    ilium: bool = True
    collapse: Collapse | None = None
    lesion: Lesion | None = None

    def __post_init__(self) -> None:
        lateral_lps(self.side)
        R = float(self.head_radius_mm)
        if not 5.0 <= R <= 60.0:
            raise ValueError(f"head radius must be within 5-60 mm, got {R}")
        s = object.__setattr__
        s(self, "head_center_lps", _tuple(self.head_center_lps))
        s(self, "neck_axis_lps", _tuple(_unit(self.neck_axis_lps if self.neck_axis_lps is not None
                                              else default_neck_axis(self.side), "neck axis")))
        s(self, "shaft_axis_lps", _tuple(_unit(self.shaft_axis_lps if self.shaft_axis_lps is not None
                                               else default_shaft_axis(self.side), "shaft axis")))
        s(self, "acetabular_axis_lps", _tuple(_unit(
            self.acetabular_axis_lps if self.acetabular_axis_lps is not None
            else default_acetabular_axis(self.side), "acetabular axis")))
        for name, factor in (("neck_radius_mm", 0.65), ("neck_length_mm", 2.0), ("head_neck_cut_mm", 0.45),
                             ("shaft_radius_mm", 0.6), ("trochanter_radius_mm", 0.7)):
            if getattr(self, name) is None:
                s(self, name, factor * R)
        if not 0 < self.neck_radius_mm < R:
            raise ValueError("neck radius must be positive and smaller than the head radius")
        if not 0 <= self.head_neck_cut_mm < np.sqrt(R**2 - self.neck_radius_mm**2):
            raise ValueError("head-neck junction plane must cut the head outside the neck cylinder")
        if self.neck_length_mm <= R:
            raise ValueError("neck length must exceed the head radius")
        if self.collapse is not None:
            if self.collapse.depth_mm >= 0.5 * R:
                raise ValueError(f"collapse depth {self.collapse.depth_mm} mm is too deep for a {R} mm head")
            psi = np.degrees(_angle(np.asarray(self.collapse.direction_lps)[None], self.neck_axis))[0]
            if psi - self.collapse.angular_radius_deg < self.articular_margin_deg:
                raise ValueError("the collapsed segment must lie on the articular surface, "
                                 "away from the neck")
        for name in ("cortex_mm", "subchondral_mm", "shaft_cortex_mm", "cartilage_mm",
                     "acetabular_cartilage_mm", "acetabular_thickness_mm", "acetabular_cortex_mm"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    # --- derived geometry ---------------------------------------------------------------------
    @property
    def center(self) -> np.ndarray:
        return np.asarray(self.head_center_lps)

    @property
    def neck_axis(self) -> np.ndarray:
        return np.asarray(self.neck_axis_lps)

    @property
    def articular_margin_deg(self) -> float:
        """Angle from the neck axis at which the articular surface meets the junction plane, degrees."""
        return float(np.degrees(np.arccos(self.head_neck_cut_mm / self.head_radius_mm)))

    @property
    def neck_base(self) -> np.ndarray:
        return self.center + self.neck_length_mm * self.neck_axis

    @property
    def trochanter_center(self) -> np.ndarray:
        R = self.head_radius_mm
        return self.neck_base + 0.55 * R * lateral_lps(self.side) + np.array([0.0, 0.0, 0.35 * R])

    @property
    def socket_radius_mm(self) -> float:
        """Radius of the acetabular bone surface (subchondral plate of the cup), mm."""
        return self.head_radius_mm + self.cartilage_mm + self.joint_space_mm + self.acetabular_cartilage_mm

    @property
    def ilium_center(self) -> np.ndarray:
        R = self.head_radius_mm
        return self.center + np.array([0.0, 0.0, 2.2 * R]) - 0.3 * R * lateral_lps(self.side)

    @property
    def ilium_semi_axes(self) -> np.ndarray:
        R = self.head_radius_mm
        return np.array([0.75 * R, 1.5 * R, 1.65 * R])

    def bounding_box(self, margin_mm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """LPS axis-aligned box (lo, hi) holding every structure of the hip, mm."""
        c = self.center
        outer = self.socket_radius_mm + self.acetabular_thickness_mm
        pts = [c - outer, c + outer]
        if self.ilium:
            pts += [self.ilium_center - self.ilium_semi_axes, self.ilium_center + self.ilium_semi_axes]
        base, tip = self.neck_base, self.neck_base + self.shaft_length_mm * np.asarray(self.shaft_axis_lps)
        rs = max(self.shaft_radius_mm, self.neck_radius_mm)
        pts += [base - rs, base + rs, tip - rs, tip + rs]
        if self.trochanter_radius_mm > 0:
            pts += [self.trochanter_center - self.trochanter_radius_mm,
                    self.trochanter_center + self.trochanter_radius_mm]
        arr = np.array(pts)
        return arr.min(axis=0) - margin_mm, arr.max(axis=0) + margin_mm

    def mirrored(self) -> "HipModel":
        """The same hip reflected through the mid-sagittal plane x = 0 (the other side)."""
        flip = np.array([-1.0, 1.0, 1.0])

        def m(v):
            return None if v is None else _tuple(np.asarray(v) * flip)

        return replace(
            self, side="left" if self.side == "right" else "right",
            head_center_lps=m(self.head_center_lps), neck_axis_lps=m(self.neck_axis_lps),
            shaft_axis_lps=m(self.shaft_axis_lps), acetabular_axis_lps=m(self.acetabular_axis_lps),
            collapse=None if self.collapse is None else replace(self.collapse,
                                                                direction_lps=m(self.collapse.direction_lps)),
            lesion=None if self.lesion is None else replace(self.lesion,
                                                            direction_lps=m(self.lesion.direction_lps)),
        )

    # --- the head surface ---------------------------------------------------------------------
    def surface_radius(self, u: np.ndarray) -> np.ndarray:
        """Radius (mm) of the articular surface along unit directions ``u`` (N,3) from the head centre."""
        R = self.head_radius_mm
        if self.collapse is None or self.collapse.depth_mm == 0:
            return np.full(len(u), R)
        psi = _angle(u, np.asarray(self.collapse.direction_lps))
        return R - self.collapse.depth_mm * self.collapse.profile(psi)

    def head_radial_extent(self, u: np.ndarray) -> np.ndarray:
        """Distance (mm) from the head centre to the boundary of the femoral head along ``u``.

        The femoral head (femur inside the reference sphere) is star-shaped about the head centre:
        along a ray it is ``[0, extent]``.
        """
        n = self.neck_axis
        cos = u @ n
        sin = np.sqrt(np.maximum(1.0 - cos * cos, 0.0))
        with np.errstate(divide="ignore"):
            plane_t = np.where(cos > 0, self.head_neck_cut_mm / np.where(cos > 0, cos, 1.0), np.inf)
            cyl_t = np.where((cos > 0) & (sin > 0), self.neck_radius_mm / np.where(sin > 0, sin, 1.0), np.inf)
        return np.minimum(self.surface_radius(u), np.maximum(plane_t, cyl_t))

    # --- signed distances ---------------------------------------------------------------------
    def _femur_parts(self, p: np.ndarray, r: np.ndarray | None = None, rsurf: np.ndarray | None = None,
                     axial: np.ndarray | None = None) -> np.ndarray:
        """Signed distances (mm) of points to the head body, neck, shaft and trochanter, shape (4, N).

        ``r``, ``rsurf`` and ``axial`` (distance from the head centre, articular surface radius and
        coordinate along the neck axis) may be passed when already known.
        """
        c, n = self.center, self.neck_axis
        if r is None or rsurf is None or axial is None:
            q = p - c
            r, u = _directions(q)
            rsurf, axial = self.surface_radius(u), q @ n
        head = np.maximum(r - rsurf, axial - self.head_neck_cut_mm)
        neck = _capsule_sdf(p, c, n, self.neck_length_mm, self.neck_radius_mm)
        shaft = _capsule_sdf(p, self.neck_base, np.asarray(self.shaft_axis_lps), self.shaft_length_mm,
                             self.shaft_radius_mm)
        if self.trochanter_radius_mm > 0:
            troch = _norm(p - self.trochanter_center) - self.trochanter_radius_mm
        else:
            troch = np.full(len(p), np.inf)
        return np.stack([head, neck, shaft, troch])

    def femur_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm, negative inside) to the femur's outer bone surface."""
        return self._femur_parts(np.asarray(p, dtype=float)).min(axis=0)

    def _cortex_thickness(self, parts: np.ndarray) -> np.ndarray:
        thick = np.array([self.subchondral_mm, self.cortex_mm, self.shaft_cortex_mm, self.cortex_mm])
        return thick[np.argmin(parts, axis=0)]

    def lesion_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm) to the lesion spheroid (not clipped to the head); +inf without a lesion."""
        if self.lesion is None:
            return np.full(len(p), np.inf)
        d = np.asarray(self.lesion.direction_lps)
        q = np.asarray(p, dtype=float) - (self.center + self.lesion.center_offset_mm * d)
        return spheroid_sdf(q, d, self.lesion.radial_semi_axis_mm, self.lesion.transverse_semi_axis_mm)

    def acetabulum_sdf(self, p: np.ndarray, r: np.ndarray | None = None,
                       cup_angle: np.ndarray | None = None) -> np.ndarray:
        """Signed distance (mm) to the acetabular bone (cup shell and iliac pillar, minus the socket).

        ``r`` and ``cup_angle`` (distance from the head centre, angle in radians from the cup's
        pole) may be passed when already known.
        """
        p = np.asarray(p, dtype=float)
        if r is None or cup_angle is None:
            r, u = _directions(p - self.center)
            cup_angle = _angle(u, np.asarray(self.acetabular_axis_lps))
        rs = self.socket_radius_mm
        ang = cup_angle - np.radians(self.acetabular_coverage_deg)
        cup = np.maximum(np.maximum(rs - r, r - (rs + self.acetabular_thickness_mm)), r * ang)
        if self.ilium:
            cup = np.minimum(cup, ellipsoid_sdf(p - self.ilium_center, self.ilium_semi_axes))
        return np.maximum(cup, rs - r)

    # --- memberships --------------------------------------------------------------------------
    def femur_mask(self, p: np.ndarray) -> np.ndarray:
        """True inside the femur (cortex and marrow)."""
        return self.femur_sdf(p) <= 0

    def cortex_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral cortex, including the subchondral plate of the head."""
        parts = self._femur_parts(np.asarray(p, dtype=float))
        d = parts.min(axis=0)
        return (d <= 0) & (d > -self._cortex_thickness(parts))

    def marrow_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral marrow cavity (inside the cortex), lesion included."""
        parts = self._femur_parts(np.asarray(p, dtype=float))
        return parts.min(axis=0) <= -self._cortex_thickness(parts)

    def head_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral head: the femur inside the reference sphere."""
        p = np.asarray(p, dtype=float)
        inside_sphere = _norm(p - self.center) <= self.head_radius_mm
        out = np.zeros(len(p), dtype=bool)
        if inside_sphere.any():
            out[inside_sphere] = self.femur_mask(p[inside_sphere])
        return out

    def lesion_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the necrotic segment, demarcating band included."""
        p = np.asarray(p, dtype=float)
        if self.lesion is None:
            return np.zeros(len(p), dtype=bool)
        return (self.lesion_sdf(p) <= 0) & self.head_mask(p)

    def lesion_band_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the demarcating band: the outer ``band_mm`` of the lesion spheroid, inside the head."""
        p = np.asarray(p, dtype=float)
        if self.lesion is None:
            return np.zeros(len(p), dtype=bool)
        d = self.lesion_sdf(p)
        return (d <= 0) & (d > -self.lesion.band_mm) & self.head_mask(p)

    def cartilage_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral articular cartilage (a layer over the articular surface)."""
        p = np.asarray(p, dtype=float)
        q = p - self.center
        r, u = _directions(q)
        near = ((r - self.surface_radius(u) <= self.cartilage_mm)
                & (q @ self.neck_axis <= self.head_neck_cut_mm))
        return near & ~self.femur_mask(p)

    def acetabular_cartilage_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the acetabular cartilage lining the cup."""
        p = np.asarray(p, dtype=float)
        r, u = _directions(p - self.center)
        rs = self.socket_radius_mm
        cov = _angle(u, np.asarray(self.acetabular_axis_lps)) <= np.radians(self.acetabular_coverage_deg)
        return (r > rs - self.acetabular_cartilage_mm) & (r <= rs) & cov

    def acetabulum_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the acetabular bone."""
        return self.acetabulum_sdf(p) <= 0

    # --- tissue labels for rendering ----------------------------------------------------------
    def tissue_labels(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tissue label of each point (:data:`TISSUES`; -1 where the hip has no structure) and the
        distance (mm, a conservative estimate) to the nearest tissue interface of the hip.

        Distances beyond :data:`CULL_MM` may be reported as infinite.
        """
        p = np.asarray(p, dtype=float)
        r = _norm(p - self.center)
        joint = r <= self.socket_radius_mm + self.acetabular_thickness_mm + CULL_MM
        if self.ilium:
            joint |= np.all(np.abs(p - self.ilium_center) <= self.ilium_semi_axes + CULL_MM, axis=1)
        label = np.full(len(p), -1, dtype=np.int8)
        dist = np.full(len(p), np.inf)
        near, far = np.nonzero(joint)[0], np.nonzero(~joint)[0]
        if near.size:
            label[near], dist[near] = self._joint_tissues(p[near])
        if far.size:
            label[far], dist[far] = self._distal_femur_tissues(p[far], r[far])
        return label, dist

    def _distal_femur_tissues(self, p: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels and interface distances away from the joint, where only the femur is present."""
        parts = self._femur_parts(p, r, np.full(len(p), self.head_radius_mm), np.full(len(p), -np.inf))
        fem = parts.min(axis=0)
        thick = self._cortex_thickness(parts)
        label = np.where(fem <= 0, np.where(fem > -thick, TISSUES["cortex"], TISSUES["marrow"]), -1)
        return label.astype(np.int8), np.minimum(np.abs(fem), np.abs(fem + thick))

    def _joint_tissues(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels and interface distances near the joint (every structure of the hip)."""
        N = len(p)
        c, n = self.center, self.neck_axis
        q = p - c
        r, u = _directions(q)
        rsurf = self.surface_radius(u)
        axial = q @ n
        label = np.full(N, -1, dtype=np.int8)

        parts = self._femur_parts(p, r, rsurf, axial)
        fem = parts.min(axis=0)
        thick = self._cortex_thickness(parts)
        rs = self.socket_radius_mm
        ang_cup = _angle(u, np.asarray(self.acetabular_axis_lps))
        ace = self.acetabulum_sdf(p, r, ang_cup)
        in_cup_cone = ang_cup <= np.radians(self.acetabular_coverage_deg)
        les = self.lesion_sdf(p)

        # lowest priority first; later assignments win
        envelope = r <= rs - self.acetabular_cartilage_mm
        label[envelope & (axial > self.head_neck_cut_mm)] = TISSUES["muscle"]
        label[envelope & (axial <= self.head_neck_cut_mm)] = TISSUES["joint_fluid"]
        acetabular_cartilage = (r > rs - self.acetabular_cartilage_mm) & (r <= rs) & in_cup_cone
        label[acetabular_cartilage] = TISSUES["acetabular_cartilage"]
        label[ace <= 0] = TISSUES["pelvic_marrow"]
        label[(ace <= 0) & (ace > -self.acetabular_cortex_mm)] = TISSUES["cortex"]
        label[(r - rsurf <= self.cartilage_mm) & (axial <= self.head_neck_cut_mm) & (r > rsurf)] = \
            TISSUES["cartilage"]
        label[fem <= 0] = TISSUES["marrow"]
        if self.lesion is not None:
            in_head = (fem <= 0) & (r <= self.head_radius_mm)
            core = TISSUES["lesion_fatty"] if self.lesion.core == "fatty" else TISSUES["lesion_fluid"]
            label[in_head & (les <= 0)] = core
            label[in_head & (les <= 0) & (les > -self.lesion.band_mm)] = TISSUES["lesion_band"]
        label[(fem <= 0) & (fem > -thick)] = TISSUES["cortex"]

        # distances to each interface, kept only where that level set separates tissues
        inf = np.inf
        near_joint = r <= rs + 1.0
        h = self.head_neck_cut_mm
        levels = [np.abs(fem), np.abs(fem + thick), np.abs(ace), np.abs(ace + self.acetabular_cortex_mm),
                  np.where(near_joint & (axial <= h + 1.0), np.abs(r - rsurf - self.cartilage_mm), inf),
                  np.where(near_joint, np.minimum(np.abs(r - (rs - self.acetabular_cartilage_mm)),
                                                  np.abs(axial - h)), inf),
                  np.where(near_joint, np.minimum(
                      r * np.abs(ang_cup - np.radians(self.acetabular_coverage_deg)),
                      np.where(in_cup_cone, np.abs(r - rs), inf)), inf)]
        if self.lesion is not None:
            in_reach = (r <= self.head_radius_mm + 1.0) & (fem <= 1.0)
            levels += [np.where(in_reach, np.minimum(np.abs(les), np.abs(les + self.lesion.band_mm)), inf),
                       np.where(les <= 1.0, np.abs(r - self.head_radius_mm), inf)]
        return label, functools.reduce(np.minimum, levels)


CULL_MM = 12.0
"""Distance (mm) beyond which the renderer treats a structure as unable to touch a rendering cell."""

TISSUES: dict[str, int] = {
    "air": 0, "fat": 1, "muscle": 2, "cortex": 3, "marrow": 4, "cartilage": 5, "joint_fluid": 6,
    "acetabular_cartilage": 7, "pelvic_marrow": 8, "lesion_fatty": 9, "lesion_fluid": 10,
    "lesion_band": 11, "bladder": 12,
}
"""Tissue labels used by the renderer."""


@dataclass(frozen=True)
class PelvisModel:
    """One or two hips inside the soft tissue of the pelvis.

    Parameters
    ----------
    hips : tuple of HipModel
        One hip, or the right and the left hip.
    body_center_lps : 3 floats
        A point on the body's long axis (the mid-sagittal plane, x = body_center x), mm.
    body_semi_axes_mm : 2 floats
        Left-right and antero-posterior semi-axes of the skin outline (an elliptic cylinder), mm.
    subcutaneous_fat_mm : float
        Thickness of the subcutaneous fat, mm.
    pelvic_fat_semi_axes_mm : 3 floats
        Semi-axes of the fat-filled pelvic cavity (an ellipsoid on the midline above the bladder).
    bladder_semi_axes_mm : 3 floats or None
        Semi-axes of the urinary bladder (fluid), or None for no bladder.
    """

    hips: tuple[HipModel, ...]
    body_center_lps: Vec3 = (0.0, 0.0, 0.0)
    body_semi_axes_mm: tuple[float, float] = (175.0, 120.0)
    subcutaneous_fat_mm: float = 18.0
    pelvic_fat_semi_axes_mm: Vec3 = (45.0, 55.0, 70.0)
    bladder_semi_axes_mm: Vec3 | None = (35.0, 28.0, 26.0)

    def __post_init__(self) -> None:
        hips = tuple(self.hips)
        if not 1 <= len(hips) <= 2:
            raise ValueError("a pelvis model holds one or two hips")
        if len({h.side for h in hips}) != len(hips):
            raise ValueError("two hips must be a left and a right hip")
        object.__setattr__(self, "hips", tuple(sorted(hips, key=lambda h: h.side != "right")))
        object.__setattr__(self, "body_center_lps", _tuple(self.body_center_lps))

    @classmethod
    def standard(cls, hips: Literal["both", "left", "right"] = "both", *, head_radius_mm: float = 24.0,
                 inter_head_mm: float = 176.0, center_lps=(0.0, 20.0, -80.0),
                 right: dict | None = None, left: dict | None = None, bladder: bool = True) -> "PelvisModel":
        """A standard adult pelvis; ``right`` / ``left`` hold extra :class:`HipModel` fields per hip."""
        c = np.asarray(center_lps, dtype=float)
        made = []
        for side, extra in (("right", right), ("left", left)):
            if hips not in ("both", side):
                continue
            x = -0.5 * inter_head_mm if side == "right" else 0.5 * inter_head_mm
            fields = {"head_radius_mm": head_radius_mm} | dict(extra or {})
            made.append(HipModel(side=side, head_center_lps=_tuple(c + [x, 0.0, 0.0]), **fields))
        if not made:
            raise ValueError(f"hips must be 'both', 'left' or 'right', got {hips!r}")
        return cls(hips=tuple(made), body_center_lps=_tuple(c + [0.0, 10.0, 0.0]),
                   bladder_semi_axes_mm=(35.0, 28.0, 26.0) if bladder else None)

    def hip(self, side: Side) -> HipModel:
        for h in self.hips:
            if h.side == side:
                return h
        raise KeyError(f"this model has no {side} hip")

    @property
    def bladder_center(self) -> np.ndarray:
        return np.asarray(self.body_center_lps) + np.array([0.0, -55.0, 5.0])

    @property
    def pelvic_fat_center(self) -> np.ndarray:
        return np.asarray(self.body_center_lps) + np.array([0.0, -15.0, 60.0])

    def _soft_tissue(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = np.asarray(self.body_center_lps)
        a = np.asarray(self.body_semi_axes_mm, dtype=float)
        x, y = p[:, 0] - b[0], p[:, 1] - b[1]
        skin = _ellipse_sdf(x, y, a[0], a[1])
        inner = _ellipse_sdf(x, y, a[0] - self.subcutaneous_fat_mm, a[1] - self.subcutaneous_fat_mm)
        label = np.full(len(p), TISSUES["air"], dtype=np.int8)
        label[skin <= 0] = TISSUES["fat"]
        label[inner <= 0] = TISSUES["muscle"]
        dist = np.minimum(np.abs(skin), np.abs(inner))
        organs = [(self.pelvic_fat_center, self.pelvic_fat_semi_axes_mm, TISSUES["fat"])]
        if self.bladder_semi_axes_mm is not None:
            organs.append((self.bladder_center, self.bladder_semi_axes_mm, TISSUES["bladder"]))
        for center, semi, tissue in organs:
            semi = np.asarray(semi, dtype=float)
            # beyond this box the organ's surface is farther than any rendering cell reaches
            sel = np.nonzero(np.all(np.abs(p - center) <= semi + 10.0, axis=1))[0]
            if sel.size:
                d = ellipsoid_sdf(p[sel] - center, semi)
                label[sel[d <= 0]] = tissue
                dist[sel] = np.minimum(dist[sel], np.abs(d))
        return label, dist

    def tissue_labels(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tissue label (:data:`TISSUES`) of LPS points ``(N, 3)`` and the distance (mm) to the
        nearest tissue interface."""
        p = np.asarray(p, dtype=float)
        label = np.full(len(p), -1, dtype=np.int8)
        dist = np.full(len(p), np.inf)
        for hip in self.hips:
            lo, hi = hip.bounding_box(margin_mm=CULL_MM)
            sel = np.nonzero(np.all((p >= lo) & (p <= hi), axis=1))[0]
            if sel.size == 0:
                continue
            hl, hd = hip.tissue_labels(p[sel])
            has = hl >= 0
            label[sel[has]] = hl[has]
            dist[sel] = np.minimum(dist[sel], hd)
        # a point inside a hip structure farther than a cell's reach from its interfaces lies in a
        # cell of that structure alone, so soft tissue matters only where no hip structure is
        soft = np.nonzero(label < 0)[0]
        if soft.size:
            label[soft], sd = self._soft_tissue(p[soft])
            dist[soft] = np.minimum(dist[soft], sd)
        return label, dist

    def head_mask(self, p: np.ndarray) -> np.ndarray:
        """True in any femoral head of the model."""
        p = np.asarray(p, dtype=float)
        return np.logical_or.reduce([h.head_mask(p) for h in self.hips])

    def lesion_mask(self, p: np.ndarray) -> np.ndarray:
        """True in any necrotic lesion of the model."""
        p = np.asarray(p, dtype=float)
        return np.logical_or.reduce([h.lesion_mask(p) for h in self.hips])


__all__ = [
    "Collapse", "HipModel", "Lesion", "PelvisModel", "TISSUES", "default_acetabular_axis",
    "default_dome_direction", "default_neck_axis", "default_shaft_axis", "lateral_lps",
]

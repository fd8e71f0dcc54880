"""One hip of the analytic phantom model in patient LPS millimetres: femur, cartilage, joint, acetabulum.

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

import numpy as np

from onfh_imaging.phantom.axes import (
    Side,
    default_acetabular_axis,
    default_neck_axis,
    default_shaft_axis,
    lateral_lps,
)
from onfh_imaging.phantom.necrosis import Collapse, Lesion
from onfh_imaging.phantom.shapes import (
    Vec3,
    _angle,
    _capsule_sdf,
    _directions,
    _norm,
    _tuple,
    _unit,
    ellipsoid_sdf,
    spheroid_sdf,
)

__all__ = ["CULL_MM", "TISSUES", "HipModel"]


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
        """Centre of the reference sphere, LPS mm, shape (3,)."""
        return np.asarray(self.head_center_lps)

    @property
    def neck_axis(self) -> np.ndarray:
        """Unit vector from the head centre toward the neck (LPS), shape (3,)."""
        return np.asarray(self.neck_axis_lps)

    @property
    def articular_margin_deg(self) -> float:
        """Angle from the neck axis at which the articular surface meets the junction plane, degrees."""
        return float(np.degrees(np.arccos(self.head_neck_cut_mm / self.head_radius_mm)))

    @property
    def neck_base(self) -> np.ndarray:
        """Point where the neck meets the shaft, LPS mm."""
        return self.center + self.neck_length_mm * self.neck_axis

    @property
    def trochanter_center(self) -> np.ndarray:
        """Centre of the greater trochanter sphere, LPS mm."""
        R = self.head_radius_mm
        return self.neck_base + 0.55 * R * lateral_lps(self.side) + np.array([0.0, 0.0, 0.35 * R])

    @property
    def socket_radius_mm(self) -> float:
        """Radius of the acetabular bone surface (subchondral plate of the cup), mm."""
        return self.head_radius_mm + self.cartilage_mm + self.joint_space_mm + self.acetabular_cartilage_mm

    @property
    def ilium_center(self) -> np.ndarray:
        """Centre of the supra-acetabular iliac pillar (an ellipsoid), LPS mm."""
        R = self.head_radius_mm
        return self.center + np.array([0.0, 0.0, 2.2 * R]) - 0.3 * R * lateral_lps(self.side)

    @property
    def ilium_semi_axes(self) -> np.ndarray:
        """Semi-axes of the iliac pillar along L, P, S, mm."""
        R = self.head_radius_mm
        return np.array([0.75 * R, 1.5 * R, 1.65 * R])

    def bounding_box(self, margin_mm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """LPS axis-aligned box holding every structure of the hip.

        Parameters
        ----------
        margin_mm : float
            Added on every side, mm.

        Returns
        -------
        lo, hi : ndarray, shape (3,)
            Opposite corners, LPS mm.
        """
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
        """Radius (mm) of the articular surface along unit directions from the head centre.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit directions (LPS).

        Returns
        -------
        ndarray, shape (N,)
            The reference radius, less the collapse's depression where it lies, mm.
        """
        R = self.head_radius_mm
        if self.collapse is None or self.collapse.depth_mm == 0:
            return np.full(len(u), R)
        psi = _angle(u, np.asarray(self.collapse.direction_lps))
        return R - self.collapse.depth_mm * self.collapse.profile(psi)

    def head_radial_extent(self, u: np.ndarray) -> np.ndarray:
        """Distance (mm) from the head centre to the boundary of the femoral head along u.

        The femoral head (femur inside the reference sphere) is star-shaped about the head centre:
        along a ray it is [0, extent].

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit directions (LPS).

        Returns
        -------
        ndarray, shape (N,)
            mm: the articular surface, or the head-neck junction plane or neck cylinder where nearer.
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
        """Signed distance (mm, negative inside) to the femur's outer bone surface.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray, shape (N,)
        """
        return self._femur_parts(np.asarray(p, dtype=float)).min(axis=0)

    def _cortex_thickness(self, parts: np.ndarray) -> np.ndarray:
        thick = np.array([self.subchondral_mm, self.cortex_mm, self.shaft_cortex_mm, self.cortex_mm])
        return thick[np.argmin(parts, axis=0)]

    def lesion_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm) to the lesion spheroid (not clipped to the head); +inf without a lesion.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray, shape (N,)
        """
        if self.lesion is None:
            return np.full(len(p), np.inf)
        d = np.asarray(self.lesion.direction_lps)
        q = np.asarray(p, dtype=float) - (self.center + self.lesion.center_offset_mm * d)
        return spheroid_sdf(q, d, self.lesion.radial_semi_axis_mm, self.lesion.transverse_semi_axis_mm)

    def acetabulum_sdf(self, p: np.ndarray, r: np.ndarray | None = None,
                       cup_angle: np.ndarray | None = None) -> np.ndarray:
        """Signed distance (mm) to the acetabular bone (cup shell and iliac pillar, minus the socket).

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.
        r, cup_angle : ndarray, shape (N,), optional
            Distance from the head centre (mm) and angle from the cup's pole (radians), when already known.

        Returns
        -------
        ndarray, shape (N,)
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
        """True inside the femur (cortex and marrow).

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        return self.femur_sdf(p) <= 0

    def cortex_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral cortex, including the subchondral plate of the head.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        parts = self._femur_parts(np.asarray(p, dtype=float))
        d = parts.min(axis=0)
        return (d <= 0) & (d > -self._cortex_thickness(parts))

    def marrow_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral marrow cavity (inside the cortex), lesion included.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        parts = self._femur_parts(np.asarray(p, dtype=float))
        return parts.min(axis=0) <= -self._cortex_thickness(parts)

    def head_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral head: the femur inside the reference sphere.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        inside_sphere = _norm(p - self.center) <= self.head_radius_mm
        out = np.zeros(len(p), dtype=bool)
        if inside_sphere.any():
            out[inside_sphere] = self.femur_mask(p[inside_sphere])
        return out

    def lesion_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the necrotic segment, demarcating band included.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        if self.lesion is None:
            return np.zeros(len(p), dtype=bool)
        return (self.lesion_sdf(p) <= 0) & self.head_mask(p)

    def lesion_band_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the demarcating band: the outer band_mm of the lesion spheroid, inside the head.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        if self.lesion is None:
            return np.zeros(len(p), dtype=bool)
        d = self.lesion_sdf(p)
        return (d <= 0) & (d > -self.lesion.band_mm) & self.head_mask(p)

    def cartilage_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the femoral articular cartilage (a layer over the articular surface).

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        q = p - self.center
        r, u = _directions(q)
        near = ((r - self.surface_radius(u) <= self.cartilage_mm)
                & (q @ self.neck_axis <= self.head_neck_cut_mm))
        return near & ~self.femur_mask(p)

    def acetabular_cartilage_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the acetabular cartilage lining the cup.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        r, u = _directions(p - self.center)
        rs = self.socket_radius_mm
        cov = _angle(u, np.asarray(self.acetabular_axis_lps)) <= np.radians(self.acetabular_coverage_deg)
        return (r > rs - self.acetabular_cartilage_mm) & (r <= rs) & cov

    def acetabulum_mask(self, p: np.ndarray) -> np.ndarray:
        """True in the acetabular bone.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        return self.acetabulum_sdf(p) <= 0

    # --- tissue labels for rendering ----------------------------------------------------------
    def tissue_labels(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tissue label of each point and the distance to the nearest tissue interface of the hip.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        label : ndarray of int8, shape (N,)
            :data:`TISSUES` value; -1 where the hip has no structure.
        distance : ndarray, shape (N,)
            A conservative estimate of the distance to the nearest interface, mm; distances beyond
            :data:`CULL_MM` may be reported as infinite.
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
        q = p - self.center
        r, u = _directions(q)
        rsurf = self.surface_radius(u)
        axial = q @ self.neck_axis
        parts = self._femur_parts(p, r, rsurf, axial)
        ang_cup = _angle(u, np.asarray(self.acetabular_axis_lps))
        f = {"r": r, "rsurf": rsurf, "axial": axial, "fem": parts.min(axis=0),
             "thick": self._cortex_thickness(parts), "ang_cup": ang_cup, "ace": self.acetabulum_sdf(p, r, ang_cup),
             "les": self.lesion_sdf(p), "in_cup_cone": ang_cup <= np.radians(self.acetabular_coverage_deg)}
        return self._joint_labels(**f), self._joint_interface_distance(**f)

    def _joint_labels(self, *, r, rsurf, axial, fem, thick, ang_cup, ace, les, in_cup_cone) -> np.ndarray:
        """Tissue of each point near the joint, structures painted from the lowest priority up."""
        label = np.full(len(r), -1, dtype=np.int8)
        rs = self.socket_radius_mm
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
        return label

    def _joint_interface_distance(self, *, r, rsurf, axial, fem, thick, ang_cup, ace, les,
                                  in_cup_cone) -> np.ndarray:
        """Distance (mm) to the nearest interface, each level set kept only where it separates tissues."""
        inf = np.inf
        rs = self.socket_radius_mm
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
        return functools.reduce(np.minimum, levels)


CULL_MM = 12.0
"""Distance (mm) beyond which the renderer treats a structure as unable to touch a rendering cell."""

TISSUES: dict[str, int] = {
    "air": 0, "fat": 1, "muscle": 2, "cortex": 3, "marrow": 4, "cartilage": 5, "joint_fluid": 6,
    "acetabular_cartilage": 7, "pelvic_marrow": 8, "lesion_fatty": 9, "lesion_fluid": 10,
    "lesion_band": 11, "bladder": 12,
}
"""Tissue labels used by the renderer."""

"""Label-map hip anatomy: a pelvis and two femora built by constructive geometry, as integer tissue labels.

This is the toolkit's second phantom family, written independently of :mod:`onfh_imaging.phantom.model`
and built from other primitives. Each femoral head is star-shaped about its centre ``c``: along a unit
direction ``u`` its articular surface lies at the *radial extent* ``r(u)``, the smallest of

* the reference sphere's radius ``R``;
* the depressed segment (:class:`DepressedSegment`): inside a cone of half-angle ``extent`` about its
  direction, the sphere's cap is replaced by another spherical cap through the same rim whose apex
  lies ``depth`` below the sphere (flattened when shallow, concave "pushed in" when deep);
* the fovea capitis (:class:`Fovea`): the head minus a ball that cuts a pit of given rim width and depth
  on the medial-inferior head.

Around it: femoral cartilage following ``r(u)``; joint fluid; acetabular cartilage and a spherical
acetabular wall of given coverage and inclination (with the acetabular fossa and its pulvinar fat), a
triangular labrum at the rim, the ligamentum teres; ilium, ischium and pubis; an elliptic, tapering
femoral neck joined to the head by a smooth blend (the blend, and an optional cam-like bump, add bone
only *outside* the reference sphere, so the head is exactly the carved ball); shaft, greater and
lesser trochanter; cortex and subchondral plate of their own thicknesses; yellow marrow with red-marrow
islands; the necrotic lesion (:class:`Lesion`: a wedge from near the head centre to the dome with an
irregular, azimuth-dependent opening, a dark demarcating band and a fatty, fluid or mixed core) and
bone-marrow oedema; muscle, subcutaneous fat and air.

Everything is in patient LPS millimetres; every function takes ``(N, 3)`` arrays of points.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from onfh_imaging.phantom.labelmap.head import DepressedSegment, Fovea, Lesion, LesionCore
from onfh_imaging.phantom.labelmap.primitives import (
    ANTERIOR,
    SUPERIOR,
    Side,
    _angle_from,
    _norm,
    _within,
    cap_volume,
    capsule_sdf,
    dot,
    ellipsoid_sdf,
    lateral,
    orthonormal_frame,
    smooth_min,
    unit,
)

#: Tissue labels of the label map (uint8).
TISSUES: dict[str, int] = {
    "air": 0, "fat": 1, "muscle": 2, "femoral_cortex": 3, "yellow_marrow": 4, "red_marrow": 5,
    "oedema": 6, "femoral_cartilage": 7, "joint_fluid": 8, "acetabular_cartilage": 9, "labrum": 10,
    "pelvic_cortex": 11, "pelvic_marrow": 12, "lesion_fatty": 13, "lesion_fluid": 14, "lesion_band": 15,
    "ligamentum_teres": 16, "pulvinar_fat": 17,
}


@dataclass(frozen=True)
class HipAnatomy:
    """One hip joint. Lengths in mm, angles in degrees, directions LPS unit vectors.

    The acetabulum is concentric with the head: its bony surface lies at ``R + joint_space_mm`` and
    covers the directions within ``coverage_angle`` of its pole, where coverage (% of a hemisphere's
    solid angle) is ``100 (1 - cos(coverage_angle))``; the pole is tilted medially from the superior by
    ``inclination_deg``.

    Attributes
    ----------
    side, center, radius_mm : str, 3 floats, float
        The patient's hip; head centre (LPS mm) and reference sphere radius.
    neck_axis, shaft_axis : 3 floats
        Unit vectors from the head centre along the neck, and down the shaft.
    fovea, depression, lesion : Fovea, DepressedSegment or None, Lesion or None
        The head's carved features.
    neck_length_mm, neck_semi_axes_mm, neck_taper : float, (float, float), float
        Neck length, its superior-inferior and antero-posterior semi-axes, and how much wider its cross-
        section is at the base than at the head (fraction).
    junction_blend_mm, cam_bump_mm, shaft_radius_mm : float
        Head-neck blend width, height of the cam-like bump (0: none), shaft radius.
    cortex_mm : dict of str to float
        Cortical thickness of the ``"subchondral"`` plate, ``"neck"``, ``"shaft"`` and ``"pelvis"``.
    femoral_cartilage_mm, acetabular_cartilage_mm, joint_space_mm : float
        Cartilage thicknesses and the head-to-acetabulum distance (1-6 mm).
    coverage_pct, inclination_deg, anteversion_deg : float
        Acetabular coverage (30-100 % of a hemisphere) and the cup pole's tilts, degrees.
    acetabular_wall_mm, labrum_mm, effusion_mm, oedema_radius_mm : float
        Wall thickness, labrum width, effusion (fluid beyond the cup and along the neck; 0: none), and
        the radius of marrow oedema around the lesion (0: none).
    red_marrow : tuple of (centre, semi-axes)
        Red-marrow islands as LPS-aligned ellipsoids, mm.
    fat_septa : tuple of (centre, semi-axes, thickness)
        Intermuscular fat planes: ellipsoidal sheets between the muscles around the joint (gluteal,
        iliopsoas, short rotators), mm.
    """

    side: Side
    center: tuple[float, float, float]
    radius_mm: float
    neck_axis: tuple[float, float, float]
    shaft_axis: tuple[float, float, float]
    fovea: Fovea
    neck_length_mm: float = 50.0
    neck_semi_axes_mm: tuple[float, float] = (16.0, 13.0)   # superior-inferior, antero-posterior
    neck_taper: float = 0.25
    junction_blend_mm: float = 5.0
    cam_bump_mm: float = 0.0
    shaft_radius_mm: float = 14.0
    cortex_mm: dict[str, float] = field(default_factory=lambda: {
        "subchondral": 1.2, "neck": 2.0, "shaft": 5.0, "pelvis": 1.5})
    femoral_cartilage_mm: float = 1.5
    acetabular_cartilage_mm: float = 1.5
    joint_space_mm: float = 3.5
    coverage_pct: float = 80.0
    inclination_deg: float = 45.0
    anteversion_deg: float = 15.0
    acetabular_wall_mm: float = 7.0
    labrum_mm: float = 5.0
    effusion_mm: float = 0.0
    depression: DepressedSegment | None = None
    lesion: Lesion | None = None
    oedema_radius_mm: float = 0.0
    red_marrow: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = ()
    fat_septa: tuple[tuple[tuple[float, float, float], tuple[float, float, float], float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("neck_axis", "shaft_axis"):
            object.__setattr__(self, name, tuple(unit(getattr(self, name))))
        if not 1.0 <= self.joint_space_mm <= 6.0:
            raise ValueError(f"joint space must be 1-6 mm, got {self.joint_space_mm}")
        if self.femoral_cartilage_mm + self.acetabular_cartilage_mm >= self.joint_space_mm:
            raise ValueError("the two cartilage layers must leave room for joint fluid")
        if not 30.0 <= self.coverage_pct <= 100.0:
            raise ValueError(f"acetabular coverage must be 30-100 %, got {self.coverage_pct}")
        if self.depression is not None:
            self.depression.geometry(self.radius_mm)
            gap = np.degrees(_angle_from(np.asarray([self.depression.direction]),
                                         np.asarray(self.fovea.direction))[0])
            if gap < self.depression.extent_deg + np.degrees(self.fovea.angular_radius(self.radius_mm)) + 5:
                raise ValueError("the depressed segment would reach the fovea capitis")
        self.fovea.geometry(self.radius_mm)

    # --- frames and derived geometry ---------------------------------------------------------
    @property
    def c(self) -> np.ndarray:
        """The head centre, LPS mm, shape (3,)."""
        return np.asarray(self.center, dtype=float)

    @property
    def lateral(self) -> np.ndarray:
        """LPS unit vector away from the midline for this hip."""
        return lateral(self.side)

    @property
    def acetabular_pole(self) -> np.ndarray:
        """Unit vector from the head centre to the acetabular pole (medial, superior, a little posterior)."""
        i, av = np.radians(self.inclination_deg), np.radians(self.anteversion_deg)
        return unit(-self.lateral * np.sin(i) * np.cos(av) + np.array([0.0, np.sin(i) * np.sin(av), 0.0])
                    + SUPERIOR * np.cos(i))

    @property
    def coverage_angle(self) -> float:
        """Angular radius (radians) of the acetabular cup about its pole."""
        return float(np.arccos(1.0 - self.coverage_pct / 100.0))

    @property
    def acetabular_radius_mm(self) -> float:
        """Radius (mm) of the acetabulum's bony (subchondral) surface."""
        return self.radius_mm + self.joint_space_mm

    def neck_frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Neck axis, its superior-inferior and its antero-posterior cross-section axes."""
        n = np.asarray(self.neck_axis)
        e_si = unit(SUPERIOR - (SUPERIOR @ n) * n)
        return n, e_si, np.cross(n, e_si)

    @property
    def neck_base(self) -> np.ndarray:
        """End of the neck along its axis, LPS mm."""
        return self.c + self.neck_length_mm * np.asarray(self.neck_axis)

    @property
    def neck_exit_angle(self) -> float:
        """Angle (radians) from the neck axis within which the neck and its blend leave the head."""
        reach = max(self.neck_semi_axes_mm) + self.junction_blend_mm + self.cam_bump_mm
        return float(np.arcsin(min(reach / self.radius_mm, 0.99)))

    def lateral_acetabular_edge(self) -> np.ndarray:
        """LPS point (mm) of the acetabular rim's lateral edge on the mid-coronal plane (through the head
        centre, normal antero-posterior): where the bony rim meets that plane on the lateral side."""
        pole, gamma = self.acetabular_pole, self.coverage_angle
        t = np.radians(np.arange(-179.0, 180.0, 0.001))  # 0: superior, > 0: lateral
        u = np.cos(t)[:, None] * SUPERIOR + np.sin(t)[:, None] * self.lateral
        covered = np.nonzero(_angle_from(u, pole) <= gamma)[0]
        return self.c + self.acetabular_radius_mm * u[covered[np.argmax(t[covered])]]

    # --- the femoral head -----------------------------------------------------------------
    def radial_extent(self, u: np.ndarray) -> np.ndarray:
        """Distance (mm) from the head centre to the head's surface along unit rays.

        The reference sphere, the depressed segment and the fovea.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit rays from the head centre (LPS).

        Returns
        -------
        ndarray, shape (N,)
            mm.
        """
        R = self.radius_mm
        r = self.fovea.extent_along(u, R)
        if self.depression is not None:
            r = np.minimum(r, self.depression.extent_along(u, R))
        return r

    def articular(self, u: np.ndarray) -> np.ndarray:
        """Directions of the articular surface: not the fovea and not where the neck leaves the head.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit rays from the head centre (LPS).

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        fovea = _angle_from(u, np.asarray(self.fovea.direction)) < self.fovea.angular_radius(self.radius_mm)
        return ~fovea & (_angle_from(u, np.asarray(self.neck_axis)) > self.neck_exit_angle)

    def head_mask(self, p: np.ndarray) -> np.ndarray:
        """Points of the femoral head (the femur inside the reference sphere).

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        q = p - self.c
        r = _norm(q)
        inside = r < self.radius_mm
        out = np.zeros(len(p), dtype=bool)
        if inside.any():
            u = q[inside] / np.maximum(r[inside], 1e-12)[:, None]
            out[inside] = r[inside] < self.radial_extent(u)
        return out

    def lesion_mask(self, p: np.ndarray) -> np.ndarray:
        """Points of the necrotic lesion (its demarcating band included).

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        out = np.zeros(len(p), dtype=bool)
        if self.lesion is None:
            return out
        q = p - self.c
        r = _norm(q)
        cand = (r < self.radius_mm) & (r > self.lesion.inner_fraction * self.radius_mm)
        if cand.any():
            u = q[cand] / r[cand][:, None]
            out[cand] = (r[cand] < self.radial_extent(u)) & self.lesion.in_cone(u)
        return out

    # --- the femur outside the head -------------------------------------------------------
    def _neck_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm, approximate) to the elliptic, tapering neck (from the head centre on)."""
        q = p - self.c
        n, e_si, e_ap = self.neck_frame()
        t = dot(q, n)
        scale = 1.0 + self.neck_taper * np.clip(t / self.neck_length_mm, 0.0, 1.0)
        a, b = self.neck_semi_axes_mm
        x, y = dot(q, e_si) / scale, dot(q, e_ap) / scale
        k0 = np.hypot(x / a, y / b)
        k1 = np.hypot(x / a**2, y / b**2)
        ell = np.where(k1 > 0, k0 * (k0 - 1) / np.where(k1 > 0, k1, 1.0), -min(a, b)) * scale
        return np.maximum(ell, np.maximum(-t, t - self.neck_length_mm - 10.0))

    def _cam_centre(self) -> np.ndarray:
        """Centre of the cam-like bump: on the antero-superior head-neck junction, 50 deg from the neck axis."""
        n, e_si, _ = self.neck_frame()
        towards = unit(e_si + 0.6 * ANTERIOR - 0.6 * dot(ANTERIOR[None, :], n)[0] * n)
        direction = unit(np.cos(np.radians(50)) * n + np.sin(np.radians(50)) * towards)
        return self.c + (self.radius_mm - 4.0 + self.cam_bump_mm) * direction

    def _trochanters(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Greater and lesser trochanter: centre, semi-axes (mm) and blend width (mm)."""
        base, lat, shaft = self.neck_base, self.lateral, np.asarray(self.shaft_axis)
        return [(base + 10.0 * lat + 18.0 * SUPERIOR - 4.0 * ANTERIOR, np.array([15.0, 18.0, 24.0]), 6.0),
                (base + 45.0 * shaft - 14.0 * lat - 8.0 * ANTERIOR, np.array([9.0, 8.0, 12.0]), 5.0)]

    def _outer_femur_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm, approximate) to the femur's outer surface, with the head as the plain ball.
        Each part is evaluated only within its bounding sphere."""
        c, R = self.c, self.radius_mm
        ball = _norm(p - c) - R
        neck_reach = self.neck_length_mm + 10.0 + max(self.neck_semi_axes_mm) * (1 + self.neck_taper)
        femur = smooth_min(ball, _within(p, c, neck_reach + 5.0, self._neck_sdf), self.junction_blend_mm)
        if self.cam_bump_mm > 0:
            centre = self._cam_centre()
            femur = smooth_min(femur, _within(p, centre, 12.0, lambda x: _norm(x - centre) - 5.0), 2.0)
        base, shaft_axis = self.neck_base, np.asarray(self.shaft_axis)
        top, bottom = base - 15.0 * shaft_axis, base + 200.0 * shaft_axis
        shaft = _within(p, 0.5 * (top + bottom), 108.0 + self.shaft_radius_mm + 12.0,
                        lambda x: capsule_sdf(x, top, bottom, self.shaft_radius_mm))
        femur = smooth_min(femur, shaft, 10.0)
        for centre, semi, k in self._trochanters():
            femur = smooth_min(femur, _within(p, centre, float(semi.max()) + k + 2.0,
                                              lambda x, c0=centre, s0=semi: ellipsoid_sdf(x - c0, None, s0)), k)
        return femur

    def femur_depth(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Femur membership and depth below the femur's surface of every point.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        inside : ndarray of bool, shape (N,)
            Points of the femur.
        depth : ndarray, shape (N,)
            Depth below the surface, mm (negative outside).
        """
        q = p - self.c
        r = _norm(q)
        outer = self._outer_femur_sdf(p)
        depth = -outer
        in_ball = r < self.radius_mm
        inside = np.where(in_ball, False, outer < 0)
        if in_ball.any():
            u = q[in_ball] / np.maximum(r[in_ball], 1e-12)[:, None]
            extent = self.radial_extent(u)
            head_depth = extent - r[in_ball]
            near_neck = _angle_from(u, np.asarray(self.neck_axis)) < self.neck_exit_angle
            depth[in_ball] = np.where(near_neck, np.maximum(head_depth, -outer[in_ball]), head_depth)
            inside[in_ball] = head_depth > 0
        return inside, depth

    def cortex_thickness(self, p: np.ndarray) -> np.ndarray:
        """Cortical thickness (mm) of the femur by region: subchondral plate, neck, shaft.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray, shape (N,)
            mm, from :attr:`cortex_mm`.
        """
        q = p - self.c
        along = dot(q, np.asarray(self.neck_axis))
        t = np.where(along < 0.6 * self.neck_length_mm, self.cortex_mm["neck"], self.cortex_mm["shaft"])
        below = dot(p - self.neck_base, np.asarray(self.shaft_axis))
        t = np.where(below > 25.0, self.cortex_mm["shaft"], np.minimum(t, self.cortex_mm["neck"] * 1.5))
        return np.where(_norm(q) < self.radius_mm, self.cortex_mm["subchondral"], t)

    # --- the pelvis ---------------------------------------------------------------------------
    def _pelvis_parts(self) -> dict[str, tuple]:
        c, lat, Rb = self.c, self.lateral, self.acetabular_radius_mm
        return {
            # the supra-acetabular ilium: a thick mass over the cup whose wing flares laterally upwards
            "ilium": (c + (Rb + 28.0) * SUPERIOR - 6.0 * lat,
                      np.column_stack([unit(lat - 0.35 * SUPERIOR), -ANTERIOR, unit(SUPERIOR + 0.35 * lat)]),
                      np.array([24.0, 40.0, 44.0])),
            "ischium": (c + 0.8 * Rb * unit(-SUPERIOR - ANTERIOR * 0.6 - lat * 0.4),
                        c + np.array([0.0, 20.0, -60.0]) - 12.0 * lat, 11.0),
            "pubis": (c + 0.8 * Rb * unit(-SUPERIOR * 0.4 + ANTERIOR - lat * 0.5),
                      np.array([0.0, c[1] - 30.0, c[2] - 22.0]), 9.0),
            # the quadrilateral plate behind the fossa, seen end-on on an AP radiograph as the teardrop
            "teardrop": (c - (Rb + 0.4 * self.acetabular_wall_mm + 2.0) * lat - 0.5 * Rb * SUPERIOR, None,
                         np.array([3.5, 14.0, 12.0])),
        }

    def pelvis_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm, approximate) to this hemipelvis.

        The acetabular wall, ilium, ischium and pubis, with the joint cavity and the acetabular fossa
        hollowed out.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray, shape (N,)
            Negative inside the bone, mm.
        """
        c = self.c
        q = p - c
        r = _norm(q)
        Rb = self.acetabular_radius_mm
        u = q / np.maximum(r, 1e-12)[:, None]
        theta = _angle_from(u, self.acetabular_pole)
        wall_mid = Rb + 0.5 * self.acetabular_wall_mm
        wall = np.maximum(np.abs(r - wall_mid) - 0.5 * self.acetabular_wall_mm,
                          r * (theta - self.coverage_angle))
        parts = self._pelvis_parts()
        centre, axes, semi = parts["ilium"]
        ilium = _within(p, centre, 55.0, lambda x: ellipsoid_sdf(x - centre, axes, semi))
        bone = smooth_min(wall, ilium, 8.0)
        centre, _, semi = parts["teardrop"]
        bone = smooth_min(bone, _within(p, centre, 18.0, lambda x: ellipsoid_sdf(x - centre, None, semi)), 3.0)
        for name in ("ischium", "pubis"):
            a, b, rad = parts[name]
            mid, half = 0.5 * (a + b), 0.5 * float(np.linalg.norm(b - a)) + rad + 8.0
            bone = smooth_min(bone, _within(p, mid, half, lambda x, a=a, b=b, rad=rad: capsule_sdf(x, a, b, rad)), 8.0)
        bone = np.maximum(bone, Rb - r)
        fossa = (r < Rb + 3.0) & self._fossa(u)
        return np.where(fossa, np.maximum(bone, 0.01), bone)

    def _fossa(self, u: np.ndarray) -> np.ndarray:
        """Directions of the acetabular fossa (no cartilage, a recessed floor with pulvinar fat): the cup
        facing the fovea, within the cup."""
        facing = _angle_from(u, np.asarray(self.fovea.direction)) < self.fovea.angular_radius(self.radius_mm) + 0.15
        return facing & (_angle_from(u, self.acetabular_pole) < self.coverage_angle - 0.1)

    @property
    def joint_reach_mm(self) -> float:
        """Distance (mm) from the head centre beyond which no joint structure lies (labrum, wall, effusion)."""
        return self.acetabular_radius_mm + self.acetabular_wall_mm + self.effusion_mm + 4.0

    # --- labels ------------------------------------------------------------------------------
    def _label_joint(self, p: np.ndarray, label: np.ndarray) -> None:
        """Joint fluid, acetabular cartilage, fossa fat, labrum and ligamentum teres (near the head)."""
        q = p - self.c
        r = _norm(q)
        u = q / np.maximum(r, 1e-12)[:, None]
        R, Rb = self.radius_mm, self.acetabular_radius_mm
        pole_angle = _angle_from(u, self.acetabular_pole)
        cup = pole_angle <= self.coverage_angle
        fossa = self._fossa(u)
        cavity = r < Rb
        if self.effusion_mm > 0:
            cavity |= (r < Rb + self.effusion_mm) & ~cup
        label[cavity] = TISSUES["joint_fluid"]
        label[fossa & (r >= R + self.femoral_cartilage_mm + 0.3) & (r < Rb + 3.0)] = TISSUES["pulvinar_fat"]
        label[cup & ~fossa & (r >= Rb - self.acetabular_cartilage_mm) & (r < Rb)] = TISSUES["acetabular_cartilage"]
        beyond = (pole_angle - self.coverage_angle) / (self.labrum_mm / Rb)
        top = Rb + 0.5 * self.acetabular_wall_mm * (1.0 - beyond)
        label[(beyond >= 0) & (beyond < 1) & (r > R + self.femoral_cartilage_mm + 0.2) & (r < top)] = TISSUES["labrum"]
        fdir = np.asarray(self.fovea.direction)
        along = dot(q, fdir)
        lig = (_norm(q - along[:, None] * fdir) < 2.5) & (along > R - self.fovea.depth_mm) & (r < Rb + 2.0)
        label[lig] = TISSUES["ligamentum_teres"]

    def _label_lesion(self, q: np.ndarray, r: np.ndarray, u: np.ndarray, femur: np.ndarray,
                      label: np.ndarray) -> None:
        les, R = self.lesion, self.radius_mm
        cand = np.nonzero(femur & (r < R) & (r > les.inner_fraction * R))[0]
        theta, beta = les.half_angle(u[cand])
        keep = theta < beta
        idx = cand[keep]
        wall = np.minimum(r[idx] * (beta[keep] - theta[keep]), r[idx] - les.inner_fraction * R)
        label[idx] = TISSUES["lesion_fluid"] if les.core == "fluid" else TISSUES["lesion_fatty"]
        if les.core == "mixed":
            e1, e2 = orthonormal_frame(np.asarray(les.direction))
            wave = np.cos(dot(q[idx], e1) / 4.0) + np.cos(dot(q[idx], e2) / 5.0 + 1.0)
            label[idx[wave > 0.3]] = TISSUES["lesion_fluid"]
        label[idx[wall < les.band_mm]] = TISSUES["lesion_band"]

    def label_into(self, p: np.ndarray, label: np.ndarray) -> None:
        """Overwrite ``label`` with this hip's tissues wherever it lies (joint, pelvis, femur).

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.
        label : ndarray of uint8, shape (N,)
            Labels so far (:data:`TISSUES`), changed in place.
        """
        q = p - self.c
        r = _norm(q)
        muscle = np.nonzero(label == TISSUES["muscle"])[0]
        for centre, semi, thickness in self.fat_septa:
            c0, s0 = np.asarray(centre), np.asarray(semi)
            sheet = _within(p[muscle], c0, float(s0.max()) + thickness,
                            lambda x, c0=c0, s0=s0: ellipsoid_sdf(x - c0, None, s0))
            label[muscle[np.abs(sheet) < 0.5 * thickness]] = TISSUES["fat"]
        joint = np.nonzero(r < self.joint_reach_mm)[0]
        if joint.size:
            sub = label[joint]
            self._label_joint(p[joint], sub)
            label[joint] = sub
        if self.effusion_mm > 0:
            along = dot(q, np.asarray(self.neck_axis))
            sel = np.nonzero((along > 0) & (along < 0.7 * self.neck_length_mm) & (r < self.neck_length_mm + 30))[0]
            label[sel[self._neck_sdf(p[sel]) < self.effusion_mm]] = TISSUES["joint_fluid"]

        pel = self.pelvis_sdf(p)
        bone = pel < 0
        label[bone] = TISSUES["pelvic_marrow"]
        label[bone & (pel > -self.cortex_mm["pelvis"])] = TISSUES["pelvic_cortex"]

        femur = self.label_femur_into(p, label)
        near = np.nonzero((r < self.radius_mm + self.femoral_cartilage_mm) & ~femur)[0]
        if near.size:
            un = q[near] / np.maximum(r[near], 1e-12)[:, None]
            extent = self.radial_extent(un)
            cart = (r[near] >= extent) & (r[near] < extent + self.femoral_cartilage_mm) & self.articular(un)
            label[near[cart]] = TISSUES["femoral_cartilage"]

    def label_femur_into(self, p: np.ndarray, label: np.ndarray) -> np.ndarray:
        """Overwrite ``label`` with the femur's tissues where the femur lies.

        Marrow, red marrow, oedema, lesion and cortex.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.
        label : ndarray of uint8, shape (N,)
            Labels so far (:data:`TISSUES`), changed in place.

        Returns
        -------
        ndarray of bool, shape (N,)
            The femur's membership.
        """
        q = p - self.c
        r = _norm(q)
        femur, depth = self.femur_depth(p)
        fidx = np.nonzero(femur)[0]
        label[fidx] = TISSUES["yellow_marrow"]
        for centre, semi in self.red_marrow:
            c0, s0 = np.asarray(centre), np.asarray(semi)
            inside = _within(p[fidx], c0, float(s0.max()),
                             lambda x, c0=c0, s0=s0: ellipsoid_sdf(x - c0, None, s0)) < 0
            label[fidx[inside]] = TISSUES["red_marrow"]
        if self.lesion is not None and self.oedema_radius_mm > 0:
            centre = self.c + 0.2 * self.radius_mm * np.asarray(self.lesion.direction)
            label[fidx[_norm(p[fidx] - centre) < self.oedema_radius_mm]] = TISSUES["oedema"]
        if self.lesion is not None:
            self._label_lesion(q, r, q / np.maximum(r, 1e-12)[:, None], femur, label)
        label[fidx[depth[fidx] < self.cortex_thickness(p[fidx])]] = TISSUES["femoral_cortex"]
        return femur


@dataclass(frozen=True)
class BodyAnatomy:
    """The body around the hips: an elliptic cylinder of muscle under a layer of subcutaneous fat.

    Attributes
    ----------
    center_xy : (float, float)
        Axis of the cylinder (x, y), LPS mm.
    semi_axes_mm : (float, float)
        Left-right and antero-posterior semi-axes of the skin outline, mm.
    fat_mm : float
        Thickness of the subcutaneous fat, mm.
    """

    center_xy: tuple[float, float] = (0.0, 10.0)
    semi_axes_mm: tuple[float, float] = (175.0, 115.0)
    fat_mm: float = 18.0

    def label(self, p: np.ndarray) -> np.ndarray:
        """Air, fat or muscle at every point.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray of uint8, shape (N,)
            :data:`TISSUES` values.
        """
        x = (p[:, 0] - self.center_xy[0]) / self.semi_axes_mm[0]
        y = (p[:, 1] - self.center_xy[1]) / self.semi_axes_mm[1]
        rho = np.hypot(x, y)
        label = np.full(len(p), TISSUES["air"], dtype=np.uint8)
        label[rho < 1.0] = TISSUES["fat"]
        inner = np.hypot(x * self.semi_axes_mm[0] / (self.semi_axes_mm[0] - self.fat_mm),
                         y * self.semi_axes_mm[1] / (self.semi_axes_mm[1] - self.fat_mm))
        label[inner < 1.0] = TISSUES["muscle"]
        return label


#: beyond this distance (mm) from its head centre a hip's structures cannot reach a point
HIP_REACH_MM = 140.0


@dataclass(frozen=True)
class PelvisAnatomy:
    """Both hips and the body: the whole label map.

    Attributes
    ----------
    hips : tuple of HipAnatomy
        The right and the left hip.
    body : BodyAnatomy
        The soft tissue around them.
    """

    hips: tuple[HipAnatomy, ...]
    body: BodyAnatomy = field(default_factory=BodyAnatomy)

    def hip(self, side: Side) -> HipAnatomy:
        """The hip of one side.

        Parameters
        ----------
        side : {"left", "right"}
            The patient's side.

        Returns
        -------
        HipAnatomy

        Raises
        ------
        KeyError
            No hip on that side.
        """
        for h in self.hips:
            if h.side == side:
                return h
        raise KeyError(side)

    def labels(self, p: np.ndarray) -> np.ndarray:
        """Tissue label of every point.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray of uint8, shape (N,)
            :data:`TISSUES` values.
        """
        p = np.asarray(p, dtype=float)
        label = self.body.label(p)
        for hip in self.hips:
            near = _norm(p - hip.c) < HIP_REACH_MM
            if near.any():
                sub = label[near]
                hip.label_into(p[near], sub)
                label[near] = sub
        return label


def with_lesion_tilts(anatomy: PelvisAnatomy, tilts_deg: dict[str, float]) -> PelvisAnatomy:
    """The anatomy with some hips' lesions pointed elsewhere on the coronal plane.

    Each listed hip's lesion points ``tilts_deg[side]`` degrees from superior toward lateral (negative:
    medial), slightly anterior: how far the necrotic segment reaches under the acetabulum, i.e. its JIC
    type.

    Parameters
    ----------
    anatomy : PelvisAnatomy
        The anatomy; it is not modified.
    tilts_deg : dict of str to float
        Tilt per side, degrees; hips not listed or without a lesion are kept.

    Returns
    -------
    PelvisAnatomy
    """
    hips = []
    for hip in anatomy.hips:
        if hip.side in tilts_deg and hip.lesion is not None:
            t = np.radians(tilts_deg[hip.side])
            direction = unit(np.cos(t) * SUPERIOR + np.sin(t) * lateral(hip.side) + 0.2 * ANTERIOR)
            hip = replace(hip, lesion=replace(hip.lesion, direction=tuple(direction)))
        hips.append(hip)
    return PelvisAnatomy(tuple(hips), anatomy.body)


__all__ = ["ANTERIOR", "HIP_REACH_MM", "SUPERIOR", "TISSUES", "BodyAnatomy", "DepressedSegment", "Fovea", "HipAnatomy",
           "Lesion", "LesionCore", "PelvisAnatomy", "cap_volume", "capsule_sdf", "dot", "lateral", "orthonormal_frame",
           "smooth_min", "unit", "with_lesion_tilts"]

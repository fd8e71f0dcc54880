"""The carved features of the label-map femoral head: the depressed (collapsed) segment, the fovea capitis
and the necrotic lesion, each as exact geometry about the head centre (see :mod:`.anatomy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from onfh_imaging.phantom.labelmap.primitives import (
    _angle_from,
    _ray_sphere,
    cap_volume,
    dot,
    orthonormal_frame,
    unit,
)

__all__ = ["DepressedSegment", "Fovea", "Lesion", "LesionCore"]

LesionCore = Literal["fatty", "fluid", "mixed"]


@dataclass(frozen=True)
class DepressedSegment:
    """A collapsed segment of the head: the sphere's cap inside the cone of half-angle ``extent_deg``
    about ``direction`` replaced by a spherical cap through the same rim whose apex lies ``depth_mm``
    below the reference sphere.

    With ``s = (R - depth) - R cos(extent)`` the new cap's sagitta above the rim plane, the segment is
    flattened (``s > 0``), planar (``s = 0``) or concave (``s < 0``). The deepest radial depression is
    ``depth_mm``, on the axis.

    Attributes
    ----------
    direction : 3 floats
        Unit vector from the head centre to the segment's centre (LPS).
    depth_mm : float
        Depth of the apex below the reference sphere, mm (> 0).
    extent_deg : float
        Half-angle of the segment's cone, degrees (0-60).
    """

    direction: tuple[float, float, float]
    depth_mm: float
    extent_deg: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", tuple(unit(self.direction)))
        if not 0 < self.extent_deg < 60:
            raise ValueError(f"depressed segment extent must be in (0, 60) degrees, got {self.extent_deg}")
        if self.depth_mm <= 0:
            raise ValueError(f"depressed segment depth must be > 0 mm, got {self.depth_mm}")

    def geometry(self, R: float) -> dict[str, float]:
        """The segment's construction on a head of radius ``R``.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        dict of str to float
            Rim height ``z_rim``, rim radius ``rim``, sagittas ``s0`` (sphere) and ``s`` (new cap), the new
            cap's sphere radius ``rho`` (inf when planar) and its centre's height ``z_centre`` along the axis,
            mm.

        Raises
        ------
        ValueError
            The segment is deeper than the head allows.
        """
        alpha = np.radians(self.extent_deg)
        z_rim, rim = R * np.cos(alpha), R * np.sin(alpha)
        if self.depth_mm >= R * (1 - np.cos(alpha)) + 0.5 * rim:
            raise ValueError(f"a {self.depth_mm} mm deep segment of {self.extent_deg} deg is deeper than the "
                             "head allows")
        s = (R - self.depth_mm) - z_rim
        out = {"z_rim": z_rim, "rim": rim, "s0": R - z_rim, "s": s, "rho": np.inf, "z_centre": np.nan}
        if abs(s) > 1e-9:
            rho = (rim**2 + s**2) / (2 * abs(s))
            out["rho"] = rho
            out["z_centre"] = (R - self.depth_mm) - rho if s > 0 else (R - self.depth_mm) + rho
        return out

    def removed_volume_mm3(self, R: float) -> float:
        """Volume of bone the segment removes from the ball (mm3), exact.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        float
            mm3.
        """
        g = self.geometry(R)
        return cap_volume(g["rim"], g["s0"]) - cap_volume(g["rim"], g["s"])

    def surface_change_mm2(self, R: float) -> float:
        """Change of the head's surface area (mm2): new cap minus the sphere's cap, exact.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        float
            mm2 (negative: the new cap is smaller).
        """
        g = self.geometry(R)
        return float(np.pi * (g["rim"] ** 2 + g["s"] ** 2) - np.pi * (g["rim"] ** 2 + g["s0"] ** 2))

    def extent_along(self, u: np.ndarray, R: float) -> np.ndarray:
        """Radial extent (mm) of the ball with this segment removed, along unit rays.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit rays from the head centre (LPS).
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        ndarray, shape (N,)
            mm; ``R`` outside the segment.
        """
        g = self.geometry(R)
        d = np.asarray(self.direction)
        ud = dot(u, d)
        r = np.full(len(u), R)
        if not np.isfinite(g["rho"]):
            t = np.where(ud > 0, g["z_rim"] / np.where(ud > 0, ud, 1.0), np.inf)
            return np.minimum(r, t)
        w = g["z_centre"] * d
        near, far, hit = _ray_sphere(u, w, g["rho"])
        if g["s"] > 0:  # the head centre lies inside the flatter sphere: rays leave it at ``far``
            inside_cone = hit & (far * ud > g["z_rim"]) & (far < R)
            return np.where(inside_cone, far, r)
        entering = hit & (near > 0) & (near < R)
        return np.where(entering, near, r)


@dataclass(frozen=True)
class Fovea:
    """The fovea capitis: the head minus a ball cutting a pit centred on ``direction``.

    Attributes
    ----------
    direction : 3 floats
        Unit vector from the head centre to the pit's centre (medial, inferior; LPS).
    width_mm : float
        Diameter of the pit's rim, mm.
    depth_mm : float
        Depth of the pit below the reference sphere, mm.
    """

    direction: tuple[float, float, float]
    width_mm: float = 12.0
    depth_mm: float = 3.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", tuple(unit(self.direction)))

    def geometry(self, R: float) -> dict[str, float]:
        """The pit's construction on a head of radius ``R``.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        dict of str to float
            Rim plane height ``z_rim``, cutting ball radius ``rho`` and centre distance ``dist``, mm.

        Raises
        ------
        ValueError
            The pit's width does not fit the head, or it is shallower than the sphere's own sagitta.
        """
        half = 0.5 * self.width_mm
        if not 0 < half < R:
            raise ValueError(f"fovea width {self.width_mm} mm does not fit a head of radius {R} mm")
        z_rim = float(np.sqrt(R * R - half * half))
        if self.depth_mm <= R - z_rim:
            raise ValueError(f"fovea depth {self.depth_mm} mm must exceed the sphere's own sagitta "
                             f"{R - z_rim:.2f} mm over its width")
        dist = (R * R - (R - self.depth_mm) ** 2) / (2 * (z_rim - R + self.depth_mm))
        return {"z_rim": z_rim, "rho": dist - R + self.depth_mm, "dist": dist}

    def angular_radius(self, R: float) -> float:
        """Half-angle (radians) of the pit's rim seen from the head centre.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        float
            Radians.
        """
        return float(np.arcsin(0.5 * self.width_mm / R))

    def removed_volume_mm3(self, R: float) -> float:
        """Volume of the lens the pit removes from the ball (mm3), exact.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        float
            mm3.
        """
        g = self.geometry(R)
        h_ball = R - g["z_rim"]
        h_pit = g["rho"] - (g["dist"] - g["z_rim"])
        return float(np.pi * h_ball**2 * (3 * R - h_ball) / 3 + np.pi * h_pit**2 * (3 * g["rho"] - h_pit) / 3)

    def surface_change_mm2(self, R: float) -> float:
        """Change of the head's surface area (mm2): the pit's wall minus the sphere's cap, exact.

        Parameters
        ----------
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        float
            mm2.
        """
        g = self.geometry(R)
        return float(2 * np.pi * g["rho"] * (g["rho"] - (g["dist"] - g["z_rim"])) - 2 * np.pi * R * (R - g["z_rim"]))

    def extent_along(self, u: np.ndarray, R: float) -> np.ndarray:
        """Radial extent (mm) of the ball with the pit removed, along unit rays.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit rays from the head centre (LPS).
        R : float
            Radius of the reference sphere, mm.

        Returns
        -------
        ndarray, shape (N,)
            mm; ``R`` outside the pit.
        """
        g = self.geometry(R)
        near, _, hit = _ray_sphere(u, g["dist"] * np.asarray(self.direction), g["rho"])
        return np.where(hit & (near > 0) & (near < R), near, R)


@dataclass(frozen=True)
class Lesion:
    """The necrotic segment: a wedge of the head from ``inner_fraction * R`` out to the articular surface,
    inside an irregular cone about ``direction`` whose half-angle at azimuth ``phi`` is
    ``half_angle_deg * (1 + a1 cos(phi - p1) + a2 cos(2 (phi - p2)))`` (``lobes = (a1, p1, a2, p2)``).

    Attributes
    ----------
    direction : 3 floats
        Unit axis of the cone from the head centre (LPS).
    half_angle_deg : float
        Mean half-angle of the cone, degrees (5-85).
    inner_fraction : float
        Inner end of the wedge as a fraction of the head radius.
    band_mm : float
        Width of the demarcating band inside the wedge's walls (not at the articular surface), mm.
    core : {"fatty", "fluid", "mixed"}
        Signal type of the necrotic core.
    lobes : (float, float, float, float)
        ``(a1, p1, a2, p2)``: amplitudes and phases (radians) of the half-angle's azimuthal variation.
    """

    direction: tuple[float, float, float]
    half_angle_deg: float
    inner_fraction: float = 0.3
    band_mm: float = 2.0
    core: LesionCore = "fatty"
    lobes: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", tuple(unit(self.direction)))
        if not 5 < self.half_angle_deg < 85:
            raise ValueError(f"lesion half-angle must be in (5, 85) degrees, got {self.half_angle_deg}")
        if abs(self.lobes[0]) + abs(self.lobes[2]) >= 0.5:
            raise ValueError("lesion lobe amplitudes must sum below 0.5")

    def half_angle(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angle of each unit ray from the axis and the cone's half-angle at its azimuth.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit rays from the head centre (LPS).

        Returns
        -------
        theta, beta : ndarray, shape (N,)
            Radians.
        """
        axis = np.asarray(self.direction)
        e1, e2 = orthonormal_frame(axis)
        phi = np.arctan2(dot(u, e2), dot(u, e1))
        a1, p1, a2, p2 = self.lobes
        beta = np.radians(self.half_angle_deg) * (1 + a1 * np.cos(phi - p1) + a2 * np.cos(2 * (phi - p2)))
        return _angle_from(u, axis), beta

    def in_cone(self, u: np.ndarray) -> np.ndarray:
        """Whether each unit ray lies inside the lesion's irregular cone.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit rays from the head centre (LPS).

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        theta, beta = self.half_angle(u)
        return theta < beta

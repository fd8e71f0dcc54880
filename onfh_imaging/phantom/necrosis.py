"""The disease in the analytic hip model: a collapsed segment of the articular surface and the necrotic
lesion under the dome (:class:`~onfh_imaging.phantom.model.HipModel` holds one of each, or none)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from onfh_imaging.phantom.shapes import Vec3, _tuple, _unit

__all__ = ["Collapse", "Lesion", "LesionCore"]

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
        """Depression profile (0..1) at angle ``psi`` from the collapse direction.

        Parameters
        ----------
        psi : ndarray
            Angles from ``direction_lps``, radians.

        Returns
        -------
        ndarray
            1 on the flat bottom, a raised cosine down to 0 at the angular radius, 0 beyond; same shape.
        """
        t = np.asarray(psi, dtype=float) / np.radians(self.angular_radius_deg)
        f = self.flat_fraction
        taper = 0.5 * (1.0 + np.cos(np.pi * np.clip((t - f) / (1.0 - f), 0.0, 1.0)))
        return np.where(t <= f, 1.0, np.where(t >= 1.0, 0.0, taper))

    def profile_slope(self, psi: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`profile` with respect to the angle.

        Parameters
        ----------
        psi : ndarray
            Angles from ``direction_lps``, radians.

        Returns
        -------
        ndarray
            d profile / d psi, per radian (0 on the flat bottom and beyond the segment); same shape.
        """
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
        """A typical small (about 10 % of the head, Steinberg A) or large (about 40 %, C) lesion.

        Parameters
        ----------
        size : {"small", "large"}
            Which preset.
        head_radius_mm : float
            Radius of the head, mm; the spheroid scales with it.
        direction_lps : 3 floats
            Unit vector from the head centre to the lesion (under the dome).
        core : {"fatty", "fluid"}
            Signal of the necrotic core.

        Returns
        -------
        Lesion

        Raises
        ------
        ValueError
            Unknown size.
        """
        r = float(head_radius_mm)
        if size == "small":
            return cls(direction_lps, 0.9 * r, 0.5 * r, 0.65 * r, band_mm=2.0, core=core)
        if size == "large":
            return cls(direction_lps, 0.6 * r, 0.7 * r, 0.9 * r, band_mm=2.5, core=core)
        raise ValueError(f"lesion size must be 'small' or 'large', got {size!r}")

    def interval_along_rays(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry and exit distances (mm) of rays ``t u`` from the head centre through the spheroid.

        Parameters
        ----------
        u : ndarray, shape (N, 3)
            Unit ray directions (LPS).

        Returns
        -------
        entry, exit : ndarray, shape (N,)
            Distances from the head centre, mm; ``nan`` for rays that miss the spheroid.
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

"""An analytic 3-D pelvis model in patient LPS millimetres: one or two hips in the soft tissue of the pelvis.

Each hip (:class:`~onfh_imaging.phantom.hip_model.HipModel`) is a constructive solid: the femoral head
(a sphere, optionally with a collapsed segment, cut by the head-neck junction plane), the neck and shaft
(capsules), the greater trochanter (a sphere) and the acetabulum, a hemispherical shell of bone fused with a
supra-acetabular iliac pillar; its collapse and necrotic lesion are :mod:`onfh_imaging.phantom.necrosis`.
Around the hips: skin, subcutaneous fat, muscle, the pelvic fat and the bladder. All functions are
vectorised over ``(N, 3)`` LPS points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from onfh_imaging.phantom.axes import (
    Side,
    default_acetabular_axis,
    default_dome_direction,
    default_neck_axis,
    default_shaft_axis,
    lateral_lps,
)
from onfh_imaging.phantom.hip_model import CULL_MM, TISSUES, HipModel
from onfh_imaging.phantom.necrosis import Collapse, Lesion
from onfh_imaging.phantom.shapes import Vec3, _ellipse_sdf, _tuple, ellipsoid_sdf


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
        """A standard adult pelvis with one or both hips.

        Parameters
        ----------
        hips : {"both", "left", "right"}
            Which hips the model holds.
        head_radius_mm : float
            Radius of each femoral head, mm.
        inter_head_mm : float
            Distance between the two head centres (left-right), mm.
        center_lps : 3 floats
            Midpoint between the head centres, LPS mm.
        right, left : dict, optional
            Extra :class:`HipModel` fields per hip (collapse, lesion...).
        bladder : bool
            Include the urinary bladder.

        Returns
        -------
        PelvisModel

        Raises
        ------
        ValueError
            hips is not one of the three values.
        """
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
        """The model's hip of one side.

        Parameters
        ----------
        side : {"left", "right"}
            The patient's side.

        Returns
        -------
        HipModel

        Raises
        ------
        KeyError
            The model has no hip on that side.
        """
        for h in self.hips:
            if h.side == side:
                return h
        raise KeyError(f"this model has no {side} hip")

    @property
    def bladder_center(self) -> np.ndarray:
        """Centre of the urinary bladder (an ellipsoid), LPS mm."""
        return np.asarray(self.body_center_lps) + np.array([0.0, -55.0, 5.0])

    @property
    def pelvic_fat_center(self) -> np.ndarray:
        """Centre of the fat-filled pelvic cavity (an ellipsoid), LPS mm."""
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
        """Tissue label (:data:`TISSUES`) of LPS points and the distance (mm) to the nearest tissue interface.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        label : ndarray of int8, shape (N,)
            Hip structures first, soft tissue (fat, muscle, bladder, air) where no hip structure is.
        distance : ndarray, shape (N,)
            Distance to the nearest interface, mm (a conservative estimate).
        """
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
        """True in any femoral head of the model.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        return np.logical_or.reduce([h.head_mask(p) for h in self.hips])

    def lesion_mask(self, p: np.ndarray) -> np.ndarray:
        """True in any necrotic lesion of the model.

        Parameters
        ----------
        p : ndarray, shape (N, 3)
            LPS points, mm.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        p = np.asarray(p, dtype=float)
        return np.logical_or.reduce([h.lesion_mask(p) for h in self.hips])


__all__ = [
    "CULL_MM", "TISSUES", "Collapse", "HipModel", "Lesion", "PelvisModel", "default_acetabular_axis",
    "default_dome_direction", "default_neck_axis", "default_shaft_axis", "lateral_lps",
]

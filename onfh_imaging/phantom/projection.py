"""The projection geometry of the phantom radiographs and the femur posed for a view.

A point source casts divergent rays onto a flat detector (:class:`ProjectionGeometry`: magnification,
detector pixel size, image axes in patient LPS). The AP view keeps the hip as modelled; the frog-leg lateral
view turns each femur about its head centre (:func:`frog_rotation`). Tissues attenuate the beam with the
linear coefficients of :data:`MU_PER_MM`.

Image angles are measured from image-up (toward row 0), positive toward increasing column, in degrees:
``atan2(d_col, -d_row)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.phantom.model import HipModel

__all__ = ["MU_PER_MM", "ProjectionGeometry", "frog_rotation", "image_angle_deg"]

# Linear attenuation coefficients at an effective energy near 60 keV, 1/mm.
MU_PER_MM = {
    "fat": 0.0180,
    "muscle": 0.0205,
    "water": 0.0206,
    "cortex": 0.0560,
    "marrow": 0.0290,
    "pelvic_marrow": 0.0300,
    "lesion_band": 0.0420,
    "lesion_fatty": 0.0270,
    "lesion_fluid": 0.0210,
    "ball": 0.4000,
}


# --- geometry --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectionGeometry:
    """A point source, a flat detector and the pixel grid, in patient LPS mm.

    Parameters
    ----------
    source_to_image_mm : float
        Source-to-detector distance (SID), mm.
    object_to_image_mm : float
        Distance from the object plane (through the head centres) to the detector, mm.
    detector_pixel_mm : float
        Detector pixel pitch, mm.
    shape : (int, int)
        Detector rows and columns.
    center_lps : 3 floats
        Point of the object plane hit by the central ray (perpendicular to the detector, through
        the detector's centre).
    """

    source_to_image_mm: float
    object_to_image_mm: float
    detector_pixel_mm: float
    shape: tuple[int, int]
    center_lps: tuple[float, float, float]

    beam = np.array([0.0, 1.0, 0.0])  # anterior -> posterior
    col_axis = np.array([1.0, 0.0, 0.0])  # toward the patient's left
    row_axis = np.array([0.0, 0.0, -1.0])  # toward the feet

    @property
    def magnification(self) -> float:
        """Magnification of the object plane: SID / (SID - OID)."""
        return self.source_to_image_mm / (self.source_to_image_mm - self.object_to_image_mm)

    @property
    def source(self) -> np.ndarray:
        """Position of the X-ray focal spot, LPS mm."""
        sod = self.source_to_image_mm - self.object_to_image_mm
        return np.asarray(self.center_lps) - sod * self.beam

    @property
    def detector_center(self) -> np.ndarray:
        """Centre of the detector, LPS mm."""
        return self.source + self.source_to_image_mm * self.beam

    def detector_points(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """LPS mm of continuous detector positions.

        Parameters
        ----------
        rows, cols : ndarray
            Continuous detector row and column indices (same shapes; pixel centres at integers).

        Returns
        -------
        ndarray, shape (..., 3)
            Detector points, LPS mm.
        """
        nr, nc = self.shape
        p = self.detector_pixel_mm
        dr = (np.asarray(rows, float) - (nr - 1) / 2.0) * p
        dc = (np.asarray(cols, float) - (nc - 1) / 2.0) * p
        return self.detector_center + dr[..., None] * self.row_axis + dc[..., None] * self.col_axis

    def rays(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rays from the source through detector positions.

        Parameters
        ----------
        rows, cols : ndarray
            Continuous detector row and column indices (same shapes).

        Returns
        -------
        source : ndarray, shape (3,)
            The origin of every ray, LPS mm.
        directions : ndarray, shape (N, 3)
            Unit directions (LPS), one per detector position (flattened).
        lengths : ndarray, shape (N,)
            Distance from the source to the detector along each ray, mm.
        """
        d = self.detector_points(rows, cols).reshape(-1, 3) - self.source
        length = np.linalg.norm(d, axis=1)
        return self.source, d / length[:, None], length

    def project(self, points_lps: np.ndarray) -> np.ndarray:
        """Continuous detector ``(row, col)`` of LPS points.

        Parameters
        ----------
        points_lps : ndarray, shape (N, 3)
            Points, LPS mm.

        Returns
        -------
        ndarray, shape (N, 2)
            Detector row and column where each point's ray meets the detector.
        """
        q = np.atleast_2d(np.asarray(points_lps, float)) - self.source
        t = self.source_to_image_mm / (q @ self.beam)
        hit = self.source + t[:, None] * q - self.detector_center
        nr, nc = self.shape
        p = self.detector_pixel_mm
        return np.column_stack([hit @ self.row_axis / p + (nr - 1) / 2.0, hit @ self.col_axis / p + (nc - 1) / 2.0])

    def magnification_at(self, point_lps) -> float:
        """Magnification of a point at the depth of ``point_lps``.

        Parameters
        ----------
        point_lps : 3 floats
            A point, LPS mm.

        Returns
        -------
        float
            Source-to-detector distance over the point's distance from the source along the beam.
        """
        return self.source_to_image_mm / float((np.asarray(point_lps, float) - self.source) @ self.beam)


def image_angle_deg(d_row: np.ndarray, d_col: np.ndarray) -> np.ndarray:
    """Image angle (degrees) of a displacement: 0 = up (toward row 0), +90 = toward higher columns.

    Parameters
    ----------
    d_row, d_col : ndarray
        Displacement along rows and columns, pixels (same shapes).

    Returns
    -------
    ndarray
        Angle in degrees, in (-180, 180].
    """
    return np.degrees(np.arctan2(d_col, -np.asarray(d_row, float)))


# --- the posed femur ------------------------------------------------------------------------------
def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    t = np.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


def frog_rotation(side: str, abduction_deg: float = 45.0, external_rotation_deg: float = 40.0) -> np.ndarray:
    """Rotation (3x3, LPS) turning a femur from neutral into the frog-leg position about its head centre.

    External rotation about the long (z) axis turns the anterior surface laterally; abduction about
    the AP (y) axis then swings the shaft laterally.

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.
    abduction_deg, external_rotation_deg : float
        Abduction and external rotation of the femur, degrees.

    Returns
    -------
    ndarray, shape (3, 3)
        Rotation matrix acting on LPS vectors from the head centre.
    """
    sign = -1.0 if side == "right" else 1.0  # the right hip's lateral is -x
    ext = _rotation(np.array([0.0, 0.0, 1.0]), sign * external_rotation_deg)
    abd = _rotation(np.array([0.0, 1.0, 0.0]), -sign * abduction_deg)
    return abd @ ext


@dataclass(frozen=True)
class _PosedHip:
    """A hip whose femur is rotated by ``rotation`` about the head centre (identity for AP)."""

    hip: HipModel
    rotation: np.ndarray

    def to_model(self, p: np.ndarray) -> np.ndarray:
        """Points in the neutral model frame: ``R^T (p - c) + c``."""
        if np.array_equal(self.rotation, np.eye(3)):
            return p
        c = self.hip.center
        q = p - c
        r = self.rotation
        return q[:, :1] * r[0] + q[:, 1:2] * r[1] + q[:, 2:3] * r[2] + c

    def head_sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed function (mm) of the femoral head: femur inside the reference sphere."""
        q = self.to_model(p)
        return np.maximum(self.hip.femur_sdf(q), np.linalg.norm(q - self.hip.center, axis=1) - self.hip.head_radius_mm)

    def femur_fields(self, p: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """(excess attenuation 1/mm, signed distance mm) of the nested femoral solids: bone, marrow,
        and the necrotic lesion's band and core."""
        mu = MU_PER_MM
        hip = self.hip
        q = self.to_model(p)
        parts = hip._femur_parts(q)
        fem = parts.min(axis=0)
        marrow = fem + hip._cortex_thickness(parts)
        out = [(mu["cortex"] - mu["muscle"], fem), (mu["marrow"] - mu["cortex"], marrow)]
        if hip.lesion is not None:
            les = hip.lesion_sdf(q)
            in_head = np.maximum(marrow, np.linalg.norm(q - hip.center, axis=1) - hip.head_radius_mm)
            core = mu["lesion_fatty"] if hip.lesion.core == "fatty" else mu["lesion_fluid"]
            out += [(mu["lesion_band"] - mu["marrow"], np.maximum(les, in_head)),
                    (core - mu["lesion_band"], np.maximum(les + hip.lesion.band_mm, in_head))]
        return out

    def acetabulum_fields(self, p: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """(excess attenuation 1/mm, signed distance mm) of the acetabular bone and its marrow."""
        mu = MU_PER_MM
        ace = self.hip.acetabulum_sdf(p)
        return [(mu["cortex"] - mu["muscle"], ace),
                (mu["pelvic_marrow"] - mu["cortex"], ace + self.hip.acetabular_cortex_mm)]

    def femur_box(self, margin_mm: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
        """LPS box (lo, hi) around the posed femur: head, neck, shaft and trochanter."""
        hip = self.hip
        c = hip.center
        rs = max(hip.shaft_radius_mm, hip.neck_radius_mm)
        tip = hip.neck_base + hip.shaft_length_mm * np.asarray(hip.shaft_axis_lps)
        pts = [c - hip.head_radius_mm, c + hip.head_radius_mm, hip.neck_base - rs, hip.neck_base + rs,
               tip - rs, tip + rs]
        if hip.trochanter_radius_mm > 0:
            pts += [hip.trochanter_center - hip.trochanter_radius_mm, hip.trochanter_center + hip.trochanter_radius_mm]
        pts = np.array(pts)
        corners = np.array([[x, y, z] for x in pts[:, 0] for y in pts[:, 1] for z in pts[:, 2]])
        turned = (corners - c) @ self.rotation.T + c
        return turned.min(axis=0) - margin_mm, turned.max(axis=0) + margin_mm

    def acetabulum_box(self, margin_mm: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
        """LPS box (lo, hi) around the acetabular cup and the iliac pillar."""
        hip = self.hip
        outer = hip.socket_radius_mm + hip.acetabular_thickness_mm
        pts = [hip.center - outer, hip.center + outer]
        if hip.ilium:
            pts += [hip.ilium_center - hip.ilium_semi_axes, hip.ilium_center + hip.ilium_semi_axes]
        pts = np.array(pts)
        return pts.min(axis=0) - margin_mm, pts.max(axis=0) + margin_mm

    def groups(self):
        """(fields function, bounding box) of the femur and of the acetabulum."""
        return ((self.femur_fields, self.femur_box()), (self.acetabulum_fields, self.acetabulum_box()))

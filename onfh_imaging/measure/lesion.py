"""Necrotic lesion: volume, share of the head, and the modified Kerboul combined necrotic angle."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from onfh_imaging.errors import MeasurementError
from onfh_imaging.geometry import Volume
from onfh_imaging.measure.sphere import Sphere


def _fractions(mask: Volume) -> np.ndarray:
    return np.clip(np.asarray(mask.array, dtype=np.float32), 0.0, 1.0)


def _check_same_grid(a: Volume, b: Volume) -> None:
    if not a.same_grid(b):
        raise MeasurementError("the lesion and head masks are not on the same image grid",
                               hint="resample the lesion mask onto the head mask's grid")


def mask_volume_ml(mask: Volume) -> float:
    """Volume (mL) of a mask: the sum of its partial-volume fractions (or labels) times the voxel volume."""
    return float(_fractions(mask).sum(dtype=np.float64)) * mask.voxel_volume_ml


def lesion_volume_ml(lesion_mask: Volume, head_mask: Volume | None = None) -> float:
    """Volume (mL) of the necrotic lesion, clipped to the femoral head when ``head_mask`` is given.

    Fractions are honoured: a voxel counts ``min(lesion, head)`` of its volume.
    """
    frac = _fractions(lesion_mask)
    if head_mask is not None:
        _check_same_grid(lesion_mask, head_mask)
        frac = np.minimum(frac, _fractions(head_mask))
    return float(frac.sum(dtype=np.float64)) * lesion_mask.voxel_volume_ml


def head_involvement_pct(lesion_mask: Volume, head_mask: Volume) -> float:
    """Percentage of the femoral head's volume occupied by the lesion (clipped to the head)."""
    head = mask_volume_ml(head_mask)
    if head <= 0:
        raise MeasurementError("the femoral head mask is empty")
    return 100.0 * lesion_volume_ml(lesion_mask, head_mask) / head


def _sample(mask: Volume, points_lps: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a mask at LPS points (0 outside the grid)."""
    ijk = mask.lps_to_index(points_lps.reshape(-1, 3))
    values = ndimage.map_coordinates(_fractions(mask), ijk[:, ::-1].T, order=1, mode="constant", cval=0.0)
    return values.reshape(points_lps.shape[:-1])


def _plane_basis(normal_lps) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(normal_lps, float)
    n = n / np.linalg.norm(n)
    seed = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = seed - (seed @ n) * n
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(n, e1)


def necrotic_arc_deg(lesion_mask: Volume, sphere: Sphere, plane_normal_lps, *,
                     head_mask: Volume | None = None,
                     step_deg: float = 0.5, depths_mm: tuple[float, float] = (0.5, 1.5),
                     neck_axis_lps=None, articular_min_angle_deg: float = 65.0) -> float:
    """Arc (deg, about the head centre) that the lesion covers at the articular surface on one plane.

    Rays from the head centre in the plane through it with normal ``plane_normal_lps`` find the
    articular surface (the outermost point where the head mask is at least half inside; the
    reference sphere when no head mask is given). A ray counts as necrotic when, just beneath
    the surface, at least half of the head is lesion. Partial volume makes the lesion look thinner
    right at the surface, so the arc is measured at two depths and extrapolated to the surface; with a
    head mask the depths start beyond half the voxel's extent along the plane's rays (thick slices).

    Parameters
    ----------
    lesion_mask : Volume
        Lesion labels or fractions.
    sphere : Sphere
        Reference sphere (centre and radius, LPS mm).
    plane_normal_lps : array_like
        Normal of the plane (e.g. ``(0, 1, 0)`` for the coronal plane).
    head_mask : Volume, optional
        Femoral head mask on the same grid.
    step_deg : float
        Angular sampling step (deg).
    depths_mm : tuple of 2 float
        Depths below the surface (mm) at which the arc is read.
    neck_axis_lps : array_like, optional
        Unit vector toward the femoral neck: rays within ``articular_min_angle_deg`` of it meet the
        head-neck junction, not the articular surface, and are not counted (a lesion reaching under the
        junction is not articular surface).
    """
    e1, e2 = _plane_basis(plane_normal_lps)
    phi = np.radians(np.arange(0.0, 360.0, step_deg))
    rays = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    articular = np.ones(len(phi), bool)
    if neck_axis_lps is not None:
        neck = np.asarray(neck_axis_lps, float) / np.linalg.norm(neck_axis_lps)
        articular = rays @ neck < np.cos(np.radians(articular_min_angle_deg))
    c, r = sphere.center_lps, sphere.radius_mm
    if head_mask is None:
        surface = np.full(len(phi), r)
    else:
        radii = np.arange(1.15 * r, 0.4 * r, -0.25)
        head = _sample(head_mask, c + radii[None, :, None] * rays[:, None, :])
        inside = head >= 0.5
        first = np.argmax(inside, axis=1)
        hit = inside.any(axis=1)
        prev = np.maximum(first - 1, 0)
        rows = np.arange(len(phi))
        h0, h1 = head[rows, prev], head[rows, first]
        t = np.where(first > 0, (0.5 - h0) / np.maximum(h1 - h0, 1e-6), 0.0)
        surface = np.where(hit, radii[prev] + t * (radii[first] - radii[prev]), np.nan)
    if head_mask is not None:
        # Within half a voxel of the surface (along the ray) the masks' partial volume mixes head and
        # outside, and the lesion's share of the head is inflated where its edge runs oblique to thick
        # slices: the first arc is read at least that deep, and both extrapolated to the surface.
        edges = np.asarray(head_mask.direction, float) * np.asarray(head_mask.spacing, float)[None, :]
        reach = 0.5 * float(np.abs(rays @ edges).sum(axis=1).max())
        shift = max(0.0, reach - depths_mm[0])
        depths_mm = (depths_mm[0] + shift, depths_mm[1] + shift)
    arcs = []
    for depth in depths_mm:
        pts = c + (surface - depth)[:, None] * rays
        lesion = _sample(lesion_mask, pts)
        if head_mask is not None:
            lesion = lesion / np.maximum(_sample(head_mask, pts), 1e-6)
        necrotic = np.isfinite(surface) & (lesion >= 0.5) & articular
        arcs.append(np.count_nonzero(necrotic) * step_deg)
    (a1, a2), (d1, d2) = arcs, depths_mm
    if a1 == 0:
        return 0.0
    return float(np.clip(a1 + (a1 - a2) * d1 / (d2 - d1), 0.0, 360.0))


def kerboul_angle_deg(lesion_mask: Volume, sphere: Sphere, coronal_normal_lps=(0.0, 1.0, 0.0),
                      sagittal_normal_lps=(1.0, 0.0, 0.0), *, head_mask: Volume | None = None,
                      step_deg: float = 0.5, neck_axis_lps=None, articular_min_angle_deg: float = 65.0) -> float:
    """Modified Kerboul combined necrotic angle (deg).

    The sum of the lesion's arcs at the articular surface on the mid-coronal and mid-sagittal planes
    through the head centre (Ha YC et al., J Bone Joint Surg Am 2006;88:35-40). Masks are sampled by
    trilinear interpolation in physical space, so the planes need not be image planes.

    Parameters
    ----------
    lesion_mask : Volume
        Lesion labels or fractions.
    sphere : Sphere
        Reference sphere of the head.
    coronal_normal_lps, sagittal_normal_lps : array_like
        Plane normals (LPS unit vectors); anterior-posterior and left-right by default.
    head_mask : Volume, optional
        Femoral head mask on the same grid, to find the (possibly collapsed) articular surface.
    step_deg : float
        Angular sampling step (deg).
    neck_axis_lps : array_like, optional
        Unit vector toward the neck; the arcs then cover the articular surface only (farther than
        ``articular_min_angle_deg`` from it), as the angle is defined.
    """
    if head_mask is not None:
        _check_same_grid(lesion_mask, head_mask)
    kw = {"head_mask": head_mask, "step_deg": step_deg, "neck_axis_lps": neck_axis_lps,
          "articular_min_angle_deg": articular_min_angle_deg}
    return (necrotic_arc_deg(lesion_mask, sphere, coronal_normal_lps, **kw)
            + necrotic_arc_deg(lesion_mask, sphere, sagittal_normal_lps, **kw))

"""The lateral edge of the acetabular roof on the mid-coronal MRI plane through the femoral head centre.

The JIC classification places the necrotic segment relative to the weight-bearing portion of the head,
the part under the acetabular roof up to the roof's lateral edge (the lateral end of the sourcil). On a
T1-weighted image the roof is bone: a dark subchondral plate and bright marrow, concentric with the
head beyond its cartilage, the acetabular cartilage and the joint space. Lateral to the edge the ray
from the head centre meets the labrum, capsule and abductor muscles instead: no marrow.

So, on the patient's coronal plane through the head centre, rays leave the centre at angles from the
superior pole towards the lateral side. A ray is *covered* when, starting within
:data:`JOINT_MAX_MM` of the head surface, it crosses at least :data:`MIN_BONE_RUN_MM` of marrow-bright
signal (above the midpoint of the head's own marrow and its subchondral plate: the image's own
levels). The roof is the run of covered rays from the pole; its lateral edge lies half a step beyond
its last covered ray, on the surface where the roof's bone begins. When there is no roof above the
head, when the bone continues to the end of the search, when the field of view ends first, or when the
roof begins too close to the reference sphere for the joint's cartilage to fit (:data:`MIN_ROOF_GAP_MM`),
the edge is *not found* and the reason says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.geometry import Volume
from onfh_imaging.segment.rays import radial_profiles, sample_volume

#: Bone of the roof starts within this distance (mm) of the head's surface: femoral and acetabular
#: cartilage (up to about 3 mm each in adults) plus the joint space.
JOINT_MAX_MM = 8.0
#: Marrow-bright run (mm) that makes a ray's bone the roof. The roof thins towards its rim, where its
#: marrow space is a few mm thick and partial volume across a thick slice shrinks it further; two
#: pixels of a 0.7 mm grid of marrow-bright signal is still bone, while the labrum, capsule and
#: abductor muscles beyond the edge have no marrow at all.
MIN_BONE_RUN_MM = 1.5
#: The femoral and acetabular cartilage (about 1 mm or more each in a hip before collapse) and the
#: roof's subchondral plate lie between the head's bone surface and the roof's marrow: a roof whose
#: marrow begins closer than this (mm) to the reference sphere on most of its rays means the sphere is
#: too large or the joint is gone, and the edge is not located.
MIN_ROOF_GAP_MM = 2.0
#: Depth (mm) beyond the head surface searched for the roof's bone (joint + plate + marrow space).
ROOF_SEARCH_MM = 20.0
#: Angles (deg from the superior pole towards lateral) searched; the adult lateral centre-edge angle
#: is 20-45 deg, so the edge lies at 45-70 deg from the pole, and dysplastic or deep sockets stay within.
SEARCH_DEG = (0.0, 110.0)
#: The roof must cover the head within this angle (deg) of the superior pole.
ROOF_TOP_DEG = 30.0
#: Angular step (deg) of the rays; a gap of up to :data:`GAP_DEG` in the covered run is bridged (a
#: vessel channel or noise through the thin lateral roof).
STEP_DEG = 0.5
GAP_DEG = 3.0
#: Radial sampling step (mm).
RADIAL_STEP_MM = 0.25


@dataclass(frozen=True)
class AcetabularEdge:
    """The lateral edge of the acetabular roof on the mid-coronal plane.

    Attributes
    ----------
    found : bool
        Whether the edge was located.
    reason : str
        Why not, in words (empty when found).
    edge_lps_mm : ndarray, shape (3,) or None
        The edge (LPS mm): where the roof's bone begins on its last covered ray.
    lateral_offset_mm : float
        Distance of the edge lateral of the head centre, in the coronal plane (mm; NaN when not found).
    angle_from_pole_deg : float
        Angle of the edge from the superior pole about the head centre (deg; its complement is the
        centre-edge angle of Wiberg measured on this plane).
    """

    found: bool
    reason: str = ""
    edge_lps_mm: np.ndarray | None = None
    lateral_offset_mm: float = float("nan")
    angle_from_pole_deg: float = float("nan")

    def to_dict(self) -> dict:
        """The ``acetabulum`` block of the per-hip contract."""
        return {
            "lateral_edge_found": bool(self.found),
            "lateral_edge_lps_mm": None if self.edge_lps_mm is None
            else [round(float(v), 2) for v in self.edge_lps_mm],
            "lateral_edge_offset_mm": None if not self.found else round(float(self.lateral_offset_mm), 2),
            "center_edge_angle_deg": None if not self.found else round(90.0 - float(self.angle_from_pole_deg), 1),
            "reason": self.reason,
        }


def lateral_lps(side: str) -> np.ndarray:
    """Unit LPS vector towards the patient's ``side`` ("right": -x, "left": +x): lateral for that hip.

    Parameters
    ----------
    side : {"left", "right"}
        The hip.

    Returns
    -------
    ndarray, shape (3,)
        LPS unit vector.

    Raises
    ------
    ValueError
        If ``side`` is neither "left" nor "right".
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    return np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])


SUPERIOR_LPS = np.array([0.0, 0.0, 1.0])


def coronal_directions(side: str, angles_deg: np.ndarray) -> np.ndarray:
    """Unit LPS directions in the coronal plane at ``angles_deg`` from the superior pole towards lateral.

    Parameters
    ----------
    side : {"left", "right"}
        The hip (sets which way is lateral).
    angles_deg : ndarray, shape (N,)
        Angles from the superior pole towards lateral, degrees.

    Returns
    -------
    ndarray, shape (N, 3)
    """
    a = np.radians(np.asarray(angles_deg, float))[:, None]
    return np.cos(a) * SUPERIOR_LPS + np.sin(a) * lateral_lps(side)


def coronal_plane_points(center_lps: np.ndarray, side: str, half_mm: float, step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """LPS points of a square of the coronal plane through ``center_lps``: lateral across, superior up.

    Parameters
    ----------
    center_lps : ndarray, shape (3,)
        Centre of the square, LPS mm.
    side : {"left", "right"}
        The hip (sets which way is lateral).
    half_mm : float
        Half the side of the square, mm.
    step_mm : float
        Spacing of the points, mm.

    Returns
    -------
    points : ndarray, shape (n, n, 3)
        ``points[row, col]``: row 0 at the top (superior), column 0 medial, the last column lateral.
    offsets : ndarray, shape (n,)
        The in-plane offsets (mm) of the columns (lateral) and, reversed, of the rows (superior).
    """
    offsets = np.arange(-half_mm, half_mm + 0.5 * step_mm, step_mm)
    lat = lateral_lps(side)
    rows = offsets[::-1][:, None, None] * SUPERIOR_LPS
    cols = offsets[None, :, None] * lat
    return np.asarray(center_lps, float) + rows + cols, offsets


def _levels(volume: Volume, array: np.ndarray, center: np.ndarray, radius_mm: float, side: str) -> tuple[float, float]:
    """(marrow, plate) signal of the head itself: median marrow well inside, darkest ring at its surface."""
    angles = np.arange(-40.0, 40.1, 2.0)  # the superior dome, medial to lateral
    dirs = coronal_directions(side, angles)
    inner = radial_profiles(volume, array, center, dirs, np.linspace(0.2, 0.5, 7) * radius_mm)
    shell = radial_profiles(volume, array, center, dirs, radius_mm + np.arange(-4.0, 1.01, RADIAL_STEP_MM))
    marrow = float(np.median(inner))
    plate = float(np.min(np.median(shell, axis=0)))
    return marrow, plate


def find_lateral_acetabular_edge(
    volume: Volume,
    center_lps: np.ndarray,
    radius_mm: float,
    side: str,
) -> AcetabularEdge:
    """Find the lateral edge of the acetabular roof on the coronal plane through the head centre.

    Parameters
    ----------
    volume : Volume
        The T1-weighted image (any orientation; sampled trilinearly in patient space).
    center_lps : array-like, shape (3,)
        Head centre (reference sphere), LPS mm.
    radius_mm : float
        Head radius (reference sphere), mm.
    side : {"left", "right"}
        The hip.

    Returns
    -------
    AcetabularEdge
    """
    center = np.asarray(center_lps, float)
    array = np.asarray(volume.array, dtype=np.float32)
    marrow, plate = _levels(volume, array, center, radius_mm, side)
    if not marrow > plate:
        return AcetabularEdge(False, "the head's marrow is not brighter than its subchondral plate here")
    bright = 0.5 * (marrow + plate)
    angles = np.arange(SEARCH_DEG[0], SEARCH_DEG[1] + 1e-9, STEP_DEG)
    radii = radius_mm + np.arange(0.0, ROOF_SEARCH_MM + 1e-9, RADIAL_STEP_MM)
    values, inside = radial_profiles(volume, array, center, coronal_directions(side, angles), radii,
                                     return_inside=True)
    covered, start = _covered_rays(values >= bright, radii - radius_mm)
    run = _roof_run(covered, inside, angles)
    if isinstance(run, str):
        return AcetabularEdge(False, run)
    last = run
    edge_angle = angles[last] + 0.5 * STEP_DEG
    depth = float(np.median(start[: last + 1][covered[: last + 1]]))
    if depth < MIN_ROOF_GAP_MM:
        return AcetabularEdge(
            False,
            f"the acetabular roof's marrow begins {depth:.1f} mm beyond the reference sphere (under "
            f"{MIN_ROOF_GAP_MM:g} mm: no room for the cartilage; the sphere may be too large or the joint gone)",
        )
    direction = coronal_directions(side, [edge_angle])[0]
    edge = center + (radius_mm + depth) * direction
    offset = float((edge - center) @ lateral_lps(side))
    return AcetabularEdge(True, "", edge, offset, float(edge_angle))


def _covered_rays(bright: np.ndarray, depth_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per ray: does a marrow-bright run of :data:`MIN_BONE_RUN_MM` start within :data:`JOINT_MAX_MM`?

    Returns the bool per ray and the depth (mm beyond the head surface) where that run starts.
    """
    need = int(np.ceil(MIN_BONE_RUN_MM / RADIAL_STEP_MM))
    # runs of `need` bright samples: a sliding window sum over the radial axis
    csum = np.concatenate([np.zeros((bright.shape[0], 1)), np.cumsum(bright, axis=1)], axis=1)
    window = csum[:, need:] - csum[:, :-need]
    full = window >= need  # a run of `need` bright samples starts at this sample
    # the roof is beyond the joint: skip the head's own marrow by starting after its first dark sample
    first_dark = np.argmax(~bright, axis=1)
    idx = np.arange(full.shape[1])[None, :]
    allowed = (idx > first_dark[:, None]) & (depth_mm[: full.shape[1]][None, :] <= JOINT_MAX_MM)
    hits = full & allowed
    covered = hits.any(axis=1)
    start = np.where(covered, depth_mm[np.argmax(hits, axis=1)], np.nan)
    return covered, start


def _roof_run(covered: np.ndarray, inside: np.ndarray, angles: np.ndarray) -> int | str:
    """Index of the last covered ray of the roof's run from the pole, or the reason there is none."""
    top = np.flatnonzero(covered & (angles <= ROOF_TOP_DEG))
    if top.size == 0:
        if not inside[angles <= ROOF_TOP_DEG].all():
            return "the field of view ends before the acetabular roof above the head"
        return "no acetabular roof found above the head on the mid-coronal plane"
    gap = round(GAP_DEG / STEP_DEG)
    last, n = int(top[0]), int(top[0])
    while n + 1 < len(angles):
        n += 1
        if not inside[n].all():
            return "the field of view ends before the lateral edge of the acetabular roof"
        if covered[n]:
            last = n
        elif n - last > gap:
            return last
    return "the acetabular roof's bone continues to the end of the search: no lateral edge found"


def sample_plane(volume: Volume, array: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Trilinear samples of ``array`` on ``volume``'s grid at the plane's ``points``; 0 outside.

    Parameters
    ----------
    volume : Volume
        Grid geometry of ``array``.
    array : ndarray, shape ``volume.shape``
        Values to sample.
    points : ndarray, shape (n, n, 3)
        Plane points, LPS mm (e.g. from :func:`coronal_plane_points`).

    Returns
    -------
    ndarray, shape (n, n)
        Samples; 0 beyond half a voxel outside the field of view.
    """
    values = sample_volume(volume, array, points)
    ijk = volume.lps_to_index(points)
    inside = np.all((ijk >= -0.5) & (ijk <= np.asarray(volume.size, float) - 0.5), axis=-1)
    return np.where(inside, values, 0.0)

"""Whether a measured depression of the femoral head is collapse: explicit checks before stage III.

A depth read from a surface is collapse only if the image shows a depression there, not noise, a
partial-volume edge or a normal pit. Each check below is a
:class:`~onfh_imaging.quality.QualityCheck` that blocks stage III when it fails
(``blocks_stage_iii``); the hip is then measured, staged on what the evidence supports, and flagged for
review with the reason. The checks, each from anatomy or from the image's own resolution:

* **area**: the depression covers at least :data:`MIN_COLLAPSE_AREA_MM2` of articular surface deeper than
  the detection limit (a subchondral fracture spans several millimetres; a smaller dip is the size of
  the patch the depth is averaged over, i.e. a few vertices);
* **slices or sharp rays**: the depressed area spans at least two slices (its extent along the slice
  normal reaches the slice spacing) or lies where rays run nearly within the slice plane and the surface
  is located at in-plane resolution;
* **not the fovea**: not within :data:`FOVEA_HALF_ANGLE_DEG` of the fovea capitis (medial, slightly
  inferior and posterior of the head centre), the normal pit where the ligamentum teres attaches; the
  search also keeps one voxel away from the pit as this head shows it (:func:`outside_fovea_pit`);
* **not the head-neck junction**: farther from the neck axis than the articular limit plus
  :data:`JUNCTION_MARGIN_DEG`;
* **beyond its uncertainty**: deeper than the detection limit by :data:`UNCERTAINTY_K` times the
  robust scatter of the intact articular surface about the sphere;
* **surface contrast**: the segmentation resolved the bone surface there from the image (plate and
  cartilage seen), rather than carrying it over from neighbouring directions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.sparse import csgraph

from onfh_imaging.fitting import Sphere, robust_scale
from onfh_imaging.measure.surface import SurfaceMesh
from onfh_imaging.quality import QualityCheck
from onfh_imaging.segment.anatomy import (  # the fovea's geometry is the segmentation's too
    FOVEA_HALF_ANGLE_DEG,
    FOVEA_TILT_DEG,
    fovea_direction,
    outside_fovea,
)

__all__ = ["FOVEA_HALF_ANGLE_DEG", "FOVEA_TILT_DEG", "collapse_evidence_checks", "fovea_direction",
           "outside_fovea", "outside_fovea_pit"]

MIN_COLLAPSE_AREA_MM2 = np.pi * 2.5 ** 2
"""Least area (mm^2) of a collapse: the 2.5 mm radius patch over which the depth is estimated
(:func:`onfh_imaging.measure.deviation.collapse`); a smaller depression is a few vertices' noise."""

SHARP_RAY_MAX_COS = 0.35
"""A surface direction within ~20 deg of the slice plane (|u . slice normal| below this) is located at
in-plane resolution (as the segmentation's well-resolved rays)."""

JUNCTION_MARGIN_DEG = 5.0
"""A depression must lie this far (deg) beyond the articular limit from the neck axis; nearer, it is the
head-neck junction's own edge."""

UNCERTAINTY_K = 2.0
"""A depth counts only when it exceeds the detection limit by this many robust standard deviations of
the intact surface's radial scatter (about 95 % one-sided for a normal scatter)."""

MIN_SUPPORT = 0.5
"""Least share of the surface around the collapse direction that the segmentation resolved from the
image (plate and cartilage seen)."""


def outside_fovea_pit(mesh: SurfaceMesh, sphere: Sphere, side: str, voxel_edges_lps: np.ndarray,
                      depth_mm: float) -> np.ndarray:
    """Bool per vertex: away from the fovea capitis as this head shows it.

    Besides the cone of :data:`FOVEA_HALF_ANGLE_DEG` about the expected fovea direction, the pit itself
    (vertices of that cone deeper than ``depth_mm`` below the sphere) is widened by one voxel's largest
    edge: a binary or partial-volume surface feels the pit's rim up to a voxel away (as at the head-neck
    junction), and the pit's position varies between people, so its blurred rim can leave the cone.

    Parameters
    ----------
    mesh, sphere : SurfaceMesh, Sphere
        Head surface (LPS mm) and reference sphere.
    side : str
        ``"left"`` or ``"right"``.
    voxel_edges_lps : ndarray, shape (3, 3)
        Edge vectors (mm, columns ``i, j, k``) of the voxels the mesh came from.
    depth_mm : float
        Depth (mm) below the sphere that counts as the pit (the detection limit of collapse).

    Returns
    -------
    ndarray of bool, shape (n_vertices,)
        True where a vertex lies outside the fovea cone and more than a voxel's largest edge from the pit.
    """
    c = np.asarray(sphere.center_lps, float)
    v = mesh.vertices_lps - c
    dist = np.linalg.norm(v, axis=1)
    dirs = v / np.maximum(dist, 1e-9)[:, None]
    outside = outside_fovea(dirs, side)
    pit = ~outside & (dist - sphere.radius_mm < -depth_mm)
    if not pit.any():
        return outside
    reach = float(np.max(np.linalg.norm(np.asarray(voxel_edges_lps, float), axis=0)))
    near, _ = cKDTree(mesh.vertices_lps[pit]).query(mesh.vertices_lps, distance_upper_bound=reach)
    return outside & ~np.isfinite(near)


def _depressed_component(mesh: SurfaceMesh, region: np.ndarray, seed: int) -> np.ndarray:
    """The connected part (over mesh edges) of ``region`` holding vertex ``seed``."""
    f = mesh.faces
    a = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    b = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    keep = region[a] & region[b]
    n = len(mesh.vertices_lps)
    graph = sparse.coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
    _, labels = csgraph.connected_components(graph, directed=False)
    return region & (labels == labels[seed])


def collapse_evidence_checks(mesh: SurfaceMesh, sphere: Sphere, collapse, *, side: str,
                             articular: np.ndarray, observed: np.ndarray, neck_axis_lps,
                             articular_min_angle_deg: float, detection_mm: float,
                             slice_normal_lps: np.ndarray, slice_spacing_mm: float,
                             areas_mm2: np.ndarray,
                             surface_resolved_at: Callable[[np.ndarray], np.ndarray] | None = None,
                             ) -> list[QualityCheck]:
    """Checks that a depression deeper than the detection limit is collapse (module docstring).

    Parameters
    ----------
    mesh, sphere : SurfaceMesh, Sphere
        Head surface (LPS mm) and reference sphere.
    collapse : onfh_imaging.measure.deviation.Collapse
        The deepest depression found.
    side : str
        ``"left"`` or ``"right"``.
    articular, observed : ndarray of bool, shape (n_vertices,)
        Articular vertices; vertices inside the field of view.
    neck_axis_lps : array_like or None
        Unit vector toward the neck.
    articular_min_angle_deg : float
        The articular limit from the neck axis (deg).
    detection_mm : float
        Smallest depth read as collapse on this grid (mm).
    slice_normal_lps : ndarray, shape (3,)
        Unit normal of the image slices.
    slice_spacing_mm : float
        Slice spacing (mm).
    areas_mm2 : ndarray, shape (n_vertices,)
        Area each vertex stands for.
    surface_resolved_at : callable, optional
        ``f(directions (n, 3)) -> share 0..1`` of the surface the segmentation resolved there.

    Returns
    -------
    list of QualityCheck
        Empty when the depth is below the detection limit (no collapse is claimed).
    """
    depth = float(collapse.depth_mm)
    if depth < detection_mm:
        return []
    c = np.asarray(sphere.center_lps, float)
    dev = np.linalg.norm(mesh.vertices_lps - c, axis=1) - sphere.radius_mm
    dirs = (mesh.vertices_lps - c) / np.maximum(np.linalg.norm(mesh.vertices_lps - c, axis=1), 1e-9)[:, None]
    u = np.asarray(collapse.direction_lps, float)
    usable = articular & observed & outside_fovea(dirs, side)
    seed = int(np.argmin(np.linalg.norm(mesh.vertices_lps - collapse.location_lps, axis=1)))
    region = usable & (dev < -detection_mm)
    region[seed] = True
    comp = _depressed_component(mesh, region, seed)
    checks = _extent_checks(mesh, comp, depth, u, areas_mm2, slice_normal_lps, slice_spacing_mm)
    checks += _place_checks(u, side, neck_axis_lps, articular_min_angle_deg)
    intact = usable & ~comp
    scatter = robust_scale(dev[intact]) if intact.sum() >= 20 else float("inf")
    needed = detection_mm + UNCERTAINTY_K * scatter
    checks.append(QualityCheck(
        "collapse_beyond_uncertainty", depth >= needed,
        float(np.clip((depth - detection_mm) / max(needed - detection_mm, 1e-9), 0.0, 1.0)),
        f"the {depth:.2f} mm depression is within the surface's own scatter ({scatter:.2f} mm; "
        f"{needed:.2f} mm needed to read collapse)", value=depth, limit=needed, unit="mm",
        blocks_stage_iii=True))
    if surface_resolved_at is not None:
        support = float(np.asarray(surface_resolved_at(u[None, :])).reshape(-1)[0])
        checks.append(QualityCheck(
            "collapse_surface_contrast", support >= MIN_SUPPORT, min(1.0, support / MIN_SUPPORT),
            f"the image resolved the bone surface on only {100 * support:.0f} % of the directions around the "
            "depression (plate and cartilage not seen there)", value=support, limit=MIN_SUPPORT, unit="1",
            blocks_stage_iii=True))
    return checks


def _extent_checks(mesh: SurfaceMesh, comp: np.ndarray, depth: float, u: np.ndarray, areas_mm2: np.ndarray,
                   slice_normal_lps: np.ndarray, slice_spacing_mm: float) -> list[QualityCheck]:
    """Area of the depressed component ``comp`` and its extent across the slices."""
    area = float(areas_mm2[comp].sum())
    checks = [QualityCheck(
        "collapse_area", area >= MIN_COLLAPSE_AREA_MM2, min(1.0, area / MIN_COLLAPSE_AREA_MM2),
        f"the {depth:.1f} mm depression covers only {area:.0f} mm2 of articular surface "
        f"({MIN_COLLAPSE_AREA_MM2:.0f} mm2 needed for collapse)",
        value=area, limit=MIN_COLLAPSE_AREA_MM2, unit="mm2", blocks_stage_iii=True)]
    n = np.asarray(slice_normal_lps, float)
    along = mesh.vertices_lps[comp] @ n
    extent = float(along.max() - along.min()) if comp.any() else 0.0
    sharp = abs(float(u @ n)) < SHARP_RAY_MAX_COS
    checks.append(QualityCheck(
        "collapse_across_slices", bool(extent >= slice_spacing_mm or sharp),
        1.0 if sharp else min(1.0, extent / slice_spacing_mm),
        f"the depression spans {extent:.1f} mm across the slices (one {slice_spacing_mm:.1f} mm slice) "
        "where the slices blur the surface; it may be a single slice's partial volume",
        value=extent, limit=slice_spacing_mm, unit="mm", blocks_stage_iii=True))
    return checks


def _place_checks(u: np.ndarray, side: str, neck_axis_lps, articular_min_angle_deg: float) -> list[QualityCheck]:
    """Where the depression's direction ``u`` lies: not on the fovea, not at the head-neck junction."""
    checks: list[QualityCheck] = []
    fovea_angle = float(np.degrees(np.arccos(np.clip(u @ fovea_direction(side), -1, 1))))
    checks.append(QualityCheck(
        "collapse_not_fovea", fovea_angle > FOVEA_HALF_ANGLE_DEG, float(fovea_angle > FOVEA_HALF_ANGLE_DEG),
        f"the depression lies {fovea_angle:.0f} deg from the fovea capitis (a normal pit), not on the "
        "weight-bearing surface", value=fovea_angle, limit=FOVEA_HALF_ANGLE_DEG, unit="deg",
        blocks_stage_iii=True))
    if neck_axis_lps is not None:
        neck = np.asarray(neck_axis_lps, float) / np.linalg.norm(neck_axis_lps)
        neck_angle = float(np.degrees(np.arccos(np.clip(u @ neck, -1, 1))))
        limit = articular_min_angle_deg + JUNCTION_MARGIN_DEG
        checks.append(QualityCheck(
            "collapse_not_junction", neck_angle >= limit, float(neck_angle >= limit),
            f"the depression lies {neck_angle:.0f} deg from the neck axis, at the head-neck junction "
            f"(articular from {limit:.0f} deg)", value=neck_angle, limit=limit, unit="deg",
            blocks_stage_iii=True))
    return checks

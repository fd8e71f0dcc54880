"""All measures of one hip from its masks: femoral head, necrotic lesion, suggested stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onfh_imaging.errors import MeasurementError
from onfh_imaging.geometry import Volume
from onfh_imaging.measure.deviation import (
    ARTICULAR_MIN_ANGLE_DEG,
    COLLAPSE_DETECTION_MM,
    Collapse,
    articular_vertices,
    collapse,
    collapse_detection_mm,
    deviation_map,
    estimate_neck_axis,
    normal_extent_mm,
    rms_deviation_mm,
)
from onfh_imaging.measure.evidence import MIN_SUPPORT, collapse_evidence_checks, outside_fovea_pit
from onfh_imaging.measure.lesion import (
    head_involvement_pct,
    kerboul_angle_deg,
    lesion_volume_ml,
    mask_volume_ml,
)
from onfh_imaging.measure.sphere import Sphere, fit_reference_sphere
from onfh_imaging.measure.surface import (
    SurfaceMesh,
    head_surface_mesh,
    is_fractional,
    sphericity,
    touches_border,
)
from onfh_imaging.quality import Quality, combine
from onfh_imaging.vocab import SIDES

MIN_SURFACE_POINTS = 200
"""Fewer mesh vertices than this cannot support a reference-sphere fit."""

MAX_FIT_POINTS = 20000
"""Vertices used for each sphere fit (an even subsample of the mesh beyond this)."""

LOW_INLIER_FRACTION = 0.6


@dataclass(frozen=True, eq=False)
class HipMeasures:
    """Measures of one hip, and the surface they came from.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    sphere : Sphere
        Reference sphere (head centre and radius, LPS mm).
    volume_ml, sphericity, rms_deviation_mm : float
        Head volume (mL), sphericity of its surface (1), RMS radial deviation of the articular
        surface from the sphere (mm).
    collapse : Collapse
        Deepest depression of the articular surface.
    lesion_volume_ml, head_involvement_pct, kerboul_angle_deg : float or None
        Lesion measures (None when no lesion mask was given).
    arco_2019, arco_basis, steinberg_extent, arco_1992 : str or None
        Suggested staging, set by :func:`onfh_imaging.staging.stage_hip` (None and "not staged" until then).
    warnings : list of str
        Reasons to check the result.
    mesh : SurfaceMesh
        Head surface (LPS mm), for display.
    deviation_mm : ndarray
        Signed radial deviation of each mesh vertex from the sphere (mm, negative inside).
    articular : ndarray of bool
        Which vertices are articular surface.
    neck_axis_lps : ndarray or None
        Neck axis used (given or estimated).
    collapse_detection_mm : float
        Smallest depth (mm) read as collapse on this image's grid
        (:func:`onfh_imaging.staging.collapse_detection_mm`).
    """

    side: str
    sphere: Sphere
    volume_ml: float
    sphericity: float
    rms_deviation_mm: float
    collapse: Collapse
    lesion_volume_ml: float | None
    head_involvement_pct: float | None
    kerboul_angle_deg: float | None
    arco_2019: str | None = None
    arco_basis: str = "not staged"
    steinberg_extent: str | None = None
    arco_1992: str | None = None
    warnings: list[str] = field(default_factory=list)
    mesh: SurfaceMesh | None = None
    deviation_mm: np.ndarray | None = None
    articular: np.ndarray | None = None
    neck_axis_lps: np.ndarray | None = None
    collapse_detection_mm: float = COLLAPSE_DETECTION_MM
    quality: Quality = field(default_factory=lambda: combine(()))

    def to_dict(self) -> dict[str, Any]:
        """The per-hip element of the measurement JSON contract (floats rounded to sensible precision).

        Returns
        -------
        dict
            JSON-ready ``side``, ``head`` (sphere, volume, shape, collapse), ``lesion``, ``staging``,
            ``quality`` and ``warnings``.
        """
        head = {
            "center_lps_mm": [round(float(v), 2) for v in self.sphere.center_lps],
            "radius_mm": round(self.sphere.radius_mm, 2),
            "volume_ml": round(self.volume_ml, 3),
            "sphericity": round(self.sphericity, 4),
            "rms_deviation_mm": round(self.rms_deviation_mm, 2),
            "collapse_depth_mm": round(self.collapse.depth_mm, 2),
            "collapse_direction_lps": [round(float(v), 3) for v in self.collapse.direction_lps],
            "collapse_in_weight_bearing_dome": bool(self.collapse.in_weight_bearing_dome),
            "collapse_detection_mm": round(float(self.collapse_detection_mm), 2),
        }
        lesion = None
        if self.lesion_volume_ml is not None:
            lesion = {
                "volume_ml": round(self.lesion_volume_ml, 3),
                "head_involvement_pct": round(float(self.head_involvement_pct or 0.0), 1),
                "kerboul_angle_deg": round(float(self.kerboul_angle_deg or 0.0), 1),
            }
        staging = {"arco_2019": self.arco_2019, "arco_basis": self.arco_basis,
                   "steinberg_extent": self.steinberg_extent, "arco_1992": self.arco_1992}
        return {"side": self.side, "head": head, "lesion": lesion, "staging": staging,
                "quality": self.quality.to_dict(), "warnings": list(self.warnings)}


def _even_subsample(n: int, limit: int) -> np.ndarray:
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).astype(int)


def _robust_sphere(points: np.ndarray, areas: np.ndarray) -> Sphere:
    pick = _even_subsample(len(points), MAX_FIT_POINTS)
    return fit_reference_sphere(points[pick], areas[pick])


def _binary_resolution_warning(head_mask: Volume, col: Collapse, voxel_edges_lps: np.ndarray) -> list[str]:
    """A warning when a binary mask cannot resolve the depth it reports at the collapse location.

    A binary mask knows the surface only to half a voxel along the surface normal, which near the
    normal of thick slices is half the slice thickness; a shallower depression there may be the
    mask's quantisation rather than collapse.
    """
    if col.depth_mm <= 0 or is_fractional(np.asarray(head_mask.array)):
        return []
    half_extent = 0.5 * normal_extent_mm(col.direction_lps, voxel_edges_lps)
    if col.depth_mm >= half_extent:
        return []
    message = (f"the collapse depth ({col.depth_mm:.2f} mm) is within the +-{half_extent:.1f} mm to which a "
               "binary mask places the surface there (thick slices along the surface normal); measure "
               "partial-volume fractions to confirm it")
    return [message]


#: Least number of searched vertices left on the traced surface for the search to be restricted to it
#: (a collapse patch of 2.5 mm radius holds a few dozen vertices on a 0.5-1 mm mesh).
MIN_TRACED_VERTICES = 50


def _traced_from_the_image(mesh, sphere: Sphere, searched: np.ndarray, surface_resolved_at) -> np.ndarray:
    """The searched vertices where the segmentation traced the surface from the image.

    Where fewer than :data:`~onfh_imaging.measure.evidence.MIN_SUPPORT` of the rays around a direction
    were traced (the band next to the head-neck junction, where the cartilage ends and no ray is fitted,
    or a region whose layers the image does not show), the surface is carried over from the traced
    surface around it, so a depression there is the carrying's, not the image's: collapse is not searched
    there. With too few traced vertices left (or no record of what was traced) every searched vertex is
    kept, and the collapse evidence check on the surface's support flags the depth.
    """
    if surface_resolved_at is None:
        return searched
    u = mesh.vertices_lps - sphere.center_lps
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    traced = searched & (np.asarray(surface_resolved_at(u)).reshape(-1) >= MIN_SUPPORT)
    return traced if traced.sum() >= MIN_TRACED_VERTICES else searched


def _inside_field_of_view(mesh, grid: Volume, margin_voxels: float = 0.5) -> np.ndarray:
    """Vertices at least ``margin_voxels`` inside the image grid: nearer the edge, the surface is where the
    field of view cut the head (or its partial-volume blur), not anatomy."""
    idx = grid.lps_to_index(mesh.vertices_lps)
    size = np.asarray(grid.size, float)
    return np.all((idx >= margin_voxels) & (idx <= size - 1 - margin_voxels), axis=1)


def measure_hip(head_mask: Volume, lesion_mask: Volume | None = None, *, side: str,
                neck_axis_lps=None, roof_direction_lps=None,
                articular_min_angle_deg: float = ARTICULAR_MIN_ANGLE_DEG,
                segmentation_quality: Quality | None = None,
                surface_resolved_at=None, junction=None) -> HipMeasures:
    """Measure one hip from its femoral head mask and (optionally) its necrotic lesion mask.

    Parameters
    ----------
    head_mask : Volume
        Femoral head (the femur inside its reference sphere): labels or partial-volume fractions.
    lesion_mask : Volume, optional
        Necrotic lesion on the same grid. None when the lesion was not segmented (the output's
        ``lesion`` is then null); an empty mask means no lesion (volume 0).
    side : str
        ``"left"`` or ``"right"``.
    neck_axis_lps : array_like, optional
        Unit vector from the head centre toward the femoral neck; estimated from the surface when
        omitted.
    roof_direction_lps : array_like, optional
        Centre of the weight-bearing dome; superior (+z) when omitted.
    articular_min_angle_deg : float
        Surface further than this (deg) from the neck axis is articular.
    segmentation_quality : Quality, optional
        The segmentation's checks, merged with the collapse evidence checks into ``quality``.
    surface_resolved_at : callable, optional
        ``f(directions (n, 3)) -> 0..1``: share of the bone surface the segmentation resolved from the
        image around each direction (:meth:`HipSegmentation.surface_resolved_at`); collapse needs it.
    junction : HeadNeckJunction, optional
        The head's own head-neck junction (:attr:`HipSegmentation.junction`): the Kerboul arcs end there
        instead of at ``articular_min_angle_deg``.

    Returns
    -------
    HipMeasures
        Reference sphere, head volume (mL), sphericity, articular RMS deviation (mm), collapse, lesion
        figures (None without a lesion mask), per-vertex deviation (mm), warnings and quality checks.

    Raises
    ------
    MeasurementError
        Empty masks, too few surface points, masks on different grids, an unknown side.
    """
    if side not in SIDES:
        raise MeasurementError(f"side must be 'left' or 'right', got {side!r}")
    mesh, observed, areas, sphere, neck_axis_lps, articular, warnings = _fit_head_surface(
        head_mask, neck_axis_lps, articular_min_angle_deg)
    voxel_edges = np.asarray(head_mask.direction, float) * np.asarray(head_mask.spacing, float)[None, :]
    searched = observed & outside_fovea_pit(mesh, sphere, side, voxel_edges,
                                            collapse_detection_mm(sorted(head_mask.spacing)[1]))
    col = collapse(mesh, sphere, neck_axis_lps, roof_direction_lps,
                   articular_min_angle_deg=articular_min_angle_deg, areas_mm2=areas,
                   voxel_edges_lps=voxel_edges,
                   observed=searched, traced=_traced_from_the_image(mesh, sphere, searched, surface_resolved_at))
    warnings.extend(_binary_resolution_warning(head_mask, col, voxel_edges))
    volume = mask_volume_ml(head_mask)
    lesion_ml, involvement, kerboul, lesion_warnings = _lesion_measures(
        lesion_mask, head_mask, sphere, neck_axis_lps,
        junction.angle_at if junction is not None else articular_min_angle_deg)
    warnings.extend(lesion_warnings)
    in_plane_mm = sorted(head_mask.spacing)[1]  # the finer two axes carry the dome's outline
    detection_mm = collapse_detection_mm(in_plane_mm)
    evidence = collapse_evidence_checks(
        mesh, sphere, col, side=side, articular=articular, observed=observed, neck_axis_lps=neck_axis_lps,
        articular_min_angle_deg=articular_min_angle_deg, detection_mm=detection_mm,
        slice_normal_lps=head_mask.axis_of_slices(), slice_spacing_mm=float(head_mask.spacing[2]),
        areas_mm2=areas, surface_resolved_at=surface_resolved_at)
    quality = combine((segmentation_quality.checks if segmentation_quality is not None else ()) + tuple(evidence))
    return HipMeasures(
        side=side, sphere=sphere, volume_ml=volume, sphericity=sphericity(mesh),
        rms_deviation_mm=rms_deviation_mm(mesh, sphere, articular), collapse=col,
        lesion_volume_ml=lesion_ml, head_involvement_pct=involvement, kerboul_angle_deg=kerboul,
        warnings=warnings, mesh=mesh,
        deviation_mm=deviation_map(mesh, sphere), articular=articular, neck_axis_lps=neck_axis_lps,
        collapse_detection_mm=detection_mm, quality=quality,
    )


def _fit_head_surface(head_mask: Volume, neck_axis_lps, articular_min_angle_deg: float
                      ) -> tuple[SurfaceMesh, np.ndarray, np.ndarray, Sphere, np.ndarray, np.ndarray, list[str]]:
    """The head's surface mesh and its reference sphere, fitted to the imaged articular surface.

    Returns the mesh, which vertices are imaged (inside the field of view), vertex areas (mm^2), the
    sphere, the unit neck axis (given or estimated), which vertices are articular, and warnings (the
    field of view cutting the head, a low inlier fraction).
    """
    warnings: list[str] = []
    mesh = head_surface_mesh(head_mask)
    observed = _inside_field_of_view(mesh, head_mask)
    if touches_border(head_mask.array) or observed.mean() < 0.98:
        warnings.append(f"the field of view cuts the femoral head ({100 * (1 - observed.mean()):.0f} % of its "
                        "surface); collapse is searched only where the surface is imaged, and volume and "
                        "sphericity include the cut")
    if len(mesh.vertices_lps) < MIN_SURFACE_POINTS:
        raise MeasurementError(f"the femoral head mask has too few surface points ({len(mesh.vertices_lps)}) "
                               "to fit a sphere")
    areas = mesh.vertex_areas_mm2()
    sphere = _robust_sphere(mesh.vertices_lps, areas)
    if neck_axis_lps is None:
        neck_axis_lps = estimate_neck_axis(mesh, sphere)
    else:
        neck_axis_lps = np.asarray(neck_axis_lps, float) / np.linalg.norm(neck_axis_lps)
    articular = articular_vertices(mesh, sphere, neck_axis_lps, min_angle_deg=articular_min_angle_deg)
    fitted = articular & observed
    if np.count_nonzero(fitted) < MIN_SURFACE_POINTS:
        raise MeasurementError("too few imaged articular surface points to fit the reference sphere")
    sphere = _robust_sphere(mesh.vertices_lps[fitted], areas[fitted])
    articular = articular_vertices(mesh, sphere, neck_axis_lps, min_angle_deg=articular_min_angle_deg)
    if sphere.inlier_fraction < LOW_INLIER_FRACTION:
        warnings.append(f"only {100 * sphere.inlier_fraction:.0f} % of the articular surface lies on the "
                        "reference sphere; the head may be severely deformed")
    return mesh, observed, areas, sphere, neck_axis_lps, articular, warnings


def _lesion_measures(lesion_mask: Volume | None, head_mask: Volume, sphere: Sphere, neck_axis_lps: np.ndarray,
                     articular_min_angle_deg
                     ) -> tuple[float | None, float | None, float | None, list[str]]:
    """Lesion volume (mL) inside the head, head involvement (%), Kerboul angle (deg) and warnings; all None
    without a lesion mask."""
    if lesion_mask is None:
        return None, None, None, []
    warnings: list[str] = []
    lesion_ml = lesion_volume_ml(lesion_mask, head_mask)
    involvement = head_involvement_pct(lesion_mask, head_mask)
    kerboul = (kerboul_angle_deg(lesion_mask, sphere, head_mask=head_mask, neck_axis_lps=neck_axis_lps,
                                 articular_min_angle_deg=articular_min_angle_deg)
               if lesion_ml > 0 else 0.0)
    outside = mask_volume_ml(lesion_mask) - lesion_ml
    if outside > 0.1 * max(lesion_ml, 1e-9) and outside > 0.05:
        warnings.append(f"{outside:.2f} mL of the lesion mask lies outside the femoral head "
                        "and was ignored")
    return lesion_ml, involvement, kerboul, warnings

"""Measurement from masks: reference sphere, sub-voxel surface, sphericity, collapse, lesion."""

from onfh_imaging.measure.deviation import (
    Collapse,
    collapse,
    deviation_map,
    estimate_neck_axis,
    rms_deviation_mm,
)
from onfh_imaging.measure.hip import HipMeasures, measure_hip
from onfh_imaging.measure.lesion import head_involvement_pct, kerboul_angle_deg, lesion_volume_ml
from onfh_imaging.measure.sphere import Sphere, fit_reference_sphere, fit_sphere
from onfh_imaging.measure.surface import (
    SurfaceMesh,
    head_surface_mesh,
    mesh_area_mm2,
    mesh_volume_ml,
    sphericity,
)

__all__ = [
    "Collapse", "HipMeasures", "Sphere", "SurfaceMesh", "collapse", "deviation_map", "estimate_neck_axis",
    "fit_reference_sphere", "fit_sphere", "head_involvement_pct", "head_surface_mesh", "kerboul_angle_deg",
    "lesion_volume_ml", "measure_hip", "mesh_area_mm2", "mesh_volume_ml", "rms_deviation_mm", "sphericity",
]

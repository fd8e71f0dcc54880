import json

import numpy as np
import pytest

from onfh_imaging.errors import MeasurementError
from onfh_imaging.measure import measure_hip
from onfh_imaging.measure.analytic import (
    femoral_head_sdf,
    grid_around,
    oblique_direction,
    spherical_cap_sdf,
    spherical_cap_volume_ml,
    voxelise,
)
from onfh_imaging.staging import stage_hip

R = 23.0
CENTER = np.array([-95.0, 30.0, -120.0])
NECK = np.array([-0.6, 0.0, -0.8])
CORONAL = np.column_stack([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
GRID = dict(shape_kji=(22, 96, 96), spacing=(0.7, 0.7, 3.5), direction=oblique_direction((5, 3, 7)) @ CORONAL)


@pytest.fixture(scope="module")
def grid():
    return grid_around(CENTER + [0.2, -0.3, 0.4], **GRID)


@pytest.fixture(scope="module")
def collapsed_hip(grid):
    head_sdf = femoral_head_sdf(CENTER, R, collapse_depth_mm=2.6, collapse_direction_lps=(0.1, 0.0, 1.0),
                                neck_axis_lps=NECK, neck_radius_mm=14.0, neck_cut_angle_deg=60.0)
    cap = spherical_cap_sdf(CENTER, R, (0.0, 0.0, 1.0), 50.0)
    head = voxelise(grid, head_sdf)
    lesion = voxelise(grid, lambda p: np.maximum(cap(p), head_sdf(p)))
    return head, lesion


def test_measure_hip_reports_the_json_contract(collapsed_hip):
    head, lesion = collapsed_hip
    out = stage_hip(measure_hip(head, lesion, side="right")).to_dict()
    json.dumps(out)
    assert set(out) == {"side", "head", "lesion", "staging", "quality", "warnings"}
    assert set(out["quality"]) >= {"score", "needs_review", "reasons"}
    assert set(out["head"]) == {"center_lps_mm", "radius_mm", "volume_ml", "sphericity", "rms_deviation_mm",
                                "collapse_depth_mm", "collapse_direction_lps",
                                "collapse_in_weight_bearing_dome", "collapse_detection_mm"}
    assert set(out["lesion"]) == {"volume_ml", "head_involvement_pct", "kerboul_angle_deg"}
    assert set(out["staging"]) == {"arco_2019", "arco_basis", "steinberg_extent", "arco_1992"}
    assert out["side"] == "right"
    assert np.allclose(out["head"]["center_lps_mm"], CENTER, atol=0.15)
    assert out["head"]["radius_mm"] == pytest.approx(R, abs=0.1)
    assert out["head"]["collapse_depth_mm"] == pytest.approx(2.6, abs=0.2)
    assert out["head"]["collapse_in_weight_bearing_dome"] is True
    assert out["head"]["sphericity"] < 0.99
    # The lesion is the collapsed cap: less than the intact cap, most of it.
    cap_ml = spherical_cap_volume_ml(R, 50.0)
    assert 0.8 * cap_ml < out["lesion"]["volume_ml"] < cap_ml
    assert out["lesion"]["kerboul_angle_deg"] == pytest.approx(200.0, abs=8.0)
    assert out["staging"]["arco_2019"] == "IIIB"
    assert out["staging"]["steinberg_extent"] == "A"
    assert out["staging"]["arco_1992"] == "3A"
    assert out["warnings"] == []


def test_viewer_gets_the_deviation_map(collapsed_hip):
    hip = measure_hip(collapsed_hip[0], None, side="left")
    assert hip.deviation_mm.shape == (len(hip.mesh.vertices_lps),)
    assert hip.deviation_mm[hip.articular].min() < -2.0
    assert np.degrees(np.arccos(hip.neck_axis_lps @ NECK)) < 3.0


def test_without_lesion_mask_lesion_is_null(collapsed_hip):
    out = stage_hip(measure_hip(collapsed_hip[0], None, side="left")).to_dict()
    assert out["lesion"] is None
    assert out["staging"]["arco_2019"] == "IIIB"
    assert out["staging"]["steinberg_extent"] is None


def test_intact_head_with_empty_lesion_mask(grid):
    head = voxelise(grid, femoral_head_sdf(CENTER, R, neck_axis_lps=NECK, neck_radius_mm=14.0,
                                          neck_cut_angle_deg=60.0))
    out = stage_hip(measure_hip(head, grid.with_array(np.zeros(grid.shape, bool)), side="left")).to_dict()
    assert out["lesion"] == {"volume_ml": 0.0, "head_involvement_pct": 0.0, "kerboul_angle_deg": 0.0}
    assert out["head"]["collapse_depth_mm"] < 0.3
    assert out["staging"]["arco_2019"] == "none"


def test_empty_head_mask_raises(grid):
    with pytest.raises(MeasurementError, match="empty"):
        measure_hip(grid.with_array(np.zeros(grid.shape, bool)), None, side="left")


def test_unknown_side_raises(collapsed_hip):
    with pytest.raises(MeasurementError, match="side"):
        measure_hip(collapsed_hip[0], None, side="both")


def test_head_cut_by_the_image_border_warns(grid):
    shifted = voxelise(grid, femoral_head_sdf(CENTER + grid.direction[:, 0] * 18.0, R))
    out = measure_hip(shifted, None, side="left").to_dict()
    assert any("field of view cuts the femoral head" in w for w in out["warnings"])
    # the flat cut is unknown surface, not a depression of this intact head
    assert out["head"]["collapse_depth_mm"] < 0.3
    assert abs(out["head"]["radius_mm"] - R) < 0.2

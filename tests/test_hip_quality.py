"""The per-hip quality block: collapse evidence before stage III, the fovea, tables and text."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from onfh_imaging.batch.rows import quality_columns
from onfh_imaging.measure.evidence import fovea_direction, outside_fovea
from onfh_imaging.quality import QualityCheck, combine
from onfh_imaging.staging import arco_2019


def test_untrusted_collapse_is_never_stage_iii():
    stage, basis = arco_2019(3.9, False, collapse_trusted=False)
    assert stage == "none" and "needs review" in basis
    stage, _ = arco_2019(1.2, True, collapse_trusted=False)
    assert stage == "I-II"
    assert arco_2019(1.2, True)[0] == "IIIA" and arco_2019(3.0, True)[0] == "IIIB"


def test_a_failed_blocking_check_distrusts_collapse():
    ok = QualityCheck("collapse_area", True, 1.0, "fine", blocks_stage_iii=True)
    bad = QualityCheck("collapse_surface_contrast", False, 0.2, "no contrast", blocks_stage_iii=True)
    hand = QualityCheck("placed_by_hand", False, 1.0, "head placed by hand")
    assert combine([ok, hand]).collapse_trusted and combine([ok, hand]).needs_review
    q = combine([ok, bad, hand])
    assert not q.collapse_trusted and q.reasons == ("no contrast", "head placed by hand")


def test_fovea_lies_medial_and_is_excluded():
    for side, medial in (("right", 1.0), ("left", -1.0)):
        f = fovea_direction(side)
        assert f[0] * medial > 0.7 and f[2] < -0.4  # medial and inferior
        dirs = np.array([f, [0.0, 0.0, 1.0], [-medial, 0.0, 0.0]])
        assert outside_fovea(dirs, side).tolist() == [False, True, True]


def test_batch_rows_carry_quality_columns():
    hip = {"side": "left", "quality": {"score": 0.4, "needs_review": True, "reasons": ["a", "b"]}}
    assert quality_columns(hip) == {"quality_score": 0.4, "needs_review": True, "quality_reasons": "a; b"}
    assert quality_columns({"side": "left"})["needs_review"] is False


def test_text_output_names_the_review_reasons():
    from onfh_imaging.textreport import print_reports

    report = {"schema": "onfh-imaging/measurement/1", "input": {"modality": "MR", "patient_id": "P",
                                                                "study_date": "2024-01-01"},
              "hips": [{"side": "right", "head": {"radius_mm": 24.0, "collapse_depth_mm": 3.9},
                        "lesion": None, "staging": {"arco_2019": "none", "arco_basis": "b"},
                        "quality": {"score": 0.3, "needs_review": True,
                                    "reasons": ["the depression covers only 4 mm2"]},
                        "warnings": []}], "warnings": []}
    buf = io.StringIO()
    print_reports([report], Console(file=buf, width=200))
    assert "the depression covers only 4 mm2" in buf.getvalue()

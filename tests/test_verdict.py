"""One ARCO 2019 verdict per hip and visit from the measurement JSON of every series of the visit."""

from __future__ import annotations

import pytest

from onfh_imaging.measure.radiograph_lesion import BAND_MIN_CONTRAST, RadiographicLesion
from onfh_imaging.staging import arco_2019
from onfh_imaging.verdict import visit_verdicts, with_verdicts

PIXEL = [0.127, 0.127]


def _mr(depth: float, lesion_ml: float | None = 20.0, *, detection: float = 0.5, quality: dict | None = None,
        side: str = "right", date: str = "2026-01-01") -> dict:
    lesion = None if lesion_ml is None else {"volume_ml": lesion_ml, "head_involvement_pct": 35.0,
                                             "kerboul_angle_deg": 240.0}
    hip = {"side": side, "head": {"radius_mm": 24.0, "collapse_depth_mm": depth,
                                  "collapse_detection_mm": detection},
           "lesion": lesion, "staging": {"arco_2019": arco_2019(depth, None if lesion_ml is None else lesion_ml > 0,
                                                                collapse_detection_mm=detection)[0]},
           "warnings": []}
    if quality is not None:
        hip["quality"] = quality
    return {"input": {"patient_id": "P", "study_instance_uid": "S", "study_date": date, "modality": "MR",
                      "series_instance_uid": "MR1", "series_description": "COR T1"}, "hips": [hip]}


def _xr(view: str, depth: float, *, jsw: float = 4.1, double: bool = False, quality: dict | None = None,
        side: str = "right", date: str = "2026-01-01", pixel=PIXEL, finding: dict | None = None) -> dict:
    hip = {"side": side, "head": {"radius_mm": 24.0, "collapse_depth_mm": depth, "joint_space_width_mm": jsw,
                                  "double_contour": double},
           "lesion": None, "staging": {"arco_2019": None}, "warnings": []}
    if finding is not None:
        hip["radiographic_lesion"] = finding
    if quality is not None:
        hip["quality"] = quality
    return {"input": {"patient_id": "P", "study_instance_uid": "S", "study_date": date, "modality": "DX",
                      "series_instance_uid": f"XR-{view}", "series_description": f"HIP {view}", "view": view,
                      "pixel_size_mm": pixel, "pixel_size_source": "PixelSpacing"}, "hips": [hip]}


def _one(*reports) -> dict:
    (verdict,) = visit_verdicts(reports)
    return verdict.to_dict()


REVIEW_BLOCKING = {"needs_review": True, "reasons": ["collapse evidence failed"],
                   "checks": [{"name": "collapse", "passed": False, "blocks_stage_iii": True}]}
REVIEW = {"needs_review": True, "reasons": ["low contrast"], "checks": [{"name": "contrast", "passed": False}]}


def test_mr_3d_depth_decides_iiib_and_the_silhouettes_are_listed_as_lower_bounds():
    v = _one(_mr(3.1), _xr("AP", 0.24), _xr("lateral", 1.46, double=True))
    assert v["arco_2019"] == "IIIB"
    assert v["depth"]["series"] == "MR COR T1" and v["depth"]["depth_mm"] == 3.1
    assert {d["series"] for d in v["other_depths"]} == {"DX HIP AP", "DX HIP lateral"}
    assert v["decided_by"][0] == "MR COR T1"
    assert not v["needs_review"]
    assert any("tangent" in d for d in v["disagreements"])  # the AP shows less: explained, not hidden
    assert any("reads IIIA" in d for d in v["disagreements"])


def test_lesion_without_collapse_is_i_or_ii_and_says_why():
    v = _one(_mr(0.2), _xr("AP", 0.1), _xr("lateral", 0.15))
    assert v["arco_2019"] == "I-II"
    assert any(n.startswith("I or II: the radiograph finding") for n in v["not_assessed"])
    mr_only = _one(_mr(0.2))
    assert mr_only["arco_2019"] == "I-II"
    assert any("I or II: no radiograph" in n for n in mr_only["not_assessed"])
    assert any(n.startswith("IV") for n in mr_only["not_assessed"])


def test_no_lesion_and_no_collapse_is_no_osteonecrosis():
    assert _one(_mr(0.1, lesion_ml=0.0), _xr("AP", 0.1))["arco_2019"] == "none"


def test_joint_space_narrowing_on_a_radiograph_is_stage_iv():
    v = _one(_mr(2.6), _xr("AP", 0.8, jsw=1.2), _xr("lateral", 1.0, jsw=1.5))
    assert v["arco_2019"] == "IV"
    assert "joint space narrowed to 1.2 mm" in v["basis"]


def test_joint_space_narrowing_without_osteonecrosis_is_not_stage_iv():
    """ARCO IV is the osteoarthritis of a necrotic head: narrowing on an intact head is said, not staged."""
    no_lesion = _one(_mr(0.1, lesion_ml=0.0), _xr("AP", 0.1, jsw=1.3))
    assert no_lesion["arco_2019"] == "none"
    assert "joint space narrowed to 1.3 mm" in no_lesion["basis"] and "not an ARCO stage" in no_lesion["basis"]
    radiographs_only = _one(_xr("AP", 0.1, jsw=1.3), _xr("lateral", 0.2, jsw=1.5))
    assert radiographs_only["arco_2019"] is None and radiographs_only["basis"].startswith("not staged")
    assert "osteoarthritis" in radiographs_only["basis"]
    found_on_radiograph = _one(_xr("AP", 0.1, jsw=1.3, finding=FOUND_WEAK), _xr("lateral", 0.2, jsw=1.5))
    assert found_on_radiograph["arco_2019"] == "IV"


def test_radiograph_only_visit_with_collapse_uses_the_deepest_silhouette():
    v = _one(_xr("AP", 0.6), _xr("lateral", 1.4))
    assert v["arco_2019"] == "IIIA"
    assert v["depth"]["series"] == "DX HIP lateral" and "lower bound" in v["basis"]
    assert any("necrotic lesion: no MR" in n for n in v["not_assessed"])
    normal = _one(_xr("AP", 0.1), _xr("lateral", 0.2))
    assert normal["arco_2019"] is None and normal["basis"].startswith("not staged")


def test_a_series_needing_review_cannot_decide_stage_iii_alone():
    v = _one(_mr(1.5, quality=REVIEW), _xr("AP", 0.1), _xr("lateral", 0.2))
    assert v["arco_2019"] == "I-II" and v["needs_review"]
    assert any("needs confirmation" in r for r in v["reasons"])
    confirmed = _one(_mr(1.5, quality=REVIEW), _xr("lateral", 1.2, double=True))
    assert confirmed["arco_2019"] == "IIIA" and confirmed["needs_review"]


def test_failed_collapse_evidence_is_not_used():
    v = _one(_mr(2.5, quality=REVIEW_BLOCKING), _xr("lateral", 0.2))
    assert v["arco_2019"] == "I-II" and v["needs_review"]
    assert any("not used" in r for r in v["reasons"])


def test_a_silhouette_deeper_than_the_3d_surface_needs_review():
    v = _one(_mr(0.2), _xr("lateral", 2.4))
    assert v["needs_review"]
    assert v["arco_2019"] == "I-II"  # the best-resolved depth says intact: no false stage III
    assert any("cannot be deeper" in r for r in v["reasons"])


def test_collapse_without_a_lesion_needs_review():
    v = _one(_mr(1.2, lesion_ml=0.0), _xr("lateral", 1.0, double=True))
    assert v["arco_2019"] == "IIIA" and v["needs_review"]


def test_verdicts_group_series_by_visit_and_hip():
    reports = [_mr(0.2, side="right"), _mr(0.2, side="left", lesion_ml=0.0), _xr("AP", 0.1),
               _mr(1.2, date="2026-07-01"), _xr("lateral", 1.1, date="2026-07-01")]
    out = with_verdicts(reports)
    assert [len(r["verdicts"]) for r in out] == [2, 2, 2, 1, 1]
    assert [v["side"] for v in out[0]["verdicts"]] == ["right", "left"]
    assert out[3]["verdicts"][0]["arco_2019"] == "IIIA" and out[3]["verdicts"][0]["study_date"] == "2026-07-01"
    assert "verdicts" not in reports[0]  # the inputs are not changed


@pytest.mark.parametrize("depth,expected", [(1.9, "IIIA"), (2.1, "IIIB")])
def test_depth_near_the_iiia_iiib_limit_is_flagged(depth, expected):
    v = _one(_mr(depth), _xr("lateral", 1.0))
    assert v["arco_2019"] == expected
    assert any("IIIA/IIIB limit" in n for n in v["notes"])
    assert v["needs_review"] and any(r.startswith("IIIA or IIIB") for r in v["reasons"])
    # the text says it once, as the reason for review
    assert _text([_mr(depth), _xr("lateral", 1.0)]).count("within its uncertainty (0.5 mm) of the IIIA/IIIB") == 1


# --- the text a radiologist reads ------------------------------------------------------------------
def _text(reports, **kwargs) -> str:
    import io

    from rich.console import Console

    from onfh_imaging.textreport import print_reports

    buffer = io.StringIO()
    print_reports(with_verdicts(reports), Console(file=buffer, width=200, color_system=None), **kwargs)
    return buffer.getvalue()


def test_text_puts_the_verdict_first_and_names_every_series():
    mr = _mr(3.1)
    mr["input"]["fluid_sensitive_series_description"] = "COR STIR"
    ap, frog = _xr("AP", 0.24), _xr("lateral", 1.46, double=True)
    for report in (ap, frog):
        report["warnings"] = ["pixel size from the estimated radiographic magnification factor"]
    text = _text([ap, frog, mr])
    lines = text.splitlines()
    hip_at = next(n for n, line in enumerate(lines) if line.startswith("RIGHT HIP"))
    assert "ARCO 2019 IIIB" in lines[hip_at] and lines[hip_at + 1].strip().startswith("Basis: collapse of 3.1 mm")
    assert text.index("RIGHT HIP") < text.index("this series alone")  # verdict before the per-series measures
    assert "MR COR T1 + COR STIR" in text and "DX HIP AP" in text and "DX HIP lateral" in text
    assert text.count("radiographic magnification factor") == 1  # each warning once, naming both series
    assert "below the detection limit of 0.50 mm" in text  # the AP depth near (below) its limit
    assert "None" not in text and "Mose" not in text  # no empty value, no column repeating the collapse
    assert "PHANTOM" not in text and "P " not in text.splitlines()[0][:9]


def test_text_says_not_staged_and_why():
    text = _text([_xr("AP", 0.1), _xr("lateral", 0.2)])
    assert "ARCO 2019 not staged" in text and "Not staged: no collapse" in text
    assert "None" not in text


def test_text_shows_the_patient_only_when_asked():
    report = _mr(0.2)
    assert "Patient P " in _text([report], show_patient=True)
    hidden = _text([report])
    assert "Patient P " not in hidden and "pseudonym" in hidden


# --- batch tables and the longitudinal stage ------------------------------------------------------
def _record(result: dict) -> dict:
    from onfh_imaging.batch.store import RECORD_SCHEMA

    inp = result["input"]
    key = f"{inp['series_instance_uid']}_{inp['study_date']}"
    job = {"patient_id": inp["patient_id"], "study_instance_uid": inp["study_instance_uid"],
           "study_date": inp["study_date"], "series_instance_uid": key, "modality": inp["modality"],
           "series_description": inp["series_description"], "content_hash": "h"}
    result["input"] = {**inp, "series_instance_uid": key}
    return {"record_schema": RECORD_SCHEMA, "status": "ok", "key": key, "software_version": "x",
            "finished_at": "2026-01-01T00:00:00", "job": job, "result": result}


def test_batch_verdicts_table_and_a_stage_change_only_the_radiographs_show(tmp_path):
    """II -> IIIA: at 6 months the MR's collapse evidence fails its checks (its surface mostly interpolated),
    and the frog-leg view shows a 1.2 mm depression with a fracture line; the per-series MR stage stays
    I-II, the visit's verdict moves to IIIA."""
    from onfh_imaging.batch.longitudinal import hip_events, hip_visits, load_measurements, load_verdicts
    from onfh_imaging.batch.store import ResultStore

    store = ResultStore(tmp_path)
    visits = [("2026-01-01", _xr("lateral", 0.2), None), ("2026-07-01", _xr("lateral", 1.2, double=True), REVIEW_BLOCKING)]
    for n, (date, frog, quality) in enumerate(visits):
        mr = _mr(0.2, date=date, quality=quality)
        frog["input"]["study_date"] = date
        for result in (mr, frog):
            result["input"]["study_instance_uid"] = f"S{n}"
            store.write(_record(result))
    written = store.rebuild_tables()
    assert {"verdicts.csv", "verdicts.parquet"} <= set(written)
    table = load_verdicts(tmp_path)
    assert list(table["arco_2019"]) == ["I-II", "IIIA"]  # one row per hip and visit
    assert list(table["n_series"]) == [2, 2] and list(table["visit_label"])[0] == "baseline"
    assert "double contour" in table["basis"][1] and "DX HIP lateral" in table["decided_by"][1]

    measurements = load_measurements(tmp_path)
    by_series = hip_visits(measurements)
    assert list(by_series["arco_2019"]) == ["II", "II"]  # each MR alone: no change
    by_verdict = hip_visits(measurements, table)
    assert list(by_verdict["arco_2019"]) == ["II", "IIIA"] and set(by_verdict["stage_source"]) == {"verdict"}
    (events,) = hip_events(by_verdict).to_dict("records")
    assert events["stage_progression_observed"] and events["stage_progression_days"] == 181
    (unchanged,) = hip_events(by_series).to_dict("records")
    assert not unchanged["stage_progression_observed"]


def test_an_intact_3d_surface_needing_review_for_another_reason_still_vetoes_radiograph_collapse():
    v = _one(_mr(0.2, lesion_ml=0.0, quality=REVIEW), _xr("AP", 0.9), _xr("lateral", 1.1, double=True))
    assert not str(v["arco_2019"]).startswith("III") and v["needs_review"]


def test_a_fracture_line_alone_against_an_intact_3d_surface_needs_review():
    """A double contour without any depression, where the MR surface is intact: a crescent sign and the
    dense margin of a lesion (or noise) look alike; no stage III, review."""
    v = _one(_mr(0.2), _xr("AP", 0.05, double=True), _xr("lateral", 0.1))
    assert v["arco_2019"] == "I-II" and v["needs_review"]
    assert any("not confirmed" in r for r in v["reasons"])
    alone = _one(_xr("AP", 0.05, double=True))  # no MR at this visit: the radiograph's fracture line stands
    assert alone["arco_2019"] == "IIIA"


def test_every_command_and_option_has_help():
    import argparse

    from onfh_imaging.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {c.dest: c.help for c in sub._choices_actions}
    for name, parser in sub.choices.items():
        assert helps.get(name) and parser.description, name
        for action in parser._actions:
            assert action.help, f"onfh {name} {action.option_strings or action.dest}"


# --- phantom studies of known stage: MR + radiographs measured end to end ---------------------------
def _sdf_visit(folder):
    from onfh_imaging.phantom.radiograph import write_radiograph_study
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec, write_phantom_study

    spec = PhantomSpec(hips="right", right=HipSpec(3.0, lesion="large"), in_plane_mm=0.9, matrix=(160, 160),
                       n_slices=18, stir=True, seed=2)
    truth = write_phantom_study(folder, spec)
    write_radiograph_study(folder / "XR", spec, seed=2, study_instance_uid=truth["study_instance_uid"])


def _labelmap_visit(folder):
    from onfh_imaging.phantom.labelmap import HipDisease, LabelmapSpec, write_labelmap_study
    from onfh_imaging.phantom.labelmap.radiograph import RadiographSpec, write_labelmap_radiograph

    spec = LabelmapSpec(hips="right", right=HipDisease(3.0, lesion="large"), in_plane_mm=0.9, matrix=(160, 160),
                        n_slices=18, seed=2)
    truth = write_labelmap_study(folder, spec)
    (folder / "XR").mkdir()
    for view in ("AP", "frog"):
        write_labelmap_radiograph(folder / "XR" / f"{view}.dcm", RadiographSpec(spec, view=view, seed=2),
                                  study_instance_uid=truth["study_instance_uid"])


@pytest.mark.parametrize("write", [_sdf_visit, _labelmap_visit], ids=["sdf", "labelmap"])
def test_phantom_visit_gets_one_verdict_per_hip_from_mr_and_radiographs(tmp_path, write):
    """A hip with 3 mm of collapse (IIIB) seen on a coronal T1 + STIR and AP and frog-leg views: one verdict,
    decided by the MR's 3-D depth, with every series listed (the stage grid is benchmarks/verdict_phantoms.py)."""
    from onfh_imaging.pipeline import measure_path

    write(tmp_path / "visit")
    reports = with_verdicts(r.to_json() for r in measure_path(tmp_path / "visit", on_refusal=lambda r: None))
    assert {r["input"]["modality"] for r in reports} == {"MR", "DX"}
    (right,) = reports[0]["verdicts"]
    assert right["side"] == "right" and right["arco_2019"] == "IIIB", right
    assert right["depth"]["series"].startswith("MR") and right["depth"]["depth_mm"] > 2.0
    assert len(right["series"]) == 3  # the MR and both radiographs of that hip were read
    assert all(r["verdicts"] == reports[0]["verdicts"] for r in reports)  # one block for the visit


def test_joint_space_narrowing_on_one_view_needing_review_needs_confirmation():
    alone = _one(_mr(0.2), _xr("AP", 0.1, jsw=1.4, quality=REVIEW), _xr("lateral", 0.1))
    assert alone["arco_2019"] != "IV" and alone["needs_review"]
    both = _one(_mr(0.2), _xr("AP", 0.1, jsw=1.4, quality=REVIEW), _xr("lateral", 0.1, jsw=1.6, quality=REVIEW))
    assert both["arco_2019"] == "IV" and both["needs_review"]


def test_an_open_iiia_iiib_subtype_keeps_stage_iii_and_asks_for_review():
    from onfh_imaging.staging import subtype_check

    check = subtype_check("IIIB", 2.2, 0.5)
    quality = {"needs_review": True, "reasons": [check.reason], "checks": [check.to_dict()]}
    v = _one(_mr(2.2, quality=quality))
    # the collapse itself passed its checks: stage III stands, only its subtype is open
    assert v["arco_2019"] == "IIIB"
    assert v["needs_review"] and any(r.startswith("IIIA or IIIB") for r in v["reasons"])
    far = subtype_check("IIIB", 3.1, 0.5)
    assert far.passed
    assert not _one(_mr(3.1, quality={"needs_review": False, "reasons": [], "checks": [far.to_dict()]}))[
        "needs_review"]


def _finding(found: bool | None, contrast: float | None = None, reason: str | None = None) -> dict:
    """A radiograph hip's ``radiographic_lesion`` block (as :class:`RadiographicLesion` writes it)."""
    return RadiographicLesion(found=found, kind="sclerotic margin" if found else None, contrast=contrast,
                              band_length_mm=20.0 if found else 0.0, resolved=found is not None,
                              reason=reason).to_dict()


ABSENT, NOT_READ = _finding(False), _finding(None, reason="the head is cut by the image edge")
FOUND_WEAK, FOUND_STRONG = _finding(True, 6.0), _finding(True, 4 * BAND_MIN_CONTRAST)


def test_every_radiograph_normal_makes_stage_i():
    v = _one(_mr(0.2), _xr("AP", 0.1, finding=ABSENT), _xr("lateral", 0.15, finding=ABSENT))
    assert v["arco_2019"] == "I"
    assert "radiographs normal" in v["basis"] and "DX HIP AP" in v["basis"] and "DX HIP lateral" in v["basis"]
    assert not any(n.startswith("I or II") for n in v["not_assessed"])


def test_a_radiograph_finding_makes_stage_ii_and_names_series_and_finding():
    v = _one(_mr(0.2), _xr("AP", 0.1, finding=FOUND_WEAK), _xr("lateral", 0.15, finding=FOUND_WEAK))
    assert v["arco_2019"] == "II"
    assert "sclerotic margin on DX HIP AP" in v["basis"] and "contrast 6.0 SD" in v["basis"]
    assert "DX HIP AP" in v["decided_by"]


def test_a_head_not_read_leaves_i_or_ii_with_the_reason():
    v = _one(_mr(0.2), _xr("AP", 0.1, finding=ABSENT), _xr("lateral", 0.15, finding=NOT_READ))
    assert v["arco_2019"] == "I-II"
    assert any("cut by the image edge" in n and "DX HIP lateral" in n for n in v["not_assessed"])


def test_a_finding_on_one_view_decides_stage_ii_and_the_view_without_it_is_listed():
    # a margin projects as a line only where the beam is tangent to it: its absence on the other view is
    # listed, not a contradiction, whatever the finding's contrast above the detection limit
    for found in (FOUND_WEAK, FOUND_STRONG):
        v = _one(_mr(0.2), _xr("AP", 0.1, finding=found), _xr("lateral", 0.15, finding=ABSENT))
        assert v["arco_2019"] == "II" and not v["needs_review"]
        assert v["decided_by"] == ["MR COR T1", "DX HIP AP"]
        assert any("but none on DX HIP lateral" in d and "tangent" in d for d in v["disagreements"])
        assert not any(n.startswith("I or II") for n in v["not_assessed"])
    unread = _one(_mr(0.2), _xr("AP", 0.1, finding=FOUND_WEAK), _xr("lateral", 0.15, finding=NOT_READ))
    assert unread["arco_2019"] == "II"  # a head not read on one view does not hide the other's finding


def test_a_radiograph_that_resolved_nothing_gives_no_stage_ii():
    # only a finding that was read (its outline checks passed) and reached the detection limit decides
    v = _one(_mr(0.2), _xr("AP", 0.1, finding=NOT_READ), _xr("lateral", 0.15, finding=NOT_READ))
    assert v["arco_2019"] == "I-II"
    assert any("was not read" in n for n in v["not_assessed"])


def test_the_finding_never_raises_a_hip_to_stage_iii():
    v = _one(_mr(0.2), _xr("AP", 0.1, finding=FOUND_STRONG), _xr("lateral", 0.3, finding=FOUND_STRONG))
    assert v["arco_2019"] == "II"
    none = _one(_mr(0.1, lesion_ml=0.0), _xr("AP", 0.1, finding=FOUND_STRONG))
    assert none["arco_2019"] == "none"  # listed, not staged
    assert any("shows no necrotic lesion" in d for d in none["disagreements"])
    collapsed = _one(_mr(3.1), _xr("AP", 0.2, finding=ABSENT))
    assert collapsed["arco_2019"] == "IIIB"  # a normal radiograph does not lower a collapsed hip either


def test_mr_only_says_which_stages_it_cannot_tell_apart():
    v = _one(_mr(0.2))
    assert v["arco_2019"] == "I-II"
    assert "I or II: no radiograph at this visit" in v["not_assessed"]
    assert any(n.startswith("IV (joint-space narrowing)") for n in v["not_assessed"])


def test_text_says_why_a_radiograph_collapse_was_not_read_and_keeps_its_mose_deviation():
    ap = _xr("AP", None)
    ap["hips"][0]["head"].update(max_deviation_mm=0.4, dome_traced=0.42)
    text = _text([ap])
    assert "collapse not read (the weight-bearing dome traced over 42 % of its arc)" in text
    assert "(Mose) 0.40 mm" in text and "outward" not in text and "None" not in text


def test_a_margin_found_at_the_mri_lesion_outline_makes_stage_ii_and_the_basis_says_where():
    test = {"tested": True, "found": True, "contrast_sd": 0.96, "z": 5.3, "z_limit": 2.58, "null_median_sd": -1.0,
            "null_max_sd": -0.1, "scale_mm": 0.9, "mr_series": "MR COR T1"}
    at_margin = RadiographicLesion(found=True, kind="sclerotic margin at the MRI lesion's margin", contrast=0.96,
                                   resolved=True, mri_margin=test).to_dict()
    v = _one(_mr(0.2), _xr("AP", 0.1, finding=at_margin), _xr("lateral", 0.15, finding=ABSENT))
    assert v["arco_2019"] == "II" and "DX HIP AP" in v["decided_by"]
    assert "at the MRI lesion's margin on DX HIP AP" in v["basis"] and "5.3 SD above" in v["basis"]
    assert any("DX HIP lateral" in d for d in v["disagreements"])
    not_found = RadiographicLesion(found=False, resolved=True, mri_margin={**test, "found": False, "z": 1.1}).to_dict()
    assert _one(_mr(0.2), _xr("AP", 0.1, finding=not_found), _xr("lateral", 0.15, finding=ABSENT))["arco_2019"] == "I"

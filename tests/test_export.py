"""DICOM SEG, SR, NIfTI and study exports checked against known masks, highdicom, pydicom and dciodvfy."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest

from onfh_imaging.errors import InputError
from onfh_imaging.export import export_dicom, export_study, read_source_headers
from onfh_imaging.export.nifti import hip_label_map, sidecar_path, write_hip_label_map
from onfh_imaging.export.phi import Pseudonymizer
from onfh_imaging.export.seg import (
    build_segmentation,
    femoral_head_segment,
    necrotic_lesion_segment,
    write_segmentation,
)
from onfh_imaging.export.sr import (
    ARCO_2019,
    COLLAPSE_DEPTH,
    HEAD_INVOLVEMENT,
    KERBOUL_ANGLE,
    RMS_DEVIATION,
    SPHERICITY,
    build_measurement_report,
    write_report,
)
from onfh_imaging.geometry import Volume
from onfh_imaging.io.dicom_write import write_mr_series

DCIODVFY = shutil.which("dciodvfy") or ("/usr/bin/dciodvfy" if Path("/usr/bin/dciodvfy").exists() else None)
PATIENT_ID = "PID-7731-XQ"
PATIENT_NAME = "Zyxwvut^Quorra"


def _rotation(axis: int, degrees: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    a, b = [n for n in range(3) if n != axis]
    r = np.eye(3)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


# Coronal: rows run to the patient's left (+x), columns downwards (-z), slices posteriorly (+y).
CORONAL = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]).T
OBLIQUE = _rotation(0, 14.0) @ _rotation(2, -9.0) @ CORONAL


def _grid(direction: np.ndarray) -> Volume:
    rng = np.random.default_rng(3)
    pixels = rng.integers(50, 900, size=(9, 44, 52)).astype(np.int16)
    return Volume(pixels, spacing=(0.8, 0.75, 4.0), origin=(-21.0, -60.0, 35.0), direction=direction)


def _masks(image: Volume, side: str) -> tuple[Volume, Volume]:
    """A ball of radius 13 mm at the grid centre and its superior cap (z above centre + 4 mm)."""
    centre = image.index_to_lps((np.array(image.size) - 1) / 2.0)
    points = image.voxel_centers_lps()
    offset = points - centre
    head = np.linalg.norm(offset, axis=-1) <= 13.0
    lesion = head & (offset[..., 2] > 4.0)
    if side == "left":  # a second, different hip on the same grid
        head = head & (offset[..., 0] > -9.0)
        lesion = lesion & (offset[..., 0] > -9.0)
    return image.with_array(head), image.with_array(lesion)


def _make_study(kind: str, tmp_path: Path) -> SimpleNamespace:
    image = _grid(CORONAL if kind == "coronal" else OBLIQUE)
    files = write_mr_series(image, tmp_path / "src", patient_id=PATIENT_ID, patient_name=PATIENT_NAME,
                            study_date="20240315", shuffle_seed=5)
    right_head, right_lesion = _masks(image, "right")
    return SimpleNamespace(kind=kind, image=image, files=files, headers=read_source_headers(files),
                           right=(right_head, right_lesion), tmp=tmp_path)


@pytest.fixture(params=["coronal", "oblique"])
def study(request, tmp_path):
    return _make_study(request.param, tmp_path)


@pytest.fixture
def coronal_study(tmp_path):
    return _make_study("coronal", tmp_path)


HIPS = [
    {"side": "right",
     "head": {"center_lps_mm": [-1.0, -40.0, 20.0], "radius_mm": 24.3, "volume_ml": 57.9, "sphericity": 0.962,
              "rms_deviation_mm": 0.61, "collapse_depth_mm": 2.7, "collapse_direction_lps": [0.0, 0.0, 1.0]},
     "lesion": {"volume_ml": 14.2, "head_involvement_pct": 24.5, "kerboul_angle_deg": 241.0},
     "staging": {"arco_2019": "IIIB", "arco_basis": "collapse > 2 mm", "steinberg_extent": "B"},
     "warnings": []},
    {"side": "left",
     "head": {"center_lps_mm": [80.0, -40.0, 20.0], "radius_mm": 23.8, "volume_ml": 55.1, "sphericity": 0.991,
              "rms_deviation_mm": 0.22, "collapse_depth_mm": 0.0, "collapse_direction_lps": None},
     "lesion": None, "staging": {"arco_2019": "I", "arco_basis": "MRI lesion, no collapse",
                                 "steinberg_extent": None},
     "warnings": []},
]


def _segmentation(study, **kwargs):
    head, lesion = study.right
    segments = [femoral_head_segment("right", head, **kwargs),
                necrotic_lesion_segment("right", lesion, **kwargs)]
    # any order of the source images must do
    return build_segmentation(study.headers[::-1], segments), segments


def _dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


# --- SEG ---------------------------------------------------------------------------------------
def test_seg_masks_and_geometry_match_the_source_series(study):
    seg, segments = _segmentation(study)
    path = write_segmentation(study.tmp / "out" / "seg.dcm", seg)
    back = hd.seg.segread(path)
    raw = pydicom.dcmread(path)
    assert raw.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and raw.SegmentationType == "BINARY"
    assert raw.FrameOfReferenceUID == study.headers[0].FrameOfReferenceUID
    assert raw.StudyInstanceUID == study.headers[0].StudyInstanceUID

    # masks, slice by slice through the source images (files[k] holds slice k)
    uids = [h.SOPInstanceUID for h in study.headers]
    pixels = back.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1, 2])
    for n, spec in enumerate(segments):
        np.testing.assert_array_equal(pixels[..., n].astype(bool), spec.mask.array.astype(bool))

    # per-frame geometry equals that of the source slice each frame is derived from
    by_uid = {h.SOPInstanceUID: h for h in study.headers}
    shared = raw.SharedFunctionalGroupsSequence[0]
    iop = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    spacing = np.array(shared.PixelMeasuresSequence[0].PixelSpacing, float)
    np.testing.assert_allclose(iop, np.array(study.headers[0].ImageOrientationPatient, float), atol=1e-6)
    np.testing.assert_allclose(spacing, [0.75, 0.8], atol=1e-9)
    assert float(shared.PixelMeasuresSequence[0].SliceThickness) == pytest.approx(4.0)
    for frame in raw.PerFrameFunctionalGroupsSequence:
        source_uid = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        ipp = np.array(frame.PlanePositionSequence[0].ImagePositionPatient, float)
        np.testing.assert_allclose(ipp, np.array(by_uid[source_uid].ImagePositionPatient, float), atol=1e-4)
    assert len(raw.PerFrameFunctionalGroupsSequence) == sum(
        int(np.count_nonzero(s.mask.array.any(axis=(1, 2)))) for s in segments)


def test_seg_codes_laterality_and_algorithm(study):
    seg, _ = _segmentation(study, algorithm_type="SEMIAUTOMATIC")
    head, lesion = seg.SegmentSequence
    assert head.SegmentLabel == "Right femoral head"
    assert head.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "91723000"
    assert head.SegmentedPropertyTypeCodeSequence[0].CodeValue == "2812003"
    assert head.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "24028007"
    assert lesion.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert lesion.SegmentedPropertyTypeCodeSequence[0].CodeValue == "6574001"
    region = lesion.AnatomicRegionSequence[0]
    assert region.CodeValue == "2812003" and region.AnatomicRegionModifierSequence[0].CodeValue == "24028007"
    for item in (head, lesion):
        assert item.SegmentAlgorithmType == "SEMIAUTOMATIC"
        assert item.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == "onfh-imaging"


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) is not installed")
def test_seg_passes_dciodvfy(study):
    seg, _ = _segmentation(study)
    assert _dciodvfy_errors(write_segmentation(study.tmp / "seg.dcm", seg)) == []


def test_seg_refuses_masks_off_the_source_grid(study):
    head, _ = study.right
    shifted = Volume(head.array, head.spacing, np.asarray(head.origin) + 0.5 * head.direction[:, 0],
                     head.direction)
    with pytest.raises(InputError, match="not a slice of the mask grid"):
        build_segmentation(study.headers, [femoral_head_segment("right", shifted)])
    rotated = Volume(head.array, head.spacing, head.origin, _rotation(1, 5.0) @ head.direction)
    with pytest.raises(InputError, match="orientation"):
        build_segmentation(study.headers, [femoral_head_segment("right", rotated)])


# --- SR ----------------------------------------------------------------------------------------
def _groups(path: Path):
    sr = hd.sr.srread(path)
    report = hd.sr.MeasurementReport.from_sequence([sr])
    return sr, report


def _measure_table(group) -> dict[tuple[str, str], tuple[float, str]]:
    return {(m.name.scheme_designator, m.name.value): (m.value, m.unit.value)
            for m in group.get_measurements()}


def _assert_measures(group, expected: dict) -> None:
    table = _measure_table(group)
    assert table.keys() == expected.keys()
    for key, (value, unit) in expected.items():
        assert table[key][1] == unit, key
        assert table[key][0] == pytest.approx(value, rel=1e-9), key


def test_sr_holds_every_measure_with_unit_and_references_the_segments(study):
    seg, _ = _segmentation(study)
    sr = build_measurement_report(study.headers, seg, HIPS, reader_name="Reader^Ann")
    path = write_report(study.tmp / "sr.dcm", sr)
    sr_back, report = _groups(path)
    assert pydicom.dcmread(path).SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr_back.CompletionFlag == "COMPLETE"

    volumetric = report.get_volumetric_roi_measurement_groups()
    assert len(volumetric) == 2  # right head and right lesion; the left hip has no segment in this SEG
    right_head = next(g for g in volumetric if g.finding_type.value == "2812003")
    right_lesion = next(g for g in volumetric if g.finding_type.value == "6574001")
    for group, number in ((right_head, 1), (right_lesion, 2)):
        ref = group.referenced_segment
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert ref.referenced_segment_numbers == [number]
    expected_head = {
        ("SCT", "118565006"): (57.9, "mL"), ("SCT", "131190003"): (24.3, "mm"),
        (SPHERICITY.scheme_designator, SPHERICITY.value): (0.962, "1"),
        (RMS_DEVIATION.scheme_designator, RMS_DEVIATION.value): (0.61, "mm"),
        (COLLAPSE_DEPTH.scheme_designator, COLLAPSE_DEPTH.value): (2.7, "mm"),
    }
    _assert_measures(right_head, expected_head)
    _assert_measures(right_lesion, {
        ("SCT", "118565006"): (14.2, "mL"),
        (HEAD_INVOLVEMENT.scheme_designator, HEAD_INVOLVEMENT.value): (24.5, "%"),
        (KERBOUL_ANGLE.scheme_designator, KERBOUL_ANGLE.value): (241.0, "deg"),
    })
    stage = right_head.get_qualitative_evaluations(name=ARCO_2019)
    assert [e.value.meaning for e in stage] == ["ARCO 2019 stage IIIB"]

    # the left hip, without a segment, is still reported (TID 1501, finding site with laterality)
    [left] = report.get_image_measurement_groups()
    assert _measure_table(left)[("SCT", "131190003")][0] == pytest.approx(23.8)
    left_stage = left.get_qualitative_evaluations(name=ARCO_2019)
    assert [e.value.meaning for e in left_stage] == ["ARCO 2019 stage I"]
    site = left.finding_sites[0]
    assert site.value.value == "2812003" and site.laterality.value == "7771000"

    observers = {c.observer_type.meaning for c in report.get_observer_contexts()}
    assert observers == {"Person", "Device"}


def test_sr_without_reader_has_only_the_device_observer(study):
    sr = build_measurement_report(study.headers, None, HIPS[1:])
    path = write_report(study.tmp / "sr.dcm", sr)
    sr_back, report = _groups(path)
    assert sr_back.CompletionFlag == "PARTIAL"
    assert [c.observer_type.meaning for c in report.get_observer_contexts()] == ["Device"]


def test_sr_skips_missing_measures_and_refuses_nothing_to_report(study):
    hip = {"side": "right", "head": {"radius_mm": 22.0, "sphericity": None, "volume_ml": float("nan")},
           "lesion": None, "staging": {}}
    sr = build_measurement_report(study.headers, None, [hip])
    [group] = _groups(write_report(study.tmp / "sr.dcm", sr))[1].get_image_measurement_groups()
    assert list(_measure_table(group)) == [("SCT", "131190003")]
    with pytest.raises(InputError, match="no measures"):
        build_measurement_report(study.headers, None, [{"side": "left", "head": {}, "staging": {}}])


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) is not installed")
def test_sr_passes_dciodvfy(study):
    seg, _ = _segmentation(study)
    sr = build_measurement_report(study.headers, seg, HIPS, reader_name="Reader^Ann")
    assert _dciodvfy_errors(write_report(study.tmp / "sr.dcm", sr)) == []


# --- NIfTI ---------------------------------------------------------------------------------------
def test_label_map_overlays_the_image_in_ras(study):
    head, lesion = study.right
    path, side_json = write_hip_label_map(study.tmp / "n" / "right_hip_labels.nii.gz", "right", head, lesion)
    image = nib.load(path)
    np.testing.assert_allclose(image.affine, study.image.affine_ras, atol=1e-5)
    assert image.get_sform(coded=True)[1] == 1 and image.get_qform(coded=True)[1] == 1
    back = Volume.from_nifti(image)
    assert back.same_grid(study.image)
    expected = hip_label_map(head, lesion).array
    np.testing.assert_array_equal(back.array, expected)
    assert set(np.unique(expected)) == {0, 1, 2}
    # voxel (i, j, k) of the file is at affine @ (i, j, k): RAS of the LPS voxel centre
    i, j, k = 7, 11, 3
    ras = image.affine @ np.array([i, j, k, 1.0])
    np.testing.assert_allclose(ras[:3], study.image.index_to_lps([i, j, k]) * [-1, -1, 1], atol=1e-4)
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar["labels"] == {"0": "background", "1": "right femoral head", "2": "right necrotic lesion"}
    assert side_json == sidecar_path(path)


# --- whole-study export ----------------------------------------------------------------------------
def _fake_result(study, patient_id: str = PATIENT_ID) -> SimpleNamespace:
    head, lesion = study.right
    left_head, left_lesion = _masks(study.image, "left")
    no_lesion = left_lesion.with_array(np.zeros_like(left_lesion.array))
    hips = [SimpleNamespace(side="right", measures=HIPS[0],
                            segmentation=SimpleNamespace(femoral_head_mask=head, lesion_mask=lesion)),
            SimpleNamespace(side="left", measures=HIPS[1],
                            segmentation=SimpleNamespace(femoral_head_mask=left_head, lesion_mask=no_lesion))]
    record = {"schema": "onfh-imaging/measurement/1", "software_version": "x",
              "input": {"patient_id": patient_id, "study_instance_uid": study.headers[0].StudyInstanceUID,
                        "study_date": "2024-03-15", "series_instance_uid": study.headers[0].SeriesInstanceUID,
                        "modality": "MR", "series_description": "COR T1"},
              "hips": HIPS, "warnings": [f"read {study.files[0]}"]}
    return SimpleNamespace(series=SimpleNamespace(files=study.files, volume=study.image), hips=hips,
                           to_json=lambda: record)


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_export_study_writes_every_output_inside_the_folder(study):
    out = study.tmp / "export"
    files = export_study(_fake_result(study), out)
    assert {p.name for p in files.all()} == {
        "seg.dcm", "sr.dcm", "image.nii.gz", "right_hip_labels.nii.gz", "right_hip_labels.json",
        "left_hip_labels.nii.gz", "left_hip_labels.json", "measurements.json"}
    assert sorted(_files_under(out)) == sorted(p.resolve() for p in files.all())
    seg = hd.seg.segread(files.seg)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == [
        "Right femoral head", "Right femoral head necrosis", "Left femoral head"]
    _, report = _groups(files.sr)
    refs = {g.referenced_segment.referenced_segment_numbers[0]
            for g in report.get_volumetric_roi_measurement_groups()}
    assert refs == {1, 2, 3}


@pytest.mark.parametrize("crafted", ["../../etc/x", "a/b\\c", "/abs/olute", "..", "", "CON", "x\x00y\n"])
def test_crafted_patient_id_cannot_leave_the_output_folder(coronal_study, crafted):
    study = coronal_study
    out = study.tmp / "export"
    files = export_study(_fake_result(study, patient_id=crafted), out, seg=False, sr=False)
    root, sources = out.resolve(), (study.tmp / "src").resolve()
    for path in files.all() + _files_under(study.tmp):
        resolved = path.resolve()
        assert resolved.is_relative_to(root) or resolved.is_relative_to(sources), f"{path} is outside {root}"
    assert all(p.resolve().is_relative_to(root) for p in files.all())


def test_pseudonymised_exports_hold_no_original_identifier(study):
    out = study.tmp / "export"
    key = "site-secret-1"
    files = export_study(_fake_result(study), out, pseudonymize_key=key)
    pseudo = Pseudonymizer(key)
    first = study.headers[0]
    originals = [PATIENT_ID, PATIENT_NAME, "Zyxwvut", "Quorra", first.StudyInstanceUID,
                 first.SeriesInstanceUID, first.SOPInstanceUID, "20240315", "2024-03-15"]
    for path in _files_under(out):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        for ident in originals:
            assert ident.encode() not in data, f"{ident!r} found in {path.name}"
        assert PATIENT_ID not in str(path)
    seg = pydicom.dcmread(files.seg)
    sr = pydicom.dcmread(files.sr)
    assert seg.PatientID == sr.PatientID == pseudo.patient_id(PATIENT_ID)
    assert seg.PatientIdentityRemoved == "YES"
    assert seg.file_meta.MediaStorageSOPInstanceUID == seg.SOPInstanceUID
    if DCIODVFY is not None:
        assert _dciodvfy_errors(files.seg) == [] and _dciodvfy_errors(files.sr) == []
    # references survive: the SR points at the pseudonymised SEG, the SEG at pseudonymised sources
    _, report = _groups(files.sr)
    ref = report.get_volumetric_roi_measurement_groups()[0].referenced_segment
    assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
    source_uids = {pseudo.uid(h.SOPInstanceUID) for h in study.headers}
    assert {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence} \
        <= source_uids
    # and a second run with the same key gives the same names and identifiers
    again = export_study(_fake_result(study), study.tmp / "again", pseudonymize_key=key)
    assert again.seg.relative_to(study.tmp / "again") == files.seg.relative_to(out)
    assert pydicom.dcmread(again.seg).StudyInstanceUID == seg.StudyInstanceUID


def test_export_dicom_writes_requested_objects(study):
    files = export_dicom(_fake_result(study), seg_path=study.tmp / "a" / "s.dcm", sr_path=None)
    assert files.seg.exists() and files.sr is None
    assert not (study.tmp / "a" / "sr.dcm").exists()


def test_cli_export_writes_pseudonymised_outputs(coronal_study, monkeypatch, capsys):
    from onfh_imaging import cli, pipeline

    study = coronal_study
    calls = []

    def fake_measure_path(path, series_uid=None, **kwargs):
        calls.append((path, series_uid))
        return [_fake_result(study)]

    monkeypatch.setattr(pipeline, "measure_path", fake_measure_path)
    out = study.tmp / "cli-out"
    code = cli.main(["export", str(study.tmp / "src"), "--out", str(out), "--seg", "--pseudonymize", "k"])
    assert code == 0 and calls == [(str(study.tmp / "src"), None)]
    printed = [Path(line) for line in capsys.readouterr().out.splitlines()]
    assert {p.name for p in printed} == {"seg.dcm", "measurements.json"}
    assert all(p.exists() and p.resolve().is_relative_to(out.resolve()) for p in printed)
    assert pydicom.dcmread(next(p for p in printed if p.name == "seg.dcm")).PatientID == \
        Pseudonymizer("k").patient_id(PATIENT_ID)
    record = json.loads(next(p for p in printed if p.name == "measurements.json").read_text())
    assert [v["side"] for v in record["verdicts"]] == ["right", "left"]  # the visit's verdicts, as measure --json
    text = json.dumps(record["verdicts"])
    assert PATIENT_ID not in text and study.headers[0].StudyInstanceUID not in text  # pseudonymised too


def test_export_folder_names_say_modality_description_and_date(tmp_path):
    from onfh_imaging.export import study_folder
    from onfh_imaging.io._atomic import write_json

    out = tmp_path / "out"
    mr = {"input": {"patient_id": "P1", "study_date": "2024-03-15", "series_instance_uid": "1.2.3",
                    "modality": "MR", "series_description": "COR T1"}}
    frog = {"input": {"patient_id": "P1", "study_date": "2024-03-15", "series_instance_uid": "1.2.4",
                      "modality": "DX", "series_description": "HIP", "view": "lateral"}}
    assert study_folder(out, mr).relative_to(out).as_posix() == "P1/20240315_MR_COR_T1"
    assert study_folder(out, frog).name == "20240315_DX_HIP_lateral"
    folder = study_folder(out, mr)
    write_json(folder / "measurements.json", mr)
    assert study_folder(out, mr) == folder  # the same series again: its own folder
    twin = {"input": {**mr["input"], "series_instance_uid": "1.2.5"}}
    assert study_folder(out, twin).name == "20240315_MR_COR_T1_2"  # another series of that name

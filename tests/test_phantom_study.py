"""Phantom studies on disk: DICOM series that read back, truth.json, the CLI."""

import json

import numpy as np
import pydicom
import pytest

from onfh_imaging.cli import main
from onfh_imaging.errors import IncompleteSeriesError, InputError
from onfh_imaging.io import read_series
from onfh_imaging.phantom import (
    HipSpec,
    PhantomSpec,
    clone_phantom_study,
    hip_truth,
    load_truth,
    render_series,
    truth_masks,
    write_phantom_study,
)

SPEC = PhantomSpec(hips="right", right=HipSpec(collapse_mm=1.5, lesion="large", lesion_core="fluid"),
                   matrix=(80, 80), in_plane_mm=1.5, n_slices=14, oblique_deg=(12.0, 0.0), stir=True, seed=4)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom") / "study"
    truth = write_phantom_study(out, SPEC)
    return out, truth


def test_study_layout_and_truth_document(study):
    out, truth = study
    assert sorted(p.name for p in out.iterdir()) == ["STIR_COR", "T1_COR", "truth.json"]
    on_disk = load_truth(out)
    assert on_disk == json.loads(json.dumps(truth))
    assert on_disk["schema"] == "onfh-imaging/phantom-truth/1"
    assert [s["sequence"] for s in on_disk["series"]] == ["T1", "STIR"]
    (hip,) = on_disk["hips"]
    assert hip["side"] == "right"
    assert hip["head"]["collapse_depth_mm"] == 1.5
    assert hip["staging"] == {"arco_2019": "IIIA", "arco_basis": hip["staging"]["arco_basis"],
                              "steinberg_extent": "C"}
    assert hip["lesion"]["core"] == "fluid"
    model = PhantomSpec.from_truth(out / "truth.json").model()
    assert hip["head"]["volume_ml"] == pytest.approx(hip_truth(model.hips[0]).volume_ml)
    assert PhantomSpec.from_truth(on_disk) == SPEC


def test_series_read_back_with_geometry_and_shuffled_instances(study):
    out, truth = study
    expected = render_series(SPEC, "T1")
    series = read_series(out / "T1_COR")
    vol = series.volume
    assert vol.same_grid(expected)
    assert np.array_equal(vol.array.astype(np.int32), expected.array.astype(np.int32))
    stir = read_series(out / "STIR_COR").volume
    assert stir.same_grid(vol) and not np.array_equal(stir.array, vol.array)
    assert series.info.series_instance_uid == truth["series"][0]["series_instance_uid"]
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted((out / "T1_COR").iterdir())]
    assert len({d.StudyInstanceUID for d in datasets}) == 1
    assert {d.FrameOfReferenceUID for d in datasets} == {truth["frame_of_reference_uid"]}
    normal = np.cross(vol.direction[:, 0], vol.direction[:, 1])
    by_instance = sorted(datasets, key=lambda d: int(d.InstanceNumber))
    positions = [np.asarray(d.ImagePositionPatient, float) @ normal for d in by_instance]
    assert positions != sorted(positions) and positions != sorted(positions, reverse=True)


def test_truth_masks_on_the_written_grid(study):
    out, truth = study
    vol = read_series(out / "T1_COR").volume
    model = PhantomSpec.from_truth(truth).model()
    head, lesion = truth_masks(model, vol, supersample=2)
    head_ml = truth["hips"][0]["head"]["volume_ml"]
    assert head.array.sum() * vol.voxel_volume_ml == pytest.approx(head_ml, rel=0.03)
    # the fluid lesion is dark on T1 where the truth says lesion
    core = lesion.array > 0.99
    healthy = (head.array > 0.99) & (lesion.array == 0)
    assert vol.array[core].mean() < 0.6 * vol.array[healthy].mean()


def test_clone_is_another_patient_with_the_same_pixels(study, tmp_path):
    out, _ = study
    study_uid = clone_phantom_study(out, tmp_path / "copy", patient_id="P-0002", study_date="20270315")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["STIR_COR", "T1_COR"]
    original, copy = read_series(out / "T1_COR"), read_series(tmp_path / "copy" / "T1_COR")
    assert np.array_equal(copy.volume.array, original.volume.array)
    assert copy.volume.same_grid(original.volume)
    assert (copy.info.patient_id, copy.info.study_date, copy.info.study_instance_uid) == (
        "P-0002", "2027-03-15", study_uid)
    assert copy.info.series_instance_uid != original.info.series_instance_uid
    first = pydicom.dcmread(copy.files[0], stop_before_pixels=True)
    assert first.SOPInstanceUID == first.file_meta.MediaStorageSOPInstanceUID
    assert first.SOPInstanceUID != pydicom.dcmread(original.files[0], stop_before_pixels=True).SOPInstanceUID

    clone_phantom_study(out, tmp_path / "gap", patient_id="P-0003", study_date="20270315", drop_middle_slice=True)
    spacing = original.volume.spacing[2]
    with pytest.raises(IncompleteSeriesError, match=f"gap of {2 * spacing:.2f} mm.*1 slice"):
        read_series(tmp_path / "gap" / "T1_COR")
    with pytest.raises(InputError, match="no series folder"):
        clone_phantom_study(tmp_path / "gap" / "T1_COR", tmp_path / "nothing", patient_id="x", study_date="20270101")


def test_refuses_a_folder_that_holds_files(study, tmp_path):
    out, _ = study
    with pytest.raises(InputError, match="not empty") as info:
        write_phantom_study(out, SPEC)
    assert str(out / "T1_COR") in str(info.value)


def test_load_truth_names_the_bad_file(tmp_path):
    bad = tmp_path / "truth.json"
    bad.write_text('{"schema": "something else"}')
    with pytest.raises(InputError, match="not a phantom truth") as info:
        load_truth(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(InputError, match="no phantom truth"):
        load_truth(tmp_path / "missing")


def test_cli_writes_a_phantom_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["phantom", str(out), "--hips", "left", "--collapse", "2.5", "--lesion", "small",
               "--matrix", "64", "--slices", "6", "--pixel", "2", "--seed", "9"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "left hip" in text and "IIIB" in text
    truth = load_truth(out)
    assert truth["hips"][0]["head"]["collapse_depth_mm"] == 2.5
    assert main(["phantom", str(tmp_path / "bad"), "--collapse", "20"]) == 2
    assert "too deep" in capsys.readouterr().err

"""Every refusal names the file or series and says why, through `onfh measure` itself.

A corpus of bad inputs, each built in a temporary folder from one small valid series, goes through the
command as a user runs it. Each case must end with exit status 2 (1 when something else was measured),
no traceback, nothing on stdout in ``--json`` mode, and a line on stderr naming the file or series and
the specific reason. Nearly every case is refused from its headers, before any segmentation.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.cli import main as cli_main
from onfh_imaging.geometry import Volume
from onfh_imaging.io import scan, write_mr_series

from test_hostile_input import (
    COLUMNS,
    IDENTIFIERS,
    NUMBER_OF_FRAMES,
    ORIENTATION,
    PIXEL_DATA,
    ROWS,
    _elements,
    _pixel_offset,
    _set,
    _text,
    _volume,
    _write_series,
)

ROOT = Path(__file__).resolve().parents[1]


def _one_file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    return folder / name


def _slice(tmp: Path) -> bytes:
    return _write_series(tmp / "_base")[1].read_bytes()


# --- the corpus: each builder makes the input in ``tmp`` and returns (path to give, names, reasons) ----
def _empty_file(tmp):
    _one_file(tmp / "in", "IM1.dcm", b"")
    return tmp / "in", ["IM1.dcm"], ["empty file"]


def _random_bytes(tmp):
    _one_file(tmp / "in", "IM1", np.random.default_rng(4).bytes(4096))
    return tmp / "in", ["IM1"], ["not DICOM"]


def _truncated_in_folder(tmp):
    data = _slice(tmp)
    px = _pixel_offset(data)
    _one_file(tmp / "in", "IM1.dcm", data[:px + (len(data) - px) // 2])
    return tmp / "in", ["IM1.dcm"], ["truncated"]


def _truncated_file_given(tmp):
    data = _slice(tmp)
    path = _one_file(tmp / "in", "IM1.dcm", data[:len(data) - 7])
    return path, ["IM1.dcm"], ["truncated"]


def _no_pixel_data(tmp):
    data = _slice(tmp)
    _one_file(tmp / "in", "IM1.dcm", data[:_elements(data)[PIXEL_DATA][0]])
    return tmp / "in", ["IM1.dcm"], ["without pixel data"]


def _pixels_a_third_short(tmp):
    data = _slice(tmp)
    px = _pixel_offset(data)
    n = len(data) - px
    kept = n - n // 3
    _one_file(tmp / "in", "IM1.dcm", data[:px - 4] + struct.pack("<I", kept) + data[px:px + kept])
    return tmp / "in", ["IM1.dcm"], ["truncated", "pixel data holds"]


def _impossible_size(tmp):
    data = _slice(tmp)
    huge = _set(_set(_set(data, ROWS, b"US", struct.pack("<H", 65535)), COLUMNS, b"US", struct.pack("<H", 65535)),
                NUMBER_OF_FRAMES, b"IS", b"50000 ")
    _one_file(tmp / "in", "IM1.dcm", huge)
    return tmp / "in", ["IM1.dcm"], ["too large", "GiB"]


def _orientation_zeros(tmp):
    files = _write_series(tmp / "good")
    (tmp / "in").mkdir()
    for f in files:
        (tmp / "in" / f.name).write_bytes(_set(f.read_bytes(), ORIENTATION, b"DS", _text("0\\0\\0\\0\\0\\0")))
    return tmp / "in", ["series 1 'COR T1'", "IM_0001.dcm"], ["ImageOrientationPatient", "not two orthogonal"]


def _lone_slice_without_orientation(tmp):
    data = _write_series(tmp / "good")[0].read_bytes()
    _one_file(tmp / "in", "IM1.dcm", _set(data, ORIENTATION, b"DS", _text("0\\0\\0\\0\\0\\0")))
    return tmp / "in", ["series 1 'COR T1'", "IM1.dcm"], ["ImageOrientationPatient is missing or degenerate"]


def _lone_slice(tmp):
    files = _write_series(tmp / "good")
    (tmp / "in").mkdir()
    shutil.copy(files[0], tmp / "in")
    return tmp / "in", ["series 1 'COR T1'", files[0].name], ["not a volume", "lone slice"]


def _text_file(tmp):
    _one_file(tmp / "in", "report.txt", b"hip MRI report\n" * 20)
    return tmp / "in", ["report.txt"], ["text file", "not DICOM"]


def _jpeg_folder(tmp):
    folder = tmp / "in"
    folder.mkdir()
    for k in range(3):
        (folder / f"x{k}.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200))
    return folder, ["x0.jpg", "x2.jpg"], ["JPEG image", "not DICOM"]


def _empty_folder(tmp):
    (tmp / "in").mkdir()
    return tmp / "in", [str(tmp / "in")], ["no DICOM files found"]


def _ct_series(tmp):
    _write_series(tmp / "in", modality="CT", series_description="CT PELVIS")
    return tmp / "in", ["series 1 'CT PELVIS'"], ["modality CT is not measured"]


def _nifti_file(tmp):
    import nibabel as nib

    (tmp / "in").mkdir()
    path = tmp / "in" / "hip.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)), str(path))
    return path, ["hip.nii.gz"], ["NIfTI image", "not DICOM"]


def _knee_mri(tmp):
    _write_series(tmp / "in", series_description="COR T1 KNEE", extra={"BodyPartExamined": "KNEE"})
    return tmp / "in", ["series 1 'COR T1 KNEE'"], ["body part KNEE is not measured", "--series-uid"]


def _brain_mri(tmp):
    _write_series(tmp / "in", series_description="AX T1 BRAIN", extra={"BodyPartExamined": "BRAIN"})
    return tmp / "in", ["series 1 'AX T1 BRAIN'"], ["body part BRAIN is not measured"]


def _truncated_slice_in_series(tmp):
    files = write_mr_series(_volume(nk=6), tmp / "in", shuffle_seed=None)
    raw = files[1].read_bytes()
    files[1].write_bytes(raw[:len(raw) - 50])
    return tmp / "in", ["series 1 'COR T1'", files[1].name], ["broken", "file truncated"]


def _siemens_mosaic(tmp):
    vol = _volume()
    folder = tmp / "in"
    for t in range(3):  # three time points, each one mosaic image at the same position
        one = Volume(vol.array[:1] + t, spacing=vol.spacing, origin=vol.origin, direction=vol.direction)
        written = write_mr_series(one, tmp / f"t{t}", series_instance_uid="1.2.826.0.1.3680043.8.498.77",
                                  study_instance_uid="1.2.826.0.1.3680043.8.498.78", series_description="COR T1",
                                  extra={"ImageType": ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]}, shuffle_seed=None)
        folder.mkdir(exist_ok=True)
        written[0].rename(folder / f"MOS{t}.dcm")
    return folder, ["series 1 'COR T1'", "MOS0.dcm"], ["not a volume", "Siemens mosaic", "dcm2niix"]


def _repeated_acquisitions(tmp):
    vol = _volume()
    folder = tmp / "in"
    for t in range(2):  # the same slice acquired twice with different pixels, no mosaic
        one = Volume(vol.array[:1] * (t + 1), spacing=vol.spacing, origin=vol.origin, direction=vol.direction)
        written = write_mr_series(one, tmp / f"t{t}", series_instance_uid="1.2.826.0.1.3680043.8.498.79",
                                  study_instance_uid="1.2.826.0.1.3680043.8.498.80", shuffle_seed=None)
        folder.mkdir(exist_ok=True)
        written[0].rename(folder / f"IM{t}.dcm")
    return folder, ["series 1 'COR T1'", "IM0.dcm"], ["not a volume", "repeated acquisitions"]


def _gzipped(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    out = [folder / (f.name + ".gz") for f in files]
    for f, gz in zip(files, out):
        gz.write_bytes(gzip.compress(f.read_bytes()))
    return out


def _damaged_gzip(tmp):
    """A .dcm.gz series whose first file was cut short: named as truncated, and the rest too few slices."""
    gz = _gzipped(_write_series(tmp / "good"), tmp / "in")
    data = gz[0].read_bytes()
    gz[0].write_bytes(data[:len(data) // 2])
    return tmp / "in", [gz[0].name, "series 1 'COR T1'"], ["compressed file truncated", "only 3 slices"]


def _no_femoral_head(tmp):
    _write_series(tmp / "in", series_description="COR T1", extra={"BodyPartExamined": ""})
    return tmp / "in", ["series 1 'COR T1'"], ["segmentation failed", "no femoral head found in the field of view"]


def _only_t2(tmp):
    _write_series(tmp / "in", sequence="T2", series_description="COR T2")
    return tmp / "in", ["series 1 'COR T2'"], ["no T1-weighted series", "T2"]


CASES: dict[str, Callable] = {
    "empty-file": _empty_file, "random-bytes": _random_bytes, "truncated-in-folder": _truncated_in_folder,
    "truncated-file-given": _truncated_file_given, "no-pixel-data": _no_pixel_data,
    "pixels-a-third-short": _pixels_a_third_short, "impossible-size": _impossible_size,
    "orientation-zeros": _orientation_zeros,
    "lone-slice-orientation-zeros": _lone_slice_without_orientation, "lone-slice": _lone_slice, "text-file": _text_file,
    "jpeg-folder": _jpeg_folder, "empty-folder": _empty_folder, "ct-series": _ct_series,
    "nifti-file": _nifti_file, "knee-mri": _knee_mri, "brain-mri": _brain_mri,
    "truncated-slice-in-series": _truncated_slice_in_series, "siemens-mosaic": _siemens_mosaic,
    "repeated-acquisitions": _repeated_acquisitions, "damaged-gzip": _damaged_gzip, "only-t2": _only_t2,
    "no-femoral-head": _no_femoral_head,
}


def _measure(capsys, *args: str) -> tuple[int, str, str]:
    code = cli_main(["measure", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_each_bad_input_is_refused_naming_it_and_why(case, json_mode, tmp_path, capsys):
    path, names, reasons = CASES[case](tmp_path)
    code, out, err = _measure(capsys, str(path), *(["--json"] if json_mode else []))
    assert code == 2, (case, err)
    assert "Traceback" not in err
    if json_mode:
        assert out == "", "--json output must stay clean"
    for text in names + reasons:
        assert text in err, (case, text, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("onfh measure: no measurable series found in ") and str(path) in last, last
    for ident in IDENTIFIERS:
        assert ident not in err


def test_too_few_slices_left_name_the_broken_file(tmp_path, capsys):
    files = _write_series(tmp_path / "in")  # 4 slices; one truncated leaves 3
    raw = files[1].read_bytes()
    files[1].write_bytes(raw[:len(raw) - 50])
    code, _, err = _measure(capsys, str(tmp_path / "in"))
    assert code == 2 and f"{files[1].name} (file truncated" in err and "there are only 3 slices" in err, err


def test_gzipped_series_reads_as_the_original(tmp_path, capsys):
    from onfh_imaging.io import read_series

    files = _write_series(tmp_path / "plain")
    _gzipped(files, tmp_path / "gz")
    plain, packed = read_series(tmp_path / "plain"), read_series(tmp_path / "gz")
    assert packed.volume.same_grid(plain.volume) and np.array_equal(packed.volume.array, plain.volume.array)
    assert [f.name for f in packed.files] == [f.name + ".gz" for f in plain.files]
    assert cli_main(["convert", str(tmp_path / "gz"), str(tmp_path / "v.nii.gz")]) == 0
    capsys.readouterr()


def test_truncated_slice_is_named_broken_not_missing(tmp_path, capsys):
    path, _, _ = _truncated_slice_in_series(tmp_path)
    _, _, err = _measure(capsys, str(path))
    line = next(line for line in err.splitlines() if "refused" in line)
    assert line.index("IM_0002.dcm (file truncated") < line.index("gap of"), line
    assert "1 slice(s) missing" in line
    assert "refused " + str(path / "IM_0002.dcm") not in err, "the broken file is reported once, with its series"


def test_measured_and_refused_together_exit_1(tmp_path, capsys):
    """A measurable MR study next to a CT series, a truncated file and a note: the study is measured, the
    others named, status 1. (Side files alone keep status 0: see test_pipeline_cli, whose phantom folder
    holds truth.json.)"""
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec, write_phantom_study

    write_phantom_study(tmp_path / "cohort" / "mr", PhantomSpec(hips="right", right=HipSpec(), in_plane_mm=1.1,
                                                                matrix=(112, 112), n_slices=14, seed=1))
    _write_series(tmp_path / "cohort" / "ct", modality="CT", series_description="CT PELVIS")
    data = _slice(tmp_path)
    (tmp_path / "cohort" / "broken.dcm").write_bytes(data[:len(data) - 9])
    (tmp_path / "cohort" / "notes.txt").write_text("side file")
    code, out, err = _measure(capsys, str(tmp_path / "cohort"), "--json")
    assert code == 1, err
    reports = [json.loads(line) for line in out.splitlines()]
    assert len(reports) == 1 and reports[0]["input"]["modality"] == "MR"
    assert "modality CT is not measured" in err and "broken.dcm: file truncated" in err
    assert "skipped 2 file(s) that are not DICOM images" in err  # notes.txt and the phantom's truth.json
    assert err.strip().splitlines()[-1] == \
        "onfh measure: 1 series measured; 1 file and 1 series refused, listed above"


def test_many_files_of_one_kind_are_counted_not_listed(tmp_path, capsys):
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for k in range(40):
        (folder / f"x{k:02d}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    code, _, err = _measure(capsys, str(folder))
    assert code == 2 and err.count(": refused ") == 5 and "and 35 more refused as not DICOM" in err, err


def test_seg_with_several_series_is_refused_before_measuring(tmp_path, capsys):
    _write_series(tmp_path / "a", series_description="COR T1 LEFT", study_instance_uid="1.2.3.1")
    _write_series(tmp_path / "b", series_description="COR T1 RIGHT", study_instance_uid="1.2.3.2")
    code = cli_main(["measure", str(tmp_path), "--seg", str(tmp_path / "seg.dcm")])
    err = capsys.readouterr().err
    assert code == 2 and "2 would be measured" in err and "--series-uid" in err, err
    infos = scan(tmp_path).series
    for info in infos:
        assert info.key in err and repr(info.series_description) in err
    assert "femoral head" not in err, "refused before any segmentation"


def test_series_uid_gives_the_reason_for_a_ct(tmp_path, capsys):
    _write_series(tmp_path / "ct", modality="CT", series_description="CT PELVIS")
    uid = scan(tmp_path).series[0].series_instance_uid
    code, _, err = _measure(capsys, str(tmp_path), "--series-uid", uid)
    assert code == 2 and "modality CT is not measured" in err and "CT PELVIS" in err, err
    code, _, err = _measure(capsys, str(tmp_path), "--series-uid", "1.2.3.4.5")
    assert code == 2 and "no series with SeriesInstanceUID or key 1.2.3.4.5" in err, err


def test_sub_series_key_works_on_a_sub_folder(tmp_path, capsys):
    """The key `onfh scan` gives a sub-series on the whole study also picks it in one of its folders."""
    vol = _volume()
    uid, study = "1.2.826.0.1.3680043.8.498.91", "1.2.826.0.1.3680043.8.498.92"
    write_mr_series(vol, tmp_path / "e1", series_instance_uid=uid, study_instance_uid=study,
                    extra={"EchoNumbers": 1, "EchoTime": "12"})
    write_mr_series(vol.with_array(vol.array * 2), tmp_path / "e2", series_instance_uid=uid,
                    study_instance_uid=study, extra={"EchoNumbers": 2, "EchoTime": "80"})
    key = next(s.key for s in scan(tmp_path).series if "echo 2" in s.subseries)
    assert cli_main(["convert", "--series-uid", key, str(tmp_path / "e2"), str(tmp_path / "e2.nii.gz")]) == 0
    capsys.readouterr()
    from rich.console import Console

    from onfh_imaging.io.report import scan_table

    console = Console(width=400, record=True, file=open(os.devnull, "w"))
    console.print(scan_table(scan(tmp_path)))  # the table shows each key and the sub-series in words
    table = console.export_text()
    assert key in table and "[coronal, echo 2, TE 80 ms" in table


def test_scan_says_why_files_were_skipped(tmp_path, capsys):
    _truncated_in_folder(tmp_path)
    assert cli_main(["scan", str(tmp_path / "in")]) == 0
    err = capsys.readouterr().err
    assert "onfh scan: refused " + str(tmp_path / "in" / "IM1.dcm") + ": file truncated" in err, err


def test_scan_json_leaves_out_patient_names_unless_asked(tmp_path, capsys):
    _write_series(tmp_path / "s")
    assert cli_main(["scan", "--json", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "patient_name" not in json.loads(out)[0] and "Qzxwvut" not in out
    assert cli_main(["scan", "--json", "--show-names", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["patient_name"] == "Qzxwvut^Crafted"


def test_body_parts_that_hold_a_femoral_head():
    from onfh_imaging.vocab import may_show_a_hip

    assert all(map(may_show_a_hip, ["HIP", "Hip joint", "LOWER_LIMB", "PELVIS", "", "Hüfte", "WHOLEBODY"]))
    assert not any(map(may_show_a_hip, ["KNEE", "BRAIN", "HEAD", "L-SPINE", "CHEST", "SHOULDER"]))


def test_why_not_measured_one_series(tmp_path):
    from onfh_imaging.plan import why_not_measured

    for build, reason in ((_ct_series, "modality CT"), (_knee_mri, "body part KNEE"), (_only_t2, "T2"),
                          (_siemens_mosaic, "Siemens mosaic")):
        path, _, _ = build(tmp_path / build.__name__)
        refusal = why_not_measured(scan(path).series[0])
        assert refusal is not None and reason in refusal.reason and refusal.is_series, (build.__name__, refusal)
    _write_series(tmp_path / "good")
    assert why_not_measured(scan(tmp_path / "good").series[0]) is None


def test_napari_reader_raises_the_same_reasons(tmp_path):
    from onfh_imaging.errors import InputError
    from onfh_napari._reader import read_study

    for build in (_siemens_mosaic, _truncated_slice_in_series, _text_file, _truncated_in_folder):
        sub = tmp_path / build.__name__
        path, names, reasons = build(sub)
        with pytest.raises(InputError) as err:
            read_study(str(path))
        for text in names[:1] + reasons[:1]:
            assert text in str(err.value), (build.__name__, text, str(err.value))


def test_a_bug_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    import onfh_imaging.io

    def broken_scan(path):
        raise TypeError("a bug")

    monkeypatch.setattr(onfh_imaging.io, "scan", broken_scan)
    monkeypatch.delenv("ONFH_TRACEBACK", raising=False)
    code, out, err = _measure(capsys, str(tmp_path))
    assert code == 3 and out == "" and err.strip().splitlines() == [
        "onfh measure: internal error TypeError: a bug (please report it with this line; ONFH_TRACEBACK=1 shows "
        "the traceback)"]
    monkeypatch.setenv("ONFH_TRACEBACK", "1")
    with pytest.raises(TypeError):
        cli_main(["measure", str(tmp_path)])


def test_subprocess_over_a_folder_of_every_kind(tmp_path):
    """The installed command over one folder holding a case of each kind: status 2, no traceback."""
    folder = tmp_path / "all"
    for name in ("ct-series", "siemens-mosaic", "truncated-in-folder", "knee-mri", "empty-file"):
        path, _, _ = CASES[name](tmp_path / name)
        shutil.copytree(path if path.is_dir() else path.parent, folder / name)
    done = subprocess.run([sys.executable, "-m", "onfh_imaging", "measure", "--json", str(folder)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr, done.stderr
    for text in ("modality CT", "Siemens mosaic", "file truncated", "body part KNEE", "empty file"):
        assert text in done.stderr, text

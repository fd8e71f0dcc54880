"""The reader-confirmation store: append-only SQLite, concurrent writers, files next to the record."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3

import nibabel as nib
import numpy as np
import pytest

from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Volume
from onfh_imaging.reads import (
    ENV_DB,
    ReadRecord,
    ReadStore,
    confirm_read,
    default_db_path,
    mask_sha256,
)


def _record(series="1.2.3.4", study="1.2.3", reader="AB", stage="II", **kw) -> ReadRecord:
    return ReadRecord(reader=reader, series_instance_uid=series, study_instance_uid=study, arco_2019=stage, **kw)


def _ball_volume(radius_vox: float, spacing=(0.8, 0.8, 3.0)) -> Volume:
    k, j, i = np.mgrid[:12, :32, :32]
    r2 = ((i - 15.5) * spacing[0]) ** 2 + ((j - 15.5) * spacing[1]) ** 2 + ((k - 5.5) * spacing[2]) ** 2
    return Volume(r2 <= (radius_vox * spacing[0]) ** 2, spacing=spacing, origin=(-10.0, 20.0, 5.0))


def test_default_path_follows_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_DB, raising=False)
    assert default_db_path().name == "reads.sqlite"
    assert default_db_path().parent.name == ".onfh-imaging"
    monkeypatch.setenv(ENV_DB, str(tmp_path / "x" / "r.db"))
    assert default_db_path() == tmp_path / "x" / "r.db"
    store = ReadStore()
    assert store.path == tmp_path / "x" / "r.db" and store.path.exists()


def test_add_history_and_study_round_trip(tmp_path):
    store = ReadStore(tmp_path / "reads.sqlite")
    measures = [{"side": "left", "head": {"collapse_depth_mm": 1.5}, "lesion": {"volume_ml": 3.25}}]
    first = _record(reader="Dr A", comment="crescent sign", confirmed_measures=measures, mask_sha256={"m": "ab"})
    store.add(first)
    store.add(_record(reader="Dr B", stage="IIIA", edited=True, blind=True))
    store.add(_record(series="9.9", study="9", reader="Dr C"))

    hist = store.history("1.2.3.4")
    assert [r.reader for r in hist] == ["Dr A", "Dr B"]
    assert hist[0] == first
    assert hist[0].confirmed_measures[0]["lesion"]["volume_ml"] == 3.25
    assert hist[1].edited and hist[1].blind and hist[1].arco_2019 == "IIIA"
    assert [r.reader for r in store.for_study("1.2.3")] == ["Dr A", "Dr B"]
    assert [r.reader for r in store.for_study("9")] == ["Dr C"]
    assert store.history("nothing") == []
    assert len(store) == 3
    assert hist[0].confirmed_at.endswith("+00:00")


def test_rows_cannot_be_updated_or_deleted(tmp_path):
    store = ReadStore(tmp_path / "reads.sqlite")
    store.add(_record())
    con = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE reads SET reader = 'someone else'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM reads")
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
    assert [r.reader for r in store.history("1.2.3.4")] == ["AB"]


def test_the_same_confirmation_is_not_stored_twice(tmp_path):
    store = ReadStore(tmp_path / "reads.sqlite")
    rec = _record()
    store.add(rec)
    with pytest.raises(sqlite3.IntegrityError):
        store.add(rec)
    assert len(store) == 1


@pytest.mark.parametrize(
    "kw, fragment",
    [({"reader": "  "}, "reader"), ({"series": ""}, "SeriesInstanceUID"), ({"stage": "3"}, "ARCO")],
)
def test_incomplete_records_are_refused(kw, fragment):
    with pytest.raises(InputError, match=fragment):
        _record(**kw)


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    bad = tmp_path / "notes.sqlite"
    bad.write_bytes(b"this is a text file, not SQLite" * 100)
    with pytest.raises(InputError, match="notes.sqlite"):
        ReadStore(bad)


def test_mask_hash_depends_on_content_and_shape_not_dtype():
    a = np.zeros((3, 4, 5), bool)
    a[1, 2, 3] = True
    assert mask_sha256(a) == mask_sha256(a.astype(np.uint8) * 7)
    b = a.copy()
    b[0, 0, 0] = True
    assert mask_sha256(a) != mask_sha256(b)
    assert mask_sha256(a) != mask_sha256(a.reshape(3, 5, 4))
    vol = Volume(a, spacing=(1, 1, 1))
    assert mask_sha256(vol) == mask_sha256(a)


def _writer(path: str, worker: int, n: int, barrier) -> None:
    store = ReadStore(path, busy_timeout_ms=60_000)
    barrier.wait()
    for n_read in range(n):
        store.add(_record(series=f"series-{worker}", reader=f"reader {worker}", comment=str(n_read)))


def test_concurrent_processes_keep_every_row(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    n = 40
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_writer, args=(path, w, n, barrier)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = ReadStore(path)
    assert len(store) == 3 * n
    for w in range(3):
        assert [r.comment for r in store.history(f"series-{w}")] == [str(i) for i in range(n)]


def test_confirm_read_writes_masks_and_json_and_detects_edits(tmp_path):
    store = ReadStore(tmp_path / "db" / "reads.sqlite")
    head = _ball_volume(10)
    lesion = head.with_array(head.array & (np.arange(32)[None, None, :] > 20))
    auto = {"left_femoral_head": head, "left_lesion": lesion}
    measures = [{"side": "left", "lesion": {"volume_ml": 1.0}}]

    same = confirm_read(
        store, reader="AB", arco_2019="II", series_instance_uid="1.2", study_instance_uid="1",
        masks=auto, automatic_masks=auto, automatic_measures=measures, confirmed_measures=measures,
    )
    assert same.edited is False

    painted = np.array(lesion.array)
    painted[5, 15, 15] = True
    edited_masks = {**auto, "left_lesion": lesion.with_array(painted)}
    rec = confirm_read(
        store, reader="CD", arco_2019="IIIA", series_instance_uid="1.2", study_instance_uid="1",
        masks=edited_masks, automatic_masks=auto, automatic_measures=measures,
        confirmed_measures=[{"side": "left", "lesion": {"volume_ml": 1.1}}], comment="edited", blind=True,
    )
    assert rec.edited is True
    assert rec.mask_sha256["left_lesion"] == mask_sha256(painted)
    assert rec.mask_sha256["left_femoral_head"] == same.mask_sha256["left_femoral_head"]

    stored = store.history("1.2")
    assert stored[1] == rec
    on_disk = json.loads(open(rec.files["json"], encoding="utf-8").read())
    assert on_disk == json.loads(rec.to_json())
    nii = nib.load(rec.files["nifti:left_lesion"])
    back = Volume.from_nifti(nii)
    assert back.same_grid(head)
    assert np.array_equal(back.array != 0, painted)
    assert mask_sha256(back) == rec.mask_sha256["left_lesion"]
    leftovers = [p for p in (tmp_path / "db").rglob("*.tmp*")]
    assert leftovers == []


def test_confirm_read_writes_a_seg_that_references_the_series(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from onfh_imaging.io.dicom_write import write_mr_series

    head = _ball_volume(10)
    image = head.with_array(np.where(head.array, 800, 100).astype(np.uint16))
    paths = write_mr_series(image, tmp_path / "series", series_instance_uid="1.2.826.0.1.3680043.8.498.1")
    sources = [pydicom.dcmread(p) for p in paths]
    lesion = head.with_array(head.array & (np.arange(32)[None, None, :] > 20))
    auto = {"right_femoral_head": head, "right_lesion": lesion}
    edited = {**auto, "right_lesion": lesion.with_array(head.array & (np.arange(32)[None, None, :] > 18))}
    store = ReadStore(tmp_path / "reads.sqlite")
    rec = confirm_read(
        store, reader="Jane Roe", arco_2019="II", series_instance_uid=sources[0].SeriesInstanceUID,
        masks=edited, automatic_masks=auto, automatic_measures=[],
        confirmed_measures=[{"side": "right",
                             "head": {"radius_mm": 5.0, "volume_ml": 0.52, "collapse_depth_mm": 0.0},
                             "lesion": {"volume_ml": 0.11, "head_involvement_pct": 21.0},
                             "staging": {"arco_2019": "I-II", "arco_basis": "suggested"}}],
        source_datasets=sources,
    )
    sr = pydicom.dcmread(rec.files["sr"])
    assert sr.Modality == "SR"
    text = str(sr)
    assert "Jane Roe" in text and "0.11" in text  # the reader observes; the confirmed lesion volume is reported
    seg = pydicom.dcmread(rec.files["seg"])
    assert seg.Modality == "SEG"
    referenced = {s.ReferencedSeriesSequence[0].SeriesInstanceUID for s in [seg]}
    assert referenced == {sources[0].SeriesInstanceUID}
    kinds = {d.SegmentLabel: d.SegmentAlgorithmType for d in seg.SegmentSequence}
    assert kinds == {"Right femoral head": "AUTOMATIC", "Right femoral head necrosis": "SEMIAUTOMATIC"}
    n_head_frames = sum(
        1 for f in seg.PerFrameFunctionalGroupsSequence
        if f.SegmentIdentificationSequence[0].ReferencedSegmentNumber == 1
    )
    assert n_head_frames == int(np.any(head.array, axis=(1, 2)).sum())

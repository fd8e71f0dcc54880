"""Keyed pseudonyms, redaction and safe file names."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import MRImageStorage

from onfh_imaging.errors import InputError
from onfh_imaging.export.phi import REDACTED, Pseudonymizer, RedactingFilter, redact, safe_filename, safe_join

UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def test_same_key_gives_the_same_pseudonyms_in_every_run():
    a, b, other = Pseudonymizer("k1"), Pseudonymizer("k1"), Pseudonymizer("k2")
    assert a.patient_id("12345") == b.patient_id("12345")
    assert a.patient_id("12345") != other.patient_id("12345")
    assert a.patient_id("12345") != a.patient_id("12346")
    # fixed values guard against a change of the derivation between releases, which would unlink
    # follow-up studies from earlier exports
    assert a.patient_id("12345") == "ONFH-EA3B8DE9922CDF76"
    assert a.uid("1.2.3") == "2.25.20970897587224913001699968967411196252"
    assert a.patient_id("12345") == Pseudonymizer("k1").patient_id(" 12345 ")
    assert re.fullmatch(r"ONFH-[0-9A-F]{16}", a.patient_id("12345"))
    assert len(a.accession_number("ACC99")) == 16
    assert "k1" not in repr(a)


@given(st.text(min_size=1, max_size=80).filter(lambda s: s.strip()))
@settings(max_examples=60, deadline=None)
def test_pseudonymous_uids_are_valid_dicom_uids(value):
    uid = Pseudonymizer("key").uid(value)
    assert uid.startswith("2.25.") and len(uid) <= 64 and UID_RE.match(uid)
    as_uuid = uuid.UUID(int=int(uid[5:]))
    assert as_uuid.variant == uuid.RFC_4122 and as_uuid.version == 8
    assert Pseudonymizer("key").uid(value) == uid


def test_standard_uids_are_kept():
    assert Pseudonymizer("key").uid(MRImageStorage) == MRImageStorage
    assert Pseudonymizer("key").uid("1.2.840.10008.5.1.4.1.1.66.4") == "1.2.840.10008.5.1.4.1.1.66.4"


def test_dates_shift_per_patient_and_keep_intervals():
    p = Pseudonymizer("key")
    first, second = p.shift_date("20240101", "P1"), p.shift_date("20240315", "P1")
    d1, d2 = (dt.datetime.strptime(v, "%Y%m%d") for v in (first, second))
    assert (d2 - d1).days == 74
    assert first != "20240101"
    assert p.shift_date("2024-01-01", "P1") == d1.strftime("%Y-%m-%d")
    assert 1 <= p.date_shift_days("P1") <= 3650
    assert Pseudonymizer("key", shift_dates=False).shift_date("20240101", "P1") == "20240101"
    assert p.shift_date("2024", "P1") == ""  # partial dates are dropped, never kept unshifted


def _dataset() -> Dataset:
    ds = Dataset()
    ds.PatientID = "MRN-004521"
    ds.PatientName = "Smith^Alice"
    ds.PatientBirthDate = "19700202"
    ds.PatientSex = "F"
    ds.PatientAge = "054Y"
    ds.OtherPatientIDs = "OLD-1"
    ds.InstitutionName = "St Elsewhere"
    ds.ReferringPhysicianName = "House^Greg"
    ds.AccessionNumber = "ACC-77"
    ds.StudyDate = "20240315"
    ds.SOPClassUID = MRImageStorage
    ds.StudyInstanceUID = "1.2.3.4.5"
    ds.SeriesInstanceUID = "1.2.3.4.5.6"
    ref = Dataset()
    ref.ReferencedSOPClassUID = MRImageStorage
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7"
    ds.ReferencedImageSequence = DicomSequence([ref])
    observer = Dataset()
    observer.VerifyingObserverName = "Wilson^James"
    ds.VerifyingObserverSequence = DicomSequence([observer])
    ds.add_new(0x00091010, "LO", "private MRN-004521")
    return ds


def test_pseudonymize_dataset_replaces_direct_identifiers():
    p = Pseudonymizer("key")
    original = _dataset()
    out = p.pseudonymize_dataset(original)
    assert original.PatientID == "MRN-004521"  # the input is untouched
    assert out.PatientID == p.patient_id("MRN-004521") == str(out.PatientName)
    assert out.PatientBirthDate == "" and out.PatientSex == "" and "PatientAge" not in out
    assert "OtherPatientIDs" not in out and "InstitutionName" not in out
    assert out.ReferringPhysicianName == ""
    observer = out.VerifyingObserverSequence[0].VerifyingObserverName
    assert str(observer) == p.person_name("Wilson^James") and str(observer).startswith("PERSON-")
    assert out.AccessionNumber == p.accession_number("ACC-77")
    assert out.StudyDate == p.shift_date("20240315", "MRN-004521")
    assert out.SOPClassUID == MRImageStorage
    assert out.StudyInstanceUID == p.uid("1.2.3.4.5")
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == p.uid("1.2.3.4.5.6.7")
    assert out.ReferencedImageSequence[0].ReferencedSOPClassUID == MRImageStorage
    assert 0x00091010 not in out
    assert out.PatientIdentityRemoved == "YES"
    assert "113100" in {item.CodeValue for item in out.DeidentificationMethodCodeSequence}
    text = repr(out)
    for ident in ("MRN-004521", "Smith", "Alice", "19700202", "St Elsewhere", "House", "Wilson", "ACC-77",
                  "1.2.3.4.5"):
        assert ident not in text


def test_patient_characteristics_option():
    out = Pseudonymizer("key", retain_patient_characteristics=True).pseudonymize_dataset(_dataset())
    assert out.PatientSex == "F" and out.PatientAge == "054Y"


def test_pseudonymize_record_follows_the_json_contract():
    p = Pseudonymizer("key")
    record = {"input": {"patient_id": "MRN-004521", "study_instance_uid": "1.2.3", "study_date": "2024-03-15",
                        "series_instance_uid": "1.2.3.4", "modality": "MR", "series_description": "COR T1"},
              "hips": [{"side": "left", "head": {"radius_mm": 24.0},
                        "warnings": ["file /data/MRN-004521/IM1"]}],
              "path": "/data/MRN-004521", "patient_name": "Smith^Alice", "patient_birth_date": "1970-02-02"}
    out = p.pseudonymize_record(record)
    assert out["input"]["patient_id"] == p.patient_id("MRN-004521") == out["patient_name"]
    assert out["input"]["study_instance_uid"] == p.uid("1.2.3")
    assert out["input"]["study_date"] == p.shift_date("2024-03-15", "MRN-004521")
    assert out["hips"][0]["head"]["radius_mm"] == 24.0 and out["input"]["modality"] == "MR"
    assert out["path"] is None and out["patient_birth_date"] is None
    assert "MRN-004521" not in repr(out) and "Smith" not in repr(out)
    assert record["input"]["patient_id"] == "MRN-004521"


def test_redact_names_in_any_order_and_ids_anywhere():
    ids = ["MRN-004521", "SMITH^ALICE"]
    text = "reading /data/mrn-004521/x.dcm for Alice Smith (Smith, Alice; SMITH^ALICE); smithsonian ok"
    out = redact(text, ids)
    assert "004521" not in out and "Alice" not in out and "Smith " not in out
    assert "smithsonian ok" in out  # components match whole words only
    assert out.count(REDACTED) >= 4


def test_redacting_filter_cleans_log_records(caplog):
    logger = logging.getLogger("onfh_imaging.test_redaction")
    filt = RedactingFilter(["MRN-004521"])
    filt.add("Smith^Alice")
    caplog.handler.addFilter(filt)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("patient %s named %s", "MRN-004521", "Alice Smith")
            try:
                raise ValueError("bad file for MRN-004521")
            except ValueError:
                logger.exception("failed")
    finally:
        caplog.handler.removeFilter(filt)
    assert "MRN-004521" not in caplog.text and "Alice" not in caplog.text
    assert caplog.text.count(REDACTED) >= 3


CRAFTED = ["../../etc/x", "a/b\\c", "..", ".", "", "/", "\x00\x01\n", "CON", "nul.txt", "..\\..\\win",
           "é" * 200, " leading space", "....hidden"]


@pytest.mark.parametrize("value", CRAFTED)
def test_safe_filename_on_crafted_values(value, tmp_path):
    name = safe_filename(value)
    assert name and len(name) <= 64
    assert not set(name) & set("/\\\x00\n\r\t") and not name.startswith(".")
    assert name not in (".", "..") and not re.match(r"(?i)^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", name)
    path = safe_join(tmp_path, name)
    assert path.parent == tmp_path.resolve()


@given(st.text(max_size=300), st.integers(min_value=16, max_value=120))
@settings(max_examples=200, deadline=None)
def test_safe_filename_properties(value, max_len):
    name = safe_filename(value, max_len=max_len)
    assert 0 < len(name) <= max_len
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith(".") and ".." not in name
    assert safe_filename(value, max_len=max_len) == name


def test_long_values_stay_distinct():
    a, b = "x" * 100 + "1", "x" * 100 + "2"
    assert safe_filename(a) != safe_filename(b)


@pytest.mark.parametrize("parts", [("../../etc/x",), ("a", "..", "..", "b"), ("/etc/passwd",), ("..",), ()])
def test_safe_join_refuses_escapes(parts, tmp_path):
    with pytest.raises(InputError, match="would leave the output folder"):
        safe_join(tmp_path / "out", *parts)


def test_safe_join_refuses_symlink_escapes(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(InputError):
        safe_join(out, "link", "x")
    assert safe_join(out, "sub", "file.dcm") == (out / "sub" / "file.dcm").resolve()
    assert isinstance(safe_join(str(out), Path("a")), Path)

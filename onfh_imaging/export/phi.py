"""Pseudonymisation, identifier redaction and safe file names.

Outputs leave the hospital: a DICOM SEG or SR sent to a research PACS, a CSV row, a NIfTI file
named after a patient. Three guards apply everywhere:

* :class:`Pseudonymizer` replaces direct identifiers with keyed pseudonyms (HMAC-SHA256). The same
  key gives the same pseudonym in every run, so follow-up studies of one patient stay linked, while
  nobody without the key can recompute or reverse them. UIDs become valid ``2.25.<integer>`` UIDs
  derived the same way, so references between pseudonymised objects (a SEG and its source series)
  remain consistent when both pass through the same key.
* :func:`redact` and :class:`RedactingFilter` keep patient names and IDs out of log messages.
* :func:`safe_filename` and :func:`safe_join` turn header values into file names that cannot
  escape the output folder, whatever a header contains.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import hmac
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from highdicom.sr import CodedConcept
from pydicom.uid import UID_dictionary

from onfh_imaging.errors import InputError

REDACTED = "[REDACTED]"

# Attributes removed outright (PS3.15 Table E.1-1, action X, among those a source header may carry
# into our outputs). Type 2 attributes of the modules we write are emptied instead (action Z).
_REMOVE = (
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers", "PatientComments",
    "PatientBirthTime", "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "EthnicGroup",
    "Occupation", "AdditionalPatientHistory", "PatientReligiousPreference", "InsurancePlanIdentification",
    "CountryOfResidence", "RegionOfResidence", "MedicalAlerts", "Allergies", "PregnancyStatus",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
    "PhysiciansOfRecord", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName",
    "RequestingPhysician", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "AdmittingDiagnosesDescription", "StudyDescription", "RequestedProcedureDescription",
    "PerformedProcedureStepDescription", "ImageComments", "RequestAttributesSequence",
    "IssuerOfPatientID", "PatientInsurancePlanCodeSequence", "PerformedProcedureStepID",
    "ScheduledProcedureStepID", "RequestedProcedureID",
)
_EMPTY = ("PatientBirthDate", "StudyID", "ReferringPhysicianName")
# Retained only with PS3.15's "Retain Patient Characteristics" option.
_PATIENT_CHARACTERISTICS = ("PatientSex", "PatientAge", "PatientSize", "PatientWeight")

# Dates move into the past by 1 to this many days (ten years), a keyed offset per patient.
_MAX_DATE_SHIFT_DAYS = 3650


def _standard_uid(value: str) -> bool:
    """True for UIDs the DICOM standard defines (SOP classes, transfer syntaxes, coding schemes)."""
    return value in UID_dictionary or value.startswith("1.2.840.10008.")


class Pseudonymizer:
    """Keyed, stable pseudonyms for patient identifiers, accession numbers and UIDs.

    Parameters
    ----------
    key : str
        Secret key. The same key always yields the same pseudonyms; keep it out of the outputs.
    prefix : str
        Text prefixed to patient pseudonyms (``"ONFH-3FA2..."``).
    length : int
        Hexadecimal digits of the HMAC kept in patient pseudonyms (64 bits by default, so that
        collisions are negligible for any realistic cohort).
    shift_dates : bool
        When True, dates move by a keyed per-patient offset of 1 to 3650 days into the past (PS3.15
        "Retain Longitudinal Temporal Information with Modified Dates"); intervals between one
        patient's studies are kept. When False, dates are kept as they are.
    retain_patient_characteristics : bool
        Keep PatientSex, PatientAge, PatientSize and PatientWeight (PS3.15 option of that name).
    """

    def __init__(self, key: str, *, prefix: str = "ONFH", length: int = 16, shift_dates: bool = True,
                 retain_patient_characteristics: bool = False) -> None:
        if not key:
            raise ValueError("a pseudonymisation key must not be empty")
        if not 8 <= length <= 40:
            raise ValueError(f"length must be between 8 and 40 hex digits, got {length}")
        if not re.fullmatch(r"[A-Z0-9]{1,16}", prefix):
            raise ValueError(f"prefix must be 1-16 upper-case letters or digits, got {prefix!r}")
        self._key = key.encode("utf-8")
        self.prefix = prefix
        self.length = length
        self.shift_dates = shift_dates
        self.retain_patient_characteristics = retain_patient_characteristics

    def __repr__(self) -> str:  # never show the key
        return f"Pseudonymizer(prefix={self.prefix!r}, length={self.length})"

    # --- keyed digests ---------------------------------------------------------------------
    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\x00{value}".encode("utf-8"), hashlib.sha256).digest()

    def patient_id(self, value: str) -> str:
        """Pseudonym of a PatientID: ``"<prefix>-<hex>"`` (at most 57 characters, fits LO).

        Parameters
        ----------
        value : str
            The PatientID (surrounding spaces ignored).

        Returns
        -------
        str
        """
        return f"{self.prefix}-{self._digest('patient', str(value).strip()).hex()[:self.length].upper()}"

    def patient_name(self, patient_id: str) -> str:
        """PatientName for a pseudonymised patient: the patient's pseudonym as family name.

        Derived from the PatientID rather than the name, so that spelling variants of one patient's
        name never split the patient in two.

        Parameters
        ----------
        patient_id : str
            The patient's original PatientID.

        Returns
        -------
        str
            The same text as :meth:`patient_id` gives.
        """
        return self.patient_id(patient_id)

    def person_name(self, value: str) -> str:
        """Pseudonym for any other person (reader, operator): ``"PERSON-<hex>"``.

        Parameters
        ----------
        value : str
            The person's name as written.

        Returns
        -------
        str
        """
        return f"PERSON-{self._digest('person', str(value).strip()).hex()[:12].upper()}"

    def accession_number(self, value: str) -> str:
        """Pseudonym of an AccessionNumber, 16 characters (the SH limit).

        Parameters
        ----------
        value : str
            The AccessionNumber.

        Returns
        -------
        str
            ``"A"`` and 15 hex digits; "" for an empty value.
        """
        if not str(value).strip():
            return ""
        return "A" + self._digest("accession", str(value).strip()).hex()[:15].upper()

    def uid(self, value: str) -> str:
        """A valid DICOM UID derived from ``value``: ``"2.25."`` + a 128-bit integer.

        The integer is a UUID (RFC 9562 version 8, custom) built from the HMAC, as PS3.5 B.2 asks
        of ``2.25`` UIDs. Standard UIDs (SOP classes, transfer syntaxes) are returned unchanged.

        Parameters
        ----------
        value : str
            Any UID.

        Returns
        -------
        str
            The keyed UID (at most 44 characters); empty and standard UIDs as given.
        """
        value = str(value).strip()
        if not value or _standard_uid(value):
            return value
        b = bytearray(self._digest("uid", value)[:16])
        b[6] = (b[6] & 0x0F) | 0x80  # version 8
        b[8] = (b[8] & 0x3F) | 0x80  # RFC variant
        return "2.25." + str(int.from_bytes(bytes(b), "big"))

    def date_shift_days(self, patient_id: str) -> int:
        """Keyed per-patient offset in days (1..3650) by which dates move into the past.

        Parameters
        ----------
        patient_id : str
            The patient's original PatientID.

        Returns
        -------
        int
            Days; 0 when ``shift_dates`` is False.
        """
        if not self.shift_dates:
            return 0
        digest = self._digest("date", str(patient_id).strip())
        return 1 + int.from_bytes(digest[:4], "big") % _MAX_DATE_SHIFT_DAYS

    def shift_date(self, value: str, patient_id: str) -> str:
        """Shift a DICOM ``YYYYMMDD`` or ISO ``YYYY-MM-DD`` date, keeping its format.

        Values that are not such dates (empty, partial) come back empty rather than unshifted.

        Parameters
        ----------
        value : str
            The date.
        patient_id : str
            The patient's original PatientID (the shift is per patient).

        Returns
        -------
        str
            The date :meth:`date_shift_days` days earlier, or the value unchanged when dates are not
            shifted.
        """
        text = str(value).strip()
        shift = self.date_shift_days(patient_id)
        if not text or shift == 0:
            return text
        for fmt in ("%Y%m%d", "%Y-%m-%d"):
            try:
                day = _dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
            return (day - _dt.timedelta(days=shift)).strftime(fmt)
        return ""

    # --- whole objects ---------------------------------------------------------------------
    def pseudonymize_dataset(self, ds: Dataset) -> Dataset:
        """A pseudonymised copy of a DICOM dataset (PS3.15 Basic Application Confidentiality Profile).

        Applied to objects this toolkit writes (SEG, SR, converted images): PatientID and
        PatientName become keyed pseudonyms; AccessionNumber a keyed pseudonym; every non-standard
        UID, at any depth (study, series, instance, frame of reference, references in sequences
        and in the file meta information), a keyed ``2.25`` UID; other person names keyed
        pseudonyms; dates shifted per patient (see ``shift_dates``); the identifying attributes
        of PS3.15 Table E.1-1 that a source header may carry are removed or emptied; private
        attributes removed. PatientIdentityRemoved and the de-identification method are recorded.

        Parameters
        ----------
        ds : pydicom.Dataset
            The dataset; it is not modified.

        Returns
        -------
        pydicom.Dataset
            A new dataset of the same class (a highdicom object stays one).
        """
        out = copy.deepcopy(ds)
        original_id = str(out.get("PatientID", "") or "")
        original_name = str(out.get("PatientName", "") or "")
        patient_key = original_id or original_name
        self._strip_identifying(out)
        self._walk(out, patient_key, set())
        out.PatientID = self.patient_id(patient_key)
        out.PatientName = self.patient_name(patient_key)
        if "AccessionNumber" in out:
            out.AccessionNumber = self.accession_number(str(out.AccessionNumber or ""))
        if getattr(out, "file_meta", None) is not None:
            for keyword in ("MediaStorageSOPInstanceUID",):
                if keyword in out.file_meta:
                    setattr(out.file_meta, keyword, self.uid(str(getattr(out.file_meta, keyword))))
        self._record_method(out)
        return out

    def _strip_identifying(self, out: Dataset) -> None:
        """Remove private attributes and those of PS3.15 Table E.1-1 (action X); empty the Type 2 ones."""
        out.remove_private_tags()
        for keyword in _REMOVE:
            if keyword in out:
                delattr(out, keyword)
        for keyword in _EMPTY:
            if keyword in out:
                setattr(out, keyword, "")
        if not self.retain_patient_characteristics:
            for keyword in _PATIENT_CHARACTERISTICS:
                if keyword == "PatientSex" and keyword in out:
                    out.PatientSex = ""  # Type 2 in the Patient module: emptied, not removed
                elif keyword in out:
                    delattr(out, keyword)

    def _record_method(self, out: Dataset) -> None:
        """PatientIdentityRemoved, and the de-identification method in words and as PS3.16 codes."""
        out.PatientIdentityRemoved = "YES"
        methods = ["PS3.15 basic profile", "HMAC pseudonyms"]
        options = [("113100", "Basic Application Confidentiality Profile")]
        if self.shift_dates:
            methods.append("shifted dates")
            options.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
        else:
            options.append(("113106", "Retain Longitudinal Temporal Information Full Dates Option"))
        if self.retain_patient_characteristics:
            options.append(("113108", "Retain Patient Characteristics Option"))
        out.DeidentificationMethod = ", ".join(methods)  # LO: at most 64 characters
        out.DeidentificationMethodCodeSequence = DicomSequence(
            [_code_item(value, meaning) for value, meaning in options])

    def _walk(self, ds: Dataset, patient_key: str, seen: set[int]) -> None:
        # One item object may sit in several sequences (highdicom shares them); map it once.
        if id(ds) in seen:
            return
        seen.add(id(ds))
        for elem in list(ds):
            if elem.VR == "SQ":
                for item in elem.value:
                    for keyword in _REMOVE:
                        if keyword in item:
                            delattr(item, keyword)
                    self._walk(item, patient_key, seen)
            elif elem.value in (None, "", b""):
                continue
            elif elem.VR == "UI":
                values = elem.value if elem.VM > 1 else [elem.value]
                mapped = [self.uid(str(v)) for v in values]
                elem.value = mapped if elem.VM > 1 else mapped[0]
            elif elem.VR == "PN" and elem.keyword != "PatientName":
                values = elem.value if elem.VM > 1 else [elem.value]
                mapped = [self.person_name(str(v)) for v in values]
                elem.value = mapped if elem.VM > 1 else mapped[0]
            elif elem.VR == "DA":
                values = elem.value if elem.VM > 1 else [elem.value]
                mapped = [self.shift_date(str(v), patient_key) for v in values]
                elem.value = mapped if elem.VM > 1 else mapped[0]
            elif elem.VR == "DT" and self.shift_dates:
                text = str(elem.value)
                elem.value = self.shift_date(text[:8], patient_key) + text[8:] if len(text) >= 8 else ""

    def pseudonymize_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A pseudonymised copy of a JSON-like record (the measurement JSON, a batch row).

        Keys are recognised by name, at any depth: ``patient_id`` and ``patient_name`` become the
        patient pseudonym, ``accession_number`` its pseudonym, keys ending in ``_uid`` keyed UIDs,
        keys ending in ``_date`` shifted dates, ``patient_birth_date`` and path-like keys
        (``path``, ``paths``, ``file``, ``files``, ``folder``, ``source``) are set to None. Every
        other string has the record's original identifiers redacted (see :func:`redact`).

        Parameters
        ----------
        record : mapping
            The record; it is not modified.

        Returns
        -------
        dict
            The pseudonymised record.
        """
        originals = _collect(record, ("patient_id", "patient_name"))
        patient_key = next((v for k, v in originals if k == "patient_id" and v), "") or \
            next((v for _, v in originals if v), "")
        identifiers = [v for _, v in originals if v]
        return self._record(record, patient_key, identifiers)

    def _record(self, value: Any, patient_key: str, identifiers: list[str], key: str = "") -> Any:
        if isinstance(value, Mapping):
            return {k: self._record(v, patient_key, identifiers, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._record(v, patient_key, identifiers, key) for v in value]
        lowered = key.lower()
        if lowered in _PATH_KEYS or lowered == "patient_birth_date":
            return None
        if value is None or not isinstance(value, str):
            return value
        if lowered in ("patient_id", "patient_name"):
            return self.patient_id(patient_key) if value else value
        if lowered == "accession_number":
            return self.accession_number(value)
        if lowered.endswith("_uid"):
            return self.uid(value)
        if lowered.endswith("_date"):
            return self.shift_date(value, patient_key)
        return redact(value, identifiers)


_PATH_KEYS = frozenset({"path", "paths", "file", "files", "folder", "source", "source_path", "input_path"})


def _code_item(value: str, meaning: str) -> Dataset:
    return CodedConcept(value=value, scheme_designator="DCM", meaning=meaning)


def _collect(value: Any, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """All ``(key, string value)`` pairs of the given keys anywhere in a nested record."""
    found: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if str(k).lower() in keys and isinstance(v, str):
                found.append((str(k).lower(), v))
            else:
                found.extend(_collect(v, keys))
    elif isinstance(value, (list, tuple)):
        for v in value:
            found.extend(_collect(v, keys))
    return found


# --- redaction ---------------------------------------------------------------------------------
def _identifier_patterns(identifiers: Iterable[str]) -> list[re.Pattern[str]]:
    """Regular expressions for each identifier and, for person names, its parts and orderings.

    Whole identifiers match anywhere (an ID inside a path); single name components (``DOE`` of
    ``DOE^JOHN``) only as whole words and only when at least two characters long, so that short
    components do not erase unrelated text.
    """
    patterns: list[re.Pattern[str]] = []
    for ident in identifiers:
        text = str(ident).strip()
        if not text:
            continue
        variants = {text}
        parts = [p.strip() for p in re.split(r"[\^,]", text) if p.strip()]
        if len(parts) > 1:
            variants.add(" ".join(parts))
            variants.add(" ".join(reversed(parts)))
            variants.add(", ".join(parts))
        for variant in sorted(variants, key=len, reverse=True):
            patterns.append(re.compile(re.escape(variant), re.IGNORECASE))
        for part in parts if len(parts) > 1 else []:
            for word in part.split():
                if len(word) >= 2:
                    patterns.append(re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])",
                                               re.IGNORECASE))
    return patterns


def redact(text: str, identifiers: Iterable[str]) -> str:
    """Replace every occurrence of the given identifiers in ``text`` with ``[REDACTED]``.

    Parameters
    ----------
    text : str
        Any message (a log line, a warning, a path).
    identifiers : iterable of str
        Patient IDs, patient names (DICOM ``FAMILY^GIVEN`` form or plain), accession numbers.
        Matching is case-insensitive; names also match as ``GIVEN FAMILY``, ``FAMILY, GIVEN`` and
        by their components as whole words.

    Returns
    -------
    str
        The text with identifiers replaced.
    """
    for pattern in _identifier_patterns(identifiers):
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that removes patient identifiers from every record it sees.

    Attach it to a handler (``handler.addFilter(RedactingFilter(ids))``) so that records from every
    logger reaching that handler are cleaned; identifiers met later can be added with :meth:`add`.

    Parameters
    ----------
    identifiers : iterable of str
        Patient IDs, names and accession numbers to redact.
    """

    def __init__(self, identifiers: Iterable[str] = ()) -> None:
        super().__init__()
        self._identifiers: set[str] = set()
        self._patterns: list[re.Pattern[str]] = []
        self.add(*identifiers)

    def add(self, *identifiers: str) -> None:
        """Add identifiers to redact from now on.

        Parameters
        ----------
        *identifiers : str
            Patient IDs, names and accession numbers; blank ones are ignored.
        """
        self._identifiers.update(str(i) for i in identifiers if str(i).strip())
        self._patterns = _identifier_patterns(self._identifiers)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message and traceback in place.

        Parameters
        ----------
        record : logging.LogRecord
            The record; its arguments are merged into the message first.

        Returns
        -------
        bool
            Always True: the record is kept, cleaned.
        """
        message = record.getMessage()
        for pattern in self._patterns:
            message = pattern.sub(REDACTED, message)
        record.msg = message
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     self._identifiers)
            record.exc_info = None
        return True


# --- file names ------------------------------------------------------------------------------
_WINDOWS_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$", re.IGNORECASE)


def safe_filename(value: Any, max_len: int = 64) -> str:
    """A portable file name made from any value (a PatientID, a SeriesDescription).

    Accents are folded to ASCII; every character other than letters, digits, ``.``, ``_`` and
    ``-`` becomes ``_`` (so no path separators, no control characters); leading dots are dropped
    (no ``..``, no hidden files); Windows device names get a ``_`` prefix. Names that had to be
    shortened end in a hash of the full value so that distinct long values stay distinct.

    Parameters
    ----------
    value : any
        The value; converted with ``str``.
    max_len : int
        Maximum length in characters (at least 16).

    Returns
    -------
    str
        A non-empty name of at most ``max_len`` characters; ``"unnamed"`` (with a hash of the value
        when it was not empty) if nothing usable remains.
    """
    if max_len < 16:
        raise ValueError(f"max_len must be at least 16, got {max_len}")
    original = "" if value is None else str(value)
    text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text)
    text = re.sub(r"_+", "_", text).strip("_ ")
    text = text.lstrip(".").rstrip(". ")
    text = re.sub(r"\.{2,}", ".", text)
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    if not text:
        return f"unnamed_{digest}" if original else "unnamed"
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    if len(text) > max_len:
        text = text[: max_len - 9].rstrip("._-") + "_" + digest
    return text


def safe_join(out_dir: str | os.PathLike, *parts: str | os.PathLike) -> Path:
    """Join path parts below ``out_dir`` and refuse any result outside it.

    Parameters
    ----------
    out_dir : path
        The output folder (need not exist yet).
    *parts : str or path
        Components, normally made with :func:`safe_filename`.

    Returns
    -------
    Path
        The resolved path, inside ``out_dir``.

    Raises
    ------
    InputError
        If the joined path (after resolving ``..`` and symbolic links) lies outside ``out_dir`` or
        is ``out_dir`` itself.
    """
    base = Path(out_dir).resolve()
    target = base.joinpath(*[os.fspath(p) for p in parts]).resolve()
    if target == base or not target.is_relative_to(base):
        raise InputError(f"output path {os.path.join(*map(os.fspath, parts)) if parts else ''!r} "
                         "would leave the output folder", path=base,
                         hint="file names are built from header values; use safe_filename")
    return target


__all__ = ["REDACTED", "Pseudonymizer", "RedactingFilter", "redact", "safe_filename", "safe_join"]

"""Reader confirmations: an append-only record of who confirmed which measures, and when.

A radiologist reviews the automatic masks, corrects them if needed and confirms a final ARCO stage.
Each confirmation becomes one :class:`ReadRecord`: reader, time (UTC), software version, input
series, a SHA-256 of every mask, the automatic and the confirmed measures, and whether the masks
were edited. Records live in a local SQLite database (:class:`ReadStore`) whose rows are never
updated or deleted (triggers refuse it), and, for each confirmation, in a folder holding the masks
(NIfTI, and DICOM SEG when the source slices are at hand) next to a JSON copy of the record.

The database lives at ``~/.onfh-imaging/reads.sqlite`` unless the environment variable
``ONFH_READS_DB`` names another file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from onfh_imaging import __version__
from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Volume
from onfh_imaging.io._atomic import atomic_path, json_default
from onfh_imaging.vocab import ARCO_2019_STAGES, SIDES

__all__ = [
    "ARCO_2019_STAGES",  # the stages a reader may confirm (onfh_imaging.vocab), as readers import them
    "BUSY_TIMEOUT_MS", "ENV_DB", "HEAD", "LESION", "NOT_ASSESSABLE", "RECORD_SCHEMA", "ReadRecord",
    "ReadStore", "confirm_read", "default_db_path", "mask_name", "mask_sha256", "most_severe_stage",
    "read_folder", "utc_now_iso", "write_read_files",
]

#: Schema of a read's JSON (the ``record_json`` column and ``read.json``).
RECORD_SCHEMA = "onfh-imaging/read/1"
#: Environment variable naming the reads database file.
ENV_DB = "ONFH_READS_DB"
#: How long (ms) a writer waits for another viewer's transaction: a confirmation is one short INSERT,
#: so 30 s lets many viewers confirm at once without failing a read.
BUSY_TIMEOUT_MS = 30_000
NOT_ASSESSABLE = "not assessable"
"""What a reader records for a hip the image cannot answer for (instead of an ARCO stage)."""

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS reads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    read_uid TEXT NOT NULL UNIQUE,
    study_instance_uid TEXT,
    series_instance_uid TEXT NOT NULL,
    reader TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    software_version TEXT NOT NULL,
    arco_2019 TEXT NOT NULL,
    edited INTEGER NOT NULL,
    blind INTEGER NOT NULL,
    record_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reads_by_series ON reads (series_instance_uid, id);
CREATE INDEX IF NOT EXISTS reads_by_study ON reads (study_instance_uid, id);
CREATE TRIGGER IF NOT EXISTS reads_no_update BEFORE UPDATE ON reads
BEGIN SELECT RAISE(ABORT, 'reads are append-only: a confirmation is never changed'); END;
CREATE TRIGGER IF NOT EXISTS reads_no_delete BEFORE DELETE ON reads
BEGIN SELECT RAISE(ABORT, 'reads are append-only: a confirmation is never deleted'); END;
"""


def default_db_path() -> Path:
    """Where reads are stored: ``$ONFH_READS_DB`` or ``~/.onfh-imaging/reads.sqlite``.

    Returns
    -------
    Path
        The database file (``~`` expanded), whether or not it exists yet.
    """
    env = os.environ.get(ENV_DB, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".onfh-imaging" / "reads.sqlite"


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with an explicit ``+00:00`` offset, to the microsecond.

    Returns
    -------
    str
        E.g. ``"2026-01-31T14:05:09.123456+00:00"``.
    """
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def mask_sha256(mask: Volume | np.ndarray) -> str:
    """SHA-256 (hex) of a binary mask.

    The digest covers the array shape and the mask as one byte per voxel (0 or 1) in ``[k, j, i]``
    C order, so equal masks on equal grids always hash alike whatever their dtype.

    Parameters
    ----------
    mask : Volume or ndarray
        Boolean (or 0/non-zero) mask.

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    arr = mask.array if isinstance(mask, Volume) else np.asarray(mask)
    digest = hashlib.sha256()
    digest.update(("x".join(str(n) for n in arr.shape) + ";").encode("ascii"))
    digest.update(np.ascontiguousarray(arr != 0, dtype=np.uint8).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ReadRecord:
    """One reader's confirmation of one series.

    Parameters
    ----------
    reader : str
        Reader's name or initials.
    series_instance_uid : str
        SeriesInstanceUID of the image series that was read.
    arco_2019 : str
        Final ARCO 2019 stage the reader confirmed (one of :data:`ARCO_2019_STAGES`); with per-hip
        confirmations, the most severe stage among them, or :data:`NOT_ASSESSABLE` when no hip was.
    study_instance_uid : str or None
        StudyInstanceUID, when known.
    comment : str
        Free text.
    mask_sha256 : dict of str to str
        SHA-256 of every confirmed mask, keyed by mask name (``"right_femoral_head"``...).
    automatic_measures : list of dict
        Per-hip measures of the automatic masks, as in the JSON output contract.
    confirmed_measures : list of dict
        Per-hip measures of the masks the reader confirmed.
    edited : bool
        True when the reader changed any mask before confirming.
    blind : bool
        True when previous reads were hidden from the reader.
    hips : list of dict
        One confirmation per hip: ``side``, ``arco_2019`` (a stage, or None when ``assessable`` is
        false), ``assessable``, ``comment``, ``edited`` (that hip's masks were changed),
        ``head_placed_by_hand`` (the head was segmented from points the reader placed) and
        ``measurement_error`` (why the hip could not be measured, or None).
    files : dict of str to str
        Files written for this confirmation (masks, SEG, JSON), keyed by kind.
    read_uid : str
        Unique id of this confirmation.
    confirmed_at : str
        UTC time of the confirmation, ISO 8601.
    software_version : str
        onfh-imaging version that produced the measures.

    Raises
    ------
    InputError
        When the reader or the SeriesInstanceUID is empty, ``arco_2019`` is not a stage (nor
        :data:`NOT_ASSESSABLE` for a read with per-hip confirmations), or an assessable hip has no
        valid stage.
    """

    reader: str
    series_instance_uid: str
    arco_2019: str
    study_instance_uid: str | None = None
    comment: str = ""
    mask_sha256: Mapping[str, str] = field(default_factory=dict)
    automatic_measures: Sequence[Mapping[str, Any]] = field(default_factory=list)
    confirmed_measures: Sequence[Mapping[str, Any]] = field(default_factory=list)
    edited: bool = False
    blind: bool = False
    hips: Sequence[Mapping[str, Any]] = field(default_factory=list)
    files: Mapping[str, str] = field(default_factory=dict)
    read_uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    confirmed_at: str = field(default_factory=utc_now_iso)
    software_version: str = __version__

    def __post_init__(self) -> None:
        if not str(self.reader).strip():
            raise InputError("a read needs the reader's name or initials", hint="type them in the Reader field")
        if not str(self.series_instance_uid).strip():
            raise InputError("a read needs the SeriesInstanceUID of the series that was read")
        allowed = ARCO_2019_STAGES + ((NOT_ASSESSABLE,) if self.hips else ())
        if self.arco_2019 not in allowed:
            raise InputError(
                f"unknown ARCO 2019 stage {self.arco_2019!r}", hint=f"use one of {', '.join(allowed)}"
            )
        for hip in self.hips:
            stage = hip.get("arco_2019")
            if hip.get("assessable", True) and stage not in ARCO_2019_STAGES:
                raise InputError(f"the {hip.get('side')} hip has no valid ARCO 2019 stage ({stage!r})",
                                 hint=f"use one of {', '.join(ARCO_2019_STAGES)}, or record it as {NOT_ASSESSABLE}")
        object.__setattr__(self, "reader", str(self.reader).strip())
        for name in ("automatic_measures", "confirmed_measures", "hips"):
            object.__setattr__(self, name, [dict(m) for m in getattr(self, name)])
        for name in ("mask_sha256", "files"):
            object.__setattr__(self, name, dict(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: ``schema`` (:data:`RECORD_SCHEMA`) first, then every field."""
        d = asdict(self)
        d["mask_sha256"] = dict(self.mask_sha256)
        d["automatic_measures"] = [dict(m) for m in self.automatic_measures]
        d["confirmed_measures"] = [dict(m) for m in self.confirmed_measures]
        d["hips"] = [dict(h) for h in self.hips]
        d["files"] = dict(self.files)
        return {"schema": RECORD_SCHEMA, **d}

    def to_json(self) -> str:
        """The record as indented JSON text (:meth:`to_dict`; numpy values as plain numbers)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=json_default)

    def hip_stage(self, side: str) -> str | None:
        """The reader's final stage of one hip.

        Parameters
        ----------
        side : {"left", "right"}
            The patient's hip.

        Returns
        -------
        str or None
            With per-hip confirmations: that hip's stage, None when it was recorded not assessable
            or has no confirmation. Without them: the read's single stage.
        """
        for hip in self.hips:
            if hip.get("side") == side:
                return hip.get("arco_2019") if hip.get("assessable", True) else None
        return None if self.hips else self.arco_2019

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ReadRecord":
        """Inverse of :meth:`to_dict` (unknown keys are ignored, so later schemas still load).

        Parameters
        ----------
        d : mapping
            A record as :meth:`to_dict` gives it (``schema`` and keys of later fields are ignored).

        Returns
        -------
        ReadRecord

        Raises
        ------
        InputError
            When the record is not valid (see :class:`ReadRecord`).
        """
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


class ReadStore:
    """Append-only store of :class:`ReadRecord` in a local SQLite database.

    The database runs in WAL mode with a busy timeout, so several viewers (processes or threads)
    can confirm reads at the same time; each :meth:`add` is its own short transaction and every
    call opens its own connection, so a store may be shared between threads.

    Parameters
    ----------
    path : str or Path, optional
        Database file; defaults to :func:`default_db_path`. Its folder is created.
    busy_timeout_ms : int
        How long a writer waits for another one to finish, in milliseconds.

    Attributes
    ----------
    path : Path
        The database file.
    busy_timeout_ms : int
        As given, in milliseconds.

    Raises
    ------
    InputError
        When the folder cannot be created, the file is not a SQLite database that accepts WAL mode,
        or its schema is newer than this software's.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.busy_timeout_ms = int(busy_timeout_ms)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder of the reads database: {exc}", path=self.path) from exc
        with self._connect() as con:
            self._init_schema(con)

    def _connect(self) -> sqlite3.Connection:
        con = None
        try:
            con = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000.0, isolation_level=None)
            con.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            if con.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.DatabaseError("the database refused WAL mode")
            con.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            if con is not None:
                con.close()
            raise InputError(
                f"not a usable reads database: {exc}", path=self.path, hint=f"choose another file or unset {ENV_DB}"
            ) from exc
        return _ClosingConnection(con)

    def _init_schema(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise InputError(
                f"reads database has schema version {version}, newer than this software ({_SCHEMA_VERSION})",
                path=self.path,
                hint="update onfh-imaging",
            )
        if version == _SCHEMA_VERSION:
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executescript_in_transaction(_SCHEMA)
            con.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def add(self, record: ReadRecord) -> int:
        """Append one confirmation; returns its row id. Existing rows are never touched.

        Parameters
        ----------
        record : ReadRecord
            The confirmation; its ``read_uid`` must not be stored yet.

        Returns
        -------
        int
            The new row's id.

        Raises
        ------
        InputError
            When the database cannot be opened.
        sqlite3.IntegrityError
            When a read with the same ``read_uid`` is already stored.
        """
        row = (record.read_uid, record.study_instance_uid, record.series_instance_uid, record.reader,
               record.confirmed_at, record.software_version, record.arco_2019, int(bool(record.edited)),
               int(bool(record.blind)), record.to_json())
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO reads (read_uid, study_instance_uid, series_instance_uid, reader, confirmed_at, "
                "software_version, arco_2019, edited, blind, record_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return int(cur.lastrowid)

    def _select(self, where: str, args: tuple) -> list[ReadRecord]:
        with self._connect() as con:
            rows = con.execute(f"SELECT record_json FROM reads WHERE {where} ORDER BY id", args).fetchall()
        return [ReadRecord.from_dict(json.loads(r[0])) for r in rows]

    def history(self, series_uid: str) -> list[ReadRecord]:
        """Every confirmation of one series, oldest first.

        Parameters
        ----------
        series_uid : str
            SeriesInstanceUID of the series read.

        Returns
        -------
        list of ReadRecord
        """
        return self._select("series_instance_uid = ?", (series_uid,))

    def for_study(self, study_uid: str) -> list[ReadRecord]:
        """Every confirmation of any series of one study, oldest first.

        Parameters
        ----------
        study_uid : str
            StudyInstanceUID.

        Returns
        -------
        list of ReadRecord
        """
        return self._select("study_instance_uid = ?", (study_uid,))

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM reads").fetchone()[0])


class _ClosingConnection:
    """A connection used as a context manager that closes (not only commits) on exit."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        return self._con.execute(sql, args)

    def executescript_in_transaction(self, script: str) -> None:
        # executescript() would COMMIT the open transaction first; run statement by statement instead.
        for statement in _split_sql(script):
            self._con.execute(statement)

    def __enter__(self) -> "_ClosingConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def _split_sql(script: str) -> list[str]:
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        candidate = "\n".join(current)
        if sqlite3.complete_statement(candidate):
            statements.append(candidate)
            current = []
    return statements


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "reader"


def read_folder(store: ReadStore, record: ReadRecord) -> Path:
    """Folder that holds one confirmation's files: ``<db folder>/reads/<series>/<time>_<reader>_<id>``.

    Parameters
    ----------
    store : ReadStore
        The store the read goes to (its database's folder).
    record : ReadRecord
        The confirmation.

    Returns
    -------
    Path
        Not created. ``<time>`` is the UTC time to the second (``YYYYMMDDTHHMMSS``), ``<id>`` the
        first 8 characters of ``read_uid``; series and reader are made file-name safe.
    """
    stamp = record.confirmed_at.replace(":", "").replace("-", "").split(".")[0]
    name = f"{stamp}_{_safe_name(record.reader)}_{record.read_uid[:8]}"
    return store.path.parent / "reads" / _safe_name(record.series_instance_uid) / name


#: Structure names of a read's masks (see :func:`mask_name`).
HEAD = "femoral_head"
LESION = "lesion"


def mask_name(side: str, structure: str) -> str:
    """Key of one hip's mask in a read: ``"right_femoral_head"``, ``"left_lesion"``...

    Parameters
    ----------
    side, structure : str
        The patient's hip (``"left"``, ``"right"``) and :data:`HEAD` or :data:`LESION`.

    Returns
    -------
    str
        ``"<side>_<structure>"``.

    Raises
    ------
    ValueError
        When ``side`` or ``structure`` is not one of those.
    """
    if side not in SIDES or structure not in (HEAD, LESION):
        raise ValueError(f"no mask named for side {side!r} and structure {structure!r}")
    return f"{side}_{structure}"


def _parse_mask_name(name: str) -> tuple[str, str]:
    side, _, structure = name.partition("_")
    mask_name(side, structure)
    return side, structure


def _segmentation(
    masks: Mapping[str, Volume], edited: set[str], source_datasets: Sequence[Any], reader: str
) -> Any:
    from onfh_imaging.export.seg import build_segmentation, femoral_head_segment, necrotic_lesion_segment

    specs = []
    for name, mask in masks.items():
        side, structure = _parse_mask_name(name)
        binary = mask.with_array((np.asarray(mask.array) != 0).astype(np.uint8))
        make = femoral_head_segment if structure == HEAD else necrotic_lesion_segment
        specs.append(make(side, binary, algorithm_type="SEMIAUTOMATIC" if name in edited else "AUTOMATIC"))
    return build_segmentation(list(source_datasets), specs, content_creator_name=_person_name(reader))


def _person_name(reader: str) -> str:
    """A DICOM person name; a name typed without components is kept whole as the family name."""
    return reader if "^" in reader else f"{reader}^"


def _reader_hips(record: ReadRecord) -> list[dict]:
    """The confirmed measures with the reader's final stage in place of the suggested one."""
    hips = []
    for hip in record.confirmed_measures:
        stage = record.hip_stage(str(hip.get("side")))
        if stage is None:
            continue  # recorded not assessable: no stage to report
        staging = {**(hip.get("staging") or {}), "arco_2019": stage,
                   "arco_basis": f"confirmed by the reader ({record.reader})"}
        hips.append({**hip, "staging": staging})
    return hips


def most_severe_stage(stages: Sequence[str | None]) -> str:
    """The most severe ARCO 2019 stage among ``stages`` (None entries skipped), or :data:`NOT_ASSESSABLE`.

    Parameters
    ----------
    stages : sequence of str or None
        Per-hip stages; anything not in :data:`ARCO_2019_STAGES` is skipped.

    Returns
    -------
    str
        The latest of them in :data:`ARCO_2019_STAGES` order, or :data:`NOT_ASSESSABLE` when none
        is a stage.
    """
    known = [s for s in stages if s in ARCO_2019_STAGES]
    return max(known, key=ARCO_2019_STAGES.index) if known else NOT_ASSESSABLE


def write_read_files(
    record: ReadRecord,
    masks: Mapping[str, Volume],
    folder: str | os.PathLike,
    *,
    source_datasets: Sequence[Any] | None = None,
    edited: Sequence[str] = (),
) -> dict[str, str]:
    """Write the confirmed masks and a JSON copy of the record into ``folder`` (atomically).

    Parameters
    ----------
    record : ReadRecord
        The confirmation; its ``files`` are ignored (the returned mapping replaces them).
    masks : mapping of str to Volume
        Boolean masks on the image grid, keyed by :func:`mask_name`.
    folder : path
        Destination folder, created if needed.
    source_datasets : sequence of pydicom.Dataset, optional
        The image series' slices; when given, the masks are also written as one DICOM SEG and the
        confirmed measures as a DICOM SR referencing it.
    edited : sequence of str
        Names of masks the reader changed (SEG segments marked SEMIAUTOMATIC, others AUTOMATIC).

    Returns
    -------
    dict of str to str
        Written files keyed by kind: ``"nifti:<mask name>"``, ``"seg"``, ``"sr"`` (a TID 1500
        measurement report of the confirmed measures, with the reader as observer) and ``"json"``.
    """
    import nibabel as nib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, mask in masks.items():
        target = folder / f"{_safe_name(name)}.nii.gz"
        with atomic_path(target) as tmp:
            nib.save(mask.with_array(np.asarray(mask.array) != 0).to_nifti(), str(tmp))
        files[f"nifti:{name}"] = str(target)
    if source_datasets:
        from onfh_imaging.export.seg import write_segmentation
        from onfh_imaging.export.sr import build_measurement_report, write_report

        target = folder / "masks_seg.dcm"
        seg = _segmentation(masks, set(edited), source_datasets, record.reader)
        write_segmentation(target, seg)
        files["seg"] = str(target)
        target = folder / "measurements_sr.dcm"
        write_report(target, build_measurement_report(list(source_datasets), seg, _reader_hips(record),
                                                      reader_name=_person_name(record.reader)))
        files["sr"] = str(target)
    target = folder / "read.json"
    files["json"] = str(target)
    final = ReadRecord.from_dict({**record.to_dict(), "files": files})
    with atomic_path(target) as tmp:
        tmp.write_text(final.to_json() + "\n", encoding="utf-8")
    return files


def confirm_read(
    store: ReadStore,
    *,
    reader: str,
    arco_2019: str,
    series_instance_uid: str,
    masks: Mapping[str, Volume],
    automatic_masks: Mapping[str, Volume],
    automatic_measures: Sequence[Mapping[str, Any]],
    confirmed_measures: Sequence[Mapping[str, Any]],
    study_instance_uid: str | None = None,
    comment: str = "",
    blind: bool = False,
    source_datasets: Sequence[Any] | None = None,
    hips: Sequence[Mapping[str, Any]] = (),
) -> ReadRecord:
    """Record one reader's confirmation: hash the masks, write the files, append to the store.

    ``edited`` is derived, not declared: it is True when any confirmed mask differs from the
    automatic mask of the same name (or a mask was added or removed). Masks are keyed by
    :func:`mask_name`; with ``source_datasets`` (the series' DICOM slices) they are also written as
    a DICOM SEG whose edited segments are marked SEMIAUTOMATIC. ``hips`` holds one confirmation per
    hip (see :class:`ReadRecord`); ``arco_2019`` is then their most severe stage
    (:func:`most_severe_stage`).

    Parameters
    ----------
    store : ReadStore
        Where the read is appended; its files go under the database's folder (:func:`read_folder`).
    reader : str
        The reader's name or initials.
    arco_2019 : str
        The reader's final stage of the series (see :class:`ReadRecord`).
    series_instance_uid : str
        The series read.
    masks : mapping of str to Volume
        The confirmed masks on the image grid, keyed by :func:`mask_name`.
    automatic_masks : mapping of str to Volume
        The masks the software proposed, same keys.
    automatic_measures, confirmed_measures : sequence of dict
        Per-hip measures of the automatic and of the confirmed masks, as in the output contract
        (mm, mL, %).
    study_instance_uid, comment, blind
        As in :class:`ReadRecord`.
    source_datasets : sequence of pydicom.Dataset, optional
        The series' slices, for the DICOM SEG and SR.
    hips : sequence of dict
        Per-hip confirmations (see :class:`ReadRecord`); a hip marked ``edited`` makes the read
        edited.

    Returns
    -------
    ReadRecord
        The stored record, including the files written for it.

    Raises
    ------
    InputError
        When the record is not valid (see :class:`ReadRecord`) or the database cannot be opened.
    ValueError
        When a mask key is not a :func:`mask_name` and ``source_datasets`` are given.
    """
    hashes = {name: mask_sha256(m) for name, m in masks.items()}
    auto_hashes = {name: mask_sha256(m) for name, m in automatic_masks.items()}
    record = ReadRecord(
        reader=reader, series_instance_uid=series_instance_uid, study_instance_uid=study_instance_uid,
        arco_2019=arco_2019, comment=comment, mask_sha256=hashes, automatic_measures=list(automatic_measures),
        confirmed_measures=list(confirmed_measures),
        edited=hashes != auto_hashes or any(h.get("edited") for h in hips), blind=blind, hips=list(hips),
    )
    edited = [name for name in hashes if hashes[name] != auto_hashes.get(name)]
    files = write_read_files(
        record, masks, read_folder(store, record), source_datasets=source_datasets, edited=edited
    )
    record = ReadRecord.from_dict({**record.to_dict(), "files": files})
    store.add(record)
    return record

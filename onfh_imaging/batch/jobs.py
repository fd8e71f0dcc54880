"""The unit of batch work: one series of one study, with a fingerprint of its files.

A :class:`SeriesJob` is small, immutable and picklable, so it travels unchanged to a local worker
process or to a Dask worker on another machine.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["SeriesJob", "content_hash"]


@dataclass(frozen=True)
class SeriesJob:
    """One series to measure.

    Parameters
    ----------
    patient_id, study_instance_uid, series_instance_uid : str
        DICOM identifiers of the series.
    study_date : str or None
        Study date as ISO ``YYYY-MM-DD`` (the visit date), or None when the header has none.
    modality, series_description : str
        As in the DICOM header (``MR``, ``DX``, ``CR``...).
    files : tuple of str
        The series' files, sorted by path.
    content_hash : str
        Hex SHA-256 fingerprint of the files (see :func:`content_hash`).
    sequence : str
        Sequence hint from the scan (``T1``, ``STIR``...), empty when unknown.
    fluid_series_instance_uid, fluid_files : str or None, tuple of str
        A fluid-sensitive series (STIR, fat-saturated T2) of the same study that helps find the
        lesion, when the study has one; its files enter the content hash.
    series_key : str
        The scan's key of a sub-series (``<uid>#<n>``: one orientation or echo of a series that holds
        several); empty when the series is whole.
    """

    patient_id: str
    study_instance_uid: str
    study_date: str | None
    series_instance_uid: str
    modality: str
    series_description: str
    files: tuple[str, ...]
    content_hash: str
    sequence: str = ""
    fluid_series_instance_uid: str | None = None
    fluid_files: tuple[str, ...] = ()
    series_key: str = ""

    @property
    def series_id(self) -> str:
        """The series' identity in the store: its scan key (``uid#n`` for a sub-series) or its UID."""
        return self.series_key or self.series_instance_uid

    def describe(self) -> dict:
        """The job's identity as a JSON-ready dict (file list summarised by count and first file).

        Returns
        -------
        dict
            Every field but ``files`` and ``fluid_files``, with ``series_key`` set to
            :attr:`series_id`, plus ``n_files``, ``first_file`` (None for no files) and
            ``n_fluid_files``.
        """
        d = asdict(self)
        d["n_files"] = len(self.files)
        d["first_file"] = self.files[0] if self.files else None
        d["n_fluid_files"] = len(self.fluid_files)
        d["series_key"] = self.series_id
        del d["files"], d["fluid_files"]
        return d


def _file_stat(path: str) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of a file, or of the zip archive holding it (``archive.zip/member``)."""
    for candidate in (Path(path), *Path(path).parents):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        return (st.st_size, st.st_mtime_ns) if candidate.is_file() else (-1, -1)
    return (-1, -1)


def content_hash(files: Iterable[str | Path], sop_instance_uids: Iterable[str] = ()) -> str:
    """Fingerprint a series from its file names, sizes, modification times and SOPInstanceUIDs.

    Hashing the pixel bytes of a trial cohort (tens of GB) would cost as much disk reading as
    measuring it, only to decide what to skip; a ``stat`` per file costs microseconds. Any rewrite of
    a file changes its size or mtime, and the SOPInstanceUIDs change whenever the scanner or a
    pseudonymiser produces new images. Base names, not full paths, enter the hash so that moving the
    cohort folder (``mv``, ``rsync -a``, ``cp -p``) keeps the fingerprint; a copy that does not
    preserve times re-measures the series, which is the safe direction.

    Parameters
    ----------
    files : iterable of str or Path
        The series' files (order does not matter).
    sop_instance_uids : iterable of str, optional
        SOPInstanceUIDs read from the headers, when known.

    Returns
    -------
    str
        64 hex digits.
    """
    h = hashlib.sha256()
    entries = sorted((Path(f).name, *_file_stat(str(f))) for f in files)
    for name, size, mtime in entries:
        h.update(f"{name}\0{size}\0{mtime}\n".encode())
    h.update(b"--sop--\n")
    for uid in sorted(set(sop_instance_uids)):
        h.update(f"{uid}\n".encode())
    return h.hexdigest()

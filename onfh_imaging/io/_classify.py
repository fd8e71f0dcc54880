"""What an image is, from its header: slice orientation, MR contrast and fat suppression, radiograph
view and laterality."""

from __future__ import annotations

import re

import numpy as np

from onfh_imaging.io._header import Header
from onfh_imaging.vocab import VIEW_AP, VIEW_LATERAL, VIEW_UNKNOWN

__all__ = ["OBLIQUE_LIMIT_DEG", "PD_MAX_TE_MS", "STIR_TI_MS", "T1_MAX_TE_MS", "T1_MAX_TR_MS", "T2_MIN_TE_MS",
           "T2_PD_MIN_TR_MS", "orientation_label", "radiograph_laterality", "radiograph_view", "sequence_hint"]

# Orientation names are given when the slice normal lies within this angle of a patient axis.
OBLIQUE_LIMIT_DEG = 30.0

#: Inversion times (ms) of short-tau inversion recovery: fat's null point is about 150 ms at 1.5 T and
#: 200-230 ms at 3 T; fluid-attenuated sequences (FLAIR) invert at 2000 ms or more.
STIR_TI_MS = (80.0, 250.0)
#: Spin-echo weighting from repetition and echo times when no keyword names the contrast: short TR and
#: short TE weight T1 (TR < 1000 ms, TE < 30 ms); long TR with long TE weights T2 (TR >= 1500 ms,
#: TE >= 60 ms), with short TE proton density (TE < 50 ms). Values between are left unknown.
T1_MAX_TR_MS = 1000.0
T1_MAX_TE_MS = 30.0
T2_PD_MIN_TR_MS = 1500.0
T2_MIN_TE_MS = 60.0
PD_MAX_TE_MS = 50.0


def orientation_label(normal: np.ndarray | None) -> str:
    """``"axial"``, ``"coronal"``, ``"sagittal"`` or ``"oblique"`` from the slice normal (LPS).

    A plane is named when its normal lies within :data:`OBLIQUE_LIMIT_DEG` of the patient axis
    (an oblique-coronal hip series tilted by 12 degrees is still coronal).

    Parameters
    ----------
    normal : ndarray, shape (3,), or None
        Slice normal in LPS (unit length); None for images without orientation.

    Returns
    -------
    str
        The plane's name, or ``"unknown"`` when ``normal`` is None.
    """
    if normal is None:
        return "unknown"
    n = np.abs(np.asarray(normal, dtype=float))
    axis = int(np.argmax(n))
    if np.degrees(np.arccos(min(1.0, n[axis]))) > OBLIQUE_LIMIT_DEG:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _has_word(text: str, pattern: str) -> bool:
    return re.search(pattern, text) is not None


def sequence_hint(header: Header) -> tuple[str, bool]:
    """Contrast (``"T1"``, ``"T2"``, ``"STIR"``, ``"PD"``, ``"unknown"``) and fat suppression of an MR image.

    Uses, in order: an inversion-recovery with a short inversion time (:data:`STIR_TI_MS`: STIR),
    keywords of the series description, protocol and sequence name, then repetition/echo times outside
    gradient echo (T1: TR < 1000 ms and TE < 30 ms; T2: TR >= 1500 ms and TE >= 60 ms; PD: TR >= 1500 ms
    and TE < 50 ms; see :data:`T1_MAX_TR_MS` and the constants after it).

    Parameters
    ----------
    header : Header
        The image's DICOM header.

    Returns
    -------
    contrast : str
        ``"T1"``, ``"T2"``, ``"STIR"``, ``"PD"`` or ``"unknown"``.
    fat_saturated : bool
        Fat suppression from ScanOptions or the description's keywords (always True for STIR).
    """
    text = " ".join(header.text(k) for k in ("SeriesDescription", "ProtocolName", "SequenceName")).upper()
    scanning = header.text("ScanningSequence").upper()
    options = header.text("ScanOptions").upper()
    tr, te, ti = header.float("RepetitionTime"), header.float("EchoTime"), header.float("InversionTime")

    fat_sat = bool(
        re.search(r"(^|\\)(FS|FAT_SAT|FSS|SFS|SP_FS)($|\\)", options)
        or _has_word(text, r"(?<![A-Z])(FS|FATSAT|FAT SAT|FAT-SAT|SPAIR|SPIR|SPECIAL|CHESS)(?![A-Z])")
        or _has_word(text, r"T[12]W?FS|PDW?FS")
    )
    if ("IR" in scanning.split("\\") and ti is not None and STIR_TI_MS[0] <= ti <= STIR_TI_MS[1]) or _has_word(
            text, r"(?<![A-Z])(STIR|TIRM)(?![A-Z])"):
        return "STIR", True
    if _has_word(text, r"(?<![A-Z0-9])T1(?!\d)"):
        return "T1", fat_sat
    if _has_word(text, r"(?<![A-Z0-9])T2(?!\d)") or _has_word(text, r"(?<![A-Z])FLAIR"):
        return "T2", fat_sat
    if _has_word(text, r"(?<![A-Z])(PD|PROTON)(?=W|FS|[^A-Z]|$)"):
        return "PD", fat_sat
    if tr is not None and te is not None and "GR" not in scanning.split("\\"):
        if tr < T1_MAX_TR_MS and te < T1_MAX_TE_MS:
            return "T1", fat_sat
        if tr >= T2_PD_MIN_TR_MS and te >= T2_MIN_TE_MS:
            return "T2", fat_sat
        if tr >= T2_PD_MIN_TR_MS and te < PD_MAX_TE_MS:
            return "PD", fat_sat
    return "unknown", fat_sat


def radiograph_view(header: Header) -> str:
    """``"AP"`` (AP/PA), ``"lateral"`` (LL/RL/lateral/frog-leg) or ``"unknown"``.

    ViewPosition first; without one, keywords of the series description and protocol name.

    Parameters
    ----------
    header : Header
        The radiograph's DICOM header.

    Returns
    -------
    str
        One of :data:`onfh_imaging.vocab.VIEW_AP`, ``VIEW_LATERAL``, ``VIEW_UNKNOWN``.
    """
    view = header.text("ViewPosition").upper()
    if view in ("AP", "PA"):
        return VIEW_AP
    if view in ("LL", "RL", "LLD", "RLD", "LATERAL", "LAT"):
        return VIEW_LATERAL
    text = " ".join(header.text(k) for k in ("SeriesDescription", "ProtocolName")).upper()
    if _has_word(text, r"FROG|LAT(ERAL)?(?![A-Z])|LAUENSTEIN|CROSS.?TABLE"):
        return VIEW_LATERAL
    if _has_word(text, r"(?<![A-Z])(AP|PA)(?![A-Z])|ANTEROPOSTERIOR|PELVIS"):
        return VIEW_AP
    return VIEW_UNKNOWN


def radiograph_laterality(header: Header) -> str:
    """``"left"``, ``"right"``, ``"both"`` or ``"unknown"`` from ImageLaterality / Laterality.

    Parameters
    ----------
    header : Header
        The radiograph's DICOM header.

    Returns
    -------
    str
    """
    code = (header.text("ImageLaterality") or header.text("Laterality")).upper()
    return {"L": "left", "R": "right", "B": "both"}.get(code, "unknown")

"""The toolkit's vocabularies, each defined once: modalities, body parts, views, sides, ARCO stages.

A low-level module (it imports nothing of the project), so the readers in :mod:`onfh_imaging.io`, the
pipeline, the batch layer, the reads store and the napari plugin all use the same sets. A value outside
a vocabulary is refused with a reason, never silently skipped.
"""

from __future__ import annotations

#: DICOM Modality of the MR series that are measured.
MR_MODALITY = "MR"

#: DICOM Modality values of projection radiographs: read as one 2-D image with its pixel size at the
#: patient and measured as hip radiographs. CR (computed radiography), DX (digital radiography), DR and RG
#: (older and vendor terms for the same), RF (fluoroscopy spot images) and XA (C-arm / angiography
#: projection images) are all single projections of the pelvis when they show it. Mammography (MG),
#: intra-oral (IO) and panoramic dental (PX) images never show a hip and are not measured.
RADIOGRAPH_MODALITIES: frozenset[str] = frozenset({"CR", "DX", "DR", "RG", "RF", "XA"})

#: Every modality ``onfh measure`` measures.
MEASURED_MODALITIES: frozenset[str] = RADIOGRAPH_MODALITIES | {MR_MODALITY}

#: BodyPartExamined values (upper case, spaces and underscores removed) of images that can hold a
#: femoral head: the hip itself and the regions that contain it (pelvis, thigh, whole lower limb, whole
#: body), with the local words scanners in Europe write for hip and pelvis. An empty BodyPartExamined is
#: accepted; any other named body part (KNEE, BRAIN, LSPINE...) is refused unless the series is chosen
#: explicitly (``--series-uid``).
HIP_BODY_PARTS: frozenset[str] = frozenset({
    "HIP", "HIPS", "HIPJOINT", "FEMORALHEAD", "PELVIS", "ABDOMENPELVIS", "CHESTABDOMENPELVIS", "FEMUR", "THIGH",
    "LOWERLIMB", "LOWEREXTREMITY", "EXTREMITY", "WHOLEBODY", "SACROILIACJOINT",
    "HANCHE", "BASSIN", "HUEFTE", "HÜFTE", "BECKEN", "ANCA", "BACINO", "CADERA", "HEUP", "BEKKEN",
})

#: Radiograph views (see :func:`onfh_imaging.io._classify.radiograph_view`).
VIEW_AP = "AP"
VIEW_LATERAL = "lateral"
VIEW_UNKNOWN = "unknown"
VIEWS: tuple[str, ...] = (VIEW_AP, VIEW_LATERAL, VIEW_UNKNOWN)

#: A hip is the patient's ``left`` or ``right`` one.
SIDES: tuple[str, ...] = ("left", "right")
#: What an image shows: one side, both, or not said (ImageLaterality / Laterality).
LATERALITIES: tuple[str, ...] = ("left", "right", "both", "unknown")

#: ARCO 2019 stages from least to most advanced ("0": no osteonecrosis); the order is the one that
#: agreement statistics and trajectories rank by.
ARCO_2019_STAGES: tuple[str, ...] = ("0", "I", "II", "IIIA", "IIIB", "IV")


def body_part_key(text: str) -> str:
    """A BodyPartExamined value as compared with :data:`HIP_BODY_PARTS` (upper case, no separators).

    Parameters
    ----------
    text : str
        BodyPartExamined as written.

    Returns
    -------
    str
        Its letters and digits only, upper case.
    """
    return "".join(ch for ch in str(text).upper() if ch.isalnum())


def may_show_a_hip(body_part: str) -> bool:
    """True when BodyPartExamined is empty or names a region that holds a femoral head.

    Parameters
    ----------
    body_part : str
        BodyPartExamined as written.

    Returns
    -------
    bool
    """
    key = body_part_key(body_part)
    return not key or key in HIP_BODY_PARTS


__all__ = [
    "ARCO_2019_STAGES", "HIP_BODY_PARTS", "LATERALITIES", "MEASURED_MODALITIES", "MR_MODALITY",
    "RADIOGRAPH_MODALITIES", "SIDES", "VIEWS", "VIEW_AP", "VIEW_LATERAL", "VIEW_UNKNOWN", "body_part_key",
    "may_show_a_hip",
]

"""Per-hip measures as a DICOM Comprehensive 3D SR (TID 1500 Measurement Report).

Each hip contributes up to two measurement groups (TID 1411), each referencing its segment in the
DICOM SEG written alongside: the femoral head (volume, radius, sphericity, RMS deviation, collapse
depth, suggested ARCO 2019 stage) and the necrotic lesion (volume, percent of the head involved,
modified Kerboul angle, Steinberg extent). A hip whose segment is not in the SEG gets a TID 1501
group with a finding site instead, so no measure is lost.

Concept names use standard codes where one exists with the meaning we report:

* Volume - SCT 118565006; Radius - SCT 131190003 (both in CID 7469).

The remaining concepts have no standard code: sphericity of a bone surface, RMS radial deviation
from the reference sphere, femoral head collapse depth, percent of head involved, the modified
Kerboul combined necrotic angle and the ARCO / Steinberg stages. They use the project's local
coding scheme ``99ONFH`` (a "99" designator, as PS3.16 8.2 reserves for local schemes), declared in
the object's Coding Scheme Identification Sequence. Units are UCUM.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from onfh_imaging import __version__
from onfh_imaging.errors import InputError
from onfh_imaging.export._files import write_dicom
from onfh_imaging.export.seg import (
    ANATOMICAL_STRUCTURE,
    FEMORAL_HEAD,
    LATERALITY,
    MANUFACTURER,
    MORPHOLOGICALLY_ABNORMAL_STRUCTURE,
    NECROSIS,
)

#: Coding scheme of the concepts that have no standard code (PS3.16 8.2 reserves "99" for local schemes).
LOCAL_SCHEME = "99ONFH"


def _local(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value=value, scheme_designator=LOCAL_SCHEME, meaning=meaning)


# Units (UCUM).
MILLILITER = CodedConcept(value="mL", scheme_designator="UCUM", meaning="milliliter")
MILLIMETER = codes.UCUM.Millimeter
DEGREE = codes.UCUM.Degree
PERCENT = codes.UCUM.Percent
NO_UNITS = codes.UCUM.NoUnits

# Concept names: standard where one exists, else local (see the module notes).
VOLUME = codes.SCT.Volume  # SCT 118565006
RADIUS = codes.SCT.Radius  # SCT 131190003
SPHERICITY = _local("ONFH001", "Sphericity of femoral head surface")
RMS_DEVIATION = _local("ONFH002", "RMS deviation of femoral head surface from reference sphere")
COLLAPSE_DEPTH = _local("ONFH003", "Femoral head collapse depth")
HEAD_INVOLVEMENT = _local("ONFH004", "Percent of femoral head involved by necrosis")
KERBOUL_ANGLE = _local("ONFH005", "Modified Kerboul combined necrotic angle")
ARCO_2019 = _local("ONFH010", "ARCO 2019 stage (suggested)")
STEINBERG_EXTENT = _local("ONFH011", "Steinberg extent of necrosis")

# (section of the hip dict, key, concept name, unit), in reporting order.
HEAD_MEASURES = (
    ("head", "volume_ml", VOLUME, MILLILITER),
    ("head", "radius_mm", RADIUS, MILLIMETER),
    ("head", "sphericity", SPHERICITY, NO_UNITS),
    ("head", "rms_deviation_mm", RMS_DEVIATION, MILLIMETER),
    ("head", "collapse_depth_mm", COLLAPSE_DEPTH, MILLIMETER),
)
LESION_MEASURES = (
    ("lesion", "volume_ml", VOLUME, MILLILITER),
    ("lesion", "head_involvement_pct", HEAD_INVOLVEMENT, PERCENT),
    ("lesion", "kerboul_angle_deg", KERBOUL_ANGLE, DEGREE),
)

CODING_SCHEME = CodingSchemeIdentificationItem(
    designator=LOCAL_SCHEME,
    name="onfh-imaging local codes",
    responsible_organization="onfh-imaging project",
)


def arco_stage_code(text: str | None) -> CodedConcept | None:
    """The local code of a suggested ARCO 2019 stage 0-IV.

    Parameters
    ----------
    text : str or None
        The stage as the contract writes it (``"IIIA"``, ``"stage IIIB (collapse 3 mm)"``).

    Returns
    -------
    CodedConcept or None
        ``ARCO2019-<stage>`` in :data:`LOCAL_SCHEME`; None when no stage 0-IV can be read from ``text``.
    """
    match = re.search(r"\b(IIIA|IIIB|III|IV|II|I|0)\b", str(text or "").upper())
    if match is None:
        return None
    stage = match.group(1)
    return _local(f"ARCO2019-{stage}", f"ARCO 2019 stage {stage}")


def steinberg_code(text: str | None) -> CodedConcept | None:
    """The local code of a Steinberg extent grade (``"A"``, ``"B"``, ``"C"``), or None.

    Parameters
    ----------
    text : str or None
        The extent as the contract writes it; its first letter is the grade.

    Returns
    -------
    CodedConcept or None
        ``STEINBERG-<grade>`` in :data:`LOCAL_SCHEME`; None when the text starts with no grade.
    """
    match = re.match(r"\s*([ABC])\b", str(text or "").upper())
    if match is None:
        return None
    grade = match.group(1)
    return _local(f"STEINBERG-{grade}", f"Steinberg extent {grade}")


def device_uid() -> str:
    """A UID identifying this software version as a device observer (stable across runs)."""
    return generate_uid(entropy_srcs=["onfh-imaging device observer", __version__])


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _measurements(hip: Mapping[str, Any], table: tuple, algorithm: hd.sr.AlgorithmIdentification,
                  sites: list[hd.sr.FindingSite]) -> list[hd.sr.Measurement]:
    out = []
    for section, key, name, unit in table:
        value = _number((hip.get(section) or {}).get(key))
        if value is not None:
            out.append(hd.sr.Measurement(name=name, value=value, unit=unit, algorithm_id=algorithm,
                                         finding_sites=sites))
    return out


def _segment_side(description: pydicom.Dataset) -> str | None:
    """The patient side a segment description records (as written by :mod:`onfh_imaging.export.seg`)."""
    modifiers = list(description.get("SegmentedPropertyTypeModifierCodeSequence", []))
    for region in description.get("AnatomicRegionSequence", []):
        modifiers += list(region.get("AnatomicRegionModifierSequence", []))
    for item in modifiers:
        for side, code in LATERALITY.items():
            if item.CodeValue == code.value and item.CodingSchemeDesignator == code.scheme_designator:
                return side
    return None


def _find_segment(seg: pydicom.Dataset | None, property_type, side: str) -> pydicom.Dataset | None:
    if seg is None:
        return None
    for description in seg.SegmentSequence:
        ptype = description.SegmentedPropertyTypeCodeSequence[0]
        if (ptype.CodeValue == property_type.value
                and ptype.CodingSchemeDesignator == property_type.scheme_designator
                and _segment_side(description) == side):
            return description
    return None


def _group(seg: pydicom.Dataset | None, description: pydicom.Dataset | None, label: str,
           finding_type, finding_category, sites, measurements, evaluations, algorithm):
    """A TID 1411 group referencing the segment, or a TID 1501 group when there is none."""
    common = dict(finding_type=finding_type, finding_sites=sites, measurements=measurements or None,
                  qualitative_evaluations=evaluations or None, algorithm_id=algorithm)
    if description is None:
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=label),
            finding_category=finding_category, **common)
    tracking = hd.sr.TrackingIdentifier(uid=description.get("TrackingUID") or generate_uid(),
                                        identifier=description.get("TrackingID") or description.SegmentLabel)
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking,
        referenced_segment=hd.sr.ReferencedSegment.from_segmentation(
            seg, segment_number=int(description.SegmentNumber)),
        finding_category=finding_category, **common)


def hip_measurement_groups(hip: Mapping[str, Any], seg: pydicom.Dataset | None,
                           algorithm: hd.sr.AlgorithmIdentification) -> list:
    """The measurement groups (head, then lesion) of one hip of the JSON contract.

    Parameters
    ----------
    hip : mapping
        A ``hips[]`` element of the measurement JSON (``side``, ``head``, ``lesion``, ``staging``);
        measures in mL, mm, degrees and %, as the contract gives them.
    seg : pydicom.Dataset or None
        The Segmentation whose segments the groups reference; a hip without its segment there gets a
        TID 1501 group with a finding site instead.
    algorithm : highdicom.sr.AlgorithmIdentification
        The algorithm recorded with every measurement.

    Returns
    -------
    list
        Zero, one or two TID 1411 (or 1501) groups: the femoral head (volume, radius, sphericity, RMS
        deviation, collapse depth, ARCO stage) and the necrotic lesion (volume, % involved, Kerboul angle,
        Steinberg extent); a group without any measure is left out.

    Raises
    ------
    InputError
        The hip's side is not ``"left"`` or ``"right"``.
    """
    side = hip.get("side")
    if side not in LATERALITY:
        raise InputError(f"hip side must be 'left' or 'right', got {side!r}")
    sites = [hd.sr.FindingSite(FEMORAL_HEAD, laterality=LATERALITY[side])]
    staging = hip.get("staging") or {}
    groups = []
    head_measures = _measurements(hip, HEAD_MEASURES, algorithm, sites)
    arco = arco_stage_code(staging.get("arco_2019"))
    head_evaluations = [hd.sr.QualitativeEvaluation(ARCO_2019, arco)] if arco is not None else []
    if head_measures or head_evaluations:
        groups.append(_group(seg, _find_segment(seg, FEMORAL_HEAD, side), f"{side.capitalize()} femoral head",
                             FEMORAL_HEAD, ANATOMICAL_STRUCTURE, sites, head_measures, head_evaluations,
                             algorithm))
    lesion_measures = _measurements(hip, LESION_MEASURES, algorithm, sites)
    steinberg = steinberg_code(staging.get("steinberg_extent"))
    lesion_evaluations = ([hd.sr.QualitativeEvaluation(STEINBERG_EXTENT, steinberg)]
                          if steinberg is not None and hip.get("lesion") else [])
    if lesion_measures or lesion_evaluations:
        groups.append(_group(seg, _find_segment(seg, NECROSIS, side),
                             f"{side.capitalize()} femoral head necrosis", NECROSIS,
                             MORPHOLOGICALLY_ABNORMAL_STRUCTURE, sites, lesion_measures,
                             lesion_evaluations, algorithm))
    return groups


def _procedure(source: pydicom.Dataset) -> CodedConcept:
    if str(source.get("Modality", "")).upper() == "MR":
        return codes.LN.MRIUnspecifiedBodyRegion  # LOINC 25056-3, CID 100
    return codes.SCT.ImagingProcedure  # SCT 363679005, CID 100


def build_measurement_report(
    source_datasets: Sequence[pydicom.Dataset],
    seg: pydicom.Dataset | None,
    hips: Sequence[Mapping[str, Any]],
    *,
    reader_name: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 901,
    series_description: str = "ONFH measurements",
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 Measurement Report of the per-hip measures.

    Parameters
    ----------
    source_datasets : sequence of pydicom.Dataset
        Images of the measured series (headers suffice); they provide patient and study and are
        listed as evidence.
    seg : pydicom.Dataset or None
        The Segmentation whose segments the groups reference (see :func:`build_segmentation`),
        or None (then each hip's groups carry finding sites only).
    hips : sequence of dict
        ``hips[]`` elements of the measurement JSON contract (``side``, ``head``, ``lesion``,
        ``staging``). Missing or null measures are left out.
    reader_name : str, optional
        Reader who confirmed the measures (``FAMILY^GIVEN``); adds a person observer and marks the
        report complete. Without it the only observer is the device, onfh-imaging.
    series_instance_uid, sop_instance_uid : str, optional
        UIDs of the new object; generated when omitted.
    series_number : int
        SeriesNumber of the SR series.
    series_description : str
        SeriesDescription of the SR series.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        Complete (CompletionFlag COMPLETE) when a reader is named, else PARTIAL.

    Raises
    ------
    InputError
        If there are no source images, no measures at all, or a hip has no valid side.
    """
    if not source_datasets:
        raise InputError("no source images for the measurement report")
    algorithm = hd.sr.AlgorithmIdentification(name="onfh-imaging", version=__version__)
    groups = [g for hip in hips for g in hip_measurement_groups(hip, seg, algorithm)]
    if not groups:
        raise InputError("no measures to report", path=getattr(source_datasets[0], "filename", None))
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(reader_name),
        procedure_reported=_procedure(source_datasets[0]),
        imaging_measurements=groups,
    )
    evidence = list(source_datasets) + ([seg] if seg is not None else [])
    return hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=series_instance_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=bool(reader_name),
        series_description=series_description,
        coding_schemes=[CODING_SCHEME],
    )


def _observation_context(reader_name: str | None) -> hd.sr.ObservationContext:
    """The device observer (this software), and the reader as person observer when named."""
    device = hd.sr.ObserverContext(
        observer_type=codes.cid270.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device_uid(), name="onfh-imaging", manufacturer_name=MANUFACTURER,
            model_name="onfh-imaging"))
    person = None
    if reader_name:
        person = hd.sr.ObserverContext(
            observer_type=codes.cid270.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=reader_name))
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def write_report(path: str | os.PathLike, report: pydicom.Dataset) -> Path:
    """Write a measurement report atomically as a DICOM Part 10 file.

    Parameters
    ----------
    path : path
        Output file; its folder is created if needed.
    report : pydicom.Dataset
        The report, e.g. from :func:`build_measurement_report`.

    Returns
    -------
    Path
        The written file.
    """
    return write_dicom(path, report)


__all__ = [
    "ARCO_2019", "COLLAPSE_DEPTH", "HEAD_INVOLVEMENT", "KERBOUL_ANGLE", "LOCAL_SCHEME", "MILLILITER",
    "RMS_DEVIATION", "SPHERICITY", "STEINBERG_EXTENT", "arco_stage_code", "build_measurement_report",
    "hip_measurement_groups", "steinberg_code", "write_report",
]

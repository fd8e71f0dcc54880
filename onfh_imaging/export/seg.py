"""Femoral head and necrotic lesion masks as a DICOM Segmentation (SEG) object.

A SEG references its source MR series slice by slice, shares its frame of reference and carries
the geometry of each frame, so PACS viewers (OHIF), 3D Slicer and ITK-SNAP overlay it on the
images without any registration. Masks are :class:`~onfh_imaging.geometry.Volume` objects on the
source image grid; each source slice is matched to a mask slice by its ImagePositionPatient, so
the source datasets may come in any order.

Coded terms (SNOMED CT, verified against the DICOM Part 16 code lists shipped with pydicom):

* femoral head: category "Anatomical Structure" (SCT 91723000), type "Femoral head"
  (SCT 2812003), laterality as property type modifier Right (SCT 24028007) / Left (SCT 7771000);
* necrotic lesion: category "Morphologically Abnormal Structure" (SCT 49755003), type "Necrosis"
  (SCT 6574001), anatomic region "Femoral head" with the laterality as region modifier.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from onfh_imaging import __version__
from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Volume
from onfh_imaging.export._files import write_dicom
from onfh_imaging.vocab import SIDES

MANUFACTURER = "onfh-imaging"

ANATOMICAL_STRUCTURE = codes.SCT.AnatomicalStructure  # SCT 91723000
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = codes.SCT.MorphologicallyAbnormalStructure  # SCT 49755003
FEMORAL_HEAD = codes.SCT.FemoralHead  # SCT 2812003
NECROSIS = codes.SCT.Necrosis  # SCT 6574001
LATERALITY = {"right": codes.SCT.Right, "left": codes.SCT.Left}  # SCT 24028007 / 7771000

# Display colours (sRGB) as 3D Slicer's terminology uses them for bone and for necrotic tissue.
_HEAD_RGB = (241, 214, 145)
_LESION_RGB = (216, 101, 79)

ALGORITHM_TYPES = ("AUTOMATIC", "SEMIAUTOMATIC", "MANUAL")


@dataclass(frozen=True, eq=False)
class SegmentSpec:
    """One segment to encode: a binary mask on the source grid and what it represents.

    Parameters
    ----------
    label : str
        Segment label shown by viewers, e.g. ``"Right femoral head"``.
    mask : Volume
        Boolean or 0/1 mask on the grid of the source series.
    category, property_type : Code or CodedConcept
        Segmented property category and type (CID 7150 / 7151).
    side : str or None
        ``"left"`` or ``"right"`` (the patient's side), or None.
    anatomic_region : Code or CodedConcept or None
        Anatomic region the segment lies in (for lesions: the femoral head).
    algorithm_type : str
        ``"AUTOMATIC"``; ``"SEMIAUTOMATIC"`` when a reader edited the automatic mask; ``"MANUAL"``
        when a reader drew it.
    rgb : tuple of 3 int
        Recommended display colour (sRGB).
    """

    label: str
    mask: Volume
    category: Code | CodedConcept
    property_type: Code | CodedConcept
    side: str | None = None
    anatomic_region: Code | CodedConcept | None = None
    algorithm_type: str = "AUTOMATIC"
    rgb: tuple[int, int, int] = (128, 174, 128)

    def __post_init__(self) -> None:
        if self.side is not None and self.side not in SIDES:
            raise ValueError(f"side must be 'left', 'right' or None, got {self.side!r}")
        if self.algorithm_type not in ALGORITHM_TYPES:
            raise ValueError(f"algorithm_type must be one of {ALGORITHM_TYPES}, got {self.algorithm_type!r}")
        values = np.unique(np.asarray(self.mask.array))
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(f"segment {self.label!r}: a mask must be binary, found values {values[:5]}")


def femoral_head_segment(side: str, mask: Volume, *, algorithm_type: str = "AUTOMATIC") -> SegmentSpec:
    """The femoral head of one hip as a segment (SCT Femoral head, with its laterality).

    Parameters
    ----------
    side : str
        ``"left"`` or ``"right"``: the patient's hip.
    mask : Volume
        Boolean or 0/1 femoral head mask on the source grid.
    algorithm_type : str
        ``"AUTOMATIC"``, ``"SEMIAUTOMATIC"`` (edited by a reader) or ``"MANUAL"``.

    Returns
    -------
    SegmentSpec
        Labelled ``"<Side> femoral head"``.

    Raises
    ------
    ValueError
        Unknown side or algorithm type, or a mask that is not binary.
    """
    return SegmentSpec(label=f"{side.capitalize()} femoral head", mask=mask, category=ANATOMICAL_STRUCTURE,
                       property_type=FEMORAL_HEAD, side=side, algorithm_type=algorithm_type, rgb=_HEAD_RGB)


def necrotic_lesion_segment(side: str, mask: Volume, *, algorithm_type: str = "AUTOMATIC") -> SegmentSpec:
    """The necrotic lesion (with its demarcating band) in the femoral head of one hip, as a segment.

    Parameters
    ----------
    side : str
        ``"left"`` or ``"right"``: the patient's hip.
    mask : Volume
        Boolean or 0/1 lesion mask on the source grid.
    algorithm_type : str
        ``"AUTOMATIC"``, ``"SEMIAUTOMATIC"`` (edited by a reader) or ``"MANUAL"``.

    Returns
    -------
    SegmentSpec
        SCT Necrosis in the anatomic region Femoral head, labelled ``"<Side> femoral head necrosis"``.

    Raises
    ------
    ValueError
        Unknown side or algorithm type, or a mask that is not binary.
    """
    return SegmentSpec(label=f"{side.capitalize()} femoral head necrosis", mask=mask,
                       category=MORPHOLOGICALLY_ABNORMAL_STRUCTURE, property_type=NECROSIS, side=side,
                       anatomic_region=FEMORAL_HEAD, algorithm_type=algorithm_type, rgb=_LESION_RGB)


def _source_name(ds: pydicom.Dataset) -> str:
    return str(getattr(ds, "filename", None) or ds.get("SOPInstanceUID", "source image"))


def source_slice_indices(source_datasets: Sequence[pydicom.Dataset], grid: Volume,
                         tol_voxels: float = 0.01) -> np.ndarray:
    """Slice index ``k`` of ``grid`` that each source image samples.

    Parameters
    ----------
    source_datasets : sequence of pydicom.Dataset
        Single-frame images of one series (headers suffice), in any order.
    grid : Volume
        A volume on the source grid (a mask).
    tol_voxels : float
        Allowed mismatch, in voxels, of positions and of orientation.

    Returns
    -------
    ndarray of int, shape (len(source_datasets),)
        The grid slice of each image, in the order of ``source_datasets``.

    Raises
    ------
    InputError
        If an image does not coincide with a slice of the grid (other position, orientation,
        pixel spacing or matrix size), or two images sample the same slice.
    """
    ks = [_source_slice(ds, grid, tol_voxels) for ds in source_datasets]
    if len(set(ks)) != len(ks):
        raise InputError("two source images sample the same slice", path=_source_name(source_datasets[0]))
    return np.asarray(ks, dtype=int)


def _source_slice(ds: pydicom.Dataset, grid: Volume, tol_voxels: float) -> int:
    """Slice index of ``grid`` one source image samples; InputError when it is not one of its slices."""
    nk, nj, ni = grid.shape
    si, sj, _ = grid.spacing
    row_dir, col_dir = grid.direction[:, 0], grid.direction[:, 1]
    name = _source_name(ds)
    try:
        ipp = np.asarray(ds.ImagePositionPatient, dtype=float)
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        spacing = np.asarray(ds.PixelSpacing, dtype=float)
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError) as exc:
        raise InputError(f"source image lacks plane geometry ({exc})", path=name) from exc
    if (rows, cols) != (nj, ni):
        raise InputError(f"source image is {rows}x{cols} pixels but the mask grid is {nj}x{ni}",
                         path=name)
    if not np.allclose(spacing, (sj, si), rtol=1e-4, atol=1e-4):
        raise InputError(f"source PixelSpacing {spacing.tolist()} differs from the mask's {[sj, si]}",
                         path=name)
    if not (np.allclose(iop[:3], row_dir, atol=1e-4) and np.allclose(iop[3:], col_dir, atol=1e-4)):
        raise InputError("source image orientation differs from the mask grid's", path=name,
                         hint="masks must be on the grid of the series they were segmented from")
    ijk = grid.lps_to_index(ipp)
    k = int(round(ijk[2]))
    if not (np.all(np.abs(ijk[:2]) < tol_voxels) and abs(ijk[2] - k) < tol_voxels and 0 <= k < nk):
        raise InputError(f"source image position {ipp.round(3).tolist()} is not a slice of the mask grid",
                         path=name)
    return k


def _segment_description(number: int, spec: SegmentSpec,
                         algorithm: hd.AlgorithmIdentificationSequence) -> hd.seg.SegmentDescription:
    laterality = LATERALITY.get(spec.side) if spec.side else None
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=spec.label,
        segmented_property_category=spec.category,
        segmented_property_type=spec.property_type,
        algorithm_type=spec.algorithm_type,
        algorithm_identification=None if spec.algorithm_type == "MANUAL" else algorithm,
        tracking_uid=generate_uid(),
        tracking_id=spec.label,
        anatomic_regions=[spec.anatomic_region] if spec.anatomic_region is not None else None,
        display_color=hd.color.CIELabColor.from_rgb(*spec.rgb),
    )
    # highdicom has no argument for laterality; the Segment Description macro carries it as a
    # modifier of the anatomic region when there is one, else of the segmented property type.
    if laterality is not None:
        modifier = [CodedConcept.from_code(laterality)]
        if spec.anatomic_region is not None:
            description.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = modifier
        else:
            description.SegmentedPropertyTypeModifierCodeSequence = modifier
    return description


def build_segmentation(
    source_datasets: Sequence[pydicom.Dataset],
    segments: Sequence[SegmentSpec],
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 900,
    series_description: str = "ONFH femoral head segmentation",
    content_creator_name: str | None = None,
    algorithm_family: Code | CodedConcept = codes.cid7162.MorphologicalOperations,
    omit_empty_frames: bool = True,
) -> hd.seg.Segmentation:
    """A BINARY DICOM Segmentation of the source series.

    Parameters
    ----------
    source_datasets : sequence of pydicom.Dataset
        The single-frame images of the segmented series (headers suffice), in any order.
    segments : sequence of SegmentSpec
        Segments, numbered 1, 2, ... in this order. Every mask must lie on the source grid.
    series_instance_uid, sop_instance_uid : str, optional
        UIDs of the new object; generated when omitted.
    series_number : int
        SeriesNumber of the SEG series.
    series_description : str
        SeriesDescription of the SEG series.
    content_creator_name : str, optional
        Reader who drew or edited the masks (DICOM person name ``FAMILY^GIVEN``).
    algorithm_family : Code
        Algorithm family (CID 7162) recorded with the algorithm name ``onfh-imaging`` and the
        package version; the default, morphological operations, describes classical intensity
        and shape based segmentation.
    omit_empty_frames : bool
        Leave out frames where a segment is empty (smaller objects; viewers handle both).

    Returns
    -------
    highdicom.seg.Segmentation
        Frames reference their source images and share their frame of reference, positions,
        orientation and pixel spacing.

    Raises
    ------
    InputError
        If a mask is not on the source grid, masks disagree on the grid, or no segment is given.
    """
    if not source_datasets:
        raise InputError("no source images to reference")
    if not segments:
        raise InputError("no segments to export", path=_source_name(source_datasets[0]))
    grid = segments[0].mask
    for spec in segments[1:]:
        if not spec.mask.same_grid(grid):
            raise InputError(f"segment {spec.label!r} is not on the same grid as {segments[0].label!r}")
    ks = source_slice_indices(source_datasets, grid)
    stacked = np.stack([np.asarray(spec.mask.array, dtype=np.uint8)[ks] for spec in segments], axis=-1)
    algorithm = hd.AlgorithmIdentificationSequence(
        name="onfh-imaging", family=algorithm_family, version=__version__, source=MANUFACTURER)
    descriptions = [_segment_description(n, spec, algorithm) for n, spec in enumerate(segments, start=1)]
    return hd.seg.Segmentation(
        source_images=list(source_datasets),
        pixel_array=stacked,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_instance_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="onfh-imaging",
        software_versions=__version__,
        device_serial_number="0",
        content_label="ONFH",
        content_description="Femoral heads and necrotic lesions",
        content_creator_name=content_creator_name,
        series_description=series_description,
        omit_empty_frames=omit_empty_frames,
    )


def write_segmentation(path: str | os.PathLike, seg: pydicom.Dataset) -> Path:
    """Write a Segmentation atomically as a DICOM Part 10 file.

    Parameters
    ----------
    path : path
        Output file; its folder is created if needed.
    seg : pydicom.Dataset
        The object, e.g. from :func:`build_segmentation`.

    Returns
    -------
    Path
        The written file.
    """
    return write_dicom(path, seg)


__all__ = [
    "SegmentSpec", "build_segmentation", "femoral_head_segment", "necrotic_lesion_segment",
    "source_slice_indices", "write_segmentation",
]

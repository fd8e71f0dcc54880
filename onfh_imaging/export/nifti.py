"""Images and masks as NIfTI-1 for research tools (ITK-SNAP, 3D Slicer, nibabel, nnU-Net).

Each hip's masks become one label map (0 background, 1 femoral head, 2 necrotic lesion) on the
source grid with the image's RAS affine in both sform and qform, so it overlays the exported image
exactly. A JSON sidecar next to each label map names the labels and the hip.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onfh_imaging import __version__
from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Volume
from onfh_imaging.io._atomic import write_json
from onfh_imaging.io.dicom_write import write_nifti
from onfh_imaging.vocab import SIDES

#: Label values of a hip's label map: the necrotic lesion lies inside the femoral head, so its label
#: overwrites the head's.
HEAD_LABEL = 1
LESION_LABEL = 2
HIP_LABELS = {0: "background", HEAD_LABEL: "femoral head", LESION_LABEL: "necrotic lesion"}


def hip_label_map(head_mask: Volume, lesion_mask: Volume | None = None) -> Volume:
    """One hip's masks as a label map: 1 = femoral head, 2 = necrotic lesion (which lies in the head).

    Parameters
    ----------
    head_mask : Volume
        Femoral head mask (bool or 0/1).
    lesion_mask : Volume, optional
        Necrotic lesion mask on the same grid; lesion voxels take label 2.

    Returns
    -------
    Volume
        uint8 label map on the masks' grid.

    Raises
    ------
    InputError
        The lesion mask is not on the head mask's grid.
    """
    labels = np.where(np.asarray(head_mask.array) > 0, HEAD_LABEL, 0).astype(np.uint8)
    if lesion_mask is not None:
        if not lesion_mask.same_grid(head_mask):
            raise InputError("the lesion mask is not on the femoral head mask's grid")
        labels[np.asarray(lesion_mask.array) > 0] = LESION_LABEL
    return head_mask.with_array(labels)


def sidecar_path(nifti_path: str | os.PathLike) -> Path:
    """The JSON sidecar of a NIfTI file (``x.nii.gz`` -> ``x.json``).

    Parameters
    ----------
    nifti_path : path
        A ``.nii`` or ``.nii.gz`` file name.

    Returns
    -------
    Path
        The same folder and stem with ``.json``.

    Raises
    ------
    ValueError
        The name does not end in ``.nii`` or ``.nii.gz``.
    """
    path = Path(nifti_path)
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    raise ValueError(f"{path}: a NIfTI file name must end in .nii or .nii.gz")


def write_image(path: str | os.PathLike, image: Volume) -> Path:
    """Write an image volume as NIfTI-1 with its RAS affine (atomic).

    Parameters
    ----------
    path : path
        Output ``.nii.gz`` (or ``.nii``) file.
    image : Volume
        Pixels and LPS geometry (mm), converted to RAS at the edge.

    Returns
    -------
    Path
        The written file.
    """
    return write_nifti(image, path)


def write_label_map(path: str | os.PathLike, label_map: Volume, labels: Mapping[int, str],
                    metadata: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write a label map as NIfTI-1 and its JSON sidecar naming the labels (both atomic).

    Parameters
    ----------
    path : path
        Output ``.nii.gz`` (or ``.nii``) file.
    label_map : Volume
        Integer labels (0 = background).
    labels : mapping of int to str
        Name of each label value; every value present in ``label_map`` must be named.
    metadata : mapping, optional
        Further sidecar fields (side, source series UID...).

    Returns
    -------
    (Path, Path)
        The NIfTI file and the sidecar.

    Raises
    ------
    ValueError
        A label value present in ``label_map`` has no name.
    """
    present = {int(v) for v in np.unique(label_map.array)}
    unnamed = present - {int(k) for k in labels}
    if unnamed:
        raise ValueError(f"label values {sorted(unnamed)} have no name")
    sidecar = {
        "labels": {str(int(k)): str(v) for k, v in sorted(labels.items())},
        "space": "NIfTI RAS+ (sform and qform), mm",
        "software_version": __version__,
        **dict(metadata or {}),
    }
    image_path = write_nifti(label_map.with_array(np.asarray(label_map.array, dtype=np.uint8)), path)
    return image_path, write_json(sidecar_path(image_path), sidecar, ensure_ascii=False)


def write_hip_label_map(path: str | os.PathLike, side: str, head_mask: Volume,
                        lesion_mask: Volume | None = None,
                        metadata: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write one hip's label map (1 femoral head, 2 necrotic lesion) and its sidecar.

    Parameters
    ----------
    path : path
        Output ``.nii.gz`` (or ``.nii``) file.
    side : str
        ``"left"`` or ``"right"``: the patient's hip, written into the label names and the sidecar.
    head_mask : Volume
        Femoral head mask (bool or 0/1).
    lesion_mask : Volume, optional
        Necrotic lesion mask on the same grid.
    metadata : mapping, optional
        Further sidecar fields (source series UID...).

    Returns
    -------
    (Path, Path)
        The NIfTI file and the sidecar.

    Raises
    ------
    InputError
        The lesion mask is not on the head mask's grid.
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    labels = {k: (v if k == 0 else f"{side} {v}") for k, v in HIP_LABELS.items()}
    return write_label_map(path, hip_label_map(head_mask, lesion_mask), labels,
                           {"side": side, **dict(metadata or {})})


__all__ = [
    "HEAD_LABEL", "HIP_LABELS", "LESION_LABEL", "hip_label_map", "sidecar_path", "write_hip_label_map",
    "write_image", "write_label_map",
]

"""The anatomy the MRI segmentation rests on, as named limits with their units and where they come from.

Every hip MRI shares these facts whatever the scanner, the patient or the phantom: the femoral head is a
bone ball continuous with the neck and shaft; around it lie cartilage, the joint space (cartilage of both
sides, fluid, labrum), then the acetabular cortex and pelvic bone. Widths vary between patients; the limits
below are the adult ranges from the anatomical literature, or resolution limits from the image itself.
Intensity limits are never absolute: they are fractions of the head's own tissue levels.
"""

from __future__ import annotations

import numpy as np

HEAD_RADIUS_RANGE_MM = (18.0, 32.0)
"""Physical size range (mm) of an adult femoral head's bone radius (diameters 36-64 mm cover the adult
range of both sexes, e.g. the 40-56 mm of CT series, with margin)."""

NECK_CONE_DEG = 65.0
"""Directions closer than this (deg) to the neck axis, seen from the head centre, are neck, not articular
surface (the head-neck junction lies 55-70 deg from the neck axis on a normal head)."""

LESION_MIN_NECK_ANGLE_DEG = 60.0
"""Lesions are only sought farther than this from the neck axis (deg): a necrotic segment lies under the
articular surface, not in the neck. Used where the head's own junction is not measured
(:mod:`onfh_imaging.segment.junction`): :data:`LESION_JUNCTION_REACH_DEG` short of the fixed articular
limit (:data:`NECK_CONE_DEG`)."""

LESION_JUNCTION_REACH_DEG = 5.0
"""How far (deg) short of the head-neck junction, toward the neck, a lesion is still sought: the Kerboul
arc ends at the junction and reads the lesion's share of the voxels there, which reach up to a voxel
along the surface (0.5-0.9 mm pixels, about 2-4 deg on a 24 mm head) past it; a segment cut at the
junction itself would read short there. A necrotic segment does not extend into the neck's marrow."""

MIN_LESION_VOLUME_ML = 0.1
"""Smallest lesion reported (mL); smaller dark specks are noise or vessels, not a necrotic segment."""

RAY_STEP_MM = 0.1
"""Sampling step (mm) of radial profiles, well below any in-plane pixel of hip MRI (>= 0.3 mm)."""

MIN_SHELL_SUPPORT = 0.05
"""Least spherical-Hough support of a femoral head, in spherical shells (a head's concentric boundaries
give several tenths; image noise a few thousandths)."""

CORTEX_RANGE_MM = (0.3, 3.0)
"""Plausible distance (mm) from the marrow edge to the outer bone surface on MRI: subchondral plate and
cortex are 1-2.5 mm, plus half a pixel of blur. Beyond 3 mm the outer edge was taken past the joint
space."""

PLATE_TYPICAL_MM = 1.75
"""Distance (mm) from the marrow edge to the outer bone surface taken when the image does not resolve the
plate's outer edge (no cartilage rise seen beyond it): the middle of the 1-2.5 mm of subchondral plate and
cortex (:data:`CORTEX_RANGE_MM`), within 0.75 mm of any head's. Such a head is always flagged."""

FEMORAL_CARTILAGE_MAX_MM = 3.0
"""Thickest hyaline cartilage (mm) over an adult femoral head (1-3 mm, thickest at the weight-bearing
dome): the femur's own cartilage lies within this of its bone surface, so a rise farther out is a layer
beyond the joint space (acetabular cartilage or bone)."""

SEED_SEARCH_RADII = 1.0
"""A head placed from a hand seed is searched within this many head radii of the seed (the seed is "near
the head centre": a click on a slice through the head is inside it)."""

FOVEA_HALF_ANGLE_DEG = 35.0
"""Half-angle (deg) around the fovea direction never searched for collapse: the fovea capitis is a pit
of 10-20 mm diameter (about 12-25 deg of arc on a 24 mm head) whose position varies between people by
some 10-15 deg. The zone is the medial-inferior, non-weight-bearing surface, where ARCO collapse (of the
weight-bearing necrotic segment) does not occur, so excluding it costs no collapse."""

FOVEA_TILT_DEG = (35.0, 10.0)
"""The fovea lies below (first) and behind (second) the medial pole of the head (deg): the ligamentum
teres runs from it inferomedially to the acetabular notch, and on coronal MRI the pit sits about a third
of the way from the medial pole to the inferior pole, slightly posterior."""


def fovea_direction(side: str) -> np.ndarray:
    """Unit vector (LPS) from the head centre toward the fovea capitis of the ``side`` hip.

    Parameters
    ----------
    side : {"left", "right"}
        The hip (anything other than "right" is taken as left).

    Returns
    -------
    ndarray, shape (3,)
        LPS unit vector, tilted from the medial pole by :data:`FOVEA_TILT_DEG`.
    """
    medial = 1.0 if side == "right" else -1.0  # the right hip lies at -x: medial is +x
    down, back = np.radians(FOVEA_TILT_DEG)
    v = np.array([medial * np.cos(down) * np.cos(back), np.sin(back), -np.sin(down)])
    return v / np.linalg.norm(v)


def outside_fovea(directions_lps: np.ndarray, side: str) -> np.ndarray:
    """Whether each direction lies farther than :data:`FOVEA_HALF_ANGLE_DEG` from the fovea.

    Parameters
    ----------
    directions_lps : ndarray, shape (..., 3)
        Unit vectors from the head centre, LPS.
    side : {"left", "right"}
        The hip.

    Returns
    -------
    ndarray of bool, shape (...)
        True outside the fovea's cone.
    """
    return np.asarray(directions_lps) @ fovea_direction(side) < np.cos(np.radians(FOVEA_HALF_ANGLE_DEG))

"""What to measure for masks a reader may have edited: the labels, with the automatic sub-voxel
fractions kept wherever they still agree with the automatic masks, on one common grid."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from onfh_imaging.geometry import Volume

FRACTION_MARGIN_VOXELS = 2
"""Voxels kept around the labels on the grid a hip is measured on: a partial-volume surface reaches at
most one voxel beyond its labels, and one more keeps the surface mesh off the grid's edge (the margin the
segmentation keeps around its own fractions)."""


def _bounding_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(start, stop)`` ``(i, j, k)`` indices of a mask's non-zero voxels, or None when empty."""
    if not mask.any():
        return None
    starts, stops = [], []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        starts.append(hit[0])
        stops.append(hit[-1] + 1)
    return np.array(starts[::-1]), np.array(stops[::-1])


def measured_masks(labels: Mapping[str, np.ndarray], automatic: Mapping[str, Volume],
                   fractions: Mapping[str, Volume | None]) -> dict[str, Volume]:
    """What to measure for masks the reader may have edited, all on one common grid.

    Parameters
    ----------
    labels : mapping of str to ndarray, shape (nk, nj, ni)
        The labels as the reader left them (non-zero inside), on the image grid, keyed by structure.
    automatic : mapping of str to Volume
        The automatic bool masks on the image grid, same keys.
    fractions : mapping of str to Volume or None
        The automatic partial-volume fractions (0..1) on a sub-grid of the image grid, same keys.

    Returns
    -------
    dict of str to Volume
        One float32 volume per structure, all on the same box of the image grid: the box of the
        fractions and of every label (wherever the reader painted), widened by
        :data:`FRACTION_MARGIN_VOXELS`. Where a voxel's label agrees with the automatic mask its
        automatic fraction is kept (the sub-voxel surface); painted voxels count 1, erased ones 0.
    """
    grid = next(iter(automatic.values()))
    boxes, offsets = [], {}
    for name, fraction in fractions.items():
        offset = None if fraction is None else fraction.offset_in(grid)
        if offset is not None:
            offsets[name] = np.array(offset)
            boxes.append((offsets[name], offsets[name] + np.asarray(fraction.size)))
    for array in labels.values():
        box = _bounding_box(np.asarray(array) != 0)
        if box is not None:
            boxes.append((box[0] - FRACTION_MARGIN_VOXELS, box[1] + FRACTION_MARGIN_VOXELS))
    if not boxes:
        return {name: grid.with_array(np.zeros(grid.shape, np.float32)) for name in labels}
    start = np.clip(np.min([b[0] for b in boxes], axis=0), 0, grid.size)
    stop = np.clip(np.max([b[1] for b in boxes], axis=0), start, grid.size)
    region = tuple(slice(a, b) for a, b in zip(start[::-1], stop[::-1]))
    box = grid.crop(start, stop).with_array(np.zeros(tuple(stop[::-1] - start[::-1]), np.float32))
    out = {}
    for name, array in labels.items():
        current = np.asarray(array)[region] != 0
        value = current.astype(np.float32)
        if name in offsets:
            fraction = fractions[name]
            lo = offsets[name] - start
            part = tuple(slice(a, a + n) for a, n in zip(lo[::-1], fraction.shape))
            kept = current[part] == np.asarray(automatic[name].array)[region][part]
            value[part] = np.where(kept, fraction.array, value[part])
        out[name] = box.with_array(value)
    return out


__all__ = ["FRACTION_MARGIN_VOXELS", "measured_masks"]

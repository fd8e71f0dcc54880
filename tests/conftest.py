"""Shared test fixtures: geometry helpers and small synthetic DICOM series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from onfh_imaging.geometry import Volume

CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # rows L, columns down, slices A


def simpleitk_series(folder: Path) -> sitk.Image:
    """The series in ``folder`` as SimpleITK's ImageSeriesReader reads it (an independent reader)."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assert_geometry_matches(image: sitk.Image, volume: Volume, atol: float, direction_atol: float | None = None):
    """Origin and spacing (mm) within ``atol``, direction cosines within ``direction_atol`` (default ``atol``)."""
    assert np.allclose(image.GetOrigin(), volume.origin, atol=atol)
    assert np.allclose(image.GetSpacing(), volume.spacing, atol=atol)
    assert np.allclose(np.array(image.GetDirection()).reshape(3, 3), volume.direction,
                       atol=atol if direction_atol is None else direction_atol)


def rotation(axis: str, deg: float) -> np.ndarray:
    """Right-handed rotation matrix about a patient axis (``"x"``, ``"y"`` or ``"z"``)."""
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    return {
        "x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def oblique_coronal(deg_x: float = 12.0, deg_z: float = 12.0) -> np.ndarray:
    """Coronal direction cosines tilted about the left-right and the cranio-caudal axes."""
    return rotation("z", deg_z) @ rotation("x", deg_x) @ CORONAL


@pytest.fixture
def coronal_direction() -> np.ndarray:
    return CORONAL.copy()


@pytest.fixture
def oblique_direction() -> np.ndarray:
    return oblique_coronal(12.0, 12.0)


@pytest.fixture
def textured_volume():
    """Factory of a small anisotropic (0.7 x 0.7 x 4 mm) volume with unique, structured voxel values."""

    def make(direction: np.ndarray, shape=(7, 24, 20), dtype=np.int16, origin=(-40.5, 12.25, 88.0)) -> Volume:
        nk, nj, ni = shape
        k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
        values = 1000 * k + 37 * j + i + 5
        if np.dtype(dtype).kind == "f":
            values = values + 0.25 * np.sin(i + j)
        return Volume(values.astype(dtype), spacing=(0.7, 0.7, 4.0), origin=origin, direction=direction)

    return make

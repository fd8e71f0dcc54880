"""Images that carry their geometry: 3-D volumes in patient LPS millimetres and 2-D radiographs.

Conventions (see the project's DESIGN notes):

* ``Volume.array`` is indexed ``[k, j, i]`` (slice, row, column), exactly like
  ``SimpleITK.GetArrayFromImage``. ``spacing``, ``origin`` and the columns of ``direction`` are in
  SimpleITK's ``(i, j, k)`` order. The LPS position of voxel ``(i, j, k)`` is
  ``origin + direction @ (spacing * (i, j, k))``.
* NIfTI uses RAS; conversion happens only at the edge, in :meth:`Volume.affine_ras`.

Why a type of our own: ``SimpleITK.Image`` keeps pixels outside numpy (every array access copies, or
returns a view that dies with the image) and is mutable; highdicom's ``Volume`` has the same LPS affine
(tested) but a mutable array, channel axes and an ``(i, j, k)`` array order that differs from SimpleITK's.
Segmentation and measurement need a small frozen value whose array order is SimpleITK's, so that masks
and fractions can be shared between threads and layers without copies; conversion to and from both is
lossless (:meth:`Volume.to_sitk`, :meth:`Volume.from_sitk`, and highdicom's ``Volume.from_simpleitk``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

__all__ = ["LPS_TO_RAS", "PixelSizeSource", "Radiograph", "Volume"]

#: Patient LPS to RAS (and back): the x and y axes flip.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])

PixelSizeSource = Literal[
    "PixelSpacing",
    "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor",
    "ImagerPixelSpacing",
    "calibration marker",
    "user",
    "none",
]


def _as_vec3(values: Any, name: str) -> tuple[float, float, float]:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be three finite numbers, got {values!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image on a regular grid in patient space (LPS, mm).

    Parameters
    ----------
    array : ndarray, shape (nk, nj, ni)
        Voxel values, indexed ``[k, j, i]``. The array is made read-only.
    spacing : tuple of 3 float
        Voxel size in mm along ``i``, ``j``, ``k``.
    origin : tuple of 3 float
        LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
    direction : ndarray, shape (3, 3)
        Direction cosines; column ``n`` is the LPS unit vector of index axis ``n`` (i, j, k).
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise ValueError(f"a Volume needs a 3-D array, got shape {arr.shape}")
        spacing = _as_vec3(self.spacing, "spacing")
        if min(spacing) <= 0:
            raise ValueError(f"spacing must be positive, got {spacing}")
        direction = np.array(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise ValueError("direction must be orthonormal (3x3 direction cosines)")
        if arr.flags.writeable:
            arr = arr.view()
            arr.flags.writeable = False
        direction.flags.writeable = False
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", _as_vec3(self.origin, "origin"))
        object.__setattr__(self, "direction", direction)

    # --- basic properties -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(nk, nj, ni)``."""
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def size(self) -> tuple[int, int, int]:
        """Grid size in SimpleITK order ``(ni, nj, nk)``."""
        nk, nj, ni = self.array.shape
        return (ni, nj, nk)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (cm3)."""
        return float(np.prod(self.spacing)) / 1000.0

    @property
    def affine_lps(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous ``(i, j, k, 1)`` to LPS mm."""
        a = np.eye(4)
        a[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        a[:3, 3] = self.origin
        return a

    @property
    def affine_ras(self) -> np.ndarray:
        """4x4 NIfTI-style affine for an array in ``(i, j, k)`` order (i.e. ``array.T``), RAS mm."""
        a = self.affine_lps
        a[:3, :] = LPS_TO_RAS @ a[:3, :]
        return a

    # --- coordinates ------------------------------------------------------------------------
    def index_to_lps(self, ijk: Any) -> np.ndarray:
        """LPS mm of continuous indices given in ``(i, j, k)`` order.

        Parameters
        ----------
        ijk : array_like, shape (..., 3)
            Continuous voxel indices (column, row, slice); integers are voxel centres.

        Returns
        -------
        ndarray, shape (..., 3)
            LPS positions, mm.
        """
        ijk = np.asarray(ijk, dtype=float)
        m = self.direction * np.asarray(self.spacing)[None, :]
        # einsum: a (N,3)@(3,3) matmul is many times slower with some BLAS builds
        return np.einsum("...j,ij->...i", ijk, m) + np.asarray(self.origin)

    def lps_to_index(self, xyz: Any) -> np.ndarray:
        """Continuous ``(i, j, k)`` indices of LPS points.

        Parameters
        ----------
        xyz : array_like, shape (..., 3)
            LPS positions, mm.

        Returns
        -------
        ndarray, shape (..., 3)
            Continuous voxel indices (column, row, slice); not rounded, not clipped to the grid.
        """
        xyz = np.asarray(xyz, dtype=float) - np.asarray(self.origin)
        return np.einsum("...j,ji->...i", xyz, self.direction) / np.asarray(self.spacing)

    def voxel_centers_lps(self) -> np.ndarray:
        """LPS mm of every voxel centre, shape ``(nk, nj, ni, 3)``."""
        nk, nj, ni = self.shape
        k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
        return self.index_to_lps(np.stack([i, j, k], axis=-1))

    def axis_of_slices(self) -> np.ndarray:
        """LPS unit vector along which slices (``k``) are stacked."""
        return self.direction[:, 2].copy()

    # --- derived volumes --------------------------------------------------------------------
    def with_array(self, array: np.ndarray) -> "Volume":
        """A volume on the same grid holding other values (a mask, a map).

        Parameters
        ----------
        array : ndarray, shape (nk, nj, ni)
            The new voxel values, of any dtype.

        Returns
        -------
        Volume
            Same spacing, origin and direction.

        Raises
        ------
        ValueError
            ``array``'s shape differs from the grid's.
        """
        array = np.asarray(array)
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} does not match grid {self.array.shape}")
        return replace(self, array=array)

    def crop(self, start_ijk: Any, stop_ijk: Any) -> "Volume":
        """The sub-volume of voxels ``start <= (i, j, k) < stop`` (clipped to the grid), as a copy.

        The copy does not keep the full array alive; the origin moves so every voxel keeps its position in
        space.

        Parameters
        ----------
        start_ijk, stop_ijk : array_like of 3 int
            First voxel and one past the last, in ``(i, j, k)`` order.

        Returns
        -------
        Volume
            Shape ``(stop_k - start_k, stop_j - start_j, stop_i - start_i)`` after clipping.
        """
        start = np.clip(np.asarray(start_ijk, int), 0, self.size)
        stop = np.clip(np.asarray(stop_ijk, int), start, self.size)
        block = self.array[start[2]:stop[2], start[1]:stop[1], start[0]:stop[0]]
        return replace(self, array=np.array(block), origin=tuple(self.index_to_lps(start)))

    def offset_in(self, parent: "Volume", atol: float = 1e-3) -> tuple[int, int, int] | None:
        """Integer ``(i, j, k)`` index in ``parent`` of this volume's first voxel, if this is a sub-grid of it.

        Parameters
        ----------
        parent : Volume
            The larger grid.
        atol : float
            Tolerance on spacing (mm), direction cosines and index alignment (voxels).

        Returns
        -------
        (int, int, int) or None
            None when spacing or direction differ, voxels are not aligned, or the volume does not lie
            entirely inside ``parent``.
        """
        if not (np.allclose(self.spacing, parent.spacing, atol=atol)
                and np.allclose(self.direction, parent.direction, atol=atol)):
            return None
        index = parent.lps_to_index(self.origin)
        if not np.allclose(index, np.round(index), atol=atol):
            return None
        start = np.round(index).astype(int)
        if np.any(start < 0) or np.any(start + np.asarray(self.size) > np.asarray(parent.size)):
            return None
        return (int(start[0]), int(start[1]), int(start[2]))

    def same_grid(self, other: "Volume", atol: float = 1e-4) -> bool:
        """True when both volumes sample the same points of space.

        Parameters
        ----------
        other : Volume
            The volume to compare with.
        atol : float
            Tolerance on spacing and origin (mm) and on direction cosines.

        Returns
        -------
        bool
            Same shape, spacing, origin and direction.
        """
        return (
            self.shape == other.shape
            and np.allclose(self.spacing, other.spacing, atol=atol)
            and np.allclose(self.origin, other.origin, atol=atol)
            and np.allclose(self.direction, other.direction, atol=atol)
        )

    # --- interchange ------------------------------------------------------------------------
    def to_sitk(self):
        """A ``SimpleITK.Image`` with identical pixels and geometry (booleans as uint8)."""
        import SimpleITK as sitk

        arr = self.array
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)
        img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(tuple(self.direction.reshape(-1)))
        return img

    @classmethod
    def from_sitk(cls, image) -> "Volume":
        """Build a volume from a 3-D scalar ``SimpleITK.Image``.

        Parameters
        ----------
        image : SimpleITK.Image
            A 3-D single-component image (LPS, mm).

        Returns
        -------
        Volume

        Raises
        ------
        ValueError
            The image is not 3-D or has several components per pixel.
        """
        import SimpleITK as sitk

        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            raise ValueError("only 3-D scalar SimpleITK images convert to a Volume")
        return cls(
            array=sitk.GetArrayFromImage(image),
            spacing=image.GetSpacing(),
            origin=image.GetOrigin(),
            direction=np.array(image.GetDirection()).reshape(3, 3),
        )

    def to_nifti(self):
        """A ``nibabel.Nifti1Image`` (RAS affine in sform and qform, data in ``(i, j, k)`` order, mm)."""
        import nibabel as nib

        arr = self.array
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)
        img = nib.Nifti1Image(np.asarray(arr).transpose(2, 1, 0), self.affine_ras)
        img.set_qform(self.affine_ras, code=1)
        img.set_sform(self.affine_ras, code=1)
        img.header.set_xyzt_units("mm")
        return img

    @classmethod
    def from_nifti(cls, image) -> "Volume":
        """Build a volume from a 3-D ``nibabel`` image (its RAS affine converted to LPS).

        Parameters
        ----------
        image : nibabel.Nifti1Image
            A 3-D image, or 4-D with one volume.

        Returns
        -------
        Volume
            Spacing from the affine's column norms (mm), direction from its normalised columns.

        Raises
        ------
        ValueError
            The data is not 3-D.
        """
        data = np.asanyarray(image.dataobj)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        if data.ndim != 3:
            raise ValueError(f"only 3-D NIfTI images convert to a Volume, got shape {data.shape}")
        affine = np.asarray(image.affine, dtype=float)
        m = LPS_TO_RAS @ affine[:3, :3]
        spacing = np.linalg.norm(m, axis=0)
        direction = m / spacing[None, :]
        origin = LPS_TO_RAS @ affine[:3, 3]
        return cls(array=np.asarray(data).transpose(2, 1, 0), spacing=spacing, origin=origin,
                   direction=direction)


@dataclass(frozen=True, eq=False)
class Radiograph:
    """A projection radiograph whose pixel size is known at the patient (or honestly unknown).

    Parameters
    ----------
    pixels : ndarray, shape (rows, columns)
        Float intensities with bone bright (MONOCHROME1 already inverted, RGB reduced to luminance).
    pixel_size_mm : tuple of 2 float or None
        Size of a pixel at the patient, ``(row spacing, column spacing)`` in mm; None if unknown,
        in which case measures are reported in pixels.
    pixel_size_source : str
        Where the size came from (see :data:`PixelSizeSource`).
    view : str
        ``"AP"``, ``"lateral"`` or ``"unknown"``.
    laterality : str
        ``"left"``, ``"right"``, ``"both"`` or ``"unknown"`` (the patient side imaged).
    patient_orientation : tuple of 2 str or None
        DICOM PatientOrientation (0020,0020): the patient direction of the rows (toward increasing
        column) and of the columns (toward increasing row), e.g. ``("L", "F")`` for an AP view shown
        with the patient's right on the image's left; None when not given.
    """

    pixels: np.ndarray
    pixel_size_mm: tuple[float, float] | None
    pixel_size_source: str = "none"
    view: str = "unknown"
    laterality: str = "unknown"
    patient_orientation: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        px = np.asarray(self.pixels)
        if px.ndim != 2:
            raise ValueError(f"a Radiograph needs a 2-D array, got shape {px.shape}")
        if px.flags.writeable:
            px = px.view()
            px.flags.writeable = False
        object.__setattr__(self, "pixels", px)
        if self.pixel_size_mm is not None:
            size = tuple(float(v) for v in self.pixel_size_mm)
            if len(size) != 2 or min(size) <= 0 or not np.all(np.isfinite(size)):
                raise ValueError(f"pixel_size_mm must be two positive numbers, got {self.pixel_size_mm}")
            object.__setattr__(self, "pixel_size_mm", size)

    @property
    def calibrated(self) -> bool:
        """True when measures can be given in mm."""
        return self.pixel_size_mm is not None

    @property
    def shape(self) -> tuple[int, int]:
        """Pixel array shape ``(rows, columns)``."""
        return tuple(self.pixels.shape)  # type: ignore[return-value]

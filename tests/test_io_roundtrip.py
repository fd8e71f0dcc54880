"""Series written by write_mr_series read back exactly, and agree with dcm2niix and SimpleITK."""

from __future__ import annotations

import subprocess

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from onfh_imaging.io import read_nifti, read_series, write_mr_series, write_nifti

from conftest import CORONAL, assert_geometry_matches, oblique_coronal, simpleitk_series

DIRECTIONS = {"coronal": CORONAL, "oblique": oblique_coronal(12.0, 12.0)}


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_written_series_reads_back(tmp_path, textured_volume, name, dtype):
    source = textured_volume(DIRECTIONS[name], dtype=dtype)
    files = write_mr_series(source, tmp_path, shuffle_seed=3)
    # neither InstanceNumber nor file names follow the spatial order
    numbers = [int(pydicom.dcmread(f, stop_before_pixels=True).InstanceNumber) for f in files]
    assert numbers != sorted(numbers)
    assert [f.name for f in files] != sorted(f.name for f in files)

    series = read_series(tmp_path)
    vol = series.volume
    assert vol.shape == source.shape
    assert np.allclose(vol.spacing, source.spacing, atol=1e-9)
    assert np.allclose(vol.origin, source.origin, atol=1e-9)
    assert np.allclose(vol.direction, source.direction, atol=1e-9)
    if dtype == np.int16:
        assert np.array_equal(vol.array, source.array)
    else:
        step = (source.array.max() - source.array.min()) / 65535
        assert vol.array.dtype == np.float32
        assert np.abs(vol.array - source.array).max() <= step / 2 + 1e-3
    assert series.files == files  # files[k] holds slice k
    assert series.warnings == []
    assert series.info.orientation == "coronal" and series.info.sequence == "T1"
    assert series.info.slice_spacing == pytest.approx(4.0)


def test_dicom_attributes_follow_the_grid(tmp_path, textured_volume):
    source = textured_volume(oblique_coronal(12.0, -8.0))
    files = write_mr_series(source, tmp_path, sequence="STIR")
    k = 5
    ds = pydicom.dcmread(files[k])
    expected = np.asarray(source.origin) + k * 4.0 * source.direction[:, 2]
    assert np.allclose([float(v) for v in ds.ImagePositionPatient], expected, atol=1e-9)
    assert np.allclose([float(v) for v in ds.ImageOrientationPatient],
                       np.concatenate([source.direction[:, 0], source.direction[:, 1]]), atol=1e-12)
    assert [float(v) for v in ds.PixelSpacing] == [0.7, 0.7]
    assert float(ds.SliceThickness) == 4.0 and float(ds.SpacingBetweenSlices) == 4.0
    assert ds.SOPClassUID == pydicom.uid.MRImageStorage
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert "IR" in ds.ScanningSequence and float(ds.InversionTime) == 150.0
    assert ds.Manufacturer == "onfh-imaging phantom"
    assert np.array_equal(ds.pixel_array, source.array[k])


def _dcm2niix(folder, out_dir):
    import dcm2niix

    out_dir.mkdir()
    subprocess.run([dcm2niix.bin, "-z", "n", "-f", "converted", "-o", str(out_dir), str(folder)],
                   check=True, capture_output=True)
    return nib.load(str(out_dir / "converted.nii"))


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_matches_dcm2niix(tmp_path, textured_volume, name):
    source = textured_volume(DIRECTIONS[name])
    write_mr_series(source, tmp_path / "dicom")
    ours = read_series(tmp_path / "dicom").volume
    theirs = _dcm2niix(tmp_path / "dicom", tmp_path / "nifti")
    data = np.asanyarray(theirs.dataobj)
    assert data.ndim == 3 and sorted(data.ravel().tolist()) == sorted(ours.array.ravel().tolist())
    # dcm2niix may flip or reorder axes: pair voxels by their (unique) values and compare positions
    where = {int(v): idx for idx, v in np.ndenumerate(data)}
    nk, nj, ni = ours.shape
    corners = [(i, j, k) for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)]
    for i, j, k in corners:
        ours_ras = (ours.affine_ras @ [i, j, k, 1])[:3]
        theirs_ras = (theirs.affine @ [*where[int(ours.array[k, j, i])], 1])[:3]
        assert np.allclose(ours_ras, theirs_ras, atol=1e-3), (i, j, k, ours_ras, theirs_ras)
    # every voxel lands in the same place
    kk, jj, ii = np.indices(ours.shape).reshape(3, -1)
    theirs_idx = np.array([where[int(v)] for v in ours.array.ravel()])
    theirs_pos = theirs_idx @ theirs.affine[:3, :3].T + theirs.affine[:3, 3]
    ours_pos = np.stack([ii, jj, kk], 1) @ ours.affine_ras[:3, :3].T + ours.affine_ras[:3, 3]
    assert np.abs(theirs_pos - ours_pos).max() < 1e-3


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_matches_simpleitk(tmp_path, textured_volume, name):
    source = textured_volume(DIRECTIONS[name], dtype=np.float32)
    write_mr_series(source, tmp_path)
    ours = read_series(tmp_path).volume
    image = simpleitk_series(tmp_path)
    assert_geometry_matches(image, ours, atol=1e-6)
    # ours is float32, SimpleITK computes in float64: equal to float32 precision
    assert np.allclose(sitk.GetArrayFromImage(image), ours.array, rtol=1e-6, atol=1e-4)


def test_nifti_round_trip(tmp_path, textured_volume):
    source = textured_volume(oblique_coronal(12.0, 12.0))
    out = write_nifti(source, tmp_path / "vol.nii.gz")
    back = read_nifti(out)
    assert back.same_grid(source, atol=1e-5)
    assert np.array_equal(back.array, source.array)
    assert [p.name for p in tmp_path.iterdir()] == ["vol.nii.gz"]  # no temporary file left behind

"""Layer geometry of the napari plugin: world coordinates are LPS mm (reversed), for any orientation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

napari = pytest.importorskip("napari", reason="napari is not installed")
pytest.importorskip("qtpy", reason="qtpy is not installed")

from napari.layers import Image, Shapes
from onfh_napari._geometry import hip_regions, line_lengths_mm, reference_sphere_ellipses
from onfh_napari._reader import (
    META_VOLUME,
    lps_to_world,
    napari_get_reader,
    radiograph_layer,
    volume_layer,
    volume_transform,
)

from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.reads import HEAD


def _rotation(ax_deg: float, az_deg: float) -> np.ndarray:
    a, b = np.radians(ax_deg), np.radians(az_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ rx


CORONAL = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # rows along +x (L), columns along -z, slices +y
GRIDS = {
    "axis-aligned": np.eye(3),
    "coronal": CORONAL,
    "oblique coronal": _rotation(12, -9) @ CORONAL,
}


@pytest.mark.parametrize("name", list(GRIDS))
def test_layer_world_coordinates_are_lps_in_acquisition_order(name):
    vol = Volume(np.zeros((6, 20, 24), np.float32), spacing=(0.7, 0.8, 4.0), origin=(-101.5, 33.0, 12.25),
                 direction=GRIDS[name])
    data, kwargs, kind = volume_layer(vol, "T1")
    assert kind == "image" and kwargs["metadata"][META_VOLUME] is vol
    assert kwargs["scale"] == pytest.approx((4.0, 0.8, 0.7))
    if name == "axis-aligned":
        assert kwargs["translate"] == pytest.approx((12.25, 33.0, -101.5))
        assert kwargs["axis_labels"] == ("superior", "posterior", "left")
    else:
        assert kwargs["axis_labels"] == ("posterior", "inferior", "left")
    layer = Image(data, **{k: v for k, v in kwargs.items() if k != "metadata"})
    frame = np.abs(lps_to_world(vol, np.eye(3)))
    assert np.array_equal(frame, np.abs(np.round(frame))) and np.allclose(frame.sum(axis=0), 1)
    rng = np.random.default_rng(3)
    for kji in [(0, 0, 0), (5, 19, 23), *rng.uniform(0, 5, (5, 3))]:
        lps = vol.index_to_lps(np.asarray(kji, float)[::-1])
        assert np.allclose(layer.data_to_world(kji), lps_to_world(vol, lps), atol=1e-6)
    # Each array axis runs along one world axis (up to the residual obliquity), so napari slices cleanly.
    linear = layer._data_to_world.linear_matrix / np.asarray(kwargs["scale"])[None, :]
    assert np.all(np.diag(linear) > np.cos(np.radians(16)))


def test_radiograph_layer_uses_pixel_size_at_patient():
    rx = Radiograph(np.zeros((40, 50)), pixel_size_mm=(0.139, 0.14), pixel_size_source="PixelSpacing")
    _, kwargs, _ = radiograph_layer(rx, "AP pelvis")
    assert kwargs["scale"] == pytest.approx((0.139, 0.14))
    raw = Radiograph(np.zeros((40, 50)), pixel_size_mm=None)
    assert radiograph_layer(raw, "x")[1]["scale"] == (1.0, 1.0)


def test_hand_drawn_line_length_is_in_mm_on_an_oblique_grid():
    vol = Volume(np.zeros((6, 20, 24)), spacing=(0.7, 0.8, 4.0), origin=(5, 6, 7),
                 direction=GRIDS["oblique coronal"])
    layer = Shapes(ndim=3, **volume_transform(vol))
    p0, p1 = np.array([2.0, 3.0, 4.0]), np.array([2.0, 15.0, 20.0])  # (k, j, i), in one slice
    layer.add_lines(np.array([p0, p1]))
    expected = np.linalg.norm(vol.index_to_lps(p1[::-1]) - vol.index_to_lps(p0[::-1]))
    assert line_lengths_mm(layer) == pytest.approx([expected])
    assert expected == pytest.approx(np.hypot(12 * 0.8, 16 * 0.7))


def test_reference_sphere_sections_match_the_sphere():
    vol = Volume(np.zeros((15, 60, 60)), spacing=(0.75, 0.75, 4.0), origin=(0, 0, 0),
                 direction=GRIDS["coronal"])
    center_ijk = np.array([30.0, 31.0, 7.0])
    center = vol.index_to_lps(center_ijk)
    radius = 20.0
    ellipses = reference_sphere_ellipses(vol, center, radius)
    assert len(ellipses) == 9  # slices within 20 mm of the centre at 4 mm spacing: k = 3..11
    for e in ellipses:
        k = e[0, 0]
        half_i = (e[:, 2].max() - e[:, 2].min()) / 2 * 0.75
        assert half_i == pytest.approx(np.sqrt(radius**2 - ((k - 7) * 4.0) ** 2))
        assert e[:, 1].mean() == pytest.approx(31.0) and e[:, 2].mean() == pytest.approx(30.0)


def test_each_voxel_belongs_to_the_hip_whose_head_is_nearest_in_mm():
    from types import SimpleNamespace

    vol = Volume(np.zeros((8, 30, 40)), spacing=(0.7, 0.8, 4.0), origin=(5, 6, 7), direction=GRIDS["oblique coronal"])
    heads = {"right": (4, 15, 8), "left": (3, 12, 31)}  # (k, j, i) voxels of each head
    hips = []
    for side, (k, j, i) in heads.items():
        labels = np.zeros(vol.shape, np.uint8)
        labels[k - 1:k + 2, j - 2:j + 3, i - 2:i + 3] = 1
        hips.append(SimpleNamespace(side=side, labels={HEAD: labels}))
    regions = hip_regions(hips, vol)
    assert (regions["right"] ^ regions["left"]).all()  # a partition of the grid
    centres = {s: vol.index_to_lps(np.array(v, float)[::-1]) for s, v in heads.items()}
    lps = vol.index_to_lps(np.argwhere(np.ones(vol.shape, bool))[:, ::-1].astype(float))
    nearer_right = (np.linalg.norm(lps - centres["right"], axis=1)
                    < np.linalg.norm(lps - centres["left"], axis=1)).reshape(vol.shape)
    assert np.array_equal(regions["right"], nearer_right)
    assert regions["right"][heads["right"]] and regions["left"][heads["left"]]
    # one hip owns the whole grid
    assert hip_regions(hips[:1], vol)["right"].all()


def test_reader_claims_dicom_nifti_and_folders_only(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "scan.nii.gz").write_bytes(b"")
    dicom = tmp_path / "IM0001"
    dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None
    assert napari_get_reader(str(tmp_path / "scan.nii.gz")) is not None
    assert napari_get_reader(str(dicom)) is not None
    assert napari_get_reader(str(tmp_path)) is not None
    assert napari_get_reader([]) is None


def test_in_plane_axes_follow_the_radiological_display_convention():
    # A coronal grid whose rows run inferior -> superior is flipped so that superior is on top.
    upward = np.array([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]]) @ np.diag([1, 1, 1])
    upward[:, 2] = np.cross(upward[:, 0], upward[:, 1])
    vol = Volume(np.zeros((4, 10, 12)), spacing=(0.7, 0.7, 4.0), origin=(1, 2, 3), direction=upward)
    kwargs = volume_transform(vol)
    assert kwargs["axis_labels"][1:] == ("inferior", "left")
    layer = Image(np.zeros(vol.shape), **kwargs)
    top, bottom = layer.data_to_world((0, 0, 0)), layer.data_to_world((0, 9, 0))
    assert bottom[1] < top[1]  # row 9 is more superior, so it sits higher on the screen
    lps = vol.index_to_lps([0, 9, 0])
    assert np.allclose(layer.data_to_world((0, 9, 0)), lps_to_world(vol, lps))


def test_radiographs_beside_an_mr_series_start_hidden(tmp_path):
    from onfh_napari._reader import META_RADIOGRAPH, read_study

    from onfh_imaging.io.dicom_write import write_radiograph
    from onfh_imaging.phantom import PhantomSpec, write_phantom_study

    write_phantom_study(tmp_path / "study", PhantomSpec(hips="right", matrix=(64, 64), n_slices=6))
    for name in ("ap.dcm", "frog.dcm"):
        write_radiograph(np.random.default_rng(0).random((120, 100)), tmp_path / "study" / name,
                         imager_pixel_spacing=0.2, magnification=1.2)
    layers = read_study(tmp_path / "study")
    shown = {kw.get("visible", True) for _, kw, _ in layers if kw["metadata"].get(META_RADIOGRAPH) is not None}
    assert shown == {False}  # a radiograph is its own view, not drawn over the MR
    assert any(kw.get("visible", True) for _, kw, _ in layers if kw["metadata"].get(META_VOLUME) is not None)
    # radiographs alone: the first is shown, the other waits its turn
    for f in (tmp_path / "study").iterdir():
        if f.is_dir():
            shutil.rmtree(f)
    flags = [kw.get("visible", True) for _, kw, _ in read_study(tmp_path / "study")]
    assert flags == [True, False]

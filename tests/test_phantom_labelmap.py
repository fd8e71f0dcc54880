"""The label-map phantom family: its truth against independent computation, its DICOM files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from onfh_imaging.io import read_series
from onfh_imaging.phantom.labelmap import (
    TISSUES,
    DepressedSegment,
    Fovea,
    HipAnatomy,
    HipDisease,
    LabelmapSpec,
    Lesion,
    head_volume_mm3,
    hip_truth,
    jic_type,
    load_labelmap_truth,
    mr_grid,
    truth_masks,
    write_labelmap_study,
)
from onfh_imaging.phantom.labelmap import radiograph as lm_xray
from onfh_imaging.phantom.labelmap.anatomy import lateral, unit

R = 24.0


def _hip(side="right", depression=None, lesion=None, coverage=80.0, inclination=45.0, **kw) -> HipAnatomy:
    lat = lateral(side)
    return HipAnatomy(side=side, center=(-90.0 if side == "right" else 90.0, 0.0, 0.0), radius_mm=R,
                      neck_axis=tuple(unit(lat * 0.7 - np.array([0, 0, 0.7]))), shaft_axis=(0.0, 0.0, -1.0),
                      fovea=Fovea(tuple(unit(-lat * 0.75 - np.array([0, 0, 0.6]))), 12.0, 3.0),
                      depression=depression, lesion=lesion, coverage_pct=coverage, inclination_deg=inclination,
                      anteversion_deg=0.0, **kw)


def _dome(side="right", lat_weight=0.3):
    return tuple(unit(lateral(side) * lat_weight + np.array([0.0, -0.2, 1.0])))


def _voxel_points(hip: HipAnatomy, step: float) -> np.ndarray:
    axis = np.arange(-R - 1 + step / 2, R + 1, step)
    g = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    return hip.c + g + np.array([0.013, -0.021, 0.007])  # off the lattice's symmetry


def _quadrature_volume_mm3(hip: HipAnatomy, n: int = 500) -> float:
    """Head volume as the integral of r(u)^3 / 3 over directions (midpoint rule in cos theta and phi)."""
    mu = (np.arange(n) + 0.5) / n * 2 - 1
    phi = (np.arange(2 * n) + 0.5) / (2 * n) * 2 * np.pi
    M, P = np.meshgrid(mu, phi, indexing="ij")
    s = np.sqrt(1 - M**2)
    u = np.stack([s * np.cos(P), s * np.sin(P), M], axis=-1).reshape(-1, 3)
    return float(np.sum(hip.radial_extent(u) ** 3) / 3 * (2 / n) * (np.pi / n))


@pytest.mark.parametrize("depth, extent", [(0.0, 0.0), (1.0, 20.0), (2.6, 28.0), (4.0, 32.0)])
def test_head_volume_closed_form_matches_the_sphere_with_cap_and_the_voxels(depth, extent):
    seg = DepressedSegment(_dome(), depth, extent) if depth else None
    hip = _hip(depression=seg)
    closed = head_volume_mm3(hip)
    fovea_lens = hip.fovea.removed_volume_mm3(R)
    if seg is None:
        assert closed == pytest.approx(4 / 3 * np.pi * R**3 - fovea_lens, rel=1e-12)
    else:  # sphere minus the sphere's cap plus the new cap over the same rim (signed sagitta)
        a, h = R * np.sin(np.radians(extent)), R * (1 - np.cos(np.radians(extent)))
        s = (R - depth) - R * np.cos(np.radians(extent))
        cap = lambda sag: np.pi * sag * (3 * a * a + sag * sag) / 6
        assert closed == pytest.approx(4 / 3 * np.pi * R**3 - fovea_lens - cap(h) + cap(s), rel=1e-12)
    assert _quadrature_volume_mm3(hip) == pytest.approx(closed, rel=2e-4)
    step = 0.4
    counted = np.count_nonzero(hip.head_mask(_voxel_points(hip, step))) * step**3
    assert counted == pytest.approx(closed, rel=2e-3)


def test_lesion_volume_matches_voxel_counts_at_two_resolutions():
    lesion = Lesion(_dome(), 50.0, 0.3, 2.0, "mixed", (0.2, 1.0, 0.1, 2.0))
    hip = _hip(depression=DepressedSegment(_dome(), 2.0, 25.0), lesion=lesion)
    truth = hip_truth(hip, 200, 400)
    true_mm3 = truth["lesion"]["volume_ml"] * 1000.0
    assert truth["numerical_error_ml"] < 1e-3 * truth["lesion"]["volume_ml"]
    errors = []
    for step in (0.6, 0.4):
        pts = _voxel_points(hip, step)
        counted = np.count_nonzero(hip.lesion_mask(pts)) * step**3
        errors.append(abs(counted - true_mm3) / true_mm3)
    assert max(errors) < 5e-3
    # the label map's lesion tissues lie inside the lesion
    pts = _voxel_points(hip, 0.8)
    from onfh_imaging.phantom.labelmap import PelvisAnatomy

    labels = PelvisAnatomy((hip,)).labels(pts)
    lesion_labels = np.isin(labels, [TISSUES["lesion_fatty"], TISSUES["lesion_fluid"], TISSUES["lesion_band"]])
    assert lesion_labels.any() and np.all(hip.lesion_mask(pts)[lesion_labels])


def test_fovea_is_not_collapse():
    hip = _hip()
    u = np.asarray(hip.fovea.direction)[None, :]
    assert R - hip.radial_extent(u)[0] == pytest.approx(3.0)  # a real 3 mm pit
    truth = hip_truth(hip, 200, 400)
    assert truth["head"]["collapse_depth_mm"] == 0.0
    assert truth["staging"]["arco_2019"] == "none"
    assert truth["head"]["rms_deviation_mm"] == 0.0


def test_collapse_depth_is_the_constructed_depth_both_flattened_and_concave():
    for depth, extent in ((0.8, 25.0), (3.5, 25.0)):  # s > 0 (flattened) and s < 0 (pushed in)
        hip = _hip(depression=DepressedSegment(_dome(), depth, extent), lesion=Lesion(_dome(), 40.0))
        truth = hip_truth(hip, 200, 400)
        assert truth["head"]["collapse_depth_mm"] == pytest.approx(depth, abs=1e-9)
        assert truth["staging"]["arco_2019"] == ("IIIA" if depth <= 2 else "IIIB")


def _expected_jic(hip: HipAnatomy, psi_deg: float, half_deg: float) -> str:
    """JIC type from plane geometry: a lesion axis ``psi`` from the vertical towards lateral in the
    mid-coronal plane, half-angle ``half``; the lateral acetabular edge at ``coverage - inclination``."""
    edge = hip.acetabular_radius_mm * np.sin(np.radians(np.degrees(hip.coverage_angle) - hip.inclination_deg))
    boundary = R * np.sin(np.radians(min(psi_deg + half_deg, 90.0)))
    f = boundary / edge
    return "A" if f <= 1 / 3 else "B" if f <= 2 / 3 else "C1" if f <= 1 else "C2"


@pytest.mark.parametrize("psi, half, coverage, expected", [
    (-30.0, 35.0, 90.0, "A"), (-10.0, 30.0, 90.0, "B"), (10.0, 30.0, 95.0, "C1"), (20.0, 45.0, 80.0, "C2")])
def test_jic_type_of_constructed_lesions(psi, half, coverage, expected):
    side = "left"
    direction = tuple(np.cos(np.radians(psi)) * np.array([0, 0, 1.0]) + np.sin(np.radians(psi)) * lateral(side))
    hip = _hip(side, lesion=Lesion(direction, half), coverage=coverage, inclination=40.0)
    assert _expected_jic(hip, psi, half) == expected
    kind, _ = jic_type(hip)
    assert kind == expected


def test_kerboul_angle_of_a_cone_in_both_planes():
    hip = _hip(lesion=Lesion((0.0, 0.0, 1.0), 40.0))  # axis straight up: 80 deg in each mid plane
    assert hip_truth(hip, 100, 200)["lesion"]["kerboul_angle_deg"] == pytest.approx(160.0, abs=0.02)


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    spec = LabelmapSpec(hips="left", left=HipDisease(1.5, 25.0, "large", "fluid", oedema=True),
                        in_plane_mm=1.6, slice_mm=5.0, gap_mm=1.0, matrix=(72, 80), n_slices=9,
                        oblique_deg=(8.0, 5.0), snr=30.0, seed=3)
    folder = tmp_path_factory.mktemp("labelmap")
    return spec, folder, write_labelmap_study(folder, spec)


def test_study_dicom_reads_back_with_its_geometry(small_study):
    spec, folder, truth = small_study
    assert load_labelmap_truth(folder)["family"] == "labelmap"
    assert json.loads((folder / "truth.json").read_text())["hips"][0]["lesion"]["jic_type"] in {"A", "B", "C1", "C2"}
    for entry in truth["series"]:
        series = read_series(folder / entry["folder"])
        v = series.volume
        assert v.shape == tuple(entry["shape"])
        np.testing.assert_allclose(v.spacing, entry["spacing"], atol=1e-4)
        np.testing.assert_allclose(v.spacing[2], 6.0, atol=1e-4)  # 5 mm slices + 1 mm gap
        np.testing.assert_allclose(v.origin, entry["origin"], atol=1e-3)
        np.testing.assert_allclose(v.direction, np.asarray(entry["direction"]), atol=1e-5)
    t1 = read_series(folder / "T1_COR").volume
    stir = read_series(folder / "STIR_COR").volume
    assert t1.same_grid(stir)
    hip = truth["hips"][0]
    assert hip["side"] == "left" and hip["head"]["center_lps_mm"][0] > 0
    # fat is bright on T1 and nulled on STIR, muscle is intermediate on both: the voxels the label map
    # calls fat and muscle at their centres show it
    anatomy = spec.anatomy()
    centres = t1.voxel_centers_lps().reshape(-1, 3)
    labels = anatomy.labels(centres).reshape(t1.shape)
    subcutaneous = anatomy.body.label(centres).reshape(t1.shape) == TISSUES["fat"]  # not the thin septa
    fat, muscle = (labels == TISSUES["fat"]) & subcutaneous, labels == TISSUES["muscle"]
    assert np.median(t1.array[fat]) > 2 * np.median(t1.array[muscle])
    assert np.median(stir.array[fat]) < np.median(stir.array[muscle])


def test_truth_masks_add_up_to_the_head_and_lesion_volumes(small_study):
    spec, folder, truth = small_study
    grid = read_series(folder / "T1_COR").volume
    head, lesion = truth_masks(spec.anatomy().hip("left"), grid)
    hip = truth["hips"][0]
    assert float(head.array.sum()) * grid.voxel_volume_ml == pytest.approx(hip["head"]["volume_ml"], rel=0.02)
    assert float(lesion.array.sum()) * grid.voxel_volume_ml == pytest.approx(hip["lesion"]["volume_ml"], rel=0.03)


def test_the_benchmark_grid_spans_the_required_range():
    grid = mr_grid()
    specs = [s for _, s in grid]
    assert len(specs) >= 16
    radii = [s.head_radius_mm for s in specs]
    assert min(radii) <= 21.5 and max(radii) >= 26.5
    collapses = [getattr(s, side).collapse_mm for s in specs for side in s.sides]
    assert min(collapses) == 0.0 and max(collapses) >= 4.0
    assert {getattr(s, side).lesion for s in specs for side in s.sides} >= {"none", "small", "large"}
    assert {getattr(s, side).core for s in specs for side in s.sides if getattr(s, side).lesion != "none"} >= {
        "fatty", "fluid", "mixed"}
    assert min(s.slice_mm for s in specs) <= 3.0 and max(s.slice_mm for s in specs) >= 6.0
    assert min(s.in_plane_mm for s in specs) <= 0.45 and max(s.in_plane_mm for s in specs) >= 1.0
    assert {s.hips for s in specs} == {"left", "right", "both"}
    assert any(any(s.fov_offset_mm) for s in specs) and any(any(s.oblique_deg) for s in specs)
    assert any(s.cam_bump for s in specs) and not all(s.cam_bump for s in specs)
    assert min(s.coverage_pct for s in specs) <= 60 and max(s.coverage_pct for s in specs) >= 100
    assert min(s.joint_space_mm for s in specs) <= 1.0 and max(s.joint_space_mm for s in specs) >= 4.0
    for s in specs:  # every study is a valid anatomy
        s.anatomy()


def test_cli_writes_a_labelmap_study(tmp_path, capsys):
    from onfh_imaging.cli import main

    out = tmp_path / "study"
    assert main(["phantom", str(out), "--family", "labelmap", "--hips", "right", "--collapse", "2.5",
                 "--lesion", "large", "--lesion-core", "mixed", "--pixel", "2.0", "--matrix", "48",
                 "--slices", "7", "--slice", "6"]) == 0
    truth = load_labelmap_truth(out)
    assert truth["hips"][0]["staging"]["arco_2019"] == "IIIB"
    assert "IIIB" in capsys.readouterr().out
    assert main(["phantom", str(tmp_path / "a"), "--lesion-core", "mixed"]) != 0  # the first family has none


# --- radiographs -------------------------------------------------------------------------------------


def _xray_spec(**kw):
    anatomy = LabelmapSpec(hips=kw.pop("side", "right"), right=kw.pop("disease", HipDisease()),
                           left=HipDisease(), seed=5)
    base = {"side": anatomy.hips, "detector_pixel_mm": 0.5, "shape": (150, 150), "volume_step_mm": 1.0}
    base.update(kw)
    return lm_xray.RadiographSpec(anatomy, **base)


def test_projection_of_a_ball_is_magnified_by_the_beam(monkeypatch):
    """A ball of known attenuation stands in for the hip: its projection's integral, centroid and radius
    follow the divergent beam exactly."""
    spec = _xray_spec(magnification=1.2, offset_mm=(5.0, -4.0))
    anatomy = spec.anatomy.anatomy()
    hip = anatomy.hip("right")
    beam = lm_xray._beam(spec, hip)
    rb, s = 10.0, 0.25
    ax = np.arange(-12.0, 12.0 + s, s)
    x, y, z = hip.c[0] + ax, hip.c[1] + ax, hip.c[2] + ax
    Y, Z, X = np.meshgrid(y - hip.c[1], z - hip.c[2], x - hip.c[0], indexing="ij")
    ball = ((X**2 + Y**2 + Z**2) < rb**2).astype(np.float32)
    monkeypatch.setattr(lm_xray, "attenuation_volume", lambda *a, **k: (ball, x, y, z))
    line = lm_xray.project(anatomy, hip, beam) - lm_xray._body_paths(anatomy, beam)
    px = beam.detector_pixel_mm
    # the detector integral of the line integrals is the volume magnified by (SDD / distance)^2
    dist = (y - beam.source[1])[:, None, None]
    expected = float(np.sum(ball * (beam.source_to_detector_mm / dist) ** 2) * s**3)
    assert float(line.sum()) * px * px == pytest.approx(expected, rel=2e-3)
    rows, cols = np.indices(line.shape)
    w = line / line.sum()
    centre = (float((w * rows).sum()), float((w * cols).sum()))
    _, truth = lm_xray.render_radiograph(spec)
    np.testing.assert_allclose(centre, truth["hips"][0]["center_px"], atol=0.05)
    rho2 = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2
    radius_mm = np.sqrt(2.5 * float((w * rho2).sum())) * px / spec.magnification  # ball: <rho^2> = 2/5 r^2
    assert radius_mm == pytest.approx(rb, rel=5e-3)


def test_silhouette_depth_of_a_dome_collapse_in_profile_and_of_an_intact_head():
    lat = lateral("right")
    profile = tuple(unit(lat * 0.4 + np.array([0.0, 0.0, 1.0])))  # in the coronal plane: in profile on AP
    hip = _hip(depression=DepressedSegment(profile, 1.0, 25.0))  # flattened: the outline shows the depth
    beam = lm_xray.Beam(hip.c, 1.15, 1150.0, 0.2, (400, 400))
    depth, _ = lm_xray.silhouette_depth_mm(hip, beam, n_angles=360)
    assert depth == pytest.approx(1.0, abs=0.02)
    intact, angle = lm_xray.silhouette_depth_mm(_hip(), beam, n_angles=360)
    assert intact == 0.0 and angle is None  # the fovea's notch is not on the dome


def test_radiograph_files_read_back_with_their_calibration_orientation_and_polarity(tmp_path):
    from onfh_imaging.io import read_radiograph

    kinds = {"imager": {}, "pixel_only": {"calibration": "none"},
             "mono1_flipped": {"photometric": "MONOCHROME1", "flipped": True, "calibration": "pixel_spacing"}}
    images = {}
    for name, kw in kinds.items():
        spec = _xray_spec(**kw)
        truth = lm_xray.write_labelmap_radiograph(tmp_path / f"{name}.dcm", spec)
        rx, _ = read_radiograph(tmp_path / f"{name}.dcm")
        images[name] = np.asarray(rx.pixels, float)
        if name == "pixel_only":
            assert not rx.calibrated and truth["pixel_size_mm"] is None
        else:
            np.testing.assert_allclose(rx.pixel_size_mm, (0.5 / spec.magnification,) * 2, rtol=1e-6)
        import pydicom

        ds = pydicom.dcmread(tmp_path / f"{name}.dcm")
        assert list(ds.PatientOrientation) == (["R", "F"] if spec.flipped else ["L", "F"])
    a = images["imager"]
    b = images["mono1_flipped"][:, ::-1]  # same view: bone bright after reading, mirrored back
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_prosthesis_is_far_brighter_than_bone():
    spec = _xray_spec(shape=(60, 60), detector_pixel_mm=1.0)
    anatomy = spec.anatomy.anatomy()
    hip = anatomy.hip("right")
    beam = lm_xray._beam(spec, hip)
    native = lm_xray.project(anatomy, hip, beam, step_mm=1.0)
    replaced = lm_xray.project(anatomy, hip, beam, prosthesis=True, step_mm=1.0)
    r0, c0 = (int(v) for v in beam.centre_px)
    assert replaced[r0, c0] > native[r0, c0] + 10.0  # tens of mm of cobalt-chrome on the ball's axis


def test_radiograph_study_has_ap_and_frog_views_of_every_imaged_hip(tmp_path):
    spec = LabelmapSpec(hips="left", left=HipDisease(2.0, 25.0, "large"), seed=9)
    truth = lm_xray.write_labelmap_radiograph_study(tmp_path, spec, shape=(50, 50), detector_pixel_mm=1.2,
                                                    volume_step_mm=1.5)
    assert truth["files"] == ["AP_LEFT.dcm", "FROG_LEFT.dcm"]
    assert json.loads((tmp_path / "radiograph_truth.json").read_text())["family"] == "labelmap"
    for view in truth["views"]:
        hip = view["hips"][0]
        assert hip["side"] == "left" and hip["radius_px"] == pytest.approx(
            hip["radius_projected_mm"] * view["magnification"] / 1.2)

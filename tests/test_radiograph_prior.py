"""The sclerotic margin tested along the MRI lesion's projected outline on an AP radiograph, against known truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.measure.radiograph_lesion import RadiographicLesion
from onfh_imaging.measure.radiograph_prior import (
    LesionOutline,
    lesion_outline_ap,
    margin_at_lesion_outline,
    z_limit,
)
from onfh_imaging.visit_priors import AT_MRI_MARGIN, with_mri_lesion_outlines

PIXEL_MM = 0.15
RADIUS_MM = 24.0
SHAPE = (520, 520)
CENTRE = (260.0, 260.0)
ARC_MM = 0.8 * RADIUS_MM
"""The margin: the arc of this radius about the point one head radius above the centre (concave toward the
dome, as the margin of a segment under the dome projects)."""
BAND_MM = 2.0


def _head_image(*, band_contrast: float = 0.0, seed: int = 0, mirrored: bool = False) -> np.ndarray:
    """A projected sphere with trabecular texture and noise; a dense band along the margin's arc, 1 mm inside
    the lesion's outline (the lesion is the disc of radius ``ARC_MM + 1`` about that point)."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:SHAPE[0], 0:SHAPE[1]].astype(float)
    dy, dx = (rr - CENTRE[0]) * PIXEL_MM, (cc - CENTRE[1]) * PIXEL_MM
    r = np.hypot(dy, dx)
    img = 0.2 + 0.6 * np.sqrt(np.clip(RADIUS_MM**2 - r**2, 0, None)) / RADIUS_MM
    texture = ndimage.gaussian_filter(rng.standard_normal(SHAPE), 0.8 / PIXEL_MM)
    img += 0.02 * texture / texture.std() + 0.005 * rng.standard_normal(SHAPE)
    arc = np.hypot(dy + RADIUS_MM, dx)
    img += band_contrast * ((np.abs(arc - ARC_MM) < BAND_MM / 2) & (r < RADIUS_MM - 1.0))
    return img[:, ::-1].copy() if mirrored else img


def _radiograph(img: np.ndarray, orientation=("L", "F")) -> Radiograph:
    return Radiograph(img, (PIXEL_MM, PIXEL_MM), "PixelSpacing", view="AP", patient_orientation=orientation)


def _lesion_volume(offset_left_mm: float = 0.0) -> Volume:
    """A coronal MR lesion mask (0.5 x 0.5 mm pixels, 3 mm slices) about a head centred at the LPS origin:
    inside the head, within ``ARC_MM + 1`` of the point one radius superior (``offset_left_mm`` toward the
    patient's left), in every slice the head spans."""
    direction = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # i: left, j: inferior, k: posterior
    n, nk = int(2 * (RADIUS_MM + 2) / 0.5), int(2 * (RADIUS_MM + 2) / 3.0)
    origin = (-(RADIUS_MM + 2), -(RADIUS_MM + 2), RADIUS_MM + 2)
    k, j, i = np.meshgrid(np.arange(nk), np.arange(n), np.arange(n), indexing="ij")
    grid = Volume(np.zeros((nk, n, n)), (0.5, 0.5, 3.0), origin, direction)
    p = grid.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3))
    inside = (np.linalg.norm(p, axis=1) < RADIUS_MM) & (
        np.hypot(p[:, 2] - RADIUS_MM, p[:, 0] - offset_left_mm) < ARC_MM + 1.0)
    return Volume(inside.reshape(k.shape).astype(np.uint8), (0.5, 0.5, 3.0), origin, direction)


@pytest.fixture(scope="module")
def outline() -> LesionOutline:
    out = lesion_outline_ap(_lesion_volume(), np.zeros(3), RADIUS_MM)
    assert out is not None
    return out


def test_the_outline_is_the_projected_lesion_boundary(outline):
    sup, left = outline.points.T
    inside_head = np.hypot(sup, left) < 0.95
    # the boundary inside the head is the margin's circle (radius ARC_MM + 1 about the point above the centre)
    dist = np.hypot(sup[inside_head] - 1.0, left[inside_head]) * RADIUS_MM
    assert np.all(np.abs(dist - (ARC_MM + 1.0)) < 0.6)
    # normals point out of the lesion: away from the point above the centre on that circle
    away = np.column_stack([sup - 1.0, left])[inside_head]
    assert np.all((outline.normals[inside_head] * away).sum(axis=1) > 0)
    empty = Volume(np.zeros((4, 8, 8), np.uint8), (0.5, 0.5, 3.0))
    assert lesion_outline_ap(empty, np.zeros(3), RADIUS_MM) is None


def test_a_band_along_the_mri_lesion_outline_is_found_and_its_absence_is_not(outline):
    found = margin_at_lesion_outline(_radiograph(_head_image(band_contrast=0.03)), CENTRE, RADIUS_MM / PIXEL_MM, outline)
    assert found.found and found.contrast_sd > 0 and found.z >= found.z_limit == pytest.approx(z_limit())
    for seed in range(4):  # texture and noise alone, same curve: no finding
        absent = margin_at_lesion_outline(_radiograph(_head_image(seed=seed)), CENTRE, RADIUS_MM / PIXEL_MM, outline)
        assert not absent.found and absent.z < absent.z_limit


def test_a_band_elsewhere_than_the_mri_lesion_is_not_found_along_its_outline():
    aside = lesion_outline_ap(_lesion_volume(offset_left_mm=12.0), np.zeros(3), RADIUS_MM)
    test = margin_at_lesion_outline(_radiograph(_head_image(band_contrast=0.03)), CENTRE, RADIUS_MM / PIXEL_MM, aside)
    assert not test.found


def test_the_patient_orientation_places_the_outline_and_its_absence_withholds_the_test():
    aside = lesion_outline_ap(_lesion_volume(offset_left_mm=6.0), np.zeros(3), RADIUS_MM)
    image = _head_image(band_contrast=0.0)
    band = _head_image(band_contrast=0.03) - image
    shifted = image + np.roll(band, round(6.0 / PIXEL_MM), axis=1)  # the band 6 mm toward increasing column
    args = (CENTRE, RADIUS_MM / PIXEL_MM, aside)
    assert margin_at_lesion_outline(_radiograph(shifted, ("L", "F")), *args).found  # columns toward the left
    assert not margin_at_lesion_outline(_radiograph(shifted, ("R", "F")), *args).found  # mirrored: 12 mm off
    reason = margin_at_lesion_outline(_radiograph(shifted, None), *args)
    assert isinstance(reason, str) and "orientation" in reason


def _visit(mr_lesion: bool, band_contrast: float):
    """An MR result and an AP radiograph result of one visit, as measure_path returns them."""
    ident = {"patient_id": "P1", "study_date": "20260101", "series_instance_uid": "1.2", "modality": "MR",
             "series_description": "COR T1"}
    mask = _lesion_volume() if mr_lesion else Volume(np.zeros((4, 8, 8), np.uint8), (0.5, 0.5, 3.0))
    seg = SimpleNamespace(lesion_mask=mask, head_center_lps=np.zeros(3), head_radius_mm=RADIUS_MM)
    mr = SimpleNamespace(radiograph_report=None, radiograph=None, to_json=lambda: {"input": ident, "hips": []},
                         hips=[SimpleNamespace(side="right", segmentation=seg)])
    absent = RadiographicLesion(found=False, resolved=True).to_dict()
    report = {"input": {**ident, "series_instance_uid": "1.3", "modality": "DX", "series_description": "HIP AP",
                        "view": "AP", "pixel_size_mm": [PIXEL_MM, PIXEL_MM], "pixel_size_source": "PixelSpacing"},
              "hips": [{"side": "right", "head": {"center_px": list(CENTRE), "radius_px": RADIUS_MM / PIXEL_MM},
                        "radiographic_lesion": absent}]}
    rx = SimpleNamespace(radiograph=_radiograph(_head_image(band_contrast=band_contrast)), radiograph_report=report,
                         hips=[], to_json=lambda: report)
    return [mr, rx]


def test_a_visit_with_an_mri_lesion_finds_the_margin_at_its_outline_on_the_ap_view():
    results = with_mri_lesion_outlines(_visit(True, 0.03))
    block = results[1].radiograph_report["hips"][0]["radiographic_lesion"]
    finding = RadiographicLesion.from_dict(block)
    assert finding.found is True and finding.kind == AT_MRI_MARGIN and block["mri_margin"]["tested"]
    assert "MRI lesion's margin" in finding.describe("HIP AP") and "COR T1" in finding.describe("HIP AP")


def test_a_visit_whose_mri_shows_no_lesion_tests_nothing():
    results = with_mri_lesion_outlines(_visit(False, 0.03))
    block = results[1].radiograph_report["hips"][0]["radiographic_lesion"]
    assert block["finding"] is False and block["mri_margin"] is None
    results = with_mri_lesion_outlines(_visit(True, 0.0))  # a lesion on MRI, none on the radiograph
    block = results[1].radiograph_report["hips"][0]["radiographic_lesion"]
    assert block["finding"] is False and block["mri_margin"]["tested"] and not block["mri_margin"]["found"]


# --- the second phantom family's AP view, with its exact lesion as the MRI's mask ---------------------------
def _labelmap_case(lesion: str, shown: bool):
    from labelmap_views import labelmap_radiograph

    from onfh_imaging.measure.radiograph import calibrate
    from onfh_imaging.segment.xray import find_femoral_heads_2d

    pixels, truth = labelmap_radiograph(lesion, shown, "AP")
    size = truth["pixel_size_mm"]
    rx, _, _ = calibrate(Radiograph(pixels.astype(float), (size, size), "PixelSpacing", view="AP",
                                    patient_orientation=("L", "F")))
    (head,) = [c for c in find_femoral_heads_2d(rx) if c.side == "right"]
    return rx, head, truth


def _exact_lesion_outline() -> LesionOutline:
    """The large lesion of the family's default hip, sampled on a coronal 0.7 x 0.7 x 4 mm MR grid."""
    from onfh_imaging.phantom.labelmap import HipDisease, LabelmapSpec

    hip = LabelmapSpec(hips="right", right=HipDisease(0.0, lesion="large")).anatomy().hip("right")
    r = hip.radius_mm
    direction = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    n, nk = int(2 * r / 0.7) + 4, int(2 * r / 4.0) + 2
    origin = (hip.c[0] - r - 1, hip.c[1] - r - 1, hip.c[2] + r + 1)
    k, j, i = np.meshgrid(np.arange(nk), np.arange(n), np.arange(n), indexing="ij")
    grid = Volume(np.zeros((nk, n, n)), (0.7, 0.7, 4.0), origin, direction)
    inside = hip.lesion_mask(grid.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3)))
    return lesion_outline_ap(Volume(inside.reshape(k.shape).astype(np.uint8), (0.7, 0.7, 4.0), origin, direction),
                             hip.c, r)


@pytest.mark.slow
def test_labelmap_margin_found_at_the_mri_lesion_outline_and_not_on_occult_or_lesion_free_heads():
    outline = _exact_lesion_outline()
    for lesion, shown in (("large", True), ("large", False), ("none", True)):
        rx, head, truth = _labelmap_case(lesion, shown)
        test = margin_at_lesion_outline(rx, head.center_px, head.radius_px, outline)
        assert test.found is truth["hips"][0]["radiographic_lesion"], (lesion, shown, test)

"""The necrotic lesion's radiographic finding inside a head's outline (ARCO I vs II) against known truth."""

from __future__ import annotations

import numpy as np
import pytest

from onfh_imaging.geometry import Radiograph
from onfh_imaging.measure.radiograph_lesion import (
    BAND_MIN_CONTRAST,
    CIRCLE_CHECKS,
    OWN_EDGE_CHECK,
    RadiographicLesion,
    radiographic_lesion,
)
from onfh_imaging.segment.xray import HeadContour2D

PIXEL_MM = 0.15
RADIUS_MM = 24.0


def _head_image(*, band_mm: float | None = None, band_contrast: float = 0.08, noise: float = 0.005,
                shape=(520, 520), centre=(260.0, 260.0), seed: int = 0) -> np.ndarray:
    """A projected sphere (bright, sqrt(R^2 - r^2) thick) over soft tissue, with an optional dense band of
    width ``band_mm``: the lower arc of a circle above the head centre (concave toward the dome), as the
    sclerotic margin of a segment under the dome projects."""
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    dy, dx = (rr - centre[0]) * PIXEL_MM, (cc - centre[1]) * PIXEL_MM
    r = np.hypot(dy, dx)
    img = 0.2 + 0.6 * np.sqrt(np.clip(RADIUS_MM**2 - r**2, 0, None)) / RADIUS_MM
    if band_mm is not None:
        arc = np.hypot(dy + 1.0 * RADIUS_MM, dx)  # circle centred one radius above the head centre
        band = (np.abs(arc - 0.8 * RADIUS_MM) < band_mm / 2) & (r < RADIUS_MM - 1.0)
        img = img + band_contrast * band
    return img + noise * np.random.default_rng(seed).standard_normal(shape)


def _contour(centre=(260.0, 260.0), radius_px: float = RADIUS_MM / PIXEL_MM, shape=(520, 520)) -> HeadContour2D:
    angles = np.arange(-180.0, 180.0, 1.0)
    return HeadContour2D(side="right", side_basis="test", center_px=centre, radius_px=radius_px,
                         angles_deg=angles, radii_px=np.full(len(angles), radius_px), strength=np.full(len(angles), 10.0),
                         roof_radii_px=np.full(len(angles), np.nan), neck_angle_deg=135.0, score=1.0,
                         image_shape=shape)


def _rx(img: np.ndarray, pixel: float | None = PIXEL_MM) -> Radiograph:
    return Radiograph(img, None if pixel is None else (pixel, pixel), "PixelSpacing" if pixel else "none")


def test_a_dense_band_concave_toward_the_dome_is_found_and_its_absence_resolved():
    found = radiographic_lesion(_contour(), _rx(_head_image(band_mm=2.0)))
    assert found.resolved and found.found is True and found.kind == "sclerotic margin"
    assert found.contrast >= BAND_MIN_CONTRAST and found.band_length_mm > 20.0
    absent = radiographic_lesion(_contour(), _rx(_head_image()))
    assert absent.resolved and absent.found is False and absent.kind is None


def test_a_band_at_the_noise_level_is_not_found():
    faint = radiographic_lesion(_contour(), _rx(_head_image(band_mm=2.0, band_contrast=0.002)))
    assert faint.resolved and faint.found is False


def test_a_band_below_the_centre_convex_toward_the_dome_is_not_a_margin():
    flipped = _head_image(band_mm=2.0)[::-1].copy()  # the same band turned upside down
    assert radiographic_lesion(_contour(), _rx(flipped)).found is False


def test_a_head_cut_by_the_image_edge_or_failed_outline_is_not_read():
    cut = radiographic_lesion(_contour(centre=(100.0, 260.0)), _rx(_head_image(centre=(100.0, 260.0))))
    assert cut.found is None and not cut.resolved and "image edge" in cut.reason
    failed = radiographic_lesion(_contour(), _rx(_head_image(band_mm=2.0)), outline_problems=["rim not traced"])
    assert failed.found is None and "rim not traced" in failed.reason


def test_a_head_cut_below_its_superior_half_is_read_on_its_part_in_the_image():
    centre = (400.0, 260.0)  # the image's lower edge cuts the inferior half of the interior, not the dome
    found = radiographic_lesion(_contour(centre=centre), _rx(_head_image(band_mm=2.0, centre=centre)))
    assert found.resolved and found.found is True and "outside its dome" in found.reason
    for seed in (0, 1):  # the edge itself (its border repeated) makes no finding
        absent = radiographic_lesion(_contour(centre=centre), _rx(_head_image(centre=centre, seed=seed)))
        assert absent.resolved and absent.found is False


def test_the_circle_checks_withhold_the_finding_but_the_rim_and_edge_checks_do_not():
    from onfh_imaging.quality import QualityCheck

    edge = QualityCheck(OWN_EDGE_CHECK, False, 1.0, "the image edge cuts the head")
    rim = QualityCheck("articular_rim_traced", False, 0.5, "rim traced over 53 %")
    dome = QualityCheck("dome_traced", False, 0.5, "dome traced over 20 %")
    head = (_contour(), _rx(_head_image(band_mm=2.0)))
    assert radiographic_lesion(*head, outline_checks=[edge, rim, dome]).found is True
    for name in CIRCLE_CHECKS:
        off = QualityCheck(name, False, 0.0, "the circle is off the head")
        failed = radiographic_lesion(*head, outline_checks=[edge, rim, off])
        assert failed.found is None and "the circle is off the head" in failed.reason
        assert "image edge" not in failed.reason and "53 %" not in failed.reason


def test_a_head_cut_beside_its_dome_is_read_without_a_finding_from_the_edge_and_one_cut_through_its_dome_is_not():
    side = (260.0, 150.0)  # the left edge lies 1 mm beside the interior, 7 mm beside the dome's interior
    for seed in (0, 1):  # the edge itself (its border repeated) makes no finding
        absent = radiographic_lesion(_contour(centre=side), _rx(_head_image(centre=side, seed=seed)))
        assert absent.resolved and absent.found is False and "outside its dome" in absent.reason
    top = (150.0, 260.0)  # the upper edge lies 1 mm above the dome's interior
    cut = radiographic_lesion(_contour(centre=top), _rx(_head_image(band_mm=2.0, centre=top)))
    assert cut.found is None and "under the dome" in cut.reason


def test_without_a_pixel_size_the_scale_is_assumed_and_said():
    out = radiographic_lesion(_contour(), _rx(_head_image(band_mm=2.0), pixel=None))
    assert out.resolved and out.found is True and "scale assumed" in out.reason


def test_the_json_block_round_trips():
    out = radiographic_lesion(_contour(), _rx(_head_image(band_mm=2.0)))
    block = out.to_dict()
    assert set(block) >= {"finding", "kind", "contrast_sd", "resolved", "reason"}
    back = RadiographicLesion.from_dict(block)
    assert back.found is True and back.kind == out.kind and back.resolved
    assert RadiographicLesion.from_dict(None).found is None


# --- phantom radiographs of both families ----------------------------------------------------------------
def _sdf_head(lesion: str, shown: bool = True, **render):
    from onfh_imaging.measure.radiograph import calibrate
    from onfh_imaging.phantom.radiograph import render_radiograph
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec
    from onfh_imaging.segment.xray import find_femoral_heads_2d

    spec = PhantomSpec(hips="right", right=HipSpec(0.0, lesion=lesion, radiographic_lesion=shown))
    pixels, truth = render_radiograph(spec.model(), occult_lesion_sides=() if shown else ("right",), **render)
    rx, _, _ = calibrate(Radiograph(pixels.astype(float), (truth["pixel_size_mm"],) * 2, "PixelSpacing"))
    (head,) = [c for c in find_femoral_heads_2d(rx) if c.side == "right"]
    return radiographic_lesion(head, rx), truth


@pytest.mark.slow
def test_sdf_phantom_margin_found_when_drawn_absent_when_occult_or_no_lesion():
    drawn, truth = _sdf_head("large")
    assert truth["hips"][0]["radiographic_lesion"] is True
    assert drawn.found is True and "sclerotic margin" in drawn.kind
    occult, truth = _sdf_head("large", shown=False)
    assert truth["hips"][0]["radiographic_lesion"] is False
    assert occult.resolved and occult.found is False
    none, _ = _sdf_head("none")
    assert none.resolved and none.found is False


@pytest.mark.slow
def test_sdf_phantom_lesion_free_hip_stays_absent_on_other_images():
    noisy, _ = _sdf_head("none", photons_per_pixel=5000.0, seed=3)
    assert noisy.resolved and noisy.found is False
    frog, _ = _sdf_head("none", view="frog_lateral")
    assert frog.resolved and frog.found is False


def _labelmap_head(lesion: str, shown: bool = True, view: str = "AP"):
    from labelmap_views import labelmap_radiograph

    from onfh_imaging.measure.radiograph import calibrate
    from onfh_imaging.segment.xray import find_femoral_heads_2d

    pixels, truth = labelmap_radiograph(lesion, shown, view)
    size = truth["pixel_size_mm"]
    rx, _, _ = calibrate(Radiograph(pixels.astype(float), (size, size), "PixelSpacing"))
    (head,) = [c for c in find_femoral_heads_2d(rx) if c.side == "right"]
    return radiographic_lesion(head, rx), truth


@pytest.mark.slow
def test_labelmap_phantom_occult_lesion_and_lesion_free_hip_are_absent():
    occult, truth = _labelmap_head("large", shown=False)
    assert truth["hips"][0]["radiographic_lesion"] is False
    assert occult.resolved and occult.found is False
    for view in ("AP", "frog"):  # the rim is traced over about half its arc: the circle is read, not the rim
        none, _ = _labelmap_head("none", view=view)
        assert none.resolved and none.found is False


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the label-map family's margin is not told from the lines of a lesion-free "
                   "head by a detector with a controlled false-alarm rate: as one line its longest piece stands "
                   "4.1 SD of the head's texture over 6.8 mm on the AP view (the acetabular wall crossing it breaks "
                   "the rest; 10 mm and 5 SD needed) while the occult-lesion head holds a 3.7 SD line 11.7 mm long; "
                   "read whole as the boundary of the segment under the dome (benchmarks/segment_margin.py: two "
                   "walls from the surface to the segment's deepest point, each brighter than its brighter side "
                   "over three quarters of its length) its weaker wall's cover is +0.47 SD (AP) and +0.44 SD "
                   "(frog-leg), the lesion-free and occult-lesion heads of both families -0.45 SD or less, but "
                   "textured spheres without any band reach +0.10 to +0.34 SD on 3 of 12: a limit between them "
                   "would be set by those 12 heads, not by a stated false-alarm rate. Where the visit's MRI shows "
                   "the lesion, the AP view is tested along its projected outline instead "
                   "(measure/radiograph_prior, tests/test_radiograph_prior.py): there the margin stands +0.96 SD, "
                   "5.3 robust SDs above the same curve turned elsewhere in the head (limit 2.58), the occult-lesion "
                   "and lesion-free heads 1.1 and 1.0")
def test_labelmap_phantom_margin_found_when_drawn():
    drawn, truth = _labelmap_head("large")
    assert truth["hips"][0]["radiographic_lesion"] is True
    assert drawn.found is True

"""Radiograph head detection beyond the bright disc: seeds, sides, scale search, quality, real crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onfh_imaging.geometry import Radiograph
from onfh_imaging.pipeline import measure_radiograph
from onfh_imaging.phantom.model import PelvisModel
from onfh_imaging.phantom.radiograph import render_radiograph
from onfh_imaging.segment.xray import find_femoral_heads_2d

TOL_MM = 0.3
_CACHE: dict = {}


def _left_ap():
    """A single left hip, AP, 0.2 mm detector pixels at magnification 1.2 (rendered once)."""
    if "left" not in _CACHE:
        _CACHE["left"] = render_radiograph(PelvisModel.standard("left"), side="left", view="AP",
                                           detector_shape=(640, 640), detector_pixel_mm=0.2, magnification=1.2, seed=5)
    return _CACHE["left"]


def _rx(pixels, truth, **kw) -> Radiograph:
    size = truth["pixel_size_mm"]
    return Radiograph(pixels, (size, size), "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor", **kw)


@pytest.mark.parametrize("kind", ["centre", "outline"])
def test_seeded_head_is_delineated_from_the_seed_and_says_so(kind):
    pixels, truth = _left_ap()
    t = truth["hips"][0]
    r0, c0 = t["center_px"]
    r_px = t["radius_px"]
    if kind == "centre":  # a click 3 mm off the centre
        seed = (r0 + 3.0 / truth["pixel_size_mm"], c0 - 2.0 / truth["pixel_size_mm"])
    else:  # three clicks on the superior outline
        a = np.radians([-50.0, 0.0, 40.0])
        seed = [(r0 - r_px * np.cos(x), c0 + r_px * np.sin(x)) for x in a]
    rx = _rx(pixels, truth)
    heads = find_femoral_heads_2d(rx, seeds={"left": seed})
    assert len(heads) == 1 and heads[0].side == "left" and heads[0].placed_by_hand
    report = measure_radiograph(rx, seeds={"left": seed})
    hip = report["hips"][0]
    assert hip["head"]["radius_mm"] == pytest.approx(t["radius_mm"], abs=TOL_MM)
    checks = {c["name"] for c in hip["quality"]["checks"]}
    assert "head_placed_by_hand" in checks and "head placed by hand" in hip["warnings"]


def test_bad_seeds_are_refused_clearly():
    pixels, truth = _left_ap()
    rx = _rx(pixels, truth)
    with pytest.raises(ValueError, match="left or right|'left' or 'right'"):
        find_femoral_heads_2d(rx, seeds={"middle": (10.0, 10.0)})
    with pytest.raises(ValueError, match="outside"):
        find_femoral_heads_2d(rx, seeds={"left": (-50.0, 10.0)})
    with pytest.raises(ValueError, match="at least 3"):
        find_femoral_heads_2d(rx, seeds={"left": [(1.0, 2.0), (3.0, 4.0)]})


def test_dome_evidence_counts_the_roof_over_the_dome_only():
    """A roof step 0.15 radius beyond the rim over the superior 60 deg, none elsewhere: every dome ray is
    capped; a roof too far out (a structure 0.6 radius beyond) or a dome outside the image is not."""
    from onfh_imaging.segment.xray_anatomy import DOME_HALF_ARC_DEG, articular_weight, dome_evidence

    angles = np.arange(-180.0, 180.0, 1.0)
    radius = 100.0
    head_r = np.full(len(angles), radius)
    traced = np.ones(len(angles), dtype=bool)
    inside = np.ones(len(angles), dtype=bool)
    dome = np.abs(angles) <= DOME_HALF_ARC_DEG
    roof_r = np.where(dome, radius * 1.15, radius * 1.6)
    strength = np.where(dome, 8.0, 8.0)
    ev = dome_evidence(angles, head_r, traced, inside, roof_r, strength, radius)
    assert ev["dome_in_image"] == 1.0 and ev["dome_traced"] == 1.0 and ev["roof_over_dome"] == 1.0
    assert ev["roof_radius_px"] == pytest.approx(radius * 1.15)
    far = dome_evidence(angles, head_r, traced, inside, np.full(len(angles), radius * 1.6), strength, radius)
    assert far["roof_over_dome"] == 0.0 and articular_weight(far) < articular_weight(ev)
    assert np.isnan(far["roof_radius_px"])
    # the image's upper edge cuts the circle above its centre: the dome is not seen and the circle is no head
    cut = dome_evidence(angles, head_r, traced, np.abs(angles) > 90.0, roof_r, strength, radius)
    assert cut["dome_in_image"] == 0.0 and articular_weight(cut) == 0.0
    # a view shown upside down (PatientOrientation column direction H): the dome is at 180 deg
    flipped = dome_evidence(angles, head_r, traced, inside, np.roll(roof_r, 180), strength, radius, 180.0)
    assert flipped["roof_over_dome"] == 1.0


def test_superior_direction_follows_patient_orientation():
    from onfh_imaging.segment.xray_anatomy import superior_angle_deg

    pixels = np.zeros((64, 64))
    assert superior_angle_deg(Radiograph(pixels, None)) == 0.0
    assert superior_angle_deg(Radiograph(pixels, None, patient_orientation=("L", "F"))) == 0.0
    assert superior_angle_deg(Radiograph(pixels, None, patient_orientation=("L", "H"))) == 180.0


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-xray" / "images"
# Heads judged by eye on contrast-equalised views of real crops (centre row, column and radius in
# pixels of the 511 x 511 crop, read against a 50-pixel grid to about +-10 pixels): the dome under the
# sourcil, the medial rim beside the teardrop. Before the articular checks the search put the first two
# on the ilium above the joint (its centre near the crop's upper edge); the third was not found. Before the
# circle was refined on the normalised gradient, the fourth and fifth were small circles at the teardrop
# and the lower medial corner (radius 136 and 79 pixels), pulled there by the ilioischial line.
EYE_HEADS = {
    "1471609_1-1.3.46.670589.30.1.6.1.963334086946.1421995380625.1_R_0_512.png": (325.0, 380.0, 185.0),
    "1482256_1-1.3.46.670589.30.1.3.1.1625143089.1312181982250.1_L_0_512.png": (360.0, 310.0, 150.0),
    "1447356_1-1.3.46.670589.26.702267.22.20100407.100234.1_L_2_512.png": (350.0, 322.0, 200.0),
    "2073575_2-1.3.46.670589.26.702267.22.20120409.172124.1_R_1_512.png": (324.0, 360.0, 155.0),
    "4067615_1-1.3.46.670589.30.1.6.1.963333111298.1502852497921.1_R_0_512.png": (350.0, 365.0, 160.0),
    # heads whose rim is traced over less than half of its outline, under a clear roof: the search gave a
    # small circle at the crop's lower medial corner or its medial edge (radius 84-90 pixels)
    "2287995_1-1.3.46.670589.30.1.3.1.1625143089.1352861691015.1_L_0_512.png": (340.0, 342.0, 168.0),
    "2075312_1-1.3.46.670589.26.702267.22.20120411.112919.1_L_2_512.png": (332.0, 337.0, 180.0),
    # a circle of texture inside the head (radius 137 pixels) was chosen before the head's own rim around it
    "4013644_2-1.3.46.670589.26.702267.22.20170701.110340.1_R_0_512.png": (336.0, 355.0, 162.0),
    # a circle on the neck and the greater trochanter (radius 100 pixels), its dome inside the head, was chosen
    # before the head capped by the roof
    "3133685_2-1.3.46.670589.26.702267.22.20150331.93359.1_R_0_512.png": (345.0, 360.0, 150.0),
    # the upper edge of the acetabular roof's band, concentric with the head and 14 px larger, was chosen
    # (the head's roof steps lie beyond that circle's radius, but inside it ray by ray)
    "1245987_1-1.3.51.5146.11431.20090624.1152738_L_2_512.png": (325.0, 315.0, 180.0),
    # the head was never traced: a search circle on it lay near an earlier one whose trace moved off onto
    # the lower medial corner, and was taken for that one (a circle of radius 120 px there was chosen)
    "2072639_2-1.3.46.670589.26.702267.22.20120409.91128.1_R_2_512.png": (350.0, 378.0, 170.0),
    # a circle of the head's size on a centre below the head's (its lower half's trabecular arc, the
    # medial corner), its apex inside the head capped by the roof, was chosen
    "4027010_1-1.3.46.670589.30.1.6.1.963333111298.1499838778312.1_L_0_512.png": (357.0, 338.0, 170.0),
    "4273645_1-1.3.12.2.1107.5.3.49.50305.2.201803090901420781_L_2_512.png": (331.0, 340.0, 165.0),
}
EYE_CENTRE_RADII = 0.15
"""The found centre lies within 15 % of the head's radius of the one judged by eye (a circle on the roof
or the ilium is 0.3-1 radius off), and the radius within 15 %."""


@pytest.mark.skipif(not REAL.is_dir(), reason="the real radiographs in ../shared are not present")
@pytest.mark.parametrize("name", sorted(EYE_HEADS))
def test_real_crop_head_is_the_one_judged_by_eye(name):
    from onfh_imaging.io.radiograph import read_picture

    row, col, radius = EYE_HEADS[name]
    rx, _ = read_picture(REAL / name)
    head = find_femoral_heads_2d(rx)[0]
    off = float(np.hypot(head.center_px[0] - row, head.center_px[1] - col))
    assert off <= EYE_CENTRE_RADII * radius, (name, head.center_px, head.radius_px)
    assert head.radius_px == pytest.approx(radius, rel=EYE_CENTRE_RADII), name


def test_of_two_concentric_arcs_the_head_is_the_inner_one_under_the_roof():
    from onfh_imaging.segment.xray_anatomy import under_its_roof

    def circle(centre, radius, support, roof):
        return {"centre": centre, "radius_px": radius, "support": support, "dome": {"roof_over_dome": roof}}

    roof_arc = circle((300.0, 300.0), 190.0, 0.02, 0.05)  # traced on the sourcil: nothing beyond its dome
    head = circle((310.0, 305.0), 165.0, 0.005, 0.5)  # 15 % smaller, same centre, the roof over its dome
    texture = circle((330.0, 300.0), 90.0, 0.01, 0.6)  # half the size: not the roof's head
    ilium = circle((80.0, 300.0), 170.0, 0.01, 0.6)  # far above
    assert under_its_roof(roof_arc, [texture, ilium, head]) is head
    assert under_its_roof(roof_arc, [texture, ilium]) is roof_arc
    # an inner circle with less roof over it than the outer, or hardly any support, is not preferred
    assert under_its_roof(roof_arc, [circle((310.0, 305.0), 165.0, 0.005, 0.01)]) is roof_arc
    assert under_its_roof(roof_arc, [circle((310.0, 305.0), 165.0, 0.0005, 0.5)]) is roof_arc


def test_a_circle_inside_the_head_gives_way_to_the_head_around_it():
    """The inner circle's roof step lying beyond the outer circle makes the outer one the head's rim (a circle
    of texture inside the head sees the head's rim, the joint and the roof beyond it); lying within the outer
    circle it makes the outer one the roof (the inner one is then the head under it)."""
    from onfh_imaging.segment.xray_anatomy import inside_the_head, under_its_roof

    angles = np.arange(-180.0, 180.0, 1.0)

    def circle(centre, radius, support, roof, roof_radius):  # the roof step at roof_radius over a 120 deg dome
        return {"centre": centre, "radius_px": radius, "support": support, "angles_deg": angles,
                "roof_steps_px": np.where(np.abs(angles) <= 60.0, roof_radius, np.nan),
                "dome": {"roof_over_dome": roof, "roof_radius_px": roof_radius}}

    inner = circle((350.0, 330.0), 137.0, 0.008, 0.2, 188.0)  # its roof step 26 px beyond the head's rim
    head = circle((336.0, 354.0), 162.0, 0.004, 0.15, 186.0)
    assert inside_the_head(inner, [head]) is head
    assert under_its_roof(head, [inner]) is head  # the inner circle's roof is not within the head
    # the head under a roof circle: its roof step (the sourcil's lower edge) lies within the roof circle
    roof_arc = circle((300.0, 300.0), 190.0, 0.02, 0.05, float("nan"))
    under = circle((310.0, 305.0), 165.0, 0.005, 0.5, 182.0)
    assert inside_the_head(under, [roof_arc]) is under and under_its_roof(roof_arc, [under]) is under
    # no roof step seen, a circle far off, or one with hardly any support: the choice stays
    assert inside_the_head(circle((350.0, 330.0), 137.0, 0.008, 0.0, float("nan")), [head])["radius_px"] == 137.0
    assert inside_the_head(inner, [circle((250.0, 354.0), 162.0, 0.004, 0.15, 186.0)]) is inner
    assert inside_the_head(inner, [circle((336.0, 354.0), 162.0, 0.0001, 0.15, 186.0)]) is inner


def _roof_band_hip(seed: int = 0):
    """A hip whose acetabular roof is a bright band concentric with the head: a projected spherical head
    (radius 170 px, centre (320, 290)) with its neck inferolateral, the dark joint space 25 px wide over it,
    then the roof band, its femoral edge concentric with the head and its upper edge the circle of radius 185 px
    about (280, 290) (30 px thick at the apex, 10 px at 60 deg), the pelvis beyond it. Returns the image and the
    band's upper-edge circle."""
    from scipy import ndimage

    centre, radius, joint, band_centre, band_radius = (320.0, 290.0), 170.0, 25.0, (280.0, 290.0), 185.0
    yy, xx = np.mgrid[0:511, 0:511].astype(float)
    rho = np.hypot(yy - centre[0], xx - centre[1])
    above = yy < centre[0] + 0.3 * radius
    pelvis = (rho > radius + joint) & above
    band = pelvis & (np.hypot(yy - band_centre[0], xx - band_centre[1]) < band_radius)
    img = 0.2 + 0.2 * pelvis + 0.25 * band + 0.5 * np.sqrt(np.clip(radius**2 - rho**2, 0.0, None)) / radius
    a = np.radians(140.0)  # the neck's direction
    along = -(yy - centre[0]) * np.cos(a) + (xx - centre[1]) * np.sin(a)
    across = np.abs((yy - centre[0]) * np.sin(a) + (xx - centre[1]) * np.cos(a)) / (0.45 * radius)
    neck = (along > 0) & (across < 1.0) & (rho >= 0.8 * radius)
    img = np.maximum(img, np.where(neck, 0.2 + 0.35 * np.sqrt(np.clip(1.0 - across, 0.0, None)), 0.0))
    img = ndimage.gaussian_filter(img + np.random.default_rng(seed).normal(0.0, 0.03, img.shape), 1.0)
    return img, {"centre": band_centre, "radius_px": band_radius}


def test_a_roof_band_concentric_with_the_head_does_not_take_the_head_s_place():
    """The roof band's upper edge, a circle 3-40 % larger about a centre 40 px above the head's, lies beyond the
    roof's femoral edge the head sees across its joint space: the head stays. The head's roof steps lie beyond
    the band's radius about its own centre (so comparing those two radii would take the band); read ray by ray
    they lie inside the band's circle. A circle of texture inside the head, whose roof steps lie beyond the
    head's rim, still gives way to the head."""
    from onfh_imaging.segment.xray import _normalised, _traced_head
    from onfh_imaging.segment.xray_anatomy import _concentric, inside_the_head, roof_beyond

    img, band_edge = _roof_band_hip()
    angles = np.arange(-180.0, 180.0, 1.0)
    head = _traced_head(_normalised(img), {}, (320.0, 290.0), 170.0, 24.0 / 170.0, angles)
    assert np.hypot(head["centre"][0] - 320.0, head["centre"][1] - 290.0) < 2.0
    assert head["radius_px"] == pytest.approx(170.0, abs=2.0)
    assert head["dome"]["roof_over_dome"] > 0.9  # the roof's femoral edge is seen over the dome
    band = dict(band_edge, support=head["support"], dome={"roof_over_dome": 0.5})
    assert _concentric(inner=head, outer=band)
    assert head["dome"]["roof_radius_px"] > band["radius_px"]  # the trap: the radii alone say "inside the head"
    assert not roof_beyond(head, band)
    assert inside_the_head(head, [band]) is head
    texture = dict(head, radius_px=0.85 * head["radius_px"], support=2.0 * head["support"])  # same rays
    assert roof_beyond(texture, head)
    assert inside_the_head(texture, [head, band]) is head


def test_a_circle_whose_dome_lies_inside_a_capped_head_gives_way_to_it():
    """A circle on the neck or the trochanter, its dome's apex inside a larger circle capped by the roof, gives
    way to that one; a larger circle without a roof, one not holding the apex, or one hardly supported does
    not take the choice; with the image upside down (superior toward increasing row) the apex is the other pole."""
    from onfh_imaging.segment.xray_anatomy import ROOF_EXPLAINS_OVERLAP, beneath_the_dome

    def circle(centre, radius, support, roof):
        return {"centre": centre, "radius_px": radius, "support": support, "dome": {"roof_over_dome": roof}}

    neck = circle((408.0, 444.0), 99.0, 0.0034, 0.06)  # apex at (309, 444), 84 px from the head's centre
    head = circle((337.0, 365.0), 146.0, 0.001, 0.25)
    assert beneath_the_dome(neck, [head]) is head
    assert beneath_the_dome(neck, [circle((337.0, 365.0), 146.0, 0.001, 0.5 * ROOF_EXPLAINS_OVERLAP)]) is neck
    assert beneath_the_dome(neck, [circle((337.0, 365.0), 146.0, 0.001, 0.05)]) is neck  # no more roof than it
    assert beneath_the_dome(neck, [circle((150.0, 200.0), 146.0, 0.001, 0.25)]) is neck  # apex outside
    assert beneath_the_dome(neck, [circle((337.0, 365.0), 146.0, 0.0001, 0.25)]) is neck  # hardly supported
    assert beneath_the_dome(head, [neck]) is head  # a smaller circle never takes the choice
    # upside down, the neck circle's apex is its lower pole (507, 444), outside the head
    assert beneath_the_dome(neck, [head], superior_deg=180.0) is neck
    # a circle of the head's size on a centre below it, its apex (349, 324) inside the capped head, whose apex
    # (187, 338) lies outside it, gives way; one 20 % smaller, or one beside it not holding its apex, does not
    low = circle((522.0, 324.0), 173.0, 0.0017, 0.11)
    capped = circle((357.0, 338.0), 170.0, 0.0003, 0.75)
    assert beneath_the_dome(low, [capped]) is capped
    assert beneath_the_dome(low, [circle((420.0, 330.0), 0.8 * 173.0, 0.0003, 0.75)]) is low
    assert beneath_the_dome(low, [circle((357.0, 520.0), 170.0, 0.0003, 0.75)]) is low
    assert beneath_the_dome(capped, [low]) is capped  # less roof than it


def test_a_rim_traced_over_less_than_half_is_a_head_only_under_a_roof():
    from onfh_imaging.segment.xray import (
        MIN_RIM_TRACED,
        MIN_RIM_TRACED_UNDER_ROOF,
        ROOF_EXPLAINS_OVERLAP,
        _unlike_a_head,
    )

    def _head_shaped(hd, rx, radius):
        return _unlike_a_head(hd, rx, radius) is None

    rx = Radiograph(np.zeros((511, 511)), None)
    frac = 0.5 * (MIN_RIM_TRACED + MIN_RIM_TRACED_UNDER_ROOF)

    def traced(fraction, roof):
        return {"radius_px": 170.0, "fraction": fraction, "arc_in_image": 0.9, "gap_deg": 90.0,
                "dome": {"roof_over_dome": roof}}

    assert _head_shaped(traced(frac, 2.0 * ROOF_EXPLAINS_OVERLAP), rx, 170.0)
    assert not _head_shaped(traced(frac, 0.5 * ROOF_EXPLAINS_OVERLAP), rx, 170.0)
    assert not _head_shaped(traced(0.9 * MIN_RIM_TRACED_UNDER_ROOF, 0.8), rx, 170.0)
    assert _head_shaped(traced(MIN_RIM_TRACED + 0.05, 0.0), rx, 170.0)
    assert not _head_shaped(dict(traced(0.8, 0.3), radius_px=5.0), rx, 5.0)  # no head's size at any field of view
    assert "rim traced over 45 %" in _unlike_a_head(traced(0.45, 0.0), rx, 170.0)

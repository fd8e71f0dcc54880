"""Radiograph head detection beyond the bright disc: seeds, sides, scale search, quality, real crops."""

from __future__ import annotations

import numpy as np
import pytest

from onfh_imaging.geometry import Radiograph
from onfh_imaging.measure.radiograph import measure_radiograph
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

"""Radiographs of the label-map phantom family rendered once per test run and shared between test modules
(a view takes about 10 s to render; the tests only read it)."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def labelmap_radiograph(lesion: str, shown: bool = True, view: str = "AP") -> tuple[np.ndarray, dict]:
    """One right hip of the label-map family: ``(pixels, truth)`` as ``render_radiograph`` gives them.

    ``lesion`` is the hip's lesion size (``"none"``, ``"large"``, ...), ``shown`` whether its margin is drawn on
    the radiograph, ``view`` ``"AP"`` or ``"frog"``. The pixels are read-only: callers copy before changing them.
    """
    from onfh_imaging.phantom.labelmap import HipDisease, LabelmapSpec
    from onfh_imaging.phantom.labelmap.radiograph import RadiographSpec, render_radiograph

    spec = LabelmapSpec(hips="right", right=HipDisease(0.0, lesion=lesion, radiographic_lesion=shown))
    pixels, truth = render_radiograph(RadiographSpec(spec, view=view))
    pixels.setflags(write=False)
    return pixels, truth

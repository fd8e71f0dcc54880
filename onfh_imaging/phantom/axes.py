"""Default anatomical directions of a hip in patient LPS: lateral, femoral neck and shaft, acetabular cup
and the weight-bearing dome, from the usual adult angles (neck-shaft 130 deg, shaft adduction 7 deg,
femoral anteversion 15 deg, acetabular inclination 55 deg and anteversion 20 deg)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from onfh_imaging.phantom.shapes import Vec3, _tuple, _unit
from onfh_imaging.vocab import SIDES

__all__ = ["Side", "default_acetabular_axis", "default_dome_direction", "default_neck_axis", "default_shaft_axis",
           "lateral_lps"]

Side = Literal["left", "right"]


def lateral_lps(side: Side) -> np.ndarray:
    """LPS unit vector pointing lateral for a hip of ``side`` (right hip: -x, left hip: +x).

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.

    Returns
    -------
    ndarray, shape (3,)

    Raises
    ------
    ValueError
        ``side`` is neither.
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return np.array([-1.0 if side == "right" else 1.0, 0.0, 0.0])


def default_neck_axis(side: Side, neck_shaft_deg: float = 130.0, shaft_adduction_deg: float = 7.0,
                      anteversion_deg: float = 15.0) -> Vec3:
    """Unit vector from the head centre along the neck: lateral, inferior and slightly posterior.

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.
    neck_shaft_deg : float
        Neck-shaft (CCD) angle in degrees.
    shaft_adduction_deg : float
        Angle of the femoral shaft from vertical (distal end medial), degrees.
    anteversion_deg : float
        Femoral anteversion in degrees (the head lies anterior to the neck base).

    Returns
    -------
    (float, float, float)
        LPS unit vector.
    """
    elevation = np.radians(neck_shaft_deg - 90.0 + shaft_adduction_deg)
    av = np.radians(anteversion_deg)
    lat = lateral_lps(side)
    v = lat * np.cos(elevation) * np.cos(av) + np.array([0.0, 1.0, 0.0]) * np.cos(elevation) * np.sin(av)
    v = v + np.array([0.0, 0.0, -np.sin(elevation)])
    return _tuple(_unit(v))


def default_shaft_axis(side: Side, shaft_adduction_deg: float = 7.0) -> Vec3:
    """Unit vector down the femoral shaft (inferior, distal end medial).

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.
    shaft_adduction_deg : float
        Angle of the shaft from vertical, degrees.

    Returns
    -------
    (float, float, float)
        LPS unit vector.
    """
    a = np.radians(shaft_adduction_deg)
    return _tuple(-lateral_lps(side) * np.sin(a) + np.array([0.0, 0.0, -np.cos(a)]))


def default_acetabular_axis(side: Side, inclination_deg: float = 55.0, anteversion_deg: float = 20.0) -> Vec3:
    """Unit vector from the head centre to the pole of the acetabular cup (medial, superior, posterior).

    The cup opening faces lateral-inferior at ``inclination_deg`` from the longitudinal axis and
    anterior by ``anteversion_deg``; the pole is the opposite direction.

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.
    inclination_deg, anteversion_deg : float
        Acetabular inclination and anteversion, degrees.

    Returns
    -------
    (float, float, float)
        LPS unit vector.
    """
    i, av = np.radians(inclination_deg), np.radians(anteversion_deg)
    opening = (lateral_lps(side) * np.sin(i) * np.cos(av) + np.array([0.0, -np.sin(i) * np.sin(av), 0.0])
               + np.array([0.0, 0.0, -np.cos(i)]))
    return _tuple(-_unit(opening))


def default_dome_direction(side: Side) -> Vec3:
    """The antero-superior weight-bearing dome of the head (unit vector from its centre).

    Parameters
    ----------
    side : {"left", "right"}
        The patient's hip.

    Returns
    -------
    (float, float, float)
        LPS unit vector, mostly superior, tilted lateral and anterior.
    """
    return _tuple(_unit(0.25 * lateral_lps(side) + np.array([0.0, -0.35, 1.0])))

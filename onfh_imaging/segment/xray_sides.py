"""Which hip (the patient's left or right) each femoral head on a radiograph is.

DICOM PatientOrientation (0020,0020) gives the patient direction of the image rows (toward
increasing column) and of the columns (toward increasing row). On an AP view displayed as usual it
is ``L\\F``: columns run toward the patient's left, so the patient's right is on the image's left. An
image flipped left-right says ``R\\F``. Without it the usual display is assumed, and said.

Per head, in order of strength of evidence:

1. ImageLaterality (or Laterality) when one head is shown and the header names its side;
2. two heads: the one toward the patient's right (by the row direction) is the right hip;
3. one head: the neck, which points laterally (toward the patient's side of that hip), when it
   leaves the head clearly sideways;
4. one head: the half of the image it lies in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from onfh_imaging.geometry import Radiograph

NECK_SIDEWAYS = 0.2
"""|sin| of the neck's image angle above which it is read as pointing sideways (12 deg off vertical):
a neck pointing straight down says nothing of the side."""


def column_toward_left(rx: Radiograph) -> tuple[int, str]:
    """+1 when increasing column runs toward the patient's left, -1 toward the right, with the basis.

    Parameters
    ----------
    rx : Radiograph
        Its ``patient_orientation`` (DICOM PatientOrientation) is read; without one, or with a row
        direction naming neither or both of L and R, the usual display (+1) is assumed.

    Returns
    -------
    sign : int
        +1 (columns run toward the patient's left) or -1 (toward the patient's right).
    basis : str
        How the sign was decided, for the report.
    """
    orientation = rx.patient_orientation
    if orientation is not None:
        row_dir = orientation[0]
        if "L" in row_dir and "R" not in row_dir:
            return 1, f"PatientOrientation {orientation[0]}\\{orientation[1]} (the patient's right on the image's left)"
        if "R" in row_dir and "L" not in row_dir:
            return -1, f"PatientOrientation {orientation[0]}\\{orientation[1]} (the patient's right on the image's right)"
    return 1, "the usual display assumed (the patient's right on the image's left; no PatientOrientation)"


def assign_sides(rx: Radiograph, centres: Sequence[tuple[float, float]], necks: Sequence[float | None],
                 width: int) -> list[tuple[str, str]]:
    """The patient side of each head and how it was decided.

    Parameters
    ----------
    rx : Radiograph
        Carries the laterality and PatientOrientation.
    centres : sequence of (row, col)
        Head centres, pixels.
    necks : sequence of float or None
        Image angle of each head's neck (from image-up toward increasing column, degrees).
    width : int
        Image width, pixels.

    Returns
    -------
    list of (side, basis)
    """
    sign, orientation = column_toward_left(rx)
    lat = (rx.laterality or "").lower()
    if len(centres) == 1 and lat in ("left", "right"):
        return [(lat, "image laterality")]
    if len(centres) == 2:
        order = np.argsort([sign * c[1] for c in centres])  # toward the patient's left last
        sides = [("", "")] * 2
        sides[order[0]] = ("right", f"position in the image; {orientation}")
        sides[order[1]] = ("left", f"position in the image; {orientation}")
        return sides
    out = []
    for centre, neck in zip(centres, necks):
        if neck is not None and abs(np.sin(np.radians(neck))) > NECK_SIDEWAYS:
            side = "left" if sign * np.sin(np.radians(neck)) > 0 else "right"
            out.append((side, f"neck direction (the neck points laterally); {orientation}"))
        else:
            side = "left" if sign * (centre[1] - width / 2.0) > 0 else "right"
            out.append((side, f"position in the image; {orientation}"))
    return out


__all__ = ["NECK_SIDEWAYS", "assign_sides", "column_toward_left"]

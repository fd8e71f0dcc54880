"""Where a read's drawings lie: the hips' regions and combined labels, reference sphere sections and
circles, deviation maps and head seeds, in the array coordinates of the image they are drawn on.

Nothing here touches a viewer: the arrays are made in a worker thread when they are large, and
:mod:`onfh_napari._layers` puts them in napari layers that carry the image's own transform
(:func:`~onfh_napari._reader.volume_transform`, :func:`~onfh_napari._reader.radiograph_transform`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.reading import DisplaySurface, HipRead
from onfh_imaging.reads import HEAD, LESION

DEVIATION_MIN_LIMIT_MM = 0.5
"""Smallest half-range of the deviation colour bar (mm): the collapse detection limit, so an intact head
does not fill the whole colour range with noise."""

Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A mesh as napari's Surface layer takes it: vertices ``(n, 3)`` in ``(k, j, i)`` array coordinates,
faces ``(m, 3)`` vertex indices, and one value per vertex ``(n,)``."""


def line_lengths_mm(layer: Any) -> list[float]:
    """Length of every line of a Shapes layer, through the layer's full transform.

    Parameters
    ----------
    layer : napari.layers.Shapes
        Its ``line`` and ``path`` shapes are measured; other shapes are left out.

    Returns
    -------
    list of float
        Each line's length in world units (mm), in the layer's order.
    """
    lengths = []
    for shape, kind in zip(layer.data, layer.shape_type):
        if kind not in ("line", "path") or len(shape) < 2:
            continue
        world = np.array([layer.data_to_world(p) for p in shape])
        lengths.append(float(np.linalg.norm(np.diff(world, axis=0), axis=1).sum()))
    return lengths


def reference_sphere_ellipses(volume: Volume, center_lps: Any, radius_mm: float) -> list[np.ndarray]:
    """The reference sphere's cross-section on every slice of ``volume``, as Shapes ellipses.

    Parameters
    ----------
    volume : Volume
        The image, shape ``(nk, nj, ni)``; its slices are along ``k``.
    center_lps : array_like, shape (3,)
        The sphere's centre, LPS mm.
    radius_mm : float
        The sphere's radius, mm.

    Returns
    -------
    list of ndarray, shape (4, 3)
        One ellipse per slice the sphere crosses: the 4 corners of its bounding box in ``(k, j, i)``
        data coordinates, to be shown with the image's own transform.
    """
    ci, cj, ck = volume.lps_to_index(np.asarray(center_lps, dtype=float))
    si, sj, sk = volume.spacing
    ellipses = []
    for k in range(volume.shape[0]):
        d = (k - ck) * sk
        if abs(d) >= radius_mm:
            continue
        r = float(np.sqrt(radius_mm**2 - d**2))
        ri, rj = r / si, r / sj
        ellipses.append(np.array([[k, cj - rj, ci - ri], [k, cj - rj, ci + ri],
                                  [k, cj + rj, ci + ri], [k, cj + rj, ci - ri]]))
    return ellipses


def reference_circle(radiograph: Radiograph, head: dict[str, Any]) -> np.ndarray | None:
    """A radiograph hip's reference circle as one Shapes ellipse.

    Parameters
    ----------
    radiograph : Radiograph
        The image the circle is drawn on (its pixel size, when calibrated).
    head : dict
        The hip's ``head`` measures (JSON contract): ``center_px`` (row, column), ``radius_px`` and,
        when calibrated, ``radius_mm``.

    Returns
    -------
    ndarray, shape (4, 2), or None
        The 4 corners of the circle's bounding box in ``(row, column)`` pixels (an ellipse when the
        pixels are not square); None without a centre or radius.
    """
    if head.get("center_px") is None or head.get("radius_px") is None:
        return None
    r, c = head["center_px"]
    if radiograph.calibrated and head.get("radius_mm") is not None:
        rr, rc = (float(head["radius_mm"]) / s for s in radiograph.pixel_size_mm)
    else:
        rr = rc = float(head["radius_px"])
    return np.array([[r - rr, c - rc], [r - rr, c + rc], [r + rr, c + rc], [r + rr, c - rc]])


def surface_data(volume: Volume, surface: DisplaySurface | None) -> Mesh | None:
    """A hip's deviation map in the image's array coordinates.

    Parameters
    ----------
    volume : Volume
        The image the map is drawn on.
    surface : DisplaySurface or None
        The hip's map (:attr:`~onfh_imaging.reading.HipRead.surface`, already decimated for display).

    Returns
    -------
    tuple of ndarray, or None
        Vertices ``(n, 3)`` in ``(k, j, i)`` array coordinates, faces ``(m, 3)``, deviation ``(n,)``
        in mm; None without a map.
    """
    if surface is None:
        return None
    vertices = volume.lps_to_index(np.asarray(surface.vertices_lps, float))[:, ::-1]
    return vertices, np.asarray(surface.faces), np.asarray(surface.deviation_mm, dtype=float)


def surfaces_data(volume: Volume, surfaces: list[DisplaySurface]) -> Mesh | None:
    """Several deviation maps as one mesh in the image's array coordinates.

    Parameters
    ----------
    volume : Volume
        The image the maps are drawn on.
    surfaces : list of DisplaySurface
        The hips' maps.

    Returns
    -------
    tuple of ndarray, or None
        As :func:`surface_data`, every map's vertices and faces one after the other (faces renumbered);
        None when there is no map.
    """
    parts = [p for p in (surface_data(volume, s) for s in surfaces) if p is not None]
    if not parts:
        return None
    offsets = np.cumsum([0] + [len(v) for v, _, _ in parts[:-1]])
    return (np.concatenate([v for v, _, _ in parts]), np.concatenate([f + o for (_, f, _), o in zip(parts, offsets)]),
            np.concatenate([d for _, _, d in parts]))


def deviation_limit_mm(deviation: np.ndarray) -> float:
    """Half-range of the deviation colour bar, symmetric about 0 so that white means on the sphere.

    Parameters
    ----------
    deviation : ndarray, shape (n,)
        Deviation from the reference sphere at each vertex, mm (NaN ignored).

    Returns
    -------
    float
        The largest absolute deviation, at least :data:`DEVIATION_MIN_LIMIT_MM`, mm.
    """
    return float(max(np.nanmax(np.abs(deviation)), DEVIATION_MIN_LIMIT_MM))


def hip_world_center(image_layer: Any, hip: HipRead, volume: Volume | None) -> np.ndarray | None:
    """Where a hip's head centre lies in the viewer.

    Parameters
    ----------
    image_layer : napari layer
        The image being read (its transform maps data to world coordinates).
    hip : HipRead
        The hip: its sphere's centre on MR, its measured ``head.center_px`` on a radiograph.
    volume : Volume or None
        The MR volume, or None for a radiograph.

    Returns
    -------
    ndarray, or None
        The centre in napari world coordinates (mm), one value per layer axis; None when unknown.
    """
    if volume is not None:
        if hip.center_lps is None:
            return None
        data = volume.lps_to_index(hip.center_lps)[::-1]
    else:
        head = (hip.current or hip.automatic or {}).get("head") or {}
        if head.get("center_px") is None:
            return None
        data = np.asarray(head["center_px"], float)
    return np.asarray(image_layer.data_to_world(data), float)


def seed_points(layer: Any, volume: Volume | None) -> dict[str, list[tuple[float, ...]]]:
    """The head seeds of a Points layer, per side.

    Parameters
    ----------
    layer : napari.layers.Points
        Its points in data coordinates, with a ``side`` feature.
    volume : Volume or None
        The MR volume the points were placed on, or None for a radiograph.

    Returns
    -------
    dict of str to list of tuple of float
        Side -> its points: LPS mm on MR, ``(row, column)`` pixels on a radiograph.
    """
    sides = list(layer.features["side"]) if "side" in layer.features else []
    seeds: dict[str, list[tuple[float, ...]]] = {}
    for point, side in zip(np.asarray(layer.data, float), sides):
        where = volume.index_to_lps(point[::-1]) if volume is not None else point
        seeds.setdefault(str(side), []).append(tuple(float(v) for v in where))
    return seeds


def sphere_placement(hip: HipRead) -> tuple[tuple[float, ...], float] | None:
    """Where a hip's reference sphere is, as a value that compares equal when the sphere did not move.

    Parameters
    ----------
    hip : HipRead
        The hip.

    Returns
    -------
    tuple or None
        ``(centre LPS mm, radius mm)``, or None when it has none.
    """
    return None if hip.center_lps is None else (tuple(np.asarray(hip.center_lps, float)), float(hip.radius_mm))


def sphere_ellipses(hips: list[HipRead], volume: Volume) -> list[np.ndarray]:
    """Every hip's reference sphere, its section on every slice, as Shapes ellipses.

    Parameters
    ----------
    hips : list of HipRead
        The hips; those without a sphere are left out.
    volume : Volume
        The image, shape ``(nk, nj, ni)``.

    Returns
    -------
    list of ndarray, shape (4, 3)
        :func:`reference_sphere_ellipses` of each hip, one after the other.
    """
    return [e for hip in hips if sphere_placement(hip) is not None
            for e in reference_sphere_ellipses(volume, hip.center_lps, hip.radius_mm)]


def hip_regions(hips: list[HipRead], volume: Volume) -> dict[str, np.ndarray]:
    """Each hip's part of the image grid: the voxels nearer (in mm) to its head than to the other's.

    The femoral heads lie either side of the body's midline, so a voxel nearer one head belongs to that
    hip, wherever the reader paints; the head's position is the centroid of its labels (the automatic
    masks, as loaded).

    Parameters
    ----------
    hips : list of HipRead
        The hips with labels (others are left out).
    volume : Volume
        The image grid, shape ``(nk, nj, ni)``.

    Returns
    -------
    dict of str to ndarray of bool, shape (nk, nj, ni)
        Side -> its voxels; the regions do not overlap and cover the grid.
    """
    placed = [h for h in hips if h.labels and np.any(h.labels[HEAD])]
    if len(placed) <= 1:
        return {h.side: np.ones(volume.shape, bool) for h in placed}
    affine = volume.affine_lps
    index = np.ogrid[tuple(slice(0, n) for n in volume.shape)]  # k, j, i
    scores = []
    for hip in placed:
        centre = volume.index_to_lps(np.argwhere(hip.labels[HEAD]).mean(axis=0)[::-1])
        # |p - c|^2 - |p|^2 = |c|^2 - 2 p.c, with p = A (i, j, k) + origin: linear in the indices
        weight = affine[:3, :3].T @ centre
        scores.append(float(centre @ centre - 2 * affine[:3, 3] @ centre)
                      - 2 * (weight[0] * index[2] + weight[1] * index[1] + weight[2] * index[0]))
    owner = np.argmin(np.broadcast_arrays(*scores), axis=0)
    return {hip.side: owner == n for n, hip in enumerate(placed)}


def combined_labels(hips: list[HipRead], structure: str, regions: dict[str, np.ndarray],
                    shape: tuple[int, ...]) -> np.ndarray:
    """Every hip's labels of one structure in one array, each hip's within its region.

    Parameters
    ----------
    hips : list of HipRead
        The hips; their ``labels[structure]`` are ``(nk, nj, ni)`` arrays, non-zero inside.
    structure : str
        ``"femoral_head"`` or ``"lesion"``.
    regions : dict of str to ndarray of bool, shape (nk, nj, ni)
        Each hip's part of the grid (:func:`hip_regions`); a hip without one is left out.
    shape : tuple of int
        The grid's shape ``(nk, nj, ni)``.

    Returns
    -------
    ndarray of uint8, shape (nk, nj, ni)
        1 inside any hip's labels (within that hip's region), 0 elsewhere.
    """
    combined = np.zeros(shape, np.uint8)
    for hip in hips:
        if hip.side in regions and structure in hip.labels:
            combined[regions[hip.side] & (np.asarray(hip.labels[structure]) != 0)] = 1
    return combined


def prepare_labels(hips: list[HipRead], volume: Volume) -> dict[str, Any]:
    """The hips' regions and combined head and lesion labels, made in a worker thread before they are shown.

    Parameters
    ----------
    hips : list of HipRead
        The hips with labels on the image grid.
    volume : Volume
        The image grid, shape ``(nk, nj, ni)``.

    Returns
    -------
    dict
        ``"regions"``: :func:`hip_regions`; ``"femoral_head"`` and ``"lesion"``: :func:`combined_labels`
        of each structure (``uint8``, shape ``(nk, nj, ni)``).
    """
    regions = hip_regions(hips, volume)
    prepared: dict[str, Any] = {"regions": regions}
    for structure in (HEAD, LESION):
        prepared[structure] = combined_labels(hips, structure, regions, volume.shape)
    return prepared


__all__ = [
    "DEVIATION_MIN_LIMIT_MM",
    "Mesh",
    "combined_labels",
    "deviation_limit_mm",
    "hip_regions",
    "hip_world_center",
    "line_lengths_mm",
    "prepare_labels",
    "reference_circle",
    "reference_sphere_ellipses",
    "seed_points",
    "sphere_ellipses",
    "sphere_placement",
    "surface_data",
    "surfaces_data",
]

"""The napari layers of a read: mask labels, reference sphere or circle, deviation surface, head seeds.

Every layer of a hip carries the transform of the image it belongs to (:func:`~._reader.volume_transform`
or :func:`~._reader.radiograph_transform`), with its data in that image's array coordinates, so it lies
exactly on the image in mm and the slice slider keeps the image's own step (one slice).
"""

from __future__ import annotations

import zlib
from functools import partial
from typing import Any

import numpy as np

from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.reading import DisplaySurface, HipRead
from onfh_imaging.reads import HEAD, LESION

from ._reader import radiograph_transform, volume_transform

HEAD_COLOR = (0.25, 0.55, 1.0, 1.0)
LESION_COLOR = (1.0, 0.35, 0.05, 1.0)
SPHERE_COLOR = "yellow"
SEED_COLOR = "lime"
SPHERE_EDGE_WIDTH = 0.5  # outline width of a reference sphere's sections (napari's Shapes edge width)
CIRCLE_EDGE_WIDTH = 1.0  # outline width of a radiograph's reference circles (napari's Shapes edge width)
MASK_OPACITY = 0.45
OUTLINE_OPACITY = 0.9
OUTLINE_PX = 1
DEVIATION_COLORMAP = "coolwarm"
META_PLACED = "onfh_sphere"  # (side, (centre LPS mm, radius mm)) of each sphere a layer shows
META_SURFACE = "onfh_surface"  # the DisplaySurfaces a deviation layer shows, hip by hip
DEVIATION_MIN_LIMIT_MM = 0.5
"""Smallest half-range of the deviation colour bar (mm): the collapse detection limit, so an intact head
does not fill the whole colour range with noise."""
DEVIATION_LEGEND = ("Deviation from the reference sphere, mm: blue below the sphere (depression, collapse), "
                    "red above it; the colour bar is shown in the 3D view.")


def label_colormap(color: tuple[float, ...]) -> Any:
    """A labels colormap with label 1 in ``color`` and everything else transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: color})


def line_lengths_mm(layer: Any) -> list[float]:
    """Length in world units (mm) of every line of a Shapes layer, through the layer's full transform."""
    lengths = []
    for shape, kind in zip(layer.data, layer.shape_type):
        if kind not in ("line", "path") or len(shape) < 2:
            continue
        world = np.array([layer.data_to_world(p) for p in shape])
        lengths.append(float(np.linalg.norm(np.diff(world, axis=0), axis=1).sum()))
    return lengths


def reference_sphere_ellipses(volume: Volume, center_lps: Any, radius_mm: float) -> list[np.ndarray]:
    """The reference sphere's cross-section on every slice of ``volume``, as Shapes ellipses.

    Each ellipse is 4 corners of its bounding box in ``(k, j, i)`` data coordinates, to be shown
    with the image's own transform (:func:`~onfh_napari._reader.volume_transform`).
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
    """A radiograph hip's reference circle as one Shapes ellipse in ``(row, column)`` pixels, or None."""
    if head.get("center_px") is None or head.get("radius_px") is None:
        return None
    r, c = head["center_px"]
    if radiograph.calibrated and head.get("radius_mm") is not None:
        rr, rc = (float(head["radius_mm"]) / s for s in radiograph.pixel_size_mm)
    else:
        rr = rc = float(head["radius_px"])
    return np.array([[r - rr, c - rc], [r - rr, c + rc], [r + rr, c + rc], [r + rr, c - rc]])


def surface_data(volume: Volume, surface: DisplaySurface | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A hip's deviation map (:attr:`~onfh_imaging.reading.HipRead.surface`, already decimated for display)
    in the image's ``(k, j, i)`` array coordinates, with its deviation (mm)."""
    if surface is None:
        return None
    vertices = volume.lps_to_index(np.asarray(surface.vertices_lps, float))[:, ::-1]
    return vertices, np.asarray(surface.faces), np.asarray(surface.deviation_mm, dtype=float)


def deviation_limit_mm(deviation: np.ndarray) -> float:
    """Half-range of the deviation colour bar, mm: symmetric about 0 so white means on the sphere."""
    return float(max(np.nanmax(np.abs(deviation)), DEVIATION_MIN_LIMIT_MM))


def set_outline(layers: list[Any], outline: bool) -> None:
    """Draw labels as outlines (the low-signal band stays visible) or filled."""
    contour, opacity = (OUTLINE_PX, OUTLINE_OPACITY) if outline else (0, MASK_OPACITY)
    for layer in layers:  # each change redraws the layer: only what changes is set
        if layer.contour != contour:
            layer.contour = contour
        if layer.opacity != opacity:
            layer.opacity = opacity


def hip_world_center(image_layer: Any, hip: HipRead, volume: Volume | None) -> np.ndarray | None:
    """World position (napari coordinates, mm) of a hip's head centre, or None when unknown."""
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
    """The head seeds of a Points layer per side: LPS mm on MR, ``(row, column)`` on a radiograph."""
    sides = list(layer.features["side"]) if "side" in layer.features else []
    seeds: dict[str, list[tuple[float, ...]]] = {}
    for point, side in zip(np.asarray(layer.data, float), sides):
        where = volume.index_to_lps(point[::-1]) if volume is not None else point
        seeds.setdefault(str(side), []).append(tuple(float(v) for v in where))
    return seeds


LAYER_NAMES = {HEAD: "femoral heads", LESION: "lesions", "sphere": "reference spheres",
               "deviation": "deviation (mm)"}
"""One layer per structure holds every hip of the image (its name); each hip owns its part of the grid
(:func:`hip_regions`)."""
CIRCLE_LAYER_NAME = "reference circles"
"""The layer of a radiograph's reference circles, every hip's (the MR's is ``LAYER_NAMES["sphere"]``)."""


def _placed(hip: HipRead) -> tuple[tuple[float, ...], float] | None:
    return None if hip.center_lps is None else (tuple(np.asarray(hip.center_lps, float)), float(hip.radius_mm))


def _same(shown: Any, surfaces: tuple[Any, ...]) -> bool:
    """True when a layer shows these very maps (the same objects, in the same order)."""
    return shown is not None and len(shown) == len(surfaces) and all(a is b for a, b in zip(shown, surfaces))


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
    """Every hip's labels of one structure in one ``uint8`` array (1 inside), each within its region."""
    combined = np.zeros(shape, np.uint8)
    for hip in hips:
        if hip.side in regions and structure in hip.labels:
            combined[regions[hip.side] & (np.asarray(hip.labels[structure]) != 0)] = 1
    return combined


def prepare_labels(hips: list[HipRead], volume: Volume) -> dict[str, Any]:
    """The hips' regions and combined head and lesion labels (made in a worker thread before they are shown):
    ``{"regions": ..., "femoral_head": ..., "lesion": ...}``."""
    regions = hip_regions(hips, volume)
    prepared: dict[str, Any] = {"regions": regions}
    for structure in (HEAD, LESION):
        prepared[structure] = combined_labels(hips, structure, regions, volume.shape)
    return prepared


def labels_layer(data: np.ndarray, structure: str, volume: Volume) -> Any:
    """The head or lesion Labels layer of every hip of an image (not added to a viewer)."""
    from napari.layers import Labels

    color = HEAD_COLOR if structure == HEAD else LESION_COLOR
    return Labels(data, name=LAYER_NAMES[structure], colormap=label_colormap(color), opacity=MASK_OPACITY,
                  **volume_transform(volume))


def sphere_ellipses(hips: list[HipRead], volume: Volume) -> list[np.ndarray]:
    """Every hip's reference sphere, its section on every slice, as Shapes ellipses."""
    return [e for hip in hips if _placed(hip) is not None
            for e in reference_sphere_ellipses(volume, hip.center_lps, hip.radius_mm)]


def circle_layer(ellipses: list[np.ndarray], radiograph: Radiograph) -> Any:
    """The reference circles' Shapes layer of a radiograph's hips (not added to a viewer)."""
    from napari.layers import Shapes

    return Shapes(ellipses, ndim=2, shape_type="ellipse", name=CIRCLE_LAYER_NAME, edge_color=SPHERE_COLOR,
                  face_color="transparent", edge_width=CIRCLE_EDGE_WIDTH, **radiograph_transform(radiograph))


def sphere_layer(ellipses: list[np.ndarray], volume: Volume) -> Any:
    """The reference spheres' Shapes layer (not added to a viewer)."""
    from napari.layers import Shapes

    return Shapes(ellipses, ndim=3, shape_type="ellipse", name=LAYER_NAMES["sphere"], edge_color=SPHERE_COLOR,
                  face_color="transparent", edge_width=SPHERE_EDGE_WIDTH, opacity=0.8, **volume_transform(volume))


def surfaces_data(volume: Volume, surfaces: list[DisplaySurface]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Several deviation maps as one mesh in ``(k, j, i)`` array coordinates, with their deviation (mm)."""
    parts = [p for p in (surface_data(volume, s) for s in surfaces) if p is not None]
    if not parts:
        return None
    offsets = np.cumsum([0] + [len(v) for v, _, _ in parts[:-1]])
    return (np.concatenate([v for v, _, _ in parts]), np.concatenate([f + o for (_, f, _), o in zip(parts, offsets)]),
            np.concatenate([d for _, _, d in parts]))


def deviation_layer(surface: tuple[np.ndarray, np.ndarray, np.ndarray], volume: Volume) -> Any:
    """The deviation maps as one hidden Surface layer; :meth:`ReadLayers.colorbar` shows its colour bar."""
    from napari.layers import Surface

    limit = deviation_limit_mm(surface[2])
    return Surface(surface, name=LAYER_NAMES["deviation"], colormap=DEVIATION_COLORMAP,
                   contrast_limits=(-limit, limit), visible=False, **volume_transform(volume))


class ReadLayers(dict):
    """The layers of a read's hips in one viewer, side -> ``{"femoral_head", "lesion", "sphere", "deviation"}``.

    On MR one layer per structure holds every hip (:data:`LAYER_NAMES`), each hip in its region of the grid
    (:func:`hip_regions`): a side's entries are those shared layers, and :meth:`hip_labels` is a hip's part.
    :meth:`placeholders` adds them empty when the image is opened, so that showing a result only sets data
    on existing layers (adding a layer, its visual built, is what costs time). Each method is one step of
    the viewer's work and sets nothing that has not changed (each change redraws the layer). A radiograph
    radiograph's hips share one reference circle layer (:meth:`circles`).

    Parameters
    ----------
    viewer : napari.Viewer
    on_edit : callable
        Called with a hip's side whenever the reader edits its labels (not while :attr:`loading`, nor
        when napari only redraws a layer for another slice).
    """

    def __init__(self, viewer: Any, on_edit: Any):
        super().__init__()
        self.viewer = viewer
        self.on_edit = on_edit
        self.loading = False
        self.shared: dict[str, Any] = {}  # structure -> the layer of every hip
        self.regions: dict[str, np.ndarray] = {}
        self._checksums: dict[tuple[str, str], int] = {}

    def _seen(self, key: tuple[str, str], data: np.ndarray) -> bool:
        """Record an array's checksum; True when it changed since last seen."""
        checksum = zlib.crc32(np.ascontiguousarray(data))
        changed = self._checksums.get(key) != checksum
        self._checksums[key] = checksum
        return changed

    def hip_labels(self, side: str, structure: str) -> np.ndarray:
        """A hip's head or lesion labels as the layer shows them now (``uint8``, on the image grid)."""
        return self.shared[structure].data * self.regions[side]

    def sync(self, side: str) -> dict[str, np.ndarray]:
        """A hip's labels as the layers show them now, structure -> array (the edits so far taken in)."""
        labels = {}
        for structure in (HEAD, LESION):
            if structure in self.shared and side in self.regions:
                self._seen(("", structure), self.shared[structure].data)
                labels[structure] = self.hip_labels(side, structure)
        return labels

    def _on_labels_event(self, structure: str, painted: bool) -> None:
        # Brush, eraser and fill emit ``paint`` (before they change the data); undo and redo only refresh
        # the layer (``set_data``), as every slice change does: a refresh is an edit only when the labels
        # changed. Every hip is then told: :meth:`sync` gives each its part once the edit is done, and only
        # a hip whose part changed is measured again.
        layer = self.shared.get(structure)
        if self.loading or layer is None:
            return
        if self._seen(("", structure), layer.data) or painted:
            for side in self.regions:
                self.on_edit(side)

    def _add(self, key: str, layer: Any) -> Any:
        layer = self.shared[key] = self.viewer.add_layer(layer)
        if key in (HEAD, LESION):
            layer.events.paint.connect(lambda *_, k=key: self._on_labels_event(k, True))
            for event in (layer.events.data, layer.events.set_data):
                event.connect(lambda *_, k=key: self._on_labels_event(k, False))
        return layer

    def _usable(self, key: str, shape: tuple[int, ...] | None = None) -> Any:
        layer = self.shared.get(key)
        if layer is None or layer not in self.viewer.layers or (shape is not None and layer.data.shape != shape):
            return None
        return layer

    def placeholders(self, volume: Volume) -> list[Any]:
        """Steps adding the empty head, lesion and sphere layers of an image, one layer per step."""
        def add(key: str) -> None:
            if self._usable(key, volume.shape if key != "sphere" else None) is None:
                self.loading = True
                try:
                    self._add(key, labels_layer(np.zeros(volume.shape, np.uint8), key, volume)
                              if key != "sphere" else sphere_layer([], volume))
                finally:
                    self.loading = False

        return [partial(add, key) for key in (HEAD, LESION, "sphere")]

    def labels(self, hips: list[HipRead], structure: str, volume: Volume, outline: bool,
               prepared: dict[str, Any] | None = None) -> None:
        """Every hip's head or lesion labels in their layer; each hip's labels become its part of it.

        ``prepared`` is :func:`prepare_labels` of these hips (made ahead in a worker thread).
        """
        if prepared is None:
            prepared = prepare_labels(hips, volume)
        self.regions = prepared["regions"]
        data = prepared[structure]
        layer = self._usable(structure, volume.shape)
        self.loading = True
        try:
            if layer is not None:
                layer.data = data
            else:
                layer = self._add(structure, labels_layer(data, structure, volume))
            set_outline([layer], outline)
        finally:
            self.loading = False
        self._seen(("", structure), layer.data)
        for hip in hips:
            if hip.side in self.regions:
                self.setdefault(hip.side, {})[structure] = layer
                hip.labels[structure] = self.hip_labels(hip.side, structure)

    def circles(self, hips: list[HipRead], radiograph: Radiograph) -> None:
        """Every radiograph hip's reference circle, in one Shapes layer, as the hips' current measures place
        them (set only when a circle moved)."""
        ellipses = [(hip.side, reference_circle(radiograph, (hip.current or {}).get("head") or {})) for hip in hips]
        placed = tuple((side, None if e is None else tuple(map(tuple, e))) for side, e in ellipses)
        shown = [e for _, e in ellipses if e is not None]
        layer = self._usable("sphere")
        if layer is None:
            layer = self._add("sphere", circle_layer(shown, radiograph))
        elif layer.metadata.get(META_PLACED) != placed:
            layer.data = []
            if shown:
                layer.add(shown, shape_type="ellipse", edge_width=CIRCLE_EDGE_WIDTH, edge_color=SPHERE_COLOR,
                          face_color="transparent")
        layer.metadata[META_PLACED] = placed
        for hip in hips:
            self.setdefault(hip.side, {})["sphere"] = layer

    def sphere(self, hips: list[HipRead], volume: Volume) -> None:
        """The reference spheres' outlines on every slice, as the hips' current measures place them."""
        placed = tuple((hip.side, _placed(hip)) for hip in hips)
        layer = self._usable("sphere")
        if layer is None or layer.metadata.get(META_PLACED) != placed:
            ellipses = sphere_ellipses(hips, volume)
            if layer is None:
                layer = self._add("sphere", sphere_layer(ellipses, volume))
            else:  # napari triangulates every ellipse again: only when a sphere moved
                layer.data = []
                if ellipses:
                    layer.add(ellipses, shape_type="ellipse", edge_width=SPHERE_EDGE_WIDTH, edge_color=SPHERE_COLOR,
                              face_color="transparent")
            layer.metadata[META_PLACED] = placed
        for hip in hips:
            self.setdefault(hip.side, {})["sphere"] = layer

    def deviation(self, hips: list[HipRead], volume: Volume, create: bool = True) -> Any:
        """The head surfaces coloured by their deviation from the reference spheres (mm), one layer.

        Updates the layer when a map changed; adds the layer only when ``create`` (it is drawn in the 3D
        view only, so it need not exist before the reader opens that view). Returns the layer or None.
        """
        shown = [hip for hip in hips if hip.surface is not None]
        key = tuple(hip.surface for hip in shown)
        layer = self._usable("deviation")
        if layer is not None and _same(layer.metadata.get(META_SURFACE), key):
            return layer
        surface = surfaces_data(volume, [hip.surface for hip in shown])
        if layer is None:
            if not create or surface is None:
                return None
            layer = self._add("deviation", deviation_layer(surface, volume))
        elif surface is not None:
            layer.data = surface
            limit = deviation_limit_mm(surface[2])
            layer.contrast_limits = (-limit, limit)
        layer.metadata[META_SURFACE] = key
        for hip in shown:
            self.setdefault(hip.side, {})["deviation"] = layer
        return layer

    def colorbar(self) -> None:
        """Show the colour bar of the deviation maps (a step apart: napari builds its visual then)."""
        layer = self._usable("deviation")
        if layer is not None and not layer.colorbar.visible:
            layer.colorbar.visible = True

    def remove(self, side: str) -> None:
        """Forget one hip (the shared layers stay in the viewer)."""
        for layer in self.pop(side, {}).values():
            if layer not in self.shared.values() and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.regions.pop(side, None)

    def remove_all(self) -> None:
        """Remove every hip's layers, the shared ones too, from the viewer."""
        for side in list(self):
            self.remove(side)
        for layer in self.shared.values():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.shared.clear()
        self._checksums.clear()


__all__ = [
    "CIRCLE_LAYER_NAME",
    "DEVIATION_LEGEND",
    "HEAD_COLOR",
    "LAYER_NAMES",
    "LESION_COLOR",
    "SPHERE_COLOR",
    "ReadLayers",
    "circle_layer",
    "combined_labels",
    "deviation_layer",
    "deviation_limit_mm",
    "hip_regions",
    "hip_world_center",
    "label_colormap",
    "labels_layer",
    "line_lengths_mm",
    "prepare_labels",
    "reference_circle",
    "reference_sphere_ellipses",
    "seed_points",
    "set_outline",
    "sphere_ellipses",
    "sphere_layer",
    "surface_data",
    "surfaces_data",
]

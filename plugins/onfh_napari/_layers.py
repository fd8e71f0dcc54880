"""The napari layers of a read: mask labels, reference sphere or circle, deviation surface, head seeds.

Every layer of a hip carries the transform of the image it belongs to (:func:`~._reader.volume_transform`
or :func:`~._reader.radiograph_transform`), with its data in that image's array coordinates, so it lies
exactly on the image in mm and the slice slider keeps the image's own step (one slice).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.reading import DisplaySurface, HipRead
from onfh_imaging.reads import HEAD

from ._reader import radiograph_transform, volume_transform

HEAD_COLOR = (0.25, 0.55, 1.0, 1.0)
LESION_COLOR = (1.0, 0.35, 0.05, 1.0)
SPHERE_COLOR = "yellow"
SEED_COLOR = "lime"
MASK_OPACITY = 0.45
OUTLINE_OPACITY = 0.9
OUTLINE_PX = 1
DEVIATION_COLORMAP = "coolwarm"
META_PLACED = "onfh_sphere"  # the (centre LPS mm, radius mm) a reference sphere layer shows
META_SURFACE = "onfh_surface"  # the DisplaySurface a deviation layer shows
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


def _placed(hip: HipRead) -> tuple[tuple[float, ...], float] | None:
    return None if hip.center_lps is None else (tuple(np.asarray(hip.center_lps, float)), float(hip.radius_mm))


def labels_layer(hip: HipRead, structure: str, volume: Volume) -> Any:
    """A hip's head or lesion Labels layer (not added to a viewer), on the session's own label array."""
    from napari.layers import Labels

    name, color = ("femoral head", HEAD_COLOR) if structure == HEAD else ("lesion", LESION_COLOR)
    return Labels(hip.labels[structure], name=f"{hip.side} {name}", colormap=label_colormap(color),
                  opacity=MASK_OPACITY, **volume_transform(volume))


def sphere_layer(hip: HipRead, volume: Volume) -> Any:
    """A hip's reference sphere, its section on every slice, as a Shapes layer (or None: no sphere)."""
    from napari.layers import Shapes

    placed = _placed(hip)
    ellipses = [] if placed is None else reference_sphere_ellipses(volume, hip.center_lps, hip.radius_mm)
    if not ellipses:
        return None
    return Shapes(ellipses, shape_type="ellipse", name=f"{hip.side} reference sphere", edge_color=SPHERE_COLOR,
                  face_color="transparent", edge_width=0.5, opacity=0.8, metadata={META_PLACED: placed},
                  **volume_transform(volume))


def deviation_layer(hip: HipRead, volume: Volume) -> Any:
    """A hip's deviation map as a hidden Surface layer (or None: no map); :meth:`ReadLayers.colorbar`
    shows its colour bar once it is in the viewer."""
    from napari.layers import Surface

    surface = surface_data(volume, hip.surface)
    if surface is None:
        return None
    limit = deviation_limit_mm(surface[2])
    layer = Surface(surface, name=f"{hip.side} deviation (mm)", colormap=DEVIATION_COLORMAP,
                    contrast_limits=(-limit, limit), visible=False, metadata={META_SURFACE: hip.surface},
                    **volume_transform(volume))
    return layer


def build_layers(hips: list[HipRead], volume: Volume) -> dict[str, dict[str, Any]]:
    """Each MR hip's layers, made but not added to a viewer: side -> ``{"femoral_head", "lesion", "sphere",
    "deviation"}``.

    napari's layer models hold no Qt object, so a worker thread may make them (their colormaps, the
    ellipses' triangles, the surface's normals); adding each to the viewer is then the GUI thread's only
    part (:class:`ReadLayers` takes them as ``built``).
    """
    built: dict[str, dict[str, Any]] = {}
    for hip in hips:
        if not hip.labels:
            continue
        layers = built[hip.side] = {s: labels_layer(hip, s, volume) for s in hip.labels}
        for key, make in (("sphere", sphere_layer), ("deviation", deviation_layer)):
            layer = make(hip, volume)
            if layer is not None:
                layers[key] = layer
    return built


class ReadLayers(dict):
    """The layers of a read's hips in one viewer, side -> ``{"femoral_head", "lesion", "sphere", "deviation"}``.

    Each method shows one layer of one hip, which is one step of the viewer's work: it updates the hip's
    layer in place when there is one (no new visual to build, which is what costs time), sets nothing that
    has not changed (each change redraws the layer), and adds the layer otherwise.

    Parameters
    ----------
    viewer : napari.Viewer
    on_edit : callable
        Called with the hip's side whenever the reader edits its labels (not while :attr:`loading`, nor
        when napari only redraws a layer for another slice).
    """

    def __init__(self, viewer: Any, on_edit: Any):
        super().__init__()
        self.viewer = viewer
        self.on_edit = on_edit
        self.loading = False
        self._checksums: dict[tuple[str, str], int] = {}

    def _seen(self, side: str, structure: str, data: np.ndarray) -> bool:
        """Record a labels array's checksum; True when it changed since last seen."""
        checksum = zlib.crc32(np.ascontiguousarray(data))
        changed = self._checksums.get((side, structure)) != checksum
        self._checksums[(side, structure)] = checksum
        return changed

    def _on_labels_event(self, side: str, structure: str, painted: bool) -> None:
        # Brush, eraser and fill emit ``paint``; undo and redo only refresh the layer (``set_data``), as
        # every slice change does: a refresh is an edit only when the labels changed.
        layer = self.get(side, {}).get(structure)
        if self.loading or layer is None:
            return
        if self._seen(side, structure, layer.data) or painted:
            self.on_edit(side)

    def labels(self, hip: HipRead, structure: str, volume: Volume, outline: bool, built: Any = None) -> None:
        """A hip's head or lesion labels; the reader then paints into the session's own array.

        ``built`` is that layer made ahead by :func:`build_layers`, added when the hip has none yet.
        """
        layers = self.setdefault(hip.side, {})
        layer = layers.get(structure)
        self.loading = True
        try:
            if layer is not None and layer.data.shape == hip.labels[structure].shape:
                if layer.data is not hip.labels[structure]:
                    layer.data = hip.labels[structure]
            else:
                usable = built is not None and built.data is hip.labels[structure]
                layer = self.viewer.add_layer(built if usable else labels_layer(hip, structure, volume))
                layer.events.paint.connect(lambda *_, s=hip.side, k=structure: self._on_labels_event(s, k, True))
                for event in (layer.events.data, layer.events.set_data):
                    event.connect(lambda *_, s=hip.side, k=structure: self._on_labels_event(s, k, False))
                layers[structure] = layer
            set_outline([layer], outline)
        finally:
            self.loading = False
        hip.labels[structure] = layer.data
        self._seen(hip.side, structure, layer.data)

    def circle(self, hip: HipRead, radiograph: Radiograph) -> None:
        """A radiograph hip's reference circle."""
        layers = self.setdefault(hip.side, {})
        ellipse = reference_circle(radiograph, (hip.current or {}).get("head") or {})
        if "sphere" in layers:
            layers["sphere"].data = [] if ellipse is None else [ellipse]
        elif ellipse is not None:
            layers["sphere"] = self.viewer.add_shapes(
                [ellipse], shape_type="ellipse", name=f"{hip.side} reference circle", edge_color=SPHERE_COLOR,
                face_color="transparent", edge_width=1.0, **radiograph_transform(radiograph))

    def sphere(self, hip: HipRead, volume: Volume, built: Any = None) -> None:
        """The reference sphere's outline on every slice, as the hip's current measures place it
        (``built``: that layer made ahead by :func:`build_layers`)."""
        layers = self.setdefault(hip.side, {})
        placed = _placed(hip)
        layer = layers.get("sphere")
        if layer is not None and layer.metadata.get(META_PLACED) == placed:
            return  # the same sphere: napari would triangulate every ellipse again for nothing
        if layer is not None:
            layer.data = [] if placed is None else reference_sphere_ellipses(volume, hip.center_lps, hip.radius_mm)
            layer.metadata[META_PLACED] = placed
            return
        if built is None or built.metadata.get(META_PLACED) != placed:
            built = sphere_layer(hip, volume)
        if built is not None:
            layers["sphere"] = self.viewer.add_layer(built)

    def deviation(self, hip: HipRead, volume: Volume, create: bool = True, built: Any = None) -> None:
        """The head surface coloured by its deviation from the reference sphere (mm), with a colour bar.

        Updates the hip's layer when its map changed; adds the layer only when ``create`` (it is drawn in
        the 3D view only, so it need not exist before the reader opens that view), ``built`` if that one
        (from :func:`build_layers`) shows the hip's current map.
        """
        layers = self.setdefault(hip.side, {})
        layer = layers.get("deviation")
        if layer is not None and layer.metadata.get(META_SURFACE) is hip.surface:
            return
        if layer is None:
            if create:
                usable = built is not None and built.metadata.get(META_SURFACE) is hip.surface
                layer = built if usable else deviation_layer(hip, volume)
                if layer is not None:
                    layers["deviation"] = self.viewer.add_layer(layer)
            return
        surface = surface_data(volume, hip.surface)
        if surface is not None:
            layer.data = surface
            layer.contrast_limits = (-deviation_limit_mm(surface[2]), deviation_limit_mm(surface[2]))
            layer.metadata[META_SURFACE] = hip.surface

    def colorbar(self, side: str) -> None:
        """Show the colour bar of a hip's deviation map (a step apart: napari builds its visual then)."""
        layer = self.get(side, {}).get("deviation")
        if layer is not None and not layer.colorbar.visible:
            layer.colorbar.visible = True

    def remove(self, side: str) -> None:
        """Remove every layer of one hip from the viewer."""
        for layer in self.pop(side, {}).values():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)


__all__ = [
    "DEVIATION_LEGEND",
    "HEAD_COLOR",
    "LESION_COLOR",
    "SPHERE_COLOR",
    "ReadLayers",
    "build_layers",
    "deviation_layer",
    "deviation_limit_mm",
    "hip_world_center",
    "label_colormap",
    "labels_layer",
    "line_lengths_mm",
    "reference_circle",
    "reference_sphere_ellipses",
    "seed_points",
    "set_outline",
    "sphere_layer",
    "surface_data",
]

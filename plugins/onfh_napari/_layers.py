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
from onfh_imaging.reading import HipRead
from onfh_imaging.reads import HEAD, LESION

from ._geometry import (
    deviation_limit_mm,
    prepare_labels,
    reference_circle,
    sphere_ellipses,
    sphere_placement,
    surfaces_data,
)
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
DEVIATION_LEGEND = ("Deviation from the reference sphere, mm: blue below the sphere (depression, collapse), "
                    "red above it; the colour bar is shown in the 3D view.")


def label_colormap(color: tuple[float, ...]) -> Any:
    """A labels colormap with label 1 in ``color`` and everything else transparent.

    Parameters
    ----------
    color : tuple of float
        RGBA, each 0..1.

    Returns
    -------
    napari.utils.colormaps.DirectLabelColormap
    """
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: color})


def set_outline(layers: list[Any], outline: bool) -> None:
    """Draw labels as outlines (the low-signal band stays visible) or filled.

    Parameters
    ----------
    layers : list of napari.layers.Labels
        The layers to draw.
    outline : bool
        True for outlines of :data:`OUTLINE_PX` pixels, False for filled masks at :data:`MASK_OPACITY`.
    """
    contour, opacity = (OUTLINE_PX, OUTLINE_OPACITY) if outline else (0, MASK_OPACITY)
    for layer in layers:  # each change redraws the layer: only what changes is set
        if layer.contour != contour:
            layer.contour = contour
        if layer.opacity != opacity:
            layer.opacity = opacity


LAYER_NAMES = {HEAD: "femoral heads", LESION: "lesions", "sphere": "reference spheres",
               "deviation": "deviation (mm)"}
"""One layer per structure holds every hip of the image (its name); each hip owns its part of the grid
(:func:`hip_regions`)."""
CIRCLE_LAYER_NAME = "reference circles"
"""The layer of a radiograph's reference circles, every hip's (the MR's is ``LAYER_NAMES["sphere"]``)."""


def _same(shown: Any, surfaces: tuple[Any, ...]) -> bool:
    """True when a layer shows these very maps (the same objects, in the same order)."""
    return shown is not None and len(shown) == len(surfaces) and all(a is b for a, b in zip(shown, surfaces))


def labels_layer(data: np.ndarray, structure: str, volume: Volume) -> Any:
    """The head or lesion Labels layer of every hip of an image (not added to a viewer).

    Parameters
    ----------
    data : ndarray of uint8, shape (nk, nj, ni)
        The labels, 1 inside.
    structure : str
        ``"femoral_head"`` or ``"lesion"``: the layer's name and colour.
    volume : Volume
        The image the layer lies on (its transform), shape ``(nk, nj, ni)``.

    Returns
    -------
    napari.layers.Labels
    """
    from napari.layers import Labels

    color = HEAD_COLOR if structure == HEAD else LESION_COLOR
    return Labels(data, name=LAYER_NAMES[structure], colormap=label_colormap(color), opacity=MASK_OPACITY,
                  **volume_transform(volume))


def circle_layer(ellipses: list[np.ndarray], radiograph: Radiograph) -> Any:
    """The reference circles' Shapes layer of a radiograph's hips (not added to a viewer).

    Parameters
    ----------
    ellipses : list of ndarray, shape (4, 2)
        :func:`~onfh_napari._geometry.reference_circle` of each hip, ``(row, column)`` pixels.
    radiograph : Radiograph
        The image the layer lies on (its pixel size).

    Returns
    -------
    napari.layers.Shapes
    """
    from napari.layers import Shapes

    return Shapes(ellipses, ndim=2, shape_type="ellipse", name=CIRCLE_LAYER_NAME, edge_color=SPHERE_COLOR,
                  face_color="transparent", edge_width=CIRCLE_EDGE_WIDTH, **radiograph_transform(radiograph))


def sphere_layer(ellipses: list[np.ndarray], volume: Volume) -> Any:
    """The reference spheres' Shapes layer (not added to a viewer).

    Parameters
    ----------
    ellipses : list of ndarray, shape (4, 3)
        The spheres' sections (:func:`~onfh_napari._geometry.sphere_ellipses`), ``(k, j, i)``.
    volume : Volume
        The image the layer lies on (its transform), shape ``(nk, nj, ni)``.

    Returns
    -------
    napari.layers.Shapes
    """
    from napari.layers import Shapes

    return Shapes(ellipses, ndim=3, shape_type="ellipse", name=LAYER_NAMES["sphere"], edge_color=SPHERE_COLOR,
                  face_color="transparent", edge_width=SPHERE_EDGE_WIDTH, opacity=0.8, **volume_transform(volume))


def deviation_layer(surface: tuple[np.ndarray, np.ndarray, np.ndarray], volume: Volume) -> Any:
    """The deviation maps as one hidden Surface layer; :meth:`ReadLayers.colorbar` shows its colour bar.

    Parameters
    ----------
    surface : tuple of ndarray
        The maps as one mesh (:func:`~onfh_napari._geometry.surfaces_data`), deviation in mm.
    volume : Volume
        The image the layer lies on (its transform), shape ``(nk, nj, ni)``.

    Returns
    -------
    napari.layers.Surface
        Coloured from blue (below the sphere) to red (above), symmetric about 0 mm.
    """
    from napari.layers import Surface

    limit = deviation_limit_mm(surface[2])
    return Surface(surface, name=LAYER_NAMES["deviation"], colormap=DEVIATION_COLORMAP,
                   contrast_limits=(-limit, limit), visible=False, **volume_transform(volume))


def _empty_layer(key: str, volume: Volume) -> Any:
    """An empty head or lesion Labels layer, or an empty sphere Shapes layer, on ``volume``."""
    return labels_layer(np.zeros(volume.shape, np.uint8), key, volume) if key != "sphere" else sphere_layer([], volume)


class ReadLayers(dict):
    """The layers of a read's hips in one viewer, side -> ``{"femoral_head", "lesion", "sphere", "deviation"}``.

    On MR one layer per structure holds every hip (:data:`LAYER_NAMES`), each hip in its region of the grid
    (:func:`hip_regions`): a side's entries are those shared layers, and :meth:`hip_labels` is a hip's part.
    :meth:`placeholders` adds them empty when the image is opened, so that showing a result only sets data
    on existing layers (adding a layer, its visual built, is what costs time). Each method is one step of
    the viewer's work and sets nothing that has not changed (each change redraws the layer). A
    radiograph's hips share one reference circle layer (:meth:`circles`).

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer the layers are added to.
    on_edit : callable
        Called with a hip's side whenever the reader edits its labels (not while :attr:`loading`, nor
        when napari only redraws a layer for another slice).

    Attributes
    ----------
    viewer, on_edit
        As given.
    loading : bool
        True while the layers' data are being set (their events are not edits then).
    shared : dict of str to napari layer
        Structure (``"femoral_head"``, ``"lesion"``, ``"sphere"``, ``"deviation"``) -> the layer of every hip.
    regions : dict of str to ndarray of bool, shape (nk, nj, ni)
        Each MR hip's part of the grid (:func:`~onfh_napari._geometry.hip_regions`).
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
        """A hip's head or lesion labels as the layer shows them now.

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.
        structure : str
            ``"femoral_head"`` or ``"lesion"``.

        Returns
        -------
        ndarray of uint8, shape (nk, nj, ni)
            The layer's labels within the hip's region, 0 elsewhere.
        """
        return self.shared[structure].data * self.regions[side]

    def sync(self, side: str) -> dict[str, np.ndarray]:
        """A hip's labels as the layers show them now (the edits so far taken in).

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.

        Returns
        -------
        dict of str to ndarray of uint8, shape (nk, nj, ni)
            Structure -> :meth:`hip_labels`; empty before the hip's labels are shown.
        """
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

    @staticmethod
    def placeholder_layers(volume: Volume) -> dict[str, Any]:
        """The empty head, lesion and sphere layers of an image, made but not added to the viewer.

        Making a layer touches no viewer, so this may run in a worker thread: the first Labels layer of the
        process is where napari imports what its layers need (pandas and more, a second or two).

        Parameters
        ----------
        volume : Volume
            The image the layers lie on, shape ``(nk, nj, ni)``.

        Returns
        -------
        dict of str to napari layer
            ``"femoral_head"`` and ``"lesion"`` (empty Labels on the image grid) and ``"sphere"`` (an
            empty Shapes layer), each with the image's transform.
        """
        return {key: _empty_layer(key, volume) for key in (HEAD, LESION, "sphere")}

    def placeholders(self, volume: Volume, made: dict[str, Any] | None = None) -> list[Any]:
        """Steps adding the empty head, lesion and sphere layers of an image, one layer per step.

        Parameters
        ----------
        volume : Volume
            The image the layers lie on, shape ``(nk, nj, ni)``.
        made : dict of str to napari layer, optional
            The layers :meth:`placeholder_layers` made ahead (in a worker thread); made in the step
            otherwise.

        Returns
        -------
        list of callable
            One step per layer; a step adds nothing when a usable layer of its structure is already in
            the viewer (Segment may have added it first).
        """
        def add(key: str) -> None:
            if self._usable(key, volume.shape if key != "sphere" else None) is None:
                layer = (made or {}).get(key)
                layer = _empty_layer(key, volume) if layer is None else layer
                self.loading = True
                try:
                    self._add(key, layer)
                finally:
                    self.loading = False

        return [partial(add, key) for key in (HEAD, LESION, "sphere")]

    def labels(self, hips: list[HipRead], structure: str, volume: Volume, outline: bool,
               prepared: dict[str, Any] | None = None) -> None:
        """Every hip's head or lesion labels in their layer; each hip's labels become its part of it.

        Parameters
        ----------
        hips : list of HipRead
            The hips with labels; their ``labels[structure]`` become views of the layer's data.
        structure : str
            ``"femoral_head"`` or ``"lesion"``.
        volume : Volume
            The image, shape ``(nk, nj, ni)``.
        outline : bool
            Draw the labels as outlines (:func:`set_outline`).
        prepared : dict, optional
            :func:`~onfh_napari._geometry.prepare_labels` of these hips, made ahead in a worker thread;
            made here otherwise.
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
        them (set only when a circle moved).

        Parameters
        ----------
        hips : list of HipRead
            The radiograph's hips; a hip without a measured head has no circle.
        radiograph : Radiograph
            The image (its pixel size).
        """
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
        """The reference spheres' outlines on every slice, as the hips' current measures place them.

        Parameters
        ----------
        hips : list of HipRead
            The MR hips; those without a sphere are left out.
        volume : Volume
            The image, shape ``(nk, nj, ni)``.
        """
        placed = tuple((hip.side, sphere_placement(hip)) for hip in hips)
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

        Parameters
        ----------
        hips : list of HipRead
            The MR hips; those without a map (:attr:`~onfh_imaging.reading.HipRead.surface`) are left out.
        volume : Volume
            The image, shape ``(nk, nj, ni)``.
        create : bool
            Add the layer when it does not exist (it is drawn in the 3D view only, so it need not exist
            before the reader opens that view); otherwise only an existing layer is updated.

        Returns
        -------
        napari.layers.Surface or None
            The layer (updated only when a map changed), or None when none was added.
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
        """Forget one hip (the shared layers stay in the viewer).

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.
        """
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
    "deviation_layer",
    "label_colormap",
    "labels_layer",
    "set_outline",
    "sphere_layer",
]

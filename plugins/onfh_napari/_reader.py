"""napari reader: DICOM folders and files, and NIfTI, at their physical scale and position.

Layers keep the array order of :class:`~onfh_imaging.geometry.Volume` (``[k, j, i]``). napari's
world axes are patient LPS axes in mm, ordered and signed to follow the array axes (see
:func:`world_frame`): ``(z, y, x)`` for an axial volume, ``(y, -z, x)`` for a coronal one, so every
series is shown in its acquisition plane. Axis-aligned volumes get ``scale`` = spacing reversed and
``translate`` from the origin; oblique ones the residual rotation as ``affine``. Radiographs are shown at their calibrated pixel size. Each layer's metadata carries
the source objects (``onfh_volume`` or ``onfh_radiograph``; ``onfh_series`` as plain values and
``onfh_series_info`` as read; ``onfh_files``), from which the widget rebuilds geometry-exact masks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.vocab import RADIOGRAPH_MODALITIES

LayerData = tuple[Any, dict[str, Any], str]

META_VOLUME = "onfh_volume"
META_RADIOGRAPH = "onfh_radiograph"
META_SERIES = "onfh_series"
META_SERIES_INFO = "onfh_series_info"
META_FILES = "onfh_files"

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(_NIFTI_SUFFIXES)


def _looks_like_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".ima", ".dicom"):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def napari_get_reader(path: str | Sequence[str]) -> Callable[[Any], list[LayerData]] | None:
    """The reader napari calls for ``path``, when this plugin reads it.

    Parameters
    ----------
    path : str or sequence of str
        What napari was asked to open (for a list, its first item decides): a folder, a DICOM file
        (by suffix or its ``DICM`` preamble) or a NIfTI file.

    Returns
    -------
    callable or None
        :func:`read_study`, or None when this plugin does not read ``path``.
    """
    if isinstance(path, (list, tuple)):
        if not path:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir() or _is_nifti(p) or (p.is_file() and _looks_like_dicom(p)):
        return read_study
    return None


_AXIS_NAMES = (("right", "left"), ("anterior", "posterior"), ("inferior", "superior"))


def world_frame(volume: Volume) -> np.ndarray:
    """3x3 matrix taking LPS mm to the layer's world axes ``(w0, w1, w2)``, mm.

    World axis ``n`` is the LPS axis closest to array axis ``n`` (``k``, ``j``, ``i``): ``(z, y, x)``
    for an axial volume, ``(y, -z, x)`` for a coronal one. napari slices along world axes, and
    slicing stays well defined only when every array axis runs (nearly) along one world axis, which
    an axis permutation inside the layer transform would break. The two in-plane axes follow the
    radiological display convention (patient's left to the right of the screen, superior and
    anterior at the top: ``+x``, ``+y``, ``-z``); the slice axis keeps the array's sense. Lengths
    and positions stay physical (the matrix is a signed permutation).

    Parameters
    ----------
    volume : Volume
        The image (its direction cosines).

    Returns
    -------
    ndarray, shape (3, 3)
        A signed permutation matrix: ``world = frame @ lps``.
    """
    axes = volume.direction[:, ::-1]  # LPS direction of k, j, i
    display_sign = (1.0, 1.0, -1.0)
    frame = np.zeros((3, 3))
    free = [0, 1, 2]
    for n in np.argsort(-np.abs(axes).max(axis=0), kind="stable"):
        a = max(free, key=lambda lps_axis: abs(axes[lps_axis, n]))
        free.remove(a)
        frame[n, a] = (1.0 if axes[a, n] >= 0 else -1.0) if n == 0 else display_sign[a]
    return frame


def world_axis_labels(volume: Volume) -> tuple[str, str, str]:
    """Where each world axis points in the patient.

    Parameters
    ----------
    volume : Volume
        The image.

    Returns
    -------
    tuple of str
        For world axes 0, 1, 2, the patient direction it increases towards (``"posterior"``,
        ``"inferior"``, ``"left"``...).
    """
    frame = world_frame(volume)
    return tuple(_AXIS_NAMES[int(np.argmax(np.abs(row)))][int(row.sum() > 0)] for row in frame)


def lps_to_world(volume: Volume, points_lps: Any) -> np.ndarray:
    """World coordinates of LPS points in the frame of :func:`world_frame`.

    Parameters
    ----------
    volume : Volume
        The image whose world frame is used.
    points_lps : array_like, shape (..., 3)
        Points, LPS mm.

    Returns
    -------
    ndarray, shape (..., 3)
        The same points in napari world coordinates, mm.
    """
    return np.asarray(points_lps, dtype=float) @ world_frame(volume).T


def volume_transform(volume: Volume) -> dict[str, Any]:
    """napari layer keywords placing a ``[k, j, i]`` array in the world frame of :func:`world_frame`, mm.

    ``scale`` is the spacing reversed; an axial volume gets ``translate`` = origin reversed, any
    volume whose axes are not exactly along LPS gets the residual rotation and origin as ``affine``.

    Parameters
    ----------
    volume : Volume
        The image, array ``[k, j, i]``.

    Returns
    -------
    dict
        ``scale`` (mm per index), ``translate`` (mm) or ``affine`` (4x4), ``units`` and ``axis_labels``.
    """
    scale = tuple(float(s) for s in volume.spacing[::-1])
    frame = world_frame(volume)
    rotation = frame @ volume.direction[:, ::-1]
    translate = frame @ np.asarray(volume.origin)
    units = {"units": ("mm", "mm", "mm"), "axis_labels": world_axis_labels(volume)}
    if np.allclose(rotation, np.eye(3), atol=1e-6):
        return {"scale": scale, "translate": tuple(float(t) for t in translate), **units}
    affine = np.eye(4)
    affine[:3, :3] = rotation
    affine[:3, 3] = translate
    return {"scale": scale, "affine": affine, **units}


def radiograph_transform(radiograph: Radiograph) -> dict[str, Any]:
    """napari layer keywords placing a radiograph's ``(row, column)`` pixels at their size.

    Parameters
    ----------
    radiograph : Radiograph
        The image, with its pixel size at the patient when calibrated.

    Returns
    -------
    dict
        ``scale`` (mm per pixel, or 1 when uncalibrated) and ``units`` (``mm`` or ``pixel``).
    """
    if radiograph.pixel_size_mm is None:
        return {"scale": (1.0, 1.0), "units": ("pixel", "pixel")}
    return {"scale": tuple(float(s) for s in radiograph.pixel_size_mm), "units": ("mm", "mm")}


def _jsonable(info: Any) -> dict[str, Any]:
    if info is None:
        return {}
    if dataclasses.is_dataclass(info):
        info = {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dict(info).items() if k != "files"}


def _contrast_limits(array: np.ndarray) -> tuple[float, float]:
    finite = np.asarray(array, dtype=float)
    sample = finite[:: max(1, finite.shape[0] // 8)] if finite.ndim == 3 else finite
    lo, hi = np.percentile(sample[np.isfinite(sample)], [0.5, 99.5])
    return (float(lo), float(hi if hi > lo else lo + 1.0))


def volume_layer(volume: Volume, name: str, series: Any = None, files: Sequence[Path] = (),
                 visible: bool = True) -> LayerData:
    """An image layer tuple for a volume, with its geometry and series in the metadata.

    Parameters
    ----------
    volume : Volume
        The image, array ``[k, j, i]``.
    name : str
        The layer's name.
    series : SeriesInfo or dict, optional
        Its header summary, kept as read and as plain values.
    files : sequence of Path
        The files it was read from.
    visible : bool
        Whether the layer is shown.

    Returns
    -------
    tuple
        ``(array, layer keywords, "image")`` as napari readers return, placed by :func:`volume_transform`.
    """
    meta = {META_VOLUME: volume, META_SERIES: _jsonable(series), META_SERIES_INFO: series,
            META_FILES: [str(f) for f in files]}
    kwargs = {"name": name, "metadata": meta, "colormap": "gray", "visible": visible,
              "contrast_limits": _contrast_limits(volume.array), **volume_transform(volume)}
    return (np.asarray(volume.array), kwargs, "image")


def radiograph_layer(radiograph: Radiograph, name: str, series: Any = None,
                     files: Sequence[Path] = (), visible: bool = True) -> LayerData:
    """An image layer tuple for a radiograph at its calibrated pixel size.

    Parameters
    ----------
    radiograph : Radiograph
        The image, ``(row, column)`` pixels.
    name : str
        The layer's name.
    series : SeriesInfo or dict, optional
        Its header summary, kept as read and as plain values.
    files : sequence of Path
        The files it was read from.
    visible : bool
        Whether the layer is shown.

    Returns
    -------
    tuple
        ``(array, layer keywords, "image")``, placed by :func:`radiograph_transform`.
    """
    meta = {META_RADIOGRAPH: radiograph, META_SERIES: _jsonable(series), META_SERIES_INFO: series,
            META_FILES: [str(f) for f in files]}
    kwargs = {"name": name, "metadata": meta, "colormap": "gray", "visible": visible,
              "contrast_limits": _contrast_limits(radiograph.pixels), **radiograph_transform(radiograph)}
    return (np.asarray(radiograph.pixels), kwargs, "image")


def _series_name(info: dict[str, Any], fallback: str) -> str:
    parts = [str(info.get(k)) for k in ("series_number", "series_description") if info.get(k) not in (None, "")]
    return " ".join(parts) or fallback


def _read_radiograph(path: Path, visible: bool = True) -> LayerData:
    from onfh_imaging.io import read_radiograph

    radiograph, info = read_radiograph(path)
    return radiograph_layer(radiograph, _series_name(_jsonable(info), path.name), info, [path], visible)


def read_study(path: str | Sequence[str]) -> list[LayerData]:
    """Read a DICOM folder (every image series in it), a DICOM file or a NIfTI file as layers.

    In a folder with several MR series, the T1-weighted series (the one measured) is shown and the
    others are added hidden.

    Parameters
    ----------
    path : str or sequence of str
        Folders and files to read.

    Returns
    -------
    list of tuple
        One ``(array, layer keywords, "image")`` per image series.

    Raises
    ------
    InputError
        The toolkit's input errors, naming the file, when nothing can be read.
    """
    paths = [Path(p) for p in (path if isinstance(path, (list, tuple)) else [path])]
    layers: list[LayerData] = []
    for p in paths:
        if _is_nifti(p):
            from onfh_imaging.io import read_nifti

            name = p.name[: -len(".nii.gz")] if p.name.lower().endswith(".gz") else p.stem
            layers.append(volume_layer(read_nifti(p), name, {"series_instance_uid": f"file:{p.resolve()}"}))
        elif p.is_dir():
            layers.extend(_read_folder(p))
        else:
            layers.append(_read_dicom_file(p))
    return layers


def _read_dicom_file(path: Path) -> LayerData:
    import pydicom

    from onfh_imaging.errors import NotDicomError

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError) as exc:
        raise NotDicomError(f"cannot read as DICOM: {exc}", path=path) from exc
    if str(header.get("Modality", "")) in RADIOGRAPH_MODALITIES:
        return _read_radiograph(path)
    if int(header.get("NumberOfFrames", 1) or 1) > 1:
        return _read_dicom_series_files([path], str(header.SeriesInstanceUID), True)
    # One slice of a classic series: open the whole series it belongs to.
    return _read_dicom_series_files(path.parent, str(header.SeriesInstanceUID), True)


def _read_folder(folder: Path) -> list[LayerData]:
    """Every series of a folder as layers. A series that cannot be read is left out with a warning
    naming it and why; when none can, the error gives each file's and series' reason, as
    ``onfh measure`` does."""
    import warnings

    from onfh_imaging.errors import OnfhError
    from onfh_imaging.io import scan
    from onfh_imaging.pipeline import nothing_measured
    from onfh_imaging.plan import RefusalReport, explain_failure, file_refusals

    result = scan(folder)
    infos = list(result.series)
    refusals = file_refusals(result)
    shown = _preferred_series([i for i in infos if i.modality not in RADIOGRAPH_MODALITIES])
    layers = []
    for info in infos:
        try:
            if info.modality in RADIOGRAPH_MODALITIES:
                # A radiograph is its own view, not a slice of the MR space: only the first one is shown, and
                # none when an MR series is.
                for f in info.files:
                    layers.append(_read_radiograph(Path(f), visible=shown is None and not layers))
            else:
                files = [Path(f) for f in info.files]
                layers.append(_read_dicom_series_files(files, info.key or info.series_instance_uid, info is shown))
        except OnfhError as exc:
            refusals.append(explain_failure(info, exc))
    if not layers:
        raise nothing_measured(folder, refusals, headline="no image to show")
    for refusal in refusals:
        if not RefusalReport.is_side_file(refusal):
            warnings.warn(f"not shown: {refusal}", stacklevel=2)
    return layers


def _read_dicom_series_files(files: Path | list[Path], uid: str, visible: bool) -> LayerData:
    from onfh_imaging.io import read_series

    series = read_series(files, series_instance_uid=uid)
    info = _jsonable(series.info)
    return volume_layer(series.volume, _series_name(info, uid), series.info, series.files, visible)


def _preferred_series(infos: Sequence[Any]) -> Any:
    """The series to show first: a T1-weighted coronal one if present, else the first."""
    def rank(info: Any) -> tuple[bool, bool, bool]:
        return (info.sequence != "T1", info.fat_saturated, info.orientation != "coronal")
    return min(infos, key=rank) if infos else None

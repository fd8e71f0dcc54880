"""Label-map phantom studies on disk: DICOM MR series (coronal T1, optional STIR) and ``truth.json``.

``truth.json`` has the first family's schema (:data:`onfh_imaging.phantom.study.TRUTH_SCHEMA` and the
same keys, so the same comparison code reads both) plus ``"family": "labelmap"``, the drawn anatomy
and, per hip, ``head.fovea_direction_lps``, ``lesion.jic_type`` and ``acetabulum``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from onfh_imaging.errors import InputError
from onfh_imaging.io._atomic import write_json
from onfh_imaging.phantom._study_files import check_study_folder, read_truth_file, write_series_folder
from onfh_imaging.phantom.labelmap.anatomy import (
    ANTERIOR,
    SUPERIOR,
    BodyAnatomy,
    DepressedSegment,
    Fovea,
    HipAnatomy,
    Lesion,
    LesionCore,
    PelvisAnatomy,
    lateral,
    unit,
)
from onfh_imaging.phantom.labelmap.mr import coronal_grid, draw_contrast, render_series
from onfh_imaging.phantom.labelmap.truth import hip_truth, outside_fov_fraction

#: same schema as the first family's truth documents (``onfh_imaging.phantom.study.TRUTH_SCHEMA``)
TRUTH_SCHEMA = "onfh-imaging/phantom-truth/1"
FAMILY = "labelmap"
SERIES_FOLDERS = {"T1": "T1_COR", "STIR": "STIR_COR"}
POSTERIOR = -ANTERIOR

LesionKind = Literal["none", "small", "large", "irregular"]
LesionPosition = Literal["dome", "central", "medial"]
#: lateral tilt of the lesion's (and collapse's) axis from the vertical, as the lateral component of a
#: direction with unit superior component: over the weight-bearing dome, central, or medial (JIC A/B)
LESION_LATERAL_WEIGHT: dict[str, tuple[float, float]] = {
    "dome": (0.15, 0.45), "central": (-0.1, 0.1), "medial": (-0.75, -0.4)}


@dataclass(frozen=True)
class HipDisease:
    """Disease of one hip.

    Attributes
    ----------
    collapse_mm : float
        Depth of the depressed segment, mm (0 for an intact head); it lies on the lesion's axis.
    collapse_extent_deg : float
        Angular radius of the depressed segment, degrees.
    lesion : {"none", "small", "large", "irregular"}
        Necrotic lesion preset.
    core : {"fatty", "fluid", "mixed"}
        Signal of the necrotic core.
    oedema : bool
        Marrow oedema around the lesion.
    position : {"dome", "central", "medial"}
        Lateral tilt of the lesion's axis (:data:`LESION_LATERAL_WEIGHT`): over the weight-bearing dome,
        central, or medial.
    radiographic_lesion : bool
        True draws the lesion's dense margin and core on the radiographs (ARCO II); False makes it
        radiographically occult (ARCO I, an early lesion without mineral change: on the radiographs its
        band and core attenuate as the marrow they replace, while MRI shows it).
    """

    collapse_mm: float = 0.0
    collapse_extent_deg: float = 25.0
    lesion: LesionKind = "none"
    core: LesionCore = "fatty"
    oedema: bool = False
    position: LesionPosition = "dome"
    radiographic_lesion: bool = True


@dataclass(frozen=True)
class LabelmapSpec:
    """Everything that defines a label-map study; the same spec gives the same files.

    Anatomy details not named here (neck, fovea, cortex and cartilage thicknesses, red-marrow islands,
    body size, tissue signals, coil layout) are drawn from ``seed``.

    Attributes
    ----------
    hips : {"both", "left", "right"}
        Which hips are imaged (both are modelled).
    right, left : HipDisease
        Disease of each hip.
    head_radius_mm : float
        Femoral head radius, mm (the left head of a both-hips study differs by up to 0.5 mm).
    joint_space_mm : float
        Head to acetabular bone distance, mm (1-6).
    coverage_pct, inclination_deg : float
        Acetabular coverage (% of a hemisphere) and inclination of the cup, degrees.
    cam_bump, effusion : bool
        A cam-like bump at the head-neck junction; joint effusion.
    in_plane_mm, slice_mm, gap_mm : float
        Pixel size, slice thickness and gap between slices, mm.
    matrix : (int, int)
        In-plane matrix (rows, columns).
    n_slices : int
        Number of coronal slices.
    oblique_deg : (float, float)
        Rotation of the coronal grid, degrees.
    snr : float
        T1 reference tissue's signal over the noise standard deviation of one channel (STIR: 0.8 of it).
    bias_strength : float
        Receive-coil sensitivity: 0 uniform, 1 the full coil profile.
    psf_fwhm_px : float
        FWHM of the in-plane Gaussian blur, pixels.
    fov_offset_mm : 3 floats
        Shift of the field of view, LPS mm (e.g. to cut a head with an image edge).
    stir : bool
        Also write a coronal STIR series on the same grid.
    seed : int
        Seed of the drawn anatomy, signals, coil layout and noise.
    patient_id, patient_name, study_date : str
        DICOM identity of the study (``study_date`` as ``YYYYMMDD``).
    """

    hips: Literal["both", "left", "right"] = "right"
    right: HipDisease = field(default_factory=HipDisease)
    left: HipDisease = field(default_factory=HipDisease)
    head_radius_mm: float = 24.0
    joint_space_mm: float = 3.0
    coverage_pct: float = 80.0
    inclination_deg: float = 45.0
    cam_bump: bool = False
    effusion: bool = False
    in_plane_mm: float = 0.7
    slice_mm: float = 4.0
    gap_mm: float = 0.0
    matrix: tuple[int, int] = (256, 256)
    n_slices: int = 24
    oblique_deg: tuple[float, float] = (0.0, 0.0)
    snr: float = 25.0
    bias_strength: float = 0.5
    psf_fwhm_px: float = 0.8
    fov_offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    stir: bool = True
    seed: int = 0
    patient_id: str = "LABELMAP"
    patient_name: str = "Labelmap^Hip"
    study_date: str = "20260101"

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict (nested :class:`HipDisease` as dicts).

        Returns
        -------
        dict
        """
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabelmapSpec:
        """Rebuild a spec from :meth:`to_json` output.

        Parameters
        ----------
        data : dict
            Output of :meth:`to_json` (lists where the spec holds tuples are accepted).

        Returns
        -------
        LabelmapSpec

        Raises
        ------
        InputError
            When ``data`` holds a key that is not a spec field.
        """
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise InputError(f"unknown label-map spec fields {sorted(unknown)}")
        kw = dict(data)
        for side in ("right", "left"):
            if isinstance(kw.get(side), dict):
                kw[side] = HipDisease(**kw[side])
        for name in ("matrix", "oblique_deg", "fov_offset_mm"):
            if name in kw:
                kw[name] = tuple(kw[name])
        return cls(**kw)

    @classmethod
    def from_truth(cls, truth: str | os.PathLike | dict[str, Any]) -> LabelmapSpec:
        """The spec recorded in a label-map ``truth.json``.

        Parameters
        ----------
        truth : path or dict
            A study folder, its ``truth.json``, or the loaded truth document.

        Returns
        -------
        LabelmapSpec

        Raises
        ------
        InputError
            When the truth file cannot be read or its spec has unknown fields.
        """
        data = truth if isinstance(truth, dict) else load_labelmap_truth(truth)
        return cls.from_json(data["spec"])

    @property
    def sides(self) -> tuple[str, ...]:
        """The imaged sides, right first."""
        return ("right", "left") if self.hips == "both" else (self.hips,)

    def anatomy(self) -> PelvisAnatomy:
        """The label-map anatomy of this study (both hips are modelled; the field of view decides which
        are imaged).

        Returns
        -------
        PelvisAnatomy
            Both hips and the body, LPS mm.

        Raises
        ------
        InputError
            When the options describe an impossible hip.
        """
        try:
            return build_anatomy(self)
        except ValueError as exc:
            raise InputError(f"invalid label-map phantom: {exc}", hint="change the phantom options") from exc

    def grid_center(self, anatomy: PelvisAnatomy) -> np.ndarray:
        """Field-of-view centre: the imaged head(s) raised by 0.45 R (to include the roof), plus the offset.

        Parameters
        ----------
        anatomy : PelvisAnatomy
            This spec's anatomy (:meth:`anatomy`).

        Returns
        -------
        ndarray, shape (3,)
            LPS mm.
        """
        c = np.mean([anatomy.hip(s).c for s in self.sides], axis=0)
        return c + 0.45 * self.head_radius_mm * SUPERIOR + np.asarray(self.fov_offset_mm)


def _jitter(rng: np.random.Generator, v: np.ndarray, deg: float) -> np.ndarray:
    """``v`` turned by a random angle of standard deviation ``deg`` degrees."""
    return unit(v + np.tan(np.radians(deg)) * rng.normal(size=3))


def _lesion(kind: LesionKind, core: LesionCore, direction: np.ndarray, extent_deg: float,
            rng: np.random.Generator) -> Lesion | None:
    if kind == "none":
        return None
    if kind == "small":
        half, inner, lobes = rng.uniform(34, 40), rng.uniform(0.35, 0.45), (rng.uniform(0, 0.1), rng.uniform(0, 6.3), 0.0, 0.0)
    elif kind == "large":
        half, inner, lobes = rng.uniform(62, 70), rng.uniform(0.2, 0.3), (rng.uniform(0, 0.08), rng.uniform(0, 6.3), 0.0, 0.0)
    else:
        half, inner = rng.uniform(46, 54), rng.uniform(0.25, 0.4)
        lobes = (rng.uniform(0.12, 0.22), rng.uniform(0, 6.3), rng.uniform(0.08, 0.15), rng.uniform(0, 6.3))
    half = max(half, (extent_deg + 6.0) / (1 - abs(lobes[0]) - abs(lobes[2])))
    return Lesion(tuple(direction), float(half), float(inner), float(rng.uniform(1.0, 3.0)), core, lobes)


def _hip(spec: LabelmapSpec, side: str, disease: HipDisease, centre: np.ndarray, radius: float,
         rng: np.random.Generator) -> HipAnatomy:
    lat = lateral(side)
    neck_shaft, anteversion, adduction = rng.uniform(125, 138), rng.uniform(8, 22), rng.uniform(5, 9)
    el, av = np.radians(neck_shaft - 90 + adduction), np.radians(anteversion)
    neck = unit(np.cos(el) * (lat * np.cos(av) + POSTERIOR * np.sin(av)) - SUPERIOR * np.sin(el))
    shaft = unit(-SUPERIOR * np.cos(np.radians(adduction)) - lat * np.sin(np.radians(adduction)))
    fovea = Fovea(tuple(_jitter(rng, -lat * 0.75 - SUPERIOR * 0.6 + POSTERIOR * 0.15, 5.0)),
                  float(rng.uniform(10, 14)), float(rng.uniform(2, 4)))
    dome = _jitter(rng, lat * rng.uniform(*LESION_LATERAL_WEIGHT[disease.position])
                   + ANTERIOR * rng.uniform(0.0, 0.4) + SUPERIOR, 3.0)
    depression = None
    if disease.collapse_mm > 0:
        depression = DepressedSegment(tuple(dome), disease.collapse_mm, disease.collapse_extent_deg)
    lesion = _lesion(disease.lesion, disease.core, _jitter(rng, dome, 3.0), disease.collapse_extent_deg, rng)
    jsw = spec.joint_space_mm
    fluid = jsw * rng.uniform(0.15, 0.3)
    fem_cart = (jsw - fluid) * rng.uniform(0.45, 0.55)
    islands = []
    for _ in range(int(rng.integers(2, 6))):
        t = rng.uniform(0.45, 1.1) * 50.0
        islands.append((tuple(centre + t * neck + rng.normal(0, 4.0, 3)), tuple(rng.uniform(3.0, 7.0, 3))))
    if disease.lesion == "none" and rng.uniform() < 0.5:  # a red-marrow island in an intact head
        islands.append((tuple(centre + 0.45 * radius * unit(-SUPERIOR + 0.3 * lat)), tuple(rng.uniform(3.0, 5.0, 3))))
    septa = tuple(
        (tuple(centre + offset + rng.normal(0, 4.0, 3)), tuple(semi * rng.uniform(0.85, 1.15, 3)),
         float(rng.uniform(1.5, 3.0)))
        for offset, semi in ((45.0 * lat + 30.0 * SUPERIOR, np.array([25.0, 40.0, 45.0])),        # gluteal
                             (35.0 * ANTERIOR - 10.0 * lat, np.array([20.0, 15.0, 50.0])),         # iliopsoas
                             (40.0 * POSTERIOR - 10.0 * SUPERIOR, np.array([45.0, 15.0, 30.0]))))  # rotators
    return HipAnatomy(
        side=side, center=tuple(centre), radius_mm=radius, neck_axis=tuple(neck), shaft_axis=tuple(shaft),
        fovea=fovea, neck_length_mm=float(rng.uniform(1.8, 2.2) * radius),
        neck_semi_axes_mm=(float(rng.uniform(0.6, 0.68) * radius), float(rng.uniform(0.5, 0.58) * radius)),
        neck_taper=float(rng.uniform(0.15, 0.35)), junction_blend_mm=float(rng.uniform(3.0, 6.0)),
        cam_bump_mm=float(rng.uniform(1.5, 3.0)) if spec.cam_bump else 0.0,
        shaft_radius_mm=float(rng.uniform(0.55, 0.65) * radius),
        cortex_mm={"subchondral": float(rng.uniform(0.8, 1.8)), "neck": float(rng.uniform(1.5, 3.0)),
                   "shaft": float(rng.uniform(4.0, 7.0)), "pelvis": float(rng.uniform(1.0, 2.0))},
        femoral_cartilage_mm=float(fem_cart), acetabular_cartilage_mm=float(jsw - fluid - fem_cart),
        joint_space_mm=jsw, coverage_pct=spec.coverage_pct, inclination_deg=spec.inclination_deg,
        anteversion_deg=float(rng.uniform(10, 25)), acetabular_wall_mm=float(rng.uniform(5, 9)),
        labrum_mm=float(rng.uniform(4, 7)), effusion_mm=float(rng.uniform(3, 6)) if spec.effusion else 0.0,
        depression=depression, lesion=lesion,
        oedema_radius_mm=float(rng.uniform(1.0, 1.4) * radius) if disease.oedema else 0.0,
        red_marrow=tuple(islands), fat_septa=septa)


def build_anatomy(spec: LabelmapSpec) -> PelvisAnatomy:
    """Both hips and the body of ``spec`` (secondary parameters drawn from ``spec.seed``).

    Parameters
    ----------
    spec : LabelmapSpec
        The study.

    Returns
    -------
    PelvisAnatomy
        LPS mm.

    Raises
    ------
    ValueError
        When the options describe an impossible hip (:meth:`LabelmapSpec.anatomy` reports it as an
        InputError).
    """
    rng = np.random.default_rng([spec.seed, 1])
    half_width = rng.uniform(85.0, 95.0)
    hips = []
    for side, disease in (("right", spec.right), ("left", spec.left)):
        centre = np.array([half_width * lateral(side)[0], rng.uniform(-3, 3), rng.uniform(-3, 3)])
        radius = spec.head_radius_mm
        if spec.hips == "both" and side == "left":  # two hips of one patient differ a little
            radius = spec.head_radius_mm + float(rng.uniform(-0.5, 0.5))
        hips.append(_hip(spec, side, disease, centre, float(radius), rng))
    body = BodyAnatomy(center_xy=(0.0, float(rng.uniform(5, 15))),
                       semi_axes_mm=(float(half_width + rng.uniform(70, 90)), float(rng.uniform(100, 125))),
                       fat_mm=float(rng.uniform(8, 30)))
    return PelvisAnatomy(tuple(hips), body)


def _uid(spec: LabelmapSpec, role: str) -> str:
    from pydicom.uid import generate_uid

    key = json.dumps(spec.to_json(), sort_keys=True) + FAMILY + role
    return generate_uid(entropy_srcs=[hashlib.sha256(key.encode()).hexdigest()])


def render_labelmap_series(spec: LabelmapSpec, anatomy: PelvisAnatomy | None = None) -> dict[str, Any]:
    """Render the study's MR series.

    Parameters
    ----------
    spec : LabelmapSpec
        The study (grid, contrast, noise, seed).
    anatomy : PelvisAnatomy, optional
        The anatomy to render; default ``spec.anatomy()``.

    Returns
    -------
    dict of str to Volume
        ``"T1"``, and ``"STIR"`` when ``spec.stir``: coronal series of shape (slices, rows, columns) on one
        grid (LPS mm).

    Raises
    ------
    InputError
        When the spec describes an impossible hip.
    """
    anatomy = anatomy or spec.anatomy()
    grid = coronal_grid(spec.grid_center(anatomy), in_plane_mm=spec.in_plane_mm,
                        pitch_mm=spec.slice_mm + spec.gap_mm, matrix=spec.matrix, n_slices=spec.n_slices,
                        oblique_deg=spec.oblique_deg)
    rng = np.random.default_rng([spec.seed, 2])
    names = ["T1", "STIR"] if spec.stir else ["T1"]
    contrasts = [draw_contrast(n, rng, spec.snr if n == "T1" else 0.8 * spec.snr) for n in names]
    volumes = render_series(anatomy, grid, contrasts, thickness_mm=spec.slice_mm, psf_fwhm_px=spec.psf_fwhm_px,
                            bias_strength=spec.bias_strength, rng=rng)
    return dict(zip(names, volumes))


def write_labelmap_study(out_dir: str | os.PathLike, spec: LabelmapSpec) -> dict[str, Any]:
    """Render and write a label-map MR study; return the content of its ``truth.json``.

    Layout: ``T1_COR/`` (coronal T1, InstanceNumber and file names shuffled), ``STIR_COR/`` (when
    ``spec.stir``; same grid, study and frame of reference) and ``truth.json`` (written last).

    Parameters
    ----------
    out_dir : path
        Folder to create or fill; its series subfolders must not hold files yet.
    spec : LabelmapSpec
        The study.

    Returns
    -------
    dict
        The truth document (the first family's schema plus ``family``, ``anatomy`` and per-hip extras).

    Raises
    ------
    InputError
        When ``out_dir`` is a file or its series folders already hold files, or the spec is impossible.
    """
    out = Path(out_dir)
    names = ["T1", "STIR"] if spec.stir else ["T1"]
    check_study_folder(out, [SERIES_FOLDERS[name] for name in names])
    anatomy = spec.anatomy()
    volumes = render_labelmap_series(spec, anatomy)
    out.mkdir(parents=True, exist_ok=True)
    study_uid, for_uid = _uid(spec, "study"), _uid(spec, "frame")
    series = []
    for number, name in enumerate(names, start=2):
        volume = volumes[name]
        series_uid = _uid(spec, f"series-{name}")
        final = out / SERIES_FOLDERS[name]
        write_series_folder(volume, final, patient_id=spec.patient_id, patient_name=spec.patient_name,
                            study_instance_uid=study_uid, series_instance_uid=series_uid,
                            frame_of_reference_uid=for_uid, study_date=spec.study_date,
                            series_description=f"COR {name} {spec.slice_mm:g}mm", series_number=number,
                            sequence=name, shuffle_seed=spec.seed * 7 + number,
                            extra={"SliceThickness": f"{spec.slice_mm:g}"})
        series.append({"series_instance_uid": series_uid, "sequence": name, "folder": final.name,
                       "spacing": list(volume.spacing), "oblique_deg": list(spec.oblique_deg),
                       "shape": list(volume.shape), "origin": list(volume.origin),
                       "direction": volume.direction.tolist(), "slice_thickness_mm": spec.slice_mm,
                       "gap_mm": spec.gap_mm})
    truth = {
        "schema": TRUTH_SCHEMA, "family": FAMILY, "spec": spec.to_json(), "patient_id": spec.patient_id,
        "study_instance_uid": study_uid, "frame_of_reference_uid": for_uid, "series": series,
        "hips": [dict(h, radiographic_lesion=h.get("lesion") is not None
                      and getattr(spec, h["side"]).radiographic_lesion) for h in _imaged_hips(anatomy, volumes["T1"])],
        "anatomy": anatomy_summary(anatomy),
    }
    write_json(out / "truth.json", truth)
    return truth


def _imaged_hips(anatomy: PelvisAnatomy, grid) -> list[dict[str, Any]]:
    """Truth of every hip whose head the field of view reaches (an edge may cut the other side's head),
    with the share of its reference sphere outside the field of view (``head.outside_fov_pct``)."""
    out = []
    for hip in anatomy.hips:
        outside = outside_fov_fraction(grid, hip.c, hip.radius_mm)
        if outside < 1.0:
            entry = hip_truth(hip)
            entry["head"]["outside_fov_pct"] = 100.0 * outside
            out.append(entry)
    return out


def anatomy_summary(anatomy: PelvisAnatomy) -> dict[str, Any]:
    """The drawn anatomy in plain JSON types (for the record; the spec and seed rebuild it).

    Parameters
    ----------
    anatomy : PelvisAnatomy
        The anatomy.

    Returns
    -------
    dict
        ``{"hips": [...], "body": {...}}``, every field of the anatomy dataclasses (mm, degrees).
    """
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, np.generic):
            return v.item()
        return v

    return {"hips": [plain(asdict(h)) for h in anatomy.hips], "body": plain(asdict(anatomy.body))}


def load_labelmap_truth(path: str | os.PathLike) -> dict[str, Any]:
    """Read a label-map ``truth.json``.

    Parameters
    ----------
    path : path
        A study folder or its ``truth.json``.

    Returns
    -------
    dict
        The truth document.

    Raises
    ------
    InputError
        When the file is missing, unreadable, or not a label-map truth document.
    """
    p, data = read_truth_file(path, hint="generate one with `onfh phantom --family labelmap`")
    if not isinstance(data, dict) or data.get("schema") != TRUTH_SCHEMA or data.get("family") != FAMILY:
        raise InputError("not a label-map phantom truth document", path=p)
    return data


def mr_grid() -> list[tuple[str, LabelmapSpec]]:
    """The MR benchmark grid: 18 named studies over radius 21-27 mm, collapse 0-4 mm, lesion none / small /
    large / irregular with fatty, fluid and mixed cores, slices 3-6 mm with and without gaps, pixels
    0.4-1.0 mm, obliquity, SNR 12-40, coil bias, partial fields of view, one and both hips, junction bump,
    coverage 60-100 %, joint space 1-4 mm, effusion and oedema.

    Returns
    -------
    list of (str, LabelmapSpec)
        Name and spec of each study.
    """
    D = HipDisease
    cases = [
        ("lm00", dict(right=D(), head_radius_mm=24.0, slice_mm=4.0, in_plane_mm=0.7)),
        ("lm01", dict(right=D(0.0, lesion="small", core="fatty", position="medial"), head_radius_mm=22.5, slice_mm=3.0,
                      in_plane_mm=0.6, snr=35.0)),
        ("lm02", dict(right=D(0.0, lesion="large", core="fluid", oedema=True), head_radius_mm=25.0,
                      slice_mm=4.5, in_plane_mm=0.7, coverage_pct=65.0, joint_space_mm=2.0)),
        ("lm03", dict(right=D(1.0, 22.0, "large", "fatty"), head_radius_mm=24.0, slice_mm=4.0, in_plane_mm=0.65,
                      oblique_deg=(12.0, 0.0), cam_bump=True)),
        ("lm04", dict(right=D(1.5, 25.0, "irregular", "mixed", oedema=True), head_radius_mm=26.0, slice_mm=5.0,
                      in_plane_mm=0.8, snr=18.0, bias_strength=0.8)),
        ("lm05", dict(right=D(2.6, 28.0, "large", "fluid"), head_radius_mm=23.0, slice_mm=3.5, in_plane_mm=0.5,
                      matrix=(320, 320), joint_space_mm=1.2, coverage_pct=95.0)),
        ("lm06", dict(right=D(3.0, 30.0, "large", "mixed"), head_radius_mm=27.0, slice_mm=4.0, gap_mm=0.5,
                      in_plane_mm=0.75, oblique_deg=(0.0, 10.0), effusion=True)),
        ("lm07", dict(right=D(4.0, 32.0, "large", "fatty", oedema=True), head_radius_mm=25.5, slice_mm=6.0,
                      in_plane_mm=0.9, matrix=(224, 224), n_slices=18, snr=14.0)),
        ("lm08", dict(hips="left", left=D(), head_radius_mm=21.0, slice_mm=3.0, in_plane_mm=0.45,
                      matrix=(384, 384), n_slices=30, cam_bump=True, coverage_pct=60.0)),
        ("lm09", dict(hips="left", left=D(0.0, lesion="irregular", core="fluid", position="central"),
                      head_radius_mm=23.5,
                      slice_mm=4.0, in_plane_mm=0.7, oblique_deg=(-10.0, 6.0), joint_space_mm=4.0)),
        ("lm10", dict(hips="left", left=D(2.0, 26.0, "small", "fatty", position="central"), head_radius_mm=24.5,
                      slice_mm=3.5,
                      in_plane_mm=0.6, matrix=(288, 288), bias_strength=1.0)),
        ("lm11", dict(hips="left", left=D(3.5, 30.0, "large", "fluid", oedema=True), head_radius_mm=22.0,
                      slice_mm=5.0, in_plane_mm=1.0, matrix=(192, 192), n_slices=20, snr=12.0, effusion=True)),
        ("lm12", dict(right=D(0.0, lesion="large", core="fatty"), head_radius_mm=24.0, slice_mm=4.0,
                      in_plane_mm=0.7, fov_offset_mm=(76.0, 0.0, 0.0))),  # head cut by the lateral edge
        ("lm13", dict(right=D(2.5, 27.0, "large", "mixed"), head_radius_mm=25.0, slice_mm=4.0, in_plane_mm=0.7,
                      fov_offset_mm=(0.0, 0.0, 70.0), coverage_pct=100.0)),  # head cut by the inferior edge
        ("lm14", dict(hips="both", right=D(), left=D(1.2, 24.0, "large", "fatty"), head_radius_mm=24.0,
                      slice_mm=4.0, in_plane_mm=0.9, matrix=(256, 420), n_slices=24)),
        ("lm15", dict(hips="both", right=D(3.0, 30.0, "large", "fluid", oedema=True),
                      left=D(0.0, lesion="small", position="medial"),
                      head_radius_mm=23.0, slice_mm=5.0, in_plane_mm=1.0, matrix=(224, 380), n_slices=20,
                      oblique_deg=(8.0, 0.0))),
        ("lm16", dict(right=D(0.0), head_radius_mm=26.5, slice_mm=5.5, gap_mm=0.5, in_plane_mm=0.8,
                      matrix=(224, 224), n_slices=16, joint_space_mm=1.0, cam_bump=True, effusion=True)),
        ("lm17", dict(hips="left", left=D(0.8, 20.0, "small", "fluid"), head_radius_mm=21.5, slice_mm=3.0,
                      in_plane_mm=0.4, matrix=(440, 440), n_slices=30, snr=40.0, psf_fwhm_px=1.2)),
    ]
    inclinations = (45.0, 40.0, 50.0, 38.0, 47.0, 43.0)  # acetabular inclination varies between patients
    return [(name, LabelmapSpec(seed=100 + n, patient_id=f"LM{n:02d}",
                                **{"inclination_deg": inclinations[n % len(inclinations)], **kw}))
            for n, (name, kw) in enumerate(cases)]


__all__ = ["FAMILY", "SERIES_FOLDERS", "TRUTH_SCHEMA", "HipDisease", "LabelmapSpec", "build_anatomy",
           "load_labelmap_truth", "mr_grid", "render_labelmap_series", "write_labelmap_study"]

"""A phantom imaging study on disk: DICOM MR series plus ``truth.json``.

Layout of ``out_dir``: ``T1_COR/`` (coronal T1, one file per slice, InstanceNumber shuffled),
``STIR_COR/`` (optional, same grid, study and frame of reference) and ``truth.json`` (written last,
so a folder holding it is complete).
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
from onfh_imaging.geometry import Volume
from onfh_imaging.io._atomic import write_json
from onfh_imaging.phantom._study_files import check_study_folder, read_truth_file, write_series_folder
from onfh_imaging.phantom.axes import default_dome_direction
from onfh_imaging.phantom.model import Collapse, HipModel, Lesion, PelvisModel
from onfh_imaging.phantom.mr import default_center, render_mr
from onfh_imaging.phantom.truth import hip_truth

TRUTH_SCHEMA = "onfh-imaging/phantom-truth/1"
SERIES_FOLDERS = {"T1": "T1_COR", "STIR": "STIR_COR"}
JOINT_LAYERS = ("cartilage_mm", "acetabular_cartilage_mm", "joint_space_mm")
"""The layers between the femoral head and the acetabular bone, in :class:`HipModel`."""


@dataclass(frozen=True)
class HipSpec:
    """Disease of one phantom hip.

    Attributes
    ----------
    collapse_mm : float
        Collapse depth, mm (0 for an intact head).
    collapse_direction_lps : 3 floats or None
        Unit vector from the head centre to the depression; None for the antero-superior dome.
    collapse_angular_radius_deg : float
        Angular radius of the depressed segment, degrees.
    lesion : {"none", "small", "large"}
        Necrotic lesion preset (about 10 % or 40 % of the head), centred on the collapse direction.
    lesion_core : {"fatty", "fluid"}
        Signal of the necrotic core.
    joint_space_mm : float or None
        Radiographic joint space (femoral head surface to acetabular bone), mm; None for the model's
        normal 4.1 mm (2 mm femoral and 1.5 mm acetabular cartilage, 0.6 mm fluid). A smaller width
        thins the three layers in proportion: cartilage loss of osteoarthritis (ARCO IV).
    radiographic_lesion : bool
        The lesion shows on the radiographs: its dense margin and its core attenuate as drawn (ARCO II).
        False for an early lesion without mineral change (ARCO I): on the radiographs its band and core
        attenuate as the marrow they replace, while MRI shows it.
    """

    collapse_mm: float = 0.0
    collapse_direction_lps: tuple[float, float, float] | None = None
    collapse_angular_radius_deg: float = 25.0
    lesion: Literal["none", "small", "large"] = "none"
    lesion_core: Literal["fatty", "fluid"] = "fatty"
    joint_space_mm: float | None = None
    radiographic_lesion: bool = True

    def hip_fields(self, side: str, head_radius_mm: float) -> dict[str, Any]:
        """Keyword arguments of :class:`HipModel` for this disease on ``side``.

        Parameters
        ----------
        side : {"left", "right"}
            The hip; it sets the default collapse direction (the antero-superior dome of that side).
        head_radius_mm : float
            Radius of the femoral head, mm (the lesion presets scale with it).

        Returns
        -------
        dict
            ``collapse`` (:class:`Collapse`), ``lesion`` (:class:`Lesion`) and the joint layers (mm), each
            only when this spec asks for it.

        Raises
        ------
        InputError
            When ``joint_space_mm`` is not positive.
        """
        direction = self.collapse_direction_lps or default_dome_direction(side)
        out: dict[str, Any] = {}
        if self.collapse_mm > 0:
            out["collapse"] = Collapse(self.collapse_mm, direction, self.collapse_angular_radius_deg)
        if self.lesion != "none":
            out["lesion"] = Lesion.preset(self.lesion, head_radius_mm, direction, core=self.lesion_core)
        if self.joint_space_mm is not None:
            out.update(_joint_layers(self.joint_space_mm))
        return out


def _joint_layers(width_mm: float) -> dict[str, float]:
    """Femoral cartilage, acetabular cartilage and fluid film (mm) that add up to ``width_mm``, in the
    proportions of the model's normal joint."""
    if width_mm <= 0:
        raise InputError(f"invalid phantom: the joint space must be positive, got {width_mm} mm",
                         hint="give a width in mm, e.g. 1.2 for a narrowed joint")
    layers = {f.name: f.default for f in fields(HipModel) if f.name in JOINT_LAYERS}
    scale = width_mm / sum(layers.values())
    return {name: value * scale for name, value in layers.items()}


@dataclass(frozen=True)
class PhantomSpec:
    """Everything that defines a phantom study; the same spec and seed give the same files.

    Attributes
    ----------
    hips : {"both", "left", "right"}
        Which hips the phantom holds.
    right, left : HipSpec
        Disease of each hip.
    head_radius_mm : float
        Radius of both femoral heads, mm.
    in_plane_mm : float or None
        In-plane pixel size of the MR series, mm; None for 0.7 mm with one hip (a 180 mm field of view)
        and 1.4 mm with both (360 mm).
    slice_mm, gap_mm : float
        Slice thickness and gap between slices, mm.
    matrix : (int, int)
        In-plane matrix (rows, columns).
    n_slices : int
        Number of coronal slices.
    oblique_deg : (float, float)
        Rotation of the coronal grid, degrees (see :func:`onfh_imaging.phantom.mr.coronal_grid`).
    noise_sigma : float
        Standard deviation of each Gaussian noise channel, as a fraction of ``intensity_scale``.
    bias_strength : float
        Amplitude of the log bias field (0 for none; 0.15 gives about +-15 %).
    intensity_scale : float
        Signal of T1 fatty marrow, in scanner units.
    stir : bool
        Also write a coronal STIR series on the same grid.
    seed : int
        Noise seed (T1 uses ``seed``, STIR ``seed + 1``).
    patient_id, patient_name, study_date : str
        DICOM identity of the study (``study_date`` as ``YYYYMMDD``).
    """

    hips: Literal["both", "left", "right"] = "both"
    right: HipSpec = field(default_factory=HipSpec)
    left: HipSpec = field(default_factory=HipSpec)
    head_radius_mm: float = 24.0
    in_plane_mm: float | None = None
    slice_mm: float = 4.0
    gap_mm: float = 0.0
    matrix: tuple[int, int] = (256, 256)
    n_slices: int = 24
    oblique_deg: tuple[float, float] = (0.0, 0.0)
    noise_sigma: float = 0.03
    bias_strength: float = 0.15
    intensity_scale: float = 1000.0
    stir: bool = False
    seed: int = 0
    patient_id: str = "PHANTOM"
    patient_name: str = "Phantom^Hip"
    study_date: str = "20260101"

    @property
    def pixel_mm(self) -> float:
        """In-plane pixel size of the MR series, mm (``in_plane_mm`` or its default)."""
        if self.in_plane_mm is not None:
            return float(self.in_plane_mm)
        return 1.4 if self.hips == "both" else 0.7

    def model(self) -> PelvisModel:
        """The analytic model of this phantom.

        Returns
        -------
        PelvisModel
            Both or one hip with this spec's disease, LPS mm.

        Raises
        ------
        InputError
            When the options describe an impossible hip (e.g. a collapse deeper than the head allows).
        """
        try:
            return PelvisModel.standard(self.hips, head_radius_mm=self.head_radius_mm,
                                        right=self.right.hip_fields("right", self.head_radius_mm),
                                        left=self.left.hip_fields("left", self.head_radius_mm))
        except ValueError as exc:
            raise InputError(f"invalid phantom: {exc}", hint="change the phantom options") from exc

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict (nested :class:`HipSpec` as dicts).

        Returns
        -------
        dict
        """
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PhantomSpec":
        """Rebuild a spec from :meth:`to_json` output.

        Parameters
        ----------
        data : dict
            Output of :meth:`to_json` (lists where the spec holds tuples are accepted).

        Returns
        -------
        PhantomSpec

        Raises
        ------
        InputError
            When ``data`` holds a key that is not a spec field.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown phantom spec fields {sorted(unknown)}")
        kw = dict(data)
        for side in ("right", "left"):
            if isinstance(kw.get(side), dict):
                hs = dict(kw[side])
                if hs.get("collapse_direction_lps") is not None:
                    hs["collapse_direction_lps"] = tuple(hs["collapse_direction_lps"])
                kw[side] = HipSpec(**hs)
        for name in ("matrix", "oblique_deg"):
            if name in kw:
                kw[name] = tuple(kw[name])
        return cls(**kw)

    @classmethod
    def from_truth(cls, truth: str | os.PathLike | dict[str, Any]) -> "PhantomSpec":
        """The spec recorded in a ``truth.json``.

        Parameters
        ----------
        truth : path or dict
            A study folder, its ``truth.json``, or the loaded truth document.

        Returns
        -------
        PhantomSpec

        Raises
        ------
        InputError
            When the truth file cannot be read or its spec has unknown fields.
        """
        data = truth if isinstance(truth, dict) else load_truth(truth)
        return cls.from_json(data["spec"])


def _uid(spec: PhantomSpec, role: str) -> str:
    """A DICOM UID derived from the spec, so the same phantom always gets the same UIDs."""
    from pydicom.uid import generate_uid

    key = json.dumps(spec.to_json(), sort_keys=True) + role
    return generate_uid(entropy_srcs=[hashlib.sha256(key.encode()).hexdigest()])


def render_series(spec: PhantomSpec, sequence: Literal["T1", "STIR"] = "T1",
                  model: PelvisModel | None = None) -> Volume:
    """Render one coronal series of the phantom.

    Parameters
    ----------
    spec : PhantomSpec
        The phantom (grid, noise, seed).
    sequence : {"T1", "STIR"}
        MR contrast.
    model : PelvisModel, optional
        The model to render; default ``spec.model()``.

    Returns
    -------
    Volume
        int16 coronal series, shape (slices, rows, columns), on the spec's grid (LPS mm).

    Raises
    ------
    InputError
        When the spec describes an impossible hip.
    """
    model = model or spec.model()
    return render_mr(model, in_plane_mm=spec.pixel_mm, slice_mm=spec.slice_mm, gap_mm=spec.gap_mm,
                     matrix=spec.matrix, n_slices=spec.n_slices, oblique_deg=spec.oblique_deg,
                     sequence=sequence, noise_sigma=spec.noise_sigma, bias_strength=spec.bias_strength,
                     intensity_scale=spec.intensity_scale,
                     seed=spec.seed if sequence == "T1" else spec.seed + 1, center_lps=default_center(model))


def write_phantom_study(out_dir: str | os.PathLike, spec: PhantomSpec) -> dict[str, Any]:
    """Render and write a phantom study; return the content of its ``truth.json``.

    Parameters
    ----------
    out_dir : path
        Folder to create or fill; its ``T1_COR``/``STIR_COR`` subfolders must not hold files yet.
    spec : PhantomSpec
        The phantom.

    Returns
    -------
    dict
        The truth document (see the package docstring for its schema).

    Raises
    ------
    InputError
        When ``out_dir`` is a file, a series folder already holds files, or the spec describes an
        impossible hip.
    """
    out = Path(out_dir)
    sequences = ["T1", "STIR"] if spec.stir else ["T1"]
    check_study_folder(out, [SERIES_FOLDERS[seq] for seq in sequences])
    out.mkdir(parents=True, exist_ok=True)
    model = spec.model()
    study_uid, for_uid = _uid(spec, "study"), _uid(spec, "frame")
    series_entries = []
    for number, seq in enumerate(sequences, start=3):
        volume = render_series(spec, seq, model)
        series_uid = _uid(spec, f"series-{seq}")
        final = out / SERIES_FOLDERS[seq]
        write_series_folder(volume, final, patient_id=spec.patient_id, patient_name=spec.patient_name,
                            study_instance_uid=study_uid, series_instance_uid=series_uid,
                            frame_of_reference_uid=for_uid, study_date=spec.study_date,
                            series_description=f"COR {seq}", series_number=number, sequence=seq,
                            modality="MR", shuffle_seed=spec.seed + number,
                            extra={"SliceThickness": f"{spec.slice_mm:g}"})
        series_entries.append({
            "series_instance_uid": series_uid, "sequence": seq, "folder": final.name,
            "spacing": list(volume.spacing), "oblique_deg": list(spec.oblique_deg),
            "shape": list(volume.shape), "origin": list(volume.origin),
            "direction": volume.direction.tolist(), "slice_thickness_mm": spec.slice_mm,
        })
    truth = {
        "schema": TRUTH_SCHEMA,
        "spec": spec.to_json(),
        "patient_id": spec.patient_id,
        "study_instance_uid": study_uid,
        "frame_of_reference_uid": for_uid,
        "series": series_entries,
        "hips": [dict(hip_truth(h).to_json(), radiographic_lesion=_radiographic_lesion(spec, h))
                 for h in model.hips],
    }
    write_json(out / "truth.json", truth)
    return truth


def _radiographic_lesion(spec: PhantomSpec, hip: Any) -> bool:
    """Whether the radiographs of this phantom show the hip's lesion (False without a lesion)."""
    return hip.lesion is not None and getattr(spec, hip.side).radiographic_lesion


def load_truth(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a phantom ``truth.json``.

    Parameters
    ----------
    path : path
        A study folder or its ``truth.json``.

    Returns
    -------
    dict
        The truth document (schema ``onfh-imaging/phantom-truth/1``).

    Raises
    ------
    InputError
        When the file is missing, not JSON, or not a phantom truth document.
    """
    p, data = read_truth_file(path, hint="generate one with `onfh phantom`")
    if not isinstance(data, dict) or data.get("schema") != TRUTH_SCHEMA:
        raise InputError(f"not a phantom truth document (expected schema {TRUTH_SCHEMA!r})", path=p)
    for key in ("spec", "series", "hips"):
        if key not in data:
            raise InputError(f"phantom truth lacks {key!r}", path=p)
    return data


def truth_summary(truth: dict[str, Any]) -> list[str]:
    """One line per hip: head radius and volume, collapse, lesion and stages.

    Parameters
    ----------
    truth : dict
        A truth document (:func:`load_truth`).

    Returns
    -------
    list of str
        One line per hip, in the document's order.
    """
    lines = []
    for hip in truth["hips"]:
        head, les, st = hip["head"], hip["lesion"], hip["staging"]
        text = (f"{hip['side']:>5} hip: head R {head['radius_mm']:.1f} mm, {head['volume_ml']:.2f} mL, "
                f"collapse {head['collapse_depth_mm']:.1f} mm")
        if les:
            text += (f", lesion {les['volume_ml']:.2f} mL ({les['head_involvement_pct']:.1f} %, "
                     f"Kerboul {les['kerboul_angle_deg']:.0f} deg, {les['core']})")
        text += f"; ARCO 2019 {st['arco_2019']}, Steinberg {st['steinberg_extent'] or '-'}"
        lines.append(text)
    return lines


def _slice_positions_mm(files: list[Path]) -> np.ndarray:
    """Position of each file's slice along its series' slice normal (mm)."""
    import pydicom

    positions = []
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        positions.append(float(np.dot(np.asarray(ds.ImagePositionPatient, dtype=float), normal)))
    return np.asarray(positions)


def clone_phantom_study(src: str | os.PathLike, dst: str | os.PathLike, *, patient_id: str, study_date: str,
                        drop_middle_slice: bool = False) -> str:
    """Copy a phantom study as another patient or visit: same pixels, new identity.

    Every series folder of ``src`` (e.g. ``T1_COR/``) is written under ``dst`` with the same file
    names, a new PatientID and StudyDate, and new Study, Series, Frame of Reference and SOP Instance
    UIDs; ``truth.json`` is not copied (its identifiers would no longer match the files).

    Parameters
    ----------
    src : path
        A phantom study folder, as written by :func:`write_phantom_study`.
    dst : path
        Folder of the copy; created if missing, files of the same name are overwritten.
    patient_id : str
        PatientID of the copy.
    study_date : str
        StudyDate of the copy, DICOM ``YYYYMMDD``.
    drop_middle_slice : bool
        Leave out the middle slice (by position along the slice normal) of every series, so that
        the copy is an incomplete series with a gap of one slice pitch (mm).

    Returns
    -------
    str
        The copy's StudyInstanceUID.

    Raises
    ------
    InputError
        When ``src`` holds no series folder.
    """
    import pydicom
    from pydicom.uid import generate_uid

    source, target = Path(src), Path(dst)
    folders = sorted(p for p in source.iterdir() if p.is_dir()) if source.is_dir() else []
    if not folders:
        raise InputError("no series folder to copy", path=source,
                         hint="give a phantom study folder written by `onfh phantom`")
    study, frame = generate_uid(), generate_uid()
    for folder in folders:
        series = generate_uid()
        files = sorted(folder.iterdir())
        if drop_middle_slice:
            files.pop(int(np.argsort(_slice_positions_mm(files))[len(files) // 2]))
        for f in files:
            ds = pydicom.dcmread(f)
            ds.PatientID, ds.StudyDate, ds.StudyInstanceUID = patient_id, study_date, study
            ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series, frame
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            out = target / folder.name / f.name
            out.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(out)
    return study


__all__ = ["HipSpec", "PhantomSpec", "SERIES_FOLDERS", "TRUTH_SCHEMA", "clone_phantom_study", "load_truth",
           "render_series", "truth_summary", "write_phantom_study"]

"""The one measuring pipeline behind the CLI, the napari plugin and the batch layer.

Data flows one way: read -> segment -> measure -> stage -> report. Every face of the toolkit calls
:func:`measure_series` (one series) or :func:`measure_path` (whatever a folder holds), so they all give the
same numbers for the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onfh_imaging import __version__
from onfh_imaging.contract import MEASUREMENT_SCHEMA, input_block
from onfh_imaging.errors import InputError, MeasurementError, NotMeasuredError
from onfh_imaging.vocab import MR_MODALITY, RADIOGRAPH_MODALITIES

Progress = Callable[[float, str], None]


@dataclass
class HipResult:
    """One hip of an MR series: its masks (on the image grid) and its measures."""

    side: str
    segmentation: Any  # onfh_imaging.segment.mri.HipSegmentation
    measures: Any  # onfh_imaging.measure.hip.HipMeasures
    jic: Any = None  # onfh_imaging.measure.jic.JicResult

    def to_dict(self) -> dict:
        from onfh_imaging.measure.jic import with_jic

        return with_jic(self.measures.to_dict(), self.jic)


@dataclass
class StudyResult:
    """Measures of one series of one study, and what they were computed from."""

    info: Any  # onfh_imaging.io.SeriesInfo
    hips: list[HipResult] = field(default_factory=list)
    series: Any = None  # onfh_imaging.io.Series (MR) or None
    radiograph: Any = None  # onfh_imaging.geometry.Radiograph or None
    radiograph_report: dict | None = None
    warnings: list[str] = field(default_factory=list)
    fluid_info: Any = None  # onfh_imaging.io.SeriesInfo of the fluid-sensitive series used for the lesion
    unmeasured: list[tuple[Any, str]] = field(default_factory=list)
    """MR hips segmented but not measured: ``(HipSegmentation, reason)``, so a reader can correct them."""

    def to_json(self) -> dict:
        """The measurement JSON contract (schema ``onfh-imaging/measurement/1``)."""
        if self.radiograph_report is not None:
            return self.radiograph_report
        return {
            "schema": MEASUREMENT_SCHEMA,
            "software_version": __version__,
            "input": {**input_block(self.info), **self._fluid_block()},
            "hips": [hip.to_dict() for hip in self.hips],
            "warnings": list(self.warnings),
        }

    def _fluid_block(self) -> dict:
        """The fluid-sensitive series (STIR / fat-saturated T2) that outlined the lesion, when one was used."""
        if self.fluid_info is None:
            return {}
        return {"fluid_sensitive_series_instance_uid": getattr(self.fluid_info, "series_instance_uid", None),
                "fluid_sensitive_series_description": getattr(self.fluid_info, "series_description", None)}


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def measure_mr(series: Any, *, fluid_sensitive: Any = None, progress: Progress | None = None,
               head_seeds: Mapping[str, Sequence] | None = None) -> StudyResult:
    """Segment and measure every femoral head of an MR series.

    Parameters
    ----------
    series : onfh_imaging.io.Series
        A T1-weighted series (coronal preferred) read with :func:`onfh_imaging.io.read_series`.
    fluid_sensitive : onfh_imaging.io.Series, optional
        A STIR / fat-saturated T2 series of the same study and frame of reference, used for the lesion.
    progress : callable, optional
        Called as ``progress(fraction, message)``.
    head_seeds : mapping, optional
        ``{"left" | "right": LPS point near the head centre, or >= 3 points on its outline}`` (mm): those
        heads are placed from the seed instead of searched for (see
        :func:`onfh_imaging.segment.mri.segment_hips`); their quality records "head placed by hand".

    Returns
    -------
    StudyResult
        ``hips``: one :class:`HipResult` per head measured and staged, right hip first, with its JIC type;
        ``unmeasured``: ``(HipSegmentation, reason)`` per head segmented whose measurement failed (a
        warning says so, and the other hip is still measured); ``warnings``: the series' own first.

    Raises
    ------
    SegmentationError
        No femoral head is found in the field of view, or none fits near a seed.
    """
    from onfh_imaging.measure.hip import measure_hip
    from onfh_imaging.segment.mri import segment_hips
    from onfh_imaging.staging import stage_hip

    def seg_progress(fraction: float, message: str) -> None:
        _report(progress, 0.1 + 0.7 * fraction, message)

    hips_seg = segment_hips(
        series.volume,
        fluid_sensitive=None if fluid_sensitive is None else fluid_sensitive.volume,
        progress=seg_progress,
        head_seeds=head_seeds,
    )
    result = StudyResult(info=series.info, series=series, warnings=list(series.warnings),
                         fluid_info=None if fluid_sensitive is None else fluid_sensitive.info)
    for n, seg in enumerate(hips_seg):
        _report(progress, 0.8 + 0.2 * n / max(len(hips_seg), 1), f"measuring the {seg.side} hip")
        # partial-volume fractions carry the sub-voxel surface; the binary masks are for display and editing
        head = seg.femoral_head_mask if seg.femoral_head_fraction is None else seg.femoral_head_fraction
        lesion = seg.lesion_mask if seg.lesion_fraction is None else seg.lesion_fraction
        try:
            measures = stage_hip(measure_hip(head, lesion, side=seg.side, neck_axis_lps=seg.neck_axis_lps,
                                             segmentation_quality=seg.quality,
                                             surface_resolved_at=seg.surface_resolved_at))
        except MeasurementError as exc:  # one unmeasurable hip does not void the other
            result.warnings.append(f"{seg.side} hip not measured: {exc}")
            result.unmeasured.append((seg, str(exc)))
            continue
        measures.warnings.extend(w for w in seg.warnings if w not in measures.warnings)
        result.hips.append(HipResult(side=seg.side, segmentation=seg, measures=measures,
                                     jic=_jic(series.volume, seg, lesion)))
    _report(progress, 1.0, "done")
    return result


def _jic(image: Any, seg: Any, lesion: Any) -> Any:
    """JIC type of a segmented hip (lateral acetabular edge found on the image, lesion on the mid-coronal plane)."""
    from onfh_imaging.measure.jic import classify_jic

    return classify_jic(image, lesion, seg.head_center_lps, seg.head_radius_mm, seg.side)


def measure_picture_file(path: str | Path, *, pixel_mm: float | None = None, progress: Progress | None = None,
                         head_seeds: Mapping[str, Sequence[float]] | None = None) -> StudyResult:
    """Find and measure the femoral heads on a PNG or JPEG picture of a radiograph.

    A picture has no header: with ``pixel_mm`` (mm per pixel at the patient, source ``"user"``) it is
    measured in mm, without it the head is searched over plausible scales and measured in pixels.

    Parameters
    ----------
    path : str or Path
        The picture file.
    pixel_mm : float, optional
        Size of a (square) pixel at the patient, mm. A calibration ball found on the picture overrides it
        (:func:`measure_radiograph`).
    progress : callable, optional
        Called as ``progress(fraction, message)``.
    head_seeds : mapping of side to (row, col) points, optional
        Hand-placed heads, as for :func:`measure_radiograph_file`.

    Returns
    -------
    StudyResult
        ``radiograph`` and ``radiograph_report`` (the contract of :func:`measure_radiograph`), whose
        warnings say the picture was measured in pixels when ``pixel_mm`` is not given.

    Raises
    ------
    UnsupportedInputError
        ``pixel_mm`` is not a finite positive number.
    UnreadableFileError, TooLargeError
        The file is not a picture that can be decoded, or its pixels would take too much memory.
    SegmentationError
        Neither a femoral head nor a hip replacement is found.
    """
    from onfh_imaging.io.radiograph import read_picture

    _report(progress, 0.1, "reading the picture")
    rx, info = read_picture(path, pixel_mm=pixel_mm)
    _report(progress, 0.3, "finding the femoral heads")
    report = measure_radiograph(rx, info, seeds=head_seeds)
    if report["input"].get("pixel_size_mm") is None:  # a calibration ball in the picture gives mm
        report["warnings"].append("a picture has no pixel size: measured in pixels (give --pixel-mm for mm)")
    _report(progress, 1.0, "done")
    return StudyResult(info=info, radiograph=rx, radiograph_report=report)


def measure_radiograph_file(path: str | Path, *, progress: Progress | None = None,
                            head_seeds: Mapping[str, Sequence[float]] | None = None) -> StudyResult:
    """Find and measure the femoral heads of one radiograph (CR / DX).

    Parameters
    ----------
    path : str or Path
        The DICOM file.
    progress : callable, optional
        Called as ``progress(fraction, message)``.
    head_seeds : mapping of side to (row, col) points, optional
        ``{"left" | "right": a (row, col) point near the head's centre, or >= 3 (row, col) points on its
        outline}`` (pixels); seeded heads are delineated from the seed, not searched for, and no hip
        replacement is looked for.

    Returns
    -------
    StudyResult
        ``radiograph`` (as read, bone bright) and ``radiograph_report`` (the contract of
        :func:`measure_radiograph`).

    Raises
    ------
    NoPixelDataError, UnsupportedInputError, UnreadableFileError, TooLargeError
        The file cannot be read as one radiograph (:func:`onfh_imaging.io.read_radiograph`).
    SegmentationError
        Neither a femoral head nor a hip replacement is found (naming the file).
    """
    from onfh_imaging.io import read_radiograph

    _report(progress, 0.1, "reading the radiograph")
    rx, info = read_radiograph(path)
    _report(progress, 0.3, "finding the femoral heads")
    report = measure_radiograph(rx, info, seeds=head_seeds)
    _report(progress, 1.0, "done")
    return StudyResult(info=info, radiograph=rx, radiograph_report=report)


def measure_radiograph(rx: Any, info: Any = None, *, calibration_ball_mm: float | None = None,
                       seeds: Mapping[str, Sequence[float]] | None = None) -> dict[str, Any]:
    """Find, measure and stage the femoral heads of one radiograph: the JSON contract for a radiograph.

    The radiograph's own path through read -> segment -> measure -> stage -> report: the pixel size is
    calibrated (:func:`onfh_imaging.measure.radiograph.calibrate`), heads and replacements are found
    (:mod:`onfh_imaging.segment.xray`, :mod:`onfh_imaging.segment.xray_prosthesis`), each head is measured
    (:func:`onfh_imaging.measure.radiograph.measure_head_contour`), read for the lesion's finding
    (:func:`onfh_imaging.measure.radiograph_lesion.radiographic_lesion`) and staged
    (:func:`onfh_imaging.staging.stage_radiograph_head`).

    Parameters
    ----------
    rx : Radiograph
        The image with bone bright and its pixel size at the patient (if known).
    info : SeriesInfo, optional
        Header summary (patient, study, series, modality) for the ``input`` block.
    calibration_ball_mm : float, optional
        Diameter (mm) of the calibration sphere to look for (default
        :data:`onfh_imaging.measure.radiograph.CALIBRATION_BALL_MM`).
    seeds : mapping of side to points, optional
        Hand-placed heads (see :func:`onfh_imaging.segment.xray.find_femoral_heads_2d`): each seeded
        head is delineated from its seed without the automatic search.

    Returns
    -------
    dict
        ``{"schema", "software_version", "input", "hips", "prosthesis_detected", "warnings"}``; each hip
        holds ``side``, ``head`` (``center_px``, ``radius_mm``, ``max_deviation_mm``, ``collapse_depth_mm``,
        ``joint_space_width_mm`` and their ``*_px`` twins), ``lesion`` (None), ``staging``, ``quality``,
        ``radiographic_lesion`` and ``warnings``.

    Raises
    ------
    SegmentationError
        No femoral head found (naming the file when ``info`` has one).
    """
    from onfh_imaging.errors import SegmentationError
    from onfh_imaging.measure.radiograph import CALIBRATION_BALL_MM, calibrate
    from onfh_imaging.segment.xray import find_femoral_heads_2d
    from onfh_imaging.segment.xray_prosthesis import find_prostheses, native_heads

    files = getattr(info, "files", None)
    path = str(files[0]) if files else None
    rx_cal, ball, warnings = calibrate(rx, CALIBRATION_BALL_MM if calibration_ball_mm is None else calibration_ball_mm)
    prostheses = [] if seeds else find_prostheses(rx_cal)
    try:
        contours = find_femoral_heads_2d(rx_cal, seeds=seeds)
    except SegmentationError as exc:
        if not prostheses:
            if path is None:
                raise
            raise SegmentationError(str(exc), path=path) from exc
        contours = []
    hips = [dict(radiograph_hip_report(c, rx_cal), prosthesis_detected=False)
            for c in native_heads(contours, prostheses)]
    hips += [prosthesis_report(p) for p in prostheses]
    hips.sort(key=lambda h: h["side"] != "right")
    for p in prostheses:
        warnings.append(f"hip replacement on the {p.side} side (metal with a stem and a ball or cup): its femoral "
                        "head is not native and is not measured")
    return {"schema": MEASUREMENT_SCHEMA, "software_version": __version__,
            "input": _radiograph_input_block(info, rx_cal, ball), "hips": hips,
            "prosthesis_detected": bool(prostheses), "warnings": warnings}


def radiograph_hip_report(contour: Any, rx: Any) -> dict[str, Any]:
    """One hip of the radiograph JSON contract from its head contour: measures, finding, stage, quality.

    Parameters
    ----------
    contour : HeadContour2D
        From :func:`onfh_imaging.segment.xray.find_femoral_heads_2d`.
    rx : Radiograph
        The (calibrated, if possible) radiograph the contour was found on.

    Returns
    -------
    dict
        ``{"side", "head", "lesion": None, "staging", "quality", "warnings", "radiographic_lesion"}``;
        ``head`` is None (and the reason in ``quality`` and ``warnings``) when the contour cannot be
        measured.
    """
    from onfh_imaging.measure.radiograph import measure_head_contour
    from onfh_imaging.measure.radiograph_lesion import radiographic_lesion
    from onfh_imaging.quality import combine
    from onfh_imaging.segment.xray_anatomy import superior_angle_deg
    from onfh_imaging.staging import stage_radiograph_head

    try:  # the dome and the articular arc lie about the patient's superior direction
        m = measure_head_contour(contour, rx.pixel_size_mm, superior_deg=superior_angle_deg(rx))
    except MeasurementError as exc:
        return {"side": contour.side, "head": None, "lesion": None,
                "staging": {"arco_2019": None, "arco_basis": str(exc), "steinberg_extent": None},
                "quality": combine(()).with_reason(str(exc), blocks_stage_iii=True, name="outline_measured").to_dict(),
                "warnings": [str(exc)]}
    hip_warnings = [*m.warnings, f"side from {m.side_basis}"]
    if not rx.calibrated:
        hip_warnings.append("measured in pixels: the pixel size is unknown")
    if contour.placed_by_hand:
        hip_warnings.append("head placed by hand")
    finding = radiographic_lesion(contour, rx, outline_checks=m.quality.checks)
    return {"side": m.side, "head": m.head_dict(), "lesion": None, "staging": stage_radiograph_head(m),
            "quality": m.quality.to_dict(), "warnings": hip_warnings, "radiographic_lesion": finding.to_dict()}


def prosthesis_report(p: Any) -> dict[str, Any]:
    """The hip of the JSON contract for a hip replacement: no native head, no stage, the implant's place.

    Parameters
    ----------
    p : Prosthesis
        From :func:`onfh_imaging.segment.xray_prosthesis.find_prostheses`.

    Returns
    -------
    dict
        ``{"side", "head": None, "lesion": None, "staging", "quality", "prosthesis_detected": True,
        "prosthesis", "warnings"}``; ``prosthesis`` holds the ball's centre and radius and the stem's length
        and width, in pixels.
    """
    from onfh_imaging.quality import combine

    reason = "hip replacement: the femoral head is a metal implant, not a native head to measure or stage"
    return {"side": p.side, "head": None, "lesion": None,
            "staging": {"arco_2019": None, "arco_basis": reason, "steinberg_extent": None},
            "quality": combine(()).with_reason(reason, blocks_stage_iii=True, name="native_head").to_dict(),
            "prosthesis_detected": True,
            "prosthesis": {"ball_center_px": [round(v, 2) for v in p.ball_center_px],
                           "ball_radius_px": round(p.ball_radius_px, 2), "stem_length_px": round(p.stem_length_px, 1),
                           "stem_width_px": round(p.stem_width_px, 1), "side_basis": p.side_basis},
            "warnings": [reason, f"side from {p.side_basis}"]}


def _radiograph_input_block(info: Any, rx: Any, ball: Any) -> dict[str, Any]:
    block = {
        **input_block(info),
        "view": rx.view,
        "pixel_size_mm": None if rx.pixel_size_mm is None else [round(v, 5) for v in rx.pixel_size_mm],
        "pixel_size_source": rx.pixel_size_source,
    }
    if ball is not None:
        block["calibration_ball"] = {"center_px": [round(v, 2) for v in ball.center_px],
                                     "diameter_px": round(ball.diameter_px, 2)}
    return block


def measure_series(source: str | Path | Sequence[str | Path], series_instance_uid: str | None = None, *,
                   progress: Progress | None = None) -> StudyResult:
    """Read one series (MR or radiograph) and measure it.

    For an MR study folder holding several series, the series to measure is chosen as
    :func:`measure_path` does (coronal T1 preferred, a STIR/T2 fat-sat of the same frame of reference used
    for the lesion) unless ``series_instance_uid`` names one. Everything :func:`measure_path` plans under
    ``source`` is measured, stopping at the first failure; the first result is returned.

    Parameters
    ----------
    source : str, Path or sequence of them
        Files, folders or zip archives (scanned as one set), or one PNG / JPEG picture.
    series_instance_uid : str, optional
        The SeriesInstanceUID or sub-series key to measure.
    progress : callable, optional
        Called as ``progress(fraction, message)``.

    Returns
    -------
    StudyResult
        The first series planned, in patient / study-date order.

    Raises
    ------
    InputError
        Nothing under ``source`` can be measured (:func:`nothing_measured`, giving each refusal), or no
        series matches ``series_instance_uid``.
    UnreadableFileError
        A path of ``source`` does not exist.
    OnfhError
        The first error met reading or measuring a planned series (:func:`measure_files`).
    """
    refusals: list[Any] = []
    studies = measure_path(source, series_instance_uid=series_instance_uid, progress=progress,
                           stop_on_error=True, on_refusal=refusals.append)
    if not studies:
        raise nothing_measured(source, refusals)
    return studies[0]


def nothing_measured(source: Any, refusals: Sequence[Any], headline: str = "no measurable series found"
                     ) -> InputError:
    """The error for a path where nothing could be measured (or shown), giving the refusals' reasons.

    Parameters
    ----------
    source : str, Path or sequence of them
        What was given; a sequence is named as its paths joined by commas.
    refusals : sequence of Refusal
        Why each file and series was not measured (:class:`onfh_imaging.plan.Refusal`).
    headline : str
        The message's opening words.

    Returns
    -------
    InputError
        Not raised: the caller raises it. Without refusals it says no DICOM files were found and hints at
        what to give; otherwise it gives the refusals' lines (at most
        :data:`onfh_imaging.plan.LINES_PER_KIND` of each kind, then a count) and keeps them as
        ``exc.refusals``.
    """
    from onfh_imaging.plan import LINES_PER_KIND, refusal_lines

    where = source if isinstance(source, (str, Path)) else ", ".join(str(p) for p in source)
    if not refusals:
        return InputError(f"{headline}: no DICOM files found", path=str(where),
                          hint="give a folder, zip archive or file holding a hip MR series or radiograph")
    lines = list(refusal_lines(refusals, limit_per_kind=LINES_PER_KIND))
    exc = InputError(f"{headline}: " + "; ".join(lines), path=str(where))
    exc.refusals = list(refusals)
    return exc


def _paths(source: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(source, (str, Path)):
        return [Path(source)]
    return [Path(p) for p in source]


def plan_with_refusals(source: str | Path | Sequence[str | Path], series_instance_uid: str | None = None
                       ) -> tuple[list[tuple], list[Any]]:
    """What :func:`measure_path` would measure, and why everything else under ``source`` is not.

    Only headers are read. A list of files is scanned as one set, so the slices of one series given file by
    file come together again.

    Parameters
    ----------
    source : str, Path or sequence of them
        Files, folders or zip archives.
    series_instance_uid : str, optional
        Plan only this series (SeriesInstanceUID or sub-series key); files are then not refused.

    Returns
    -------
    plans : list of (SeriesInfo, SeriesInfo or None)
        ``(primary, fluid-sensitive companion)`` per series to measure (every radiograph of a study and its
        chosen MR series), in patient / study-date order within each path, the paths in the order given.
    refusals : list of Refusal
        One :class:`onfh_imaging.plan.Refusal` per file, then per series, that will not be measured.

    Raises
    ------
    UnreadableFileError
        A path of ``source`` does not exist.
    """
    from onfh_imaging.io import scan
    from onfh_imaging.plan import plan_scan

    return plan_scan((scan(path) for path in _paths(source)), series_instance_uid)


def plan_path(source: str | Path | Sequence[str | Path], series_instance_uid: str | None = None) -> list[tuple]:
    """What :func:`measure_path` would measure: the plans of :func:`plan_with_refusals`.

    Parameters
    ----------
    source : str, Path or sequence of them
        Files, folders or zip archives.
    series_instance_uid : str, optional
        Plan only this series (SeriesInstanceUID or sub-series key).

    Returns
    -------
    list of (SeriesInfo, SeriesInfo or None)
        ``(primary, fluid-sensitive companion)`` per series to measure, in patient / study-date order.

    Raises
    ------
    UnreadableFileError
        A path of ``source`` does not exist.
    """
    return plan_with_refusals(source, series_instance_uid)[0]


def measure_files(modality: str, files: Sequence[str | Path], series_instance_uid: str | None = None, *,
                  fluid_files: Sequence[str | Path] = (), fluid_series_instance_uid: str | None = None,
                  progress: Progress | None = None,
                  head_seeds: Mapping[str, Sequence] | None = None) -> StudyResult:
    """Measure one chosen series given by its files (and, for MR, an optional fluid-sensitive companion).

    This is the unit of work of :func:`measure_path` and of the batch layer.

    Parameters
    ----------
    modality : str
        The series' DICOM modality: ``"MR"``, or a radiograph's (``"CR"``, ``"DX"``).
    files : sequence of str or Path
        The series' files; a radiograph is its first file.
    series_instance_uid : str, optional
        Which series to read from ``files`` (MR).
    fluid_files : sequence of str or Path
        A STIR / fat-saturated T2 series of the same study (MR); one that cannot be read is left out with
        a warning.
    fluid_series_instance_uid : str, optional
        Which series to read from ``fluid_files``.
    progress : callable, optional
        Called as ``progress(fraction, message)``.
    head_seeds : mapping of side to points, optional
        Hand-placed heads: the seeds of three coordinates (LPS mm) go to :func:`measure_mr`, those of two
        (row, column, pixels) to :func:`measure_radiograph_file`; the others are ignored.

    Returns
    -------
    StudyResult

    Raises
    ------
    NotMeasuredError
        ``modality`` is neither MR nor a radiograph's.
    InputError
        The series cannot be read (:func:`onfh_imaging.io.read_series`,
        :func:`onfh_imaging.io.read_radiograph`).
    SegmentationError
        No femoral head (nor, on a radiograph, hip replacement) is found.
    """
    from onfh_imaging.io import read_series

    if modality in RADIOGRAPH_MODALITIES:
        return measure_radiograph_file(files[0], progress=progress, head_seeds=_seeds_of_dimension(head_seeds, 2))
    if modality != MR_MODALITY:
        raise NotMeasuredError(f"modality {modality} is not measured (MR and radiographs are)",
                               path=str(files[0]))
    _report(progress, 0.0, "reading the series")
    series = read_series(list(files), series_instance_uid)
    fluid = None
    if fluid_files:
        try:
            fluid = read_series(list(fluid_files), fluid_series_instance_uid)
        except InputError as exc:
            series.warnings.append(f"fluid-sensitive series not used: {exc}")
    return measure_mr(series, fluid_sensitive=fluid, progress=progress, head_seeds=_seeds_of_dimension(head_seeds, 3))


def _seeds_of_dimension(head_seeds: Mapping[str, Sequence] | None, n: int) -> dict[str, Sequence] | None:
    """The seeds whose points have ``n`` coordinates (3: LPS mm for MR; 2: row, column on a radiograph)."""
    if not head_seeds:
        return None
    out = {side: pts for side, pts in head_seeds.items() if np.shape(pts)[-1] == n}
    return out or None


def measure_path(source: str | Path | Sequence[str | Path], series_instance_uid: str | None = None, *,
                 progress: Progress | None = None, stop_on_error: bool = False,
                 on_error: Callable[[Any, Exception], None] | None = None,
                 head_seeds: Mapping[str, Sequence] | None = None,
                 on_refusal: Callable[[Any], None] | None = None,
                 plans: tuple[list[tuple], list[Any]] | None = None,
                 pixel_mm: float | None = None) -> list[StudyResult]:
    """Measure every study found under ``source`` (files, folders, zip archives).

    A PNG or JPEG picture of a radiograph is measured on its own (:func:`measure_picture_file`), with
    ``pixel_mm`` as its pixel size when given, else in pixels; its errors are raised. Each study contributes
    its best MR series (and every radiograph). The AP radiographs of a visit whose MR series shows a lesion are
    also read along that lesion's outline (:func:`onfh_imaging.visit_priors.with_mri_lesion_outlines`).

    Parameters
    ----------
    source : str, Path or sequence of them
        Files, folders or zip archives (scanned as one set), or one picture file.
    series_instance_uid : str, optional
        Measure only this series (SeriesInstanceUID or sub-series key).
    progress : callable, optional
        Called as ``progress(fraction, message)``, the fraction over all series planned.
    stop_on_error : bool
        Raise the first series' error. Otherwise a series whose reading or measuring fails is passed on
        and the others are measured; it is raised too when neither ``on_error`` nor ``on_refusal`` is given.
    on_error : callable, optional
        Called as ``on_error(series_info, exc)`` for each series that failed.
    head_seeds : mapping of side to points, optional
        Hand-placed heads for every series measured (see :func:`measure_files`); meant for one study.
    on_refusal : callable, optional
        Receives a :class:`onfh_imaging.plan.Refusal` for every file and series not measured: first those
        refused from their headers, then each series whose reading or measuring failed.
    plans : (plans, refusals), optional
        What :func:`plan_with_refusals` returned for ``source``, when the caller has it already.
    pixel_mm : float, optional
        Size of a pixel at the patient (mm) of a picture ``source``.

    Returns
    -------
    list of StudyResult
        One per series measured, in plan order (patient / study date); failed series left out.

    Raises
    ------
    InputError
        ``series_instance_uid`` names no series under ``source`` (nor a refused one).
    UnreadableFileError
        A path of ``source`` does not exist.
    OnfhError
        With ``stop_on_error``, or without ``on_error`` and ``on_refusal``, the first series' error
        (:func:`measure_files`); a picture's error always.
    """
    from onfh_imaging.io.radiograph import is_picture
    from onfh_imaging.plan import explain_failure

    if isinstance(source, (str, Path)) and is_picture(source) and Path(source).is_file():
        return [measure_picture_file(source, pixel_mm=pixel_mm, progress=progress,
                                     head_seeds=_seeds_of_dimension(head_seeds, 2))]
    plans, refusals = plans if plans is not None else plan_with_refusals(source, series_instance_uid)
    if series_instance_uid is not None and not plans and not refusals:
        raise InputError(f"no series with SeriesInstanceUID or key {series_instance_uid}", path=str(source),
                         hint="`onfh scan --json PATH` lists the keys")
    for refusal in refusals:
        if on_refusal is not None:
            on_refusal(refusal)
    results: list[StudyResult] = []
    for n, (primary, fluid) in enumerate(plans):
        def sub_progress(fraction: float, message: str, n: int = n) -> None:
            _report(progress, (n + fraction) / len(plans), message)

        try:
            results.append(measure_files(
                primary.modality, primary.files, primary.series_instance_uid,
                fluid_files=() if fluid is None else fluid.files,
                fluid_series_instance_uid=None if fluid is None else fluid.series_instance_uid,
                progress=sub_progress, head_seeds=head_seeds))
        except Exception as exc:  # one failing study never stops the others
            if stop_on_error or (on_error is None and on_refusal is None):
                raise
            if on_refusal is not None:
                on_refusal(explain_failure(primary, exc))
            if on_error is not None:
                on_error(primary, exc)
    from onfh_imaging.visit_priors import with_mri_lesion_outlines

    return with_mri_lesion_outlines(results)  # each AP radiograph read where the visit's MRI shows the lesion

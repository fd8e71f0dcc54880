"""A reader's session with one series: automatic masks and measures, the reader's edits, one
confirmation per hip.

This is the reading workflow without a screen: the napari plugin only displays a
:class:`ReadingSession` and drives it, and the tests drive it directly. Data flows one way:

1. :meth:`ReadingSession.compute` runs the toolkit's own pipeline
   (:func:`onfh_imaging.pipeline.measure_mr`, or :func:`onfh_imaging.pipeline.measure_radiograph`)
   on the series, optionally from head seeds the reader placed; :meth:`ReadingSession.load` makes the
   result the automatic read. ``compute`` touches no state, so it may run in a worker thread.
2. The reader edits the labels (:attr:`HipRead.labels`, ``[k, j, i]`` arrays on the image grid) anywhere
   in the image; :meth:`ReadingSession.jobs` / :func:`measure_job` / :meth:`ReadingSession.apply` measure
   the edited hips again (:func:`measured_masks` keeps the automatic sub-voxel fractions wherever the
   labels still agree with the automatic masks).
3. :meth:`ReadingSession.confirm` stores one :class:`~onfh_imaging.reads.ReadRecord` holding a decision
   per hip, and refuses a stage for a hip whose measurement failed unless the reader records it as not
   assessable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onfh_imaging._reading_jobs import MeasureJob, measure_job, measure_job_shown
from onfh_imaging._reading_masks import FRACTION_MARGIN_VOXELS, measured_masks
from onfh_imaging._reading_surface import (
    DISPLAY_CELL_VOXELS,
    DisplaySurface,
    decimate_surface,
    display_surface,
)
from onfh_imaging.errors import InputError
from onfh_imaging.geometry import Radiograph, Volume
from onfh_imaging.reads import (
    ARCO_2019_STAGES,
    HEAD,
    LESION,
    NOT_ASSESSABLE,
    ReadRecord,
    ReadStore,
    confirm_read,
    mask_name,
    mask_sha256,
    most_severe_stage,
)

Progress = Callable[[float, str], None]

# (row label, section of the per-hip measures dict, key): each modality's own measures
MR_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Lesion volume (mL)", "lesion", "volume_ml"),
    ("Head involvement (%)", "lesion", "head_involvement_pct"),
    ("Kerboul angle (deg)", "lesion", "kerboul_angle_deg"),
    ("JIC type", "lesion", "jic_type"),
    ("Collapse depth (mm)", "head", "collapse_depth_mm"),
    ("Sphericity", "head", "sphericity"),
    ("Head radius (mm)", "head", "radius_mm"),
    ("Suggested ARCO 2019", "staging", "arco_2019"),
    ("Steinberg extent", "staging", "steinberg_extent"),
    ("Quality score", "quality", "score"),
)
RADIOGRAPH_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Head radius (mm)", "head", "radius_mm"),
    ("Max deviation, Mose (mm)", "head", "max_deviation_mm"),
    ("Collapse depth (mm)", "head", "collapse_depth_mm"),
    ("Joint space (mm)", "head", "joint_space_width_mm"),
    ("Double contour", "head", "double_contour"),
    ("Suggested ARCO 2019", "staging", "arco_2019"),
    ("Quality score", "quality", "score"),
)


def measure_value(measures: Mapping[str, Any] | None, section: str, key: str) -> Any:
    """One value of a per-hip measures dict (JSON contract).

    Parameters
    ----------
    measures : mapping or None
        A hip's measures (``{"head": {...}, "lesion": {...}, ...}``), or None when not measured.
    section, key : str
        Where the value is: ``measures[section][key]``.

    Returns
    -------
    object
        The value, in the contract's unit (mm, mL, %, degrees...); None where absent.
    """
    part = (measures or {}).get(section)
    return None if not isinstance(part, Mapping) else part.get(key)


def format_value(value: Any) -> str:
    """A measure as the reader sees it.

    Parameters
    ----------
    value : object
        A measure (:func:`measure_value`).

    Returns
    -------
    str
        ``-`` when absent, ``yes``/``no`` for a flag, 3 decimals below 10 and 1 from 10 up for a number,
        else the value's text.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


@dataclass
class HipDecision:
    """A reader's decision on one hip: a final ARCO 2019 stage, or not assessable.

    Attributes
    ----------
    arco_2019 : str or None
        One of :data:`~onfh_imaging.reads.ARCO_2019_STAGES`; ``"not assessable"`` (or None with
        ``assessable=False``) records the hip as not assessable.
    assessable : bool
        False when the reader could not stage the hip.
    comment : str
        The reader's comment on this hip.

    Raises
    ------
    InputError
        On creation, for an assessable hip whose stage is not an ARCO 2019 stage.
    """

    arco_2019: str | None
    assessable: bool = True
    comment: str = ""

    def __post_init__(self) -> None:
        if self.arco_2019 == NOT_ASSESSABLE:
            self.arco_2019, self.assessable = None, False
        if self.assessable and self.arco_2019 not in ARCO_2019_STAGES:
            raise InputError(f"unknown ARCO 2019 stage {self.arco_2019!r}",
                             hint=f"use one of {', '.join(ARCO_2019_STAGES)} or {NOT_ASSESSABLE!r}")


@dataclass
class HipRead:
    """One hip in a session: automatic and current masks and measures.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    automatic, current : dict or None
        Per-hip measures (JSON contract) of the automatic masks and of the labels as they are now; None
        when that measurement failed (``automatic_error`` / ``error`` say why).
    automatic_masks : dict of str to Volume
        Automatic bool masks on the image grid, keyed by structure (MR only).
    fractions : dict of str to Volume or None
        Automatic partial-volume fractions, keyed by structure (MR only).
    labels : dict of str to ndarray
        The labels the reader edits, ``[k, j, i]`` uint8 on the image grid (MR only).
    automatic_measures, measures : HipMeasures or None
        The objects behind ``automatic`` and ``current`` (surface mesh and deviation map), MR only.
    automatic_surface, surface : DisplaySurface or None
        The deviation maps of ``automatic_measures`` and ``measures`` as the screen shows them
        (:func:`display_surface`), MR only.
    neck_axis_lps : ndarray, shape (3,), or None
        Unit vector of the femoral neck axis (LPS), from the segmentation (MR only).
    center_lps : ndarray, shape (3,), or None
        Centre of the reference sphere, LPS mm: the measured one, else the segmented head's (MR only).
    radius_mm : float or None
        Radius of the reference sphere (MR) or of the head's circle (radiograph), mm.
    automatic_error, error : str or None
        Why the automatic / current measurement failed, or None.
    segmentation_warnings : tuple of str
        The segmentation's warnings about this hip.
    head_seed : list of tuple or None
        Points the reader placed to find this head (LPS mm, or row/column on a radiograph).
    measured_hashes, automatic_hashes : dict of str to str
        SHA-256 of each structure's labels when last measured, and of the automatic masks.
    """

    side: str
    automatic: dict[str, Any] | None
    automatic_masks: dict[str, Volume] = field(default_factory=dict)
    fractions: dict[str, Volume | None] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    neck_axis_lps: Any = None
    center_lps: np.ndarray | None = None
    radius_mm: float | None = None
    automatic_error: str | None = None
    segmentation_warnings: tuple[str, ...] = ()
    head_seed: list[tuple[float, ...]] | None = None
    automatic_measures: Any = None
    current: dict[str, Any] | None = None
    error: str | None = None
    measures: Any = None
    measured_hashes: dict[str, str] = field(default_factory=dict)
    automatic_hashes: dict[str, str] = field(default_factory=dict)
    automatic_surface: DisplaySurface | None = None
    surface: DisplaySurface | None = None

    def __post_init__(self) -> None:
        if self.current is None and self.error is None:
            self.current, self.error = self.automatic, self.automatic_error
        if self.measures is None:
            self.measures, self.surface = self.automatic_measures, self.automatic_surface
        if not self.labels:
            self.labels = {s: np.asarray(m.array, np.uint8).copy() for s, m in self.automatic_masks.items()}
        self.measured_hashes = self.label_hashes()
        self.automatic_hashes = {s: mask_sha256(m) for s, m in self.automatic_masks.items()}

    def label_hashes(self) -> dict[str, str]:
        """SHA-256 of each structure's labels as they are now (:func:`~onfh_imaging.reads.mask_sha256`)."""
        return {s: mask_sha256(a) for s, a in self.labels.items()}

    @property
    def edited(self) -> bool:
        """True when any label differs from the automatic mask."""
        return self.label_hashes() != self.automatic_hashes

    @property
    def stale(self) -> bool:
        """True when the labels changed since they were last measured."""
        return self.label_hashes() != self.measured_hashes

    @property
    def quality(self) -> dict[str, Any]:
        """The quality block of the current (else automatic) measures: ``score``, ``needs_review``, ``reasons``."""
        return dict((self.current or self.automatic or {}).get("quality") or {})

    def notes(self) -> list[str]:
        """What the reader should know about this hip: failure, review reasons, warnings, seeding."""
        out = []
        if self.error:
            out.append(f"not measured: {self.error}")
        reasons = list(self.quality.get("reasons") or ())
        if self.head_seed and "head placed by hand" not in reasons:
            out.append("head placed by hand")
        out += [f"review: {r}" for r in reasons]
        shown = (self.current or self.automatic or {}).get("warnings") or []
        out += [str(w) for w in list(shown) + list(self.segmentation_warnings) if str(w) not in reasons]
        return list(dict.fromkeys(out))


@dataclass
class Segmented:
    """What :meth:`ReadingSession.compute` found: hips and study-level warnings.

    Attributes
    ----------
    hips : list of HipRead
        The hips found, right first; measured, or with the reason they were not.
    warnings : list of str
        Warnings about the study (a hip the pipeline skipped, no calibration ball...).
    report : dict or None
        The pipeline's whole measurement JSON (radiographs), or None.
    """

    hips: list[HipRead]
    warnings: list[str]
    report: dict[str, Any] | None = None


def _seeds(head_seeds: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Seeds as the segmentation takes them: per side one point, or a list of outline points."""
    seeds = {side: [tuple(float(v) for v in p) for p in np.atleast_2d(np.asarray(pts, float))]
             for side, pts in (head_seeds or {}).items() if len(np.atleast_1d(pts))}
    return {s: (p[0] if len(p) == 1 else p) for s, p in seeds.items()} or None


class ReadingSession:
    """One reader's session with one series (an MR volume or a radiograph).

    Parameters
    ----------
    image : Volume or Radiograph
        The series being read, with its geometry.
    info : SeriesInfo or dict, optional
        Its header summary (``series_instance_uid``, ``study_instance_uid``...).
    fluid_sensitive : Volume, optional
        A STIR / fat-suppressed series on the same grid (MR), used as the pipeline uses it.

    Attributes
    ----------
    image, info, fluid_sensitive
        As given.
    hips : list of HipRead
        The hips of the automatic read (right first), with the reader's edits; empty before :meth:`load`.
    warnings : list of str
        The study's warnings.
    report : dict or None
        The pipeline's measurement JSON (radiographs).
    segmented : bool
        True once a result was loaded.
    """

    def __init__(self, image: Volume | Radiograph, info: Any = None, *, fluid_sensitive: Volume | None = None):
        self.image = image
        self.info = info
        self.fluid_sensitive = fluid_sensitive
        self.hips: list[HipRead] = []
        self.warnings: list[str] = []
        self.report: dict[str, Any] | None = None
        self.segmented = False

    # --- what is being read ---------------------------------------------------------------------
    @property
    def is_radiograph(self) -> bool:
        """True when the series is a radiograph (else an MR volume)."""
        return isinstance(self.image, Radiograph)

    @property
    def rows(self) -> tuple[tuple[str, str, str], ...]:
        """The measures the table shows for this modality."""
        return RADIOGRAPH_ROWS if self.is_radiograph else MR_ROWS

    def _info(self, key: str) -> Any:
        return self.info.get(key) if isinstance(self.info, Mapping) else getattr(self.info, key, None)

    @property
    def series_instance_uid(self) -> str | None:
        """The series' SeriesInstanceUID, or None when its header has none."""
        uid = self._info("series_instance_uid")
        return None if uid in (None, "") else str(uid)

    def hip(self, side: str) -> HipRead:
        """One hip of the session.

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.

        Returns
        -------
        HipRead

        Raises
        ------
        KeyError
            When the session has no such hip.
        """
        for hip in self.hips:
            if hip.side == side:
                return hip
        raise KeyError(f"no {side} hip in this session")

    def table(self, side: str) -> list[tuple[str, str, str]]:
        """The table of one hip's measures, as the reader sees it.

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.

        Returns
        -------
        list of tuple of str
            ``(label, automatic, current)`` text (:func:`format_value`) of each of this modality's rows
            (:attr:`rows`).
        """
        hip = self.hip(side)
        return [(label, format_value(measure_value(hip.automatic, s, k)), format_value(measure_value(hip.current, s, k)))
                for label, s, k in self.rows]

    def measurement(self) -> dict[str, Any]:
        """This series' measurement JSON as it stands now: the ``input`` block (a radiograph's with its view
        and pixel size) and each hip's current measures, as ``onfh measure`` writes them, for the visit's
        verdict (:func:`onfh_imaging.verdict.visit_verdicts`)."""
        from types import SimpleNamespace

        from onfh_imaging.contract import MEASUREMENT_SCHEMA, input_block

        info = SimpleNamespace(**self.info) if isinstance(self.info, Mapping) else self.info
        inp = dict((self.report or {}).get("input") or input_block(info))
        if self.fluid_sensitive is not None and not self.is_radiograph:
            inp.setdefault("fluid_sensitive_series_description", "fluid-sensitive series")
        return {"schema": MEASUREMENT_SCHEMA, "input": inp, "hips": [h.current for h in self.hips if h.current],
                "warnings": list(self.warnings)}

    def has_edits(self) -> bool:
        """True when any hip's labels differ from its automatic masks."""
        return any(h.edited for h in self.hips)

    # --- segmentation ---------------------------------------------------------------------------
    def compute(self, *, head_seeds: Mapping[str, Any] | None = None, progress: Progress | None = None) -> Segmented:
        """Run the pipeline on the series (touching no state: safe in a worker thread).

        Parameters
        ----------
        head_seeds : mapping of side to points, optional
            Where the reader says a head is: per side a centre point or >= 3 points on its outline, LPS mm
            ``(x, y, z)`` on MR, ``(row, column)`` on a radiograph. Those hips are found from the seed.
        progress : callable, optional
            ``progress(fraction, message)``.

        Returns
        -------
        Segmented
            The hips found, measured or with the reason they were not, for :meth:`load`.
        """
        if self.is_radiograph:
            return self._compute_radiograph(head_seeds, progress)
        from onfh_imaging.io import Series
        from onfh_imaging.pipeline import measure_mr

        fluid = None if self.fluid_sensitive is None else Series(volume=self.fluid_sensitive, info=self.info)
        result = measure_mr(Series(volume=self.image, info=self.info), fluid_sensitive=fluid, progress=progress,
                            head_seeds=_seeds(head_seeds))
        seeds = dict(head_seeds or {})
        hips = [self._mr_hip(h.segmentation, h.to_dict(), h.measures, None, seeds) for h in result.hips]
        hips += [self._mr_hip(seg, None, None, reason, seeds) for seg, reason in result.unmeasured]
        hips.sort(key=lambda h: h.side != "right")
        skipped = [w for w in result.warnings if not any(w.startswith(f"{h.side} hip not measured") for h in hips)]
        return Segmented(hips=hips, warnings=skipped)

    @staticmethod
    def _mr_hip(seg: Any, measures_dict: dict | None, measures: Any, reason: str | None,
                seeds: Mapping[str, Any]) -> HipRead:
        seed = seeds.get(seg.side)
        hip = HipRead(
            side=seg.side, automatic=measures_dict, automatic_error=reason,
            automatic_masks={HEAD: seg.femoral_head_mask, LESION: seg.lesion_mask},
            fractions={HEAD: seg.femoral_head_fraction, LESION: seg.lesion_fraction},
            neck_axis_lps=seg.neck_axis_lps, center_lps=np.asarray(seg.head_center_lps, float),
            radius_mm=float(seg.head_radius_mm), segmentation_warnings=tuple(seg.warnings),
            head_seed=None if seed is None else [tuple(map(float, p)) for p in np.atleast_2d(seed)],
            automatic_measures=measures, automatic_surface=display_surface(measures, seg.femoral_head_mask))
        ReadingSession._place(hip, measures)
        return hip

    @staticmethod
    def _place(hip: HipRead, measures: Any) -> None:
        """Head centre and radius from the measured reference sphere, when there is one."""
        if measures is not None:
            hip.center_lps = np.asarray(measures.sphere.center_lps, float)
            hip.radius_mm = float(measures.sphere.radius_mm)

    def _compute_radiograph(self, head_seeds: Mapping[str, Any] | None, progress: Progress | None) -> Segmented:
        from onfh_imaging.pipeline import measure_radiograph

        if progress is not None:
            progress(0.1, "finding the femoral heads")
        report = measure_radiograph(self.image, self.info, seeds=_seeds(head_seeds))
        if progress is not None:
            progress(1.0, "done")
        hips = []
        for entry in report.get("hips", []):
            head = entry.get("head") or None
            reason = None if head else "; ".join(entry.get("warnings") or ["no head contour"])
            seed = (head_seeds or {}).get(entry["side"])
            hip = HipRead(side=entry["side"], automatic=entry if head else None, automatic_error=reason,
                          radius_mm=None if not head else head.get("radius_mm"),
                          head_seed=None if seed is None else [tuple(map(float, p)) for p in np.atleast_2d(seed)])
            if not head:
                hip.current = None
                hip.segmentation_warnings = tuple(entry.get("warnings") or ())
            hips.append(hip)
        return Segmented(hips=hips, warnings=list(report.get("warnings") or []), report=report)

    def load(self, segmented: Segmented) -> None:
        """Make a :meth:`compute` result the session's automatic read (discarding any edits).

        Parameters
        ----------
        segmented : Segmented
            A :meth:`compute` result for this session's series.
        """
        self.hips = list(segmented.hips)
        self.warnings = list(segmented.warnings)
        self.report = segmented.report
        self.segmented = True

    def segment(self, *, head_seeds: Mapping[str, Any] | None = None, progress: Progress | None = None) -> None:
        """:meth:`compute` then :meth:`load`, in one call.

        Parameters
        ----------
        head_seeds : mapping of side to points, optional
            As :meth:`compute`.
        progress : callable, optional
            ``progress(fraction, message)``.
        """
        self.load(self.compute(head_seeds=head_seeds, progress=progress))

    # --- edits ----------------------------------------------------------------------------------
    def jobs(self, sides: Sequence[str] | None = None) -> list[MeasureJob]:
        """Snapshots of the hips whose labels changed since they were measured.

        A hip whose labels equal the automatic masks again (undo) gets its automatic measures back
        at once, without a job.

        Parameters
        ----------
        sides : sequence of str, optional
            Only these sides; None looks at every hip.

        Returns
        -------
        list of MeasureJob
            One per hip to measure again, for :func:`measure_job` (anywhere: a job holds copies).
        """
        out = []
        for hip in self.hips:
            if (sides is not None and hip.side not in sides) or not hip.labels:
                continue
            labels = {s: np.array(a, copy=True) for s, a in hip.labels.items()}  # painting may go on
            hashes = {s: mask_sha256(a) for s, a in labels.items()}
            if hashes == hip.measured_hashes:
                continue
            if hashes == hip.automatic_hashes:
                hip.current, hip.error, hip.measured_hashes = hip.automatic, hip.automatic_error, hashes
                hip.measures, hip.surface = hip.automatic_measures, hip.automatic_surface
                self._place(hip, hip.measures)
                continue
            masks = measured_masks(labels, hip.automatic_masks, hip.fractions)
            out.append(MeasureJob(hip.side, masks, hip.neck_axis_lps, hashes,
                                  image=None if self.is_radiograph else self.image))
        return out

    def apply(self, results: Sequence[tuple[str, dict[str, str], dict[str, Any] | None, Any]],
              surfaces: Sequence[DisplaySurface | None] | None = None) -> None:
        """Take :func:`measure_job` results as the hips' current measures.

        Parameters
        ----------
        results : sequence of tuple
            :func:`measure_job` results, ``(side, hashes, measures dict or None, HipMeasures or reason)``.
        surfaces : sequence of DisplaySurface or None, optional
            Their deviation maps as :func:`display_surface` makes them, one per result, when they were
            made where the measuring ran (the worker); otherwise they are made here.
        """
        for n, (side, hashes, measures_dict, measures) in enumerate(results):
            hip = self.hip(side)
            hip.measured_hashes = hashes
            hip.current = measures_dict
            hip.error = None if measures_dict is not None else str(measures)
            hip.measures = measures if measures_dict is not None else None
            hip.surface = (surfaces[n] if surfaces is not None
                           else None if hip.measures is None or self.is_radiograph
                           else display_surface(hip.measures, self.image))
            self._place(hip, hip.measures)

    def remeasure(self, sides: Sequence[str] | None = None) -> None:
        """Measure every edited hip again, now.

        Parameters
        ----------
        sides : sequence of str, optional
            Only these sides (``"left"``, ``"right"``); None measures every hip.
        """
        self.apply([measure_job(job) for job in self.jobs(sides)])

    # --- confirmation ---------------------------------------------------------------------------
    def check_decisions(self, decisions: Mapping[str, HipDecision]) -> None:
        """Check that every hip has an acceptable decision.

        Parameters
        ----------
        decisions : mapping of side to HipDecision
            The decision for each hip.

        Raises
        ------
        InputError
            When there is no hip, a hip has no decision, or a hip not measured has a stage.
        """
        if not self.hips:
            raise InputError("nothing to confirm: segment the series first")
        for hip in self.hips:
            decision = decisions.get(hip.side)
            if decision is None:
                raise InputError(f"the {hip.side} hip has no decision",
                                 hint=f"choose its final ARCO 2019 stage, or record it as {NOT_ASSESSABLE}")
            if decision.assessable and hip.current is None:
                raise InputError(f"the {hip.side} hip cannot be staged: its measurement failed ({hip.error})",
                                 hint=f"correct its masks until it is measured, or record it as {NOT_ASSESSABLE}")

    def confirm(self, store: ReadStore, *, reader: str, decisions: Mapping[str, HipDecision], comment: str = "",
                blind: bool = False, source_datasets: Sequence[Any] | None = None) -> ReadRecord:
        """Store one read: a decision per hip, masks, automatic and confirmed measures.

        Edited hips not measured yet are measured first, so the stored measures are those of the
        stored masks.

        Parameters
        ----------
        store : ReadStore
            The append-only reads database.
        reader : str
            Who confirms.
        decisions : mapping of side to HipDecision
            One decision per hip of the session.
        comment : str
            A comment on the whole read.
        blind : bool
            True when the reader did not see previous reads before confirming.
        source_datasets : sequence of pydicom.Dataset, optional
            The series' DICOM headers, for the DICOM SEG and SR written with the read.

        Returns
        -------
        ReadRecord
            The stored read, with the paths of the files written.

        Raises
        ------
        InputError
            Nothing stored: when a hip has no decision, a stage is given for a hip whose measurement
            failed, or the series has no SeriesInstanceUID.
        """
        self.remeasure()
        self.check_decisions(decisions)
        hips = [{"side": h.side, "arco_2019": decisions[h.side].arco_2019 if decisions[h.side].assessable else None,
                 "assessable": decisions[h.side].assessable, "comment": decisions[h.side].comment,
                 "edited": h.edited, "head_placed_by_hand": bool(h.head_seed),
                 "head_seed": h.head_seed, "measurement_error": h.error} for h in self.hips]
        masks, automatic = {}, {}
        for hip in self.hips:
            for structure, labels in hip.labels.items():
                grid = hip.automatic_masks[structure]
                masks[mask_name(hip.side, structure)] = grid.with_array(np.asarray(labels) != 0)
                automatic[mask_name(hip.side, structure)] = grid
        uid = self.series_instance_uid
        if uid is None:
            raise InputError("the series has no SeriesInstanceUID to file the read under")
        return confirm_read(
            store, reader=reader, arco_2019=most_severe_stage([h["arco_2019"] for h in hips]),
            series_instance_uid=uid, study_instance_uid=self._info("study_instance_uid"), masks=masks,
            automatic_masks=automatic,
            automatic_measures=[h.automatic or {"side": h.side, "error": h.automatic_error} for h in self.hips],
            confirmed_measures=[h.current or {"side": h.side, "error": h.error} for h in self.hips],
            comment=comment, blind=blind, source_datasets=source_datasets if masks else None, hips=hips)


__all__ = [
    "DISPLAY_CELL_VOXELS",
    "FRACTION_MARGIN_VOXELS",
    "MR_ROWS",
    "RADIOGRAPH_ROWS",
    "DisplaySurface",
    "HipDecision",
    "HipRead",
    "MeasureJob",
    "ReadingSession",
    "Segmented",
    "decimate_surface",
    "display_surface",
    "format_value",
    "measure_job",
    "measure_job_shown",
    "measure_value",
    "measured_masks",
]

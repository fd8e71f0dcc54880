"""Figures of the longitudinal report: per-hip trajectories on the cohort's axes, the swimmer plot (one
line per hip: visits, collapse, stage change, THR, withdrawal) and the cohort lines, drawn with
matplotlib (Agg) and returned as PNG bytes; per-hip figures are drawn in worker processes when the cohort
is large enough to pay for starting them (:data:`HIPS_PER_PROCESS`).
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from onfh_imaging.batch.agreement import ARCO_ORDER
from onfh_imaging.batch.longitudinal import (
    COLLAPSE_MM,
)
from onfh_imaging.batch.visits import DAYS_PER_MONTH
from onfh_imaging.io._atomic import atomic_path
from onfh_imaging.staging import IIIB_MIN_COLLAPSE_MM, STEINBERG_C_MIN_PCT

__all__ = [
    "EVENT_NAMES",
    "HIPS_PER_PROCESS",
    "HIP_FIGURE_DPI",
    "SPHERICITY_AXIS_MIN",
    "SWIMMER_LABELS",
    "SWIMMER_ROW_IN",
    "HipFigures",
    "cohort_figure",
    "draw_hip_figures",
    "hip_figure",
    "swimmer_figure",
    "write_bytes",
]

#: Hips one worker process must have to draw before starting it pays (a process start costs about
#: as much as drawing 20 hip figures).
HIPS_PER_PROCESS = 40
#: Lower bound of the sphericity axis: 1 is a sphere, and a flattened head with collapse beyond
#: ARCO IIIB still measures above it, so sphericity noise stays a flat line rather than a trend.
SPHERICITY_AXIS_MIN = 0.9
#: Resolution of the per-hip figures (dots per inch): 920 x 184 pixels, readable at page width.
HIP_FIGURE_DPI = 80

#: Height (inches) of one hip's line in the swimmer plot, and at most this many hips named on its
#: axis (every n-th beyond: each hip has its own section further down the page).
SWIMMER_ROW_IN = 0.16
SWIMMER_LABELS = 120

#: Survival events named as the report names them (others by their own name).
EVENT_NAMES = {"thr": "THR"}


# -------------------------------------------------------------------------------------
def _figure(width_in: float, height_in: float, dpi: float = 100):
    """A matplotlib Figure on the Agg canvas (no pyplot state: safe in worker processes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig, dpi: int = 80) -> bytes:
    """The figure drawn once, as PNG (fixed layout: no second 'tight' pass)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``.

    Parameters
    ----------
    path : Path
        File to write (replaced when it exists).
    data : bytes
        Its whole content.

    Returns
    -------
    Path
        ``path``, once the file is complete.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _floor_axis(ax, values: pd.Series, low: float, span: float) -> None:
    """y axis from ``low`` to at least ``low + span``: noise below the span stays a flat line."""
    top = float(np.nanmax(values)) if values.notna().any() else low
    ax.set_ylim(low, max(low + span, top * 1.1))


#: The panels of a hip's figure: column, title.
_PANELS = (
    ("lesion_head_involvement_pct", "lesion (% of head)"),
    ("head_collapse_depth_mm", "collapse depth (mm)"),
    ("head_sphericity", "sphericity"),
    ("arco_rank", "ARCO 2019 stage"),
)


class HipFigures:
    """Draws every hip's trajectory figure on the same axes, the cohort's, with the limits that give them meaning.

    The axes are shared by the whole cohort (months 0 to the longest follow-up; lesion % from 0 to at
    least the Steinberg C limit, 30 % of the head; collapse depth from 0 to at least the ARCO IIIB
    limit, 2 mm, with the detection limit shaded; sphericity from :data:`SPHERICITY_AXIS_MIN` to 1; the
    ARCO stage on its own scale), so hips compare at a glance and sub-millimetre noise looks like
    noise. Axes, ticks and labels are drawn once; each hip then draws only its own lines and marks (THR
    red dashed, withdrawal black dotted) over a copy of that background.

    Parameters
    ----------
    visits : DataFrame
        Every hip's visits (:func:`~onfh_imaging.batch.longitudinal.hip_visits`).
    events : DataFrame
        :func:`~onfh_imaging.batch.longitudinal.hip_events` (for the follow-up range).

    Attributes
    ----------
    fig : matplotlib.figure.Figure
        The figure, 11.5 x 2.3 inches at :data:`HIP_FIGURE_DPI`, one panel per measure.
    axes : array of Axes, shape (4,)
        Lesion (% of head), collapse depth (mm), sphericity and ARCO 2019 stage, each over months.
    lines, thr, withdrawal : list of Artist, one per panel
        The hip's trajectory and its THR and withdrawal marks, drawn per hip over :attr:`background`.
    title : Text
        The hip's name above the panels.
    background : BufferRegion
        The drawn axes, ticks and labels, restored before each hip.
    """

    def __init__(self, visits: pd.DataFrame, events: pd.DataFrame):
        self.fig = fig = _figure(11.5, 2.3, dpi=HIP_FIGURE_DPI)
        self.axes = axes = fig.subplots(1, len(_PANELS))
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.2, top=0.8, wspace=0.32)
        longest = max(float(events["followup_days"].max()), float(visits["visit_days"].max()), 1.0)
        self.lines, self.thr, self.withdrawal = [], [], []
        for ax, (col, title) in zip(axes, _PANELS, strict=True):
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("months", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_xlim(-0.5, 1.05 * longest / DAYS_PER_MONTH)
            self.lines.append(ax.plot([], [], "o-", color="tab:blue", ms=4, animated=True)[0])
            self.thr.append(ax.axvline(0, color="tab:red", ls="--", lw=1, animated=True))
            self.withdrawal.append(ax.axvline(0, color="black", ls=":", lw=1, animated=True))
        _floor_axis(axes[0], visits["lesion_head_involvement_pct"], 0.0, STEINBERG_C_MIN_PCT)
        _floor_axis(axes[1], visits["head_collapse_depth_mm"], 0.0, IIIB_MIN_COLLAPSE_MM)
        axes[1].axhspan(0, COLLAPSE_MM, color="0.85", lw=0)
        axes[1].text(0.02, COLLAPSE_MM, "detection limit", fontsize=6, va="bottom",
                     transform=axes[1].get_yaxis_transform())
        axes[2].set_ylim(SPHERICITY_AXIS_MIN, 1.0)
        axes[3].set_yticks(range(len(ARCO_ORDER)), ARCO_ORDER)
        axes[3].set_ylim(-0.5, len(ARCO_ORDER) - 0.5)
        self.title = fig.text(0.5, 0.93, "", ha="center", fontsize=10, animated=True)
        fig.canvas.draw()
        self.background = fig.canvas.copy_from_bbox(fig.bbox)

    def png(self, v: pd.DataFrame, ev: pd.Series | None = None) -> bytes:
        """PNG of one hip's trajectories (its visits ``v``, its events ``ev``).

        Parameters
        ----------
        v : DataFrame
            One hip's rows of the visits table: ``hip``, ``visit_days`` (days),
            ``lesion_head_involvement_pct`` (%), ``head_collapse_depth_mm`` (mm), ``head_sphericity``
            and ``arco_rank`` (index in :data:`~onfh_imaging.batch.agreement.ARCO_ORDER`).
        ev : Series, optional
            That hip's row of the events table; its ``thr_observed`` / ``thr_days`` and
            ``withdrawal_days`` (days, NaN when none) draw the THR and withdrawal marks.

        Returns
        -------
        bytes
            The PNG, 920 x 184 pixels.
        """
        from PIL import Image

        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        months = (v["visit_days"] / DAYS_PER_MONTH).to_numpy(float)
        marks = (
            (self.thr, ev is not None and bool(ev["thr_observed"]), "thr_days"),
            (self.withdrawal, ev is not None and np.isfinite(ev.get("withdrawal_days", np.nan)), "withdrawal_days"),
        )
        for n, (ax, (col, _)) in enumerate(zip(self.axes, _PANELS, strict=True)):
            self.lines[n].set_data(months, v[col].to_numpy(float))
            ax.draw_artist(self.lines[n])
            for artists, shown, column in marks:
                if shown:
                    artists[n].set_xdata([ev[column] / DAYS_PER_MONTH] * 2)
                    ax.draw_artist(artists[n])
        self.title.set_text(str(v["hip"].iloc[0]))
        self.fig.draw_artist(self.title)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).save(buf, format="png", compress_level=1)
        return buf.getvalue()


def hip_figure(v: pd.DataFrame, ev: pd.Series | None = None) -> bytes:
    """PNG of one hip's trajectories on its own axes (:class:`HipFigures` draws a cohort's).

    Parameters
    ----------
    v : DataFrame
        One hip's visits (columns as :meth:`HipFigures.png`).
    ev : Series, optional
        That hip's events, with ``followup_days`` (days) for the time axis; without them the axis
        ends at the last visit.

    Returns
    -------
    bytes
        The PNG.
    """
    events = pd.DataFrame({"followup_days": [float(v["visit_days"].max())]}) if ev is None else ev.to_frame().T
    return HipFigures(v, events).png(v, ev)


def _hip_figures_job(args: tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, Path]]]) -> list[Path]:
    """Draw and write (atomically) the figures of ``(hip, path)`` pairs; returns the paths."""
    visits, events, targets = args
    drawer = HipFigures(visits, events)
    by_hip = events.set_index("hip")
    groups = dict(tuple(visits.groupby("hip", sort=False)))
    return [write_bytes(path, drawer.png(groups[hip], by_hip.loc[hip])) for hip, path in targets]


def draw_hip_figures(
    visits: pd.DataFrame, events: pd.DataFrame, targets: list[tuple[str, Path]], processes: int | None
) -> list[Path]:
    """Write each hip's figure to its path, in ``processes`` worker processes (default: as many as pay).

    Each process draws and writes its share, so drawing, PNG encoding and the writes' fsyncs all
    run in parallel.

    Parameters
    ----------
    visits : DataFrame
        Every hip's visits (columns as :meth:`HipFigures.png`).
    events : DataFrame
        Every hip's events, one row per ``hip`` with ``followup_days`` (days).
    targets : list of (str, Path)
        Hip name and the PNG file to write for it.
    processes : int or None
        Worker processes; None gives one per :data:`HIPS_PER_PROCESS` hips, at most one per CPU.
        One or fewer draws in this process.

    Returns
    -------
    list of Path
        The files written, in the order of ``targets``.
    """
    if processes is None:
        processes = min(os.cpu_count() or 1, len(targets) // HIPS_PER_PROCESS)
    if processes <= 1:
        return _hip_figures_job((visits, events, targets))
    jobs = []
    for part in np.array_split(np.arange(len(targets)), processes):
        chunk = [targets[i] for i in part]
        mine = {hip for hip, _ in chunk}
        jobs.append((visits[visits["hip"].isin(mine)], events, chunk))
    with cf.ProcessPoolExecutor(processes) as pool:
        return [path for written in pool.map(_hip_figures_job, jobs) for path in written]


def swimmer_figure(visits: pd.DataFrame, events: pd.DataFrame) -> bytes:
    """PNG swimmer plot: one line per hip over its follow-up, its visits, collapse, stage change, THR, withdrawal.

    Parameters
    ----------
    visits : DataFrame
        Every hip's visits, with ``hip`` and ``visit_days`` (days).
    events : DataFrame
        One row per hip: ``hip``, ``followup_days``, ``collapse_progression_observed`` / ``_days``,
        ``stage_progression_observed`` / ``_days``, ``thr_observed`` / ``thr_days`` and optionally
        ``withdrawal_days`` (days, NaN when none).

    Returns
    -------
    bytes
        The PNG, 9 inches wide and :data:`SWIMMER_ROW_IN` inches taller per hip; longest follow-up
        on top, months on the x axis.
    """
    hips = events.sort_values(["followup_days", "hip"], ascending=[False, True]).reset_index(drop=True)
    fig = _figure(9.0, 1.2 + SWIMMER_ROW_IN * len(hips))
    height = 1.2 + SWIMMER_ROW_IN * len(hips)
    ax = fig.add_axes((0.16, 0.9 / height, 0.62, 1 - 1.2 / height))
    from matplotlib.collections import LineCollection

    row_of = {hip: y for y, hip in enumerate(hips["hip"])}
    ax.add_collection(LineCollection(
        [[(0, y), (f / DAYS_PER_MONTH, y)] for y, f in enumerate(hips["followup_days"])],
        colors="0.6", linewidths=2, capstyle="butt"))
    marks = {"visit": [], "collapse": [], "stage": [], "thr": [], "withdrawal": []}
    rows = visits["hip"].map(row_of).to_numpy(float)
    marks["visit"] = list(zip(visits["visit_days"].to_numpy(float) / DAYS_PER_MONTH, rows, strict=True))
    for y, ev in enumerate(hips.to_dict("records")):
        if ev["collapse_progression_observed"]:
            marks["collapse"].append((ev["collapse_progression_days"] / DAYS_PER_MONTH, y))
        if ev["stage_progression_observed"]:
            marks["stage"].append((ev["stage_progression_days"] / DAYS_PER_MONTH, y))
        if ev["thr_observed"]:
            marks["thr"].append((ev["thr_days"] / DAYS_PER_MONTH, y))
        if np.isfinite(ev.get("withdrawal_days", np.nan)):
            marks["withdrawal"].append((ev["withdrawal_days"] / DAYS_PER_MONTH, y))
    styles = {
        "visit": {"marker": "o", "color": "tab:blue", "s": 12, "label": "imaging visit"},
        "collapse": {"marker": "v", "color": "tab:orange", "s": 40, "label": "collapse progression"},
        "stage": {"marker": "^", "color": "tab:purple", "s": 30, "label": "stage progression"},
        "thr": {"marker": "X", "color": "tab:red", "s": 50, "label": "THR"},
        "withdrawal": {"marker": "|", "color": "black", "s": 120, "label": "withdrawal"},
    }
    for name, points in marks.items():
        if points:
            xy = np.asarray(points, float)
            ax.scatter(xy[:, 0], xy[:, 1], zorder=3, **styles[name])
    every = max(1, int(np.ceil(len(hips) / SWIMMER_LABELS)))
    ax.set_yticks(range(0, len(hips), every), hips["hip"].iloc[::every], fontsize=6 if len(hips) > 60 else 7)
    ax.set_ylim(len(hips) - 0.5, -0.5)
    ax.set_xlim(0, 1.03 * max(float(hips["followup_days"].max()), 1.0) / DAYS_PER_MONTH)
    ax.set_xlabel("months from baseline")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _png_bytes(fig)


def cohort_figure(
    visits: pd.DataFrame, km: dict[str, tuple[pd.DataFrame, object]], visit_months: float
) -> bytes:
    """PNG of the cohort: lesion % per hip, collapse depth per hip (detection limit shaded), KM curves.

    Parameters
    ----------
    visits : DataFrame
        Every hip's visits: ``hip``, ``visit_days`` (days), ``lesion_head_involvement_pct`` (%) and
        ``head_collapse_depth_mm`` (mm).
    km : dict of str to (DataFrame, object)
        Kaplan-Meier tables by event name (:func:`~onfh_imaging.batch.endpoints.kaplan_meier`: columns
        ``months``, ``survival``, ``ci_low``, ``ci_high``); the first two are drawn, empty ones skipped.
    visit_months : float
        The endpoint visit, in months from baseline, marked on the survival panel.

    Returns
    -------
    bytes
        The PNG, 13 x 3.4 inches at 72 dpi.
    """
    fig = _figure(13, 3.4)
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.16, top=0.9, wspace=0.25)
    from matplotlib.collections import LineCollection

    for ax, col, color in ((axes[0], "lesion_head_involvement_pct", "tab:blue"),
                           (axes[1], "head_collapse_depth_mm", "tab:orange")):
        lines = [np.column_stack([v["visit_days"].to_numpy(float) / DAYS_PER_MONTH, v[col].to_numpy(float)])
                 for _, v in visits.groupby("hip")]
        ax.add_collection(LineCollection(lines, colors=color, alpha=0.4, linewidths=1))
        ax.set_xlim(0, 1.03 * max(float(visits["visit_days"].max()), 1.0) / DAYS_PER_MONTH)
    axes[0].set_title("lesion (% of head)")
    _floor_axis(axes[0], visits["lesion_head_involvement_pct"], 0.0, STEINBERG_C_MIN_PCT)
    axes[1].set_title("collapse depth (mm)")
    _floor_axis(axes[1], visits["head_collapse_depth_mm"], 0.0, IIIB_MIN_COLLAPSE_MM)
    axes[1].axhspan(0, COLLAPSE_MM, color="0.85", lw=0, label="below the detection limit")
    axes[1].legend(fontsize=8, loc="upper left")
    for (name, (table, _)), color in zip(km.items(), ("tab:red", "tab:purple"), strict=False):
        if table.empty:
            continue
        label = f"free of {EVENT_NAMES.get(name, name)}"
        axes[2].step(table["months"], table["survival"], where="post", color=color, label=label)
        axes[2].fill_between(
            table["months"], table["ci_low"], table["ci_high"], step="post", color=color, alpha=0.15
        )
    axes[2].axvline(visit_months, color="grey", ls=":", lw=1)
    axes[2].set_ylim(0, 1.02)
    axes[2].set_title("Kaplan-Meier (95 % CI)")
    if axes[2].get_legend_handles_labels()[0]:
        axes[2].legend(fontsize=8, loc="lower left")
    for ax in axes:
        ax.set_xlabel("months from baseline")
    return _png_bytes(fig, dpi=72)



"""The longitudinal report of a trial cohort: tables, figures and one HTML page an analyst can audit.

``longitudinal_report(results, out)`` reads a batch output folder and writes into ``out``:

- ``trajectories.csv`` (hip visits with their change from baseline), ``events.csv`` (per hip events),
  ``outcomes.csv`` (per hip outcome at the chosen visit, composites included), ``endpoints.csv``
  (fractions with Wilson CIs), ``flow.csv`` (enrolled, assessed, replaced, withdrawn, missing per
  visit), ``visit_summary.csv`` (n, median, IQR of lesion %, its change, collapse depth; stages),
  ``jic.csv`` (outcomes by baseline JIC type), ``early_lesion.csv`` (lesion % at 3 months and what
  followed), ``survival_thr.csv`` and ``survival_collapse.csv``
  (Kaplan-Meier), ``agreement.csv`` (when several readers confirmed);
- ``hips/<patient>_<side>.png`` trajectories, ``swimmer.png``, ``cohort.png``, and ``qc/`` the
  quality-control pictures of every measured hip and visit (copied from the batch output);
- ``index.html``: populations stated in words, the flow table, endpoints in words, the per-visit
  table, the swimmer plot, survival, and per hip its trajectory figure and one QC picture per visit.

Per-hip figures are drawn once each, in worker processes when the cohort is large enough to pay
for starting them (:data:`HIPS_PER_PROCESS`).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import html
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from onfh_imaging import __version__
from onfh_imaging.batch.agreement import ARCO_ORDER, reader_agreement
from onfh_imaging.batch.endpoints import ENDPOINTS as _BASE_ENDPOINTS
from onfh_imaging.batch.endpoints import (
    POPULATION_WORDS,
    Composite,
    add_composites,
    default_window_months,
    endpoint_table,
    endpoint_words,
    flow_table,
    kaplan_meier,
    survival_at,
    visit_outcomes,
    with_primary,
)
from onfh_imaging.batch.longitudinal import (
    COLLAPSE_MM,
    EARLY_LESION_PCT,
    EARLY_VISIT_MONTHS,
    REGENERATION_THRESHOLD,
    add_baseline_changes,
    cohort_warnings,
    drop_after_withdrawal,
    early_lesion_table,
    hip_events,
    hip_visits,
    load_clinical,
    load_measurements,
    load_verdicts,
    visit_summary,
)
from onfh_imaging.batch.store import atomic_output
from onfh_imaging.batch.visits import DAYS_PER_MONTH
from onfh_imaging.errors import InputError
from onfh_imaging.staging import IIIB_MIN_COLLAPSE_MM, STEINBERG_C_MIN_PCT

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

_EVENT_NAMES = {"thr": "THR"}


@dataclass
class ReportSummary:
    """What a longitudinal report holds: counts, tables, warnings and the files written."""

    out: Path
    n_patients: int
    n_hips: int
    n_visits: int
    endpoints: pd.DataFrame
    flow: pd.DataFrame = field(default_factory=pd.DataFrame)
    visit_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


# --- drawing -------------------------------------------------------------------------------------
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


def _write_bytes(path: Path, data: bytes) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def _write_csv(path: Path, df: pd.DataFrame) -> Path:
    with atomic_output(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "hip"


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
        """PNG of one hip's trajectories (its visits ``v``, its events ``ev``)."""
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
    """PNG of one hip's trajectories on its own axes (:class:`HipFigures` draws a cohort's)."""
    events = pd.DataFrame({"followup_days": [float(v["visit_days"].max())]}) if ev is None else ev.to_frame().T
    return HipFigures(v, events).png(v, ev)


def _hip_figures_job(args: tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, Path]]]) -> list[Path]:
    """Draw and write (atomically) the figures of ``(hip, path)`` pairs; returns the paths."""
    visits, events, targets = args
    drawer = HipFigures(visits, events)
    by_hip = events.set_index("hip")
    groups = dict(tuple(visits.groupby("hip", sort=False)))
    return [_write_bytes(path, drawer.png(groups[hip], by_hip.loc[hip])) for hip, path in targets]


def _draw_hip_figures(
    visits: pd.DataFrame, events: pd.DataFrame, targets: list[tuple[str, Path]], processes: int | None
) -> list[Path]:
    """Write each hip's figure to its path, in ``processes`` worker processes (default: as many as pay).

    Each process draws and writes its share, so drawing, PNG encoding and the writes' fsyncs all
    run in parallel.
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
    """PNG swimmer plot: one line per hip over its follow-up, its visits, collapse, stage change, THR, withdrawal."""
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
    """PNG of the cohort: lesion % per hip, collapse depth per hip (detection limit shaded), KM curves."""
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
        label = f"free of {_EVENT_NAMES.get(name, name)}"
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


# --- tables --------------------------------------------------------------------------------------
def _table_html(df: pd.DataFrame, floats: str = "{:.3g}", empty: str = "") -> str:
    if df.empty:
        return f"<p class='empty'>{html.escape(empty or 'no rows')}</p>"
    return df.to_html(index=False, escape=True, na_rep="", float_format=floats.format, border=0)


def _fraction_text(row: pd.Series) -> str:
    if row["n"] == 0:
        return "no hip"
    return (
        f"{int(row['successes'])}/{int(row['n'])} = {100 * row['fraction']:.1f} % "
        f"({100 * row['ci_low']:.1f}-{100 * row['ci_high']:.1f})"
    )


def endpoints_in_words(endpoints: pd.DataFrame, words: dict[str, str]) -> pd.DataFrame:
    """One row per endpoint: its statement, per protocol and intention to treat as ``k/n = % (CI)``."""
    rows = []
    base = set(endpoints["endpoint"]) & set(_BASE_ENDPOINTS)
    order = [n for n in dict.fromkeys(endpoints["endpoint"]) if n not in base] + [
        n for n in dict.fromkeys(endpoints["endpoint"]) if n in base
    ]  # the primary endpoint and the analyst's composites first
    for name, g in sorted(endpoints.groupby("endpoint", sort=False), key=lambda item: order.index(item[0])):
        by = g.set_index("population")
        rows.append(
            {
                "endpoint": words.get(name, name),
                "name": name,
                "per protocol": _fraction_text(by.loc["per_protocol"]),
                "intention to treat": _fraction_text(by.loc["intention_to_treat"]),
            }
        )
    return pd.DataFrame(rows)


def jic_table(events: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per baseline JIC type: hips, collapse progression and THR seen, success at the visit (per protocol)."""
    if events["baseline_jic_type"].isna().all():
        return pd.DataFrame()
    merged = events.merge(outcomes[["hip", "per_protocol", "success"]], on="hip")
    rows = []
    for jic in ("A", "B", "C1", "C2"):
        g = merged[merged["baseline_jic_type"] == jic]
        if g.empty:
            continue
        pp = g[g["per_protocol"]]
        rows.append(
            {
                "JIC type": jic,
                "hips": len(g),
                "collapse progression seen": int(g["collapse_progression_observed"].sum()),
                "THR seen": int(g["thr_observed"].sum()),
                "success at the visit (per protocol)": f"{int(pp['success'].astype(bool).sum())}/{len(pp)}",
            }
        )
    return pd.DataFrame(rows)


def _summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-visit summary as ``median [q1, q3] (n)`` cells."""

    def cell(row: pd.Series, m: str, fmt: str) -> str:
        if row[f"{m}_n"] == 0:
            return "not measured"
        return f"{row[f'{m}_median']:{fmt}} [{row[f'{m}_q1']:{fmt}}, {row[f'{m}_q3']:{fmt}}] (n={int(row[f'{m}_n'])})"

    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "visit": r["visit"],
                "hips": int(r["hips"]),
                "lesion, % of head": cell(r, "lesion_pct", ".1f"),
                "lesion change from baseline, points": cell(r, "lesion_pct_change", "+.1f"),
                "collapse depth, mm": cell(r, "collapse_mm", ".2f"),
                "median stage": r["stage_median"],
                "ARCO 2019 stages": r["stages"],
            }
        )
    return pd.DataFrame(rows)


def _km_empty_reason(name: str, events: pd.DataFrame) -> str:
    if name == "collapse" and len(events) and events["collapsed_at_baseline"].all():
        return "No hip at risk of collapse: all collapsed at baseline."
    return f"No hip at risk of {_EVENT_NAMES.get(name, name)}."


def _qc_cells(v: pd.DataFrame, qc_links: dict[tuple[str, float], str]) -> str:
    cells = []
    for _, row in v.iterrows():
        href = qc_links.get((row["hip"], row["visit_days"]))
        label = f"{row['visit_label']} ({row['study_date']})"
        if href:
            cells.append(
                f"<figure class='qc'><img loading='lazy' {_CHECKED} alt='QC {html.escape(row['hip'])} "
                f"{html.escape(label)}' src='{html.escape(href)}'><figcaption>{html.escape(label)}</figcaption></figure>"
            )
        else:
            cells.append(
                f"<figure class='qc missing'><figcaption>{html.escape(label)}: no QC picture (the batch "
                "record of this visit has none)</figcaption></figure>"
            )
    return "".join(cells)


_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1250px}table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}td:first-child,th:first-child"
    "{text-align:left;white-space:normal}img{max-width:100%}"
    ".empty{color:#a40;font-style:italic}.warn{color:#a40}figure.qc{display:inline-block;margin:2px 4px;"
    "text-align:center;font-size:11px;vertical-align:top}figure.qc img{width:180px}figure.missing{width:180px;"
    "color:#a40}section.hip{border-top:1px solid #ccc;margin-top:1em}img.missing{outline:2px solid #c00}"
)


#: Pictures linked from the page mark themselves once the browser shows them, and say so when their
#: file is missing (a report folder copied without its hips/ or qc/ folders).
_CHECKED = (
    "onload=\"this.classList.add('shown')\" "
    "onerror=\"this.classList.add('missing');this.insertAdjacentText('afterend','picture missing: '+this.alt)\""
)


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


# --- the report ----------------------------------------------------------------------------------
def longitudinal_report(
    results: str | os.PathLike,
    out: str | os.PathLike,
    *,
    visit_months: float = 12,
    window_months: float | None = None,
    clinical: str | os.PathLike | None = None,
    regeneration_threshold: float = REGENERATION_THRESHOLD,
    hip_figures: bool = True,
    endpoints: list[Composite] | tuple[Composite, ...] = (),
    processes: int | None = None,
) -> ReportSummary:
    """Write the longitudinal report of a batch output folder.

    Parameters
    ----------
    results : path
        Output folder of ``onfh batch`` (its ``measurements.parquet``; ``reads.csv`` and the ``qc/``
        pictures when present).
    out : path
        Report folder (created).
    visit_months : float
        Visit at which endpoints are assessed, months from baseline.
    window_months : float, optional
        Half-width of the visit window, months (default: a quarter of ``visit_months``, at least 1).
    clinical : path, optional
        CSV of the hips' THR and withdrawal dates (see :func:`~onfh_imaging.batch.longitudinal.load_clinical`).
    regeneration_threshold : float
        Fractional lesion-volume decrease from baseline that counts as bone regeneration.
    hip_figures : bool
        Draw one trajectory figure per hip.
    endpoints : sequence of Composite
        The analyst's composite endpoints, reported after the base endpoints and the primary one.
    processes : int, optional
        Worker processes drawing the per-hip figures (default: as many as pay, see
        :data:`HIPS_PER_PROCESS`; 0 or 1 draws in this process).

    Returns
    -------
    ReportSummary
    """
    if not 0 < regeneration_threshold < 1:
        raise InputError(f"the regeneration threshold is a fraction in (0, 1), not {regeneration_threshold}")
    results, out = Path(results), Path(out)
    measurements = load_measurements(results)
    clinical_table = load_clinical(clinical) if clinical is not None else None
    visits = hip_visits(measurements, load_verdicts(results))
    if visits.empty:
        raise InputError(
            "no measured hips in these results", path=results, hint="see errors.csv for why the series failed"
        )
    composites = with_primary(endpoints)
    events = hip_events(visits, clinical_table, regeneration_threshold=regeneration_threshold)
    visits = add_baseline_changes(drop_after_withdrawal(visits, clinical_table))
    outcomes = add_composites(
        visit_outcomes(visits, events, visit_months=visit_months, window_months=window_months), composites
    )
    table = endpoint_table(outcomes, composites=composites)
    flow = flow_table(visits, events, window_months=window_months)
    per_visit = visit_summary(visits)
    jic = jic_table(events, outcomes)
    early = early_lesion_table(visits, events)
    km = {name: kaplan_meier(events, name) for name in ("thr", "collapse")}
    km_rows = pd.DataFrame(
        [
            {
                "event": name,
                "hips_at_risk": int(np.isfinite(events[f"{name}_days"]).sum()),
                "events": int(events[f"{name}_observed"].sum()),
                **dict(zip(("survival", "ci_low", "ci_high"), survival_at(t, visit_months), strict=True)),
            }
            for name, (t, _) in km.items()
        ]
    )
    reads_path = results / "reads.csv"
    agreement = reader_agreement(pd.read_csv(reads_path)) if reads_path.is_file() else reader_agreement(None)
    warnings = cohort_warnings(measurements)

    out.mkdir(parents=True, exist_ok=True)
    summary = ReportSummary(
        out=out,
        n_patients=visits["patient_id"].nunique(),
        n_hips=len(events),
        n_visits=len(visits),
        endpoints=table,
        flow=flow,
        visit_summary=per_visit,
        warnings=warnings,
    )
    files = summary.files
    for name, df in (
        ("trajectories.csv", visits),
        ("events.csv", events),
        ("outcomes.csv", outcomes),
        ("endpoints.csv", table),
        ("flow.csv", flow),
        ("visit_summary.csv", per_visit),
        ("jic.csv", jic),
        ("early_lesion.csv", early),
    ):
        files[name] = _write_csv(out / name, df)
    for name, (t, _) in km.items():
        files[f"survival_{name}.csv"] = _write_csv(out / f"survival_{name}.csv", t)
    if not agreement.empty:
        files["agreement.csv"] = _write_csv(out / "agreement.csv", agreement)

    groups = list(visits.groupby("hip", sort=True))
    figure_links: dict[str, str] = {}
    if hip_figures:
        figure_links = {hip: f"hips/{_safe(hip.replace(':', '_'))}.png" for hip, _ in groups}
        targets = [(hip, out / name) for hip, name in figure_links.items()]
        for name, path in zip(figure_links.values(), _draw_hip_figures(visits, events, targets, processes),
                              strict=True):
            files[name] = path
    qc_links = _copy_qc_pictures(visits, results, out, files)
    swimmer_png = swimmer_figure(visits, events)
    files["swimmer.png"] = _write_bytes(out / "swimmer.png", swimmer_png)
    cohort_png = cohort_figure(visits, km, visit_months)
    files["cohort.png"] = _write_bytes(out / "cohort.png", cohort_png)
    window = default_window_months(visit_months) if window_months is None else window_months
    settings = {
        "visit (months)": visit_months,
        "window (months)": window,
        "regeneration threshold": regeneration_threshold,
        "collapse detection limit (mm)": COLLAPSE_MM,
        "clinical table": Path(clinical).name if clinical is not None else "none",
    }
    words = endpoint_words(composites)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ONFH longitudinal report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ONFH longitudinal report</h1>",
        f"<p>{summary.n_patients} patients, {summary.n_hips} hips, {summary.n_visits} hip visits. "
        + ", ".join(f"{html.escape(k)} = {html.escape(str(v))}" for k, v in settings.items())
        + f". onfh-imaging {html.escape(__version__)}.</p>",
    ]
    if warnings:
        parts.append("<h2>Warnings</h2><ul class='warn' id='warnings'>"
                     + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul>")
    parts += [
        "<h2>Populations</h2>",
        "".join(f"<p>{html.escape(POPULATION_WORDS[p])}</p>" for p in ("per_protocol", "intention_to_treat")),
        ("<p>A withdrawn hip (withdrawal_date in the clinical table) contributes nothing after its "
         "withdrawal: no visit, no THR; survival censors it there.</p>"),
        "<h2 id='flow'>Flow of hips per visit</h2>",
        _table_html(flow.rename(columns=lambda c: c.replace("_", " ")), floats="{:g}",
                    empty="No follow-up visit: every hip has its baseline only."),
        _withdrawal_html(events),
        f"<h2 id='endpoints'>Endpoints at {visit_months:g} months (window +/- {window:g} months)</h2>",
        ("<p>Wilson 95 % intervals. Regeneration and composites that include it count hips with a "
         "baseline lesion only.</p>"),
        _table_html(endpoints_in_words(table, words),
                    empty="No hip enrolled."),
        _assessed_note(outcomes, visit_months),
        "<h2 id='per-visit'>Per visit: lesion, collapse and stage</h2>",
        "<p>median [interquartile range] (number of hips measured).</p>",
        _table_html(_summary_display(per_visit)),
        "<h2 id='jic'>By baseline JIC type</h2>",
        _table_html(jic, empty="No JIC type measured at baseline (the measurements predate it, or no "
                    "lesion reached the mid-coronal plane)."),
        f"<h2 id='early'>Lesion at {EARLY_VISIT_MONTHS} months and what followed</h2>",
        (f"<p>A lesion under {EARLY_LESION_PCT:g} % of the head at {EARLY_VISIT_MONTHS} months was followed "
         "by no progression in the REBORNE companion report.</p>"),
        _table_html(early, floats="{:.1f}", empty=f"No hip measured at the {EARLY_VISIT_MONTHS}-month visit."),
        "<h2 id='swimmer'>Swimmer plot</h2>",
        _img(swimmer_png, "swimmer plot: one line per hip"),
        "<h2>Cohort trajectories and survival</h2>",
        _img(cohort_png, "cohort trajectories and survival"),
        f"<h3>Kaplan-Meier survival at {visit_months:g} months</h3>",
        _table_html(km_rows),
        "".join(f"<p class='empty'>{html.escape(_km_empty_reason(n, events))}</p>" for n, (t, _) in km.items()
                if t.empty),
    ]
    parts.append("<h2>Reader agreement</h2>")
    parts.append(_table_html(agreement, empty="No hip was confirmed by two or more readers (reads.csv in the "
                                              "batch output): no agreement to report."))
    parts.append("<h2 id='hips'>Per hip: trajectories and quality-control pictures</h2>")
    parts.append(
        "<p>Each QC picture is the mid-coronal plane through the head centre: head outline (yellow), "
        "lesion outline (red), reference sphere (cyan dashed), lateral acetabular edge (green); on a "
        "radiograph, the reference circle on the head.</p>"
    )
    for hip, v in groups:
        parts.append(f"<section class='hip' id='hip-{html.escape(_safe(hip))}'><h3>{html.escape(hip)}</h3>")
        if hip in figure_links:
            parts.append(f"<img loading='lazy' {_CHECKED} alt='trajectories of {html.escape(hip)}' "
                         f"src='{html.escape(figure_links[hip])}'>")
        parts.append(f"<div>{_qc_cells(v, qc_links)}</div></section>")
    parts.append(
        "<p>Tables: " + ", ".join(n for n in files if n.endswith(".csv")) + ".</p></body></html>"
    )
    files["index.html"] = _write_bytes(out / "index.html", "\n".join(parts).encode("utf-8"))
    return summary


def _withdrawal_html(events: pd.DataFrame) -> str:
    w = events[np.isfinite(events["withdrawal_days"].astype(float))]
    if w.empty:
        return "<p>No hip withdrawn.</p>"
    rows = pd.DataFrame(
        {
            "hip": w["hip"],
            "withdrawn at (months)": (w["withdrawal_days"] / DAYS_PER_MONTH).round(1),
            "reason": w["withdrawal_reason"].replace("", "not given"),
        }
    )
    return "<h3>Withdrawals</h3>" + _table_html(rows)


def _assessed_note(outcomes: pd.DataFrame, visit_months: float) -> str:
    if outcomes["per_protocol"].any():
        return ""
    return (
        f"<p class='empty'>No hip was assessed at {visit_months:g} months nor replaced before it: per "
        "protocol fractions are empty. Choose another visit (--visit) or widen its window (--window).</p>"
    )


def _copy_qc_pictures(visits: pd.DataFrame, results: Path, out: Path, files: dict[str, Path]) -> dict:
    """Copy the batch's QC pictures of the visits shown into ``out/qc``; (hip, visit_days) -> link."""
    links = {}
    if "qc_picture" not in visits.columns:
        return links
    for _, row in visits.dropna(subset=["qc_picture"]).iterrows():
        source = results / str(row["qc_picture"])
        if not source.is_file():
            continue
        name = f"qc/{source.name}"
        files[name] = _write_bytes(out / name, source.read_bytes())
        links[(row["hip"], row["visit_days"])] = name
    return links

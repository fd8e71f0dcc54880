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
for starting them (:data:`onfh_imaging.batch.report_figures.HIPS_PER_PROCESS`).
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from onfh_imaging import __version__
from onfh_imaging.batch.agreement import reader_agreement
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
from onfh_imaging.batch.report_figures import (
    EVENT_NAMES,
    cohort_figure,
    draw_hip_figures,
    swimmer_figure,
    write_bytes,
)
from onfh_imaging.batch.visits import DAYS_PER_MONTH
from onfh_imaging.errors import InputError
from onfh_imaging.io._atomic import atomic_path

__all__ = ["ReportSummary", "endpoints_in_words", "jic_table", "longitudinal_report"]


@dataclass
class ReportSummary:
    """What a longitudinal report holds: counts, tables, warnings and the files written.

    Attributes
    ----------
    out : Path
        The report folder.
    n_patients, n_hips, n_visits : int
        Patients, hips (patient and side) and hip visits with a measurement.
    endpoints : DataFrame
        :func:`~onfh_imaging.batch.endpoints.endpoint_table`: one row per endpoint and population.
    flow : DataFrame
        :func:`~onfh_imaging.batch.endpoints.flow_table`: one row per follow-up visit.
    visit_summary : DataFrame
        :func:`~onfh_imaging.batch.longitudinal.visit_summary`: one row per nominal visit.
    warnings : list of str
        What the analyst must know about the cohort's visit dates.
    files : dict of str to Path
        Every file written, by its path relative to :attr:`out` (``"endpoints.csv"``,
        ``"hips/P1_left.png"``, ``"index.html"``...).
    """

    out: Path
    n_patients: int
    n_hips: int
    n_visits: int
    endpoints: pd.DataFrame
    flow: pd.DataFrame = field(default_factory=pd.DataFrame)
    visit_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def _write_csv(path: Path, df: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "hip"


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
    """One row per endpoint: its statement, per protocol and intention to treat as ``k/n = % (CI)``.

    Parameters
    ----------
    endpoints : DataFrame
        :func:`~onfh_imaging.batch.endpoints.endpoint_table` (``endpoint``, ``population``, ``n``,
        ``successes``, ``fraction``, ``ci_low``, ``ci_high``), both populations of every endpoint.
    words : dict of str to str
        Each endpoint's statement by name (:func:`~onfh_imaging.batch.endpoints.endpoint_words`);
        a name without one is shown as itself.

    Returns
    -------
    DataFrame
        Columns ``endpoint`` (the statement), ``name``, ``per protocol`` and ``intention to treat``
        (``"k/n = p % (low-high)"`` in percent, ``"no hip"`` when ``n`` is 0); the primary endpoint and
        the composites first, then the base endpoints.
    """
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
    """Per baseline JIC type: hips, collapse progression and THR seen, success at the visit (per protocol).

    Parameters
    ----------
    events : DataFrame
        :func:`~onfh_imaging.batch.longitudinal.hip_events` (``hip``, ``baseline_jic_type``,
        ``collapse_progression_observed``, ``thr_observed``).
    outcomes : DataFrame
        :func:`~onfh_imaging.batch.endpoints.visit_outcomes` (``hip``, ``per_protocol``, ``success``).

    Returns
    -------
    DataFrame
        One row per JIC type present (A, B, C1, C2 in that order): ``JIC type``, ``hips``,
        ``collapse progression seen``, ``THR seen`` and ``success at the visit (per protocol)`` as
        ``"k/n"``. Empty when no hip has a baseline JIC type.
    """
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
    return f"No hip at risk of {EVENT_NAMES.get(name, name)}."


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
        Fractional lesion-volume decrease from baseline that counts as bone regeneration (0.25 = 25 %).
    hip_figures : bool
        Draw one trajectory figure per hip.
    endpoints : sequence of Composite
        The analyst's composite endpoints, reported after the base endpoints and the primary one.
    processes : int, optional
        Worker processes drawing the per-hip figures (default: as many as pay, see
        :data:`~onfh_imaging.batch.report_figures.HIPS_PER_PROCESS`; 0 or 1 draws in this process).

    Returns
    -------
    ReportSummary
        The counts, the endpoint, flow and per-visit tables, the warnings and every file written.

    Raises
    ------
    InputError
        When ``regeneration_threshold`` is not in (0, 1), ``results`` is not a batch output folder or
        has no measured hip, the clinical table cannot be used, a composite endpoint cannot be
        evaluated or takes a name already used, or lifelines is not installed.
    """
    if not 0 < regeneration_threshold < 1:
        raise InputError(f"the regeneration threshold is a fraction in (0, 1), not {regeneration_threshold}")
    results, out = Path(results), Path(out)
    cohort = _analyse_cohort(results, visit_months=visit_months, window_months=window_months, clinical=clinical,
                             regeneration_threshold=regeneration_threshold, endpoints=endpoints)
    out.mkdir(parents=True, exist_ok=True)
    summary = ReportSummary(
        out=out,
        n_patients=cohort.visits["patient_id"].nunique(),
        n_hips=len(cohort.events),
        n_visits=len(cohort.visits),
        endpoints=cohort.endpoints,
        flow=cohort.flow,
        visit_summary=cohort.per_visit,
        warnings=cohort.warnings,
    )
    files = summary.files
    _write_tables(cohort, out, files)
    figure_links = _write_hip_figures(cohort, out, files, processes) if hip_figures else {}
    qc_links = _copy_qc_pictures(cohort.visits, results, out, files)
    swimmer_png = swimmer_figure(cohort.visits, cohort.events)
    files["swimmer.png"] = write_bytes(out / "swimmer.png", swimmer_png)
    cohort_png = cohort_figure(cohort.visits, cohort.km, visit_months)
    files["cohort.png"] = write_bytes(out / "cohort.png", cohort_png)
    window = default_window_months(visit_months) if window_months is None else window_months
    settings = _settings(visit_months, window, regeneration_threshold, clinical)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ONFH longitudinal report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ONFH longitudinal report</h1>",
        f"<p>{summary.n_patients} patients, {summary.n_hips} hips, {summary.n_visits} hip visits. "
        + ", ".join(f"{html.escape(k)} = {html.escape(str(v))}" for k, v in settings.items())
        + f". onfh-imaging {html.escape(__version__)}.</p>",
        *_cohort_sections_html(cohort, visit_months, window, swimmer_png, cohort_png),
        *_hip_sections_html(cohort.visits, figure_links, qc_links),
        "<p>Tables: " + ", ".join(n for n in files if n.endswith(".csv")) + ".</p></body></html>",
    ]
    files["index.html"] = write_bytes(out / "index.html", "\n".join(parts).encode("utf-8"))
    return summary


def _write_hip_figures(cohort: _Cohort, out: Path, files: dict[str, Path], processes: int | None
                       ) -> dict[str, str]:
    """Draw every hip's trajectory figure into ``out/hips``; hip -> its link, relative to ``out``."""
    figure_links = {hip: f"hips/{_safe(hip.replace(':', '_'))}.png"
                    for hip in sorted(cohort.visits["hip"].unique())}
    targets = [(hip, out / name) for hip, name in figure_links.items()]
    for name, path in zip(figure_links.values(),
                          draw_hip_figures(cohort.visits, cohort.events, targets, processes), strict=True):
        files[name] = path
    return figure_links


def _settings(visit_months: float, window: float, regeneration_threshold: float,
              clinical: str | os.PathLike | None) -> dict[str, object]:
    """The analysis settings the page states, by their name in words (months, mm, a fraction)."""
    return {
        "visit (months)": visit_months,
        "window (months)": window,
        "regeneration threshold": regeneration_threshold,
        "collapse detection limit (mm)": COLLAPSE_MM,
        "clinical table": Path(clinical).name if clinical is not None else "none",
    }


@dataclass
class _Cohort:
    """Every table of one longitudinal analysis, before anything is written."""

    visits: pd.DataFrame
    events: pd.DataFrame
    outcomes: pd.DataFrame
    endpoints: pd.DataFrame
    words: dict[str, str]
    flow: pd.DataFrame
    per_visit: pd.DataFrame
    jic: pd.DataFrame
    early: pd.DataFrame
    km: dict
    km_rows: pd.DataFrame
    agreement: pd.DataFrame
    warnings: list[str]


def _analyse_cohort(results: Path, *, visit_months: float, window_months: float | None,
                    clinical: str | os.PathLike | None, regeneration_threshold: float,
                    endpoints: list[Composite] | tuple[Composite, ...]) -> _Cohort:
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
    return _Cohort(
        visits=visits,
        events=events,
        outcomes=outcomes,
        endpoints=endpoint_table(outcomes, composites=composites),
        words=endpoint_words(composites),
        flow=flow_table(visits, events, window_months=window_months),
        per_visit=visit_summary(visits),
        jic=jic_table(events, outcomes),
        early=early_lesion_table(visits, events),
        km=km,
        km_rows=km_rows,
        agreement=reader_agreement(pd.read_csv(reads_path)) if reads_path.is_file() else reader_agreement(None),
        warnings=cohort_warnings(measurements),
    )


def _write_tables(cohort: _Cohort, out: Path, files: dict[str, Path]) -> None:
    for name, df in (
        ("trajectories.csv", cohort.visits),
        ("events.csv", cohort.events),
        ("outcomes.csv", cohort.outcomes),
        ("endpoints.csv", cohort.endpoints),
        ("flow.csv", cohort.flow),
        ("visit_summary.csv", cohort.per_visit),
        ("jic.csv", cohort.jic),
        ("early_lesion.csv", cohort.early),
    ):
        files[name] = _write_csv(out / name, df)
    for name, (t, _) in cohort.km.items():
        files[f"survival_{name}.csv"] = _write_csv(out / f"survival_{name}.csv", t)
    if not cohort.agreement.empty:
        files["agreement.csv"] = _write_csv(out / "agreement.csv", cohort.agreement)


def _cohort_sections_html(cohort: _Cohort, visit_months: float, window: float, swimmer_png: bytes,
                          cohort_png: bytes) -> list[str]:
    parts = []
    if cohort.warnings:
        parts.append("<h2>Warnings</h2><ul class='warn' id='warnings'>"
                     + "".join(f"<li>{html.escape(w)}</li>" for w in cohort.warnings) + "</ul>")
    parts += [
        "<h2>Populations</h2>",
        "".join(f"<p>{html.escape(POPULATION_WORDS[p])}</p>" for p in ("per_protocol", "intention_to_treat")),
        ("<p>A withdrawn hip (withdrawal_date in the clinical table) contributes nothing after its "
         "withdrawal: no visit, no THR; survival censors it there.</p>"),
        "<h2 id='flow'>Flow of hips per visit</h2>",
        _table_html(cohort.flow.rename(columns=lambda c: c.replace("_", " ")), floats="{:g}",
                    empty="No follow-up visit: every hip has its baseline only."),
        _withdrawal_html(cohort.events),
        f"<h2 id='endpoints'>Endpoints at {visit_months:g} months (window +/- {window:g} months)</h2>",
        ("<p>Wilson 95 % intervals. Regeneration and composites that include it count hips with a "
         "baseline lesion only.</p>"),
        _table_html(endpoints_in_words(cohort.endpoints, cohort.words), empty="No hip enrolled."),
        _assessed_note(cohort.outcomes, visit_months),
        "<h2 id='per-visit'>Per visit: lesion, collapse and stage</h2>",
        "<p>median [interquartile range] (number of hips measured).</p>",
        _table_html(_summary_display(cohort.per_visit)),
        "<h2 id='jic'>By baseline JIC type</h2>",
        _table_html(cohort.jic, empty="No JIC type measured at baseline (the measurements predate it, or no "
                    "lesion reached the mid-coronal plane)."),
        f"<h2 id='early'>Lesion at {EARLY_VISIT_MONTHS} months and what followed</h2>",
        (f"<p>A lesion under {EARLY_LESION_PCT:g} % of the head at {EARLY_VISIT_MONTHS} months was followed "
         "by no progression in the REBORNE companion report.</p>"),
        _table_html(cohort.early, floats="{:.1f}",
                    empty=f"No hip measured at the {EARLY_VISIT_MONTHS}-month visit."),
        "<h2 id='swimmer'>Swimmer plot</h2>",
        _img(swimmer_png, "swimmer plot: one line per hip"),
        "<h2>Cohort trajectories and survival</h2>",
        _img(cohort_png, "cohort trajectories and survival"),
        f"<h3>Kaplan-Meier survival at {visit_months:g} months</h3>",
        _table_html(cohort.km_rows),
        "".join(f"<p class='empty'>{html.escape(_km_empty_reason(n, cohort.events))}</p>"
                for n, (t, _) in cohort.km.items() if t.empty),
        "<h2>Reader agreement</h2>",
        _table_html(cohort.agreement, empty="No hip was confirmed by two or more readers (reads.csv in the "
                                            "batch output): no agreement to report."),
    ]
    return parts


def _hip_sections_html(visits: pd.DataFrame, figure_links: dict[str, str],
                       qc_links: dict[tuple[str, float], str]) -> list[str]:
    parts = [
        "<h2 id='hips'>Per hip: trajectories and quality-control pictures</h2>",
        ("<p>Each QC picture is the mid-coronal plane through the head centre: head outline (yellow), "
         "lesion outline (red), reference sphere (cyan dashed), lateral acetabular edge (green); on a "
         "radiograph, the reference circle on the head.</p>"),
    ]
    for hip, v in visits.groupby("hip", sort=True):
        parts.append(f"<section class='hip' id='hip-{html.escape(_safe(hip))}'><h3>{html.escape(hip)}</h3>")
        if hip in figure_links:
            parts.append(f"<img loading='lazy' {_CHECKED} alt='trajectories of {html.escape(hip)}' "
                         f"src='{html.escape(figure_links[hip])}'>")
        parts.append(f"<div>{_qc_cells(v, qc_links)}</div></section>")
    return parts


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
        files[name] = write_bytes(out / name, source.read_bytes())
        links[(row["hip"], row["visit_days"])] = name
    return links

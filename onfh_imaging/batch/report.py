"""The longitudinal report of a trial cohort: tables, figures and one self-contained HTML page.

``longitudinal_report(results, out)`` reads a batch output folder and writes into ``out``:

- ``trajectories.csv`` (hip visits), ``events.csv`` (per hip events), ``outcomes.csv`` (per hip
  outcome at the chosen visit), ``endpoints.csv`` (fractions with Wilson CIs), ``survival_thr.csv``
  and ``survival_collapse.csv`` (Kaplan-Meier), ``agreement.csv`` (when several readers confirmed);
- ``hips/<patient>_<side>.png`` trajectories and ``cohort.png``;
- ``index.html`` embedding the cohort figure and tables and linking the per-hip figures.
"""

from __future__ import annotations

import base64
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
from onfh_imaging.batch.endpoints import (
    default_window_months,
    endpoint_table,
    kaplan_meier,
    survival_at,
    visit_outcomes,
)
from onfh_imaging.batch.longitudinal import (
    COLLAPSE_MM,
    REGENERATION_THRESHOLD,
    hip_events,
    hip_visits,
    load_clinical,
    load_measurements,
)
from onfh_imaging.batch.store import atomic_output
from onfh_imaging.batch.visits import DAYS_PER_MONTH
from onfh_imaging.errors import InputError

_PANELS = (
    ("lesion_volume_ml", "lesion volume (mL)"),
    ("lesion_head_involvement_pct", "head involved (%)"),
    ("head_sphericity", "sphericity"),
    ("head_collapse_depth_mm", "collapse depth (mm)"),
    ("arco_rank", "ARCO 2019 stage"),
)


_EVENT_NAMES = {"thr": "THR"}


@dataclass
class ReportSummary:
    """What a longitudinal report holds: counts, the endpoint table and the files written."""

    out: Path
    n_patients: int
    n_hips: int
    n_visits: int
    endpoints: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
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


def hip_figure(v: pd.DataFrame, ev: pd.Series | None = None) -> bytes:
    """PNG of one hip's trajectories (months from baseline), THR marked when it happened."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(3.0 * len(_PANELS), 2.6))
    months = v["visit_days"] / DAYS_PER_MONTH
    for ax, (col, title) in zip(axes, _PANELS, strict=True):
        ax.plot(months, v[col].astype(float), "o-", color="tab:blue")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("months", fontsize=8)
        ax.tick_params(labelsize=7)
        if ev is not None and ev["thr_observed"]:
            ax.axvline(ev["thr_days"] / DAYS_PER_MONTH, color="tab:red", ls="--", lw=1)
    axes[-1].set_yticks(range(len(ARCO_ORDER)), ARCO_ORDER)
    axes[-1].set_ylim(-0.5, len(ARCO_ORDER) - 0.5)
    axes[3].axhline(COLLAPSE_MM, color="grey", ls=":", lw=1)
    fig.suptitle(str(v["hip"].iloc[0]), fontsize=10, y=1.04)
    return _png_bytes(fig)


def cohort_figure(
    visits: pd.DataFrame, km: dict[str, tuple[pd.DataFrame, object]], visit_months: float
) -> bytes:
    """PNG of the cohort: lesion volume vs baseline, sphericity, collapse per hip; KM curves."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for _, v in visits.groupby("hip"):
        months = v["visit_days"] / DAYS_PER_MONTH
        base = v["lesion_volume_ml"].iloc[0]
        if np.isfinite(base) and base > 0:
            axes[0].plot(months, 100 * v["lesion_volume_ml"] / base, "-", color="tab:blue", alpha=0.4, lw=1)
        axes[1].plot(months, v["head_sphericity"], "-", color="tab:green", alpha=0.4, lw=1)
        axes[2].plot(months, v["head_collapse_depth_mm"], "-", color="tab:orange", alpha=0.4, lw=1)
    axes[0].set_title("lesion volume (% of baseline)")
    axes[1].set_title("head sphericity")
    axes[2].set_title("collapse depth (mm)")
    axes[2].axhline(COLLAPSE_MM, color="grey", ls=":", lw=1)
    for (name, (table, _)), color in zip(km.items(), ("tab:red", "tab:purple"), strict=False):
        if table.empty:
            continue
        axes[3].step(
            table["months"],
            table["survival"],
            where="post",
            color=color,
            label=f"free of {_EVENT_NAMES.get(name, name)}",
        )
        axes[3].fill_between(
            table["months"], table["ci_low"], table["ci_high"], step="post", color=color, alpha=0.15
        )
    axes[3].axvline(visit_months, color="grey", ls=":", lw=1)
    axes[3].set_ylim(0, 1.02)
    axes[3].set_title("Kaplan-Meier (95 % CI)")
    axes[3].legend(fontsize=8, loc="lower left")
    for ax in axes:
        ax.set_xlabel("months from baseline")
    return _png_bytes(fig)


def _table_html(df: pd.DataFrame, floats: str = "{:.3g}") -> str:
    return df.to_html(index=False, escape=True, na_rep="", float_format=floats.format, border=0)


def _html(
    summary: ReportSummary,
    endpoints: pd.DataFrame,
    km_rows: pd.DataFrame,
    agreement: pd.DataFrame,
    cohort_png: bytes,
    hip_links: list[tuple[str, str]],
    settings: dict,
) -> str:
    img = base64.b64encode(cohort_png).decode("ascii")
    links = "".join(
        f'<li><a href="{html.escape(href)}">{html.escape(name)}</a></li>' for name, href in hip_links
    )
    setting_text = ", ".join(f"{html.escape(k)} = {html.escape(str(v))}" for k, v in settings.items())
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ONFH longitudinal report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
        "margin:0.5em 0 1.5em}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}"
        "img{max-width:100%}</style></head><body>",
        "<h1>ONFH longitudinal report</h1>",
        f"<p>{summary.n_patients} patients, {summary.n_hips} hips, {summary.n_visits} hip visits. "
        f"Settings: {setting_text}. onfh-imaging {html.escape(__version__)}.</p>",
        f"<img alt='cohort trajectories and survival' src='data:image/png;base64,{img}'>",
        "<h2>Endpoints at the chosen visit</h2>",
        "<p>Per protocol: hips assessed at the visit, and hips replaced before it (failures). "
        "Intention to treat: every hip with a baseline measurement; a hip not assessed counts as a "
        "failure. Wilson 95 % intervals.</p>",
        _table_html(endpoints),
        "<h2>Kaplan-Meier survival at the chosen visit</h2>",
        _table_html(km_rows),
    ]
    if not agreement.empty:
        parts += ["<h2>Reader agreement</h2>", _table_html(agreement)]
    parts += [
        "<h2>Per-hip trajectories</h2>",
        f"<ul>{links}</ul>",
        "<p>Tables: trajectories.csv, events.csv, outcomes.csv, endpoints.csv, survival_thr.csv, "
        "survival_collapse.csv.</p></body></html>",
    ]
    return "\n".join(parts)


def longitudinal_report(
    results: str | os.PathLike,
    out: str | os.PathLike,
    *,
    visit_months: float = 12,
    window_months: float | None = None,
    clinical: str | os.PathLike | None = None,
    regeneration_threshold: float = REGENERATION_THRESHOLD,
    hip_figures: bool = True,
) -> ReportSummary:
    """Write the longitudinal report of a batch output folder.

    Parameters
    ----------
    results : path
        Output folder of ``onfh batch`` (its ``measurements.parquet``; ``reads.csv`` when present).
    out : path
        Report folder (created).
    visit_months : float
        Visit at which endpoints are assessed, months from baseline.
    window_months : float, optional
        Half-width of the visit window, months (default: a quarter of ``visit_months``, at least 1).
    clinical : path, optional
        CSV of total hip replacements: ``patient_id, side, thr_date`` (+ optional ``last_followup_date``).
    regeneration_threshold : float
        Fractional lesion-volume decrease from baseline that counts as bone regeneration.
    hip_figures : bool
        Draw one trajectory figure per hip.

    Returns
    -------
    ReportSummary
    """
    if not 0 < regeneration_threshold < 1:
        raise InputError(f"the regeneration threshold is a fraction in (0, 1), not {regeneration_threshold}")
    results, out = Path(results), Path(out)
    visits = hip_visits(load_measurements(results))
    if visits.empty:
        raise InputError(
            "no measured hips in these results", path=results, hint="see errors.csv for why the series failed"
        )
    events = hip_events(
        visits,
        load_clinical(clinical) if clinical is not None else None,
        regeneration_threshold=regeneration_threshold,
    )
    outcomes = visit_outcomes(visits, events, visit_months=visit_months, window_months=window_months)
    endpoints = endpoint_table(outcomes)
    km = {name: kaplan_meier(events, name) for name in ("thr", "collapse")}
    km_rows = pd.DataFrame(
        [
            {
                "event": name,
                "hips_at_risk": int(np.isfinite(events[f"{name}_days"]).sum()),
                "events": int(events[f"{name}_observed"].sum()),
                **dict(zip(("survival", "ci_low", "ci_high"), survival_at(table, visit_months), strict=True)),
            }
            for name, (table, _) in km.items()
        ]
    )
    reads_path = results / "reads.csv"
    agreement = reader_agreement(pd.read_csv(reads_path)) if reads_path.is_file() else reader_agreement(None)

    out.mkdir(parents=True, exist_ok=True)
    summary = ReportSummary(
        out=out,
        n_patients=visits["patient_id"].nunique(),
        n_hips=len(events),
        n_visits=len(visits),
        endpoints=endpoints,
    )
    files = summary.files
    files["trajectories.csv"] = _write_csv(out / "trajectories.csv", visits)
    files["events.csv"] = _write_csv(out / "events.csv", events)
    files["outcomes.csv"] = _write_csv(out / "outcomes.csv", outcomes)
    files["endpoints.csv"] = _write_csv(out / "endpoints.csv", endpoints)
    for name, (table, _) in km.items():
        files[f"survival_{name}.csv"] = _write_csv(out / f"survival_{name}.csv", table)
    if not agreement.empty:
        files["agreement.csv"] = _write_csv(out / "agreement.csv", agreement)
    hip_links = []
    if hip_figures:
        by_hip = events.set_index("hip")
        for hip, v in visits.groupby("hip", sort=True):
            name = f"hips/{_safe(hip.replace(':', '_'))}.png"
            files[name] = _write_bytes(out / name, hip_figure(v, by_hip.loc[hip]))
            hip_links.append((hip, name))
    cohort_png = cohort_figure(visits, km, visit_months)
    files["cohort.png"] = _write_bytes(out / "cohort.png", cohort_png)
    settings = {
        "visit (months)": visit_months,
        "window (months)": default_window_months(visit_months) if window_months is None else window_months,
        "regeneration threshold": regeneration_threshold,
        "collapse (mm)": COLLAPSE_MM,
        "clinical table": Path(clinical).name if clinical is not None else "none",
    }
    page = _html(summary, endpoints, km_rows, agreement, cohort_png, hip_links, settings)
    files["index.html"] = _write_bytes(out / "index.html", page.encode("utf-8"))
    return summary

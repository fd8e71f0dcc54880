"""Readable terminal summaries of measurement results (the CLI's default output)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def study_table(report: dict) -> Table:
    """A table of one study's hips from the measurement JSON contract."""
    inp = report.get("input", {})
    title = (f"{inp.get('modality', '?')} {inp.get('study_date') or ''} "
             f"{inp.get('series_description') or ''}").strip()
    table = Table(title=title, title_justify="left")
    radiograph = "pixel_size_source" in inp
    table.add_column("hip")
    table.add_column("head radius", justify="right")
    if radiograph:
        table.add_column("Mose deviation", justify="right")
        table.add_column("collapse", justify="right")
        table.add_column("joint space", justify="right")
    else:
        table.add_column("head volume", justify="right")
        table.add_column("sphericity", justify="right")
        table.add_column("collapse", justify="right")
        table.add_column("lesion", justify="right")
        table.add_column("involved", justify="right")
        table.add_column("Kerboul", justify="right")
    table.add_column("ARCO 2019")
    table.add_column("notes")
    for hip in report.get("hips", []):
        head = hip.get("head") or {}
        lesion = hip.get("lesion") or {}
        staging = hip.get("staging") or {}
        unit = " mm" if not radiograph or inp.get("pixel_size_mm") else " px"
        row = [hip.get("side", "?"), _fmt(head.get("radius_mm"), unit, 1)]
        if radiograph:
            row += [_fmt(head.get("max_deviation_mm"), unit), _fmt(head.get("collapse_depth_mm"), unit),
                    _fmt(head.get("joint_space_width_mm"), unit)]
        else:
            row += [_fmt(head.get("volume_ml"), " mL", 1), _fmt(head.get("sphericity"), "", 3),
                    _fmt(head.get("collapse_depth_mm"), " mm"),
                    _fmt(lesion.get("volume_ml"), " mL") if lesion else "-",
                    _fmt(lesion.get("head_involvement_pct"), " %", 1) if lesion else "-",
                    _fmt(lesion.get("kerboul_angle_deg"), " deg", 0) if lesion else "-"]
        row += [str(staging.get("arco_2019", "-")), "; ".join(hip.get("warnings", []))]
        table.add_row(*row)
    return table


def print_study(report: dict, console: Console | None = None) -> None:
    """Print one study's table, followed by its basis for staging."""
    console = console or Console()
    console.print(study_table(report))
    for hip in report.get("hips", []):
        basis = (hip.get("staging") or {}).get("arco_basis")
        if basis:
            console.print(f"  {hip.get('side')}: {basis}", style="dim")
    if not report.get("hips"):
        console.print("  no femoral head measured", style="yellow")

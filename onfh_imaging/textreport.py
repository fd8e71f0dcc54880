"""Readable terminal summaries of measurement results (the CLI's default output)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def study_table(report: dict) -> Table:
    """A table of one study's hips from the measurement JSON contract."""
    inp = report.get("input", {})
    title = " ".join(str(v) for v in (inp.get("modality"), inp.get("study_date"),
                                       inp.get("series_description")) if v)
    table = Table(title=title, title_justify="left")
    radiograph = "pixel_size_source" in inp
    unit = "mm" if not radiograph or inp.get("pixel_size_mm") else "px"
    columns = ["hip", f"radius\n{unit}"]
    if radiograph:
        columns += [f"Mose dev.\n{unit}", f"collapse\n{unit}", f"joint sp.\n{unit}"]
    else:
        columns += ["volume\nmL", "spheri-\ncity", "collapse\nmm", "lesion\nmL", "involved\n%", "Kerboul\ndeg"]
    columns.append("ARCO\n2019")
    for n, name in enumerate(columns):
        table.add_column(name, justify="left" if n in (0, len(columns) - 1) else "right")
    for hip in report.get("hips", []):
        head = hip.get("head") or {}
        lesion = hip.get("lesion") or {}
        staging = hip.get("staging") or {}
        row = [hip.get("side", "?"), _fmt(head.get("radius_mm"), 1)]
        if radiograph:
            row += [_fmt(head.get("max_deviation_mm")), _fmt(head.get("collapse_depth_mm")),
                    _fmt(head.get("joint_space_width_mm"))]
        else:
            row += [_fmt(head.get("volume_ml"), 1), _fmt(head.get("sphericity"), 3),
                    _fmt(head.get("collapse_depth_mm")), _fmt(lesion.get("volume_ml")),
                    _fmt(lesion.get("head_involvement_pct"), 1), _fmt(lesion.get("kerboul_angle_deg"), 0)]
        row.append(str(staging.get("arco_2019", "-")))
        table.add_row(*row)
    return table


def print_study(report: dict, console: Console | None = None) -> None:
    """Print one study's table, then each hip's staging basis and warnings."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=110)  # piped output: no terminal width to fit
    console.print(study_table(report))
    for hip in report.get("hips", []):
        basis = (hip.get("staging") or {}).get("arco_basis")
        if basis:
            console.print(f"  {hip.get('side')}: {basis}", style="dim")
        for warning in hip.get("warnings", []):
            console.print(f"  {hip.get('side')}: warning: {warning}", style="yellow")
    for warning in report.get("warnings", []):
        console.print(f"  warning: {warning}", style="yellow")
    if not report.get("hips"):
        console.print("  no femoral head measured", style="yellow")

"""The text output of ``onfh measure``: what a radiologist reads, visit by visit and hip by hip.

For each patient (pseudonymised unless the caller asks for the PatientID) and visit: the series
measured, then one block per hip with the verdict first (ARCO 2019 stage, what decided it, the depth
used and the others, what the visit cannot tell, disagreements, review), then what each series measured,
with units. Each warning is printed once, naming every series that raised it. A stage is never left
empty: a hip without one says "not staged" and why.

Stage I vs II is decided by each radiograph's finding inside the head (a sclerotic margin or a lucency,
:mod:`onfh_imaging.measure.radiograph_lesion`): each radiograph's block says whether it was found, found
absent (the radiograph is normal inside the head) or not read and why; the verdict is II when one was
found, I when every radiograph read the head and found none, "I or II" otherwise, with the reason.

The input is the measurement JSON of each series with its visit's ``verdicts`` block
(:func:`onfh_imaging.verdict.with_verdicts`).
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from onfh_imaging.verdict import group_by_visit, is_radiograph, series_label, visit_verdicts

DETECTION_NEAR_FACTOR = 2.0
"""A depth below this multiple of its detection limit is printed with the limit beside it."""

_STAGE_WORDS = {"none": "no osteonecrosis", "I-II": "I or II"}


def stage_text(stage: str | None, basis: str = "") -> str:
    """A stage as a reader reads it: ``"IIIB"``, ``"I or II"``, ``"no osteonecrosis"``, ``"not staged"``.

    Parameters
    ----------
    stage : str or None
        ARCO 2019 stage code (``"none"``, ``"I-II"``, ``"IIIA"``...); None or empty when not staged.
    basis : str, optional
        Accepted for the callers' convenience; not used in the text.

    Returns
    -------
    str
        The stage in words; an unknown code is returned as it is.
    """
    if not stage:
        return "not staged"
    return _STAGE_WORDS.get(stage, stage)


def _mm(value: Any, digits: int = 2) -> str | None:
    if value is None:
        return None
    return f"{float(value):.{digits}f} mm"


def depth_text(depth_mm: float | None, detection_mm: float | None) -> str | None:
    """A collapse depth with its detection limit when the depth is near or below it.

    Parameters
    ----------
    depth_mm : float or None
        Collapse depth, mm.
    detection_mm : float or None
        Detection limit of that depth, mm; None prints the depth alone.

    Returns
    -------
    str or None
        ``"1.23 mm"``, with the limit beside it when the depth is below ``DETECTION_NEAR_FACTOR`` times
        the limit (and "no collapse read" when below the limit itself); None when the depth is None.
    """
    if depth_mm is None:
        return None
    text = f"{depth_mm:.2f} mm"
    if detection_mm is None:
        return text
    if depth_mm < detection_mm:
        return f"{text} (below the detection limit of {detection_mm:.2f} mm: no collapse read)"
    if depth_mm < DETECTION_NEAR_FACTOR * detection_mm:
        return f"{text} (detection limit {detection_mm:.2f} mm)"
    return text


def _join(parts: Iterable[str | None]) -> str:
    return ", ".join(p for p in parts if p)


def _mr_measures(hip: Mapping[str, Any]) -> list[str]:
    head = hip.get("head") or {}
    lesion = hip.get("lesion")
    lines = [_join([f"head radius {_mm(head.get('radius_mm'), 1)}" if head.get("radius_mm") is not None else None,
                    f"volume {head['volume_ml']:.1f} mL" if head.get("volume_ml") is not None else None,
                    f"sphericity {head['sphericity']:.3f}" if head.get("sphericity") is not None else None,
                    f"RMS deviation {_mm(head.get('rms_deviation_mm'))}"
                    if head.get("rms_deviation_mm") is not None else None])]
    collapse = depth_text(head.get("collapse_depth_mm"), head.get("collapse_detection_mm"))
    if collapse:
        where = ""
        if head.get("collapse_in_weight_bearing_dome") is not None and \
                head.get("collapse_depth_mm", 0) >= (head.get("collapse_detection_mm") or 0):
            where = ", in the weight-bearing dome" if head["collapse_in_weight_bearing_dome"] else \
                ", outside the weight-bearing dome"
        lines.append(f"collapse {collapse}{where}")
    if lesion is None:
        lines.append("lesion not assessed")
    elif not lesion.get("volume_ml"):
        lines.append("no necrotic lesion")
    else:
        lines.append(_join([f"lesion {lesion['volume_ml']:.1f} mL",
                            f"{lesion['head_involvement_pct']:.1f} % of the head"
                            if lesion.get("head_involvement_pct") is not None else None,
                            f"Kerboul angle {lesion['kerboul_angle_deg']:.0f} deg"
                            if lesion.get("kerboul_angle_deg") is not None else None,
                            f"JIC type {lesion['jic_type']}" if lesion.get("jic_type") else None]))
    return [line for line in lines if line]


def _radiograph_measures(hip: Mapping[str, Any], unit: str, detection_mm: float | None) -> list[str]:
    head = hip.get("head") or {}
    suffix = "mm" if unit == "mm" else "px"

    def length(name: str) -> str | None:
        value = head.get(f"{name}_{suffix}")
        return None if value is None else f"{float(value):.2f} {unit}"

    collapse = depth_text(head.get("collapse_depth_mm"), detection_mm) if unit == "mm" else length("collapse_depth")
    lines = [_join([f"head radius {length('radius')}" if length("radius") else None,
                    f"collapse of the silhouette {collapse}" if collapse else _collapse_not_read(head),
                    f"joint space {length('joint_space_width')}" if length("joint_space_width") else
                    "joint space not measured"])]
    deviation, depth = head.get(f"max_deviation_{suffix}"), head.get(f"collapse_depth_{suffix}")
    if deviation is not None and (depth is None or abs(float(deviation) - float(depth)) > 0.005):
        lines.append(f"largest departure of the articular outline from the reference circle (Mose) "
                     f"{float(deviation):.2f} {unit}")
    if head.get("double_contour"):
        deep = head.get(f"double_contour_max_depth_{suffix}")
        lines.append(_join([f"double contour over {head.get('double_contour_arc_deg', 0):.0f} deg",
                            f"up to {float(deep):.2f} {unit} inside the outline" if deep is not None else None]))
    lines.append(_finding_line(hip.get("radiographic_lesion")))
    return [line for line in lines if line]


def _collapse_not_read(head: Mapping[str, Any]) -> str:
    """Why a radiograph's collapse depth is missing: too little of the dome traced, or not measured."""
    traced = head.get("dome_traced")
    if traced is None:
        return "collapse not measured"
    return f"collapse not read (the weight-bearing dome traced over {100 * float(traced):.0f} % of its arc)"


def _finding_line(block: Mapping[str, Any] | None) -> str | None:
    """The lesion's radiographic finding inside the head, as the reader of I vs II needs it."""
    if not block:
        return None
    if not block.get("resolved"):
        return f"inside the head: not read ({block.get('reason') or 'no reason given'})"
    if not block.get("finding"):
        return "inside the head: no sclerotic margin or lucency" + (f" ({block['reason']})" if block.get("reason") else "")
    test = block.get("mri_margin") or {}
    size = [f"{block['band_length_mm']:.0f} mm long" if block.get("band_length_mm") else None,
            f"{block['lucent_area_mm2']:.0f} mm2" if block.get("lucent_area_mm2") else None,
            f"{test['z']:.1f} SD above the same curve elsewhere in the head, along the lesion's outline on "
            f"{test.get('mr_series')}" if test.get("found") else None]
    return (f"inside the head: {block.get('kind')} (contrast {float(block.get('contrast_sd') or 0):.1f} SD of the "
            f"head's texture" + "".join(f", {p}" for p in size if p) + ")")


def _radiograph_unit(report: Mapping[str, Any]) -> str:
    return "mm" if (report.get("input") or {}).get("pixel_size_mm") else "px"


def _series_line(report: Mapping[str, Any]) -> str:
    inp = report.get("input") or {}
    if is_radiograph(report):
        size = inp.get("pixel_size_mm")
        if size:
            return f"{series_label(report)}: pixel {float(size[0]):.3f} mm at the patient ({inp.get('pixel_size_source')})"
        return f"{series_label(report)}: pixel size unknown, lengths in pixels"
    fluid = inp.get("fluid_sensitive_series_description")
    return f"{series_label(report)}: " + (f"lesion outlined on the fluid-sensitive {fluid}" if fluid else
                                         "no fluid-sensitive series: lesion from the T1 alone")


def _warnings_once(items: Iterable[tuple[str, str]]) -> list[str]:
    """``(series label, warning)`` pairs as one line per distinct warning, naming every series."""
    by_text: dict[str, list[str]] = {}
    for label, text in items:
        labels = by_text.setdefault(text, [])
        if label not in labels:
            labels.append(label)
    return [f"{', '.join(labels)}: {text}" for text, labels in by_text.items()]


class _Printer:
    def __init__(self, console: Console):
        self.console = console

    def line(self, text: str = "", indent: int = 0, style: str | None = None) -> None:
        """One line of text, wrapped at the console width with its continuation indented."""
        width = max(int(self.console.width or 110), 40)
        wrapped = textwrap.fill(text, width=width, initial_indent=" " * indent,
                                subsequent_indent=" " * (indent + 4), break_on_hyphens=False) if text else ""
        self.console.print(escape(wrapped), style=style, highlight=False, soft_wrap=True)

    def items(self, title: str, items: Sequence[str], indent: int, style: str | None = None) -> None:
        if not items:
            return
        if len(items) == 1:
            self.line(f"{title}: {items[0]}", indent, style)
            return
        self.line(f"{title}:", indent, style)
        for item in items:
            self.line(f"- {item}", indent + 2, style)


def _verdict_block(out: _Printer, verdict: Mapping[str, Any]) -> None:
    stage = verdict.get("arco_2019")
    extent = [f"Steinberg {verdict['steinberg_extent']}" if verdict.get("steinberg_extent") else None,
              f"ARCO 1992 {verdict['arco_1992']}" if verdict.get("arco_1992") and stage not in (None, "none") else None]
    head = f"{verdict['side'].upper()} HIP   ARCO 2019 {stage_text(stage)}"
    if extent[0] or extent[1]:
        head += f"   ({_join(extent)})"
    out.line(head, 0, "bold")
    basis = verdict.get("basis") or ""
    out.line(f"Basis: {basis}" if stage else basis.replace("not staged: ", "Not staged: ", 1), 2)
    depth = verdict.get("depth")
    if depth is not None:
        others = [f"{d['series']} {depth_text(d['depth_mm'], d['detection_limit_mm'])}"
                  for d in verdict.get("other_depths") or []]
        used = "used" if stage in ("IIIA", "IIIB", "IV") else "best resolved"
        out.line(f"Depth {used}: {depth_text(depth['depth_mm'], depth['detection_limit_mm'])} on {depth['series']}, "
                 f"{depth['method']}", 2)
        out.items("Other depths", others, 2)
    out.items("Cannot tell", verdict.get("not_assessed") or [], 2)
    out.items("Series disagree", verdict.get("disagreements") or [], 2)
    review = _review_items(verdict) if verdict.get("needs_review") else []
    # a caveat that is also a reason for review is said once, as the reason
    out.items("Note", [n for n in verdict.get("notes") or [] if not any(n in r for r in review)], 2)
    if review:
        out.items("NEEDS REVIEW", review, 2, "bold red")
    else:
        out.line("Review: not needed by the checks", 2)


def verdict_lines(verdict: Mapping[str, Any]) -> list[str]:
    """A hip's verdict in a few lines (the napari widget's summary): stage, basis, depth, what the visit
    cannot tell, disagreements and review.

    Parameters
    ----------
    verdict : Mapping
        One hip's verdict dictionary (``side``, ``arco_2019``, ``basis``, ``depth`` with ``depth_mm``,
        ``detection_limit_mm`` in mm and ``series``, ``not_assessed``, ``disagreements``, ``notes``,
        ``needs_review``, ``reasons``, ``series``).

    Returns
    -------
    list of str
        The non-empty lines, review reasons last (prefixed ``"REVIEW: "``).
    """
    lines = [f"{verdict['side']} hip: ARCO 2019 {stage_text(verdict.get('arco_2019'))}",
             verdict.get("basis") or ""]
    depth = verdict.get("depth")
    if depth is not None:
        lines.append(f"depth {depth_text(depth['depth_mm'], depth['detection_limit_mm'])} on {depth['series']}")
    lines += [f"cannot tell {n}" for n in verdict.get("not_assessed") or []]
    lines += [f"disagree: {d}" for d in verdict.get("disagreements") or []]
    review = _review_items(verdict, "see that series' review reasons") if verdict.get("needs_review") else []
    lines += [f"note: {n}" for n in verdict.get("notes") or [] if not any(n in r for r in review)]
    lines += [f"REVIEW: {r}" for r in review]
    return [line for line in lines if line]


def _review_items(verdict: Mapping[str, Any], where: str = "listed under it below") -> list[str]:
    """The verdict's review reasons, a series' own failed checks named once (``where`` they are listed)."""
    flagged = [s["series"] for s in verdict.get("series") or [] if s.get("needs_review")]
    reasons = list(verdict.get("reasons") or [])
    items = []
    for label in flagged:
        unused = f"collapse evidence on {label} is not used: its quality checks failed"
        items.append(f"{label}: its own checks failed" + (", so its collapse evidence is not used" if unused in reasons
                                                          else "") + f" ({where})")
        reasons = [r for r in reasons if r != unused and not r.startswith(f"{label}: ")]
    items += reasons
    return items or ["the measurement asked for it"]


def _series_block(out: _Printer, report: Mapping[str, Any], hip: Mapping[str, Any], detection_mm: float | None) -> None:
    staging = hip.get("staging") or {}
    alone = staging.get("arco_2019")
    alone_text = stage_text(alone) if alone else f"not staged ({staging.get('arco_basis') or 'no basis given'})"
    out.line(f"{series_label(report)}  (this series alone: {alone_text})", 4)
    if not hip.get("head"):
        out.line(f"not measured: {staging.get('arco_basis') or 'no femoral head'}", 6)
        return
    lines = (_radiograph_measures(hip, _radiograph_unit(report), detection_mm) if is_radiograph(report)
             else _mr_measures(hip))
    quality = hip.get("quality")
    if quality:
        lines.append(f"quality score {float(quality.get('score', 0)):.2f}"
                     + (" (needs review)" if quality.get("needs_review") else ""))
    for text in lines:
        out.line(text, 6)
    for reason in (quality or {}).get("reasons") or []:
        out.line(f"review: {reason}", 6, "yellow")


def print_visit(reports: Sequence[Mapping[str, Any]], console: Console | None = None, *,
                patient_label: str | None = None, pseudonym: bool = False) -> None:
    """Print one visit: its series, then one block per hip (verdict first, then each series' measures).

    Parameters
    ----------
    reports : sequence of mapping
        The measurement JSON of every series of the visit, with or without ``verdicts``.
    console : rich.console.Console, optional
        Where to print (a terminal console by default; 110 columns when piped).
    patient_label : str, optional
        How the patient is named; default the record's ``patient_id``.
    pseudonym : bool
        ``patient_label`` is a pseudonym made for this output (the text says so).
    """
    console = console or _console()
    out = _Printer(console)
    verdicts = reports[0].get("verdicts") if reports and "verdicts" in reports[0] else \
        [v.to_dict() for v in visit_verdicts(reports)]
    inp = reports[0].get("input") or {} if reports else {}
    patient = patient_label if patient_label is not None else inp.get("patient_id") or "unknown patient"
    out.line(f"Patient {patient}   visit {inp.get('study_date') or 'date unknown'}", 0, "bold")
    if pseudonym:
        out.line("(a pseudonym for this output only; --show-patient prints the PatientID)", 2)
    out.items("Series", [_series_line(r) for r in _mr_first(reports)], 2)
    out.items("Warnings", _warnings_once((series_label(r), w) for r in reports for w in r.get("warnings") or []),
              2, "yellow")
    out.line()
    sides = [v["side"] for v in verdicts]
    for verdict in verdicts:
        _verdict_block(out, verdict)
        detection = {s["series_instance_uid"]: s.get("detection_limit_mm") for s in verdict.get("series") or []}
        out.line("Measured per series:", 2)
        hip_warnings = []
        for report in _mr_first(reports):
            for hip in report.get("hips") or []:
                if hip.get("side") != verdict["side"]:
                    continue
                uid = (report.get("input") or {}).get("series_instance_uid")
                _series_block(out, report, hip, detection.get(str(uid)))
                hip_warnings += [(series_label(report), w) for w in hip.get("warnings") or []]
        reviewed = " ".join(verdict.get("reasons") or [])
        out.items("Warnings", [w for w in _warnings_once(hip_warnings) if w not in reviewed], 2, "yellow")
        out.line()
    unmeasured = [(series_label(r), h) for r in reports for h in r.get("hips") or [] if h.get("side") not in sides]
    for label, hip in unmeasured:
        out.line(f"{str(hip.get('side', 'unknown')).upper()} HIP   not staged: not measured on {label}: "
                 f"{(hip.get('staging') or {}).get('arco_basis') or 'no femoral head found'}", 0, "bold")
    if not any(r.get("hips") for r in reports):
        out.line("No femoral head measured in this visit.", 0, "yellow")
        out.line()


def _mr_first(reports: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(reports, key=lambda r: (is_radiograph(r), series_label(r)))


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=110)  # piped output: no terminal width to fit


def print_reports(reports: Iterable[Mapping[str, Any]], console: Console | None = None, *,
                  show_patient: bool = False) -> None:
    """Print every visit of the measured series, grouped by patient and date.

    Parameters
    ----------
    reports : iterable of mapping
        Measurement JSON of each series (with ``verdicts`` when computed).
    console : rich.console.Console, optional
        Where to print.
    show_patient : bool
        Print the PatientID as recorded (also right for records pseudonymised beforehand: their ID is
        already the keyed pseudonym). Otherwise each patient is named by a pseudonym valid for this
        output only.
    """
    console = console or _console()
    labels: dict[str, str] = {}
    run = secrets.token_hex(8)  # a key for this output only: nothing links its pseudonyms to the IDs
    for visit in group_by_visit(reports):
        pid = str((visit[0].get("input") or {}).get("patient_id") or "")
        if pid not in labels:
            labels[pid] = pid if show_patient else _pseudonym(pid, run)
        print_visit(visit, console, patient_label=labels[pid], pseudonym=not show_patient and bool(pid))


def _pseudonym(patient_id: str, run_key: str) -> str:
    from onfh_imaging.export.phi import Pseudonymizer

    if not patient_id:
        return "unknown patient"
    return Pseudonymizer(run_key, prefix="PT", length=8).patient_id(patient_id)


__all__ = ["depth_text", "print_reports", "print_visit", "stage_text", "verdict_lines"]

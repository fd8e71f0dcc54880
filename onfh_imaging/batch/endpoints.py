"""Trial endpoints as ONFH cell-therapy trials report them.

At a chosen visit (12 months by default; the hip's visit nearest to it within a window), each hip
either maintained its sphericity (no collapse progression), kept its ARCO stage and its own hip
(no THR), or failed; ``success`` needs all three. A THR before the visit fails every endpoint.

- **Per protocol**: hips assessed at that visit, plus hips already replaced (known failures); a hip
  withdrawn before the visit (``withdrawal_date`` in the clinical table) is excluded from it on.
- **Intention to treat**: every enrolled hip (every hip with a baseline measurement); a hip not
  assessed (withdrawn, missed or lost) counts as a failure.

Composite endpoints combine these with ``&`` (and), ``|`` (or) and ``~`` (not), e.g. the primary
endpoint of cell-therapy trials such as REBORNE, ``sphericity_maintained & regeneration`` (head
sphericity maintained and bone regeneration), which every report includes as ``primary``. Analysts
add their own on the command line or in an endpoint file (:func:`load_endpoint_file`).

Fractions carry Wilson score 95 % intervals. Survival to THR and to collapse is estimated with the
Kaplan-Meier method (lifelines), with its exponential Greenwood (log-log) 95 % intervals.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from onfh_imaging.batch.visits import DAYS_PER_MONTH, NOMINAL_VISITS_MONTHS
from onfh_imaging.errors import InputError

__all__ = [
    "ENDPOINTS", "ENDPOINT_WORDS", "POPULATION_WORDS", "PRIMARY", "Composite", "add_composites",
    "default_window_months", "endpoint_table", "endpoint_words", "flow_table", "kaplan_meier",
    "load_endpoint_file", "parse_endpoint", "survival_at", "visit_outcomes", "wilson_ci", "with_primary",
]

#: The base endpoints, one boolean column each of :func:`visit_outcomes`.
ENDPOINTS = ("sphericity_maintained", "no_stage_progression", "no_thr", "success", "regeneration")
#: Each endpoint in words, as the report states it.
ENDPOINT_WORDS = {
    "sphericity_maintained": "head sphericity maintained (no collapse progression, no THR)",
    "no_stage_progression": "no ARCO stage progression (and no THR)",
    "no_thr": "free of total hip replacement",
    "success": "sphericity maintained, no stage progression and no THR",
    "regeneration": "bone regeneration (lesion volume down by the regeneration threshold; hips with a "
    "baseline lesion)",
}
#: The same, short, as parts of a composite's statement.
_SHORT_WORDS = {
    "sphericity_maintained": "head sphericity maintained",
    "no_stage_progression": "no stage progression",
    "no_thr": "free of THR",
    "success": "success",
    "regeneration": "bone regeneration",
}
#: Each analysis population in words, as the report defines it.
POPULATION_WORDS = {
    "per_protocol": "Per protocol: hips assessed at the visit, and hips replaced (THR) before it, which "
    "count as failures; a hip withdrawn from the trial before the visit is excluded from the visit on, "
    "and a hip that missed the visit is left out.",
    "intention_to_treat": "Intention to treat: every enrolled hip (every hip with a baseline "
    "measurement); a hip not assessed at the visit (withdrawn, missed or lost) counts as a failure.",
}


@dataclass(frozen=True)
class Composite:
    """A composite endpoint: a name and a boolean expression over :data:`ENDPOINTS` (and other composites).

    ``&`` / ``and``, ``|`` / ``or``, ``~`` / ``not`` / ``!`` and parentheses; Kleene logic, so a hip
    failing one part of an ``&`` fails it even where another part does not apply to it.

    Attributes
    ----------
    name : str
        The endpoint's column name in the outcome and endpoint tables (a word: letters, digits, ``_``).
    expression : str
        The boolean expression over endpoint names, e.g. ``"sphericity_maintained & regeneration"``.
    """

    name: str
    expression: str

    def words(self, known: dict[str, str] | None = None) -> str:
        """The expression in words, each part by its description.

        Parameters
        ----------
        known : dict of str to str, optional
            Descriptions of further names (other composites) by name; the base endpoints are
            described by their short words.

        Returns
        -------
        str
            E.g. ``"head sphericity maintained and bone regeneration"``; a name with no description
            stays as written.

        Raises
        ------
        InputError
            When the expression cannot be read.
        """
        known = {**ENDPOINT_WORDS, **(known or {}), **_SHORT_WORDS}
        out = []
        for token in _tokens(self.expression):
            out.append({"&": "and", "|": "or", "~": "not"}.get(token, known.get(token, token)))
        return re.sub(r"\( | \)", lambda m: m.group(0).strip(), " ".join(out))

    def evaluate(self, columns: dict[str, pd.Series]) -> pd.Series:
        """Per hip: True, False or NA (the endpoint does not apply), from the component columns.

        Parameters
        ----------
        columns : dict of str to Series
            Each name the expression may use, to its per-hip column (True / False / NaN), all on the
            same index.

        Returns
        -------
        Series of boolean
            Nullable booleans on the columns' index, combined with Kleene logic.

        Raises
        ------
        InputError
            When the expression names an endpoint not in ``columns``, or is malformed (an unclosed
            parenthesis, an operator without an operand, a token left over).
        """
        parser = _Parser(_tokens(self.expression), columns, self.expression)
        return parser.parse()


#: The primary endpoint of cell-therapy trials of ONFH such as REBORNE.
PRIMARY = Composite("primary", "sphericity_maintained & regeneration")
_PRIMARY_WORDS = "primary endpoint: head sphericity maintained and bone regeneration"
_TOKEN = re.compile(r"\s*(?:(\()|(\))|(&&?|\band\b)|(\|\|?|\bor\b)|(~|!|\bnot\b)|([A-Za-z_][A-Za-z0-9_]*))",
                    re.IGNORECASE)


def _tokens(expression: str) -> list[str]:
    tokens, pos, text = [], 0, expression.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InputError(f"cannot read the endpoint {expression!r} at {text[pos:]!r}",
                             hint="combine endpoint names with &, | and ~ (and, or, not) and parentheses")
        pos = m.end()
        group = m.lastindex
        tokens.append({1: "(", 2: ")", 3: "&", 4: "|", 5: "~"}.get(group, m.group(group)))
    return tokens


class _Parser:
    """Recursive descent over ``or := and ('|' and)*``, ``and := not ('&' not)*``, ``not := '~' not | atom``."""

    def __init__(self, tokens: list[str], columns: dict[str, pd.Series], expression: str):
        self.tokens, self.columns, self.expression, self.pos = tokens, columns, expression, 0

    def _error(self, what: str) -> InputError:
        return InputError(
            f"endpoint {self.expression!r}: {what}",
            hint=f"endpoints: {', '.join(self.columns)}; combine them with &, | and ~ and parentheses",
        )

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise self._error("it ends too early")
        self.pos += 1
        return token

    def parse(self) -> pd.Series:
        value = self._or()
        if self._peek() is not None:
            raise self._error(f"unexpected {self._peek()!r}")
        return value

    def _or(self) -> pd.Series:
        value = self._and()
        while self._peek() == "|":
            self._take()
            value = value | self._and()
        return value

    def _and(self) -> pd.Series:
        value = self._not()
        while self._peek() == "&":
            self._take()
            value = value & self._not()
        return value

    def _not(self) -> pd.Series:
        if self._peek() == "~":
            self._take()
            return ~self._not()
        token = self._take()
        if token == "(":
            value = self._or()
            if self._take() != ")":
                raise self._error("a parenthesis is not closed")
            return value
        if token not in self.columns:
            raise self._error(f"unknown endpoint {token!r}")
        return self.columns[token].astype("boolean")


def parse_endpoint(text: str) -> Composite:
    """A composite endpoint from text: ``"name = expression"``, ``"name: expression"`` or a bare expression.

    Parameters
    ----------
    text : str
        The definition. A bare expression is named after itself, operators spelt out and other
        characters replaced by ``_`` (``"no_thr & regeneration"`` -> ``no_thr_and_regeneration``).

    Returns
    -------
    Composite

    Raises
    ------
    InputError
        When the name is not a word or the expression holds something other than names, operators
        and parentheses. Names are checked only on evaluation (:meth:`Composite.evaluate`).
    """
    parts = re.split(r"\s*[=:]\s*", text.strip(), maxsplit=1)
    if len(parts) == 2:
        name, expression = parts
    else:
        expression = parts[0]
        name = re.sub(r"\W+", "_", expression.replace("&", " and ").replace("|", " or ").replace("~", " not "))
        name = name.strip("_").lower()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise InputError(f"endpoint name {name!r} must be a word (letters, digits, _)",
                         hint="write NAME = EXPRESSION, e.g. free_of_failure = no_thr & no_stage_progression")
    _tokens(expression)
    return Composite(name, expression)


def load_endpoint_file(path: str | os.PathLike) -> list[Composite]:
    """Composite endpoints of a text file: one ``name = expression`` (or ``name: expression``) a line.

    Blank lines and ``#`` comments are ignored.

    Parameters
    ----------
    path : path
        A UTF-8 text file.

    Returns
    -------
    list of Composite
        In the file's order.

    Raises
    ------
    InputError
        When the file cannot be read or a line is not an endpoint (the message gives its number).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the endpoint file: {exc}", path=path) from exc
    out = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(parse_endpoint(line))
        except InputError as exc:
            raise InputError(f"line {number}: {exc.args[0]}", path=path, hint=exc.hint) from exc
    return out


def endpoint_words(composites: tuple[Composite, ...] | list[Composite] = ()) -> dict[str, str]:
    """Every endpoint's name -> its statement in words (the base endpoints, the primary, the composites).

    Parameters
    ----------
    composites : sequence of Composite, optional
        Composites to describe, in order; each may use the names of those before it.

    Returns
    -------
    dict of str to str
        :data:`ENDPOINT_WORDS`, then each composite's words (:data:`PRIMARY` stated as the primary
        endpoint).
    """
    words = dict(ENDPOINT_WORDS)
    for c in composites:
        words[c.name] = _PRIMARY_WORDS if c == PRIMARY else c.words(words)
    return words


def with_primary(composites: tuple[Composite, ...] | list[Composite] = ()) -> list[Composite]:
    """The primary composite followed by the analyst's composites (each name once).

    Parameters
    ----------
    composites : sequence of Composite, optional
        The analyst's composites; :data:`PRIMARY` among them is dropped (it is already first).

    Returns
    -------
    list of Composite
        :data:`PRIMARY`, then ``composites`` in order.

    Raises
    ------
    InputError
        When a composite takes the name of a base endpoint, of the primary, or of an earlier composite.
    """
    out = [PRIMARY]
    for c in composites:
        if c.name in ENDPOINTS or any(c.name == o.name for o in out):
            if c == PRIMARY:
                continue
            raise InputError(f"endpoint name {c.name!r} is taken", hint="give the composite another name")
        out.append(c)
    return out


def add_composites(outcomes: pd.DataFrame, composites: tuple[Composite, ...] | list[Composite]) -> pd.DataFrame:
    """Add one column per composite (True / False / NaN) to a :func:`visit_outcomes` table, in order.

    Parameters
    ----------
    outcomes : DataFrame
        One row per hip with a column per name of :data:`ENDPOINTS`.
    composites : sequence of Composite
        Evaluated in order; each may use the base endpoints and composites already added.

    Returns
    -------
    DataFrame
        A copy of ``outcomes`` with one object column per composite: True, False or NaN (the
        endpoint does not apply to the hip).

    Raises
    ------
    InputError
        When a composite names an unknown endpoint or is malformed.
    """
    out = outcomes.copy()
    for c in composites:
        columns = {name: out[name] for name in ENDPOINTS}
        columns.update({o.name: out[o.name] for o in composites if o.name in out.columns})
        value = c.evaluate(columns)
        out[c.name] = value.astype(object).where(value.notna(), np.nan)
    return out


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes, n : int
        Successes and trials.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    (float, float)
        Lower and upper bounds (NaN when ``n`` is 0).
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    z = norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def default_window_months(visit_months: float) -> float:
    """Half-width of the visit window: a quarter of the visit time, at least one month (12 -> +/- 3).

    Parameters
    ----------
    visit_months : float
        The visit, in months from baseline.

    Returns
    -------
    float
        The window's half-width, in months.
    """
    return max(1.0, 0.25 * visit_months)


def visit_outcomes(
    visits: pd.DataFrame,
    events: pd.DataFrame,
    *,
    visit_months: float = 12,
    window_months: float | None = None,
) -> pd.DataFrame:
    """Each hip's outcome at the chosen visit.

    Parameters
    ----------
    visits : DataFrame
        :func:`onfh_imaging.batch.longitudinal.hip_visits` (uses ``hip`` and ``visit_days``, days).
    events : DataFrame
        :func:`onfh_imaging.batch.longitudinal.hip_events`: ``hip``, ``patient_id``, ``side``,
        ``baseline_days``, optionally ``withdrawal_days``, and ``<event>_days`` (days) /
        ``<event>_observed`` for ``thr``, ``collapse_progression``, ``stage_progression`` and
        ``regeneration``.
    visit_months : float
        The visit, in months from baseline.
    window_months : float, optional
        Accept the visit nearest to ``visit_months`` within this many months (default
        :func:`default_window_months`).

    Returns
    -------
    DataFrame
        One row per hip of ``events``: ``hip``, ``patient_id``, ``side``, ``assessed`` (a visit
        after baseline in the window, none after a withdrawal), ``assessed_days`` (days, NaN when not
        assessed), ``thr_by_visit``,
        ``withdrawn`` (withdrawn before the visit and not assessed), ``per_protocol`` (assessed or
        replaced), and one boolean column per endpoint (NaN for ``regeneration`` when the hip had no
        baseline lesion; values apply to per-protocol hips).
    """
    window = default_window_months(visit_months) if window_months is None else float(window_months)
    target, half = visit_months * DAYS_PER_MONTH, window * DAYS_PER_MONTH
    days_by_hip = {hip: d.to_numpy(float) for hip, d in visits.groupby("hip")["visit_days"]}
    rows = []
    for ev in events.to_dict("records"):
        days = days_by_hip.get(ev["hip"], np.empty(0))
        left = ev.get("withdrawal_days", np.nan)
        if np.isfinite(left):  # nothing after a withdrawal is the trial's
            days = days[days <= left]
        in_window = days[(np.abs(days - target) <= half) & (days > ev["baseline_days"])]
        assessed = len(in_window) > 0
        at = float(in_window[np.argmin(np.abs(in_window - target))]) if assessed else target

        def by(event: str, ev: dict = ev, at: float = at) -> bool:
            return bool(ev[f"{event}_observed"]) and ev[f"{event}_days"] <= at

        thr = by("thr") if assessed else (bool(ev["thr_observed"]) and ev["thr_days"] <= target + half)
        row = {
            "hip": ev["hip"],
            "patient_id": ev["patient_id"],
            "side": ev["side"],
            "assessed": assessed,
            "assessed_days": at if assessed else np.nan,
            "thr_by_visit": thr,
            "withdrawn": bool(not assessed and np.isfinite(left) and left <= target + half),
            "per_protocol": assessed or thr,
        }
        row["sphericity_maintained"] = not thr and not by("collapse_progression")
        row["no_stage_progression"] = not thr and not by("stage_progression")
        row["no_thr"] = not thr
        row["success"] = row["sphericity_maintained"] and row["no_stage_progression"] and row["no_thr"]
        at_risk = np.isfinite(ev["regeneration_days"])
        row["regeneration"] = (not thr and by("regeneration")) if at_risk else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def endpoint_table(
    outcomes: pd.DataFrame,
    confidence: float = 0.95,
    composites: tuple[Composite, ...] | list[Composite] = (),
) -> pd.DataFrame:
    """Fractions of hips meeting each endpoint, per protocol and intention to treat, with Wilson CIs.

    Parameters
    ----------
    outcomes : DataFrame
        :func:`visit_outcomes`.
    confidence : float
        Two-sided level of the Wilson intervals.
    composites : sequence of Composite
        Composite endpoints to add after :data:`ENDPOINTS` (see :func:`with_primary`).

    Returns
    -------
    DataFrame
        ``endpoint``, ``population`` (``per_protocol`` / ``intention_to_treat``), ``n``, ``successes``,
        ``fraction``, ``ci_low``, ``ci_high``. A hip for which an endpoint is NaN (regeneration without a
        baseline lesion) is not counted for it.
    """
    outcomes = add_composites(outcomes, composites)
    rows = []
    for endpoint in (*ENDPOINTS, *(c.name for c in composites)):
        eligible = outcomes[outcomes[endpoint].notna()]
        pp = eligible[eligible["per_protocol"]]
        populations = {
            "per_protocol": pp[endpoint].astype(bool),
            # not assessed counts as a failure
            "intention_to_treat": eligible[endpoint].where(eligible["per_protocol"], False).astype(bool),
        }
        for population, values in populations.items():
            n, k = len(values), int(values.sum())
            lo, hi = wilson_ci(k, n, confidence)
            rows.append(
                {
                    "endpoint": endpoint,
                    "population": population,
                    "n": n,
                    "successes": k,
                    "fraction": k / n if n else np.nan,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows)


def flow_table(
    visits: pd.DataFrame,
    events: pd.DataFrame,
    *,
    visit_months: tuple[float, ...] | None = None,
    window_months: float | None = None,
) -> pd.DataFrame:
    """Where every enrolled hip is at each visit: the flow of a trial report.

    Parameters
    ----------
    visits, events : DataFrame
        :func:`~onfh_imaging.batch.longitudinal.hip_visits` and ``hip_events``.
    visit_months : tuple of float, optional
        Visits (months); default the nominal visits after baseline up to the longest follow-up.
    window_months : float, optional
        Visit window half-width (default :func:`default_window_months` of each visit).

    Returns
    -------
    DataFrame
        One row per visit: ``visit_months``, ``enrolled``, ``assessed``, ``replaced`` (THR by the visit,
        not assessed), ``withdrawn`` (before the visit, not assessed), ``missing`` (none of these),
        ``per_protocol`` and ``intention_to_treat`` (the denominators).
    """
    if visit_months is None:
        longest = float(events["followup_days"].max()) / DAYS_PER_MONTH if len(events) else 0.0
        visit_months = tuple(m for m in NOMINAL_VISITS_MONTHS[1:] if m - default_window_months(m) <= longest)
    rows = []
    for months in visit_months:
        o = visit_outcomes(visits, events, visit_months=months, window_months=window_months)
        replaced = o["thr_by_visit"] & ~o["assessed"]
        withdrawn = o["withdrawn"] & ~replaced
        rows.append(
            {
                "visit_months": months,
                "enrolled": len(o),
                "assessed": int(o["assessed"].sum()),
                "replaced": int(replaced.sum()),
                "withdrawn": int(withdrawn.sum()),
                "missing": int((~o["assessed"] & ~replaced & ~withdrawn).sum()),
                "per_protocol": int(o["per_protocol"].sum()),
                "intention_to_treat": len(o),
            }
        )
    return pd.DataFrame(rows)


def kaplan_meier(
    events: pd.DataFrame, event: str, *, confidence: float = 0.95
) -> tuple[pd.DataFrame, object | None]:
    """Kaplan-Meier survival (free of ``event``) of the hips at risk, in months.

    Parameters
    ----------
    events : DataFrame
        :func:`onfh_imaging.batch.longitudinal.hip_events`.
    event : str
        ``"thr"``, ``"collapse"``...: uses ``<event>_days`` (days; NaN when the hip is not at risk)
        and ``<event>_observed``.
    confidence : float
        Two-sided level of the exponential Greenwood intervals.

    Returns
    -------
    table : DataFrame
        ``months``, ``survival``, ``ci_low``, ``ci_high``, ``at_risk``, ``events``, ``censored`` at
        every distinct time (the first row is time 0).
    fitter : lifelines.KaplanMeierFitter
        The fitted estimator (for plots), or None when no hip is at risk.

    Raises
    ------
    InputError
        When lifelines is not installed.
    """
    try:
        from lifelines import KaplanMeierFitter
    except ImportError as exc:
        raise InputError(
            "Kaplan-Meier estimates need lifelines", hint="pip install 'onfh-imaging[survival]'"
        ) from exc
    at_risk = events[np.isfinite(events[f"{event}_days"].astype(float))]
    columns = ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "censored"]
    if at_risk.empty:
        return pd.DataFrame(columns=columns), None
    durations = at_risk[f"{event}_days"].astype(float) / DAYS_PER_MONTH
    fitter = KaplanMeierFitter(alpha=1 - confidence)
    fitter.fit(
        durations.to_numpy(), at_risk[f"{event}_observed"].astype(bool).to_numpy(), label=f"free of {event}"
    )
    sf = fitter.survival_function_.iloc[:, 0]
    ci = fitter.confidence_interval_survival_function_
    table = fitter.event_table
    out = pd.DataFrame(
        {
            "months": sf.index.to_numpy(dtype=float),
            "survival": sf.to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
            "at_risk": table["at_risk"].to_numpy(),
            "events": table["observed"].to_numpy(),
            "censored": table["censored"].to_numpy(),
        }
    )
    return out, fitter


def survival_at(table: pd.DataFrame, months: float) -> tuple[float, float, float]:
    """(survival, ci_low, ci_high) of a :func:`kaplan_meier` table at ``months`` (step function).

    Parameters
    ----------
    table : DataFrame
        A :func:`kaplan_meier` table (``months``, ``survival``, ``ci_low``, ``ci_high``).
    months : float
        Time from baseline, in months (at least 0, the table's first row).

    Returns
    -------
    (float, float, float)
        Survival and its interval at the last time at or before ``months``; NaN for an empty table.
    """
    if table.empty:
        return (float("nan"),) * 3
    row = table[table["months"] <= months].iloc[-1]
    return (float(row["survival"]), float(row["ci_low"]), float(row["ci_high"]))

"""The verdict of a hip without stage III or IV evidence: none, I, II, or I-II (I or II, not told).

ARCO 2019 separates stage I (MRI shows the necrotic lesion, the radiograph is normal) from stage II (the
radiograph shows it: sclerosis, cysts, focal osteoporosis, without fracture or collapse) by the
radiograph alone. Each radiograph's finding inside the head's outline
(:mod:`onfh_imaging.measure.radiograph_lesion`) is read, and an MR lesion without collapse is:

* **II** when any radiograph that read the head found the lesion (a finding is only ``found`` when the
  head's outline passed the checks the finding needs and its contrast reached the detection limit set
  from the head's own texture). The views that read the head and saw nothing are listed as a
  disagreement, not a contradiction: a sclerotic margin projects as a line only where the beam is
  tangent to it, and another projection (the frog-leg view) superimposes other parts of the head over
  it, so its absence on one view is weak evidence against a finding on another;
* **I** when every radiograph read the head and none found it;
* **I-II** otherwise, with the reason: no radiograph at the visit, or a head not read (the reason of each).

The finding never raises a hip to stage III, and a finding on a hip whose MR shows no lesion is listed,
not staged. The functions take the :class:`onfh_imaging.verdict.SeriesHip` records of one hip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the records are defined by the verdict, which calls this module
    from onfh_imaging.verdict import SeriesHip

NO_RADIOGRAPH = "no radiograph at this visit"
"""What a visit without a radiograph cannot tell, in the verdict's words."""

Decision = tuple[str | None, str, list[str], list[str], list[str]]
"""(stage, basis, deciding series labels, what cannot be told, disagreements)."""


def i_or_ii(radiographs: Sequence[SeriesHip]) -> Decision:
    """Stage I, II or I-II of an MR lesion without collapse, from the radiographs' findings.

    Parameters
    ----------
    radiographs : sequence of SeriesHip
        This hip on every radiograph of the visit (possibly none).

    Returns
    -------
    stage : str
        ``"II"``, ``"I"`` or ``"I-II"``.
    basis : str
        Addition to the verdict's basis (starting with ``"; "``), naming the series and the finding;
        empty for ``"I-II"``.
    decided_by : list of str
        Labels of the radiographs that decided the stage.
    not_told : list of str
        ``"I or II: ..."`` with the reason when the stage is ``"I-II"``; else empty.
    disagreements : list of str
        Views that read the head and did not see a finding another view made.
    """
    if not radiographs:
        return "I-II", "", [], [f"I or II: {NO_RADIOGRAPH}"], []
    found, absent, unread = ([s for s in radiographs if s.lesion_finding is v] for v in (True, False, None))
    if found:
        disagreements = []
        if absent:
            disagreements.append(
                "; ".join(s.finding_text() for s in found) + " but none on " + ", ".join(s.label for s in absent)
                + ": a sclerotic margin projects as a line only where the beam is tangent to it and another "
                "view superimposes other parts of the head, so a view that does not show it does not "
                "contradict one that does")
        basis = "; " + " and ".join(s.finding_text() for s in found)
        return "II", basis, [s.label for s in found], [], disagreements
    if unread:
        why = "; ".join(f"{s.label}: {s.finding.reason if s.finding else 'not read'}" for s in unread)
        return "I-II", "", [], [f"I or II: the radiograph finding of stage II (sclerosis, cysts) was not read on {why}"], []
    return ("I", "; no sclerotic margin or lucency inside the head on " + ", ".join(s.label for s in absent)
            + " (radiographs normal)", [s.label for s in absent], [], [])


def stage_without_collapse(series: Sequence[SeriesHip]) -> Decision:
    """The stage of a hip without stage III or IV evidence, from the MR lesion and the radiographs.

    Parameters
    ----------
    series : sequence of SeriesHip
        This hip on every series of the visit (MR and radiographs).

    Returns
    -------
    stage : str or None
        ``"none"``, ``"I"``, ``"II"``, ``"I-II"``; None when the series cannot stage the hip (the basis
        starts with ``"not staged:"`` and says why).
    basis : str
        What decided the stage, naming the series.
    decided_by : list of str
        Labels of the series that decided it.
    not_told : list of str
        What this visit cannot tell (``"I or II: ..."``).
    disagreements : list of str
        Findings that differ from the stage (a radiograph view without the finding another made, a
        radiographic finding on a hip whose MR shows no lesion).
    """
    mr = [s for s in series if not s.radiograph]
    radiographs = [s for s in series if s.radiograph]
    lesion = next((s.lesion_present for s in mr if s.lesion_present is not None), None)
    if lesion is True:
        unconfirmed = [s.label for s in series if s.collapse_evidence]
        if unconfirmed:
            basis = (f"necrotic lesion on {mr[0].label}; the collapse read on {', '.join(unconfirmed)} is not "
                     "confirmed (see review), so no stage III")
        else:
            rx_text = (" and no collapse or joint-space narrowing on " + ", ".join(s.label for s in radiographs)
                       if radiographs else "")
            basis = f"necrotic lesion on {mr[0].label} without collapse{rx_text}"
        stage, more, decided, cannot, disagreements = i_or_ii(radiographs)
        return stage, basis + more, [mr[0].label] + (decided or [s.label for s in radiographs]), cannot, disagreements
    found = [s for s in radiographs if s.lesion_finding is True]
    if lesion is False:  # a finding on a radiograph without an MR lesion is listed, not staged
        return "none", f"no necrotic lesion on {mr[0].label} and no collapse", [mr[0].label], [], [
            f"{s.finding_text()} although {mr[0].label} shows no necrotic lesion" for s in found]
    if mr:
        return None, f"not staged: the lesion was not assessed on {mr[0].label} and no series shows collapse", [], [], []
    if radiographs:
        seen = "".join(f"; {s.finding_text()}" for s in found)
        return None, ("not staged: no collapse or fracture line on " + ", ".join(
            s.label for s in radiographs) + seen + "; stages I and II need MRI (the necrotic lesion)"), [], [], []
    return None, "not staged: no series measured this hip", [], [], []


__all__ = ["NO_RADIOGRAPH", "i_or_ii", "stage_without_collapse"]

"""How far one hip's measurement can be trusted: the ``quality`` block of the measurement contract.

Every hip, on MRI and on radiographs, carries a :class:`Quality`: a score in 0..1 saying how well the
image supported the segmentation, ``needs_review`` when any explicit check failed, and the reasons in
words. A check is a named :class:`QualityCheck` with the measured value, the limit it was held to and
its unit, so a reader (and a test) sees why a hip was flagged, not only that it was.

The score is the product of each check's support (1 when the check passes with margin, falling to 0
at the point where the evidence is absent); ``needs_review`` is set by the checks' pass/fail alone,
never by a threshold on the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QualityCheck", "Quality", "combine"]


@dataclass(frozen=True)
class QualityCheck:
    """One explicit check of a hip's segmentation or measurement.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"articular_surface_resolved"``.
    passed : bool
        Whether the evidence met the limit.
    support : float
        0..1: how strongly the image supports this part of the result (1 full support).
    reason : str
        Words for a reader when the check fails (listed in ``reasons`` and, for a failed check, in the JSON).
    value, limit : float, optional
        The measured quantity and the limit it was held to.
    unit : str
        Unit of ``value`` and ``limit`` (``"mm"``, ``"%"``, ``"1"``...).
    blocks_stage_iii : bool
        A failed check of this kind means collapse evidence is not trusted: stage III is not suggested.
    """

    name: str
    passed: bool
    support: float
    reason: str
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    blocks_stage_iii: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: name, passed, support; the reason only when failed; value, limit, unit when set."""
        out: dict[str, Any] = {"name": self.name, "passed": bool(self.passed),
                               "support": round(float(self.support), 3)}
        if not self.passed:
            out["reason"] = self.reason
        if self.value is not None:
            out["value"] = round(float(self.value), 3)
        if self.limit is not None:
            out["limit"] = round(float(self.limit), 3)
        if self.unit:
            out["unit"] = self.unit
        if self.blocks_stage_iii:
            out["blocks_stage_iii"] = True
        return out


@dataclass(frozen=True)
class Quality:
    """The ``quality`` block of one hip.

    Attributes
    ----------
    score : float
        0..1, product of the checks' support.
    needs_review : bool
        True when any check failed.
    reasons : tuple of str
        One sentence per failed check.
    checks : tuple of QualityCheck
        Every check that was made, passed or not.
    """

    score: float
    needs_review: bool
    reasons: tuple[str, ...] = ()
    checks: tuple[QualityCheck, ...] = field(default=(), repr=False)

    @property
    def collapse_trusted(self) -> bool:
        """False when a failed check means the collapse evidence cannot support stage III."""
        return not any(c.blocks_stage_iii and not c.passed for c in self.checks)

    def with_reason(self, reason: str, *, blocks_stage_iii: bool = False, name: str = "review") -> Quality:
        """A copy with one more failed check (e.g. a reason found after segmentation).

        Parameters
        ----------
        reason : str
            The failed check's words for a reader.
        blocks_stage_iii : bool
            Whether the failure means the collapse evidence is not trusted (no stage III).
        name : str
            The check's name.

        Returns
        -------
        Quality
            Recombined with :func:`combine` (the new check has support 1, so the score is unchanged).
        """
        return combine(self.checks + (QualityCheck(name, False, 1.0, reason,
                                                   blocks_stage_iii=blocks_stage_iii),))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: score, needs_review, collapse_trusted, reasons and every check."""
        return {"score": round(float(self.score), 3), "needs_review": bool(self.needs_review),
                "collapse_trusted": bool(self.collapse_trusted), "reasons": list(self.reasons),
                "checks": [c.to_dict() for c in self.checks]}


def combine(checks: Iterable[QualityCheck]) -> Quality:
    """The quality block of a set of checks (score = product of supports, review if any failed).

    Parameters
    ----------
    checks : iterable of QualityCheck
        Every check made for the hip, passed or not.

    Returns
    -------
    Quality
        Supports clipped to 0..1 before the product; each failed check's reason listed once, in order.
    """
    checks = tuple(checks)
    score = 1.0
    for c in checks:
        score *= min(max(float(c.support), 0.0), 1.0)
    reasons = tuple(dict.fromkeys(c.reason for c in checks if not c.passed))
    return Quality(score=score, needs_review=bool(reasons), reasons=reasons, checks=checks)

"""Agreement between readers: ICC(2,1) for continuous measures, weighted Cohen kappa for stages.

Small, dependency-free implementations of the textbook formulas:

- ICC(2,1), Shrout & Fleiss (1979): two-way random effects, absolute agreement, single rater,
  ``(MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)`` for ``n`` targets rated by ``k`` readers.
- Weighted kappa, Cohen (1968): ``1 - sum(w O) / sum(w E)`` with quadratic (or linear) disagreement
  weights over ordered categories, ``O`` the observed and ``E`` the chance-expected joint proportions.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from onfh_imaging.vocab import ARCO_2019_STAGES

__all__ = [
    "ARCO_ORDER",
    "CONTINUOUS_MEASURES",
    "icc_2_1",
    "normalise_stage",
    "reader_agreement",
    "weighted_kappa",
]

#: ARCO 2019 stages in order (``I-II`` from MRI alone ranks with II, ``none`` with 0).
ARCO_ORDER = ARCO_2019_STAGES
#: Continuous measures compared between readers, by column of the reads table.
CONTINUOUS_MEASURES = (
    "lesion_volume_ml",
    "lesion_head_involvement_pct",
    "head_volume_ml",
    "head_collapse_depth_mm",
)


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1): absolute agreement of single readers, readers a random sample.

    Parameters
    ----------
    ratings : array, shape (n_targets, k_readers)
        Every target rated by every reader (complete cases), in the measure's unit.

    Returns
    -------
    float
        The intraclass correlation (1 is perfect agreement; NaN when undefined).

    Raises
    ------
    ValueError
        When ``ratings`` is not 2-D, has fewer than 2 targets or 2 readers, or holds NaN/inf.
    """
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2 or not np.isfinite(x).all():
        raise ValueError("ICC(2,1) needs a complete (targets x readers) table with at least 2 of each")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    denom = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denom) if denom > 0 else float("nan")


def weighted_kappa(
    a: Sequence, b: Sequence, categories: Sequence | None = None, weights: str = "quadratic"
) -> float:
    """Cohen's weighted kappa of two readers over ordered categories.

    Parameters
    ----------
    a, b : sequences
        The two readers' ratings of the same targets, in the same order.
    categories : sequence, optional
        All categories in order; defaults to the sorted union of the ratings.
    weights : {"quadratic", "linear"}
        Disagreement weight of categories ``i`` and ``j``: ``((i-j)/(m-1))**2`` or ``|i-j|/(m-1)``.

    Returns
    -------
    float
        Kappa (1 perfect, 0 chance agreement; NaN when chance agreement is total).

    Raises
    ------
    ValueError
        When ``a`` and ``b`` differ in length or are empty, or ``weights`` is neither name.
    KeyError
        When a rating is not one of ``categories``.
    """
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("weighted kappa needs two equally long, non-empty rating lists")
    cats = list(categories) if categories is not None else sorted(set(a) | set(b))
    index = {c: n for n, c in enumerate(cats)}
    m = len(cats)
    observed = np.zeros((m, m))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((m, m))
    scale = max(m - 1, 1)
    if weights == "quadratic":
        w = ((i - j) / scale) ** 2
    elif weights == "linear":
        w = np.abs(i - j) / scale
    else:
        raise ValueError(f"weights must be 'quadratic' or 'linear', not {weights!r}")
    chance = (w * expected).sum()
    return float(1.0 - (w * observed).sum() / chance) if chance > 0 else float("nan")


def reader_agreement(reads: pd.DataFrame) -> pd.DataFrame:
    """Agreement of readers who confirmed the same hips.

    Each reader's latest confirmation of a (series, side) is one rating. Continuous measures get
    ICC(2,1) over hips every listed reader rated; ARCO stage gets a quadratic-weighted kappa per pair
    of readers over the hips both rated.

    Parameters
    ----------
    reads : DataFrame
        Long reads table (:func:`onfh_imaging.batch.readers.load_reads`), one row per read and hip,
        with columns ``series_instance_uid``, ``side``, ``reader``, ``confirmed_at`` (ISO time) and
        ``arco_2019``, and any of :data:`CONTINUOUS_MEASURES` (mL, %, mm). None or empty gives an
        empty table.

    Returns
    -------
    DataFrame
        Columns ``measure``, ``statistic`` (``"ICC(2,1)"`` or ``"weighted kappa (quadratic)"``),
        ``value``, ``n_hips`` and ``readers`` (``"; "``-joined names); one row per continuous measure
        with at least 2 hips rated by at least 2 readers, then one row per pair of readers with at
        least 2 hips staged by both.
    """
    rows: list[dict] = []
    if reads is None or reads.empty:
        return pd.DataFrame(rows, columns=["measure", "statistic", "value", "n_hips", "readers"])
    latest = (
        reads.sort_values("confirmed_at", kind="stable")
        .groupby(["series_instance_uid", "side", "reader"], dropna=False)
        .tail(1)
    )
    for measure in CONTINUOUS_MEASURES:
        if measure not in latest.columns:
            continue
        table = latest.pivot_table(
            index=["series_instance_uid", "side"], columns="reader", values=measure, aggfunc="last"
        ).dropna()
        if table.shape[0] >= 2 and table.shape[1] >= 2:
            rows.append(
                {
                    "measure": measure,
                    "statistic": "ICC(2,1)",
                    "value": icc_2_1(table.to_numpy()),
                    "n_hips": table.shape[0],
                    "readers": "; ".join(map(str, table.columns)),
                }
            )
    stages = latest.assign(stage=latest["arco_2019"].map(normalise_stage)).dropna(subset=["stage"])
    table = stages.pivot_table(
        index=["series_instance_uid", "side"], columns="reader", values="stage", aggfunc="last"
    )
    for r1, r2 in itertools.combinations(sorted(table.columns), 2):
        both = table[[r1, r2]].dropna()
        if len(both) >= 2:
            rows.append(
                {
                    "measure": "arco_2019",
                    "statistic": "weighted kappa (quadratic)",
                    "value": weighted_kappa(list(both[r1]), list(both[r2]), ARCO_ORDER),
                    "n_hips": len(both),
                    "readers": f"{r1}; {r2}",
                }
            )
    return pd.DataFrame(rows, columns=["measure", "statistic", "value", "n_hips", "readers"])


def normalise_stage(text: object) -> str | None:
    """An ARCO 2019 stage as one of :data:`ARCO_ORDER`, or None when it is not one.

    Parameters
    ----------
    text : object
        A stage as written by a reader or the pipeline: ``"IIIB"``, ``"ARCO IIIB"``, ``"3B"``,
        ``"none"`` (0), or ``"I-II"`` / ``"I/II"`` (a stage MRI alone cannot split). Case and spaces
        do not matter; a bare ``"III"`` or ``"3"`` reads as IIIA. None and NaN are no stage.

    Returns
    -------
    str or None
        The stage in :data:`ARCO_ORDER`; for a listed range, the highest stage listed (``"I-II"``
        gives ``"II"``). None when no part of the text is a stage.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    t = str(text).upper().replace("ARCO", "").replace(" ", "")
    arabic = {"NONE": "0", "0": "0", "1": "I", "2": "II", "3": "III", "3A": "IIIA", "3B": "IIIB", "4": "IV"}
    best = None
    for part in t.replace("-", "/").split("/"):
        part = arabic.get(part, part)
        part = "IIIA" if part == "III" else part
        if part in ARCO_ORDER and (best is None or ARCO_ORDER.index(part) > ARCO_ORDER.index(best)):
            best = part
    return best

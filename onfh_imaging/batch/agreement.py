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
        Long reads table (:func:`onfh_imaging.batch.readers.load_reads`).

    Returns
    -------
    DataFrame
        Columns ``measure``, ``statistic``, ``value``, ``n_hips``, ``readers``.
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

    Accepts ``"IIIB"``, ``"ARCO IIIB"``, ``"3B"``, ``"none"`` (0), and ``"I-II"`` or ``"I/II"`` (a
    stage MRI alone cannot split; the highest listed, II).
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

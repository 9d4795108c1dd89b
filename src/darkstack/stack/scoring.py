"""Per-day per-class precision, recall and F1 of every method, and their mean ± std over the test days."""

from __future__ import annotations

import numpy as np
import pandas as pd

MACRO = "macro"


def day_scores(day: str, truth: np.ndarray, predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long table (day, method, class, precision, recall, f1, support) for the scored hosts of one day.

    Classes are the true classes present that day (a prediction of any other class, unknown
    included, is simply wrong); ``macro`` is the unweighted mean of the per-class F1. Zero division
    gives 0, as scikit-learn's ``zero_division=0``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    classes, support = np.unique(truth, return_counts=True)
    rows = []
    for method, predicted in predictions.items():
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
        for c, n, pi, ri, fi in zip(classes, support, p, r, f):
            rows.append((day, method, str(c), float(pi), float(ri), float(fi), int(n)))
        rows.append((day, method, MACRO, float(p.mean()), float(r.mean()), float(f.mean()), int(support.sum())))
    return pd.DataFrame(rows, columns=["day", "method", "class", "precision", "recall", "f1", "support"])


def summarise(daily: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1) of the daily F1 per (method, class) over the days the class is present.

    The ``macro`` row is the mean ± std of the daily macro-F1; ``support`` sums the scored host-days.
    """
    grouped = daily.groupby(["method", "class"], sort=False)
    out = grouped.agg(
        f1_mean=("f1", "mean"),
        f1_std=("f1", lambda s: float(s.std(ddof=1)) if len(s) > 1 else float("nan")),
        days=("f1", "size"),
        support=("support", "sum"),
    )
    return out.reset_index()

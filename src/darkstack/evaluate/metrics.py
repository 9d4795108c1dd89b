"""Per-day per-class precision, recall and F1, and their mean ± sample std over days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from darkstack.schema import UNKNOWN

MACRO = "macro avg"
DAY_COLUMNS = ["variant", "day", "label", "precision", "recall", "f1", "support"]


def day_scores(true: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 (zero_division 0) per true class present, plus the macro row.

    ``true`` holds the labels of the scored hosts (no ``unknown``); ``predicted`` may hold any label,
    ``unknown`` included (simply wrong). Macro = unweighted mean over the classes present.
    """
    true = np.asarray(true, dtype=object)
    predicted = np.asarray(predicted, dtype=object)
    rows = []
    for label in sorted(set(true.tolist()) - {UNKNOWN}):
        is_true, is_pred = true == label, predicted == label
        tp = int(np.sum(is_true & is_pred))
        n_pred, n_true = int(is_pred.sum()), int(is_true.sum())
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"label": label, "precision": precision, "recall": recall, "f1": f1, "support": n_true})
    scores = pd.DataFrame(rows, columns=["label", "precision", "recall", "f1", "support"])
    if len(scores):
        macro = {
            "label": MACRO,
            "precision": scores["precision"].mean(),
            "recall": scores["recall"].mean(),
            "f1": scores["f1"].mean(),
            "support": int(scores["support"].sum()),
        }
        scores = pd.concat([scores, pd.DataFrame([macro])], ignore_index=True)
    return scores


def summarise(per_day: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof 1) over days per variant and label; support = host-days.

    Days where a class is absent have no row and are skipped; the macro row summarises the daily
    macro-F1 values (not the per-class means). One day gives std NaN.
    """
    grouped = per_day.groupby(["variant", "label"], sort=False)
    out = grouped.agg(
        support=("support", "sum"),
        days=("day", "nunique"),
        f1_mean=("f1", "mean"),
        f1_std=("f1", "std"),
        precision_mean=("precision", "mean"),
        precision_std=("precision", "std"),
        recall_mean=("recall", "mean"),
        recall_std=("recall", "std"),
    )
    return out.reset_index()

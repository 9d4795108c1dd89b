"""Figures (matplotlib, Agg backend): per-class F1 bars of the evaluation, mean ± std bands of the studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from darkstack import atomic
from darkstack.evaluate.tables import (
    class_display,
    column_order,
    has_halves,
    variant_display,
)


def _save(fig, path: Path) -> Path:
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path


def table_figure(frame: pd.DataFrame, variants: list[str], path: Path, title: str = "") -> Path:
    """Horizontal grouped bars: mean F1 per class (rows of ``frame``) and variant, with std whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    halves = has_halves(variants)
    order = column_order(variants, halves)
    labels = list(frame.index)
    y = np.arange(len(labels))
    height = 0.8 / max(1, len(order))
    fig_height = 0.35 * len(labels) * max(1, len(order)) ** 0.5 + 1.5
    fig, ax = plt.subplots(figsize=(8, fig_height))
    cmap = plt.get_cmap("tab10" if len(order) <= 10 else "tab20")
    for i, v in enumerate(order):
        means = frame[v].to_numpy(dtype=float)
        stds = np.nan_to_num(frame[f"{v}_std"].to_numpy(dtype=float))
        ax.barh(y + i * height, np.nan_to_num(means), height, xerr=stds, label=variant_display(v, halves),
                color=cmap(i), error_kw={"elinewidth": 0.8, "capsize": 1.5})
    ax.set_yticks(y + height * (len(order) - 1) / 2, [class_display(c) for c in labels])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("F1 (mean ± std over test days)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    below_xlabel = -0.6 / (fig_height - 1.2)  # axes fraction of about 0.6 inch
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, below_xlabel), ncol=min(4, len(order)))
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def study_figure(frame: pd.DataFrame, parameter: str, xlabel: str, path: Path, title: str = "") -> Path:
    """Macro-F1 mean (line) with a mean ± std band against ``parameter`` (Fig. 4 of the temporal-GNN paper)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = frame[parameter].to_numpy(dtype=float)
    ax.fill_between(x, frame["f1min"].to_numpy(dtype=float), frame["f1max"].to_numpy(dtype=float), alpha=0.25)
    ax.plot(x, frame["f1"].to_numpy(dtype=float), marker="o")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("macro F1")
    ax.set_xticks(x)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)

"""Figures (matplotlib, Agg): confusion matrices (Fig. 3/5) and meta-learner coefficient bars (Fig. 4a/4b/6)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from darkstack import atomic


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def confusion_figure(counts: pd.DataFrame, title: str, path: Path) -> None:
    """Row-normalised colours with the counts written in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    share = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    size = 0.5 * max(len(counts.columns), 6)
    fig, ax = plt.subplots(figsize=(size + 2, 0.5 * max(len(counts), 6) + 1), layout="constrained")
    image = ax.imshow(share.to_numpy(), cmap="Reds", vmin=0, vmax=1, aspect="auto")
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            value = counts.iat[i, j]
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color="white" if share.iat[i, j] > 0.5 else "black")
    ax.set_xticks(range(counts.shape[1]), counts.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(counts.shape[0]), counts.index, fontsize=8)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, label="share of the true class")
    _save(fig, path)


def coefficient_figure(wide: pd.DataFrame, title: str, path: Path) -> None:
    """Horizontal grouped bars: one group per class, one bar per base (or sensor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_bars = wide.shape
    height = 0.8 / max(n_bars, 1)
    fig, ax = plt.subplots(figsize=(7, 0.35 * n_rows * max(n_bars, 2) / 2 + 1.5), layout="constrained")
    for b, column in enumerate(wide.columns):
        positions = [i + (b - (n_bars - 1) / 2) * height for i in range(n_rows)]
        ax.barh(positions, wide[column].fillna(0).to_numpy(), height=height, label=str(column))
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_yticks(range(n_rows), wide.index, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("LR coefficient")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)

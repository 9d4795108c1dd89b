"""Overview figures drawn for the report (matplotlib, Agg backend), written as PNG into the report folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from darkstack import atomic
from darkstack.evaluate.split import days_phrase

DPI = 110


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def with_gaps(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``rows`` (one sensor, a ``day`` column) by date, with an all-NaN row inserted after each missing stretch of days.

    Matplotlib breaks a line at a NaN, so days without traffic show as a gap instead of a straight line
    drawn across them (between two adjacent days the line stays continuous).
    """
    frame = rows.assign(day=pd.to_datetime(rows["day"])).sort_values("day")[["day", *columns]].reset_index(drop=True)
    after_gap = frame.index[frame["day"].diff() > pd.Timedelta(days=1)]
    breaks = pd.DataFrame({"day": frame["day"][after_gap] - pd.Timedelta(days=1)} | {c: float("nan") for c in columns})
    return pd.concat([frame.astype({c: float for c in columns}), breaks]).sort_values("day", kind="stable").reset_index(drop=True)


OVERVIEW_SERIES = ("hosts", "packets", "labelled_share")


def overview_figure(overview: pd.DataFrame, path: Path) -> Path:
    """Hosts, packets and labelled share per day, one line per sensor, broken where days are missing.

    ``overview``: sensor, day, hosts, packets, labelled_share (one row per sensor and day with traffic).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.5), sharex=True)
    for sensor, rows in overview.groupby("sensor", sort=True):
        series = with_gaps(rows, list(OVERVIEW_SERIES))
        axes[0].plot(series["day"], series["hosts"], marker="o", ms=3, label=sensor)
        axes[1].plot(series["day"], series["packets"], marker="o", ms=3, label=sensor)
        axes[2].plot(series["day"], series["labelled_share"] * 100, marker="o", ms=3, label=sensor)
    axes[0].set_ylabel("active hosts")
    axes[1].set_ylabel("packets")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("labelled hosts (%)")
    axes[2].set_ylim(0, 100)
    axes[0].legend(loc="upper right", fontsize="small")
    for ax in axes:
        ax.grid(alpha=0.3)
    from matplotlib.dates import AutoDateLocator, DateFormatter

    axes[2].xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=12))
    axes[2].xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    fig.suptitle("Traffic per sensor and day (after the snapshot filters; gaps: days without traffic)")
    return _save(fig, path)


def _method_colour(method: str) -> str:
    """Meta-learners orange, naive vote grey, single embeddings blue."""
    if method.startswith("ML"):
        return "#dd8452"
    return "#8c8c8c" if method.lower().startswith("naive") else "#4c72b0"


def macro_f1_figure(summary: pd.DataFrame, path: Path) -> Path:
    """Mean macro-F1 with its standard deviation per method (``summary``: group, method, mean, std, test days)."""
    plt = _pyplot()
    groups = list(dict.fromkeys(summary["group"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(max(4.0, 3.2 * len(groups)), 3.4), squeeze=False, sharey=True)
    for ax, group in zip(axes[0], groups, strict=True):
        rows = summary[summary["group"] == group]
        colours = [_method_colour(m) for m in rows["method"]]
        ax.bar(rows["method"], rows["mean"], yerr=rows["std"].fillna(0), capsize=3, color=colours)
        ax.set_title(f"{group}\n{days_phrase(rows['test days'].iloc[0])}", fontsize="medium")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=45, labelsize="small")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("macro-F1 (mean ± std over test days)")
    fig.tight_layout()
    return _save(fig, path)

"""``evaluate``: judge embedding variants by 3-NN leave-one-out over the test days; write Table 3."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from darkstack import atomic
from darkstack.errors import ConfigError, DarkstackError
from darkstack.evaluate.classify import class_vocabulary, classify_day
from darkstack.evaluate.figures import table_figure
from darkstack.evaluate.inputs import label_names
from darkstack.evaluate.metrics import DAY_COLUMNS, MACRO, day_scores, summarise
from darkstack.evaluate.settings import EvalSettings
from darkstack.evaluate.tables import markdown, table_frame
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.schema import UNKNOWN
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of each variant: per day and class, and their summary over the test days."""

    sensor: str
    variants: list[str]
    days: list[dt.date]
    per_day: pd.DataFrame
    """variant, day, label, precision, recall, f1, support (label ``macro avg`` = the day's macro row)."""
    summary: pd.DataFrame
    """variant, label, support (host-days), days, f1/precision/recall mean and std."""
    table: pd.DataFrame
    """Table 3 layout: index label, support, ``<variant>`` mean F1 and ``<variant>_std``."""
    paths: dict[str, Path] = field(default_factory=dict)

    def macro(self, variant: str) -> tuple[float, float]:
        """Mean and std over the test days of the daily macro-F1 of ``variant``."""
        row = self.summary[(self.summary["variant"] == variant) & (self.summary["label"] == MACRO)]
        if row.empty:
            return math.nan, math.nan
        return float(row["f1_mean"].iloc[0]), float(row["f1_std"].iloc[0])


def evaluate_dir(ws: Workspace, sensor: str) -> Path:
    return ws.results_dir / "evaluate" / sensor


def test_days(ws: Workspace, sensor: str, variants: list[str], n_days: int) -> list[dt.date]:
    """The last ``n_days`` days embedded by any of ``variants``; every variant must have all of them."""
    embedded = {v: set(ws.embedding_days(sensor, v)) for v in variants}
    days = sorted(set().union(*embedded.values()))[-n_days:]
    for v, have in embedded.items():
        if not have:
            raise DarkstackError(f"no {v} embeddings: run `darkstack embed` first", ws.embedding_dir(sensor, v))
        missing = [d for d in days if d not in have]
        if missing:
            raise DarkstackError(
                f"no {v} embeddings for test day {day_str(missing[0])}"
                f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: run `darkstack embed` first",
                ws.embedding_dir(sensor, v),
            )
    return days


def score_variant(
    ws: Workspace, sensor: str, variant: str, days: list[dt.date], settings: EvalSettings, classes: list[str], bar=None
) -> pd.DataFrame:
    """Per-day per-class scores of one variant (rows as ``DAY_COLUMNS``)."""
    frames = []
    for day in days:
        table = classify_day(ws, sensor, variant, day, settings, classes)
        labels = np.array(table.column("label").to_pylist(), dtype=object)
        predicted = np.array(table.column("predicted").to_pylist(), dtype=object)
        scored = labels != UNKNOWN
        scores = day_scores(labels[scored], predicted[scored])
        scores.insert(0, "day", day_str(day))
        scores.insert(0, "variant", variant)
        frames.append(scores)
        if bar is not None:
            advance(bar)
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[DAY_COLUMNS] if frames else pd.DataFrame(columns=DAY_COLUMNS)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (NaN → null)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict(orient="records")]


def evaluate(
    ws: Workspace,
    sensor: str,
    variants: list[str],
    settings: EvalSettings | None = None,
    *,
    days: list[dt.date] | None = None,
) -> EvaluationResult:
    """3-NN leave-one-out per test day for every variant; writes per-host probabilities and Table 3.

    ``days`` overrides the default test days (the last ``settings.test_days`` days embedded by any
    variant; each variant must have them all). Outputs go to ``results/evaluate/<sensor>/``.
    """
    settings = settings or EvalSettings()
    if not variants:
        raise ConfigError("no variant to evaluate")
    variants = list(dict.fromkeys(variants))
    days = sorted(days) if days else test_days(ws, sensor, variants, settings.test_days)
    classes = class_vocabulary(label_names(ws, days))
    started = time.perf_counter()
    with progress_bar(f"evaluate {sensor}", total=len(variants) * len(days)) as bar:
        per_day = pd.concat(
            [score_variant(ws, sensor, v, days, settings, classes, bar) for v in variants], ignore_index=True
        )
    if per_day.empty:
        raise DarkstackError(
            f"no labelled class reaches {settings.min_class_hosts} hosts on any test day: nothing to score",
            ws.labels_dir,
        )
    summary = summarise(per_day)
    frame = table_frame(summary, variants)
    out = evaluate_dir(ws, sensor)
    title = f"3-NN leave-one-out F1, sensor {sensor}, {len(days)} test days {day_str(days[0])} … {day_str(days[-1])}"
    paths = {
        "table_csv": atomic.write_text(out / "table.csv", frame.to_csv()),
        "days_csv": atomic.write_text(out / "days.csv", per_day.to_csv(index=False)),
        "table_md": atomic.write_text(out / "table.md", markdown(frame, variants, title=title)),
        "table_json": atomic.write_json(
            out / "table.json",
            {
                "sensor": sensor,
                "variants": variants,
                "days": [day_str(d) for d in days],
                "settings": settings.model_dump(),
                "rows": list(frame.index),
                "summary": _records(summary),
                "per_day": _records(per_day),
            },
        ),
        "figure": table_figure(frame, variants, out / "figure.png", title=f"sensor {sensor}"),
    }
    result = EvaluationResult(sensor, variants, days, per_day, summary, frame, paths)
    for v in variants:
        mean, std = result.macro(v)
        log.info(f"{sensor} {v}: macro F1 {mean:.3f} ± {std:.3f}",
                 extra={"sensor": sensor, "variant": v, "macro_f1": mean, "macro_f1_std": std})
    log.info(f"evaluated {sensor} in {time.perf_counter() - started:.1f} s: {paths['table_md']}",
             extra={"sensor": sensor, "days": len(days), "variants": variants})
    return result

"""``evaluate``: judge embedding variants by 3-NN leave-one-out over the test days; write Table 3."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from darkstack import atomic, skips
from darkstack.errors import ConfigError
from darkstack.evaluate.classify import class_vocabulary, classify_day
from darkstack.evaluate.figures import table_figure
from darkstack.evaluate.inputs import label_names
from darkstack.evaluate.metrics import DAY_COLUMNS, MACRO, day_scores, summarise
from darkstack.evaluate.settings import EvalSettings
from darkstack.evaluate.split import days_phrase, pick_test_days, std_text
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


def days_present(ws: Workspace, sensor: str, variants: list[str]) -> list[dt.date]:
    """The sensor's days: its snapshot days and every day one of ``variants`` embedded, up to the last embedded one.

    Snapshot days count so that a variant embedding only some days (GCN-GRU skips its training days)
    does not shrink the split; days after the last embedding (a snapshot not embedded yet) do not count.
    """
    embedded = set().union(*(ws.embedding_days(sensor, v) for v in variants))
    if not embedded:
        return []
    last = max(embedded)
    return sorted(d for d in embedded | set(ws.snapshot_days(sensor)) if d <= last)


def embed_option(variant: str) -> str | None:
    """The option that gives ``variant`` more embedded days (GCN-GRU's training days), if any."""
    return "--train-days / embed.train_days" if variant.split("-")[0] == "gcngru" else None


def usable_variants(ws: Workspace, sensor: str, variants: list[str], days: list[dt.date], stage: str = "evaluate") -> list[str]:
    """The variants embedded on every one of ``days``; each other variant gets a skip line."""
    kept = []
    for v in variants:
        have = set(ws.embedding_days(sensor, v))
        lacking = [d for d in days if d not in have]
        if not have:
            skips.note(stage, "no embeddings: run `darkstack embed` first", sensor=sensor, variant=v, option=embed_option(v))
        elif lacking:
            skips.note(
                stage,
                f"no embeddings on {len(lacking)} of the {len(days)} test days",
                sensor=sensor, variant=v, days=lacking, option=embed_option(v),
            )
        else:
            kept.append(v)
    return kept


def score_variant(
    ws: Workspace, sensor: str, variant: str, days: list[dt.date], settings: EvalSettings, classes: list[str], bar=None
) -> pd.DataFrame:
    """Per-day per-class scores of one variant (rows as ``DAY_COLUMNS``)."""
    frames = []
    for day in days:
        if bar is not None:
            advance(bar, 0, f"variant {variant}, {day_str(day)}")
        frames.append(_scores_of_day(ws, sensor, variant, day, settings, classes))
        if bar is not None:
            advance(bar)
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[DAY_COLUMNS] if frames else pd.DataFrame(columns=DAY_COLUMNS)


def _scores_of_day(
    ws: Workspace, sensor: str, variant: str, day: dt.date, settings: EvalSettings, classes: list[str]
) -> pd.DataFrame:
    """One day's rows of :func:`score_variant`; empty (with a skip line) when the day cannot be classified."""
    try:
        table = classify_day(ws, sensor, variant, day, settings, classes)
    except skips.StageSkipped as exc:
        skips.record(exc.skip)
        return pd.DataFrame(columns=DAY_COLUMNS)
    labels = np.array(table.column("label").to_pylist(), dtype=object)
    predicted = np.array(table.column("predicted").to_pylist(), dtype=object)
    scored = labels != UNKNOWN
    scores = day_scores(labels[scored], predicted[scored])
    scores.insert(0, "day", day_str(day))
    scores.insert(0, "variant", variant)
    return scores


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

    ``days`` overrides the test days, which default to the split of docs/evaluation.md over the days
    present (:func:`days_present`, :func:`darkstack.evaluate.split.pick_test_days`). A variant lacking a
    test day, or a day on which no class reaches ``min_class_hosts`` hosts, is left out with a skip line;
    :class:`darkstack.skips.StageSkipped` when nothing is left to score. Outputs go to
    ``results/evaluate/<sensor>/``.
    """
    settings = settings or EvalSettings()
    if not variants:
        raise ConfigError("no variant to evaluate")
    variants = list(dict.fromkeys(variants))
    if days:
        days = sorted(days)
    else:
        days = pick_test_days(days_present(ws, sensor, variants), settings.test_days, settings.train_days)
    if not days:
        raise skips.skip_stage(
            "evaluate", "no embeddings: run `darkstack embed` first", sensor=sensor, variant=", ".join(variants),
            option=embed_option(variants[0]) if len(variants) == 1 else None,
        )
    variants = usable_variants(ws, sensor, variants, days)
    if not variants:
        raise skips.skip_stage("evaluate", "no variant has embeddings on every test day", sensor=sensor, days=days)
    classes = class_vocabulary(label_names(ws, days))
    started = time.perf_counter()
    with progress_bar(f"evaluate sensor {sensor}", total=len(variants) * len(days)) as bar:
        per_day = pd.concat(
            [score_variant(ws, sensor, v, days, settings, classes, bar) for v in variants], ignore_index=True
        )
    small = f"no labelled class reaches {settings.min_class_hosts} hosts"
    option = "--min-class-hosts / evaluate.min_class_hosts"
    if per_day.empty:
        raise skips.skip_stage("evaluate", small, sensor=sensor, days=days, option=option)
    scored = sorted(per_day["day"].unique())
    unscored = [d for d in days if day_str(d) not in scored]
    if unscored:
        skips.note("evaluate", f"{small}; day(s) not scored", sensor=sensor, days=unscored, option=option)
    for v in variants:
        if not (per_day["variant"] == v).any():
            skips.note("evaluate", small, sensor=sensor, variant=v, days=days, option=option)
    summary = summarise(per_day)
    frame = table_frame(summary, variants)
    out = evaluate_dir(ws, sensor)
    span = scored[0] if len(scored) == 1 else f"{scored[0]} … {scored[-1]}"
    title = f"3-NN leave-one-out F1, sensor {sensor}, {days_phrase(len(scored))} {span}"
    paths = {
        "table_csv": atomic.write_text(out / "table.csv", frame.to_csv()),
        "days_csv": atomic.write_text(out / "days.csv", per_day.to_csv(index=False)),
        "table_md": atomic.write_text(out / "table.md", markdown(frame, variants, title=title, n_days=len(scored))),
        "table_json": atomic.write_json(
            out / "table.json",
            {
                "sensor": sensor,
                "variants": variants,
                "days": [day_str(d) for d in days],
                "days_scored": scored,
                "test_days_scored": len(scored),
                "settings": settings.model_dump(),
                "rows": list(frame.index),
                "summary": _records(summary),
                "per_day": _records(per_day),
            },
        ),
        "figure": table_figure(frame, variants, out / "figure.png", title=f"sensor {sensor}, {days_phrase(len(scored))}"),
    }
    result = EvaluationResult(sensor, variants, days, per_day, summary, frame, paths)
    for v in variants:
        mean, std = result.macro(v)
        n = int(per_day.loc[per_day["variant"] == v, "day"].nunique())
        if not n:
            continue
        log.info(
            f"evaluate sensor {sensor}, variant {v}: macro F1 {mean:.3f} ± {std_text(std)} over {days_phrase(n)}",
            extra={"sensor": sensor, "variant": v, "macro_f1": mean, "macro_f1_std": None if math.isnan(std) else std},
        )
    log.info(f"evaluated sensor {sensor} in {time.perf_counter() - started:.1f} s: {paths['table_md']}",
             extra={"sensor": sensor, "days": len(scored), "variants": variants})
    return result

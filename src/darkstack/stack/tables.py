"""Result tables: per-class F1 (Tables 3, 4, 6 layout), the scenario overview (Table 2), confusion matrices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from darkstack import atomic
from darkstack.evaluate.split import days_phrase, is_undefined, std_text
from darkstack.schema import CLASS_DISPLAY, UNKNOWN
from darkstack.stack.scoring import MACRO

AVERAGE = "Average"


def _cell(mean: float | None, std: float | None) -> str:
    """``0.91±0.02``; ``0.91±n/a`` when the std is undefined (one day); ``–`` when there is no value."""
    if is_undefined(mean):
        return "–"
    return f"{mean:.2f}±{std_text(std, 2)}"


def display_class(name: str) -> str:
    return CLASS_DISPLAY.get(name, name)


def per_class_table(summary: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Classes (by support, largest first) then ``Average`` × methods as ``mean±std`` strings, plus Support."""
    first = summary[summary["method"] == methods[0]].set_index("class")
    classes = first.drop(index=MACRO, errors="ignore").sort_values("support", ascending=False, kind="stable").index
    table = pd.DataFrame(index=[display_class(c) for c in classes] + [AVERAGE])
    for method in methods:
        part = summary[summary["method"] == method].set_index("class")
        table[method] = [_cell(part.at[c, "f1_mean"], part.at[c, "f1_std"]) if c in part.index else "–" for c in [*classes, MACRO]]
    table["Support"] = [int(first.at[c, "support"]) for c in [*classes, MACRO]]
    table.index.name = "class"
    return table


def markdown(table: pd.DataFrame, note: str | None = None) -> str:
    """A pipe table (no extra dependency), with ``note`` as a line under it."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in table.iterrows():
        lines.append("| " + " | ".join([str(idx), *map(str, row.tolist())]) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def days_note(n_days: int) -> str:
    """The line under a per-class table: over how many test days, and what "n/a" means."""
    undefined = "; the standard deviation of one day is undefined (n/a)" if n_days == 1 else ""
    return f"F1: mean ± sample standard deviation over the {days_phrase(n_days)} stacked{undefined}; Support: scored host-days."


def _json_safe(value):
    return None if is_undefined(value) else value


def write_per_class(out_dir: Path, summary: pd.DataFrame, methods: list[str], meta: dict) -> pd.DataFrame:
    """``table.md`` (formatted), ``table.csv`` (numbers) and ``table.json`` (numbers + run facts) in ``out_dir``."""
    table = per_class_table(summary, methods)
    meta = {**meta, "test_days_scored": len(meta["days"])}
    atomic.write_text(out_dir / "table.md", markdown(table, days_note(meta["test_days_scored"])))
    numeric = summary.assign(class_display=[AVERAGE if c == MACRO else display_class(c) for c in summary["class"]])
    atomic.write_text(out_dir / "table.csv", numeric.to_csv(index=False))
    records = [{k: _json_safe(v) for k, v in r.items()} for r in numeric.to_dict(orient="records")]
    atomic.write_json(out_dir / "table.json", {**meta, "methods": methods, "rows": records})
    return table


def overview_table(results: dict[str, dict]) -> pd.DataFrame:
    """Table 2: one row per scenario with every method's macro-F1 (mean±std), the scored host-days and test days.

    ``results``: scenario → the contents of its ``table.json``.
    """
    methods: list[str] = []
    for res in results.values():
        methods += [m for m in res["methods"] if m not in methods]
    rows = {}
    for scenario, res in results.items():
        macro = {r["method"]: r for r in res["rows"] if r["class"] == MACRO}
        cells = {m: _cell(macro[m]["f1_mean"], macro[m]["f1_std"]) if m in macro else "" for m in methods}
        cells["Support"] = next(iter(macro.values()))["support"] if macro else 0
        cells["Days"] = len(res.get("days", []))
        rows[scenario] = cells
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


def write_overview(stack_dir: Path) -> str | None:
    """Collect every scenario's ``table.json`` under ``stack_dir`` into ``summary.{md,csv,json}``.

    The Markdown has one table per set of methods, as the two blocks of Table 2 (D and H share one;
    DH, with its six bases and three meta-learners, gets its own); the CSV/JSON hold all scenarios.
    Returns the Markdown.
    """
    results = {}
    for path in sorted(stack_dir.glob("*/table.json")):
        results[path.parent.name] = json.loads(path.read_text())
    if not results:
        return None
    order = {"D": 0, "H": 1, "DH": 2}
    results = dict(sorted(results.items(), key=lambda kv: (order.get(kv[0], 3), kv[0])))
    blocks: dict[tuple, dict] = {}
    for scenario, res in results.items():
        blocks.setdefault(tuple(res["methods"]), {})[scenario] = res
    text = "\n".join(markdown(overview_table(block)) for block in blocks.values())
    text += "\nMacro-F1: mean ± sample standard deviation over the test days (n/a: one day); Support: scored host-days; Days: test days stacked.\n"
    table = overview_table(results)
    atomic.write_text(stack_dir / "summary.md", text)
    atomic.write_text(stack_dir / "summary.csv", table.to_csv())
    atomic.write_json(stack_dir / "summary.json", {"scenarios": list(results), "table": table.reset_index().to_dict(orient="records")})
    return text


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Counts: rows = true classes present (in ``classes`` order), columns = those classes, then unknown."""
    present = [c for c in classes if c in set(truth.tolist())]
    columns = present + [UNKNOWN] + sorted(set(predicted.tolist()) - set(present) - {UNKNOWN})
    counts = pd.crosstab(pd.Categorical(truth, categories=present), pd.Categorical(predicted, categories=columns), dropna=False)
    counts.index = [display_class(c) for c in present]
    counts.columns = [display_class(c) for c in columns]
    counts.index.name, counts.columns.name = "true", "predicted"
    return counts


def row_normalised(counts: pd.DataFrame) -> pd.DataFrame:
    totals = counts.sum(axis=1).replace(0, 1)
    return counts.div(totals, axis=0)

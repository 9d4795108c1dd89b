"""Read the stages' result tables for the report: Markdown pipe tables (formatted) and CSV files.

Class ids in CSV files (``mirai``) are shown by their display names (``Mirai-like``) as in the
Markdown tables, variants by their table names (``i-DarkVec``), and every table gets its column legend.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from darkstack.log import get_logger
from darkstack.report import legends
from darkstack.report.model import NOT_AVAILABLE, Cell, Table, table_from_frame

log = get_logger(__name__)

COLLAPSE_ROWS = 40
"""Tables longer than this are shown folded (click to open)."""
_NUMBER = re.compile(r"^[-+]?\d*\.?\d+(e[-+]?\d+)?")
_DIGIT_GROUPING = re.compile(r"(?<=\d)[\s,\u2009\u202f](?=\d{3})")
_NAN = re.compile(r"\bnan\b", re.IGNORECASE)
CLASS_COLUMNS = ("class", "label", "input_class", "true", "predicted", "runner_up")
"""Columns that hold class ids, shown by their display names."""


def class_display(name):
    """The display name of a class id (``mirai`` → ``Mirai-like``, the macro rows by their table name); others unchanged."""
    from darkstack.evaluate.metrics import MACRO as EVAL_MACRO
    from darkstack.evaluate.tables import MACRO_DISPLAY
    from darkstack.schema import CLASS_DISPLAY
    from darkstack.stack.scoring import MACRO as STACK_MACRO
    from darkstack.stack.tables import AVERAGE

    if not isinstance(name, str):
        return name
    return {EVAL_MACRO: MACRO_DISPLAY, STACK_MACRO: AVERAGE}.get(name) or CLASS_DISPLAY.get(name, name)


def with_display_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Class ids in the class columns (and per-base votes) as display names, variant ids as table names."""
    from darkstack.evaluate.tables import variant_display

    frame = frame.copy()
    for column in frame.columns:
        name = str(column)
        if name.lower() in CLASS_COLUMNS or name.startswith("vote_"):
            frame[column] = frame[column].map(class_display)
        elif name.lower() == "variant":
            frame[column] = frame[column].map(lambda v: variant_display(v, False) if isinstance(v, str) else v)
    if frame.index.name and frame.index.name.lower() in CLASS_COLUMNS:
        frame.index = frame.index.map(class_display)
    return frame


def _md_cell(text: str) -> Cell:
    """A Markdown cell: ``**bold**`` kept as a flag, sorted by its leading number when it has one."""
    text = _NAN.sub(NOT_AVAILABLE, text.strip())
    bold = text.startswith("**") and text.endswith("**") and len(text) > 4
    text = text.strip("*").strip() if bold else text
    number = _NUMBER.match(_DIGIT_GROUPING.sub("", text))
    return Cell(text, float(number.group()) if number else text, bold)


def _split_row(line: str) -> list[str]:
    return line.strip().strip("|").split("|")


def markdown_tables(text: str, default_title: str, source: str = "") -> list[Table]:
    """Every pipe table of a Markdown text, titled by the heading above it (else ``default_title``).

    ``source`` (``stage/file``) picks the column legend.
    """
    tables, title, lines = [], default_title, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("#"):
            title = line.lstrip("#").strip()
        elif line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            columns = [c.strip().strip("*") for c in _split_row(line)]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append([_md_cell(c) for c in _split_row(lines[i])])
                i += 1
            legend = legends.explain(columns, source)
            tables.append(Table(title, columns, rows, legends.NOTES.get(source, ""), collapsed=len(rows) > COLLAPSE_ROWS, legend=legend))
            continue
        i += 1
    return tables


def csv_table(path: Path, title: str, kind: str = "table", source: str = "") -> Table | None:
    """A CSV file as a table with display names (None, with a warning, when it cannot be read)."""
    try:
        frame = with_display_names(pd.read_csv(path))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        log.warning(f"report: skipped unreadable table {path}: {exc}")
        return None
    table = table_from_frame(title, frame, kind=kind, source=source)
    table.collapsed = len(table.rows) > COLLAPSE_ROWS
    return table


FRIENDLY_TITLES = {
    "table": "Per-class F1 (mean ± std over the test days)",
    "summary": "Macro-F1 per scenario and method (stacking paper Table 2 layout)",
    "days": "Scores per test day",
    "daily": "Scores per test day",
    "coefficients": "Every meta-learner coefficient (day, class function, base, input class)",
    "coefficients_own": "Meta-learner coefficient of each class's function on each base's probability of that class",
    "coefficients_sensor": "Those coefficients averaged per sensor",
    "history": "Macro-F1 per history H",
    "epochs": "Macro-F1 per number of epochs a day",
}
"""Titles of the stages' well-known result tables (others are titled by their file name)."""
FIGURE_TITLES = {
    "figure": "Per-class F1 of every variant",
    "coefficients": "Meta-learner coefficient of each class's function on each base's probability of that class (stacking paper Fig. 4a/6)",
    "coefficients_sensor": "The same coefficients averaged per sensor (stacking paper Fig. 4b)",
    "history": "Macro-F1 per history H (temporal-GNN paper Fig. 4a)",
    "epochs": "Macro-F1 per number of epochs a day (temporal-GNN paper Fig. 4b)",
}
"""Titles of the stages' well-known figures."""


def file_title(path: Path, prefix: str = "") -> str:
    """A readable title for a result file (figures and tables of the same name differ)."""
    titles = FIGURE_TITLES if path.suffix in (".png", ".svg") else FRIENDLY_TITLES
    return prefix + titles.get(path.stem, path.stem.replace("_", " "))


def result_tables(folder: Path, title_prefix: str, stage: str) -> list[Table]:
    """The tables directly in ``folder``: each ``X.md`` (formatted), else ``X.csv``; Markdown first, long tables last.

    A Markdown heading above a table titles it; per-day files are left out. ``stage`` (``evaluate``,
    ``stack``, ``study``) and the file name pick the column legends.
    """
    tables = []
    files = [p for p in sorted(folder.glob("*")) if p.is_file() and not p.name.startswith((".", "day="))]
    for path in [p for p in files if p.suffix == ".md"] + [p for p in files if p.suffix == ".csv" and not p.with_suffix(".md").exists()]:
        title, source = file_title(path, title_prefix), f"{stage}/{path.stem}"
        if path.suffix == ".md":
            tables += markdown_tables(path.read_text(), title, source)
        else:
            kind = "confusion" if "confusion" in path.name else "coefficients" if "coef" in path.name else "table"
            table = csv_table(path, title, kind, source)
            if table:
                tables.append(table)
    return sorted(tables, key=lambda t: t.collapsed)

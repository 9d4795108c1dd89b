"""What a report is made of: sections holding sortable tables and figures (rendered by the template)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from darkstack.report import legends

MAX_TABLE_ROWS = 200
"""Rows shown of a table read from a file when no other limit is given (the file holds the rest)."""


@dataclass
class Cell:
    """A table cell: the text shown and the value the column sorts by (numbers sort numerically)."""

    text: str
    sort: str | float
    bold: bool = False


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    filterable: bool = False
    kind: str = "table"
    collapsed: bool = False
    legend: list[tuple[str, str]] = field(default_factory=list)
    """One line per column: (column, what it holds), shown under the table."""


@dataclass
class Figure:
    title: str
    src: str
    caption: str = ""
    wide: bool = False


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    text_blocks: list[tuple[str, str]] = field(default_factory=list)
    nav: str = ""
    figures_first: bool = True
    children: list[Section] = field(default_factory=list)
    """Sub-sections (one per sensor or scenario), shown after this section's own content."""
    absent: list[str] = field(default_factory=list)
    """Sentences naming what this section would show but the workspace does not hold."""
    lookup: str = ""
    """The host lookup's data: JSON already escaped for an HTML script block (:func:`darkstack.report.lookup.json_for_html`)."""

    def is_empty(self) -> bool:
        """True when the section shows nothing read from the workspace (notes of absence do not count)."""
        return not (self.tables or self.figures or self.text_blocks or self.lookup or any(not c.is_empty() for c in self.children))


NOT_AVAILABLE = "n/a"
"""Shown for an undefined or missing value (a standard deviation over one day, an empty CSV cell)."""


def cell(value) -> Cell:
    """Format one value: floats with at most 3 decimals, missing or undefined values ``n/a`` (sorting after numbers)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return Cell(NOT_AVAILABLE, "")
    if isinstance(value, bool):
        return Cell(str(value).lower(), int(value))
    if isinstance(value, int):
        return Cell(f"{value:,}".replace(",", "\u2009"), value)
    if isinstance(value, float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
        return Cell(text.replace(",", "\u2009"), value)
    if hasattr(value, "item"):  # numpy scalar
        return cell(value.item())
    text = str(value)
    return Cell(text, text)


def table_from_frame(
    title: str,
    frame: pd.DataFrame,
    note: str = "",
    max_rows: int = MAX_TABLE_ROWS,
    filterable: bool = False,
    kind: str = "table",
    source: str = "",
) -> Table:
    """A report table from a DataFrame (index kept as the first column when it is named or not a range).

    ``source`` (``stage/file`` or a table name of :mod:`darkstack.report.legends`) picks the column legend.
    """

    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name:
        frame = frame.reset_index()
    shown = frame.head(max_rows)
    if len(frame) > len(shown):
        extra = f"Showing the first {len(shown)} of {len(frame)} rows."
        note = f"{note} {extra}" if note else extra
    rows = [[cell(v) for v in record] for record in shown.itertuples(index=False, name=None)]
    columns = [str(c) for c in frame.columns]
    return Table(title, columns, rows, note, filterable, kind, legend=legends.explain(columns, source))

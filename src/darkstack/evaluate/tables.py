"""The Table-3 layout: classes by decreasing support, one F1 column (mean ± std over days) per variant."""

from __future__ import annotations

import pandas as pd

from darkstack.evaluate.metrics import MACRO
from darkstack.evaluate.split import days_phrase, is_undefined, std_text
from darkstack.schema import CLASS_DISPLAY

METHOD_ORDER = ("ds", "idarkvec", "gcn", "igcn", "gcngru", "igcngru")
METHOD_DISPLAY = {
    "ds": "DS",
    "idarkvec": "i-DarkVec",
    "gcn": "GCN",
    "igcn": "i-GCN",
    "gcngru": "GCN-GRU",
    "igcngru": "i-GCN-GRU",
}
NOFEAT = "-nofeat"
MACRO_DISPLAY = "Macro avg."


def has_halves(variants: list[str]) -> bool:
    """True when some variant comes both with and without node features (the two halves of Table 3)."""
    return any(v.endswith(NOFEAT) and v.removesuffix(NOFEAT) in variants for v in variants)


def column_order(variants: list[str], halves: bool) -> list[str]:
    """Variants in table order: with ``halves``, non-GNN methods, then the without-features half, then the with half."""
    if not halves:
        return list(variants)

    def key(v: str) -> tuple[int, int, int]:
        base = v.removesuffix(NOFEAT)
        rank = METHOD_ORDER.index(base) if base in METHOD_ORDER else len(METHOD_ORDER)
        gnn = base not in ("ds", "idarkvec")
        half = 0 if not gnn else (1 if v.endswith(NOFEAT) else 2)
        return half, rank, variants.index(v)

    return sorted(variants, key=key)


def variant_display(variant: str, halves: bool) -> str:
    base = variant.removesuffix(NOFEAT)
    name = METHOD_DISPLAY.get(base, base)
    if variant.endswith(NOFEAT):
        return f"{name} (no feat.)"
    if halves and base in METHOD_DISPLAY and base not in ("ds", "idarkvec"):
        return f"{name} (feat.)"
    return name if base in METHOD_DISPLAY else variant


def class_display(label: str) -> str:
    return MACRO_DISPLAY if label == MACRO else CLASS_DISPLAY.get(label, label)


def row_order(summary: pd.DataFrame) -> list[str]:
    """Classes by decreasing support (host-days, the largest over variants), then name; macro last."""
    support = summary[summary["label"] != MACRO].groupby("label")["support"].max()
    classes = sorted(support.index, key=lambda c: (-support[c], c))
    return [*classes, MACRO] if (summary["label"] == MACRO).any() else classes


def table_frame(summary: pd.DataFrame, variants: list[str], halves: bool | None = None) -> pd.DataFrame:
    """Numeric Table 3: index label, columns support, then ``<variant>`` (mean F1) and ``<variant>_std``."""
    halves = has_halves(variants) if halves is None else halves
    rows = row_order(summary)
    support = summary.groupby("label")["support"].max()
    frame = pd.DataFrame({"support": support.reindex(rows).astype("Int64")}, index=pd.Index(rows, name="label"))
    for v in column_order(variants, halves):
        part = summary[summary["variant"] == v].set_index("label")
        frame[v] = part["f1_mean"].reindex(rows)
        frame[f"{v}_std"] = part["f1_std"].reindex(rows)
    return frame


def _cell(mean: float, std: float, bold: bool) -> str:
    """``0.91±0.02``; ``0.91±n/a`` when the std is undefined (one day); ``–`` when there is no value."""
    if is_undefined(mean):
        return "–"
    text = f"{mean:.2f}±{std_text(std, 2)}"
    return f"**{text}**" if bold else text


def markdown(
    frame: pd.DataFrame,
    variants: list[str],
    halves: bool | None = None,
    title: str | None = None,
    n_days: int | None = None,
) -> str:
    """Table 3 as Markdown: F1 mean ± sample std over the test days; the best mean per row in bold.

    With ``n_days``, a closing line says over how many test days the values were computed.
    """
    halves = has_halves(variants) if halves is None else halves
    order = column_order(variants, halves)
    header = ["Class", "Support", *[variant_display(v, halves) for v in order]]
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    for label, row in frame.iterrows():
        means = [row[v] for v in order]
        finite = [m for m in means if not is_undefined(m)]
        best = max(finite) if finite else None
        cells = [_cell(row[v], row[f"{v}_std"], best is not None and len(order) > 1 and row[v] == best) for v in order]
        support = "" if pd.isna(row["support"]) else f"{int(row['support']):,}".replace(",", " ")
        name = class_display(label)
        lines.append("| " + " | ".join([f"**{name}**" if label == MACRO else name, support, *cells]) + " |")
    if n_days is not None:
        lines += ["", days_note(n_days)]
    return "\n".join(lines) + "\n"


def days_note(n_days: int) -> str:
    """The line under a table: F1 over how many test days, and what "n/a" means."""
    undefined = "; the standard deviation of one day is undefined (n/a)" if n_days == 1 else ""
    return (f"F1 per class: mean ± sample standard deviation over the {days_phrase(n_days)} scored{undefined}; "
            "Support: labelled host-days.")

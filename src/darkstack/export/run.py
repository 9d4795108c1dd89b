"""``export()``: write one day's classified hosts of a scenario as feed files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from darkstack import atomic
from darkstack.export import formats
from darkstack.export.hosts import PREDICTED, classified_hosts
from darkstack.export.settings import ExportSettings
from darkstack.log import get_logger
from darkstack.workspace import Workspace, dated_entries, day_str

log = get_logger(__name__)

HOSTS_TABLE = "hosts.parquet"
"""Every exported column plus ip, the per-base contributions and neighbours (what the report's host lookup reads)."""


def export_dir(ws: Workspace, scenario: str, day: dt.date) -> Path:
    """``results/export/<scenario>/day=<day>/``."""
    return ws.results_dir / "export" / scenario / f"day={day_str(day)}"


def predicted_days(ws: Workspace, scenario: str) -> list[dt.date]:
    """Days ``darkstack predict`` wrote for ``scenario``."""
    return dated_entries(ws.results_dir / "predict" / scenario)


def exported_days(ws: Workspace, scenario: str) -> list[dt.date]:
    """Days whose export of ``scenario`` is complete (its ``hosts.parquet`` written)."""
    return [d for d in dated_entries(ws.results_dir / "export" / scenario) if (export_dir(ws, scenario, d) / HOSTS_TABLE).exists()]


def export(ws: Workspace, scenario: str, day: dt.date, settings: ExportSettings | None = None) -> list[Path]:
    """Write ``hosts.parquet`` and the configured formats of ``day`` into :func:`export_dir` (replacing it whole).

    :class:`darkstack.skips.StageSkipped` when the day has no predictions of ``scenario``.
    """
    settings = settings or ExportSettings()
    table = classified_hosts(ws, scenario, day, settings)
    rows = formats.records(table)
    target = export_dir(ws, scenario, day)
    with atomic.atomic_dir(target) as tmp:
        atomic.write_parquet(tmp / HOSTS_TABLE, table)
        for fmt in settings.formats:
            atomic.write_text(tmp / formats.FILE_NAMES[fmt], formats.render(fmt, rows, scenario, day_str(day)))
    predicted = sum(row["source"] == PREDICTED for row in rows)
    log.info(
        f"scenario {scenario}, {day_str(day)}: {table.num_rows} classified hosts ({table.num_rows - predicted} with a ground-truth label, "
        f"{predicted} predicted) exported as {', '.join(settings.formats)} to {target}",
        extra={"scenario": scenario, "day": day_str(day), "hosts": table.num_rows, "predicted": predicted},
    )
    return [target / HOSTS_TABLE, *(target / formats.FILE_NAMES[f] for f in settings.formats)]


def scenarios_with_predictions(ws: Workspace, day: dt.date | None) -> list[str]:
    """Scenarios with predictions (of ``day``, when given), D, H, DH first."""
    from darkstack.pipeline.config import SCENARIOS

    folder = ws.results_dir / "predict"
    names = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    predicted = {n: predicted_days(ws, n) for n in names}
    wanted = [n for n, days in predicted.items() if days and (day is None or day in days)]
    return sorted(wanted, key=lambda n: (SCENARIOS.index(n) if n in SCENARIOS else len(SCENARIOS), n))


"""The report's "Groups" section: today's new and growing groups of unknown hosts, per sensor.

Reads ``results/discover/<sensor>/groups-day=<day>.json`` (docs/discover.md) of the last day clustered.
Every value, class names and addresses included, reaches the page through the template's autoescaping
(labels and logs are written by others and treated as hostile).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from darkstack.log import get_logger
from darkstack.report.model import Section, table_from_frame
from darkstack.report.tables import class_display
from darkstack.workspace import Workspace

log = get_logger(__name__)

MEMBERS_SHOWN = 10
"""Member addresses shown per group (the groups file lists more, the day's Parquet all)."""
FRESH = ("new", "grown")
"""Statuses reported as news: a group that appeared today, or grew beyond ``discover.size_change``."""


def _load(path: Path):
    """A JSON file discover wrote; None when absent or unreadable (the report shows what it can)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        if path.exists():
            log.warning(f"report: skipped unreadable {path}: {exc}")
        return None


def _groups(path: Path) -> list[dict]:
    data = _load(path)
    return [g for g in data if isinstance(g, dict)] if isinstance(data, list) else []


def _space(folder: Path) -> str:
    """``ds (why it was chosen)`` from the sensor's run.json."""
    run = _load(folder / "run.json")
    if not isinstance(run, dict):
        return "?"
    return f"{run.get('space', '?')} ({run['why']})" if run.get("why") else str(run.get("space", "?"))


def _members(group: dict) -> str:
    shown = [str(m) for m in group.get("members", [])][:MEMBERS_SHOWN]
    more = int(group.get("size", len(shown))) - len(shown)
    return ", ".join(shown) + (f" … (+{more})" if more > 0 else "")


def groups_frame(groups: list[dict]) -> pd.DataFrame:
    """One row per group with the columns the report shows (legends: ``discover/groups``)."""
    rows = [{
        "group": g.get("group"),
        "status": g.get("status"),
        "hosts": g.get("size"),
        "unknown_share": g.get("unknown_share"),
        "closest_known_class": class_display(g.get("closest_known_class")),
        "majority_class": class_display(g.get("majority_class")),
        "purity": g.get("purity"),
        "top_ports": ", ".join("other" if p == -1 else str(p) for p in g.get("top_ports", [])),
        "packets": g.get("packets"),
        "hours_active": g.get("hours_active"),
        "first_seen": g.get("first_seen"),
        "members": _members(g),
    } for g in groups]
    return pd.DataFrame(rows, columns=["group", "status", "hosts", "unknown_share", "closest_known_class", "majority_class", "purity",
                                       "top_ports", "packets", "hours_active", "first_seen", "members"])


def groups_section(ws: Workspace) -> Section:
    section = Section(
        "groups",
        "Groups of hosts acting alike",
        "Per sensor, the last day clustered (HDBSCAN on the embedding named below): groups of mostly unknown hosts that "
        "appeared that day or grew, with their ports and the known class they are closest to; then every group of the day.",
        nav="Groups",
    )
    base = ws.results_dir / "discover"
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.is_dir() else []:
        files = sorted(folder.glob("groups-day=*.json"))
        if not files:
            continue
        day = files[-1].stem.removeprefix("groups-day=")
        groups = _groups(files[-1])
        space = _space(folder)
        child = Section(f"groups-{folder.name}", f"Sensor {folder.name}, {day}",
                        f"{len(groups)} groups in the space {space}; the hosts of every group: "
                        f"{(folder / f'day={day}.parquet').relative_to(ws.root)}.")
        frame = groups_frame(groups)
        fresh = frame[frame["status"].isin(FRESH) & (frame["unknown_share"].astype(float) >= 0.5)]
        if fresh.empty:
            child.absent.append(f"Sensor {folder.name}: no new or growing group of mostly unknown hosts on {day}.")
        else:
            child.tables.append(table_from_frame("New and growing groups of unknown hosts", fresh.drop(columns=["majority_class", "purity"]),
                                                 filterable=True, source="discover/groups"))
        if len(frame):
            every = table_from_frame(f"Every group on {day}", frame, filterable=True, source="discover/groups")
            every.collapsed = True
            child.tables.append(every)
        section.children.append(child)
    if not section.children:
        section.absent.append("No groups in this workspace (results/discover/ is empty: run `darkstack discover`).")
    return section

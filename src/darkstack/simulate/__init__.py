"""Built-in simulator of labelled darknet and honeypot traffic (``darkstack simulate``).

:func:`simulate` draws a world of hosts (:mod:`.world`) from a profile (:mod:`.profiles`), then
streams day by day the darknet packets, honeypot sessions (:mod:`.traffic`) and the sessions' application
events (:mod:`.events`) into the store.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from darkstack import atomic, store
from darkstack.errors import ConfigError
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.simulate.events import honeypot_events
from darkstack.simulate.profiles import build_profile
from darkstack.simulate.traffic import darknet_day, honeypot_day
from darkstack.simulate.world import build_world, write_truth
from darkstack.workspace import Workspace, day_str, parse_day

__all__ = ["DARKNET", "HONEYPOT", "PART", "simulate"]

DARKNET, HONEYPOT = "darknet", "honeypot"
PART = "sim"
"""Store part name of simulated records: re-running replaces them (idempotent)."""
log = get_logger(__name__)


def _remove_stale_days(ws: Workspace, keep: set[dt.date]) -> None:
    """Drop simulated parts of days outside this run, so the store holds exactly one simulation."""
    for sensor in (DARKNET, HONEYPOT):
        for day in ws.store_days(sensor):
            if day not in keep:
                for f in ws.store_day_dir(sensor, day).glob(f"*-{PART}.parquet"):
                    f.unlink()


def simulate(ws: Workspace, profile: str = "demo", days: int = 31, start: dt.date = dt.date(2021, 12, 1),
             seed: int = 0, pcap: bool = False, scale: float | None = None, campaigns: int = 0) -> dict:
    """Simulate ``days`` days of the ``darknet`` and ``honeypot`` sensors into the store of ``ws``.

    Also writes ``ws.truth_dir``/{labels.csv, truth.csv, world.json, acknowledged_scanners.ipset} and,
    with ``pcap``, the darknet days as ``ws.truth_dir/pcap/darknet/<day>.pcap``; ``campaigns`` adds that many
    coordinated campaigns of unlisted hosts (profiles.campaign_behaviours). Returns a summary.
    """
    if not isinstance(days, int) or days < 1 or days > 366:
        raise ConfigError(f"--days must be between 1 and 366, not {days!r}")
    if seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, not {seed}")
    start = parse_day(start)
    began = time.perf_counter()
    prof = build_profile(profile, scale, campaigns)
    world = build_world(prof, seed, start, days)
    published = write_truth(ws, world)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    _remove_stale_days(ws, set(dates))
    if pcap:
        from darkstack.ingest.pcap import write_pcap
    summary: dict = {"profile": profile, "scale": prof.scale, "seed": seed, "start": day_str(start), "days": days,
                     "hosts": int(world.active.any(axis=1).sum()), "published_labels": published,
                     DARKNET: {}, HONEYPOT: {}, "honeypot_events": {}}

    def write(day: dt.date, dark: pa.Table, hp: pa.Table, events: pa.Table) -> None:
        summary[DARKNET][day_str(day)] = store.write_records(ws, DARKNET, DARKNET, dark, part=PART).get(day, 0)
        summary[HONEYPOT][day_str(day)] = store.write_records(ws, HONEYPOT, HONEYPOT, hp, part=PART).get(day, 0)
        summary["honeypot_events"][day_str(day)] = store.write_events(ws, HONEYPOT, events, part=PART).get(day, 0)
        if pcap:
            write_pcap(dark, ws.truth_dir / "pcap" / DARKNET / f"{day_str(day)}.pcap")

    # Writing day i (Parquet encoding releases the GIL) overlaps with generating day i + 1.
    with progress_bar(f"simulate {profile}", days) as bar, ThreadPoolExecutor(max_workers=1) as writer:
        pending = None
        for i, day in enumerate(dates):
            dark, hp = darknet_day(world, i), honeypot_day(world, i)
            events = honeypot_events(world, i, hp)
            if pending is not None:
                pending.result()
            pending = writer.submit(write, day, dark, hp, events)
            advance(bar, 1, status=f"{day_str(day)}: {dark.num_rows:,} packets, {hp.num_rows:,} sessions")
        pending.result()
    summary["seconds"] = round(time.perf_counter() - began, 2)
    atomic.write_json(ws.truth_dir / "world.json", {
        "profile": prof.to_json(), "seed": seed, "start": day_str(start), "days": days,
        "organisation_blocks": {org: len(nets) for org, nets in world.blocks.items()},
        "published_labels": published, "hosts": summary["hosts"],
        "records": {DARKNET: sum(summary[DARKNET].values()), HONEYPOT: sum(summary[HONEYPOT].values())},
    })
    log.info("simulated %d days (%s profile): %s darknet packets, %s honeypot sessions, %s hosts",
             days, profile, f"{sum(summary[DARKNET].values()):,}", f"{sum(summary[HONEYPOT].values()):,}",
             f"{summary['hosts']:,}", extra={"stage": "simulate", "summary": {k: v for k, v in summary.items()
                                                                                 if k not in (DARKNET, HONEYPOT, "honeypot_events")}})
    return summary

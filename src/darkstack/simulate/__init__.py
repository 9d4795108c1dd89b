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
import pyarrow.compute as pc

from darkstack import atomic, store
from darkstack.errors import ConfigError
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.simulate.events import honeypot_events
from darkstack.simulate.profiles import PAPER_PREFIX_LEN, build_profile
from darkstack.simulate.traffic import darknet_parts, honeypot_day
from darkstack.simulate.world import build_world, write_truth
from darkstack.workspace import Workspace, day_str, parse_day

__all__ = ["DARKNET", "HONEYPOT", "PART", "simulate"]

DARKNET, HONEYPOT = "darknet", "honeypot"
PART = "sim"
"""Store part name of simulated records: re-running replaces them (idempotent)."""
log = get_logger(__name__)


def _part_name(j: int) -> str:
    """Store part name of a day's j-th darknet part (a large telescope's day is written in several)."""
    return PART if j == 0 else f"{PART}-{j}"


def _remove_stale_parts(ws: Workspace, day: dt.date, written: int) -> None:
    """Drop the day's darknet parts beyond the ``written`` ones of this run (left by a larger simulation)."""
    keep = {f"part-{_part_name(j)}.parquet" for j in range(written)}
    for f in ws.store_day_dir(DARKNET, day).glob(f"part-{PART}-*.parquet"):
        if f.name not in keep:
            f.unlink()


def _remove_stale_days(ws: Workspace, keep: set[dt.date]) -> None:
    """Drop simulated parts of days outside this run, so the store holds exactly one simulation."""
    for sensor in (DARKNET, HONEYPOT):
        for day in ws.store_days(sensor):
            if day not in keep:
                for pattern in (f"*-{PART}.parquet", f"part-{PART}-*.parquet"):
                    for f in ws.store_day_dir(sensor, day).glob(pattern):
                        f.unlink()


def simulate(ws: Workspace, profile: str = "demo", days: int = 31, start: dt.date = dt.date(2021, 12, 1),
             seed: int = 0, pcap: bool = False, scale: float | None = None, campaigns: int = 0,
             prefix_len: int = PAPER_PREFIX_LEN, thin: int = 1) -> dict:
    """Simulate ``days`` days of the ``darknet`` and ``honeypot`` sensors into the store of ``ws``.

    Also writes ``ws.truth_dir``/{labels.csv, truth.csv, world.json, acknowledged_scanners.ipset} and,
    with ``pcap``, the darknet days as ``ws.truth_dir/pcap/darknet/<day>.pcap``; ``campaigns`` adds that many
    coordinated campaigns of unlisted hosts (profiles.campaign_behaviours); ``prefix_len`` is the darknet's size
    (profiles.telescope) and ``thin`` > 1 writes its packets as records of up to that many (traffic.thin_chunk).
    Returns a summary.
    """
    if not isinstance(days, int) or days < 1 or days > 366:
        raise ConfigError(f"--days must be between 1 and 366, not {days!r}")
    if seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, not {seed}")
    if not isinstance(thin, int) or thin < 1:
        raise ConfigError(f"--thin must be a positive integer (1: every packet a row), not {thin!r}")
    if pcap and (thin > 1 or prefix_len != PAPER_PREFIX_LEN):
        raise ConfigError("--pcap writes the /24 darknet's packets: use it without --thin and --prefix-len")
    start = parse_day(start)
    began = time.perf_counter()
    prof = build_profile(profile, scale, campaigns, prefix_len)
    world = build_world(prof, seed, start, days)
    published = write_truth(ws, world)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    _remove_stale_days(ws, set(dates))
    if pcap:
        from darkstack.ingest.pcap import write_pcap
    summary: dict = {"profile": profile, "scale": prof.scale, "seed": seed, "start": day_str(start), "days": days,
                     "prefix_len": prefix_len, "thin": thin,
                     "hosts": int(world.active.any(axis=1).sum()), "published_labels": published,
                     DARKNET: {}, HONEYPOT: {}, "honeypot_events": {}, "darknet_packets": {}}

    def write_dark(day: dt.date, j: int, dark: pa.Table) -> None:
        rows = store.write_records(ws, DARKNET, DARKNET, dark, part=_part_name(j)).get(day, 0)
        summary[DARKNET][day_str(day)] = summary[DARKNET].get(day_str(day), 0) + rows
        packets = pc.sum(pc.fill_null(dark.column("packets"), 1)).as_py() or 0
        summary["darknet_packets"][day_str(day)] = summary["darknet_packets"].get(day_str(day), 0) + packets
        if pcap:
            write_pcap(dark, ws.truth_dir / "pcap" / DARKNET / f"{day_str(day)}.pcap")

    def finish_day(day: dt.date, parts: int, hp: pa.Table, events: pa.Table) -> None:
        _remove_stale_parts(ws, day, parts)
        summary[HONEYPOT][day_str(day)] = store.write_records(ws, HONEYPOT, HONEYPOT, hp, part=PART).get(day, 0)
        summary["honeypot_events"][day_str(day)] = store.write_events(ws, HONEYPOT, events, part=PART).get(day, 0)

    # Writing a part (Parquet encoding releases the GIL) overlaps with generating the next one.
    with progress_bar(f"simulate {profile}", days) as bar, ThreadPoolExecutor(max_workers=1) as writer:
        pending = None
        for i, day in enumerate(dates):
            parts = 0
            for dark in darknet_parts(world, i, thin):
                if pending is not None:
                    pending.result()
                pending = writer.submit(write_dark, day, parts, dark)
                parts += 1
            hp = honeypot_day(world, i)
            events = honeypot_events(world, i, hp)
            pending.result()
            pending = writer.submit(finish_day, day, parts, hp, events)
            advance(bar, 1, status=f"{day_str(day)}: {summary['darknet_packets'].get(day_str(day), 0):,} packets, "
                                   f"{hp.num_rows:,} sessions")
        pending.result()
    summary["seconds"] = round(time.perf_counter() - began, 2)
    atomic.write_json(ws.truth_dir / "world.json", {
        "profile": prof.to_json(), "seed": seed, "start": day_str(start), "days": days,
        "organisation_blocks": {org: len(nets) for org, nets in world.blocks.items()},
        "published_labels": published, "hosts": summary["hosts"], "thin": thin,
        "records": {DARKNET: sum(summary[DARKNET].values()), HONEYPOT: sum(summary[HONEYPOT].values())},
    })
    log.info("simulated %d days (%s profile): %s darknet packets, %s honeypot sessions, %s hosts",
             days, profile, f"{sum(summary['darknet_packets'].values()):,}", f"{sum(summary[HONEYPOT].values()):,}",
             f"{summary['hosts']:,}", extra={"stage": "simulate", "summary": {k: v for k, v in summary.items()
                                                                                 if k not in (DARKNET, HONEYPOT, "honeypot_events", "darknet_packets")}})
    return summary

"""``build_labels``: merge label sources, the Mirai rule and the activity rules into ``labels/``;
``labels_for_day`` reads a day.

What was read, skipped (by reason, with examples) and fixed (host bits) goes to ``labels/summary.json``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from darkstack import atomic, skips
from darkstack.anonymise import CryptoPAn
from darkstack.errors import DarkstackError
from darkstack.ingest.tokens import TokenMap, token_file
from darkstack.labels.merge import LABELS_SCHEMA, cidr_strings, day_view
from darkstack.labels.activity import (
    ACTIVITY_SOURCE,
    DEFAULT_RULES,
    ActivityRules,
    activity_labels,
    class_counts,
    merge_sensors,
)
from darkstack.labels.merge import LABELS_SCHEMA, cidr_strings, day_view, match, valid_on
from darkstack.labels.mirai import mirai_hosts
from darkstack.labels.openfilters import chain, read_openfilters
from darkstack.labels.orgmap import OrgMap
from darkstack.labels.sources import SourceRows, read_source, refuse_host_bits
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.store import read_day
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)
MIRAI_SOURCE = "mirai-rule"
SUMMARY_NAME = "summary.json"


def summary_path(ws: Workspace) -> Path:
    """``labels/summary.json``: the summary :func:`build_labels` returns, kept beside the table."""
    return ws.labels_dir / SUMMARY_NAME


def build_labels(ws: Workspace, sources: list[Path], org_map: Path | None = None, mirai_rule: bool = True,
                 anonymise_key: Path | None = None, keep_unmapped: bool = True, strict: bool = False,
                 snapshot_date: dt.date | None = None, backdate_first_snapshot: bool = False,
                 activity_rules: Path | bool | None = None) -> dict:
    """Merge ``sources`` (and the Mirai rule over the store) into ``ws.labels_table`` and the per-day views.

    ``activity_rules`` (a rules file, or True for the shipped one) adds the honeypot-activity labels
    (:mod:`darkstack.labels.activity`) of every day, for hosts no source nor the Mirai rule labels that day.
    Labels go through the organisation map (``org_map``, default ``darkstack/data/org_classes.csv``);
    names it does not know keep their own name, or are dropped with ``keep_unmapped=False``. With
    ``anonymise_key`` the source networks are anonymised exactly as ``ingest`` anonymised the traffic.
    An address with host bits under its prefix is taken as its network, or refused with ``strict``.
    A folder is an OpenFilters snapshot (or a folder of them): each is valid from its date (``snapshot_date``
    for a folder whose name has none) to the day before the next; ``backdate_first_snapshot`` lets the
    earliest also label the days before its date. CSV addresses that are tokens map through the
    workspace's token table. Returns the summary also written to :func:`summary_path`: rows per source,
    skipped rows by reason (with examples), host-bit fixes, unmapped names, rows per class, Mirai hosts
    and the rule's skips, labelled hosts per day.
    """
    if not sources and not mirai_rule and not activity_rules:
        raise DarkstackError("no label source given (and the Mirai rule and the activity rules are off)")
    rules = None
    if activity_rules:
        rules = ActivityRules.load(None if activity_rules is True else activity_rules)
    orgs = OrgMap.load(org_map)
    cryptopan = CryptoPAn.from_file(anonymise_key) if anonymise_key is not None else None
    tokens = TokenMap.load(ws) if token_file(ws).exists() else None
    read = [(path, rows) for path in map(Path, sources) for rows in _read(path, strict, tokens, snapshot_date)]
    chain([rows for _, rows in read], backdate_first_snapshot)
    summary: dict = {"sources": {}, "days": {}}
    parts = []
    precedence = 0
    names_used: set[str] = set()
    for path, rows in read:
        name = rows.name
        while name in names_used or name == MIRAI_SOURCE:
            name += "+"
        names_used.add(name)
        resolved = [orgs.resolve(label) for label in rows.label]
        unmapped = Counter(raw for raw, (_, mapped) in zip(rows.label, resolved) if not mapped)
        keep = np.array([mapped or keep_unmapped for _, mapped in resolved], bool)
        n = len(rows.label)
        network = np.array(rows.network, np.uint32)
        plen = np.array(rows.prefix_len, np.int64)
        if cryptopan is not None and n:
            network = cryptopan.anonymise_network(network, plen)
        parts.append(pa.table({
            "network": pa.array(cidr_strings(network, plen) if n else [], pa.string()),
            "prefix_len": pa.array(plen, pa.int8()),
            "label": pa.array([c for c, _ in resolved], pa.string()),
            "source": pa.array([name] * n, pa.string()),
            "valid_from": pa.array(rows.valid_from, pa.date32()),
            "valid_to": pa.array(rows.valid_to, pa.date32()),
            "precedence": pa.array(np.arange(precedence, precedence + n), pa.int32()),
        }, schema=LABELS_SCHEMA).filter(pa.array(keep)))
        precedence += n
        summary["sources"][name] = {"path": str(path), "rows": int(keep.sum()), "skipped": dict(rows.skipped),
                                    "skip_examples": rows.skip_examples,
                                    "host_bits": {"count": rows.host_bits, "examples": rows.host_bit_examples},
                                    "unmapped": dict(unmapped) if keep_unmapped else {},
                                    "dropped_unmapped": {} if keep_unmapped else dict(unmapped),
                                    "classes": dict(Counter(c for (c, _), k in zip(resolved, keep) if k).most_common())}
        if rows.snapshot is not None:
            summary["sources"][name]["snapshot"] = day_str(rows.snapshot)
        if rows.from_tokens:
            summary["sources"][name]["from_tokens"] = rows.from_tokens
        shown = f"{path} (snapshot {rows.name})" if path.is_dir() else str(path)
        log.info(f"{shown}: {int(keep.sum()):,} label rows", extra={"source": name, "skipped": dict(rows.skipped)})
        _log_fixes(shown, rows)
    if mirai_rule:
        with skips.collect() as found:
            hosts = mirai_hosts(ws)
        summary["mirai_skips"] = [skip.as_dict() for skip in found]
        n = hosts.size
        parts.append(pa.table({
            "network": pa.array(cidr_strings(hosts, np.full(n, 32)) if n else [], pa.string()),
            "prefix_len": pa.array(np.full(n, 32), pa.int8()),
            "label": pa.array(["mirai"] * n, pa.string()),
            "source": pa.array([MIRAI_SOURCE] * n, pa.string()),
            "valid_from": pa.nulls(n, pa.date32()),
            "valid_to": pa.nulls(n, pa.date32()),
            "precedence": pa.array(np.arange(precedence, precedence + n), pa.int32()),
        }, schema=LABELS_SCHEMA))
        summary["mirai_hosts"] = int(n)
        precedence += n
    table = pa.concat_tables(parts) if parts else LABELS_SCHEMA.empty_table()
    if rules is not None:
        with skips.collect() as found:
            activity, summary["activity"] = _activity_rows(ws, rules, table, precedence)
        summary["activity"]["rules"] = str(DEFAULT_RULES if activity_rules is True else activity_rules)
        summary["activity_skips"] = [skip.as_dict() for skip in found]
        table = pa.concat_tables([table, activity])
    atomic.write_parquet(ws.labels_table, table)
    summary["rows"] = table.num_rows
    summary["days"] = _write_days(ws, table)
    _note_late_snapshots(ws, [rows for _, rows in read], backdate_first_snapshot)
    atomic.write_json(summary_path(ws), summary)
    return summary


def _read(path: Path, strict: bool, tokens: TokenMap | None, snapshot_date: dt.date | None) -> list[SourceRows]:
    """A label file's rows, or one :class:`SourceRows` per snapshot of an OpenFilters folder."""
    if not path.is_dir():
        return [read_source(path, strict=strict, tokens=tokens)]
    snapshots = read_openfilters(path, snapshot_date)
    for rows in snapshots:
        if rows.snapshot is None:
            log.warning(f"{path}: snapshot {rows.name} has no date in its name: valid on every day "
                        "(--snapshot-date / labels.snapshot_date dates it)", extra={"source": rows.name})
        if strict:
            refuse_host_bits(rows, path)
    return snapshots


def _note_late_snapshots(ws: Workspace, sources: list[SourceRows], backdated: bool) -> None:
    """A skip when every dated snapshot starts after the last day of traffic: none of them labels anyone."""
    dated = [rows.snapshot for rows in sources if rows.snapshot is not None]
    days = store_days(ws)
    if dated and days and not backdated and min(dated) > days[-1]:
        skips.note("labels", f"every label snapshot is dated after the traffic (first snapshot {day_str(min(dated))}, "
                   f"last day of traffic {day_str(days[-1])}): the snapshots label no host",
                   option="--backdate-first-snapshot / labels.backdate_first_snapshot")


def _activity_rows(ws: Workspace, rules: ActivityRules, table: pa.Table, precedence: int) -> tuple[pa.Table, dict]:
    """Label rows (/32, valid that day only) of the activity labels, and their summary.

    Hosts a source or the Mirai rule labels on the day keep that label (docs/labels.md, precedence):
    they are counted as ``overridden`` instead.
    """
    per_day = activity_labels(ws, rules, store_days(ws))
    rows, info = [], {"days": {}, "overridden": 0}
    for day, per_sensor in sorted(per_day.items()):
        found = merge_sensors(per_sensor, rules)
        ips = found.column("ip").to_numpy(zero_copy_only=False)
        taken = match(ips, valid_on(table, day))[0] >= 0
        info["overridden"] += int(taken.sum())
        found = found.filter(pa.array(~taken))
        info["days"][day_str(day)] = {"sensors": {sensor: class_counts(t) for sensor, t in per_sensor.items()},
                                      "kept": class_counts(found)}
        rows.append(found.append_column("day", pa.array(np.full(found.num_rows, day), pa.date32())))
    n = sum(r.num_rows for r in rows)
    if not n:
        return LABELS_SCHEMA.empty_table(), info
    found = pa.concat_tables(rows)
    ips = found.column("ip").to_numpy(zero_copy_only=False)
    return pa.table({
        "network": pa.array(cidr_strings(ips, np.full(n, 32)), pa.string()),
        "prefix_len": pa.array(np.full(n, 32), pa.int8()),
        "label": found.column("label"),
        "source": pa.array([ACTIVITY_SOURCE] * n, pa.string()),
        "valid_from": found.column("day"),
        "valid_to": found.column("day"),
        "precedence": pa.array(np.arange(precedence, precedence + n), pa.int32()),
    }, schema=LABELS_SCHEMA), info


def _log_fixes(path: str, rows: SourceRows) -> None:
    """One WARNING line per skip reason and one for host bits, each with its count and first examples."""
    for reason, count in rows.skipped.most_common():
        examples = "; ".join(rows.skip_examples[reason])
        log.warning(f"{path}: skipped {count:,} row{'s' if count > 1 else ''}: {reason} (e.g. {examples})",
                    extra={"source": rows.name, "reason": reason, "count": count})
    if rows.host_bits:
        log.warning(f"{path}: {rows.host_bits:,} address{'es' if rows.host_bits > 1 else ''} with host bits set "
                    f"under the prefix, taken as the network (e.g. {'; '.join(rows.host_bit_examples)}); "
                    "--strict / labels.strict refuses them", extra={"source": rows.name, "count": rows.host_bits})


def _active_hosts(ws: Workspace, day: dt.date) -> np.ndarray:
    ips = [read_day(ws, s, day, columns=["src_ip"]).column("src_ip").to_numpy() for s in ws.sensors()]
    return np.unique(np.concatenate(ips)) if ips else np.zeros(0, np.uint32)


def store_days(ws: Workspace) -> list[dt.date]:
    """Every day with records on any sensor."""
    return sorted({d for s in ws.sensors() for d in ws.store_days(s)})


def _write_days(ws: Workspace, table: pa.Table) -> dict[str, int]:
    days = store_days(ws)
    out = {}
    with progress_bar("labels per day", total=len(days)) as bar:
        for day in days:
            view = day_view(_active_hosts(ws, day), table, day)
            atomic.write_parquet(ws.labels_day(day), view)
            out[day_str(day)] = view.num_rows
            advance(bar)
    wanted = {ws.labels_day(d) for d in days}
    for stale in ws.labels_dir.glob("day=*.parquet"):
        if stale not in wanted:
            stale.unlink()
    return out


def labels_for_day(ws: Workspace, day: dt.date) -> pa.Table:
    """ip (uint32), label, source of the labelled hosts active on ``day`` (unlabelled hosts are absent)."""
    path = ws.labels_day(day)
    if path.exists():
        return pq.read_table(path)
    if not ws.labels_table.exists():
        raise DarkstackError("no labels yet: run `darkstack labels` first", ws.labels_table)
    return day_view(_active_hosts(ws, day), pq.read_table(ws.labels_table), day)

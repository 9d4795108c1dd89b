"""The feed formats of one day's classified hosts: CSV, JSON lines, a MISP event and STIX 2.1 indicators.

Identifiers are UUID v5 of (scenario, day, address), and timestamps are the day's, so exporting the
same day again writes the same files. Text that came from a log is attacker-written: the CSV writer
neutralises spreadsheet formulas (OWASP: a cell starting with ``= + - @``, tab or carriage return
gets a leading ``'``), and the JSON writers leave escaping to the json module and the stix2 library.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import uuid
from collections import defaultdict

import pyarrow as pa

from darkstack.export.activity import ACTIVITY
from darkstack.export.hosts import COLUMNS, PREDICTED
from darkstack.schema import CLASSES

FORMATS = ("csv", "jsonl", "misp", "stix")
FILE_NAMES = {"csv": "hosts.csv", "jsonl": "hosts.jsonl", "misp": "misp.json", "stix": "stix.json"}
MALICIOUS = ("mirai", "bruteforcer", "spammer", "exploiter")
"""Classes that attack (the papers' four non-scanner classes); the other known classes are acknowledged scanners."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NAMESPACE = uuid.UUID("5b0f7c2e-2d57-4c8e-9b1e-6a8d3c1f0a42")
"""Namespace of darkstack's UUID v5 identifiers (fixed: the same host and day keep their identifier)."""
TAG = "darkstack"
TOP_HOSTS_LISTED = 5
"""Hosts named in the comment of a MISP string attribute (the most active first)."""
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
MISP_STRINGS = {
    "usernames": ("target-user", "Targeting data", "username tried"),
    "passwords": ("text", "Other", "password tried"),
    "commands": ("text", "Payload installation", "command run"),
    "downloads": ("text", "Payload delivery", "file downloaded"),
    "web_requests": ("text", "Network activity", "web request"),
}
"""Activity column → MISP attribute type, category (MISP's category definitions) and what the comment calls it;
downloads and web requests that are URLs are ``url`` attributes."""
STRINGS = [c for c in ACTIVITY if c != "honeypot_events"]


def records(table: pa.Table) -> list[dict]:
    """The exported columns of every row, missing values as None."""
    rows = table.select(COLUMNS).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                row[key] = None
    return rows


def neutralise(value):
    """A CSV cell that no spreadsheet evaluates: text starting with a formula character gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def event_counts(row: dict) -> str:
    """``login_failed 12, command 3``: the host's honeypot events of the day per kind, most frequent first."""
    return ", ".join(f"{p['value']} {p['count']}" for p in row["honeypot_events"])


def csv_cell(column: str, value):
    """One CSV cell: the event counts as text, each list of strings as a JSON array of its values, most
    frequent first (unambiguous whatever the strings hold; the counts are in JSON lines), formulas neutralised."""
    if column == "honeypot_events":
        return event_counts({column: value}) or None
    if column in ACTIVITY:
        return json.dumps([p["value"] for p in value], ensure_ascii=False) if value else None
    return neutralise(value)


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(k, v) for k, v in row.items()})
    return out.getvalue()


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n" for row in rows)


def activity(cls: str) -> str:
    """STIX indicator type of a class: attackers malicious, acknowledged scanners benign, unknown anomalous."""
    if cls in MALICIOUS:
        return "malicious-activity"
    return "benign" if cls in CLASSES else "anomalous-activity"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _summary(row: dict) -> str:
    """One sentence on a host for MISP comments and STIX descriptions."""
    if row["source"] == PREDICTED:
        text = f"{row['class']} ({row['probability']:.2f}), runner-up {row['runner_up']} ({row['runner_up_probability']:.2f}); "
        text += f"decided most by {row['top_sensor']}:{row['top_base']} ({row['top_contribution']:+.2f})"
    else:
        text = f"{row['class']} (ground truth, {row['source']})"
    if row["group"]:
        text += f"; group {row['group']} on {row['cluster_sensor']}"
    if row["honeypot_events"]:
        text += f"; honeypot events {event_counts(row)}"
    return text


def _times(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _misp_strings(rows: list[dict], scenario: str, day: str) -> list[dict]:
    """One attribute per distinct logged string and kind (MISP refuses a second attribute of the same type,
    category and value in an event); its comment says how often and by which hosts (the most active first)."""
    seen = defaultdict(list)
    for row in rows:
        for column in STRINGS:
            for pair in row[column]:
                seen[column, pair["value"]].append((pair["count"], row["address"]))
    attributes = []
    for (column, value), hosts in seen.items():
        kind, category, what = MISP_STRINGS[column]
        if column in ("downloads", "web_requests") and URL.fullmatch(value):
            kind = "url"
        hosts.sort(key=lambda h: (-h[0], h[1]))
        listed = ", ".join(f"{address} ({n})" for n, address in hosts[:TOP_HOSTS_LISTED])
        more = f" and {len(hosts) - TOP_HOSTS_LISTED} more" if len(hosts) > TOP_HOSTS_LISTED else ""
        attributes.append({
            "uuid": _uuid("misp", scenario, day, column, value),
            "type": kind,
            "category": category,
            "value": value,
            "to_ids": False,
            "disable_correlation": column == "passwords",
            "comment": f"{what} {_times(sum(n for n, _ in hosts), 'time')} on the honeypots by {_times(len(hosts), 'host')}: {listed}{more}",
        })
    return attributes


def _day_bounds(day: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), dt.UTC)
    return start, start + dt.timedelta(days=1) - dt.timedelta(seconds=1)


def to_misp(rows: list[dict], scenario: str, day: str) -> str:
    """A MISP event (core format): one ``ip-src`` attribute per host, tagged with its class, then one attribute per
    logged username, password, command, download and web request (:data:`MISP_STRINGS`).

    Attackers go to IDS (``to_ids``), acknowledged scanners, unknown hosts and logged strings do not; the event
    is unpublished and shared with the own organisation only (distribution 0), for an analyst to review.
    """
    _, end = _day_bounds(day)
    anonymised = any(r["anonymised"] for r in rows)
    tags = [{"name": f'{TAG}:scenario="{scenario}"'}] + ([{"name": f'{TAG}:anonymised="crypto-pan"'}] if anonymised else [])
    attributes = []
    for row in rows:
        attribute = {
            "uuid": _uuid("misp", scenario, day, row["address"]),
            "type": "ip-src",
            "category": "Network activity",
            "value": row["address"],
            "to_ids": row["class"] in MALICIOUS,
            "comment": _summary(row),
            "Tag": [{"name": f'{TAG}:class="{row["class"]}"'}],
        }
        attribute |= {key: row[key] for key in ("first_seen", "last_seen") if row[key]}
        attributes.append(attribute)
    attributes += _misp_strings(rows, scenario, day)
    event = {
        "uuid": _uuid("misp-event", scenario, day),
        "info": f"darkstack scenario {scenario}, {day}: {len(rows)} classified hosts",
        "date": day,
        "timestamp": str(int(end.timestamp())),
        "threat_level_id": "3",
        "analysis": "2",
        "distribution": "0",
        "published": False,
        "Tag": tags,
        "Attribute": attributes,
    }
    return json.dumps({"Event": event}, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def to_stix(rows: list[dict], scenario: str, day: str) -> str:
    """A STIX 2.1 bundle: darkstack's identity and one indicator ``[ipv4-addr:value = '…']`` per host.

    Labels are the class (and ``anonymised`` when the address is), confidence the probability in
    percent (100 for a ground-truth label); valid from the start of the day, created at its end (when the day's data was complete).
    """
    import stix2

    start, end = _day_bounds(day)
    identity = stix2.Identity(id=f"identity--{_uuid('identity')}", name="darkstack", identity_class="system", created=start, modified=start)
    objects = [identity]
    for row in rows:
        labels = [row["class"]] + (["anonymised"] if row["anonymised"] else [])
        objects.append(
            stix2.Indicator(
                id=f"indicator--{_uuid('stix', scenario, day, row['address'])}",
                created_by_ref=identity.id,
                created=end,
                modified=end,
                name=f"{row['address']}: {row['class']}",
                description=_summary(row),
                indicator_types=[activity(row["class"])],
                pattern=f"[ipv4-addr:value = '{row['address']}']",
                pattern_type="stix",
                valid_from=start,
                labels=labels,
                confidence=round(100 * row["probability"]),
            )
        )
        if row["honeypot_events"]:
            objects.append(_stix_note(row, objects[-1].id, identity.id, end, scenario, day))
    bundle = stix2.Bundle(objects=objects, id=f"bundle--{_uuid('bundle', scenario, day)}")
    return bundle.serialize(indent=1) + "\n"  # pretty=True re-sorts every property: quadratic, 40 s for 700 hosts


def activity_text(row: dict) -> str:
    """The host's honeypot activity as lines of text: event counts, then each kind of string with its counts,
    every string JSON-quoted (so quotes, separators and cut marks stay unambiguous)."""
    lines = [f"events: {event_counts(row)}"]
    for column in STRINGS:
        if row[column]:
            quoted = ", ".join(f"{json.dumps(p['value'], ensure_ascii=False)} ({p['count']})" for p in row[column])
            lines.append(f"{column.replace('_', ' ')}: {quoted}")
    return "\n".join(lines)


def _stix_note(row: dict, indicator: str, identity: str, end: dt.datetime, scenario: str, day: str):
    """A STIX 2.1 Note on the host's indicator: its honeypot activity of the day as text (a standard object, so a
    consumer parses it without accepting custom properties)."""
    import stix2

    return stix2.Note(
        id=f"note--{_uuid('stix-note', scenario, day, row['address'])}",
        created_by_ref=identity,
        created=end,
        modified=end,
        abstract=f"Honeypot activity of {row['address']} on {day}",
        content=activity_text(row),
        object_refs=[indicator],
    )


def render(fmt: str, rows: list[dict], scenario: str, day: str) -> str:
    """The text of one format."""
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "jsonl":
        return to_jsonl(rows)
    if fmt == "misp":
        return to_misp(rows, scenario, day)
    return to_stix(rows, scenario, day)

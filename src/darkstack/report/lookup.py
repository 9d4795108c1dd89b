"""The report's host lookup: every exported host's class per day, probabilities, contributions, neighbours and cluster.

The data come from the export step's ``hosts.parquet`` files and are embedded in the page as JSON in a
``<script type="application/json">`` block; the page's script renders them with DOM nodes and
``textContent`` only. Logged strings (services, events, group names, and the usernames, passwords, commands,
downloads and web requests of the honeypot activity) are attacker-written, so the
JSON is escaped for its place inside HTML: ``<``, ``>`` and ``&`` (and the JavaScript line breaks
U+2028/U+2029) become ``\\uXXXX`` escapes, and no ``</script>`` or ``<!--`` can end or bend the block.
"""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq

from darkstack.export.activity import ACTIVITY
from darkstack.export.hosts import CONTRIB
from darkstack.export.run import HOSTS_TABLE, export_dir, exported_days
from darkstack.report.model import Section
from darkstack.report.tables import class_display
from darkstack.workspace import Workspace

HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
DEFAULT_LOOKUP_HOSTS = 20_000
FIELDS = ("class", "source", "probability", "runner_up", "runner_up_probability", "top_sensor", "top_base", "top_contribution",
          "cluster_sensor", "cluster", "group", "first_seen", "last_seen", "services", "events", "anonymised")  # fmt: skip
ACTIVITY_SHOWN = {"honeypot_events": "event", "usernames": "username", "passwords": "password", "commands": "command",
                  "downloads": "download", "web_requests": "web request"}  # fmt: skip
"""Each activity column of the export and what the lookup's honeypot table calls its rows."""


def json_for_html(data) -> str:
    """``data`` as JSON that is inert inside an HTML ``<script type="application/json">`` element (the template
    writes it unescaped: HTML entities are not decoded inside a script element)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return "".join(HTML_ESCAPES.get(ch, ch) for ch in text)


def _value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def host_records(ws: Workspace, scenarios: list[str]) -> dict[str, list[dict]]:
    """Address → one record per exported (scenario, day) of that host, latest day first."""
    hosts: dict[str, list[dict]] = {}
    for scenario in scenarios:
        for day in exported_days(ws, scenario):
            table = pq.read_table(export_dir(ws, scenario, day) / HOSTS_TABLE)
            contrib = [c for c in table.column_names if c.startswith(CONTRIB)]
            for row in table.to_pylist():
                record = {"scenario": scenario, "day": row["day"]} | {f: _value(row[f]) for f in FIELDS}
                for key in ("class", "runner_up"):
                    record[key] = class_display(record[key])
                record["honeypot"] = [[ACTIVITY_SHOWN[c], p["value"], p["count"]] for c in ACTIVITY for p in row.get(c) or []]
                record["contributions"] = [[c.removeprefix(CONTRIB), row[c]] for c in contrib if row[c] is not None]  # none for ground truth
                record["neighbours"] = [[n["base"], n["address"], class_display(n["label"])] for n in row["neighbours"]]
                hosts.setdefault(row["address"], []).append(record)
    for records in hosts.values():
        records.sort(key=lambda r: (r["day"], r["scenario"]), reverse=True)
    return hosts


def lookup_section(ws: Workspace, scenarios: list[str], max_hosts: int = DEFAULT_LOOKUP_HOSTS) -> Section:
    """The "Host lookup" section: an address box over the exported hosts (the ``max_hosts`` most probable kept)."""
    section = Section(
        "lookup",
        "Host lookup",
        "Type an address: its class per day and scenario, the probabilities, the meta-learner's contribution of each base, "
        "its nearest neighbours in every base, its cluster and what it did on the honeypots that day. Hosts exported by `darkstack export`.",
        nav="Lookup",
    )
    hosts = host_records(ws, scenarios)
    if not hosts:
        section.absent.append("No exported hosts in this workspace (results/export/ is empty: run `darkstack export`).")
        return section
    if len(hosts) > max_hosts:
        ranked = sorted(hosts, key=lambda a: max(r["probability"] or 0 for r in hosts[a]), reverse=True)
        hosts = {a: hosts[a] for a in ranked[:max_hosts]}
        section.absent.append(f"Only the {max_hosts} most probable of the exported hosts can be looked up (report.lookup_hosts).")
    section.lookup = json_for_html({"hosts": hosts})
    section.intro += f" {len(hosts)} hosts."
    return section

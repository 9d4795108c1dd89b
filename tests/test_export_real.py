"""The real T-Pot day through `darkstack run`: the exports and the report's lookup carry the logged strings."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pytest

from darkstack.cli import main
from darkstack.export.hosts import clean_text
from test_any_data import _tiny

DAY = "2022-06-01"
ACTIVITY_LABELS = "[labels]\nactivity_rules = true\n"
"""The honeypot-activity labels give the day its labelled classes (with test_any_data's tiny model settings)."""


def _logged_credentials(path) -> dict[str, dict[str, Counter]]:
    """Per source address, the usernames and passwords the raw Cowrie log holds for the day (read here with json)."""
    seen: dict[str, dict[str, Counter]] = {}
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event.get("timestamp", "").startswith(DAY):
            host = seen.setdefault(event["src_ip"], {"usernames": Counter(), "passwords": Counter(), "commands": Counter()})
            for field in ("username", "password"):
                if event.get(field) is not None:
                    host[field + "s"][event[field]] += 1
            if event.get("eventid") in ("cowrie.command.input", "cowrie.command.failed"):  # both are command events (ingest/cowrie.py)
                host["commands"][event["input"]] += 1
    return seen


def _top(counter: Counter, n: int = 5, length: int = 200) -> list[dict]:
    """The ``n`` most frequent values as the export keeps them (cut, then counted; control characters replaced)."""
    cut = Counter()
    for v, c in counter.items():
        cut[v if len(v) <= length else v[:length] + "…"] += c
    return [{"value": clean_text(v), "count": c} for v, c in sorted(cut.items(), key=lambda vc: (-vc[1], vc[0]))[:n]]


def test_run_on_a_real_tpot_day_exports_its_usernames_passwords_commands_and_web_requests(real_data, tmp_path):
    import stix2

    tpot = real_data / "tpot"
    cowrie, honeytrap = tpot / f"cowrie.json.{DAY}", tpot / f"honeytrap_attackers.{DAY}.json"
    if not cowrie.exists() or not honeytrap.exists():
        pytest.skip(f"real T-Pot logs of {DAY} not found in {tpot}")
    config = _tiny(tmp_path, extra=ACTIVITY_LABELS)
    ws = tmp_path / "ws"
    assert main(["run", str(cowrie), str(honeytrap), "-c", str(config), "-w", str(ws)]) == 0
    folder = ws / "results" / "export" / "H" / f"day={DAY}"
    lines = [json.loads(line) for line in (folder / "hosts.jsonl").read_text().splitlines()]

    logged = _logged_credentials(cowrie)
    tried = [line for line in lines if line["usernames"]]
    assert tried, "no exported host carries a username"
    for line in tried:  # exactly what the raw log says, most frequent first
        assert line["usernames"] == _top(logged[line["address"]]["usernames"])
        assert line["passwords"] == _top(logged[line["address"]]["passwords"])
    exploiters = [line for line in lines if line["source"] == "label:activity-rules" and line["class"] == "exploiter"]
    assert exploiters and all(line["probability"] == 1 and line["runner_up"] is None for line in exploiters)
    typed = [line for line in exploiters if line["commands"]]
    assert typed, "no exploiter labelled by its honeypot activity carries its commands"
    for line in typed:  # the commands the raw Cowrie log holds, labelled hosts in the feed
        assert line["commands"] == _top(logged[line["address"]]["commands"])
    assert {line["source"] for line in lines} >= {"predicted", "label:activity-rules"}
    requests = [p["value"] for line in lines for p in line["web_requests"]]
    assert len(requests) >= 50 and all(re.match(r"[A-Z]+ \S+ (HTTP|RTSP|SIP)/[12]\.[01]$", r) for r in requests), requests[:5]  # request lines

    rows = list(csv.DictReader(io.StringIO((folder / "hosts.csv").read_text())))
    assert [json.loads(r["usernames"]) for r in rows if r["usernames"]] == [[p["value"] for p in line["usernames"]] for line in tried]
    attributes = json.loads((folder / "misp.json").read_text())["Event"]["Attribute"]
    users = {a["value"] for a in attributes if a["type"] == "target-user"}
    commands = {a["value"] for a in attributes if a["category"] == "Payload installation"}
    assert {p["value"] for line in typed for p in line["commands"]} <= commands
    hosts = {a["value"]: a for a in attributes if a["type"] == "ip-src"}
    assert all(hosts[line["address"]]["to_ids"] for line in exploiters)
    assert users == {p["value"] for line in tried for p in line["usernames"]}
    notes = [o for o in stix2.parse((folder / "stix.json").read_text(), allow_custom=False).objects if o.type == "note"]
    assert any("web requests: " in n.content for n in notes)

    (report,) = (ws / "reports").glob("*/index.html")
    block = re.search(r'<script type="application/json" id="lookup-data">(.*?)</script>', report.read_text(), re.S).group(1)
    hosts = json.loads(block)["hosts"]
    shown = hosts[tried[0]["address"]][0]["honeypot"]
    assert [r[1:] for r in shown if r[0] == "username"] == [[p["value"], p["count"]] for p in tried[0]["usernames"]]

"""Honeypot application events: kept beside the session rows, replaced on re-ingest, anonymised, cleaned."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.compute as pc

from darkstack.anonymise import CryptoPAn
from darkstack.ingest import ingest
from darkstack.schema import EVENT_SCHEMA, ip_to_int
from darkstack.store import read_day, read_events
from darkstack.workspace import parse_day

HOSTILE = "</script><img src=x onerror=alert(1)>"


def cowrie_log(path, sessions: int, fails: int):
    lines = []
    for s in range(sessions):
        base = {"session": f"s{s}", "src_ip": f"198.51.100.{s + 1}", "src_port": 40000 + s, "dst_ip": "10.0.0.1",
                "dst_port": 2222, "protocol": "ssh"}
        lines.append({**base, "eventid": "cowrie.session.connect", "timestamp": f"2018-05-20T10:{s:02d}:00Z"})
        lines.append({**base, "eventid": "cowrie.client.version", "timestamp": f"2018-05-20T10:{s:02d}:01Z"})
        for k in range(fails):
            lines.append({**base, "eventid": "cowrie.login.failed", "username": HOSTILE, "password": "\ud800x",
                          "timestamp": f"2018-05-20T10:{s:02d}:{k + 2:02d}Z"})
        lines.append({**base, "eventid": "cowrie.command.input", "input": "=cmd|' /C calc'!A0",
                      "timestamp": f"2018-05-20T10:{s:02d}:59Z"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_cowrie_events_kept_beside_sessions(ws, tmp_path):
    log = cowrie_log(tmp_path / "cowrie.json", sessions=3, fails=4)
    report = ingest(ws, [log], "hp")
    day = parse_day("2018-05-20")
    assert read_day(ws, "hp", day).num_rows == 3  # one row per session
    events = read_events(ws, "hp", day)
    assert events.schema.equals(EVENT_SCHEMA)
    counts = dict(zip(*np.unique(events.column("event").to_numpy(zero_copy_only=False), return_counts=True)))
    assert counts == {"connect": 3, "login_failed": 12, "command": 3}  # client.version is bookkeeping
    assert report.files[0].events == 18
    failed = events.filter(pc.equal(events.column("event"), "login_failed"))
    assert set(failed.column("username").to_pylist()) == {HOSTILE}  # kept verbatim: escaping is the output's job
    assert set(failed.column("password").to_pylist()) == {"?x"}  # a lone surrogate cannot be stored as UTF-8


def test_reingest_replaces_events_and_anonymises_them(ws, tmp_path):
    log = cowrie_log(tmp_path / "cowrie.json", sessions=3, fails=4)
    ingest(ws, [log], "hp")
    cowrie_log(log, sessions=2, fails=1)  # the file changed: its events are replaced, not added
    ingest(ws, [log], "hp")
    day = parse_day("2018-05-20")
    assert read_events(ws, "hp", day).num_rows == 2 * 3
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    ingest(ws, [log], "anon", anonymise_key=key)
    events, rows = read_events(ws, "anon", day), read_day(ws, "anon", day)
    expected = CryptoPAn(bytes(range(32))).anonymise(ip_to_int(["198.51.100.1", "198.51.100.2"]))
    assert set(events.column("src_ip").to_pylist()) == set(expected.tolist()) == set(rows.column("src_ip").to_pylist())


def test_real_cowrie_events(ws, real_data):
    ingest(ws, [real_data / "cowrie" / "cowrie.json.2018-05-20"], "hp")
    events = read_events(ws, "hp", parse_day("2018-05-20"))
    kinds = set(events.column("event").to_pylist())
    assert {"connect", "login_failed", "login_success"} <= kinds
    assert events.filter(pc.equal(events.column("event"), "login_failed")).column("username").null_count == 0


def test_run_on_honeypot_logs_turns_the_activity_rules_on(tmp_path):
    """`darkstack run PATH…`: honeypot logs come with no activity list, so source iv is on unless the config says."""
    from darkstack.ingest.pcap import write_pcap
    from darkstack.pipeline.config import LabelsConfig, PipelineConfig
    from darkstack.pipeline.from_paths import config_for_paths
    from test_ingest_pcap import records

    log = cowrie_log(tmp_path / "cowrie.json", sessions=1, fails=1)
    write_pcap(records(50), tmp_path / "dark.pcap")
    assert config_for_paths([log], [], tmp_path / "ws").labels.activity_rules is True
    assert config_for_paths([tmp_path / "dark.pcap"], [], tmp_path / "ws").labels.activity_rules is False
    told = PipelineConfig(labels=LabelsConfig(activity_rules=False))
    assert config_for_paths([log], [], tmp_path / "ws", base=told).labels.activity_rules is False

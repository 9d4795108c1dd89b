"""Dionaea's SQLite database and Suricata's eve.json: session/flow records and the honeypot events beside them
(generated files, and the real samples where ../shared is present)."""

from __future__ import annotations

import json
import sqlite3

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from darkstack.errors import InputFormatError
from darkstack.ingest import ingest
from darkstack.ingest.dionaea import read_dionaea
from darkstack.ingest.flows import SKIP_OWN
from darkstack.ingest.formats import detect
from darkstack.ingest.suricata import SKIP_IPV6, SKIP_MERGED, SKIP_SENSOR, read_suricata
from darkstack.schema import PROTO_TCP, PROTO_UDP, TCP_SYN, parse_ip
from darkstack.store import read_day, read_events
from darkstack.workspace import parse_day

DIONAEA_SCHEMA = """
CREATE TABLE connections (connection INTEGER PRIMARY KEY, connection_type TEXT, connection_transport TEXT,
    connection_protocol TEXT, connection_timestamp INTEGER, connection_root INTEGER, connection_parent INTEGER,
    local_host TEXT, local_port INTEGER, remote_host TEXT, remote_hostname TEXT, remote_port INTEGER);
CREATE TABLE logins (login INTEGER PRIMARY KEY, connection INTEGER, login_username TEXT, login_password TEXT);
CREATE TABLE downloads (download INTEGER PRIMARY KEY, connection INTEGER, download_url TEXT, download_md5_hash TEXT);
"""


def dionaea_db(path):
    db = sqlite3.connect(path)
    db.executescript(DIONAEA_SCHEMA)
    rows = [(1, "accept", "tcp", "smbd", 1653725759.4163, 1, None, "172.28.0.2", 445, "115.74.157.98", "", 62187),
            (2, "accept", "tcp", "mysqld", 1653725760.0, 2, None, "172.28.0.2", 3306, "34.140.1.2", "", 50000),
            (3, "listen", "tcp", "httpd", 1653725000.0, 3, None, "0.0.0.0", 80, "", "", 0),
            (4, "connect", "tcp", "httpd", 1653725761.0, 4, None, "172.28.0.2", 40000, "93.184.216.34", "", 80),
            (5, "accept", "udp", "sipsession", 1653725762.0, 5, None, "172.28.0.2", 5060, "45.1.2.3", "", 5060),
            (6, "accept", "tcp", "httpd", 1653725763.0, 6, None, "::ffff:172.28.0.2", 80, "2001:db8::1", "", 1),
            (7, "accept", "tcp", "ftpd", "yesterday", 7, None, "172.28.0.2", 21, "45.1.2.4", "", 2),
            (8, "accept", "tcp", "httpd", 1653725764.0, 8, None, "172.28.0.2", 80, "not-an-ip", "", 3)]
    db.executemany("INSERT INTO connections VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO logins VALUES (?,?,?,?)", [(1, 2, b"root", "123456"), (2, 2, "admin", None)])
    db.executemany("INSERT INTO downloads VALUES (?,?,?,?)", [(1, 1, "", "996c2b2ca30180129c69352a3a3515e4"),
                                                              (2, 1, "http://1.2.3.4/x.exe", "aa")])
    db.commit()
    db.close()
    return path


def test_dionaea_sessions_and_events(tmp_path):
    path = dionaea_db(tmp_path / "dionaea.sqlite")
    assert detect(path).name == "dionaea"
    (batch,) = read_dionaea(path)
    assert batch.read == 8
    assert dict(batch.skips) == {"dionaea's own socket or outgoing connection (connection_type listen)": 1,
                                 "dionaea's own socket or outgoing connection (connection_type connect)": 1,
                                 "IPv6 connection": 1, "bad value in column connection_timestamp": 1,
                                 "bad value in column remote_host": 1}
    smb, mysql, sip = batch.table.to_pylist()
    assert (smb["src_ip"], smb["dst_ip"], smb["dst_port"], smb["proto"], smb["tcp_flags"]) == (
        parse_ip("115.74.157.98"), parse_ip("172.28.0.2"), 445, PROTO_TCP, TCP_SYN)
    assert (smb["service"], smb["event"], smb["honeypot"]) == ("smb", "smbd", "dionaea")
    assert smb["ts"].timestamp() == pytest.approx(1653725759.4163)
    assert (sip["proto"], sip["tcp_flags"], sip["service"]) == (PROTO_UDP, None, "sip")
    events = batch.events.to_pylist()
    kinds = [e["event"] for e in events]
    assert sorted(kinds) == ["connect"] * 3 + ["download"] * 2 + ["login_failed"] * 2
    logins = [e for e in events if e["event"] == "login_failed"]
    assert [(e["username"], e["password"], e["src_ip"]) for e in logins] == [
        ("root", "123456", parse_ip("34.140.1.2")), ("admin", None, parse_ip("34.140.1.2"))]  # BLOB → text
    assert [e["detail"] for e in events if e["event"] == "download"] == ["996c2b2ca30180129c69352a3a3515e4",
                                                                        "http://1.2.3.4/x.exe"]


def test_dionaea_wrong_database_and_damage(tmp_path):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (a)")
    db.commit()
    db.close()
    with pytest.raises(InputFormatError, match="without Dionaea's tables"):
        detect(other)
    with pytest.raises(InputFormatError, match="not Dionaea's: no table"):
        list(read_dionaea(other))
    path = dionaea_db(tmp_path / "d.sqlite")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputFormatError):
        list(read_dionaea(path))
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    with pytest.raises(InputFormatError):
        list(read_dionaea(path))


def test_real_dionaea_sqlite(ws, real_data):
    path = real_data / "dionaea_sqlite" / "dionaea.sqlite"
    assert detect(path).name == "dionaea"
    report = ingest(ws, [path], "dionaea")
    assert report.files[0].read == report.files[0].kept == 8533
    table = pa.concat_tables([read_day(ws, "dionaea", parse_day(d)) for d in ("2022-05-28", "2022-05-29")])
    assert table.num_rows == 8533 and set(table.column("sensor_kind").to_pylist()) == {"honeypot"}
    services = pc.value_counts(table.column("service")).to_pylist()
    assert {"values": "smb", "counts": 8401} in services
    events = read_events(ws, "dionaea", parse_day("2022-05-28"))
    kinds = pc.value_counts(events.column("event")).to_pylist()
    assert {"values": "download", "counts": 3} in kinds and {"values": "login_failed", "counts": 1} in kinds
    assert events.filter(pc.equal(events.column("event"), "login_failed")).column("username").to_pylist() == ["root"]


SENSOR = "165.22.44.143"


def eve(kind: str, src: str, dst: str, flow_id: int, ts: str = "2023-08-21T08:06:16.061150+0000", **extra) -> dict:
    return {"timestamp": ts, "flow_id": flow_id, "in_iface": "eth0", "event_type": kind, "src_ip": src,
            "src_port": 40000 + flow_id % 1000, "dest_ip": dst, "dest_port": 80, "proto": "TCP", **extra}


def eve_log(path):
    lines = [
        eve("alert", "1.2.3.4", SENSOR, 1, app_proto="http",
            alert={"signature": "ET WEB_SPECIFIC_APPS exploit", "category": "Web Application Attack"},
            flow={"pkts_toserver": 3, "pkts_toclient": 2, "bytes_toserver": 300, "start": "2023-08-21T08:06:15.000000+0000"}),
        eve("http", "1.2.3.4", SENSOR, 1, app_proto="http", http={"http_method": "GET", "url": "/cgi-bin/luci;stok=/"}),
        eve("alert", "1.2.3.4", SENSOR, 1, alert={"signature": "later", "category": "Misc activity"},
            flow={"pkts_toserver": 7, "bytes_toserver": 700, "start": "2023-08-21T08:06:15.000000+0000"}),
        eve("flow", "5.6.7.8", SENSOR, 2, app_proto="ssh", tcp={"tcp_flags_ts": "1a"},
            flow={"pkts_toserver": 10, "bytes_toserver": 1000, "start": "2023-08-21T08:00:00.000000+0000"}),
        eve("alert", "5.6.7.8", SENSOR, 2, alert={"signature": "ET SCAN", "category": "Attempted Information Leak"}),
        eve("tls", "9.9.9.9", SENSOR, 3),
        eve("alert", SENSOR, "104.154.207.153", 4, alert={"signature": "STREAM GAP", "category": "x"}),
        eve("http", SENSOR, "169.254.169.254", 5, http={"url": "/metadata"}),
        eve("alert", "fe80::1", "ff02::16", 6, alert={"signature": "CVE", "category": "Attempted Administrator Privilege Gain"}),
        eve("dns", "7.7.7.7", SENSOR, 7, proto="UDP"),
        eve("alert", "8.8.8.8", SENSOR, 8, proto="IPv6-ICMP", alert={"category": "x"}),
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    return path


def test_suricata_flows_and_events(tmp_path):
    path = eve_log(tmp_path / "eve.json")
    assert detect(path).name == "suricata"
    (batch,) = read_suricata(path)
    assert batch.read == 12
    assert dict(batch.skips) == {SKIP_IPV6: 1, SKIP_OWN: 1, SKIP_SENSOR: 1, SKIP_MERGED: 3,
                                 "line is not valid JSON": 1, "bad value in column proto": 1}
    rows = {r["src_ip"]: r for r in batch.table.to_pylist()}
    web, flow = rows[parse_ip("1.2.3.4")], rows[parse_ip("5.6.7.8")]
    assert (web["packets"], web["ip_len"], web["event"], web["dst_ip"]) == (7, 100, "suricata.alert", parse_ip(SENSOR))
    assert web["ts"].isoformat() == "2023-08-21T08:06:15+00:00"  # the flow's start
    assert (flow["packets"], flow["ip_len"], flow["tcp_flags"], flow["service"], flow["event"], flow["honeypot"]) == (
        10, 100, 0x1A, "ssh", "suricata.flow", "suricata")
    tls, dns = rows[parse_ip("9.9.9.9")], rows[parse_ip("7.7.7.7")]
    assert (tls["packets"], tls["ip_len"], dns["proto"]) == (None, None, PROTO_UDP)  # no counters: one packet
    events = batch.events.to_pylist()
    assert [(e["event"], e["detail"]) for e in events] == [
        ("exploit", "ET WEB_SPECIFIC_APPS exploit"), ("web_request", "GET /cgi-bin/luci;stok=/"),
        ("alert", "later"), ("alert", "ET SCAN"), ("alert", None)]  # an event is kept even where its flow is not
    assert {e["honeypot"] for e in events} == {"suricata"} and events[1]["service"] == "http"


def test_suricata_without_a_sensor_address_keeps_every_source(tmp_path):
    lines = [eve("flow", f"1.2.3.{i}", f"10.0.0.{i}", i, flow={"pkts_toserver": 1, "bytes_toserver": 40})
             for i in range(1, 5)]
    path = tmp_path / "eve.json"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (batch,) = read_suricata(path)
    assert batch.table.num_rows == 4 and not batch.skips


def test_real_suricata(ws, real_data):
    path = real_data / "suricata" / "tpot_do_eve_2023-08-21.json"
    assert detect(path).name == "suricata"
    report = ingest(ws, [path], "ids")
    f = report.files[0]
    assert f.read == 2454 and f.skipped[SKIP_IPV6] == 51 and f.skipped[SKIP_OWN] == 51
    assert f.skipped[SKIP_SENSOR] > 300  # the T-Pot host's own outbound traffic and replies
    assert f.days == {"2023-08-21": 484, "2023-08-22": 29}  # the log runs past midnight UTC
    table = read_day(ws, "ids", parse_day("2023-08-21"))
    assert parse_ip(SENSOR) not in set(table.column("src_ip").to_pylist())
    assert set(table.column("dst_ip").to_pylist()) == {parse_ip(SENSOR)}
    assert pc.sum(table.column("packets")).as_py() > table.num_rows  # alert flows carry their counters
    events = read_events(ws, "ids", parse_day("2023-08-21"))
    kinds = dict(zip(*[c.to_pylist() for c in pc.value_counts(events.column("event")).flatten()]))
    assert kinds["web_request"] > 100 and kinds["alert"] > 500
    assert "exploit" not in kinds  # the sample's exploit-class alerts are all IPv6 link-local, of the host itself

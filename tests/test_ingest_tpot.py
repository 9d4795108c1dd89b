"""The T-Pot reader: every honeypot log told by content, its quirks, p0f/fatt joins (real folder when present)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darkstack.errors import DarkstackError
from darkstack.ingest.formats import FORMATS, detect
from darkstack.ingest.run import ingest
from darkstack.ingest.settings import IngestSettings
from darkstack.ingest.tpot import SKIP_EPOCH, SKIP_FINGERPRINT, SKIP_NO_SOURCE, SKIP_TEXT, recognise
from darkstack.schema import ip_to_int

READ = FORMATS["tpot"].read
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one(path, **kw):
    """The single batch of a T-Pot log."""
    batches = list(READ(path, **kw))
    assert len(batches) == 1
    return batches[0]


def _ip(text: str) -> int:
    return int(ip_to_int([text])[0])


# --- the real folder -------------------------------------------------------------------------------------------

REAL_KEPT = {"adbhoney": 158, "ciscoasa": 27, "citrix": 56, "conpot": 15, "cowrie": 1693, "ddospot": 470,
             "dionaea": 7435, "elasticpot": 24, "heralding": 224, "honeytrap": 3019, "ipphoney": 9, "mailoney": 10,
             "redis": 152, "sentrypeer": 307, "tanner": 182}


@pytest.fixture
def tpot_folder(real_data):
    folder = real_data / "tpot"
    if not folder.is_dir():
        pytest.skip(f"real T-Pot folder not found at {folder}")
    return folder


def test_real_folder_per_honeypot(ws, tpot_folder):
    report = ingest(ws, [tpot_folder], "tpot", keep_going=True)
    assert report.kind == "honeypot" and not report.failed
    kept = {}
    for f in report.files:
        for program, days in f.honeypots.items():
            kept[program] = kept.get(program, 0) + sum(days.values())
    assert kept == REAL_KEPT
    by_name = {f.path.rsplit("/", 1)[-1]: f for f in report.files}
    honeytrap = by_name["honeytrap_attackers.2022-06-01.json"]
    assert honeytrap.skipped == {SKIP_EPOCH: 543} and honeytrap.honeypots == {"honeytrap": {"2022-06-01": 3019}}
    assert by_name["ciscoasa.log"].skipped == {SKIP_TEXT: 3}  # the start-up lines; every dict line is kept
    assert by_name["ddospot_ntpot.log"].skipped == {SKIP_TEXT: 449}
    assert by_name["p0f.json"].skipped == {SKIP_FINGERPRINT: 4843} and by_name["p0f.json"].kept == 0
    assert by_name["sentrypeer.json"].honeypots == {"sentrypeer": {"2022-05-30": 248, "2022-05-31": 59}}
    assert by_name["heralding_auth.csv"].events == 45 and by_name["cowrie.json.2022-06-01"].events == 4530


def test_real_known_records(tpot_folder):
    honeytrap = _one(tpot_folder / "honeytrap_attackers.2022-06-01.json").table.to_pylist()[0]
    assert honeytrap["src_ip"] == _ip("162.142.125.212") and honeytrap["src_port"] == 39484
    assert honeytrap["dst_ip"] == _ip("10.182.0.11") and honeytrap["dst_port"] == 12143
    assert honeytrap["ts"].isoformat() == "2022-06-01T14:33:36+00:00" and honeytrap["honeypot"] == "honeytrap"
    adb = _one(tpot_folder / "adbhoney.json")
    assert adb.table.column("dst_port").to_pylist()[0] == 5555  # logged as the string "5555"
    dionaea = _one(tpot_folder / "dionaea.2022-05-31.json").events
    logins = dionaea.filter(pc.equal(dionaea.column("event"), "login_failed")).to_pylist()
    assert {"username": "anonymous", "password": "anonymous@"} in [{k: e[k] for k in ("username", "password")} for e in logins]
    cisco = _one(tpot_folder / "ciscoasa.log").table  # the line with unescaped quotes is read too
    assert "2022-06-02T16:02:15.065639+00:00" in [t.isoformat() for t in cisco.column("ts").to_pylist()]
    citrix = _one(tpot_folder / "citrixhoneypot_server.log").table.to_pylist()[0]
    assert citrix["src_ip"] == _ip("80.82.77.139") and citrix["src_port"] == 43814  # from inside the message
    redis = _one(tpot_folder / "redishoneypot.log")
    assert redis.table.to_pylist()[0]["src_port"] == 60232  # addr = ip:port
    commands = redis.events.filter(pc.equal(redis.events.column("event"), "command")).column("detail").to_pylist()
    assert "MODULE LOAD ./red2.so" in commands
    tanner = _one(tpot_folder / "tanner_report.json").events.to_pylist()[0]
    assert tanner["event"] == "web_request" and tanner["detail"] == "POST /Autodiscover/Autodiscover.xml"


def test_real_fingerprints_joined(tpot_folder):
    """p0f covers 12:57-14:12 of 2022-06-01; honeytrap and cowrie start at 14:33: the hour window reaches 67."""
    honeytrap = _one(tpot_folder / "honeytrap_attackers.2022-06-01.json").table
    cowrie = next(FORMATS["cowrie"].read(tpot_folder / "cowrie.json.2022-06-01")).table
    assert honeytrap.column("ttl").null_count == honeytrap.num_rows - 41
    assert cowrie.column("ttl").null_count == cowrie.num_rows - 26
    p0f = [json.loads(line) for line in (tpot_folder / "p0f.json").read_text().splitlines()]
    syn = {(r["client_ip"], r["raw_sig"].split(":")[1].split("+")[0]) for r in p0f if r["mod"] == "syn"}
    for row in honeytrap.filter(pc.is_valid(honeytrap.column("ttl"))).to_pylist():
        ip = ".".join(str(row["src_ip"] >> s & 255) for s in (24, 16, 8, 0))
        assert (ip, str(row["ttl"])) in syn  # the attacker's own SYN, never a SYN+ACK of the other side
    narrow = _one(tpot_folder / "honeytrap_attackers.2022-06-01.json", fingerprint_window_s=600).table
    assert narrow.column("ttl").null_count == narrow.num_rows  # nothing within ten minutes


def test_real_detection(tpot_folder):
    for path in sorted(tpot_folder.iterdir()):
        expected = "cowrie" if path.name.startswith("cowrie") else "tpot"
        assert detect(path).name == expected, path.name


# --- generated logs, one per honeypot ---------------------------------------------------------------------------

T = "2022-06-01T10:00:00"
LOGS = {
    "honeytrap": [{"@timestamp": T + "Z", "attack_connection": {
        "protocol": "tcp", "remote_ip": "1.2.3.4", "remote_port": 4000, "local_ip": "10.0.0.1", "local_port": 8080,
        "payload": {"length": 16, "data_hex": b"GET / HTTP/1.1\r\n".hex()}}}],
    "dionaea": [{"connection": {"protocol": "mssqld", "transport": "tcp", "type": "accept"}, "dst_ip": "10.0.0.1",
                 "dst_port": 1433, "src_ip": "1.2.3.4", "src_port": 4000, "timestamp": T,
                 "credentials": {"username": ["sa"], "password": ["pw"]}}],
    "adbhoney": [{"eventid": "adbhoney.session.connect", "src_ip": "1.2.3.4", "src_port": 4000, "dest_ip": "10.0.0.1",
                  "dest_port": "5555", "timestamp": T + "Z", "session": "s1"},
                 {"eventid": "adbhoney.command.input", "src_ip": "1.2.3.4", "input": "id", "timestamp": T + "Z",
                  "session": "s1"},
                 {"eventid": "adbhoney.session.closed", "src_ip": "1.2.3.4", "timestamp": T + "Z", "session": "s1"}],
    "conpot": [{"timestamp": T, "id": "c1", "src_ip": "1.2.3.4", "src_port": 4000, "dst_ip": "10.0.0.1",
                "dst_port": 161, "data_type": "snmp", "request": {"oid": "1.3"}, "event_type": "SNMPv2 Get"}],
    "heralding": [{"timestamp": "2022-06-01 10:00:00.5", "session_id": "h1", "source_ip": "1.2.3.4",
                   "source_port": 4000, "destination_ip": "10.0.0.1", "destination_port": 110, "protocol": "pop3",
                   "num_auth_attempts": 1, "auth_attempts": []}],
    "tanner": [{"method": "GET", "path": "/etc/passwd", "peer": {"ip": "1.2.3.4", "port": 4000}, "uuid": "u",
                "timestamp": T, "response_msg": {"response": {"message": {"detection": {"name": "lfi"}}}}}],
    "mailoney": [{"src_ip": "1.2.3.4", "src_port": 4000, "timestamp": T + "Z", "data": "EHLO x", "smtp_input": []},
                 {"src_ip": "1.2.3.4", "src_port": 4000, "timestamp": T + "Z", "data": "MAIL FROM:<a@b>", "smtp_input": []}],
    "elasticpot": [{"eventid": "elasticpot.recon", "url": "/_search", "timestamp": T + "Z", "src_ip": "1.2.3.4",
                    "src_port": 4000, "dst_port": 9200, "request": "GET", "dst_ip": "10.0.0.1"}],
    "ipphoney": [{"eventid": "ipphoney.connect", "url": "/", "timestamp": T + "Z", "src_ip": "1.2.3.4",
                  "src_port": 4000, "dst_port": 631, "request": "GET", "dst_ip": "10.0.0.1"}],
    "redis": [{"action": "NewConnect", "addr": "1.2.3.4:4000", "time": "2022-06-01 10:00:00"},
              {"action": "CONFIG SET dir /tmp", "addr": "1.2.3.4:4000", "time": "2022-06-01 10:00:01"},
              {"action": "Closed", "addr": "1.2.3.4:4000", "time": "2022-06-01 10:00:02"}],
    "sentrypeer": [{"app_name": "sentrypeer", "event_timestamp": "2022-06-01 10:00:00.123456789", "transport_type": "UDP",
                    "source_ip": "1.2.3.4", "destination_ip": "10.0.0.1", "called_number": "900", "sip_method": "INVITE"}],
}
EXPECTED = {  # program: (dst_port, proto, service, row event, event kinds)
    "honeytrap": (8080, 6, "http", "honeytrap.payload", ["web_request"]),
    "dionaea": (1433, 6, "mssql", "mssqld", ["connect", "login_failed"]),
    "adbhoney": (5555, 6, "adb", "adbhoney.command.input", ["connect", "command"]),
    "conpot": (161, 17, "snmp", "SNMPv2 Get", ["other"]),
    "heralding": (110, 6, "pop3", "heralding.auth", ["connect"]),
    "tanner": (80, 6, "http", "tanner.lfi", ["exploit"]),
    "mailoney": (25, 6, "smtp", "smtp.MAIL FROM", ["other", "mail"]),
    "elasticpot": (9200, 6, "elasticsearch", "elasticpot.recon", ["web_request"]),
    "ipphoney": (631, 6, "ipp", "ipphoney.connect", ["web_request"]),
    "redis": (6379, 6, "redis", "redis.command", ["connect", "command"]),
    "sentrypeer": (5060, 17, "sip", "sip.INVITE", ["sip"]),
}
TEXT_LOGS = {  # programs whose logs are not JSON lines
    "ciscoasa": ("Starting server on port 8443/tcp\n{'timestamp': '2022-06-01T10:00:00.1', 'src_ip': '1.2.3.4', "
                 "'payload_printable': '\"GET /+CSCOE+/logon.html HTTP/1.1\" 200 -'}\n"
                 "{'timestamp': '2022-06-01T10:00:01', 'src_ip': '1.2.3.4', 'payload_printable': 'timeout('x')'}\n",
                 (8443, "web_request", 2, {SKIP_TEXT: 1})),
    "citrix": ('{"asctime": "2022-06-01 10:00:00,100", "levelname": "INFO", "message": "Citrix honeypot"}\n'
               '{"asctime": "2022-06-01 10:00:00,200", "levelname": "INFO", "message": "(1.2.3.4:4000): GET Header: /vpns/"}\n',
               (443, "web_request", 1, {"log message without a source address": 1})),
    "ddospot": ('Restored previous DB state\n{"time": "2022-06-01 10:00:00.5", "src_ip": "1.2.3.4", "src_port": 4000, '
                '"mode": "MONLIST", "req_size": 8, "resp_size": 0, "req_pkt": "AA=="}\n', (123, "other", 1, {SKIP_TEXT: 1})),
    "heralding_auth": ("timestamp,auth_id,session_id,source_ip,source_port,destination_ip,destination_port,protocol,"
                       "username,password,password_hash\n2022-06-01 10:00:00.1,a,h1,1.2.3.4,4000,10.0.0.1,22,ssh,root,"
                       "\"x,y\",\n", (None, "login_failed", 0, None)),
}


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("program", sorted(EXPECTED))
def test_generated_log(tmp_path, program):
    path = _write(tmp_path / "some-log", LOGS[program])
    assert recognise(path.read_bytes()) == program and detect(path).name == "tpot"
    batch = _one(path)
    dst_port, proto, service, event, kinds = EXPECTED[program]
    row = batch.table.to_pylist()[0]
    assert batch.table.num_rows == 1 and batch.read == len(LOGS[program])
    assert (row["src_ip"], row["dst_port"], row["proto"], row["service"], row["event"], row["honeypot"]) == \
        (_ip("1.2.3.4"), dst_port, proto, service, event, program)
    assert row["ts"].isoformat().startswith("2022-06-01T10:00:00")
    assert batch.events.column("event").to_pylist() == kinds
    assert set(batch.events.column("src_ip").to_pylist()) == {_ip("1.2.3.4")}


@pytest.mark.parametrize("program", sorted(TEXT_LOGS))
def test_generated_text_log(tmp_path, program):
    text, (dst_port, kind, rows, skips) = TEXT_LOGS[program]
    path = tmp_path / "log"
    path.write_text(text)
    assert detect(path).name == "tpot"
    batch = _one(path)
    assert batch.table.num_rows == rows
    if rows:
        assert batch.table.column("dst_port").to_pylist()[0] == dst_port
        assert batch.table.column("honeypot").to_pylist()[0] == program
        assert dict(batch.skips) == skips
    assert batch.events.column("event").to_pylist()[0] == kind
    if program == "heralding_auth":  # the quoted field with a comma stays one field
        event = batch.events.to_pylist()[0]
        assert (event["username"], event["password"], event["honeypot"]) == ("root", "x,y", "heralding")


def test_quirks_epoch_zero_and_wrong_types(tmp_path):
    records = LOGS["honeytrap"] * 2 + [
        {"@timestamp": "1970-01-01T00:00:00Z", "attack_connection": {"protocol": "ip", "remote_ip": "0.0.0.0",
                                                                     "remote_port": 0, "local_port": 0}},
        {"@timestamp": T + "Z", "attack_connection": {"protocol": "tcp", "remote_ip": "0.0.0.0", "local_port": 1}},
        {"@timestamp": T + "Z", "attack_connection": {"remote_ip": "1.2.3.4", "local_port": [1]}},
        {"@timestamp": 12, "attack_connection": {"remote_ip": "1.2.3.4", "local_port": 1}},
        {"@timestamp": T + "Z", "attack_connection": {"remote_ip": 16909060, "local_port": 1}},
        {"@timestamp": T + "Z", "attack_connection": {"remote_ip": "1.2.3.4", "local_port": True}},
    ]
    path = _write(tmp_path / "honeytrap.json", records)
    with path.open("a") as fh:
        fh.write("not json\n[1, 2]\n{broken\n")
    batch = _one(path)
    assert batch.table.num_rows == 2 and batch.read == len(records) + 3
    assert dict(batch.skips) == {SKIP_EPOCH: 1, SKIP_NO_SOURCE: 1, "bad value in column dst_port": 2,
                                 "bad value in column timestamp": 1, "bad value in column src_ip": 1,
                                 SKIP_TEXT: 1, "line is not a JSON object": 1, "line is not valid JSON": 1}
    assert batch.events.num_rows == 2 + 2  # events of rows with a bad port keep their time and source


def test_unknown_log_is_an_error(tmp_path):
    path = _write(tmp_path / "other.json", [{"hello": "world"}])
    with pytest.raises(DarkstackError, match="not a log of a T-Pot honeypot"):
        list(READ(path))
    mhn = _write(tmp_path / "mhn.json", [{"source_ip": "1.2.3.4", "destination_port": 22, "protocol": "ssh",
                                          "timestamp": {"$date": T + "Z"}}])
    assert detect(mhn).name == "mhn"


# --- fingerprints -----------------------------------------------------------------------------------------------

def _p0f(mod, subject, client, port, server, sig, ts="2022/06/01 10:05:00"):
    return {"timestamp": ts, "mod": mod, "client_ip": client, "server_ip": server, "client_port": port,
            "server_port": 8080, "subject": subject, "raw_sig": sig}


def _fingerprint_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    conns = [("1.2.3.4", 4000), ("5.6.7.8", 5000), ("9.9.9.9", 6000), ("7.7.7.7", 7000)]
    _write(folder / "honeytrap.json", [{"@timestamp": T + "Z", "attack_connection": {
        "protocol": "tcp", "remote_ip": ip, "remote_port": port, "local_ip": "10.0.0.1", "local_port": 8080}}
        for ip, port in conns])
    _write(folder / "p0f.json", [
        _p0f("syn", "cli", "1.2.3.4", 4000, "10.0.0.1", "4:50+14:0:1400:mss*10,7:mss,sok,ts,nop,ws:df:0"),
        _p0f("syn", "cli", "1.2.3.4", 3999, "10.0.0.1", "4:99+29:0:1200:8192,0:mss:df:0", ts="2022/06/01 10:00:01"),
        _p0f("syn+ack", "srv", "5.6.7.8", 5000, "10.0.0.1", "4:64+0:0:1460:mss*10,7:mss:df:0"),  # the sensor's reply
        _p0f("syn", "cli", "10.0.0.1", 4444, "5.6.7.8", "4:64+0:0:1460:64240,7:mss,sok,ts,nop,ws:df:0"),  # the sensor
        _p0f("syn", "cli", "9.9.9.9", 1, "10.0.0.1", "4:40+24:0:1300:mtu*2,0:mss:df:0", ts="2022/06/01 12:00:00"),
        _p0f("syn", "cli", "7.7.7.7", 1, "10.0.0.1", "4:120+8:0:1360:mtu*3,2:mss,nop,ws:df:0", ts="2022/06/01 10:30:00"),
        {"timestamp": "2022/06/01 10:00:00", "mod": "mtu", "client_ip": "1.2.3.4", "server_ip": "10.0.0.1",
         "client_port": 4000, "server_port": 8080, "subject": "cli", "raw_mtu": "1500"},
    ])
    (folder / "fatt.log").write_text("".join(json.dumps(r) + "\n" for r in [
        {"timestamp": T + ".5", "sourceIp": "1.2.3.4", "destinationIp": "10.0.0.1", "sourcePort": "4000",
         "destinationPort": "8080", "protocol": "ssh", "ssh": {"client": "SSH-2.0-Go", "hassh": "abc"}},
        {"timestamp": T + ".6", "sourceIp": "10.0.0.1", "destinationIp": "1.2.3.4", "sourcePort": "8080",
         "destinationPort": "4000", "protocol": "ssh", "ssh": {"server": "SSH-2.0-x", "hasshServer": "def"}},
        {"timestamp": T + ".7", "sourceIp": "1.2.3.4", "destinationIp": "10.0.0.1", "sourcePort": "4001",
         "destinationPort": "8080", "protocol": "tls", "tls": {"ja3": "no-such-connection"}},
    ]))
    return folder


def test_fingerprints_fill_attacker_side_only(tmp_path):
    folder = _fingerprint_folder(tmp_path)
    batch = _one(folder / "honeytrap.json")
    rows = {r["src_ip"]: r for r in batch.table.to_pylist()}
    first = rows[_ip("1.2.3.4")]  # same address and port, not the nearer SYN of another port
    assert (first["ttl"], first["tcp_mss"], first["tcp_win"], first["tcp_wscale"], first["tcp_sackok"]) == \
        (50, 1400, 14000, 7, True)
    assert rows[_ip("5.6.7.8")]["ttl"] is None  # only the sensor's SYN+ACK to it and the sensor's own SYN to it
    assert rows[_ip("9.9.9.9")]["ttl"] is None  # two hours away: outside the window
    other = rows[_ip("7.7.7.7")]  # another port, same address, within the hour: the host's SYN
    assert (other["ttl"], other["tcp_win"], other["tcp_wscale"], other["tcp_sackok"]) == (120, 1400 * 3, 2, False)
    fatt = batch.events.filter(pc.equal(batch.events.column("raw_event"), "fatt.ssh")).to_pylist()
    assert [e["detail"] for e in fatt] == ["abc"]  # the client's HASSH; the server's and the unmatched TLS left out
    wide = _one(folder / "honeytrap.json", fingerprint_window_s=3 * 3600).table.to_pylist()
    assert {r["src_ip"]: r["ttl"] for r in wide}[_ip("9.9.9.9")] == 40


def test_changed_fingerprints_reingest(ws, tmp_path):
    folder = _fingerprint_folder(tmp_path)
    first = {f.path.rsplit("/", 1)[-1]: f.status for f in ingest(ws, [folder], "hp").files}
    assert first == {"fatt.log": "ingested", "honeytrap.json": "ingested", "p0f.json": "ingested"}
    assert {f.path.rsplit("/", 1)[-1]: f.status for f in ingest(ws, [folder], "hp").files}["honeytrap.json"] == "unchanged"
    with (folder / "p0f.json").open("a") as fh:
        fh.write(json.dumps(_p0f("syn", "cli", "9.9.9.9", 6000, "10.0.0.1", "4:40+24:0:1300:8192,0:mss:df:0")) + "\n")
    again = {f.path.rsplit("/", 1)[-1]: f.status for f in ingest(ws, [folder], "hp").files}
    assert again["honeytrap.json"] == "ingested"  # its sessions join the changed p0f log
    wider = ingest(ws, [folder / "honeytrap.json"], "hp", settings=IngestSettings(fingerprint_window_s=60)).files[0]
    assert wider.status == "ingested"


def test_cowrie_beside_p0f_is_joined(tmp_path):
    folder = _fingerprint_folder(tmp_path)
    (folder / "honeytrap.json").unlink()
    _write(folder / "cowrie.json", [{"eventid": "cowrie.session.connect", "src_ip": "1.2.3.4", "src_port": 4000,
                                     "dst_ip": "10.0.0.1", "dst_port": 22, "session": "a", "protocol": "ssh",
                                     "timestamp": T + "Z"}])
    table = next(FORMATS["cowrie"].read(folder / "cowrie.json")).table
    assert table.column("ttl").to_pylist() == [50]


# --- fuzz -------------------------------------------------------------------------------------------------------

def _drain(path):
    for batch in READ(path):
        assert isinstance(batch.table, pa.Table)
        assert batch.read >= batch.table.num_rows


@pytest.mark.parametrize("program", sorted(EXPECTED))
@FUZZ
@given(cut=st.integers(min_value=0, max_value=2000), junk=st.binary(max_size=40))
def test_truncated_and_garbage(tmp_path, program, cut, junk):
    text = "".join(json.dumps(r) + "\n" for r in LOGS[program] * 3).encode()
    path = tmp_path / "fuzz.json"
    path.write_bytes(text[:cut] + junk + b"\n" + text)
    _drain(path)


WRONG = st.one_of(st.none(), st.integers(-5, 1 << 40), st.floats(allow_nan=True), st.text(max_size=8), st.booleans(),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@pytest.mark.parametrize("program", sorted(EXPECTED))
@FUZZ
@given(data=st.data())
def test_wrong_types(tmp_path, program, data):
    records = json.loads(json.dumps(LOGS[program]))
    for record in records:
        for key in list(record)[: data.draw(st.integers(0, len(record)))]:
            if key not in ("eventid",):
                record[key] = data.draw(WRONG)
    path = tmp_path / "wrong.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in LOGS[program][:1] + records))
    _drain(path)


def test_fuzz_sample_folder_copy(tmp_path, tpot_folder):
    """Every real log cut in the middle still reads (the cut line counted, never fatal)."""
    for path in sorted(tpot_folder.iterdir()):
        data = path.read_bytes()
        cut = tmp_path / path.name
        cut.write_bytes(data[: len(data) // 2 + 7])
        if detect(cut).name == "tpot":
            _drain(cut)


def test_cli_prints_per_honeypot_and_day_and_lists_unknown_files(ws, tmp_path, capsys):
    from darkstack.cli import main

    folder = _fingerprint_folder(tmp_path)
    _write(folder / "dionaea.json", LOGS["dionaea"])
    _write(folder / "glutton.log", [{"level": "debug", "msg": "no address here"}])
    assert main(["ingest", "-w", str(ws.root), "-s", "tpot", str(folder)]) == 2  # one file could not be read
    captured = capsys.readouterr()
    out = " ".join((captured.out + captured.err).split())
    assert "glutton.log: cannot tell the format" in out  # listed with its reason; the others are in
    assert "records per honeypot and day: dionaea: 2022-06-01 1 honeytrap: 2022-06-01 4" in out
    assert "skipped 7 passive fingerprint" in out and "sensor tpot (honeypot): 5 records kept from 4 of 5 files" in out

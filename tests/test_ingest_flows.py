"""Records that stand for several packets: corsaro3 flowtuples, Zeek conn.log, Merit darknet-events.

The acceptance check "a pcap and the flow records of the same traffic": per-packet records are written as a pcap
and read back, aggregated into flow files as each project documents its format, read with darkstack's readers,
and the weighted records (each counting ``packets`` times) must equal the capture's packets on every field both
carry.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from flow_files import (
    FLOWTUPLE_SCHEMA,
    flowtuples,
    merit_events,
    weighted,
    write_zeek_json,
    write_zeek_tsv,
    zeek_conns,
)
from test_ingest_pcap import records
from test_ingest_text import read_all

from darkstack.errors import InputFormatError
from darkstack.ingest import ingest
from darkstack.ingest.flowtuple import SKIP_DAMAGED, read_flowtuple
from darkstack.ingest.formats import detect
from darkstack.ingest.merit import read_merit
from darkstack.ingest.pcap import read_pcap, write_pcap
from darkstack.ingest.zeek import SKIP_IPV6, read_zeek
from darkstack.schema import PROTO_TCP, TCP_ACK, TCP_RST, TCP_SYN
from darkstack.snapshot import SnapshotSettings, build_snapshots, load_day
from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.store import read_day
from darkstack.workspace import parse_day

TUPLE_FIELDS = ["src_ip", "dst_ip", "src_port", "dst_port", "proto", "ttl", "tcp_flags", "ip_len"]


def traffic(n: int, seed: int = 0) -> pa.Table:
    """Five minutes of per-packet records (test_ingest_pcap's generator) from a few hosts with fixed TTL, port and
    window, to few ports and sizes, so that packets share flow keys as real scanning does."""
    base = records(n, seed)
    rng = np.random.default_rng(seed)
    hosts = rng.integers(1, 2**32, 12, dtype=np.uint32)
    host = rng.integers(0, hosts.size, n)
    proto = base.column("proto").to_numpy()
    tcp, ports = proto == PROTO_TCP, proto != 1
    flags = rng.choice(np.array([TCP_SYN, TCP_SYN, TCP_SYN, TCP_ACK, TCP_RST, TCP_SYN | TCP_ACK]), n)
    columns = {
        "src_ip": pa.array(hosts[host]),
        "ts": pa.array(1_638_316_800_000_000 + np.sort(rng.integers(0, 300_000_000, n))).cast(base.column("ts").type),
        "dst_ip": pa.array((0x0A000000 + rng.integers(0, 2, n)).astype(np.uint32)),
        "src_port": pa.array(40000 + host, pa.uint16(), mask=~ports),
        "dst_port": pa.array(rng.choice([23, 445], n), pa.uint16(), mask=~ports),
        "ttl": pa.array(30 + host % 7, pa.uint8()),
        "ip_len": pa.array(rng.choice([40, 60], n), pa.uint16()),
        "tcp_flags": pa.array(flags, pa.uint8(), mask=~tcp),
        "tcp_win": pa.array(1024 * (1 + host % 5), pa.uint16(), mask=~tcp),
    }
    for name, values in columns.items():
        base = base.set_column(base.column_names.index(name), name, values)
    return base


def captured(table: pa.Table, tmp_path) -> pa.Table:
    """The records as a pcap decodes them (the reference the flow records are compared with)."""
    write_pcap(table, tmp_path / "traffic.pcap")
    return pa.concat_tables([b.table for b in read_pcap(tmp_path / "traffic.pcap")])


def minute(table: pa.Table) -> pa.Table:
    """``ts`` floored to the minute, as a flowtuple interval keeps it."""
    minutes = table.column("ts").cast(pa.int64()).to_numpy() // 60_000_000
    return table.set_column(table.column_names.index("ts"), "ts", pa.array(minutes))


def syn_window(table: pa.Table) -> pa.Table:
    """``tcp_win`` kept only on pure SYNs (corsaro logs the window of those alone)."""
    pure_syn = pc.fill_null(pc.equal(table.column("tcp_flags"), TCP_SYN), False)
    win = pc.if_else(pure_syn, table.column("tcp_win"), pa.scalar(None, pa.uint16()))
    return table.set_column(table.column_names.index("tcp_win"), "tcp_win", win)


@pytest.mark.parametrize("compress", [False, True])
def test_flowtuples_of_a_capture_weigh_to_its_packets(tmp_path, compress):
    packets = captured(traffic(4000, seed=1), tmp_path)
    path = tmp_path / "flowtuple.avro"
    tuples = flowtuples(packets, path)
    assert tuples < 0.6 * packets.num_rows  # the traffic really aggregates
    if compress:
        path.write_bytes(gzip.compress(path.read_bytes()))
    assert detect(path).name == "flowtuple"
    flows, read, skips = read_all(read_flowtuple, path)
    assert read == tuples and not skips and flows.num_rows == tuples
    keys = ["ts", *TUPLE_FIELDS, "tcp_win"]
    assert weighted(minute(flows), keys).equals(weighted(syn_window(minute(packets)), keys))
    for name in ("ip_id", "tcp_seq", "tcp_mss", "tcp_ts"):  # not in the tuple: null, never invented
        assert flows.column(name).null_count == flows.num_rows if name in flows.column_names else True


def test_pcap_and_flowtuples_of_the_same_traffic_store_the_same_weighted_records(ws, tmp_path):
    packets = traffic(3000, seed=2)
    write_pcap(packets, tmp_path / "traffic.pcap")
    flowtuples(captured(packets, tmp_path), tmp_path / "flowtuple.avro")
    ingest(ws, [tmp_path / "traffic.pcap"], "capture")
    ingest(ws, [tmp_path / "flowtuple.avro"], "telescope")
    day = parse_day("2021-12-01")
    capture, telescope = read_day(ws, "capture", day), read_day(ws, "telescope", day)
    assert set(telescope.column("sensor_kind").to_pylist()) == {"darknet"}
    assert pc.sum(telescope.column("packets")).as_py() == capture.num_rows
    keys = ["src_ip", "dst_ip", "dst_port", "proto", "ttl", "ip_len", "tcp_flags"]
    assert weighted(telescope, keys).equals(weighted(capture, keys))
    for settings in (SnapshotSettings(top_ports=8), SnapshotSettings(top_ports=8, syn_only=True)):
        for sensor in ("capture", "telescope"):
            build_snapshots(ws, sensor, settings=settings)
        by_packets, by_flows = load_day(ws, "capture", day), load_day(ws, "telescope", day)
        assert by_packets.edges.equals(by_flows.edges) and by_packets.edges.num_rows > 0
        # the fields both carry: counts, size, TTL, and the window of pure SYNs (flowtuples keep no MSS or TSval)
        shared = [*FEATURE_COLUMNS[:22], *(FEATURE_COLUMNS[27:32] if settings.syn_only else [])]
        for name in ("host_features", "port_features"):
            a, b = getattr(by_packets, name), getattr(by_flows, name)
            assert a.column(0).equals(b.column(0)) and a.num_rows > 0
            np.testing.assert_allclose(np.column_stack([a.column(c).to_numpy() for c in shared]),
                                       np.column_stack([b.column(c).to_numpy() for c in shared]), rtol=1e-9, atol=1e-9)


def test_flowtuple_damage_is_counted_not_fatal(tmp_path):
    path = tmp_path / "flowtuple.avro"
    flowtuples(captured(traffic(3000, seed=3), tmp_path), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 40])
    table, _, skips = read_all(read_flowtuple, path)
    assert skips == {SKIP_DAMAGED: 1}
    path.write_bytes(raw[:30])
    with pytest.raises(InputFormatError, match="not a readable Avro file|corsaro flowtuple"):
        read_all(read_flowtuple, path)


def test_flowtuple_wrong_types_and_other_schemas(tmp_path):
    path = tmp_path / "ft.avro"
    good = {"time": 1638316800, "src_ip": 1, "dst_ip": 2, "src_port": 3, "dst_port": 23, "protocol": 6, "ttl": 9,
            "tcp_flags": 2, "ip_len": 40, "tcp_synlen": 20, "tcp_synwinlen": 1024, "packet_cnt": 5, "is_spoofed": 0,
            "is_masscan": 0, "maxmind_continent": "??", "maxmind_country": "??", "netacq_continent": "??",
            "netacq_country": "??", "prefix2asn": 0}
    rows = [good, {**good, "src_ip": 2**33}, {**good, "ttl": 300}, {**good, "packet_cnt": 0}, {**good, "protocol": 1}]
    with open(path, "wb") as fh:
        fastavro.writer(fh, FLOWTUPLE_SCHEMA, rows)
    table, read, skips = read_all(read_flowtuple, path)
    assert read == 5 and table.num_rows == 2
    assert skips == {"bad value in column src_ip": 1, "bad value in column ttl": 1, "tuple with a packet count of 0": 1}
    icmp = table.to_pylist()[1]
    assert (icmp["src_port"], icmp["dst_port"], icmp["tcp_flags"], icmp["tcp_win"]) == (None, None, None, None)
    other = tmp_path / "other.avro"
    with open(other, "wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema({"type": "record", "name": "x", "fields": [
            {"name": "a", "type": "long"}]}), [{"a": 1}])
    with pytest.raises(InputFormatError, match="not a corsaro flowtuple"):
        detect(other)
    with pytest.raises(InputFormatError, match="missing field"):
        read_all(read_flowtuple, other)


def connections(n: int, seed: int = 0) -> pa.Table:
    """Per-packet records of ``n`` connections: scans (1–3 SYNs, no reply) and sessions (a SYN, then ACKs),
    UDP and ICMP flows; addresses, times and sizes from test_ingest_pcap's generator."""
    rng = np.random.default_rng(seed)
    base = records(n, seed)
    per_conn = rng.integers(1, 6, n)
    conn = np.repeat(np.arange(n), per_conn)
    first = np.r_[True, conn[1:] != conn[:-1]]
    proto = base.column("proto").to_numpy()[conn]
    scan = (rng.random(n) < 0.5)[conn]
    tcp, ports = proto == PROTO_TCP, proto != 1
    flags = np.where(first | scan, TCP_SYN, TCP_ACK)
    rows = base.take(pa.array(conn))
    order = np.argsort(rows.column("ts").cast(pa.int64()).to_numpy() + np.arange(conn.size), kind="stable")
    columns = {
        "dst_ip": pa.array((0x0A000000 + rng.integers(0, 65536, n)).astype(np.uint32)[conn]),  # a /16 darknet
        "src_port": pa.array(1024 + np.arange(n)[conn], pa.uint16(), mask=~ports),  # one 5-tuple per connection
        "tcp_flags": pa.array(flags, pa.uint8(), mask=~tcp),
        "ts": pc.add(rows.column("ts").cast(pa.int64()), pa.array(np.arange(conn.size) * 1000)).cast(rows.column("ts").type),
    }
    for name, values in columns.items():
        rows = rows.set_column(rows.column_names.index(name), name, values)
    return rows.take(pa.array(order))


@pytest.mark.parametrize("layout", ["tsv", "tsv.gz", "json", "json-iso"])
def test_zeek_connections_weigh_to_the_capture(tmp_path, layout):
    packets = captured(connections(600, seed=4), tmp_path)
    conns = zeek_conns(packets)
    if layout == "json-iso":  # LogAscii::json_timestamps = JSON::TS_ISO8601
        conns = [{**c, "ts": dt.datetime.fromtimestamp(c["ts"], dt.UTC).isoformat().replace("+00:00", "Z")}
                 for c in conns]
    path = tmp_path / f"conn.{layout}"
    (write_zeek_json if layout.startswith("json") else write_zeek_tsv)(conns, path)
    if layout.endswith(".gz"):
        path.write_bytes(gzip.compress(path.read_bytes()))
    assert detect(path).name == "zeek"
    flows, read, skips = read_all(read_zeek, path)
    assert read == len(conns) < 0.5 * packets.num_rows and not skips
    syn = pc.fill_null(pc.equal(flows.column("tcp_flags"), TCP_SYN), False)
    keys = ["src_ip", "dst_ip", "src_port", "dst_port", "proto", "syn"]
    got = flows.append_column("syn", syn)
    want = packets.append_column("syn", pc.fill_null(pc.equal(packets.column("tcp_flags"), TCP_SYN), False))
    assert weighted(got, keys).equals(weighted(want, keys))  # SYNs counted apart from the rest of a session
    five = keys[:-1]
    got_bytes = got.append_column("b", pc.multiply(got.column("ip_len").cast(pa.int64()),
                                                   got.column("packets").cast(pa.int64())))
    by_conn = got_bytes.group_by(five).aggregate([("b", "sum"), ("packets", "sum")]).sort_by([(k, "ascending") for k in five])
    expected = packets.group_by(five).aggregate([("ip_len", "sum")]).sort_by([(k, "ascending") for k in five])
    error = np.abs(by_conn.column("b_sum").to_numpy() - expected.column("ip_len_sum").to_numpy())
    assert (error <= by_conn.column("packets_sum").to_numpy() / 2).all()  # the per-packet mean is rounded


def test_zeek_log_ingested_as_darknet_records_weighted_by_packets(ws, tmp_path):
    packets = captured(connections(300, seed=6), tmp_path)
    write_zeek_tsv(zeek_conns(packets), tmp_path / "conn.log")
    report = ingest(ws, [tmp_path / "conn.log"], "edge")
    stored = pa.concat_tables([read_day(ws, "edge", parse_day(day)) for day in report.files[0].days])
    assert set(stored.column("sensor_kind").to_pylist()) == {"darknet"}
    assert pc.sum(stored.column("packets")).as_py() == packets.num_rows


ZEEK_TSV_ROWS = [
    "1638316800.250000\tC1\t1.2.3.4\t4444\t10.0.0.9\t23\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t2\t88\t0\t0\t-",
    "1638316801.000000\tC2\t1.2.3.5\t5555\t10.0.0.9\t80\ttcp\thttp\t1.0\t100\t200\tSF\t-\t-\t0\tShADadFf\t5\t400\t4\t500\t-",
    "1638316802.000000\tC3\tfe80::1\t5353\tff02::fb\t5353\tudp\tdns\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t60\t0\t0\t-",
    "1638316803.000000\tC4\t1.2.3.7\t8\t10.0.0.9\t0\ticmp\t-\t-\t-\t-\tOTH\t-\t-\t0\t-\t3\t252\t0\t0\t-",
    "1638316804.000000\tC5\t169.254.1.1\t1\t169.254.169.254\t80\ttcp\t-\t-\t-\t-\tOTH\t-\t-\t0\t-\t3\t252\t0\t0\t-",
    "1638316805.000000\tC6\t1.2.3.8\t9\t10.0.0.9\t80\ttcp\t-\t-\t-\t-\tOTH\t-\t-\t0\t-\t0\t0\t2\t80\t-",
    "1638316806.000000\tC7\t1.2.3.999\tx\t10.0.0.9\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t40\t0\t0\t-",
    "garbage line",
]


def test_zeek_mapping_and_skips(tmp_path):
    path = tmp_path / "conn.log"
    write_zeek_tsv([], path)
    head = path.read_text().splitlines()[:-1]
    path.write_text("\n".join([*head, *ZEEK_TSV_ROWS, "#close\t2021-12-01-01-00-00"]) + "\n")
    table, read, skips = read_all(read_zeek, path)
    assert read == 8
    assert skips == {SKIP_IPV6: 1, "row with the wrong number of fields": 1, "bad value in column id.orig_h": 1,
                     "sensor's own traffic (link-local, cloud metadata, multicast or broadcast)": 1,
                     "connection without originator packets": 1}
    rows = sorted(table.to_pylist(), key=lambda r: (r["ts"], r["packets"]))
    scan, syn, rest, icmp = rows
    assert (scan["packets"], scan["tcp_flags"], scan["ip_len"], scan["event"]) == (2, TCP_SYN, 44, "S0")
    assert (syn["packets"], syn["tcp_flags"], rest["packets"], rest["tcp_flags"]) == (1, TCP_SYN, 4, 0x11)
    assert (rest["service"], rest["ip_len"]) == ("http", 80)
    assert (icmp["src_port"], icmp["dst_port"], icmp["tcp_flags"], icmp["packets"]) == (None, None, None, 3)


def test_zeek_headers_missing_or_not_conn(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("#separator \\x09\n#path\tdns\n#fields\tts\tuid\tquery\n1.0\tC\texample.org\n")
    with pytest.raises(InputFormatError, match="not a Zeek conn.log: missing field"):
        read_all(read_zeek, path)
    path.write_text("#separator \\x09\n1.0\tC\n")
    with pytest.raises(InputFormatError, match="no '#fields' header"):
        read_all(read_zeek, path)


def test_zeek_json_wrong_types_and_iso_times(tmp_path):
    good = {"ts": "2021-12-01T00:00:01.500000Z", "uid": "C1", "id.orig_h": "1.2.3.4", "id.orig_p": 1,
            "id.resp_h": "10.0.0.1", "id.resp_p": 23, "proto": "tcp", "conn_state": "S0", "history": "S",
            "orig_pkts": 1, "orig_ip_bytes": 40}
    lines = [good, {**good, "orig_pkts": "many"}, {**good, "id.resp_p": 70000}, {**good, "ts": None}, [1], "x"]
    path = tmp_path / "conn.json"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    table, read, skips = read_all(read_zeek, path)
    assert read == 7 and table.num_rows == 1
    assert table.column("ts").cast(pa.int64()).to_pylist() == [1638316801_500000]
    assert skips == {"bad value in column orig_pkts": 1, "bad value in column id.resp_p": 1,
                     "bad value in column ts": 1, "line is not a JSON object": 2, "line is not valid JSON": 1}


def test_merit_events_weigh_to_the_capture_and_keep_the_sample(tmp_path):
    packets = captured(traffic(1500, seed=5), tmp_path)
    path = tmp_path / "events.json"
    n = merit_events(packets, path, tmp_path / "samples.pcap")
    assert detect(path).name == "merit"
    events, read, skips = read_all(read_merit, path)
    assert read == n == events.num_rows and not skips
    keys = ["src_ip", "proto", "tcp_flags"]
    assert weighted(events, keys).equals(weighted(packets, keys))
    assert pc.sum(events.column("packets")).as_py() == packets.num_rows
    weighted_bytes = pc.sum(pc.multiply(events.column("ip_len").cast(pa.int64()), events.column("packets").cast(pa.int64())))
    error = abs(weighted_bytes.as_py() - pc.sum(packets.column("ip_len")).as_py())
    assert error <= 0.5 * packets.num_rows  # IP bytes (frames less Ethernet), the per-packet mean rounded
    first = events.sort_by("ts").to_pylist()[0]
    same = packets.sort_by("ts").to_pylist()[0]
    for name in ("dst_ip", "ttl", "ip_id", "tcp_seq", "tcp_win"):  # from the sample frame
        assert first[name] == same[name], name


def test_merit_mapping_and_wrong_types(tmp_path):
    base = {"SourceIP": "1.2.3.4", "Port": 23, "Traffic": 11, "First": "2021-12-01T00:00:00.123456789Z",
            "Last": "2021-12-01T00:01:00Z", "Packets": 10, "Bytes": 540, "UniqueDests": 3, "Samples": []}
    lines = [base, {**base, "Traffic": 12, "Port": 80}, {**base, "Traffic": 16, "Port": 53},
             {**base, "Traffic": 17}, {**base, "SourceIP": "2001:db8::1"}, {**base, "Packets": -1},
             {**base, "Samples": ["!!not base64"]}, {**base, "Traffic": "SYN"}]
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    table, read, skips = read_all(read_merit, path)
    assert read == 8
    assert skips == {"IPv6 event": 1, "event of unknown traffic type (not TCP, UDP or ICMP)": 1,
                     "bad value in column Packets": 1, "bad value in column Traffic": 1}
    syn, backscatter, udp, no_sample = table.to_pylist()
    assert (syn["proto"], syn["tcp_flags"], syn["dst_port"], syn["packets"], syn["ip_len"]) == (6, 2, 23, 10, 40)
    assert (syn["dst_ip"], syn["ttl"], syn["tcp_seq"]) == (0, None, None)  # no sample: destination unknown
    assert (backscatter["tcp_flags"], backscatter["src_port"], backscatter["dst_port"]) == (0x12, 80, None)
    assert (udp["proto"], udp["tcp_flags"], udp["dst_port"]) == (17, None, 53)
    assert no_sample["ttl"] is None

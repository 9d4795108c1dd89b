"""Random and mutated bytes thrown at every reader: only the documented error, never another exception."""

from __future__ import annotations

import gzip

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darkstack.errors import DarkstackError
from darkstack.ingest.formats import FORMATS
from darkstack.ingest.pcap import pcap_global_header, read_pcap, write_pcap

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _drain(reader, path):
    for batch in reader(path):
        assert isinstance(batch.table, pa.Table)
        assert batch.read >= batch.table.num_rows


def _sample_pcap(tmp_path) -> bytes:
    n = 20
    table = pa.table({
        "ts": pa.array(np.arange(n, dtype=np.int64) * 1_000_000 + 1_638_316_800_000_000).cast(pa.timestamp("us", tz="UTC")),
        "src_ip": pa.array(np.arange(n, dtype=np.uint32) + 1), "dst_ip": pa.array(np.full(n, 99, np.uint32)),
        "src_port": pa.array(np.full(n, 1234), pa.uint16()), "dst_port": pa.array(np.arange(n), pa.uint16()),
        "proto": pa.array(np.full(n, 6), pa.uint8()), "tcp_flags": pa.array(np.full(n, 2), pa.uint8()),
        "tcp_mss": pa.array(np.full(n, 1460), pa.uint16()), "tcp_ts": pa.array(np.arange(n), pa.uint32()),
    })
    write_pcap(table, tmp_path / "seed.pcap")
    return (tmp_path / "seed.pcap").read_bytes()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(tmp_path, fmt, data):
    path = tmp_path / f"fuzz-{fmt}"
    path.write_bytes(data)
    try:
        _drain(FORMATS[fmt].read, path)
    except DarkstackError:
        pass


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_after_pcap_header(tmp_path, data):
    path = tmp_path / "fuzz.pcap"
    path.write_bytes(pcap_global_header(1) + data)
    try:
        _drain(read_pcap, path)
    except DarkstackError:
        pass


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 10_000), gz=st.booleans())
def test_mutated_pcap(tmp_path, flips, cut, gz):
    raw = bytearray(_sample_pcap(tmp_path))
    for pos, value in flips:
        raw[pos % len(raw)] = value
    raw = bytes(raw[: max(cut % (len(raw) + 1), 0)]) if cut % 3 == 0 else bytes(raw)
    path = tmp_path / ("m.pcap.gz" if gz else "m.pcap")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    try:
        _drain(lambda p: read_pcap(p, chunk_bytes=1 << 16), path)
    except DarkstackError:
        pass


@pytest.mark.parametrize("fmt", ["mhn", "cowrie", "textlog", "tokenlog", "spoki", "suricata", "zeek", "merit"])
@FUZZ
@given(lines=st.lists(st.one_of(
    st.text(max_size=60),
    st.sampled_from(['{"eventid": "cowrie.session.connect", "session": "a", "src_ip": "1.2.3.4", "timestamp": 5}',
                     '{"source_ip": "1.2.3.4", "destination_port": "x", "timestamp": {"$date": 3}}',
                     '[1, 2]', '"text"', "null",
                     "ts src_ip dst_ip dst_port proto", "1.5 1.2.3.4 5.6.7.8 80 6", "x - - - -",
                     "ts|saddr|daddr|proto|sport|dport|snum", "1|1.2.3.4|5.6.7.8|tcp|1|2|3", "a|b|c",
                     "ts,src_ip,dst_ip,dst_port,proto,mirai,tcp_seq", "1.5,src_ipaddr0,dst_ipaddr1,80,6,1,7",
                     "2,1.2.3.4,-,x,6,2,-", "3,src ipaddr!,dst_ipaddr1,23,tcp,1,-",
                     '{"event_type": "flow", "flow_id": 1, "src_ip": "1.2.3.4", "dest_ip": "5.6.7.8", "proto": "TCP",'
                     ' "flow": {"pkts_toserver": "x", "start": 3}, "tcp": {"tcp_flags_ts": "zz"}}',
                     '{"event_type": "alert", "src_ip": 5, "dest_ip": null, "alert": [1]}',
                     '{"event_type": "http", "src_ip": "1.2.3.4", "dest_ip": "5.6.7.8", "http": "x"}',
                     "#separator \\x09", "#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\torig_pkts"
                     "\torig_ip_bytes\thistory", "1.0\t1.2.3.4\t1\t5.6.7.8\t2\ttcp\t3\t120\tShA", "#close\tx",
                     '{"id.orig_h": "1.2.3.4", "ts": "x", "orig_pkts": -1, "history": 5}',
                     '{"SourceIP": "1.2.3.4", "Traffic": 11, "Samples": ["AAAA", 1], "Packets": 1, "First": 5}'])),
    max_size=8))
def test_structured_garbage(tmp_path, fmt, lines):
    path = tmp_path / f"g-{fmt}"
    path.write_text("\n".join(lines))
    try:
        _drain(FORMATS[fmt].read, path)
    except DarkstackError:
        pass


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8), cut=st.integers(0, 10_000))
def test_mutated_flowtuple(tmp_path, flips, cut):
    from flow_files import flowtuples

    flowtuples(read_sample(tmp_path), tmp_path / "seed.avro")
    _drain_mutated(FORMATS["flowtuple"].read, (tmp_path / "seed.avro").read_bytes(), flips, cut, tmp_path / "m.avro")


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 255)), max_size=8), cut=st.integers(0, 20_000))
def test_mutated_dionaea(tmp_path, flips, cut):
    from test_ingest_sensors import dionaea_db

    seed = tmp_path / "seed.sqlite"
    seed.unlink(missing_ok=True)
    _drain_mutated(FORMATS["dionaea"].read, dionaea_db(seed).read_bytes(), flips, cut, tmp_path / "m.sqlite")


def read_sample(tmp_path) -> pa.Table:
    (tmp_path / "seed.pcap").write_bytes(_sample_pcap(tmp_path))
    return pa.concat_tables([b.table for b in read_pcap(tmp_path / "seed.pcap")])


def _drain_mutated(reader, raw: bytes, flips, cut, path):
    raw = bytearray(raw)
    for pos, value in flips:
        raw[pos % len(raw)] = value
    path.write_bytes(bytes(raw[: cut % (len(raw) + 1)]) if cut % 3 == 0 else bytes(raw))
    try:
        _drain(reader, path)
    except DarkstackError:
        pass


def _sample_pcapng(tmp_path) -> bytes:
    import dpkt

    raw = _sample_pcap(tmp_path)
    path = tmp_path / "seed.pcapng"
    with open(tmp_path / "seed.pcap", "rb") as src, open(path, "wb") as out:
        writer = dpkt.pcapng.Writer(out, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in dpkt.pcap.Reader(src):
            writer.writepkt(frame, ts=ts)
    assert raw
    return path.read_bytes()


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8), cut=st.integers(0, 10_000))
def test_mutated_pcapng(tmp_path, flips, cut):
    raw = bytearray(_sample_pcapng(tmp_path))
    for pos, value in flips:
        raw[pos % len(raw)] = value
    raw = bytes(raw[: cut % (len(raw) + 1)]) if cut % 3 == 0 else bytes(raw)
    path = tmp_path / "m.pcapng"
    path.write_bytes(raw)
    try:
        _drain(lambda p: read_pcap(p, chunk_bytes=1 << 16), path)
    except DarkstackError:
        pass

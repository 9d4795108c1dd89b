"""pcap/pcapng: write_pcap → reader round trips, dpkt cross-checks, link types, VLAN, skips and errors."""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct

import dpkt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from darkstack.errors import InputFormatError
from darkstack.ingest import records as records_module
from darkstack.ingest.formats import SNIFF_BYTES, detect
from darkstack.ingest.packets import PAD
from darkstack.ingest.pcap import read_pcap, write_pcap

TS = pa.timestamp("us", tz="UTC")
COLUMNS = ["ts", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "tcp_flags", "ip_len", "ttl", "ip_id",
           "tcp_seq", "tcp_win", "tcp_mss", "tcp_wscale", "tcp_sackok", "tcp_ts"]


def records(n: int, seed: int = 0) -> pa.Table:
    """Random canonical records: TCP with random option sets, UDP and ICMP."""
    rng = np.random.default_rng(seed)
    proto = rng.choice([6, 6, 6, 17, 1], n).astype(np.uint8)
    tcp, ports = proto == 6, proto != 1

    def opt(values, mask, typ):
        return pa.array(values, typ, mask=~mask)

    return pa.table({
        "ts": pa.array(1_638_316_800_000_000 + np.sort(rng.integers(0, 86_400_000_000, n))).cast(TS),
        "src_ip": pa.array(rng.integers(0, 2**32, n, dtype=np.uint32)),
        "dst_ip": pa.array(rng.integers(0, 2**32, n, dtype=np.uint32)),
        "src_port": opt(rng.integers(0, 65536, n), ports, pa.uint16()),
        "dst_port": opt(rng.integers(0, 65536, n), ports, pa.uint16()),
        "proto": pa.array(proto),
        "tcp_flags": opt(rng.integers(0, 256, n), tcp, pa.uint8()),
        "ip_len": pa.array(rng.integers(64, 200, n), pa.uint16()),
        "ttl": pa.array(rng.integers(1, 256, n), pa.uint8()),
        "ip_id": pa.array(rng.integers(0, 65536, n), pa.uint16()),
        "tcp_seq": opt(rng.integers(0, 2**32, n), tcp, pa.uint32()),
        "tcp_win": opt(rng.integers(0, 65536, n), tcp, pa.uint16()),
        "tcp_mss": opt(rng.integers(0, 65536, n), tcp & (rng.random(n) < 0.5), pa.uint16()),
        "tcp_wscale": opt(rng.integers(0, 15, n), tcp & (rng.random(n) < 0.5), pa.uint8()),
        "tcp_sackok": opt(rng.random(n) < 0.5, tcp, pa.bool_()),
        "tcp_ts": opt(rng.integers(0, 2**32, n), tcp & (rng.random(n) < 0.5), pa.uint32()),
    })


def read_all(path, **kw):
    batches = list(read_pcap(path, **kw))
    table = pa.concat_tables([b.table for b in batches])
    skips = {}
    for b in batches:
        for k, v in b.skips.items():
            skips[k] = skips.get(k, 0) + v
    return table, sum(b.read for b in batches), skips


def assert_same(got: pa.Table, expected: pa.Table):
    got = got.select(COLUMNS)
    expected = expected.select(COLUMNS)
    for name in COLUMNS:
        assert got.column(name).equals(expected.column(name).cast(got.schema.field(name).type)), name


@pytest.mark.parametrize("linktype", ["ethernet", "raw", "sll"])
@pytest.mark.parametrize("suffix", [".pcap", ".pcap.gz"])
def test_round_trip(tmp_path, linktype, suffix):
    table = records(3000)
    path = tmp_path / f"x{suffix}"
    assert write_pcap(table, path, linktype=linktype) == 3000
    if suffix.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    got, read, skips = read_all(path)
    assert read == 3000 and not skips
    assert_same(got, table)


@pytest.mark.parametrize("compress", [bz2.compress, lzma.compress])
def test_bz2_and_xz_captures_detected_by_magic(tmp_path, compress):
    table = records(20_000, seed=4)
    write_pcap(table, tmp_path / "x.pcap")
    path = tmp_path / "capture"  # no suffix: the content says it is compressed
    path.write_bytes(compress((tmp_path / "x.pcap").read_bytes()))
    assert path.stat().st_size > 4 * SNIFF_BYTES  # detection must decompress more than it reads raw
    assert detect(path).name == "pcap"
    got, read, skips = read_all(path)
    assert read == 20_000 and not skips
    assert_same(got, table)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InputFormatError, match="damaged (bz2|xz) stream"):
        read_all(path)


def test_round_trip_across_chunk_boundaries(tmp_path):
    table = records(2000, seed=1)
    write_pcap(table, tmp_path / "x.pcap")
    got, read, _ = read_all(tmp_path / "x.pcap", chunk_bytes=777)
    assert read == 2000
    assert_same(got, table)


def test_dpkt_reads_what_we_write(tmp_path):
    table = records(500, seed=2)
    write_pcap(table, tmp_path / "x.pcap")
    rows = table.to_pylist()
    with open(tmp_path / "x.pcap", "rb") as fh:
        for (ts, frame), row in zip(dpkt.pcap.Reader(fh), rows, strict=True):
            ip = dpkt.ethernet.Ethernet(frame).data
            assert int.from_bytes(ip.src, "big") == row["src_ip"] and ip.ttl == row["ttl"] and ip.len == row["ip_len"]
            assert abs(ts - row["ts"].timestamp()) < 1e-6
            if ip.p == 6:
                seg = ip.data
                assert (seg.seq, seg.flags, seg.win, seg.dport) == (row["tcp_seq"], row["tcp_flags"], row["tcp_win"],
                                                                    row["dst_port"])
                opts = dict(dpkt.tcp.parse_opts(seg.opts))
                assert (dpkt.tcp.TCP_OPT_SACKOK in opts) == row["tcp_sackok"]
                if row["tcp_mss"] is not None:
                    assert struct.unpack(">H", opts[dpkt.tcp.TCP_OPT_MSS])[0] == row["tcp_mss"]
                if row["tcp_ts"] is not None:
                    assert struct.unpack(">I", opts[dpkt.tcp.TCP_OPT_TIMESTAMP][:4])[0] == row["tcp_ts"]
                # checksums are valid: dpkt recomputes them when zeroed
                raw = bytes(ip)
                fresh = dpkt.ip.IP(raw)
                fresh.sum = 0
                fresh.data.sum = 0
                assert dpkt.ip.IP(bytes(fresh)).data.sum == seg.sum


def _frames():
    """Hand-made frames: VLAN-tagged TCP SYN with options, IPv6, ARP, IPv4 fragment, GRE, truncated TCP."""
    syn = dpkt.tcp.TCP(sport=4444, dport=23, seq=0x01020304, flags=dpkt.tcp.TH_SYN, win=5840, off=10,
                       opts=b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x07\x00\x00\x00\x00\x01\x03\x03\x07")
    ip = dpkt.ip.IP(src=bytes([10, 0, 0, 1]), dst=bytes([1, 2, 3, 4]), p=6, ttl=51, id=77, data=syn)
    ip.len = len(bytes(ip))
    eth = dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x11" * 6, type=0x8100,
                                 data=b"\x00\x05\x08\x00" + bytes(ip))
    v6 = dpkt.ethernet.Ethernet(type=0x86DD, data=bytes(dpkt.ip6.IP6(src=b"\x00" * 16, dst=b"\x01" * 16, nxt=59, hlim=1)))
    arp = dpkt.ethernet.Ethernet(type=0x0806, data=b"\x00" * 28)
    frag = dpkt.ip.IP(src=bytes(4), dst=bytes(4), p=6, offset=80, data=b"\x00" * 8)
    gre = dpkt.ip.IP(src=bytes(4), dst=bytes(4), p=47, data=b"\x00" * 8)
    cut = bytes(dpkt.ethernet.Ethernet(type=0x0800, data=bytes(ip)))[:14 + 20 + 10]
    return [bytes(eth), bytes(v6), bytes(arp), bytes(dpkt.ethernet.Ethernet(type=0x0800, data=bytes(frag))),
            bytes(dpkt.ethernet.Ethernet(type=0x0800, data=bytes(gre))), cut]


def _check_frames(table, skips):
    assert table.num_rows == 1
    row = table.to_pylist()[0]
    assert (row["src_ip"], row["dst_ip"], row["dst_port"], row["ttl"], row["ip_id"]) == (0x0A000001, 0x01020304, 23, 51, 77)
    assert (row["tcp_seq"], row["tcp_flags"], row["tcp_win"]) == (0x01020304, 2, 5840)
    assert (row["tcp_mss"], row["tcp_sackok"], row["tcp_ts"], row["tcp_wscale"]) == (1460, True, 7, 7)
    assert skips == {"IPv6 packet": 1, "not an IP frame (ARP, LLDP, …)": 1,
                     "IPv4 fragment without a transport header": 1, "IPv4 protocol other than TCP/UDP/ICMP": 1,
                     "packet truncated (capture shorter than its headers)": 1}


def test_vlan_ipv6_and_other_traffic_counted(tmp_path):
    path = tmp_path / "mixed.pcap"
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for i, frame in enumerate(_frames()):
            writer.writepkt(frame, ts=1_700_000_000 + i)
    table, read, skips = read_all(path)
    assert read == 6
    _check_frames(table, skips)


LINK_HEADERS = {  # pcap link type → the link header before a packet of the given ethertype
    1: lambda ether: b"\x11" * 6 + b"\x22" * 6 + ether.to_bytes(2, "big"),
    101: lambda ether: b"",
    113: lambda ether: b"\x00\x00\x00\x01\x00\x06" + b"\x22" * 6 + b"\x00\x00" + ether.to_bytes(2, "big"),
}


def _ip_with_options(rng, proto: int) -> dpkt.ip.IP:
    """An IPv4 packet whose header carries 4 to 40 bytes of options (IHL 6 … 15): a record-route option
    of random addresses, then end-of-options; the transport header starts only after them."""
    words = int(rng.integers(1, 11))
    opts = bytes([7, 4 * words - 1, 4]) + rng.bytes(4 * words - 4) + b"\x00"
    if proto == 6:
        l4 = dpkt.tcp.TCP(sport=int(rng.integers(1, 65536)), dport=int(rng.integers(1, 65536)),
                          seq=int(rng.integers(0, 2**32)), flags=int(rng.integers(0, 256)),
                          win=int(rng.integers(0, 65536)), off=6, opts=b"\x02\x04" + rng.bytes(2))
    elif proto == 17:
        l4 = dpkt.udp.UDP(sport=int(rng.integers(1, 65536)), dport=int(rng.integers(1, 65536)), data=b"x")
    else:
        l4 = dpkt.icmp.ICMP(type=8, data=dpkt.icmp.ICMP.Echo(id=1, seq=2))
    ip = dpkt.ip.IP(src=rng.bytes(4), dst=rng.bytes(4), p=proto, ttl=int(rng.integers(1, 256)),
                    id=int(rng.integers(0, 65536)), opts=opts, data=l4)
    ip.hl = 5 + words
    ip.len = len(bytes(ip))
    return ip


def _expected(ip: dpkt.ip.IP) -> dict:
    """The canonical fields of ``ip`` as dpkt parses them back (an independent oracle)."""
    parsed = dpkt.ip.IP(bytes(ip))
    assert parsed.hl > 5
    seg = parsed.data
    tcp, ports = parsed.p == 6, parsed.p != 1
    return {"src_ip": int.from_bytes(parsed.src, "big"), "dst_ip": int.from_bytes(parsed.dst, "big"),
            "proto": parsed.p, "ip_len": parsed.len, "ttl": parsed.ttl, "ip_id": parsed.id,
            "src_port": seg.sport if ports else None, "dst_port": seg.dport if ports else None,
            "tcp_seq": seg.seq if tcp else None, "tcp_flags": seg.flags if tcp else None,
            "tcp_win": seg.win if tcp else None,
            "tcp_mss": struct.unpack(">H", dict(dpkt.tcp.parse_opts(seg.opts))[2])[0] if tcp else None}


@pytest.mark.parametrize("linktype", [1, 101, 113])
def test_ipv4_header_options_are_skipped_over(tmp_path, linktype):
    """Ports, flags, sequence number and TCP options are read after the IPv4 options (IHL > 5)."""
    rng = np.random.default_rng(linktype)
    packets = [_ip_with_options(rng, proto) for proto in [6, 17, 1] * 40]
    path = tmp_path / "options.pcap"
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh, linktype=linktype)
        for i, ip in enumerate(packets):
            writer.writepkt(LINK_HEADERS[linktype](0x0800) + bytes(ip), ts=1_700_000_000 + i)
    table, read, skips = read_all(path)
    assert read == len(packets) and not skips
    got = table.select(list(_expected(packets[0]))).to_pylist()
    assert got == [_expected(ip) for ip in packets]


@pytest.mark.parametrize("linktype", [1, 101, 113])
def test_ipv6_and_other_frames_are_counted_not_decoded(tmp_path, linktype):
    rng = np.random.default_rng(7)
    v4 = bytes(_ip_with_options(rng, 6))
    v6 = bytes(dpkt.ip6.IP6(src=b"\x00" * 16, dst=b"\x01" * 16, nxt=59, hlim=1))
    other = (LINK_HEADERS[linktype](0x0806) + b"\x00" * 28 if linktype != 101
             else b"\x50" + b"\x00" * 27)  # raw IP: neither version 4 nor 6
    path = tmp_path / "mixed.pcap"
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh, linktype=linktype)
        for i, frame in enumerate([LINK_HEADERS[linktype](0x0800) + v4, LINK_HEADERS[linktype](0x86DD) + v6,
                                   LINK_HEADERS[linktype](0x86DD) + v6, other]):
            writer.writepkt(frame, ts=1_700_000_000 + i)
    table, read, skips = read_all(path)
    assert read == 4 and table.num_rows == 1
    assert skips == {"IPv6 packet": 2, "not an IP frame (ARP, LLDP, …)": 1}


def test_pcapng_with_two_interfaces(tmp_path):
    path = tmp_path / "mixed.pcapng"
    with open(path, "wb") as fh:
        writer = dpkt.pcapng.Writer(fh, linktype=dpkt.pcap.DLT_EN10MB)
        for i, frame in enumerate(_frames()):
            writer.writepkt(frame, ts=1_700_000_000.5 + i)
    table, read, skips = read_all(path)
    assert read == 6
    _check_frames(table, skips)
    assert table.column("ts")[0].value == 1_700_000_000_500_000


def test_big_endian_nanosecond_pcap(tmp_path):
    frame = _frames()[0]
    head = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(">IIII", 1_700_000_000, 123_456_789, len(frame), len(frame)) + frame
    (tmp_path / "be.pcap").write_bytes(head + rec + rec)
    table, read, _ = read_all(tmp_path / "be.pcap")
    assert read == 2 and table.num_rows == 2
    assert table.column("ts")[0].value == 1_700_000_000_123_456


def test_truncated_last_record_is_a_counted_skip(tmp_path):
    write_pcap(records(50), tmp_path / "x.pcap")
    raw = (tmp_path / "x.pcap").read_bytes()
    (tmp_path / "cut.pcap").write_bytes(raw[:-5])
    table, _, skips = read_all(tmp_path / "cut.pcap")
    assert table.num_rows == 49 and skips == {"truncated last record (file cut short)": 1}


def test_bad_captures_raise_one_clear_error(tmp_path):
    write_pcap(records(5), tmp_path / "x.pcap")
    raw = (tmp_path / "x.pcap").read_bytes()
    cases = {
        "magic.pcap": (b"\x00\x01\x02\x03" + raw[4:], "unknown magic"),
        "header.pcap": (raw[:10], "too short"),
        "nothing.pcap": (raw[:24 + 20], "no complete packet record"),
        "gz.pcap.gz": (gzip.compress(raw)[:-12], "gzip"),
        "corrupt.pcap": (raw[:24 + 8] + b"\xff\xff\xff\x7f" + raw[24 + 12:], "corrupt pcap record header"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputFormatError, match=words) as err:
            read_all(tmp_path / name)
        assert name in err.value.line()


def test_record_lookalike_bytes_inside_packets(tmp_path):
    """Payload bytes that look like record headers must not derail record location."""
    table = records(400, seed=3)
    ts_sec = (pc.cast(table.column("ts"), pa.int64()).to_numpy() // 1_000_000).astype(np.uint32)
    # sequence numbers and TS values equal to plausible timestamps create false candidates
    table = table.set_column(table.column_names.index("tcp_seq"), "tcp_seq",
                             pc.if_else(pc.is_valid(table.column("tcp_seq")), pa.array(ts_sec), table.column("tcp_seq")))
    write_pcap(table, tmp_path / "x.pcap")
    got, read, _ = read_all(tmp_path / "x.pcap", chunk_bytes=4096)
    assert read == 400
    assert_same(got, table)



@pytest.mark.parametrize("scan_block, threads", [(1, 1), (97, 3), (4096, 2)])
def test_record_scan_block_size_does_not_change_records(tmp_path, monkeypatch, scan_block, threads):
    """The record-header scan runs over blocks of a chunk on several threads: the same candidates (lookalikes
    included) and records whatever the block size and thread count, also where they straddle block edges."""
    table = records(300, seed=4)
    ts_sec = (pc.cast(table.column("ts"), pa.int64()).to_numpy() // 1_000_000).astype(np.uint32)
    table = table.set_column(table.column_names.index("tcp_seq"), "tcp_seq",
                             pc.if_else(pc.is_valid(table.column("tcp_seq")), pa.array(ts_sec), table.column("tcp_seq")))
    write_pcap(table, tmp_path / "x.pcap")
    buf = np.frombuffer(tmp_path.joinpath("x.pcap").read_bytes() + bytes(PAD), np.uint8)
    locator = records_module.ClassicLocator("<", False, 1, tmp_path / "x.pcap")
    u32 = records_module._view(buf, "<", 32)
    whole = locator._candidates(buf, u32, 24, buf.size - PAD)
    monkeypatch.setattr(records_module, "SCAN_BLOCK", scan_block)
    monkeypatch.setattr(records_module, "SCAN_THREADS", threads)
    assert np.array_equal(locator._candidates(buf, u32, 24, buf.size - PAD), whole)
    assert whole.shape[1] > 300  # the lookalikes are candidates too
    got, read, skips = read_all(tmp_path / "x.pcap", chunk_bytes=5000)
    assert read == 300 and not skips
    assert_same(got, table)

def _block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def _pcapng(order: str) -> bytes:
    """Two sections; interfaces: Ethernet (µs), raw IP (ns, via if_tsresol); EPBs, an SPB, an ISB."""
    frame = _frames()[0]  # VLAN-tagged SYN
    raw_ip = frame[18:]
    shb = _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb_eth = _block(order, 1, struct.pack(order + "HHI", 1, 0, 65535))
    tsresol = struct.pack(order + "HH", 9, 1) + b"\x09" + b"\x00" * 3 + struct.pack(order + "HH", 0, 0)
    idb_raw = _block(order, 1, struct.pack(order + "HHI", 101, 0, 65535) + tsresol)

    def epb(iface: int, ts: int, data: bytes) -> bytes:
        return _block(order, 6, struct.pack(order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data)

    spb = _block(order, 3, struct.pack(order + "I", len(frame)) + frame)
    isb = _block(order, 5, struct.pack(order + "III", 0, 0, 0))
    section = (shb + idb_eth + idb_raw + epb(0, 1_700_000_000_000_001, frame) + spb
               + epb(1, 1_700_000_000_123_456_789, raw_ip) + isb)
    return section + shb + idb_eth + epb(0, 1_700_000_001_000_000, frame)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_sections_interfaces_and_resolutions(tmp_path, order):
    path = tmp_path / "hand.pcapng"
    path.write_bytes(_pcapng(order))
    for chunk in (1 << 20, 64):
        table, read, skips = read_all(path, chunk_bytes=chunk)
        assert read == 4 and skips == {"pcapng simple/obsolete packet block (not decoded)": 1}
        assert sorted(table.column("ts").cast(pa.int64()).to_pylist()) == [
            1_700_000_000_000_001, 1_700_000_000_123_456, 1_700_000_001_000_000]
        assert set(table.column("tcp_seq").to_pylist()) == {0x01020304}


@pytest.mark.parametrize("threads, block", [(2, 16_384), (3, 7)])
def test_decode_threads_and_blocks_give_the_same_batches(tmp_path, monkeypatch, threads, block):
    """Frames decoded in shares on several threads and in small blocks give exactly the batches of one
    thread decoding each chunk whole: rows in file order, skips and counts, per link type (pcapng)."""
    import darkstack.ingest.pcap as pcap_module

    capture = tmp_path / "x.pcap"
    write_pcap(records(3000, seed=5), capture)
    mixed = tmp_path / "mixed.pcap"
    with open(mixed, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for i, frame in enumerate(_frames() * 20):
            writer.writepkt(frame, ts=1_700_000_000 + i)
    hand = tmp_path / "hand.pcapng"
    hand.write_bytes(_pcapng("<") * 5)
    for path, chunk in ((capture, 50_000), (mixed, 1000), (hand, 1 << 20)):
        monkeypatch.setattr(pcap_module, "DECODE_THREADS", 1)
        monkeypatch.setattr(pcap_module, "DECODE_BLOCK", 1 << 30)
        single = list(read_pcap(path, chunk_bytes=chunk))
        monkeypatch.setattr(pcap_module, "DECODE_THREADS", threads)
        monkeypatch.setattr(pcap_module, "DECODE_BLOCK", block)
        several = list(read_pcap(path, chunk_bytes=chunk))
        assert len(single) > 1 or path == hand
        for a, b in zip(single, several, strict=True):
            assert a.table.equals(b.table) and a.read == b.read and a.skips == b.skips


def test_tcp_option_layouts_match_dpkt(tmp_path):
    """The SYN option layouts read directly (Linux with/without timestamps, Windows, MSS only) and lists
    walked option by option give the MSS, window scale, SACK-permitted and TSval dpkt parses."""
    rng = np.random.default_rng(8)

    def layouts(mss: bytes, ws: int, ts: bytes) -> list[bytes]:
        return [b"\x02\x04" + mss + b"\x04\x02\x08\x0a" + ts + b"\x00" * 4 + b"\x01\x03\x03" + bytes([ws]),
                b"\x02\x04" + mss + b"\x01\x01\x04\x02\x01\x03\x03" + bytes([ws]),
                b"\x02\x04" + mss + b"\x01\x03\x03" + bytes([ws]) + b"\x01\x01\x04\x02",
                b"\x02\x04" + mss,
                b"\x01\x03\x03" + bytes([ws]) + b"\x08\x0a" + ts + b"\x00" * 4 + b"\x02\x04" + mss + b"\x00\x00"]

    options = [opts for _ in range(40) for opts in layouts(rng.bytes(2), int(rng.integers(0, 15)), rng.bytes(4))]
    path = tmp_path / "options.pcap"
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for i, opts in enumerate(options):
            syn = dpkt.tcp.TCP(sport=1, dport=23, flags=dpkt.tcp.TH_SYN, off=5 + len(opts) // 4, opts=opts)
            ip = dpkt.ip.IP(src=bytes(4), dst=bytes(4), p=6, data=syn)
            ip.len = len(bytes(ip))
            writer.writepkt(bytes(dpkt.ethernet.Ethernet(type=0x0800, data=bytes(ip))), ts=1_700_000_000 + i)
    table, read, skips = read_all(path)
    assert read == len(options) and not skips
    expected = []
    for opts in options:
        parsed = dict(dpkt.tcp.parse_opts(opts))
        expected.append({"tcp_mss": struct.unpack(">H", parsed[2])[0],
                         "tcp_wscale": parsed[3][0] if 3 in parsed else None,
                         "tcp_sackok": 4 in parsed,
                         "tcp_ts": struct.unpack(">I", parsed[8][:4])[0] if 8 in parsed else None})
    assert table.select(["tcp_mss", "tcp_wscale", "tcp_sackok", "tcp_ts"]).to_pylist() == expected

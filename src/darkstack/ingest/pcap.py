"""Classic pcap / pcapng capture files: a vectorised writer (canonical records → pcap) and reader.

Both work on whole arrays of packets at once with numpy: headers are built or decoded with fancy
indexing over the file's bytes, never with a Python loop per packet.
"""

from __future__ import annotations

import contextlib
import gzip
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack import atomic
from darkstack.errors import DarkstackError, InputFormatError
from darkstack.ingest.batch import Batch, open_input, read_into
from darkstack.ingest.packets import (
    PAD,
    SUPPORTED_LINKTYPES,
    decode_frames,
    empty_table,
    to_table,
)
from darkstack.ingest.records import (
    PCAPNG_BOM,
    PCAPNG_SHB,
    ClassicLocator,
    Frames,
    NewSection,
    PcapngLocator,
)
from darkstack.schema import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TIMESTAMP

LINKTYPES = {"ethernet": 1, "raw": 101, "sll": 113}
"""Link-layer header types darkstack writes and reads (name → pcap LINKTYPE number)."""
LINK_HEADER_LEN = {1: 14, 101: 0, 113: 16}
PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
PCAP_MAGIC_US_SWAPPED, PCAP_MAGIC_NS_SWAPPED = 0xD4C3B2A1, 0x4D3CB2A1
SNAPLEN = 262_144
WRITE_CHUNK = 1_000_000
WRITE_BLOCK_BYTES = 128 << 20
"""Bound on one block of records built in memory by ``write_pcap`` (rows × longest record)."""

_SRC_MAC = bytes.fromhex("020000000001")
_DST_MAC = bytes.fromhex("020000000002")
_TCP_OPT_WORDS = 5  # largest option block written: MSS 4 + SACK-ok/TS 12 + NOP/WS 4 = 20 bytes


def _values(table: pa.Table, name: str, dtype, default) -> tuple[np.ndarray, np.ndarray]:
    """Column ``name`` as a numpy array (nulls → ``default``) and its validity mask."""
    n = table.num_rows
    if name not in table.column_names:
        return np.full(n, default, dtype=dtype), np.zeros(n, dtype=bool)
    col = table.column(name)
    valid = np.ones(n, dtype=bool) if col.null_count == 0 else col.is_valid().to_numpy(zero_copy_only=False)
    values = col.fill_null(default).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return values, valid


def _put_be(buf: np.ndarray, col: int, values: np.ndarray, nbytes: int) -> None:
    """Write ``values`` big-endian into ``nbytes`` columns of ``buf`` starting at column ``col``."""
    v = values.astype(np.uint64)
    for i in range(nbytes):
        buf[:, col + i] = (v >> np.uint64(8 * (nbytes - 1 - i))) & np.uint64(0xFF)


def _put_le(buf: np.ndarray, col: int, values: np.ndarray, nbytes: int) -> None:
    v = values.astype(np.uint64)
    for i in range(nbytes):
        buf[:, col + i] = (v >> np.uint64(8 * i)) & np.uint64(0xFF)


def _ones_complement(words_sum: np.ndarray) -> np.ndarray:
    """Fold a sum of 16-bit words into the Internet checksum."""
    s = words_sum.astype(np.uint64)
    for _ in range(3):
        s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    return (~s) & np.uint64(0xFFFF)


def _word_sum(buf: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Sum of the big-endian 16-bit words of columns ``start:stop`` (an even span) of every row."""
    return np.ascontiguousarray(buf[:, start:stop]).view(">u2").sum(axis=1, dtype=np.uint64)


def _build_chunk(table: pa.Table, linktype: int) -> bytes:
    """pcap record headers + packet bytes for every row of ``table`` (a bounded chunk)."""
    n = table.num_rows
    ts = table.column("ts").cast(TIMESTAMP).cast(pa.int64()).to_numpy(zero_copy_only=False)
    src, _ = _values(table, "src_ip", np.uint64, 0)
    dst, _ = _values(table, "dst_ip", np.uint64, 0)
    proto, _ = _values(table, "proto", np.uint64, PROTO_TCP)
    sport, _ = _values(table, "src_port", np.uint64, 0)
    dport, _ = _values(table, "dst_port", np.uint64, 0)
    flags, _ = _values(table, "tcp_flags", np.uint64, 0)
    ip_len, has_len = _values(table, "ip_len", np.uint64, 0)
    ttl, has_ttl = _values(table, "ttl", np.uint64, 64)
    ip_id, _ = _values(table, "ip_id", np.uint64, 0)
    seq, _ = _values(table, "tcp_seq", np.uint64, 0)
    win, _ = _values(table, "tcp_win", np.uint64, 0)
    mss, has_mss = _values(table, "tcp_mss", np.uint64, 0)
    wscale, has_ws = _values(table, "tcp_wscale", np.uint64, 0)
    sackok, _ = _values(table, "tcp_sackok", bool, False)
    tsval, has_ts = _values(table, "tcp_ts", np.uint64, 0)
    ttl = np.where(has_ttl, ttl, 64)

    is_tcp, is_udp, is_icmp = proto == PROTO_TCP, proto == PROTO_UDP, proto == PROTO_ICMP
    has_mss &= is_tcp
    has_ws &= is_tcp
    has_ts &= is_tcp
    sackok = sackok & is_tcp
    # TCP options laid out as Linux writes them: MSS | SACK-ok+TS or NOP NOP TS or NOP NOP SACK-ok | NOP WS.
    opt_len = 4 * has_mss + 12 * has_ts + 4 * (sackok & ~has_ts) + 4 * has_ws
    l4_len = np.select([is_tcp, is_udp, is_icmp], [20 + opt_len, 8, 8], 0).astype(np.uint64)
    headers_len = 20 + l4_len
    ip_len = np.where(has_len & (ip_len >= headers_len), ip_len, headers_len)
    link = LINK_HEADER_LEN[linktype]
    ip0 = 16 + link
    l4 = ip0 + 20
    hdr_width = l4 + 20 + 4 * _TCP_OPT_WORDS
    caplen = link + ip_len
    rec_len = (16 + caplen).astype(np.int64)
    width = max(hdr_width, int(rec_len.max(initial=0)))  # one row per record, payload zeros included
    buf = np.zeros((n, width), dtype=np.uint8)

    _put_le(buf, 0, ts // 1_000_000, 4)
    _put_le(buf, 4, ts % 1_000_000, 4)
    _put_le(buf, 8, caplen, 4)
    _put_le(buf, 12, caplen, 4)
    if linktype == 1:
        buf[:, 16:22] = np.frombuffer(_DST_MAC, np.uint8)
        buf[:, 22:28] = np.frombuffer(_SRC_MAC, np.uint8)
        buf[:, 28:30] = (0x08, 0x00)
    elif linktype == 113:
        buf[:, 16:18] = (0x00, 0x00)  # packet sent to us
        buf[:, 18:20] = (0x00, 0x01)  # ARPHRD_ETHER
        buf[:, 20:22] = (0x00, 0x06)
        buf[:, 22:28] = np.frombuffer(_SRC_MAC, np.uint8)
        buf[:, 30:32] = (0x08, 0x00)
    buf[:, ip0] = 0x45
    _put_be(buf, ip0 + 2, ip_len, 2)
    _put_be(buf, ip0 + 4, ip_id, 2)
    buf[:, ip0 + 6] = 0x40  # don't fragment
    buf[:, ip0 + 8] = ttl
    buf[:, ip0 + 9] = proto
    _put_be(buf, ip0 + 12, src, 4)
    _put_be(buf, ip0 + 16, dst, 4)
    _put_be(buf, ip0 + 10, _ones_complement(_word_sum(buf, ip0, ip0 + 20)), 2)

    ports = is_tcp | is_udp
    _put_be(buf, l4, np.where(ports, sport, 0), 2)
    _put_be(buf, l4 + 2, np.where(ports, dport, 0), 2)
    tcp_rows = np.flatnonzero(is_tcp)
    if tcp_rows.size:
        t = buf[tcp_rows]
        _put_be(t, l4 + 4, seq[tcp_rows], 4)
        t[:, l4 + 12] = ((5 + opt_len[tcp_rows] // 4) << 4).astype(np.uint8)
        t[:, l4 + 13] = flags[tcp_rows]
        _put_be(t, l4 + 14, win[tcp_rows], 2)
        _write_tcp_options(t, l4 + 20, has_mss[tcp_rows], mss[tcp_rows], sackok[tcp_rows],
                           has_ts[tcp_rows], tsval[tcp_rows], has_ws[tcp_rows], wscale[tcp_rows])
        buf[tcp_rows] = t
    udp_rows = np.flatnonzero(is_udp)
    if udp_rows.size:
        buf[udp_rows, l4 + 4] = (l4_len[udp_rows] + ip_len[udp_rows] - headers_len[udp_rows]) >> 8 & 0xFF
        buf[udp_rows, l4 + 5] = (l4_len[udp_rows] + ip_len[udp_rows] - headers_len[udp_rows]) & 0xFF
    icmp_rows = np.flatnonzero(is_icmp)
    if icmp_rows.size:
        buf[icmp_rows, l4] = 8  # echo request
    # Layer-4 checksum over the pseudo header and the header (the zero payload adds nothing).
    seg_len = ip_len - 20
    pseudo = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + seg_len
    l4_sum = _word_sum(buf, l4, hdr_width) + np.where(is_icmp, 0, pseudo)
    csum = _ones_complement(l4_sum)
    csum_col = np.where(is_tcp, l4 + 16, np.where(is_udp, l4 + 6, l4 + 2))
    with_csum = np.flatnonzero(is_tcp | is_udp | is_icmp)
    buf[with_csum, csum_col[with_csum]] = (csum[with_csum] >> 8).astype(np.uint8)
    buf[with_csum, csum_col[with_csum] + 1] = (csum[with_csum] & 0xFF).astype(np.uint8)

    return buf[np.arange(width)[None, :] < rec_len[:, None]].tobytes()


def _write_tcp_options(t, col, has_mss, mss, sackok, has_ts, tsval, has_ws, wscale) -> None:
    """Fill the TCP options of rows ``t`` from column ``col``, in Linux's layout (vectorised per option)."""
    rows = np.arange(t.shape[0])
    pos = np.full(t.shape[0], col, dtype=np.int64)

    def put(mask, data):  # data: list of per-row byte arrays / constants, written at pos
        r = rows[mask]
        for i, d in enumerate(data):
            t[r, pos[mask] + i] = d[mask] if isinstance(d, np.ndarray) else d
        pos[mask] += len(data)

    ts_bytes = [(tsval >> (8 * s)) & 0xFF for s in (3, 2, 1, 0)] + [0, 0, 0, 0]
    put(has_mss, [2, 4, (mss >> 8) & 0xFF, mss & 0xFF])
    put(sackok & has_ts, [4, 2, 8, 10] + ts_bytes)
    put(has_ts & ~sackok, [1, 1, 8, 10] + ts_bytes)
    put(sackok & ~has_ts, [1, 1, 4, 2])
    put(has_ws, [1, 3, 3, wscale & 0xFF])


def pcap_global_header(linktype: int, snaplen: int = SNAPLEN) -> bytes:
    """The 24-byte little-endian classic pcap file header (microsecond timestamps)."""
    return np.array([PCAP_MAGIC_US], "<u4").tobytes() + np.array([2, 4], "<u2").tobytes() + \
        np.array([0, 0, snaplen, linktype], "<u4").tobytes()


def write_pcap(table: pa.Table, path: str | Path, linktype: str = "ethernet") -> int:
    """Write canonical records as a classic little-endian pcap (gzip if ``path`` ends in .gz).

    TCP segments carry the options present in the record (MSS, SACK-permitted, timestamp, window
    scale), UDP and ICMP (echo request) their headers; the IP total length is ``ip_len`` (zero
    payload fills the rest). Written atomically; returns the number of packets written.
    """
    if linktype not in LINKTYPES:
        raise DarkstackError(f"unknown link type {linktype!r}; choose one of {', '.join(sorted(LINKTYPES))}", path)
    missing = [c for c in ("ts", "src_ip", "dst_ip", "proto") if c not in table.column_names]
    if missing:
        raise DarkstackError(f"records lack column(s) {', '.join(missing)}", path)
    code = LINKTYPES[linktype]
    path = Path(path)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as raw, (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) if path.name.endswith(".gz") else contextlib.nullcontext(raw)
    ) as fh:
        fh.write(pcap_global_header(code))
        longest = 16 + LINK_HEADER_LEN[code] + max(int(pc.max(table.column("ip_len")).as_py() or 0)
                                                   if "ip_len" in table.column_names else 0, 80)
        rows = max(1, min(WRITE_CHUNK, WRITE_BLOCK_BYTES // longest))
        for start in range(0, table.num_rows, rows):
            fh.write(_build_chunk(table.slice(start, rows), code))
    return table.num_rows


# --- reader ----------------------------------------------------------------------------------------

DEFAULT_CHUNK_BYTES = 64 << 20
"""Bytes read per step: memory stays bounded by a few times this, whatever the file size."""
DECODE_BLOCK = 16_384
"""Frames decoded at a time (their bytes, ~1.3 MB for darknet SYNs, fit the CPU's L2/L3 cache)."""
DECODE_THREADS = 2
"""Worker threads decoding a chunk, beside the thread reading and locating the next one."""


def read_pcap(path: str | Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[Batch]:
    """Decode a classic pcap or pcapng file (plain or gzip) into batches of canonical rows.

    Raises ``InputFormatError`` naming the file for a wrong magic, a corrupt header or a file with no
    complete record; a truncated last record is counted as a skip. While the calling thread reads and
    locates the records of one chunk, :data:`DECODE_THREADS` worker threads decode the previous chunk,
    each a share of its frames (numpy releases the GIL); batches come out in file order, the same
    batches whatever the number of threads.
    """
    with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
        pending = None
        for item in _located_chunks(Path(path), chunk_bytes):
            ready = _submit_decode(pool, *item) if isinstance(item, tuple) else item
            if pending is not None:
                yield pending if isinstance(pending, Batch) else _assemble(*pending)
            pending = ready
        if pending is not None:
            yield pending if isinstance(pending, Batch) else _assemble(*pending)


def _located_chunks(path: Path, chunk_bytes: int) -> Iterator[tuple[np.ndarray, Frames] | Batch]:
    """(chunk buffer, frames located in it) per chunk; a final skip batch when the last record is cut."""
    with open_input(path) as fh:
        locator = None
        rest = b""
        base = 0  # file offset of buf[0]
        located = 0
        eof = False
        while not eof:
            buf = np.empty(len(rest) + chunk_bytes + PAD, np.uint8)
            buf[: len(rest)] = np.frombuffer(rest, np.uint8)
            got = read_into(fh, memoryview(buf)[len(rest): len(rest) + chunk_bytes], path)
            eof = got < chunk_bytes
            n = len(rest) + got
            buf[n: n + PAD] = 0
            p = 0
            while True:
                if locator is None:
                    parsed = _parse_header(buf, p, n, path, base, eof)
                    if parsed is None:
                        break
                    locator, p = parsed
                try:
                    frames, p = locator.locate(buf, n, p, base)
                    new_section = False
                except NewSection as section:
                    frames, p = locator.locate(buf, section.offset, p, base)
                    new_section = True
                located += frames.offset.size
                yield buf, frames
                if not new_section:
                    break
                locator = None
            rest = buf[p:n].tobytes()
            base += p
        if locator is None:
            raise InputFormatError("file ends inside its header (no packet record)", path)
        if rest:
            if located == 0:
                raise InputFormatError(f"truncated: no complete packet record ({len(rest)} bytes after the header)", path)
            yield Batch(empty_table(), 1,
                        Counter({"truncated last record (file cut short)": 1}))


def _parse_header(buf: np.ndarray, p: int, n: int, path: Path, base: int, eof: bool):
    """Parse a classic pcap header or a pcapng section header at ``p``; None when more bytes are needed."""
    if n - p < 12:
        if eof and base + p == 0:
            raise InputFormatError(f"too short to be a pcap or pcapng file ({n} bytes)", path)
        if eof:
            raise InputFormatError(f"file ends inside a pcapng section header at byte {base + p}", path)
        return None
    raw = buf[p: min(n, p + 28)].tobytes()
    magic = int.from_bytes(raw[:4], "little")
    if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_US_SWAPPED, PCAP_MAGIC_NS_SWAPPED) and base + p == 0:
        if n - p < 24:
            if eof:
                raise InputFormatError("file ends inside the 24-byte pcap header", path)
            return None
        order = "<" if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS) else ">"
        linktype = int.from_bytes(raw[20:24], "little" if order == "<" else "big") & 0xFFFF
        if linktype not in SUPPORTED_LINKTYPES:
            raise InputFormatError(f"unsupported pcap link type {linktype} (supported: Ethernet, raw IP, Linux cooked)", path)
        nanos = magic in (PCAP_MAGIC_NS, PCAP_MAGIC_NS_SWAPPED)
        return ClassicLocator(order, nanos, linktype, path), p + 24
    if magic == PCAPNG_SHB:
        bom = int.from_bytes(raw[8:12], "little")
        if bom not in (PCAPNG_BOM, int.from_bytes(PCAPNG_BOM.to_bytes(4, "little"), "big")):
            raise InputFormatError(f"pcapng section header at byte {base + p} has a bad byte-order magic", path)
        order = "<" if bom == PCAPNG_BOM else ">"
        length = int.from_bytes(raw[4:8], "little" if order == "<" else "big")
        if length < 28 or length % 4 or length > 1 << 20:
            raise InputFormatError(f"pcapng section header at byte {base + p} has a bad length {length}", path)
        if n - p < length:
            if eof:
                raise InputFormatError(f"file ends inside a pcapng section header at byte {base + p}", path)
            return None
        return PcapngLocator(order, path), p + length
    what = "a pcap or pcapng file" if base + p == 0 else "a pcapng section header"
    raise InputFormatError(f"not {what}: unknown magic 0x{magic:08x} at byte {base + p}", path)


def _submit_decode(pool: ThreadPoolExecutor, buf: np.ndarray,
                   frames: Frames) -> tuple[Frames, list[tuple[int, Future]]]:
    """Start decoding a chunk's frames: per link type, :data:`DECODE_THREADS` contiguous shares, one job each."""
    jobs = []
    for linktype in np.unique(frames.linktype):
        rows = np.flatnonzero(frames.linktype == linktype)
        for share in np.array_split(rows, DECODE_THREADS):
            if share.size:
                jobs.append((int(linktype), pool.submit(_decode_rows, buf, frames, share, int(linktype))))
    return frames, jobs


def _decode_rows(buf: np.ndarray, frames: Frames, rows: np.ndarray, linktype: int) -> tuple[list[dict], Counter]:
    """Decode frames ``rows`` (all of ``linktype``), :data:`DECODE_BLOCK` at a time: the bytes of one block
    stay in the CPU cache across the decoder's dozens of gathers, where a whole chunk would be swept from
    memory by each of them."""
    blocks, skips = [], Counter()
    for start in range(0, rows.size, DECODE_BLOCK):
        sel = rows[start: start + DECODE_BLOCK]
        cols, why = decode_frames(buf, frames.offset[sel], frames.caplen[sel], frames.ts_us[sel], linktype)
        blocks.append(cols)
        skips.update(why)
    return blocks, skips


def _assemble(frames: Frames, jobs: list[tuple[int, Future]]) -> Batch:
    """One batch from a chunk's decode jobs (in submission order): one table per link type."""
    skips = Counter(frames.skips)
    tables = []
    for linktype in dict.fromkeys(code for code, _ in jobs):
        blocks = []
        for code, job in jobs:
            if code == linktype:
                done, why = job.result()
                blocks += done
                skips.update(why)
        tables.append(to_table({name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}))
    table = pa.concat_tables(tables) if tables else empty_table()
    return Batch(table, frames.offset.size + sum(frames.skips.values()), skips)

"""Vectorised decoding of captured frames (link layer → IPv4 → TCP/UDP/ICMP) into canonical columns.

Every field is gathered for all packets at once with fancy indexing into the chunk's bytes; the only
loop is over TCP option positions (at most 40 steps, each over the packets still having options).
Frames that are not IPv4 TCP/UDP/ICMP are counted by reason, never silently dropped.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from darkstack.schema import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TIMESTAMP

LINK_ETHERNET, LINK_RAW, LINK_SLL, LINK_SLL2 = 1, 101, 113, 276
LINK_RAW_ALIASES = {12: LINK_RAW, 14: LINK_RAW, 228: LINK_RAW}
SUPPORTED_LINKTYPES = {LINK_ETHERNET, LINK_RAW, LINK_SLL, LINK_SLL2, *LINK_RAW_ALIASES}
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
PAD = 128
"""Zero bytes the caller appends after the chunk so that gathers past a short frame stay in bounds."""

OPT_END, OPT_NOP, OPT_MSS, OPT_WSCALE, OPT_SACKOK, OPT_TS = 0, 1, 2, 3, 4, 8

SKIP_IPV6 = "IPv6 packet"
SKIP_NON_IP = "not an IP frame (ARP, LLDP, …)"
SKIP_LINK = "unsupported link type"
SKIP_TRUNCATED = "packet truncated (capture shorter than its headers)"
SKIP_MALFORMED = "malformed IPv4/TCP header"
SKIP_FRAGMENT = "IPv4 fragment without a transport header"
SKIP_OTHER_PROTO = "IPv4 protocol other than TCP/UDP/ICMP"


class _Bytes:
    """Unaligned big-endian views of a byte buffer, for one-gather reads of 8/16/32/64-bit fields."""

    def __init__(self, buf: np.ndarray):
        self.u8 = buf
        n = buf.size
        self.u16 = np.ndarray((n - 1,), ">u2", buffer=buf, strides=(1,))
        self.u32 = np.ndarray((n - 3,), ">u4", buffer=buf, strides=(1,))
        self.u64 = np.ndarray((n - 7,), ">u8", buffer=buf, strides=(1,))


def _field(word: np.ndarray, shift: int, bits: int, dtype) -> np.ndarray:
    """Bits ``[shift, shift + bits)`` of 64-bit words (counted from the least significant bit)."""
    return ((word >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(dtype)


def decode_frames(buf: np.ndarray, off: np.ndarray, caplen: np.ndarray, ts_us: np.ndarray,
                  linktype: int) -> tuple[dict[str, np.ndarray], Counter]:
    """Decode frames of one link type; returns kept columns (numpy, with ``*_valid`` masks) and skips.

    ``buf`` must end with :data:`PAD` zero bytes; ``off``/``caplen`` locate each frame in it.
    """
    skips: Counter = Counter()
    b = _Bytes(buf)
    off = off.astype(np.int64, copy=False)
    end = off + caplen.astype(np.int64, copy=False)
    linktype = LINK_RAW_ALIASES.get(linktype, linktype)
    if linktype == LINK_ETHERNET:
        ether = b.u16[off + 12].astype(np.uint16)
        ipo = off + 14
        for _ in range(2):  # 802.1Q / 802.1ad tags, up to two
            tagged = (ether == VLAN_TAGS[0]) | (ether == VLAN_TAGS[1]) | (ether == VLAN_TAGS[2])
            if tagged.any():
                ether = np.where(tagged, b.u16[ipo + 2], ether)
                ipo = ipo + 4 * tagged
    elif linktype == LINK_SLL:
        ether, ipo = b.u16[off + 14].astype(np.int64), off + 16
    elif linktype == LINK_SLL2:
        ether, ipo = b.u16[off].astype(np.int64), off + 20
    elif linktype == LINK_RAW:
        version = b.u8[off] >> 4
        ether, ipo = np.select([version == 4, version == 6], [ETH_IPV4, ETH_IPV6], 0), off
    else:
        skips[SKIP_LINK] += off.size
        return _empty(), skips

    reason = np.zeros(off.size, dtype=np.int8)  # 0 = kept; codes index REASONS
    reason[(ether != ETH_IPV4)] = 2
    reason[ether == ETH_IPV6] = 1
    reason[(reason == 0) & (ipo + 20 > end)] = 3
    # IPv4 header bytes 0-7 (version/IHL, TOS, total length, id, flags/fragment) and 8-15 (TTL,
    # protocol, checksum, source) in two 64-bit gathers; fields are then cut out with shifts.
    ip_a, ip_b = b.u64[ipo].astype(np.uint64), b.u64[ipo + 8].astype(np.uint64)  # native: shifts stay cheap
    first = _field(ip_a, 56, 8, np.uint8)
    ihl = (first & 15).astype(np.int64) * 4
    reason[(reason == 0) & ((first >> 4 != 4) | (ihl < 20))] = 4
    reason[(reason == 0) & (_field(ip_a, 0, 13, np.uint16) != 0)] = 5
    proto = _field(ip_b, 48, 8, np.uint8)
    is_tcp, is_udp, is_icmp = proto == PROTO_TCP, proto == PROTO_UDP, proto == PROTO_ICMP
    reason[(reason == 0) & ~(is_tcp | is_udp | is_icmp)] = 6
    l4 = ipo + ihl
    need = np.where(is_tcp, 20, np.where(is_udp, 8, 4))
    reason[(reason == 0) & (l4 + need > end)] = 3
    # TCP/UDP bytes 0-7 (ports, sequence) and 8-15 (ack, data offset, flags, window).
    l4_a, l4_b = b.u64[l4].astype(np.uint64), b.u64[l4 + 8].astype(np.uint64)
    doff = _field(l4_b, 28, 4, np.int64) * 4
    reason[(reason == 0) & is_tcp & (doff < 20)] = 4
    for code, count in zip(*np.unique(reason[reason > 0], return_counts=True)):
        skips[REASONS[code]] += int(count)

    keep = np.flatnonzero(reason == 0)
    ipo, l4, end, doff = ipo[keep], l4[keep], end[keep], doff[keep]
    ip_a, ip_b, l4_a, l4_b = ip_a[keep], ip_b[keep], l4_a[keep], l4_b[keep]
    proto, is_tcp, is_icmp = proto[keep], is_tcp[keep], is_icmp[keep]
    cols = {
        "ts": ts_us[keep],
        "src_ip": _field(ip_b, 0, 32, np.uint32),
        "dst_ip": b.u32[ipo + 16].astype(np.uint32),
        "proto": proto,
        "ip_len": _field(ip_a, 32, 16, np.uint16),
        "ttl": _field(ip_b, 56, 8, np.uint8),
        "ip_id": _field(ip_a, 16, 16, np.uint16),
        "src_port": _field(l4_a, 48, 16, np.uint16),
        "dst_port": _field(l4_a, 32, 16, np.uint16),
        "ports_valid": ~is_icmp,
        "tcp_valid": is_tcp,
        "tcp_seq": _field(l4_a, 0, 32, np.uint32),
        "tcp_flags": _field(l4_b, 16, 8, np.uint8),
        "tcp_win": _field(l4_b, 0, 16, np.uint16),
    }
    opt_end = np.where(is_tcp, np.minimum(l4 + doff, end), l4)
    cols.update(_tcp_options(b, l4 + 20, opt_end))
    return cols, skips


REASONS = {1: SKIP_IPV6, 2: SKIP_NON_IP, 3: SKIP_TRUNCATED, 4: SKIP_MALFORMED, 5: SKIP_FRAGMENT, 6: SKIP_OTHER_PROTO}


# Common SYN option layouts decoded directly (no option walk): option bytes; mask and value of the
# first eight option bytes; one more identifying 32-bit word (offset, mask, value) or None; the offsets
# of the MSS, window-scale and TSval values (None = absent); SACK-permitted present.
OPTION_LAYOUTS = (
    # Linux: MSS, SACK-permitted, timestamp, NOP, window scale
    (20, 0xFFFF0000FFFFFFFF, 0x020400000402080A, (16, 0xFFFFFF00, 0x01030300), 2, 19, 8, True),
    # Linux without timestamps: MSS, NOP, NOP, SACK-permitted, NOP, window scale
    (12, 0xFFFF0000FFFFFFFF, 0x0204000001010402, (8, 0xFFFFFF00, 0x01030300), 2, 11, None, True),
    # Windows: MSS, NOP, window scale, NOP, NOP, SACK-permitted
    (12, 0xFFFF0000FFFFFF00, 0x0204000001030300, (8, 0xFFFFFFFF, 0x01010402), 2, 7, None, True),
    # MSS only (typical of scanners)
    (4, 0xFFFF000000000000, 0x0204000000000000, None, 2, None, None, False),
)


def _tcp_options(b: _Bytes, start: np.ndarray, stop: np.ndarray) -> dict[str, np.ndarray]:
    """MSS, window scale, SACK-permitted and timestamp (TSval) from the TCP option bytes [start, stop).

    Packets whose options follow one of :data:`OPTION_LAYOUTS` are read directly (their first eight
    option bytes, gathered once, identify the layout); the others walk their option lists in step
    (one step per option), collecting (row, offset, kind, length) of every well-formed option, whose
    values are then gathered once per option kind.
    """
    n = start.size
    out = {"tcp_mss": np.zeros(n, np.uint16), "mss_valid": np.zeros(n, bool),
           "tcp_wscale": np.zeros(n, np.uint8), "wscale_valid": np.zeros(n, bool),
           "tcp_ts": np.zeros(n, np.uint32), "ts_valid": np.zeros(n, bool), "tcp_sackok": np.zeros(n, bool)}
    rows = np.flatnonzero(stop > start)
    first = start[rows]
    size = stop[rows] - first
    head = b.u64[first].astype(np.uint64)
    generic = np.ones(rows.size, bool)

    def option_bytes(sel, at, nbytes, view):
        """The ``nbytes`` big-endian bytes at option offset ``at`` of rows ``sel``: cut from ``head`` when
        they lie in the first eight option bytes, else gathered."""
        if at + nbytes <= 8:
            return _field(head[sel], 8 * (8 - at - nbytes), 8 * nbytes, view.dtype.newbyteorder("="))
        return view[first[sel] + at]
    for length, mask, value, extra, mss_at, ws_at, ts_at, sackok in OPTION_LAYOUTS:
        sel = np.flatnonzero((size == length) & ((head & np.uint64(mask)) == np.uint64(value)))
        if extra is not None and sel.size:
            offset, word_mask, word = extra
            sel = sel[(b.u32[first[sel] + offset] & np.uint32(word_mask)) == word]
        if not sel.size:
            continue
        generic[sel] = False
        r = rows[sel]
        out["tcp_mss"][r], out["mss_valid"][r] = option_bytes(sel, mss_at, 2, b.u16), True
        if ws_at is not None:
            out["tcp_wscale"][r], out["wscale_valid"][r] = option_bytes(sel, ws_at, 1, b.u8), True
        if ts_at is not None:
            out["tcp_ts"][r], out["ts_valid"][r] = option_bytes(sel, ts_at, 4, b.u32), True
        out["tcp_sackok"][r] = sackok
    rows = rows[generic]
    pos = start[rows]
    found_rows, found_pos, found_kind, found_len = [], [], [], []
    while rows.size:
        kind = b.u8[pos]
        nop = kind == OPT_NOP
        length = np.where(nop, 1, b.u8[pos + 1])
        fits = (kind != OPT_END) & (nop | (length >= 2)) & (pos + length <= stop[rows])
        real = fits & ~nop
        found_rows.append(rows[real])
        found_pos.append(pos[real])
        found_kind.append(kind[real])
        found_len.append(length[real])
        pos = pos + length
        more = fits & (pos < stop[rows])
        rows, pos = rows[more], pos[more]
    rows = np.concatenate(found_rows) if found_rows else np.zeros(0, np.int64)
    pos = np.concatenate(found_pos) if found_pos else np.zeros(0, np.int64)
    kind = np.concatenate(found_kind) if found_kind else np.zeros(0, np.uint8)
    length = np.concatenate(found_len) if found_len else np.zeros(0, np.uint8)

    for code, size, view, value_key, flag_key in ((OPT_MSS, 4, b.u16, "tcp_mss", "mss_valid"),
                                                  (OPT_WSCALE, 3, b.u8, "tcp_wscale", "wscale_valid"),
                                                  (OPT_TS, 10, b.u32, "tcp_ts", "ts_valid"),
                                                  (OPT_SACKOK, 2, None, None, "tcp_sackok")):
        sel = (kind == code) & (length == size)
        if view is not None:
            out[value_key][rows[sel]] = view[pos[sel] + 2]
        out[flag_key][rows[sel]] = True
    return out


def _empty() -> dict[str, np.ndarray]:
    return decode_frames(np.zeros(PAD, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                         np.zeros(0, np.int64), LINK_RAW)[0]


def empty_table() -> pa.Table:
    """A zero-row table with the decoder's columns."""
    return to_table(_empty())


def to_table(cols: dict[str, np.ndarray]) -> pa.Table:
    """Decoded columns → canonical-named Arrow table (without sensor columns)."""
    tcp = cols["tcp_valid"]

    def masked(values, valid, typ):
        return pa.array(values, typ, mask=~valid)

    return pa.table({
        "ts": pa.array(cols["ts"], pa.int64()).cast(TIMESTAMP),
        "src_ip": pa.array(cols["src_ip"], pa.uint32()),
        "dst_ip": pa.array(cols["dst_ip"], pa.uint32()),
        "src_port": masked(cols["src_port"], cols["ports_valid"], pa.uint16()),
        "dst_port": masked(cols["dst_port"], cols["ports_valid"], pa.uint16()),
        "proto": pa.array(cols["proto"], pa.uint8()),
        "tcp_flags": masked(cols["tcp_flags"], tcp, pa.uint8()),
        "ip_len": pa.array(cols["ip_len"], pa.uint16()),
        "ttl": pa.array(cols["ttl"], pa.uint8()),
        "ip_id": pa.array(cols["ip_id"], pa.uint16()),
        "tcp_seq": masked(cols["tcp_seq"], tcp, pa.uint32()),
        "tcp_win": masked(cols["tcp_win"], tcp, pa.uint16()),
        "tcp_mss": masked(cols["tcp_mss"], cols["mss_valid"] & tcp, pa.uint16()),
        "tcp_wscale": masked(cols["tcp_wscale"], cols["wscale_valid"] & tcp, pa.uint8()),
        "tcp_sackok": masked(cols["tcp_sackok"], tcp, pa.bool_()),
        "tcp_ts": masked(cols["tcp_ts"], cols["ts_valid"] & tcp, pa.uint32()),
    })

"""Locate packet records in a chunk of a classic pcap or pcapng file without a per-packet loop.

A record's length is in its own header, so record starts form a chain. We find every offset whose
bytes look like a record header (a vectorised test over the whole chunk), link each candidate to
the offset right after it, and keep the chain that starts at the known first record: runs of
candidates that follow each other are taken whole; Python steps only over the rare breaks (a false
candidate inside a record) with a binary search. Python also looks one by one at the rare
offsets where the chain leaves the candidate set: a header the filter did not expect (another
pcapng block type, a timestamp in a new range), the incomplete record at the chunk's end, or a
corrupt header.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from darkstack.errors import InputFormatError

MAX_RECORD = 0x40000
"""Largest frame accepted (256 KiB, the libpcap maximum snapshot length)."""
SCAN_BLOCK = 1 << 18
"""Bytes of a chunk tested for record headers at a time (fits the CPU's L2 cache with its masks)."""
SCAN_THREADS = 2
"""Threads testing a chunk's blocks for record headers."""
PCAPNG_SHB, PCAPNG_IDB, PCAPNG_OPB, PCAPNG_SPB, PCAPNG_EPB = 0x0A0D0D0A, 1, 2, 3, 6
PCAPNG_BOM = 0x1A2B3C4D


@dataclass
class Frames:
    """Frames located in a chunk: data offset, captured length, time (µs) and link type of each."""

    offset: np.ndarray
    caplen: np.ndarray
    ts_us: np.ndarray
    linktype: np.ndarray
    skips: dict[str, int] = field(default_factory=dict)


def _view(buf: np.ndarray, order: str, bits: int) -> np.ndarray:
    """Unaligned integer view of ``buf`` at every byte offset (``order`` is '<' or '>')."""
    size = bits // 8
    return np.ndarray((buf.size - size + 1,), f"{order}u{size}", buffer=buf, strides=(1,))


def follow_chain(cand: np.ndarray, nxt: np.ndarray, first: int) -> np.ndarray:
    """Indices into ``cand`` of the positions reached from ``cand[first]`` by repeatedly jumping to
    ``nxt`` while they are candidates.

    Between two candidates that follow each other (``nxt[k] == cand[k + 1]``) everything is
    vectorised; Python only steps over the breaks on the chain, one per false candidate lying
    inside a true record (rare), with a binary search to the true successor.
    """
    breaks = np.flatnonzero(nxt[:-1] != cand[1:])
    breaks = np.append(breaks, cand.size - 1)  # the last candidate always ends a run
    runs = []
    i = first
    while True:
        stop = int(breaks[np.searchsorted(breaks, i)])
        runs.append(np.arange(i, stop + 1))
        j = int(np.searchsorted(cand, nxt[stop]))
        if j >= cand.size or cand[j] != nxt[stop]:
            break
        i = j
    return np.concatenate(runs)


class ClassicLocator:
    """Record finder for classic pcap (either byte order, µs or ns timestamps)."""

    def __init__(self, order: str, nanoseconds: bool, linktype: int, path):
        self.order, self.linktype, self.path = order, linktype, path
        self.frac = 1_000_000_000 if nanoseconds else 1_000_000
        self.top_col = 3 if order == "<" else 0  # byte holding the top 8 bits of ts_sec

    def locate(self, buf: np.ndarray, n: int, start: int, base: int) -> tuple[Frames, int]:
        """Complete records in ``buf[start:n]``; returns them and the offset where the rest begins.

        ``base`` is the file offset of ``buf[0]`` (for error messages).
        """
        u32 = _view(buf, self.order, 32)
        runs = []  # record header fields (offset, ts_sec, ts_frac, incl_len), one array each, per run
        p = start
        cand = np.zeros((4, 0), np.int64)
        if n - start >= 16:
            cand = self._candidates(buf, u32, start, n)
        nxt = cand[0] + 16 + cand[3]
        while True:
            i = np.searchsorted(cand[0], p)
            if i < cand.shape[1] and cand[0, i] == p:
                run = cand[:, follow_chain(cand[0], nxt, int(i))]
                runs.append(run)
                p = int(run[0, -1] + 16 + run[3, -1])
                continue
            if p + 16 > n:
                break
            incl = int(u32[p + 8])
            if incl > MAX_RECORD or u32[p + 4] >= self.frac:
                raise InputFormatError(f"corrupt pcap record header at byte {base + p}", self.path)
            if p + 16 + incl > n:
                break
            runs.append(np.array([[p], [u32[p]], [u32[p + 4]], [incl]], np.int64))
            p += 16 + incl
        rec, sec, frac, incl = np.concatenate(runs, axis=1) if runs else np.zeros((4, 0), np.int64)
        ts = sec * 1_000_000 + (frac if self.frac == 1_000_000 else frac // 1000)
        return Frames(rec + 16, incl, ts, np.full(rec.size, self.linktype, np.int64)), p

    def _candidates(self, buf: np.ndarray, u32: np.ndarray, start: int, n: int) -> np.ndarray:
        """Offsets in ``[start, n - 16]`` that can start a complete record of this chunk, with their
        header fields: rows offset, ts_sec, ts_frac, incl_len.

        The top byte of ``ts_sec`` must equal the first record's, or be one more (uint8 arithmetic
        wraps); the sub-second part, lengths and record end must be plausible. The test runs over
        blocks of :data:`SCAN_BLOCK` bytes into reused buffers, so that the byte scan and the header
        gathers behind it stay in the CPU cache instead of sweeping the chunk's memory once per step;
        :data:`SCAN_THREADS` threads scan contiguous shares of the blocks (numpy releases the GIL).
        """
        tops = buf[start + self.top_col]
        stop = n - 16 + 1  # one past the last offset with room for a record header

        def scan(share: range) -> list[np.ndarray]:
            diff = np.empty(SCAN_BLOCK, np.uint8)
            hit = np.empty(SCAN_BLOCK, bool)
            blocks = []
            for s in share:
                k = min(SCAN_BLOCK, stop - s)
                np.subtract(buf[s + self.top_col: s + self.top_col + k], tops, out=diff[:k])
                np.less_equal(diff[:k], 1, out=hit[:k])
                at = np.flatnonzero(hit[:k]) + s
                frac, incl = u32[at + 4], u32[at + 8]
                ok = (frac < self.frac) & (incl <= MAX_RECORD) & (u32[at + 12] >= incl) & (at + 16 + incl <= n)
                at = at[ok]
                blocks.append(np.stack([at, u32[at], frac[ok], incl[ok]]))
            return blocks

        starts = range(start, stop, SCAN_BLOCK)
        per_share = -(-len(starts) // SCAN_THREADS)
        shares = [starts[i: i + per_share] for i in range(0, len(starts), per_share)]
        if len(shares) == 1:
            return np.concatenate(scan(shares[0]), axis=1)
        with ThreadPoolExecutor(max_workers=len(shares)) as pool:
            return np.concatenate([b for blocks in pool.map(scan, shares) for b in blocks], axis=1)


class PcapngLocator:
    """Block finder for pcapng: enhanced packet blocks vectorised, other blocks read one by one."""

    def __init__(self, order: str, path):
        self.order, self.path = order, path
        self.link: list[int] = []
        self.units: list[int] = []  # timestamp units per second, per interface

    def locate(self, buf: np.ndarray, n: int, start: int, base: int) -> tuple[Frames, int]:
        u32 = _view(buf, self.order, 32)
        blocks: list[np.ndarray] = []
        skips: dict[str, int] = {}
        p = start
        cand = np.zeros(0, np.int64)
        nxt = cand
        if n - start >= 32:
            code = np.uint32(PCAPNG_EPB).byteswap() if self.order == ">" else np.uint32(PCAPNG_EPB)
            words = np.ndarray((n - start - 3,), "<u4", buffer=buf, offset=start, strides=(1,))
            cand = np.flatnonzero(words == code).astype(np.int64) + start
            cand = cand[cand + 32 <= n]
            length = u32[cand + 4].astype(np.int64)
            ok = (length >= 32) & (length % 4 == 0) & (length <= MAX_RECORD + 64) & (cand + length <= n)
            cand, length = cand[ok], length[ok]
            ok = u32[cand + length - 4] == length
            ok &= u32[cand + 8] < len(self.link)
            ok &= u32[cand + 20] <= length - 32
            cand, length = cand[ok], length[ok]
            nxt = cand + length
        while True:
            i = np.searchsorted(cand, p)
            if i < cand.size and cand[i] == p:
                chain = cand[follow_chain(cand, nxt, int(i))]
                blocks.append(chain)
                p = int(chain[-1] + u32[chain[-1] + 4])
                continue
            if p + 12 > n:
                break
            btype, length = int(u32[p]), int(u32[p + 4])
            if btype == PCAPNG_SHB:
                raise NewSection(p)
            if length < 12 or length % 4 or length > MAX_RECORD + 1024:
                raise InputFormatError(f"corrupt pcapng block header at byte {base + p}", self.path)
            if p + length > n:
                break
            if int(u32[p + length - 4]) != length:
                raise InputFormatError(f"corrupt pcapng block at byte {base + p} (trailer length differs)", self.path)
            if btype == PCAPNG_IDB:
                self._add_interface(buf, p, length)
            elif btype == PCAPNG_EPB:
                if int(u32[p + 8]) >= len(self.link):
                    raise InputFormatError(f"packet block at byte {base + p} names an undeclared interface", self.path)
                blocks.append(np.array([p], np.int64))
            elif btype in (PCAPNG_SPB, PCAPNG_OPB):
                key = "pcapng simple/obsolete packet block (not decoded)"
                skips[key] = skips.get(key, 0) + 1
            p += length
        rec = np.concatenate(blocks) if blocks else np.zeros(0, np.int64)
        iface = u32[rec + 8].astype(np.int64)
        raw_ts = (u32[rec + 12].astype(np.uint64) << np.uint64(32)) | u32[rec + 16].astype(np.uint64)
        units = np.array(self.units, np.int64)[iface] if rec.size else np.zeros(0, np.int64)
        ts = _to_microseconds(raw_ts, units)
        link = np.array(self.link, np.int64)[iface] if rec.size else np.zeros(0, np.int64)
        return Frames(rec + 28, u32[rec + 20].astype(np.int64), ts, link, skips), p

    def _add_interface(self, buf: np.ndarray, p: int, length: int) -> None:
        """Record an interface description block: link type and timestamp resolution."""
        raw = buf[p: p + length].tobytes()
        order = self.order
        link = int.from_bytes(raw[8:10], "little" if order == "<" else "big")
        units = 1_000_000
        q = 16
        while q + 4 <= length - 4:
            code = int.from_bytes(raw[q:q + 2], "little" if order == "<" else "big")
            olen = int.from_bytes(raw[q + 2:q + 4], "little" if order == "<" else "big")
            if code == 0:
                break
            if code == 9 and olen >= 1:
                res = raw[q + 4]
                units = 2 ** (res & 0x7F) if res & 0x80 else 10 ** res
            q += 4 + (olen + 3) // 4 * 4
        self.link.append(link)
        self.units.append(units)


class NewSection(Exception):
    """A new pcapng section header at this chunk offset (the reader restarts its state there)."""

    def __init__(self, offset: int):
        super().__init__(offset)
        self.offset = offset


def _to_microseconds(raw: np.ndarray, units: np.ndarray) -> np.ndarray:
    """pcapng timestamps in per-interface units → microseconds since the epoch."""
    out = np.empty(raw.size, np.int64)
    for u in np.unique(units):
        sel = units == u
        if u % 1_000_000 == 0:
            out[sel] = (raw[sel] // np.uint64(u // 1_000_000)).astype(np.int64)
        elif 1_000_000 % u == 0:
            out[sel] = raw[sel].astype(np.int64) * (1_000_000 // int(u))
        else:
            out[sel] = (raw[sel].astype(np.float64) * (1e6 / u)).astype(np.int64)
    return out

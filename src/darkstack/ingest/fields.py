"""Vectorised conversion of text columns (Arrow string arrays) into canonical typed columns.

Each converter returns the values and a per-row ``bad`` mask (present but unparsable); absent
values ('-' or empty) become null, not bad.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.schema import TIMESTAMP

ABSENT = ("-", "")


def _strings(arr) -> pa.Array:
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return pc.utf8_trim_whitespace(arr.cast(pa.string()))


def absent(arr) -> np.ndarray:
    """Rows whose text is null, empty or '-'."""
    s = _strings(arr)
    return pc.fill_null(pc.is_in(s, pa.array(ABSENT)), True).to_numpy(zero_copy_only=False)


def ipv4(arr) -> tuple[np.ndarray, np.ndarray]:
    """Dotted-quad strings → (uint32 values, bad mask); absent counts as bad (addresses are required)."""
    s = pc.fill_null(_strings(arr), "")
    ok = pc.match_substring_regex(s, r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$").to_numpy(zero_copy_only=False)
    n = len(s)
    values = np.zeros(n, np.uint32)
    if ok.any():
        good = s.filter(pa.array(ok))
        octets = pc.list_flatten(pc.split_pattern(good, ".")).cast(pa.int64()).to_numpy().reshape(-1, 4)
        in_range = (octets <= 255).all(axis=1)
        values[ok] = (octets[:, 0] << 24 | octets[:, 1] << 16 | octets[:, 2] << 8 | octets[:, 3]).astype(np.uint32)
        ok[np.flatnonzero(ok)[~in_range]] = False
    return values, ~ok


def integer(arr, upper: int, *, allow_hex: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-negative integer strings → (int64 values, present mask, bad mask); values above ``upper`` are bad."""
    s = pc.fill_null(_strings(arr), "")
    missing = pc.is_in(s, pa.array(ABSENT)).to_numpy(zero_copy_only=False)
    n = len(s)
    values = np.zeros(n, np.int64)
    dec = pc.match_substring_regex(s, r"^\d{1,20}$").to_numpy(zero_copy_only=False)
    if dec.any():
        parsed = pc.cast(s.filter(pa.array(dec)), pa.float64()).to_numpy()
        values[dec] = np.where(parsed <= upper, parsed, -1).astype(np.int64)
    if allow_hex:
        hexa = pc.match_substring_regex(s, r"^0[xX][0-9a-fA-F]{1,16}$").to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(hexa):  # rare form: a Python loop over these rows only
            v = int(s[i].as_py(), 16)
            values[i] = v if v <= upper else -1
        dec |= hexa
    bad = ~missing & (~dec | (values < 0))
    present = dec & ~bad
    return np.where(present, values, 0), present, bad


def timestamp_seconds(arr) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds (float text) → (µs int64, bad mask)."""
    s = pc.fill_null(_strings(arr), "")
    ok = pc.match_substring_regex(s, r"^\d{1,12}(\.\d*)?$").to_numpy(zero_copy_only=False)
    values = np.zeros(len(s), np.int64)
    if ok.any():
        good = s.filter(pa.array(ok))
        parts = pc.split_pattern(good, ".", max_splits=1)
        sec = pc.list_element(parts, 0).cast(pa.int64()).to_numpy()
        values_ok = sec * 1_000_000
        has_frac = pc.greater(pc.list_value_length(parts), 1).to_numpy(zero_copy_only=False)
        if has_frac.any():
            frac = pc.list_element(parts.filter(pa.array(has_frac)), 1)
            frac = pc.utf8_slice_codeunits(pc.binary_join_element_wise(frac, "000000", ""), 0, 6)
            values_ok[has_frac] += frac.cast(pa.int64()).to_numpy()
        values[ok] = values_ok
    return values, ~ok


def tcp_flags_from_text(arr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TCP flags written as a number (decimal or 0x hex) or as letters (``FSRPAUEC``, e.g. ``SA``)."""
    values, present, bad = integer(arr, 255, allow_hex=True)
    s = pc.fill_null(_strings(arr), "")
    letters = pc.match_substring_regex(s, r"^[FSRPAUECfsrpauec.]+$").to_numpy(zero_copy_only=False) & bad
    if letters.any():
        upper = pc.utf8_upper(s.filter(pa.array(letters)))
        flag_values = np.zeros(int(letters.sum()), np.int64)
        for bit, letter in enumerate("FSRPAUEC"):
            flag_values |= pc.match_substring(upper, letter).to_numpy(zero_copy_only=False).astype(np.int64) << bit
        values[letters] = flag_values
        present[letters] = True
        bad[letters] = False
    return values, present, bad


PROTOCOL_NAMES = {"tcp": 6, "udp": 17, "icmp": 1}


def protocol(arr) -> tuple[np.ndarray, np.ndarray]:
    """IP protocol as a number (0-255) or a name (tcp, udp, icmp; any case) → (values, bad mask)."""
    values, present, bad = integer(arr, 0xFF)
    names = pc.utf8_lower(pc.fill_null(_strings(arr), ""))
    codes = pc.fill_null(pc.index_in(names, pa.array(list(PROTOCOL_NAMES))), -1).to_numpy(zero_copy_only=False)
    named = codes >= 0
    values[named] = np.array(list(PROTOCOL_NAMES.values()))[codes[named]]
    return values, (bad | ~present) & ~named


_DATETIME = (r"^(?P<date>\d{4}[-/]\d{2}[-/]\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<frac>\d{1,6})\d*)?"
             r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$")


def datetime_text(arr) -> tuple[np.ndarray, np.ndarray]:
    """Date-time text → (µs since the epoch, bad mask), every layout honeypots write.

    ``2022-06-01T14:33:36Z``, ``2022-05-31T05:03:17.841446`` (no zone: UTC), ``2022-06-02 05:00:24,695``
    (comma before milliseconds), ``2022-05-30 05:03:01.932937387`` (nanoseconds, cut to µs), ``2022/06/01
    12:57:16`` (p0f), ``…+02:00``. Absent or unparsable text is bad (a record needs its time).
    """
    s = pc.fill_null(_strings(arr), "")
    parts = pc.extract_regex(s, _DATETIME)  # null where the layout does not match
    ok = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    values = np.zeros(len(s), np.int64)
    if ok.any():
        good = parts.filter(pa.array(ok))
        date = pc.replace_substring(pc.struct_field(good, "date"), "/", "-")
        frac = pc.utf8_rpad(pc.struct_field(good, "frac"), 6, "0")
        zone = pc.struct_field(good, "zone")
        zone = pc.if_else(pc.equal(zone, ""), "+00:00", zone)
        text = pc.binary_join_element_wise(date, "T", pc.struct_field(good, "time"), ".", frac, zone, "")
        try:
            us = text.cast(TIMESTAMP).cast(pa.int64()).to_numpy()
            values[ok] = us
        except pa.ArrowInvalid:  # a field out of range (month 13): find the rows one by one
            idx = np.flatnonzero(ok)
            for i, t in zip(idx, text.to_pylist()):
                try:
                    values[i] = pa.scalar(t).cast(TIMESTAMP).cast(pa.int64()).as_py()
                except pa.ArrowInvalid:
                    ok[i] = False
    return values, ~ok


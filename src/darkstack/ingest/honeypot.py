"""Helpers shared by the honeypot log readers: ISO timestamps and typed fields of JSON objects."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def iso_to_us(value) -> int | None:
    """ISO-8601 text (``2020-11-29T17:38:07.862Z``) → µs since the epoch (UTC), or None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def port(value) -> int | None:
    """A port number from an int or numeric text; None when missing or out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= 0xFFFF else None


def ipv4_int(value) -> int | None:
    """Dotted IPv4 text → int, None when not an IPv4 address."""
    if not isinstance(value, str):
        return None
    parts = value.strip().split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return None
    a, b, c, d = (int(p) for p in parts)
    return (a << 24) | (b << 16) | (c << 8) | d


def column(values: list, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A list with Nones → (values, present mask)."""
    present = np.array([v is not None for v in values], bool)
    out = np.array([0 if v is None else v for v in values], dtype=dtype)
    return out, present

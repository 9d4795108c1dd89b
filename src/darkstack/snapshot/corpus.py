"""The i-DarkVec corpus table: sender tokens per port in time order, consecutive repeats dropped, with the UTC hour."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from darkstack.schema import TIMESTAMP

_US_PER_HOUR = 3_600_000_000


def utc_hours(ts: pa.ChunkedArray) -> np.ndarray:
    """UTC hour of day (0-23) of Arrow timestamps, from the stored instant (independent of any engine's time zone)."""
    micros = ts.cast(TIMESTAMP, safe=False).cast(pa.int64()).to_numpy()
    return (micros // _US_PER_HOUR % 24).astype(np.uint8)


def drop_repeats(tokens: pa.Table) -> pa.Table:
    """Remove consecutive repeats of the same sender within a sentence from sorted (port, ip, ts) tokens and
    number the rest: the corpus table (port, seq, ip, hour), ``seq`` = 0-based position in the day's corpus,
    ``hour`` = UTC hour of the kept token's packet (the first of its run)."""
    ports = tokens.column("port").to_numpy()
    ips = tokens.column("ip").to_numpy()
    keep = np.ones(ips.size, dtype=bool)
    keep[1:] = (ips[1:] != ips[:-1]) | (ports[1:] != ports[:-1])
    hours = utc_hours(tokens.column("ts"))[keep]
    seq = np.arange(int(keep.sum()), dtype=np.int64)
    return pa.table({"port": ports[keep], "seq": seq, "ip": ips[keep], "hour": hours})

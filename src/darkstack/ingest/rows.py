"""Shared by the text readers: assemble canonical columns and drop rows with unusable values."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from darkstack.ingest.batch import Batch
from darkstack.schema import TIMESTAMP


def assemble(n: int, columns: dict[str, tuple[np.ndarray, np.ndarray | None, pa.DataType]],
             bad: dict[str, np.ndarray], skips: Counter, extra: dict[str, pa.Array] | None = None,
             dropped: dict[str, np.ndarray] | None = None) -> Batch:
    """Build a batch from ``name → (values, present-mask or None, type)``.

    Rows flagged in a ``dropped[reason]`` mask are dropped and counted under that reason; then rows flagged in
    any ``bad[column]`` mask are dropped and counted as "bad value in column <name>" (the first reason or bad
    column of a row names it). ``skips`` arrives holding the source records already skipped before conversion
    (they count as read too).
    """
    read = n + sum(skips.values())
    drop = np.zeros(n, bool)
    for reason, mask in (dropped or {}).items():
        fresh = mask & ~drop
        if fresh.any():
            skips[reason] += int(fresh.sum())
            drop |= fresh
    for name, mask in bad.items():
        fresh = mask & ~drop
        if fresh.any():
            skips[f"bad value in column {name}"] += int(fresh.sum())
            drop |= fresh
    keep = ~drop
    arrays = {}
    for name, (values, present, typ) in columns.items():
        v = values[keep]
        if typ == TIMESTAMP:
            arrays[name] = pa.array(v.astype(np.int64), pa.int64()).cast(typ)
        else:
            arrays[name] = pa.array(v, typ, mask=None if present is None else ~present[keep])
    for name, arr in (extra or {}).items():
        arrays[name] = arr.filter(pa.array(keep))
    return Batch(pa.table(arrays), read, skips)

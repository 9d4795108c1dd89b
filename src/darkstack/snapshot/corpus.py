"""The i-DarkVec corpus as Word2Vec sentences: one sentence per port, tokens = sender IPs in time order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def drop_repeats(tokens: pa.Table) -> pa.Table:
    """Remove consecutive repeats of the same sender within a sentence from sorted (port, ip) tokens and
    number the rest: the corpus table (port, seq, ip), ``seq`` = 0-based position in the day's corpus."""
    ports = tokens.column("port").to_numpy()
    ips = tokens.column("ip").to_numpy()
    keep = np.ones(ips.size, dtype=bool)
    keep[1:] = (ips[1:] != ips[:-1]) | (ports[1:] != ports[:-1])
    return pa.table({"port": ports[keep], "seq": np.arange(int(keep.sum()), dtype=np.int64), "ip": ips[keep]})


def sentences(corpus: pa.Table) -> list[np.ndarray]:
    """Split a day's corpus table (port, seq, ip) into sentences (uint32 IP arrays), in ``seq`` order."""
    order = np.argsort(corpus.column("seq").to_numpy(), kind="stable")
    ports = corpus.column("port").to_numpy()[order]
    ips = corpus.column("ip").to_numpy()[order]
    if ips.size == 0:
        return []
    cuts = np.flatnonzero(ports[1:] != ports[:-1]) + 1
    return np.split(ips, cuts)

"""The Mirai rule over the store: hosts that sent a TCP SYN whose sequence number equals its destination."""

from __future__ import annotations

import numpy as np

from darkstack.workspace import Workspace


def mirai_hosts(ws: Workspace) -> np.ndarray:
    """Sorted uint32 sources with ≥1 TCP SYN (SYN set, ACK clear; unknown flags count) with tcp_seq == dst_ip, any sensor."""
    import duckdb

    files = [str(f) for sensor in ws.sensors() for f in sorted((ws.store_dir / sensor).glob("*/part-*.parquet"))]
    if not files:
        return np.zeros(0, np.uint32)
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT DISTINCT src_ip FROM read_parquet(?) WHERE proto = 6 AND tcp_seq = dst_ip "
            "AND (tcp_flags IS NULL OR (tcp_flags & 18) = 2) ORDER BY src_ip",
            [files],
        ).fetchnumpy()["src_ip"]
    finally:
        con.close()
    return np.asarray(rows, dtype=np.uint32)

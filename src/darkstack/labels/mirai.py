"""The Mirai rule over the store: hosts that sent a TCP SYN whose sequence number equals its destination.

A sensor whose TCP records carry no sequence number at all (e.g. MHN exports) cannot show the
fingerprint: the rule skips it with a reason (``skips.note``) instead of silently finding nobody there.
"""

from __future__ import annotations

import numpy as np

from darkstack import skips
from darkstack.ingest import manifest
from darkstack.log import get_logger
from darkstack.workspace import Workspace

log = get_logger(__name__)

RULE = ("SELECT DISTINCT src_ip FROM read_parquet(?) WHERE proto = 6 AND tcp_seq = dst_ip "
        "AND (tcp_flags IS NULL OR (tcp_flags & 18) = 2)")
"""SYN set and ACK clear (0x12 & flags == 0x02); rows whose source gives no flags count."""
COVERAGE = "SELECT count(*), count(tcp_seq) FROM read_parquet(?) WHERE proto = 6"


def mirai_hosts(ws: Workspace) -> np.ndarray:
    """Sorted uint32 sources with ≥1 TCP SYN (SYN set, ACK clear; unknown flags count) with tcp_seq == dst_ip, any sensor."""
    import duckdb

    found = [np.zeros(0, np.uint32)]
    con = duckdb.connect()
    try:
        for sensor in ws.sensors():
            files = [str(f) for f in sorted((ws.store_dir / sensor).glob("*/part-*.parquet"))]
            if not files:
                continue
            hosts = con.execute(RULE, [files]).fetchnumpy()["src_ip"]
            if not len(hosts):  # only then can the records lack sequence numbers: a second pass only here
                tcp, with_seq = con.execute(COVERAGE, [files]).fetchone()
                if tcp and not with_seq:
                    skips.note("labels", f"Mirai rule needs TCP sequence numbers, which {sensor_formats(ws, sensor)} of sensor "
                               f"{sensor} lack", sensor=sensor, option="labels.mirai_rule")
                    continue
            log.debug(f"mirai rule, sensor {sensor}: {len(hosts):,} hosts", extra={"sensor": sensor})
            found.append(np.asarray(hosts, np.uint32))
    finally:
        con.close()
    return np.unique(np.concatenate(found))


def sensor_formats(ws: Workspace, sensor: str) -> str:
    """``mhn records`` (the formats ingest read for ``sensor``), or ``the records`` when unknown."""
    names = sorted({per_sensor[sensor]["format"] for per_sensor in manifest.load(ws).values() if "format" in per_sensor.get(sensor, {})})
    return f"{', '.join(names)} records" if names else "the records"

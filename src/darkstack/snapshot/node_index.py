"""Stable host identifiers across days: ``snapshots/<sensor>/node_index.parquet`` (ip, node_id, first_day).

Append-only: a host keeps its id forever; hosts not yet indexed get the next ids, in order of the day
they are first indexed, then by IP. Ports need no index: a port's number is its stable id (-1 = other).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from darkstack import atomic
from darkstack.errors import DarkstackError
from darkstack.workspace import Workspace

SCHEMA = pa.schema(
    [
        pa.field("ip", pa.uint32(), False),
        pa.field("node_id", pa.int64(), False),
        pa.field("first_day", pa.date32(), False),
    ]
)


def load_node_index(ws: Workspace, sensor: str) -> pa.Table:
    """The sensor's node index (empty when no snapshot was built yet), ordered by node_id."""
    path = ws.node_index(sensor)
    if not path.exists():
        return SCHEMA.empty_table()
    try:
        table = pq.read_table(path)
    except pa.ArrowInvalid as exc:
        raise DarkstackError(f"unreadable node index ({exc})", path) from exc
    if not table.schema.equals(SCHEMA, check_metadata=False):
        raise DarkstackError(f"unexpected node index columns {table.schema.names}", path)
    return table


def update_node_index(ws: Workspace, sensor: str, hosts_by_day: dict[dt.date, np.ndarray]) -> pa.Table:
    """Append the hosts of ``hosts_by_day`` that have no id yet (by first day among these, then IP); an
    indexed host also seen on an earlier day gets that earlier ``first_day``. Written atomically when changed."""
    index = load_node_index(ws, sensor)
    ips = index.column("ip").to_numpy()
    first = index.column("first_day").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    seen_ips = np.concatenate([np.zeros(0, np.uint32), *(np.asarray(h, np.uint32) for h in hosts_by_day.values())])
    seen_days = np.concatenate(
        [np.zeros(0, "datetime64[D]"), *(np.full(len(h), np.datetime64(d, "D")) for d, h in hosts_by_day.items())]
    )
    order = np.lexsort((seen_days, seen_ips))
    seen_ips, seen_days = seen_ips[order], seen_days[order]
    head = np.ones(seen_ips.size, bool)
    head[1:] = seen_ips[1:] != seen_ips[:-1]
    seen_ips, seen_days = seen_ips[head], seen_days[head]  # each host once, with its earliest day
    by_ip = np.argsort(ips, kind="stable")
    pos = np.minimum(np.searchsorted(ips[by_ip], seen_ips), max(ips.size - 1, 0))
    found = ips[by_ip][pos] == seen_ips if ips.size else np.zeros(seen_ips.size, bool)
    rows = by_ip[pos[found]]
    earlier = seen_days[found] < first[rows]
    new = np.lexsort((seen_ips[~found], seen_days[~found]))
    if not earlier.any() and new.size == 0:
        return index
    first[rows[earlier]] = seen_days[found][earlier]
    all_ips = np.concatenate([ips, seen_ips[~found][new]]).astype(np.uint32)
    all_days = np.concatenate([first, seen_days[~found][new]])
    table = pa.table(
        {"ip": all_ips, "node_id": np.arange(all_ips.size, dtype=np.int64), "first_day": all_days},
        schema=SCHEMA,
    )
    atomic.write_parquet(ws.node_index(sensor), table)
    return table

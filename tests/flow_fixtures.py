"""Per-packet canonical records turned into the flow records of the same traffic (one weighted record per group
of identical packets), for the tests that weighted records give the snapshots of their packets."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from darkstack.schema import PACKET_SCHEMA, conform

FLOW_KEYS = (
    "sensor",
    "sensor_kind",
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "ip_len",
    "ttl",
    "tcp_win",
    "tcp_mss",
    "tcp_ts",
)
"""What a flow record keeps of its packets by default: the 5-tuple, the flags and every field a snapshot
feature reads (size, TTL, window, MSS, TSval). Pass fewer ``keys`` to model a format that lacks some."""


def aggregate_to_flows(table: pa.Table, keys: tuple[str, ...] = FLOW_KEYS) -> pa.Table:
    """One canonical record per UTC day and distinct ``keys``: ``ts`` = its first packet, ``packets`` = how many
    packets it stands for; every column not in ``keys`` is null (a flow does not carry it).

    ``table`` holds per-packet records (``packets`` null or absent); the result is in canonical column order,
    sorted by ``ts`` then ``src_ip`` so it is deterministic.
    """
    table = conform(table)
    day = pc.floor_temporal(table.column("ts"), unit="day")
    grouped = table.append_column("day", day).group_by([*keys, "day"], use_threads=False)
    flows = grouped.aggregate([("ts", "min"), ("ts", "count")])
    flows = flows.rename_columns({"ts_min": "ts", "ts_count": "packets"}).drop_columns(["day"])
    flows = conform(flows.set_column(flows.column_names.index("packets"), "packets",
                                     flows.column("packets").cast(PACKET_SCHEMA.field("packets").type)))
    return flows.sort_by([("ts", "ascending"), ("src_ip", "ascending")])


def first_packets(table: pa.Table, keys: tuple[str, ...] = FLOW_KEYS) -> pa.Table:
    """The first packet of each flow of :func:`aggregate_to_flows` (all its columns): the packets whose arrival
    order the flow records keep."""
    flows = aggregate_to_flows(table, keys).drop_columns(["packets"])
    return conform(flows)

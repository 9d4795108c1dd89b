"""THE definition of a daily snapshot, as SQL text that both engines (DuckDB and Spark SQL) run unchanged.

The engine registers the day's canonical records as the view ``packets`` (docs/schema.md); then, in
order: the table ``selected`` (protocol/flag filter, feature fields with null → 0), the view ``kept``
(host filter), the table ``port_ranks`` (ranking for the top-N cut) and the table ``folded`` (kept
packets, port folded into -1 = other) and the table ``edges``; the output queries read ``folded`` and
``edges``. The only dialect difference (how views and cached tables are created) is the engine's job;
every SELECT below is shared. After SQL, ``corpus.drop_repeats`` (shared Python) drops consecutive
repeats in the sorted tokens and numbers them.
"""

from __future__ import annotations

from darkstack.schema import PROTO_TCP, TCP_ACK, TCP_SYN
from darkstack.snapshot.features import PACKET_FIELDS
from darkstack.snapshot.settings import SnapshotSettings

FIELDS = [name for name, _, _ in PACKET_FIELDS]
_SOURCE_FIELDS = {"size": "ip_len", "ttl": "ttl", "mss": "tcp_mss", "win": "tcp_win", "tsval": "tcp_ts"}


def selected(settings: SnapshotSettings) -> str:
    """Packets passing the protocol and flag filters, with the feature fields as BIGINT (null → 0)."""
    where = ["dst_port IS NOT NULL"]
    if settings.tcp_only:
        where.append(f"proto = {PROTO_TCP}")
    if settings.syn_only:
        where.append(f"(CAST(tcp_flags AS INT) & {TCP_SYN | TCP_ACK}) = {TCP_SYN}")
    fields = ", ".join(f"CAST(coalesce({_SOURCE_FIELDS[f]}, 0) AS BIGINT) AS {f}" for f in FIELDS)
    return (
        "SELECT ts, CAST(src_ip AS BIGINT) AS ip, CAST(dst_ip AS BIGINT) AS dst_ip, "
        f"CAST(dst_port AS INT) AS dst_port, {fields} FROM packets WHERE {' AND '.join(where)}"
    )


def kept(settings: SnapshotSettings) -> str:
    """Host filter: packets of hosts with at least ``settings.min_host_packets`` selected packets."""
    return (
        "SELECT * FROM selected WHERE ip IN "
        f"(SELECT ip FROM selected GROUP BY ip HAVING count(*) >= {settings.min_host_packets})"
    )


PORT_RANKS = (
    "SELECT dst_port, packets, row_number() OVER (ORDER BY packets DESC, dst_port ASC) AS port_rank "
    "FROM (SELECT dst_port, count(*) AS packets FROM kept GROUP BY dst_port) AS per_port"
)
"""Ports ranked by packets after the host filter; ties broken by the lower port number."""


def folded(settings: SnapshotSettings) -> str:
    """Kept packets with ``port`` (-1 beyond the top N) and ``sentence`` (corpus order: rank, other last)."""
    n = settings.top_ports
    return (
        f"SELECT k.ts, k.ip, k.dst_ip, CASE WHEN r.port_rank <= {n} THEN k.dst_port ELSE -1 END AS port, "
        f"CASE WHEN r.port_rank <= {n} THEN r.port_rank ELSE {n + 1} END AS sentence, "
        f"{', '.join('k.' + f for f in FIELDS)} FROM kept AS k JOIN port_ranks AS r ON k.dst_port = r.dst_port"
    )


COUNTS = (
    "SELECT * FROM (SELECT count(*) AS packets_read FROM packets) AS r "
    "CROSS JOIN (SELECT count(*) AS packets_selected, count(DISTINCT ip) AS hosts_selected FROM selected) AS s "
    "CROSS JOIN (SELECT count(*) AS ports_distinct FROM port_ranks) AS p "
    "CROSS JOIN (SELECT count(*) AS packets_kept, count(DISTINCT ip) AS hosts_kept, "
    "count(DISTINCT CASE WHEN port <> -1 THEN port END) AS ports_kept, "
    "count(CASE WHEN port = -1 THEN 1 END) AS packets_other FROM folded) AS f"
)
"""One row of day counts for meta.json."""

EDGES = "SELECT ip, port, count(*) AS packets FROM folded GROUP BY ip, port"
"""The weighted bipartite graph: packets per (host, port); materialised as the table ``edges``."""

EDGES_SORTED = "SELECT ip, port, packets FROM edges ORDER BY ip, port"


def _count_stats(first: int) -> str:
    """#groups, then min, max, sum, mean, std of the per-group count ``n`` (columns f<first>…f<first+5>)."""
    names = [f"f{first + i:02d}" for i in range(6)]
    return (
        f"CAST(count(*) AS DOUBLE) AS {names[0]}, CAST(min(n) AS DOUBLE) AS {names[1]}, "
        f"CAST(max(n) AS DOUBLE) AS {names[2]}, CAST(sum(n) AS DOUBLE) AS {names[3]}, "
        f"CAST(sum(n) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS {names[4]}, "
        f"coalesce(stddev_samp(n), 0.0) AS {names[5]}"
    )


def _field_stats(first: int) -> str:
    """sum, min, max, mean, std of each packet field (columns f<first>…f<first+24>)."""
    out = []
    for j, f in enumerate(FIELDS):
        c = [f"f{first + 5 * j + i:02d}" for i in range(5)]
        out.append(
            f"CAST(sum({f}) AS DOUBLE) AS {c[0]}, CAST(min({f}) AS DOUBLE) AS {c[1]}, "
            f"CAST(max({f}) AS DOUBLE) AS {c[2]}, CAST(sum({f}) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS {c[3]}, "
            f"coalesce(stddev_samp({f}), 0.0) AS {c[4]}"
        )
    return ", ".join(out)


def _columns(prefix: str, first: int, last: int) -> str:
    return ", ".join(f"{prefix}.f{i:02d}" for i in range(first, last + 1))


HOST_FEATURES = (
    "WITH per_port AS (SELECT ip, packets AS n FROM edges), "
    "per_address AS (SELECT ip, dst_ip, count(*) AS n FROM folded GROUP BY ip, dst_ip), "
    f"a AS (SELECT ip, {_count_stats(0)} FROM per_port GROUP BY ip), "
    f"b AS (SELECT ip, {_count_stats(6)} FROM per_address GROUP BY ip), "
    f"c AS (SELECT ip, {_field_stats(12)} FROM folded GROUP BY ip) "
    f"SELECT a.ip, {_columns('a', 0, 5)}, {_columns('b', 6, 11)}, {_columns('c', 12, 36)} "
    "FROM a JOIN b ON a.ip = b.ip JOIN c ON a.ip = c.ip ORDER BY a.ip"
)
"""Host features f00…f36 (Table 1 order, reference-notes §2.1), one row per kept host."""

PORT_FEATURES = (
    "WITH per_host AS (SELECT port, packets AS n FROM edges), "
    f"a AS (SELECT port, {_count_stats(0)} FROM per_host GROUP BY port), "
    f"c AS (SELECT port, {_field_stats(12)} FROM folded GROUP BY port) "
    f"SELECT a.port, {_columns('a', 0, 5)}, "
    + ", ".join(f"0.0 AS f{i:02d}" for i in range(6, 12))
    + f", {_columns('c', 12, 36)} FROM a JOIN c ON a.port = c.port ORDER BY a.port"
)
"""Port features f00…f36 (reference-notes §2.2: f06…f11 are 0-valued dummies), one row per port node."""

CORPUS_TOKENS = "SELECT port, ip, ts FROM folded ORDER BY sentence, ts, ip"
"""i-DarkVec tokens: one per kept packet, grouped by port (sentences in port-rank order, ``other`` last),
senders in time order within a port (ties by IP). ``corpus.drop_repeats`` then removes consecutive
repeats of a sender within a sentence and turns ``ts`` into the UTC hour (a vectorised step shared by both
engines)."""

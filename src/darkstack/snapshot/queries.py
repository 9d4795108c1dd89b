"""THE definition of a daily snapshot, as SQL text that both engines (DuckDB and Spark SQL) run unchanged.

The engine registers the day's canonical records as the view ``packets`` (docs/schema.md); then, in
order: the view ``selected`` (protocol/flag filter, feature fields with null → 0, the record's weight
``w`` = the packets it stands for, null → 1), the table ``pairs`` (packets and records per host and
destination port: the one aggregation the host filter, the port ranking, the edges and the counts need),
the tables ``kept_hosts`` (host filter), ``port_ranks`` (ranking for the top-N cut) and ``edges``, then
the table ``folded`` (kept records, port folded into -1 = other) and, on a day with a record of several
packets, the view ``multi``; the output queries read ``folded``, ``edges`` and ``multi``. The records are
read twice (``pairs``, ``folded``) and held once (``folded``, in their stored integer widths). The only
dialect difference (how views and cached tables are created) is the engine's job; every SELECT below is
shared. After SQL, ``corpus.drop_repeats`` (shared Python) drops consecutive repeats in the sorted tokens
and numbers them.

Every packet count is a sum of ``w``, so a flow record of n packets weighs as n packet records with its
fields (docs/snapshot.md, "Records that stand for several packets"); per-packet sources leave ``packets``
null and every ``w`` is 1.
"""

from __future__ import annotations

from darkstack.schema import PROTO_TCP, TCP_ACK, TCP_SYN
from darkstack.snapshot.features import PACKET_FIELDS
from darkstack.snapshot.settings import SnapshotSettings

FIELDS = [name for name, _, _ in PACKET_FIELDS]
LATER_COLUMNS = {"honeypot": ("VARCHAR", "string"), "packets": ("UINTEGER", "bigint")}
"""Canonical columns added after the first stores were written (name → DuckDB, Spark type): an engine's
``packets`` view gives them as null where a store's parts lack them, so older stores need no re-ingest."""
_SOURCE_FIELDS = {"size": "ip_len", "ttl": "ttl", "mss": "tcp_mss", "win": "tcp_win", "tsval": "tcp_ts"}


def selected(settings: SnapshotSettings) -> str:
    """Records passing the protocol and flag filters, with the feature fields (null → 0) and the weight ``w``
    (packets the record stands for, null → 1; a record of 0 packets is dropped). A view, read twice (``pairs``,
    ``folded``), which costs less than holding every record in a table. Addresses and fields keep their stored
    integer types (narrow on DuckDB, so ``folded`` holds half the bytes); every sum of them is an exact integer
    before the cast to DOUBLE, so the features do not depend on the width."""
    where = ["dst_port IS NOT NULL", "(packets IS NULL OR packets > 0)"]
    if settings.tcp_only:
        where.append(f"proto = {PROTO_TCP}")
    if settings.syn_only:
        where.append(f"(CAST(tcp_flags AS INT) & {TCP_SYN | TCP_ACK}) = {TCP_SYN}")
    fields = ", ".join(f"coalesce({_SOURCE_FIELDS[f]}, 0) AS {f}" for f in FIELDS)
    return (
        "SELECT ts, src_ip AS ip, dst_ip, "
        f"CAST(dst_port AS INT) AS dst_port, CAST(coalesce(packets, 1) AS BIGINT) AS w, {fields} "
        f"FROM packets WHERE {' AND '.join(where)}"
    )


PAIRS = "SELECT ip, dst_port, sum(w) AS packets, count(*) AS records FROM selected GROUP BY ip, dst_port"
"""Selected packets and records per (host, destination port) before the host filter and the port cut: the
one pass over the records from which the host filter, the port ranking, the edges and the counts follow."""


def kept_hosts(settings: SnapshotSettings) -> str:
    """Host filter: hosts with at least ``settings.min_host_packets`` selected packets (sum of ``w``)."""
    return f"SELECT ip FROM pairs GROUP BY ip HAVING sum(packets) >= {settings.min_host_packets}"


PORT_RANKS = (
    "SELECT dst_port, packets, row_number() OVER (ORDER BY packets DESC, dst_port ASC) AS port_rank "
    "FROM (SELECT dst_port, sum(packets) AS packets FROM pairs WHERE ip IN (SELECT ip FROM kept_hosts) "
    "GROUP BY dst_port) AS per_port"
)
"""Ports ranked by packets after the host filter; ties broken by the lower port number."""


def _fold(n: int, alias: str) -> str:
    """The ``port`` of a record or pair: its destination port when ranked in the top ``n``, else -1 (other)."""
    return f"CASE WHEN r.port_rank <= {n} THEN {alias}.dst_port ELSE -1 END AS port"


def edges(settings: SnapshotSettings) -> str:
    """The weighted bipartite graph: packets per (kept host, port), the pairs with their port folded;
    materialised as the table ``edges`` (with ``records`` for the counts)."""
    return (
        f"SELECT p.ip, {_fold(settings.top_ports, 'p')}, sum(p.packets) AS packets, sum(p.records) AS records "
        "FROM pairs AS p JOIN port_ranks AS r ON p.dst_port = r.dst_port "
        "WHERE p.ip IN (SELECT ip FROM kept_hosts) GROUP BY 1, 2"
    )


def folded(settings: SnapshotSettings) -> str:
    """Kept records with ``port`` (-1 beyond the top N) and ``sentence`` (corpus order: rank, other last)."""
    n = settings.top_ports
    return (
        f"SELECT k.ts, k.ip, k.dst_ip, {_fold(n, 'k')}, "
        f"CAST(CASE WHEN r.port_rank <= {n} THEN r.port_rank ELSE {n + 1} END AS INT) AS sentence, "
        f"k.w, {', '.join('k.' + f for f in FIELDS)} FROM selected AS k JOIN port_ranks AS r ON k.dst_port = r.dst_port "
        "WHERE k.ip IN (SELECT ip FROM kept_hosts)"
    )


COUNTS = (
    "SELECT * FROM (SELECT count(*) AS records_read, coalesce(sum(coalesce(packets, 1)), 0) AS packets_read "
    "FROM packets) AS r "
    "CROSS JOIN (SELECT coalesce(sum(packets), 0) AS packets_selected, count(DISTINCT ip) AS hosts_selected "
    "FROM pairs) AS s "
    "CROSS JOIN (SELECT count(*) AS ports_distinct FROM port_ranks) AS p "
    "CROSS JOIN (SELECT coalesce(sum(records), 0) AS records_kept, coalesce(sum(packets), 0) AS packets_kept, "
    "count(DISTINCT ip) AS hosts_kept, count(DISTINCT CASE WHEN port <> -1 THEN port END) AS ports_kept, "
    "coalesce(sum(CASE WHEN port = -1 THEN packets END), 0) AS packets_other FROM edges) AS f"
)
"""One row of day counts for meta.json (``records_*`` rows; every ``packets_*`` a sum of weights), from the
small tables (pairs, ranks, edges) rather than the records."""

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


def _record_stats(first: int) -> str:
    """sum, min, max, mean, std of each packet field over the records (columns f<first>…f<first+24>): the
    statistics over the packets when every kept record is one packet."""
    out = []
    for j, f in enumerate(FIELDS):
        c = [f"f{first + 5 * j + i:02d}" for i in range(5)]
        out.append(
            f"CAST(sum({f}) AS DOUBLE) AS {c[0]}, CAST(min({f}) AS DOUBLE) AS {c[1]}, "
            f"CAST(max({f}) AS DOUBLE) AS {c[2]}, CAST(sum({f}) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS {c[3]}, "
            f"coalesce(stddev_samp({f}), 0.0) AS {c[4]}"
        )
    return ", ".join(out)


MULTI = "SELECT * FROM folded WHERE w > 1"
"""The kept records of several packets (view ``multi``): the w − 1 packets of each beyond the record itself
are the node's *extra* packets, which the weighted statistics add to the records' own."""


def _record_sums(key: str) -> str:
    """Per ``key``, in one pass over the records (each once): ``n_r`` records, ``n_w`` packets, and per field
    the sum, min, max, mean and sum of squared deviations; and the extra packets ``n_x`` = sum(w − 1) with
    their per-field sum and mean (null without extra packets; a record of one packet adds 0 to these sums)."""
    parts = ["count(*) AS n_r", "sum(w) AS n_w", "sum(w - 1) AS n_x"]
    for f in FIELDS:
        parts.append(f"sum({f}) AS {f}_sum, min({f}) AS {f}_min, max({f}) AS {f}_max, avg({f}) AS {f}_mean, "
                     f"coalesce(var_samp({f}) * (count(*) - 1), 0.0) AS {f}_m2, sum((w - 1) * {f}) AS {f}_xsum, "
                     f"CAST(sum((w - 1) * {f}) AS DOUBLE) / nullif(sum(w - 1), 0) AS {f}_xmean")
    return f"SELECT {key}, {', '.join(parts)} FROM folded GROUP BY {key}"


def _extra_squares(key: str) -> str:
    """Per ``key``: the extra packets' sum of squared deviations from their mean, per field (a second pass, so
    the std of values near 2^32 keeps its precision, which sum(w·x²) − (sum(w·x))²/n would not)."""
    dev = ", ".join(f"sum((k.w - 1) * (k.{f} - m.{f}_xmean) * (k.{f} - m.{f}_xmean)) AS {f}_m2" for f in FIELDS)
    return f"SELECT k.{key}, {dev} FROM multi AS k JOIN m ON k.{key} = m.{key} GROUP BY k.{key}"


def _weighted_stats(first: int) -> str:
    """sum, min, max, mean, std of each packet field over the node's packets from ``m`` (records and the extra
    packets' sums) and ``x`` (the extra packets' squares): sums, means and std count a record of w packets w times (frequency weights), min and
    max are over the records, and the std's sums of squares are combined by Chan, Golub and LeVeque's
    pairwise update."""
    out = []
    for j, f in enumerate(FIELDS):
        c = [f"f{first + 5 * j + i:02d}" for i in range(5)]
        total = f"CAST(m.{f}_sum + m.{f}_xsum AS DOUBLE)"
        between = f"coalesce((m.{f}_xmean - m.{f}_mean) * (m.{f}_xmean - m.{f}_mean) * m.n_r * m.n_x / m.n_w, 0.0)"
        m2 = f"m.{f}_m2 + coalesce(x.{f}_m2, 0.0) + {between}"
        out.append(
            f"{total} AS {c[0]}, CAST(m.{f}_min AS DOUBLE) AS {c[1]}, CAST(m.{f}_max AS DOUBLE) AS {c[2]}, "
            f"{total} / m.n_w AS {c[3]}, CASE WHEN m.n_w > 1 THEN sqrt(({m2}) / (m.n_w - 1)) ELSE 0.0 END AS {c[4]}"
        )
    return ", ".join(out)


def _field_block(key: str, weighted: bool) -> tuple[str, str, str]:
    """(CTEs, select list f12…f36, joins to ``a``) of the packet-field statistics per ``key``. ``weighted``: some
    kept record stands for several packets (the table ``multi`` is not empty); a day without one (every
    per-packet source) takes the one-pass statistics over the records, which are then the packets."""
    if not weighted:
        return (f"c AS (SELECT {key}, {_record_stats(12)} FROM folded GROUP BY {key})", _columns("c", 12, 36),
                f"JOIN c ON a.{key} = c.{key}")
    ctes = f"m AS ({_record_sums(key)}), x AS ({_extra_squares(key)})"
    joins = f"JOIN m ON a.{key} = m.{key} LEFT JOIN x ON a.{key} = x.{key}"
    return ctes, _weighted_stats(12), joins


def _columns(prefix: str, first: int, last: int) -> str:
    return ", ".join(f"{prefix}.f{i:02d}" for i in range(first, last + 1))


def host_features(weighted: bool) -> str:
    """Host features f00…f36 (Table 1 order, reference-notes §2.1), one row per kept host."""
    ctes, fields, joins = _field_block("ip", weighted)
    return (
        "WITH per_port AS (SELECT ip, packets AS n FROM edges), "
        "per_address AS (SELECT ip, dst_ip, sum(w) AS n FROM folded GROUP BY ip, dst_ip), "
        f"a AS (SELECT ip, {_count_stats(0)} FROM per_port GROUP BY ip), "
        f"b AS (SELECT ip, {_count_stats(6)} FROM per_address GROUP BY ip), {ctes} "
        f"SELECT a.ip, {_columns('a', 0, 5)}, {_columns('b', 6, 11)}, {fields} "
        f"FROM a JOIN b ON a.ip = b.ip {joins} ORDER BY a.ip"
    )


def port_features(weighted: bool) -> str:
    """Port features f00…f36 (reference-notes §2.2: f06…f11 are 0-valued dummies), one row per port node."""
    ctes, fields, joins = _field_block("port", weighted)
    dummies = ", ".join(f"0.0 AS f{i:02d}" for i in range(6, 12))
    return (
        "WITH per_host AS (SELECT port, packets AS n FROM edges), "
        f"a AS (SELECT port, {_count_stats(0)} FROM per_host GROUP BY port), {ctes} "
        f"SELECT a.port, {_columns('a', 0, 5)}, {dummies}, {fields} FROM a {joins} ORDER BY a.port"
    )


CORPUS_TOKENS = "SELECT port, ip, ts FROM folded ORDER BY sentence, ts, ip"
"""i-DarkVec tokens: one per kept record (a flow record at its first packet), grouped by port (sentences in
port-rank order, ``other`` last), senders in time order within a port (ties by IP). ``corpus.drop_repeats``
then removes consecutive repeats of a sender within a sentence and turns ``ts`` into the UTC hour (a vectorised
step shared by both engines)."""

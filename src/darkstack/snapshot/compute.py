"""Compute one snapshot day on any engine: run the shared queries in order and conform the results."""

from __future__ import annotations

import pyarrow as pa

from darkstack.snapshot import queries
from darkstack.snapshot.corpus import drop_repeats
from darkstack.snapshot.settings import SnapshotSettings
from darkstack.snapshot.tables import SCHEMAS, conform, empty

COUNT_NAMES = (
    "records_read",
    "packets_read",
    "packets_selected",
    "hosts_selected",
    "records_kept",
    "packets_kept",
    "hosts_kept",
    "ports_distinct",
    "ports_kept",
    "packets_other",
)


def compute_day(engine, parquet_glob: str | None, settings: SnapshotSettings) -> tuple[dict[str, pa.Table], dict]:
    """The day's tables (edges, host_features, port_features, corpus) and counts.

    ``parquet_glob`` is None for a day without records: the tables are empty and every count is 0.
    """
    if parquet_glob is None:
        return {name: empty(name) for name in SCHEMAS}, dict.fromkeys((*COUNT_NAMES, "corpus_tokens"), 0)
    engine.register_packets(parquet_glob)
    try:
        engine.view("selected", queries.selected(settings))
        engine.materialise("pairs", queries.PAIRS)
        engine.materialise("kept_hosts", queries.kept_hosts(settings))
        engine.materialise("port_ranks", queries.PORT_RANKS)
        engine.materialise("edges", queries.edges(settings))
        counts = {k: int(v[0]) for k, v in engine.query(queries.COUNTS).to_pydict().items()}
        engine.materialise("folded", queries.folded(settings))
        weighted = counts["packets_kept"] > counts["records_kept"]  # some kept record stands for several packets
        if weighted:
            engine.view("multi", queries.MULTI)
        tables = {
            "edges": engine.query(queries.EDGES_SORTED),
            "host_features": engine.query(queries.host_features(weighted)),
            "port_features": engine.query(queries.port_features(weighted)),
        }
        tokens = engine.query(queries.CORPUS_TOKENS)
    finally:
        for name in ("folded", "edges", "port_ranks", "kept_hosts", "pairs"):
            engine.release(name)
    tables["corpus"] = drop_repeats(tokens)
    counts["corpus_tokens"] = tables["corpus"].num_rows
    return {name: conform(name, t) for name, t in tables.items()}, counts

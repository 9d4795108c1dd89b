"""DuckDB engine (the embedded default): runs the shared SQL of ``queries`` in-process."""

from __future__ import annotations

import os
import tempfile

import pyarrow as pa

from darkstack.snapshot.queries import LATER_COLUMNS


class DuckDBEngine:
    """One in-memory DuckDB connection with bounded threads and memory."""

    name = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str = "3GB"):
        import duckdb

        self.errors = (duckdb.Error,)
        self._tmp = tempfile.TemporaryDirectory(prefix="darkstack-duckdb-")
        self.con = duckdb.connect(
            ":memory:",
            config={
                "threads": threads or os.cpu_count() or 1,
                "memory_limit": memory_limit,
                "temp_directory": self._tmp.name,
                "preserve_insertion_order": False,
            },
        )

    def register_packets(self, parquet_glob: str) -> None:
        """Expose the day's canonical records as the view ``packets``."""
        path = parquet_glob.replace("'", "''")
        source = f"read_parquet('{path}', union_by_name = true)"  # parts written before a column was added lack it
        present = {row[0] for row in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        added = "".join(f", NULL::{types[0]} AS {name}" for name, types in LATER_COLUMNS.items() if name not in present)
        self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW packets AS SELECT *{added} FROM {source}")

    def view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")

    def materialise(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {name} AS {sql}")

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def release(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

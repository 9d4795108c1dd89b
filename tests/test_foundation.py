"""Foundation: schema helpers, atomic writes, store round trip, CLI error handling."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from darkstack import atomic, store
from darkstack.cli import main
from darkstack.schema import PACKET_SCHEMA, conform, int_to_ip, ip_to_int


def test_ip_round_trip():
    ips = np.array(["1.2.3.4", "255.255.255.255", "0.0.0.0", "192.168.10.1"])
    ints = ip_to_int(ips)
    assert ints.dtype == np.uint32
    assert ints[0] == (1 << 24) + (2 << 16) + (3 << 8) + 4
    assert list(int_to_ip(ints)) == list(ips)
    with pytest.raises(ValueError):
        ip_to_int(["1.2.3"])


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def _records(ts_seconds):
    n = len(ts_seconds)
    return pa.table(
        {
            "ts": pa.array(np.array(ts_seconds, dtype="int64") * 1_000_000, pa.timestamp("us", tz="UTC")),
            "src_ip": pa.array(np.arange(n, dtype=np.uint32)),
            "dst_ip": pa.array(np.full(n, 10, dtype=np.uint32)),
            "proto": pa.array(np.full(n, 6, dtype=np.uint8)),
            "dst_port": pa.array(np.full(n, 23, dtype=np.uint16)),
        }
    )


def test_store_splits_by_utc_day_and_is_idempotent(ws):
    day0 = int(dt.datetime(2021, 12, 1, tzinfo=dt.UTC).timestamp())
    table = _records([day0 + 10, day0 + 86_399, day0 + 86_400, day0 + 5])
    written = store.write_records(ws, "dk", "darknet", table, part="abc")
    assert written == {dt.date(2021, 12, 1): 3, dt.date(2021, 12, 2): 1}
    store.write_records(ws, "dk", "darknet", table, part="abc")
    day1 = store.read_day(ws, "dk", dt.date(2021, 12, 1))
    assert day1.schema == PACKET_SCHEMA
    assert day1.num_rows == 3
    assert day1.column("ts").to_pylist() == sorted(day1.column("ts").to_pylist())
    assert ws.store_days("dk") == [dt.date(2021, 12, 1), dt.date(2021, 12, 2)]
    assert ws.sensors() == {"dk": {"kind": "darknet"}}


def test_conform_rejects_missing_required_column():
    with pytest.raises(ValueError, match="src_ip"):
        conform(pa.table({"ts": pa.array([0], pa.timestamp("us", tz="UTC")), "sensor": ["a"], "sensor_kind": ["darknet"]}))


def test_cli_unknown_option_is_one_error_line(capsys):
    assert main(["--no-such-option"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_cli_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    assert "Usage" in capsys.readouterr().out

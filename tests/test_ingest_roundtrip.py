"""Acceptance: the simulator's pcap days ingest to the same records as its Parquet output."""

from __future__ import annotations

import pytest

from darkstack.ingest import ingest
from darkstack.store import read_day

simulate = pytest.importorskip("darkstack.simulate").simulate


def test_simulated_pcap_days_ingest_to_the_simulated_records(ws):
    simulate(ws, profile="demo", days=2, pcap=True, scale=0.05)
    captures = sorted((ws.truth_dir / "pcap" / "darknet").glob("*.pcap"))
    assert len(captures) == 2
    report = ingest(ws, captures, "fromcap")
    assert report.kind == "darknet" and all(not f.skipped for f in report.files)
    days = ws.store_days("darknet")
    assert days == ws.store_days("fromcap")
    for day in days:
        simulated = read_day(ws, "darknet", day).drop_columns(["sensor"])
        ingested = read_day(ws, "fromcap", day).drop_columns(["sensor"])
        assert simulated.num_rows == ingested.num_rows > 0
        for name in simulated.column_names:
            assert ingested.column(name).equals(simulated.column(name)), (day, name)

"""The pipeline on captured files: ingest steps keyed by the files, label files fingerprinted."""

from __future__ import annotations

import os

from darkstack.pipeline.config import load_config
from darkstack.pipeline.run import run_pipeline
from darkstack.simulate import simulate
from darkstack.workspace import Workspace

CONFIG = """
[workspace]
path = "ws"
[source]
type = "ingest"
[[source.ingest]]
paths = {paths}
sensor = "darknet"
kind = "darknet"
[labels]
sources = ["{labels}"]
[run]
sensors = ["darknet"]
variants = ["ds"]
scenarios = []
evaluate = false
[report]
enabled = false
"""


def test_ingest_source_reruns_only_what_changed_files_affect(tmp_path):
    captured = Workspace(tmp_path / "capture")
    simulate(captured, profile="demo", days=2, scale=0.05, seed=1, pcap=True)
    pcaps = sorted((captured.truth_dir / "pcap" / "darknet").glob("*.pcap"))
    labels = tmp_path / "labels.csv"
    labels.write_text((captured.truth_dir / "labels.csv").read_text())
    config_path = tmp_path / "darkstack.toml"
    config_path.write_text(CONFIG.format(paths=[str(p) for p in pcaps], labels=labels))
    config = load_config(config_path)

    first = run_pipeline(config).record
    assert first.ran == ["ingest:darknet", "labels", "snapshot:darknet", "embed:darknet:ds", "discover:darknet"]
    ws = Workspace(tmp_path / "ws")
    assert len(ws.snapshot_days("darknet")) == 2 and ws.labels_table.exists()

    labels.write_text(labels.read_text() + "203.0.113.7,censys,2021-12-01,2021-12-02\n")
    assert run_pipeline(config).record.ran == ["labels", "discover:darknet"]  # a label file changed: the labels and what describes them

    stat = pcaps[0].stat()
    os.utime(pcaps[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert run_pipeline(config).record.ran == first.ran  # a capture changed: everything after it

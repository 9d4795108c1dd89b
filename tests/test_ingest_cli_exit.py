"""A text file too short to hold a header ends the CLI with one error and exit 2, never an abort."""

from __future__ import annotations

import subprocess
import sys


def test_truncated_spoki_csv_exits_cleanly(tmp_path):
    bad = tmp_path / "trunc.spoki.csv"
    bad.write_bytes(b"ts|saddr|daddr|ipid|ttl|proto|sport|dport|anum|snum|options|payload|syn|ack|rst|fin|window size|prob")
    proc = subprocess.run(
        [sys.executable, "-m", "darkstack.cli", "ingest", str(bad), "-s", "dk", "--format", "spoki", "-w", str(tmp_path / "ws")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "error:" in proc.stderr and str(bad) in proc.stderr
    assert not (tmp_path / "ws" / "store" / "dk").exists()

"""Daily snapshots (stage ``snapshot``): filtered host→port graphs, the 37 node features (the DS
embedding), the i-DarkVec corpus and the stable node index, computed by one SQL definition on DuckDB
or Spark. See docs/snapshot.md."""

from darkstack.snapshot.build import build_snapshots
from darkstack.snapshot.settings import SnapshotSettings
from darkstack.snapshot.tables import Snapshot, load_day

__all__ = ["Snapshot", "SnapshotSettings", "build_snapshots", "load_day"]

"""Ingest on Spark (``ingest.engine = "spark"``, ``local[2]``) writes the embedded engine's store, manifest, token
table and snapshots, re-runs as nothing to do, and stops at a bad file with the embedded engine's one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from flow_files import write_zeek_tsv, zeek_conns
from test_ingest_tokens import TRACE

from darkstack.cli import main
from darkstack.errors import DarkstackError
from darkstack.ingest import IngestSettings, ingest
from darkstack.ingest.pcap import write_pcap
from darkstack.pipeline.config import load_config
from darkstack.pipeline.plan import build_plan
from darkstack.schema import int_to_ip
from darkstack.simulate import simulate
from darkstack.snapshot import SnapshotSettings, build_snapshots, load_day
from darkstack.store import read_day
from darkstack.workspace import Workspace



@pytest.fixture(scope="module")
def session():
    """One local[2] session for the module: every ingest call uses it (and its Python workers) and leaves it running."""
    from darkstack.snapshot.spark_engine import SparkEngine

    engine = SparkEngine(master="local[2]", app="test-ingest-spark")
    yield engine
    engine.spark.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """Two simulated days as three pcaps (one spans midnight), a Zeek conn.log, a token trace, a copy of a pcap, a
    truncated pcap, an anonymisation key, and the ingest settings of each engine (excluding one sender's /16)."""
    root = tmp_path_factory.mktemp("inputs")
    sim = Workspace(root / "sim")
    simulate(sim, profile="demo", days=2, scale=0.02, seed=3)
    first, second = (read_day(sim, "darknet", d) for d in sim.store_days("darknet"))
    a, b = int(first.num_rows * 0.6), second.num_rows // 2
    files = {name: root / name for name in ("a.pcap", "b.pcap", "bad.pcap", "c.pcap", "conn.log", "trace.csv", "copy.pcap")}
    write_pcap(first.slice(0, a), files["a.pcap"])
    write_pcap(pa.concat_tables([first.slice(a), second.slice(0, b)]), files["b.pcap"])
    write_pcap(second.slice(b), files["c.pcap"])
    write_zeek_tsv(zeek_conns(second.slice(0, 400)), files["conn.log"])
    files["trace.csv"].write_text(TRACE)
    files["copy.pcap"].write_bytes(files["a.pcap"].read_bytes())
    files["bad.pcap"].write_bytes(files["c.pcap"].read_bytes()[:60])  # the header and part of one record
    key = root / "key"
    key.write_bytes(bytes(range(32)))
    embedded = IngestSettings(exclude_sources=(f"{int_to_ip(first.column('src_ip').to_numpy()[:1])[0]}/16",))
    on_spark = embedded.model_copy(update={"engine": "spark", "spark_master": "local[2]"})
    return {"files": list(files.values()), "bad": files["bad.pcap"], "key": key, "embedded": embedded, "spark": on_spark}


def outcome(report) -> list[tuple]:
    return [(f.path, f.format, f.status, f.read, f.kept, f.events, f.skipped, f.days, f.error) for f in report.files]


def store_state(ws: Workspace) -> tuple[dict, dict]:
    """Every store file's bytes (the manifest without its ingest times), and the manifest."""
    files = {str(p.relative_to(ws.root)): p.read_bytes() for p in sorted(ws.store_dir.rglob("*"))
             if p.is_file() and p != ws.ingest_manifest}
    manifest = json.loads(ws.ingest_manifest.read_text())
    for per_sensor in manifest.values():
        for entry in per_sensor.values():
            entry.pop("ingested_at")
    return files, manifest


@pytest.fixture(scope="module")
def both(session, inputs, tmp_path_factory) -> dict:
    """The inputs ingested (keep going, anonymised, one network excluded) by each engine into its own workspace."""
    root = tmp_path_factory.mktemp("stores")
    out = {}
    for name in ("embedded", "spark"):
        ws = Workspace(root / name)
        report = ingest(ws, inputs["files"], "darknet", anonymise_key=inputs["key"], settings=inputs[name], keep_going=True)
        out[name] = (ws, report)
    return out


@pytest.mark.slow
@pytest.mark.requires("pyspark", "java")
def test_spark_writes_the_embedded_store_manifest_tokens_and_snapshots(both):
    (embedded, on_embedded), (spark, on_spark) = both["embedded"], both["spark"]
    assert outcome(on_spark) == outcome(on_embedded)
    statuses = [f.status for f in on_spark.files]
    assert statuses == ["ingested", "ingested", "failed", "ingested", "ingested", "ingested", "duplicate"]
    assert on_spark.files[0].skipped["source in an excluded network"] > 0 and set(on_spark.files[1].days) == {"2021-12-01", "2021-12-02"}
    files, manifest = store_state(spark)
    assert (files, manifest) == store_state(embedded)  # same part names and bytes, sensors.json and tokens.parquet
    assert "store/tokens.parquet" in files and sum(name.endswith(".parquet") for name in files) >= 6
    assert not (spark.store_dir / ".staging").exists()
    # one DuckDB thread: with several, float sums are added in varying order and differ in the last bits run to run
    days = [build_snapshots(ws, "darknet", settings=SnapshotSettings(top_ports=50), threads=1) for ws in (embedded, spark)]
    assert days[0] == days[1] and len(days[0]) == 3  # the two simulated days and the token trace's
    for day in days[0]:
        a, b = load_day(embedded, "darknet", day), load_day(spark, "darknet", day)
        assert a.meta["counts"] == b.meta["counts"]
        assert a.edges.equals(b.edges) and a.corpus.equals(b.corpus)
        assert a.host_features.equals(b.host_features) and a.port_features.equals(b.port_features)
    assert sum(load_day(spark, "darknet", d).meta["counts"]["hosts_kept"] for d in days[0]) > 20


@pytest.mark.slow
@pytest.mark.requires("pyspark", "java")
def test_spark_rerun_reads_nothing_and_changes_nothing(session, both, inputs):
    assert session.spark.sparkContext._jsc is not None  # the ingest calls used the module's session and left it running
    spark, _ = both["spark"]
    before = store_state(spark)
    again = ingest(spark, inputs["files"], "darknet", anonymise_key=inputs["key"], settings=inputs["spark"], keep_going=True)
    assert [f.status for f in again.files] == ["unchanged", "unchanged", "failed", "unchanged", "unchanged",
                                               "unchanged", "duplicate"]
    assert store_state(spark) == before


@pytest.mark.slow
@pytest.mark.requires("pyspark", "java")
def test_bad_file_stops_both_engines_with_the_same_line(session, inputs, tmp_path, capsys):
    files = inputs["files"][:4]  # a, b, bad, c: a and b stay ingested, c is not read
    lines, states = [], []
    for settings in (inputs["embedded"], inputs["spark"]):
        ws = Workspace(tmp_path / settings.engine)
        with pytest.raises(DarkstackError) as raised:
            ingest(ws, files, "darknet", settings=settings)
        lines.append(raised.value.line())
        states.append(store_state(ws))
    assert lines[0] == lines[1] and lines[0].startswith(f"{inputs['bad']}: truncated")
    assert states[0] == states[1] and len(states[0][1]) == 2
    codes, errors = [], []
    for engine in ("embedded", "spark"):
        ws = tmp_path / f"cli-{engine}"
        codes.append(main(["ingest", str(inputs["bad"]), "-s", "dn", "--engine", engine, "--spark-master", "local[2]",
                           "-w", str(ws)]))
        errors.append([line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")])
    assert codes == [2, 2] and errors[0] == errors[1] == [f"error: {lines[0]}", "error: 1 of 1 input files could not be read"]


def test_engine_choice_is_not_part_of_the_pipeline_step_key(tmp_path):
    """Both engines write the same store, so switching one does not make the pipeline ingest again."""
    (tmp_path / "a.pcap").write_bytes(b"\0")
    base = "[workspace]\npath = 'w'\n[source]\ntype = 'ingest'\n[[source.ingest]]\npaths = ['a.pcap']\nsensor = 'dn'\n"
    keys = []
    for extra in ("", "[ingest]\nengine = 'spark'\nspark_master = 'local[2]'\n"):
        (tmp_path / "darkstack.toml").write_text(base + extra)
        config = load_config(tmp_path / "darkstack.toml")
        step = next(s for s in build_plan(Workspace(tmp_path / "w"), config, "r") if s.name == "ingest:dn")
        keys.append(step.key({}))
    assert keys[0] == keys[1]

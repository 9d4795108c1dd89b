"""End to end on a tiny simulated world: every artefact, cached reruns, and `update` == a full run."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from darkstack.cli import main
from darkstack.embed import load_embeddings
from darkstack.pipeline.config import load_config
from darkstack.pipeline.run import run_pipeline
from darkstack.pipeline.steps import load_state
from darkstack.workspace import Workspace, day_range
from report_chromium import render_in_chromium

pytestmark = pytest.mark.slow

START = dt.date(2021, 12, 1)
DAYS = day_range(START, 6)
SENSORS = ("darknet", "honeypot")
VARIANTS = ("ds", "idarkvec", "igcngru")
SCENARIOS = ("D", "H", "DH")

# A tiny world and tiny models: the mechanics, not the papers' accuracy, are under test here.
TINY = """
[workspace]
path = "{path}"
[source.simulate]
profile = "demo"
days = 6
scale = 0.1
seed = 3
[run]
seed = 7
device = "cpu"
{run}
[embed]
hidden_dim = 16
gcn_dim = 8
embedding_dim = 8
head_dim = 8
history = 2
train_days = 3
[evaluate]
test_days = 3
min_class_hosts = 3
[stack]
test_days = 3
min_class_hosts = 3
folds = 3
{stack}
[report]
top_predictions = 20
"""


def write_config(folder, path="ws", run="", stack=""):
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "darkstack.toml"
    config.write_text(TINY.format(path=path, run=run, stack=stack))
    return config


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The whole pipeline over the 6 simulated days, run once through the CLI."""
    folder = tmp_path_factory.mktemp("full")
    config = write_config(folder)
    assert main(["run", "--config", str(config)]) == 0
    return config, Workspace(folder / "ws")


def test_full_run_writes_every_artefact(full_run):
    _, ws = full_run
    state = load_state(ws)
    expected = ["simulate", "labels"]
    for sensor in SENSORS:
        expected += [f"snapshot:{sensor}"] + [f"embed:{sensor}:{v}" for v in VARIANTS]
    expected += [f"evaluate:{s}" for s in SENSORS]
    expected += [step for sc in SCENARIOS for step in (f"stack:{sc}", f"predict:{sc}")] + [f"discover:{s}" for s in SENSORS] + [f"export:{sc}" for sc in SCENARIOS] + ["report"]
    assert state["runs"][-1]["ran"] == expected and state["runs"][-1]["skipped"] == []

    assert (ws.truth_dir / "labels.csv").exists() and (ws.truth_dir / "world.json").exists()
    assert ws.labels_table.exists()
    for sensor in SENSORS:
        assert ws.store_days(sensor) == DAYS
        assert ws.snapshot_days(sensor) == DAYS
        for variant in VARIANTS:
            assert ws.embedding_days(sensor, variant) == DAYS
            assert (ws.embedding_dir(sensor, variant) / "run.json").exists()
            ips, X = load_embeddings(ws, sensor, variant, DAYS[-1])
            active = pq.read_table(ws.snapshot_dir(sensor, DAYS[-1]) / "host_features.parquet").column("ip").to_numpy()
            assert set(ips.tolist()) == set(active.tolist()) and len(X) == len(ips)
        for day in DAYS:
            assert ws.labels_day(day).exists()
        evaluation = ws.results_dir / "evaluate" / sensor
        assert {"table.csv", "table.json", "table.md", "figure.png"} <= {p.name for p in evaluation.iterdir()}
        assert set(json.loads((evaluation / "table.json").read_text())["variants"]) == set(VARIANTS)
    for scenario in SCENARIOS:
        stacked = ws.results_dir / "stack" / scenario
        assert (stacked / "table.md").exists() and (stacked / "coefficients.png").exists()
        predicted = pq.read_table(ws.results_dir / "predict" / scenario / f"day={DAYS[-1]}.parquet")
        assert predicted.num_rows > 0 and {"ip", "predicted", "probability"} <= set(predicted.column_names)
        labelled = set(pq.read_table(ws.labels_day(DAYS[-1])).column("ip").to_pylist())
        assert not labelled & set(predicted.column("ip").to_pylist())  # only unknown hosts are predicted
        exported = ws.results_dir / "export" / scenario / f"day={DAYS[-1]}"
        assert {p.name for p in exported.iterdir()} == {"hosts.parquet", "hosts.csv", "hosts.jsonl", "misp.json", "stix.json"}
        hosts = pq.read_table(exported / "hosts.parquet", columns=["ip", "source"]).to_pandas()
        by_predict = hosts["source"] == "predicted"  # then the hosts with a ground-truth label (export.include = all)
        assert sorted(hosts["ip"][by_predict]) == sorted(predicted.column("ip").to_pylist())
        assert (~by_predict).any() and set(hosts["ip"][~by_predict]) <= labelled

    groups = json.loads((ws.results_dir / "discover" / "darknet" / f"groups-day={DAYS[-1]}.json").read_text())
    hosts = pq.read_table(ws.results_dir / "discover" / "darknet" / f"day={DAYS[-1]}.parquet")
    assert {"src_ip", "cluster", "group"} <= set(hosts.column_names) and len(groups) == len(set(hosts.column("group").drop_null().to_pylist()))

    report = ws.root / state["steps"]["report"]["outputs"][0]
    page = report.read_text()
    for section in ("summary", "overview", "evaluate", "stack", "predictions", "groups", "lookup", "settings", "timings"):
        assert f'id="{section}"' in page
    assert 'id="lookup-data"' in page
    assert "macro-f1.png" in page and (report.parent / "macro-f1.png").exists()
    config = json.loads((ws.root / "pipeline" / "config.json").read_text())
    assert config["run"]["seed"] == 7 and config["source"]["simulate"]["seed"] == 3


@pytest.mark.requires("chromium")
def test_pipeline_report_renders_in_headless_chromium(full_run, tmp_path):
    _, ws = full_run
    report = ws.root / load_state(ws)["steps"]["report"]["outputs"][0]
    dom, console = render_in_chromium(report, tmp_path)
    assert console == [] and 'data-ready="1"' in dom and 'data-broken-images="0"' in dom
    assert dom.count("<img ") >= 10 and dom.count('class="sortable') >= 10


def test_rerun_recomputes_only_what_a_changed_setting_affects(full_run):
    config_path, ws = full_run
    config = load_config(config_path)
    assert run_pipeline(config).record.ran == []  # nothing changed: nothing recomputed

    changed = config.model_copy(update={"evaluate": config.evaluate.model_copy(update={"k": 5})})
    assert run_pipeline(changed).record.ran == ["evaluate:darknet", "evaluate:honeypot", "discover:darknet", "discover:honeypot",
                                                 "export:D", "export:H", "export:DH", "report"]

    changed = changed.model_copy(update={"report": config.report.model_copy(update={"title": "renamed"})})
    record = run_pipeline(changed).record
    assert record.ran == ["report"] and len(record.skipped) == 23


def test_update_of_the_next_day_equals_the_full_run(full_run, tmp_path):
    _, full_ws = full_run
    config = write_config(tmp_path, run=f"last_day = {DAYS[-2]}\nscenarios = ['D']\nevaluate = false")
    run_pipeline(load_config(config))
    ws = Workspace(tmp_path / "ws")
    assert ws.embedding_days("darknet", "igcngru") == DAYS[:-1]

    assert main(["update", "--day", str(DAYS[-1]), "-w", str(ws.root)]) == 0
    for sensor in SENSORS:
        for variant in VARIANTS:
            assert ws.embedding_days(sensor, variant) == DAYS
            for day in DAYS:
                ips, X = load_embeddings(ws, sensor, variant, day)
                full_ips, full_X = load_embeddings(full_ws, sensor, variant, day)
                np.testing.assert_array_equal(ips, full_ips)
                np.testing.assert_array_equal(X, full_X, err_msg=f"{sensor}/{variant} {day}")
    predicted = ws.results_dir / "predict" / "D" / f"day={DAYS[-1]}.parquet"
    assert predicted.exists() and pq.read_table(predicted).num_rows > 0

"""embed(): every method end to end on tiny snapshots, outputs, incremental updates, resume, errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from embed_fixtures import write_days
from safetensors.numpy import load_file

from darkstack.cli import main
from darkstack.embed import EmbedSettings, embed, load_embeddings
from darkstack.errors import ConfigError
from darkstack.snapshot import load_day

TINY = EmbedSettings(
    hidden_dim=16, gcn_dim=8, embedding_dim=4, head_dim=4, history=2, train_days=3, max_epochs=4, keep_checkpoints=0
)


def _all(ws, variant):
    return {d: load_embeddings(ws, "darknet", variant, d) for d in ws.embedding_days("darknet", variant)}


@pytest.mark.parametrize(
    ("method", "features", "dim", "first"),
    [
        ("ds", True, 37, 0),
        ("idarkvec", True, 4, 0),
        ("gcn", True, 4, 0),
        ("igcn", False, 4, 0),
        ("gcngru", True, 4, 3),
        ("igcngru", True, 4, 0),
        ("igcngru", False, 4, 0),
    ],
)
def test_every_method_embeds_exactly_the_active_hosts(ws, method, features, dim, first):
    days = write_days(ws, n_days=4)
    written = embed(ws, "darknet", method, features=features, settings=TINY)
    assert written == days[first:]
    variant = method if features else f"{method}-nofeat"
    for day in written:
        ips, X = load_embeddings(ws, "darknet", variant, day)
        active = np.sort(load_day(ws, "darknet", day).host_features.column("ip").to_numpy())
        np.testing.assert_array_equal(ips, active)
        assert X.shape == (len(active), dim) and X.dtype == np.float32 and np.isfinite(X).all()
    run = json.loads((ws.embedding_dir("darknet", variant) / "run.json").read_text())
    assert run["method"] == method and run["seed"] == 0 and len(run["days"]) == 4
    assert all("seconds" in entry for entry in run["days"].values())


@pytest.mark.parametrize(("method", "features"), [("igcngru", True), ("igcn", False)])
def test_incremental_model_parameters_change_every_day(ws, method, features):
    days = write_days(ws, n_days=3)
    embed(ws, "darknet", method, features=features, settings=TINY)
    variant = method if features else f"{method}-nofeat"
    weights = [load_file(str(ws.model_dir("darknet", variant, d) / "weights.safetensors")) for d in days]
    for before, after in itertools.pairwise(weights):
        for name, value in before.items():
            if name.startswith("model.") and value.dtype.kind == "f" and "table" not in name:
                assert not np.array_equal(value, after[name]), name
        assert after["optimizer.0.step"] > before["optimizer.0.step"]


@pytest.mark.parametrize(
    ("method", "features"), [("igcngru", True), ("igcn", False), ("idarkvec", True), ("gcngru", True), ("gcn", True)]
)
def test_resume_after_a_crash_gives_identical_embeddings(ws, tmp_path, monkeypatch, method, features):
    from darkstack.embed import runner
    from darkstack.workspace import Workspace

    variant = method if features else f"{method}-nofeat"
    other = Workspace(tmp_path / "other")
    days = write_days(ws, n_days=5)
    write_days(other, n_days=5)
    embed(other, "darknet", method, features=features, settings=TINY, seed=3)
    reference = _all(other, variant)

    real_write = runner.write_embeddings

    def crash_on_day_4(ws_, sensor, variant_, day, ips, X):
        if day == days[3]:
            raise RuntimeError("simulated crash")
        real_write(ws_, sensor, variant_, day, ips, X)

    embed(ws, "darknet", method, features=features, settings=TINY, seed=3, until=days[2])
    monkeypatch.setattr(runner, "write_embeddings", crash_on_day_4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        embed(ws, "darknet", method, features=features, settings=TINY, seed=3)
    monkeypatch.setattr(runner, "write_embeddings", real_write)
    resumed_days = embed(ws, "darknet", method, features=features, settings=TINY, seed=3)
    assert resumed_days == days[3:]
    resumed = _all(ws, variant)
    assert resumed.keys() == reference.keys()
    for day, (ips, X) in reference.items():
        np.testing.assert_array_equal(resumed[day][0], ips)
        np.testing.assert_array_equal(resumed[day][1], X)


def test_rerun_is_idempotent_and_settings_change_recomputes(ws):
    days = write_days(ws, n_days=3)
    assert embed(ws, "darknet", "igcn", settings=TINY) == days
    first = _all(ws, "igcn")
    assert embed(ws, "darknet", "igcn", settings=TINY) == []
    changed = TINY.model_copy(update={"incremental_epochs": 2})
    assert embed(ws, "darknet", "igcn", settings=changed) == days
    assert not np.array_equal(_all(ws, "igcn")[days[-1]][1], first[days[-1]][1])
    # Operational settings do not invalidate the run.
    assert embed(ws, "darknet", "igcn", settings=changed.model_copy(update={"keep_checkpoints": 1})) == []


def test_checkpoints_are_pruned_to_the_newest(ws):
    days = write_days(ws, n_days=4)
    embed(ws, "darknet", "igcngru", settings=TINY.model_copy(update={"keep_checkpoints": 2}))
    kept = sorted(p.name for p in ws.model_dir("darknet", "igcngru").iterdir())
    assert kept == [f"day={d}" for d in days[-2:]]


def test_reference_compat_gcngru_leaves_the_target_day_out(ws):
    write_days(ws, n_days=4)
    compat = TINY.model_copy(update={"reference_compat": True})
    embed(ws, "darknet", "gcngru", settings=TINY, variant="a")
    embed(ws, "darknet", "gcngru", settings=compat, variant="b")
    (day,) = ws.embedding_days("darknet", "a")
    assert not np.allclose(load_embeddings(ws, "darknet", "a", day)[1], load_embeddings(ws, "darknet", "b", day)[1])


def test_bad_requests_are_clear_errors(ws):
    with pytest.raises(ConfigError, match="no snapshot days"):
        embed(ws, "darknet", "igcn")
    write_days(ws, n_days=2)
    with pytest.raises(ConfigError, match="unknown method"):
        embed(ws, "darknet", "word2vec")
    with pytest.raises(ConfigError, match="GNN methods only"):
        embed(ws, "darknet", "ds", features=False)
    with pytest.raises(ConfigError, match="first 3 days"):
        embed(ws, "darknet", "gcngru", settings=TINY)


def test_cli_embed(ws, capsys):
    days = write_days(ws, n_days=2)
    assert main(["embed", "-w", str(ws.root), "--method", "ds", "--until", str(days[0])]) == 0
    assert ws.embedding_days("darknet", "ds") == days[:1]
    assert main(["embed", "-w", str(ws.root), "--method", "igcngru", "--history", "-1"]) == 2
    assert "history" in capsys.readouterr().err

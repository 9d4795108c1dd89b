"""darkstack study on a tiny simulated workspace (real simulate → snapshot → labels → embed chain)."""

from __future__ import annotations

import datetime as dt

import pytest

from darkstack.errors import DarkstackError
from darkstack.evaluate import EvalSettings, study


@pytest.fixture(scope="module")
def tiny_ws(tmp_path_factory):
    from darkstack.labels import build_labels
    from darkstack.simulate import simulate
    from darkstack.snapshot import build_snapshots
    from darkstack.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("study") / "ws")
    simulate(ws, days=4, start=dt.date(2021, 12, 1), scale=0.03)
    build_snapshots(ws, "darknet", threads=1)
    build_labels(ws, [ws.truth_dir / "labels.csv"])
    return ws


def test_history_study_writes_one_row_per_value(tiny_ws):
    from darkstack.embed import EmbedSettings

    small = EmbedSettings(embedding_dim=8, hidden_dim=16, gcn_dim=8, head_dim=8, max_epochs=2, train_days=2)
    frame = study(tiny_ws, "darknet", "history", [0, 1], EvalSettings(test_days=2, train_days=2, min_class_hosts=3),
                  embed_settings=small, device="cpu")
    assert frame["history"].tolist() == [0, 1]
    assert frame["variant"].tolist() == ["igcngru-H0", "igcngru-H1"]
    assert ((frame["f1"] >= 0) & (frame["f1"] <= 1)).all() and (frame["days"] == 2).all()
    assert (frame["f1min"] <= frame["f1"]).all() and (frame["f1"] <= frame["f1max"]).all()
    out = tiny_ws.results_dir / "study" / "darknet"
    assert all((out / f"history.{ext}").stat().st_size > 0 for ext in ("csv", "json", "png"))
    assert tiny_ws.embedding_days("darknet", "igcngru-H1")


def test_unknown_study_kind_is_an_error(tiny_ws):
    from darkstack.cli import main

    with pytest.raises(DarkstackError, match="study kind"):
        study(tiny_ws, "darknet", "layers")
    assert main(["study", "layers", "-w", str(tiny_ws.root)]) == 2
    assert main(["study", "history", "--values", "1,x", "-w", str(tiny_ws.root)]) == 2


def test_epochs_study_sets_the_incremental_epochs(tiny_ws):
    import json

    from darkstack.embed import EmbedSettings

    small = EmbedSettings(embedding_dim=8, hidden_dim=16, gcn_dim=8, head_dim=8, max_epochs=2, train_days=2)
    frame = study(tiny_ws, "darknet", "epochs", [2], EvalSettings(test_days=2, train_days=2, min_class_hosts=3),
                  embed_settings=small, device="cpu")
    assert frame["variant"].tolist() == ["igcngru-e2"]
    run = json.loads((tiny_ws.embedding_dir("darknet", "igcngru-e2") / "run.json").read_text())
    assert run["settings"]["incremental_epochs"] == 2

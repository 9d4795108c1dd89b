"""darkstack evaluate on hand-made workspaces where the right answer is known."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embed_fixtures import ProgressRecorder

from darkstack import atomic, skips
from darkstack.cli import NOTHING_COMPUTED, main
from darkstack.evaluate import EvalSettings, evaluate
from darkstack.evaluate.classify import (
    class_vocabulary,
    classify,
    fold_small_classes,
    predictions_path,
)
from darkstack.evaluate.metrics import MACRO, day_scores, summarise
from darkstack.schema import UNKNOWN

DAYS = [dt.date(2021, 12, 1) + dt.timedelta(days=i) for i in range(3)]
EVERY_DAY = EvalSettings(train_days=0)  # score all three days (the default split keeps one test day of three)


def write_embeddings(ws, sensor, variant, day, ips, X):
    X = np.asarray(X, dtype=np.float32)
    emb = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel(), pa.float32()), X.shape[1])
    atomic.write_parquet(ws.embedding_path(sensor, variant, day), pa.table({"ip": pa.array(ips, pa.uint32()), "embedding": emb}))


def write_labels(ws, day, labels: dict[int, str]):
    table = pa.table({
        "ip": pa.array(list(labels), pa.uint32()),
        "label": pa.array(list(labels.values()), pa.string()),
        "source": pa.array(["test"] * len(labels), pa.string()),
    })
    atomic.write_parquet(ws.labels_day(day), table)


def write_label_table(ws, names):
    atomic.write_parquet(ws.labels_table, pa.table({"network": [f"10.0.0.{i}/32" for i in range(len(names))],
                                                    "label": list(names)}))


def make_day(ws, day, seed, variant="ds", sizes=None, noise=0.05):
    """Three well-separated classes (mirai, censys, shodan) and unknown hosts spread elsewhere."""
    sizes = sizes or {"mirai": 30, "censys": 15, "shodan": 12, "driftnet": 5, UNKNOWN: 20}
    rng = np.random.default_rng(seed)
    ips, X, labels = [], [], {}
    ip = 1000
    for axis, (label, n) in enumerate(sizes.items()):
        centre = np.zeros(8)
        centre[axis] = 10.0
        for _ in range(n):
            ip += 1
            ips.append(ip)
            X.append(centre + noise * rng.standard_normal(8))
            if label != UNKNOWN:
                labels[ip] = label
    write_embeddings(ws, "darknet", variant, day, ips, X)
    write_labels(ws, day, labels)
    return np.array(ips), labels


@pytest.fixture
def easy_ws(ws):
    for i, day in enumerate(DAYS):
        make_day(ws, day, seed=i)
    write_label_table(ws, ["mirai", "censys", "shodan", "driftnet"])
    ws.register_sensor("darknet", "darknet")
    return ws


def test_separable_classes_score_one_and_unknown_is_never_scored(easy_ws):
    result = evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    assert result.days == DAYS
    assert set(result.per_day["label"]) == {"mirai", "censys", "shodan", MACRO}  # no unknown, driftnet folded
    assert (result.per_day["f1"] == 1.0).all()
    assert result.macro("ds") == (1.0, 0.0)
    support = result.summary.set_index("label")["support"]
    assert support["mirai"] == 90 and support["censys"] == 45 and support[MACRO] == 3 * (30 + 15 + 12)
    hosts = pq.read_table(predictions_path(easy_ws, "darknet", "ds", DAYS[0])).to_pandas()
    assert len(hosts) == 30 + 15 + 12 + 5 + 20
    assert (hosts.loc[hosts["ip"].between(1058, 1062), "label"] == UNKNOWN).all()  # driftnet (5 hosts) folded
    p = hosts[[c for c in hosts.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(p.sum(axis=1), 1.0) and np.allclose(p * 3, np.round(p * 3))
    out = easy_ws.results_dir / "evaluate" / "darknet"
    for name in ("table.csv", "table.json", "table.md", "days.csv", "figure.png"):
        assert (out / name).stat().st_size > 0
    md = (out / "table.md").read_text()
    assert md.index("Mirai-like") < md.index("Censys") < md.index("Shodan") < md.index("Macro avg.")


def test_rerun_is_idempotent_and_reuses_predictions(easy_ws):
    evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    path = predictions_path(easy_ws, "darknet", "ds", DAYS[1])
    first, mtime = path.read_bytes(), path.stat().st_mtime_ns
    table_md = (easy_ws.results_dir / "evaluate" / "darknet" / "table.md").read_text()
    evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == first
    assert (easy_ws.results_dir / "evaluate" / "darknet" / "table.md").read_text() == table_md
    evaluate(easy_ws, "darknet", ["ds"], EvalSettings(min_class_hosts=5, train_days=0))  # other settings: recomputed
    assert path.stat().st_mtime_ns != mtime


def test_folding_threshold_is_an_option(easy_ws):
    result = evaluate(easy_ws, "darknet", ["ds"], EvalSettings(min_class_hosts=5, test_days=2, train_days=0))
    assert result.days == DAYS[1:]
    assert "driftnet" in set(result.per_day["label"])
    assert fold_small_classes(np.array(["a"] * 10 + ["b"] * 11 + [UNKNOWN]), 11).tolist() == [UNKNOWN] * 10 + ["b"] * 11 + [UNKNOWN]


def test_unknown_prediction_is_wrong_for_a_labelled_host():
    # Host 0 (mirai) sits among unknown hosts: its neighbours vote unknown, a miss for mirai.
    X = np.array([[1, 0], [1, 0.01], [1, 0.02], [1, 0.03], [0, 1], [0.01, 1], [0.02, 1], [0.03, 1]], dtype=float)
    labels = np.array(["mirai", UNKNOWN, UNKNOWN, UNKNOWN, "mirai", "mirai", "mirai", "mirai"], dtype=object)
    classes = class_vocabulary({"mirai"})
    _, predicted = classify(X, labels, classes, EvalSettings(standardise=False))
    assert predicted[0] == UNKNOWN and predicted[4] == "mirai"
    scores = day_scores(labels[labels != UNKNOWN], predicted[labels != UNKNOWN]).set_index("label")
    assert scores.loc["mirai", "recall"] == pytest.approx(4 / 5) and scores.loc["mirai", "precision"] == 1.0


def test_tie_rule_nearest_versus_alphabetical():
    # Host 0's three neighbours are one shodan (nearest), one censys, one unknown: a 1-1-1 tie.
    X = np.array([[1, 0, 0], [1, 0.1, 0], [1, 0, 0.2], [1, 0.3, 0.3], [-1, 0, 0], [-1, 0.1, 0], [-1, 0, 0.1]])
    labels = np.array(["mirai", "shodan", "censys", UNKNOWN, "x", "x", "x"], dtype=object)
    classes = class_vocabulary({"mirai", "shodan", "censys", "x"})
    _, nearest = classify(X, labels, classes, EvalSettings(standardise=False))
    _, alphabetical = classify(X, labels, classes, EvalSettings(standardise=False, tie_rule="alphabetical"))
    assert nearest[0] == "shodan" and alphabetical[0] == "censys"


def test_day_scores_match_scikit_learn_and_macro_uses_classes_present():
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(5)
    true = rng.choice(["a", "b", "c"], 200)
    predicted = rng.choice(["a", "b", "d", UNKNOWN], 200)
    scores = day_scores(true, predicted).set_index("label")
    p, _, f, _ = precision_recall_fscore_support(true, predicted, labels=["a", "b", "c"], zero_division=0)
    assert np.allclose(scores.loc[["a", "b", "c"], "f1"], f) and np.allclose(scores.loc[["a", "b", "c"], "precision"], p)
    assert scores.loc[MACRO, "f1"] == pytest.approx(f.mean())
    assert list(day_scores(np.array(["a", "a"]), np.array(["a", "b"]))["label"]) == ["a", MACRO]  # b absent: not averaged


def test_summary_std_is_sample_std_over_days_where_the_class_is_present():
    per_day = pd.DataFrame([
        ("v", "d1", "a", 1, 1, 1.0, 10), ("v", "d2", "a", 1, 1, 0.5, 10), ("v", "d3", "a", 1, 1, 0.6, 10),
        ("v", "d1", "b", 1, 1, 0.2, 5),  ("v", "d3", "b", 1, 1, 0.4, 5),
        ("v", "d1", MACRO, 1, 1, 0.6, 15), ("v", "d2", MACRO, 1, 1, 0.5, 10), ("v", "d3", MACRO, 1, 1, 0.5, 15),
    ], columns=["variant", "day", "label", "precision", "recall", "f1", "support"])
    summary = summarise(per_day).set_index("label")
    assert summary.loc["a", "f1_mean"] == pytest.approx(0.7) and summary.loc["a", "f1_std"] == pytest.approx(np.std([1, .5, .6], ddof=1))
    assert summary.loc["b", "days"] == 2 and summary.loc["b", "f1_mean"] == pytest.approx(0.3)
    assert summary.loc[MACRO, "f1_std"] == pytest.approx(np.std([0.6, 0.5, 0.5], ddof=1))
    assert summary.loc[MACRO, "support"] == 40


def test_halves_layout_and_cli(easy_ws, capsys):
    for i, day in enumerate(DAYS):
        make_day(easy_ws, day, seed=10 + i, variant="igcngru", noise=4.0)
        make_day(easy_ws, day, seed=20 + i, variant="igcngru-nofeat", noise=8.0)
    assert main(["evaluate", "-w", str(easy_ws.root), "-s", "darknet"]) == 0
    md = (easy_ws.results_dir / "evaluate" / "darknet" / "table.md").read_text()
    header = md.splitlines()[2]
    assert header.index("DS") < header.index("i-GCN-GRU (no feat.)") < header.index("i-GCN-GRU (feat.)")


def test_missing_embeddings_is_a_skip_naming_the_variant(easy_ws, capsys):
    with pytest.raises(skips.StageSkipped, match="darkstack embed"):
        evaluate(easy_ws, "darknet", ["idarkvec"])
    assert main(["evaluate", "-w", str(easy_ws.root), "-s", "darknet", "--variant", "gcn"]) == NOTHING_COMPUTED
    err = capsys.readouterr().err
    assert "evaluate sensor darknet, variant gcn: no embeddings" in err and "Traceback" not in err


def test_faiss_search_gives_the_same_scores(easy_ws):
    exact = evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    for day in DAYS:  # the search method is not part of the cache key: drop the cached predictions
        predictions_path(easy_ws, "darknet", "ds", day).unlink()
    faiss = evaluate(easy_ws, "darknet", ["ds"], EvalSettings(exact_max=0, train_days=0))
    pd.testing.assert_frame_equal(exact.per_day, faiss.per_day)


def test_an_approximate_search_is_recorded_so_it_never_reuses_exact_predictions(easy_ws):
    evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    path = predictions_path(easy_ws, "darknet", "ds", DAYS[0])

    def recorded():
        return json.loads(pq.read_schema(path).metadata[b"darkstack.evaluate"])
    assert "search" not in recorded()
    approx = evaluate(easy_ws, "darknet", ["ds"], EvalSettings(train_days=0, search="hnsw"))
    assert recorded()["search"] == "hnsw"
    assert (approx.per_day["f1"] == 1.0).all()
    evaluate(easy_ws, "darknet", ["ds"], EvalSettings(train_days=0, search="auto", approx_above=10))  # 70 hosts > 10
    assert recorded()["search"] == "ivf"
    evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    assert "search" not in recorded()


def test_an_unknown_search_is_one_line_naming_the_option(easy_ws, capsys):
    for command in ("evaluate", "stack"):
        assert main([command, "-w", str(easy_ws.root), "--search", "annoy"]) == 2
        err = capsys.readouterr().err
        assert "--search: Input should be 'auto', 'exact', 'ivf' or 'hnsw'" in err and "Traceback" not in err


def test_a_variant_missing_a_test_day_is_left_out_with_a_skip_not_a_shift(easy_ws):
    for day in DAYS[:2]:
        make_day(easy_ws, day, seed=3, variant="idarkvec")
    with skips.collect() as found:
        result = evaluate(easy_ws, "darknet", ["ds", "idarkvec"], EVERY_DAY)
    assert result.variants == ["ds"] and result.days == DAYS
    assert [s.line() for s in found] == ["evaluate sensor darknet, variant idarkvec, 2021-12-03: no embeddings on 1 of the 3 test days"]
    assert main(["evaluate", "-w", str(easy_ws.root), "-s", "darknet"]) == 0  # idarkvec left out
    assert "i-DarkVec" not in (easy_ws.results_dir / "evaluate" / "darknet" / "table.md").read_text()


@pytest.mark.parametrize(
    ("n_days", "test_days", "train_days", "expected"),
    [(31, 11, 20, 11), (40, 11, 20, 11), (30, 11, 20, 11), (12, 11, 20, 4), (5, 11, 20, 2), (3, 11, 20, 1),
     (1, 11, 20, 1), (0, 11, 20, 0), (3, 11, 0, 3), (40, 11, 0, 11), (31, 20, 20, 16)],
)
def test_split_of_days_keeps_the_papers_ratio_when_days_are_few(n_days, test_days, train_days, expected):
    from darkstack.evaluate.split import count_test_days, pick_test_days

    assert count_test_days(n_days, test_days, train_days) == expected
    days = [dt.date(2021, 12, 1) + dt.timedelta(days=i) for i in range(n_days)]
    assert pick_test_days(reversed(days), test_days, train_days) == days[n_days - expected:]


def test_few_days_score_the_last_ones_and_tables_say_how_many(ws):
    days = [dt.date(2021, 12, 1) + dt.timedelta(days=i) for i in range(12)]
    for i, day in enumerate(days):
        make_day(ws, day, seed=i)
    write_label_table(ws, ["mirai", "censys", "shodan", "driftnet"])
    result = evaluate(ws, "darknet", ["ds"])
    assert result.days == days[-4:]
    out = ws.results_dir / "evaluate" / "darknet"
    assert "4 test days 2021-12-09 … 2021-12-12" in (out / "table.md").read_text()
    assert "over the 4 test days scored" in (out / "table.md").read_text()
    assert json.loads((out / "table.json").read_text())["test_days_scored"] == 4


def test_one_test_day_shows_std_as_na_never_nan(easy_ws, caplog):
    with caplog.at_level("INFO"):
        result = evaluate(easy_ws, "darknet", ["ds"])  # 3 days: one test day
    assert result.days == DAYS[-1:]
    out = easy_ws.results_dir / "evaluate" / "darknet"
    md = (out / "table.md").read_text()
    assert "1.00±n/a" in md and "nan" not in md.lower() and "standard deviation of one day is undefined" in md
    table = json.loads((out / "table.json").read_text())
    assert all(row["f1_std"] is None for row in table["summary"])
    assert "variant ds: macro F1 1.000 ± n/a over 1 test day" in caplog.text and "nan" not in caplog.text
    csv = pd.read_csv(out / "table.csv")
    assert csv["ds_std"].isna().all()


def test_a_sensor_without_a_large_class_is_a_skip_and_the_others_are_evaluated(easy_ws, capsys):
    easy_ws.register_sensor("honeypot", "honeypot")
    rng = np.random.default_rng(9)
    for day in DAYS:  # honeypot hosts: all unlabelled
        write_embeddings(easy_ws, "honeypot", "ds", day, np.arange(5001, 5031), rng.standard_normal((30, 8)))
    assert main(["evaluate", "-w", str(easy_ws.root)]) == 0
    err = capsys.readouterr().err
    assert ("evaluate sensor honeypot, 2021-12-03: no labelled class reaches 11 hosts "
            "(change: --min-class-hosts / evaluate.min_class_hosts)") in " ".join(err.split())
    assert (easy_ws.results_dir / "evaluate" / "darknet" / "table.md").exists()
    assert not (easy_ws.results_dir / "evaluate" / "honeypot" / "table.md").exists()
    assert main(["evaluate", "-w", str(easy_ws.root), "-s", "honeypot"]) == NOTHING_COMPUTED


def test_progress_names_sensor_variant_and_day(easy_ws, monkeypatch):
    from darkstack.evaluate import run

    progress = ProgressRecorder().install(monkeypatch, run)
    evaluate(easy_ws, "darknet", ["ds"], EVERY_DAY)
    assert progress.descriptions == ["evaluate sensor darknet"]
    assert progress.statuses == [f"variant ds, {d}" for d in DAYS]

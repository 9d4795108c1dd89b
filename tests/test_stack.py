"""Stacking: folds, undersampling, leakage, naive ties, coefficients, scenarios and bad configurations."""

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
from darkstack.errors import DarkstackError
from darkstack.evaluate.knn import neighbours, standardise
from darkstack.schema import UNKNOWN
from darkstack.stack import StackSettings, predict, stack
from darkstack.stack.bases import Base, resolve_scenario
from darkstack.stack.explain import (
    coefficient_table,
    own_class_coefficients,
    sensor_coefficients,
)
from darkstack.stack.meta import (
    assign_folds,
    fit_meta,
    stacked_probabilities,
    undersample_unknown,
)
from darkstack.stack.naive import naive_vote
from darkstack.stack.neighbourhood import NeighbourLists

DAYS = [dt.date(2022, 10, 1) + dt.timedelta(days=i) for i in range(2)]
VARIANTS = ("ds", "idarkvec", "igcngru")
SIZES = {"mirai": 60, "censys": 25, "shodan": 20, "driftnet": 15, UNKNOWN: 50}
EVERY_DAY = StackSettings(train_days=0)  # stack both days (the default split keeps one test day of two)


# --- a small synthetic world: each base separates some classes well and confuses others ---------
def write_embeddings(ws, sensor, variant, day, ips, X):
    X = np.asarray(X, dtype=np.float32)
    emb = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel(), pa.float32()), X.shape[1])
    atomic.write_parquet(ws.embedding_path(sensor, variant, day), pa.table({"ip": pa.array(ips, pa.uint32()), "embedding": emb}))


def write_labels(ws, day, ips, labels):
    keep = labels != UNKNOWN
    table = pa.table({
        "ip": pa.array(ips[keep], pa.uint32()),
        "label": pa.array(labels[keep].tolist(), pa.string()),
        "source": pa.array(["test"] * int(keep.sum()), pa.string()),
    })
    atomic.write_parquet(ws.labels_day(day), table)


def population(sizes=SIZES, first_ip=10_000):
    labels = np.concatenate([[c] * n for c, n in sizes.items()]).astype(object)
    return np.arange(first_ip, first_ip + len(labels), dtype=np.uint32), labels


def write_sensor(ws, sensor, kind, ips, labels, seed, days=DAYS, variants=VARIANTS):
    """Class centres per base; base i blurs class i % 4 into its neighbour, so the bases complement each other."""
    ws.register_sensor(sensor, kind)
    classes = list(SIZES)
    for d, day in enumerate(days):
        rng = np.random.default_rng([seed, d])
        for v, variant in enumerate(variants):
            centres = np.eye(len(classes), 8) * 4.0
            blurred = v % (len(classes) - 1)
            centres[blurred] = centres[blurred + 1] * 0.9
            X = np.array([centres[classes.index(c)] for c in labels]) + rng.standard_normal((len(ips), 8))
            write_embeddings(ws, sensor, variant, day, ips, X)


@pytest.fixture
def world(ws):
    ips, labels = population()
    write_sensor(ws, "darknet", "darknet", ips, labels, seed=1)
    write_sensor(ws, "honeypot", "honeypot", ips[40:], labels[40:], seed=2)  # shares hosts 40.. with the darknet
    for day in DAYS:
        write_labels(ws, day, ips, labels)
    return ws


# --- unit tests -----------------------------------------------------------------------------------
def test_folds_are_stratified_and_balanced():
    codes = np.repeat([0, 1, 2, 3], [57, 23, 14, 40])
    scored = codes != 3
    folds = assign_folds(codes, scored, 10, np.random.default_rng(0))
    assert (folds[~scored] == -1).all() and (folds[scored] >= 0).all()
    for c in range(3):
        per_fold = np.bincount(folds[codes == c], minlength=10)
        assert per_fold.max() - per_fold.min() <= 1
    sizes = np.bincount(folds[scored], minlength=10)
    assert sizes.max() - sizes.min() <= 1
    assert (assign_folds(codes, scored, 10, np.random.default_rng(0)) == folds).all()


def test_unknown_undersampled_to_third_largest_class():
    codes = np.repeat([0, 1, 2, 3, 4], [50, 30, 12, 8, 100])  # 4 = unknown
    rows = undersample_unknown(np.arange(len(codes)), codes, 4, 3, np.random.default_rng(0))
    kept = np.bincount(codes[rows], minlength=5)
    assert kept.tolist() == [50, 30, 12, 8, 12]
    assert len(np.unique(rows)) == len(rows)
    few = np.repeat([0, 1, 4], [5, 3, 40])
    rows = undersample_unknown(np.arange(len(few)), few, 4, 3, np.random.default_rng(0))
    assert np.bincount(few[rows], minlength=5)[4] == 3  # fewer classes than the rank: the smallest sets the size


def test_naive_vote_majority_and_reproducible_random_ties():
    votes = np.array([[0, 0, 1], [2, 1, 2]] + [[0, 1, 2]] * 300)
    a = naive_vote(votes, 3, np.random.default_rng(7))
    b = naive_vote(votes, 3, np.random.default_rng(7))
    c = naive_vote(votes, 3, np.random.default_rng(8))
    assert a[0] == 0 and a[1] == 2
    assert (a == b).all() and (a != c).any()
    assert set(np.bincount(a[2:], minlength=3) > 60) == {True}  # every tied class is drawn


def test_restricted_neighbours_match_a_direct_search_and_never_leak_the_test_fold():
    rng = np.random.default_rng(3)
    X = standardise(rng.standard_normal((300, 6)))
    codes = rng.integers(0, 4, 300)
    folds = assign_folds(codes, codes != 3, 10, rng)
    test = folds == 4
    for margin in (13, 0):  # margin 0 forces the direct search for most hosts
        nl = NeighbourLists(X, 3, margin)
        got = nl.within(~test)
        assert (got == neighbours(X, 3, pool=~test)).all()
        assert not test[got].any()
    lists = [NeighbourLists(X, 3, 13), NeighbourLists(X[:, ::-1].copy(), 3, 13)]
    before = stacked_probabilities(lists, codes, 4, pool=~test)
    flipped = codes.copy()
    flipped[test] = (flipped[test] + 1) % 3  # change every test host's label
    after = stacked_probabilities(lists, flipped, 4, pool=~test)
    assert np.array_equal(before, after)  # no test-fold label reaches any feature of that round


def test_coefficient_tables_name_classes_and_bases():
    rng = np.random.default_rng(0)
    classes = ["mirai", "censys", "shodan", UNKNOWN]
    codes = rng.integers(0, 4, 400)
    features = np.hstack([np.eye(4)[codes] * 0.7 + rng.random((400, 4)) * 0.3 for _ in range(3)])
    model = fit_meta(features, codes, 4, StackSettings())
    bases = [Base("darknet", "ds", "D"), Base("darknet", "idarkvec", "D"), Base("honeypot", "igcngru", "H")]
    table = coefficient_table(model, classes, bases)
    assert len(table) == 4 * (3 * 4 + 1)
    assert set(table["class"]) == set(classes)
    assert set(table["base"]) - {""} == {"darknet:ds", "darknet:idarkvec", "honeypot:igcngru"}
    own = own_class_coefficients(table)
    assert own.shape == (4, 3) and list(own.columns) == ["DS_D", "Text_D", "Graph_H"]
    assert (own.to_numpy() > 0).all()  # each class's own probability pushes towards it
    assert list(sensor_coefficients(table).columns) == ["darknet", "honeypot"]
    assert np.allclose(model.predict_proba(features).sum(axis=1), 1.0)


def test_duplicate_rows_merged_give_the_same_fit():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, 300)
    features = np.round(np.eye(3)[codes] * 0.6 + rng.random((300, 3)) * 0.4, 1)
    merged = fit_meta(features, codes, 3, StackSettings())
    from sklearn.linear_model import LogisticRegression

    plain = LogisticRegression(C=1.0, max_iter=1000).fit(features, codes)
    assert np.allclose(merged.coef, plain.coef_, atol=1e-3)


# --- scenarios on a workspace ---------------------------------------------------------------------
def test_scenario_d_writes_every_table_and_is_idempotent(world):
    result = stack(world, "D", EVERY_DAY, seed=0)
    assert result.days == DAYS and result.methods == ["DS", "Text", "Graph", "Naive", "ML"]
    summary = result.summary.set_index(["method", "class"])
    assert summary.loc[("ML", "macro"), "f1_mean"] >= summary.loc[("DS", "macro"), "f1_mean"] - 0.05
    assert summary.loc[("ML", "macro"), "f1_mean"] > 0.8
    out = result.out_dir
    for name in ("table.md", "table.csv", "table.json", "daily.csv", "run.json", "coefficients.csv",
                 "coefficients_own.csv", "coefficients.png", "confusion/ML.csv", "confusion/ML_norm.csv",
                 "confusion/ML.png", "confusion/Naive.csv", f"hosts/day={DAYS[-1]}.parquet"):
        assert (out / name).exists(), name
    assert (world.results_dir / "stack" / "summary.md").exists()
    hosts = pq.read_table(out / f"hosts/day={DAYS[-1]}.parquet").to_pandas()
    assert len(hosts) == sum(n for c, n in SIZES.items() if c != UNKNOWN)
    assert {"contrib_DS", "contrib_Text", "contrib_Graph", "ML", "Naive"} <= set(hosts.columns)
    again = stack(world, "D", StackSettings(figures=False, train_days=0), seed=0)
    pd.testing.assert_frame_equal(result.daily, again.daily)


def test_scenario_dh_scores_exactly_the_shared_hosts(world):
    result = stack(world, "DH", StackSettings(folds=5, figures=False, train_days=0), seed=0)
    assert result.methods[-3:] == ["ML_D", "ML_H", "ML_DH"] and len(result.bases) == 6
    hosts = pq.read_table(result.out_dir / f"hosts/day={DAYS[0]}.parquet").to_pandas()
    ips, labels = population()
    shared = ips[40:][labels[40:] != UNKNOWN]
    assert sorted(hosts["ip"]) == sorted(shared.tolist())
    macro = result.daily[result.daily["class"] == "macro"]
    assert macro.groupby("day")["support"].nunique().eq(1).all()  # every method on the same hosts
    assert (result.out_dir / "coefficients_sensor.csv").exists()
    sensor = pd.read_csv(result.out_dir / "coefficients_sensor.csv", index_col=0)
    assert list(sensor.columns) == ["darknet", "honeypot"]


def test_custom_scenario_and_naming(world):
    sc = resolve_scenario(world, "darknet:ds,honeypot:idarkvec", StackSettings())
    assert [b.display for b in sc.bases] == ["DS_darknet", "Text_honeypot"]
    assert list(sc.meta_groups) == ["ML_darknet", "ML_honeypot", "ML"]
    with pytest.raises(DarkstackError):
        resolve_scenario(world, "darknet-ds", StackSettings())


def test_missing_base_day_is_skipped_with_a_reason(world):
    world.embedding_path("darknet", "idarkvec", DAYS[0]).unlink()
    with skips.collect() as found:
        result = stack(world, "D", StackSettings(folds=3, figures=False, train_days=0))
    assert result.days == [DAYS[1]]
    assert "darknet:idarkvec" in result.skipped[str(DAYS[0])]
    assert [s.line() for s in found] == ["stack scenario D, 2022-10-01: no embeddings of darknet:idarkvec; day(s) left out"]


def test_no_shared_hosts_is_a_skip_naming_scenario_day_and_reason(ws, capsys):
    ips, labels = population()
    write_sensor(ws, "darknet", "darknet", ips, labels, seed=1, days=DAYS[:1])
    write_sensor(ws, "honeypot", "honeypot", ips + 100_000, labels, seed=2, days=DAYS[:1])
    write_labels(ws, DAYS[0], np.concatenate([ips, ips + 100_000]), np.concatenate([labels, labels]))
    with pytest.raises(skips.StageSkipped, match="no hosts active on every sensor"):
        stack(ws, "DH", StackSettings(figures=False))
    assert json.loads((ws.results_dir / "stack" / "DH" / "run.json").read_text())["skipped"] == {
        str(DAYS[0]): "no hosts active on every sensor"}
    assert main(["stack", "-w", str(ws.root), "--scenario", "DH"]) == NOTHING_COMPUTED
    err = " ".join(capsys.readouterr().err.split())
    assert "day(s) left out" not in err  # nothing stacked: the one line of the step says it all
    assert "not computed: stack scenario DH, 2022-10-01: no test day could be stacked: no hosts active on every sensor" in err
    assert "{" not in err and "Traceback" not in err


def test_class_absent_from_training_folds_is_reported_not_fatal(world):
    settings = StackSettings(min_class_hosts=1, folds=3, figures=False)
    ips, labels = population()
    labels[60] = "onyphe"  # a class of one host: absent from the training folds of its own fold
    for day in DAYS:
        write_labels(world, day, ips, labels)
    result = stack(world, "D", settings, days=DAYS[:1])
    assert any("onyphe" in w and "absent from the training folds" in w for w in result.warnings)
    onyphe = result.summary[(result.summary["class"] == "onyphe") & (result.summary["method"] == "ML")]
    assert onyphe["f1_mean"].iloc[0] == 0.0


def test_predict_labels_only_unlabelled_hosts(world):
    table = predict(world, DAYS[-1], "D")
    ips, labels = population()
    assert sorted(table.column("ip").to_pylist()) == ips[labels == UNKNOWN].tolist()
    frame = table.to_pandas()
    assert (frame["probability"] >= frame["runner_up_probability"]).all()
    assert {"vote_darknet:ds", "contrib_darknet:igcngru", "drivers", "address", "in_training"} <= set(frame.columns)
    out = world.results_dir / "predict" / "D" / f"day={DAYS[-1]}"
    assert out.with_suffix(".parquet").exists() and out.with_suffix(".csv").exists()


def test_cli_stack_and_predict(world, capsys):
    assert main(["stack", "-w", str(world.root), "--scenario", "D", "--scenario", "H", "--test-days", "1", "--folds", "3", "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "Average" in printed and "Macro-F1 per scenario" in printed
    assert main(["predict", "-w", str(world.root), "--day", str(DAYS[0]), "--scenario", "H"]) == 0
    assert main(["stack", "-w", str(world.root), "--scenario", "nonsense"]) == 2


def test_bases_predict_exactly_as_the_evaluation(world):
    from darkstack.evaluate import evaluate
    from darkstack.evaluate.classify import predictions_path

    result = stack(world, "D", StackSettings(folds=3, figures=False), days=DAYS[-1:])
    evaluate(world, "darknet", ["idarkvec"], days=DAYS[-1:])
    ours = pq.read_table(result.out_dir / f"hosts/day={DAYS[-1]}.parquet").to_pandas()
    theirs = pq.read_table(predictions_path(world, "darknet", "idarkvec", DAYS[-1])).to_pandas()
    both = ours.merge(theirs, on="ip", suffixes=("", "_eval"))
    assert len(both) == len(ours)
    assert (both["Text"] == both["predicted"]).all()


def test_cli_default_scenarios_on_a_darknet_only_workspace(ws, capsys):
    ips, labels = population()
    write_sensor(ws, "darknet", "darknet", ips, labels, seed=1, days=DAYS[:1])
    write_labels(ws, DAYS[0], ips, labels)
    assert main(["stack", "-w", str(ws.root), "--folds", "3", "--no-figures"]) == 0
    assert "Scenario D:" in capsys.readouterr().out
    assert not (ws.results_dir / "stack" / "H").exists()


def test_lists_of_searched_rows_equal_the_full_search_on_those_rows():
    rng = np.random.default_rng(5)
    X = standardise(rng.standard_normal((400, 8)))
    codes = rng.integers(0, 5, 400)
    rows = np.sort(rng.choice(400, 150, replace=False))
    pool = rng.random(400) < 0.8
    full, part = NeighbourLists(X, 3, 13), NeighbourLists(X, 3, 13, rows=rows)
    assert (part.within(pool)[rows] == full.within(pool)[rows]).all()
    assert (part.within(pool)[np.setdiff1d(np.arange(400), rows)] == -1).all()
    p_full, p_part = full.probabilities(codes, 5, pool), part.probabilities(codes, 5, pool)
    assert np.array_equal(p_part[rows], p_full[rows])
    assert not p_part[np.setdiff1d(np.arange(400), rows)].any()


def test_one_test_day_shows_std_as_na_and_tables_count_the_days(world, capsys):
    result = stack(world, "D", StackSettings(folds=3, figures=False))  # two days: one test day by default
    assert result.days == DAYS[-1:]
    md = (result.out_dir / "table.md").read_text()
    assert "±n/a" in md and "nan" not in md.lower() and "over the 1 test day stacked" in md
    table = json.loads((result.out_dir / "table.json").read_text())
    assert table["test_days_scored"] == 1 and all(r["f1_std"] is None for r in table["rows"])
    overview = (world.results_dir / "stack" / "summary.md").read_text()
    assert "Days" in overview.splitlines()[0] and "nan" not in overview.lower()
    assert pd.read_csv(world.results_dir / "stack" / "summary.csv")["Days"].tolist() == [1]


def test_loop_lines_name_scenario_day_and_folded_classes(world, caplog):
    with caplog.at_level("INFO"):
        stack(world, "D", StackSettings(folds=3, figures=False, min_class_hosts=16, train_days=0))
    text = caplog.text
    assert "scenario D, 2022-10-01: small classes folded into unknown (fewer than 16 hosts): driftnet (15 hosts)" in text
    assert "scenario D, 2022-10-02: stacked 170 hosts (105 scored)" in text


def test_predict_for_a_scenario_lacking_the_day_is_a_skip(world, capsys):
    later = DAYS[-1] + dt.timedelta(days=1)
    ips, labels = population()
    write_sensor(world, "darknet", "darknet", ips, labels, seed=3, days=[later])
    write_labels(world, later, ips, labels)
    assert predict(world, later, "D").num_rows > 0
    with pytest.raises(skips.StageSkipped) as caught:
        predict(world, later, "H")
    assert caught.value.skip.line() == ("predict scenario H, 2022-10-03: no embeddings of honeypot:ds, "
                                        "honeypot:idarkvec, honeypot:igcngru on this day")
    assert main(["predict", "-w", str(world.root), "--day", str(later), "--scenario", "DH"]) == NOTHING_COMPUTED
    assert "Traceback" not in capsys.readouterr().err


def test_progress_names_scenario_and_day(world, monkeypatch):
    from darkstack.stack import run

    progress = ProgressRecorder().install(monkeypatch, run)
    stack(world, "H", StackSettings(folds=3, figures=False, train_days=0))
    assert progress.descriptions == ["stack scenario H"]
    assert set(progress.statuses) == {str(d) for d in DAYS}


def test_folds_cut_their_neighbours_from_the_configured_search():
    X = standardise(np.random.default_rng(8).standard_normal((3000, 24)))  # no structure: IVF differs from exact
    ivf = NeighbourLists(X, 3, 5, search="ivf")
    assert np.array_equal(ivf.lists, neighbours(X, 8, search="ivf"))
    assert not np.array_equal(ivf.lists, NeighbourLists(X, 3, 5, search="exact").lists)
    assert np.array_equal(NeighbourLists(X, 3, 5, approx_above=2999).lists, ivf.lists)


def test_stack_and_predict_pass_their_search_to_the_neighbour_lists(world, monkeypatch):
    import darkstack.stack.neighbourhood as neighbourhood

    searched = []

    def recording(*args, **kwargs):
        searched.append((kwargs.get("search"), kwargs.get("approx_above")))
        return neighbours(*args, **kwargs)

    monkeypatch.setattr(neighbourhood, "neighbours", recording)
    settings = StackSettings(folds=3, figures=False, train_days=0, search="hnsw", approx_above=7)
    result = stack(world, "D", settings, seed=0)
    assert ("hnsw", 7) in searched and ("auto", 200_000) not in searched
    assert result.days == DAYS
    searched.clear()
    predict(world, DAYS[0], "D", settings)
    assert ("hnsw", 7) in searched and ("auto", 200_000) not in searched

"""The stacking paper's central claims, each on a world where breaking the claim changes the answer.

- §4.2 leakage-free cross-validation: a test-fold host takes its base probabilities from its
  neighbours in the training folds only. The world below hides every host's near-copies in its own
  fold, so a leak lifts the meta-learner from chance to a perfect score.
- §4.2 unknown undersampling before the meta-learner is fitted, on the real ``stack`` and
  ``predict`` paths (the helper alone is tested in test_stack.py).
- ``predict``: each unlabelled host gets its own known answer, runner-up included.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from darkstack import atomic
from darkstack.schema import UNKNOWN
from darkstack.stack import StackSettings, meta, predict, stack
from darkstack.stack.bases import class_order
from darkstack.stack.meta import assign_folds
from darkstack.stack.run import day_generators

DAY = dt.date(2022, 10, 1)
SETTINGS = StackSettings(figures=False)


def write_day(ws, ips: np.ndarray, labels: np.ndarray, embeddings: dict[str, np.ndarray]) -> None:
    """One day of sensor ``darknet``: one embedding matrix per base variant, and the labelled hosts."""
    ws.register_sensor("darknet", "darknet")
    for variant, X in embeddings.items():
        X = np.asarray(X, dtype=np.float32)
        column = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel(), pa.float32()), X.shape[1])
        atomic.write_parquet(
            ws.embedding_path("darknet", variant, DAY), pa.table({"ip": pa.array(ips, pa.uint32()), "embedding": column})
        )
    keep = labels != UNKNOWN
    atomic.write_parquet(
        ws.labels_day(DAY),
        pa.table({
            "ip": pa.array(ips[keep], pa.uint32()),
            "label": pa.array(labels[keep].tolist(), pa.string()),
            "source": pa.array(["test"] * int(keep.sum()), pa.string()),
        }),
    )


def host_ips(n: int) -> np.ndarray:
    return np.arange(10_000, 10_000 + n, dtype=np.uint32)


def macro_f1(result, method: str, cls: str = "macro") -> float:
    summary = result.summary.set_index(["method", "class"])
    return float(summary.loc[(method, cls), "f1_mean"])


# --- leakage-free cross-validation ------------------------------------------------------------------
def test_meta_learner_cross_validation_does_not_leak_test_fold_labels(ws):
    """Every (class, fold) pair is a tight cluster at a random place: a host's near-copies are exactly
    its fold-mates of its class. Leave-one-out bases see them (F1 1.0); a leak-free test-fold host sees
    only other clusters, of random classes (chance); a leak would show it its labelled fold-mates (1.0)."""
    classes = ["mirai", "censys", "shodan", "driftnet"]
    labels = np.repeat(np.array(classes, dtype=object), 40)
    ips = host_ips(len(labels))
    order = class_order(labels) + [UNKNOWN]
    codes = np.array([order.index(c) for c in labels])
    # The folds stack() draws for this day (checked below against the folds it reports).
    folds = assign_folds(codes, codes != order.index(UNKNOWN), SETTINGS.folds, day_generators(0, DAY)[1])
    rng = np.random.default_rng(0)
    embeddings = {}
    for variant in SETTINGS.base_variants:
        centres = rng.standard_normal((len(classes), SETTINGS.folds, 16))
        embeddings[variant] = centres[codes, folds] + 0.01 * rng.standard_normal((len(labels), 16))
    write_day(ws, ips, labels, embeddings)

    result = stack(ws, "D", SETTINGS, days=[DAY], seed=0)

    hosts = pq.read_table(result.out_dir / f"hosts/day={DAY}.parquet").to_pandas().set_index("ip")
    assert (hosts.loc[ips, "fold"].to_numpy() == folds).all(), "the world no longer hides near-copies in their fold"
    for base in ("DS", "Text", "Graph", "Naive"):
        assert macro_f1(result, base) == 1.0  # leave-one-out: the near-copies reveal every label
    assert macro_f1(result, "ML") < 0.5  # leak-free level ~0.25 (chance over 4 classes); with a leak 1.0


# --- unknown undersampling on the stacking path -------------------------------------------------------
@pytest.fixture
def dominant_unknown(ws):
    """Three well separated classes, except that shodan's 30 hosts share their region with 40 unknown
    hosts; 560 more unknown hosts sit apart. Without undersampling unknown outnumbers shodan in that
    region and the meta-learner calls shodan hosts unknown; cut to 30 (the third-largest class), it does not."""
    groups = [("mirai", 60, 0), ("censys", 40, 1), ("shodan", 30, 2), (UNKNOWN, 40, 2), (UNKNOWN, 560, 3)]
    labels = np.concatenate([[c] * n for c, n, _ in groups]).astype(object)
    region = np.concatenate([[r] * n for _, n, r in groups])
    rng = np.random.default_rng(0)
    embeddings = {v: np.eye(4, 8)[region] * 6 + rng.standard_normal((len(labels), 8)) for v in SETTINGS.base_variants}
    write_day(ws, host_ips(len(labels)), labels, embeddings)
    return ws


def test_meta_learner_is_fitted_on_undersampled_unknown_hosts(dominant_unknown, monkeypatch):
    fitted = []
    fit_meta = meta.fit_meta

    def recording_fit(features, codes, n_classes, settings):
        fitted.append(np.bincount(codes, minlength=n_classes).tolist())
        return fit_meta(features, codes, n_classes, settings)

    monkeypatch.setattr(meta, "fit_meta", recording_fit)
    stack(dominant_unknown, "D", SETTINGS, days=[DAY], seed=0)
    # mirai, censys, shodan, unknown rows of each fit: 10 folds (9/10 of each class) then the full day.
    assert len(fitted) == SETTINGS.folds + 1
    assert fitted[:-1] == [[54, 36, 27, 30]] * SETTINGS.folds
    assert fitted[-1] == [60, 40, 30, 30]


def test_undersampling_unknown_changes_the_stacked_score(dominant_unknown):
    kept = stack(dominant_unknown, "D", SETTINGS, days=[DAY], seed=0)
    assert macro_f1(kept, "ML", "shodan") > 0.9
    everything = stack(dominant_unknown, "D", StackSettings(figures=False, undersample_unknown=False), days=[DAY], seed=0)
    assert macro_f1(everything, "ML", "shodan") < 0.5  # the world is one where undersampling matters


def test_predict_trains_on_undersampled_unknown_hosts(dominant_unknown):
    table = predict(dominant_unknown, DAY, "D").to_pandas()
    assert len(table) == 600 and table["in_training"].sum() == 30


# --- predict: known answers -------------------------------------------------------------------------
@pytest.fixture
def known_answers(ws):
    """Unlabelled hosts whose answer is known: 3 lookalikes inside each class cluster (that class;
    the censys ones sit among mirai in the graph base only, so that base votes mirai and is outvoted),
    60 background hosts in a cluster of their own (unknown), and two borderline hosts, each with a
    tight outpost of 2 + 1 labelled hosts of two classes (best class, runner-up)."""
    classes = ["mirai", "censys", "shodan", "driftnet"]
    sizes = [40, 30, 20, 15]
    outposts = [(["mirai", "mirai", "censys"], "mirai", "censys"), (["driftnet", "driftnet", "shodan"], "driftnet", "shodan")]
    labels, region, best, runner_up = [], [], [], []
    for r, (c, n) in enumerate(zip(classes, sizes)):
        labels += [c] * n + [UNKNOWN] * 3
        region += [r] * (n + 3)
        best += [None] * n + [c] * 3
        runner_up += [None] * (n + 3)
    labels += [UNKNOWN] * 60
    region += [4] * 60
    best += [UNKNOWN] * 60
    runner_up += [None] * 60
    for r, (members, first, second) in enumerate(outposts, start=5):
        labels += members + [UNKNOWN]
        region += [r] * 4
        best += [None] * 3 + [first]
        runner_up += [None] * 3 + [second]
    rng = np.random.default_rng(0)
    shuffle = rng.permutation(len(labels))
    labels, region = np.array(labels, dtype=object)[shuffle], np.array(region)[shuffle]
    best, runner_up = np.array(best, dtype=object)[shuffle], np.array(runner_up, dtype=object)[shuffle]
    spread = np.where(region >= 5, 0.01, 1.0)[:, None]  # outposts are tight and far from everything
    censys_lookalike = (best == "censys") & (labels == UNKNOWN)
    graph_region = np.where(censys_lookalike, classes.index("mirai"), region)
    votes = {v: best.copy() for v in SETTINGS.base_variants}
    votes["igcngru"][censys_lookalike] = "mirai"
    embeddings = {
        v: np.eye(7, 8)[graph_region if v == "igcngru" else region] * 6 + spread * rng.standard_normal((len(labels), 8))
        for v in SETTINGS.base_variants
    }
    ips = host_ips(len(labels))
    write_day(ws, ips, labels, embeddings)
    unlabelled = labels == UNKNOWN

    def per_host(values: np.ndarray) -> dict[int, str | None]:
        return dict(zip(ips[unlabelled].tolist(), values[unlabelled]))

    return ws, per_host(best), per_host(runner_up), {v: per_host(x) for v, x in votes.items()}


def test_predict_gives_every_unlabelled_host_its_own_answer(known_answers):
    ws, best, _, votes = known_answers
    frame = predict(ws, DAY, "D", SETTINGS).to_pandas().set_index("ip")
    assert sorted(frame.index) == sorted(best)
    assert (frame["predicted"] == frame.index.map(best)).all()
    for variant, expected in votes.items():
        assert (frame[f"vote_darknet:{variant}"] == frame.index.map(expected)).all()
    unanimous = (frame[[f"vote_darknet:{v}" for v in votes]].to_numpy() == frame[["predicted"]].to_numpy()).all(axis=1)
    assert (frame.loc[unanimous, "probability"] > 0.5).all()
    assert (frame["address"] == [f"0.0.{ip >> 8}.{ip & 255}" for ip in frame.index]).all()


def test_predict_runner_up_is_the_second_class(known_answers):
    ws, _, runner_up, _ = known_answers
    frame = predict(ws, DAY, "D", SETTINGS).to_pandas().set_index("ip")
    assert (frame["runner_up"] != frame["predicted"]).all()
    assert (frame["probability"] > frame["runner_up_probability"]).all()
    assert (frame["probability"] + frame["runner_up_probability"] <= 1 + 1e-9).all()
    borderline = {ip: c for ip, c in runner_up.items() if c is not None}
    assert len(borderline) == 2
    for ip, second in borderline.items():
        assert frame.loc[ip, "runner_up"] == second


def test_folds_are_drawn_at_random_within_each_class():
    """Stratified, but which host of a class goes to which fold is random (seeded): not the host order."""
    codes = np.repeat([0, 1, 2], [40, 30, 20])
    scored = np.ones(len(codes), bool)
    drawn = [assign_folds(codes, scored, 10, np.random.default_rng(seed)) for seed in (0, 1)]
    assert not np.array_equal(drawn[0], drawn[1])
    for folds in drawn:
        for c in range(3):
            in_order = folds[codes == c]
            assert not (np.diff(in_order) % 10 == 1).all()  # not dealt round-robin in host order

"""``predict()``: fit the stack on one day's labelled hosts and label that day's unlabelled hosts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from darkstack import atomic, skips
from darkstack.evaluate.knn import vote
from darkstack.ingest.tokens import token_columns
from darkstack.log import get_logger
from darkstack.schema import int_to_ip
from darkstack.stack import explain
from darkstack.stack.bases import load_day, missing_bases, resolve_scenario
from darkstack.stack.meta import fit_day, training_rows
from darkstack.stack.neighbourhood import NeighbourLists
from darkstack.stack.run import day_generators
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)


def predictions_path(ws: Workspace, scenario: str, day: dt.date) -> Path:
    """``results/predict/<scenario>/day=<day>`` (add ``.parquet`` or ``.csv``)."""
    return ws.results_dir / "predict" / scenario / f"day={day_str(day)}"


def neighbours_path(ws: Workspace, scenario: str, day: dt.date) -> Path:
    """``results/predict/<scenario>/neighbours/day=<day>.parquet``: each labelled host's k nearest hosts per base."""
    return ws.results_dir / "predict" / scenario / "neighbours" / f"day={day_str(day)}.parquet"


def predict(
    ws: Workspace, day: dt.date, scenario: str = "D", settings: StackSettings | None = None, *, seed: int = 0
) -> pa.Table:
    """Label the unlabelled hosts of ``day`` with the scenario's full meta-learner.

    The meta-learner is fitted on every labelled host of the day (plus undersampled unknown hosts),
    each base's probabilities by leave-one-out over all hosts; an unlabelled host's probabilities come
    from its neighbours among all other hosts. One row per unlabelled host: predicted class and
    probability, runner-up, each base's own vote and contribution, and the bases that drove the
    decision. Written to ``ws.results_dir/predict/<scenario>/day=<day>.{parquet,csv}``; the k nearest
    hosts behind each base's vote (and their classes that day) to :func:`neighbours_path`.
    :class:`darkstack.skips.StageSkipped` when the day does not allow it (a base without embeddings
    that day, no host in every base, no labelled class, too few hosts).
    """
    settings = settings or StackSettings()
    sc = resolve_scenario(ws, scenario, settings)
    gone = missing_bases(ws, sc, day)
    if gone:
        raise skips.skip_stage("predict", f"no embeddings of {', '.join(gone)} on this day", scenario=sc.name, days=day)
    inputs = load_day(ws, sc, day, settings)
    if len(inputs.ips) == 0:
        what = "active on every sensor" if len(sc.sensors) > 1 else "present in every base"
        raise skips.skip_stage("predict", f"no hosts {what}", scenario=sc.name, days=day)
    if not inputs.scored.any():
        raise skips.skip_stage(
            "predict", f"no labelled class with at least {settings.min_class_hosts} hosts: nothing to learn from",
            scenario=sc.name, days=day, option="stack.min_class_hosts",
        )
    if len(inputs.ips) < settings.k + 1:
        raise skips.skip_stage(
            "predict", f"{len(inputs.ips)} hosts are too few for {settings.k}-NN", scenario=sc.name, days=day,
            option="stack.k",
        )
    classes = np.asarray(inputs.classes, dtype=object)
    codes = inputs.codes
    train = training_rows(codes, inputs.unknown_code, settings, day_generators(seed, day)[2])
    lists = [
        NeighbourLists(X, settings.k, settings.neighbour_margin, settings.metric,
                       search=settings.search, approx_above=settings.approx_above)
        for X in inputs.embeddings
    ]  # fmt: skip
    features, models = fit_day(lists, codes, inputs.unknown_code, {sc.full_group: tuple(range(len(sc.bases)))}, settings, train)
    model = models[sc.full_group]

    target = np.flatnonzero(~inputs.labelled)
    proba = model.predict_proba(features[target])
    order = np.argsort(-proba, axis=1, kind="stable")
    best, second = order[:, 0], order[:, 1]
    n_classes = len(classes)
    slices = [slice(i * n_classes, (i + 1) * n_classes) for i in range(len(sc.bases))]
    contributions = model.contributions(features[target], best, slices)
    names = [b.name for b in sc.bases]

    columns = {
        "ip": pa.array(inputs.ips[target], pa.uint32()),
        "address": pa.array(int_to_ip(inputs.ips[target]).tolist(), pa.string()),
        **token_columns(ws, inputs.ips[target]),
        "predicted": pa.array(classes[best].tolist(), pa.string()),
        "probability": pa.array(proba[np.arange(len(target)), best], pa.float64()),
        "runner_up": pa.array(classes[second].tolist(), pa.string()),
        "runner_up_probability": pa.array(proba[np.arange(len(target)), second], pa.float64()),
        "drivers": pa.array(explain.drivers(contributions, names), pa.string()),
        "in_training": pa.array(np.isin(target, train), pa.bool_()),
    }
    near = []
    for i, (b, nl) in enumerate(zip(sc.bases, lists)):
        neigh = nl.within(None)[target]
        base_vote = vote(features[target][:, slices[i]], classes, neighbour_codes=codes[neigh])
        columns[f"vote_{b.name}"] = pa.array(base_vote.tolist(), pa.string())
        columns[f"contrib_{b.name}"] = pa.array(contributions[:, i], pa.float64())
        near.append(_neighbour_rows(inputs.ips[target], b.name, inputs.ips[neigh], classes[codes[neigh]]))
    table = pa.table(columns).sort_by([("probability", "descending"), ("ip", "ascending")])

    out = predictions_path(ws, sc.name, day)
    atomic.write_parquet(out.with_suffix(".parquet"), table)
    atomic.write_text(out.with_suffix(".csv"), table.to_pandas().to_csv(index=False))
    atomic.write_parquet(neighbours_path(ws, sc.name, day), pa.concat_tables(near))
    counts = dict(zip(*np.unique(classes[best].astype(str), return_counts=True)))
    log.info(
        f"scenario {sc.name}, {day_str(day)}: {len(target)} unlabelled hosts labelled",
        extra={"scenario": sc.name, "day": day_str(day), "hosts": len(target), "predicted": {k: int(v) for k, v in counts.items()}},
    )
    return table


def _neighbour_rows(ips: np.ndarray, base: str, neighbours: np.ndarray, labels: np.ndarray) -> pa.Table:
    """Long table ip, base, rank (1 = nearest), neighbour, label (the neighbour's class that day, unknown if none)."""
    n, k = neighbours.shape
    return pa.table(
        {
            "ip": pa.array(np.repeat(ips, k), pa.uint32()),
            "base": pa.array([base] * (n * k), pa.string()),
            "rank": pa.array(np.tile(np.arange(1, k + 1), n), pa.int16()),
            "neighbour": pa.array(neighbours.ravel(), pa.uint32()),
            "label": pa.array(labels.ravel().astype(str).tolist(), pa.string()),
        }
    )

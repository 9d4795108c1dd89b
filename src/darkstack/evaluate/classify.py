"""One variant, one day: 3-NN leave-one-out class probabilities and votes for every active host.

Writes ``results/evaluate/<sensor>/<variant>/day=<YYYY-MM-DD>.parquet`` (ip, label, predicted,
p_<class>…); ``label`` is the class evaluated that day (small classes folded into unknown). A file
whose recorded inputs and settings match is reused.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from darkstack import atomic, skips
from darkstack.errors import DarkstackError
from darkstack.evaluate.inputs import day_embeddings, day_labels, label_fingerprint
from darkstack.evaluate.knn import EXACT_GENERATORS, class_probabilities, generator, neighbours, standardise, vote
from darkstack.evaluate.settings import EvalSettings
from darkstack.log import get_logger
from darkstack.schema import CLASSES, UNKNOWN
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)
META_KEY = b"darkstack.evaluate"


def predictions_path(ws: Workspace, sensor: str, variant: str, day: dt.date) -> Path:
    return ws.results_dir / "evaluate" / sensor / variant / f"day={day_str(day)}.parquet"


def class_vocabulary(labels: set[str]) -> list[str]:
    """Probability columns: the papers' classes, then any other label seen (sorted), then unknown."""
    extra = sorted(set(labels) - set(CLASSES) - {UNKNOWN})
    return [*CLASSES, *extra, UNKNOWN]


def fold_small_classes(labels: np.ndarray, min_hosts: int) -> np.ndarray:
    """Labels of classes with fewer than ``min_hosts`` hosts become unknown."""
    labels = np.asarray(labels, dtype=object)
    names, counts = np.unique(labels.astype(str), return_counts=True)
    small = {n for n, c in zip(names, counts) if c < min_hosts}
    return np.array([UNKNOWN if lab in small else lab for lab in labels], dtype=object)


def classify(
    X: np.ndarray, labels: np.ndarray, classes: list[str], settings: EvalSettings
) -> tuple[np.ndarray, np.ndarray]:
    """3-NN leave-one-out over all hosts: (class probabilities n × len(classes), predicted labels).

    ``labels`` are the day's (folded) labels, ``unknown`` included: every host is a candidate
    neighbour of every other host, never of itself.
    """
    position = {c: i for i, c in enumerate(classes)}
    codes = np.array([position[lab] for lab in labels], dtype=np.int64)
    Z = standardise(X) if settings.standardise else np.asarray(X, dtype=np.float64)
    neigh = neighbours(
        Z, settings.k, metric=settings.metric, exact_max=settings.exact_max, search=settings.search,
        approx_above=settings.approx_above,
    )
    proba = class_probabilities(neigh, codes, len(classes))
    if settings.tie_rule == "nearest":
        predicted = vote(proba, classes, neighbour_codes=codes[neigh])
    else:
        order = np.argsort(np.array(classes, dtype=str), kind="stable")
        predicted = vote(proba[:, order], [classes[i] for i in order])
    return proba, predicted


def classify_day(
    ws: Workspace, sensor: str, variant: str, day: dt.date, settings: EvalSettings, classes: list[str]
) -> pa.Table:
    """Per-host labels, predictions and class probabilities of one variant and day (cached on disk)."""
    emb_path = ws.embedding_path(sensor, variant, day)
    if not emb_path.exists():
        raise DarkstackError(f"no {variant} embeddings for {day_str(day)}: run `darkstack embed` first", emb_path)
    out = predictions_path(ws, sensor, variant, day)
    meta = {
        # Exact generators give the same neighbours: only an approximate one is recorded (it may change results).
        "settings": settings.model_dump(exclude={"exact_max", "search", "approx_above"}),
        "classes": classes,
        "embedding": [emb_path.stat().st_size, emb_path.stat().st_mtime_ns],
        "labels": label_fingerprint(ws, day),
    }
    search = generator(pq.read_metadata(emb_path).num_rows, settings.search, settings.approx_above)
    if search not in EXACT_GENERATORS:
        meta["search"] = search
    if out.exists():
        cached = pq.read_schema(out).metadata or {}
        if json.loads(cached.get(META_KEY, b"{}")) == meta:
            return pq.read_table(out)
    ips, X = day_embeddings(ws, sensor, variant, day)
    if len(ips) <= settings.k:
        raise skips.skip_stage(
            "evaluate", f"{len(ips)} hosts embedded: {settings.k}-NN needs at least {settings.k + 1}",
            sensor=sensor, variant=variant, days=day, option="--k / evaluate.k",
        )
    raw = day_labels(ws, day, ips)
    unlisted = sorted(set(raw.tolist()) - set(classes))
    if unlisted:
        raise DarkstackError(f"labels {', '.join(unlisted)} are missing from the label table", ws.labels_table)
    labels = fold_small_classes(raw, settings.min_class_hosts)
    proba, predicted = classify(X, labels, classes, settings)
    order = np.argsort(ips, kind="stable")
    columns = {
        "ip": pa.array(np.asarray(ips, dtype=np.uint32)[order], pa.uint32()),
        "label": pa.array(labels[order].tolist(), pa.string()),
        "predicted": pa.array(predicted[order].tolist(), pa.string()),
    }
    columns.update({f"p_{c}": pa.array(proba[order, i], pa.float32()) for i, c in enumerate(classes)})
    table = pa.table(columns).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    atomic.write_parquet(out, table)
    folded = sorted(set(raw.tolist()) - set(labels.tolist()))
    folded_text = f"; folded into unknown (fewer than {settings.min_class_hosts} hosts): {', '.join(folded)}" if folded else ""
    log.debug(
        f"classified sensor {sensor}, variant {variant}, {day_str(day)}: {len(ips)} hosts{folded_text}",
        extra={"sensor": sensor, "variant": variant, "day": day_str(day), "hosts": len(ips),
               "scored": int(np.sum(labels != UNKNOWN)), "folded": folded},
    )
    return table

"""One line per table column, shown under every table of the report (what the column holds, in words).

Columns are looked up by the table's source (``evaluate/table``, ``stack/daily``, ``predictions`` …),
then among the columns every table shares; the remaining columns of a result table are its methods,
embeddings, bases or sensors, explained by the source's rule (e.g. "F1 of <column>").
"""

from __future__ import annotations

from collections.abc import Iterable

UNEXPLAINED = "a column of the stage's file"
"""Start of the legend of a column no rule explains (a result file of a newer or custom stage)."""
F1_CELLS = "Cells: mean ± sample standard deviation over the test days (a single value, or n/a: one test day, no deviation; –: not scored)."
NOTES = {"evaluate/table": F1_CELLS, "stack/table": F1_CELLS, "stack/summary": F1_CELLS}
"""The note under a table whose cells share one format."""

COMMON = {
    "sensor": "sensor (vantage point) the traffic was captured on",
    "day": "UTC day",
    "class": "ground-truth class (display name)",
    "label": "ground-truth class (display name)",
    "support": "labelled host-days scored (hosts of the class summed over the test days)",
    "precision": "share of the hosts predicted as the class that belong to it",
    "recall": "share of the class's hosts predicted as the class",
    "f1": "F1 score: harmonic mean of precision and recall",
    "variant": "embedding variant (method and settings)",
    "method": "embedding (3-NN on it) or stacked method",
    "days": "number of days",
    "first_day": "first test day",
    "last_day": "last test day",
}
"""Columns with the same meaning in every table."""

BY_SOURCE: dict[str, dict[str, str]] = {
    "overview/sensors": {
        "days": "snapshot days with traffic",
        "hosts_per_day": "active hosts per day (mean)",
        "ports_per_day": "distinct ports per day after top-port folding (mean)",
        "packets": "packets over all days (after the snapshot filters)",
        "labelled_share": "share of the active hosts with a ground-truth label (mean over the days)",
    },
    "overview/days": {
        "hosts": "active hosts (sources that passed the packet threshold)",
        "ports": "distinct destination ports after top-port folding (the folded `other` counted once)",
        "packets": "packets (after the snapshot filters)",
        "labelled_hosts": "active hosts with a ground-truth label that day",
        "labelled_share": "labelled_hosts / hosts",
    },
    "summary": {
        "group": "what was scored: a sensor's embeddings (3-NN) or a scenario's stack",
        "mean": "macro-F1, mean over the test days",
        "std": "macro-F1, sample standard deviation over the test days (n/a with one test day)",
        "test days": "number of test days scored",
    },
    "evaluate/table": {"class": "ground-truth class; Macro avg.: mean of the daily macro-F1", "support": COMMON["support"]},
    "evaluate/days": {"label": "ground-truth class; Macro avg.: the day's macro-F1", "support": "labelled hosts of the class that day"},
    "stack/table": {"class": "ground-truth class; Average: mean of the daily macro-F1", "support": COMMON["support"]},
    "stack/summary": {"scenario": "set of stacked bases (D darknet, H honeypot, DH hosts seen on both)", "support": "labelled host-days scored over the test days"},
    "stack/daily": {"support": "labelled hosts of the class that day"},
    "stack/coefficients": {
        "model": "meta-learner (ML uses every base of the scenario; ML_<tag> only the bases of that sensor)",
        "class": "class whose linear function the coefficient belongs to",
        "base": "base classifier (sensor:variant); empty for the intercept",
        "base_display": "the base's short name as in the other tables",
        "sensor": "sensor of the base",
        "input_class": "class of the base's probability that the coefficient multiplies",
        "coef": "logistic-regression coefficient (larger: that input pushes more towards the class)",
    },
    "stack/coefficients_own": {"class": "class whose function the coefficients belong to"},
    "stack/coefficients_sensor": {"class": "class whose function the coefficients belong to"},
    "study/history": {"history": "history H: past days the GRU sees"},
    "study/epochs": {"epochs": "training epochs per day"},
    "study": {
        "f1": "macro-F1, mean over the test days",
        "std": "macro-F1, sample standard deviation over the test days (n/a with one test day)",
        "f1min": "f1 − std",
        "f1max": "f1 + std",
        "days": "test days scored",
    },
    "predictions": {
        "address": "IPv4 address of the unlabelled host",
        "ip": "the host's address",
        "token": "the host's token in a trace whose addresses are tokens (mapped into 240.0.0.0/5, docs/ingest.md)",
        "predicted": "class given by the meta-learner stack (display name)",
        "probability": "the meta-learner's probability of the predicted class",
        "runner_up": "second most probable class",
        "runner_up_probability": "the meta-learner's probability of the runner-up",
        "drivers": "bases that pushed most towards the predicted class, with their contribution",
        "in_training": "true when the host was one of the undersampled unknown hosts the meta-learner was fitted on (as Unknown)",
    },
    "discover/groups": {
        "group": "stable id of the group, kept from day to day (docs/discover.md)",
        "status": "new (no match the day before), same, grown, shrunk (size change beyond discover.size_change), split or merged",
        "hosts": "hosts in the group that day",
        "unknown_share": "share of its hosts without a ground-truth label",
        "closest_known_class": "known class whose mean direction in the embedding is most similar to the group's",
        "majority_class": "most frequent ground-truth class among its labelled hosts",
        "purity": "share of its labelled hosts in the majority class",
        "top_ports": "destination ports receiving most of its packets (other: the folded ports)",
        "packets": "packets its hosts sent that day (after the snapshot filters)",
        "hours_active": "UTC hours of the day in which any of its hosts sent a packet",
        "first_seen": "earliest day any of its hosts was first seen by the sensor",
        "members": "its addresses, most packets first (the day's Parquet lists every one)",
    },
    "seeds": {"what": "the step that used the seed", "seed": "random seed", "details": "settings that go with it"},
    "timings": {
        "step": "pipeline step (stage:sensor:variant or stage:scenario), in the order the pipeline runs them",
        "seconds": "wall time of its last computation",
        "finished": "when that computation ended (UTC)",
        "in this run": "true when this run (for darkstack report: the last recorded run) computed the step; false: it reused an earlier result",
        "left out": "parts the data did not allow (listed under Not computed)",
    },
    "skips": {
        "step": "pipeline step that left it out",
        "stage": "stage that left it out",
        "where": "sensor or scenario (– the whole stage)",
        "variant": "embedding variant (– every variant)",
        "days": "day(s) concerned (– no particular day)",
        "reason": "why the data did not allow it",
        "change with": "command-line option / configuration key that would change it (– only other data would)",
    },
    "empty_steps": {"step": "pipeline step that computed nothing and wrote nothing", "reason": "why"},
}
"""Columns whose meaning depends on the table (keys are lower case)."""


NAIVE = "Naive"
"""``darkstack.stack.run.NAIVE``, the naive stack's column (not imported: that module loads the whole stacking stage)."""


def _method_meaning(name: str) -> str:
    """A stacking method column: the naive vote, a meta-learner or one base classifier."""
    if name == NAIVE:
        return "naive stack: majority vote of the bases' 3-NN predictions"
    if name.startswith("ML"):
        tag = name.removeprefix("ML").lstrip("_")
        over = f"the bases tagged {tag}" if tag and tag != "DH" else "every base"
        return f"meta-learner stack: logistic regression over the class probabilities of {over}"
    return f"base classifier: 3-NN on the {name} embeddings"


def _rest(source: str, column: str) -> str:
    """The meaning of a column the tables above do not name: a method, embedding, base or sensor of the source."""
    if source == "evaluate/table":
        return f"F1 of 3-NN on the {column} embeddings"
    if source in ("stack/table", "stack/summary"):
        what = "F1" if source == "stack/table" else "macro-F1"
        return f"{what} of the {_method_meaning(column).replace(':', ',', 1)}"
    if source == "stack/coefficients_own":
        return f"coefficient of the class's function on base {column}'s probability of that class"
    if source == "stack/coefficients_sensor":
        return f"those coefficients averaged over the bases of sensor {column}"
    if source == "overview/classes":
        return f"labelled host-days of the class active on sensor {column}"
    if column.startswith("vote_"):
        return f"class that base {column.removeprefix('vote_')} alone (3-NN) gives the host"
    if column.startswith("contrib_"):
        return f"contribution of base {column.removeprefix('contrib_')} to the predicted class's score"
    return f"{UNEXPLAINED} {source or 'table'}"


def explain(columns: Iterable[str], source: str) -> list[tuple[str, str]]:
    """(column, meaning) for every column of a table read from ``source``."""
    stage = source.partition("/")[0]
    tables = [BY_SOURCE.get(source, {}), BY_SOURCE.get(stage, {}) if stage != source else {}, COMMON]
    out = []
    for column in map(str, columns):
        key = column.lower()
        meaning = next((t[key] for t in tables if key in t), None)
        out.append((column, meaning or _rest(source, column)))
    return out

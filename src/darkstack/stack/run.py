"""``stack()``: evaluate the bases, naive stacking and the meta-learners of one scenario over the test days."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from darkstack import atomic, skips
from darkstack.evaluate.knn import vote
from darkstack.evaluate.split import pick_test_days
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.stack import explain, figures, tables
from darkstack.stack.bases import (
    DayInputs,
    Scenario,
    available_days,
    load_day,
    resolve_scenario,
)
from darkstack.stack.meta import assign_folds, cross_validate, fit_day, training_rows
from darkstack.stack.naive import naive_vote
from darkstack.stack.neighbourhood import NeighbourLists
from darkstack.stack.scoring import day_scores, summarise
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)

NAIVE = "Naive"
MIN_CLASS_OPTION = "--min-class-hosts / stack.min_class_hosts"


@dataclass
class StackResult:
    """What one ``stack()`` run evaluated and where it wrote it."""

    scenario: str
    bases: list[str]
    methods: list[str]
    days: list[dt.date]
    skipped: dict[str, str]
    """Test day left out → why (each also noted as a skip line)."""
    daily: pd.DataFrame
    summary: pd.DataFrame
    table: pd.DataFrame | None
    coefficients: pd.DataFrame | None
    out_dir: Path
    seconds: float
    warnings: list[str] = field(default_factory=list)


def day_generators(seed: int, day: dt.date) -> tuple[np.random.Generator, ...]:
    """Independent generators of one day: naive ties, folds, unknown undersampling. A day's result never
    depends on which other days are processed, and ``predict`` draws the same training hosts, hence the
    same full-day model, that ``stack`` explains."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence([seed, day.toordinal()]).spawn(3))


def methods_of(scenario: Scenario) -> list[str]:
    return [b.display for b in scenario.bases] + [NAIVE] + list(scenario.meta_groups)


def unusable(inputs: DayInputs, settings: StackSettings, scenario: Scenario) -> tuple[str, str | None] | None:
    """Why a day cannot be evaluated and the option that would change it, or None."""
    n = len(inputs.ips)
    if n == 0:
        what = "active on every sensor" if len(scenario.sensors) > 1 else "present in every base"
        return f"no hosts {what}", None
    n_scored = int(inputs.scored.sum())
    if n_scored == 0:
        return f"no labelled class with at least {settings.min_class_hosts} hosts", MIN_CLASS_OPTION
    if n - -(-n_scored // settings.folds) < settings.k + 1:
        return f"too few hosts ({n}) for {settings.folds} folds of {settings.k}-NN", "--folds / stack.folds"
    return None


@dataclass
class DayOutcome:
    """One evaluated day: per-host predictions, scores, coefficients, warnings, seconds per step."""

    hosts: pd.DataFrame
    scores: pd.DataFrame
    coefficients: pd.DataFrame
    warnings: list[str]
    seconds: dict[str, float]


def evaluate_day(inputs: DayInputs, scenario: Scenario, settings: StackSettings, seed: int) -> DayOutcome:
    """Bases and naive by leave-one-out, meta-learners by stratified cross-validation, on one day."""
    rng_naive, rng_folds, rng_undersample = day_generators(seed, inputs.day)
    classes = np.asarray(inputs.classes, dtype=object)
    codes, n_classes, scored = inputs.codes, len(inputs.classes), inputs.scored
    clock = time.perf_counter()
    train_rows = training_rows(codes, inputs.unknown_code, settings, rng_undersample)
    # Only scored hosts and the unknown hosts kept for training need neighbour lists of their own.
    lists = [
        NeighbourLists(X, settings.k, settings.neighbour_margin, settings.metric, rows=train_rows,
                       search=settings.search, approx_above=settings.approx_above)
        for X in inputs.embeddings
    ]  # fmt: skip
    seconds = {"neighbours": time.perf_counter() - clock}
    votes = np.zeros((len(codes), len(lists)), dtype=np.int64)
    for i, nl in enumerate(lists):
        neigh = nl.within(None)[train_rows]
        proba = nl.probabilities(codes, n_classes)[train_rows]
        votes[train_rows, i] = _codes_of(vote(proba, classes, neighbour_codes=codes[neigh]), inputs.classes)
    naive = naive_vote(votes, n_classes, rng_naive)
    seconds["bases_naive"] = time.perf_counter() - clock - seconds["neighbours"]

    clock = time.perf_counter()
    folds = assign_folds(codes, scored, settings.folds, rng_folds)
    cv = cross_validate(lists, codes, folds, inputs.unknown_code, scenario.meta_groups, settings, train_rows)
    seconds["meta_cv"] = time.perf_counter() - clock
    clock = time.perf_counter()
    _, models = fit_day(lists, codes, inputs.unknown_code, scenario.meta_groups, settings, train_rows)
    seconds["meta_full_day"] = time.perf_counter() - clock

    day = day_str(inputs.day)
    predictions = {b.display: classes[votes[:, i]] for i, b in enumerate(scenario.bases)}
    predictions[NAIVE] = classes[naive]
    for g, p in cv.proba.items():
        predictions[g] = classes[p.argmax(axis=1)]
    truth = inputs.labels[scored]
    scores = day_scores(day, truth, {m: pred[scored].astype(str) for m, pred in predictions.items()})

    full = scenario.full_group
    hosts = pd.DataFrame({"ip": inputs.ips[scored], "label": truth, "fold": folds[scored]})
    for m, pred in predictions.items():
        hosts[m] = pred[scored].astype(str)
    hosts["probability"] = cv.proba[full][scored].max(axis=1)
    for i, b in enumerate(scenario.bases):
        hosts[f"contrib_{b.display}"] = cv.contributions[scored, i]

    coefficients = []
    for g, model in models.items():
        bases = [scenario.bases[i] for i in scenario.meta_groups[g]]
        coefficients.append(explain.coefficient_table(model, inputs.classes, bases).assign(day=day, model=g))
    where = f"scenario {scenario.name}, {day}"
    warnings = [
        f"{where}, fold {f}: class(es) {', '.join(inputs.classes[c] for c in absent)} absent from the training folds; "
        f"the meta-learner cannot predict them there"
        for f, absent in cv.missing_classes.items()
    ]
    if cv.unconverged:
        warnings.append(f"{where}: {cv.unconverged} meta-learner fit(s) did not converge in {settings.lr_max_iter} iterations")
    if inputs.folded:
        folded = ", ".join(f"{c} ({n} host{'' if n == 1 else 's'})" for c, n in inputs.folded.items())
        log.info(
            f"{where}: small classes folded into unknown (fewer than {settings.min_class_hosts} hosts): {folded}",
            extra={"scenario": scenario.name, "day": day, "folded": inputs.folded},
        )
    return DayOutcome(hosts, scores, pd.concat(coefficients, ignore_index=True), warnings, seconds)


def _codes_of(names: np.ndarray, classes: list[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[x] for x in names], dtype=np.int64)


def _remove_stale(folder: Path, keep: set[Path], pattern: str) -> None:
    for path in folder.glob(pattern):
        if path not in keep:
            path.unlink()


def stack(
    ws: Workspace,
    scenario: str,
    settings: StackSettings | None = None,
    *,
    days: list[dt.date] | None = None,
    seed: int = 0,
) -> StackResult:
    """Evaluate every base, naive stacking and the meta-learner(s) of ``scenario`` on the test days.

    Test days default to the split of docs/evaluation.md over the days on which any base has
    embeddings (``settings.test_days``, ``settings.train_days``); a day missing a base, or without
    usable hosts, is left out with a skip line. :class:`darkstack.skips.StageSkipped` when a base has
    no embeddings at all or no day can be stacked. Writes tables, confusion matrices, coefficients and
    per-host predictions under ``ws.results_dir/stack/<scenario>/``.
    """
    settings = settings or StackSettings()
    started = time.perf_counter()
    sc = resolve_scenario(ws, scenario, settings)
    absent = [b.name for b in sc.bases if not ws.embedding_days(b.sensor, b.variant)]
    if absent:
        raise skips.skip_stage(
            "stack", f"no embeddings of {', '.join(absent)}: run `darkstack embed` first",
            scenario=sc.name, option="stack.base_variants",
        )
    all_days, missing = available_days(ws, sc)
    test_days = sorted(days) if days else pick_test_days(all_days, settings.test_days, settings.train_days)
    out_dir = ws.results_dir / "stack" / sc.name
    methods = methods_of(sc)
    skipped: dict[str, str] = {}
    left_out: dict[tuple[str, str | None], list[dt.date]] = {}
    warnings: list[str] = []
    outcomes: dict[dt.date, DayOutcome] = {}
    with progress_bar(f"stack scenario {sc.name}", len(test_days)) as bar:
        for day in test_days:
            advance(bar, 0, day_str(day))
            gone = missing.get(day, []) if day in all_days else [b.name for b in sc.bases]
            why = (f"no embeddings of {', '.join(gone)}", None) if gone else None
            inputs = None
            if why is None:
                inputs = load_day(ws, sc, day, settings)
                why = unusable(inputs, settings, sc)
            if why is not None:
                skipped[day_str(day)] = why[0]
                left_out.setdefault(why, []).append(day)
            else:
                t0 = time.perf_counter()
                outcomes[day] = evaluate_day(inputs, sc, settings, seed)
                warnings += outcomes[day].warnings
                took = time.perf_counter() - t0
                log.info(
                    f"scenario {sc.name}, {day_str(day)}: stacked {len(inputs.ips)} hosts "
                    f"({int(inputs.scored.sum())} scored) in {took:.1f} s",
                    extra={"scenario": sc.name, "day": day_str(day), "hosts": len(inputs.ips), "seconds": round(took, 2)},
                )
            advance(bar)
    for w in warnings:
        log.warning(w)
    meta = {
        "scenario": sc.name,
        "bases": [b.name for b in sc.bases],
        "meta_learners": {g: [sc.bases[i].name for i in idx] for g, idx in sc.meta_groups.items()},
        "days": [day_str(d) for d in outcomes],
        "skipped": skipped,
        "seed": seed,
        "settings": settings.model_dump(mode="json"),
        "warnings": warnings,
        "seconds_per_day": {day_str(d): {k: round(v, 3) for k, v in o.seconds.items()} for d, o in outcomes.items()},
    }
    if not outcomes:
        atomic.write_json(out_dir / "run.json", {**meta, "seconds": round(time.perf_counter() - started, 3)})
        reasons = list(dict.fromkeys(reason for reason, _ in left_out))
        raise skips.skip_stage(
            "stack", f"no test day could be stacked: {'; '.join(reasons)}", scenario=sc.name, days=test_days,
            option=next(iter(left_out))[1] if len(left_out) == 1 else None,
        )
    for (reason, option), when in left_out.items():
        skips.note("stack", f"{reason}; day(s) left out", scenario=sc.name, days=when, option=option)

    daily = pd.concat([o.scores for o in outcomes.values()], ignore_index=True)
    summary = summarise(daily)
    coefficients = pd.concat([o.coefficients for o in outcomes.values()], ignore_index=True)
    focus = settings.confusion_day if settings.confusion_day in outcomes else max(outcomes)
    if settings.confusion_day is not None and settings.confusion_day not in outcomes:
        warnings.append(f"confusion day {day_str(settings.confusion_day)} was not evaluated; using {day_str(focus)}")
    meta["confusion_day"] = day_str(focus)
    table = _write_outputs(out_dir, sc, settings, methods, outcomes, daily, summary, coefficients, focus, meta)
    seconds = time.perf_counter() - started
    atomic.write_json(out_dir / "run.json", {**meta, "seconds": round(seconds, 3)})
    tables.write_overview(ws.results_dir / "stack")
    return StackResult(sc.name, meta["bases"], methods, list(outcomes), skipped, daily, summary, table, coefficients, out_dir, seconds, warnings)


def _write_outputs(out_dir, sc, settings, methods, outcomes, daily, summary, coefficients, focus, meta) -> pd.DataFrame:
    """Tables, per-host predictions, confusion matrices and coefficient tables/figures."""
    atomic.write_text(out_dir / "daily.csv", daily.to_csv(index=False))
    table = tables.write_per_class(out_dir, summary, methods, {k: meta[k] for k in ("scenario", "bases", "days", "seed")})
    log.info(f"scenario {sc.name}: {len(outcomes)} day(s) stacked, tables in {out_dir}", extra={"scenario": sc.name})

    kept = set()
    for day, outcome in outcomes.items():
        path = out_dir / "hosts" / f"day={day_str(day)}.parquet"
        hosts = outcome.hosts
        atomic.write_parquet(path, pa.Table.from_pandas(hosts, preserve_index=False).cast(_host_schema(hosts)))
        kept.add(path)
    _remove_stale(out_dir / "hosts", kept, "day=*.parquet")

    hosts = outcomes[focus].hosts
    support = hosts["label"].value_counts()
    classes = sorted(support.index, key=lambda c: (-support[c], c))
    kept = set()
    for m in methods:
        counts = tables.confusion(hosts["label"].to_numpy(), hosts[m].to_numpy(), classes)
        for name, frame in ((f"{m}.csv", counts), (f"{m}_norm.csv", tables.row_normalised(counts).round(4))):
            atomic.write_text(out_dir / "confusion" / name, frame.to_csv())
            kept.add(out_dir / "confusion" / name)
        if settings.figures:
            figures.confusion_figure(counts, f"{sc.name} — {m} — {day_str(focus)}", out_dir / "confusion" / f"{m}.png")
            kept.add(out_dir / "confusion" / f"{m}.png")
    _remove_stale(out_dir / "confusion", kept, "*")

    atomic.write_text(out_dir / "coefficients.csv", coefficients.to_csv(index=False))
    focus_coef = coefficients[(coefficients["day"] == day_str(focus)) & (coefficients["model"] == sc.full_group)]
    own = explain.own_class_coefficients(focus_coef).rename(index=tables.display_class)
    atomic.write_text(out_dir / "coefficients_own.csv", own.to_csv())
    if settings.figures:
        figures.coefficient_figure(own, f"{sc.full_group} coefficients per base — {day_str(focus)}", out_dir / "coefficients.png")
    if len(sc.sensors) > 1:
        per_sensor = explain.sensor_coefficients(focus_coef).rename(index=tables.display_class)
        atomic.write_text(out_dir / "coefficients_sensor.csv", per_sensor.to_csv())
        if settings.figures:
            figures.coefficient_figure(per_sensor, f"{sc.full_group} mean coefficient per sensor — {day_str(focus)}", out_dir / "coefficients_sensor.png")
    return table


def _host_schema(hosts: pd.DataFrame) -> pa.Schema:
    fields = []
    for name, dtype in hosts.dtypes.items():
        if name == "ip":
            fields.append(pa.field(name, pa.uint32()))
        elif name == "fold":
            fields.append(pa.field(name, pa.int32()))
        elif pd.api.types.is_float_dtype(dtype):
            fields.append(pa.field(name, pa.float64()))
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)

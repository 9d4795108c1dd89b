"""Turn a :class:`PipelineConfig` into the ordered, cached steps of ``darkstack run``.

Steps (names as recorded in ``pipeline/steps.json``): ``simulate`` or ``ingest:<sensor>``, ``labels``,
``snapshot:<sensor>``, ``embed:<sensor>:<variant>``, ``evaluate:<sensor>``, ``study:<sensor>:<kind>``,
``stack:<scenario>``, ``predict:<scenario>``, ``discover:<sensor>``, ``export:<scenario>``, ``report``. Each step's settings hold exactly the options
that change its outputs, so changing one option reruns only the steps that depend on it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from darkstack import skips
from darkstack.errors import ConfigError, DarkstackError
from darkstack.ingest.settings import ENGINE_KEYS
from darkstack.pipeline.config import AUTO, KINDS, SCENARIOS, PipelineConfig, parse_variant
from darkstack.pipeline.steps import Step
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace, day_str


def processed_days(ws: Workspace, config: PipelineConfig, sensor: str, until: dt.date | None = None) -> list[dt.date]:
    """Store days of ``sensor`` inside the configured window (and not after ``until``)."""
    last = min(d for d in (config.run.last_day, until) if d is not None) if (config.run.last_day or until) else None
    return [d for d in ws.store_days(sensor) if (config.run.first_day is None or d >= config.run.first_day) and (last is None or d <= last)]


# --- what the data allows: sensors by kind, scenarios by kinds ------------------------------------
def _source_kinds(ws: Workspace, config: PipelineConfig) -> dict[str, str]:
    """Sensor → kind of what the configured source writes (the ingest entries, or the simulator's two)."""
    if config.source.type == "simulate":
        return {"darknet": "darknet", "honeypot": "honeypot"}
    kinds: dict[str, str] = {}
    registered = ws.sensors()
    for entry in config.source.ingest if config.source.type == "ingest" else []:
        kind = entry.kind or registered.get(entry.sensor, {}).get("kind") or _detected_kind(entry.paths)
        kinds.setdefault(entry.sensor, kind)
    return kinds


def _detected_kind(paths: list[Path]) -> str:
    """The sensor kind of the first recognisable file (ingest itself refuses mixed kinds in one sensor)."""
    from darkstack.ingest.formats import detect

    for path in expand_paths(paths):
        try:
            return detect(path).kind
        except DarkstackError:
            continue
    return "darknet"


def expand_paths(paths: list[Path]) -> list[Path]:
    """The files named and every non-hidden file under the folders named (recursively, sorted)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            out.append(path)
    return out


def sensor_kinds(ws: Workspace, config: PipelineConfig) -> dict[str, str]:
    """The run's sensors and their kinds.

    ``run.sensors = "auto"``: the source's sensors, then every other sensor registered in the store.
    A named sensor takes its kind from the source or the registry; one neither knows yet (planned
    before its data exists) is a honeypot when named ``honeypot``, else a darknet.
    """
    known = _source_kinds(ws, config) | {name: info.get("kind", "darknet") for name, info in ws.sensors().items()}
    if config.run.sensors == AUTO:
        return known
    return {name: known.get(name, "honeypot" if name == "honeypot" else "darknet") for name in config.run.sensors}


def run_sensors(ws: Workspace, config: PipelineConfig) -> list[str]:
    return list(sensor_kinds(ws, config))


def scenario_settings(ws: Workspace, config: PipelineConfig, scenario: str) -> StackSettings:
    """``config.stack`` with the scenario's sensors filled in from the run's sensors' kinds.

    Raises :class:`~darkstack.skips.StageSkipped` when the kinds do not allow the scenario (no sensor
    of a kind it needs, or several and none chosen).
    """
    from darkstack.stack.bases import pick_sensor

    sensors = {name: {"kind": kind} for name, kind in sensor_kinds(ws, config).items()}
    chosen = {}
    for kind in KINDS[scenario]:
        option = f"stack.{kind}_sensor"
        try:
            chosen[f"{kind}_sensor"] = pick_sensor(sensors, kind, getattr(config.stack, f"{kind}_sensor"))
        except ConfigError as exc:
            raise skips.skip_stage("stack", exc.problem, scenario=scenario, option=f"run.sensors / {option}") from None
    return config.stack.model_copy(update=chosen)


def scenario_sensors(settings: StackSettings, scenario: str) -> list[str]:
    """The sensors ``scenario`` stacks under ``settings`` (from :func:`scenario_settings`), each once."""
    return list(dict.fromkeys(getattr(settings, f"{kind}_sensor") for kind in KINDS[scenario]))


def run_scenarios(config: PipelineConfig) -> list[str]:
    """The scenarios planned: every named one for ``auto`` (those the kinds do not allow are skipped with the reason)."""
    return list(SCENARIOS) if config.run.scenarios == AUTO else list(config.run.scenarios)


def resolved(ws: Workspace, config: PipelineConfig) -> PipelineConfig:
    """``config`` with ``auto`` sensors, scenarios and study sensors replaced by what the data allows.

    Saved as the run's ``pipeline/config.json``: the report and ``update`` see the sensors and the
    scenarios that were planned (a scenario the kinds do not allow is left out of an ``auto`` list).
    """
    run = config.run
    sensors = run_sensors(ws, config) if run.sensors == AUTO else list(run.sensors)
    scenarios = run.scenarios
    if scenarios == AUTO:
        scenarios = []
        for scenario in SCENARIOS:
            try:
                scenario_settings(ws, config, scenario)
            except skips.StageSkipped:
                continue
            scenarios.append(scenario)
    studied = study_sensors(ws, config)
    update = {"sensors": sensors or AUTO, "scenarios": scenarios, "study_sensors": studied or run.study_sensors}
    return config.model_copy(update={"run": run.model_copy(update=update)})


def study_sensors(ws: Workspace, config: PipelineConfig) -> list[str]:
    if config.run.study_sensors != AUTO:
        return list(config.run.study_sensors)
    return [name for name, kind in sensor_kinds(ws, config).items() if kind == "darknet"]


def label_sources(ws: Workspace, config: PipelineConfig) -> list[Path]:
    """The configured label files, or the simulator's published ones when none are configured."""
    if config.labels.sources or config.source.type != "simulate":
        return list(config.labels.sources)
    published = [ws.truth_dir / "labels.csv", ws.truth_dir / "acknowledged_scanners.ipset"]
    return [p for p in published if p.exists()] or [published[0]]


def _files_in(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


# --- actions (stage modules are imported when a step runs) ----------------------------------------
def simulate_data(ws: Workspace, config: PipelineConfig) -> list[Path]:
    from darkstack.simulate import simulate

    sim = config.source.simulate
    simulate(ws, profile=sim.profile, days=sim.days, start=sim.start, seed=sim.seed, pcap=sim.pcap, scale=sim.scale, campaigns=sim.campaigns,
             prefix_len=sim.prefix_len, thin=sim.thin)
    return [ws.sensors_file, *_files_in(ws.truth_dir)]


def ingest_data(ws: Workspace, config: PipelineConfig, sensor: str) -> list[Path]:
    from darkstack.ingest import ingest

    for source in config.source.ingest:
        if source.sensor == sensor:
            try:
                report = ingest(
                    ws, list(source.paths), sensor, kind=source.kind, fmt=source.format, anonymise_key=source.anonymise_key,
                    settings=config.ingest, keep_going=source.keep_going,
                )
            except ConfigError:
                raise
            except DarkstackError as exc:
                if not source.keep_going:
                    raise
                skips.note("ingest", f"no file could be read: {exc.line()}", sensor=sensor, option="--format / source.ingest.format")
                continue
            for failed in report.failed:
                skips.note("ingest", f"file skipped: {failed.error}", sensor=sensor, option="--format / source.ingest.format")
    if not ws.store_days(sensor):
        raise skips.skip_stage("ingest", "no readable traffic in the given files", sensor=sensor)
    return [ws.sensors_file, ws.ingest_manifest]


def build_labels_for(ws: Workspace, config: PipelineConfig) -> list[Path]:
    from darkstack.labels import build_labels

    labels = config.labels
    build_labels(
        ws, label_sources(ws, config), org_map=labels.org_map, mirai_rule=labels.mirai_rule, anonymise_key=labels.anonymise_key, keep_unmapped=labels.keep_unmapped,
        strict=labels.strict, snapshot_date=labels.snapshot_date, backdate_first_snapshot=labels.backdate_first_snapshot,
        activity_rules=labels.activity_rules,
    )
    return [ws.labels_table]


def snapshot_sensor(ws: Workspace, config: PipelineConfig, sensor: str, until: dt.date | None = None) -> list[Path]:
    from darkstack.snapshot import build_snapshots

    days = processed_days(ws, config, sensor, until)
    if not days:
        raise skips.skip_stage("snapshot", "no traffic of this sensor in the processed days", sensor=sensor, option="run.first_day / run.last_day")
    days = build_snapshots(ws, sensor, days=days, settings=config.snapshot, engine=config.run.engine)
    return [ws.snapshot_dir(sensor, d) / "meta.json" for d in days]


def embed_variant(ws: Workspace, config: PipelineConfig, sensor: str, variant: str, until: dt.date | None = None) -> list[Path]:
    from darkstack.embed import embed

    method, features = parse_variant(variant)
    days = processed_days(ws, config, sensor, until)
    if not days:
        raise skips.skip_stage("embed", "no traffic of this sensor in the processed days", sensor=sensor, variant=variant)
    embed(ws, sensor, method, features=features, settings=config.embed, variant=variant, until=days[-1], device=config.run.device, seed=config.run.seed)
    folder = ws.embedding_dir(sensor, variant)
    return [folder / "run.json", *(ws.embedding_path(sensor, variant, d) for d in ws.embedding_days(sensor, variant) if d in days)]


def evaluate_sensor(ws: Workspace, config: PipelineConfig, sensor: str) -> list[Path]:
    from darkstack.evaluate import evaluate

    result = evaluate(ws, sensor, list(config.run.variants), settings=config.evaluate)
    return list(result.paths.values())


def study_sensor(ws: Workspace, config: PipelineConfig, sensor: str, kind: str) -> list[Path]:
    from darkstack.evaluate import study

    values = config.run.history_values if kind == "history" else config.run.epoch_values
    study(ws, sensor, kind, values=values, settings=config.evaluate, embed_settings=config.embed, device=config.run.device, seed=config.run.seed)
    return _files_in(ws.results_dir / "study" / sensor, f"{kind}.*")


def stack_scenario(ws: Workspace, config: PipelineConfig, scenario: str, settings: StackSettings) -> list[Path]:
    """Stack ``scenario`` with its :func:`scenario_settings` (the settings its step key was made of)."""
    from darkstack.stack import stack

    stack(ws, scenario, settings=settings, seed=config.run.seed)
    return _files_in(ws.results_dir / "stack" / scenario)


def scenario_day(ws: Workspace, config: PipelineConfig, settings: StackSettings, scenario: str) -> dt.date:
    """The last processed day on which every sensor of the scenario has traffic (its predictions' day)."""
    sensors = scenario_sensors(settings, scenario)
    common = set.intersection(*(set(processed_days(ws, config, s)) for s in sensors))
    if not common:
        raise skips.skip_stage("predict", f"no day with traffic of every sensor of the scenario ({', '.join(sensors)})", scenario=scenario)
    return max(common)


def predict_scenario(ws: Workspace, config: PipelineConfig, scenario: str, settings: StackSettings, day: dt.date | None = None) -> list[Path]:
    """Predict ``day`` (default: the scenario's last common day) with the scenario's :func:`scenario_settings`."""
    from darkstack.stack import predict
    from darkstack.stack.predict import neighbours_path

    day = day or scenario_day(ws, config, settings, scenario)
    predict(ws, day, scenario=scenario, settings=settings, seed=config.run.seed)
    return [*_files_in(ws.results_dir / "predict" / scenario, f"day={day_str(day)}.*"), neighbours_path(ws, scenario, day)]


def export_scenario(ws: Workspace, config: PipelineConfig, scenario: str, settings: StackSettings) -> list[Path]:
    """Export the day ``predict:<scenario>`` labelled (the scenario's last common day)."""
    from darkstack.export import export

    return export(ws, scenario, scenario_day(ws, config, settings, scenario), config.export)


def discover_sensor(ws: Workspace, config: PipelineConfig, sensor: str) -> list[Path]:
    """Cluster and track the sensor's hosts over the processed days (``config.discover``; the stacked space uses ``config.stack``)."""
    from darkstack.discover import discover

    days = processed_days(ws, config, sensor)
    return discover(ws, sensor, config.discover, config.stack, days=days, candidates=config.run.variants).paths


def discover_step(ws: Workspace, config: PipelineConfig, sensor: str) -> Step:
    """The ``discover:<sensor>`` step: after the sensor's embeddings, and its evaluation when the best variant is clustered
    (an evaluation that scored nothing does not block it: the first variant is clustered then)."""
    from darkstack.discover.settings import BEST, STACK

    space = config.discover.space
    variants = config.stack.base_variants if space == STACK else config.run.variants if space == BEST else (space,)
    embeds = tuple(f"embed:{sensor}:{v}" for v in variants)
    needs: tuple[tuple[str, ...], ...] = (embeds,) if space != STACK else tuple((e,) for e in embeds)
    after = ("labels", f"snapshot:{sensor}", *embeds)
    if space == BEST and config.run.evaluate:
        after += (f"evaluate:{sensor}",)
    settings = config.discover.model_dump(mode="json") | {"first_day": config.run.first_day, "last_day": config.run.last_day}
    if space == STACK:
        settings["stack"] = config.stack.model_dump(mode="json", include={"base_variants", "k", "metric", "min_class_hosts"})
    return Step(f"discover:{sensor}", lambda: discover_sensor(ws, config, sensor), settings, after, needs=needs, where={"sensor": sensor})


# --- the plan ------------------------------------------------------------------------------------
def build_plan(ws: Workspace, config: PipelineConfig, run_id: str) -> list[Step]:
    """The ordered steps of one run of ``config`` on ``ws``.

    Sensors and scenarios left to ``auto`` come from the source and the store (:func:`sensor_kinds`).
    Each step names the prerequisites it cannot do without (``Step.needs``): when they computed
    nothing, the step is recorded as skipped with the reason instead of failing.
    """
    run = config.run
    window = {"first_day": run.first_day, "last_day": run.last_day}
    steps: list[Step] = []
    source_of: dict[str, tuple[str, ...]] = {}
    if config.source.type == "simulate":
        steps.append(Step("simulate", lambda: simulate_data(ws, config), config.source.simulate.model_dump(mode="json")))
        source_steps: tuple[str, ...] = ("simulate",)
    else:
        source_steps = ()
        for sensor in dict.fromkeys(i.sensor for i in config.source.ingest):
            entries = [i for i in config.source.ingest if i.sensor == sensor]
            paths = tuple(p for i in entries for p in i.paths) + tuple(i.anonymise_key for i in entries if i.anonymise_key)
            settings = {"entries": [i.model_dump(mode="json") for i in entries], "ingest": config.ingest.model_dump(mode="json", exclude=ENGINE_KEYS)}
            steps.append(Step(f"ingest:{sensor}", lambda s=sensor: ingest_data(ws, config, s), settings, inputs=paths, where={"sensor": sensor}))
            source_steps += (f"ingest:{sensor}",)
            source_of[sensor] = (f"ingest:{sensor}",)

    label_inputs = tuple(config.labels.sources) + tuple(p for p in (config.labels.org_map, config.labels.anonymise_key) if p)
    if not isinstance(config.labels.activity_rules, bool):
        label_inputs += (config.labels.activity_rules,)
    steps.append(Step("labels", lambda: build_labels_for(ws, config), config.labels.model_dump(mode="json"), source_steps, label_inputs, needs=()))

    sensors = run_sensors(ws, config)
    snapshot_settings = config.snapshot.model_dump(mode="json") | window | {"engine": run.engine}
    for sensor in sensors:
        # a sensor's snapshots need its own source step only (another sensor's file may fail to read)
        needs = (source_of[sensor],) if sensor in source_of else ()
        steps.append(Step(f"snapshot:{sensor}", lambda s=sensor: snapshot_sensor(ws, config, s), snapshot_settings, source_steps, needs=needs, where={"sensor": sensor}))
        for variant in run.variants:
            method, features = parse_variant(variant)
            settings = {"method": method, "features": features, "seed": run.seed, "embed": config.embed.relevant(method)}
            steps.append(
                Step(f"embed:{sensor}:{variant}", lambda s=sensor, v=variant: embed_variant(ws, config, s, v), settings, (f"snapshot:{sensor}",),
                     where={"sensor": sensor, "variant": variant})
            )

    embeds = {s: tuple(f"embed:{s}:{v}" for v in run.variants) for s in sensors}
    for sensor in sensors if run.evaluate else []:
        settings = config.evaluate.model_dump(mode="json") | {"variants": run.variants}
        # one variant that computed nothing leaves the others to score
        steps.append(Step(f"evaluate:{sensor}", lambda s=sensor: evaluate_sensor(ws, config, s), settings, ("labels", *embeds[sensor]),
                          needs=(embeds[sensor],), where={"sensor": sensor}))
    for sensor in study_sensors(ws, config) if run.studies else []:
        for kind in run.studies:
            values = run.history_values if kind == "history" else run.epoch_values
            settings = {"evaluate": config.evaluate.model_dump(mode="json"), "embed": config.embed.relevant("igcngru"), "seed": run.seed, "values": values}
            steps.append(Step(f"study:{sensor}:{kind}", lambda s=sensor, k=kind: study_sensor(ws, config, s, k), settings, ("labels", f"snapshot:{sensor}"),
                              needs=((f"snapshot:{sensor}",),), where={"sensor": sensor}))

    predicted: list[tuple[str, StackSettings]] = []
    for scenario in run_scenarios(config):
        try:
            stack_settings = scenario_settings(ws, config, scenario)
        except skips.StageSkipped as exc:
            steps.append(Step(f"stack:{scenario}", _raise(exc), {"skip": exc.skip.as_dict()}, needs=()))
            continue
        after = ("labels", *(f"embed:{s}:{v}" for s in scenario_sensors(stack_settings, scenario) for v in stack_settings.base_variants))
        settings = stack_settings.model_dump(mode="json") | {"seed": run.seed}
        needs = tuple((name,) for name in after if name != "labels")
        steps.append(Step(f"stack:{scenario}", lambda sc=scenario, st=stack_settings: stack_scenario(ws, config, sc, st), settings, after, needs=needs, where={"scenario": scenario}))
        if run.predict:
            steps.append(Step(f"predict:{scenario}", lambda sc=scenario, st=stack_settings: predict_scenario(ws, config, sc, st), settings, after, needs=needs, where={"scenario": scenario}))
            predicted.append((scenario, stack_settings))

    for sensor in sensors if run.discover else []:
        steps.append(discover_step(ws, config, sensor))

    # after every discover step: an export carries the clusters of the day when discover found them
    discovered = tuple(s.name for s in steps if s.stage == "discover")
    for scenario, stack_settings in predicted if config.export.enabled else []:
        settings = config.export.model_dump(mode="json")
        steps.append(Step(f"export:{scenario}", lambda sc=scenario, st=stack_settings: export_scenario(ws, config, sc, st), settings,
                          (f"predict:{scenario}", *discovered), needs=((f"predict:{scenario}",),), where={"scenario": scenario}))

    if config.report.enabled:
        from darkstack.report.build import build_report

        report = config.report
        everything = tuple(s.name for s in steps)
        steps.append(
            Step("report", lambda: [build_report(
                ws, run_id=run_id, top_predictions=report.top_predictions, title=report.title, steps=everything, lookup_hosts=report.lookup_hosts)],
                 report.model_dump(mode="json"), everything, needs=())
        )
    return steps


def _raise(exc: skips.StageSkipped):
    """A step action that records ``exc`` (a scenario the sensors' kinds do not allow)."""

    def action():
        raise exc

    return action

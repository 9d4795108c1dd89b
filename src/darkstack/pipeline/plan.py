"""Turn a :class:`PipelineConfig` into the ordered, cached steps of ``darkstack run``.

Steps (names as recorded in ``pipeline/steps.json``): ``simulate`` or ``ingest:<sensor>``, ``labels``,
``snapshot:<sensor>``, ``embed:<sensor>:<variant>``, ``evaluate:<sensor>``, ``study:<sensor>:<kind>``,
``stack:<scenario>``, ``predict:<scenario>``, ``report``. Each step's settings hold exactly the options
that change its outputs, so changing one option reruns only the steps that depend on it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from darkstack.pipeline.config import PipelineConfig, parse_variant
from darkstack.pipeline.steps import Step
from darkstack.workspace import Workspace, day_str


def processed_days(ws: Workspace, config: PipelineConfig, sensor: str, until: dt.date | None = None) -> list[dt.date]:
    """Store days of ``sensor`` inside the configured window (and not after ``until``)."""
    last = min(d for d in (config.run.last_day, until) if d is not None) if (config.run.last_day or until) else None
    return [d for d in ws.store_days(sensor) if (config.run.first_day is None or d >= config.run.first_day) and (last is None or d <= last)]


def last_day(ws: Workspace, config: PipelineConfig) -> dt.date:
    """The last processed day over all configured sensors."""
    days = [d for s in config.run.sensors for d in processed_days(ws, config, s)]
    if not days:
        from darkstack.errors import DarkstackError

        raise DarkstackError("no traffic in the configured days for the configured sensors", ws.store_dir)
    return max(days)


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
    simulate(ws, profile=sim.profile, days=sim.days, start=sim.start, seed=sim.seed, pcap=sim.pcap, scale=sim.scale)
    return [ws.sensors_file, *_files_in(ws.truth_dir)]


def ingest_data(ws: Workspace, config: PipelineConfig, sensor: str) -> list[Path]:
    from darkstack.ingest import ingest

    for source in config.source.ingest:
        if source.sensor == sensor:
            ingest(
                ws, list(source.paths), sensor, kind=source.kind, fmt=source.format, anonymise_key=source.anonymise_key,
                settings=config.ingest, keep_going=source.keep_going,
            )
    return [ws.sensors_file, ws.ingest_manifest]


def build_labels_for(ws: Workspace, config: PipelineConfig) -> list[Path]:
    from darkstack.labels import build_labels

    labels = config.labels
    build_labels(
        ws, label_sources(ws, config), org_map=labels.org_map, mirai_rule=labels.mirai_rule, anonymise_key=labels.anonymise_key, keep_unmapped=labels.keep_unmapped,
        strict=labels.strict,
    )
    return [ws.labels_table]


def snapshot_sensor(ws: Workspace, config: PipelineConfig, sensor: str, until: dt.date | None = None) -> list[Path]:
    from darkstack.snapshot import build_snapshots

    days = build_snapshots(ws, sensor, days=processed_days(ws, config, sensor, until), settings=config.snapshot, engine=config.run.engine)
    return [ws.snapshot_dir(sensor, d) / "meta.json" for d in days]


def embed_variant(ws: Workspace, config: PipelineConfig, sensor: str, variant: str, until: dt.date | None = None) -> list[Path]:
    from darkstack.embed import embed

    method, features = parse_variant(variant)
    days = processed_days(ws, config, sensor, until)
    if not days:
        return []
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


def stack_scenario(ws: Workspace, config: PipelineConfig, scenario: str) -> list[Path]:
    from darkstack.stack import stack

    stack(ws, scenario, settings=config.stack, seed=config.run.seed)
    return _files_in(ws.results_dir / "stack" / scenario)


def predict_scenario(ws: Workspace, config: PipelineConfig, scenario: str, day: dt.date | None = None) -> list[Path]:
    from darkstack.stack import predict

    day = day or last_day(ws, config)
    predict(ws, day, scenario=scenario, settings=config.stack, seed=config.run.seed)
    return _files_in(ws.results_dir / "predict" / scenario, f"day={day_str(day)}.*")


# --- the plan ------------------------------------------------------------------------------------
def scenario_sensors(config: PipelineConfig, scenario: str) -> list[str]:
    return {"D": [config.stack.darknet_sensor], "H": [config.stack.honeypot_sensor]}.get(
        scenario, [config.stack.darknet_sensor, config.stack.honeypot_sensor]
    )


def build_plan(ws: Workspace, config: PipelineConfig, run_id: str) -> list[Step]:
    """The ordered steps of one run of ``config`` on ``ws``."""
    run = config.run
    window = {"first_day": run.first_day, "last_day": run.last_day}
    steps: list[Step] = []
    if config.source.type == "simulate":
        steps.append(Step("simulate", lambda: simulate_data(ws, config), config.source.simulate.model_dump(mode="json")))
        source_steps = ("simulate",)
    else:
        source_steps = ()
        for sensor in dict.fromkeys(i.sensor for i in config.source.ingest):
            entries = [i for i in config.source.ingest if i.sensor == sensor]
            paths = tuple(p for i in entries for p in i.paths) + tuple(i.anonymise_key for i in entries if i.anonymise_key)
            settings = {"entries": [i.model_dump(mode="json") for i in entries], "ingest": config.ingest.model_dump(mode="json")}
            steps.append(Step(f"ingest:{sensor}", lambda s=sensor: ingest_data(ws, config, s), settings, inputs=paths))
            source_steps += (f"ingest:{sensor}",)

    label_inputs = tuple(config.labels.sources) + tuple(p for p in (config.labels.org_map, config.labels.anonymise_key) if p)
    steps.append(Step("labels", lambda: build_labels_for(ws, config), config.labels.model_dump(mode="json"), source_steps, label_inputs))

    snapshot_settings = config.snapshot.model_dump(mode="json") | window | {"engine": run.engine}
    for sensor in run.sensors:
        steps.append(Step(f"snapshot:{sensor}", lambda s=sensor: snapshot_sensor(ws, config, s), snapshot_settings, source_steps))
        for variant in run.variants:
            method, features = parse_variant(variant)
            settings = {"method": method, "features": features, "seed": run.seed, "embed": config.embed.relevant(method)}
            steps.append(Step(f"embed:{sensor}:{variant}", lambda s=sensor, v=variant: embed_variant(ws, config, s, v), settings, (f"snapshot:{sensor}",)))

    embeds = {s: tuple(f"embed:{s}:{v}" for v in run.variants) for s in run.sensors}
    for sensor in run.sensors if run.evaluate else []:
        settings = config.evaluate.model_dump(mode="json") | {"variants": run.variants}
        steps.append(Step(f"evaluate:{sensor}", lambda s=sensor: evaluate_sensor(ws, config, s), settings, ("labels", *embeds[sensor])))
    for sensor in run.study_sensors if run.studies else []:
        for kind in run.studies:
            values = run.history_values if kind == "history" else run.epoch_values
            settings = {"evaluate": config.evaluate.model_dump(mode="json"), "embed": config.embed.relevant("igcngru"), "seed": run.seed, "values": values}
            steps.append(Step(f"study:{sensor}:{kind}", lambda s=sensor, k=kind: study_sensor(ws, config, s, k), settings, ("labels", f"snapshot:{sensor}")))

    stack_settings = config.stack.model_dump(mode="json") | {"seed": run.seed}
    for scenario in run.scenarios:
        after = ("labels", *(f"embed:{s}:{v}" for s in scenario_sensors(config, scenario) for v in config.stack.base_variants))
        steps.append(Step(f"stack:{scenario}", lambda sc=scenario: stack_scenario(ws, config, sc), stack_settings, after))
        if run.predict:
            steps.append(Step(f"predict:{scenario}", lambda sc=scenario: predict_scenario(ws, config, sc), stack_settings, after))

    if config.report.enabled:
        from darkstack.report.build import build_report

        report = config.report
        everything = tuple(s.name for s in steps)
        steps.append(
            Step("report", lambda: [build_report(ws, run_id=run_id, top_predictions=report.top_predictions, title=report.title, steps=everything)], report.model_dump(mode="json"), everything)
        )
    return steps

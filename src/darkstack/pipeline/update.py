"""``update_day``: process one new day incrementally and label its unknown hosts.

The day's traffic is ingested (or simulated), the labels are refreshed, the day's snapshot is built,
every embedding advances from its last checkpoint by the missing day(s) only (incremental models are
fine-tuned, never retrained from scratch), each configured stack predicts the classes of the day's
unlabelled hosts, and each sensor's groups of hosts are clustered and tracked up to the day. Because
every stage resumes from its per-day outputs and checkpoints, an update after a run over days 1..N gives
the same embeddings as a full run over days 1..N+1.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from darkstack import skips
from darkstack.errors import ConfigError, DarkstackError
from darkstack.log import get_logger
from darkstack.pipeline import plan
from darkstack.pipeline.config import AUTO, PipelineConfig, config_from_dict
from darkstack.pipeline.run import config_file, log_to_workspace
from darkstack.workspace import Workspace, day_str, workspace_lock

log = get_logger(__name__)


@dataclass
class UpdateResult:
    day: dt.date
    seconds: dict[str, float] = field(default_factory=dict)
    embeddings: list[Path] = field(default_factory=list)
    predictions: dict[str, list[Path]] = field(default_factory=dict)
    not_computed: list[skips.Skip] = field(default_factory=list)
    """What the day's data did not allow (e.g. a sensor without traffic that day and its scenarios)."""


def workspace_config(ws: Workspace) -> PipelineConfig:
    """The configuration saved by the workspace's last ``darkstack run``."""
    path = config_file(ws)
    if not path.exists():
        raise ConfigError("no pipeline configuration in this workspace: pass --config or run `darkstack run` first", path)
    return config_from_dict(json.loads(path.read_text()), path)


def _simulate_through(ws: Workspace, config: PipelineConfig, day: dt.date) -> None:
    """Write the configured simulated world again (same seed: identical days) when ``day`` belongs to it.

    The simulator draws its host population over the whole simulated period, so a day past the period
    cannot be appended without changing the earlier days: that is an error asking for a longer period.
    """
    from darkstack.simulate import simulate

    sim = config.source.simulate
    end = sim.start + dt.timedelta(days=sim.days - 1)
    if not sim.start <= day <= end:
        raise ConfigError(
            f"day {day_str(day)} is outside the simulated period {day_str(sim.start)} … {day_str(end)}: "
            "raise source.simulate.days (the world is drawn for the whole period) and run `darkstack run` again"
        )
    simulate(ws, profile=sim.profile, days=sim.days, start=sim.start, seed=sim.seed, pcap=sim.pcap, scale=sim.scale, campaigns=sim.campaigns,
             prefix_len=sim.prefix_len, thin=sim.thin)


def update_day(
    config: PipelineConfig,
    day: dt.date,
    inputs: list[Path] | None = None,
    sensor: str | None = None,
    kind: str | None = None,
    fmt: str = "auto",
    anonymise_key: Path | None = None,
) -> UpdateResult:
    """Bring every configured artefact up to ``day`` and predict that day's unknown hosts."""
    ws = Workspace(config.workspace.path)
    log_to_workspace(ws)
    with workspace_lock(ws):
        return _update(ws, config, day, inputs, sensor, kind, fmt, anonymise_key)


def _update(
    ws: Workspace, config: PipelineConfig, day: dt.date, inputs, sensor: str | None, kind: str | None, fmt: str, anonymise_key: Path | None
) -> UpdateResult:
    """The steps of ``update_day``, run while the workspace is locked."""
    config = config.model_copy(update={"run": config.run.model_copy(update={"last_day": day})})
    result = UpdateResult(day)

    def timed(name, action):
        started = time.perf_counter()
        out = action()
        result.seconds[name] = round(time.perf_counter() - started, 3)
        log.info(f"update {day_str(day)}: {name} done in {result.seconds[name]:.1f} s", extra={"day": day_str(day), "step": name})
        return out

    if inputs:
        if not sensor:
            raise ConfigError("--input needs --sensor (the sensor the files belong to)")
        from darkstack.ingest import ingest

        timed(f"ingest:{sensor}", lambda: ingest(ws, list(inputs), sensor, kind=kind, fmt=fmt, anonymise_key=anonymise_key, settings=config.ingest))
    sensors = plan.run_sensors(ws, config)
    if not inputs and config.source.type == "simulate" and any(day not in ws.store_days(s) for s in sensors):
        timed("simulate", lambda: _simulate_through(ws, config, day))
    with_day = [s for s in sensors if day in ws.store_days(s)]
    if not with_day:
        raise DarkstackError(f"no traffic for {day_str(day)} in the store of {', '.join(sensors) or 'any sensor'}: ingest it first or pass --input", ws.store_dir)

    with skips.collect() as found:
        timed("labels", lambda: plan.build_labels_for(ws, config))
        for name in sensors:
            if name not in with_day:
                skips.note("update", "no traffic that day: its snapshot and embeddings stay as they were", sensor=name, days=day)
                continue
            if _skipped(lambda s=name: timed(f"snapshot:{name}", lambda: plan.snapshot_sensor(ws, config, s))) is None:
                continue
            for variant in config.run.variants:
                made = _skipped(lambda s=name, v=variant: timed(f"embed:{s}:{v}", lambda: plan.embed_variant(ws, config, s, v)))
                result.embeddings += made or []
        for scenario in plan.run_scenarios(config) if config.run.predict else []:
            _predict(ws, config, scenario, day, with_day, result, timed)
        for name in with_day if config.run.discover else []:
            _skipped(lambda s=name: timed(f"discover:{s}", lambda: plan.discover_sensor(ws, config, s)))
    result.not_computed = list(found)
    return result


def _skipped(action):
    """Run ``action``; a :class:`~darkstack.skips.StageSkipped` is recorded (one line) and gives ``None``."""
    try:
        return action()
    except skips.StageSkipped as exc:
        skips.record(exc.skip)
        return None


def _predict(ws: Workspace, config: PipelineConfig, scenario: str, day: dt.date, with_day: list[str], result: UpdateResult, timed) -> None:
    """Predict ``day`` with ``scenario`` when every sensor of it has traffic that day, else record why not.

    With ``run.scenarios = "auto"``, a scenario the sensors' kinds do not allow is left out silently
    (the run's report already lists it); a listed one is recorded as skipped.
    """
    try:
        settings = plan.scenario_settings(ws, config, scenario)
    except skips.StageSkipped as exc:
        if config.run.scenarios == AUTO:
            log.debug(f"update {day_str(day)}: scenario {scenario} left out: {exc.skip.reason}")
        else:
            skips.record(exc.skip)
        return
    absent = [s for s in plan.scenario_sensors(settings, scenario) if s not in with_day]
    if absent:
        skips.note("predict", f"no traffic of sensor {', '.join(absent)} that day", scenario=scenario, days=day)
        return
    made = _skipped(lambda: timed(f"predict:{scenario}", lambda: plan.predict_scenario(ws, config, scenario, settings, day)))
    if made is not None:
        result.predictions[scenario] = made
        if config.export.enabled:
            from darkstack.export import export

            _skipped(lambda: timed(f"export:{scenario}", lambda: export(ws, scenario, day, config.export)))

"""``update_day``: process one new day incrementally and label its unknown hosts.

The day's traffic is ingested (or simulated), the labels are refreshed, the day's snapshot is built,
every embedding advances from its last checkpoint by the missing day(s) only (incremental models are
fine-tuned, never retrained from scratch), and each configured stack predicts the classes of the
day's unlabelled hosts. Because every stage resumes from its per-day outputs and checkpoints, an
update after a run over days 1..N gives the same embeddings as a full run over days 1..N+1.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from darkstack.errors import ConfigError, DarkstackError
from darkstack.log import get_logger
from darkstack.pipeline import plan
from darkstack.pipeline.config import PipelineConfig, config_from_dict
from darkstack.pipeline.run import config_file, log_to_workspace
from darkstack.workspace import Workspace, day_str, workspace_lock

log = get_logger(__name__)


@dataclass
class UpdateResult:
    day: dt.date
    seconds: dict[str, float] = field(default_factory=dict)
    embeddings: list[Path] = field(default_factory=list)
    predictions: dict[str, list[Path]] = field(default_factory=dict)


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
    simulate(ws, profile=sim.profile, days=sim.days, start=sim.start, seed=sim.seed, pcap=sim.pcap, scale=sim.scale)


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
    elif config.source.type == "simulate" and any(day not in ws.store_days(s) for s in config.run.sensors):
        timed("simulate", lambda: _simulate_through(ws, config, day))
    if not any(day in ws.store_days(s) for s in config.run.sensors):
        raise DarkstackError(f"no traffic for {day_str(day)} in the store of {config.run.sensors}: ingest it first or pass --input", ws.store_dir)

    timed("labels", lambda: plan.build_labels_for(ws, config))
    for name in config.run.sensors:
        timed(f"snapshot:{name}", lambda s=name: plan.snapshot_sensor(ws, config, s))
        for variant in config.run.variants:
            result.embeddings += timed(f"embed:{name}:{variant}", lambda s=name, v=variant: plan.embed_variant(ws, config, s, v))
    if config.run.predict:
        for scenario in config.run.scenarios:
            result.predictions[scenario] = timed(f"predict:{scenario}", lambda sc=scenario: plan.predict_scenario(ws, config, sc, day))
    return result

"""``run_pipeline``: every configured stage, cached step by step, ending with the HTML report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from darkstack import atomic
from darkstack.log import get_logger, setup_logging
from darkstack.pipeline.config import PipelineConfig
from darkstack.pipeline.plan import build_plan, resolved
from darkstack.pipeline.steps import RunRecord, load_state, run_steps
from darkstack.skips import Skip
from darkstack.workspace import Workspace, workspace_lock

log = get_logger(__name__)


def log_to_workspace(ws: Workspace) -> None:
    """Also write the structured log (JSON lines) of this process into the workspace's logs/darkstack.jsonl."""
    import logging

    setup_logging(logging.getLevelName(logging.getLogger("darkstack").getEffectiveLevel()), ws.log_file)


def config_file(ws: Workspace) -> Path:
    """The configuration of the workspace's last run (``darkstack update`` reads it when no config is given)."""
    return ws.root / "pipeline" / "config.json"


RESULT_STAGES = ("snapshot", "embed", "evaluate", "study", "stack", "predict")
"""Stages whose outputs are results: a run where all of them computed nothing produced nothing useful."""


@dataclass(frozen=True)
class PipelineResult:
    record: RunRecord
    report: Path | None
    """index.html of the run's report (the earlier one when nothing changed), or None when reports are off."""

    @property
    def not_computed(self) -> list[Skip]:
        """Every skip of the run's steps, in pipeline order."""
        return [s for found in self.record.not_computed.values() for s in found]

    def not_computed_line(self) -> str | None:
        """``not computed: N item(s), see …`` for the console, or ``None`` when everything was computed."""
        if not self.not_computed:
            return None
        where = f"the report's \"not computed\" section ({self.report})" if self.report else "pipeline/steps.json"
        return f"not computed: {len(self.not_computed)} item(s), see {where}"

    @property
    def useful(self) -> bool:
        """Whether some result step (snapshots onwards) computed something."""
        steps = self.record.ran + self.record.skipped
        return any(name.split(":", 1)[0] in RESULT_STAGES and name not in self.record.empty for name in steps)


def run_pipeline(config: PipelineConfig, force: tuple[str, ...] = (), run_id: str | None = None) -> PipelineResult:
    """Run the pipeline of ``config`` in its workspace; unchanged steps are skipped (see ``steps.py``)."""
    ws = Workspace(config.workspace.path)
    ws.root.mkdir(parents=True, exist_ok=True)
    log_to_workspace(ws)
    run_id = run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    with workspace_lock(ws):
        atomic.write_text(config_file(ws), resolved(ws, config).model_dump_json(indent=2) + "\n")
        record = run_steps(ws, build_plan(ws, config, run_id), force=force, run_id=run_id)
    report = None
    if config.report.enabled:
        outputs = load_state(ws)["steps"].get("report", {}).get("outputs", [])
        report = ws.root / outputs[0] if outputs else None
    log.info(
        f"pipeline done: {len(record.ran)} step(s) ran, {len(record.skipped)} unchanged",
        extra={"ran": record.ran, "skipped": record.skipped, "report": str(report)},
    )
    return PipelineResult(record, report)

"""The pipeline's own record in the report: what each step could not compute, and how long each took.

Both sections read ``pipeline/steps.json`` (:mod:`darkstack.pipeline.steps`): every step entry keeps
the skips noted while it ran (:mod:`darkstack.skips`) and whether it had nothing at all to compute,
so a step reused unchanged still reports them. Inside ``darkstack run`` the report is given the run's
steps in the order they ran; ``darkstack report`` shows every recorded step, in pipeline order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from darkstack.errors import DarkstackError
from darkstack.pipeline.steps import load_state, step_skips, steps_file
from darkstack.report.model import Section, table_from_frame
from darkstack.skips import Skip
from darkstack.workspace import Workspace

STAGE_ORDER = ("simulate", "ingest", "labels", "snapshot", "embed", "evaluate", "study", "stack", "predict", "discover", "report")
"""Step kinds in the order ``darkstack run`` runs them (``darkstack.pipeline.plan``)."""
SCENARIO_ORDER = ("D", "H", "DH")
"""The stacking paper's order of scenarios (others follow by name)."""
NO_VALUE = "–"
"""Shown where a skip is not specific to one sensor, variant or day."""


@dataclass(frozen=True)
class RecordedStep:
    """One step of ``steps.json``: its name and its entry (key, outputs, seconds, finished, run_id, skips, empty)."""

    name: str
    entry: dict

    @property
    def skips(self) -> list[Skip]:
        return step_skips(self.entry)

    @property
    def empty(self) -> bool:
        return bool(self.entry.get("empty"))


@dataclass(frozen=True)
class PipelineRecord:
    """The recorded steps to show (pipeline order), the run they belong to, or why none can be shown."""

    steps: list[RecordedStep]
    run_id: str | None
    problem: str | None = None


def pipeline_order(names: Sequence[str], order: dict[str, list[str]] | None = None) -> list[str]:
    """Step names sorted as the pipeline plans them: the data source, labels, per sensor its snapshots then
    its embeddings, evaluations, studies, per scenario its stack then its predictions, the report.

    ``order`` gives the configured order of sensors, variants and scenarios (others follow by name; scenarios
    default to D, H, DH); step kinds the pipeline does not know go before the report, by name.
    """
    order = {"scenarios": list(SCENARIO_ORDER)} | {kind: names for kind, names in (order or {}).items() if names}

    def rank(value: str, kind: str) -> tuple[int, str]:
        known = order.get(kind, [])
        return (known.index(value) if value in known else len(known), value)

    def key(name: str) -> tuple:
        kind, *parts = name.split(":")
        stage = STAGE_ORDER.index(kind) if kind in STAGE_ORDER else STAGE_ORDER.index("report") - 0.5
        if kind in ("snapshot", "embed") and parts:
            variant = rank(parts[1], "variants") if len(parts) > 1 else (-1, "")
            return (STAGE_ORDER.index("snapshot"), rank(parts[0], "sensors"), variant)
        if kind in ("stack", "predict") and parts:
            return (STAGE_ORDER.index("stack"), rank(parts[0], "scenarios"), STAGE_ORDER.index(kind))
        if kind in ("evaluate", "study", "discover") and parts:
            return (stage, rank(parts[0], "sensors"), tuple(parts[1:]))
        return (stage, (0, name), ())

    return sorted(names, key=key)


def read_record(
    ws: Workspace, run_steps: Sequence[str] | None = None, run_id: str | None = None, order: dict[str, list[str]] | None = None
) -> PipelineRecord:
    """The steps to report: ``run_steps`` (a run's plan, in its order) or every recorded step in pipeline order.

    ``run_id`` is the run being reported; without it, the last recorded run. ``order``: see :func:`pipeline_order`.
    """
    try:
        state = load_state(ws)
    except DarkstackError as exc:
        return PipelineRecord([], None, f"{steps_file(ws).relative_to(ws.root)}: {exc.problem}")
    recorded = state["steps"]
    names = [n for n in run_steps if n in recorded] if run_steps is not None else pipeline_order(list(recorded), order)
    runs = state.get("runs") or []
    last_run = run_id or (runs[-1].get("run_id") if runs and isinstance(runs[-1], dict) else None)
    return PipelineRecord([RecordedStep(n, recorded[n]) for n in names], last_run)


NOT_RECORDED = "No pipeline run is recorded (pipeline/steps.json is absent or empty): stages run one by one print what they skip but do not keep it."


def not_computed_section(record: PipelineRecord) -> Section:
    """Every skip of the reported steps (stage, where, variant, days, reason, option) and the steps left empty."""
    section = Section(
        "not-computed",
        "Not computed",
        "What the data did not allow, step by step (each was logged as a warning when it happened), and the option "
        "that would change it.",
        nav="Not computed",
    )
    if record.problem or not record.steps:
        section.absent.append(record.problem or NOT_RECORDED)
        return section
    rows = [
        {"step": step.name, "stage": s.stage, "where": s.where, "variant": s.variant, "days": s.days, "reason": s.reason, "change with": s.option}
        for step in record.steps
        for s in step.skips
    ]
    empty = [{"step": step.name, "reason": "; ".join(s.reason for s in step.skips) or None} for step in record.steps if step.empty]
    if not rows and not empty:
        section.intro += f" Nothing: every one of the {len(record.steps)} steps computed everything it planned."
        return section
    if rows:
        frame = pd.DataFrame(rows).fillna(NO_VALUE)
        section.tables.append(
            table_from_frame(f"Left out ({len(rows)})", frame, max_rows=len(rows), filterable=len(rows) > 10, source="skips")
        )
    if empty:
        frame = pd.DataFrame(empty)
        section.tables.append(table_from_frame(f"Steps with nothing to compute ({len(empty)})", frame, source="empty_steps"))
    return section


def timings_section(record: PipelineRecord) -> Section:
    """Wall time of the last computation of each reported step, in pipeline order."""
    section = Section(
        "timings",
        "Timings per step",
        "Wall time of the last computation of each pipeline step, in the order the pipeline runs them; steps unchanged since an "
        "earlier run were reused.",
        nav="Timings",
    )
    if record.problem or not record.steps:
        section.absent.append(record.problem or NOT_RECORDED)
        return section
    rows = [
        {
            "step": step.name,
            "seconds": step.entry.get("seconds"),
            "finished": step.entry.get("finished"),
            "in this run": record.run_id is not None and step.entry.get("run_id") == record.run_id,
            "left out": len(step.skips),
        }
        for step in record.steps
    ]
    frame = pd.DataFrame(rows)
    note = f"Total {pd.to_numeric(frame['seconds']).sum():.1f} s of computation."
    section.tables.append(table_from_frame("Steps", frame, note=note, max_rows=len(frame), source="timings"))
    return section

"""Cached pipeline steps: a step reruns only when its settings, its inputs or its upstream steps changed.

Each step has a *key*: the SHA-256 of its name, its settings, the keys of the steps it depends on and
the fingerprints (size, modification time) of the external files it reads. After a step succeeds, its
key, the outputs it produced and its timing are stored in ``<workspace>/pipeline/steps.json``
(atomically, after every step). A later run skips a step whose key is unchanged and whose recorded
outputs all still exist, so a killed run resumes at the step it was in (and the stages themselves
resume per day inside that step).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darkstack import __version__, atomic, skips
from darkstack.errors import ConfigError, DamagedFileError, DarkstackError
from darkstack.log import get_logger
from darkstack.workspace import Workspace

log = get_logger(__name__)

KEEP_RUNS = 20
"""How many past runs ``steps.json`` remembers (which steps ran, which were skipped, timings)."""


def steps_file(ws: Workspace) -> Path:
    """Where the step cache lives."""
    return ws.root / "pipeline" / "steps.json"


def file_fingerprint(path: Path) -> list:
    """Size and modification time of a file (or, for a folder, of every file under it); ``None`` if absent."""
    path = Path(path)
    if path.is_dir():
        return [[str(p.relative_to(path)), *file_fingerprint(p)] for p in sorted(path.rglob("*")) if p.is_file()]
    if not path.exists():
        return [None]
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


@dataclass(frozen=True)
class Step:
    """One unit of cached work.

    ``action`` does the work and returns the paths it wrote (all must exist afterwards; they are what a
    later run checks before skipping) or ``None`` for no files. ``settings`` must be JSON-able: every
    value that changes the outputs belongs in it.

    ``needs`` says which prerequisites the step cannot do without: groups of step names, and the step
    is skipped (with a reason, not run) when every step of some group computed nothing. ``None`` means
    each step of ``after`` is its own group. ``where`` (``sensor=``/``scenario=``/``variant=``) names
    the step in that skip's line.
    """

    name: str
    action: Callable[[], Iterable[Path] | None]
    settings: Mapping[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    inputs: tuple[Path, ...] = ()
    needs: tuple[tuple[str, ...], ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """The stage of the step (its name up to the first colon)."""
        return self.name.split(":", 1)[0]

    def blocked_by(self, empty: Iterable[str]) -> list[str]:
        """The prerequisites whose emptiness leaves this step nothing to work on (empty list: it can run)."""
        empty = set(empty)
        groups = [(name,) for name in self.after] if self.needs is None else self.needs
        return [name for group in groups if group and all(n in empty for n in group) for name in group]

    def key(self, upstream_keys: Mapping[str, str]) -> str:
        payload = {
            "name": self.name,
            "version": __version__,
            "settings": self.settings,
            "after": {name: upstream_keys[name] for name in self.after},
            "inputs": {str(p): file_fingerprint(p) for p in self.inputs},
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RunRecord:
    """What one pipeline run did: steps ran and skipped (unchanged), in order, with seconds per step ran.

    ``not_computed`` maps each step of the plan (ran or unchanged) to what the data did not allow it to
    compute (:mod:`darkstack.skips`); ``empty`` lists the steps that had nothing at all to compute.
    """

    run_id: str
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    not_computed: dict[str, list[skips.Skip]] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "ran": self.ran, "skipped": self.skipped, "seconds": self.seconds, "empty": self.empty}


def step_skips(entry: Mapping) -> list[skips.Skip]:
    """The skips recorded with one step of ``steps.json``."""
    return [skips.Skip.from_dict(s) for s in entry.get("skips", [])]


def load_state(ws: Workspace) -> dict:
    """The step cache (``{"steps": {...}, "runs": [...]}``), empty when none was written yet.

    A damaged cache raises DamagedFileError: the workspace lock moves it aside, and the next run
    starts from an empty cache (every step reruns; the stages resume from the days they finished).
    """
    path = steps_file(ws)
    if not path.exists():
        return {"steps": {}, "runs": []}
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedFileError(f"step cache is not valid JSON ({exc})", path) from exc
    if not isinstance(state, dict) or not isinstance(state.get("steps"), dict) or not all(isinstance(e, dict) for e in state["steps"].values()):
        raise DamagedFileError("step cache has an unexpected layout", path)
    state.setdefault("runs", [])
    return state


def _relative(ws: Workspace, path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ws.root)) if path.is_relative_to(ws.root) else str(path)


def _outputs_exist(ws: Workspace, outputs: list[str]) -> bool:
    return all((ws.root / p).exists() for p in outputs)


def check_plan(steps: list[Step]) -> None:
    """Every step name unique and every dependency an earlier step."""
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise ConfigError(f"pipeline step {step.name!r} appears twice")
        missing = [name for name in step.after if name not in seen]
        if missing:
            raise ConfigError(f"pipeline step {step.name!r} depends on {', '.join(missing)}, which do not run before it")
        seen.add(step.name)


def run_steps(ws: Workspace, steps: list[Step], force: Iterable[str] = (), run_id: str | None = None) -> RunRecord:
    """Run ``steps`` in order, skipping those whose key and outputs are unchanged; ``force`` names steps to rerun."""
    check_plan(steps)
    force = set(force)
    unknown = sorted(force - {s.name for s in steps})
    if unknown:
        raise ConfigError(f"cannot force unknown step(s) {', '.join(unknown)}; steps: {', '.join(s.name for s in steps)}")
    record = RunRecord(run_id=run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S"))
    state = load_state(ws)
    for step in steps:
        key = step.key(record.keys)
        record.keys[step.name] = key
        done = state["steps"].get(step.name)
        if step.name not in force and done and done.get("key") == key and _outputs_exist(ws, done.get("outputs", [])):
            record.skipped.append(step.name)
            found = step_skips(done)
            if found:
                record.not_computed[step.name] = found
            if done.get("empty"):
                record.empty.append(step.name)
            note = f"; not computed: {len(found)} item(s), see the report" if found else ""
            log.info(f"step {step.name}: unchanged, skipped{note}", extra={"step": step.name, "key": key[:12]})
            continue
        log.info(f"step {step.name}: running", extra={"step": step.name, "key": key[:12]})
        started = time.perf_counter()
        empty = False
        with skips.collect() as found:
            try:
                blocked = step.blocked_by(record.empty)
                if blocked:
                    raise skips.skip_stage(step.stage, f"nothing to work on: {', '.join(blocked)} computed nothing", **step.where)
                outputs = [_relative(ws, p) for p in (step.action() or [])]
            except skips.StageSkipped as exc:
                skips.record(exc.skip)
                outputs, empty = [], True
        seconds = round(time.perf_counter() - started, 3)
        absent = [p for p in outputs if not (ws.root / p).exists()]
        if absent:
            raise DarkstackError(f"step {step.name} did not write its outputs: {', '.join(absent[:3])}", ws.root)
        record.ran.append(step.name)
        record.seconds[step.name] = seconds
        if found:
            record.not_computed[step.name] = list(found)
        if empty:
            record.empty.append(step.name)
        state["steps"][step.name] = {
            "key": key,
            "outputs": outputs,
            "seconds": seconds,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "run_id": record.run_id,
            "skips": [s.as_dict() for s in found],
            "empty": empty,
        }
        atomic.write_json(steps_file(ws), state)
        if empty:
            log.info(f"step {step.name}: nothing to compute on this data ({seconds:.1f} s)", extra={"step": step.name, "seconds": seconds})
        else:
            log.info(f"step {step.name}: done in {seconds:.1f} s", extra={"step": step.name, "seconds": seconds})
    state["runs"] = (state["runs"] + [record.as_dict()])[-KEEP_RUNS:]
    atomic.write_json(steps_file(ws), state)
    return record

"""Damaged workspace files: recognise them, move them aside, and make the next run rebuild them.

A file a stage recorded as written can still be truncated (a full disk before atomic writes, a copy
cut short), overwritten or deleted between runs. Readers raise :class:`DamagedFileError`; the
workspace lock (:func:`darkstack.workspace.workspace_lock`) then calls :func:`explain`, which moves the
damaged unit aside as ``<name>.damaged`` (kept for inspection, ignored by every reader) and forgets
every record that would let a later run skip rebuilding it: the pipeline steps that list it as an
output, and for a store part the ingest manifest entry and the steps that write the store.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from darkstack import atomic
from darkstack.errors import DamagedFileError, DarkstackError
from darkstack.log import get_logger
from darkstack.workspace import Workspace

log = get_logger(__name__)

SUFFIX = ".damaged"
"""Appended to the name of a damaged file or folder moved aside."""

# Folders whose files form one unit (the day is complete only with all of them): a snapshot day
# (four tables and meta.json) and a training checkpoint (weights and state).
_UNIT_FOLDERS = {"snapshots": 2, "models": 3}  # top folder → depth of the day=… folder below it

_REBUILT_BY = {
    "store": "`darkstack run` (or the `darkstack ingest` or `simulate` that wrote it)",
    "snapshots": "`darkstack snapshot` or `darkstack run`",
    "embeddings": "`darkstack embed` or `darkstack run`",
    "models": "`darkstack embed` or `darkstack run`",
    "labels": "`darkstack labels` or `darkstack run`",
}

# pyarrow and DuckDB name the Parquet file they could not read in quotes inside the message.
_QUOTED_PATH = re.compile(r"""['"](/[^'"]+\.parquet)['"]""")
# The errors they raise for a truncated or corrupt file (not for a lock, a permission or a full disk).
_CORRUPT = {("pyarrow.lib", "ArrowInvalid"), ("_duckdb", "InvalidInputException"), ("duckdb", "InvalidInputException")}


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file a stage wrote; a missing, truncated or corrupt one raises DamagedFileError."""
    try:
        return pq.read_table(path, columns=columns)
    except FileNotFoundError as exc:
        raise DamagedFileError("missing, although its stage recorded it as written", path) from exc
    except pa.ArrowInvalid as exc:
        raise DamagedFileError(f"not a readable Parquet file ({_reason(exc)})", path) from exc
    except OSError as exc:
        if exc.errno is not None:  # a real system error (permission, I/O): not damage, reported as such
            raise
        raise DamagedFileError(f"not a readable Parquet file ({_reason(exc)})", path) from exc


def explain(root: Path, exc: BaseException) -> DarkstackError | None:
    """The one-line error for an exception that escaped a command, when it comes from a damaged file under ``root``.

    The damaged file (or its unit) is moved aside first, so the message can say where it went.
    """
    found = _damaged_path(root, exc)
    if found is None:
        return None
    path, exc = found
    problem = exc.problem if isinstance(exc, DamagedFileError) else f"not readable ({_reason(exc)})"
    moved = quarantine(root, path)
    rebuild = _REBUILT_BY.get(path.relative_to(root).parts[0], "`darkstack run`")
    where = f"moved aside as {moved.relative_to(root)}; " if moved is not None else ""
    return DamagedFileError(f"{problem}; {where}{rebuild} rebuilds it", path)


def quarantine(root: Path, path: Path) -> Path | None:
    """Move the damaged unit holding ``path`` aside and forget the records that would skip rebuilding it.

    Returns where the unit went (None when there was nothing left to move).
    """
    unit = damaged_unit(root, path)
    moved = None
    if unit.exists():
        moved = unit.with_name(unit.name + SUFFIX)
        if moved.is_dir():
            shutil.rmtree(moved)
        unit.replace(moved)
    _forget_steps(root, unit)
    _forget_ingested(root, unit)
    log.debug(f"{unit}: damaged, moved aside as {moved.name if moved else '(already gone)'}", extra={"path": str(unit)})
    return moved


def damaged_unit(root: Path, path: Path) -> Path:
    """The file, or the snapshot/checkpoint day folder holding it, that is rebuilt as a whole."""
    parts = path.relative_to(root).parts
    depth = _UNIT_FOLDERS.get(parts[0]) if parts else None
    if depth is not None and len(parts) > depth + 1 and parts[depth].startswith("day="):
        return root.joinpath(*parts[: depth + 1])
    return path


def _forget_steps(root: Path, unit: Path) -> None:
    """Drop the pipeline steps whose outputs include ``unit`` (for a store part: the steps writing the store)."""
    from darkstack.pipeline.steps import load_state, steps_file

    ws = Workspace(root)
    try:
        state = load_state(ws)
    except (OSError, DarkstackError):
        return  # a damaged cache: load_state reports it and the next run rebuilds it
    steps = state["steps"]
    rel = unit.relative_to(root)
    in_store = rel.parts[0] == "store"

    def covers(output: str) -> bool:
        out = Path(output)
        return out == rel or out.is_relative_to(rel) or rel.is_relative_to(out) or (in_store and out.parts[:1] == ("store",))

    stale = [name for name, entry in steps.items() if any(covers(o) for o in entry.get("outputs", []))]
    if stale:
        for name in stale:
            del steps[name]
        atomic.write_json(steps_file(ws), state)


def _forget_ingested(root: Path, unit: Path) -> None:
    """Drop the ingest manifest entries that wrote ``unit``, so ingesting their source again rewrites it."""
    from darkstack.ingest import manifest as ingest_manifest

    ws = Workspace(root)
    if not unit.relative_to(root).parts[:1] == ("store",):
        return
    try:
        manifest = ingest_manifest.load(ws)
    except (OSError, DarkstackError):
        return
    rel = str(unit.relative_to(root))
    changed = False
    for source, per_sensor in manifest.items():
        for sensor in [s for s, entry in per_sensor.items() if rel in entry.get("parts", [])]:
            del per_sensor[sensor]
            changed = True
    if changed:
        ingest_manifest.save(ws, {k: v for k, v in manifest.items() if v})


def _damaged_path(root: Path, exc: BaseException) -> tuple[Path, BaseException] | None:
    """The workspace file ``exc`` (or an error it wraps) says is damaged, with that error; None if none."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DamagedFileError):
            candidates = [exc.path]
        elif (type(exc).__module__, type(exc).__name__) in _CORRUPT or (isinstance(exc, OSError) and exc.errno is None):
            candidates = _QUOTED_PATH.findall(str(exc))
        else:
            candidates = []
        for text in candidates:
            path = Path(text).resolve()
            if path.is_relative_to(root) and path != root:
                return path, exc
        exc = exc.__cause__ or exc.__context__
    return None


def _reason(exc: BaseException) -> str:
    """The library's message without the file name it repeats (the error line names the file already)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(r"^Could not open Parquet input source '[^']*': ", "", text)
    text = re.sub(r"""\s*['"]/[^'"]+['"]""", "", text)  # the file's name, already at the start of the line
    return text.removeprefix("Invalid Input Error: ").split(". ")[0].rstrip(".: ")

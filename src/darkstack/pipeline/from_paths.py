"""The configuration of ``darkstack run PATH…`` (or of a workspace's store), written into the workspace.

Naming rule (docs/pipeline.md): every file's format is detected, and the files of one sensor kind
form one sensor named after the kind — ``darknet`` (pcap, text logs, Spoki) and ``honeypot`` (MHN,
Cowrie, T-Pot logs). Several honeypots are merged into one sensor, as the papers' honeypot farm is one sensor;
to keep them apart, name sensors yourself with ``[[source.ingest]]`` entries. A file whose format
cannot be told is still listed (with the first kind's files, read with ``keep_going``), so ingest
reports it as skipped with the reason and the report lists it under "not computed".
"""

from __future__ import annotations

from pathlib import Path

from darkstack import atomic
from darkstack.errors import ConfigError, DarkstackError
from darkstack.options import resolve_workspace
from darkstack.pipeline.config import IngestSource, LabelsConfig, PipelineConfig, SourceConfig, WorkspaceConfig, config_toml
from darkstack.pipeline.plan import expand_paths
from darkstack.schema import SENSOR_KINDS

CONFIG_NAME = "darkstack.toml"
HEADER = """darkstack pipeline configuration, written by `darkstack run PATH…`.
Edit it and rerun `darkstack run -c {path}`: only the steps a change affects are recomputed.
Keys not listed take their defaults (the papers' settings); docs/pipeline.md lists every key."""


def sources_by_kind(paths: list[Path]) -> list[IngestSource]:
    """One ``[[source.ingest]]`` entry per sensor kind found among ``paths`` (files and folders)."""
    from darkstack.ingest.formats import detect

    files = expand_paths(paths)
    if not files:
        raise DarkstackError("no input files found", paths[0] if paths else None)
    by_kind: dict[str, list[Path]] = {}
    unknown: list[tuple[Path, str]] = []
    for path in files:
        try:
            by_kind.setdefault(detect(path).kind, []).append(path.resolve())
        except DarkstackError as exc:
            unknown.append((path.resolve(), exc.problem))
    if not by_kind:
        first, problem = unknown[0]
        raise DarkstackError(f"nothing readable among {len(unknown)} file(s); the first: {problem}", first)
    kinds = [k for k in SENSOR_KINDS if k in by_kind]
    by_kind[kinds[0]] += [p for p, _ in unknown]
    return [IngestSource(paths=by_kind[kind], sensor=kind, kind=kind, keep_going=True) for kind in kinds]


def config_for_paths(paths: list[Path], labels: list[Path], workspace: Path | None, base: PipelineConfig | None = None) -> PipelineConfig:
    """``base`` (default: every default) with the traffic from ``paths``, the ``labels`` lists and the workspace.

    The workspace is ``workspace``, else ``base``'s, else the usual search (``$DARKSTACK_WORKSPACE``, …, ./darkstack-work).
    """
    if workspace is not None:
        root = workspace.expanduser().resolve()
    else:
        root = base.workspace.path if base is not None else resolve_workspace(None).root
    base = base or PipelineConfig()
    ingest = sources_by_kind(paths)
    source = SourceConfig(type="ingest", ingest=ingest)
    label_sources = [p.expanduser().resolve() for p in labels] if labels else list(base.labels.sources)
    labels_update = {"sources": label_sources, **_activity_default(base.labels, {s.kind for s in ingest})}
    update = {"workspace": WorkspaceConfig(path=root), "source": source, "labels": base.labels.model_copy(update=labels_update)}
    return base.model_copy(update=update)


def _activity_default(labels: LabelsConfig, kinds: set[str]) -> dict:
    """Honeypot traffic of an operator's own: the activity rules on (ground-truth source iv), unless the config says.

    The pipeline's default is off because the simulator's labels.csv already stands for source iv; real honeypot
    logs have no such list, and the rules are how the stacking paper labels their brute-forcers, spammers and
    exploiters.
    """
    return {"activity_rules": True} if "honeypot" in kinds and "activity_rules" not in labels.model_fields_set else {}


def config_for_store(workspace: Path, labels: list[Path]) -> PipelineConfig:
    """Every default, on the traffic already in ``workspace``'s store (``source.type = "store"``)."""
    from darkstack.workspace import Workspace

    ws = Workspace(workspace)
    if not ws.sensors():
        raise ConfigError(f"no {CONFIG_NAME} here or in the workspace, and no traffic in its store: give PATHs to ingest, or --config", ws.root)
    labels_config = LabelsConfig(sources=[p.expanduser().resolve() for p in labels])
    labels_config = labels_config.model_copy(update=_activity_default(labels_config, {s["kind"] for s in ws.sensors().values()}))
    return PipelineConfig(workspace=WorkspaceConfig(path=ws.root), source=SourceConfig(type="store"), labels=labels_config)


def write_config(config: PipelineConfig) -> Path:
    """Write ``config`` as ``<workspace>/darkstack.toml`` (workspace path ``.``: the file's own folder); returns its path."""
    from darkstack.workspace import Workspace, workspace_lock

    path = config.workspace.path / CONFIG_NAME
    portable = config.model_copy(update={"workspace": WorkspaceConfig(path=Path("."))})
    with workspace_lock(Workspace(config.workspace.path)):
        atomic.write_text(path, config_toml(portable, HEADER.format(path=path)))
    return path

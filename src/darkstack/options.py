"""Options shared by every command, and how the workspace is found."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated

import typer

from darkstack.errors import ConfigError
from darkstack.workspace import Workspace

DEFAULT_WORKSPACE = Path("darkstack-work")

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $DARKSTACK_WORKSPACE, else [workspace] path in ./darkstack.toml, else ./darkstack-work).",
        show_default=False,
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (every random source is derived from it).")]
SensorOption = Annotated[
    list[str] | None,
    typer.Option("--sensor", "-s", help="Sensor name(s) to process (default: every registered sensor)."),
]
DayOption = Annotated[str | None, typer.Option("--day", help="One UTC day, YYYY-MM-DD.")]
DarknetSensorOption = Annotated[
    str | None, typer.Option("--darknet-sensor", help="Sensor of scenario D (default: the one darknet-kind sensor).", show_default=False)
]
HoneypotSensorOption = Annotated[
    str | None, typer.Option("--honeypot-sensor", help="Sensor of scenario H (default: the one honeypot-kind sensor).", show_default=False)
]
AppFeaturesOption = Annotated[
    bool, typer.Option("--app-features", help="Append the honeypot application features (from the honeypot events) to "
                                              "the DS base of honeypot sensors; beyond the papers (docs/stacking.md).")
]


SearchOption = Annotated[
    str,
    typer.Option(help="Neighbour search: auto (exact; approximate IVF above --approx-above hosts), exact, ivf, hnsw."),
]
ApproxAboveOption = Annotated[
    int | None, typer.Option(help="--search auto: days with more hosts use approximate IVF candidates (default 200000).")
]


def settings_from_options(model, **options):
    """``model(**options)``, a rejected value reported as one line naming its ``--option``."""
    from pydantic import ValidationError

    try:
        return model(**options)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from exc


def resolve_workspace(path: Path | None) -> Workspace:
    """The workspace: explicit option, then $DARKSTACK_WORKSPACE, then ./darkstack.toml, then the default."""
    if path is not None:
        return Workspace(path)
    if os.environ.get("DARKSTACK_WORKSPACE"):
        return Workspace(Path(os.environ["DARKSTACK_WORKSPACE"]))
    toml = Path("darkstack.toml")
    if toml.exists():
        try:
            conf = tomllib.loads(toml.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", toml) from exc
        ws = conf.get("workspace", {})
        if isinstance(ws, dict) and "path" in ws:
            return Workspace((toml.parent / ws["path"]))
    return Workspace(DEFAULT_WORKSPACE)


def resolve_sensors(ws: Workspace, sensors: list[str] | None) -> list[str]:
    """The named sensors (checked against the registry), or every registered sensor."""
    known = ws.sensors()
    if not known:
        raise ConfigError("no sensors in this workspace: run `darkstack simulate` or `darkstack ingest` first", ws.root)
    if not sensors:
        return sorted(known)
    missing = [s for s in sensors if s not in known]
    if missing:
        raise ConfigError(f"unknown sensor(s) {', '.join(missing)}; known: {', '.join(sorted(known))}", ws.root)
    return list(sensors)

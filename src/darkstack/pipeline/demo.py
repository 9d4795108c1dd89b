"""``darkstack demo``: the whole pipeline on the simulator's demo profile, ending with the report's path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

DEMO_CONFIG = "demo.toml"


def demo_config_text() -> str:
    """The packaged demo configuration (``darkstack/data/demo.toml``)."""
    from importlib.resources import files

    return files("darkstack").joinpath("data", DEMO_CONFIG).read_text()


def with_days(text: str, days: int) -> str:
    """``text`` (a darkstack.toml) with ``days`` in its ``[source.simulate]`` table, every other line kept as it is."""
    lines = text.splitlines(keepends=True)
    section, header = None, None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.split("#", 1)[0].strip()
            if section == "[source.simulate]":
                header = i
            continue
        if section == "[source.simulate]" and re.match(r"days\s*=", stripped):
            lines[i] = f"{line[: len(line) - len(line.lstrip())]}days = {days}\n"
            return "".join(lines)
    if header is not None:
        lines.insert(header + 1, f"days = {days}\n")
        return "".join(lines)
    return "".join(lines).rstrip("\n") + f"\n\n[source.simulate]\ndays = {days}\n"


def command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the demo workspace and its darkstack.toml.")] = Path("darkstack-demo"),
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Simulated days, written into the darkstack.toml (default: the config's, 31).")
    ] = None,
) -> None:
    """Simulate a month of darknet and honeypot traffic, run the whole pipeline on it and print the report's path.

    ``--days N`` is written into the demo's darkstack.toml, so `darkstack run -c` on it afterwards reuses
    the N-day workspace.
    """
    from darkstack import atomic
    from darkstack.log import console
    from darkstack.pipeline.config import load_config
    from darkstack.pipeline.run import run_pipeline
    from darkstack.workspace import Workspace, workspace_lock

    config_path = out / "darkstack.toml"
    with workspace_lock(Workspace(out)):  # the demo's workspace is the config's folder
        if not config_path.exists():
            text = demo_config_text() if days is None else with_days(demo_config_text(), days)
            atomic.write_text(config_path, text)
            console.print(f"wrote the demo configuration {config_path} (edit it and rerun to change the run)", highlight=False)
        elif days is not None and load_config(config_path).source.simulate.days != days:
            atomic.write_text(config_path, with_days(config_path.read_text(), days))
            console.print(f"set days = {days} in {config_path}", highlight=False)
    config = load_config(config_path)
    result = run_pipeline(config)
    if result.not_computed_line():
        console.print(result.not_computed_line(), highlight=False, soft_wrap=True)
    console.print(f"ran {len(result.record.ran)} step(s), {len(result.record.skipped)} unchanged; open the report:", highlight=False)
    typer.echo(str(result.report))

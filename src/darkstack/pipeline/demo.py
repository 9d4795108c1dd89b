"""``darkstack demo``: the whole pipeline on the simulator's demo profile, ending with the report's path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEMO_CONFIG = "demo.toml"


def demo_config_text() -> str:
    """The packaged demo configuration (``darkstack/data/demo.toml``)."""
    from importlib.resources import files

    return files("darkstack").joinpath("data", DEMO_CONFIG).read_text()


def command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the demo workspace and its darkstack.toml.")] = Path("darkstack-demo"),
    days: Annotated[int | None, typer.Option("--days", min=1, help="Simulated days (default: the config's, 31).")] = None,
) -> None:
    """Simulate a month of darknet and honeypot traffic, run the whole pipeline on it and print the report's path."""
    from darkstack import atomic
    from darkstack.log import console
    from darkstack.pipeline.config import load_config
    from darkstack.pipeline.run import run_pipeline

    config_path = out / "darkstack.toml"
    if not config_path.exists():
        atomic.write_text(config_path, demo_config_text())
        console.print(f"wrote the demo configuration {config_path} (edit it and rerun to change the run)", highlight=False)
    config = load_config(config_path)
    if days is not None:
        source = config.source.model_copy(update={"simulate": config.source.simulate.model_copy(update={"days": days})})
        config = config.model_copy(update={"source": source})
    result = run_pipeline(config)
    console.print(f"ran {len(result.record.ran)} step(s), {len(result.record.skipped)} unchanged; open the report:", highlight=False)
    typer.echo(str(result.report))

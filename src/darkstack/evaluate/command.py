"""``darkstack evaluate``: 3-NN leave-one-out F1 of embedding variants (Table 3 layout)."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import (
    SensorOption,
    WorkspaceOption,
    resolve_sensors,
    resolve_workspace,
)

STANDARD_VARIANTS = ("ds", "idarkvec", "gcn", "igcn", "gcngru", "igcngru")


def standard_variants_present(ws, sensor: str, n_days: int = 11) -> list[str]:
    """The paper's variants (with and without features) embedded on the last ``n_days`` days of ``sensor``.

    A variant still being embedded (missing some of those days) is left out with a warning.
    """
    from darkstack.log import get_logger

    names = [*STANDARD_VARIANTS, *(f"{m}-nofeat" for m in STANDARD_VARIANTS[2:])]
    embedded = {v: set(ws.embedding_days(sensor, v)) for v in names}
    embedded = {v: days for v, days in embedded.items() if days}
    last = sorted(set().union(*embedded.values()))[-n_days:] if embedded else []
    complete = [v for v, days in embedded.items() if set(last) <= days]
    for v in sorted(set(embedded) - set(complete)):
        get_logger(__name__).warning(f"sensor {sensor}: {v} lacks some of the last {n_days} days, left out")
    return complete


def command(
    workspace: WorkspaceOption = None,
    sensor: SensorOption = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="Embedding variant(s) to judge (default: every standard variant embedded)."),
    ] = None,
    test_days: Annotated[int, typer.Option(help="Evaluate the last N embedded days.")] = 11,
    k: Annotated[int, typer.Option("--k", help="Neighbours per host.")] = 3,
    min_class_hosts: Annotated[
        int, typer.Option(help="Classes with fewer hosts on a day are folded into unknown that day.")
    ] = 11,
    tie_rule: Annotated[
        str, typer.Option(help="Vote ties: 'nearest' (nearest neighbour's class) or 'alphabetical' (reference code).")
    ] = "nearest",
    exact_max: Annotated[int | None, typer.Option(help="Days with more hosts use FAISS for the neighbour search.")] = None,
) -> None:
    """Judge host embeddings by 3-NN leave-one-out per test day: per-class F1 tables and figure."""
    from pydantic import ValidationError

    from darkstack.errors import ConfigError, DarkstackError
    from darkstack.evaluate.run import evaluate
    from darkstack.evaluate.settings import EvalSettings
    from darkstack.log import console, get_logger

    ws = resolve_workspace(workspace)
    options = {"test_days": test_days, "k": k, "min_class_hosts": min_class_hosts, "tie_rule": tie_rule}
    if exact_max is not None:
        options["exact_max"] = exact_max
    try:
        settings = EvalSettings(**options)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from exc
    done = 0
    for name in resolve_sensors(ws, sensor):
        variants = list(variant) if variant else standard_variants_present(ws, name, test_days)
        if not variants:
            get_logger(__name__).warning(f"sensor {name}: no embeddings to evaluate, skipped")
            continue
        result = evaluate(ws, name, variants, settings)
        console.print(result.paths["table_md"].read_text(), highlight=False)
        done += 1
    if not done:
        raise DarkstackError("no embeddings to evaluate: run `darkstack embed` first", ws.root / "embeddings")

"""``darkstack evaluate``: 3-NN leave-one-out F1 of embedding variants (Table 3 layout)."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import (
    ApproxAboveOption,
    SearchOption,
    SensorOption,
    WorkspaceOption,
    resolve_sensors,
    resolve_workspace,
    settings_from_options,
)

STANDARD_VARIANTS = ("ds", "idarkvec", "gcn", "igcn", "gcngru", "igcngru")


def standard_variants_embedded(ws, sensor: str) -> list[str]:
    """The paper's variants (with and without features) that have embeddings of ``sensor``.

    ``evaluate`` leaves out, with a skip line, those lacking one of the test days.
    """
    names = [*STANDARD_VARIANTS, *(f"{m}-nofeat" for m in STANDARD_VARIANTS[2:])]
    return [v for v in names if ws.embedding_days(sensor, v)]


def command(
    workspace: WorkspaceOption = None,
    sensor: SensorOption = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="Embedding variant(s) to judge (default: every standard variant embedded)."),
    ] = None,
    test_days: Annotated[
        int, typer.Option(help="Evaluate the last N days (fewer with fewer than N + --train-days days; docs/evaluation.md).")
    ] = 11,
    train_days: Annotated[
        int, typer.Option(help="Days kept before the test days (papers: 20); 0 scores every day up to --test-days.")
    ] = 20,
    k: Annotated[int, typer.Option("--k", help="Neighbours per host.")] = 3,
    min_class_hosts: Annotated[
        int, typer.Option(help="Classes with fewer hosts on a day are folded into unknown that day.")
    ] = 11,
    tie_rule: Annotated[
        str, typer.Option(help="Vote ties: 'nearest' (nearest neighbour's class) or 'alphabetical' (reference code).")
    ] = "nearest",
    exact_max: Annotated[int | None, typer.Option(help="Days with more hosts use FAISS for the neighbour search.")] = None,
    search: SearchOption = "auto",
    approx_above: ApproxAboveOption = None,
) -> None:
    """Judge host embeddings by 3-NN leave-one-out per test day: per-class F1 tables and figure."""
    from darkstack import skips
    from darkstack.evaluate.run import evaluate
    from darkstack.evaluate.settings import EvalSettings
    from darkstack.log import console

    ws = resolve_workspace(workspace)
    options = {"test_days": test_days, "train_days": train_days, "k": k, "min_class_hosts": min_class_hosts, "tie_rule": tie_rule,
               "search": search}  # fmt: skip
    if exact_max is not None:
        options["exact_max"] = exact_max
    if approx_above is not None:
        options["approx_above"] = approx_above
    settings = settings_from_options(EvalSettings, **options)
    sensors = resolve_sensors(ws, sensor)

    def evaluate_sensor(name: str) -> None:
        variants = list(variant) if variant else standard_variants_embedded(ws, name)
        if not variants:
            raise skips.skip_stage("evaluate", "no embeddings: run `darkstack embed` first", sensor=name)
        result = evaluate(ws, name, variants, settings)
        console.print(result.paths["table_md"].read_text(), highlight=False)

    skips.each("evaluate", sensors, evaluate_sensor, "no sensor could be evaluated")

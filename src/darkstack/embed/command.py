"""``darkstack embed``: learn per-day host embeddings from the snapshots."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import SeedOption, SensorOption, WorkspaceOption, resolve_sensors, resolve_workspace, settings_from_options

METHOD_NAMES = "ds, idarkvec, gcn, igcn, gcngru, igcngru"


def command(
    method: Annotated[str, typer.Option("--method", "-m", help=f"Embedding method: {METHOD_NAMES}.")],
    no_features: Annotated[
        bool, typer.Option("--no-features", help="GNN without node features (learnt per-node input).")
    ] = False,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Output name (default: method, or method-nofeat).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day to embed, YYYY-MM-DD (default: every snapshot day).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    history: Annotated[int | None, typer.Option("--history", help="GRU history H (default 5).")] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", help="Epochs per day of i-GCN / i-GCN-GRU (default 1 with features, 5 without)."),
    ] = None,
    train_days: Annotated[
        int | None, typer.Option("--train-days", help="Days GCN-GRU is trained on before it is frozen (default 20).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="i-DarkVec threads (default 1: deterministic; more: faster, not reproducible)."),
    ] = None,
    precision: Annotated[
        str | None, typer.Option("--precision", help="GNN dense products: fp32 (default) or bf16.")
    ] = None,
    w2v_senders: Annotated[
        str | None,
        typer.Option(
            "--w2v-senders",
            help="i-DarkVec sentences: every (default, papers: per port), hourly (per port and hour, senders once) "
            "or first (per port, senders once).",
        ),
    ] = None,
    w2v_corpus: Annotated[
        str | None,
        typer.Option(
            "--w2v-corpus",
            help="i-DarkVec input: memory (default) or file (gensim corpus_file: faster with --workers N, not reproducible).",
        ),
    ] = None,
    batching: Annotated[
        str | None,
        typer.Option(
            "--batching",
            help="GNN: auto (default: mini-batches above --batch-above active nodes), full (the paper) or minibatch.",
        ),
    ] = None,
    batch_above: Annotated[
        int | None, typer.Option("--batch-above", help="auto batching: active nodes of a day above which mini-batches run (default 50000).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Mini-batch: hosts per training step (all their edges) and per inference batch (default 16384).")
    ] = None,
    fanout: Annotated[
        int | None, typer.Option("--fanout", help="Mini-batch: neighbours sampled per batch node (default 10).")
    ] = None,
    fanout_inner: Annotated[
        int | None,
        typer.Option("--fanout-inner", help="Mini-batch without features: neighbours sampled per neighbour (default 10)."),
    ] = None,
    link_chunk: Annotated[
        int | None,
        typer.Option("--link-chunk", help="Host-port pairs per chunk of the link loss, full batch and each mini-batch (exact; default 1048576)."),
    ] = None,
    reference_compat: Annotated[
        bool,
        typer.Option("--reference-compat", help="Reproduce the reference code where cheap (see docs/embeddings.md)."),
    ] = False,
    keep_checkpoints: Annotated[
        int | None, typer.Option("--keep-checkpoints", help="Newest per-day checkpoints kept (0 = all; default 2).")
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="torch CPU threads (default: every core).")] = None,
    seed: SeedOption = 0,
    sensor: SensorOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Learn host embeddings for every snapshot day (ds, i-DarkVec, GCN, i-GCN, GCN-GRU, i-GCN-GRU)."""
    from darkstack import skips
    from darkstack.embed import EmbedSettings, embed
    from darkstack.workspace import parse_day

    ws = resolve_workspace(workspace)
    overrides = {
        "history": history,
        "incremental_epochs": epochs,
        "train_days": train_days,
        "workers": workers,
        "keep_checkpoints": keep_checkpoints,
        "precision": precision,
        "w2v_senders": w2v_senders,
        "w2v_corpus": w2v_corpus,
        "batching": batching,
        "batch_above": batch_above,
        "batch_size": batch_size,
        "fanout": fanout,
        "fanout_inner": fanout_inner,
        "link_chunk": link_chunk,
    }
    settings = settings_from_options(
        EmbedSettings, reference_compat=reference_compat, **{k: v for k, v in overrides.items() if v is not None}
    )
    last = parse_day(until) if until else None
    sensors = resolve_sensors(ws, sensor)
    skips.each(
        "embed",
        sensors,
        lambda name: embed(
            ws, name, method, features=not no_features, settings=settings, variant=variant, until=last, device=device, seed=seed, threads=threads
        ),
        "no sensor could be embedded",
    )

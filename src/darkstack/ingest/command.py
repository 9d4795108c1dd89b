"""``darkstack ingest``: captures and honeypot logs → the canonical store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from darkstack.options import WorkspaceOption, resolve_workspace


def command(
    paths: Annotated[list[Path], typer.Argument(help="Input files (or folders: every file directly inside).",
                                                show_default=False)],
    sensor: Annotated[str, typer.Option("--sensor", "-s", help="Sensor the records belong to (e.g. darknet).")],
    kind: Annotated[str | None, typer.Option(
        "--kind", help="darknet or honeypot (default: the sensor's registered kind, else by format).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="auto, pcap, textlog, tokenlog, spoki, mhn, cowrie, tpot, dionaea, suricata, zeek, flowtuple "
                                  "or merit (auto: detected from the content).")] = "auto",
    anonymise_key: Annotated[Path | None, typer.Option(
        "--anonymise-key", help="32-byte key file: anonymise addresses with prefix-preserving Crypto-PAn.")] = None,
    exclude_src: Annotated[list[str] | None, typer.Option(
        "--exclude-src", help="Drop packets from this CIDR network (repeatable), e.g. the sensor's own replies.")] = None,
    chunk_mb: Annotated[int, typer.Option("--chunk-mb", help="MiB of a capture decoded per step (bounds memory).")] = 64,
    fingerprint_window: Annotated[float | None, typer.Option(
        "--fingerprint-window", help="Seconds either side of a honeypot session within which a p0f SYN of the same "
                                     "source fills its TTL, MSS and window (T-Pot folders; default 3600).",
        show_default=False)] = None,
    token_scope: Annotated[str, typer.Option(
        "--token-scope", help="Addresses given as tokens: 'workspace' (a token is one host in every file) or 'file' "
                              "(each file numbers its own tokens, as the DarkVec public trace does).")] = "workspace",
    engine: Annotated[str, typer.Option(
        "--engine", help="embedded (this process) or spark (one Spark task per file; same store).")] = "embedded",
    spark_master: Annotated[str, typer.Option("--spark-master", help="Spark master URL for --engine spark.")] = "local[*]",
    workspace: WorkspaceOption = None,
) -> None:
    """Ingest pcap/pcapng captures, raw packet logs, Spoki, MHN, Cowrie, T-Pot, Dionaea, Suricata and Zeek logs and
    telescope flow records (corsaro flowtuple, Merit darknet-events) into the store."""
    from darkstack.errors import DarkstackError
    from darkstack.ingest.run import ingest
    from darkstack.ingest.settings import IngestSettings
    from rich.markup import escape

    from darkstack.log import console

    ws = resolve_workspace(workspace)
    try:
        window = {} if fingerprint_window is None else {"fingerprint_window_s": fingerprint_window}
        settings = IngestSettings(chunk_bytes=chunk_mb << 20, exclude_sources=tuple(exclude_src or ()),
                                  token_scope=token_scope, engine=engine, spark_master=spark_master, **window)
    except ValueError as exc:  # pydantic's ValidationError: name the setting and the rule it breaks
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
        raise DarkstackError(f"bad ingest option {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    report = ingest(ws, paths, sensor, kind=kind, fmt=fmt, anonymise_key=anonymise_key, settings=settings,
                    keep_going=True)
    for f in report.files:
        if f.status == "failed":
            console.print(f"[red]error:[/red] {escape(f.error)}", highlight=False, soft_wrap=True)
            continue
        skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(f.skipped.items(), key=lambda kv: -kv[1]))
        events = f", {f.events:,} honeypot events" if f.events else ""
        console.print(escape(f"{f.path} [{f.format}] {f.status}: {f.read:,} read, {f.kept:,} kept{events}"
                             + (f"; skipped {skipped}" if skipped else "")), highlight=False, soft_wrap=True)
    per_honeypot: dict[str, Counter] = {}
    for f in report.files:
        for program, days in f.honeypots.items():
            per_honeypot.setdefault(program, Counter()).update(days)
    if per_honeypot:
        console.print("records per honeypot and day:", highlight=False)
    for program, days in sorted(per_honeypot.items()):
        console.print(f"  {program}: " + ", ".join(f"{day} {n:,}" for day, n in sorted(days.items())),
                      highlight=False, soft_wrap=True)
    console.print(f"sensor {report.sensor} ({report.kind}): {report.kept:,} records kept from "
                  f"{len(report.files) - len(report.failed)} of {len(report.files)} files", highlight=False, soft_wrap=True)
    if report.failed:
        raise DarkstackError(f"{len(report.failed)} of {len(report.files)} input files could not be read")

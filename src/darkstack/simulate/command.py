"""``darkstack simulate``: write simulated darknet and honeypot days into the workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from darkstack.options import SeedOption, WorkspaceOption, resolve_workspace


def command(
    days: Annotated[int, typer.Option("--days", help="Number of UTC days to simulate.")] = 31,
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")] = "2021-12-01",
    profile: Annotated[str, typer.Option("--profile", help="demo (seconds) or paper (Table 2 of the temporal-GNN paper).")] = "demo",
    seed: SeedOption = 0,
    pcap: Annotated[bool, typer.Option("--pcap", help="Also write darknet days as pcap files under sim/pcap/darknet/.")] = False,
    scale: Annotated[float | None, typer.Option("--scale", help="Multiply the profile's host numbers (and so its volume).")] = None,
    campaigns: Annotated[int, typer.Option("--campaigns", help="Add this many coordinated campaigns of unlisted hosts (docs/simulator.md).")] = 0,
    prefix_len: Annotated[int, typer.Option("--prefix-len", help="Darknet size: a /N telescope (8-24; 24 = the papers'). docs/simulator.md § Telescope size.")] = 24,
    thin: Annotated[int, typer.Option("--thin", help="Write darknet packets as records of up to N packets (1: every packet a row). docs/simulator.md § Thinned days.")] = 1,
    workspace: WorkspaceOption = None,
) -> None:
    """Simulate labelled darknet + honeypot traffic (built-in data source)."""
    from darkstack.log import console
    from darkstack.simulate import simulate
    from darkstack.workspace import parse_day

    ws = resolve_workspace(workspace)
    summary = simulate(ws, profile=profile, days=days, start=parse_day(start), seed=seed, pcap=pcap, scale=scale,
                       campaigns=campaigns, prefix_len=prefix_len, thin=thin)
    records = f" in {sum(summary['darknet'].values()):,} records" if thin > 1 else ""
    console.print(f"simulated {days} days into {ws.store_dir} "
                  f"({sum(summary['darknet_packets'].values()):,} darknet packets{records}, "
                  f"{sum(summary['honeypot'].values()):,} honeypot sessions); ground truth in {ws.truth_dir}")

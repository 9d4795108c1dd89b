"""``darkstack labels``: build the ground truth from label sources and the Mirai rule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from darkstack.options import WorkspaceOption, resolve_workspace


def command(
    source: Annotated[list[Path] | None, typer.Option(
        "--source", help="Label file: CSV ip,label[,first_day,last_day], ipset restore, or MISP warning list "
                         "JSON, plain or gzip/bz2/xz; or an OpenFilters folder (cidr/<org>_v4.txt lists, dated "
                         "snapshots) (repeatable; earlier sources win ties).")] = None,
    org_map: Annotated[Path | None, typer.Option(
        "--org-map", help="CSV pattern,class mapping organisation names to classes (default: the built-in one).")] = None,
    no_mirai: Annotated[bool, typer.Option(
        "--no-mirai", help="Do not label hosts whose TCP SYN sequence number equals the destination address.")] = False,
    drop_unmapped: Annotated[bool, typer.Option(
        "--drop-unmapped", help="Drop labels the organisation map does not know (default: keep their own name).")] = False,
    anonymise_key: Annotated[Path | None, typer.Option(
        "--anonymise-key", help="The key given to `darkstack ingest`: anonymise label networks the same way.")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Refuse a file with an address whose host bits are set under its prefix (1.2.3.4/24) "
                         "instead of taking the network (1.2.3.0/24).")] = False,
    snapshot_date: Annotated[str | None, typer.Option(
        "--snapshot-date", help="Validity start (YYYY-MM-DD) of an OpenFilters folder whose name has no date.")] = None,
    backdate_first_snapshot: Annotated[bool, typer.Option(
        "--backdate-first-snapshot", help="Let the earliest OpenFilters snapshot also label the days before its "
                                          "date (traffic older than every snapshot).")] = False,
    activity_rules: Annotated[bool, typer.Option(
        "--activity-rules", help="Also label bruteforcer, spammer and exploiter hosts per day from their honeypot "
                                 "events, with the shipped rules (darkstack/data/activity_rules.toml).")] = False,
    activity_rules_file: Annotated[Path | None, typer.Option(
        "--activity-rules-file", help="The activity rules from this TOML file (its keys replace the shipped ones; "
                                      "implies --activity-rules).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Build ground-truth labels (merged table and per-day views) from label files, the Mirai rule and the
    honeypot-activity rules."""
    from collections import Counter

    from darkstack.labels.activity import ACTIVITY_CLASSES
    from darkstack.labels.build import build_labels, summary_path
    from darkstack.log import console
    from darkstack.workspace import parse_day

    ws = resolve_workspace(workspace)
    summary = build_labels(ws, list(source or []), org_map=org_map, mirai_rule=not no_mirai,
                           anonymise_key=anonymise_key, keep_unmapped=not drop_unmapped, strict=strict,
                           snapshot_date=parse_day(snapshot_date) if snapshot_date else None,
                           backdate_first_snapshot=backdate_first_snapshot,
                           activity_rules=activity_rules_file or activity_rules)
    for name, info in summary["sources"].items():
        extra = f"; skipped {sum(info['skipped'].values()):,}" if info["skipped"] else ""
        if info["host_bits"]["count"]:
            extra += f"; {info['host_bits']['count']:,} taken as their network (host bits set)"
        unmapped = info["unmapped"] or info["dropped_unmapped"]
        if unmapped:
            extra += f"; {len(unmapped)} names not in the organisation map"
        if info.get("from_tokens"):
            extra += f"; {info['from_tokens']:,} addresses were tokens of the workspace's token table"
        dated = f" (valid from {info['snapshot']})" if "snapshot" in info else ""
        console.print(f"{name}{dated}: {info['rows']:,} label rows{extra}", highlight=False, soft_wrap=True)
    if "mirai_hosts" in summary:
        left_out = len(summary["mirai_skips"])
        extra = f" ({left_out} sensor{'s' if left_out > 1 else ''} skipped, see above)" if left_out else ""
        console.print(f"mirai rule: {summary['mirai_hosts']:,} hosts{extra}", highlight=False, soft_wrap=True)
    if "activity" in summary:
        kept = Counter()
        for info in summary["activity"]["days"].values():
            kept.update(info["kept"])
        found = ", ".join(f"{kept[c]:,} {c}" for c in ACTIVITY_CLASSES) + " host-days"
        left_out = len(summary["activity_skips"])
        extra = f"; {left_out} sensor{'s' if left_out > 1 else ''} skipped, see above" if left_out else ""
        console.print(f"activity rules: {found} ({summary['activity']['overridden']:,} left to a source or the "
                      f"Mirai rule{extra})", highlight=False, soft_wrap=True)
    days = summary["days"]
    console.print(f"{summary['rows']:,} rows in {ws.labels_table}; {len(days)} day views "
                  f"({sum(days.values()):,} labelled host-days); summary in {summary_path(ws)}",
                  highlight=False, soft_wrap=True)

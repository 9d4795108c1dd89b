"""Honeypot-activity labels and honeypot application features, measured on the simulator and real Cowrie days.

1. Section ``activity``: precision and recall per class (bruteforcer, spammer, exploiter) of the activity rules
   against the simulator's truth (host-days of the honeypot; the Mirai rule on, no list, as the precedence
   needs), the rules' run time, and the labels per class and day on the 7 real Cowrie days and the T-Pot
   day's Cowrie log (when ``../shared/data/real`` is present).
       nice -n 10 .venv/bin/python benchmarks/bench_activity.py [--days 7] [--profile demo]
   Acceptance (issue 13): precision and recall ≥ 0.9 for each of the three classes.
2. Section ``activity-app-features`` (``--app-features``, slow: snapshots and the three honeypot embeddings):
   H macro-F1 of the stack (ML) and of the DS base without and with ``stack.app_features``, labels = the
   simulator's published lists (no activity rules, so no class is labelled from the same events).
       nice -n 10 .venv/bin/python benchmarks/bench_activity.py --app-features [--days 31] [--workspace W]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from _report import peak_rss_gib, write_section

from darkstack.labels import build_labels
from darkstack.labels.activity import ACTIVITY_CLASSES
from darkstack.simulate import simulate
from darkstack.simulate.measure import activity_scores
from darkstack.workspace import Workspace

REAL_COWRIE = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "cowrie"
START = dt.date(2021, 12, 1)


def rules_section(args: argparse.Namespace, root: Path) -> str:
    ws = Workspace(root / "sim")
    simulate(ws, args.profile, days=args.days, start=START, seed=args.seed)
    started = time.perf_counter()
    summary = build_labels(ws, [], activity_rules=True)
    seconds = time.perf_counter() - started
    scores = activity_scores(ws)
    lines = [f"## Honeypot-activity labels (`benchmarks/bench_activity.py`, {args.profile} profile, {args.days} days, "
             f"seed {args.seed})\n",
             "Against the simulator's truth, over the honeypot's host-days (labels built with the Mirai rule and no "
             "list, so the rules label every host the fingerprint does not):\n",
             "| class | true host-days | labelled | correct | precision | recall |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['class']} | {r['truth']:,} | {r['predicted']:,} | {r['correct']:,} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} |" for r in scores.to_dict("records")]
    events = sum(1 for _ in ws.store_dir.glob("honeypot/*/events-*.parquet"))
    lines.append(f"\n`build_labels` with the rules over {events} event days: {seconds:.1f} s; overridden by the "
                 f"Mirai rule: {summary['activity']['overridden']:,} host-days. "
                 f"Command: `nice -n 10 .venv/bin/python benchmarks/bench_activity.py --days {args.days} "
                 f"--profile {args.profile}`.")
    lines += cowrie_lines(root)
    return "\n".join(lines)


def cowrie_lines(root: Path) -> list[str]:
    """The activity labels per class and day of the real Cowrie days and of the T-Pot day's Cowrie log."""
    if not REAL_COWRIE.is_dir():
        return ["\nReal Cowrie days: not measured (`../shared/data/real/cowrie` absent)."]
    lines = ["\nReal Cowrie logs (`darkstack ingest -s cowrie …` then `darkstack labels --no-mirai --activity-rules`), "
             "labelled hosts per class and day — the 7 days of `../shared/data/real/cowrie`, and the Cowrie log of "
             "the T-Pot folder (`tpot/cowrie.json.2022-06-01`, read by the Cowrie reader):\n",
             "| day | " + " | ".join(ACTIVITY_CLASSES) + " |", "|---|" + "---|" * len(ACTIVITY_CLASSES)]
    totals = dict.fromkeys(ACTIVITY_CLASSES, 0)
    for day, kept in _real_days(root / "cowrie", sorted(REAL_COWRIE.iterdir())):
        lines.append(f"| {day} | " + " | ".join(str(kept.get(c, 0)) for c in ACTIVITY_CLASSES) + " |")
        for c in ACTIVITY_CLASSES:
            totals[c] += kept.get(c, 0)
    lines.append("| 7 days | " + " | ".join(str(totals[c]) for c in ACTIVITY_CLASSES) + " |")
    tpot = REAL_COWRIE.parent / "tpot" / "cowrie.json.2022-06-01"
    if tpot.exists():
        for day, kept in _real_days(root / "tpot", [tpot]):
            lines.append(f"| T-Pot {day} | " + " | ".join(str(kept.get(c, 0)) for c in ACTIVITY_CLASSES) + " |")
    lines.append("\nCowrie is an SSH/Telnet honeypot: no mail, so no spammer can be seen there. On the T-Pot day every "
                 "host that fails ≥ 10 logins (55) also gets in and installs an SSH key: an exploiter by precedence.")
    return lines


def _real_days(folder: Path, files: list[Path]) -> list[tuple[str, dict]]:
    from darkstack.ingest import ingest

    ws = Workspace(folder)
    ingest(ws, files, "cowrie")
    summary = build_labels(ws, [], mirai_rule=False, activity_rules=True)
    return [(day, info["kept"]) for day, info in sorted(summary["activity"]["days"].items())]


def app_features_section(args: argparse.Namespace, root: Path) -> str:
    from darkstack.embed import embed
    from darkstack.snapshot import build_snapshots
    from darkstack.stack.run import stack
    from darkstack.stack.settings import StackSettings

    ws = Workspace(Path(args.workspace) if args.workspace else root / "app")
    simulate(ws, args.profile, days=args.days, start=START, seed=args.seed)
    build_labels(ws, [ws.truth_dir / "labels.csv", ws.truth_dir / "acknowledged_scanners.ipset"])
    build_snapshots(ws, "honeypot")
    started = time.perf_counter()
    for method in ("ds", "idarkvec", "igcngru"):
        embed(ws, "honeypot", method, device="cpu", seed=args.seed)
    embedded = time.perf_counter() - started
    rows = []
    for on in (False, True):
        result = stack(ws, "H", StackSettings(app_features=on, figures=False), seed=args.seed)
        summary = result.summary
        macro = summary[summary["class"] == "macro"].set_index("method")
        ml = summary[summary["method"] == "ML"].set_index("class")["f1_mean"]
        others = ml.drop(["macro", *ACTIVITY_CLASSES], errors="ignore").mean()
        rows.append((on, macro.loc["DS"], macro.loc["ML"], [ml.get(c, float("nan")) for c in ACTIVITY_CLASSES], others,
                     len(result.days)))
    lines = [f"## Honeypot application features (`benchmarks/bench_activity.py --app-features`, {args.profile} "
             f"profile, {args.days} days)\n",
             "Scenario H, macro-F1 (mean ± std over the test days) with the simulator's published labels:\n",
             "| stack.app_features | DS base | ML (stack) | ML: " + " | ML: ".join(ACTIVITY_CLASSES)
             + " | ML: other classes (mean F1) | test days |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {'on' if on else 'off'} | {ds['f1_mean']:.3f} ± {ds['f1_std']:.3f} | {ml['f1_mean']:.3f} ± "
              f"{ml['f1_std']:.3f} | " + " | ".join(f"{f:.3f}" for f in per_class) + f" | {others:.3f} | {days} |"
              for on, ds, ml, per_class, others, days in rows]
    lines.append(f"\nEmbeddings (DS, i-DarkVec, i-GCN-GRU of the honeypot) took {embedded / 60:.1f} min; peak memory "
                 f"{peak_rss_gib():.1f} GiB. Command: `nice -n 10 .venv/bin/python benchmarks/bench_activity.py "
                 f"--app-features --days {args.days} --profile {args.profile}`.\n\n"
                 "**Circularity.** On the simulator the labels are the published lists, not the activity rules, so "
                 "every class may be scored. On real data with `labels.activity_rules` on, only classes whose labels "
                 "do not come from the activity rules may be scored with the application block: bruteforcer, "
                 "spammer and exploiter labels are computed from the very events the block counts.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["demo", "paper"])
    parser.add_argument("--days", type=int, default=None, help="days simulated (default: 7, or 31 with --app-features)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--app-features", action="store_true", help="measure the application features (slow)")
    parser.add_argument("--workspace", help="workspace of the --app-features run (default: a temporary one)")
    args = parser.parse_args()
    args.days = args.days or (31 if args.app_features else 7)
    with tempfile.TemporaryDirectory(prefix="bench-activity-") as tmp:
        if args.app_features:
            write_section("activity-app-features", app_features_section(args, Path(tmp)))
        else:
            write_section("activity", rules_section(args, Path(tmp)))


if __name__ == "__main__":
    main()

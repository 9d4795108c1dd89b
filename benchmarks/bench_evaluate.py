"""Benchmark the evaluation stage: Table 3 (3-NN leave-one-out F1) of every embedded variant and its run time.

    nice -n 10 .venv/bin/python benchmarks/bench_evaluate.py [--workspace /work/bench/paper] [--sensor darknet]

Needs a workspace where `darkstack simulate/snapshot/labels/embed` have run. Acceptance (issue 6): on the
simulator the DS-feature 3-NN macro-F1 lies between 0.6 and 0.9 (not trivially separable).
"""

from __future__ import annotations

import argparse
import json
import time

from _report import peak_rss_gib, write_section

from darkstack.evaluate import evaluate
from darkstack.evaluate.command import standard_variants_embedded
from darkstack.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="/work/bench/paper")
    parser.add_argument("--sensor", action="append", help="sensor(s) (default: darknet and honeypot)")
    parser.add_argument("--name", default="evaluate", help="BENCHMARKS.md section name")
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    world = json.loads((ws.truth_dir / "world.json").read_text()) if (ws.truth_dir / "world.json").exists() else {}
    profile = world.get("profile", {})
    profile = profile.get("name", "?") if isinstance(profile, dict) else profile
    parts = [f"## Evaluation, Table 3 (`benchmarks/bench_evaluate.py`, {profile} profile)\n"]
    for sensor in args.sensor or ["darknet", "honeypot"]:
        variants = standard_variants_embedded(ws, sensor)
        if not variants:
            continue
        for v in variants:  # time a cold run: drop the cached per-host predictions
            for f in (ws.results_dir / "evaluate" / sensor / v).glob("day=*.parquet"):
                f.unlink()
        started = time.perf_counter()
        result = evaluate(ws, sensor, variants)
        seconds = time.perf_counter() - started
        ds = result.macro("ds") if "ds" in variants else None
        verdict = "" if ds is None else (
            f" DS-feature macro-F1 {ds[0]:.2f} ± {ds[1]:.2f} "
            f"({'within' if 0.6 <= ds[0] <= 0.9 else 'OUTSIDE'} the 0.6–0.9 band)."
        )
        hosts = sum(int(n) for n in result.per_day[result.per_day["label"] == "macro avg"].groupby("day")["support"].first())
        parts.append(
            f"Sensor `{sensor}`: {len(variants)} variant(s) × {len(result.days)} test days "
            f"({hosts:,} labelled host-days per variant) evaluated in {seconds:.1f} s.{verdict}\n\n"
            + result.paths["table_md"].read_text().split("\n", 2)[2]
        )
    parts.append(
        f"Peak memory {peak_rss_gib():.1f} GiB. Reproduce: `nice -n 10 .venv/bin/python benchmarks/bench_evaluate.py "
        f"--workspace {args.workspace}` on a workspace with the variants embedded. Input: the paper-profile table, all "
        "ten variants from nothing: `bash benchmarks/paper_table3.sh W`; the demo-profile one: `darkstack simulate "
        "--profile demo -w W`, `darkstack labels -w W --source W/sim/labels.csv`, `darkstack snapshot -w W`, "
        "`darkstack embed -w W -m …` for each variant shown."
    )
    write_section(args.name, "\n".join(parts))


if __name__ == "__main__":
    main()

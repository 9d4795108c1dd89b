"""Nothing lost at /24 (issue 14): Table 3 and Table 2 on the `paper` profile, re-measured against BENCHMARKS.md.

Builds (or resumes) a paper-profile month workspace — simulate, labels, snapshots of both sensors, embeddings
``ds``, ``idarkvec`` and ``igcngru`` (node features) of darknet and honeypot, every setting at its default (the
papers') — then computes Table 3 of the darknet for DS, i-DarkVec and i-GCN-GRU (feat.) and Table 2 (scenarios D,
H, DH), and compares each macro-F1 with the figure recorded in sections ``evaluate`` and ``stack-table2``
(pass: |Δ| ≤ ``--tolerance``, 0.02 by the issue). Writes section ``paper-tables-check`` (``--no-write``: print).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/check_paper_tables.py \\
        [--workspace /work/bench/papertables/ws] [--force snapshot,embed] [--baseline JSON] [--sensor darknet]
        [--no-build]

``--sensor darknet`` builds and checks the darknet only (Table 3 and Table 2 D); ``--no-build`` computes the tables
from the variants already embedded on every day (it may run while an embedding is being written). Columns that
could not be measured are listed as such. Commands run one at a time (each holds the workspace lock). Resumable: ``darkstack snapshot`` and ``darkstack embed`` skip days that are up to date with their inputs and
settings, so a re-run only redoes what is stale. A code change that keeps settings (a faster snapshot engine, a
new trainer) is not stale to them: ask for ``--force snapshot`` (recompute every snapshot day) and/or ``--force
embed`` (remove the six embeddings, then embed again). The 3-NN predictions cached by ``evaluate`` are always
dropped, so Tables 3 and 2 are computed afresh. Every step prints its wall and CPU seconds and the load average
at its start. The measured figures, per class, go to ``W/results/paper-tables-check.json``; ``--baseline`` such a
file from an earlier run adds the largest per-class difference against it (Table 2's per-class figures are not
recorded in BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _report import read_section, write_section

from darkstack import atomic
from darkstack.evaluate import evaluate
from darkstack.evaluate.metrics import MACRO as EVAL_MACRO
from darkstack.evaluate.tables import class_display, variant_display
from darkstack.stack import stack
from darkstack.stack.scoring import MACRO as STACK_MACRO
from darkstack.workspace import Workspace

SENSORS = ("darknet", "honeypot")
VARIANTS = ("ds", "idarkvec", "igcngru")  # Table 3 columns checked; also Table 2's three bases (stack.base_variants)
BUILD_ORDER = ("ds", "igcngru", "idarkvec")  # cheapest first: i-DarkVec's `every` sentences cost the most CPU
SCENARIOS = {"D": ("darknet",), "H": ("honeypot",), "DH": ("darknet", "honeypot")}  # sensors each needs
RECORDED_T3_COLUMN = {"ds": "DS", "idarkvec": "i-DarkVec", "igcngru": "i-GCN-GRU (feat.)"}  # its ten-variant header
FORCE_STEPS = ("snapshot", "embed")
RESULT_FILE = "paper-tables-check.json"
STEP_LOG = "paper-tables-steps.jsonl"  # one line per step run, kept across runs


@dataclass
class Step:
    name: str
    wall: float
    cpu: float
    load: float
    at: str = ""
    """UTC time the step ended."""

    def __post_init__(self):
        self.at = self.at or time.strftime("%Y-%m-%d %H:%M", time.gmtime())


def log_step(ws: Workspace, step: Step, commit: str) -> None:
    """Append ``step`` to the workspace's step log, so that a build spread over several runs keeps its costs."""
    ws.results_dir.mkdir(parents=True, exist_ok=True)
    with open(ws.results_dir / STEP_LOG, "a") as log:
        log.write(json.dumps({**vars(step), "commit": commit}) + "\n")


def costliest_steps(ws: Workspace) -> list[dict]:
    """Per step of the log, its costliest run (most CPU: the one that did the work), in first-run order."""
    path = ws.results_dir / STEP_LOG
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    best: dict[str, dict] = {}
    for r in records:
        if r["name"] not in best or r["cpu"] > best[r["name"]]["cpu"]:
            best[r["name"]] = r
    return list(best.values())


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent)
    return out.stdout.strip() or "?"


def run_command(name: str, argv: list[str]) -> Step:
    """Run one ``darkstack`` command; its own wall and CPU (user + system, children included) seconds."""
    load = os.getloadavg()[0]
    print(f"[{name}] {' '.join(argv)}", flush=True)
    began = time.perf_counter()
    proc = subprocess.Popen(argv)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    step = Step(name, time.perf_counter() - began, usage.ru_utime + usage.ru_stime, load)
    if proc.returncode:
        sys.exit(f"check_paper_tables: step {name} failed (exit {proc.returncode}): {' '.join(argv)}")
    print(f"[{name}] {step.wall:.1f} s wall, {step.cpu:.1f} s CPU, load {load:.1f} at start", flush=True)
    return step


def timed(name: str, work) -> tuple[Step, object]:
    """Run ``work()`` in this process: its wall and process CPU seconds."""
    load = os.getloadavg()[0]
    began, cpu_began = time.perf_counter(), time.process_time()
    value = work()
    step = Step(name, time.perf_counter() - began, time.process_time() - cpu_began, load)
    print(f"[{name}] {step.wall:.1f} s wall, {step.cpu:.1f} s CPU, load {load:.1f} at start", flush=True)
    return step, value


def build(ws: Workspace, sensors: list[str], force: set[str], threads: int, commit: str) -> list[Step]:
    """Simulate (if absent), label (if older than the simulator's labels), then per sensor snapshot and embed.

    One command at a time: every ``darkstack`` command holds the workspace lock while it writes."""
    darkstack = str(Path(sys.executable).with_name("darkstack"))
    w = str(ws.root)
    published = ws.truth_dir / "labels.csv"
    steps = []

    def run(name: str, argv: list[str]) -> None:
        steps.append(run_command(name, argv))
        log_step(ws, steps[-1], commit)

    if not published.exists():
        run("simulate", [darkstack, "simulate", "--profile", "paper", "-w", w])
    if not ws.labels_table.exists() or ws.labels_table.stat().st_mtime < published.stat().st_mtime:
        run("labels", [darkstack, "labels", "-w", w, "--source", str(published)])
    for sensor in sensors:
        snapshot = [darkstack, "snapshot", "-w", w, "-s", sensor, "--threads", str(threads)]
        run(f"snapshot {sensor}", snapshot + (["--force"] if "snapshot" in force else []))
        for variant in BUILD_ORDER:
            if "embed" in force:
                for folder in (ws.embedding_dir(sensor, variant), ws.model_dir(sensor, variant)):
                    shutil.rmtree(folder, ignore_errors=True)
            run(f"embed {sensor} {variant}", [
                darkstack, "embed", "-w", w, "-s", sensor, "-m", variant, "--threads", str(threads)])
    return steps


def embedded(ws: Workspace, sensor: str) -> list[str]:
    """The checked variants of ``sensor`` embedded on every snapshot day (one still being embedded is not)."""
    days = set(ws.snapshot_days(sensor))
    return [v for v in VARIANTS if days and days <= set(ws.embedding_days(sensor, v))]


def table3(ws: Workspace, variants: list[str]) -> dict[str, dict[str, list[float]]]:
    """Darknet 3-NN leave-one-out F1 of ``variants``: variant → class display → [mean, std, support]."""
    for variant in variants:  # the cached predictions do not know about code changes: compute afresh
        for cached in (ws.results_dir / "evaluate" / "darknet" / variant).glob("day=*.parquet"):
            cached.unlink()
    summary = evaluate(ws, "darknet", variants).summary
    return {v: {class_display(r.label): [r.f1_mean, r.f1_std, int(r.support)]
                for r in summary[summary["variant"] == v].itertuples()} for v in variants}


def table2(ws: Workspace, scenarios: list[str]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Stacking per scenario (seed 0, as bench_stack.py): scenario → method → class → [mean, std, support]."""
    figures = {}
    for scenario in scenarios:
        summary = stack(ws, scenario, seed=0).summary
        figures[scenario] = {
            m: {("Average" if r[1] == STACK_MACRO else r[1]): [r[2], r[3], int(r[4])]
                for r in part[["method", "class", "f1_mean", "f1_std", "support"]].itertuples(index=False)}
            for m, part in summary.groupby("method", sort=False)}
    return figures


def pipe_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown pipe table in ``text`` as (header, rows) of stripped cells, bold marks removed."""
    tables, current = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip().strip("*").strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            current = (cells, [])
            tables.append(current)
        elif not set("".join(cells)) <= set("-: "):
            current[1].append(cells)
    return tables


def mean_of(cell: str) -> float | None:
    match = re.match(r"(\d+\.\d+)±", cell)
    return float(match.group(1)) if match else None


def recorded_table3() -> dict[str, dict[str, float]]:
    """Section ``evaluate``: variant → class display → recorded mean F1 (two decimals)."""
    out: dict[str, dict[str, float]] = {v: {} for v in VARIANTS}
    for header, rows in pipe_tables(read_section("evaluate") or ""):
        if header[0] != "Class":
            continue
        for v, column in RECORDED_T3_COLUMN.items():
            if column in header:
                i = header.index(column)
                out[v] |= {row[0]: mean_of(row[i]) for row in rows if mean_of(row[i]) is not None}
    return out


def recorded_table2() -> dict[str, dict[str, float]]:
    """Section ``stack-table2``: scenario → method → recorded mean macro-F1 (two decimals)."""
    out: dict[str, dict[str, float]] = {}
    for header, rows in pipe_tables(read_section("stack-table2") or ""):
        if header[0] != "scenario" or "Support" not in header:
            continue
        for row in rows:
            out[row[0]] = {m: mean_of(c) for m, c in zip(header[1:], row[1:]) if mean_of(c) is not None}
    return out


def largest_class_gap(measured: dict[str, list[float]], other: dict[str, float | list[float]]) -> tuple[float, str]:
    """Largest |Δ| of mean F1 over the classes both have (the Average/macro row excluded), and its class."""
    gaps = []
    for cls, (mean, *_) in measured.items():
        ref = other.get(cls)
        if cls in (class_display(EVAL_MACRO), "Average") or ref is None:
            continue
        gaps.append((abs(mean - (ref[0] if isinstance(ref, list) else ref)), cls))
    return max(gaps, default=(float("nan"), "–"))


def verdict(delta: float | None, tolerance: float) -> str:
    return "–" if delta is None else ("pass" if abs(delta) <= tolerance else "**FAIL**")


def report(t3, t2, steps, history, wall: float, baseline, args, commit: str) -> tuple[str, bool]:
    """The section's Markdown and whether every recorded macro-F1 is met within the tolerance."""
    tol, checked, failed = args.tolerance, [], []
    rec3, rec2 = recorded_table3(), recorded_table2()
    macro = class_display(EVAL_MACRO)
    base_col = " | vs baseline: macro Δ / largest class Δ" if baseline else ""
    lines = [f"| table | column | recorded | re-measured | Δ | ≤ {tol} | largest class Δ vs recorded{base_col} |",
             "|---|---|---:|---:|---:|---|---|" + ("---|" if baseline else "")]

    def row(table, column, recorded, measured, recorded_classes, base_classes):
        mean, std = measured[macro if table == "3" else "Average"][:2]
        delta = None if recorded is None else mean - recorded
        checked.append(column)
        if delta is None or abs(delta) > tol:
            failed.append(column)
        cls_gap = "–"
        if recorded_classes:
            gap, cls = largest_class_gap(measured, recorded_classes)
            cls_gap = f"{gap:.3f} ({cls})"
        cells = [f"Table {table}", column, "–" if recorded is None else f"{recorded:.2f}", f"{mean:.3f}±{std:.3f}",
                 "–" if delta is None else f"{delta:+.3f}", verdict(delta, tol), cls_gap]
        if baseline:
            gap, cls = largest_class_gap(measured, base_classes or {})
            base_mean = (base_classes or {}).get(macro if table == "3" else "Average", [None])[0]
            cells.append("–" if base_mean is None else f"{mean - base_mean:+.3f} / {gap:.3f} ({cls})")
        lines.append("| " + " | ".join(cells) + " |")

    for v in [v for v in VARIANTS if v in t3]:
        row("3", f"darknet {variant_display(v, True)}", rec3[v].get(macro), t3[v], rec3[v],
            baseline and baseline["table3"].get(v))
    for scenario, methods in t2.items():
        for method, classes in methods.items():
            row("2", f"{scenario} {method}", rec2.get(scenario, {}).get(method), classes, None,
                baseline and baseline["table2"].get(scenario, {}).get(method))
    unmeasured = [f"Table 2 {s}" for s in rec2 if s not in t2] + [
        f"Table 3 {variant_display(v, True)}" for v in VARIANTS if v not in t3]
    if unmeasured:
        lines.append(f"\nNot measured: {', '.join(unmeasured)} (a sensor left out by `--sensor`, or embeddings "
                     "not finished: run again without `--no-build`).")
    ok = not failed and not unmeasured
    verdict_line = (f"{len(checked) - len(failed)} of {len(checked)} columns within {tol} of the recorded figures"
                    + (f"; outside (or not recorded): {', '.join(failed)}" if failed else "")
                    + (f"; not measured: {', '.join(unmeasured)}" if unmeasured else ""))
    timing = ["| step | wall (s) | CPU (s) | load at start |", "|---|---:|---:|---:|"]
    timing += [f"| {s.name} | {s.wall:.1f} | {s.cpu:.1f} | {s.load:.1f} |" for s in steps]
    timing += ["| **total CPU** | | " + f"{sum(s.cpu for s in steps):.1f} | |", "",
               f"What each build step cost when it did its work (its costliest run in `W/results/{STEP_LOG}`; a step "
               "that found its outputs up to date costs seconds):", "",
               "| step | wall (s) | CPU (s) | load at start | ended (UTC) | commit |", "|---|---:|---:|---:|---|---|"]
    timing += [f"| {r['name']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']:.1f} | {r['at']} | {r['commit']} |"
               for r in history]
    timing.append(f"| **total CPU** | | {sum(r['cpu'] for r in history):.1f} | | | |")
    force = f" --force {','.join(sorted(args.force))}" if args.force else ""
    base = f" --baseline {args.baseline}" if args.baseline else ""
    base += "".join(f" --sensor {name}" for name in args.sensor or []) + (" --no-build" if args.no_build else "")
    threads = f" --threads {args.threads}" if args.threads != 1 else ""
    text = f"""## Nothing lost at /24: Table 3 and Table 2 re-measured on the `paper` profile (check_paper_tables.py)

`OMP_NUM_THREADS={args.threads} nice -n 10 .venv/bin/python benchmarks/check_paper_tables.py --workspace {args.workspace}{threads}{force}{base}`
at commit {commit}: the workspace built by `darkstack simulate --profile paper`, `labels --source sim/labels.csv`,
`snapshot` and `embed -m ds|idarkvec|igcngru` of darknet and honeypot (defaults; steps already up to date are
skipped), then Table 3 of the darknet (`evaluate`, 3-NN leave-one-out, 11 test days) and Table 2 (`stack` D, H, DH,
seed 0). Recorded: sections [evaluate](#bench-evaluate) and [stack-table2](#bench-stack-table2) (two decimals, so
Δ carries ±0.005 of rounding). Re-measured: macro-F1 mean ± std over the test days. Verdict:
{verdict_line}.

{chr(10).join(lines)}

Steps of this run (one after another, {args.threads} torch/DuckDB thread(s) each; CPU: user + system of the
step's process; the whole run took {wall:.0f} s of wall clock):

{chr(10).join(timing)}
"""
    return text, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("/work/bench/papertables/ws"))
    parser.add_argument("--force", type=lambda s: set(s.split(",")) - {""}, default=set(),
                        help=f"comma-separated steps to recompute although up to date: {', '.join(FORCE_STEPS)}")
    parser.add_argument("--baseline", type=Path, help=f"a {RESULT_FILE} of an earlier run: per-class Δ against it")
    parser.add_argument("--tolerance", type=float, default=0.02, help="largest |Δ| of macro-F1 that passes")
    parser.add_argument("--threads", type=int, default=1, help="torch / DuckDB threads of each command")
    parser.add_argument("--no-build", action="store_true",
                        help="only compute the tables from what is embedded (may run while an embedding is written)")
    parser.add_argument("--sensor", action="append", choices=SENSORS,
                        help="build and check only this sensor (repeatable; default both): darknet alone gives "
                        "Table 3 and Table 2 D, honeypot alone Table 2 H")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if unknown := args.force - set(FORCE_STEPS):
        parser.error(f"--force: unknown step(s) {', '.join(sorted(unknown))} (choose from {', '.join(FORCE_STEPS)})")
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    sensors = args.sensor or list(SENSORS)
    ws = Workspace(args.workspace)
    commit = git_commit()
    began = time.perf_counter()
    steps = [] if args.no_build else build(ws, sensors, args.force, args.threads, commit)
    ready = {sensor: embedded(ws, sensor) for sensor in sensors}
    scenarios = [name for name, needs in SCENARIOS.items() if all(ready.get(n) == list(VARIANTS) for n in needs)]
    t3, t2 = {}, {}
    if ready.get("darknet"):
        step, t3 = timed("table 3 (evaluate darknet)", lambda: table3(ws, ready["darknet"]))
        steps.append(step)
    if scenarios:
        step, t2 = timed(f"table 2 (stack {', '.join(scenarios)})", lambda: table2(ws, scenarios))
        steps.append(step)
    out = ws.results_dir / RESULT_FILE
    atomic.write_json(out, {"commit": commit, "table3": t3, "table2": t2, "steps": [vars(s) for s in steps]})
    text, ok = report(t3, t2, steps, costliest_steps(ws), time.perf_counter() - began, baseline, args, commit)
    write_section("paper-tables-check", text, write=not args.no_write)
    print(f"measured figures: {out}")
    if not ok:
        sys.exit("check_paper_tables: " + text.split("Verdict:\n", 1)[1].split("\n", 1)[0])


if __name__ == "__main__":
    main()

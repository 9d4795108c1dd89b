"""Run the benchmarks (`make bench`): the quick ones by default, the month-long chain with ``--long``.

    .venv/bin/python benchmarks/run_all.py [--long] [--workspace /work/bench/paper] [--only NAME ...] [--list]

Each benchmark runs in its own process with this interpreter and writes its section of BENCHMARKS.md.
Quick ones build their own input (minutes in all on 2 cores). The long chain first simulates the `paper`
month into ``--workspace`` (the input every other long one reads), then snapshots, embeds, evaluates and stacks
it, about two hours on 2 cores; ``--list`` shows each benchmark's input and duration.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# stack-table2 stacks D, H and DH: it needs the honeypot's ds, idarkvec and igcngru embeddings too.
HONEYPOT = "for m in ds idarkvec igcngru; do {ds} embed -w {ws} -s honeypot -m $m || exit 1; done"


@dataclass(frozen=True)
class Bench:
    name: str
    command: list[str]
    input: str
    minutes: str
    long: bool = False


def benches(workspace: str) -> list[Bench]:
    """Every benchmark in run order (the long ones in the order their inputs are built)."""
    py = [sys.executable]
    return [
        Bench("knn", [*py, "bench_knn.py"], "generated: 50,000 clustered hosts x 128 dims", "under 1"),
        Bench("ingest", [*py, "bench_ingest.py"], "generated: a 5 M-packet capture written by write_pcap", "1-2"),
        Bench("stack", [*py, "bench_stack.py"], "generated: 50,000 hosts, 3 synthetic embeddings", "under 1"),
        Bench("discover", [*py, "bench_discover.py"], "builds its own: a simulated demo week (darknet, DS and i-DarkVec)", "3-5"),
        Bench("simulate", [*py, "bench_simulate.py", "--workspace", workspace],
              f"builds {workspace}: the simulated paper month", "1-4", long=True),
        Bench("snapshot", [*py, "bench_snapshot.py", "--store-workspace", workspace],
              f"the store of {workspace} (its own snapshots are left alone)", "under 1", long=True),
        Bench("evaluate", ["bash", "paper_table3.sh", workspace],
              f"{workspace}: builds labels, snapshots and the ten standard darknet variants", "about 90", long=True),
        Bench("embed", [*py, "bench_embed.py", "--workspace", workspace],
              f"the snapshots of {workspace} (built by paper_table3.sh)", "about 15", long=True),
        Bench("honeypot-embeddings", ["bash", "-c", HONEYPOT.format(ds=Path(sys.executable).with_name("darkstack"), ws=workspace)],
              f"the snapshots of {workspace}; not a benchmark: the input of stack-table2", "about 10", long=True),
        Bench("stack-table2", [*py, "bench_stack.py", "--workspace", workspace],
              f"the darknet and honeypot embeddings of {workspace}", "about 5", long=True),
        Bench("knn-approx-paper", [*py, "bench_knn_approx.py", "--workspace", workspace],
              f"the darknet ds, idarkvec and igcngru embeddings of {workspace}", "about 3", long=True),
        Bench("knn-approx", [*py, "bench_knn_approx.py", "--hosts", "1000000"],
              "generated: 10^6 clustered hosts x 128 dims (the 10^6-host goal)", "10-40", long=True),
        Bench("scale", [*py, "bench_scale.py"],
              "builds its own: one simulated paper day at /24, /20 and /16 (the /16 thinned) in /work/bench/scale", "60-120", long=True),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also the month-long chain (about two hours)")
    parser.add_argument("--workspace", default="/work/bench/paper", help="workspace of the long chain")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (see --list)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks, their inputs and durations")
    args = parser.parse_args()
    every = benches(args.workspace)
    if args.list:
        for b in every:
            print(f"{b.name:20} {'long ' if b.long else 'quick'}  {b.minutes} min  input: {b.input}")
        return 0
    unknown = sorted(set(args.only or ()) - {b.name for b in every})
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; --list shows them")
    chosen = [b for b in every if (b.name in args.only if args.only else args.long or not b.long)]
    failed = []
    for b in chosen:
        print(f"== {b.name} ({b.minutes} min): {' '.join(b.command[1:])}", flush=True)
        started = time.perf_counter()
        rc = subprocess.run(b.command, cwd=HERE).returncode
        print(f"== {b.name}: {'ok' if rc == 0 else f'failed (exit {rc})'} in {time.perf_counter() - started:.0f} s")
        if rc != 0:
            failed.append(b.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

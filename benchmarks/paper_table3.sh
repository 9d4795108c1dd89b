#!/usr/bin/env bash
# Paper-profile Table 3: simulate the `paper` month, label it, build snapshots, embed the ten standard
# variants of the darknet (DS, i-DarkVec, GCN / i-GCN / GCN-GRU / i-GCN-GRU with and without node features)
# and write the table to BENCHMARKS.md (section `evaluate`). Resumable: every step skips finished work.
# About 1.5 h on 2 cores (two embedding chains of one torch thread each run side by side).
#
#     bash benchmarks/paper_table3.sh [WORKSPACE]        (default /work/bench/paper)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/work/bench/paper}
PY=.venv/bin/python
DS=.venv/bin/darkstack
[ -f "$W/sim/labels.csv" ] || $PY benchmarks/bench_simulate.py --workspace "$W"
$DS labels -w "$W" --source "$W/sim/labels.csv"
$DS snapshot -w "$W"
embed() { $DS embed -w "$W" -s darknet --threads 1 "$@"; }
embed -m ds
embed -m idarkvec
( embed -m igcngru && embed -m igcngru --no-features && embed -m gcngru && embed -m gcngru --no-features ) &
( embed -m igcn && embed -m igcn --no-features && embed -m gcn && embed -m gcn --no-features ) &
wait
$PY benchmarks/bench_evaluate.py --workspace "$W" --sensor darknet --name evaluate

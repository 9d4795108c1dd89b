#!/usr/bin/env bash
# Paper-profile Table 3: simulate the `paper` month, label it, build snapshots, embed the ten standard
# variants of the darknet (DS, i-DarkVec, GCN / i-GCN / GCN-GRU / i-GCN-GRU with and without node features)
# and write the table to BENCHMARKS.md (section `evaluate`). Resumable: every step skips finished work.
# About 25-35 min on 2 idle cores (measured steps: simulate 149 s, a GNN month 100-160 s on one thread,
# i-DarkVec ≈ 380 s). The variants embed one after the other: the workspace lock admits one
# `darkstack embed` at a time. One torch thread each, as the recorded figures were made.
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
for model in igcngru gcngru igcn gcn; do
  embed -m "$model"
  embed -m "$model" --no-features
done
$PY benchmarks/bench_evaluate.py --workspace "$W" --sensor darknet --name evaluate

"""Rate of the token-trace reader (``tokenlog``, the DarkVec public trace's format) and of OpenFilters folders.

Writes a generated trace of ``--rows`` lines (tokens drawn from ``--hosts`` senders and 256
destinations, options mostly absent as in the real trace), then times ``read_tokenlog`` with a fresh
token table (every token new) and again with the filled table (every token known, as on a re-ingest).
When the real samples are present, also times reading both OpenFilters snapshots.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _report import peak_rss_gib, write_section
from darkstack.ingest.textlog import read_textlog, read_tokenlog
from darkstack.ingest.tokens import TokenMap
from darkstack.labels.openfilters import read_openfilters

HEADER = "0,ts,ethtype,src_ip,src_port,dst_ip,dst_port,proto,pck_len,tcp_flags,mirai,tcp_seq,ttl,t_mss,t_win,t_ts,t_sack,t_sackp\n"
OPENFILTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "labels" / "openfilters"


def write_trace(path: Path, rows: int, hosts: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    src = rng.zipf(1.3, rows) % hosts
    ts = 1619827200 + np.sort(rng.random(rows)) * 86400
    with open(path, "w") as fh:
        fh.write(HEADER)
        for start in range(0, rows, 200_000):
            end = min(rows, start + 200_000)
            n = end - start
            mss = np.where(rng.random(n) < 0.2, "1460", "-")
            cols = [np.full(n, "2021-05-01 00:00:00"), np.char.mod("%.6f", ts[start:end]), np.full(n, "2048"),
                    np.char.add("src_ipaddr", src[start:end].astype(str)), rng.integers(1024, 65535, n).astype(str),
                    np.char.add("dst_ipaddr", rng.integers(0, 256, n).astype(str)), rng.integers(1, 65535, n).astype(str),
                    np.full(n, "6"), np.full(n, "60"), np.full(n, "2"), np.where(rng.random(n) < 0.03, "1", "0"),
                    rng.integers(0, 2**32, n).astype(str), rng.integers(30, 255, n).astype(str), mss,
                    np.full(n, "-"), np.full(n, "-"), np.full(n, "-"), np.full(n, "-")]
            fh.write("\n".join(",".join(row) for row in zip(*cols)) + "\n")


def timed(function) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _row(what: str, rows: int, wall: float, cpu: float) -> str:
    return f"| {what} | {rows:,} | {wall:.2f} | {rows / wall / 1e6:.3f} M | {cpu:.2f} | {rows / cpu / 1e6:.3f} M |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        write_trace(path, args.rows, args.hosts)
        size = path.stat().st_size
        tokens = TokenMap()
        fresh = timed(lambda: sum(b.table.num_rows for b in read_tokenlog(path, tokens)))
        known = timed(lambda: sum(b.table.num_rows for b in read_tokenlog(path, tokens)))
        plain = Path(tmp) / "trace.log"  # the same rows as the authors' space-separated log, real addresses
        with open(path) as src, open(plain, "w") as out:
            out.write(src.readline().replace(",", " "))
            for line in src:
                cols = line.rstrip("\n").split(",")
                cols[0] = "x"
                cols[3] = f"10.{int(cols[3][10:]) >> 16 & 255}.{int(cols[3][10:]) >> 8 & 255}.{int(cols[3][10:]) & 255}"
                cols[5] = f"192.0.2.{cols[5][10:]}"
                out.write(" ".join(cols) + "\n")
        textlog = timed(lambda: sum(b.table.num_rows for b in read_textlog(plain)))
    lines = [
        "## Ingest: token traces (`tokenlog`) and OpenFilters label folders",
        "",
        f"`.venv/bin/python benchmarks/bench_tokenlog.py --rows {args.rows} --hosts {args.hosts}`",
        "",
        f"Generated trace in the DarkVec public trace's format: {args.rows:,} rows ({size / 1e6:.0f} MB), "
        f"{len(tokens.known['src']):,} sending tokens, {len(tokens.known['dst'])} destination tokens.",
        "",
        "| run | rows | wall s | rows/s (wall) | CPU s | rows per CPU-second |",
        "|---|---:|---:|---:|---:|---:|",
        _row("`read_tokenlog`, empty token table (every token new)", fresh[2], *fresh[:2]),
        _row("`read_tokenlog`, filled table (a re-ingest)", known[2], *known[:2]),
        _row("`read_textlog` on the same rows, space-separated with real addresses (reference)", textlog[2], *textlog[:2]),
    ]
    if OPENFILTERS.is_dir():
        wall, cpu, snapshots = timed(lambda: read_openfilters(OPENFILTERS))
        rows = sum(len(s.network) + sum(s.skipped.values()) for s in snapshots)
        lines.append(_row(f"`read_openfilters`, both real snapshots ({len(snapshots)} folders; lines)", rows, wall, cpu))
    lines += ["", f"Mapping the tokens costs {fresh[1] / textlog[1] - 1:.0%} more CPU than reading real addresses "
              f"(`read_textlog`). Peak memory {peak_rss_gib():.2f} GiB. The machine's 2 cores are shared with other "
              "jobs: CPU seconds are the steadier figure."]
    write_section("tokenlog", "\n".join(lines))


if __name__ == "__main__":
    main()

"""Mutation check of the suite: does a plausible small bug in a critical module make a test fail?

Each mutation replaces one exact source snippet (it must occur exactly once) in a fresh temporary
copy of ``src/``, ``tests/`` and ``pyproject.toml``, then runs the tests named for it there
(``pytest -x``, ``PYTHONPATH`` pointing at the copy); the working tree is never touched. Result per
mutation: killed (by the first failing test), survived (with the reason when it is an equivalent
mutation), or error (snippet not found / found several times, tests not collected, baseline failing).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/mutations.py      # all, table into BENCHMARKS.md
    .venv/bin/python benchmarks/mutations.py --only stack-,predict-          # some, printed only

Issue 16 deliverable 2. Mutations are a hand-made list (deterministic and fast, unlike mutmut's
exhaustive operators): stacking folds and pools, unknown undersampling, predict, the snapshot filters,
the Mirai rule, label precedence and the packet decoder.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _report import write_section

REPO = Path(__file__).resolve().parent.parent
COPIED = ("src", "tests", "pyproject.toml")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    """Path of the mutated file, relative to the repository root."""
    snippet: str
    replacement: str
    tests: tuple[str, ...]
    """pytest targets (files or node ids), the likeliest killer first (``-x`` stops there)."""
    claim: str
    equivalent: str = ""
    """Why the mutation cannot change any result, when it is expected to survive."""
    awaiting: str = ""
    """The test, not merged yet, meant to kill it (shown while it survives)."""


STACK_CLAIMS = "tests/test_stack_claims.py"
LEAK = f"{STACK_CLAIMS}::test_meta_learner_cross_validation_does_not_leak_test_fold_labels"
UNDERSAMPLE_ROWS = f"{STACK_CLAIMS}::test_meta_learner_is_fitted_on_undersampled_unknown_hosts"
UNDERSAMPLE_SCORE = f"{STACK_CLAIMS}::test_undersampling_unknown_changes_the_stacked_score"
PREDICT_TRAINING = f"{STACK_CLAIMS}::test_predict_trains_on_undersampled_unknown_hosts"
PREDICT_OWN = f"{STACK_CLAIMS}::test_predict_gives_every_unlabelled_host_its_own_answer"
PREDICT_RUNNER_UP = f"{STACK_CLAIMS}::test_predict_runner_up_is_the_second_class"
RANDOM_FOLDS = f"{STACK_CLAIMS}::test_folds_are_drawn_at_random_within_each_class"
FOLDS = "tests/test_stack.py::test_folds_are_stratified_and_balanced"
POOLS = "tests/test_stack.py::test_restricted_neighbours_match_a_direct_search_and_never_leak_the_test_fold"
ROWS = "tests/test_stack.py::test_lists_of_searched_rows_equal_the_full_search_on_those_rows"
ABSENT = "tests/test_stack.py::test_class_absent_from_training_folds_is_reported_not_fatal"
UNDERSAMPLE_HELPER = "tests/test_stack.py::test_unknown_undersampled_to_third_largest_class"
SNAPSHOT = "tests/test_snapshot.py"
SNAPSHOT_FILTER = f"{SNAPSHOT}::test_host_filter_boundary"
SNAPSHOT_ORACLE = f"{SNAPSHOT}::test_random_day_matches_a_pandas_oracle"
LABELS = "tests/test_labels.py"
PCAP = "tests/test_ingest_pcap.py"
MIRAI_BRANCHES = "tests/test_labels.py::test_mirai_rule_every_branch (branch labels)"

META, RUN, NEIGH = "src/darkstack/stack/meta.py", "src/darkstack/stack/run.py", "src/darkstack/stack/neighbourhood.py"
PREDICT = "src/darkstack/stack/predict.py"
QUERIES, SNAP_SETTINGS = "src/darkstack/snapshot/queries.py", "src/darkstack/snapshot/settings.py"
MIRAI, MERGE, PACKETS = "src/darkstack/labels/mirai.py", "src/darkstack/labels/merge.py", "src/darkstack/ingest/packets.py"

MUTATIONS = (
    # --- stacking: folds and neighbour pools (stacking paper §4.2) ---
    Mutation("stack-test-hosts-see-test-fold", META,
             "features = stacked_probabilities(lists, codes, n_classes, pool=~test)",
             "features = stacked_probabilities(lists, codes, n_classes)",
             (LEAK, POOLS), "CV without leakage: test-fold hosts' neighbours come from the training folds only"),
    Mutation("stack-pool-ignored", NEIGH, "inside = pool[lists]", "inside = np.ones_like(pool[lists])",
             (POOLS, LEAK), "restricted neighbours never include hosts outside the pool"),
    Mutation("stack-short-lists-not-searched-again", NEIGH,
             "short = np.flatnonzero(rank[:, -1] < self.k)", "short = np.flatnonzero(rank[:, -1] < 0)",
             (POOLS,), "hosts with fewer than k pool members in their list are searched again"),
    Mutation("stack-test-fold-in-training", META, "train = train_rows[~test[train_rows]]", "train = train_rows",
             (UNDERSAMPLE_ROWS, ABSENT), "the meta-learner of a fold never trains on that fold's hosts"),
    Mutation("stack-folds-restart-per-class", META, "offset = (offset + members.size) % n_folds", "offset = 0",
             (FOLDS,), "stratified folds of equal size (classes dealt on where the previous stopped)"),
    Mutation("stack-folds-not-shuffled", META,
             "members = rng.permutation(np.flatnonzero(scored & (codes == c)))",
             "members = np.flatnonzero(scored & (codes == c))",
             (RANDOM_FOLDS, FOLDS), "hosts are dealt to folds at random within each class"),
    # --- unknown undersampling (stacking paper §4.2) ---
    Mutation("undersample-off-on-the-path", META, "if settings.undersample_unknown:", "if False:",
             (UNDERSAMPLE_ROWS, UNDERSAMPLE_SCORE), "unknown training hosts are undersampled by default"),
    Mutation("undersample-cv-gets-every-host", RUN,
             "cv = cross_validate(lists, codes, folds, inputs.unknown_code, scenario.meta_groups, settings, train_rows)",
             "cv = cross_validate(lists, codes, folds, inputs.unknown_code, scenario.meta_groups, settings, "
             "np.arange(len(codes)))",
             (UNDERSAMPLE_ROWS, UNDERSAMPLE_SCORE), "the cross-validated meta-learners fit on the undersampled rows"),
    Mutation("undersample-full-day-gets-every-host", RUN,
             "_, models = fit_day(lists, codes, inputs.unknown_code, scenario.meta_groups, settings, train_rows)",
             "_, models = fit_day(lists, codes, inputs.unknown_code, scenario.meta_groups, settings, "
             "np.arange(len(codes)))",
             (UNDERSAMPLE_ROWS,), "the explained full-day meta-learner fits on the undersampled rows"),
    Mutation("undersample-to-largest-class", META, "target = int(sizes[min(rank, len(sizes)) - 1])",
             "target = int(sizes[0])", (UNDERSAMPLE_HELPER, UNDERSAMPLE_ROWS),
             "unknown is cut to the size of the third-largest class"),
    Mutation("undersample-not-random", META, "unknown = rng.choice(unknown, size=target, replace=False)",
             "unknown = unknown[:target]", (UNDERSAMPLE_SCORE,), "the unknown hosts kept are a random sample"),
    Mutation("undersample-off-in-predict", PREDICT,
             "train = training_rows(codes, inputs.unknown_code, settings, day_generators(seed, day)[2])",
             "train = np.arange(len(codes))", (PREDICT_TRAINING,),
             "predict fits on the same undersampled rows as stack"),
    # --- predict output values ---
    Mutation("predict-another-hosts-features", PREDICT, "proba = model.predict_proba(features[target])",
             "proba = model.predict_proba(features[np.roll(target, 1)])", (PREDICT_OWN,),
             "each unlabelled host is predicted from its own features"),
    Mutation("predict-runner-up-is-best", PREDICT, "best, second = order[:, 0], order[:, 1]",
             "best, second = order[:, 0], order[:, 0]", (PREDICT_RUNNER_UP,), "the runner-up is the second class"),
    Mutation("predict-probability-of-runner-up", PREDICT, "\"probability\": pa.array(proba[np.arange(len(target)), best]",
             "\"probability\": pa.array(proba[np.arange(len(target)), second]", (PREDICT_RUNNER_UP,),
             "the probability column is the predicted class's"),
    Mutation("predict-worst-class", PREDICT, "order = np.argsort(-proba, axis=1, kind=\"stable\")",
             "order = np.argsort(proba, axis=1, kind=\"stable\")", (PREDICT_OWN, PREDICT_RUNNER_UP),
             "the predicted class is the most probable one"),
    Mutation("predict-address-of-another-host", PREDICT, "int_to_ip(inputs.ips[target])",
             "int_to_ip(inputs.ips[target][::-1])", (PREDICT_OWN,), "the address column is the host's own"),
    Mutation("predict-votes-of-the-first-base", PREDICT, "vote(features[target][:, slices[i]]",
             "vote(features[target][:, slices[0]]", (PREDICT_OWN,), "each base's vote column is that base's vote"),
    # --- snapshot filters (both papers: hosts with < 5 packets removed, top 2500 ports) ---
    Mutation("snapshot-host-filter-strict", QUERIES, "HAVING count(*) >= {settings.min_host_packets}",
             "HAVING count(*) > {settings.min_host_packets}", (SNAPSHOT_FILTER,),
             "hosts with >= 5 packets a day are kept"),
    Mutation("snapshot-reference-filter-ignored", SNAP_SETTINGS,
             "return self.min_packets if self.host_filter == \"ge\" else self.min_packets + 1",
             "return self.min_packets", (SNAPSHOT_FILTER,), "host_filter 'gt' keeps > min_packets"),
    Mutation("snapshot-top-ports-one-short", QUERIES, "CASE WHEN r.port_rank <= {n} THEN {alias}.dst_port",
             "CASE WHEN r.port_rank < {n} THEN {alias}.dst_port", (SNAPSHOT_ORACLE, SNAPSHOT),
             "the top N ports by packets are kept, the rest folded into -1"),
    Mutation("snapshot-port-ties-to-higher-port", QUERIES, "ORDER BY packets DESC, dst_port ASC",
             "ORDER BY packets DESC, dst_port DESC", (SNAPSHOT_ORACLE, SNAPSHOT),
             "port-rank ties go to the lower port"),
    # --- the Mirai rule (stacking paper §3: SYN with sequence number == destination address) ---
    Mutation("mirai-syn-ack-counts", MIRAI, "(tcp_flags & 18) = 2", "(tcp_flags & 2) = 2", (LABELS,),
             "SYN-ACKs are not the fingerprint"),
    Mutation("mirai-any-protocol", MIRAI, "WHERE proto = 6 AND tcp_seq = dst_ip", "WHERE tcp_seq = dst_ip",
             (LABELS,), "only TCP packets count", awaiting=MIRAI_BRANCHES),
    Mutation("mirai-rows-without-flags-dropped", MIRAI, "tcp_flags IS NULL OR ", "", (LABELS,),
             "rows whose source gives no flags count", awaiting=MIRAI_BRANCHES),
    Mutation("mirai-seq-not-compared", MIRAI, "AND tcp_seq = dst_ip", "AND tcp_seq IS NOT NULL", (LABELS,),
             "the sequence number equals the destination address"),
    # --- label precedence: longest prefix, then source order ---
    Mutation("labels-shortest-prefix-first", MERGE, "for length in sorted(set(plen.tolist()), reverse=True):",
             "for length in sorted(set(plen.tolist())):", (LABELS,), "the longest prefix wins"),
    Mutation("labels-later-match-overwrites", MERGE, "open_ = best < 0", "open_ = best < 2**62", (LABELS,),
             "a shorter prefix never overrides a longer one already matched"),
    Mutation("labels-later-source-wins", MERGE, "order = np.lexsort((rows, prec[rows], nets[rows]))",
             "order = np.lexsort((rows, -prec[rows], nets[rows]))", (LABELS,),
             "at equal prefix length the earlier source (then row) wins"),
    Mutation("labels-row-tiebreak-reversed", MERGE, "order = np.lexsort((rows, prec[rows], nets[rows]))",
             "order = np.lexsort((-rows, prec[rows], nets[rows]))", (LABELS,),
             "at equal precedence the earlier row wins",
             equivalent="build_labels gives every row its own precedence (a running count over sources and rows), "
             "so the row tie-break is never reached"),
    # --- packet decoder ---
    Mutation("decoder-ignores-ipv4-options", PACKETS, "l4 = ipo + ihl", "l4 = ipo + 20", (PCAP,),
             "the transport header starts after the IPv4 options (IHL)",
             awaiting="the IPv4-options test of tests/test_ingest_pcap.py (branch labels)"),
    Mutation("decoder-ipv6-counted-as-non-ip", PACKETS, "reason[ether == ETH_IPV6] = 1",
             "reason[ether == ETH_IPV6] = 2", (PCAP,), "IPv6 frames are skipped and counted as IPv6"),
    Mutation("decoder-source-as-destination", PACKETS, "b.u32[ipo + 16]", "b.u32[ipo + 12]", (PCAP,),
             "dst_ip is read from bytes 16-19 of the IPv4 header"),
    Mutation("decoder-fragments-kept", PACKETS, "(_field(ip_a, 0, 13, np.uint16) != 0)] = 5",
             "(_field(ip_a, 0, 13, np.uint16) != 0)] = 0", (PCAP,), "IPv4 fragments without a transport header are skipped"),
)


@dataclass
class Outcome:
    mutation: Mutation
    result: str
    """killed, survived, equivalent or error."""
    detail: str
    seconds: float


def copy_tree(source: Path, dest: Path) -> Path:
    """``src``, ``tests`` and ``pyproject.toml`` of ``source`` under ``dest/tree``; ``dest/shared`` links the
    real samples so the ``real_data`` fixture (two levels above ``tests/``) finds them as in a checkout."""
    tree = dest / "tree"
    tree.mkdir(parents=True)
    for name in COPIED:
        if (source / name).is_dir():
            shutil.copytree(source / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source / name, tree / name)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (dest / "shared").symlink_to(shared.resolve())
    return tree


def pytest_run(tree: Path, targets: tuple[str, ...], *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, *targets]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def first_failure(output: str) -> str:
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    return found.group(1) if found else "a failing test"


def apply(tree: Path, m: Mutation) -> str | None:
    """Write the mutation into the copy; the problem, if the snippet does not occur exactly once."""
    path = tree / m.file
    if not path.exists():
        return f"{m.file} does not exist"
    text = path.read_text()
    count = text.count(m.snippet)
    if count != 1:
        return f"snippet found {count} times in {m.file}"
    path.write_text(text.replace(m.snippet, m.replacement))
    return None


def run_mutation(m: Mutation, pristine: Path, failing_baseline: set[str]) -> Outcome:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="darkstack-mutation-") as tmp:
        tree = copy_tree(pristine, Path(tmp))
        problem = apply(tree, m)
        if problem is None and failing_baseline & set(m.tests):
            problem = f"baseline fails: {', '.join(sorted(failing_baseline & set(m.tests)))}"
        if problem is not None:
            return Outcome(m, "error", problem, time.perf_counter() - started)
        try:
            proc = pytest_run(tree, m.tests, "-x")
        except subprocess.TimeoutExpired:
            return Outcome(m, "killed", f"timeout after {TIMEOUT_S} s", time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if proc.returncode == 1:
        return Outcome(m, "killed", first_failure(proc.stdout), seconds)
    if proc.returncode == 0:
        if m.equivalent:
            return Outcome(m, "equivalent", m.equivalent, seconds)
        return Outcome(m, "survived", f"awaits {m.awaiting}" if m.awaiting else "", seconds)
    output = proc.stdout + proc.stderr
    cause = re.search(r"\b\w+(?:Error|Exception)\b:?.*", output)
    last = output.strip().splitlines()[-1:] or [""]
    return Outcome(m, "error", f"pytest exit {proc.returncode}: {cause.group(0).strip() if cause else last[0]}", seconds)


def missing_targets(targets: tuple[str, ...], root: Path) -> set[str]:
    """Targets naming a file or test function that does not exist (pytest would stop collecting at the first)."""
    missing = set()
    for target in targets:
        file, _, test = target.partition("::")
        path = root / file
        if not path.is_file() or (test and f"def {test.split('[')[0]}(" not in path.read_text()):
            missing.add(target)
    return missing


def baseline(mutations: list[Mutation], pristine: Path) -> tuple[set[str], float]:
    """Run every named target once, unmutated, in one pytest run; the targets that fail or do not exist."""
    started = time.perf_counter()
    targets = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
    failing = missing_targets(targets, pristine)
    files = {t for t in targets if "::" not in t}
    runnable = tuple(t for t in targets if t not in failing and t.partition("::")[0] not in files - {t})
    with tempfile.TemporaryDirectory(prefix="darkstack-mutation-") as tmp:
        tree = copy_tree(pristine, Path(tmp))
        check = subprocess.run([sys.executable, "-c", "import darkstack; print(darkstack.__file__)"],
                               env={**os.environ, "PYTHONPATH": str(tree / "src")}, capture_output=True, text=True)
        if not check.stdout.strip().startswith(str(tree)):
            sys.exit(f"error: {tree}: PYTHONPATH does not override the installed darkstack ({check.stdout.strip()})")
        proc = pytest_run(tree, runnable)
    if proc.returncode not in (0, 1):
        sys.exit(f"error: baseline pytest run exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.MULTILINE)
    failing |= {t for t in targets if any(f == t or f.startswith(t + "::") or f.startswith(t + "[") for f in failed)}
    return failing, time.perf_counter() - started


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def table(outcomes: list[Outcome], command: str, baseline_s: float, total_s: float, cpu_s: float) -> str:
    counts = {r: sum(o.result == r for o in outcomes) for r in ("killed", "survived", "equivalent", "error")}
    lines = [
        "## Mutation check of the suite (mutations.py)",
        "",
        f"`{command}` (the input is this checkout: `src/`, `tests/`).",
        "Each mutation (a hand-made list in the script) replaces one exact snippet in a temporary copy of the",
        "tree, and the tests named for it run there with `pytest -x` (issue 16). **killed**: the first failing",
        "test; **equivalent**: survives because it cannot change any result (reason given); **survived** with",
        "*awaits*: the test meant to kill it is on a branch not merged yet; **error**: the snippet no longer",
        "matches the source, or a named test fails or is missing without the mutation.",
        "",
        "| mutation | file | claim | result | killed by / why |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        m = o.mutation
        detail = f"`{o.detail}`" if "::" in o.detail and o.result == "killed" else o.detail.replace("|", "/")
        lines.append(f"| `{m.name}` | {m.file.removeprefix('src/darkstack/')} | {m.claim} | **{o.result}** | {detail} |")
    lines += [
        "",
        f"{len(outcomes)} mutations: {counts['killed']} killed, {counts['survived']} survived, "
        f"{counts['equivalent']} equivalent, {counts['error']} errors. Baseline run of every named test "
        f"{baseline_s:.0f} s; total {total_s:.0f} s wall, {cpu_s:.0f} CPU-seconds of the test processes "
        f"(wall depends on the load of the shared cores: 1-minute load average {os.getloadavg()[0]:.1f} at the end).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the mutations whose names start with one of these "
                        "comma-separated prefixes")
    parser.add_argument("--no-write", action="store_true", help="print the table without writing BENCHMARKS.md")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args()
    prefixes = tuple(p for p in args.only.split(",") if p) or ("",)
    chosen = [m for m in MUTATIONS if m.name.startswith(prefixes)]
    if args.list or not chosen:
        for m in chosen or MUTATIONS:
            print(f"{m.name}: {m.file}: {m.claim}")
        sys.exit(0 if chosen else 2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="darkstack-pristine-") as tmp:
        pristine = copy_tree(REPO, Path(tmp))  # one snapshot: edits made during the run do not leak into it
        failing, baseline_s = baseline(chosen, pristine)
        for target in sorted(failing):
            print(f"baseline: {target} fails (or is missing) without any mutation", flush=True)
        outcomes = []
        for m in chosen:
            outcome = run_mutation(m, pristine, failing)
            outcomes.append(outcome)
            print(f"{m.name} -> {outcome.result}" + (f" ({outcome.detail})" if outcome.detail else "")
                  + f" [{outcome.seconds:.0f} s]", flush=True)
    command = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mutations.py" + (f" --only {args.only}" if args.only else "")
    markdown = table(outcomes, command, baseline_s, time.perf_counter() - started, children_cpu_s())
    write_section("mutations", markdown, write=not (args.no_write or args.only))
    sys.exit(1 if any(o.result in ("survived", "error") for o in outcomes) else 0)


if __name__ == "__main__":
    main()

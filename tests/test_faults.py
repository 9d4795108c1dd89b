"""Fault injection (issue 12, point 4): every fault is one error line, a non-zero exit, no traceback,
earlier outputs intact, and the next run repairs what was damaged.

Read-only and full workspaces are small tmpfs mounts (skipped where mounting is not permitted); the
non-writable one drops root's permission override with ``setpriv`` (or runs as the user it is).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from darkstack.cli import main
from darkstack.pipeline.steps import load_state, steps_file
from darkstack.workspace import Workspace, lock_file, workspace_lock

DARKSTACK = [sys.executable, "-m", "darkstack.cli"]
QUIET = ["--log-level", "WARNING"]  # only warnings and errors on the console: the error line is all there is


# --- helpers -------------------------------------------------------------------------------------


def digest(root: Path, *skip: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` except those under ``skip`` (files or folders) and the lock."""
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "lock" or any(path.is_relative_to(s) for s in skip):
            continue
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def temporaries(root: Path) -> list[Path]:
    return sorted(root.rglob(".*.tmp"))


def assert_one_error_line(output: str, *fragments: str) -> str:
    """The whole console output is one ``error:`` line (no traceback) containing every fragment."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def run_cli(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([*QUIET, *args])
    return rc, capsys.readouterr().err


def run_process(*args: str, prefix: tuple[str, ...] = (), cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*prefix, *DARKSTACK, *QUIET, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Three simulated days, snapshots, labels and ds embeddings: the outputs a fault must leave intact."""
    ws = tmp_path_factory.mktemp("template") / "ws"
    for args in (
        ["simulate", "--days", "3", "--scale", "0.05", "--seed", "3"],
        ["labels"],
        ["snapshot"],
        ["embed", "-m", "ds"],
    ):
        assert main([*QUIET, *args, "-w", str(ws)]) == 0, args
    return ws


@pytest.fixture
def work(template, tmp_path) -> Path:
    """A fresh copy of the template workspace."""
    shutil.copytree(template, tmp_path / "ws", symlinks=True)
    return tmp_path / "ws"


def _mount(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a test file system here ({' '.join(cmd[:3])}: {done.stderr.strip()})")


@pytest.fixture
def small_fs(tmp_path):
    """An 8 MiB tmpfs mounted for the test (root only), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    point = tmp_path / "fs"
    point.mkdir()
    _mount(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)])
    yield point
    subprocess.run(["mount", "-o", "remount,rw", str(point)], capture_output=True)
    subprocess.run(["umount", str(point)], check=True)


# --- read-only and non-writable workspaces --------------------------------------------------------


WRITING_COMMANDS = [
    ["simulate", "--days", "1"],
    ["labels"],
    ["snapshot", "--force"],
    ["embed", "-m", "ds"],
    ["evaluate", "--variant", "ds"],
    ["report"],
]


def test_read_only_workspace_is_one_line_and_writable_again_next_run(template, small_fs, tmp_path, capsys):
    ws = small_fs / "ws"
    shutil.copytree(template, ws)
    config = tmp_path / "darkstack.toml"
    config.write_text(f'[workspace]\npath = "{ws}"\n')
    before = digest(ws)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    for command in [*([*c, "-w", str(ws)] for c in WRITING_COMMANDS), ["run", "-c", str(config)]]:
        rc, err = run_cli(capsys, *command)
        assert rc == 2, command
        assert_one_error_line(err, f"{ws}/", "Read-only file system", "--workspace")
    assert digest(ws) == before
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    rc, err = run_cli(capsys, "snapshot", "--force", "-w", str(ws))
    assert rc == 0, err


def _without_write_permission() -> tuple[str, ...]:
    """The command prefix under which file permissions apply (root overrides them)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop the permission override")
    probe = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner")


@pytest.mark.parametrize("locked", ["workspace", "snapshots/darknet"], ids=["whole-workspace", "one-stage-folder"])
def test_non_writable_workspace_is_one_line_and_outputs_stay(work, locked):
    """Whole workspace: refused at the lock; one stage's folder: refused at its first write, the rest intact."""
    prefix = _without_write_permission()
    target = work if locked == "workspace" else work / locked
    before = digest(work)
    modes = {p: p.stat().st_mode for p in [target, *target.rglob("*")]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        done = run_process("snapshot", "--force", "-w", str(work), prefix=prefix)
        expected = f"{work}/pipeline/lock" if locked == "workspace" else f"{work}/snapshots/darknet/day=2021-12-01:"
        assert done.returncode == 2, done.stderr
        assert_one_error_line(done.stderr, expected, "Permission denied")
        assert digest(work) == before
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    done = run_process("snapshot", "--force", "-w", str(work), prefix=prefix)
    assert done.returncode == 0, done.stderr
    assert not temporaries(work)


# --- full disk ------------------------------------------------------------------------------------


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` bytes."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@pytest.mark.parametrize("command", [["snapshot", "--force"], ["embed", "-m", "ds"]], ids=["snapshot", "embed"])
def test_full_disk_keeps_earlier_outputs_and_the_next_run_finishes(template, small_fs, capsys, command):
    ws = small_fs / "ws"
    shutil.copytree(template, ws)
    shutil.rmtree(ws / "embeddings")  # embed has days to write
    before = digest(ws)
    filler = _fill(small_fs, leave=48 * 1024)  # room for the first small files, not for a whole day
    rc, err = run_cli(capsys, *command, "-w", str(ws))
    assert rc == 2
    assert_one_error_line(err, f"{ws}/", "No space left on device", "finished outputs are intact")
    after = digest(ws)
    assert {k: v for k, v in after.items() if k in before} == before  # every earlier output unchanged
    assert not temporaries(ws)
    for path in set(after) - set(before):  # what did get written is complete
        if path.endswith(".parquet"):
            pq.read_table(ws / path)
    filler.unlink()
    rc, err = run_cli(capsys, *command, "-w", str(ws))
    assert rc == 0, err
    assert len(list((ws / "embeddings" / "darknet" / "ds").glob("day=*.parquet")) if command[0] == "embed" else
               list((ws / "snapshots" / "darknet").glob("day=*/meta.json"))) == 3


# --- damaged or deleted workspace files ------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300])


def _overwrite_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8 : len(data) // 2] = b"\xff" * (len(data) // 2 - 8)
    path.write_bytes(bytes(data))


DAMAGE = {
    # name: (file, how, command that meets it, what is moved aside, command that rebuilds it)
    "store-part-truncated": ("store/darknet/2021-12-02/part-sim.parquet", _truncate, ["snapshot", "--force", "--days", "2021-12-02"],
                             "store/darknet/2021-12-02/part-sim.parquet.damaged", ["simulate", "--days", "3", "--scale", "0.05", "--seed", "3"]),
    "snapshot-table-truncated": ("snapshots/darknet/day=2021-12-02/edges.parquet", _truncate, ["embed", "-m", "ds", "--variant", "ds2"],
                                 "snapshots/darknet/day=2021-12-02.damaged", ["snapshot"]),
    "snapshot-table-deleted": ("snapshots/darknet/day=2021-12-02/host_features.parquet", Path.unlink, ["embed", "-m", "ds", "--variant", "ds2"],
                               "snapshots/darknet/day=2021-12-02.damaged", ["snapshot"]),
    "embedding-corrupted": ("embeddings/darknet/ds/day=2021-12-03.parquet", _overwrite_middle, ["evaluate", "--variant", "ds"],
                            "embeddings/darknet/ds/day=2021-12-03.parquet.damaged", ["embed", "-m", "ds"]),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_file_is_one_line_moved_aside_and_rebuilt(work, capsys, case):
    name, damage, meets, moved, rebuilds = DAMAGE[case]
    damaged = work / name
    damage(damaged)
    unit = work / moved.removesuffix(".damaged")
    before = digest(work, unit)
    rc, err = run_cli(capsys, *meets, "-w", str(work))
    assert rc == 2
    assert_one_error_line(err, f"{damaged}: ", f"moved aside as {moved}", "rebuilds it")
    assert (work / moved).exists() and not unit.exists()
    after = digest(work, work / moved)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing else touched
    rc, err = run_cli(capsys, *rebuilds, "-w", str(work))
    assert rc == 0, err
    pq.read_table(damaged)  # rebuilt and readable
    rc, err = run_cli(capsys, *meets, "-w", str(work))
    assert rc == 0, err


def test_damaged_ingested_part_is_rewritten_by_ingesting_its_source_again(tmp_path, capsys, real_data):
    """The ingest manifest forgets the damaged part, so ingesting the same file again rewrites it."""
    ws = tmp_path / "ws"
    source = next((real_data / "spoki").glob("*.csv"))
    ingest = ["ingest", str(source), "--sensor", "spoki", "-w", str(ws)]
    assert run_cli(capsys, *ingest)[0] == 0
    (part,) = (ws / "store" / "spoki").glob("*/part-*.parquet")
    _truncate(part)
    rc, err = run_cli(capsys, "snapshot", "-w", str(ws))
    assert rc == 2
    assert_one_error_line(err, f"{part}: not readable", "moved aside as")
    rc, err = run_cli(capsys, *ingest)
    assert rc == 0, err
    pq.read_table(part)
    assert run_cli(capsys, "snapshot", "-w", str(ws))[0] == 0


def test_damaged_store_part_is_rewritten_by_the_next_pipeline_run(tiny_run, capsys):
    """The steps that write the store are forgotten, so `darkstack run` simulates again."""
    ws = Workspace(tiny_run.parent / "ws")
    assert main([*QUIET, "run", "-c", str(tiny_run)]) == 0
    part = ws.store_day_dir("darknet", dt.date(2021, 12, 2)) / "part-sim.parquet"
    _truncate(part)
    rc, err = run_cli(capsys, "snapshot", "--force", "--days", "2021-12-02", "-w", str(ws.root))
    assert rc == 2
    assert_one_error_line(err, f"{part}: not readable", "`darkstack run`")
    rc, err = run_cli(capsys, "run", "-c", str(tiny_run))
    assert rc == 0, err
    assert load_state(ws)["runs"][-1]["ran"] == ["simulate"]
    pq.read_table(part)


def test_damaged_checkpoint_is_moved_aside_and_training_restarts(work, capsys):
    embed = ["embed", "-m", "idarkvec", "-s", "darknet", "--keep-checkpoints", "0", "-w", str(work)]
    assert run_cli(capsys, *embed)[0] == 0
    last = work / "embeddings" / "darknet" / "idarkvec" / "day=2021-12-03.parquet"
    last.unlink()  # day 3 to redo: resumes from day 2's checkpoint
    _truncate(work / "models" / "darknet" / "idarkvec" / "day=2021-12-02" / "weights.safetensors")
    rc, err = run_cli(capsys, *embed)
    assert rc == 2
    assert_one_error_line(err, "day=2021-12-02/weights.safetensors: unreadable checkpoint weights",
                          "moved aside as models/darknet/idarkvec/day=2021-12-02.damaged")
    rc, err = run_cli(capsys, *embed)
    assert rc == 0, err
    assert last.exists()
    assert (work / "models" / "darknet" / "idarkvec" / "day=2021-12-02" / "state.json").exists()


TINY_RUN = """
[workspace]
path = "ws"
[source.simulate]
days = 3
scale = 0.05
seed = 3
[run]
device = "cpu"
variants = ["ds", "idarkvec"]
sensors = ["darknet"]
scenarios = []
evaluate = false
predict = false
discover = false
[report]
enabled = false
"""


@pytest.fixture
def tiny_run(tmp_path) -> Path:
    config = tmp_path / "darkstack.toml"
    config.write_text(TINY_RUN)
    return config


@pytest.mark.parametrize("damage", ["not-json", "wrong-layout"])
def test_damaged_step_state_is_moved_aside_and_rebuilt(tiny_run, capsys, damage):
    ws = Workspace(tiny_run.parent / "ws")
    assert main([*QUIET, "run", "-c", str(tiny_run)]) == 0
    steps = steps_file(ws)
    steps.write_text('{"steps": {"simulate": ' if damage == "not-json" else '{"steps": ["simulate"]}')
    before = digest(ws.root, steps)
    rc, err = run_cli(capsys, "run", "-c", str(tiny_run))
    assert rc == 2
    assert_one_error_line(err, f"{steps}: step cache", "moved aside as pipeline/steps.json.damaged")
    assert digest(ws.root, steps, steps.with_name("steps.json.damaged")) == before
    rc, err = run_cli(capsys, "run", "-c", str(tiny_run))
    assert rc == 0, err
    assert set(load_state(ws)["steps"]) == {"simulate", "labels", "snapshot:darknet", "embed:darknet:ds", "embed:darknet:idarkvec"}


# --- killed mid-write ---------------------------------------------------------------------------------


def test_killed_run_leaves_no_half_written_outputs_and_the_next_run_finishes(tiny_run):
    ws = Workspace(tiny_run.parent / "ws")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*DARKSTACK, *QUIET, "run", "-c", str(tiny_run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    embeddings = ws.root / "embeddings" / "darknet" / "idarkvec"
    while time.monotonic() < deadline and not list(embeddings.glob("day=*.parquet")):
        time.sleep(0.05)  # kill inside the last step, once it has written its first day
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(embeddings.glob("day=*.parquet")), "the run finished its first i-DarkVec day too late"
    for path in ws.root.rglob("*.parquet"):
        pq.read_table(path)  # every output under its final name is complete
    json.loads(steps_file(ws).read_text())
    done = run_process("run", "-c", str(tiny_run))
    assert done.returncode == 0, done.stderr
    last = load_state(ws)["runs"][-1]
    assert "simulate" in last["skipped"] and "embed:darknet:idarkvec" in last["ran"]  # resumed, not restarted
    assert len(list(embeddings.glob("day=*.parquet"))) == 3
    assert not temporaries(ws.root)


def test_what_killed_writers_left_is_removed_by_the_next_command(work, capsys):
    """A SIGKILL inside a write leaves these (atomic.atomic_path, atomic_dir, the report and ingest staging)."""
    left = [
        work / "embeddings" / "darknet" / "ds" / ".day=2021-12-02.parquet.k3j9x2.tmp",
        work / "snapshots" / "darknet" / ".day=2021-12-02.a8d7qk.tmp" / "edges.parquet",
        work / "reports" / ".20211203-120000.tmp" / "index.html",
        work / "store" / ".staging" / "part-1234" / "darknet" / "2021-12-01" / "part-1234-00000.parquet",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    kept = work / "sim" / ".notes"  # hidden, but no temporary of ours
    kept.write_text("mine")
    before = digest(work, *(p.parent for p in left[1:]), left[0])
    rc, err = run_cli(capsys, "labels", "-w", str(work))
    assert rc == 0, err
    assert not temporaries(work) and not (work / "store" / ".staging").exists()
    assert kept.read_text() == "mine"
    assert set(before) <= set(digest(work))


# --- the workspace lock ----------------------------------------------------------------------------


def _all_commands(ws: Path, config: Path) -> dict[str, list[str]]:
    """Every writing command with the least arguments that reach its work."""
    w = ["-w", str(ws)]
    return {
        "demo": ["demo", "--out", str(ws), "--days", "1"],
        "simulate": ["simulate", "--days", "1", *w],
        "ingest": ["ingest", str(config), "--sensor", "darknet", *w],
        "labels": ["labels", *w],
        "snapshot": ["snapshot", "--force", *w],
        "embed": ["embed", "-m", "ds", *w],
        "evaluate": ["evaluate", *w],
        "study": ["study", "history", *w],
        "stack": ["stack", *w],
        "predict": ["predict", "--day", "2021-12-01", *w],
        "discover": ["discover", *w],
        "export": ["export", *w],
        "run": ["run", "-c", str(config)],
        "update": ["update", "--day", "2021-12-04", "-c", str(config)],
        "report": ["report", *w],
    }


def test_every_writing_command_takes_the_workspace_lock(tmp_path, capsys):
    """A second darkstack process writing to the workspace is refused in one line by every command."""
    from darkstack.cli import COMMANDS
    from darkstack.pipeline.demo import demo_config_text

    config = tmp_path / "darkstack.toml"
    config.write_text('[workspace]\npath = "darkstack-demo/ws"\n')
    ws = tmp_path / "darkstack-demo" / "ws"
    commands = _all_commands(ws, config)
    assert set(commands) == {name for name, _, _ in COMMANDS}
    lock = lock_file(Workspace(ws))
    lock.parent.mkdir(parents=True)
    (ws / "darkstack.toml").write_text(demo_config_text())  # demo writes it, when absent, before its run locks
    with open(lock, "w") as other:  # as another process would hold it
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for name, args in commands.items():
            rc, err = run_cli(capsys, *args)
            assert rc == 2, name
            assert_one_error_line(err, f"{ws}: another darkstack command is writing to this workspace")
    # nobody wrote anything; run/update open the workspace's log (appends, safe to share) before locking
    assert sorted(p.name for p in ws.iterdir()) == ["darkstack.toml", "logs", "pipeline"]
    assert sorted(p.name for p in (ws / "logs").iterdir()) == ["darkstack.jsonl"]
    assert sorted(p.name for p in (ws / "pipeline").iterdir()) == ["lock"]


def test_two_standalone_snapshots_on_one_workspace_do_not_overlap(work):
    """The probe of issue 12: a second `snapshot --force` while another darkstack process writes."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from darkstack.workspace import Workspace, workspace_lock\n"
         f"with workspace_lock(Workspace({str(work)!r})):\n    print('held', flush=True); sys.stdin.read()"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = digest(work)
        done = run_process("snapshot", "--force", "-w", str(work))
        assert done.returncode == 2
        assert_one_error_line(done.stderr, f"{work}: another darkstack command is writing to this workspace")
        assert digest(work) == before
    finally:
        holder.communicate("", timeout=30)
    assert run_process("snapshot", "--force", "-w", str(work)).returncode == 0  # released with its process


def test_lock_is_reentrant_in_a_process_and_released_after(ws):
    with workspace_lock(ws):
        with workspace_lock(ws):  # run and update call the stages inside their own lock
            pass
        with open(lock_file(ws)) as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock_file(ws)) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


# --- errors that escape a command ------------------------------------------------------------------


def test_unexpected_errors_are_one_line_and_a_traceback_only_at_debug(ws, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("darkstack.report.build.build_report", broken)
    rc, err = run_cli(capsys, "report", "-w", str(ws.root))
    assert rc == 1
    assert_one_error_line(err, "internal error: RuntimeError: boom", "--log-level DEBUG")
    capsys.readouterr()
    assert main(["--log-level", "DEBUG", "report", "-w", str(ws.root)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: internal error")


def test_os_errors_name_the_file(ws, capsys, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(ws.root / "reports"))

    monkeypatch.setattr("darkstack.report.build.build_report", refused)
    rc, err = run_cli(capsys, "report", "-w", str(ws.root))
    assert rc == 2
    assert_one_error_line(err, f"error: {ws.root}/reports: Permission denied (this user may not write here")

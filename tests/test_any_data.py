"""Any operator's data through one command: real samples, one-sensor simulator days, updates and the demo's days.

Every run uses tiny model settings (``TINY``) so a test takes seconds; the pipeline's behaviour (what
runs, what is skipped and why, the exit code) does not depend on them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from darkstack.cli import main
from darkstack.errors import ConfigError
from darkstack.pipeline.config import load_config
from darkstack.pipeline.steps import steps_file
from darkstack.simulate import simulate
from darkstack.stack.bases import pick_sensor, resolve_scenario
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace

TINY = """
[run]
variants = ["ds", "idarkvec"]
{run}
[embed]
embedding_dim = 8
w2v_epochs = 1
[stack]
base_variants = ["ds", "idarkvec"]
folds = 2
figures = false
"""
DAY = "2021-12-01"


def _tiny(tmp_path: Path, extra: str = "", run: str = "") -> Path:
    """Tiny model settings, plus ``extra`` sections and ``run`` keys."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(run=run) + extra)
    return path


def _steps(ws_root: Path) -> dict:
    return json.loads(steps_file(Workspace(ws_root)).read_text())["steps"]


def _skip_lines(ws_root: Path) -> list[str]:
    """Every recorded skip as ``stage where: reason (change: option)``, in step order."""
    from darkstack.skips import Skip

    return [Skip.from_dict(s).line() for entry in _steps(ws_root).values() for s in entry["skips"]]


def _console(capsys) -> str:
    captured = capsys.readouterr()
    return " ".join((captured.out + captured.err).split())


def _report(ws_root: Path) -> Path:
    reports = sorted((ws_root / "reports").glob("*/index.html"))
    assert reports, "no report written"
    return reports[-1]


class Planned(BaseException):
    """Raised by the stand-in for ``run_pipeline`` (past the CLI's error handling): the command got as far as running."""


def _stop_before_running(monkeypatch) -> list:
    """Replace ``run_pipeline`` by a recorder that stops the command; returns the configurations it got."""
    seen = []

    def record(config, force=()):
        seen.append(config)
        raise Planned

    monkeypatch.setattr("darkstack.pipeline.run.run_pipeline", record)
    return seen


@pytest.fixture
def one_day(tmp_path) -> Workspace:
    """One simulated day (both sensors, small), with the darknet also written as a pcap file."""
    world = Workspace(tmp_path / "world")
    simulate(world, days=1, scale=0.1, pcap=True)
    return world


def test_run_on_the_real_samples_exits_0_writes_the_report_and_lists_what_was_not_computed(real_data, tmp_path, capsys):
    ws = tmp_path / "ws"
    labels = ["--labels", str(real_data / "labels" / "acknowledged_scanners.ipset"), "--labels", str(real_data / "labels" / "darkvec_big_gt.csv")]
    inputs = [str(real_data / name) for name in ("mhn", "cowrie", "spoki")]
    assert main(["run", *inputs, *labels, "-c", str(_tiny(tmp_path)), "-w", str(ws)]) == 0
    out = _console(capsys)
    assert _report(ws).exists()
    sensors = Workspace(ws).sensors()
    assert {name: info["kind"] for name, info in sensors.items()} == {"darknet": "darknet", "honeypot": "honeypot"}
    lines = _skip_lines(ws)
    # Spoki's LICENSE file is listed and skipped, the rest of the folder is read
    assert any(line.startswith("ingest sensor darknet: file skipped:") and "LICENSE: cannot tell the format" in line for line in lines), lines
    # the honeypot days (2017 … 2022) and the Spoki day (2021-10-13) share no day: DH is not computed, with the reason
    assert any(line.startswith("predict scenario DH: no day with traffic of every sensor of the scenario (darknet, honeypot)") for line in lines), lines
    # one Spoki day without a class of 11 labelled hosts: nothing to score there, and the option that would change it
    steps = _steps(ws)
    assert steps["evaluate:darknet"]["empty"] and "evaluate.min_class_hosts" in " ".join(lines)
    assert not steps["predict:H"]["empty"]  # the honeypot days gave predictions
    # groups of hosts on the Spoki day, in the first variant embedded (no evaluation scored there)
    assert not steps["discover:darknet"]["empty"] and "results/discover/darknet/groups-day=2021-10-13.json" in steps["discover:darknet"]["outputs"]
    assert not steps["export:H"]["empty"] and steps["export:DH"]["empty"]  # exported as a feed; DH had nothing to export
    (exported,) = (ws / "results" / "export" / "H").glob("day=*/hosts.jsonl")
    assert [json.loads(line)["address"] for line in exported.read_text().splitlines()]
    assert f"not computed: {len(lines)} item(s), see the report's \"not computed\" section" in out
    assert "configuration used: " in out and (ws / "darkstack.toml").exists()
    html = _report(ws).read_text()
    assert "Not computed" in html and "no day with traffic of every sensor of the scenario" in html
    assert 'id="groups-darknet"' in html and "no scored evaluation: the first variant embedded" in html


def test_one_day_darknet_only_workspace_skips_the_honeypot_scenarios_and_its_config_reruns(one_day, tmp_path, capsys):
    ws = tmp_path / "ws"
    pcap = one_day.truth_dir / "pcap" / "darknet" / f"{DAY}.pcap"
    assert main(["run", str(pcap), "--labels", str(one_day.truth_dir / "labels.csv"), "-c", str(_tiny(tmp_path)), "-w", str(ws)]) == 0
    assert _report(ws).exists()
    steps = _steps(ws)
    assert not steps["stack:D"]["empty"] and not steps["predict:D"]["empty"]
    assert steps["stack:H"]["empty"] and steps["stack:DH"]["empty"] and "predict:H" not in steps
    lines = _skip_lines(ws)
    for scenario in ("H", "DH"):
        assert f"stack scenario {scenario}: no honeypot-kind sensor (sensors: darknet (darknet)) (change: run.sensors / stack.honeypot_sensor)" in lines
    assert "not computed: 2 item(s)" in _console(capsys)

    written = ws / "darkstack.toml"
    config = load_config(written)
    assert config.workspace.path == ws and [(i.sensor, i.kind) for i in config.source.ingest] == [("darknet", "darknet")]
    assert config.run.variants == ["ds", "idarkvec"]  # the -c settings are kept
    assert main(["run", "-c", str(written)]) == 0
    assert "ran 0 step(s)" in _console(capsys)


def test_one_day_honeypot_only_workspace_runs_from_its_store(one_day, tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(one_day.root, ws.root)
    shutil.rmtree(ws.store_dir / "darknet")
    ws.sensors_file.write_text(json.dumps({"honeypot": ws.sensors()["honeypot"]}))
    config = _tiny(tmp_path, f'[workspace]\npath = "{ws.root}"\n[source]\ntype = "store"\n[labels]\nsources = ["{ws.truth_dir / "labels.csv"}"]\n')
    assert main(["run", "-c", str(config)]) == 0
    assert _report(ws.root).exists()
    steps = _steps(ws.root)
    assert not steps["stack:H"]["empty"] and not steps["predict:H"]["empty"] and "evaluate:darknet" not in steps
    saved = json.loads((ws.root / "pipeline" / "config.json").read_text())["run"]
    assert (saved["sensors"], saved["scenarios"]) == (["honeypot"], ["H"])
    lines = _skip_lines(ws.root)
    for scenario in ("D", "DH"):
        assert f"stack scenario {scenario}: no darknet-kind sensor (sensors: honeypot (honeypot)) (change: run.sensors / stack.darknet_sensor)" in lines
    assert "not computed: 2 item(s)" in _console(capsys)


def test_run_from_a_workspace_store_without_a_config(one_day, tmp_path, capsys, monkeypatch):
    """No PATHs, no --config, no ./darkstack.toml: the workspace's store as it is, and that config is written."""
    monkeypatch.chdir(tmp_path)
    from darkstack.pipeline import run_command

    seen = _stop_before_running(monkeypatch)
    with pytest.raises(Planned):
        run_command.command(paths=None, labels=[one_day.truth_dir / "labels.csv"], config=None, workspace=one_day.root, force=None)
    assert seen[0].source.type == "store" and seen[0].labels.sources == [one_day.truth_dir / "labels.csv"]
    assert load_config(one_day.root / "darkstack.toml") == seen[0]
    with pytest.raises(ConfigError, match="no darkstack.toml here or in the workspace, and no traffic in its store"):
        run_command.command(paths=None, labels=[], config=None, workspace=tmp_path / "empty", force=None)


def test_nothing_readable_is_one_error_line(tmp_path, capsys):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    assert main(["run", str(junk), "-w", str(tmp_path / "ws")]) == 2
    out = _console(capsys)
    assert f"error: {junk}: nothing readable among 1 file(s); the first: cannot tell the format" in out and "Traceback" not in out


def test_update_with_only_one_sensors_traffic_predicts_its_scenario_and_skips_the_others(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    simulate(ws, days=2, scale=0.1, pcap=True)
    day2 = "2021-12-02"
    for sensor in ("darknet", "honeypot"):
        shutil.rmtree(ws.store_day_dir(sensor, ws.store_days(sensor)[-1]))
    config = _tiny(tmp_path, f'[workspace]\npath = "{ws.root}"\n[source]\ntype = "store"\n[labels]\nsources = ["{ws.truth_dir / "labels.csv"}"]\n')
    assert main(["run", "-c", str(config)]) == 0
    capsys.readouterr()

    pcap = ws.truth_dir / "pcap" / "darknet" / f"{day2}.pcap"
    assert main(["update", "--day", day2, "-w", str(ws.root), "--input", str(pcap), "--sensor", "darknet"]) == 0
    out = _console(capsys)
    assert (ws.results_dir / "predict" / "D" / f"day={day2}.parquet").exists()
    assert not (ws.results_dir / "predict" / "H" / f"day={day2}.parquet").exists()
    assert f"not computed: update sensor honeypot, {day2}: no traffic that day" in out
    assert f"not computed: predict scenario H, {day2}: no traffic of sensor honeypot that day" in out
    assert f"not computed: predict scenario DH, {day2}: no traffic of sensor honeypot that day" in out
    assert f"updated {day2}: " in out and "predictions for 1 scenario(s)" in out


def test_demo_days_are_written_into_its_config_so_run_reuses_them(tmp_path, monkeypatch, capsys):
    seen = _stop_before_running(monkeypatch)
    out = tmp_path / "demo"
    for days in (12, 3, 3):
        with pytest.raises(Planned):
            main(["demo", "--days", str(days), "-o", str(out)])
        written = load_config(out / "darkstack.toml")
        assert written.source.simulate.days == seen[-1].source.simulate.days == days
        assert written == seen[-1]  # `darkstack run -c` on the file plans exactly what demo ran


def test_scenarios_follow_the_sensors_kinds_not_their_names(tmp_path):
    sensors = {"spoki": {"kind": "darknet"}, "mhn": {"kind": "honeypot"}}
    assert pick_sensor(sensors, "honeypot") == "mhn" and pick_sensor(sensors, "darknet") == "spoki"
    with pytest.raises(ConfigError, match=r"no honeypot-kind sensor \(sensors: spoki \(darknet\)\)"):
        pick_sensor({"spoki": {"kind": "darknet"}}, "honeypot")
    with pytest.raises(ConfigError, match="stack.honeypot_sensor = 'spoki' is a darknet sensor, not a honeypot one"):
        pick_sensor(sensors, "honeypot", "spoki")
    two = sensors | {"cowrie": {"kind": "honeypot"}}
    with pytest.raises(ConfigError) as caught:
        pick_sensor(two, "honeypot")
    assert "2 honeypot-kind sensors (mhn, cowrie): choose one with --honeypot-sensor / stack.honeypot_sensor" in caught.value.problem
    assert "--scenario mhn:ds,mhn:idarkvec,mhn:igcngru" in caught.value.problem and "{" not in caught.value.problem

    ws = Workspace(tmp_path / "ws")
    ws.register_sensor("spoki", "darknet")
    ws.register_sensor("mhn", "honeypot")
    scenario = resolve_scenario(ws, "DH", StackSettings())
    assert scenario.sensors == ["spoki", "mhn"]


def test_a_sensor_whose_files_are_all_unreadable_is_skipped_and_the_others_run(one_day, tmp_path, capsys):
    junk = tmp_path / "junk.json"
    junk.write_text("hello\n")
    pcap = one_day.truth_dir / "pcap" / "darknet" / f"{DAY}.pcap"
    ws = tmp_path / "ws"
    config = _tiny(tmp_path, f"""
[workspace]
path = "{ws}"
[source]
type = "ingest"
[[source.ingest]]
paths = ["{pcap}"]
sensor = "telescope"
[[source.ingest]]
paths = ["{junk}"]
sensor = "farm"
kind = "honeypot"
keep_going = true
[labels]
sources = ["{one_day.truth_dir / 'labels.csv'}"]
""", run='evaluate = false\npredict = false\nscenarios = ["D"]')
    assert main(["run", "-c", str(config)]) == 0
    steps = _steps(ws)
    assert steps["ingest:farm"]["empty"] and steps["snapshot:farm"]["empty"] and steps["embed:farm:ds"]["empty"]
    assert not steps["stack:D"]["empty"]  # the darknet-kind sensor "telescope" is D's, whatever its name
    lines = _skip_lines(ws)
    assert any(line.startswith("ingest sensor farm: no file could be read:") and "cannot tell the format" in line for line in lines), lines
    assert "snapshot sensor farm: nothing to work on: ingest:farm computed nothing" in lines


def test_the_saved_run_configuration_names_the_planned_sensors_and_scenarios(tmp_path):
    """``pipeline/config.json`` (read by the report and by ``update``) holds what ``auto`` became on this data."""
    from darkstack.pipeline.config import PipelineConfig, SourceConfig, WorkspaceConfig
    from darkstack.pipeline.plan import resolved

    ws = Workspace(tmp_path / "ws")
    ws.register_sensor("telescope", "darknet")
    config = PipelineConfig(workspace=WorkspaceConfig(path=ws.root), source=SourceConfig(type="store"))
    run = resolved(ws, config).run
    assert (run.sensors, run.scenarios, run.study_sensors) == (["telescope"], ["D"], ["telescope"])
    ws.register_sensor("farm", "honeypot")
    assert resolved(ws, config).run.scenarios == ["D", "H", "DH"]
    named = config.model_copy(update={"run": config.run.model_copy(update={"sensors": ["farm"], "scenarios": ["H", "DH"]})})
    assert (resolved(ws, named).run.sensors, resolved(ws, named).run.scenarios) == (["farm"], ["H", "DH"])  # named lists stay as named


def test_stack_command_picks_the_honeypot_kind_sensor_and_names_its_option_when_several(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    ws.register_sensor("spoki", "darknet")
    ws.register_sensor("mhn", "honeypot")
    base = ["stack", "--scenario", "H", "-w", str(ws.root)]
    main(base)
    out = _console(capsys)
    assert "mhn" in out and "spoki" not in out  # H is the honeypot-kind sensor's, never the darknet one's
    ws.register_sensor("cowrie", "honeypot")
    assert main(base) == 2
    out = _console(capsys)
    assert "2 honeypot-kind sensors (cowrie, mhn): choose one with --honeypot-sensor" in out and "{" not in out
    main([*base, "--honeypot-sensor", "cowrie"])
    out = _console(capsys)
    assert "cowrie" in out and "mhn" not in out

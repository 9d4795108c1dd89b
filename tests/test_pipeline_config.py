"""The pipeline configuration: papers' defaults, one-line errors naming the key, paths, the demo config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from darkstack.errors import ConfigError
from darkstack.pipeline.config import PipelineConfig, load_config, parse_variant
from darkstack.pipeline.demo import demo_config_text
from darkstack.pipeline.plan import build_plan
from darkstack.workspace import Workspace

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pipeline.md"


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "darkstack.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_papers():
    config = PipelineConfig()
    assert config.run.variants == ["ds", "idarkvec", "igcngru"]
    assert config.run.sensors == config.run.scenarios == "auto"  # from the data: see test_auto_*
    assert config.source.simulate.days == 31 and config.source.simulate.start == dt.date(2021, 12, 1)
    assert (config.snapshot.min_packets, config.snapshot.top_ports) == (5, 2500)
    assert (config.embed.embedding_dim, config.embed.history, config.evaluate.k, config.stack.folds) == (128, 5, 3, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\nsensor = ['darknet']\n", "run.sensor: unknown key"),
        ("[embed]\nhidden_dim = 0\n", "embed.hidden_dim: Input should be greater than or equal to 1 (got 0)"),
        ("[run]\nvariants = ['ds', 'word2vec']\n", "run.variants: unknown variant 'word2vec'"),
        ("[run]\nvariants = ['ds-nofeat']\n", "run.variants: unknown variant 'ds-nofeat'"),
        ("[run]\nscenarios = ['X', 'D']\n", "run.scenarios: unknown scenario(s) X; choose from D, H, DH or 'auto'"),
        ("[run]\nsensors = []\n", "run.sensors: give at least one sensor"),
        ("[run]\nsensors = ['darknet']\nscenarios = ['H']\n[stack]\nhoneypot_sensor = 'hp'\n", "scenario H needs sensor(s) hp in run.sensors"),
        ("[run]\nvariants = ['ds']\n", "stack.base_variants idarkvec, igcngru are not in run.variants"),
        ("[run]\nfirst_day = 2021-12-10\nlast_day = 2021-12-01\n", "first_day 2021-12-10 is after last_day 2021-12-01"),
        ("[source]\ntype = 'ingest'\n", "source: type = 'ingest' needs at least one [[source.ingest]] entry"),
        ("[source.simulate]\nprofile = 'huge'\n", "source.simulate.profile: Input should be 'demo' or 'paper'"),
        ("[run\n", "not valid TOML"),
    ],
)
def test_bad_configs_are_one_clear_line(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line = caught.value.line()
    assert line.startswith(f"{path}: ") and message in line and "\n" not in line


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_relative_paths_are_taken_from_the_config_folder(tmp_path):
    text = """
[workspace]
path = "work"
[source]
type = "ingest"
[[source.ingest]]
paths = ["caps/a.pcap"]
sensor = "darknet"
[labels]
sources = ["gt/labels.csv"]
[run]
sensors = ["darknet"]
scenarios = ["D"]
"""
    config = load_config(_write(tmp_path, text))
    assert config.workspace.path == tmp_path / "work"
    assert config.source.ingest[0].paths == [tmp_path / "caps" / "a.pcap"]
    assert config.labels.sources == [tmp_path / "gt" / "labels.csv"]


def test_variants_name_method_and_features():
    assert parse_variant("igcngru") == ("igcngru", True)
    assert parse_variant("gcn-nofeat") == ("gcn", False)
    with pytest.raises(ValueError):
        parse_variant("idarkvec-nofeat")


def test_demo_config_is_valid_and_plans_every_stage(tmp_path):
    config = load_config(_write(tmp_path, demo_config_text()))
    assert config.workspace.path == tmp_path and config.source.simulate.profile == "demo"
    names = [s.name for s in build_plan(Workspace(tmp_path), config, "r")]
    assert names[:3] == ["simulate", "labels", "snapshot:darknet"]
    assert "embed:honeypot:igcngru" in names and "evaluate:darknet" in names
    assert names[-12:] == ["stack:D", "predict:D", "stack:H", "predict:H", "stack:DH", "predict:DH", "discover:darknet", "discover:honeypot", "export:D", "export:H", "export:DH", "report"]


def test_every_option_is_documented():
    """The pipeline's own sections key by key; the stage sections are the stages' models (documented there)."""
    text = DOCS.read_text()
    own = ("workspace", "source", "labels", "run", "report")
    for section, field in PipelineConfig.model_fields.items():
        assert f"[{section}]" in text, section
        for key in field.annotation.model_fields if section in own else ():
            assert f"`{key}`" in text, f"{section}.{key} is not documented in docs/pipeline.md"


def test_update_needs_a_configuration_and_a_day_inside_the_simulated_period(tmp_path, capsys):
    from darkstack.cli import main
    from darkstack.pipeline.update import update_day

    assert main(["update", "--day", "2021-12-05", "-w", str(tmp_path / "ws")]) == 2
    assert "no pipeline configuration in this workspace" in " ".join(capsys.readouterr().err.split())
    config = load_config(_write(tmp_path, "[workspace]\npath = 'ws'\n[source.simulate]\ndays = 3\n"))
    with pytest.raises(ConfigError, match="outside the simulated period 2021-12-01 … 2021-12-03"):
        update_day(config, dt.date(2021, 12, 4))
    with pytest.raises(ConfigError, match="--input needs --sensor"):
        update_day(config, dt.date(2021, 12, 2), inputs=[tmp_path / "day.pcap"])


def _keys(config, ws):
    keys: dict[str, str] = {}
    for step in build_plan(ws, config, "r"):
        keys[step.name] = step.key(keys)
    return keys


STACKS = {f"{k}:{s}" for k in ("stack", "predict", "export") for s in ("D", "H", "DH")} | {"report"}
DISCOVER = {"discover:darknet", "discover:honeypot"}
EXPORTS = {"export:D", "export:H", "export:DH"}  # an export carries the day's clusters: it follows discover
RESULTS = {"evaluate:darknet", "evaluate:honeypot"} | STACKS | DISCOVER
EMBEDS = {f"embed:{s}:{v}" for s in ("darknet", "honeypot") for v in ("ds", "idarkvec", "igcngru")}


@pytest.mark.parametrize(
    ("section", "change", "affected"),
    [
        ("embed", {"history": 3}, {"embed:darknet:igcngru", "embed:honeypot:igcngru"} | RESULTS),
        ("embed", {"w2v_window": 10}, {"embed:darknet:idarkvec", "embed:honeypot:idarkvec"} | RESULTS),
        ("snapshot", {"top_ports": 1000}, {"snapshot:darknet", "snapshot:honeypot"} | EMBEDS | RESULTS),
        ("evaluate", {"k": 5}, {"evaluate:darknet", "evaluate:honeypot", "report"} | DISCOVER | EXPORTS),  # the best variant may change
        ("stack", {"folds": 5}, STACKS),
        ("discover", {"match_jaccard": 0.5}, DISCOVER | EXPORTS | {"report"}),
        ("report", {"title": "x"}, {"report"}),
        ("export", {"formats": ("csv",)}, EXPORTS | {"report"}),
    ],
)
def test_a_changed_setting_changes_the_keys_of_exactly_its_steps_and_their_dependants(tmp_path, section, change, affected):
    ws = Workspace(tmp_path)
    config = load_config(_write(tmp_path, demo_config_text()))
    changed = config.model_copy(update={section: getattr(config, section).model_copy(update=change)})
    before, after = _keys(config, ws), _keys(changed, ws)
    assert {name for name in before if before[name] != after[name]} == affected


def test_a_written_config_reads_back_as_the_same_config(tmp_path):
    from darkstack.pipeline.config import config_toml

    text = """
[workspace]
path = "ws"
[source]
type = "ingest"
[[source.ingest]]
paths = ["a b/x.pcap", "y.json"]
sensor = "darknet"
keep_going = true
[[source.ingest]]
paths = ["c.json"]
sensor = "hp"
kind = "honeypot"
[run]
sensors = ["darknet", "hp"]
scenarios = ["H"]
first_day = 2021-12-02
[embed]
lr = 0.0005
[stack]
honeypot_sensor = "hp"
base_variants = ["ds", "idarkvec", "igcngru"]
"""
    config = load_config(_write(tmp_path, text))
    again = tmp_path / "again" / "darkstack.toml"
    again.parent.mkdir()
    again.write_text(config_toml(config, "header line"))
    assert load_config(again) == config and again.read_text().startswith("# header line\n")

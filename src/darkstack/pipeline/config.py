"""The pipeline configuration (``darkstack.toml``): sources, sensors, methods, days, seeds and every stage's settings.

Loaded from TOML and validated by pydantic: unknown keys are rejected and a bad value is reported as
one line naming the file, the key and the problem. Every option has the papers' value as default;
see ``docs/pipeline.md`` and the annotated example ``src/darkstack/data/demo.toml``.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from darkstack.discover.settings import DiscoverSettings
from darkstack.embed.settings import GNN_METHODS, METHODS, EmbedSettings
from darkstack.errors import ConfigError
from darkstack.evaluate.settings import EvalSettings
from darkstack.export.settings import ExportSettings
from darkstack.ingest.settings import IngestSettings
from darkstack.snapshot.settings import SnapshotSettings
from darkstack.stack.settings import StackSettings

NOFEAT = "-nofeat"
SCENARIOS = ("D", "H", "DH")
KINDS = {"D": ("darknet",), "H": ("honeypot",), "DH": ("darknet", "honeypot")}
"""The sensor kinds each named scenario stacks."""
AUTO = "auto"
"""``run.sensors`` / ``run.scenarios`` / ``run.study_sensors`` value meaning "from the data" (docs/pipeline.md)."""
STUDIES = ("history", "epochs")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_variant(variant: str) -> tuple[str, bool]:
    """Variant name → (method, with node features): ``igcngru`` → (igcngru, True), ``gcn-nofeat`` → (gcn, False)."""
    method = variant.removesuffix(NOFEAT)
    features = method == variant
    if method not in METHODS or (not features and method not in GNN_METHODS):
        allowed = list(METHODS) + [m + NOFEAT for m in GNN_METHODS]
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(allowed)}")
    return method, features


class WorkspaceConfig(_Section):
    path: Path = Field(Path("darkstack-work"), description="Workspace folder; a relative path is taken from the config file's folder.")


class SimulateSource(_Section):
    """The built-in simulator as the traffic source (docs/simulator.md)."""

    profile: Literal["demo", "paper"] = Field("demo", description="Simulator profile: 'demo' (small) or 'paper' (Table 2 sizes).")
    days: int = Field(31, ge=1, description="Days simulated (papers: 31).")
    start: dt.date = Field(dt.date(2021, 12, 1), description="First simulated UTC day (temporal-GNN paper: 2021-12-01).")
    seed: int = Field(0, description="Simulator seed (same seed, same traffic).")
    scale: float | None = Field(None, gt=0, description="Multiplies the profile's host and packet numbers (None: the profile as is).")
    pcap: bool = Field(False, description="Also write the darknet days as pcap files under sim/pcap/.")
    campaigns: int = Field(0, ge=0, le=50, description="Coordinated campaigns of unlisted hosts added to the profile (docs/simulator.md).")
    prefix_len: int = Field(24, ge=8, le=24, description="Darknet size: a /N telescope (24: the papers'; docs/simulator.md § Telescope size).")
    thin: int = Field(1, ge=1, description="Darknet packets written as records of up to N packets (1: every packet a row; docs/simulator.md § Thinned days).")


class IngestSource(_Section):
    """Capture or log files read into one sensor (docs/ingest.md)."""

    paths: list[Path] = Field(..., min_length=1, description="Files (pcap, pcapng, text logs, honeypot JSON); relative to the config file.")
    sensor: str = Field(..., min_length=1, description="Sensor name the records are stored under.")
    kind: Literal["darknet", "honeypot"] | None = Field(None, description="Sensor kind; None: from the file format.")
    format: str = Field("auto", description="Input format, or 'auto' to detect it.")
    anonymise_key: Path | None = Field(None, description="32-byte Crypto-PAn key file: anonymise addresses while reading.")
    keep_going: bool = Field(False, description="A bad file is reported and skipped instead of stopping the run.")


class IngestSection(IngestSettings):
    """The ingest stage's reader options (``IngestSettings``), with unknown keys rejected like every section."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceConfig(_Section):
    type: Literal["simulate", "ingest", "store"] = Field(
        "simulate", description="Where traffic comes from: the simulator, files to ingest, or the workspace's store as it is."
    )
    simulate: SimulateSource = Field(default_factory=SimulateSource, description="Used when type = 'simulate' (table below).")
    ingest: list[IngestSource] = Field(default_factory=list, description="Used when type = 'ingest': [[source.ingest]] entries (table below).")

    @model_validator(mode="after")
    def _ingest_has_files(self):
        if self.type == "ingest" and not self.ingest:
            raise ValueError("type = 'ingest' needs at least one [[source.ingest]] entry")
        return self


class LabelsConfig(_Section):
    sources: list[Path] = Field(
        default_factory=list,
        description="Ground-truth files (CSV ip,label[,first_day,last_day]; ipset; MISP JSON) or OpenFilters folders. Empty with the simulator: "
        "its published sim/labels.csv (and sim/acknowledged_scanners.ipset when written).",
    )
    org_map: Path | None = Field(None, description="Organisation → class mapping CSV (None: the built-in data/org_classes.csv).")
    mirai_rule: bool = Field(True, description="Label hosts sending a SYN with tcp_seq == dst_ip as mirai (papers' fingerprint).")
    anonymise_key: Path | None = Field(None, description="Crypto-PAn key file: anonymise the label networks as ingest anonymised the traffic (same key).")
    keep_unmapped: bool = Field(True, description="Keep labels the organisation map does not know under their own name (False: drop them).")
    strict: bool = Field(False, description="Refuse a label file with an address whose host bits are set under its prefix (1.2.3.4/24); "
                         "False: take the network (1.2.3.0/24) and report it.")
    snapshot_date: dt.date | None = Field(None, description="Validity start of an OpenFilters label folder whose name has no date "
                                          "(None: such a snapshot is valid on every day).")
    backdate_first_snapshot: bool = Field(False, description="The earliest OpenFilters snapshot also labels the days before its date "
                                          "(False: a snapshot labels from its date on, as the lists change over time).")
    activity_rules: bool | Path = Field(False, description="Honeypot-activity labels (bruteforcer, spammer, exploiter per day "
                                        "from the honeypot events; source iv): true = the shipped rules, a path = a rules file. "
                                        "Off: the simulator's labels.csv already stands for source iv (docs/labels.md).")


class RunConfig(_Section):
    seed: int = Field(0, description="Seed of every learnt or random step (embeddings, stacking); logged in the report.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Device of the GNN training.")
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="Snapshot engine.")
    sensors: list[str] | Literal["auto"] = Field(
        AUTO, description="Sensors processed; 'auto': every sensor of the source and the store (stacking paper: a darknet and honeypots)."
    )
    variants: list[str] = Field(
        ["ds", "idarkvec", "igcngru"],
        min_length=1,
        description="Embedding variants computed and evaluated per sensor (stacking paper's three bases; add gcn, igcn, "
        "gcngru and the -nofeat variants for the temporal-GNN paper's Table 3).",
    )
    scenarios: list[str] | Literal["auto"] = Field(
        AUTO,
        description="Stacking scenarios D, H, DH (stacking paper §4.1), or none; 'auto': the ones the sensors' kinds allow "
        "(D with a darknet-kind sensor, H with a honeypot-kind one, DH with both).",
    )
    studies: list[Literal["history", "epochs"]] = Field(
        default_factory=list, description="Parameter studies of i-GCN-GRU (temporal-GNN paper Fig. 4); slow, off by default."
    )
    study_sensors: list[str] | Literal["auto"] = Field(AUTO, description="Sensors the studies run on; 'auto': the darknet-kind sensors.")
    history_values: list[int] | None = Field(None, description="Values of H in the history study (None: the paper's 0 … 8).")
    epoch_values: list[int] | None = Field(None, description="Epochs per day in the epochs study (None: the paper's 1, 5, 10, …, 30).")
    evaluate: bool = Field(True, description="Score every variant by 3-NN leave-one-out (needs labelled classes on the test days).")
    predict: bool = Field(True, description="Predict the classes of the unknown hosts of the last day with each scenario's stack.")
    discover: bool = Field(True, description="Cluster every sensor's hosts per day and track the groups from day to day (docs/discover.md).")
    first_day: dt.date | None = Field(None, description="First day processed (None: the first day in the store).")
    last_day: dt.date | None = Field(None, description="Last day processed (None: the last day in the store).")

    @field_validator("variants")
    @classmethod
    def _known_variants(cls, variants):
        for variant in variants:
            parse_variant(variant)
        if len(set(variants)) != len(variants):
            raise ValueError("a variant is listed twice")
        return variants

    @field_validator("sensors", "scenarios", "study_sensors", mode="before")
    @classmethod
    def _list_or_auto(cls, value):
        if isinstance(value, str) and value != AUTO:
            raise ValueError("give a list of names, or 'auto'")
        return value

    @field_validator("sensors")
    @classmethod
    def _some_sensors(cls, sensors):
        if sensors != AUTO and not sensors:
            raise ValueError("give at least one sensor, or 'auto' for every sensor of the data")
        return sensors

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, scenarios):
        unknown = [s for s in scenarios if s not in SCENARIOS] if scenarios != AUTO else []
        if unknown:
            raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)} or 'auto'")
        return scenarios

    @model_validator(mode="after")
    def _day_order(self):
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")
        return self


class ReportConfig(_Section):
    enabled: bool = Field(True, description="Write the HTML report at the end of the run.")
    top_predictions: int = Field(500, ge=1, description="Rows of predictions shown per scenario (the files hold them all).")
    title: str = Field("darkstack report", description="Title of the report page.")
    lookup_hosts: int = Field(20_000, ge=1, description="Exported hosts the report's host lookup holds (the most probable; the page grows with it).")


class PipelineConfig(_Section):
    """Everything ``darkstack run`` needs; every field defaults to the papers' setting."""

    workspace: WorkspaceConfig = Field(default_factory=WorkspaceConfig)
    source: SourceConfig = Field(default_factory=SourceConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    ingest: IngestSection = Field(default_factory=IngestSection)
    run: RunConfig = Field(default_factory=RunConfig)
    snapshot: SnapshotSettings = Field(default_factory=SnapshotSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    evaluate: EvalSettings = Field(default_factory=EvalSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    discover: DiscoverSettings = Field(default_factory=DiscoverSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _consistent(self):
        """What can be checked before the data is read: named sensors and scenarios agree, bases are computed."""
        run, stack = self.run, self.stack
        if run.sensors != AUTO and run.scenarios != AUTO:
            for scenario in run.scenarios:
                needs = [getattr(stack, f"{kind}_sensor") for kind in KINDS[scenario]]
                missing = [s for s in needs if s is not None and s not in run.sensors]
                if missing:
                    raise ValueError(f"scenario {scenario} needs sensor(s) {', '.join(missing)} in run.sensors")
        if run.scenarios:
            absent = [v for v in stack.base_variants if v not in run.variants]
            if absent:
                raise ValueError(f"stack.base_variants {', '.join(absent)} are not in run.variants")
        space = self.discover.space
        wanted = list(stack.base_variants) if space == "stack" else [] if space == "best" else [space]
        absent = [v for v in wanted if v not in run.variants]
        if run.discover and absent:
            raise ValueError(f"discover.space {space} needs variant(s) {', '.join(absent)} in run.variants")
        if run.studies and run.sensors != AUTO and run.study_sensors != AUTO:
            unknown = [s for s in run.study_sensors if s not in run.sensors]
            if unknown:
                raise ValueError(f"run.study_sensors {', '.join(unknown)} are not in run.sensors")
        return self

    def resolve_paths(self, base: Path) -> PipelineConfig:
        """A copy with every relative path taken from ``base`` (the config file's folder)."""

        def fix(path: Path | None) -> Path | None:
            return None if path is None else (base / path).expanduser().resolve()

        source = self.source.model_copy(
            update={"ingest": [i.model_copy(update={"paths": [fix(p) for p in i.paths], "anonymise_key": fix(i.anonymise_key)}) for i in self.source.ingest]}
        )
        labels = self.labels.model_copy(
            update={"sources": [fix(p) for p in self.labels.sources], "org_map": fix(self.labels.org_map), "anonymise_key": fix(self.labels.anonymise_key),
                    "activity_rules": self.labels.activity_rules if isinstance(self.labels.activity_rules, bool) else fix(self.labels.activity_rules)}
        )
        workspace = WorkspaceConfig(path=fix(self.workspace.path))
        return self.model_copy(update={"workspace": workspace, "source": source, "labels": labels})


def validation_error_line(exc: ValidationError) -> str:
    """The first validation error as ``key: problem (got value)``, plus how many more there are."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    shown = (", ".join(map(str, value)) or "none") if isinstance(value, list | tuple) else repr(value)
    got = "" if first["type"] in ("extra_forbidden", "missing") or isinstance(value, dict) else f" (got {shown})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{key}: {problem}{got}{more}"


def config_from_dict(data: dict, origin: Path | str = "config") -> PipelineConfig:
    """Validate a configuration mapping; ``origin`` names it in error messages."""
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_error_line(exc), origin) from None


def load_config(path: Path) -> PipelineConfig:
    """Read and validate a ``darkstack.toml``; relative paths in it are taken from its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("configuration file not found", path)
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path) from None
    return config_from_dict(data, path).resolve_paths(path.resolve().parent)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml_table(name: str, data: dict, lines: list[str]) -> None:
    """``data``'s plain keys under ``[name]``, then its sub-tables and arrays of tables."""
    plain = {k: v for k, v in data.items() if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))}
    if plain:
        lines += ["", f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in plain.items()]
    for key, value in data.items():
        if isinstance(value, dict) and value:
            _toml_table(f"{name}.{key}", value, lines)
        elif key not in plain and isinstance(value, list):
            for entry in value:
                lines += ["", f"[[{name}.{key}]]"] + [f"{k} = {_toml_value(v)}" for k, v in entry.items()]


def config_toml(config: PipelineConfig, header: str = "") -> str:
    """``config`` as a ``darkstack.toml`` holding the keys that differ from the defaults (``load_config`` reads it back)."""
    data = config.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for section, values in data.items():
        _toml_table(section, values, lines)
    return "\n".join(lines).lstrip("\n") + "\n"

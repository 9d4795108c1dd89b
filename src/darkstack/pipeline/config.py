"""The pipeline configuration (``darkstack.toml``): sources, sensors, methods, days, seeds and every stage's settings.

Loaded from TOML and validated by pydantic: unknown keys are rejected and a bad value is reported as
one line naming the file, the key and the problem. Every option has the papers' value as default;
see ``docs/pipeline.md`` and the annotated example ``src/darkstack/data/demo.toml``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from darkstack.embed.settings import GNN_METHODS, METHODS, EmbedSettings
from darkstack.errors import ConfigError
from darkstack.evaluate.settings import EvalSettings
from darkstack.ingest.settings import IngestSettings
from darkstack.snapshot.settings import SnapshotSettings
from darkstack.stack.settings import StackSettings

NOFEAT = "-nofeat"
SCENARIOS = ("D", "H", "DH")
STUDIES = ("history", "epochs")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_variant(variant: str) -> tuple[str, bool]:
    """Variant name → (method, with node features): ``igcngru`` → (igcngru, True), ``gcn-nofeat`` → (gcn, False)."""
    method = variant.removesuffix(NOFEAT)
    features = method == variant
    if method not in METHODS or (not features and method not in GNN_METHODS):
        allowed = list(METHODS) + [m + NOFEAT for m in GNN_METHODS]
        raise ValueError(f"unknown variant {variant!r}; choose from {allowed}")
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
    type: Literal["simulate", "ingest"] = Field("simulate", description="Where traffic comes from.")
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
        description="Ground-truth files (CSV ip,label[,first_day,last_day]; ipset; MISP JSON). Empty with the simulator: "
        "its published sim/labels.csv (and sim/acknowledged_scanners.ipset when written).",
    )
    org_map: Path | None = Field(None, description="Organisation → class mapping CSV (None: the built-in data/org_classes.csv).")
    mirai_rule: bool = Field(True, description="Label hosts sending a SYN with tcp_seq == dst_ip as mirai (papers' fingerprint).")
    anonymise_key: Path | None = Field(None, description="Crypto-PAn key file: anonymise the label networks as ingest anonymised the traffic (same key).")
    keep_unmapped: bool = Field(True, description="Keep labels the organisation map does not know under their own name (False: drop them).")
    strict: bool = Field(False, description="Refuse a label file with an address whose host bits are set under its prefix (1.2.3.4/24); "
                         "False: take the network (1.2.3.0/24) and report it.")


class RunConfig(_Section):
    seed: int = Field(0, description="Seed of every learnt or random step (embeddings, stacking); logged in the report.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Device of the GNN training.")
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="Snapshot engine.")
    sensors: list[str] = Field(["darknet", "honeypot"], min_length=1, description="Sensors processed (stacking paper: a darknet and honeypots).")
    variants: list[str] = Field(
        ["ds", "idarkvec", "igcngru"],
        min_length=1,
        description="Embedding variants computed and evaluated per sensor (stacking paper's three bases; add gcn, igcn, "
        "gcngru and the -nofeat variants for the temporal-GNN paper's Table 3).",
    )
    scenarios: list[str] = Field(list(SCENARIOS), description="Stacking scenarios: D, H, DH (stacking paper §4.1), or none.")
    studies: list[Literal["history", "epochs"]] = Field(
        default_factory=list, description="Parameter studies of i-GCN-GRU (temporal-GNN paper Fig. 4); slow, off by default."
    )
    study_sensors: list[str] = Field(["darknet"], description="Sensors the studies run on.")
    history_values: list[int] | None = Field(None, description="Values of H in the history study (None: the paper's 0 … 8).")
    epoch_values: list[int] | None = Field(None, description="Epochs per day in the epochs study (None: the paper's 1, 5, 10, …, 30).")
    evaluate: bool = Field(True, description="Score every variant by 3-NN leave-one-out (needs labelled classes on the test days).")
    predict: bool = Field(True, description="Predict the classes of the unknown hosts of the last day with each scenario's stack.")
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

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, scenarios):
        unknown = [s for s in scenarios if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
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
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _consistent(self):
        sensors = set(self.run.sensors)
        needs = {"D": [self.stack.darknet_sensor], "H": [self.stack.honeypot_sensor], "DH": [self.stack.darknet_sensor, self.stack.honeypot_sensor]}
        for scenario in self.run.scenarios:
            missing = [s for s in needs[scenario] if s not in sensors]
            if missing:
                raise ValueError(f"scenario {scenario} needs sensor(s) {missing} in run.sensors")
        if self.run.scenarios:
            absent = [v for v in self.stack.base_variants if v not in self.run.variants]
            if absent:
                raise ValueError(f"stack.base_variants {absent} are not in run.variants")
        unknown = [s for s in self.run.study_sensors if s not in sensors] if self.run.studies else []
        if unknown:
            raise ValueError(f"run.study_sensors {unknown} are not in run.sensors")
        return self

    def resolve_paths(self, base: Path) -> PipelineConfig:
        """A copy with every relative path taken from ``base`` (the config file's folder)."""

        def fix(path: Path | None) -> Path | None:
            return None if path is None else (base / path).expanduser().resolve()

        source = self.source.model_copy(
            update={"ingest": [i.model_copy(update={"paths": [fix(p) for p in i.paths], "anonymise_key": fix(i.anonymise_key)}) for i in self.source.ingest]}
        )
        labels = self.labels.model_copy(
            update={"sources": [fix(p) for p in self.labels.sources], "org_map": fix(self.labels.org_map), "anonymise_key": fix(self.labels.anonymise_key)}
        )
        workspace = WorkspaceConfig(path=fix(self.workspace.path))
        return self.model_copy(update={"workspace": workspace, "source": source, "labels": labels})


def _error_line(exc: ValidationError) -> str:
    """The first validation error as ``key: problem (got value)``, plus how many more there are."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    got = "" if first["type"] in ("extra_forbidden", "missing") or isinstance(first.get("input"), dict) else f" (got {first.get('input')!r})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{key}: {problem}{got}{more}"


def config_from_dict(data: dict, origin: Path | str = "config") -> PipelineConfig:
    """Validate a configuration mapping; ``origin`` names it in error messages."""
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_error_line(exc), origin) from None


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

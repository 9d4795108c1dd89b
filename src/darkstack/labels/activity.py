"""Honeypot-activity labels (stacking paper, ground-truth source iv): bruteforcer, spammer, exploiter per day.

The paper labels these classes "based on activities the same host performs on a honeypot". The rules
(:class:`ActivityRules`, an editable TOML file, default ``darkstack/data/activity_rules.toml``) read only the
normalised honeypot events (``darkstack.schema.EVENT_SCHEMA``) of every sensor and UTC day, so any reader
that emits events feeds them. A host meeting several classes' rules on a day gets the first class of
``precedence``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from darkstack import skips
from darkstack.errors import ConfigError
from darkstack.labels.mirai import sensor_formats
from darkstack.log import get_logger
from darkstack.store import event_files, read_events
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "data" / "activity_rules.toml"
ACTIVITY_CLASSES = ("bruteforcer", "spammer", "exploiter")
ACTIVITY_SOURCE = "activity-rules"
DAY_LABELS = pa.schema([pa.field("ip", pa.uint32(), nullable=False), pa.field("label", pa.string(), nullable=False)])


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _patterns_compile(patterns: list[str]) -> list[str]:
    """RE2 (what pyarrow matches with) refuses some Python-only syntax: check each pattern here."""
    for pattern in patterns:
        try:
            pc.match_substring_regex(pa.array([""]), pattern, ignore_case=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"bad regular expression {pattern!r} ({str(exc).splitlines()[0]})") from None
    return patterns


class BruteforcerRule(_Rules):
    min_failed_logins: int = Field(ge=0)
    services: list[str]


class SpammerRule(_Rules):
    min_mails: int = Field(ge=0)
    services: list[str]


class ExploiterRule(_Rules):
    min_exploits: int = Field(ge=0)
    min_downloads: int = Field(ge=0)
    min_commands: int = Field(ge=0)
    min_web_exploits: int = Field(ge=0)
    min_alerts: int = Field(ge=0)
    command_patterns: list[str]
    web_patterns: list[str]
    alert_patterns: list[str]

    _compile = field_validator("command_patterns", "web_patterns", "alert_patterns")(_patterns_compile)


class ActivityRules(_Rules):
    """Per-class thresholds and patterns, and the precedence between the classes (meanings: the shipped file)."""

    precedence: list[str]
    bruteforcer: BruteforcerRule
    spammer: SpammerRule
    exploiter: ExploiterRule

    @field_validator("precedence")
    @classmethod
    def _every_class_once(cls, order: list[str]) -> list[str]:
        if sorted(order) != sorted(ACTIVITY_CLASSES):
            raise ValueError(f"must list {', '.join(ACTIVITY_CLASSES)} once each")
        return order

    @classmethod
    def load(cls, path: str | Path | None = None) -> ActivityRules:
        """The shipped rules, with the keys of the file at ``path`` (if any) replacing theirs.

        A bad file is one error line naming it and the key: unknown keys, wrong types, a negative
        threshold, a precedence that is not the three classes, a pattern RE2 cannot compile.
        """
        rules = _read(DEFAULT_RULES)
        where = DEFAULT_RULES
        if path is not None:
            where = Path(path)
            for key, value in _read(where).items():
                rules[key] = rules[key] | value if isinstance(value, dict) and isinstance(rules.get(key), dict) else value
        try:
            return cls.model_validate(rules)
        except ValidationError as exc:
            from darkstack.pipeline.config import validation_error_line

            raise ConfigError(f"activity rules: {validation_error_line(exc)}", where) from None


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the activity rules ({exc.strerror or exc})", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"activity rules are not valid TOML: {exc}", path) from None


def _matches(detail: pa.ChunkedArray, patterns: list[str], rows: np.ndarray) -> np.ndarray:
    """``rows`` whose detail matches any of ``patterns`` (only those rows are searched)."""
    out = np.zeros(len(rows), bool)
    if patterns and rows.any():
        hit = pc.match_substring_regex(detail.filter(pa.array(rows)), "|".join(f"(?:{p})" for p in patterns),
                                       ignore_case=True)
        out[rows] = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    return out


def _in(column: pa.ChunkedArray, values: list[str]) -> np.ndarray:
    if not values:
        return np.ones(len(column), bool)
    return pc.fill_null(pc.is_in(column, pa.array(values, pa.string())), False).to_numpy(zero_copy_only=False)


def activity_counts(events: pa.Table, rules: ActivityRules) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(hosts, criterion → count per host) of one sensor-day's events, for the criteria of ``rules``."""
    ips = events.column("src_ip").to_numpy(zero_copy_only=False).astype(np.uint32)
    hosts, owner = np.unique(ips, return_inverse=True)
    kind = events.column("event")

    def of(*names: str) -> np.ndarray:
        return _in(kind, list(names))

    detail = events.column("detail")
    ts = events.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
    first_login = np.full(len(hosts), np.iinfo(np.int64).max)
    success = of("login_success")
    np.minimum.at(first_login, owner[success], ts[success])
    ex = rules.exploiter
    selected = {
        "failed_logins": of("login_failed") & _in(events.column("service"), rules.bruteforcer.services),
        "mails": of("mail") & _in(events.column("service"), rules.spammer.services),
        "exploits": of("exploit"),
        "downloads": of("download", "upload"),
        "commands": _matches(detail, ex.command_patterns, of("command") & (ts >= first_login[owner])),
        "web_exploits": _matches(detail, ex.web_patterns, of("web_request")),
        "alerts": _matches(detail, ex.alert_patterns, of("alert")),
    }
    return hosts, {name: np.bincount(owner[mask], minlength=len(hosts)) for name, mask in selected.items()}


def _at_least(count: np.ndarray, threshold: int) -> np.ndarray:
    return count >= threshold if threshold > 0 else np.zeros(len(count), bool)


def classify(events: pa.Table, rules: ActivityRules) -> pa.Table:
    """ip, label of the hosts of one sensor-day's events that meet a class's rules (first in precedence wins)."""
    hosts, n = activity_counts(events, rules)
    ex = rules.exploiter
    meets = {
        "bruteforcer": _at_least(n["failed_logins"], rules.bruteforcer.min_failed_logins),
        "spammer": _at_least(n["mails"], rules.spammer.min_mails),
        "exploiter": (_at_least(n["exploits"], ex.min_exploits) | _at_least(n["downloads"], ex.min_downloads)
                      | _at_least(n["commands"], ex.min_commands) | _at_least(n["web_exploits"], ex.min_web_exploits)
                      | _at_least(n["alerts"], ex.min_alerts)),
    }
    label = np.full(len(hosts), "", dtype=object)
    for name in reversed(rules.precedence):
        label[meets[name]] = name
    keep = label != ""
    return pa.table({"ip": pa.array(hosts[keep], pa.uint32()), "label": pa.array(label[keep], pa.string())},
                    schema=DAY_LABELS)


def activity_labels(ws: Workspace, rules: ActivityRules, days: list[dt.date]) -> dict[dt.date, dict[str, pa.Table]]:
    """Per day, per sensor with events that day, the labelled hosts (``ip``, ``label``).

    A honeypot-kind sensor with records but no application event on any day cannot be judged (its
    format logs none, e.g. MHN exports): it is skipped with a reason instead of silently labelling nobody.
    """
    out: dict[dt.date, dict[str, pa.Table]] = {}
    for sensor, info in ws.sensors().items():
        with_events = [d for d in days if event_files(ws, sensor, d)]
        if not with_events:
            if info.get("kind") == "honeypot" and ws.store_days(sensor):
                skips.note("labels", f"activity rules need honeypot application events, which {sensor_formats(ws, sensor)} "
                           f"of sensor {sensor} lack", sensor=sensor, option="--activity-rules / labels.activity_rules")
            continue
        for day in with_events:
            found = classify(read_events(ws, sensor, day), rules)
            log.debug(f"activity rules, sensor {sensor}, {day_str(day)}: {class_counts(found) or 'no host'}",
                      extra={"sensor": sensor, "day": day_str(day)})
            out.setdefault(day, {})[sensor] = found
    return out


def class_counts(table: pa.Table) -> dict[str, int]:
    """Hosts per label of an ``ip, label`` table."""
    names, counts = np.unique(table.column("label").to_numpy(zero_copy_only=False).astype(str), return_counts=True)
    return {str(k): int(v) for k, v in zip(names, counts)}


def merge_sensors(per_sensor: dict[str, pa.Table], rules: ActivityRules) -> pa.Table:
    """One label per host of a day: a host labelled differently on two sensors gets the first in precedence."""
    table = pa.concat_tables(list(per_sensor.values())) if per_sensor else DAY_LABELS.empty_table()
    rank = {name: i for i, name in enumerate(rules.precedence)}
    ips = table.column("ip").to_numpy(zero_copy_only=False)
    order = np.lexsort((np.array([rank[x] for x in table.column("label").to_pylist()], np.int64), ips))
    first = np.concatenate(([True], ips[order][1:] != ips[order][:-1])) if len(order) else np.zeros(0, bool)
    return table.take(pa.array(order[first]))

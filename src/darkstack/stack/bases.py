"""Scenarios (which base classifiers are stacked) and one day's aligned inputs of every base.

A base is one embedding variant of one sensor (a 3-NN classifier on it). A scenario is a list of
bases plus the meta-learners to fit: ``D`` (darknet: DS, text, graph), ``H`` (honeypot), ``DH``
(both sensors, the hosts active on both, 6 bases; meta-learners ML_D, ML_H and ML_DH) or a custom
``sensor:variant,sensor:variant,...`` list. A scenario's hosts on a day are the hosts present in
every base's embeddings that day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from darkstack.errors import ConfigError, DarkstackError
from darkstack.log import get_logger
from darkstack.schema import CLASSES, UNKNOWN
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)

VARIANT_DISPLAY = {"ds": "DS", "idarkvec": "Text", "igcngru": "Graph"}
"""Short names of the paper's three embedding types; other variants are shown by their own name."""
NAMED_SCENARIOS = {"D": "D", "H": "H", "DH": "DH", "D∩H": "DH", "D+H": "DH"}


@dataclass(frozen=True)
class Base:
    """One base classifier: 3-NN on the embeddings ``variant`` of ``sensor``."""

    sensor: str
    variant: str
    tag: str = ""
    """Short sensor tag shown in names (``D``/``H`` in DH, the sensor name in custom multi-sensor sets)."""

    @property
    def name(self) -> str:
        return f"{self.sensor}:{self.variant}"

    @property
    def display(self) -> str:
        short = VARIANT_DISPLAY.get(self.variant, self.variant)
        return f"{short}_{self.tag}" if self.tag else short


@dataclass(frozen=True)
class Scenario:
    """Bases stacked together and the meta-learners fitted on them (name → indices of their bases)."""

    name: str
    bases: tuple[Base, ...]
    meta_groups: dict[str, tuple[int, ...]] = field(hash=False)

    @property
    def sensors(self) -> list[str]:
        return list(dict.fromkeys(b.sensor for b in self.bases))

    @property
    def full_group(self) -> str:
        """The meta-learner using every base (the one explained and used for prediction)."""
        return next(name for name, idx in self.meta_groups.items() if len(idx) == len(self.bases))


def pick_sensor(sensors: Mapping[str, Mapping], kind: str, wanted: str | None = None) -> str:
    """The sensor of ``kind`` a scenario uses: ``wanted`` when given, else the only one of that kind.

    ``sensors`` maps names to their registry entries (``{"kind": ...}``). Scenarios follow the sensors'
    kinds, never their names; with no sensor or several of ``kind``, the error says how to choose.
    """
    option = f"stack.{kind}_sensor"
    names = ", ".join(f"{name} ({info.get('kind', '?')})" for name, info in sensors.items()) or "none"
    if wanted:
        if wanted not in sensors:
            raise ConfigError(f"{option} = {wanted!r} is not a sensor of this run (sensors: {names})")
        if sensors[wanted].get("kind") != kind:
            raise ConfigError(f"{option} = {wanted!r} is a {sensors[wanted].get('kind')} sensor, not a {kind} one")
        return wanted
    of_kind = [name for name, info in sensors.items() if info.get("kind") == kind]
    if len(of_kind) == 1:
        return of_kind[0]
    if not of_kind:
        raise ConfigError(f"no {kind}-kind sensor (sensors: {names})")
    custom = ",".join(f"{of_kind[0]}:{v}" for v in ("ds", "idarkvec", "igcngru"))
    raise ConfigError(
        f"{len(of_kind)} {kind}-kind sensors ({', '.join(of_kind)}): choose one with --{kind}-sensor / {option}, "
        f"or stack its bases as a custom scenario (e.g. --scenario {custom})"
    )


def _sensor_for(ws: Workspace, kind: str, wanted: str | None) -> str:
    """:func:`pick_sensor` over the workspace's registered sensors (the kind's own name when none are registered)."""
    known = ws.sensors()
    if not known:
        return wanted or kind
    try:
        return pick_sensor(known, kind, wanted)
    except ConfigError as exc:
        raise ConfigError(exc.problem, ws.sensors_file) from None


def resolve_scenario(ws: Workspace, spec: str, settings: StackSettings) -> Scenario:
    """``D``, ``H``, ``DH`` (alias ``D∩H``) or ``sensor:variant,sensor:variant,...`` → a :class:`Scenario`."""
    spec = spec.strip()
    named = NAMED_SCENARIOS.get(spec.upper() if spec.isascii() else spec)
    variants = settings.base_variants
    if named in ("D", "H"):
        kind = "darknet" if named == "D" else "honeypot"
        sensor = _sensor_for(ws, kind, settings.darknet_sensor if named == "D" else settings.honeypot_sensor)
        bases = tuple(Base(sensor, v) for v in variants)
        return Scenario(named, bases, {"ML": tuple(range(len(bases)))})
    if named == "DH":
        d = _sensor_for(ws, "darknet", settings.darknet_sensor)
        h = _sensor_for(ws, "honeypot", settings.honeypot_sensor)
        if d == h:
            raise ConfigError(f"scenario DH needs two different sensors, got {d!r} twice")
        bases = tuple(Base(d, v, "D") for v in variants) + tuple(Base(h, v, "H") for v in variants)
        m = len(variants)
        return Scenario("DH", bases, {"ML_D": tuple(range(m)), "ML_H": tuple(range(m, 2 * m)), "ML_DH": tuple(range(2 * m))})
    return _custom_scenario(spec)


def _custom_scenario(spec: str) -> Scenario:
    items = [s.strip() for s in spec.split(",") if s.strip()]
    pairs = []
    for item in items:
        sensor, sep, variant = item.partition(":")
        if not sep or not sensor or not variant or not re.fullmatch(r"[\w.\-]+", sensor + variant):
            raise ConfigError(
                f"scenario must be D, H, DH or a list sensor:variant,sensor:variant,... (got item {item!r})"
            )
        pairs.append((sensor, variant))
    if len(pairs) < 2 or len(set(pairs)) != len(pairs):
        raise ConfigError(f"a custom scenario needs at least two different bases, got {spec!r}")
    sensors = list(dict.fromkeys(s for s, _ in pairs))
    multi = len(sensors) > 1
    bases = tuple(Base(s, v, s if multi else "") for s, v in pairs)
    groups = {"ML": tuple(range(len(bases)))}
    if multi:
        groups = {f"ML_{s}": tuple(i for i, b in enumerate(bases) if b.sensor == s) for s in sensors} | groups
    name = "custom-" + "+".join(f"{s}.{v}" for s, v in pairs)
    return Scenario(name, bases, groups)


def available_days(ws: Workspace, scenario: Scenario) -> tuple[list[dt.date], dict[dt.date, list[str]]]:
    """Days on which any base has embeddings, and for each such day the bases missing on it."""
    per_base = {b.name: set(ws.embedding_days(b.sensor, b.variant)) for b in scenario.bases}
    days = sorted(set().union(*per_base.values()))
    missing = {d: [name for name, have in per_base.items() if d not in have] for d in days}
    return days, {d: m for d, m in missing.items() if m}


def missing_bases(ws: Workspace, scenario: Scenario, day: dt.date) -> list[str]:
    """The bases of ``scenario`` without embeddings on ``day``."""
    return [b.name for b in scenario.bases if not ws.embedding_path(b.sensor, b.variant, day).exists()]


@dataclass
class DayInputs:
    """One day of a scenario: hosts present in every base, their standardised embeddings and labels."""

    day: dt.date
    ips: np.ndarray
    """uint32, sorted."""
    embeddings: list[np.ndarray]
    """One standardised matrix per base, rows aligned with ``ips``."""
    labels: np.ndarray
    """Label per host after folding small classes (``unknown`` for unlabelled and folded hosts)."""
    labelled: np.ndarray
    """True where the host has a ground-truth label (before folding)."""
    classes: list[str]
    """Classes of the day: the evaluated classes (paper order) then ``unknown`` last."""
    folded: dict[str, int]
    """Classes folded into unknown (too few hosts) → their host counts."""

    @property
    def codes(self) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[x] for x in self.labels], dtype=np.int64)

    @property
    def unknown_code(self) -> int:
        return len(self.classes) - 1

    @property
    def scored(self) -> np.ndarray:
        """Hosts that are scored (a class other than unknown)."""
        return self.labels != UNKNOWN


def _load_base(ws: Workspace, base: Base, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    from darkstack.embed import load_embeddings

    path = ws.embedding_path(base.sensor, base.variant, day)
    if not path.exists():
        raise DarkstackError(f"no {base.variant} embeddings of sensor {base.sensor} on {day_str(day)}", path)
    ips, X = load_embeddings(ws, base.sensor, base.variant, day)
    ips = np.asarray(ips, dtype=np.uint32)
    order = np.argsort(ips, kind="stable")
    return ips[order], np.asarray(X)[order]


def _with_app_features(ws: Workspace, base: Base, day: dt.date, ips: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DS base of a honeypot-kind sensor with the application block appended (``stack.app_features``)."""
    from darkstack import skips
    from darkstack.stack.app_features import app_feature_block

    if base.variant != "ds" or ws.sensors().get(base.sensor, {}).get("kind") != "honeypot":
        return ips, X
    block, found = app_feature_block(ws, base.sensor, day, ips)
    if not found:
        skips.note("stack", "no honeypot application events: its DS base has no application block",
                   sensor=base.sensor, variant=base.variant, days=day, option="stack.app_features")
    return ips, np.hstack([np.asarray(X, np.float32), block])


def class_order(labels) -> list[str]:
    """Classes in the papers' order (unknown classes of other sources after, alphabetically)."""
    present = set(labels) - {UNKNOWN}
    known = [c for c in CLASSES if c in present]
    return known + sorted(present - set(known))


def load_day(ws: Workspace, scenario: Scenario, day: dt.date, settings: StackSettings) -> DayInputs:
    """Align the bases' hosts of ``day``, attach labels, fold small classes and standardise each base."""
    from darkstack.evaluate.knn import standardise
    from darkstack.labels import labels_for_day

    loaded = [_load_base(ws, b, day) for b in scenario.bases]
    if settings.app_features:
        loaded = [_with_app_features(ws, b, day, ips, X) for b, (ips, X) in zip(scenario.bases, loaded)]
    ips = loaded[0][0]
    for other, _ in loaded[1:]:
        ips = np.intersect1d(ips, other, assume_unique=True)
    dropped = {b.name: int(len(i) - len(ips)) for b, (i, _) in zip(scenario.bases, loaded) if len(i) != len(ips)}
    if dropped and len(scenario.sensors) == 1:
        counts = ", ".join(f"{n} of {name}" for name, n in dropped.items())
        log.warning(
            f"scenario {scenario.name}, {day_str(day)}: hosts missing from some bases are left out ({counts})",
            extra={"scenario": scenario.name, "day": day_str(day), "dropped_per_base": dropped},
        )
    embeddings = [standardise(X[np.searchsorted(i, ips)]) for i, X in loaded]

    table = labels_for_day(ws, day)
    label_ips = np.asarray(table.column("ip").to_numpy(zero_copy_only=False), dtype=np.uint32)
    label_names = np.asarray(table.column("label").to_pylist(), dtype=object)
    order = np.argsort(label_ips, kind="stable")
    label_ips, label_names = label_ips[order], label_names[order]
    pos = np.searchsorted(label_ips, ips)
    pos_ok = np.minimum(pos, max(len(label_ips) - 1, 0))
    labelled = (pos < len(label_ips)) & (label_ips[pos_ok] == ips) if len(label_ips) else np.zeros(len(ips), bool)
    labels = np.full(len(ips), UNKNOWN, dtype=object)
    labels[labelled] = label_names[pos_ok[labelled]]
    labelled &= labels != UNKNOWN

    names, counts = np.unique(labels[labels != UNKNOWN].astype(str), return_counts=True)
    folded = {str(c): int(n) for c, n in zip(names, counts) if n < settings.min_class_hosts}
    if folded:
        labels[np.isin(labels, list(folded))] = UNKNOWN
    classes = class_order(labels) + [UNKNOWN]
    return DayInputs(day, ips, embeddings, labels.astype(str), labelled, classes, folded)

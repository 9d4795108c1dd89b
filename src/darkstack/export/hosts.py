"""One day's classified hosts of a scenario, gathered from predict, discover and the store.

Each row is a host the meta-learner labelled (``results/predict``): its class and probability, the
runner-up, the base that pushed hardest towards the class (the largest coefficient × input of the
meta-learner, stacking paper §2.3), its cluster and tracked group (``results/discover``, when the
discover step ran), when the store first and last saw it, the honeypot services and events it touched
that day, and a bounded summary of what it did there (:mod:`darkstack.export.activity`). Every text that
came from a log is attacker-written: it is cleaned here (valid UTF-8, no control characters) and escaped
by each writer for its format.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from darkstack import skips
from darkstack.export.activity import ACTIVITY, COUNTED, honeypot_activity
from darkstack.ingest import manifest as manifest_file
from darkstack.schema import int_to_ip
from darkstack.store import parquet_glob
from darkstack.workspace import Workspace, day_str

if TYPE_CHECKING:
    from darkstack.export.settings import ExportSettings

CONTRIB = "contrib_"
TOP_ACTIVITY = 5
"""Services and events listed per host (the most frequent of the day first)."""
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

PREDICTED = "predicted"
"""``source`` of a row whose class ``darkstack predict`` gave; a ground-truth row's is ``label:<label source>``."""
LABEL_SOURCE = "label:"

COLUMNS = [
    "address", "class", "source", "probability", "runner_up", "runner_up_probability", "top_sensor", "top_base", "top_contribution",
    "cluster_sensor", "cluster", "group", "first_seen", "last_seen", "services", "events", *ACTIVITY, "scenario", "day", "anonymised",
]  # fmt: skip
"""The exported columns (CSV, JSON lines), in order; ``hosts.parquet`` adds ip, the contributions and neighbours."""


def clean_text(value: str | None) -> str | None:
    """A logged string made safe to carry: valid UTF-8 (bad sequences replaced) and control characters as U+FFFD."""
    if value is None:
        return None
    return CONTROL.sub("\ufffd", value.encode("utf-8", "replace").decode("utf-8"))


def discover_path(ws: Workspace, sensor: str, day: dt.date):
    """``results/discover/<sensor>/day=<day>.parquet`` (src_ip, cluster, group) written by ``darkstack discover``."""
    return ws.results_dir / "discover" / sensor / f"day={day_str(day)}.parquet"


def anonymised_sensors(ws: Workspace) -> set[str]:
    """Sensors whose stored addresses ingest anonymised (Crypto-PAn) — their exported addresses are anonymised."""
    return {sensor for entry in manifest_file.load(ws).values() for sensor, info in entry.items() if isinstance(info, dict) and info.get("anonymised_with")}


def _bases(predictions: pa.Table) -> list[tuple[str, str]]:
    """(sensor, variant) of every base, from the ``contrib_<sensor>:<variant>`` columns of a predictions table."""
    return [tuple(c.removeprefix(CONTRIB).split(":", 1)) for c in predictions.column_names if c.startswith(CONTRIB)]


def _top_base(frame: pd.DataFrame, bases: list[tuple[str, str]]) -> pd.DataFrame:
    """The base with the largest contribution to each host's predicted class."""
    contrib = frame[[f"{CONTRIB}{s}:{v}" for s, v in bases]].to_numpy()
    top = contrib.argmax(axis=1)
    return pd.DataFrame(
        {
            "top_sensor": [bases[i][0] for i in top],
            "top_base": [bases[i][1] for i in top],
            "top_contribution": contrib[np.arange(len(top)), top],
        },
        index=frame.index,
    )


def _clusters(ws: Workspace, ips: np.ndarray, sensors: list[str], day: dt.date) -> pd.DataFrame:
    """cluster_sensor, cluster, group per host: from the first sensor (scenario order) that put it in a cluster,
    else the first whose clustering saw it as noise (cluster -1, no group); empty without discover output."""
    found = [
        pq.read_table(path, columns=["src_ip", "cluster", "group"]).to_pandas().assign(cluster_sensor=sensor, order=i)
        for i, sensor in enumerate(sensors)
        if (path := discover_path(ws, sensor, day)).exists()
    ]
    out = pd.DataFrame({"cluster_sensor": None, "cluster": pd.array([None] * len(ips), "Int32"), "group": None}, index=ips)
    if not found:
        return out
    every = pd.concat(found, ignore_index=True)
    every = every[every["src_ip"].isin(ips)].assign(noise=lambda f: f["cluster"] < 0)
    best = every.sort_values(["noise", "order"], kind="stable").drop_duplicates("src_ip").set_index("src_ip")
    out.loc[best.index, "cluster_sensor"] = best["cluster_sensor"]
    out.loc[best.index, "cluster"] = best["cluster"].astype("int32")
    out.loc[best.index, "group"] = best["group"]
    return out


def _store_facts(ws: Workspace, ips: np.ndarray, sensors: list[str], day: dt.date) -> pd.DataFrame:
    """first_seen, last_seen (up to the end of ``day``, every sensor of the scenario) and the day's services and events."""
    from darkstack.snapshot.duckdb_engine import DuckDBEngine

    facts = pd.DataFrame(index=pd.Index(ips, name="src_ip"), columns=["first_seen", "last_seen", "services", "events"], dtype=object)
    globs = [parquet_glob(ws, s) for s in sensors if ws.store_days(s)]
    if not globs or len(ips) == 0:
        return facts
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    engine = DuckDBEngine()
    con = engine.con
    con.register("hosts", pa.table({"ip": pa.array(ips, pa.uint32())}))

    def records(patterns: list[str]) -> str:
        files = ", ".join("'" + g.replace("'", "''") + "'" for g in patterns)
        return f"read_parquet([{files}], union_by_name = true) WHERE src_ip IN (SELECT ip FROM hosts)"

    iso = "strftime(timezone('UTC', {}), '%Y-%m-%dT%H:%M:%SZ')"
    # first/last seen read two columns of the whole history; the services and events only the day's files
    parts = [con.execute(f"SELECT src_ip, {iso.format('min(ts)')} AS first_seen, {iso.format('max(ts)')} AS last_seen "
                         f"FROM {records(globs)} AND ts < TIMESTAMPTZ '{end.isoformat()}' GROUP BY src_ip").df()]
    day_globs = [parquet_glob(ws, s, day) for s in sensors if day in ws.store_days(s)]
    for column in ("service", "event") if day_globs else ():
        parts.append(con.execute(
            f"SELECT src_ip, string_agg(v, '; ' ORDER BY n DESC, v) AS {column}s FROM ("
            f"  SELECT src_ip, {column} AS v, count(*) AS n, row_number() OVER (PARTITION BY src_ip ORDER BY count(*) DESC, {column}) AS r"
            f"  FROM {records(day_globs)} AND {column} IS NOT NULL GROUP BY src_ip, {column}"
            f") WHERE r <= {TOP_ACTIVITY} GROUP BY src_ip"
        ).df())
    con.close()
    for part in parts:
        part = part.set_index("src_ip")
        facts.update(part.reindex(facts.index).astype(object))
    return facts


def _neighbours(path, ips: np.ndarray) -> pa.Array:
    """Per host (in ``ips`` order), its k nearest hosts in every base, base by base as predict wrote them:
    a list of {base, address, label} (empty without the file)."""
    if not path.exists():
        return pa.array([[] for _ in ips], NEIGHBOURS)
    near = pq.read_table(path)
    owner = near.column("ip").to_numpy()
    order = np.argsort(owner, kind="stable")  # stable: base order and rank kept within a host
    owner = owner[order]
    starts, stops = np.searchsorted(owner, ips, "left"), np.searchsorted(owner, ips, "right")
    offsets = np.concatenate([[0], np.cumsum(stops - starts)])
    rows = order[np.repeat(starts - offsets[:-1], stops - starts) + np.arange(offsets[-1])]
    take = pa.array(rows)
    values = pa.StructArray.from_arrays(
        [near.column("base").take(take).combine_chunks(), pa.array(int_to_ip(near.column("neighbour").take(take).to_numpy())),
         near.column("label").take(take).combine_chunks()],
        names=["base", "address", "label"],
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


NEIGHBOURS = pa.list_(pa.struct([("base", pa.string()), ("address", pa.string()), ("label", pa.string())]))


def _predicted_rows(predictions: pa.Table, bases: list[tuple[str, str]]) -> pd.DataFrame:
    """The hosts ``darkstack predict`` labelled, most probable first: class, probability, runner-up, deciding base
    and every base's contribution."""
    frame = predictions.to_pandas()
    contrib = [f"{CONTRIB}{s}:{v}" for s, v in bases]
    hosts = pd.DataFrame(
        {
            "ip": frame["ip"].to_numpy(np.uint32),
            "class": frame["predicted"],
            "source": PREDICTED,
            "probability": frame["probability"],
            "runner_up": frame["runner_up"],
            "runner_up_probability": frame["runner_up_probability"],
        }
    )
    return hosts.join(_top_base(frame, bases)).join(frame[contrib])


def _labelled_rows(ws: Workspace, sensors: list[str], day: dt.date, predicted: np.ndarray) -> pd.DataFrame:
    """The hosts the labels know that day (``labels/day=<day>.parquet``: list, Mirai rule, activity rules) among
    those the scenario's sensors saw, by address: their label with probability 1, the ground truth the stack
    learns from, and ``source`` ``label:<label source>``; no runner-up nor deciding base."""
    from darkstack.labels import labels_for_day
    from darkstack.store import read_day

    seen = np.concatenate([read_day(ws, s, day, columns=["src_ip"]).column("src_ip").to_numpy() for s in sensors])
    labels = labels_for_day(ws, day)
    ips = labels.column("ip").to_numpy()
    labels = labels.filter(pa.array(np.isin(ips, seen) & ~np.isin(ips, predicted))).sort_by("ip")
    return pd.DataFrame(
        {
            "ip": labels.column("ip").to_numpy().astype(np.uint32),
            "class": labels.column("label").to_pylist(),
            "source": [LABEL_SOURCE + s for s in labels.column("source").to_pylist()],
            "probability": 1.0,
        }
    )


def classified_hosts(ws: Workspace, scenario: str, day: dt.date, settings: ExportSettings | None = None) -> pa.Table:
    """The day's classified hosts of ``scenario`` (:data:`COLUMNS`, then ip, contributions and neighbours): those
    with a ground-truth label (by address), then those ``predict`` labelled (most probable first), as
    ``settings.include`` says; ``settings`` also bound the honeypot activity. :class:`darkstack.skips.StageSkipped`
    when ``darkstack predict`` wrote nothing for that day, or the day has no host of the kind included."""
    from darkstack.export.settings import ExportSettings  # settings validate the formats, whose writers need COLUMNS
    from darkstack.stack.predict import neighbours_path, predictions_path

    settings = settings or ExportSettings()
    path = predictions_path(ws, scenario, day).with_suffix(".parquet")
    if not path.exists():
        raise skips.skip_stage("export", "no predictions of this day: run `darkstack predict` first", scenario=scenario, days=day)
    predictions = pq.read_table(path)
    bases = _bases(predictions)
    sensors = list(dict.fromkeys(s for s, _ in bases))
    predicted = _predicted_rows(predictions, bases)
    parts = [] if settings.include == PREDICTED else [_labelled_rows(ws, sensors, day, predicted["ip"].to_numpy())]
    parts += [] if settings.include == "labelled" else [predicted]
    parts = [p for p in parts if len(p)]
    if not parts:
        what = {"labelled": "with a ground-truth label on the scenario's sensors", PREDICTED: "predicted"}.get(settings.include, "to export")
        raise skips.skip_stage("export", f"no host {what}", scenario=scenario, days=day, option="--include / export.include")
    hosts = pd.concat(parts, ignore_index=True).reindex(columns=predicted.columns)
    ips = hosts.pop("ip").to_numpy(np.uint32)
    contributions = {c: hosts.pop(c) for c in list(hosts.columns) if c.startswith(CONTRIB)}
    hosts.insert(0, "address", int_to_ip(ips))
    for extra in (_clusters(ws, ips, sensors, day), _store_facts(ws, ips, sensors, day)):
        hosts = hosts.join(extra.reset_index(drop=True))
    activity = honeypot_activity(ws, ips, sensors, day, settings.top_strings, settings.max_string_length)
    for column, lists in activity.items():
        hosts[column] = [[{"value": clean_text(p["value"]), "count": p["count"]} for p in pairs] for pairs in lists]
    hosts["scenario"], hosts["day"] = scenario, day_str(day)
    hosts["anonymised"] = bool(anonymised_sensors(ws) & set(sensors))
    for field in _schema():  # logs, label lists, sensor names: any text may be hostile
        if field.type == pa.string():
            hosts[field.name] = [clean_text(v) if isinstance(v, str) else None for v in hosts[field.name]]
    table = pa.Table.from_pandas(hosts[COLUMNS], preserve_index=False, schema=_schema())
    table = table.append_column("ip", pa.array(ips, pa.uint32()))
    for name, values in contributions.items():  # null for a ground-truth row
        table = table.append_column(name, pa.array(values, pa.float64(), from_pandas=True))
    return table.append_column("neighbours", _neighbours(neighbours_path(ws, scenario, day), ips))


def _schema() -> pa.Schema:
    floats = {"probability", "runner_up_probability", "top_contribution"}
    types = {c: pa.float64() if c in floats else pa.string() for c in COLUMNS} | {"cluster": pa.int32(), "anonymised": pa.bool_()}
    types |= dict.fromkeys(ACTIVITY, COUNTED)
    return pa.schema([(c, types[c]) for c in COLUMNS])

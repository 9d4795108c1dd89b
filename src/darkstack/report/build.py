"""Collect a workspace's artefacts into one self-contained HTML report folder.

The report reads only files (snapshots, labels, results, the step cache), so it can be rebuilt at any
time with ``darkstack report``. Figures the stages drew are copied into the report folder; overview
figures are drawn here. Everything the page needs (CSS, the small sorting/filtering script, images)
is inside the folder: it opens offline.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from darkstack import __version__, atomic, skips
from darkstack.errors import DarkstackError
from darkstack.evaluate.split import days_phrase
from darkstack.log import get_logger
from darkstack.report import figures, record
from darkstack.report.groups import groups_section
from darkstack.report.lookup import DEFAULT_LOOKUP_HOSTS, lookup_section
from darkstack.report.model import Figure, Section, table_from_frame
from darkstack.report.tables import class_display, file_title, result_tables, with_display_names
from darkstack.schema import int_to_ip
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)

IMAGE_SUFFIXES = (".png", ".svg")
DEFAULT_TOP_PREDICTIONS = 500


def _sensor_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def _read_json(path: Path) -> dict:
    """A JSON object written by a stage; empty when absent or unreadable (the report shows what it can)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        if path.exists():
            log.warning(f"report: skipped unreadable {path}: {exc}")
        return {}
    return data if isinstance(data, dict) else {}


def known_sensors(ws: Workspace) -> list[str]:
    """Sensors registered by ingest or the simulator, or holding snapshots."""
    return sorted(set(_read_json(ws.sensors_file)) | set(_sensor_dirs(ws.root / "snapshots")))


def configured(ws: Workspace, key: str) -> list[str]:
    """``run.<key>`` of the last pipeline configuration (sensors, variants, scenarios); empty without one, or when
    it is not a list (``auto`` not resolved)."""
    run = _read_json(ws.root / "pipeline" / "config.json").get("run", {})
    value = run.get(key) if isinstance(run, dict) else None
    return [str(v) for v in value] if isinstance(value, list) else []


def days_scored(result: dict) -> list[str]:
    """The test days a stage's ``table.json`` scored: ``days_scored`` where evaluate writes it (test days
    without a class to score are left out of it), else ``days``."""
    return list(result["days_scored"] if "days_scored" in result else result.get("days") or [])


def scored_days(result: dict) -> str:
    """``N test days scored: first … last`` from a stage's ``table.json``."""
    days = days_scored(result)
    return f"{days_phrase(len(days))} scored: {skips.days_text(days)}." if days else "No test day scored."


# --- dataset overview ------------------------------------------------------------------------------
def dataset_overview(ws: Workspace) -> pd.DataFrame:
    """Per sensor and snapshot day: active hosts, ports (after folding), packets and labelled share of the hosts."""
    rows = []
    labelled_ips: dict[dt.date, np.ndarray] = {}
    for sensor in _sensor_dirs(ws.root / "snapshots"):
        for day in ws.snapshot_days(sensor):
            edges = pq.read_table(ws.snapshot_dir(sensor, day) / "edges.parquet", columns=["ip", "port", "packets"])
            hosts = pc.unique(edges.column("ip")).to_numpy()
            if day not in labelled_ips:
                path = ws.labels_day(day)
                labelled_ips[day] = pq.read_table(path, columns=["ip"]).column("ip").to_numpy() if path.exists() else np.array([], np.uint32)
            labelled = int(np.isin(hosts, labelled_ips[day]).sum())
            rows.append(
                {
                    "sensor": sensor,
                    "day": day_str(day),
                    "hosts": len(hosts),
                    "ports": len(pc.unique(edges.column("port"))),
                    "packets": int(pc.sum(edges.column("packets")).as_py() or 0),
                    "labelled_hosts": labelled,
                    "labelled_share": labelled / len(hosts) if len(hosts) else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=["sensor", "day", "hosts", "ports", "packets", "labelled_hosts", "labelled_share"])


def label_breakdown(ws: Workspace) -> pd.DataFrame:
    """Labelled host-days per class and sensor over the snapshot days (hosts active on the sensor that day)."""
    counts: dict[tuple[str, str], int] = {}
    sensors = _sensor_dirs(ws.root / "snapshots")
    for sensor in sensors:
        for day in ws.snapshot_days(sensor):
            path = ws.labels_day(day)
            if not path.exists():
                continue
            labels = pq.read_table(path, columns=["ip", "label"]).to_pandas()
            active = pq.read_table(ws.snapshot_dir(sensor, day) / "host_features.parquet", columns=["ip"]).column("ip")
            labels = labels[labels["ip"].isin(active.to_numpy())]
            for label, n in labels["label"].value_counts().items():
                counts[(label, sensor)] = counts.get((label, sensor), 0) + int(n)
    if not counts:
        return pd.DataFrame()
    frame = pd.Series(counts).unstack(fill_value=0)
    frame.index = [class_display(c) for c in frame.index]
    frame.index.name = "class"
    frame.columns.name = None
    return frame.loc[frame.sum(axis=1).sort_values(ascending=False).index]


def _overview_section(ws: Workspace, out: Path) -> Section:
    section = Section(
        "overview", "Dataset overview", "Per sensor and UTC day, after the snapshot filters (TCP, host packet threshold, top-port folding).", nav="Data"
    )
    overview = dataset_overview(ws)
    with_days = set(overview["sensor"])
    section.absent += [f"Sensor {s}: no snapshot day (no traffic left after the filters, or not snapshotted yet)." for s in known_sensors(ws) if s not in with_days]
    if overview.empty:
        section.absent.append("No snapshots in this workspace.")
        return section
    section.figures.append(Figure("Traffic per day", figures.overview_figure(overview, out / "overview.png").name))
    totals = overview.groupby("sensor").agg(
        days=("day", "count"), hosts_per_day=("hosts", "mean"), ports_per_day=("ports", "mean"), packets=("packets", "sum"), labelled_share=("labelled_share", "mean")
    ).round({"hosts_per_day": 1, "ports_per_day": 1})
    section.tables.append(table_from_frame("Per sensor", totals, source="overview/sensors"))
    section.tables.append(table_from_frame("Per sensor and day", overview, max_rows=1000, filterable=True, source="overview/days"))
    breakdown = label_breakdown(ws)
    if breakdown.empty:
        section.absent.append("No labelled host on any snapshot day (labels/ is empty, or no listed address was active).")
    else:
        note = "Hosts active on the sensor that day with a ground-truth label."
        section.tables.append(table_from_frame("Labelled host-days per class", breakdown, note=note, source="overview/classes"))
    return section


# --- result files of the stages --------------------------------------------------------------------
def _images(folder: Path, out: Path, prefix: str, title_prefix: str = "") -> list[Figure]:
    """Copy the PNG/SVG files directly in ``folder`` into the report folder (flat names)."""
    figs = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file() and path.suffix in IMAGE_SUFFIXES and not path.name.startswith("."):
            name = f"{prefix}-{path.name}"
            shutil.copyfile(path, out / name)
            figs.append(Figure(file_title(path, title_prefix), name))
    return figs


def _folder_section(folder: Path, out: Path, prefix: str, title: str, stage: str) -> Section:
    """A sub-section holding the tables (first) and figures directly in ``folder``, with how many test days were scored."""
    section = Section(prefix, title, figures_first=False)
    if folder.is_dir():
        section.tables += result_tables(folder, "", stage)
        section.figures += _images(folder, out, prefix)
        if (folder / "table.json").exists():
            section.intro = scored_days(_read_json(folder / "table.json"))
    return section


def macro_summary(ws: Workspace) -> pd.DataFrame:
    """Mean and std of the daily macro-F1, and the number of test days, of every evaluated variant (per sensor) and
    stacked method (per scenario); std is NaN (shown n/a) over a single test day."""
    from darkstack.evaluate.metrics import MACRO as EVAL_MACRO
    from darkstack.evaluate.tables import variant_display
    from darkstack.stack.scoring import MACRO as STACK_MACRO

    rows = []
    for path in sorted((ws.results_dir / "evaluate").glob("*/table.json")):
        result = _read_json(path)
        for r in result.get("summary", []):
            if r.get("label") == EVAL_MACRO:
                group = f"{path.parent.name} (3-NN)"
                rows.append({"group": group, "method": variant_display(r["variant"], False), "mean": r["f1_mean"], "std": r["f1_std"], "test days": len(days_scored(result))})
    for path in sorted((ws.results_dir / "stack").glob("*/table.json"), key=lambda p: _scenario_order(p.parent.name)):
        result = _read_json(path)
        for r in result.get("rows", []):
            if r.get("class") == STACK_MACRO:
                rows.append({"group": f"stack {path.parent.name}", "method": r["method"], "mean": r["f1_mean"], "std": r["f1_std"], "test days": len(days_scored(result))})
    frame = pd.DataFrame(rows, columns=["group", "method", "mean", "std", "test days"])
    return frame.astype({"mean": float, "std": float, "test days": int})


def _summary_section(ws: Workspace, out: Path) -> Section:
    section = Section("summary", "Results at a glance", "Macro-F1 (mean ± standard deviation over the test days) of every embedding and every stack.", nav="Summary")
    summary = macro_summary(ws)
    if summary.empty:
        section.absent.append("No evaluation or stacking results in this workspace.")
        return section
    section.figures.append(Figure("Macro-F1 per method", figures.macro_f1_figure(summary, out / "macro-f1.png").name, wide=True))
    table = table_from_frame("Macro-F1 per method", summary, max_rows=len(summary), source="summary")
    table.collapsed = True  # the figure above shows the same numbers
    section.tables.append(table)
    stack_dir = ws.results_dir / "stack"
    if stack_dir.is_dir():
        section.tables += result_tables(stack_dir, "Stacking overview: ", "stack")
    return section


def _evaluate_section(ws: Workspace, out: Path) -> Section:
    section = Section(
        "evaluate",
        "Per-class F1 of every embedding (3-NN, leave-one-out)",
        "Mean ± sample standard deviation of the daily F1 over the test days (bold: best of the row); the macro row is the "
        "mean of the daily macro-F1. Support counts labelled host-days.",
        nav="Embeddings",
    )
    base = ws.results_dir / "evaluate"
    children = [_folder_section(base / sensor, out, f"evaluate-{sensor}", f"Sensor {sensor}", "evaluate") for sensor in _sensor_dirs(base)]
    section.children = [c for c in children if not c.is_empty()]
    evaluated = [c.title.removeprefix("Sensor ") for c in section.children]
    section.absent += [f"Sensor {s}: no evaluation results." for s in dict.fromkeys(known_sensors(ws) + _sensor_dirs(base)) if s not in evaluated]
    if not evaluated:
        section.absent.append("No evaluation results in this workspace.")
    return section


def _study_section(ws: Workspace, out: Path) -> Section:
    section = Section("studies", "Studies: history H and epochs per day (i-GCN-GRU)", "Macro-F1 mean ± std over the test days for each value.", nav="Studies")
    base = ws.results_dir / "study"
    section.children = [_folder_section(base / sensor, out, f"study-{sensor}", f"Sensor {sensor}", "study") for sensor in _sensor_dirs(base)]
    if not section.children:
        section.absent.append("No study results (studies run only when configured: run.studies).")
    return section


def _stack_section(ws: Workspace, out: Path) -> Section:
    section = Section(
        "stack",
        "Stacking: naive vote and meta-learner",
        "Per scenario (D darknet-kind sensors, H honeypot-kind sensors, DH hosts seen on both): per-class F1 of the bases "
        "and the stacks, the logistic-regression coefficients that explain the meta-learner, and confusion matrices of one test day.",
        nav="Stacking",
    )
    base = ws.results_dir / "stack"
    stacked = sorted(_sensor_dirs(base), key=_scenario_order)
    for scenario in stacked:
        child = _folder_section(base / scenario, out, f"stack-{scenario}", f"Scenario {scenario}", "stack")
        child.figures += _images(base / scenario / "confusion", out, f"stack-{scenario}-confusion", "confusion matrix: ")
        if child.is_empty():
            child.absent.append(f"Scenario {scenario}: no day could be stacked.")
        section.children.append(child)
    section.absent += [f"Scenario {s}: no stacking results." for s in configured(ws, "scenarios") if s not in stacked]
    if not stacked:
        section.absent.append("No stacking results in this workspace (results/stack/ is empty).")
    return section


def _scenario_order(name: str) -> tuple[int, str]:
    """D, H, DH first (the stacking paper's order), then custom scenarios by name."""
    order = record.SCENARIO_ORDER
    return (order.index(name) if name in order else len(order), name)


def _predictions_section(ws: Workspace, top: int) -> Section:
    section = Section(
        "predictions",
        "Predicted classes of unknown hosts",
        "Hosts without a ground-truth label, labelled by the meta-learner stack; most confident first. Filter or sort any column.",
        nav="Predictions",
    )
    base = ws.results_dir / "predict"
    predicted = []
    for scenario in sorted(_sensor_dirs(base), key=_scenario_order):
        files = sorted((base / scenario).glob("day=*.parquet"))
        if not files:
            continue
        predicted.append(scenario)
        latest = files[-1]
        frame = with_display_names(pq.read_table(latest).to_pandas())
        if "address" in frame.columns:
            frame = frame.drop(columns=["ip"], errors="ignore")
        elif "ip" in frame.columns and pd.api.types.is_integer_dtype(frame["ip"]):
            frame["ip"] = int_to_ip(frame["ip"].to_numpy())
        prob = next((c for c in ("probability", "proba", "p") if c in frame.columns), None)
        if prob:
            frame = frame.sort_values(prob, ascending=False, kind="stable")
        day = latest.stem.removeprefix("day=")
        note = f"{len(frame)} unknown hosts on {day}; the full list is {latest.relative_to(ws.root)} (and .csv)."
        section.tables.append(table_from_frame(f"Scenario {scenario}, {day}", frame, note=note, max_rows=top, filterable=True, kind="predictions", source="predictions"))
    expected = dict.fromkeys(configured(ws, "scenarios") + _sensor_dirs(ws.results_dir / "stack"))
    section.absent += [f"Scenario {s}: no predictions." for s in sorted(expected, key=_scenario_order) if s not in predicted]
    if not predicted:
        section.absent.append("No predictions in this workspace (results/predict/ is empty).")
    return section


# --- run settings and timings ----------------------------------------------------------------------
def _settings_section(ws: Workspace) -> Section:
    section = Section("settings", "Run settings and seeds", "Everything needed to reproduce this run.", nav="Settings")
    config = ws.root / "pipeline" / "config.json"
    if config.exists():
        section.text_blocks.append(("Pipeline configuration", config.read_text()))
    else:
        section.absent.append("No pipeline configuration (pipeline/config.json is absent: no darkstack run on this workspace).")
    seeds = []
    world = ws.truth_dir / "world.json"
    if world.exists():
        info = _read_json(world)
        profile = info.get("profile", {})
        name = profile.get("name", "?") if isinstance(profile, dict) else profile
        seeds.append({"what": "simulator", "seed": info.get("seed"), "details": f"profile {name}, {info.get('days', '?')} days from {info.get('start', '?')}"})
    for run in sorted((ws.root / "embeddings").glob("*/*/run.json")):
        info = _read_json(run)
        seeds.append(
            {
                "what": f"embeddings {run.parent.parent.name}/{run.parent.name}",
                "seed": info.get("seed"),
                "details": f"method {info.get('method', '?')}, device {info.get('last_run', {}).get('device', 'cpu')}, settings {info.get('fingerprint', '?')}",
            }
        )
    for table in sorted((ws.results_dir / "stack").glob("*/table.json"), key=lambda p: _scenario_order(p.parent.name)):
        info = _read_json(table)
        seeds.append({"what": f"stacking {table.parent.name}", "seed": info.get("seed"), "details": f"bases {', '.join(info.get('bases', []))}"})
    if seeds:
        section.tables.append(table_from_frame("Seeds", pd.DataFrame(seeds), source="seeds"))
    return section


# --- the report ------------------------------------------------------------------------------------
def build_report(
    ws: Workspace,
    run_id: str | None = None,
    top_predictions: int = DEFAULT_TOP_PREDICTIONS,
    title: str = "darkstack report",
    steps: Sequence[str] | None = None,
    lookup_hosts: int = DEFAULT_LOOKUP_HOSTS,
) -> Path:
    """Write ``ws.reports_dir/<run_id>/index.html`` with its figures; returns the path of index.html.

    ``steps``: the pipeline run's step names in the order they ran (``darkstack run`` passes its plan, and
    ``run_id`` is then that run's id); without it, every step recorded in ``pipeline/steps.json`` is shown.
    ``lookup_hosts``: how many exported hosts the host lookup holds (the most probable).
    Every section is shown, saying what the workspace lacks; only a workspace with nothing at all is an error.
    """
    if not ws.root.is_dir():
        raise DarkstackError("workspace does not exist", ws.root)
    run_id = run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out = ws.reports_dir / run_id
    staging = ws.reports_dir / f".{run_id}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    order = {key: configured(ws, key) for key in ("sensors", "variants", "scenarios")}
    pipeline = record.read_record(ws, steps, run_id if steps is not None else None, order)
    sections = [
        _summary_section(ws, staging),
        _overview_section(ws, staging),
        _evaluate_section(ws, staging),
        _study_section(ws, staging),
        _stack_section(ws, staging),
        _predictions_section(ws, top_predictions),
        groups_section(ws),
        lookup_section(ws, sorted(_sensor_dirs(ws.results_dir / "export"), key=_scenario_order), lookup_hosts),
        record.not_computed_section(pipeline),
        _settings_section(ws),
        record.timings_section(pipeline),
    ]
    if all(s.is_empty() for s in sections):
        shutil.rmtree(staging)
        raise DarkstackError("nothing to report: no snapshots or results in this workspace", ws.root)
    page = render(sections, title=title, run_id=run_id, workspace=str(ws.root))
    atomic.write_text(staging / "index.html", page)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    log.info(f"report written: {out / 'index.html'}", extra={"report": str(out / "index.html")})
    return out / "index.html"


def render(sections: list[Section], *, title: str, run_id: str, workspace: str) -> str:
    """The HTML page (jinja2 template ``templates/report.html.j2``, every value escaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("darkstack.report", "templates"), autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True
    )
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env.get_template("report.html.j2").render(
        sections=sections, title=title, run_id=run_id, workspace=workspace, created=created, version=__version__
    )

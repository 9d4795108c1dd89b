"""The HTML report: built from a hand-made workspace, checked as HTML and rendered in headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from darkstack import atomic
from darkstack.cli import main
from darkstack.report.build import build_report, dataset_overview
from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.workspace import Workspace, day_range
from report_chromium import CHROMIUM, render_in_chromium

DAYS = day_range(dt.date(2021, 12, 1), 3)


def _png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def make_workspace(ws) -> None:
    """Two sensors × 3 days of snapshots, labels, evaluation/stack/study results and predictions."""
    rng = np.random.default_rng(0)
    for sensor, n_hosts in (("darknet", 20), ("honeypot", 8)):
        for day in DAYS:
            ips = np.arange(1, n_hosts + 1, dtype=np.uint32)
            folder = ws.snapshot_dir(sensor, day)
            edges = pa.table({"ip": pa.array(np.repeat(ips, 2)), "port": pa.array(np.tile([23, -1], n_hosts), pa.int32()), "packets": pa.array(np.full(2 * n_hosts, 5), pa.int64())})
            atomic.write_parquet(folder / "edges.parquet", edges)
            features = {"ip": pa.array(ips)} | {c: pa.array(rng.random(n_hosts)) for c in FEATURE_COLUMNS}
            atomic.write_parquet(folder / "host_features.parquet", pa.table(features))
            atomic.write_json(folder / "meta.json", {"day": str(day)})
    for day in DAYS:
        labels = pa.table({"ip": pa.array(np.arange(1, 6, dtype=np.uint32)), "label": ["censys"] * 3 + ["mirai"] * 2, "source": ["sim"] * 5})
        atomic.write_parquet(ws.labels_day(day), labels)
    markdown = "### F1 {sensor}\n\n| Class | Support | DS | i-DarkVec |\n|---|---:|---:|---:|\n" \
        "| Mirai-like | 30 | **0.98±0.01** | 0.97±0.02 |\n| Censys | 12 | 0.75±0.10 | **0.80±0.05** |\n"
    for sensor in ("darknet", "honeypot"):
        base = ws.results_dir / "evaluate" / sensor
        atomic.write_text(base / "table.md", markdown.format(sensor=sensor))
        pd.DataFrame({"label": ["mirai"], "ds": [0.98]}).to_csv(base / "table.csv", index=False)  # twin of table.md: not shown
        summary = [{"variant": v, "label": "macro avg", "f1_mean": 0.8, "f1_std": 0.05} for v in ("ds", "idarkvec")]
        atomic.write_json(base / "table.json", {"summary": summary, "days": [str(d) for d in DAYS]})
        _png(base / "figure.png")
        atomic.write_text(base / "ds" / "not-shown.csv", "ip\n1\n")  # per-variant outputs are not shown
    stack = ws.results_dir / "stack" / "D"
    atomic.write_text(stack / "table.md", markdown.format(sensor="stack D"))
    rows = [{"method": m, "class": "macro", "f1_mean": 0.9, "f1_std": 0.01} for m in ("DS", "Naive", "ML")]
    atomic.write_json(stack / "table.json", {"rows": rows, "days": [str(DAYS[-1])]})
    pd.DataFrame({"base": ["DS", "Text"], "coefficient": [1.5, -0.2]}).to_csv(stack / "coefficients_own.csv", index=False)
    pd.DataFrame({"day": range(100)}).to_csv(stack / "daily.csv", index=False)
    _png(stack / "coefficients.png")
    _png(stack / "confusion" / "ML.png")
    _png(ws.results_dir / "study" / "darknet" / "history.png")
    pd.DataFrame({"h": [0, 1], "f1": [0.7, 0.75]}).to_csv(ws.results_dir / "study" / "darknet" / "history.csv", index=False)
    predictions = pa.table(
        {
            "ip": pa.array(np.arange(100, 130, dtype=np.uint32)),
            "predicted": ["censys"] * 30,
            "probability": pa.array(np.linspace(0.4, 1.0, 30)),
            "runner_up": ["mirai"] * 30,
            "in_training": [False] * 30,
            "vote_darknet:ds": ["bruteforcer"] * 30,
        }
    )
    atomic.write_parquet(ws.results_dir / "predict" / "D" / f"day={DAYS[-1]}.parquet", predictions)
    atomic.write_json(ws.root / "pipeline" / "config.json", {"seed": 0, "variants": ["ds", "idarkvec"]})


def test_overview_counts_hosts_ports_packets_and_labelled_share(ws):
    make_workspace(ws)
    overview = dataset_overview(ws)
    assert len(overview) == 6
    row = overview[(overview.sensor == "darknet")].iloc[0]
    assert (row.hosts, row.ports, row.packets, row.labelled_hosts) == (20, 2, 200, 5)
    assert row.labelled_share == pytest.approx(0.25)


def test_report_holds_every_section_and_copies_its_figures(ws):
    make_workspace(ws)
    index = build_report(ws, run_id="test-run", top_predictions=10)
    assert index == ws.reports_dir / "test-run" / "index.html"
    page = index.read_text()
    for section in ("overview", "evaluate", "studies", "stack", "predictions", "settings"):
        assert f'id="{section}"' in page
    assert "Sensor darknet" in page and "F1 darknet" in page and "Scenario D" in page and "not-shown" not in page
    assert "<strong>0.98±0.01</strong>" in page and 'data-sort="0.98"' in page  # Markdown tables keep bold, sort by mean
    assert "on each base&#39;s probability of that class" in page and "<details><summary><h4>Scores per test day" in page  # long tables folded
    assert "macro-f1.png" in page
    assert "first 10 of 30 rows" in page and "0.0.0.129" in page  # most probable first, IPs dotted
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (index.parent / src).is_file() and "/" not in src
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    assert build_report(ws, run_id="test-run") == index  # rebuilding replaces the folder


def test_report_command_and_empty_workspace(ws, capsys):
    ws.root.mkdir(parents=True)
    assert main(["report", "-w", str(ws.root)]) == 2
    assert "nothing to report" in " ".join(capsys.readouterr().err.split())
    make_workspace(ws)
    assert main(["report", "-w", str(ws.root), "--run-id", "cli"]) == 0
    assert capsys.readouterr().out.strip().endswith("reports/cli/index.html")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs the Debian package)")
def test_report_renders_in_headless_chromium_without_console_errors(ws, tmp_path):
    make_workspace(ws)
    index = build_report(ws, run_id="browser")
    dom, console = render_in_chromium(index, tmp_path)
    assert console == []
    assert 'data-ready="1"' in dom and 'data-broken-images="0"' in dom
    n_images = len(re.findall(r"<img ", dom))
    assert n_images >= 5
    assert len(re.findall(r'<table id="[^"]+" class="sortable', dom)) >= 8
    assert "<td" in dom
    (index.parent / "overview.png").unlink()  # the check can fail: a missing figure is seen
    dom, _ = render_in_chromium(index, tmp_path)
    assert 'data-broken-images="1"' in dom


PROBE = """<script>
window.addEventListener("load", function () {
  var table = document.getElementById("overview-t2");
  var hosts = table.querySelectorAll("th")[2];
  hosts.click(); var first = table.tBodies[0].rows[0].cells[2].textContent;
  hosts.click(); var last = table.tBodies[0].rows[0].cells[2].textContent;
  var filter = document.querySelector("input.filter[data-table=overview-t2]");
  filter.value = "honeypot 2021-12-02"; filter.dispatchEvent(new Event("input"));
  var shown = Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; }).length;
  document.body.dataset.probe = first + "|" + last + "|" + shown;
});
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs the Debian package)")
def test_tables_sort_both_ways_and_filter_in_chromium(ws, tmp_path):
    make_workspace(ws)
    index = build_report(ws, run_id="probe")
    probe = index.with_name("probe.html")
    probe.write_text(index.read_text().replace("</body>", PROBE))
    dom, console = render_in_chromium(probe, tmp_path)
    assert console == [] and 'data-probe="8|20|1"' in dom


def test_markdown_tables_keep_titles_bold_cells_and_numeric_sort_values():
    from darkstack.report.tables import markdown_tables

    text = "### F1, sensor d\n\n| Class | Support | DS |\n|---|---:|---:|\n| Mirai-like | 3\u2009257 | **0.98±0.01** |\n| **Macro avg.** | 12 | – |\n"
    (table,) = markdown_tables(text, "fallback")
    assert table.title == "F1, sensor d" and table.columns == ["Class", "Support", "DS"]
    mirai, macro = table.rows
    assert (mirai[1].sort, mirai[2].text, mirai[2].bold, mirai[2].sort) == (3257.0, "0.98±0.01", True, 0.98)
    assert (macro[0].text, macro[0].bold, macro[2].sort) == ("Macro avg.", True, "–")


def _table(page: str, title: str) -> str:
    """The HTML of the table titled ``title`` (from its heading to the end of its legend)."""
    start = re.search(rf"<h4>{re.escape(title)}(</h4>| <span)", page).start()
    return page[start : page.index("</dl>", start)]


def _column(table_html: str, index: int) -> list[str]:
    body = table_html[table_html.index("<tbody>") :]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row)[index] for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The hand-made workspace after a recorded pipeline run with skips, and its report page."""
    ws = Workspace(tmp_path_factory.mktemp("recorded") / "ws")
    make_workspace(ws)
    names, run = _run_recorded_steps(ws)
    return ws, names, run, build_report(ws, run_id="recorded").read_text()


def test_predictions_show_class_display_names(recorded):
    predictions = _table(recorded[3], "Scenario D, 2021-12-03")
    assert set(_column(predictions, 1)) == {"Censys"} and set(_column(predictions, 3)) == {"Mirai-like"}
    assert set(_column(predictions, 5)) == {"Brute-forcer"}  # each base's vote
    assert not re.search(r"<td>(censys|mirai|bruteforcer)</td>", predictions)


def test_undefined_values_show_na_and_no_nan_anywhere(ws):
    make_workspace(ws)
    stack = ws.results_dir / "stack" / "D" / "table.json"
    atomic.write_json(stack, {"rows": [{"method": "ML", "class": "macro", "f1_mean": 0.9, "f1_std": None}], "days": [str(DAYS[-1])]})
    pd.DataFrame({"h": [0, 1], "f1": [0.7, 0.75], "std": [float("nan"), 0.01]}).to_csv(ws.results_dir / "study" / "darknet" / "history.csv", index=False)
    atomic.write_text(ws.results_dir / "evaluate" / "honeypot" / "table.md", "| Class | Support | DS |\n|---|---:|---:|\n| Censys | 12 | 0.75±nan |\n")
    page = build_report(ws, run_id="undefined").read_text()
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)
    summary = _table(page, "Macro-F1 per method")
    stacked = [row for row in re.findall(r"<tr>(.*?)</tr>", summary, re.S) if "stack D" in row]
    assert re.findall(r"<td[^>]*>(.*?)</td>", stacked[0])[3:] == ["n/a", "1"]  # std over one test day, test days
    assert "<td>n/a</td>" in _table(page, "Macro-F1 per history H")
    assert ">0.75±n/a</td>" in page  # a stage's Markdown table


def test_traffic_lines_break_where_days_are_missing(monkeypatch, tmp_path):
    from darkstack.report import figures

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: drawn.append(fig) or path)
    days = ["2021-12-01", "2021-12-02", "2023-12-01", "2023-12-02"]
    overview = pd.DataFrame({"sensor": "darknet", "day": days, "hosts": [1, 2, 3, 4], "packets": 10, "labelled_share": 0.5})
    figures.overview_figure(overview, tmp_path / "overview.png")
    hosts = drawn[0].axes[0].lines[0]
    y = np.asarray(hosts.get_ydata(), dtype=float)
    assert np.isnan(y).tolist() == [False, False, True, False, False]  # one break, between the two stretches
    assert list(y[~np.isnan(y)]) == [1, 2, 3, 4]
    assert figures.with_gaps(overview.iloc[:2], ["hosts"])["hosts"].notna().all()  # adjacent days stay joined


def _run_recorded_steps(ws):
    """A pipeline run (darkstack.pipeline.steps) whose steps note skips, one with nothing to compute."""
    from darkstack import skips
    from darkstack.pipeline.steps import Step, run_steps

    def embed_gcngru():
        skips.note("embed", "needs 20 training days, 3 exist", sensor="honeypot", variant="gcngru", days=DAYS, option="--train-days / embed.train_days")

    def evaluate_honeypot():
        raise skips.skip_stage("evaluate", "no class reaches 11 hosts", sensor="honeypot", option="--min-class-hosts / evaluate.min_class_hosts")

    def stack_d():
        skips.note("stack", "no hosts present in every base", scenario="D", days=DAYS[0])

    names = ["labels", "snapshot:honeypot", "embed:honeypot:ds", "embed:honeypot:gcngru", "evaluate:honeypot", "stack:D", "predict:D"]
    actions = {"embed:honeypot:gcngru": embed_gcngru, "evaluate:honeypot": evaluate_honeypot, "stack:D": stack_d}
    return names, run_steps(ws, [Step(n, actions.get(n, lambda: None)) for n in names], run_id="run-1")


def test_not_computed_lists_every_skip_of_the_recorded_steps(recorded):
    _, _, run, page = recorded
    assert run.empty == ["evaluate:honeypot"]
    assert 'id="not-computed"' in page and 'href="#not-computed"' in page
    left_out = _table(page, "Left out (3)")
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", left_out[left_out.index("<tbody>") :], re.S)]
    assert rows[0] == [
        "embed:honeypot:gcngru", "embed", "sensor honeypot", "gcngru", "2021-12-01 … 2021-12-03 (3 days)",
        "needs 20 training days, 3 exist", "--train-days / embed.train_days",
    ]  # fmt: skip
    assert rows[1][:3] == ["evaluate:honeypot", "evaluate", "sensor honeypot"] and rows[1][-1] == "--min-class-hosts / evaluate.min_class_hosts"
    assert rows[2] == ["stack:D", "stack", "scenario D", "–", "2021-12-01", "no hosts present in every base", "–"]
    empty = _table(page, "Steps with nothing to compute (1)")
    assert _column(empty, 0) == ["evaluate:honeypot"] and _column(empty, 1) == ["no class reaches 11 hosts"]


def test_not_computed_inside_a_run_shows_only_that_runs_steps(recorded):
    ws = recorded[0]
    page = build_report(ws, run_id="run-2", steps=["labels", "stack:D"]).read_text()
    assert "Left out (1)" in page and "embed:honeypot:gcngru" not in page
    page = build_report(ws, run_id="run-2", steps=["labels", "snapshot:honeypot"]).read_text()
    assert "Nothing: every one of the 2 steps computed everything it planned." in page


def test_timings_are_in_pipeline_order(recorded):
    from darkstack.report.record import pipeline_order

    ws, names, _, page = recorded  # steps.json keeps the steps sorted by name
    assert _column(_table(page, "Steps"), 0) == names
    assert _column(_table(page, "Steps"), 3) == ["true"] * len(names)  # computed in the last recorded run
    plan = ["simulate", "labels", "snapshot:b", "embed:b:ds", "embed:b:idarkvec", "snapshot:a", "embed:a:ds", "evaluate:b", "evaluate:a",
            "study:b:history", "stack:D", "predict:D", "stack:H", "predict:H", "stack:DH", "predict:DH", "report"]  # fmt: skip
    assert pipeline_order(sorted(plan), {"sensors": ["b", "a"]}) == plan
    in_run = build_report(ws, run_id="run-1", steps=["stack:D", "labels"]).read_text()
    assert _column(_table(in_run, "Steps"), 0) == ["stack:D", "labels"]  # a run's own order is kept


def test_every_table_column_has_a_one_line_legend(recorded):
    from darkstack.report.legends import UNEXPLAINED

    page = recorded[3]
    tables = re.findall(r'<table id="[^"]+" class="sortable.*?<thead><tr>(.*?)</tr></thead>.*?</table>\s*</div>\s*(<dl class="legend">.*?</dl>)?', page, re.S)
    assert len(tables) >= 15
    for header, legend in tables:
        columns = re.findall(r"<th[^>]*>(.*?)</th>", header)
        assert re.findall(r"<dt>(.*?)</dt>", legend) == columns
        assert all(meaning and UNEXPLAINED not in meaning for meaning in re.findall(r"<dd>(.*?)</dd>", legend)), columns
    assert "in_training</dt><dd>true when the host was one of the undersampled unknown hosts" in page


def test_sections_say_how_many_test_days_were_scored(recorded):
    page = recorded[3]
    assert page.count("3 test days scored: 2021-12-01 … 2021-12-03 (3 days).") == 2  # each evaluated sensor
    assert "1 test day scored: 2021-12-03." in page  # the stacked scenario
    assert _column(_table(page, "Macro-F1 per method"), 4) == ["3", "3", "3", "3", "1", "1", "1"]


def _honeypot_only(ws):
    """One honeypot sensor with one snapshot day, a registered darknet sensor without traffic, nothing else."""
    make_workspace(ws)
    for folder in ("evaluate", "stack", "study", "predict"):
        shutil.rmtree(ws.results_dir / folder)
    shutil.rmtree(ws.snapshot_dir("darknet"))
    for day in DAYS[1:]:
        shutil.rmtree(ws.snapshot_dir("honeypot", day))
    atomic.write_json(ws.sensors_file, {"cowrie": {"kind": "honeypot"}, "spoki": {"kind": "darknet"}})
    (ws.root / "pipeline" / "config.json").unlink()


def test_partial_workspace_renders_every_section_and_says_what_is_absent(ws):
    _honeypot_only(ws)
    page = build_report(ws, run_id="partial").read_text()
    for section in ("summary", "overview", "evaluate", "studies", "stack", "predictions", "not-computed", "settings", "timings"):
        assert f'id="{section}"' in page
    for absent in (
        "Sensor spoki: no snapshot day", "Sensor honeypot: no evaluation results.", "No evaluation results in this workspace",
        "No stacking results in this workspace", "No predictions in this workspace", "No evaluation or stacking results",
        "No pipeline run is recorded", "No pipeline configuration", "No study results",
    ):  # fmt: skip
        assert f'<p class="absent">{absent}' in page, absent
    assert _column(_table(page, "Per sensor"), 0) == ["honeypot"]
    assert "Sensor darknet" not in page and "darknet" not in _table(page, "Per sensor and day")


def test_stacked_scenario_without_predictions_is_named(ws):
    make_workspace(ws)
    shutil.copytree(ws.results_dir / "stack" / "D", ws.results_dir / "stack" / "H")
    atomic.write_json(ws.root / "pipeline" / "config.json", {"run": {"scenarios": ["D", "H", "DH"]}})
    page = build_report(ws, run_id="partial").read_text()
    assert '<p class="absent">Scenario H: no predictions.</p>' in page and '<p class="absent">Scenario DH: no predictions.</p>' in page
    assert '<p class="absent">Scenario DH: no stacking results.</p>' in page and "Scenario D: no predictions" not in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs the Debian package)")
def test_partial_report_renders_in_headless_chromium(ws, tmp_path):
    _honeypot_only(ws)
    dom, console = render_in_chromium(build_report(ws, run_id="partial"), tmp_path)
    assert console == [] and 'data-ready="1"' in dom and 'data-broken-images="0"' in dom

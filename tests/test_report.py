"""The HTML report: built from a hand-made workspace, checked as HTML and rendered in headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from darkstack import atomic
from darkstack.cli import main
from darkstack.report.build import build_report, dataset_overview
from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.workspace import day_range
from report_chromium import render_in_chromium

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
        atomic.write_json(base / "table.json", {"summary": summary})
        _png(base / "figure.png")
        atomic.write_text(base / "ds" / "not-shown.csv", "ip\n1\n")  # per-variant outputs are not shown
    stack = ws.results_dir / "stack" / "D"
    atomic.write_text(stack / "table.md", markdown.format(sensor="stack D"))
    atomic.write_json(stack / "table.json", {"rows": [{"method": m, "class": "macro", "f1_mean": 0.9, "f1_std": 0.01} for m in ("DS", "Naive", "ML")]})
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


@pytest.mark.requires("chromium")
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


@pytest.mark.requires("chromium")
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

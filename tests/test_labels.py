"""Ground truth: sources, organisation map, longest-prefix match, precedence, validity, Mirai rule, anonymisation."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
import logging
import lzma

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from darkstack import skips
from darkstack.anonymise import CryptoPAn
from darkstack.cli import main
from darkstack.errors import InputFormatError
from darkstack.labels import build_labels, labels_for_day
from darkstack.labels.build import summary_path
from darkstack.labels.mirai import mirai_hosts
from darkstack.labels.orgmap import OrgMap
from darkstack.pipeline.config import PipelineConfig
from darkstack.pipeline.plan import build_labels_for
from darkstack.schema import int_to_ip, ip_to_int
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


def packets(ws, rows: list[tuple[str, int, int | None, bool]], sensor="darknet", kind="darknet", seq=True):
    """One packet per (source, proto, tcp_flags or None, sequence number equals the destination?) row.

    With ``seq=False`` the sensor's records carry no sequence numbers at all (as MHN exports).
    """
    n = len(rows)
    src, proto, flags, fingerprint = zip(*rows, strict=True)
    dst = ip_to_int([f"10.0.{i // 250}.{i % 250 + 1}" for i in range(n)])
    start = int(dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC).timestamp() * 1e6)
    table = pa.table({
        "ts": pa.array(start + np.arange(n) * 1000).cast(TS), "src_ip": pa.array(ip_to_int(list(src))),
        "dst_ip": pa.array(dst), "proto": pa.array(proto, pa.uint8()),
        "dst_port": pa.array(np.full(n, 23), pa.uint16()), "tcp_flags": pa.array(flags, pa.uint8()),
        "tcp_seq": pa.array(np.where(fingerprint, dst, dst + 1), pa.uint32(), mask=np.full(n, not seq)),
    })
    write_records(ws, sensor, kind, table, part=f"p{sensor}{n}")


def addresses(ips) -> set[str]:
    return {str(ip) for ip in int_to_ip(np.asarray(ips, np.uint32))}


def day_labels(ws, day=DAY) -> dict[str, tuple[str, str]]:
    t = labels_for_day(ws, day).to_pylist()
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


SYN, ACK, RST, ECE = 0x02, 0x10, 0x04, 0x40


def test_mirai_rule_every_branch(ws):
    """SYN (ACK clear, other flags allowed) with seq == dst, TCP only; rows without flags count."""
    packets(ws, [
        ("1.0.0.1", 6, SYN, True),          # the fingerprint
        ("1.0.0.2", 6, SYN | ECE, True),    # other flags beside SYN do not matter
        ("1.0.0.3", 6, None, True),         # flags unknown (the source gives none): counts
        ("2.0.0.1", 6, SYN | ACK, True),    # SYN-ACK: a reply, not the fingerprint
        ("2.0.0.2", 6, ACK, True),          # no SYN
        ("2.0.0.3", 6, RST, True),          # no SYN
        ("2.0.0.4", 6, SYN, False),         # sequence number is not the destination
        ("2.0.0.5", 6, None, False),        # flags unknown, sequence number not the destination
        ("2.0.0.6", 17, SYN, True),         # not TCP, even if the field happens to match
        ("2.0.0.7", 1, None, True),         # not TCP
    ])
    assert addresses(mirai_hosts(ws)) == {"1.0.0.1", "1.0.0.2", "1.0.0.3"}


def test_mirai_rule_skips_a_sensor_without_sequence_numbers(ws, tmp_path):
    packets(ws, [("1.0.0.1", 6, SYN, True)])
    packets(ws, [("3.0.0.1", 6, SYN, True), ("3.0.0.2", 17, None, True)], sensor="honeypot", kind="honeypot",
            seq=False)
    packets(ws, [("4.0.0.1", 17, None, False)], sensor="udponly", kind="darknet", seq=False)  # no TCP: nothing to say
    with skips.collect() as found:
        summary = build_labels(ws, [])
    reason = "Mirai rule needs TCP sequence numbers, which the records of sensor honeypot lack"
    assert found == [skips.Skip("labels", reason, "sensor honeypot", option="labels.mirai_rule")]
    assert summary["mirai_hosts"] == 1 and summary["mirai_skips"] == [found[0].as_dict()]
    assert json.loads(summary_path(ws).read_text())["mirai_skips"] == [found[0].as_dict()]
    assert day_labels(ws) == {"1.0.0.1": ("mirai", "mirai-rule")}


def test_precedence_longest_prefix_then_source_order_then_row_order(ws, tmp_path):
    """Self-contained: /32 > /24 > /16 > /8 whatever the source; ties go to the earlier source, then row."""
    a = tmp_path / "a.csv"
    a.write_text("ip,label\n10.0.0.0/8,a8\n10.2.0.0/16,first\n10.2.0.0/16,second\n10.1.0.0/16,a16\n")
    b = tmp_path / "b.ipset"
    b.write_text("create b24 hash:net\nadd b24 10.1.2.0/24\nadd b16 10.1.0.0/16\nadd b16 10.3.0.0/16\n")
    c = tmp_path / "c.csv"
    c.write_text("ip,label\n10.1.2.3,c32\n")
    hosts = {"10.1.2.3": 6, "10.1.2.4": 6, "10.1.9.9": 6, "10.9.9.9": 6, "10.2.0.1": 6, "10.3.0.1": 6,
             "11.0.0.1": 6}
    packets(ws, [(h, p, SYN, h in ("10.1.2.3", "10.1.2.4")) for h, p in hosts.items()])
    build_labels(ws, [a, b, c], keep_unmapped=True)
    assert day_labels(ws) == {
        "10.1.2.3": ("c32", "c"),           # /32 of a later source beats every shorter prefix; at /32 c beats Mirai
        "10.1.2.4": ("mirai", "mirai-rule"),  # the Mirai rule's /32 beats b's /24
        "10.1.9.9": ("a16", "a"),           # both /16: the earlier source wins
        "10.9.9.9": ("a8", "a"),
        "10.2.0.1": ("first", "a"),         # same network twice in one source: the earlier row wins
        "10.3.0.1": ("b16", "b"),           # only b has it
    }
    build_labels(ws, [b, a, c], mirai_rule=False)
    labels = day_labels(ws)
    assert labels["10.1.9.9"] == ("b16", "b") and labels["10.1.2.4"] == ("b24", "b")
    assert labels["10.1.2.3"] == ("c32", "c") and labels["10.9.9.9"] == ("a8", "a")


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_sources_are_read_like_plain_ones(ws, tmp_path, compress):
    packets(ws, [("9.9.9.9", 6, SYN, False), ("20.1.2.3", 6, SYN, False), ("30.0.0.9", 6, SYN, False)])
    suffix = {gzip.compress: "gz", bz2.compress: "bz2", lzma.compress: "xz"}[compress]
    sources = {"gt.csv": "ip,label\n9.9.9.9,shodan\n", "scanners.ipset": "add censys 20.1.0.0/16\n",
               "misp.json": json.dumps({"name": "Shadowserver", "list": ["30.0.0.0/8"]})}
    paths = []
    for name, text in sources.items():
        paths.append(tmp_path / f"{name}.{suffix}")
        paths[-1].write_bytes(compress(text.encode()))
    summary = build_labels(ws, paths, mirai_rule=False)
    assert sorted(summary["sources"]) == ["gt", "misp", "scanners"]  # the compression suffix is not in the name
    assert day_labels(ws) == {"9.9.9.9": ("shodan", "gt"), "20.1.2.3": ("censys", "scanners"),
                              "30.0.0.9": ("shadowserver", "misp")}
    damaged = tmp_path / f"cut.csv.{suffix}"
    damaged.write_bytes(compress(("ip,label\n" + "9.9.9.9,shodan\n" * 5000).encode())[:60])
    with pytest.raises(InputFormatError, match=f"cut.csv.{suffix}: damaged {suffix.replace('gz', 'gzip')} stream"):
        build_labels(ws, [damaged])


def test_skipped_rows_by_reason_with_examples(ws, tmp_path, caplog):
    packets(ws, [("9.9.9.9", 6, SYN, False)])
    src = tmp_path / "gt.csv"
    src.write_text("ip,label,first_day,last_day\njunk,a,,\n9.9.9.9,shodan,,\n1.2.3,b,,\n2.2.2.2,,,\n"
                   "3.3.3.3,c,2021-13-01,\nbad,d,,\nworse,e,,\n4.4.4.4,x\n")
    with caplog.at_level(logging.WARNING, logger="darkstack"):
        summary = build_labels(ws, [src], mirai_rule=False)
    info = summary["sources"]["gt"]
    assert info["rows"] == 1
    assert info["skipped"] == {"not an IPv4 address or network": 4, "empty label": 1, "bad validity day": 1,
                               "row with the wrong number of fields": 1}
    assert info["skip_examples"] == {  # the first three of each reason, with their line numbers
        "not an IPv4 address or network": ["line 2: junk", "line 4: 1.2.3", "line 7: bad"],
        "empty label": ["line 5: 2.2.2.2,,,"], "bad validity day": ["line 6: 2021-13-01,"],
        "row with the wrong number of fields": ["line 9: 4.4.4.4,x"]}
    assert json.loads(summary_path(ws).read_text())["sources"]["gt"]["skip_examples"] == info["skip_examples"]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{src}: skipped 4 rows: not an IPv4 address or network (e.g. line 2: junk; line 4: 1.2.3; line 7: bad)" \
        in lines
    assert f"{src}: skipped 1 row: empty label (e.g. line 5: 2.2.2.2,,,)" in lines
    assert len(lines) == 4  # one line per reason


def test_host_bits_under_the_prefix_taken_as_the_network_or_refused(ws, tmp_path, capsys):
    packets(ws, [("1.2.3.77", 6, SYN, False), ("5.5.0.1", 6, SYN, False)])
    src = tmp_path / "gt.csv"
    src.write_text("ip,label\n1.2.3.4/24,censys\n5.5.5.5/16,shodan\n6.6.6.0/24,umich\n7.7.7.7,stretchoid\n")
    summary = build_labels(ws, [src], mirai_rule=False)
    assert summary["sources"]["gt"]["host_bits"] == {
        "count": 2, "examples": ["line 2: 1.2.3.4/24 → 1.2.3.0/24", "line 3: 5.5.5.5/16 → 5.5.0.0/16"]}
    assert day_labels(ws) == {"1.2.3.77": ("censys", "gt"), "5.5.0.1": ("shodan", "gt")}
    assert pq.read_table(ws.labels_table).column("network").to_pylist()[:2] == ["1.2.3.0/24", "5.5.0.0/16"]
    with pytest.raises(InputFormatError, match=r"gt.csv: 2 addresses have host bits set under the prefix "
                                               r"\(line 2: 1.2.3.4/24 → 1.2.3.0/24; line 3: 5.5.5.5/16 → 5.5.0.0/16\)"):
        build_labels(ws, [src], strict=True)
    ws.labels_table.unlink()
    capsys.readouterr()
    assert main(["labels", "-w", str(ws.root), "--no-mirai", "--strict", "--source", str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "host bits" in err[0] and not ws.labels_table.exists()
    assert main(["labels", "-w", str(ws.root), "--no-mirai", "--source", str(src)]) == 0
    err = capsys.readouterr().err
    assert "gt: 4 label rows; 2 taken as their network (host bits set)" in err
    config = PipelineConfig.model_validate({"labels": {"sources": [str(src)], "strict": True}})
    with pytest.raises(InputFormatError, match="host bits"):  # the pipeline's labels.strict
        build_labels_for(ws, config)


def test_bad_sources(ws, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("address,what\n1.2.3.4,x\n")
    with pytest.raises(InputFormatError, match="bad.csv: missing column.*label/class"):
        build_labels(ws, [bad])
    assert main(["labels", "-w", str(ws.root), "--source", str(bad)]) == 2
    assert main(["labels", "-w", str(ws.root), "--source", str(tmp_path / "none.csv")]) == 2
    assert not ws.labels_table.exists()

"""Text and honeypot readers: the authors' raw log, Spoki, MHN, Cowrie (real samples when present)."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from darkstack.errors import InputFormatError
from darkstack.ingest.cowrie import read_cowrie
from darkstack.ingest.formats import detect
from darkstack.ingest.mhn import read_mhn
from darkstack.ingest.spoki import read_spoki
from darkstack.ingest.textlog import read_textlog
from darkstack.schema import ip_to_int


def read_all(reader, path):
    batches = list(reader(path))
    skips = {}
    for b in batches:
        for k, v in b.skips.items():
            skips[k] = skips.get(k, 0) + v
    return pa.concat_tables([b.table for b in batches]), sum(b.read for b in batches), skips


TEXTLOG = """ts proto src_ip src_port dst_ip dst_port pck_len tcp_flags mirai tcp_seq ttl t_mss t_win t_ts t_sack t_sackp
1638316800.25 6 1.2.3.4 4444 10.0.0.9 23 60 2 1 167772169 51 1460 5840 77 - 1
1638316801 6 1.2.3.5 5555 10.0.0.9 2323 40 SA 0 99 250 - 1024 - - -
1638316802.5 UDP 1.2.3.6 53 10.0.0.9 53 80 - 0 - 64 - - - - -
1638316803 6 not.an.ip 1 10.0.0.9 23 40 2 0 1 64 - - - - -
1638316804 6 1.2.3.7 1 10.0.0.9
"""


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress])
def test_textlog(tmp_path, compress):
    path = tmp_path / "trace.log"  # compression is told by the magic bytes, not by the name
    path.write_bytes(compress(TEXTLOG.encode()) if compress else TEXTLOG.encode())
    assert detect(path).name == "textlog"
    table, read, skips = read_all(read_textlog, path)
    assert read == 5 and table.num_rows == 3
    assert skips == {"bad value in column src_ip": 1, "row with the wrong number of fields": 1}
    first, second, third = table.to_pylist()
    assert first["ts"].timestamp() == 1638316800.25
    assert (first["src_ip"], first["dst_port"], first["ip_len"], first["tcp_seq"]) == (ip_to_int("1.2.3.4"), 23, 60, 167772169)
    assert (first["tcp_mss"], first["tcp_win"], first["tcp_ts"], first["tcp_sackok"], first["ttl"]) == (1460, 5840, 77, True, 51)
    assert (second["tcp_flags"], second["tcp_mss"], second["tcp_ts"], second["tcp_sackok"]) == (0x12, None, None, False)
    assert third["proto"] == 17


def test_textlog_missing_column(tmp_path):
    path = tmp_path / "bad.log"
    path.write_text("ts src_ip dst_ip\n1 1.2.3.4 5.6.7.8\n")
    with pytest.raises(InputFormatError, match="missing column.*dst_port") as err:
        read_all(read_textlog, path)
    assert "bad.log" in err.value.line()


def test_json_line_not_an_object(tmp_path):
    path = tmp_path / "mhn.json"
    good = '{"protocol":"pcap","timestamp":{"$date":"2020-11-29T17:38:07.862Z"},"source_ip":"1.2.3.4","source_port":1,"destination_port":23}'
    path.write_text(good + "\n[1,2,3]\nnot json\n")
    table, _, skips = read_all(read_mhn, path)
    assert table.num_rows == 1 and skips == {"line is not a JSON object": 1, "line is not valid JSON": 1}
    path.write_text("[1,2,3]\n")
    with pytest.raises(InputFormatError, match="line 1: line is not a JSON object"):
        read_all(read_mhn, path)


def test_real_spoki(real_data):
    files = sorted((real_data / "spoki").glob("*.csv"))
    tables = [read_all(read_spoki, f) for f in files]
    assert [t.num_rows for t, _, _ in tables] == [5069, 5299]
    assert all(read == t.num_rows and not skips for t, read, skips in tables)
    table = pa.concat_tables([t for t, _, _ in tables])
    syn = pc.equal(table.column("tcp_flags"), 2)
    mirai = table.filter(pc.and_(syn, pc.equal(table.column("tcp_seq"), table.column("dst_ip")))).to_pylist()
    assert len(mirai) == 1
    assert (mirai[0]["src_ip"], mirai[0]["dst_ip"], mirai[0]["dst_port"]) == (ip_to_int("186.66.176.171"),
                                                                             ip_to_int("141.22.28.118"), 80)


def test_real_mhn(real_data):
    table, read, skips = read_all(read_mhn, real_data / "mhn" / "mhn-dionaea-2020-11-29.json")
    assert read == 3274 and table.num_rows == 3274 and not skips
    darknet_like = table.filter(pc.equal(table.column("event"), "pcap"))
    assert darknet_like.num_rows == 1740
    assert pc.all(pc.equal(darknet_like.column("tcp_flags"), 2)).as_py()
    assert darknet_like.column("service").null_count == 1740
    first = table.slice(0, 1).to_pylist()[0]
    assert (first["src_ip"], first["src_port"], first["dst_port"]) == (ip_to_int("198.20.69.98"), 21133, 49153)
    services = set(table.column("service").drop_null().to_pylist())
    assert {"smb", "ssh", "http", "mssql"} <= services
    _, read, skips = read_all(read_mhn, real_data / "mhn" / "mhn-dionaea-2022-11-21.json")
    assert read == 4304 and skips == {"bad value in column source_ip": 1}


def test_real_cowrie(real_data):
    table, read, skips = read_all(read_cowrie, real_data / "cowrie" / "cowrie.json.2018-05-20")
    assert table.num_rows == 467 and read == 2006
    assert skips == {"event merged into its session row": 1539}
    assert set(table.column("service").to_pylist()) == {"ssh"}
    assert set(table.column("dst_port").to_pylist()) == {2222}
    first = table.slice(0, 1).to_pylist()[0]
    assert (first["src_ip"], first["src_port"], first["event"]) == (ip_to_int("185.222.209.108"), 48349,
                                                                    "cowrie.login.failed")


def test_detect_real_formats(real_data):
    assert detect(next((real_data / "spoki").glob("*.csv"))).name == "spoki"
    assert detect(real_data / "mhn" / "mhn-dionaea-2020-11-29.json").name == "mhn"
    assert detect(real_data / "cowrie" / "cowrie.json.2018-05-20").name == "cowrie"
    with pytest.raises(InputFormatError, match="cannot tell the format"):
        detect(real_data / "spoki" / "LICENSE")

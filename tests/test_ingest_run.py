"""ingest(): store writes, manifest, idempotence, resumability, all-or-nothing files, CLI, anonymisation."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_pcap import records

from darkstack.anonymise import CryptoPAn
from darkstack.cli import main
from darkstack.errors import ConfigError, DarkstackError
from darkstack.ingest import IngestSettings, ingest
from darkstack.ingest.pcap import write_pcap
from darkstack.labels import build_labels, labels_for_day
from darkstack.schema import ip_to_int
from darkstack.store import read_day


def store_files(ws) -> dict[str, bytes]:
    return {str(p.relative_to(ws.root)): p.read_bytes() for p in sorted(ws.store_dir.rglob("*")) if p.is_file()}


def all_rows(ws, sensor) -> pa.Table:
    return pa.concat_tables([read_day(ws, sensor, d) for d in ws.store_days(sensor)])


def test_ingest_is_idempotent_and_resumable(ws, tmp_path):
    cap = tmp_path / "a.pcap"
    write_pcap(records(1000), cap)
    report = ingest(ws, [cap], "darknet")
    assert report.kind == "darknet" and report.files[0].status == "ingested"
    assert (report.read, report.kept) == (1000, 1000)
    assert all_rows(ws, "darknet").num_rows == 1000
    before = store_files(ws)
    again = ingest(ws, [cap], "darknet")
    assert again.files[0].status == "unchanged" and store_files(ws) == before
    entry = json.loads(ws.ingest_manifest.read_text())[str(cap.resolve())]["darknet"]
    assert entry["read"] == 1000 and entry["kept"] == 1000 and entry["format"] == "pcap"
    assert entry["parts"] and all((ws.root / p).exists() for p in entry["parts"])
    # a changed file replaces what its old content wrote; a copy of the same content adds nothing
    write_pcap(records(300, seed=5), cap)
    ingest(ws, [cap], "darknet")
    assert all_rows(ws, "darknet").num_rows == 300
    copy = tmp_path / "copy.pcap"
    copy.write_bytes(cap.read_bytes())
    assert ingest(ws, [copy], "darknet").files[0].status == "duplicate"
    assert all_rows(ws, "darknet").num_rows == 300
    # the same file into a second sensor leaves the first one alone
    ingest(ws, [cap], "second")
    assert all_rows(ws, "darknet").num_rows == 300 and all_rows(ws, "second").num_rows == 300


def test_chunked_ingest_replaces_not_duplicates(ws, tmp_path):
    cap = tmp_path / "a.pcap"
    write_pcap(records(3000), cap)
    ingest(ws, [cap], "darknet", settings=IngestSettings(chunk_bytes=1 << 16))
    ws.ingest_manifest.unlink()  # forget it: a full re-ingest with another chunking
    ingest(ws, [cap], "darknet")
    assert all_rows(ws, "darknet").num_rows == 3000


def test_bad_file_leaves_store_as_it_was(ws, tmp_path):
    good = tmp_path / "good.pcap"
    write_pcap(records(200), good)
    ingest(ws, [good], "darknet")
    before = store_files(ws)
    raw = good.read_bytes()
    bad = tmp_path / "bad.pcap"
    write_pcap(records(3000, seed=9), bad)  # several chunks decode before the corrupt record
    data = bytearray(bad.read_bytes())
    offset = 24
    for _ in range(2900):  # walk to the header of record 2900 and break its length
        offset += 16 + int.from_bytes(data[offset + 8: offset + 12], "little")
    data[offset + 8: offset + 12] = b"\xff\xff\xff\x7f"
    bad.write_bytes(bytes(data))
    with pytest.raises(DarkstackError, match="bad.pcap"):
        ingest(ws, [bad], "darknet", settings=IngestSettings(chunk_bytes=1 << 16))
    assert store_files(ws) == before
    assert not (ws.store_dir / ".staging").exists()
    assert raw == good.read_bytes()


def test_keep_going_reports_each_failure(ws, tmp_path):
    good = tmp_path / "good.pcap"
    write_pcap(records(10), good)
    report = ingest(ws, [tmp_path / "missing.pcap", good], "darknet", keep_going=True)
    assert [f.status for f in report.files] == ["failed", "ingested"]
    assert "missing.pcap" in report.failed[0].error


def test_cli_errors_and_exit_codes(ws, tmp_path, capsys):
    good = tmp_path / "good.pcap"
    write_pcap(records(10), good)
    assert main(["ingest", "-w", str(ws.root), "-s", "darknet", str(good)]) == 0
    (tmp_path / "wrong.pcap").write_bytes(b"\x00" * 64)
    before = store_files(ws)
    assert main(["ingest", "-w", str(ws.root), "-s", "darknet", str(tmp_path / "wrong.pcap")]) == 2
    assert main(["ingest", "-w", str(ws.root), "-s", "darknet", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "wrong.pcap: cannot tell the format" in err and "nope: cannot open" in err
    assert "Traceback" not in err
    assert store_files(ws) == before


def test_kind_from_format_user_and_registry(ws, tmp_path):
    hp = tmp_path / "mhn.json"
    hp.write_text('{"protocol":"pcap","timestamp":{"$date":"2020-11-29T17:38:07Z"},"source_ip":"1.2.3.4",'
                  '"source_port":1,"destination_port":23}\n')
    assert ingest(ws, [hp], "tpot").kind == "honeypot"
    cap = tmp_path / "a.pcap"
    write_pcap(records(5), cap)
    with pytest.raises(ConfigError, match="already registered as honeypot"):
        ingest(ws, [cap], "tpot", kind="darknet")
    assert ingest(ws, [cap], "tpot").kind == "honeypot"  # the registry wins over the format's default
    assert ws.sensors()["tpot"]["kind"] == "honeypot"


def test_exclude_sources(ws, tmp_path):
    table = records(500)
    cap = tmp_path / "a.pcap"
    write_pcap(table, cap)
    report = ingest(ws, [cap], "darknet", settings=IngestSettings(exclude_sources=("0.0.0.0/1",)))
    low = int(pc.sum(pc.less(table.column("src_ip"), 2**31)).as_py())
    assert report.kept == 500 - low
    assert report.files[0].skipped == {"source in an excluded network": low}



def test_batches_written_while_the_next_is_read_are_all_stored(ws, tmp_path):
    """A writer thread stores batch i while the reader decodes batch i + 1: with many small batches,
    exclusions and anonymisation, the store and the report equal those of one batch."""
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    cap = tmp_path / "a.pcap"
    write_pcap(records(3000, seed=6), cap)
    reports = {}
    for sensor, chunk in (("whole", 1 << 24), ("chunked", 1 << 16)):
        settings = IngestSettings(exclude_sources=("0.0.0.0/2",), chunk_bytes=chunk)
        reports[sensor] = ingest(ws, [cap], sensor, anonymise_key=key, settings=settings).files[0]
    whole, chunked = reports["whole"], reports["chunked"]
    assert (chunked.read, chunked.kept, chunked.skipped, chunked.days) == (whole.read, whole.kept, whole.skipped, whole.days)
    assert 0 < whole.kept < 3000 and whole.skipped == {"source in an excluded network": 3000 - whole.kept}
    parts = json.loads(ws.ingest_manifest.read_text())[str(cap.resolve())]["chunked"]["parts"]
    assert len(parts) > 5
    order = [("ts", "ascending"), ("src_ip", "ascending"), ("ip_id", "ascending")]
    assert all_rows(ws, "chunked").drop_columns(["sensor"]).sort_by(order).equals(
        all_rows(ws, "whole").drop_columns(["sensor"]).sort_by(order))

def test_anonymised_ingest_keeps_prefixes_and_mirai(ws, tmp_path):
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    table = records(400)
    seq = pc.if_else(pc.is_valid(table.column("tcp_seq")), table.column("dst_ip"), table.column("tcp_seq"))
    table = table.set_column(table.column_names.index("tcp_seq"), "tcp_seq", seq)  # every TCP row: Mirai-like
    cap = tmp_path / "a.pcap"
    write_pcap(table, cap)
    ingest(ws, [cap], "darknet", anonymise_key=key)
    got = all_rows(ws, "darknet").sort_by([("ts", "ascending")])
    original = table.sort_by([("ts", "ascending")])
    expected = CryptoPAn(bytes(range(32))).anonymise(original.column("src_ip").to_numpy())
    assert np.array_equal(got.column("src_ip").to_numpy(), expected)
    assert not np.array_equal(got.column("src_ip").to_numpy(), original.column("src_ip").to_numpy())
    tcp = got.filter(pc.equal(got.column("proto"), 6))
    assert pc.all(pc.equal(tcp.column("tcp_seq"), tcp.column("dst_ip"))).as_py()


def test_real_samples_ingest(ws, real_data):
    spoki = ingest(ws, [real_data / "spoki" / p.name for p in sorted((real_data / "spoki").glob("*.csv"))], "spoki")
    mhn = ingest(ws, sorted((real_data / "mhn").glob("mhn-dionaea-20*.json")), "mhn")  # the two 2020/2022 exports
    cowrie = ingest(ws, [real_data / "cowrie"], "cowrie")
    assert (spoki.kind, mhn.kind, cowrie.kind) == ("darknet", "honeypot", "honeypot")
    assert spoki.kept == 10368 and mhn.kept == 3274 + 4303
    spaced = ingest(ws, [real_data / "mhn" / "mhn_dionaea_2017-11.json"], "mhn2017")  # spaced extended JSON
    assert spaced.kind == "honeypot" and spaced.kept == 2030
    assert cowrie.kept == sum(f.kept for f in cowrie.files) and len(cowrie.files) == 7 and cowrie.kept > 2500
    rows = all_rows(ws, "mhn")
    assert pc.all(pc.equal(rows.column("sensor_kind"), "honeypot")).as_py()
    pcap_rows = rows.filter(pc.equal(rows.column("event"), "pcap"))
    assert pcap_rows.num_rows == 1740 + 3617 and pc.all(pc.equal(pcap_rows.column("tcp_flags"), 2)).as_py()
    # the Spoki host whose SYN carries the Mirai fingerprint is flagged by the Mirai rule
    summary = build_labels(ws, [], mirai_rule=True)
    assert summary["mirai_hosts"] == 1
    day = labels_for_day(ws, dt.date(2021, 10, 13)).to_pylist()
    assert day == [{"ip": int(ip_to_int("186.66.176.171")), "label": "mirai", "source": "mirai-rule"}]

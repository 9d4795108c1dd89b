"""Vectorised generation of one day of traffic for the darknet and the honeypot.

For each behaviour, the day's active hosts draw a heavy-tailed packet (or session) count; each
packet gets a port from the behaviour's drifting core ports (per-host subsets, split between hosts
when the behaviour is coordinated) or from its drifting tail pool (dealt out in contiguous chunks
when coordinated), a time inside the host's daily window, and the header fields of the host's tool.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from darkstack.schema import (
    PACKET_SCHEMA,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    TIMESTAMP,
)
from darkstack.simulate.fingerprints import STATELESS, TOOL_NAMES, stamp
from darkstack.simulate.profiles import MIN_PACKETS, Behaviour
from darkstack.simulate.world import World

DAY_SECONDS = 86_400
UDP_PORTS = np.array([53, 123, 161, 1900, 5060, 137, 11211, 389, 19, 5353, 3702, 500, 443, 69, 111, 1194])
BACKSCATTER_SPORTS = np.array([80, 443, 22, 25, 53, 8080, 3389, 6667, 27015, 21])
BACKSCATTER_FLAGS = np.array([TCP_SYN | TCP_ACK, TCP_RST, TCP_RST | TCP_ACK], np.uint8)
SLICE_PACKETS = 1 << 23
"""Most packets of one behaviour generated at once (bounded memory); every behaviour-day of a /24 profile (at most
~4 M packets at ``--scale 10``) is one slice, so its draws are those of an unsliced day."""
PART_RECORDS = 1 << 24
"""Most records of one darknet part (Parquet file) of a day; a /24 paper day up to ``--scale 8`` is one part."""
CLASS_DAY_SIGMA = 0.1
"""Day-to-day variation (log-normal sigma) of a behaviour's total volume."""

# Honeypot services (T-Pot style) by port; anything else is answered by the DPIPot.
# service → (scan event, attack event per action)
SERVICE_PORTS = {
    "ssh": (22, 2222), "telnet": (23, 2323), "http": (80, 8080, 81, 8000, 8081, 8888), "https": (443, 8443),
    "smb": (445, 139), "rdp": (3389,), "smtp": (25, 465, 587), "mssql": (1433,), "mysql": (3306,),
    "sip": (5060,), "vnc": (5900,), "ftp": (21,), "pop3": (110,), "imap": (143,), "pptp": (1723,),
    "adb": (5555,), "elasticsearch": (9200,), "redis": (6379,), "mqtt": (1883,), "modbus": (502,),
    "s7comm": (102,), "memcached": (11211,), "postgres": (5432,), "docker": (2375,),
}
SERVICE_EVENTS = {
    "ssh": ("cowrie.session.connect", "cowrie.login.failed"),
    "telnet": ("cowrie.session.connect", "cowrie.login.failed"),
    "http": ("tanner.http.get", "tanner.http.post"),
    "https": ("tanner.http.get", "tanner.http.post"),
    "smb": ("dionaea.connection.tcp.accept", "dionaea.smb.dcerpc.request"),
    "rdp": ("rdpy.connection", "rdpy.login.failed"),
    "smtp": ("mailoney.connect", "mailoney.mail.received"),
    "mssql": ("dionaea.connection.tcp.accept", "dionaea.mssql.login"),
    "mysql": ("dionaea.connection.tcp.accept", "dionaea.mysql.login"),
    "sip": ("dionaea.connection.tcp.accept", "dionaea.sip.invite"),
    "vnc": ("heralding.session.connect", "heralding.auth.failed"),
    "ftp": ("dionaea.connection.tcp.accept", "dionaea.ftp.login"),
    "pop3": ("heralding.session.connect", "heralding.auth.failed"),
    "imap": ("heralding.session.connect", "heralding.auth.failed"),
    "pptp": ("dionaea.connection.tcp.accept", "dionaea.pptp.request"),
    "adb": ("adbhoney.session.connect", "adbhoney.command.input"),
    "elasticsearch": ("elasticpot.request", "elasticpot.attack"),
    "redis": ("redishoneypot.connect", "redishoneypot.command"),
    "mqtt": ("dionaea.connection.tcp.accept", "dionaea.mqtt.publish"),
    "modbus": ("conpot.session.connect", "conpot.modbus.request"),
    "s7comm": ("conpot.session.connect", "conpot.s7comm.request"),
    "memcached": ("dionaea.connection.tcp.accept", "dionaea.memcached.request"),
    "postgres": ("heralding.session.connect", "heralding.auth.failed"),
    "docker": ("dionaea.connection.tcp.accept", "dionaea.http.request"),
    "dpipot": ("dpipot.connection", "dpipot.payload"),
}
SERVICE_NAMES = tuple(SERVICE_EVENTS)
PORT_SERVICE = np.full(65536, SERVICE_NAMES.index("dpipot"), np.int8)
for _name, _ports in SERVICE_PORTS.items():
    PORT_SERVICE[list(_ports)] = SERVICE_NAMES.index(_name)
SCAN_EVENTS = np.array([SERVICE_EVENTS[s][0] for s in SERVICE_NAMES], dtype=object)
ATTACK_EVENTS = np.array([SERVICE_EVENTS[s][1] for s in SERVICE_NAMES], dtype=object)


def day_rng(seed: int, day: int, sensor: int) -> np.random.Generator:
    """Random stream of one sensor-day: independent of other days, so any day can be generated alone."""
    return np.random.default_rng([seed, 3, sensor, day])


def _counts(mean: float, sigma: float, floor: int, cap: int, intensity: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed per-host counts: ``floor`` plus a log-normal part with mean ``mean - floor``.

    Hosts differ by their (persistent) ``intensity`` and a daily factor; the group's total is then
    set to its expectation times a mild daily factor, so class volumes stay near their targets.
    """
    n = len(intensity)
    raw = intensity * (np.exp(rng.normal(-sigma**2 / 2, sigma, n)) if sigma > 0 else 1.0)
    total = max(mean - floor, 0.0) * n * np.exp(rng.normal(-CLASS_DAY_SIGMA**2 / 2, CLASS_DAY_SIGMA))
    extra = raw * (total / raw.sum()) if raw.sum() > 0 else raw
    counts = floor + np.floor(extra + rng.random(n)).astype(np.int64)
    return np.clip(counts, floor, cap)


def _day_core(b: Behaviour, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The behaviour's core ports and their weights for today (log-normal drift)."""
    ports = np.asarray(b.core_ports, np.int64)
    w = np.asarray(b.core_weights, float) if b.core_weights else np.ones(len(ports))
    if b.drift > 0:
        w = w * np.exp(rng.normal(0, b.drift, len(w)))
    return ports, w / w.sum()


def _day_pool(base: np.ndarray, drift: float, rng: np.random.Generator) -> np.ndarray:
    """Today's tail pool: the base pool with a ``drift`` share of its ports replaced."""
    pool = base.copy()
    swap = rng.random(len(pool)) < drift
    pool[swap] = rng.integers(1, 65536, int(swap.sum()))
    return pool


@dataclass
class _PortPlan:
    """What a behaviour-day draws once for all its hosts: which packets go to the tail, today's core ports."""

    tail: np.ndarray                      # bool per packet (packets grouped by host)
    pool: np.ndarray | None               # today's tail pool
    core: tuple[np.ndarray, np.ndarray] | None  # (ports, weights), or (dealing order, weights) when coordinated


def _port_plan(b: Behaviour, counts: np.ndarray, pools: dict, rng: np.random.Generator) -> _PortPlan:
    """Draw the behaviour-day's tail/core split (in pieces of SLICE_PACKETS: same draws, bounded memory) and core."""
    n = int(counts.sum())
    pool = pools.get("wide" if b.tail_space == "wide" else b.name)
    if pool is not None and len(b.core_ports):
        pieces = [min(SLICE_PACKETS, n - lo) for lo in range(0, n, SLICE_PACKETS)]
        tail = np.concatenate([rng.random(m) >= b.core_share for m in pieces]) if n else np.zeros(0, bool)
    else:
        tail = np.full(n, pool is not None)
    core = None
    if not tail.all():
        ports, w = _day_core(b, rng)
        if b.coordinated:
            ports = ports[np.argsort(-(np.log(w) + rng.gumbel(size=len(w))))]
        core = (ports, w)
    return _PortPlan(tail, pool, core)


def _ports(b: Behaviour, world: World, hosts: np.ndarray, counts: np.ndarray, plan: _PortPlan, first: int,
           rng: np.random.Generator) -> np.ndarray:
    """Destination port of every packet of ``hosts`` (packets grouped by host, in ``hosts`` order), whose first
    packet is packet ``first`` of the behaviour-day's ``plan``."""
    n = int(counts.sum())
    owner = np.repeat(np.arange(len(hosts)), counts)
    out = np.zeros(n, np.int64)
    tail = plan.tail[first:first + n]
    core = ~tail
    if core.any():
        ports, w = plan.core
        k = max(1, min(b.ports_per_host, len(ports)))
        if b.coordinated:
            chosen = ports[(world.rank[hosts][:, None] * k + np.arange(k)) % len(ports)]
        else:
            keys = np.log(w) + rng.gumbel(size=(len(hosts), len(ports)))
            chosen = ports[np.argpartition(-keys, k - 1, axis=1)[:, :k]]
        pick = (k * rng.random(int(core.sum())) ** 2).astype(np.int64)
        out[core] = chosen[owner[core], pick]
    if tail.any():
        t, pool = int(tail.sum()), plan.pool
        if b.coordinated:
            total, before = int(plan.tail.sum()), int(plan.tail[:first].sum())
            size = min(len(pool), total)
            out[tail] = pool[(before + np.arange(t)) * size // total]
        else:
            out[tail] = pool[rng.integers(0, len(pool), t)]
    return out


def _slices(counts: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive host ranges of at most SLICE_PACKETS packets (a louder host alone); one range when all fit."""
    ends = np.cumsum(counts)
    out, lo = [], 0
    while lo < len(counts):
        base = ends[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, base + SLICE_PACKETS, side="right")))
        out.append((lo, hi))
        lo = hi
    return out


def _seconds(world: World, hosts: np.ndarray, owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Second of the day of each packet, inside its host's daily activity window."""
    start = world.window_start[hosts][owner] * 3600
    length = world.window_hours[hosts][owner] * 3600
    return (start + rng.random(len(owner)) * length) % DAY_SECONDS


def _syn_chunk(world: World, d: int, hosts: np.ndarray, counts: np.ndarray, dports: np.ndarray,
               dst_ips: np.ndarray, tools: np.ndarray, fingerprint: np.ndarray, rng: np.random.Generator) -> dict:
    """Columns of TCP SYN packets."""
    owner = np.repeat(np.arange(len(hosts)), counts)
    host = hosts[owner]
    seconds = _seconds(world, hosts, owner, rng)
    header = stamp(tools, world.traits, host, dst_ips, dports, seconds + d * DAY_SECONDS,
                   fingerprint[owner], rng)
    n = len(host)
    cols = {
        "seconds": (seconds, None),
        "src_ip": (world.ip[host], None),
        "dst_ip": (dst_ips, None),
        "dst_port": (dports.astype(np.uint16), None),
        "proto": (np.full(n, PROTO_TCP, np.uint8), None),
        "tcp_flags": (np.full(n, TCP_SYN, np.uint8), None),
    }
    for name, value in header.items():
        cols[name] = value if isinstance(value, tuple) else (value, None)
    return cols


def _non_tcp_chunk(world: World, hosts: np.ndarray, owner: np.ndarray, dst_base: int,
                   rng: np.random.Generator) -> dict:
    """UDP probes and ICMP echo requests sent by ``hosts[owner]``."""
    n = len(owner)
    host = hosts[owner]
    udp = rng.random(n) < 0.7
    dport = UDP_PORTS[rng.integers(0, len(UDP_PORTS), n)].astype(np.uint16)
    ttl = np.clip(world.traits["ttl0"][host] - world.traits["hops"][host], 1, 255).astype(np.uint8)
    return {
        "seconds": (_seconds(world, hosts, owner, rng), None),
        "src_ip": (world.ip[host], None),
        "dst_ip": ((dst_base + rng.integers(0, 256, n)).astype(np.uint32), None),
        "src_port": (rng.integers(1024, 65536, n).astype(np.uint16), udp),
        "dst_port": (dport, udp),
        "proto": (np.where(udp, PROTO_UDP, PROTO_ICMP).astype(np.uint8), None),
        "ip_len": (np.where(udp, 28 + rng.integers(8, 200, n), 84).astype(np.uint16), None),
        "ttl": (ttl, None),
        "ip_id": (rng.integers(0, 65536, n).astype(np.uint16), None),
    }


def _to_table(chunks: list[dict], day: dt.date) -> pa.Table:
    """Concatenate column chunks into a time-ordered canonical table (missing columns are null)."""
    day_us = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1_000_000
    seconds = np.concatenate([c["seconds"][0] for c in chunks]) if chunks else np.zeros(0)
    ts = day_us + (seconds * 1_000_000).astype(np.int64)
    order = np.argsort(ts, kind="stable")
    arrays = {"ts": pa.array(ts[order], TIMESTAMP)}
    for field in PACKET_SCHEMA:
        if field.name in ("ts", "sensor", "sensor_kind"):
            continue
        if not any(field.name in c for c in chunks):  # e.g. the honeypot's text fields on the darknet
            arrays[field.name] = pa.nulls(len(ts), field.type)
            continue
        text = pa.types.is_string(field.type)
        dtype = object if text else field.type.to_pandas_dtype()
        values, valid = [], []
        for c in chunks:
            m = len(c["seconds"][0])
            v, ok = c.get(field.name, (np.zeros(m, dtype), np.zeros(m, bool)))
            values.append(np.asarray(v).astype(dtype, copy=False))
            valid.append(np.ones(m, bool) if ok is None else ok)
        v = np.concatenate(values)[order] if values else np.zeros(0, dtype)
        ok = np.concatenate(valid)[order] if valid else np.zeros(0, bool)
        if text:
            arrays[field.name] = pa.array(np.where(ok, v, None), pa.string())
        else:
            arrays[field.name] = pa.array(v, field.type, mask=None if ok.all() else ~ok)
    return pa.table(arrays)


def darknet_parts(world: World, d: int, thin: int = 1) -> Iterator[pa.Table]:
    """The packets the darknet receives on day index ``d``, as time-ordered tables of at most PART_RECORDS rows.

    Each behaviour's hosts are generated in slices (:func:`_slices`), so memory is bounded by PART_RECORDS, not
    by the day. ``thin`` > 1 writes each host's run of packets of one protocol, flags and port as records of up
    to ``thin`` packets (:func:`thin_chunk`); 1 writes every packet as a row. A day of at most PART_RECORDS
    packets is one table, drawn exactly as before slicing existed.
    """
    rng = day_rng(world.seed, d, 0)
    net = ipaddress.ip_network(world.profile.darknet_prefix)
    base, size = int(net.network_address), net.num_addresses
    pools = {name: _day_pool(p, _pool_drift(world, name), rng) for name, p in world.pools.items()}
    chunks: list[dict] = []
    rows = parts = 0
    active = world.active[:, d] & world.on_darknet
    for bi, b in enumerate(world.profile.behaviours):
        hosts = np.flatnonzero(active & (world.behaviour == bi))
        if not len(hosts):
            continue
        counts = _counts(b.packets_per_host, b.day_sigma, b.min_packets, b.max_packets, world.intensity[hosts], rng)
        plan = _port_plan(b, counts, pools, rng)
        fingerprint = world.labelled[hosts] & b.mirai_fingerprint
        first = np.concatenate([[0], np.cumsum(counts)])
        for lo, hi in _slices(counts):
            new = _darknet_slice(world, d, b, hosts[lo:hi], counts[lo:hi], plan, int(first[lo]),
                                 fingerprint[lo:hi], base, size, rng)
            new = [thin_chunk(c, thin) for c in new] if thin > 1 else new
            m = sum(len(c["seconds"][0]) for c in new)
            if chunks and rows + m > PART_RECORDS:
                yield _to_table(chunks, world.day(d))
                chunks, rows, parts = [], 0, parts + 1
            chunks += new
            rows += m
    if chunks or not parts:
        yield _to_table(chunks, world.day(d))


def _darknet_slice(world: World, d: int, b: Behaviour, hosts: np.ndarray, counts: np.ndarray, plan: _PortPlan,
                   first: int, fingerprint: np.ndarray, base: int, size: int, rng: np.random.Generator) -> list[dict]:
    """Column chunks of one slice of a behaviour's hosts: their SYNs (or backscatter) and UDP/ICMP probes."""
    dports = _ports(b, world, hosts, counts, plan, first, rng)
    dst = (base + rng.integers(0, size, len(dports))).astype(np.uint32)
    chunk = _syn_chunk(world, d, hosts, counts, dports, dst, world.tool, fingerprint, rng)
    if b.backscatter:
        _as_backscatter(chunk, hosts, counts, rng)
    out = [chunk]
    n_other = rng.binomial(int(counts.sum()), b.non_tcp_share) if b.non_tcp_share else 0
    if n_other:
        owner = np.repeat(np.arange(len(hosts)), counts)[rng.integers(0, int(counts.sum()), n_other)]
        out.append(_non_tcp_chunk(world, hosts, owner, base, rng))
    return out


def thin_chunk(chunk: dict, every: int) -> dict:
    """One record per run of ``every`` packets (in the order drawn) of a host with one protocol, flags and port.

    The record is the run's first packet with ``packets`` = the run's length, so per host and per (host, port)
    the packet counts, and the weighted statistics of fields constant over a run, are the unthinned ones
    (docs/simulator.md § Thinned days).
    """
    n = len(chunk["seconds"][0])
    ip, proto, flags, port = (_run_key(chunk, name, n) for name in ("src_ip", "proto", "tcp_flags", "dst_port"))
    service = ((proto + 1) * 512 + flags + 1) * 65_537 + port + 1  # one int64 per (protocol, flags, port)
    order = np.lexsort((service, ip))  # stable: a run's packets stay in the order drawn
    ip, service = ip[order], service[order]
    new = np.ones(n, bool)
    new[1:] = (ip[1:] != ip[:-1]) | (service[1:] != service[:-1])
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    rank = np.arange(n) - starts[group]
    length = np.diff(np.append(starts, n))[group]
    keep = rank % every == 0
    idx = order[keep]
    weight = np.minimum(every, length - rank)[keep]
    back = np.argsort(idx, kind="stable")
    idx = idx[back]
    out = {name: (np.asarray(value)[idx], None if ok is None else ok[idx]) for name, (value, ok) in chunk.items()}
    out["packets"] = (weight[back].astype(np.uint32), None)
    return out


def _run_key(chunk: dict, name: str, n: int) -> np.ndarray:
    """Column ``name`` of a chunk as int64 with -1 where null or absent (ICMP has no port, UDP no flags)."""
    if name not in chunk:
        return np.full(n, -1, np.int64)
    value, ok = chunk[name]
    value = np.asarray(value).astype(np.int64)
    return value if ok is None else np.where(ok, value, -1)


def _pool_drift(world: World, name: str) -> float:
    if name == "wide":
        return 0.2
    return next(b.drift for b in world.profile.behaviours if b.name == name)


def _as_backscatter(chunk: dict, hosts: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> None:
    """Turn SYNs into replies of attacked servers: SYN-ACK or RST from a service port."""
    n = int(counts.sum())
    owner = np.repeat(np.arange(len(hosts)), counts)
    flags = BACKSCATTER_FLAGS[rng.choice(3, n, p=[0.55, 0.3, 0.15])]
    chunk["tcp_flags"] = (flags, None)
    chunk["src_port"] = (BACKSCATTER_SPORTS[rng.integers(0, len(BACKSCATTER_SPORTS), len(hosts))][owner]
                         .astype(np.uint16), None)
    rst = flags != (TCP_SYN | TCP_ACK)
    for name in ("tcp_mss", "tcp_wscale", "tcp_ts"):
        value, ok = chunk[name]
        chunk[name] = (value, ok & ~rst)
    chunk["tcp_sackok"] = (chunk["tcp_sackok"][0] & ~rst, None)
    chunk["tcp_win"] = (np.where(rst, 0, chunk["tcp_win"][0]).astype(np.uint16), None)
    chunk["ip_len"] = (np.where(rst, 40, chunk["ip_len"][0]).astype(np.uint16), None)


def honeypot_day(world: World, d: int) -> pa.Table:
    """One row per successfully negotiated TCP session (its SYN) on the honeypot on day index ``d``."""
    rng = day_rng(world.seed, d, 1)
    addresses = np.array([int(ipaddress.ip_address(a)) for a in world.profile.honeypot_addresses], np.uint32)
    pools = {name: _day_pool(p, _pool_drift(world, name), rng) for name, p in world.pools.items()}
    # Stateless scanners' sessions are completed by their OS-stack grabbers (ZGrab and the like).
    session_tool = world.tool.copy()
    session_tool[np.isin(world.tool, [TOOL_NAMES.index(t) for t in STATELESS])] = TOOL_NAMES.index("linux")
    chunks = []
    active = world.active[:, d] & world.on_honeypot
    for bi, b in enumerate(world.profile.behaviours):
        hosts = np.flatnonzero(active & (world.behaviour == bi))
        if not len(hosts) or b.backscatter:
            continue
        floor = MIN_PACKETS if b.max_packets >= MIN_PACKETS else 1  # regular visitors pass the 5-session filter
        counts = _counts(b.honeypot_sessions, 0.5, floor, b.max_packets, world.hp_intensity[hosts], rng)
        dports = _ports(b, world, hosts, counts, _port_plan(b, counts, pools, rng), 0, rng)
        dst = addresses[rng.integers(0, len(addresses), len(dports))]
        fingerprint = world.labelled[hosts] & b.mirai_fingerprint
        chunk = _syn_chunk(world, d, hosts, counts, dports, dst, session_tool, fingerprint, rng)
        service = PORT_SERVICE[dports]
        attack = np.full(len(dports), b.honeypot_action != "scan") & (rng.random(len(dports)) < 0.85)
        event = np.where(attack, ATTACK_EVENTS[service], SCAN_EVENTS[service])
        if b.honeypot_action == "login":
            cowrie = attack & np.isin(service, [SERVICE_NAMES.index("ssh"), SERVICE_NAMES.index("telnet")])
            roll = rng.random(len(dports))
            event[cowrie & (roll < 0.12)] = "cowrie.login.success"
            event[cowrie & (roll < 0.05)] = "cowrie.command.input"
        chunk["service"] = (np.array(SERVICE_NAMES, dtype=object)[service], None)
        chunk["event"] = (event, None)
        chunks.append(chunk)
    return _to_table(chunks, world.day(d))

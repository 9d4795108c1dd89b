"""Tool fingerprints: how each scanning tool or OS stack fills the IP/TCP header of a SYN.

Each tool has an initial TTL, window choices, TCP options (hence the IP length), an IP-id rule and a
source-port rule, modelled on ZMap, masscan, nmap, Mirai and the Linux/Windows/BSD stacks.
``stamp`` fills those header columns for many packets at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tool:
    """Header behaviour of one scanning tool or operating-system stack."""

    ttl: int                       # initial TTL (nmap: drawn per host in 37..59)
    windows: tuple[int, ...]       # window values, one chosen per host (empty: random per packet)
    mss: int | None                # MSS option value, None when absent
    wscale: int | None
    sackok: bool
    timestamps: bool
    ip_id: str                     # "const", "random", "masscan", "counter"
    src_port: str                  # "random", "host", "ephemeral_linux", "ephemeral_windows"

    @property
    def options_len(self) -> int:
        """Bytes of TCP options as the stack lays them out (with NOP padding)."""
        if not self.sackok and not self.timestamps and self.wscale is None:
            return 4 if self.mss else 0
        n = (4 if self.mss else 0) + (4 if self.wscale is not None else 0)
        n += 12 if self.timestamps else (4 if self.sackok else 0)
        return n


TOOLS: dict[str, Tool] = {
    "zmap": Tool(255, (65535,), 1460, None, False, False, "const", "random"),
    "masscan": Tool(255, (1024,), None, None, False, False, "masscan", "host"),
    "nmap": Tool(0, (1024, 2048, 3072, 4096), 1460, None, False, False, "random", "host"),
    "mirai": Tool(64, (), None, None, False, False, "random", "random"),
    "linux": Tool(64, (64240, 29200, 65535), 1460, 7, True, True, "random", "ephemeral_linux"),
    "windows": Tool(128, (64240, 8192, 65535), 1460, 8, True, False, "counter", "ephemeral_windows"),
    "bsd": Tool(64, (65535,), 1460, 6, True, True, "random", "ephemeral_linux"),
}
TOOL_NAMES = tuple(TOOLS)
STATELESS = ("zmap", "masscan", "nmap")
"""Tools whose SYNs never become sessions; a honeypot sees their follow-up grabber's OS stack instead."""
ZMAP_IP_ID = 54321
MSS_VARIANTS = np.array([1460, 1460, 1460, 1460, 1440, 1400, 1380, 1360, 1452], dtype=np.uint16)


def host_traits(tool_codes: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-host constants: hop count, initial TTL, window, MSS, fixed source port, TCP-timestamp base."""
    n = len(tool_codes)
    hops = rng.integers(5, 26, n).astype(np.int16)
    ttl0 = np.zeros(n, np.int16)
    win = np.zeros(n, np.int64)
    mss = np.zeros(n, np.uint16)
    for code, name in enumerate(TOOL_NAMES):
        tool = TOOLS[name]
        m = tool_codes == code
        k = int(m.sum())
        if not k:
            continue
        ttl0[m] = rng.integers(37, 60, k) if name == "nmap" else tool.ttl
        win[m] = rng.choice(tool.windows, k) if tool.windows else -1
        if tool.mss is not None:
            mss[m] = MSS_VARIANTS[rng.integers(0, len(MSS_VARIANTS), k)] if tool.wscale is not None else tool.mss
    return {
        "hops": hops,
        "ttl0": ttl0,
        "win": win,
        "mss": mss,
        "sport": rng.integers(1024, 65536, n).astype(np.int64),
        "ts_base": rng.integers(0, 2**32, n, dtype=np.int64),
        "ts_rate": rng.choice(np.array([1, 1000, 250, 100]), n),
    }


def stamp(tool_codes: np.ndarray, traits: dict[str, np.ndarray], host: np.ndarray, dst_ip: np.ndarray,
          dst_port: np.ndarray, seconds: np.ndarray, fingerprint: np.ndarray, rng: np.random.Generator) -> dict:
    """Header columns for SYN packets ``i`` sent by ``host[i]`` (indices into ``tool_codes``/``traits``).

    ``fingerprint[i]`` marks Mirai-fingerprinted SYNs (``tcp_seq == dst_ip``); no other packet ever
    carries that value.
    """
    n = len(host)
    tcode = tool_codes[host]
    ttl = np.clip(traits["ttl0"][host] - traits["hops"][host] - (rng.random(n) < 0.05), 1, 255).astype(np.uint8)
    seq = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    collide = seq == dst_ip
    seq[collide] += np.uint32(1)
    seq[fingerprint] = dst_ip[fingerprint]
    win = traits["win"][host]
    random_win = win < 0
    win = np.where(random_win, rng.integers(0, 65536, n), win).astype(np.uint16)
    ip_id = rng.integers(0, 65536, n).astype(np.uint16)
    sport = rng.integers(1024, 65536, n).astype(np.uint16)
    mss = np.zeros(n, np.uint16)
    has_mss = np.zeros(n, bool)
    wscale = np.zeros(n, np.uint8)
    has_wscale = np.zeros(n, bool)
    sackok = np.zeros(n, bool)
    tsval = np.zeros(n, np.uint32)
    has_ts = np.zeros(n, bool)
    ip_len = np.full(n, 40, np.uint16)
    for code, name in enumerate(TOOL_NAMES):
        tool = TOOLS[name]
        m = tcode == code
        if not m.any():
            continue
        h = host[m]
        ip_len[m] = 40 + tool.options_len
        if tool.mss is not None:
            mss[m] = traits["mss"][h]
            has_mss[m] = True
        if tool.wscale is not None:
            wscale[m] = tool.wscale
            has_wscale[m] = True
        sackok[m] = tool.sackok
        if tool.timestamps:
            ticks = traits["ts_base"][h] + (seconds[m] * traits["ts_rate"][h]).astype(np.int64)
            tsval[m] = (ticks % 2**32).astype(np.uint32)
            has_ts[m] = True
        if tool.ip_id == "const":
            ip_id[m] = 54321
        elif tool.ip_id == "masscan":
            ip_id[m] = ((dst_ip[m].astype(np.int64) ^ dst_port[m].astype(np.int64) ^ seq[m].astype(np.int64))
                        & 0xFFFF).astype(np.uint16)
        elif tool.ip_id == "counter":
            ip_id[m] = ((traits["sport"][h] * 7 + np.arange(int(m.sum()))) & 0xFFFF).astype(np.uint16)
        if tool.src_port == "host":
            sport[m] = traits["sport"][h].astype(np.uint16)
        elif tool.src_port == "ephemeral_linux":
            sport[m] = rng.integers(32768, 61000, int(m.sum())).astype(np.uint16)
        elif tool.src_port == "ephemeral_windows":
            sport[m] = rng.integers(49152, 65536, int(m.sum())).astype(np.uint16)
    return {
        "src_port": sport,
        "ttl": ttl,
        "ip_id": ip_id,
        "tcp_seq": seq,
        "tcp_win": win,
        "ip_len": ip_len,
        "tcp_mss": (mss, has_mss),
        "tcp_wscale": (wscale, has_wscale),
        "tcp_sackok": sackok,
        "tcp_ts": (tsval, has_ts),
    }

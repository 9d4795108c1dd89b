"""Simulation profiles: the per-class targets of the papers and the behaviours that reproduce them.

``TABLE2`` holds the per-class figures of Table 2 of the temporal-GNN paper (labelled view, darknet,
TCP and hosts with at least ``MIN_PACKETS`` packets that day); ``HONEYPOT_TABLE1`` the darknet /
honeypot host counts of Table 1 of the stacking paper. A :class:`Behaviour` describes one group of
hosts (a labelled class, or one kind of unknown scanner); :func:`build_profile` turns the targets
into the behaviours of the ``paper`` and ``demo`` profiles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from darkstack.errors import ConfigError
from darkstack.schema import UNKNOWN

MIN_PACKETS = 5
"""A host counts on a day when it sent at least this many TCP packets that day (papers' filter)."""

PAPER_DAYS = 31
"""Length of the paper's month; lifetimes are derived from month vs daily host counts over it."""


@dataclass(frozen=True)
class Target:
    """Per-class figures of the labelled view: hosts in the month, and daily averages."""

    month_hosts: int
    daily_hosts: float
    daily_ports: float
    daily_packets: float


TABLE2: dict[str, Target] = {
    "mirai": Target(16_147, 2_158, 95, 63_942),
    "bruteforcer": Target(976, 246, 1_020, 328_747),
    "spammer": Target(1_014, 252, 7_048, 157_785),
    "shadowserver": Target(289, 287, 38, 7_046),
    "driftnet": Target(252, 252, 2_247, 18_221),
    "internetcensus": Target(271, 224, 234, 6_900),
    "censys": Target(329, 245, 12_455, 109_706),
    "rapid7": Target(344, 283, 25, 6_046),
    "onyphe": Target(115, 97, 158, 1_393),
    "netsystems": Target(45, 43, 191, 8_391),
    "shodan": Target(36, 31, 1_007, 10_350),
    "exploiter": Target(430, 27, 8, 4_780),
    "securitytrails": Target(18, 17, 15, 3_478),
    "intrinsec": Target(12, 9, 6, 303),
    # Not in Table 2 (they appear only in the stacking paper): sized from its Table 1 (host-days / 11).
    "ipip": Target(20, 12, 40, 900),
    "umich": Target(5, 3, 10, 300),
    UNKNOWN: Target(39_828, 3_594, 49_461, 1_279_188),
}
"""Temporal-GNN paper, Table 2 (ipip and umich: our estimate from the stacking paper's Table 1)."""

TABLE2_TOTAL = Target(60_106, 7_566, 53_638, 2_000_968)

HONEYPOT_TABLE1: dict[str, tuple[int, int, int]] = {
    "mirai": (76_176, 92_077, 62_955),
    "spammer": (5_395, 6_615, 4_189),
    "shadowserver": (3_074, 3_074, 3_074),
    "driftnet": (2_772, 3_456, 2_772),
    "internetcensus": (2_400, 2_404, 2_395),
    "bruteforcer": (2_618, 18_194, 2_223),
    "censys": (1_210, 1_510, 1_210),
    "rapid7": (1_255, 1_267, 1_201),
    "onyphe": (728, 829, 725),
    "shodan": (295, 315, 292),
    "securitytrails": (162, 162, 162),
    "ipip": (132, 202, 132),
    "exploiter": (111, 895, 91),
    "intrinsec": (56, 149, 54),
    "umich": (30, 42, 30),
    UNKNOWN: (47_093, 62_212, 34_809),
}
"""Stacking paper, Table 1: host-days on the darknet D, the honeypots H, and both (D ∩ H)."""

ORG_DOMAINS = {
    "shadowserver": "shadowserver.org",
    "driftnet": "driftnet.io",
    "internetcensus": "internet-census.org",
    "censys": "censys.io",
    "rapid7": "rapid7.com",
    "onyphe": "onyphe.io",
    "netsystems": "netsystemsresearch.com",
    "shodan": "shodan.io",
    "securitytrails": "securitytrails.com",
    "intrinsec": "intrinsec.com",
    "ipip": "ipip.net",
    "umich": "umich.edu",
}
"""Acknowledged scanner organisations (class → domain used in the ipset export)."""

# Port lists shared by several behaviours.
MIRAI_PORTS = (23, 2323, 80, 8080, 5555, 37215, 52869, 81, 8081, 7547, 2222, 22, 88, 8443, 60001, 9000,
               5358, 8000, 49152, 1023, 8888, 6789, 26, 2480, 5500)
MIRAI_WEIGHTS = (60, 7, 4, 3, 3, 2.5, 2, 1.5, 1.2, 1.5, 1, 1, 1, 1, 0.6, 0.6, 0.5, 0.5, 0.4, 0.5, 0.4, 0.3,
                 0.3, 0.3, 0.3)
BRUTE_PORTS = (22, 23, 3389, 445, 2222, 1433, 3306, 5900, 21, 5432, 110, 143, 2323, 8022, 22222, 3390, 139,
               1521, 6379, 5985)
BRUTE_WEIGHTS = (30, 10, 18, 9, 5, 5, 4, 4, 3, 2, 1, 1, 2, 1, 1, 1, 1, 0.5, 0.5, 0.5)
SPAM_PORTS = (25, 587, 465, 2525, 26, 110, 143, 993, 995, 24, 2526, 1025)
SPAM_WEIGHTS = (50, 20, 12, 4, 2, 2, 2, 1.5, 1.5, 1, 0.5, 0.5)
EXPLOIT_PORTS = (80, 8080, 443, 7001, 8443, 9200, 6379, 2375, 8088)
EXPLOIT_WEIGHTS = (12, 10, 5, 3, 2, 1.5, 1, 1, 0.7)
SERVICE_PORTS = (80, 443, 22, 21, 23, 25, 8080, 3389, 445, 110, 143, 993, 995, 587, 465, 1433, 3306, 5432,
                 5900, 6379, 9200, 11211, 27017, 502, 102, 1883, 8443, 2375, 5060, 1723, 631, 8081, 5000,
                 8888, 9000, 7547, 179, 389, 636, 3128, 5672, 6443, 10250, 2049, 111, 135, 139, 873, 1521,
                 8000, 8008, 9090, 2323, 20000, 44818, 47808, 4786, 5222, 9100, 554)
"""Common service ports scanned by the acknowledged scanners (vertical strategies draw from it)."""
POPULAR_PORTS = (80, 443, 8080, 22, 23, 3389, 445, 1433, 3306, 5900, 6379, 2375, 9200, 5555, 81, 8000, 8888,
                 8443, 21, 25, 139, 135, 1723, 5060, 7547, 37215, 52869, 2323, 9000, 5432, 8081, 10000,
                 11211, 27017, 2222, 6001, 7001, 9090, 3000, 5000)


@dataclass(frozen=True)
class Behaviour:
    """One group of simulated hosts with a common way of scanning.

    Counts are *true* (before partial labelling): ``daily_hosts`` hosts of this behaviour are active
    on the darknet on an average day (alive ``lifetime_days`` on average, present on a share
    ``presence`` of those days). Darknet packets per host-day are ``min_packets`` plus a log-normal
    part with mean ``packets_per_host - min_packets`` (host level ``host_sigma``, day level
    ``day_sigma``), at most ``max_packets``.

    Ports: a share ``core_share`` of packets go to ``core_ports`` (weights ``core_weights``, drifting
    by ``drift``), each host using ``ports_per_host`` of them; the rest to a tail pool of
    ``tail_ports`` ports (``tail_space="wide"``: the unknowns' shared pool), a share ``drift`` of it
    redrawn daily. ``coordinated`` hosts split the core list and deal the pool out between them.

    Fingerprint and labels: ``tools`` (with ``tool_weights``, see fingerprints.TOOLS); ``org``
    (published blocks, own window) or ``org_groups`` unlisted organisations; ``labelled_share`` of the
    hosts is published (Mirai: carries the fingerprint when ``mirai_fingerprint``); ``rhythm`` =
    (start hour, hours) of the daily activity window, else random per host.

    Other traffic: ``backscatter`` turns SYNs into SYN-ACK/RST replies; ``non_tcp_share`` adds UDP/ICMP;
    on the honeypot, a share ``honeypot_share`` of the hosts plus ``honeypot_only`` × as many
    honeypot-only hosts open ``honeypot_sessions`` sessions a day and do ``honeypot_action``
    (scan, login, mail, exploit). ``first_day``: no host is active before this day of the run
    (clipped to the last day; coordinated campaigns, :func:`campaign_behaviours`).
    """

    name: str
    label: str
    daily_hosts: float
    lifetime_days: float
    presence: float
    packets_per_host: float
    host_sigma: float = 1.0
    day_sigma: float = 0.4
    min_packets: int = MIN_PACKETS
    core_ports: tuple[int, ...] = ()
    core_weights: tuple[float, ...] = ()
    core_share: float = 1.0
    ports_per_host: int = 1
    coordinated: bool = False
    tail_ports: int = 0
    tail_space: str = "all"
    drift: float = 0.2
    tools: tuple[str, ...] = ("linux",)
    tool_weights: tuple[float, ...] = (1.0,)
    labelled_share: float = 0.0
    org: str | None = None
    org_groups: int = 0
    rhythm: tuple[float, float] | None = None
    honeypot_share: float = 0.5
    honeypot_only: float = 0.0
    honeypot_sessions: float = 8.0
    mirai_fingerprint: bool = False
    max_packets: int = 1_000_000
    backscatter: bool = False
    non_tcp_share: float = 0.09
    honeypot_action: str = "scan"
    first_day: int = 0


@dataclass(frozen=True)
class Profile:
    """Everything the simulator draws from: behaviours plus sensor-level settings."""

    name: str
    behaviours: tuple[Behaviour, ...]
    darknet_prefix: str = "203.0.113.0/24"
    honeypot_addresses: tuple[str, ...] = ("198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13")
    wide_pool: int = 48_000
    packet_scale: float = 1.0
    scale: float = 1.0

    def to_json(self) -> dict:
        return asdict(self)


def churn(month_hosts: float, daily_hosts: float) -> tuple[float, float]:
    """(mean lifetime in days, daily presence while alive) matching month vs daily host counts.

    Stationary births with geometric lifetimes give ``month = daily * (1 + (T-1)/lifetime)``;
    classes seen almost every day (month/daily < 1.5) are persistent hosts present on a share of days.
    """
    ratio = month_hosts / daily_hosts
    if ratio < 1.5:
        return 1e6, min(1.0, daily_hosts / month_hosts)
    return (PAPER_DAYS - 1) / (ratio - 1), 1.0


def _known(name: str, labelled_share: float, **kw) -> Behaviour:
    """A labelled class sized so its labelled part matches Table 2."""
    t = TABLE2[name]
    lifetime, presence = churn(t.month_hosts, t.daily_hosts)
    d, h, both = HONEYPOT_TABLE1.get(name, (1, 1, 1))  # netsystems is not in Table 1: same hosts on both
    if kw.get("coordinated") and kw.get("tail_ports"):
        # Coordinated hosts split the pool: the labelled ones cover their share of it.
        kw["tail_ports"] = round(kw["tail_ports"] / labelled_share)
    return Behaviour(
        name=name,
        label=name,
        daily_hosts=t.daily_hosts / labelled_share,
        lifetime_days=lifetime,
        presence=presence,
        packets_per_host=t.daily_packets / t.daily_hosts,
        labelled_share=labelled_share,
        org=ORG_DOMAINS.get(name),
        honeypot_share=both / d,
        honeypot_only=(h - both) / d,
        **kw,
    )


ZMAP, MASSCAN, NMAP = ("zmap",), ("masscan",), ("nmap",)


def paper_behaviours() -> tuple[Behaviour, ...]:
    """Behaviours of the paper profile (labelled classes calibrated to Table 2, then unknowns)."""
    known = (
        _known("mirai", 0.88, core_ports=MIRAI_PORTS, core_weights=MIRAI_WEIGHTS, core_share=0.97,
               ports_per_host=2, tail_ports=70, drift=0.5, tools=("mirai",), host_sigma=0.7, day_sigma=0.4,
               mirai_fingerprint=True, honeypot_sessions=8, non_tcp_share=0.0, honeypot_action="login"),
        _known("bruteforcer", 0.7, core_ports=BRUTE_PORTS, core_weights=BRUTE_WEIGHTS, core_share=0.75,
               ports_per_host=2, tail_ports=1_000, drift=0.3, tools=("linux", "windows", "nmap"),
               tool_weights=(0.6, 0.25, 0.15), host_sigma=1.1, honeypot_sessions=120, non_tcp_share=0.0,
               honeypot_action="login"),
        _known("spammer", 0.72, core_ports=SPAM_PORTS, core_weights=SPAM_WEIGHTS, core_share=0.5,
               ports_per_host=3, tail_ports=7_000, drift=0.4, tools=("linux", "masscan", "windows"),
               tool_weights=(0.5, 0.3, 0.2), host_sigma=1.1, honeypot_sessions=30, non_tcp_share=0.0,
               honeypot_action="mail"),
        _known("exploiter", 0.65, core_ports=EXPLOIT_PORTS, core_weights=EXPLOIT_WEIGHTS, core_share=1.0,
               ports_per_host=2, drift=0.5, tools=("linux", "nmap", "bsd"), tool_weights=(0.6, 0.3, 0.1),
               host_sigma=0.9, honeypot_sessions=25, non_tcp_share=0.0, honeypot_action="exploit"),
        _known("shadowserver", 0.9, core_ports=SERVICE_PORTS[:40], core_share=1.0, ports_per_host=1,
               coordinated=True, tools=ZMAP, rhythm=(1.0, 6.0), host_sigma=0.5, day_sigma=0.3,
               honeypot_sessions=8, non_tcp_share=0.15),
        _known("driftnet", 0.85, core_ports=SERVICE_PORTS[:10], core_share=0.1, ports_per_host=2,
               coordinated=True, tail_ports=2_240, drift=0.15, tools=MASSCAN, rhythm=(0.0, 24.0),
               host_sigma=0.4, day_sigma=0.3, honeypot_sessions=8, non_tcp_share=0.02),
        _known("internetcensus", 0.85, core_ports=SERVICE_PORTS[:20], core_share=0.3, ports_per_host=2,
               coordinated=True, tail_ports=215, drift=0.1, tools=MASSCAN, rhythm=(8.0, 10.0), host_sigma=0.4,
               day_sigma=0.3, honeypot_sessions=8, non_tcp_share=0.05),
        _known("censys", 0.8, core_ports=SERVICE_PORTS[:30], core_share=0.2, ports_per_host=5, coordinated=True,
               tail_ports=12_400, drift=0.3, tools=ZMAP, rhythm=(0.0, 24.0), host_sigma=0.6, day_sigma=0.3,
               honeypot_sessions=10, non_tcp_share=0.05),
        _known("rapid7", 0.85, core_ports=SERVICE_PORTS[:25], core_share=1.0, ports_per_host=1, coordinated=True,
               drift=0.1, tools=ZMAP, rhythm=(12.0, 8.0), host_sigma=0.5, day_sigma=0.3, honeypot_sessions=8,
               non_tcp_share=0.05),
        _known("onyphe", 0.8, core_ports=SERVICE_PORTS[:30], core_share=0.3, ports_per_host=2, coordinated=True,
               tail_ports=130, drift=0.2, tools=MASSCAN, rhythm=(18.0, 5.0), host_sigma=0.3, day_sigma=0.3,
               honeypot_sessions=7, non_tcp_share=0.0),
        _known("netsystems", 0.85, core_ports=SERVICE_PORTS[:40], core_share=0.3, ports_per_host=4,
               coordinated=True, tail_ports=155, drift=0.2, tools=MASSCAN, rhythm=(3.0, 12.0), host_sigma=0.5,
               day_sigma=0.3, honeypot_sessions=8, non_tcp_share=0.0),
        _known("shodan", 0.8, core_ports=SERVICE_PORTS, core_share=0.3, ports_per_host=10, coordinated=True,
               tail_ports=950, drift=0.3, tools=NMAP, rhythm=(0.0, 24.0), host_sigma=0.5, day_sigma=0.3,
               honeypot_sessions=12, non_tcp_share=0.05),
        _known("securitytrails", 0.85, core_ports=SERVICE_PORTS[:15], core_share=1.0, ports_per_host=4,
               coordinated=True, drift=0.1, tools=("linux",), rhythm=(6.0, 4.0), host_sigma=0.4, day_sigma=0.3,
               honeypot_sessions=8, non_tcp_share=0.0),
        _known("intrinsec", 0.75, core_ports=(80, 443, 8080, 8443, 22, 21), core_share=1.0, ports_per_host=3,
               coordinated=True, drift=0.0, tools=NMAP, rhythm=(9.0, 8.0), host_sigma=0.4, day_sigma=0.3,
               honeypot_sessions=7, non_tcp_share=0.0),
        _known("ipip", 0.8, core_ports=SERVICE_PORTS[:40], core_share=1.0, ports_per_host=4, coordinated=True,
               drift=0.2, tools=ZMAP, rhythm=(14.0, 6.0), host_sigma=0.4, day_sigma=0.3, honeypot_sessions=8,
               non_tcp_share=0.0),
        _known("umich", 0.8, core_ports=SERVICE_PORTS[:10], core_share=1.0, ports_per_host=3, coordinated=True,
               drift=0.0, tools=ZMAP, rhythm=(20.0, 3.0), host_sigma=0.3, day_sigma=0.3, honeypot_sessions=7,
               non_tcp_share=0.0),
    )
    u = HONEYPOT_TABLE1[UNKNOWN]
    hp = {"honeypot_share": u[2] / u[0] * 0.9, "honeypot_only": (u[1] - u[2]) / u[0]}
    unknown = (
        Behaviour("unk_horizontal", UNKNOWN, 150, 2.0, 1.0, 2_500, host_sigma=1.3, core_ports=POPULAR_PORTS,
                  core_share=0.05, ports_per_host=3, coordinated=True, tail_space="wide",
                  tools=("masscan", "zmap", "nmap", "linux"), tool_weights=(0.4, 0.3, 0.2, 0.1),
                  honeypot_sessions=10, **hp),
        Behaviour("unk_scanner_org", UNKNOWN, 300, 20.0, 0.85, 60, host_sigma=1.0, core_ports=SERVICE_PORTS,
                  core_share=0.7, ports_per_host=3, tail_ports=3_000, tools=("zmap", "masscan", "nmap"),
                  tool_weights=(0.45, 0.4, 0.15), org_groups=20, honeypot_sessions=8, **hp),
        Behaviour("unk_exploit_like", UNKNOWN, 60, 2.0, 1.0, 150, host_sigma=0.9, core_ports=EXPLOIT_PORTS,
                  core_weights=EXPLOIT_WEIGHTS, ports_per_host=2, drift=0.5, tools=("linux", "nmap", "bsd"),
                  tool_weights=(0.6, 0.3, 0.1), honeypot_sessions=20, honeypot_action="exploit", **hp),
        Behaviour("unk_vertical", UNKNOWN, 1_490, 2.5, 1.0, 120, host_sigma=1.4, core_ports=POPULAR_PORTS,
                  core_share=1.0, ports_per_host=2, drift=0.4,
                  tools=("linux", "windows", "masscan", "zmap", "nmap", "bsd"),
                  tool_weights=(0.3, 0.15, 0.2, 0.15, 0.15, 0.05), honeypot_sessions=8, **hp),
        Behaviour("unk_bruteforce_like", UNKNOWN, 150, 5.0, 1.0, 1_000, host_sigma=1.2, core_ports=BRUTE_PORTS,
                  core_weights=BRUTE_WEIGHTS, core_share=0.9, ports_per_host=2, tail_ports=500,
                  tools=("linux", "windows"), tool_weights=(0.7, 0.3), honeypot_sessions=60, honeypot_action="login",
                  **hp),
        Behaviour("unk_spam_like", UNKNOWN, 80, 5.0, 1.0, 600, host_sigma=1.2, core_ports=SPAM_PORTS,
                  core_weights=SPAM_WEIGHTS, core_share=0.7, ports_per_host=2, tail_ports=3_000,
                  tools=("linux", "windows", "masscan"), tool_weights=(0.5, 0.3, 0.2), honeypot_sessions=20, honeypot_action="mail",
                  **hp),
        Behaviour("unk_iot", UNKNOWN, 250, 4.0, 1.0, 30, host_sigma=0.8, core_ports=MIRAI_PORTS,
                  core_weights=MIRAI_WEIGHTS, core_share=1.0, ports_per_host=2, drift=0.5,
                  tools=("linux", "bsd", "masscan"), tool_weights=(0.6, 0.2, 0.2), honeypot_sessions=8,
                  honeypot_action="login", **hp),
        Behaviour("unk_backscatter", UNKNOWN, 270, 1.5, 1.0, 800, host_sigma=1.5, core_share=0.0,
                  tail_space="wide", tools=("linux", "windows"), tool_weights=(0.6, 0.4), backscatter=True,
                  honeypot_share=0.0, honeypot_only=0.0, non_tcp_share=0.0),
        Behaviour("unk_noise", UNKNOWN, 4_000, 1.0, 1.0, 2, min_packets=1, max_packets=MIN_PACKETS - 1,
                  host_sigma=0.5, day_sigma=0.0, core_ports=POPULAR_PORTS, core_share=0.6, tail_space="wide",
                  tools=("linux", "windows", "masscan", "zmap", "mirai"), tool_weights=(0.3, 0.2, 0.2, 0.2, 0.1),
                  honeypot_share=0.3, honeypot_only=1.0, honeypot_sessions=2, non_tcp_share=0.3),
    )
    return known + unknown


DEMO_DAILY_LABELLED = {
    "mirai": 300, "bruteforcer": 40, "spammer": 40, "exploiter": 20, "shadowserver": 40, "driftnet": 35,
    "internetcensus": 30, "censys": 35, "rapid7": 40, "onyphe": 20, "netsystems": 18, "shodan": 18,
    "securitytrails": 15, "intrinsec": 8, "ipip": 15, "umich": 6,
}
"""Demo profile: labelled active hosts per day (at least ~15 per class except the tiniest)."""
DEMO_UNKNOWN_SHARE = 0.16
DEMO_PACKET_SCALE = 0.4


DEMO_KEEP_PACKETS = 60.0
DEMO_KEEP_SESSIONS = 10.0
"""Demo: per-host packet (session) rates up to these are kept; only the part above is scaled down."""


def _scaled(b: Behaviour, hosts: float, packets: float) -> Behaviour:
    def shrink(rate: float, keep: float) -> float:
        return rate if rate <= keep else keep + (rate - keep) * packets

    rate = shrink(b.packets_per_host, DEMO_KEEP_PACKETS)
    sessions = shrink(b.honeypot_sessions, DEMO_KEEP_SESSIONS)
    return replace(b, daily_hosts=b.daily_hosts * hosts, packets_per_host=rate, honeypot_sessions=sessions)


CAMPAIGN_HOSTS = 40
"""Hosts of one coordinated campaign (all active every day from the day it appears)."""
CAMPAIGN_PORTS = 3
CAMPAIGN_TOOLS = ("zmap", "masscan", "nmap")
MAX_CAMPAIGNS = 50


def campaign_behaviours(count: int) -> tuple[Behaviour, ...]:
    """``count`` coordinated campaigns of unlisted hosts: the NovTrack-style senders discovery should find.

    Campaign ``k`` (``unk_campaign<k>``) is ``CAMPAIGN_HOSTS`` hosts in unlisted space that appear together
    on day ``k + 1`` and stay; they run one tool with one configuration (one window, one hop count:
    ``org_groups=1``), probe the same ``CAMPAIGN_PORTS`` rare ports (above 10000, fixed per ``k``) at
    similar rates, inside one 3-hour window of the day. Darknet only, never labelled.
    """
    out = []
    for k in range(count):
        ports = tuple(int(p) for p in np.random.default_rng([7, k]).choice(np.arange(10_000, 60_000), CAMPAIGN_PORTS,
                                                                           replace=False))
        out.append(Behaviour(
            f"unk_campaign{k}", UNKNOWN, CAMPAIGN_HOSTS, 1e6, 1.0, 40, host_sigma=0.3, day_sigma=0.2,
            core_ports=ports, ports_per_host=CAMPAIGN_PORTS, drift=0.0, tools=(CAMPAIGN_TOOLS[k % 3],),
            org_groups=1, rhythm=(float(5 * k % 24), 3.0), honeypot_share=0.0, non_tcp_share=0.0, first_day=k + 1,
        ))
    return tuple(out)


PAPER_PREFIX_LEN = 24
"""The papers' telescope: a /24 darknet; every profile is calibrated for it."""
MIN_PREFIX_LEN = 8
TELESCOPE_NETWORK = "44.0.0.0"
"""Network of a telescope larger than the /24 (44.0.0.0/8 was UCSD-NT's /8); its addresses are never sources."""
HOST_EXPONENT = 0.45
"""Growth of the active hosts of random scanners with the address space: ×(2^(24 − p))^HOST_EXPONENT at /p.

A host scanning random addresses at a rate λ (packets a /24 receives) sends λ·2^(24 − p) packets to a /p; with a
power-law tail of rates, N(rate ≥ λ) ∝ λ^−a, the hosts reaching the 5-packet filter grow as (2^(24 − p))^a. a = 0.45
grows them ×12 at /16 and ×150 at /8 (docs/simulator.md § Telescope size: an assumption, not a calibration on a
real /16)."""


def sweeps(b: Behaviour) -> bool:
    """Organisations (acknowledged or not) sweep the whole IPv4 space from a fixed set of hosts: a /24 sees all of them."""
    return b.org is not None or b.org_groups > 0


def telescope(profile: Profile, prefix_len: int) -> Profile:
    """The profile as a /``prefix_len`` darknet sees it instead of the papers' /24 (docs/simulator.md § Telescope size).

    With r = 2^(24 − prefix_len) times the addresses: sweeping organisations keep their hosts and send r× the
    packets; random scanners, bots and backscatter (DoS victims answering spoofed sources spread over IPv4) have
    r^HOST_EXPONENT× the hosts and r^(1 − HOST_EXPONENT)× the packets per host (r× in all); below-filter noise
    r^HOST_EXPONENT× the hosts at its 1–4 packets. The honeypot farm does not grow: its host shares are divided
    by the hosts' growth, so it sees as many hosts as at /24.
    """
    if not isinstance(prefix_len, int) or not (MIN_PREFIX_LEN <= prefix_len <= PAPER_PREFIX_LEN):
        raise ConfigError(f"--prefix-len must be an integer between {MIN_PREFIX_LEN} and {PAPER_PREFIX_LEN}, "
                          f"not {prefix_len!r}")
    if prefix_len == PAPER_PREFIX_LEN:
        return profile
    r = 2.0 ** (PAPER_PREFIX_LEN - prefix_len)
    grown = []
    for b in profile.behaviours:
        hosts = 1.0 if sweeps(b) else r ** HOST_EXPONENT
        rate = 1.0 if b.max_packets < MIN_PACKETS else r / hosts
        grown.append(replace(b, daily_hosts=b.daily_hosts * hosts, packets_per_host=b.packets_per_host * rate,
                             honeypot_share=b.honeypot_share / hosts, honeypot_only=b.honeypot_only / hosts))
    return replace(profile, behaviours=tuple(grown), darknet_prefix=f"{TELESCOPE_NETWORK}/{prefix_len}")


def build_profile(name: str, scale: float | None = None, campaigns: int = 0,
                  prefix_len: int = PAPER_PREFIX_LEN) -> Profile:
    """The named profile (``paper`` or ``demo``); ``scale`` multiplies its host numbers (so its volume).

    ``campaigns`` adds that many coordinated campaigns (:func:`campaign_behaviours`) after the profile's
    behaviours; 0 (every profile's default) leaves the world exactly as before. ``prefix_len`` is the
    darknet's size (:func:`telescope`; 24, the papers', leaves the profile as it is).
    """
    if scale is not None and not (0 < scale <= 10):
        raise ConfigError(f"scale must be in (0, 10], not {scale}")
    if not (0 <= campaigns <= MAX_CAMPAIGNS):
        raise ConfigError(f"campaigns must be between 0 and {MAX_CAMPAIGNS}, not {campaigns}")
    s = 1.0 if scale is None else float(scale)
    behaviours = paper_behaviours()
    if name == "paper":
        profile = Profile("paper", behaviours)
    elif name == "demo":
        demo = []
        for b in behaviours:
            if b.label == UNKNOWN:
                factor = DEMO_UNKNOWN_SHARE
            else:
                factor = DEMO_DAILY_LABELLED[b.name] / TABLE2[b.name].daily_hosts
            demo.append(_scaled(b, factor, DEMO_PACKET_SCALE))
        profile = Profile("demo", tuple(demo), wide_pool=6_000, packet_scale=DEMO_PACKET_SCALE)
    else:
        raise ConfigError(f"unknown profile {name!r} (choose paper or demo)")
    if campaigns:
        profile = replace(profile, behaviours=profile.behaviours + campaign_behaviours(campaigns))
    if s != 1.0:
        profile = replace(profile, behaviours=tuple(replace(b, daily_hosts=b.daily_hosts * s)
                                                    for b in profile.behaviours),
                          scale=s)
    return telescope(profile, prefix_len)

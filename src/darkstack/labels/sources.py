"""Label source files → rows (network, prefix_len, raw label, validity), one reader per format.

Formats: CSV with an address column (``ip``/``src_ip``/``address``/``network``/``cidr``, a single
address or a CIDR) and a label column (``label``/``class``), optionally ``first_day``/``last_day``
(or ``valid_from``/``valid_to``); ipset restore files (``add <set> <cidr>``, the set name is the
organisation); MISP warning lists (JSON with ``name`` and ``list``). Any of them plain, gzip, bz2 or xz
(told by the magic bytes, as ``ingest`` does).

In a workspace that holds a token table (traces whose addresses are tokens, ``darkstack.ingest.tokens``),
a CSV address that is a source token seen in the traffic (``src_ipaddr0``) maps to the same address.
OpenFilters folders (one list per organisation) are read by :mod:`darkstack.labels.openfilters`.

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

import pyarrow as pa

from darkstack.errors import ConfigError, InputFormatError
from darkstack.ingest.batch import read_bytes
from darkstack.ingest.tokens import TokenMap, is_token
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
    snapshot: dt.date | None = None
    """The date of a dated snapshot (OpenFilters folder): its rows are valid from it until the next snapshot."""
    from_tokens: int = 0
    """Rows whose address was a token of the workspace's token table."""

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


def parse_address(text: str) -> ipaddress.IPv4Interface | None:
    """``a.b.c.d`` or ``a.b.c.d/n`` (host bits allowed), or None."""
    try:
        return ipaddress.IPv4Interface(text.strip())
    except ValueError:
        return None


def read_text(path: Path) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError("not UTF-8 text (nor gzip, bz2 or xz)", path) from exc


def read_source(path: str | Path, strict: bool = False, tokens: TokenMap | None = None) -> SourceRows:
    """Read one label file, the format told from its content; ``strict`` refuses addresses with host bits.

    ``tokens``: the workspace's token table, through which CSV addresses that are tokens map.
    """
    path = Path(path)
    text = read_text(path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if text.lstrip().startswith("{"):
        rows = read_misp(path, text)
    elif first.split(" ", 1)[0] in ("create", "add"):
        rows = read_ipset(path, text)
    else:
        rows = read_csv(path, text, tokens)
    if strict:
        refuse_host_bits(rows, path)
    return rows


def refuse_host_bits(rows: SourceRows, path: Path) -> None:
    """The ``strict`` rule: one error line when any address has host bits set under its prefix."""
    if rows.host_bits:
        many = f"{rows.host_bits} addresses have" if rows.host_bits > 1 else "1 address has"
        raise InputFormatError(f"{many} host bits set under the prefix ({'; '.join(rows.host_bit_examples)}); "
                               "write the network address, or leave out --strict / labels.strict", path)


def _name(path: Path) -> str:
    """The source's name: the file stem, a compression suffix removed first (``gt.csv.gz`` → ``gt``)."""
    return Path(path.stem).stem if path.suffix.lower() in (".gz", ".bz2", ".xz") else path.stem


def _token_addresses(texts: list[str], tokens: TokenMap | None) -> dict[str, ipaddress.IPv4Interface]:
    """Address texts that are source tokens of ``tokens`` → their mapped address (as a /32)."""
    if tokens is None or not texts:
        return {}
    candidates = pa.array(sorted(set(texts)), pa.string())
    candidates = candidates.filter(pa.array(is_token(candidates)))
    ips, found = tokens.lookup(candidates)
    return {name: ipaddress.IPv4Interface(int(ip)) for name, ip, ok in zip(candidates.to_pylist(), ips, found) if ok}


def read_csv(path: Path, text: str, tokens: TokenMap | None = None) -> SourceRows:
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
    records = [(reader.line_num, record) for record in reader if any(c.strip() for c in record)]
    mapped = _token_addresses([r[ai].strip() for _, r in records if len(r) == len(header)], tokens)
    for line, record in records:
        where = f"line {line}"
        if len(record) != len(header):
            rows.skip(SKIP_FIELDS, where, ",".join(record))
            continue
        address = parse_address(record[ai])
        via_token = address is None and record[ai].strip() in mapped
        if via_token:
            address = mapped[record[ai].strip()]
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
        rows.from_tokens += via_token
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
        address = parse_address(parts[2])
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
        address = parse_address(entry) if isinstance(entry, str) else None
        if address is None:
            rows.skip(SKIP_MISP_ENTRY, where, str(entry))
            continue
        rows.add(address, obj["name"], where)
    return rows

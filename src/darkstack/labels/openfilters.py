"""OpenFilters-style label folders: one CIDR list per organisation, in dated snapshots.

Layout (OpenFilters/internet-scanners): ``<name>_<YYYY-MM-DD>/cidr/<org>_v4.txt`` and ``<org>_v6.txt``,
one CIDR a line. Accepted: a snapshot folder, its ``cidr/`` folder, or a folder of snapshot folders.
The organisation is the file name before ``_v4``/``_v6`` (it goes through the organisation map like an
ipset set name); the snapshot's date, from its folder name, is the rows' validity start, and
:func:`chain` ends each snapshot the day before the next one given, so a host's label on a day is the
one of the snapshot in force that day (scanners move address ranges between snapshots).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path

from darkstack.errors import InputFormatError
from darkstack.labels.sources import SKIP_ADDRESS, SourceRows, parse_address, read_text

LIST_NAME = re.compile(r"^(?P<org>.+)_v(?P<version>[46])\.txt$", re.IGNORECASE)
SNAPSHOT_DAY = re.compile(r"(?:^|[_-])(\d{4}-\d{2}-\d{2})$")
SKIP_IPV6 = "IPv6 network (darkstack labels IPv4 hosts)"


def _lists(folder: Path) -> list[Path]:
    """The ``<org>_v4.txt`` / ``<org>_v6.txt`` files directly in ``folder`` (sorted; none if it is no folder)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and LIST_NAME.match(p.name))


def _list_folder(folder: Path) -> Path | None:
    """Where a snapshot's lists are: ``folder/cidr``, else ``folder`` itself, else None."""
    return next((f for f in (folder / "cidr", folder) if _lists(f)), None)


def snapshot_folders(path: Path) -> list[Path]:
    """The folders holding one snapshot's lists under ``path`` (empty when ``path`` is no OpenFilters folder)."""
    own = _list_folder(path)
    if own is not None:
        return [own]
    subfolders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [lists for lists in map(_list_folder, subfolders) if lists is not None]


def _snapshot_folder(lists: Path) -> Path:
    """The folder that names the snapshot: the parent of a ``cidr/`` folder, else the lists' own folder."""
    return lists.parent if lists.name == "cidr" else lists


def snapshot_day(lists: Path, default: dt.date | None) -> dt.date | None:
    """The date in the snapshot folder's name (``openfilters_2025-11-20``), else ``default``."""
    named = _snapshot_folder(lists)
    found = SNAPSHOT_DAY.search(named.name)
    if found is None:
        return default
    try:
        return dt.date.fromisoformat(found.group(1))
    except ValueError as exc:
        raise InputFormatError(f"bad date in the snapshot folder's name ({exc})", named) from exc


def read_openfilters(path: Path, snapshot_date: dt.date | None = None) -> list[SourceRows]:
    """One :class:`SourceRows` per snapshot under ``path``, oldest first; ``snapshot_date`` dates undated folders."""
    folders = snapshot_folders(path)
    if not folders:
        raise InputFormatError("a folder, but not an OpenFilters label folder (no <org>_v4.txt lists in it, "
                               "in its cidr/ folder or in its subfolders' cidr/ folders)", path)
    snapshots = [read_snapshot(lists, snapshot_day(lists, snapshot_date)) for lists in folders]
    return sorted(snapshots, key=lambda rows: rows.snapshot or dt.date.min)


def read_snapshot(lists: Path, day: dt.date | None) -> SourceRows:
    """The lists of one snapshot: every IPv4 CIDR labelled with its file's organisation, valid from ``day``."""
    rows = SourceRows(_snapshot_folder(lists).name, snapshot=day)
    for file in _lists(lists):
        org = LIST_NAME.match(file.name).group("org")
        for number, line in enumerate(read_text(file).splitlines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{file.name} line {number}"
            address = parse_address(text)
            if address is None:
                rows.skip(SKIP_IPV6 if _is_ipv6(text) else SKIP_ADDRESS, where, text)
                continue
            rows.add(address, org, where, day)
    return rows


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        return False
    return True


def chain(sources: list[SourceRows], backdate_first: bool = False) -> None:
    """End each dated snapshot the day before the next later one; ``backdate_first`` opens the earliest's start."""
    dated = sorted((rows for rows in sources if rows.snapshot is not None), key=lambda rows: rows.snapshot)
    for rows in dated:
        following = next((later.snapshot for later in dated if later.snapshot > rows.snapshot), None)
        if following is not None:
            rows.valid_to = [following - dt.timedelta(days=1)] * len(rows.network)
    if backdate_first and dated:
        first = dated[0].snapshot
        for rows in dated:
            if rows.snapshot == first:
                rows.valid_from = [None] * len(rows.network)

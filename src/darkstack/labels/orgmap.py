"""Organisation / label name → class, from an editable CSV (``pattern,class``; '#' starts a comment)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from darkstack.errors import DarkstackError

DEFAULT_ORG_MAP = Path(__file__).resolve().parent.parent / "data" / "org_classes.csv"


class OrgMap:
    """Resolve a raw label: the whole name, else the first word of it that is a pattern, else the name itself.

    A name that matches nothing becomes a class of its own: lower case, a domain's suffix removed
    (``alphastrike.io`` → ``alphastrike``), spaces → ``_``.
    """

    def __init__(self, mapping: dict[str, str]):
        self.mapping = {k.strip().lower(): v.strip() for k, v in mapping.items()}

    @classmethod
    def load(cls, path: str | Path | None = None) -> OrgMap:
        where = DEFAULT_ORG_MAP if path is None else Path(path)
        try:
            text = where.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise DarkstackError(f"cannot read the organisation map ({exc})", where) from exc
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        rows = list(csv.reader(lines))
        if not rows or [c.strip().lower() for c in rows[0][:2]] != ["pattern", "class"]:
            raise DarkstackError("organisation map needs a header row 'pattern,class'", where)
        mapping = {}
        for i, row in enumerate(rows[1:], 2):
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise DarkstackError(f"organisation map row {i} is not 'pattern,class': {','.join(row)}", where)
            mapping[row[0]] = row[1]
        return cls(mapping)

    def resolve(self, name: str) -> tuple[str, bool]:
        """(class, mapped?) for a raw label."""
        key = name.strip().lower()
        if key in self.mapping:
            return self.mapping[key], True
        for word in re.split(r"[^a-z0-9_.-]+", key):
            if word in self.mapping:
                return self.mapping[word], True
        own = key
        if "." in own and " " not in own:
            own = own.rsplit(".", 1)[0]
        return re.sub(r"\s+", "_", own), False

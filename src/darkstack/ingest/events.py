"""Honeypot application events (``darkstack.schema.EVENT_SCHEMA``) built from what a reader decoded.

Readers collect one dict per logged event (keys of ``EVENT_SCHEMA`` but ``sensor``; ``ts`` in µs, addresses as
ints) and turn them into a table here, so every format gets the same cleaning: rows without a time or a source
address are dropped, unknown event kinds become ``other``, and attacker-written text is made valid UTF-8 and cut
to :data:`MAX_TEXT` characters (a logged command can be megabytes; the detail is for labels and analysts).
"""

from __future__ import annotations

import pyarrow as pa

from darkstack.schema import EVENT_KINDS, EVENT_SCHEMA

MAX_TEXT = 2048
TEXT_FIELDS = ("honeypot", "service", "event", "raw_event", "session", "username", "password", "detail")
_FIELDS = [f for f in EVENT_SCHEMA if f.name != "sensor"]


def clean_text(value) -> str | None:
    """Any logged value as valid UTF-8 text of at most ``MAX_TEXT`` characters (None stays None)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_TEXT].encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON escapes


def event_table(rows: list[dict]) -> pa.Table:
    """Rows (dicts of event fields) → an event table without the ``sensor`` column."""
    rows = [r for r in rows if r.get("ts") is not None and r.get("src_ip") is not None]
    for r in rows:
        if r.get("event") not in EVENT_KINDS:
            r["event"] = "other"
        for name in TEXT_FIELDS:
            r[name] = clean_text(r.get(name))
    arrays = {}
    for field in _FIELDS:
        values = [r.get(field.name) for r in rows]
        if field.name == "ts":
            arrays["ts"] = pa.array(values, pa.int64()).cast(field.type)
        else:
            arrays[field.name] = pa.array(values, field.type)
    return pa.table(arrays)

"""JSON-lines input (one object a line, plain or gzip): objects in bounded groups, bad lines counted."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from darkstack.errors import InputFormatError
from darkstack.ingest.batch import open_input, read_into

GROUP = 100_000
SKIP_NOT_JSON = "line is not valid JSON"
SKIP_NOT_OBJECT = "line is not a JSON object"


def json_objects(path: str | Path, group: int = GROUP) -> Iterator[tuple[list[dict], Counter]]:
    """Yield (objects, skips) groups; raises when the file holds no JSON object at all."""
    path = Path(path)
    objects: list[dict] = []
    skips: Counter = Counter()
    first_problem = None
    seen_object = False
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            skips[SKIP_NOT_JSON] += 1
            first_problem = first_problem or f"line {lineno}: {SKIP_NOT_JSON}"
            continue
        if not isinstance(obj, dict):
            skips[SKIP_NOT_OBJECT] += 1
            first_problem = first_problem or f"line {lineno}: {SKIP_NOT_OBJECT}"
            continue
        seen_object = True
        objects.append(obj)
        if len(objects) >= group:
            yield objects, skips
            objects, skips = [], Counter()
    if not seen_object:
        raise InputFormatError(first_problem or "empty file (no JSON line)", path)
    yield objects, skips


def _lines(path: Path) -> Iterator[bytes]:
    """Lines of ``path`` (bytes), read in bounded blocks."""
    with open_input(path) as fh:
        rest = b""
        while True:
            block = bytearray(8 << 20)
            got = read_into(fh, memoryview(block), path)
            data = rest + bytes(block[:got])
            if not got:
                if data:
                    yield data
                return
            lines = data.split(b"\n")
            rest = lines.pop()
            yield from lines

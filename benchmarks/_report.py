"""Shared by every benchmark: print figures and write them into BENCHMARKS.md, one section each.

Each benchmark owns the block between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; re-running
it replaces only that block. The block starts with the anchor ``bench-NAME`` that docs/*.md link to.
"""

from __future__ import annotations

import fcntl
import os
import platform
import resource
import time
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nFigures measured by the scripts in `benchmarks/`; each section says how to reproduce it.\n"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def peak_rss_gib() -> float:
    """Peak resident memory of this process and its waited-for children, GiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024**2


def read_section(name: str) -> str | None:
    """The text of section ``name`` of BENCHMARKS.md (between its markers), or None when it is absent."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else ""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0]


def write_section(name: str, markdown: str, *, write: bool = True) -> None:
    """Print ``markdown`` and, unless ``write`` is false (a script's ``--no-write``), store it as section ``name``
    of BENCHMARKS.md (locked read-modify-write)."""
    print(markdown)
    if not write:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = (
        f'<!-- bench:{name} -->\n<a id="bench-{name}"></a>\n\n{markdown.rstrip()}\n\n'
        f"_Measured {stamp} on {machine()}._\n<!-- /bench:{name} -->"
    )
    with open(BENCHMARKS_MD.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        tmp = BENCHMARKS_MD.with_suffix(".md.tmp")
        tmp.write_text(text)
        os.replace(tmp, BENCHMARKS_MD)

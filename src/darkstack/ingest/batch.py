"""What every reader yields (a batch of canonical rows plus counts), and opening input files."""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from darkstack.errors import DarkstackError, InputFormatError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Batch:
    """Rows decoded from part of one input file, with how many source records were read and skipped why.

    ``table`` has canonical column names (``darkstack.schema.PACKET_SCHEMA``) except the sensor columns.
    """

    table: pa.Table
    read: int
    skips: Counter = field(default_factory=Counter)


def read_into(fh: BinaryIO, view: memoryview, path: Path) -> int:
    """Fill ``view`` from ``fh`` as far as the file goes; read errors become one clear line."""
    got = 0
    try:
        while got < len(view):
            k = fh.readinto(view[got:])
            if not k:
                break
            got += k
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputFormatError(f"damaged gzip stream ({exc or 'ends early'})", path) from exc
    except OSError as exc:
        raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc
    return got


def read_line(fh: BinaryIO, path: Path, limit: int = 1 << 16) -> bytes:
    """The next line of ``fh`` (at most ``limit`` bytes); read errors become one clear line."""
    try:
        return fh.readline(limit)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputFormatError(f"damaged gzip stream ({exc or 'ends early'})", path) from exc
    except OSError as exc:
        raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc


@contextmanager
def open_input(path: str | Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading, transparently gunzipping (detected by magic, not by name)."""
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 -- closed in the finally below; opening errors get their own message
    except OSError as exc:
        raise DarkstackError(f"cannot open ({exc.strerror or exc})", path) from exc
    try:
        try:
            head = fh.read(2)
            fh.seek(0)
        except OSError as exc:
            raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc
        raw = gzip.GzipFile(fileobj=fh, mode="rb") if head == GZIP_MAGIC else fh
        yield raw
    finally:
        fh.close()

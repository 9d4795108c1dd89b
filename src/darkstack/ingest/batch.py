"""What every reader yields (a batch of canonical rows plus counts), and opening input files."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from darkstack.errors import DarkstackError, InputFormatError

COMPRESSION_MAGICS = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}
"""Compressed inputs, told by their first bytes (never by the file name)."""
_OPENERS = {"gzip": lambda fh: gzip.GzipFile(fileobj=fh, mode="rb"), "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}
_DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError)
_NAMES = {gzip.GzipFile: "gzip", bz2.BZ2File: "bz2", lzma.LZMAFile: "xz"}


def compression(head: bytes) -> str | None:
    """``gzip``, ``bz2`` or ``xz`` when ``head`` (a file's first bytes) starts with that format's magic, else None."""
    kind = next((name for name, magic in COMPRESSION_MAGICS.items() if head.startswith(magic)), None)
    if kind == "bz2" and not (len(head) > 3 and ord("1") <= head[3] <= ord("9")):
        return None  # "BZh" must be followed by the block size digit
    return kind


def _damaged(fh: BinaryIO, exc: Exception, path: Path) -> InputFormatError:
    return InputFormatError(f"damaged {_NAMES.get(type(fh), 'compressed')} stream ({exc or 'ends early'})", path)


@dataclass
class Batch:
    """Rows decoded from part of one input file, with how many source records were read and skipped why.

    ``table`` has canonical column names (``darkstack.schema.PACKET_SCHEMA``) except the sensor columns;
    ``events``, from honeypot readers that log what a session did, has ``EVENT_SCHEMA`` names except ``sensor``.
    """

    table: pa.Table
    read: int
    skips: Counter = field(default_factory=Counter)
    events: pa.Table | None = None


@contextmanager
def read_errors(fh: BinaryIO, path: Path) -> Iterator[None]:
    """Turn errors reading ``fh`` (a damaged compressed stream, an I/O error) into one clear line."""
    try:
        yield
    except _DAMAGED as exc:
        raise _damaged(fh, exc, path) from exc
    except OSError as exc:
        if type(fh) is bz2.BZ2File and exc.errno is None:  # bz2 reports a bad stream as a bare OSError
            raise _damaged(fh, exc, path) from exc
        raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc


def read_into(fh: BinaryIO, view: memoryview, path: Path) -> int:
    """Fill ``view`` from ``fh`` as far as the file goes; read errors become one clear line."""
    got = 0
    with read_errors(fh, path):
        while got < len(view):
            k = fh.readinto(view[got:])
            if not k:
                break
            got += k
    return got


def read_line(fh: BinaryIO, path: Path, limit: int = 1 << 16) -> bytes:
    """The next line of ``fh`` (at most ``limit`` bytes); read errors become one clear line."""
    with read_errors(fh, path):
        return fh.readline(limit)


def read_bytes(path: str | Path) -> bytes:
    """The whole decompressed content of ``path`` (for small inputs such as label lists)."""
    with open_input(path) as fh, read_errors(fh, Path(path)):
        return fh.read()


@contextmanager
def open_input(path: str | Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading, decompressing gzip, bz2 or xz (detected by magic, not by name)."""
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 -- closed in the finally below; opening errors get their own message
    except OSError as exc:
        raise DarkstackError(f"cannot open ({exc.strerror or exc})", path) from exc
    try:
        try:
            kind = compression(fh.read(8))
            fh.seek(0)
        except OSError as exc:
            raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc
        yield fh if kind is None else _OPENERS[kind](fh)
    finally:
        fh.close()

"""Streaming reader for delimited text exports with a header row (plain, gzip, bz2 or xz), all columns as text."""

from __future__ import annotations

import lzma
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from darkstack.errors import InputFormatError
from darkstack.ingest.batch import compression, open_input, read_line

BLOCK_BYTES = 16 << 20
SKIP_BAD_ROW = "row with the wrong number of fields"


def header(path: Path, delimiter: str) -> list[str]:
    """Column names from the first line of ``path``."""
    with open_input(path) as fh:
        first = read_line(fh, path)
    try:
        text = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputFormatError("header row is not UTF-8 text", path) from exc
    if not text.strip():
        raise InputFormatError("empty file (no header row)", path)
    return [c.strip() for c in text.split(delimiter)]


def arrow_input(path: Path) -> pa.NativeFile:
    """``path`` as an Arrow input stream, decompressed when gzip, bz2 or xz (told by the magic bytes)."""
    with open(path, "rb") as fh:
        kind = compression(fh.read(8))
    if kind == "xz":  # Arrow has no xz codec: stream through Python's lzma
        return pa.PythonFile(lzma.open(path), mode="r")
    source = pa.OSFile(str(path))
    return source if kind is None else pa.CompressedInputStream(source, kind)


def read_delimited(path: str | Path, delimiter: str, required: list[str], any_of: list[list[str]] = (),
                   block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[pa.Table, Counter]]:
    """Yield (text table, skips) blocks; one clear error when a required column is missing."""
    path = Path(path)
    names = header(path, delimiter)
    missing = [c for c in required if c not in names]
    missing += ["/".join(group) for group in any_of if not any(c in names for c in group)]
    if missing:
        raise InputFormatError(f"missing column(s) {', '.join(missing)} (header has: {' '.join(names)[:200]})", path)
    yield from text_blocks(path, delimiter, pcsv.ReadOptions(block_size=block_bytes, use_threads=False), names,
                           f"{delimiter!r}-separated text")


def text_blocks(path: Path, delimiter: str, read_options: pcsv.ReadOptions, names: list[str], what: str,
                kept: list[str] | None = None, counted=lambda line: True) -> Iterator[tuple[pa.Table, Counter]]:
    """Arrow's streaming CSV reader over ``path``, every column as text: (table, skips) blocks.

    A row with the wrong number of fields is skipped and counted when ``counted(its text)``; ``kept`` limits the
    columns read (default: ``names``). A file Arrow cannot parse is one error line naming ``what`` it should be.
    """
    kept = kept or names
    skipped = Counter()

    def on_bad_row(row) -> str:
        if counted(row.text or ""):
            skipped[SKIP_BAD_ROW] += 1
        return "skip"

    source = arrow_input(path)
    try:
        reader = pcsv.open_csv(
            source,
            read_options=read_options,
            parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False, invalid_row_handler=on_bad_row),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                strings_can_be_null=False, include_columns=kept),
        )
        for batch in reader:
            yield pa.Table.from_batches([batch]), skipped.copy()
            skipped.clear()
        if skipped:
            yield pa.table({c: pa.array([], pa.string()) for c in kept}), skipped.copy()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFormatError(f"cannot parse as {what}: {str(exc).splitlines()[0][:200]}", path) from exc
    finally:
        source.close()

"""Atomic writes: write to a temporary file in the same folder, then rename over the target.

A crash never leaves a half-written output behind, and an earlier output stays intact until
the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_UMASK = os.umask(0)
os.umask(_UMASK)


def remove_stale_temporaries(root: Path) -> int:
    """Delete what killed writers left under ``root``: ``.<name>.*.tmp`` files and staging folders.

    Call only while holding the workspace lock (no other writer can be using them).
    """
    stale = sorted(Path(root).rglob(".*.tmp")) + sorted(Path(root).glob("store/.staging"))
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(stale)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OSError(exc.errno, os.strerror(exc.errno), str(target)) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except Exception as exc:
        code = _system_error(exc)
        if code is None or (isinstance(exc, OSError) and exc.filename not in (None, str(tmp_path))):
            raise  # not a failed write of this file
        raise OSError(code, os.strerror(code), str(target)) from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _system_error(exc: Exception) -> int | None:
    """The errno of a failed write, whoever wrote (Python, pyarrow and safetensors report it differently)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    found = _ERRNO.search(str(exc))
    return int(found.group(1)) if found else None


_ERRNO = re.compile(r"(?:os error|errno) (\d+)", re.IGNORECASE)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; swap it in for ``target`` if the block succeeds.

    For outputs made of several files that are only valid together (a snapshot day): a failed or
    killed write leaves the earlier folder as it was. Between the two renames of the swap ``target``
    is briefly absent, which readers take as "not built yet".
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise OSError(exc.errno, os.strerror(exc.errno), str(target)) from exc
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if target.exists():
            old = tmp.with_name(tmp.name.removesuffix(".tmp") + ".old.tmp")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except OSError as exc:
        if exc.filename is None or not Path(exc.filename).is_relative_to(tmp):
            raise
        inside = target / Path(exc.filename).relative_to(tmp)  # name the file as the user knows it
        raise OSError(exc.errno, exc.strerror, str(inside)) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | Path, text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | Path, obj: Any) -> Path:
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(target: str | Path, table: pa.Table, compression: str = "zstd",
                  use_dictionary: bool | list[str] = True) -> Path:
    """``table`` as Parquet at ``target``; ``use_dictionary``: all columns, none, or the columns named."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression=compression, use_dictionary=use_dictionary)
    return Path(target)

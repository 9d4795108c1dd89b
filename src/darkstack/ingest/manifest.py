"""The ingest manifest ``store/ingested.json``: source file → sensor → content hash, parts, counts.

It makes ingest resumable (a file already ingested with the same content and options is skipped)
and lets a re-ingest of a changed file remove exactly the parts the old content wrote.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from darkstack import atomic
from darkstack.errors import DarkstackError
from darkstack.workspace import Workspace


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (as stored, i.e. of the compressed file when gzip)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise DarkstackError(f"cannot read ({exc.strerror or exc})", path) from exc


def load(ws: Workspace) -> dict[str, dict]:
    if not ws.ingest_manifest.exists():
        return {}
    try:
        data = json.loads(ws.ingest_manifest.read_text())
    except ValueError as exc:
        raise DarkstackError(f"ingest manifest is not valid JSON ({exc})", ws.ingest_manifest) from exc
    if not isinstance(data, dict):
        raise DarkstackError("ingest manifest is not a JSON object", ws.ingest_manifest)
    return data


def save(ws: Workspace, manifest: dict[str, dict]) -> None:
    atomic.write_json(ws.ingest_manifest, manifest)

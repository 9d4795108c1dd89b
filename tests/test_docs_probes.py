"""docs/probes.md names only tests that exist, so its table cannot point at a test that was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_the_probe_table_exists():
    defined = {m for path in (ROOT / "tests").glob("test_*.py") for m in re.findall(r"^def (test_\w+)", path.read_text(), re.M)}
    files = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    text = (ROOT / "docs" / "probes.md").read_text()
    named = set(re.findall(r"(?:`|::)(test_\w+)", text))  # `test_x`, `tests/f.py::test_x`, `::test_x`
    assert named, "no test named in docs/probes.md"
    assert not named - defined, f"docs/probes.md names missing tests: {sorted(named - defined)}"
    missing_files = {f for f in re.findall(r"tests/(test_\w+\.py)", text) if f not in files}
    assert not missing_files, f"docs/probes.md names missing test files: {sorted(missing_files)}"

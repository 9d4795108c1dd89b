"""Shared fixtures: a fresh workspace per test, and the path to the real samples (may be absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from darkstack.workspace import Workspace

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real samples not found at {REAL_DATA}")
    return REAL_DATA

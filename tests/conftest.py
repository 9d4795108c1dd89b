"""Shared fixtures: a fresh workspace per test, the path to the real samples (may be absent), and the
``requires`` marker for tests that need a program or an optional package."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from darkstack.workspace import Workspace

pytest_plugins = ["pytester"]  # tests/test_spark_setup.py runs the `requires` marker in an inner pytest
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"

# What a test can require, how to tell it is there, and the reason it skips otherwise.
REQUIREMENTS = {
    "java": (lambda: shutil.which("java") is not None, "java is not installed (the Spark engine needs a JVM)"),
    "chromium": (
        lambda: (shutil.which("chromium") or shutil.which("chromium-browser")) is not None,
        "chromium is not installed (the report's browser tests use Debian's chromium)",
    ),
    "pyspark": (
        lambda: importlib.util.find_spec("pyspark") is not None,
        "pyspark is not installed (pip install 'darkstack[spark]')",
    ),
}


def required_in_this_run() -> set[str]:
    """The names in DARKSTACK_REQUIRE (comma-separated; `.ci/run` sets it): their tests fail instead of skipping."""
    names = {n.strip() for n in os.environ.get("DARKSTACK_REQUIRE", "").split(",") if n.strip()}
    unknown = sorted(names - REQUIREMENTS.keys())
    if unknown:
        raise pytest.UsageError(f"DARKSTACK_REQUIRE: unknown {', '.join(unknown)}; known: {', '.join(REQUIREMENTS)}")
    return names


def pytest_configure(config):
    required_in_this_run()  # a typo in DARKSTACK_REQUIRE stops the run instead of letting tests skip


def missing_requirements(item) -> list[str]:
    """The names of ``@pytest.mark.requires(...)`` on ``item`` that this machine lacks."""
    names = [name for marker in item.iter_markers("requires") for name in marker.args]
    return [name for name in names if not REQUIREMENTS[name][0]()]


def pytest_collection_modifyitems(config, items):
    """A test whose requirement is missing skips with the reason (the -ra summary names the test), unless
    DARKSTACK_REQUIRE names it: then the test fails at set-up (``pytest_runtest_setup``)."""
    required = required_in_this_run()
    for item in items:
        for name in missing_requirements(item):
            if name not in required:
                item.add_marker(pytest.mark.skip(reason=REQUIREMENTS[name][1]))


def pytest_runtest_setup(item):
    required = required_in_this_run()
    for name in missing_requirements(item):
        if name in required:
            pytest.fail(f"{REQUIREMENTS[name][1]}, and DARKSTACK_REQUIRE names {name}", pytrace=False)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real samples not found at {REAL_DATA}")
    return REAL_DATA

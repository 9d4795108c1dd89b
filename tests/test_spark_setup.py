"""`--engine spark` on a machine without pyspark or Java: one line saying what to install; and the
``requires`` marker of tests/conftest.py, which skips with a reason and fails when DARKSTACK_REQUIRE names it."""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from darkstack.cli import main
from darkstack.schema import ip_to_int
from darkstack.snapshot import spark_engine
from darkstack.store import write_records

SPARK_MODULES = ("pyspark", "pyspark.sql", "pyspark.errors", "py4j", "py4j.protocol")


@pytest.fixture
def one_day(ws):
    """A darknet sensor with one TCP SYN record, so `snapshot` gets as far as starting its engine."""
    ts = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
    row = {"ts": ts, "src_ip": int(ip_to_int("10.0.0.1")), "dst_ip": int(ip_to_int("192.0.2.1")), "dst_port": 23,
           "proto": 6, "tcp_flags": 0x02}  # fmt: skip
    write_records(ws, "dn", "darknet", pa.Table.from_pylist([row]), part="fixture")
    return ws


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_engine_spark_without_pyspark_says_how_to_install_it(one_day, monkeypatch, capsys):
    for name in SPARK_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError
    assert main(["snapshot", "-w", str(one_day.root), "--engine", "spark"]) == 2
    assert error_lines(capsys) == [f"error: {spark_engine.NO_PYSPARK}"]
    assert "pip install 'darkstack[spark]'" in spark_engine.NO_PYSPARK


@pytest.mark.requires("pyspark")
def test_engine_spark_without_java_says_so_and_pandas_warning_is_silenced(one_day, monkeypatch, capsys):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    assert main(["snapshot", "-w", str(one_day.root), "--engine", "spark"]) == 2
    assert error_lines(capsys) == [f"error: {spark_engine.NO_JAVA}"]
    with warnings.catch_warnings(record=True) as seen:  # the engine silences pyspark's pandas-3 warning
        warnings.warn("PySpark does not yet fully support pandas >= 3.0.0. Some features ...", FutureWarning)
    assert not seen


def test_java_home_wins_over_path(tmp_path, monkeypatch):
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    monkeypatch.setenv("PATH", "")
    assert spark_engine.java_found()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java under it
    assert not spark_engine.java_found()


REQUIRING_TEST = """
import pytest

@pytest.mark.requires("java")
def test_needs_java():
    pass
"""


@pytest.mark.parametrize("require, outcome", [("", "skipped"), ("java,chromium", "errors")])  # errors: fails at set-up
def test_requires_marker_skips_or_fails_when_ci_requires_it(pytester, monkeypatch, require, outcome):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(REQUIRING_TEST)
    monkeypatch.setenv("PATH", "")  # no java
    monkeypatch.setenv("DARKSTACK_REQUIRE", require)
    result = pytester.runpytest("-ra", "-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines(["*java is not installed*"])  # the reason is in the -ra summary


def test_unknown_requirement_name_stops_the_run(pytester, monkeypatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(REQUIRING_TEST)
    monkeypatch.setenv("DARKSTACK_REQUIRE", "jaav")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*DARKSTACK_REQUIRE: unknown jaav*"])

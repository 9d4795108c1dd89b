"""Error lines list names joined by commas, never as a Python repr of a list or dict."""

from __future__ import annotations

import re

import pytest

from darkstack.cli import main

REPR = re.compile(r"\[['\"]|\{['\"]")  # ['a', … or {'a': …


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    assert main(["simulate", "-w", str(root), "--days", "1", "--scale", "0.05"]) == 0
    return root


@pytest.mark.parametrize(
    "args, expected",
    [
        (["snapshot", "--sensor", "nope"], "unknown sensor(s) nope; known: darknet, honeypot"),
        (["evaluate", "--sensor", "nope"], "unknown sensor(s) nope; known: darknet, honeypot"),
        (["ingest", "-s", "x", "--format", "nope", "README"], "unknown format 'nope'; choose auto or one of cowrie, dionaea"),
    ],
)
def test_error_lines_join_names_instead_of_printing_a_list(ws, capsys, args, expected):
    assert main([args[0], "-w", str(ws), *args[1:]]) == 2
    err = capsys.readouterr().err
    line = " ".join(err.split())
    assert expected in line and not REPR.search(line), err


def test_snapshot_library_error_joins_the_known_sensors(ws):
    from darkstack.errors import ConfigError
    from darkstack.snapshot import build_snapshots
    from darkstack.workspace import Workspace

    with pytest.raises(ConfigError, match=r"unknown sensor 'nope'; known: darknet, honeypot$"):
        build_snapshots(Workspace(ws), "nope")

"""Progress off a terminal: a plain line (description, counts, elapsed, status) at least every interval and at
the end, so a long step is never silent in a log file or CI; on a terminal, the rich bar only."""

from __future__ import annotations

import io
import logging
import re
import time

from rich.console import Console

from darkstack import progress


def console_on(monkeypatch, terminal: bool) -> io.StringIO:
    # an earlier test's --log-level (setup_logging sets the level for the whole process) must not silence the lines
    monkeypatch.setattr(logging.getLogger("darkstack"), "level", logging.INFO)
    out = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=out, force_terminal=terminal, width=200))
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.05)
    return out


def wait_for(out: io.StringIO, pattern: str, timeout: float = 20.0) -> None:
    """Poll ``out`` until a line matches ``pattern`` (a loaded machine may delay the progress thread)."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, out.getvalue(), re.M):
        assert time.monotonic() < deadline, f"no line matching {pattern!r} in {out.getvalue()!r}"
        time.sleep(0.01)


def test_off_a_terminal_a_line_comes_while_nothing_advances_and_at_the_end(monkeypatch):
    out = console_on(monkeypatch, terminal=False)
    with progress.progress_bar("embed dn/igcngru", total=3) as bar:
        wait_for(out, r"^embed dn/igcngru: 0/3 \(0%\), \d+ s$")  # a long first day: still a line
        progress.advance(bar, 1, status="2021-12-01 loss 0.25")
        wait_for(out, r"^embed dn/igcngru: 1/3 \(33%\), \d+ s, 2021-12-01 loss 0.25$")
        progress.advance(bar, 2)
    assert re.search(r"embed dn/igcngru: 3/3 \(100%\), \d+ s, 2021-12-01 loss 0.25\n\Z", out.getvalue())


def test_off_a_terminal_a_bar_without_total_counts_only(monkeypatch):
    out = console_on(monkeypatch, terminal=False)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 3600.0)  # only the closing line
    with progress.progress_bar("ingest → dn", total=None) as bar:
        progress.advance(bar, 12345, status="a.pcap: 12,345 records")
    assert re.fullmatch(r"ingest → dn: 12,345, \d+ s, a\.pcap: 12,345 records\n", out.getvalue())


def test_on_a_terminal_the_rich_bar_and_no_plain_lines(monkeypatch):
    out = console_on(monkeypatch, terminal=True)
    with progress.progress_bar("snapshot dn", total=2) as bar:
        time.sleep(0.2)
        progress.advance(bar, 2)
    assert "2/2" in out.getvalue() and "(100%)" not in out.getvalue()


def test_off_a_terminal_quiet_levels_and_failed_steps_print_no_progress(monkeypatch):
    out = console_on(monkeypatch, terminal=False)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 3600.0)  # only the closing line
    try:
        with progress.progress_bar("snapshot dn", total=3) as bar:
            progress.advance(bar, 1)
            raise OSError("disk full")
    except OSError:
        pass
    assert out.getvalue() == ""  # the error line that follows stands alone
    monkeypatch.setattr(logging.getLogger("darkstack"), "level", logging.WARNING)  # --log-level WARNING
    with progress.progress_bar("snapshot dn", total=1) as bar:
        progress.advance(bar, 1)
    assert out.getvalue() == ""

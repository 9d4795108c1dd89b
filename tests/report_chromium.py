"""Render a report in headless Chromium (Debian `chromium`) and collect its DOM and console messages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render_in_chromium(index: Path, tmp_path: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """The DOM after load, and the console messages, of ``index`` in headless Chromium."""
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=5000", "--window-size=1280,1800",
    ]  # fmt: skip
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*args, index.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]

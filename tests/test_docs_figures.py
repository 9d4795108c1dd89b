"""Measured figures in docs/*.md come from BENCHMARKS.md, so they cannot drift from it unnoticed.

A figure is a decimal number of seconds, GiB or packet rate (``4.7 s``, ``8.9 CPU-seconds``, ``0.80 GiB``,
``5.27 M packets/s``). Every part of a
page (the text under one heading) that quotes one must link the BENCHMARKS.md section it comes from
(``../BENCHMARKS.md#bench-NAME``), and the number must appear in one of the linked sections. A derived or
historical value is written with ``≈`` or ``~`` and is not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURE = re.compile(r"(?<![\d.,])(?<!≈ )(?<!≈)(?<!~)(\d+\.\d+)\*{0,2} ?(?:s|GiB|CPU-seconds|M packets/s|M per CPU-second)\b")
LINK = re.compile(r"BENCHMARKS\.md#bench-([a-z0-9-]+)")


def sections() -> dict[str, str]:
    text = (ROOT / "BENCHMARKS.md").read_text()
    return dict(re.findall(r"<!-- bench:([a-z0-9-]+) -->(.*?)<!-- /bench:\1 -->", text, re.S))


def parts(page: Path) -> list[tuple[str, str]]:
    """(heading, text) of each part of a Markdown page."""
    chunks = re.split(r"^(#+ .*)$", page.read_text(), flags=re.M)
    return [("(top)", chunks[0])] + list(zip(chunks[1::2], chunks[2::2]))


PAGES = sorted((ROOT / "docs").glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_figures_link_and_equal_their_benchmark_section(page):
    known = sections()
    problems = []
    for heading, text in parts(page):
        links = set(LINK.findall(text))
        problems += [f"{heading}: link to missing section bench-{name}" for name in sorted(links - known.keys())]
        for number in FIGURE.findall(text):
            if not links:
                problems.append(f"{heading}: {number} quoted without a link to its BENCHMARKS.md section")
            elif not any(re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", known.get(n, "")) for n in links):
                problems.append(f"{heading}: {number} is in none of {', '.join(sorted(links))}")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_drifted_figure(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("## k\n\nFAISS takes 4.7 s wall ([k-NN](../BENCHMARKS.md#bench-knn)).\n\n## j\n\n9.9 s, ≈ 7.1 s\n")
    found = [(h, FIGURE.findall(t), LINK.findall(t)) for h, t in parts(page)]
    assert found[1:] == [("## k", ["4.7"], ["knn"]), ("## j", ["9.9"], [])]

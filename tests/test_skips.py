"""Skips: one line naming stage, place, variant, days, reason and option; collected per pipeline step."""

from __future__ import annotations

import datetime as dt

import pytest

from darkstack import skips
from darkstack.cli import NOTHING_COMPUTED, main
from darkstack.pipeline.steps import Step, load_state, run_steps
from darkstack.workspace import Workspace


def test_skip_line_names_everything():
    s = skips.make("embed", "needs 20 training days, 3 exist", sensor="hp1", variant="gcngru",
                   days=[dt.date(2021, 12, 3), dt.date(2021, 12, 1), dt.date(2021, 12, 2)], option="--train-days / embed.train_days")
    assert s.line() == ("embed sensor hp1, variant gcngru, 2021-12-01 … 2021-12-03 (3 days): "
                        "needs 20 training days, 3 exist (change: --train-days / embed.train_days)")
    assert skips.Skip.from_dict(s.as_dict()) == s
    assert skips.make("stack", "no common hosts", scenario="DH", days="2021-12-01").line() == "stack scenario DH, 2021-12-01: no common hosts"


def test_pipeline_keeps_skips_of_cached_steps(tmp_path):
    ws = Workspace(tmp_path)
    out = tmp_path / "a.txt"

    def partial():
        skips.note("evaluate", "no class reaches 11 hosts", sensor="s", days="2021-12-01", option="evaluate.min_class_hosts")
        out.write_text("x")
        return [out]

    def nothing():
        raise skips.skip_stage("stack", "no common hosts", scenario="DH")

    steps = [Step("a", partial), Step("b", nothing, after=("a",))]
    first = run_steps(ws, steps)
    assert first.ran == ["a", "b"] and first.empty == ["b"]
    assert [s.reason for s in first.not_computed["a"]] == ["no class reaches 11 hosts"]
    assert load_state(ws)["steps"]["b"]["empty"] is True
    again = run_steps(ws, steps)
    assert again.skipped == ["a", "b"] and again.empty == ["b"]
    assert again.not_computed == first.not_computed


def test_cli_exit_code_when_nothing_computed(monkeypatch, capsys):
    import darkstack.cli as cli

    def boom(*args, **kwargs):
        raise skips.skip_stage("stack", "no common hosts", scenario="DH")

    monkeypatch.setattr(cli, "app", boom)
    assert main(["stack"]) == NOTHING_COMPUTED
    err = capsys.readouterr().err
    assert "not computed: stack scenario DH: no common hosts" in err and "Traceback" not in err


def test_each_goes_on_past_a_skipped_item_and_skips_the_stage_when_none_ran():
    ran = []

    def action(name):
        if name != "b":
            raise skips.skip_stage("embed", "too few days", sensor=name)
        ran.append(name)

    with skips.collect() as found:
        skips.each("embed", ["a", "b"], action, "no sensor could be embedded")
    assert ran == ["b"] and [s.where for s in found] == ["sensor a"]
    with pytest.raises(skips.StageSkipped, match=r"embed: no sensor could be embedded \(a, c; see the lines above\)"):
        skips.each("embed", ["a", "c"], action, "no sensor could be embedded")
    with pytest.raises(skips.StageSkipped, match="embed sensor a: too few days"):  # one item: its own skip
        skips.each("embed", ["a"], action, "no sensor could be embedded")

"""The cached step runner: skip when unchanged, rerun what changed and what depends on it, resume after a kill."""

from __future__ import annotations

import json

import pytest

from darkstack.errors import ConfigError, DarkstackError
from darkstack.pipeline.steps import Step, load_state, run_steps, steps_file


def _plan(ws, calls, settings_b=None, source=None, fail_in=None):
    """a → b → c, plus d depending on a only; each writes one file and counts its calls."""

    def writer(name):
        def action():
            calls[name] = calls.get(name, 0) + 1
            if name == fail_in:
                raise KeyboardInterrupt
            out = ws.root / "out" / f"{name}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(name)
            return [out]

        return action

    return [
        Step("a", writer("a"), {"x": 1}, inputs=(source,) if source else ()),
        Step("b", writer("b"), settings_b or {"y": 2}, after=("a",)),
        Step("c", writer("c"), {}, after=("b",)),
        Step("d", writer("d"), {"z": 3}, after=("a",)),
    ]


def test_second_run_skips_everything(ws):
    calls = {}
    first = run_steps(ws, _plan(ws, calls))
    assert first.ran == ["a", "b", "c", "d"] and first.skipped == []
    second = run_steps(ws, _plan(ws, calls))
    assert second.ran == [] and second.skipped == ["a", "b", "c", "d"]
    assert calls == {"a": 1, "b": 1, "c": 1, "d": 1}
    state = load_state(ws)
    assert [r["ran"] for r in state["runs"]] == [["a", "b", "c", "d"], []]
    assert state["steps"]["c"]["outputs"] == ["out/c.txt"]


def test_changed_setting_reruns_step_and_its_dependants_only(ws):
    calls = {}
    run_steps(ws, _plan(ws, calls))
    record = run_steps(ws, _plan(ws, calls, settings_b={"y": 99}))
    assert record.ran == ["b", "c"] and record.skipped == ["a", "d"]


def test_changed_input_file_reruns_from_the_step_reading_it(ws, tmp_path):
    source = tmp_path / "labels.csv"
    source.write_text("ip,label\n1.2.3.4,censys\n")
    calls = {}
    run_steps(ws, _plan(ws, calls, source=source))
    source.write_text("ip,label\n1.2.3.4,shodan\n5.6.7.8,censys\n")
    record = run_steps(ws, _plan(ws, calls, source=source))
    assert record.ran == ["a", "b", "c", "d"]


def test_missing_output_reruns_that_step(ws):
    calls = {}
    run_steps(ws, _plan(ws, calls))
    (ws.root / "out" / "c.txt").unlink()
    record = run_steps(ws, _plan(ws, calls))
    assert record.ran == ["c"]


def test_killed_run_resumes_at_the_interrupted_step(ws):
    calls = {}
    with pytest.raises(KeyboardInterrupt):
        run_steps(ws, _plan(ws, calls, fail_in="c"))
    assert set(load_state(ws)["steps"]) == {"a", "b"}
    record = run_steps(ws, _plan(ws, calls))
    assert record.ran == ["c", "d"] and record.skipped == ["a", "b"]


def test_forced_step_reruns(ws):
    calls = {}
    run_steps(ws, _plan(ws, calls))
    assert run_steps(ws, _plan(ws, calls), force=["d"]).ran == ["d"]
    with pytest.raises(ConfigError, match=r"cannot force unknown step\(s\) e; steps: a, b"):
        run_steps(ws, _plan(ws, calls), force=["e"])


def test_bad_plans_and_bad_cache_are_clear_errors(ws):
    with pytest.raises(ConfigError, match="depends on"):
        run_steps(ws, [Step("b", lambda: None, after=("a",))])
    with pytest.raises(ConfigError, match="twice"):
        run_steps(ws, [Step("a", lambda: None), Step("a", lambda: None)])
    with pytest.raises(DarkstackError, match="did not write"):
        run_steps(ws, [Step("a", lambda: [ws.root / "never"])])
    steps_file(ws).parent.mkdir(parents=True, exist_ok=True)
    steps_file(ws).write_text("{not json")
    with pytest.raises(DarkstackError, match="steps.json: step cache is not valid JSON"):
        run_steps(ws, [Step("a", lambda: None)])


def test_cache_file_is_plain_json(ws):
    run_steps(ws, _plan(ws, {}))
    state = json.loads(steps_file(ws).read_text())
    assert set(state["steps"]["a"]) == {"key", "outputs", "seconds", "finished", "run_id", "skips", "empty"}


def test_a_step_whose_prerequisites_computed_nothing_is_skipped_with_the_reason(ws):
    from darkstack import skips

    ran = []

    def nothing():
        ran.append("a")
        raise skips.skip_stage("embed", "too few days", sensor="s", option="--train-days")

    def writer(name):
        def action():
            ran.append(name)
            out = ws.root / "out" / f"{name}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(name)
            return [out]

        return action

    steps = [
        Step("a", nothing),
        Step("b", writer("b")),
        Step("c:s", writer("c"), after=("a",), where={"sensor": "s"}),  # needs a: skipped
        Step("d", writer("d"), after=("a", "b"), needs=(("a", "b"),)),  # needs a or b: runs
        Step("e", writer("e"), after=("c:s",)),  # skipped in turn
        Step("f", writer("f"), after=("a",), needs=()),  # needs nothing: runs
    ]
    record = run_steps(ws, steps)
    assert ran == ["a", "b", "d", "f"] and record.empty == ["a", "c:s", "e"]
    assert [s.line() for s in record.not_computed["c:s"]] == ["c sensor s: nothing to work on: a computed nothing"]
    assert [s.line() for s in record.not_computed["e"]] == ["e: nothing to work on: c:s computed nothing"]
    again = run_steps(ws, steps)
    assert again.ran == [] and again.empty == record.empty and again.not_computed == record.not_computed

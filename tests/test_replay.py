"""`overnight replay`: a recorded run of the built-in agent, run again against its
recorded answers; a prompt change shows up turn by turn."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import drain

from overnight.agents import prompts as prompts_module
from overnight.cli import main
from overnight.errors import UsageError
from overnight.intake import submit_text
from overnight.replay import replay
from overnight.testing.llm_server import ScriptedLLMServer, bash

WRITE_MUL = "printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"


@pytest.fixture
def recorded(store, mul_spec):
    """A READY task done by the built-in agent in two attempts; the server is gone after."""
    script = [bash("cat calc.py"), bash("submit"), bash("submit"), bash(WRITE_MUL), bash("submit")]
    with ScriptedLLMServer(script) as server:
        spec = mul_spec(f"builtin:{server.model_name}")
        task = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task
        drain(store)
    return task.id


def test_replay_of_an_unchanged_agent_is_identical_to_the_record(store, recorded):
    report = replay(store, recorded)

    assert report.identical
    assert [(a.attempt, a.recorded_turns, len(a.turns)) for a in report.attempts] == [
        (1, 3, 3),
        (2, 2, 2),
    ]
    assert report.attempts[1].turns[0].command == WRITE_MUL
    assert "def mul" in (report.workspace / "calc.py").read_text()
    assert report.attempts[1].summary.startswith("submitted after 2 turn(s)")


def test_a_prompt_change_shows_as_a_changed_request(store, recorded, home):
    # a changed task prompt, as a user makes one: in the home's prompt library
    built_in = (prompts_module.PROMPTS / "v1" / "task.j2").read_text()
    (home / "prompts").mkdir()
    (home / "prompts" / "task.j2").write_text(built_in.replace("# Task", "# Your task"))

    report = replay(store, recorded)

    assert not report.identical
    first = report.attempts[0].turns
    assert [t.same_request for t in first] == [False] * 3  # the task prompt is in each
    assert [t.command for t in first] == ["cat calc.py", "submit", "submit"]


def test_replay_cli_prints_each_turn_and_json(store, recorded):
    shown = CliRunner().invoke(main, ["replay", str(recorded)])
    raw = CliRunner().invoke(main, ["replay", str(recorded), "--json"])

    assert shown.exit_code == 0, shown.output
    assert "turn 1: same prompt · same output · $ cat calc.py" in shown.output
    assert "identical to the record" in shown.output
    data = json.loads(raw.output)
    assert data["identical"] and data["attempts"][0]["turns"][0]["command"] == "cat calc.py"


def test_a_run_without_turns_cannot_be_replayed(store, mul_spec):
    spec = mul_spec("command:true", extra="budget: {attempts: 1}\n")
    task = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task
    drain(store)

    with pytest.raises(UsageError, match="only runs of the built-in agent"):
        replay(store, task.id)

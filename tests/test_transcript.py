"""`overnight show --transcript`: the built-in agent's turns, readable and as JSON.
(SQLite only: each CLI call opens its own store.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import drain

from overnight.cli import main
from overnight.intake import submit_text
from overnight.testing.llm_server import ScriptedLLMServer, bash

WRITE_MUL = "printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"


@pytest.fixture
def server():
    with ScriptedLLMServer() as server:
        yield server


def submit(store, spec) -> int:
    return submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id


def test_show_prints_the_transcript_and_its_json_holds_requests_and_responses(
    store, mul_spec, server
):
    server.add(bash(WRITE_MUL, "Add mul."), bash("submit"))
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}"))
    drain(store)

    shown = CliRunner().invoke(main, ["show", str(task_id), "--transcript"])
    raw = CliRunner().invoke(main, ["show", str(task_id), "--transcript", "--json"])

    assert shown.exit_code == 0, shown.output
    assert "attempt 1 · turn 1" in shown.output and "Add mul." in shown.output
    assert "$ printf" in shown.output and "cost unknown" in shown.output
    turns = json.loads(raw.output)["runs"][0]["transcript"]
    assert turns[0]["request"]["messages"][0]["role"] == "system"
    assert turns[1]["response"]["choices"][0]["message"]["content"].endswith("```")
    assert turns[0]["prompts"].startswith("v1@")

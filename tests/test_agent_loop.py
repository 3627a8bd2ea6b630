"""The built-in agent loop against the scripted model server (no mocks): both
protocols, limits, stuck loops, feedback attempts, and turns saved as they happen."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from overnight.agents import AgentContext, Turn
from overnight.agents.loop import BuiltinAgent
from overnight.agents.registry import get_agent
from overnight.agents.settings import AgentConfig, agent_config
from overnight.config import ProjectConfig
from overnight.errors import ConfigError, ModelError
from overnight.llm import ModelConfig
from overnight.sandbox.none import NoSandbox
from overnight.testing import make_repo
from overnight.testing.llm_server import Delay, Fail, Say, ScriptedLLMServer, ToolUse, bash


@pytest.fixture
def server():
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "ws", {"calc.py": "def add(a, b):\n    return a + b\n"})


def context(workspace: Path, turns: list[Turn] | None = None, **overrides) -> AgentContext:
    spec = workspace.parent / "spec.md"
    spec.write_text("# Add mul\n\nAdd `mul(a, b)` to calc.py.\n")
    saved = turns if turns is not None else []
    values = dict(
        task_id=1,
        run_number=1,
        attempt=1,
        workspace=workspace,
        spec_file=spec,
        feedback="",
        sandbox=NoSandbox(),
        environ={"PATH": "/usr/bin:/bin"},
        timeout=60.0,
        cancel=threading.Event(),
        on_turn=lambda t: saved.append(_copy(t)),
    )
    values.update(overrides)
    return AgentContext(**values)  # type: ignore[arg-type]


def _copy(turn: Turn) -> Turn:
    return Turn(**{**vars(turn), "waits": list(turn.waits)})


def agent(server: ScriptedLLMServer, **config) -> BuiltinAgent:
    config.setdefault("nudge_unchanged", False)  # tested on its own below
    return BuiltinAgent(AgentConfig(model=server.model_name, **config))


def last_message(request) -> str:
    return request.body["messages"][-1]["content"]


def test_text_protocol_runs_one_command_per_turn_until_submit(server, workspace):
    server.add(bash("echo hello > out.txt"), bash("cat out.txt"), bash("submit"))
    turns: list[Turn] = []

    result = agent(server).run(context(workspace, turns))

    assert result.exit_code == 0
    assert result.summary.startswith("submitted after 3 turn(s)")
    assert (workspace / "out.txt").read_text() == "hello\n"
    assert "Exit code 0" in last_message(server.requests[1])
    assert "hello" in last_message(server.requests[2])
    system, task = server.requests[0].body["messages"][:2]
    assert "```bash" in system["content"] and "submit" in system["content"]
    assert "Add `mul(a, b)`" in task["content"] and "calc.py" in task["content"]
    assert "$ cat out.txt" in result.log and "hello" in result.log


def test_every_turn_is_saved_when_the_model_answers_and_again_after_its_command(server, workspace):
    server.add(bash("echo one"), bash("submit"))
    turns: list[Turn] = []

    agent(server).run(context(workspace, turns))

    first = [t for t in turns if t.number == 1]
    assert first[0].command is None and first[0].output is None  # saved before it ran
    assert first[-1].command == "echo one" and first[-1].output.strip() == "one"
    assert first[-1].exit_code == 0
    assert (first[-1].input_tokens, first[-1].output_tokens) == (100, 20)
    assert first[-1].request["messages"][0]["role"] == "system"
    assert first[-1].response["choices"][0]["message"]["content"].startswith("I will run")
    assert first[-1].prompts.startswith("v1@")
    assert turns[-1].number == 2 and turns[-1].command == "submit"
    assert turns[-1].end == "submitted after 2 turn(s)"


def test_native_tools_view_edit_bash_and_submit(server, workspace):
    server.add(
        Say(tool_calls=[ToolUse("edit", {"path": "calc.py", "old": "a + b", "new": "b + a"})]),
        Say(tool_calls=[ToolUse("view", {"path": "calc.py", "start": 2, "end": 2})]),
        Say(
            tool_calls=[
                ToolUse("edit", {"path": "new.py", "old": "", "new": "X = 1\n"}),
                ToolUse("bash", {"command": "cat new.py"}),
            ]
        ),
        Say(tool_calls=[ToolUse("submit", {})]),
    )

    result = agent(server, protocol="tools").run(context(workspace))

    assert result.exit_code == 0
    assert "return b + a" in (workspace / "calc.py").read_text()
    assert (workspace / "new.py").read_text() == "X = 1\n"
    assert [t["function"]["name"] for t in server.requests[0].body["tools"]] == [
        "bash",
        "view",
        "edit",
        "submit",
    ]
    viewed = server.requests[2].body["messages"][-1]
    assert viewed["role"] == "tool" and viewed["tool_call_id"] == "call_2_0"
    assert "2\t    return b + a" in viewed["content"]
    both = server.requests[3].body["messages"][-2:]
    assert [m["role"] for m in both] == ["tool", "tool"] and "X = 1" in both[1]["content"]


def test_native_tools_on_the_anthropic_api(server, workspace, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-123456")
    server.add(
        Say("Looking.", tool_calls=[ToolUse("bash", {"command": "ls"})]),
        Say(tool_calls=[ToolUse("submit", {})]),
    )

    config = AgentConfig(
        model="anthropic:claude-sonnet-4-20250514", protocol="tools", nudge_unchanged=False
    )
    result = BuiltinAgent(config).run(context(workspace))

    assert result.exit_code == 0
    first, second = server.requests
    assert first.path == "/v1/messages" and first.headers["x-api-key"] == "sk-ant-test-key-123456"
    assert "careful software engineer" in first.body["system"]
    assert first.body["tools"][0]["input_schema"]["required"] == ["command"]
    reply, result_block = second.body["messages"][-2:]
    assert reply["content"][1] == {
        "type": "tool_use",
        "id": "toolu_1_0",
        "name": "bash",
        "input": {"command": "ls"},
    }
    assert result_block["content"][0]["type"] == "tool_result"
    assert "calc.py" in result_block["content"][0]["content"]


def test_an_answer_without_exactly_one_block_is_told_so_and_the_loop_goes_on(server, workspace):
    server.add(
        Say("I think the answer is 42."),
        Say("```bash\nls\n```\nand\n```bash\npwd\n```"),
        Say("```bash\npytest\nsubmit\n```"),
        bash("submit"),
    )

    result = agent(server).run(context(workspace))

    assert result.exit_code == 0
    assert "has no ```bash block" in last_message(server.requests[1])
    assert "has 2 ```bash blocks" in last_message(server.requests[2])
    assert "`submit` must be alone" in last_message(server.requests[3])


def test_a_submit_with_nothing_changed_is_sent_back_once(server, workspace):
    server.add(bash("cat calc.py"), bash("submit"), bash("submit"))
    turns: list[Turn] = []

    result = agent(server, nudge_unchanged=True).run(context(workspace, turns))

    assert "You have not changed any file yet" in last_message(server.requests[2])
    assert result.summary.startswith("submitted after 3 turn(s)")
    assert [t.unchanged for t in turns if t.number == 2][-1] is True


def test_a_submit_after_a_change_is_taken_at_once(server, workspace):
    server.add(bash("echo '# note' >> calc.py"), bash("submit"))

    result = agent(server, nudge_unchanged=True).run(context(workspace))

    assert result.summary.startswith("submitted after 2 turn(s)")


def test_turn_limit_ends_the_attempt_with_a_message(server, workspace):
    server.add(bash("echo 1"), bash("echo 2"), bash("echo 3"))

    result = agent(server, max_turns=2).run(context(workspace))

    assert result.exit_code == 1
    assert result.summary.startswith("stopped at the turn limit (2 turns)")
    assert len(server.requests) == 2


def test_token_budget_ends_the_attempt(server, workspace):
    server.add(*[bash(f"echo {i}") for i in range(5)])

    result = agent(server).run(context(workspace, tokens_left=200))

    assert result.summary.startswith("stopped at the token budget (240 tokens used)")
    assert len(server.requests) == 2


def test_cost_budget_ends_the_attempt_when_the_price_is_known(server, workspace):
    server.add(*[Say("```bash\necho hi\n```", input_tokens=100_000, output_tokens=0)] * 3)
    prices = ModelConfig(prices=_prices({server.model_name: {"input": 1.0, "output": 2.0}}))

    result = agent(server, model_config=prices).run(context(workspace, usd_left=0.15))

    assert result.summary.startswith("stopped at the cost budget ($0.2000 spent)")
    assert "$0.2000" in result.summary and len(server.requests) == 2


def test_unknown_price_is_reported_as_unknown_not_zero(server, workspace):
    server.add(bash("submit"))
    turns: list[Turn] = []

    result = agent(server).run(context(workspace, turns, usd_left=0.01))

    assert turns[-1].cost is None
    assert "cost unknown" in result.summary and "$0.0000" not in result.summary


def test_time_limit_cuts_a_long_command_and_ends_the_attempt(server, workspace):
    server.add(bash("sleep 5"), bash("echo never"))

    result = agent(server).run(context(workspace, timeout=1.0))

    assert result.summary.startswith("stopped at the time limit")
    assert len(server.requests) == 1
    assert "[exit 124]" in result.log


def test_a_slow_model_is_not_waited_for_past_the_time_limit(server, workspace):
    server.add(Delay(3.0, bash("echo late")))

    start = time.monotonic()
    result = agent(server).run(context(workspace, timeout=1.0))

    assert result.summary.startswith("stopped at the time limit")
    assert time.monotonic() - start < 2.5


def test_a_stuck_loop_is_named_to_the_model_then_stopped(server, workspace):
    server.add(*[bash("cat missing.txt")] * 6)

    result = agent(server, repeat_limit=3).run(context(workspace))

    assert "the same command 3 times in a row" in last_message(server.requests[3])
    assert "cat missing.txt" in last_message(server.requests[3])
    assert result.summary.startswith("stopped in a loop: the same action 4 times in a row")
    assert len(server.requests) == 4


def test_a_changed_output_is_not_a_stuck_loop(server, workspace):
    server.add(*[bash("echo x >> log.txt; wc -l < log.txt")] * 4, bash("submit"))

    result = agent(server, repeat_limit=3).run(context(workspace))

    assert result.exit_code == 0


def test_a_later_attempt_gets_the_feedback_another_prompt_and_other_sampling(server, workspace):
    server.add(bash("submit"), bash("submit"))
    feedback = "## tests (fail, blocking)\ntests/test_mul.py::test_mul failed: NameError: mul"

    agent(server).run(context(workspace))
    agent(server).run(context(workspace, attempt=2, feedback=feedback))

    first, second = (r.body for r in server.requests)
    assert first["temperature"] == 0.0 and "seed" not in first
    assert second["temperature"] == pytest.approx(0.3) and second["seed"] == 2
    task_1, task_2 = first["messages"][1]["content"], second["messages"][1]["content"]
    assert "NameError: mul" not in task_1
    assert "This is attempt 2" in task_2 and "NameError: mul" in task_2
    assert task_2.index("NameError") < task_2.index("# Task")


def test_files_the_spec_names_are_shown_with_their_text_untracked_ones_listed(server, workspace):
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_mul.py").write_text("from calc import mul\n")  # a visible patch
    server.add(bash("submit"))

    agent(server).run(context(workspace))

    task = server.requests[0].body["messages"][1]["content"]
    assert "# calc.py (as it is now)\n```\ndef add(a, b):\n    return a + b\n```" in task
    assert "tests/test_mul.py" in task.split("# Files in the repository")[1]


def test_convention_files_are_part_of_the_task_prompt(server, tmp_path):
    ws = make_repo(
        tmp_path / "conv",
        {
            "AGENTS.md": "Use tabs, never spaces.",
            "CONVENTIONS.md": "Docstrings in French.",
            ".github/copilot-instructions.md": "Name tests test_<behaviour>.",
            "a.py": "",
        },
    )
    server.add(bash("submit"))

    agent(server).run(context(ws))

    task = server.requests[0].body["messages"][1]["content"]
    for text in ("Use tabs", "Docstrings in French", "test_<behaviour>"):
        assert text in task
    assert task.index("AGENTS.md") < task.index("CONVENTIONS.md")


def test_a_model_that_fails_for_good_ends_the_attempt(server, workspace):
    server.add(bash("ls"), Fail(400, message="context length exceeded"))

    result = agent(server).run(context(workspace))

    assert result.exit_code == 1
    assert "the model failed" in result.summary and "HTTP 400" in result.summary


def test_a_model_that_never_answers_is_an_error_of_the_run(server, workspace):
    server.add(Fail(401, message="invalid key"))

    with pytest.raises(ModelError, match="HTTP 401"):
        agent(server).run(context(workspace))


def test_cancel_stops_before_the_next_turn(server, workspace):
    cancel = threading.Event()
    server.add(lambda body: (cancel.set(), bash("echo hi"))[1], bash("echo never"))

    result = agent(server).run(context(workspace, cancel=cancel))

    assert result.summary.startswith("cancelled") and len(server.requests) == 1


def test_a_slow_answer_within_the_timeout_is_waited_for(server, workspace):
    server.add(Delay(0.3, bash("submit")))

    assert agent(server).run(context(workspace)).exit_code == 0


def test_builtin_agent_is_the_name_and_model_from_config():
    config = ProjectConfig(model="openai:gpt-4.1-mini", agent_protocol="tools")

    built = get_agent("builtin", config)
    pinned = get_agent("builtin:anthropic:claude-sonnet-4-20250514", config)

    assert isinstance(built, BuiltinAgent) and built.config.model == "openai:gpt-4.1-mini"
    assert built.config.protocol == "tools"
    assert pinned.config.model == "anthropic:claude-sonnet-4-20250514"  # type: ignore[attr-defined]
    assert agent_config(None).model == "local:qwen2.5-coder-1.5b"
    with pytest.raises(ConfigError, match="unknown model"):
        get_agent("builtin:gpt-4")
    with pytest.raises(ConfigError, match="openai-compatible:<base_url>#<model>"):
        get_agent("builtin:openai-compatible:localhost:8000")


def _prices(table):
    from overnight.llm.prices import PriceTable

    return PriceTable.from_config(table)

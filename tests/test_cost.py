"""Costs: known only when every model call was recorded with its price; written
one way everywhere; a total never adds an unknown cost as 0."""

from __future__ import annotations

from overnight import cost
from overnight.forges import pr_body


def test_a_command_agents_cost_is_unknown_even_with_no_turns():
    assert cost.spent("command:aider --yes", []) is None
    assert cost.spent("builtin", []) == 0.0  # nothing called yet: nothing spent
    assert cost.spent("builtin:openai:gpt-4.1", [0.001, 0.002]) == 0.003
    assert cost.spent("builtin", [0.001, None]) is None


def test_usd_writes_unknown_never_zero():
    assert cost.usd(None) == "unknown"
    assert cost.usd(0.0) == "$0.0000"
    assert cost.usd(0.01234) == "$0.0123"


def test_a_total_names_the_tasks_of_unknown_cost():
    assert cost.total([0.01, 0.04]) == "$0.0500"
    assert cost.total([0.01, None, 0.04, None]) == "$0.0500 + 2 task(s) of unknown cost"
    assert cost.total([None]) == "1 task(s) of unknown cost"
    assert cost.total([]) == "$0.0000"


def test_the_pull_request_states_the_runs_model_cost():
    args = dict(
        description="Add mul.",
        diffstat="calc.py | 2 +",
        gates=[],
        attempts=1,
        run_number=1,
        base_sha="a" * 40,
        head_sha="b" * 40,
        task_id=3,
    )
    assert "Model calls: cost unknown." in pr_body(**args)
    assert "Model calls: 1200 tokens, cost $0.0009." in pr_body(**args, tokens=1200, cost=0.0009)

"""The built-in agent through the whole pipeline, on the scripted model server:
turns in the store, the transcript in `show`, feedback attempts, budgets, and a
canary key that never reaches the store, the logs or the pull request."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import drain
from sqlalchemy import inspect, select, text

from overnight.intake import submit_text
from overnight.store import Store, Turn
from overnight.testing.llm_server import Fail, Say, ScriptedLLMServer, bash
from overnight.views import task_detail

BOTH_DATABASES = True  # every test here runs on SQLite and on PostgreSQL
WRITE_MUL = "printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"


@pytest.fixture
def server():
    with ScriptedLLMServer() as server:
        yield server


def submit(store: Store, spec) -> int:
    return submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id


def detail(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def test_builtin_agent_delivers_and_every_turn_is_in_the_store(store, mul_spec, server):
    server.add(
        bash("cat calc.py"), bash(WRITE_MUL), bash("python -m pytest -q tests"), bash("submit")
    )
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}"))

    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    run = task["runs"][0]
    assert [t["command"] for t in run["transcript"]] == [
        "cat calc.py",
        WRITE_MUL,
        "python -m pytest -q tests",
        "submit",
    ]
    assert "def add" in run["transcript"][0]["output"]
    assert run["usage"] == {"turns": 4, "input_tokens": 400, "output_tokens": 80, "cost_usd": None}
    assert task["usage"]["cost_usd"] is None  # unknown price: unknown, never 0
    agent_step = next(s for s in run["steps"] if s["name"] == "agent")
    assert agent_step["summary"].startswith("submitted after 4 turn(s) · 480 tokens")
    assert "cost unknown" in agent_step["summary"]
    assert "Add `mul(a, b)`" in server.requests[0].body["messages"][1]["content"]


def test_a_failed_attempt_comes_back_with_the_gate_feedback_and_other_sampling(
    store, mul_spec, server
):
    # attempt 1 submits with nothing changed (sent back once, then taken); attempt 2 works
    server.add(bash("submit"), bash("submit"), bash(WRITE_MUL), bash("submit"))
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}"))

    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "ready" and task["attempts"] == 2
    assert "You have not changed any file" in server.requests[1].body["messages"][-1]["content"]
    second = server.requests[2].body
    assert "This is attempt 2" in second["messages"][1]["content"]
    assert "tests/test_mul.py::test_mul" in second["messages"][1]["content"]
    assert second["temperature"] == pytest.approx(0.3) and second["seed"] == 2
    with store.session() as session:
        rows = session.scalars(select(Turn).order_by(Turn.id)).all()
        assert [(t.attempt, t.number) for t in rows] == [(1, 1), (1, 2), (2, 1), (2, 2)]
        assert rows[2].checkpoint.feedback.startswith("The previous attempt did not pass")


def test_the_token_budget_of_the_spec_spans_the_attempts(store, mul_spec, server):
    server.add(*[bash("echo thinking")] * 6)
    spec = mul_spec(f"builtin:{server.model_name}", extra="budget: {attempts: 2, tokens: 300}\n")
    task_id = submit(store, spec)

    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "failed"
    steps = [s for s in task["runs"][0]["steps"] if s["name"] == "agent"]
    assert steps[0]["summary"].startswith("stopped at the token budget (360 tokens used)")
    assert steps[1]["summary"].startswith("stopped at the token budget (0 tokens used)")
    assert len(server.requests) == 3


def test_a_canary_key_never_reaches_the_store_logs_or_pull_request(
    store, mul_spec, server, monkeypatch, caplog
):
    canary = "sk-canary-4b1d2c3e5f6a7b8c"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    server.add(
        Fail(429, retry_after=0, message=f"rate limited for key {canary}"),
        Say(f"The key {canary} must not leak.\n\n```bash\nenv; echo key=$OPENAI_API_KEY\n```"),
        bash(WRITE_MUL),
        bash("submit"),
    )
    task_id = submit(store, mul_spec("builtin:openai:gpt-4o-mini"))

    with caplog.at_level(logging.DEBUG):
        drain(store)

    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    assert server.requests[0].headers["Authorization"] == f"Bearer {canary}"  # it was used
    assert canary not in caplog.text
    assert canary not in task["pull_request"]["body"]
    assert canary not in json.dumps(task)
    assert "[redacted]" in task["runs"][0]["transcript"][0]["content"]
    assert task["runs"][0]["transcript"][0]["output"].endswith("key=")  # the sandbox had none
    assert task["usage"]["cost_usd"] is not None  # a known price
    with store.session() as session:
        conn = session.connection()
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert canary not in repr(tuple(row)), f"the key is in table {table}"


def test_a_model_that_cannot_answer_fails_the_run_with_the_reason(store, mul_spec, server):
    server.add(Fail(401, message="invalid key"))
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}"))

    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "failed"
    assert "HTTP 401" in task["failure_reason"] and "invalid key" in task["failure_reason"]
    agent = next(s for s in task["runs"][0]["steps"] if s["name"] == "agent")
    assert agent["status"] == "failed"

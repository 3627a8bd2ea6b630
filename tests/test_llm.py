"""Model clients against the scripted server: formats, retries, timeouts, prices, keys."""

from __future__ import annotations

import logging
import time
from email.utils import formatdate

import httpx
import pytest

from overnight.errors import ConfigError, ModelError
from overnight.llm import ModelConfig, Sampling, get_model, parse_name
from overnight.llm.http import retry_after
from overnight.llm.prices import PriceTable
from overnight.llm.redact import redact_data
from overnight.testing.llm_server import Delay, Fail, Say, ScriptedLLMServer, ToolUse

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@pytest.fixture
def server():
    with ScriptedLLMServer() as server:
        yield server


def test_openai_compatible_request_and_reply(server):
    server.add(Say("Hello!", input_tokens=12, output_tokens=3))
    model = get_model(server.model_name, ModelConfig(max_tokens=64))

    reply = model.query(HELLO, sampling=Sampling(temperature=0.5, seed=7))

    assert reply.content == "Hello!" and reply.usage.total == 15
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/chat/completions"
    assert body == {
        "model": "scripted",
        "messages": HELLO,
        "max_tokens": 64,
        "temperature": 0.5,
        "seed": 7,
    }
    assert "Authorization" not in server.requests[0].headers  # no key configured, none sent
    assert reply.request == body and reply.response["choices"][0]["message"]["content"]
    assert reply.latency > 0


def test_openai_api_sends_the_key_and_prices_the_reply(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    server.add(Say("ok", input_tokens=1_000_000, output_tokens=100_000))

    reply = get_model("openai:gpt-4o-mini").query(HELLO)

    assert server.requests[0].headers["Authorization"] == "Bearer sk-test-0123456789"
    assert reply.cost == pytest.approx(0.15 + 0.06)


def test_a_missing_key_is_a_config_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    with pytest.raises(ConfigError, match=r"\$ANTHROPIC_API_KEY"):
        get_model("anthropic:claude-sonnet-4-20250514")


def test_a_named_key_variable_is_read_for_compatible_servers(server, monkeypatch):
    monkeypatch.setenv("MY_VLLM_KEY", "vllm-secret-key-42")
    server.add(Say("ok"))

    get_model(server.model_name, ModelConfig(key_env="MY_VLLM_KEY")).query(HELLO)

    assert server.requests[0].headers["Authorization"] == "Bearer vllm-secret-key-42"


def test_anthropic_messages_format_with_tools(server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-0123456789")
    server.add(Say("Let me look.", tool_calls=[ToolUse("bash", {"command": "ls"})]))
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "t1", "name": "bash", "arguments": {"command": "pwd"}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "/repo"},
    ]
    tools = [{"name": "bash", "description": "run", "parameters": {"type": "object"}}]

    reply = get_model("anthropic:claude-sonnet-4-20250514").query(messages, tools=tools)

    body = server.requests[0].body
    assert body["system"] == "Be brief." and body["max_tokens"] == 4096
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "pwd"}}
    ]
    assert body["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": "/repo",
    }
    assert body["tools"] == [
        {"name": "bash", "description": "run", "input_schema": {"type": "object"}}
    ]
    assert reply.content == "Let me look." and reply.tool_calls[0].arguments == {"command": "ls"}
    assert reply.cost == pytest.approx((100 * 3 + 20 * 15) / 1e6)


def test_429_is_retried_after_what_retry_after_asks_and_the_wait_is_said(server, caplog):
    server.add(Fail(429, retry_after=1), Say("ok"))
    waits: list[str] = []

    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="overnight.llm"):
        reply = get_model(server.model_name, ModelConfig(notify=waits.append)).query(HELLO)

    assert reply.content == "ok" and len(server.requests) == 2
    assert time.monotonic() - start >= 0.95
    assert waits == [f"waiting 1 s for rate limit from {server.base[7:]} (retry 1 of 5)"]
    assert "waiting 1 s for rate limit" in caplog.text


def test_the_shared_rate_limit_is_asked_before_every_try(server):
    server.add(Fail(503), Say("ok"))
    asked: list[str] = []

    config = ModelConfig(backoff=0.01, before_request=asked.append)
    reply = get_model(server.model_name, config).query(HELLO)

    assert reply.content == "ok"
    assert asked == [server.base[7:], server.base[7:]]  # the host, once per request


def test_5xx_and_overload_are_retried_with_backoff(server):
    server.add(Fail(500), Fail(503), Fail(529), Say("ok"))

    reply = get_model(server.model_name, ModelConfig(backoff=0.01)).query(HELLO)

    assert reply.content == "ok" and len(server.requests) == 4


def test_retries_give_up_with_the_status_and_the_count(server):
    server.add(Fail(503, message="overloaded"), Fail(503, message="overloaded"))

    with pytest.raises(ModelError, match="HTTP 503 after 2 tries.*overloaded") as info:
        get_model(server.model_name, ModelConfig(retries=2, backoff=0.01)).query(HELLO)
    assert info.value.status == 503


def test_a_client_error_is_not_retried(server):
    server.add(Fail(400, message="bad request"), Say("never"))

    with pytest.raises(ModelError, match="HTTP 400 after 1 tries"):
        get_model(server.model_name, ModelConfig(backoff=0.01)).query(HELLO)
    assert len(server.requests) == 1


def test_a_request_that_times_out_is_retried(server):
    server.add(Delay(1.0, Say("late")), Say("on time"))

    reply = get_model(server.model_name, ModelConfig(timeout=0.3, backoff=0.01)).query(HELLO)

    assert reply.content == "on time" and len(server.requests) == 2


def test_every_try_timing_out_ends_in_a_model_error(server):
    server.add(Delay(1.0, Say("late")), Delay(1.0, Say("late")))
    config = ModelConfig(timeout=0.2, retries=2, backoff=0.01)

    with pytest.raises(ModelError, match="no answer within 0.2 s after 2 tries"):
        get_model(server.model_name, config).query(HELLO)


def test_connection_errors_are_retried_then_reported():
    with ScriptedLLMServer() as gone:
        name = gone.model_name
    config = ModelConfig(retries=2, backoff=0.01)

    with pytest.raises(ModelError, match="cannot connect.*after 2 tries"):
        get_model(name, config).query(HELLO)


def test_retry_after_reads_seconds_milliseconds_and_dates():
    assert retry_after(httpx.Headers({"retry-after": "40"})) == 40
    assert retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    date = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after(httpx.Headers({"retry-after": date})) <= 31
    assert retry_after(httpx.Headers({"retry-after": "99999"})) == 600
    assert retry_after(httpx.Headers({})) is None


def test_prices_known_by_name_or_prefix_config_extends_unknown_is_none():
    table = PriceTable.from_config(
        {"openai-compatible:http://h/v1#qwen": {"input": 1, "output": 2}}
    )
    assert table.cost("openai:gpt-4o", 1_000_000, 0) == 2.5
    assert table.cost("anthropic:claude-sonnet-4-20250514", 0, 1_000_000) == 15.0
    assert table.cost("local:qwen2.5-coder-1.5b", 5000, 5000) == 0.0
    assert table.cost("openai-compatible:http://h/v1#qwen", 1_000_000, 1_000_000) == 3.0
    assert table.cost("openai-compatible:http://other/v1#llama", 10, 10) is None
    with pytest.raises(ConfigError, match="input.*output"):
        PriceTable.from_config({"x": {"input": 1}})


def test_an_unknown_price_leaves_the_cost_unknown(server):
    server.add(Say("ok"))

    assert get_model(server.model_name).query(HELLO).cost is None


def test_keys_in_error_bodies_and_answers_are_redacted(server, monkeypatch):
    key = "sk-canary-9f8e7d6c5b4a"
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    server.add(Say(f"your key is {key}"), Fail(401, message=f"Incorrect API key: {key}"))
    model = get_model("openai:gpt-4.1")

    reply = model.query(HELLO)
    with pytest.raises(ModelError) as info:
        model.query(HELLO)

    assert key not in str(reply.response) and "[redacted]" in str(reply.response)
    assert key not in str(info.value) and "[redacted]" in str(info.value)
    assert redact_data({"a": [f"x{key}y"]}, (key,)) == {"a": ["x[redacted]y"]}


def test_model_names_are_checked_for_shape():
    assert parse_name("openai-compatible:http://127.0.0.1:11434/v1#qwen2.5-coder:7b") == (
        "openai-compatible",
        "http://127.0.0.1:11434/v1#qwen2.5-coder:7b",
    )
    for bad in ("gpt-4o", "openai:", "mistral:large", "local:llama-70b"):
        with pytest.raises(ConfigError):
            parse_name(bad)

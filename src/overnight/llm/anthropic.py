"""Anthropic messages API: ``anthropic:<model>``; tool calls as ``tool_use`` blocks."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from overnight.errors import ModelError
from overnight.llm import Reply, Sampling, ToolCall, Usage
from overnight.llm.http import Endpoint, Retry
from overnight.llm.redact import redact_data

if TYPE_CHECKING:
    from overnight.llm import ModelConfig

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the API requires one


class AnthropicClient:
    def __init__(self, name: str, base_url: str, model: str, key: str, config: ModelConfig) -> None:
        self.name, self.model, self.config = name, model, config
        self.secrets: tuple[str, ...] = (key,)
        headers = {"x-api-key": key, "anthropic-version": API_VERSION}
        retry = Retry(config.retries, config.backoff)
        self.endpoint = Endpoint(
            base_url.rstrip("/") + "/v1",
            headers,
            config.timeout,
            retry,
            config.notify,
            self.secrets,
            config.before_request,
        )

    def query(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        sampling: Sampling | None = None,
        deadline: float | None = None,
    ) -> Reply:
        body = self.body(messages, tools, sampling or Sampling())
        start = time.monotonic()
        data = self.endpoint.post("/messages", body, deadline)
        reply = parse_response(data)
        reply.latency = time.monotonic() - start
        reply.model = self.name
        reply.cost = self.config.prices.cost(
            self.name, reply.usage.input_tokens, reply.usage.output_tokens
        )
        reply.request = redact_data(body, self.secrets)
        reply.response = redact_data(data, self.secrets)
        return reply

    def body(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, s: Sampling
    ) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": s.max_tokens or self.config.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": _messages([m for m in messages if m["role"] != "system"]),
        }
        if system:
            body["system"] = system
        if s.temperature is not None:
            body["temperature"] = min(s.temperature, 1.0)
        if tools:
            body["tools"] = [
                {
                    "name": t["name"],
                    "description": t["description"],
                    "input_schema": t["parameters"],
                }
                for t in tools
            ]
        return body


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-style messages as Anthropic ones: tool results become user blocks,
    and consecutive messages of one role are merged (the API wants them alternating)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "tool":
            role = "user"
            blocks = [
                {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
            ]
        elif m["role"] == "assistant":
            role = "assistant"
            blocks = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                for c in m.get("tool_calls") or []
            ]
        else:
            role, blocks = "user", [{"type": "text", "text": m["content"]}]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def parse_response(data: dict[str, Any]) -> Reply:
    if not isinstance(data.get("content"), list):
        raise ModelError(f"not an Anthropic message: {json.dumps(data)[:300]}")
    text = "".join(b.get("text", "") for b in data["content"] if b.get("type") == "text")
    calls = [
        ToolCall(b.get("id", ""), b.get("name", ""), b.get("input") or {})
        for b in data["content"]
        if b.get("type") == "tool_use"
    ]
    usage = data.get("usage") or {}
    return Reply(
        content=text,
        tool_calls=calls,
        usage=Usage(usage.get("input_tokens") or 0, usage.get("output_tokens") or 0),
        finish_reason=data.get("stop_reason"),
    )

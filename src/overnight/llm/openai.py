"""OpenAI chat completions: ``openai:`` and every ``openai-compatible:`` server."""

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


class OpenAIClient:
    def __init__(self, name: str, base_url: str, model: str, key: str, config: ModelConfig) -> None:
        self.name, self.model, self.config = name, model, config
        self.secrets: tuple[str, ...] = (key,) if key else ()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        retry = Retry(config.retries, config.backoff)
        self.endpoint = Endpoint(
            base_url,
            headers,
            config.timeout,
            retry,
            config.notify,
            self.secrets,
            config.before_request,
        )
        self.official = name.startswith("openai:")

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
        data = self.endpoint.post("/chat/completions", body, deadline)
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
        body: dict[str, Any] = {"model": self.model, "messages": [_message(m) for m in messages]}
        max_tokens = s.max_tokens or self.config.max_tokens
        if max_tokens:
            body["max_completion_tokens" if self.official else "max_tokens"] = max_tokens
        if s.temperature is not None:
            body["temperature"] = s.temperature
        if s.seed is not None:
            body["seed"] = s.seed
        if tools:
            body["tools"] = [{"type": "function", "function": t} for t in tools]
        return body


def _message(m: dict[str, Any]) -> dict[str, Any]:
    if m["role"] == "assistant" and m.get("tool_calls"):
        return {
            "role": "assistant",
            "content": m.get("content") or None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in m["tool_calls"]
            ],
        }
    if m["role"] == "tool":
        return {"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]}
    return {"role": m["role"], "content": m["content"]}


def parse_response(data: dict[str, Any]) -> Reply:
    """A chat completion as a ``Reply`` (also used to replay recorded answers)."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelError(f"not a chat completion: {json.dumps(data)[:300]}") from exc
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError:
            arguments = {"_unparsed": function.get("arguments")}
        if not isinstance(arguments, dict):
            arguments = {"_unparsed": function.get("arguments")}
        calls.append(ToolCall(call.get("id", ""), function.get("name", ""), arguments))
    usage = data.get("usage") or {}
    return Reply(
        content=message.get("content") or "",
        tool_calls=calls,
        usage=Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )

"""A scripted model server on loopback: OpenAI- and Anthropic-compatible.

It answers each ``POST /v1/chat/completions`` (OpenAI) or ``POST /v1/messages``
(Anthropic) with the next item of its script, in that API's format, and keeps
every request it got (path, headers, JSON body) in ``requests``. Items::

    Say("text")                            an answer (usage tokens optional)
    Say("", tool_calls=[ToolUse("bash", {"command": "ls"})])   a native tool call
    bash("ls -la", "Look around first.")   an answer holding one ```bash block
    Fail(429, retry_after=2)               an error status (with Retry-After)
    Delay(3.0, Say("late"))                an answer after a pause (for timeouts)
    a callable(body) -> item               decided from the request

Because it is a real HTTP server, it also works when the agent runs in a
worker subprocess. Point a model name at it: ``server.model_name`` is
``openai-compatible:<url>#scripted``; for ``anthropic:`` set
``ANTHROPIC_BASE_URL=server.base``::

    with ScriptedLLMServer([bash("echo hi"), bash("submit")]) as server:
        ...  # run overnight with model server.model_name
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Union

from overnight.testing.loopback import Loopback


@dataclass
class ToolUse:
    name: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass
class Say:
    text: str = ""
    tool_calls: list[ToolUse] = field(default_factory=list)
    input_tokens: int = 100
    output_tokens: int = 20


@dataclass
class Fail:
    status: int
    retry_after: float | str | None = None
    message: str = "scripted failure"


@dataclass
class Delay:
    seconds: float
    then: Item


Item = Union[Say, Fail, Delay, Callable[[dict[str, Any]], "Item"]]  # noqa: UP007


def bash(command: str, thought: str = "I will run a command.") -> Say:
    """An answer in the text protocol: a thought and one fenced bash block."""
    return Say(f"{thought}\n\n```bash\n{command}\n```")


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class ScriptedLLMServer(Loopback):
    def __init__(self, script: Iterable[Item] = (), *, model: str = "scripted") -> None:
        self.script: list[Item] = list(script)
        self.model = model
        self.requests: list[Request] = []
        self.served = 0
        self._lock = threading.Lock()
        super().__init__(_handler(self), "scripted-llm")

    @property
    def url(self) -> str:
        """With ``/v1``: an OpenAI base URL (``OPENAI_BASE_URL``); ``base``, without it,
        is what ``ANTHROPIC_BASE_URL`` wants."""
        return self.base + "/v1"

    @property
    def model_name(self) -> str:
        return f"openai-compatible:{self.url}#{self.model}"

    def add(self, *items: Item) -> None:
        with self._lock:
            self.script.extend(items)

    def next_item(self, request: Request) -> Item | None:
        with self._lock:
            self.requests.append(request)
            if self.served >= len(self.script):
                return None
            item = self.script[self.served]
            self.served += 1
            return item


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self._send(200, {"object": "list", "data": [{"id": server.model}]})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                body = {}
            anthropic = self.path.rstrip("/").endswith("/messages")
            request = Request(self.path, dict(self.headers), body, time.time())
            item = server.next_item(request)
            while True:
                if item is None:
                    message = f"scripted server: no response left ({len(server.script)} given)"
                    return self._send(400, {"error": {"message": message}})
                if isinstance(item, Delay):
                    time.sleep(item.seconds)
                    item = item.then
                elif isinstance(item, Fail):
                    headers = (
                        {} if item.retry_after is None else {"Retry-After": str(item.retry_after)}
                    )
                    return self._send(item.status, {"error": {"message": item.message}}, headers)
                elif isinstance(item, Say):
                    n = server.served
                    return self._send(200, _anthropic(item, n) if anthropic else _openai(item, n))
                else:
                    item = item(body)

        def _send(self, status: int, data: dict[str, Any], headers: dict | None = None) -> None:
            payload = json.dumps(data).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


def _openai(say: Say, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": say.text or None}
    if say.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id or f"call_{n}_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for i, c in enumerate(say.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if say.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": say.input_tokens,
            "completion_tokens": say.output_tokens,
            "total_tokens": say.input_tokens + say.output_tokens,
        },
    }


def _anthropic(say: Say, n: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": say.text}] if say.text else []
    content += [
        {"type": "tool_use", "id": c.id or f"toolu_{n}_{i}", "name": c.name, "input": c.arguments}
        for i, c in enumerate(say.tool_calls)
    ]
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": "scripted",
        "content": content,
        "stop_reason": "tool_use" if say.tool_calls else "end_turn",
        "usage": {"input_tokens": say.input_tokens, "output_tokens": say.output_tokens},
    }

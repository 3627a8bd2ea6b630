"""Model clients, picked by a URL-like name.

    openai:<model>                          the OpenAI API ($OPENAI_API_KEY)
    openai-compatible:<base_url>#<model>    vLLM, Ollama, llama.cpp, LM Studio, proxies
    anthropic:<model>                       the Anthropic API ($ANTHROPIC_API_KEY)
    local:<name>                            the embedded model (``llm/local.py``)

Every client has one method, ``query(messages, ...) -> Reply``: messages are
OpenAI-style dicts (``role``, ``content``, ``tool_calls``, ``tool_call_id``)
and each client translates them at its seam. A ``Reply`` carries what was
sent and received (with the keys redacted), the tokens, the cost (``None``
when the price is unknown, never 0) and the latency. Errors are
``ModelError`` (see ``overnight.errors``); retries happen inside ``http.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from overnight.errors import ConfigError
from overnight.llm.prices import PriceTable

DEFAULT_MODEL = "local:qwen2.5-coder-1.5b"
KINDS = ("openai", "openai-compatible", "anthropic", "local")


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class Reply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None  # USD; None: the price is unknown
    latency: float = 0.0  # seconds, retries and waits included
    model: str = ""
    finish_reason: str | None = None
    request: dict[str, Any] = field(default_factory=dict)  # the body sent (no headers)
    response: dict[str, Any] = field(default_factory=dict)  # the body received

    def message(self) -> dict[str, Any]:
        """The assistant message to append to the conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls
            ]
        return msg


@dataclass
class Sampling:
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None


class Model(Protocol):
    """``deadline`` (a ``time.monotonic()`` value): no request or retry wait goes past it."""

    name: str
    secrets: tuple[str, ...]  # values to redact from anything recorded

    def query(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        sampling: Sampling | None = None,
        deadline: float | None = None,
    ) -> Reply: ...


Notify = Callable[[str], None]  # "waiting 40 s for rate limit" goes here (and to the log)


@dataclass
class ModelConfig:
    """How to reach models: from the project's configuration and the environment."""

    prices: PriceTable = field(default_factory=PriceTable)
    key_env: str | None = None  # the variable holding the key (openai-compatible)
    timeout: float = 300.0  # seconds, for each request
    retries: int = 6  # requests in all, the first included
    backoff: float = 1.0  # seconds before the first retry (doubling; Retry-After wins)
    max_tokens: int | None = None  # per reply; None: the kind's default
    notify: Notify | None = None
    # called with the provider's host before each request: waits for the rate limit
    # every worker shares (``ratelimit.Limiter``); None: no shared limit
    before_request: Callable[[str], None] | None = None


def parse_name(name: str) -> tuple[str, str]:
    """``kind:rest`` checked for shape only (no network); raises ConfigError."""
    kind, sep, rest = name.partition(":")
    if not sep or kind not in KINDS or not rest.strip():
        raise ConfigError(
            f"unknown model '{name}': use openai:<model>, anthropic:<model>, "
            "openai-compatible:<base_url>#<model> or local:<name>"
        )
    if kind == "openai-compatible":
        base, hash_, model = rest.rpartition("#")
        if not hash_ or not base.startswith(("http://", "https://")) or not model:
            raise ConfigError(
                f"model '{name}': write openai-compatible:<base_url>#<model>, "
                "e.g. openai-compatible:http://127.0.0.1:11434/v1#qwen2.5-coder:7b"
            )
    if kind == "local":
        from overnight.llm.local import CATALOG

        if rest not in CATALOG:
            raise ConfigError(f"unknown local model '{rest}': known: {', '.join(CATALOG)}")
    return kind, rest


def get_model(name: str, config: ModelConfig | None = None) -> Model:
    """The client for ``name``; keys come from the environment, never from the store."""
    config = config or ModelConfig()
    kind, rest = parse_name(name)
    if kind == "openai":
        from overnight.llm.openai import OpenAIClient

        base = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
        key = os.environ.get(config.key_env or "OPENAI_API_KEY", "")
        if not key:
            raise ConfigError(
                f"model '{name}': set ${config.key_env or 'OPENAI_API_KEY'} in the worker's "
                "environment"
            )
        return OpenAIClient(name, base, rest, key, config)
    if kind == "openai-compatible":
        from overnight.llm.openai import OpenAIClient

        base, _, model = rest.rpartition("#")
        key = os.environ.get(config.key_env, "") if config.key_env else ""
        return OpenAIClient(name, base, model, key, config)
    if kind == "anthropic":
        from overnight.llm.anthropic import AnthropicClient

        base = os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
        key = os.environ.get(config.key_env or "ANTHROPIC_API_KEY", "")
        if not key:
            raise ConfigError(
                f"model '{name}': set ${config.key_env or 'ANTHROPIC_API_KEY'} in the worker's "
                "environment"
            )
        return AnthropicClient(name, base, rest, key, config)
    from overnight.llm.local import local_model

    return local_model(rest, config)

"""A model that answers with a recorded run's responses, in order.

Used by ``overnight replay``: the agent loop runs again (new prompts, real
commands), but every answer is the one recorded, so a prompt change can be
seen turn by turn without paying for a model. Each request is built with the
recorded model's client and compared with the recorded request.
"""

from __future__ import annotations

from typing import Any

from overnight.errors import ModelError
from overnight.llm import ModelConfig, Reply, Sampling, Usage


class ReplayModel:
    def __init__(self, name: str, turns: list[Any]) -> None:
        self.name = name  # the recorded model's name
        self.secrets: tuple[str, ...] = ()
        self.turns = list(turns)  # store rows (or anything with their fields), in order
        self.served = 0
        self.same: list[bool] = []  # per turn: was the request as recorded?

    def query(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        sampling: Sampling | None = None,
        deadline: float | None = None,
    ) -> Reply:
        if self.served >= len(self.turns):
            raise ModelError(
                f"the recorded responses ran out after {len(self.turns)} turn(s): "
                "the replayed run went further than the recorded one"
            )
        turn = self.turns[self.served]
        self.served += 1
        client, parse = _client(self.name)
        body = client.body(messages, tools, sampling or Sampling())
        self.same.append(_conversation(body) == _conversation(turn.request))
        reply = parse(turn.response)
        reply.usage = Usage(turn.input_tokens, turn.output_tokens)
        reply.cost, reply.model = turn.cost, self.name
        reply.request, reply.response = body, turn.response
        return reply


def _conversation(body: dict[str, Any]) -> Any:
    return (body.get("system"), body.get("messages"))


def _client(name: str) -> tuple[Any, Any]:
    """The recorded model's client (never used to send) and its response parser."""
    config = ModelConfig()
    if name.startswith("anthropic:"):
        from overnight.llm.anthropic import AnthropicClient, parse_response

        return AnthropicClient(
            name, "http://replay", name.partition(":")[2], "", config
        ), parse_response
    from overnight.llm.openai import OpenAIClient, parse_response

    model = name.rpartition("#")[2] if "#" in name else name.partition(":")[2]
    return OpenAIClient(name, "http://replay", model, "", config), parse_response

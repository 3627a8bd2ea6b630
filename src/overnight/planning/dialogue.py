"""Asking the model: the first prompt, rounds of files it asks to read, and its
malformed answers sent back with what is wrong, a bounded number of times.

Every message of the conversation is kept (``Conversation.messages``) and written
beside the plan; the prompt templates used are named by their hashes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from overnight.agents.library import PromptLibrary
from overnight.agents.prompts import Prompts
from overnight.errors import PlanError
from overnight.llm import Model, Sampling
from overnight.planning.answer import Malformed, Node, parse_answer
from overnight.planning.context import Base, ReadLimits

REPLY_TOKENS = 6000  # a plan carries test patches: more than an agent's turn
DEADLINE = 1800.0  # seconds for the whole conversation


@dataclass
class Conversation:
    """What a conversation gave: the specs, what it cost and what was said."""

    nodes: list[Node]
    model: str
    cost: float | None  # USD; None: some reply's price is unknown
    tokens: int
    prompt: dict[str, str]  # the template's name, hash, source and path
    messages: list[dict[str, Any]] = field(default_factory=list)


def converse(
    model: Model,
    library: PromptLibrary,
    template: str,
    values: dict[str, Any],
    base: Base,
    *,
    retries: int = 1,
    limits: ReadLimits | None = None,
    single: bool = False,
) -> Conversation:
    """Ask ``template`` (``plan`` or ``draft``) rendered with ``values``; raise
    ``PlanError`` when the answer is still malformed after ``retries`` resends."""
    limits = limits or ReadLimits()
    prompts = Prompts(library=library)
    used = library.get(template)
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": prompts.render(template, stage="start", rounds=limits.rounds, **values),
        }
    ]
    cost: float | None = 0.0
    tokens, malformed, rounds = 0, 0, limits.rounds
    deadline = time.monotonic() + DEADLINE
    sampling = Sampling(temperature=0.2, max_tokens=REPLY_TOKENS)
    while True:
        reply = model.query(messages, sampling=sampling, deadline=deadline)
        messages.append(reply.message())
        tokens += reply.usage.total
        cost = None if cost is None or reply.cost is None else cost + reply.cost
        try:
            answer = parse_answer(reply.content, single=single)
            if answer.reads and rounds == 0:
                raise Malformed("no reads are left: answer with 'specs' now")
        except Malformed as exc:
            malformed += 1
            if malformed > retries:
                raise PlanError(
                    f"the model's answer was malformed {malformed} time(s), last: {exc}; "
                    "run again, or use another --model"
                ) from None
            again = prompts.render(template, stage="error", error=str(exc), rounds=rounds, **values)
            messages.append({"role": "user", "content": again})
            continue
        if answer.reads:
            rounds -= 1
            files = base.read(answer.reads, limits)
            shown = prompts.render(template, stage="files", files=files, rounds=rounds, **values)
            messages.append({"role": "user", "content": shown})
            continue
        record = {"name": template, **used.record()}
        return Conversation(answer.nodes, model.name, cost, tokens, record, messages)

"""Agents edit a workspace to satisfy a spec. Picked by name from
``agents/registry.py``: ``builtin`` (overnight's own loop, ``agents/loop.py``;
``builtin:<model>`` picks the model, else the project's ``model``, else the
embedded default) or ``command:<shell>`` (any CLI agent or script)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from overnight.registry import Argument
from overnight.sandbox import Sandbox

if TYPE_CHECKING:
    from overnight.agents.library import PromptLibrary, PromptSet
    from overnight.agents.standards import Convention
    from overnight.config import ProjectConfig


@dataclass
class Turn:
    """One model call of an agent and what came of it, as recorded (keys redacted)."""

    attempt: int
    number: int
    model: str
    content: str  # the model's answer
    command: str | None = None  # what ran (None: nothing yet, or nothing to run)
    output: str | None = None
    exit_code: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None  # USD; None: unknown
    latency: float = 0.0
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    # the loop's state after it: recorded as the turn's checkpoint, a resume picks it up
    prompts: str | None = None  # the prompt templates' version
    protocol: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    feedback: str | None = None  # the first turn's: what the attempt began with
    start: str | None = None  # the first turn's: a digest of the workspace then
    waits: list[str] = field(default_factory=list)  # rate limit waits before it
    messages: list[dict[str, Any]] | None = None  # its part of the conversation
    done: bool = False  # its command ran: its part of the conversation is final
    rerun: int = 0  # how often a resume ran its command again
    unchanged: bool = False  # a submit with nothing changed, sent back
    stuck: int | None = None  # the repeats when the model was told it is in a loop
    format_error: bool = False  # its answer did not follow the protocol
    end: str | None = None  # the attempt's final word, on its last turn
    end_exit_code: int | None = None  # the attempt's exit code, with ``end``


@dataclass
class AgentContext:
    task_id: int
    run_number: int
    attempt: int
    workspace: Path
    spec_file: Path  # the spec as the agent may see it (no hidden tests)
    feedback: str  # condensed gate feedback and review comments; empty on a first try
    sandbox: Sandbox
    environ: dict[str, str]
    timeout: float
    instance_id: str | None = None
    cancel: threading.Event | None = None  # kill what runs and stop
    pause: threading.Event | None = None  # stop between two turns (raise Interrupted)
    on_turn: Callable[[Turn], None] | None = None  # saves each turn as it happens
    recorded_turns: list[Turn] = field(default_factory=list)  # of this attempt, cut off
    tokens_left: int | None = None  # of the run's budget; None: no limit
    usd_left: float | None = None
    live: Callable[[str], None] | None = None  # the commands and output, as they come
    rate_limit: Callable[[str], None] | None = None  # before each model request, by host
    # the prompt templates (``prompt_library``: the repository's at the base, the home's,
    # the built-in ones; None: the built-in ones) and the coding standards read at the
    # base (None: as the workspace has them)
    prompts: PromptLibrary | None = None
    standards: list[Convention] | None = None


class Interrupted(Exception):
    """The attempt stopped between two turns because its worker is stopping; it
    resumes later from its recorded turns."""


@dataclass
class AgentResult:
    exit_code: int
    summary: str
    log: str


class Agent(Protocol):
    name: str

    def prompt_library(
        self, repo_templates: dict[str, str], chosen: PromptSet | None = None
    ) -> PromptLibrary | None: ...

    def run(self, ctx: AgentContext) -> AgentResult: ...


class BaseAgent:
    """What an agent kind declares for its registry (``agents/registry.py``): its
    ``name``, what may follow ``KIND:`` (``argument``), the type of its settings
    (``config_type``; None: it has none) and how it is built from those."""

    name: str
    argument: Argument | None = None
    config_type: type | None = None

    @classmethod
    def build(cls, arg: str, config: ProjectConfig | None) -> Agent:
        """The agent ``KIND:arg`` names, with the project's settings."""
        raise NotImplementedError

    def prompt_library(
        self, repo_templates: dict[str, str], chosen: PromptSet | None = None
    ) -> PromptLibrary | None:
        """The templates this agent renders: an evaluation's (``chosen``, stored with the
        task), over the repository's (path → text, at the base), over the built-in
        ones; None: it renders none (a command agent)."""
        return None

    def run(self, ctx: AgentContext) -> AgentResult:
        raise NotImplementedError

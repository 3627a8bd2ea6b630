"""Agents edit a workspace to satisfy a spec. Picked by name: ``command:<shell>``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from overnight.errors import ConfigError
from overnight.sandbox import Sandbox


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
    cancel: threading.Event | None = None


@dataclass
class AgentResult:
    exit_code: int
    summary: str
    log: str


class Agent(Protocol):
    name: str

    def run(self, ctx: AgentContext) -> AgentResult: ...


def get_agent(spec: str) -> Agent:
    kind, _, arg = spec.partition(":")
    if kind == "command" and arg.strip():
        from overnight.agents.command import CommandAgent

        return CommandAgent(arg.strip())
    raise ConfigError(f"unknown agent '{spec}': use 'command:<shell command>'")

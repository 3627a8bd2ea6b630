"""The agent kinds, by name: ``KIND[:ARG]`` in a spec's ``agent`` or the project's.

Adding a kind is its module (a ``BaseAgent`` subclass) and one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overnight.agents import Agent, BaseAgent
from overnight.agents.command import CommandAgent
from overnight.agents.loop import BuiltinAgent
from overnight.errors import ConfigError
from overnight.registry import Registry

if TYPE_CHECKING:
    from overnight.config import ProjectConfig

AGENTS: Registry[BaseAgent] = Registry("agent", (BuiltinAgent, CommandAgent))
AGENT_NAMES = AGENTS.choices()


def agent_problem(name: str) -> str | None:
    """What is wrong with an agent name, or None when it names an agent."""
    if not name.strip():
        return f"the agent is empty: name one ({AGENT_NAMES}), or leave it out"
    return AGENTS.problem(name)


def get_agent(name: str, config: ProjectConfig | None = None) -> Agent:
    problem = agent_problem(name)
    if problem:
        raise ConfigError(problem)
    kind, arg = AGENTS.get(name)
    return kind.build(arg, config)

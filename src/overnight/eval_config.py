"""An evaluation's agent configuration: one small TOML file, checked whole.

``eval compare`` and ``eval impossible`` take configurations in the same form
(docs/eval.md)::

    name = "gpt-4o, 2 attempts"      # default: the file's name without .toml
    agent = "builtin"                # KIND[:ARG], as a spec's ``agent``
    model = "openai:gpt-4o"          # the built-in agent's model (builtin only)
    prompts = "v1"                   # a built-in prompt set, or a directory of
                                     # NAME.j2 templates over it (builtin only)
    [budget]                         # a spec's budget; each key optional
    attempts = 2
    minutes = 20

Anything wrong (an unknown key, agent, model or prompt set, a prompts directory
that cannot be read, names a template the built-in set does not have or holds
one that does not render, a budget value that is not a positive number) is a
one-line ``UsageError`` that starts with the file's path, before anything runs.
A prompts directory is read here, whole: the tasks carry its text
(``Spec.prompts``), so editing it later changes nothing that is queued.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from overnight.agents.library import PromptLibrary, PromptSet, prompt_set
from overnight.agents.prompts import preview
from overnight.agents.registry import agent_problem
from overnight.errors import ConfigError, UsageError
from overnight.llm import parse_name
from overnight.spec import Budget

KEYS = ("name", "agent", "model", "prompts", "budget")
BUDGET = {"attempts": (int,), "minutes": (int, float), "usd": (int, float), "tokens": (int,)}


@dataclass(frozen=True)
class EvalConfig:
    """One configuration: its name, the agent as a spec names it, its prompt set, budget."""

    name: str
    agent: str
    budget: Budget = field(default_factory=Budget)
    prompts: PromptSet | None = None

    def describe(self) -> dict[str, Any]:
        prompts = self.prompts.describe() if self.prompts else None
        return {"agent": self.agent, "prompts": prompts, "budget": asdict(self.budget)}


def load_config(path: Path) -> EvalConfig:
    """A configuration file, checked whole; anything wrong is a one-line UsageError."""
    try:
        data = tomllib.loads(path.read_text())
        return config_from_dict(data, default_name=path.stem, base_dir=path.parent)
    except (OSError, tomllib.TOMLDecodeError, ConfigError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: {' '.join(str(exc).split())}") from exc


def load_configs(paths: list[Path], *, at_least: int = 1) -> list[EvalConfig]:
    """Every configuration, each checked, with names of their own."""
    if len(paths) < at_least:
        raise UsageError(
            f"this needs {at_least} or more configurations (--config A.toml --config B.toml)"
        )
    configs = [load_config(path) for path in paths]
    names = [c.name for c in configs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"configuration name(s) used twice: {', '.join(twice)}: set 'name'")
    return configs


def config_from_dict(
    data: dict[str, Any], *, default_name: str, base_dir: Path | None = None
) -> EvalConfig:
    """``base_dir``: where a prompts directory is (the file's; default the current one)."""
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}: known are {', '.join(KEYS)}")
    for key in ("name", "agent", "model", "prompts"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            raise ConfigError(f"'{key}' must be a non-empty string")
    agent = data.get("agent", "builtin").strip()
    problem = agent_problem(agent)
    if problem:
        raise ConfigError(problem)
    builtin = agent.split(":", 1)[0] == "builtin"
    if "model" in data:
        if agent != "builtin":
            raise ConfigError(f"'model' is for agent = \"builtin\" only (the agent is '{agent}')")
        agent = f"builtin:{data['model'].strip()}"
    if builtin and ":" in agent:
        parse_name(agent.split(":", 1)[1])
    prompts = None
    if "prompts" in data:
        if not builtin:
            raise ConfigError("'prompts' is for the built-in agent only")
        prompts = prompt_set(data["prompts"].strip(), base_dir or Path.cwd())
        check_renders(prompts)
    return EvalConfig(
        name=data.get("name", default_name).strip(),
        agent=agent,
        budget=budget_from(data.get("budget", {})),
        prompts=prompts,
    )


def check_renders(prompts: PromptSet) -> None:
    """Every template of the set renders, as a first attempt's would (example values
    for the per-turn ones, either protocol): one that reads a value it is not given
    fails now, not in the middle of a run."""
    library = PromptLibrary(prompts.version, chosen=prompts.templates)
    for name in library.layers["eval"]:
        for protocol in ("text", "tools"):
            preview(library, name, protocol, spec="(the spec)", standards=[], files=[], read=_none)


def _none(path: str) -> None:
    return None


def budget_from(table: Any) -> Budget:
    if not isinstance(table, dict):
        raise ConfigError("'budget' must be a table: [budget]")
    unknown = sorted(set(table) - set(BUDGET))
    if unknown:
        raise ConfigError(
            f"unknown budget key(s) {', '.join(unknown)}: known are {', '.join(BUDGET)}"
        )
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"budget.{key} must be a positive number")
        if not isinstance(value, BUDGET[key]):
            raise ConfigError(f"budget.{key} must be a whole number")
    return Budget(**table)

"""The built-in agent's settings, from the project's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from overnight.errors import ConfigError
from overnight.llm import DEFAULT_MODEL, ModelConfig, parse_name
from overnight.llm.prices import PriceTable

if TYPE_CHECKING:
    from overnight.config import ProjectConfig


@dataclass
class AgentConfig:
    model: str = DEFAULT_MODEL
    protocol: str = "text"  # or "tools"
    prompts: str = "v1"
    max_turns: int = 30  # per attempt
    command_timeout: float = 180.0  # seconds, for each command
    output_chars: int = 8000  # of each command's output shown to the model
    repeat_limit: int = 3  # the same command this often in a row: warn; once more: stop
    temperature: float = 0.0  # first attempt; each later one adds 0.3 (at most 1.0)
    nudge_unchanged: bool = True  # send a submit back once if nothing has changed yet
    named_files: int = 3  # files the spec names, shown in the task prompt
    max_reply_tokens: int | None = None
    model_config: ModelConfig = field(default_factory=ModelConfig)


def agent_config(project: ProjectConfig | None, model: str | None = None) -> AgentConfig:
    """The built-in agent's settings from the project's, for ``builtin[:<model>]``."""
    if project is None:
        from overnight.config import ProjectConfig

        project = ProjectConfig()
    name = model or project.model or DEFAULT_MODEL
    parse_name(name)  # the shape is checked at submit; the key only when it runs
    if project.agent_protocol not in ("text", "tools"):
        raise ConfigError("'agent_protocol' must be 'text' or 'tools'")
    local = name.startswith("local:")
    return AgentConfig(
        model=name,
        protocol=project.agent_protocol,
        max_turns=project.agent_max_turns,
        output_chars=3000 if local else 8000,  # small context, slow prompt processing
        max_reply_tokens=768 if local else None,
        model_config=ModelConfig(
            prices=PriceTable.from_config(project.prices),
            key_env=project.model_key_env,
            timeout=project.model_timeout,
        ),
    )

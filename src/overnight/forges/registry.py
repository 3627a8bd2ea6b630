"""The forges, by name, and the one forge a task's ``[forge]`` table names.

Adding one is its module (a ``BaseForge`` subclass with a ``config_type``, a
frozen dataclass whose ``__post_init__`` checks its values) and one line in
``FORGES``. The table is read when a task is submitted, so a wrong one is
refused then, in one line; secrets are never in it (``token_env`` names the
variable that holds the token).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from overnight.config import SECRET_NAME
from overnight.errors import ConfigError, OvernightError
from overnight.forges.base import BaseForge, Forge
from overnight.forges.github import GitHubForge
from overnight.forges.gitlab import GitLabForge
from overnight.forges.local import LocalForge
from overnight.registry import Registry

FORGES: Registry[BaseForge] = Registry("forge", (LocalForge, GitHubForge, GitLabForge))


def forge_settings(table: Mapping[str, Any], source: str) -> tuple[type[BaseForge], Any]:
    """The forge a ``[forge]`` table names and its settings; ``ConfigError`` if wrong."""
    data = dict(table)
    kind = data.pop("kind", "local")
    if not isinstance(kind, str):
        raise ConfigError(f"{source}: forge.kind must be a string: {FORGES.choices()}")
    problem = FORGES.problem(kind)
    if problem:
        raise ConfigError(f"{source}: forge.kind: {problem}")
    part, _ = FORGES.get(kind)
    for name in data:
        if SECRET_NAME.search(name) and not name.endswith("_env"):
            raise ConfigError(
                f"{source}: forge.{name} looks like a secret, and the configuration is stored "
                "with every task: put it in the worker's environment and name the variable "
                "in forge.token_env"
            )
    if part.config_type is None:
        if data:
            raise ConfigError(
                f"{source}: forge kind '{kind}' takes no settings ({', '.join(data)})"
            )
        return part, None
    known = {f.name for f in dataclasses.fields(part.config_type)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown forge setting(s) {', '.join(unknown)}; known: kind, "
            + ", ".join(sorted(known))
        )
    for field in dataclasses.fields(part.config_type):
        if field.name in data:
            data[field.name] = _typed(field, data[field.name], source)
    try:
        return part, part.config_type(**data)
    except (TypeError, OvernightError) as exc:
        raise ConfigError(f"{source}: forge: {exc}") from exc


def build_forge(table: Mapping[str, Any], *, repo: str, base: str) -> Forge:
    """The forge of a task (``table``: its configuration's ``[forge]``)."""
    part, settings = forge_settings(table, "[forge]")
    return part.build(settings, repo=repo, base=base)


def _typed(field: dataclasses.Field, value: Any, source: str) -> Any:
    """``value`` as the setting's type (a TOML list as a tuple); ``ConfigError`` if not."""
    default = field.default if field.default is not dataclasses.MISSING else ""
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: forge.{field.name} must be a list of strings")
        return tuple(value)
    if type(value) is not type(default):
        kind = {bool: "true or false", str: "a string"}.get(type(default), type(default).__name__)
        raise ConfigError(f"{source}: forge.{field.name} must be {kind}")
    return value

"""Per-gate configuration: the ``[gates.NAME]`` tables of ``overnight.toml``.

Every gate takes ``enabled`` and ``blocking``; a gate with options of its own
has a ``GateConfig`` subclass beside it (``CoverageConfig`` in coverage.py,
and so on), whose typed fields are the options. Custom commands are
``[gates.command.NAME]`` tables, each one a gate named NAME.

The gate names and their configuration types come from ``registry.py``.
``overnight.config`` (below the gates) never imports this module: the project
configuration is read and written through ``parse_config``, ``config_from_dict``
and ``render_toml`` here, which hand the gate tables' parser and renderer down.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from typing import Any

from overnight.config import (
    CONFIG_FILE,
    GateConfig,
    ProjectConfig,
    parse_files,
    render_project,
)
from overnight.errors import ConfigError
from overnight.gates.custom import CommandConfig
from overnight.gates.registry import CONFIG_TYPES, GATE_NAMES

NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_config(files: dict[str, str]) -> ProjectConfig:
    """The project configuration from file contents keyed by path (at one commit)."""
    return parse_files(files, parse_gates)


def config_from_dict(data: dict[str, Any], source: str = CONFIG_FILE) -> ProjectConfig:
    """A project configuration as stored with a task (``ProjectConfig.to_dict``)."""
    return ProjectConfig.from_dict(data, source, parse_gates=parse_gates)


def render_toml(config: ProjectConfig) -> str:
    """The overnight.toml that ``overnight init`` writes."""
    return render_project(config, render_gates)


def gate_setting(config: ProjectConfig, name: str) -> GateConfig:
    """The configuration of gate ``name``, of its own type, defaults filled in."""
    stored = config.gates.get(name)
    kind = CommandConfig if isinstance(stored, CommandConfig) else CONFIG_TYPES.get(name)
    return config.gate(name, kind or GateConfig)


def parse_gates(raw: dict[str, Any], source: str) -> dict[str, GateConfig]:
    gates: dict[str, GateConfig] = {}
    for name, value in raw.items():
        if name == "command":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(
                    f"{source}: custom commands are [gates.command.NAME] tables, "
                    "each with a 'command'"
                )
            for custom, table in value.items():
                where = f"{source}: [gates.command.{custom}]"
                if custom in GATE_NAMES or not NAME.match(custom):
                    raise ConfigError(
                        f"{where}: a custom gate needs a name of its own (letters, digits, "
                        "'-', '_'), not a built-in gate's"
                    )
                command = parse_table(CommandConfig, table, where)
                if not command.command:
                    raise ConfigError(f"{where}: 'command' is required")
                gates[custom] = command
            continue
        if name not in GATE_NAMES:
            raise ConfigError(
                f"{source}: unknown gate '{name}'; known: {', '.join(GATE_NAMES)}, command.NAME"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [gates.{name}] must be a table")
        gates[name] = parse_table(
            CONFIG_TYPES.get(name, GateConfig), value, f"[gates.{name}]", source
        )
    return gates


def parse_table(kind: type, value: dict[str, Any], where: str, source: str = "") -> Any:
    """A dataclass from a TOML table, every key known and of the right type."""
    where = f"{source}: {where}" if source else where
    names = [f.name for f in dataclasses.fields(kind)]
    if set(value) - set(names):
        listed = ", ".join(f"'{n}'" for n in names[:-1]) + f" and '{names[-1]}'"
        raise ConfigError(f"{where} takes {listed}")
    for f in dataclasses.fields(kind):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in value:
            raise ConfigError(f"{where} needs '{f.name}'")
    hints = typing.get_type_hints(kind)
    kwargs = {key: _coerce(hints[key], item, f"{where} '{key}'") for key, item in value.items()}
    choices: dict[str, tuple[str, ...]] = getattr(kind, "CHOICES", {})
    for key, allowed in choices.items():
        if key in kwargs and kwargs[key] not in allowed:
            raise ConfigError(f"{where} '{key}' must be one of: {', '.join(allowed)}")
    return kind(**kwargs)


def _coerce(kind: Any, value: Any, what: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value, what)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{what} must be true or false")
    if kind in (int, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return kind(value)
        raise ConfigError(f"{what} must be a number")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{what} must be a string")
    if origin is list:
        if isinstance(value, str) and args[0] is str:
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{what} must be a list")
        return [_coerce(args[0], item, f"{what} item {i + 1}") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"{what} must be a table")
        return parse_table(kind, value, what)  # type: ignore[arg-type]
    return value


def render_gates(config: ProjectConfig) -> list[str]:
    """The ``[gates.*]`` part of the overnight.toml that ``overnight init`` writes."""
    lines: list[str] = []
    for name in GATE_NAMES:
        if name == "lint" and not config.lint_cmd:
            continue
        lines += [f"[gates.{name}]", *_render_table(gate_setting(config, name)), ""]
    for name, gate in config.gates.items():
        if isinstance(gate, CommandConfig):
            lines += [f"[gates.command.{name}]", *_render_table(gate), ""]
    return lines


def _render_table(gate: GateConfig) -> list[str]:
    lines = [f"blocking = {str(gate.blocking).lower()}"]
    lines += [] if gate.enabled else ["enabled = false"]
    default = type(gate)()
    hints: dict[str, str] = getattr(gate, "HINTS", {})
    for f in dataclasses.fields(gate):
        if f.name in ("enabled", "blocking"):
            continue
        value = getattr(gate, f.name)
        if value != getattr(default, f.name) or f.name == "command" and value:
            lines.append(f"{f.name} = {toml_value(value)}")
        elif f.name in hints:
            lines.append(f"# {f.name} = {hints[f.name]}")
    return lines


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if dataclasses.is_dataclass(value):
        items = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        shown = ", ".join(f"{k} = {toml_value(v)}" for k, v in items.items() if v is not None)
        return "{" + shown + "}"
    raise TypeError(f"cannot render {value!r} as TOML")

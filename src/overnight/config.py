"""Project configuration: ``overnight.toml`` or ``[tool.overnight]`` in pyproject.toml.

``detect`` guesses a configuration from the files of a repository; ``overnight
init`` writes it, and a repository without any configuration uses it as is.
The configuration is read from the task's base commit, so what the worker does
cannot be changed by edits made after submitting (or by the agent).

This is the bottom layer: it imports no gate, sandbox or workspace code. The
``[gates.*]`` tables are parsed and rendered by ``gates/settings.py``, beside
the gates' registry, which passes its parser and renderer in here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from overnight.errors import ConfigError

CONFIG_FILE = "overnight.toml"
DEPENDENCY_FILES = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
    "test-requirements.txt",
    "dev-requirements.txt",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
)
# a variable name that looks like a secret: never stored in ``env``, never passed unnamed
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
# the coding standards agents are given unless ``standards`` names others: read at the
# base commit (agents/standards.py); a command agent gets their paths
STANDARD_FILES = (
    "AGENTS.md",
    "CLAUDE.md",
    "CONVENTIONS.md",
    ".cursorrules",
    ".github/copilot-instructions.md",
)
DEFAULT_PROTECTED = [
    CONFIG_FILE,
    ".github/**",
    ".gitlab-ci.yml",
    ".ci/**",
    ".circleci/**",
    "tox.ini",
    "noxfile.py",
]


@dataclass
class GateConfig:
    """``[gates.NAME]``; a gate with options subclasses it beside the gate and names
    it as its ``config_type`` (gates/registry.py)."""

    group: ClassVar[str] = ""  # "command": written as [gates.command.NAME]
    enabled: bool = True
    blocking: bool = True


G = TypeVar("G", bound=GateConfig)
GateParser = Callable[[dict[str, Any], str], dict[str, GateConfig]]


@dataclass(frozen=True)
class Bounds:
    """``[bounds]`` in overnight.toml: how much an attempt may change and write
    (workspace/change.py applies them)."""

    change_mb: float = 25.0  # total size of the added and modified files
    change_files: int = 5_000  # files added, modified or deleted
    workspace_mb: float = 1024.0  # growth of the workspace on disk over the base checkout
    workspace_files: int = 50_000  # growth of its file count

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Bounds:
        return cls(**data)  # type: ignore[arg-type]


@dataclass
class ProjectConfig:
    setup: list[str] = field(default_factory=list)
    test_cmd: str = "python -m pytest"
    lint_cmd: str | None = None
    agent: str | None = None
    agent_env: list[str] = field(default_factory=list)  # variables passed to the agent
    agent_paths: list[str] = field(default_factory=list)  # host paths its commands may read
    env: dict[str, str] = field(default_factory=dict)  # set for setup, agent and gates
    sandbox: str | None = None  # None: $OVERNIGHT_SANDBOX, else "auto" (bwrap on Linux)
    environment: str = "venv"  # "venv": cached virtualenv; "inherit": the worker's own
    protected: list[str] = field(default_factory=lambda: list(DEFAULT_PROTECTED))
    gates: dict[str, GateConfig] = field(default_factory=dict)
    timeout_minutes: float = 20.0  # for any single command
    # the built-in agent (agent = "builtin"): see docs/agent.md
    model: str | None = None  # None: the embedded local:qwen2.5-coder-1.5b
    agent_protocol: str = "text"  # "text" (one bash block per answer) or "tools"
    agent_max_turns: int = 30  # per attempt
    model_key_env: str | None = None  # the variable that holds the key (never the key)
    model_timeout: float = 300.0  # seconds, for each model request
    prices: dict[str, dict[str, float]] = field(default_factory=dict)  # USD per 1M tokens
    bounds: dict[str, float] = field(default_factory=dict)  # Bounds, above
    # where runs are delivered: kind = "local" (default), "github" or "gitlab", and the
    # forge's settings (forges/registry.py reads them; docs/forges.md)
    forge: dict[str, Any] = field(default_factory=dict)
    notify: dict[str, Any] = field(default_factory=dict)  # [notify]: overnight/notify/settings.py
    # the coding standards given to the agent, as paths in the repository (None: the
    # STANDARD_FILES that exist; []: none)
    standards: list[str] | None = None

    def standard_files(self) -> list[str]:
        """The paths of the coding standards to look for at the base commit."""
        return list(STANDARD_FILES) if self.standards is None else list(self.standards)

    def gate(self, name: str, kind: type[G]) -> G:
        """Gate ``name``'s table as a ``kind``, its ``config_type`` (whose defaults,
        ``blocking`` too, are the gate's own), defaults filled in."""
        stored = self.gates.get(name)
        if stored is None:
            return kind()
        if isinstance(stored, kind):
            return stored
        return kind(enabled=stored.enabled, blocking=stored.blocking)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        gates: dict[str, Any] = {}
        for name, value in data["gates"].items():
            group = self.gates[name].group
            (gates.setdefault(group, {}) if group else gates)[name] = value
        data["gates"] = gates
        return data

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source: str = CONFIG_FILE, *, parse_gates: GateParser
    ) -> ProjectConfig:
        """``parse_gates`` reads the ``[gates.*]`` tables: ``gates/settings.py`` has it."""
        data = dict(data)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        raw_gates = data.pop("gates", None) or {}
        if not isinstance(raw_gates, dict):
            raise ConfigError(f"{source}: 'gates' must be a table of [gates.NAME] sections")
        gates = parse_gates(raw_gates, source)
        if isinstance(data.get("setup"), str):
            data["setup"] = [data["setup"]]
        _check_types(data, source)
        if data.get("environment", "venv") not in ("venv", "inherit"):
            raise ConfigError(f"{source}: 'environment' must be 'venv' or 'inherit'")
        _check_env(data.get("env") or {}, source)
        _check_bounds(data.get("bounds") or {}, source)
        _check_notify(data.get("notify") or {}, source)
        _check_standards(data.get("standards") or [], source)
        for path in data.get("agent_paths") or []:
            if isinstance(path, str) and not path.startswith(("/", "~")):
                raise ConfigError(
                    f"{source}: agent_paths: '{path}' must be an absolute path (or start with ~)"
                )
        try:
            return cls(gates=gates, **data)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from exc


_TYPES: dict[str, tuple[type, ...]] = {
    "setup": (list,),
    "test_cmd": (str,),
    "lint_cmd": (str,),
    "agent": (str,),
    "agent_env": (list,),
    "agent_paths": (list,),
    "sandbox": (str,),
    "environment": (str,),
    "protected": (list,),
    "timeout_minutes": (int, float),
    "model": (str,),
    "agent_protocol": (str,),
    "agent_max_turns": (int,),
    "model_key_env": (str,),
    "model_timeout": (int, float),
    "prices": (dict,),
    "env": (dict,),
    "bounds": (dict,),
    "notify": (dict,),
    "standards": (list,),
}


def _check_env(env: dict[str, Any], source: str) -> None:
    """``env`` is stored with every task: plain settings only, never a secret."""
    for name, value in env.items():
        if not isinstance(value, str):
            raise ConfigError(f"{source}: env.{name} must be a string (quote it)")
        if SECRET_NAME.search(name):
            raise ConfigError(
                f"{source}: env.{name} looks like a secret, and the configuration is stored "
                f"with every task; name it in 'agent_env' to pass it from the worker instead"
            )


def _check_notify(notify: dict[str, Any], source: str) -> None:
    """``[notify]`` is stored with every task: a channel names the variables that hold
    its secrets (``secret_env``, ``url_env``…), never the secrets themselves. The rest
    of the table is read by ``overnight/notify/settings.py``."""
    channels = notify.get("channel") or []
    if not isinstance(channels, list) or not all(isinstance(c, dict) for c in channels):
        raise ConfigError(f"{source}: notify.channel must be a list of [[notify.channel]] tables")
    for number, channel in enumerate(channels, 1):
        for name in channel:
            if SECRET_NAME.search(name) and not name.endswith("_env"):
                raise ConfigError(
                    f"{source}: notify.channel #{number}: '{name}' looks like a secret, and the "
                    f"configuration is stored with every task; name the variable that holds it "
                    f"in '{name}_env' instead"
                )
        if channel.get("kind") == "slack" and "url" in channel:
            raise ConfigError(
                f"{source}: notify.channel #{number}: a Slack webhook URL is a secret; name the "
                "variable that holds it in 'url_env' instead"
            )


def _check_standards(paths: list[str], source: str) -> None:
    """Each a file in the repository, named from its root."""
    for path in paths:
        parts = path.replace("\\", "/").split("/") if isinstance(path, str) else []
        if not parts or path.startswith("/") or "" in parts or ".." in parts or "." in parts:
            raise ConfigError(
                f"{source}: standards: '{path}' must be a file's path in the repository, "
                "from its root (like 'docs/STYLE.md')"
            )


def _check_bounds(bounds: dict[str, Any], source: str) -> None:
    known = set(Bounds.__dataclass_fields__)
    for name, value in bounds.items():
        if name not in known:
            raise ConfigError(
                f"{source}: unknown bound '{name}'; known: {', '.join(sorted(known))}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{source}: bounds.{name} must be a positive number")


def _check_types(data: dict[str, Any], source: str) -> None:
    for key, value in data.items():
        expected = _TYPES.get(key)
        if expected is None or value is None:
            continue
        wrong = isinstance(value, bool) or not isinstance(value, expected)
        if not wrong and isinstance(value, list):
            wrong = not all(isinstance(item, str) for item in value)
        if wrong:
            kind = (
                "a list of strings"
                if expected == (list,)
                else "a number"
                if float in expected
                else "a whole number"
                if expected == (int,)
                else "a table"
                if expected == (dict,)
                else "a string"
            )
            raise ConfigError(f"{source}: '{key}' must be {kind}")


def parse_files(files: dict[str, str], parse_gates: GateParser) -> ProjectConfig:
    """Build the configuration from file contents keyed by path (at one commit);
    ``gates/settings.parse_config`` passes the gates' parser."""
    if CONFIG_FILE in files:
        try:
            data = tomllib.loads(files[CONFIG_FILE])
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{CONFIG_FILE}: {exc}; fix the TOML syntax") from exc
        return ProjectConfig.from_dict(data.get("overnight", data), parse_gates=parse_gates)
    pyproject = files.get("pyproject.toml")
    if pyproject:
        try:
            section = tomllib.loads(pyproject).get("tool", {}).get("overnight")
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"pyproject.toml: {exc}; fix the TOML syntax") from exc
        if section is not None:
            return ProjectConfig.from_dict(
                section, "pyproject.toml [tool.overnight]", parse_gates=parse_gates
            )
    return detect(files)


def detect(files: dict[str, str]) -> ProjectConfig:
    """Guess setup, test and lint commands from a repository's files."""
    setup: list[str] = []
    pyproject = files.get("pyproject.toml", "")
    try:
        project = tomllib.loads(pyproject) if pyproject else {}
    except tomllib.TOMLDecodeError:
        project = {}
    extras = project.get("project", {}).get("optional-dependencies", {})
    extra = next((e for e in ("test", "tests", "testing", "dev") if e in extras), None)
    installed = [*project.get("project", {}).get("dependencies", []), *extras.get(extra, [])]
    if pyproject and "project" in project or "setup.py" in files or "setup.cfg" in files:
        # setup.py and setup.cfg are not read for pytest: it is mostly in tests_require or
        # setup_requires there, which `pip install .` does not install; installing it
        # again when install_requires had it is a no-op
        setup.append(
            f"python -m pip install -e '.[{extra}]'" if extra else "python -m pip install -e ."
        )
    for req in (
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-test.txt",
        "test-requirements.txt",
        "dev-requirements.txt",
    ):
        if req in files:
            setup.append(f"python -m pip install -r {req}")
            installed.append(files[req])
    # pytest as a requirement, not as [tool.pytest...] or a lock file nothing installs
    if not any(re.search(r"(?<![\w.:/])pytest(?![\w.])", str(text), re.I) for text in installed):
        setup.append("python -m pip install pytest")
    ruff = "ruff.toml" in files or ".ruff.toml" in files or "ruff" in project.get("tool", {})
    return ProjectConfig(setup=setup, lint_cmd="ruff check" if ruff else None)


def render_project(
    config: ProjectConfig, render_gates: Callable[[ProjectConfig], list[str]]
) -> str:
    """The overnight.toml that ``overnight init`` writes, its ``[gates.*]`` tables by
    ``render_gates`` (``gates/settings.render_toml`` passes it)."""

    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        "# overnight: how tasks on this repository are prepared and graded.",
        "# Read from the task's base commit; the agent may not change this file.",
        "",
    ]
    lines.append("setup = [" + ", ".join(q(c) for c in config.setup) + "]")
    lines.append(f"test_cmd = {q(config.test_cmd)}")
    if config.lint_cmd:
        lines.append(f"lint_cmd = {q(config.lint_cmd)}")
    else:
        lines.append('# lint_cmd = "ruff check"')
    lines.append(
        f"agent = {q(config.agent)}"
        if config.agent
        else '# agent = "command:aider --yes-always --message-file \\"$OVERNIGHT_SPEC\\""'
    )
    lines.append(
        f"sandbox = {q(config.sandbox)}"
        if config.sandbox
        else '# sandbox = "auto"  # bwrap when installed; "none" runs unisolated'
    )
    lines.append(f"environment = {q(config.environment)}")
    lines.append("protected = [" + ", ".join(q(p) for p in config.protected) + "]")
    if config.agent_env:
        lines.append("agent_env = [" + ", ".join(q(v) for v in config.agent_env) + "]")
    if config.env:
        lines.append("env = {" + ", ".join(f"{k} = {q(v)}" for k, v in config.env.items()) + "}")
    else:
        lines.append('# env = {DJANGO_SETTINGS_MODULE = "app.settings"}  # for every command')
    lines.append(f"timeout_minutes = {float(config.timeout_minutes)}")
    lines.append("")
    lines += render_gates(config)
    return "\n".join(lines)


def home() -> Path:
    """Where overnight keeps its state: ``$OVERNIGHT_HOME`` or the XDG data dir."""
    if os.environ.get("OVERNIGHT_HOME"):
        return Path(os.environ["OVERNIGHT_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "overnight"


def cache_dir() -> Path:
    """Repository caches and environments; shareable between homes via ``OVERNIGHT_CACHE``."""
    return Path(os.environ.get("OVERNIGHT_CACHE") or home() / "cache").expanduser()


def database_url() -> str:
    return os.environ.get("OVERNIGHT_DATABASE_URL") or f"sqlite:///{home() / 'overnight.db'}"

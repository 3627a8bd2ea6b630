"""Where the agent's commands and the gates run.

A ``Sandbox`` runs one shell command in a workspace and returns a
``Completed``. Backends are picked by a short name from the configuration:
``bwrap`` (bubblewrap, Linux), ``container`` (docker or podman), ``none`` (a
plain subprocess, explicit only) and ``auto`` (bwrap when it is installed).
``Access`` names what a command may touch beyond its working directory.
``on_output``, when given, receives the command's output as it comes (the
agent's live log); the ``Completed`` still carries all of it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from overnight.registry import Argument

KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "LOGNAME", "SHELL", "TZ")


@dataclass
class Completed:
    command: str
    exit_code: int
    output: str
    duration: float
    timed_out: bool = False
    cancelled: bool = False
    limit: str | None = None  # the limit that killed or hobbled it: "memory", "wall-time", ...

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


@dataclass(frozen=True)
class Access:
    """What a command may touch besides its working directory (always writable)."""

    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    network: bool = False  # only setup commands, which install dependencies


class Sandbox(Protocol):
    name: str

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        cancel: threading.Event | None = None,
        access: Access | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> Completed: ...


class BaseSandbox:
    """What a sandbox kind declares for its registry (``sandbox/select.py``): its
    ``name``, what may follow ``KIND:`` (``argument``) and how it is built."""

    name: str
    argument: Argument | None = None

    @classmethod
    def build(cls, arg: str, *, model_endpoint: str | None, role: str) -> Sandbox:
        """The sandbox ``KIND:arg`` names; ``model_endpoint`` is where the model socket
        forwards to, ``role`` is ``agent`` for the agent's commands."""
        raise NotImplementedError


class Granted:
    """A sandbox that grants every command ``extra`` on top of what it asks for: the
    grading clone's git dir, read-only, for every graded command."""

    def __init__(self, inner: Sandbox, extra: Access) -> None:
        self.inner, self.extra = inner, extra
        self.name = inner.name

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        cancel: threading.Event | None = None,
        access: Access | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> Completed:
        asked = access or Access()
        merged = Access(
            writable=(*asked.writable, *self.extra.writable),
            readable=(*asked.readable, *self.extra.readable),
            network=asked.network or self.extra.network,
        )
        return self.inner.run(
            command,
            cwd=cwd,
            env=env,
            timeout=timeout,
            cancel=cancel,
            access=merged,
            on_output=on_output,
        )


def base_environ(passthrough: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """A cleared environment: the basics, plus named variables; secrets only if named."""
    env = {k: v for k, v in os.environ.items() if k in KEEP}
    for name in passthrough:
        if name in os.environ:
            env[name] = os.environ[name]
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # workspaces belong to task uids and git dirs to the worker: git inside may read them
    env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0="*")
    return env


def get_sandbox(name: str | None, role: str = "grading") -> Sandbox:
    """The backend for a configured name: ``auto``, ``bwrap``, ``container[:IMAGE]``,
    ``none``; unset, ``$OVERNIGHT_SANDBOX`` or else ``auto``. ``role="agent"`` for the
    agent's commands: they run as a uid no grading command uses."""
    name = name or os.environ.get("OVERNIGHT_SANDBOX") or "auto"
    from overnight.sandbox.select import select_sandbox

    return select_sandbox(name, role)

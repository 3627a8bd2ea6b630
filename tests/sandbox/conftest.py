"""Fixtures for the sandbox tests: a real bwrap sandbox, task-like directories,
and probes that look at the host from outside.

Tests that need bubblewrap or a writable cgroup FAIL (never skip) when the host
lacks it: ``make test`` installs bubblewrap and socat (scripts/system-deps.sh),
and a CI host that cannot enforce a limit must say so loudly.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from overnight.sandbox import base_environ
from overnight.sandbox.bwrap import BwrapSandbox
from overnight.sandbox.cgroups import detect
from overnight.sandbox.limits import Limits

MISSING_BWRAP = (
    "bubblewrap is not installed on this host: run scripts/system-deps.sh "
    "(`make test` does) or apt-get install bubblewrap socat"
)


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail(MISSING_BWRAP, pytrace=False)


def need_cgroup(controller: str) -> None:
    host = detect()
    if controller not in host.bases:
        pytest.fail(
            f"this host cannot enforce the {controller} limit through a cgroup "
            f"({host.missing.get(controller)}); see `overnight doctor`",
            pytrace=False,
        )


@pytest.fixture
def sandbox_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$OVERNIGHT_HOME and $OVERNIGHT_CACHE for this test (tasks' workspaces live there)."""
    home = tmp_path / "home"
    (home / "workspaces").mkdir(parents=True)
    monkeypatch.setenv("OVERNIGHT_HOME", str(home))
    monkeypatch.setenv("OVERNIGHT_CACHE", str(tmp_path / "cache"))
    return home


@pytest.fixture
def workspace(sandbox_home: Path) -> Path:
    path = sandbox_home / "workspaces" / "8-r1"
    path.mkdir()
    (path / "README").write_text("task 8\n")
    return path


@pytest.fixture
def make_sandbox() -> Callable[..., BwrapSandbox]:
    need_bwrap()

    def make(**limits: int | float | None) -> BwrapSandbox:
        return BwrapSandbox(Limits(**limits))  # type: ignore[arg-type]

    return make


@pytest.fixture
def environ() -> dict[str, str]:
    """What the pipeline gives a command: the cleared environment, this Python first."""
    env = base_environ()
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def host_processes(marker: str) -> list[int]:
    """Pids on the host whose command line starts with ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if cmdline.startswith(marker):
                found.append(int(entry.name))
    return found


def processes_of(uid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def root_ssh_canary() -> Iterator[tuple[Path, str]]:
    """A canary file in the worker's ~/.ssh, removed afterwards (and ~/.ssh if we made it)."""
    ssh = Path.home() / ".ssh"
    made = not ssh.exists()
    ssh.mkdir(mode=0o700, exist_ok=True)
    canary = ssh / f"overnight-canary-{os.getpid()}"
    secret = f"ssh-canary-{os.urandom(8).hex()}"
    canary.write_text(secret)
    try:
        yield canary, secret
    finally:
        canary.unlink(missing_ok=True)
        if made:
            shutil.rmtree(ssh, ignore_errors=True)

"""Fixtures for the sandbox tests: a real bwrap sandbox, task-like directories,
and probes that look at the host from outside.

Tests that need bubblewrap or a writable cgroup FAIL (never skip) when the host
lacks it: ``make test`` installs bubblewrap and socat (scripts/system-deps.sh),
and a CI host that cannot enforce a limit must say so loudly. Tests on the
container sandbox build its image once per session (scripts/container-image.sh,
cached between sessions) and skip, saying why, only where podman cannot run a
container: that is tried, not inferred from what is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from overnight.errors import ConfigError
from overnight.sandbox import base_environ
from overnight.sandbox.bwrap import BwrapSandbox
from overnight.sandbox.cgroups import detect
from overnight.sandbox.container import ContainerSandbox
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


IMAGE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "container-image.sh"


@pytest.fixture(scope="session")
def podman_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The container sandbox's base image, built (or found cached) once per session,
    and a container run in it; skips with the reason where podman cannot run one."""
    try:
        built = subprocess.run(
            ["bash", str(IMAGE_SCRIPT)], capture_output=True, text=True, timeout=1800
        )
    except subprocess.TimeoutExpired:
        pytest.skip("podman: the base image took over 30 minutes to build", allow_module_level=True)
    if built.returncode != 0:
        why = (built.stderr.strip().splitlines() or [f"exit {built.returncode}"])[-1]
        pytest.skip(f"podman cannot run here: {IMAGE_SCRIPT.name} failed: {why}")
    probe = tmp_path_factory.mktemp("podman-probe")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OVERNIGHT_CONTAINER_ENGINE", "podman")
        try:
            sandbox = ContainerSandbox(engine="podman")
        except ConfigError as exc:
            pytest.skip(f"podman cannot run here: {exc}")
        done = sandbox.run("echo ran", cwd=probe, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    if done.output.strip() != "ran":
        pytest.skip(f"podman cannot run a container here: {done.output.strip()[-300:]}")
    return sandbox.image


@pytest.fixture
def make_container(
    podman_image: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ContainerSandbox]:
    monkeypatch.setenv("OVERNIGHT_CONTAINER_ENGINE", "podman")

    def make(**limits: int | float | None) -> ContainerSandbox:
        return ContainerSandbox(podman_image, Limits(**limits), engine="podman")  # type: ignore[arg-type]

    return make


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
def make_bwrap() -> Callable[..., BwrapSandbox]:
    need_bwrap()

    def make(**limits: int | float | None) -> BwrapSandbox:
        return BwrapSandbox(Limits(**limits))  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_sandbox(make_bwrap: Callable[..., BwrapSandbox]) -> Callable[..., BwrapSandbox]:
    """The default sandbox's factory (the escape suite runs its probes on every kind)."""
    return make_bwrap


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

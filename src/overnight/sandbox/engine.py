"""The container engine the ``container`` sandbox drives: which CLI, configured how,
with which image, and whether it answers.

The engine is ``$OVERNIGHT_CONTAINER_ENGINE`` (``docker`` or ``podman``) or else
whichever is installed, docker first. podman is pointed at overnight's own
configuration when ``scripts/container-image.sh`` (``make container``) wrote it
in ``$OVERNIGHT_CONTAINERS`` (default ``~/.cache/overnight/containers``):
``containers.conf`` (runtime runc, cgroupfs, no default rlimits: hosts like
this one refuse them) and ``storage.conf`` (the vfs driver, its storage in that
directory), through ``CONTAINERS_CONF`` and ``CONTAINERS_STORAGE_CONF``, unless
the worker's environment names its own. Nothing in ``/etc`` is changed, and the
user's own podman is left as it was.

The image is ``container:IMAGE`` from the configuration, else
``$OVERNIGHT_CONTAINER_IMAGE``, else the base image that script built and
recorded (``localhost/overnight-base:<hash of its recipe>``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ENGINES = ("docker", "podman")
CLI_ENV = ("PATH", "HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "CONTAINER_HOST")
CONF_ENV = {"CONTAINERS_CONF": "containers.conf", "CONTAINERS_STORAGE_CONF": "storage.conf"}
BUILD_HINT = "run scripts/container-image.sh (make container)"


def containers_dir() -> Path:
    """Where overnight's podman configuration, storage and base image name live."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("OVERNIGHT_CONTAINERS") or default / "overnight" / "containers")


def cli_environ(engine: str) -> dict[str, str]:
    """The environment every engine call gets: the worker's CLI basics, docker's own
    variables, and for podman overnight's configuration files (when written)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in CLI_ENV or k.startswith("DOCKER_") or k in CONF_ENV
    }
    if Path(engine).name == "podman":
        for key, name in CONF_ENV.items():
            path = containers_dir() / name
            if key not in env and path.is_file():
                env[key] = str(path)
    return env


def default_image() -> str | None:
    """``$OVERNIGHT_CONTAINER_IMAGE``, else the base image the build script recorded."""
    named = os.environ.get("OVERNIGHT_CONTAINER_IMAGE")
    if named:
        return named
    try:
        return (containers_dir() / "base-image").read_text().strip() or None
    except OSError:
        return None


def engine_status(engine: str | None = None) -> tuple[str | None, str]:
    """(the engine's CLI path or None, a one-line state) — asks the engine, never assumes."""
    names = [engine] if engine else [os.environ.get("OVERNIGHT_CONTAINER_ENGINE") or ""]
    names = [n for n in names if n] or list(ENGINES)
    found = [(n, shutil.which(n)) for n in names]
    installed = [(n, p) for n, p in found if p]
    if not installed:
        return None, f"no container engine CLI ({' or '.join(names)}) is installed"
    problems = []
    for name, path in installed:
        proc = call([path, "version", "--format", "{{.Server.Version}}"], path, timeout=10)
        if proc.returncode == 0 and proc.stdout.strip():
            return path, f"{Path(name).name} {proc.stdout.strip()}"
        detail = proc.stdout.strip().splitlines()
        problems.append(f"{name}: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return None, "; ".join(problems)


def image_present(engine: str, image: str) -> bool:
    return call([engine, "image", "inspect", "--format", "{{.Id}}", image], engine).returncode == 0


def call(
    argv: list[str], engine: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One engine CLI call, its output and errors together; a CLI that cannot start or
    hangs answers like a failed call (exit 125, the reason as its output)."""
    try:
        return subprocess.run(
            argv,
            env={**cli_environ(engine), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 125, f"{argv[0]} {argv[1]}: {exc}")

"""The ``container`` sandbox: docker or podman, for fleets.

Each command is one named container: ``create`` (no network, read-only root,
tmpfs ``/tmp``, no capabilities, no-new-privileges, memory/pids/CPU/ulimits,
the task uid when the worker is root), ``start``, ``wait``, ``logs``,
``inspect`` (was it OOM-killed?), and ``rm -f`` always, also on timeout or
cancel. ``run --rm`` is avoided: its exit code through podman's docker socket
was seen wrong. Mounts are the same as bwrap's: the workspace read-write, the
interpreters and the cached environment read-only at
their own paths. The environment reaches the container as ``-e NAME`` with
values in the CLI's own environment, never on a command line.

Configured as ``container`` or ``container:IMAGE``; ``$OVERNIGHT_CONTAINER_ENGINE``
picks ``docker`` or ``podman`` (default: whichever is installed, docker first).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from overnight.errors import ConfigError
from overnight.registry import Argument
from overnight.sandbox import Access, BaseSandbox, Completed, Sandbox
from overnight.sandbox.bwrap import hand_over, readable_paths, task_uid
from overnight.sandbox.limits import Limits, describe
from overnight.sandbox.process import Exit, kill_session, supervise
from overnight.sandbox.proxy import INSIDE_DIR, Endpoint, ModelProxy, forwarder_script

DEFAULT_IMAGE = "docker.io/library/python:3.12-slim"
ENGINES = ("docker", "podman")
CLI_ENV = ("PATH", "HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "CONTAINER_HOST")
INLINE_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TERM", "TZ", "USER", "LOGNAME", "SHELL")


def engine_status(engine: str | None = None) -> tuple[str | None, str]:
    """(the engine's CLI path or None, a one-line state) — asks the daemon, never assumes."""
    names = [engine] if engine else [os.environ.get("OVERNIGHT_CONTAINER_ENGINE") or ""]
    names = [n for n in names if n] or list(ENGINES)
    found = [(n, shutil.which(n)) for n in names]
    installed = [(n, p) for n, p in found if p]
    if not installed:
        return None, f"no container engine CLI ({' or '.join(names)}) is installed"
    problems = []
    for name, path in installed:
        try:
            proc = subprocess.run(
                [path, "version", "--format", "{{.Server.Version}}"],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{name}: {exc}")
            continue
        if proc.returncode == 0 and proc.stdout.strip():
            return path, f"{name} {proc.stdout.strip()}"
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        problems.append(f"{name}: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return None, "; ".join(problems)


class ContainerSandbox(BaseSandbox):
    name = "container"
    argument = Argument("image")  # else the default image

    @classmethod
    def build(cls, arg: str, *, model_endpoint: str | None, role: str) -> Sandbox:
        return cls(image=arg or None, model_endpoint=model_endpoint, role=role)

    def __init__(
        self,
        image: str | None = None,
        limits: Limits | None = None,
        *,
        engine: str | None = None,
        model_endpoint: str | None = None,
        check: bool = True,
        role: str = "grading",
    ) -> None:
        """``check=False`` skips asking the engine (for building commands in tests)."""
        self.role = role
        self.image = image or os.environ.get("OVERNIGHT_CONTAINER_IMAGE") or DEFAULT_IMAGE
        self.limits = limits or Limits()
        self.model = Endpoint.parse(model_endpoint) if model_endpoint else None
        if check:
            path, state = engine_status(engine)
            if path is None:
                raise ConfigError(
                    f"sandbox 'container' is unavailable: {state}; install and start docker "
                    'or podman, or use sandbox = "bwrap"'
                )
            self.engine = path
        else:
            self.engine = engine or "docker"
        self.as_root = os.geteuid() == 0

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
        access = access or Access()
        cwd = cwd.resolve()
        uid = task_uid(cwd, self.role) if self.as_root else None
        if uid is not None:
            for path in (cwd, *access.writable):
                hand_over(path.resolve(), uid)
        name = f"overnight-{secrets.token_hex(6)}"
        inside = {**env, "HOME": "/tmp", "TMPDIR": "/tmp"}
        proxy = None
        if self.model is not None and not access.network:
            proxy = ModelProxy(self.model).__enter__()
            inside["OVERNIGHT_MODEL_URL"] = self.model.url
            inside["OVERNIGHT_MODEL_SOCKET"] = f"{INSIDE_DIR}/model.sock"
        cli_env = {k: v for k, v in os.environ.items() if k in CLI_ENV or k.startswith("DOCKER_")}
        try:
            create = self.create_argv(
                name, command, cwd, inside, access, uid=uid, proxy_dir=proxy.dir if proxy else None
            )
            made = self._cli(create, {**inside, **cli_env})
            if made.returncode != 0:
                output = f"{made.stdout}\n[overnight: {self.engine} create failed]"
                return Completed(command, 125, output, 0.0)
            self._cli([self.engine, "start", name], cli_env)

            def stop(proc: subprocess.Popen[bytes]) -> None:
                self._cli([self.engine, "kill", name], cli_env)
                kill_session(proc)

            waited = supervise(
                [self.engine, "wait", name],
                env=cli_env,
                cwd="/",
                timeout=timeout,
                cancel=cancel,
                stop=stop,
            )
            logs = self._cli([self.engine, "logs", name], cli_env).stdout
            if on_output is not None:  # read once it ended: not live in a container
                on_output(logs)
            oom = self._cli(
                [self.engine, "inspect", "--format", "{{.State.OOMKilled}}", name], cli_env
            ).stdout.strip()
        finally:
            self._remove(name, cli_env)
            if proxy is not None:
                proxy.close()
        return self._completed(command, waited, logs, oom == "true", timeout)

    def create_argv(
        self,
        name: str,
        command: str,
        cwd: Path,
        env: dict[str, str],
        access: Access,
        *,
        uid: int | None,
        proxy_dir: Path | None = None,
    ) -> list[str]:
        lim = self.limits
        argv = [self.engine, "create", "--name", name, "--label", "overnight=1", "--init"]
        argv += [] if access.network else ["--network", "none"]
        argv += ["--read-only", "--tmpfs", "/tmp:rw,exec,mode=1777", "--tmpfs", "/run:rw,mode=755"]
        argv += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        if uid is not None:
            argv += ["--user", f"{uid}:{uid}"]
        if lim.memory_mb is not None:
            argv += ["--memory", f"{lim.memory_mb}m", "--memory-swap", f"{lim.memory_mb}m"]
        if lim.pids is not None:
            argv += ["--pids-limit", str(lim.pids)]
        if lim.cpus is not None:
            argv += ["--cpus", str(lim.cpus)]
        if lim.open_files is not None:
            argv += ["--ulimit", f"nofile={lim.open_files}:{lim.open_files}"]
        if lim.cpu_seconds is not None:
            argv += ["--ulimit", f"cpu={lim.cpu_seconds}:{lim.cpu_seconds + 2}"]
        writable = {p.resolve() for p in (cwd, *access.writable)}
        readable = {p.resolve() for p in (*readable_paths(cwd, env), *access.readable)} - writable
        for path in sorted(writable):
            argv += ["--volume", f"{path}:{path}:rw"]
        for path in sorted(p for p in readable if p.exists()):
            argv += ["--volume", f"{path}:{path}:ro"]
        if proxy_dir is not None:
            argv += ["--volume", f"{proxy_dir}:{INSIDE_DIR}:ro"]
        for key in sorted(env):  # other values come from the CLI's environment, off argv
            argv += ["--env", f"{key}={env[key]}" if key in INLINE_ENV else key]
        argv += ["--workdir", str(cwd), self.image]
        if proxy_dir is not None and self.model is not None:
            return [*argv, "bash", "-c", forwarder_script(self.model), "overnight", command]
        return [*argv, "bash", "-c", command]

    def _cli(self, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
        )

    def _remove(self, name: str, env: dict[str, str]) -> None:
        subprocess.run(
            [self.engine, "rm", "--force", name],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def _completed(
        self, command: str, waited: Exit, logs: str, oom: bool, timeout: float
    ) -> Completed:
        text = waited.output.strip()
        code = int(text) if text.lstrip("-").isdigit() else 125
        limit = "memory" if oom else "wall-time" if waited.timed_out else None
        if limit:
            logs += f"\n[overnight: {describe(limit, self.limits, timeout)}]"
        if waited.cancelled:
            logs += "\n[overnight: killed: the task was cancelled]"
        return Completed(
            command,
            124 if waited.timed_out else code,
            logs,
            waited.duration,
            waited.timed_out,
            waited.cancelled,
            limit,
        )

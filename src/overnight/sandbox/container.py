"""The ``container`` sandbox: docker or podman, for fleets.

Each command is one named container: ``create`` (no network, read-only root,
tmpfs ``/tmp`` and ``/run``, no capabilities, no-new-privileges,
memory/pids/CPU limits, the task uid when the worker is root; rlimits set by
a shell inside), ``start
--attach`` (its output streamed as it comes), ``inspect`` (its exit code; was
it OOM-killed?), and ``rm -f`` always, also on timeout or cancel (``kill``
first). ``run --rm`` is avoided: its exit code through podman's docker socket
was seen wrong. Mounts are bwrap's, minus the toolchain the image brings: the
workspace read-write, the worker's interpreters and the cached environment
read-only at their own paths. The environment reaches the container as ``-e
NAME`` with values in the CLI's own environment, never on a command line.
Setup commands, which install dependencies, share the host's network (as under
bwrap), so no container network stack is needed.

Configured as ``container`` or ``container:IMAGE``; the engine, its
configuration and the default image are ``engine.py``'s.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from overnight.errors import ConfigError
from overnight.registry import Argument
from overnight.sandbox import Access, BaseSandbox, Completed, Sandbox
from overnight.sandbox.bwrap import SYSTEM, hand_over, readable_paths, task_uid, within
from overnight.sandbox.container_cgroup import ContainerGroup
from overnight.sandbox.engine import (
    BUILD_HINT,
    call,
    cli_environ,
    default_image,
    engine_status,
    image_present,
)
from overnight.sandbox.limits import CPU_TIME_EXIT, Limits, describe, rlimit_commands
from overnight.sandbox.process import Exit, kill_session, supervise
from overnight.sandbox.proxy import INSIDE_DIR, Endpoint, ModelProxy, forwarder_script

INLINE_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TERM", "TZ", "USER", "LOGNAME", "SHELL")
STATE = "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}"
# the host's TLS trust and pip's settings, as bwrap's /etc has them: a host behind a
# TLS-inspecting proxy installs dependencies the same way in either sandbox
HOST_SHARED = (Path("/etc/ssl/certs"), Path("/etc/pip.conf"))


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
        self.limits = limits or Limits()
        self.model = Endpoint.parse(model_endpoint) if model_endpoint else None
        named = image or default_image()
        if check:
            path, state = engine_status(engine)
            if path is None:
                raise ConfigError(
                    f"sandbox 'container' is unavailable: {state}; install and start docker "
                    f'or podman (scripts/container-image.sh installs podman), or use sandbox = "bwrap"'
                )
            self.engine = path
            if named is None or not image_present(path, named):
                what = f"image {named} is not built" if named else "no image is configured"
                raise ConfigError(
                    f"sandbox 'container': {what}; {BUILD_HINT}, or name one: "
                    'sandbox = "container:IMAGE" or $OVERNIGHT_CONTAINER_IMAGE'
                )
        else:
            self.engine = engine or "docker"
        self.image = named or "overnight-base"
        self.as_root = os.geteuid() == 0
        # podman runs here with cgroupfs, which takes a parent group of ours
        self.own_cgroup = Path(self.engine).name == "podman"

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
        group = ContainerGroup.create(self.limits) if self.own_cgroup else None
        proxy = None
        if self.model is not None and not access.network:
            proxy = ModelProxy(self.model).__enter__()
            inside["OVERNIGHT_MODEL_URL"] = self.model.url
            inside["OVERNIGHT_MODEL_SOCKET"] = f"{INSIDE_DIR}/model.sock"
        try:
            create = self.create_argv(
                name,
                command,
                cwd,
                inside,
                access,
                uid=uid,
                proxy_dir=proxy.dir if proxy else None,
                cgroup_parent=group.parent if group else None,
            )
            made = call(create, self.engine, inside)
            if made.returncode != 0:
                output = f"{made.stdout}\n[overnight: {self.engine} create failed]"
                return Completed(command, 125, output, 0.0)

            def stop(proc: subprocess.Popen[bytes]) -> None:
                call([self.engine, "kill", name], self.engine)
                kill_session(proc)

            waited = supervise(
                [self.engine, "start", "--attach", name],
                env=cli_environ(self.engine),
                cwd="/",
                timeout=timeout,
                cancel=cancel,
                stop=stop,
                on_output=on_output,
            )
            state = call([self.engine, "inspect", "--format", STATE, name], self.engine)
            hit = group.limits_hit(_exit_code(state.stdout.split())) if group else []
        finally:
            call([self.engine, "rm", "--force", name], self.engine)
            if group is not None:
                group.remove()
            if proxy is not None:
                proxy.close()
        return self._completed(command, waited, state.stdout.split(), hit, timeout)

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
        cgroup_parent: str | None = None,
    ) -> list[str]:
        """``cgroup_parent``: a group that holds the limits itself (else flags do)."""
        lim = self.limits
        argv = [self.engine, "create", "--name", name, "--label", "overnight=1", "--init"]
        argv += ["--network", "host" if access.network else "none", "--hostname", "overnight"]
        argv += ["--read-only", "--tmpfs", "/tmp:rw,exec,mode=1777", "--tmpfs", "/run:rw,mode=755"]
        argv += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        if uid is not None:
            argv += ["--user", f"{uid}:{uid}"]
        if cgroup_parent is not None:
            argv += ["--cgroup-parent", cgroup_parent]
            lim = replace(lim, memory_mb=None, pids=None, cpus=None)
        if lim.memory_mb is not None:
            argv += ["--memory", f"{lim.memory_mb}m", "--memory-swap", f"{lim.memory_mb}m"]
        if lim.pids is not None:
            argv += ["--pids-limit", str(lim.pids)]
        if lim.cpus is not None:
            argv += ["--cpus", str(lim.cpus)]
        for path, mode in mounts(cwd, env, access):
            argv += ["--volume", f"{path}:{path}:{mode}"]
        if proxy_dir is not None:
            argv += ["--volume", f"{proxy_dir}:{INSIDE_DIR}:ro"]
        for key in sorted(env):  # other values come from the CLI's environment, off argv
            argv += ["--env", f"{key}={env[key]}" if key in INLINE_ENV else key]
        argv += ["--workdir", str(cwd), self.image]
        # rlimits set by a shell inside, not --ulimit: with one, podman adds its defaults
        # too and runc's prlimit of them is refused on hosts like this one
        # and stderr joined to stdout inside: two attached streams lose their order
        limits = rlimit_commands(self.limits, memory_in_cgroup=True, nproc=False)
        wrapper = [*limits, "exec 2>&1", 'exec "$@"']
        argv += ["sh", "-c", "\n".join(wrapper), "overnight-sandbox"]
        if proxy_dir is not None and self.model is not None:
            return [*argv, "bash", "-c", forwarder_script(self.model), "overnight", command]
        return [*argv, "bash", "-c", command]

    def _completed(
        self, command: str, waited: Exit, state: list[str], hit: list[str], timeout: float
    ) -> Completed:
        """The container's own exit code (``inspect``) once it ran; else the engine's.
        ``hit``: the limits its cgroup says acted."""
        ran = _exit_code(state)
        code = waited.returncode or 125 if ran is None else ran
        limit = None
        if "memory" in hit or state[2:] == ["true"]:
            limit = "memory"
        elif "pids" in hit:
            limit = "pids"
        elif code == CPU_TIME_EXIT:
            limit = "cpu-time"
        elif waited.timed_out:
            limit = "wall-time"
        output = waited.output
        if limit:
            output += f"\n[overnight: {describe(limit, self.limits, timeout)}]"
        if waited.cancelled:
            output += "\n[overnight: killed: the task was cancelled]"
        return Completed(
            command,
            124 if waited.timed_out else code,
            output,
            waited.duration,
            waited.timed_out,
            waited.cancelled,
            limit,
        )


def mounts(cwd: Path, env: dict[str, str], access: Access) -> list[tuple[Path, str]]:
    """The binds, each at its own path: the writable ones, then what a command reads
    (bwrap's list) unless the image's own toolchain directories hold it, then the
    host's shared settings."""
    writable = {p.resolve() for p in (cwd, *access.writable)}
    readable = {  # one inside a writable tree is there already, and may be a command's link
        p.resolve()
        for p in (*readable_paths(cwd, env), *access.readable)
        if not within(p, writable)
    } - writable
    binds = [(p, "rw") for p in sorted(writable)]
    binds += [(p, "ro") for p in sorted(readable) if p.exists() and not _system(p)]
    return binds + [(p, "ro") for p in HOST_SHARED if p.exists()]


def _system(path: Path) -> bool:
    return any(path == Path(top) or Path(top) in path.parents for top in SYSTEM)


def _exit_code(state: list[str]) -> int | None:
    """The container's exit code from ``inspect``; None when it never ran."""
    if len(state) == 3 and state[0] == "exited" and state[1].lstrip("-").isdigit():
        return int(state[1])
    return None

"""The ``bwrap`` sandbox (Linux): bubblewrap namespaces, a cgroup, rlimits, a task uid.

What a command sees (an allowlist; nothing else of the host exists inside):

- the toolchain read-only: ``/usr``, ``/etc``, ``/opt``, ``/sys`` and the
  ``/bin``, ``/lib*`` links; the Python interpreters, the cached environment in
  ``$VIRTUAL_ENV`` (and its build environment), overnight's own package (its
  pytest plugins) and the directories on ``PATH``, each at its own path;
- its working directory writable, plus what ``Access`` names (writable or
  read-only); a fresh ``/tmp``, ``/var/tmp`` and ``/run``; ``$OVERNIGHT_HOME``,
  ``$OVERNIGHT_CACHE`` and the worker's home hidden again if a bind contains
  them. So no other task's workspace, no grading clone, no database, no spec
  file, no user repository and no key is there to read;
- no network (``--unshare-net``: only its own loopback), except for setup
  commands; new pid, ipc, uts and cgroup namespaces; only the environment it
  was given, with ``HOME`` and ``TMPDIR`` set to its private ``/tmp``.

When the worker runs as root, bwrap runs without a user namespace (one would
map root to root and leave ``/proc/sys`` writable) and the payload drops to a
per-task uid with setpriv, no capabilities and no_new_privs; ``/proc/sys`` is
bound read-only. The agent's commands run as an even uid and everything else
(grading, setup) as an odd one, so code under test never shares a uid with
the agent. The writable paths are handed to that uid before each command.

Every process is gone at the end: the pid namespace dies with its init, the
cgroup is emptied with SIGKILL, and ``--die-with-parent`` covers a dying worker.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from overnight.config import cache_dir, home
from overnight.errors import ConfigError
from overnight.sandbox import Access, BaseSandbox, Completed, Sandbox
from overnight.sandbox.cgroups import CgroupHost, RunGroup, detect
from overnight.sandbox.limits import CPU_TIME_EXIT, Limits, describe, rlimit_commands
from overnight.sandbox.process import Exit, kill_session, supervise
from overnight.sandbox.proxy import INSIDE_DIR, Endpoint, ModelProxy, forwarder_script

log = logging.getLogger(__name__)
UID_BASE, UID_SPAN = 2_000_000_000, 100_000_000  # clear of subuid and nspawn ranges
SYSTEM = ("/usr", "/etc", "/opt", "/sys", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PRIVATE = ("/tmp", "/var/tmp", "/run")  # a fresh tmpfs each
ROLES = ("agent", "grading")  # the agent's commands; everything else (gates, setup)
INSTALL_HINT = "install bubblewrap: apt-get install bubblewrap socat (or scripts/system-deps.sh)"
LIMIT_ORDER = ("memory", "pids", "cpu-time", "wall-time")


class BwrapSandbox(BaseSandbox):
    name = "bwrap"

    @classmethod
    def build(cls, arg: str, *, model_endpoint: str | None, role: str) -> Sandbox:
        return cls(model_endpoint=model_endpoint, role=role)

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        model_endpoint: str | None = None,
        cgroups: CgroupHost | None = None,
        role: str = "grading",
    ) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise ConfigError(f"sandbox 'bwrap': bubblewrap is not installed; {INSTALL_HINT}")
        self.bwrap = bwrap
        self.limits = limits or Limits()
        self.as_root = os.geteuid() == 0
        self.setpriv = shutil.which("setpriv") if self.as_root else None
        if self.as_root and self.setpriv is None:
            raise ConfigError(
                "sandbox 'bwrap' as root needs setpriv to drop to a task uid: "
                "apt-get install util-linux"
            )
        self.model = Endpoint.parse(model_endpoint) if model_endpoint else None
        if self.model and shutil.which("socat") is None:
            raise ConfigError("the model socket needs socat: apt-get install socat")
        self.cgroups = cgroups if cgroups is not None else detect()
        self._cgroup_warned = False
        self.role = role

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
        with ExitStack() as stack:
            proxy = None
            if self.model is not None and not access.network:
                proxy = stack.enter_context(ModelProxy(self.model))
            group = self._group()
            if group is not None:
                stack.callback(_clean_up, group)
            argv = self.argv(command, cwd, env, access, uid=uid, group=group, proxy=proxy)
            done = supervise(
                argv,
                env=self.environ(env, model=proxy is not None),
                cwd="/",
                timeout=timeout,
                cancel=cancel,
                stop=partial(_stop, group),
                on_output=on_output,
            )
            if group is not None:
                group.kill()
            hit = group.limits_hit() if group is not None else []
        return self._completed(command, done, hit, timeout)

    # -- building the command ------------------------------------------------

    def argv(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str],
        access: Access,
        *,
        uid: int | None,
        group: RunGroup | None = None,
        proxy: ModelProxy | None = None,
    ) -> list[str]:
        """The wrapper shell (join the cgroup, set rlimits) that execs bwrap."""
        wrapper = [f"echo $$ > {shlex.quote(f)} || exit 125" for f in _procs(group)]
        wrapper += rlimit_commands(
            self.limits,
            memory_in_cgroup=group is not None and "memory" in group.dirs,
            nproc=uid is not None,  # as the worker's own uid it would count the worker too
        )
        wrapper.append('exec "$@"')
        args = [*mounts(cwd, env, access, proxy_dir=proxy.dir if proxy else None)]
        args += ["--chdir", str(cwd)]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        args += [] if access.network else ["--unshare-net"]
        args += ["--hostname", "overnight", "--die-with-parent", "--new-session"]
        if uid is None:
            args += ["--unshare-user", "--cap-drop", "ALL"]
        payload = ["bash", "-c", command]
        if proxy is not None and self.model is not None:
            payload = ["bash", "-c", forwarder_script(self.model), "overnight-forwarder", command]
        if uid is not None:
            assert self.setpriv is not None
            payload = [
                self.setpriv,
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
                *payload,
            ]
        script = "\n".join(wrapper)
        return ["/bin/sh", "-c", script, "overnight-sandbox", self.bwrap, *args, "--", *payload]

    def environ(self, env: dict[str, str], *, model: bool = False) -> dict[str, str]:
        """The payload's environment: passed to bwrap as its own, never on a command line."""
        inside = {**env, "HOME": "/tmp", "TMPDIR": "/tmp"}
        if model and self.model is not None:
            inside["OVERNIGHT_MODEL_URL"] = self.model.url
            inside["OVERNIGHT_MODEL_SOCKET"] = f"{INSIDE_DIR}/model.sock"
        return inside

    # -- limits --------------------------------------------------------------

    def _group(self) -> RunGroup | None:
        if not self.cgroups.usable:
            return None
        try:
            return RunGroup.create(self.cgroups, self.limits)
        except OSError as exc:
            if not self._cgroup_warned:
                log.warning("sandbox 'bwrap': no cgroup (%s); limits are rlimits only", exc)
                self._cgroup_warned = True
            return None

    def _completed(self, command: str, done: Exit, hit: list[str], timeout: float) -> Completed:
        hit = list(hit)
        if done.returncode == CPU_TIME_EXIT:
            hit.append("cpu-time")
        if done.timed_out:
            hit.append("wall-time")
        limit = next((name for name in LIMIT_ORDER if name in hit), None)
        output = done.output
        for name in LIMIT_ORDER:
            if name in hit:
                output += f"\n[overnight: {describe(name, self.limits, timeout)}]"
        if done.returncode == 125 and not output.strip():
            output += "\n[overnight: the sandbox could not join its cgroup]"
        if done.cancelled:
            output += "\n[overnight: killed: the task was cancelled]"
        return Completed(
            command,
            124 if done.timed_out else done.returncode,
            output,
            done.duration,
            done.timed_out,
            done.cancelled,
            limit,
        )


def mounts(
    cwd: Path, env: dict[str, str], access: Access, *, proxy_dir: Path | None = None
) -> list[str]:
    """bwrap's filesystem arguments: the toolchain, private dirs, then the binds."""
    args: list[str] = []
    toolchain: list[Path] = []  # looked at once per command: each bind asks of it
    for top in map(Path, SYSTEM):
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
            toolchain.append(top)
    args += ["--dev", "/dev", "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
    for private in PRIVATE:
        args += _tmpfs(Path(private))
    writable = {p.resolve() for p in (cwd, *access.writable)}
    readable = {
        p.resolve()
        for p in (*readable_paths(cwd, env), *access.readable)
        if not within(p, writable)
    } - writable
    binds = [(p, "--bind") for p in writable if p.exists()]
    binds += [
        (p, "--ro-bind")
        for p in readable
        if p.exists() and not _visible(p, toolchain) and not within(p, writable)
    ]
    binds.sort(key=lambda b: len(b[0].parts))
    args += _bind(binds, toolchain)
    # a bind that contains overnight's state or the worker's home brought it back: hide it
    for hidden in hidden_dirs():
        if any(target in hidden.parents for target, _ in binds):
            args += _tmpfs(hidden)
            args += _bind([b for b in binds if hidden in b[0].parents], toolchain, made={hidden})
    if proxy_dir is not None:
        args += ["--perms", "0755", "--dir", INSIDE_DIR, "--ro-bind", str(proxy_dir), INSIDE_DIR]
    return [*args, "--remount-ro", "/"]


def hidden_dirs() -> list[Path]:
    """Directories hidden again when a bind contains them (shallowest first): every
    task's state (``$OVERNIGHT_HOME``, ``$OVERNIGHT_CACHE``) and the worker's home."""
    candidates = {p.resolve() for p in (Path.home(), home(), cache_dir())}
    return sorted(
        (p for p in candidates if p != Path("/") and p.is_dir()), key=lambda p: len(p.parts)
    )


def within(path: Path, roots: set[Path]) -> bool:
    """Under one of ``roots``, judged on the path as written (a symlink a command made
    inside a writable tree must not lead a bind elsewhere)."""
    written = os.path.abspath(path)
    return any(_under(written, str(r)) for r in roots)


def _visible(path: Path, toolchain: list[Path]) -> bool:
    """Already there read-only: under one of the toolchain's directories."""
    return any(_under(str(path), str(top)) for top in toolchain)


def _under(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it (both absolute and normalised). On strings:
    this runs for every bind of every command, and pathlib's parents are slow."""
    return path == root or path.startswith(root if root.endswith("/") else root + "/")


def _tmpfs(path: Path) -> list[str]:
    perms = "1777" if str(path) in ("/tmp", "/var/tmp") else "0755"
    return ["--perms", perms, "--tmpfs", str(path)]


def _bind(
    binds: list[tuple[Path, str]], toolchain: list[Path], made: set[Path] | None = None
) -> list[str]:
    """Bind each path at its own place, creating its missing parents 0755 first (bwrap
    would make them 0700, which a task uid cannot enter)."""
    args: list[str] = []
    made = set(made or ())
    private = {Path(p) for p in PRIVATE}
    for path, kind in binds:
        for parent in reversed(path.parents):
            if (
                parent == Path("/")
                or parent in made
                or parent in private
                or _visible(parent, toolchain)
            ):
                continue
            made.add(parent)
            args += ["--perms", "0755", "--dir", str(parent)]
        made.add(path)
        args += [kind, str(path), str(path)]
    return args


def readable_paths(cwd: Path, env: dict[str, str]) -> list[Path]:
    """What a command needs read-only at its own path: the interpreters, its
    virtualenv (and the build environment beside it), the directories on its PATH
    and overnight's own package (its pytest plugins live there). Only paths the
    worker chose: nothing a command wrote (a pyvenv.cfg, git alternates) decides
    what another command may see."""
    paths = [Path(sys.base_prefix), Path(sys.prefix), Path(__file__).resolve().parents[1]]
    venv = env.get("VIRTUAL_ENV")
    if venv:
        paths += [Path(venv), Path(f"{venv}.build")]
    paths += [Path(p) for p in env.get("PATH", "").split(":") if p.startswith("/")]
    return paths


def task_uid(workspace: Path, role: str = "grading") -> int:
    """A stable unprivileged uid for a task directory: even for the agent's commands,
    odd for everything else, so the agent and the code it wrote never share one."""
    slot = zlib.crc32(str(workspace).encode()) % (UID_SPAN // 2)
    return UID_BASE + 2 * slot + (0 if role == "agent" else 1)


def hand_over(path: Path, uid: int) -> None:
    """Give a tree to the task's uid (no symlink followed); only what it does not own yet."""
    if len(path.parts) < 3 or path == Path.home():
        raise ConfigError(f"refusing to hand {path} to a sandbox uid: not a task directory")
    if not path.exists():
        return
    stack = [path]
    while stack:
        current = stack.pop()
        st = current.lstat()
        if st.st_uid != uid or st.st_gid != uid:
            os.lchown(current, uid, uid)
        if current.is_dir() and not current.is_symlink():
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.stat(follow_symlinks=False).st_uid != uid:
                        os.lchown(entry.path, uid, uid)


def _procs(group: RunGroup | None) -> list[str]:
    return group.procs_files if group is not None else []


def _stop(group: RunGroup | None, proc: subprocess.Popen[bytes]) -> None:
    """Past the wall time or cancelled: empty the cgroup, kill bwrap (its namespace dies)."""
    if group is not None:
        group.kill()
    kill_session(proc)


def _clean_up(group: RunGroup) -> None:
    group.kill()
    group.remove()

"""What this host can isolate and enforce: the data behind ``overnight doctor``.

Every answer comes from asking the host (running bwrap, asking the container
daemon, reading the cgroup hierarchy), never from assuming.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from overnight.errors import OvernightError
from overnight.sandbox.cgroups import CgroupHost, detect
from overnight.sandbox.engine import BUILD_HINT, default_image, engine_status, image_present
from overnight.sandbox.select import MODEL_ENDPOINT, select_sandbox

APT = "apt-get install -y"  # or scripts/system-deps.sh, which does it when root


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # how to get it, when missing


@dataclass
class HostReport:
    configured: str  # the sandbox name the configuration asks for
    active: str | None  # the backend that name resolves to here, None when unusable
    problem: str  # why it is unusable
    backends: list[Check] = field(default_factory=list)
    limits: list[Check] = field(default_factory=list)
    facilities: list[Check] = field(default_factory=list)
    cgroups: CgroupHost | None = None

    @property
    def missing(self) -> list[Check]:
        return [c for c in (*self.backends, *self.limits, *self.facilities) if not c.ok and c.fix]


def inspect_host(configured: str) -> HostReport:
    try:
        active: str | None = select_sandbox(configured).name
        problem = ""
    except OvernightError as exc:
        active, problem = None, str(exc)
    cgroups = detect()
    report = HostReport(configured, active, problem, cgroups=cgroups)
    report.backends = [_bwrap(), _container(), Check("none", True, "no isolation: explicit only")]
    report.limits = _limits(cgroups)
    report.facilities = _facilities()
    if active is not None:
        report.facilities.append(reach(configured))
    return report


def reach(configured: str) -> Check:
    """Can a sandboxed command work in a workspace under ``$OVERNIGHT_HOME`` and run
    Python there, as the sandbox's uid would? (Tried, not inferred.)"""
    from overnight.config import home

    workspaces = home() / "workspaces"
    try:
        workspaces.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=".reach-", dir=workspaces))
    except OSError as exc:
        return Check(
            "home",
            False,
            f"cannot create workspaces under {home()}: {exc}",
            "set OVERNIGHT_HOME to a directory this worker can write",
        )
    try:
        sandbox = select_sandbox(configured)
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"}
        done = sandbox.run(
            f"touch written && {sys.executable} -c 'print(42)'", cwd=probe, env=env, timeout=60
        )
    except OvernightError as exc:
        return Check("home", False, f"the sandbox cannot start in {probe.parent}: {exc}")
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if done.ok and done.output.strip().endswith("42"):
        return Check("home", True, f"a sandboxed command works in {workspaces}")
    closed = [str(p) for p in probe.parents if p.exists() and not p.stat().st_mode & 0o001]
    fix = (
        (
            f"chmod o+x {' '.join(closed)} (the sandbox's uid must enter them), or set "
            "OVERNIGHT_HOME elsewhere"
        )
        if closed
        else "see the output above"
    )
    tail = (done.output.strip().splitlines() or [f"exit {done.exit_code}"])[-1][:200]
    return Check("home", False, f"a sandboxed command fails in {workspaces}: {tail}", fix)


def _bwrap() -> Check:
    path = shutil.which("bwrap")
    fix = f"{APT} bubblewrap socat"
    if not sys.platform.startswith("linux"):
        return Check("bwrap", False, f"needs Linux (this is {sys.platform})")
    if path is None:
        return Check("bwrap", False, "bubblewrap is not installed", fix)
    version = _output([path, "--version"]).strip() or "bubblewrap"
    probe = [path, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    probe += ["--unshare-pid", "--unshare-net", "--die-with-parent"]
    if os.geteuid() != 0:
        probe += ["--unshare-user"]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([*probe, "true"], capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return Check(
            "bwrap",
            False,
            f"{version} at {path} cannot create namespaces: {why}",
            "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; "
            "on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0) or run as root",
        )
    return Check("bwrap", True, f"{version} at {path}; namespaces work")


def _container() -> Check:
    path, state = engine_status()
    if path is None:
        return Check("container", False, state, f"install docker or podman: {BUILD_HINT}")
    image = default_image()
    if image is None or not image_present(path, image):
        what = f"image {image} is not built" if image else "no image"
        return Check("container", False, f"{state}; {what}", BUILD_HINT)
    return Check("container", True, f"{state}; image {image}")


def _limits(cg: CgroupHost) -> list[Check]:
    root = os.geteuid() == 0
    version = f"cgroup v{cg.version}" if cg.version else "no cgroups"

    def via(controller: str, what: str, fallback: str | None) -> Check:
        if controller in cg.bases:
            return Check(
                what, True, f"{version} {controller} controller under {cg.bases[controller]}"
            )
        why = cg.missing.get(controller, "not available")
        if fallback:
            return Check(what, True, f"{fallback} ({controller} cgroup: {why})")
        return Check(what, False, f"not enforceable: {controller} cgroup {why}", _cgroup_fix(root))

    return [
        via("memory", "memory", "rlimit on address space only"),
        via("pids", "processes", "rlimit nproc per task uid" if root else None),
        via("cpu", "cpu share", None),
        Check("cpu time", True, "rlimit (RLIMIT_CPU) per process"),
        Check("open files", True, "rlimit (RLIMIT_NOFILE)"),
        Check("wall time", True, "the worker's timer; the whole sandbox is killed"),
    ]


def _cgroup_fix(root: bool) -> str:
    if root:
        return "mount the cgroup controllers read-write (v1), or delegate a v2 subtree"
    return "run the worker as root, or in a delegated cgroup v2 subtree (systemd Delegate=yes)"


def _facilities() -> list[Check]:
    checks = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        checks.append(
            Check("uid drop", True, f"worker is root: payload runs as a per-task uid via {setpriv}")
            if setpriv
            else Check("uid drop", False, "setpriv is missing", f"{APT} util-linux")
        )
    else:
        limit = _output(["cat", "/proc/sys/user/max_user_namespaces"]).strip()
        ok = limit.isdigit() and int(limit) > 0
        checks.append(
            Check(
                "user namespaces",
                ok,
                f"max_user_namespaces={limit or '?'} (bwrap runs unprivileged)",
                "" if ok else "sysctl user.max_user_namespaces=10000",
            )
        )
    socat = shutil.which("socat")
    endpoint = os.environ.get(MODEL_ENDPOINT)
    where = f"forwards to {endpoint}" if endpoint else f"off (set {MODEL_ENDPOINT}=HOST:PORT)"
    checks.append(
        Check("model socket", True, f"socat at {socat}; {where}")
        if socat
        else Check("model socket", False, "socat is missing", f"{APT} socat")
    )
    return checks


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""

"""Control groups: detected (v1 or v2) at run time, one group per sandboxed command.

``detect`` reads ``/proc/self/cgroup`` and ``/proc/self/mountinfo`` and says,
for the memory, pids and cpu controllers, where this process could create
child groups (under its own group, so any limit set above still applies) or
why it cannot. It has no side effects; ``RunGroup.create`` does the writing.
The wrapper shell that starts bwrap joins the group first, so every process
of the command is born inside it; at the end the group is emptied with
SIGKILL and removed. A hybrid host (v1 controllers plus a thin v2 tree) uses v1.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from overnight.sandbox.limits import MB, Limits

CONTROLLERS = ("memory", "pids", "cpu")
PARENT = "overnight"  # the group under ours that holds the per-command groups
_serial = itertools.count()


@dataclass
class CgroupHost:
    version: int | None  # the hierarchy in use: 1, 2, or None when there is none
    bases: dict[str, Path] = field(default_factory=dict)  # controller -> our own group
    missing: dict[str, str] = field(default_factory=dict)  # controller -> why not usable

    @property
    def usable(self) -> list[str]:
        return [c for c in CONTROLLERS if c in self.bases]


def detect(proc_cgroup: str | None = None, mountinfo: str | None = None) -> CgroupHost:
    """Where this process may create child groups, per controller (no side effects)."""
    if proc_cgroup is None:
        proc_cgroup = _read(Path("/proc/self/cgroup"))
    if mountinfo is None:
        mountinfo = _read(Path("/proc/self/mountinfo"))
    own: dict[str, str] = {}  # controller (or "" for v2) -> our path in that hierarchy
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                own[name] = parts[2]
    mounts = cgroup_mounts(mountinfo)
    v1 = {c: m for c in CONTROLLERS for m in mounts if m[2] == "cgroup" and c in m[3]}
    if v1:
        return _host(1, {c: (v1[c][0], v1[c][1], own.get(c)) for c in v1})
    v2 = next((m for m in mounts if m[2] == "cgroup2"), None)
    if v2 is None:
        return CgroupHost(None, {}, dict.fromkeys(CONTROLLERS, "no cgroup hierarchy is mounted"))
    host = _host(2, dict.fromkeys(CONTROLLERS, (v2[0], v2[1], own.get(""))))
    for c, base in list(host.bases.items()):
        available = _read(base / "cgroup.controllers").split()
        if c not in available:
            del host.bases[c]
            host.missing[c] = f"not enabled for {base} (cgroup.controllers)"
    return host


def _host(version: int, where: dict[str, tuple[str, str, str | None]]) -> CgroupHost:
    host = CgroupHost(version)
    for c in CONTROLLERS:
        if c not in where:
            host.missing[c] = f"controller not mounted (cgroup v{version})"
            continue
        mountpoint, root, path = where[c]
        if path is None or not (path + "/").startswith(root.rstrip("/") + "/"):
            host.missing[c] = "our own group is outside the mounted hierarchy"
            continue
        base = Path(mountpoint, path[len(root.rstrip("/")) :].lstrip("/"))
        if os.access(base, os.W_OK):
            host.bases[c] = base
        else:
            host.missing[c] = f"{base} is not writable by uid {os.getuid()}"
    return host


def cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str, list[str]]]:
    """(mountpoint, root, fstype, super options) of every cgroup mount."""
    mounts = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if sep and len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            mounts.append((_unescape(fields[4]), _unescape(fields[3]), tail[0], tail[2].split(",")))
    return mounts


def _unescape(path: str) -> str:
    for code in ("\\040", "\\011", "\\012", "\\134"):
        path = path.replace(code, chr(int(code[1:], 8)))
    return path


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class RunGroup:
    """One command's group (one directory per controller on v1, one on v2)."""

    def __init__(self, version: int, dirs: dict[str, Path]) -> None:
        self.version, self.dirs = version, dirs

    @classmethod
    def create(cls, host: CgroupHost, limits: Limits) -> RunGroup:
        """Make the group and write the limits; raises OSError when the host refuses."""
        assert host.version is not None
        name = f"run-{os.getpid()}-{next(_serial)}-{secrets.token_hex(3)}"
        wanted = [c for c in host.usable if _wanted(c, limits)]
        if host.version == 2 and wanted:
            base = host.bases[wanted[0]]
            enable(base, wanted)  # refused (EBUSY) when our own group holds processes
            (base / PARENT).mkdir(exist_ok=True)
            enable(base / PARENT, wanted)
            leaf = base / PARENT / name
            leaf.mkdir()
            group = cls(2, dict.fromkeys(wanted, leaf))
        else:
            dirs = {}
            for c in wanted:
                leaf = host.bases[c] / PARENT / name
                leaf.mkdir(parents=True)
                dirs[c] = leaf
            group = cls(1, dirs)
        return group.limited(limits)

    def limited(self, limits: Limits) -> RunGroup:
        """This group with ``limits`` written; removed (and the error raised) if refused."""
        try:
            self._write_limits(limits)
        except OSError:
            self.remove()
            raise
        return self

    def _write_limits(self, limits: Limits) -> None:
        d = self.dirs
        if "memory" in d and limits.memory_mb is not None:
            size = str(limits.memory_mb * MB)
            if self.version == 1:
                (d["memory"] / "memory.limit_in_bytes").write_text(size)
                if (d["memory"] / "memory.memsw.limit_in_bytes").exists():
                    (d["memory"] / "memory.memsw.limit_in_bytes").write_text(size)
            else:
                (d["memory"] / "memory.max").write_text(size)
                if (d["memory"] / "memory.swap.max").exists():
                    (d["memory"] / "memory.swap.max").write_text("0")
        if "pids" in d and limits.pids is not None:
            (d["pids"] / "pids.max").write_text(str(limits.pids))
        if "cpu" in d and limits.cpus is not None:
            quota = int(limits.cpus * 100_000)
            if self.version == 1:
                (d["cpu"] / "cpu.cfs_period_us").write_text("100000")
                (d["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
            else:
                (d["cpu"] / "cpu.max").write_text(f"{quota} 100000")

    @property
    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def limits_hit(self) -> list[str]:
        """Which limits acted: "memory" (a process was OOM-killed), "pids" (forks refused)."""
        hit = []
        if "memory" in self.dirs:
            events = self.dirs["memory"] / (
                "memory.oom_control" if self.version == 1 else "memory.events"
            )
            if _counter(events, "oom_kill") > 0:
                hit.append("memory")
        if "pids" in self.dirs and _counter(self.dirs["pids"] / "pids.events", "max") > 0:
            hit.append("pids")
        return hit

    def pids_peak(self) -> int | None:
        path = self.dirs.get("pids")
        text = _read(path / "pids.peak").strip() if path else ""
        return int(text) if text.isdigit() else None

    def members(self) -> set[int]:
        found = set()
        for procs in self.procs_files:
            found |= {int(p) for p in _read(Path(procs)).split()}
        return found

    def kill(self, rounds: int = 200) -> None:
        """SIGKILL every member until the group is empty (new forks are caught next round)."""
        for d in set(self.dirs.values()):
            if (d / "cgroup.kill").exists():
                (d / "cgroup.kill").write_text("1")
        for _ in range(rounds):
            members = self.members()
            if not members:
                return
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        for d in set(self.dirs.values()):
            for _ in range(100):  # a killed process leaves the group a moment later
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def _wanted(controller: str, limits: Limits) -> bool:
    return {"memory": limits.memory_mb, "pids": limits.pids, "cpu": limits.cpus}[
        controller
    ] is not None


def enable(group: Path, controllers: list[str]) -> None:
    """Let the children of ``group`` use these controllers (v2's subtree_control)."""
    present = set(_read(group / "cgroup.subtree_control").split())
    missing = [c for c in controllers if c not in present]
    if missing:
        (group / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))


def _counter(path: Path, key: str) -> int:
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0

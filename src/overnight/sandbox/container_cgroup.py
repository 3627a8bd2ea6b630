"""The cgroup a container runs under, made by overnight: it holds the memory, pids
and CPU limits itself, and still says which of them acted once the container is gone.

The engine's cgroupfs manager wants a ``--cgroup-parent`` that is one path in
every hierarchy, so the group sits at each hierarchy's root
(``/overnight-containers/run-…``), not under the worker's own group. The
container's group is its child: the limits bind it whole, and the counters
here (an OOM kill, refused forks) outlive it. podman's own ``OOMKilled`` stays
false on cgroup v1 hosts like this one, and it has no word for refused forks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

from overnight.sandbox.cgroups import CONTROLLERS, RunGroup, cgroup_mounts, enable
from overnight.sandbox.limits import MB, Limits

PARENT = "overnight-containers"


class ContainerGroup:
    """One container's parent group; ``parent`` is what ``--cgroup-parent`` names."""

    def __init__(self, group: RunGroup, limits: Limits, parent: str, others: list[Path]) -> None:
        self.group, self.limits, self.parent, self.others = group, limits, parent, others

    @classmethod
    def create(cls, limits: Limits) -> ContainerGroup | None:
        """None when this host has no writable hierarchy root for the limits wanted (the
        engine's own flags then carry them, and which one acted goes unsaid)."""
        wanted = [c for c, v in zip(CONTROLLERS, _values(limits), strict=True) if v is not None]
        if not wanted:
            return None
        try:
            mounts = cgroup_mounts(Path("/proc/self/mountinfo").read_text())
        except OSError:
            return None
        v1 = {c: Path(m[0]) for m in mounts if m[2] == "cgroup" for c in m[3] if c in CONTROLLERS}
        v2 = next((Path(m[0]) for m in mounts if m[2] == "cgroup2"), None)
        name = f"run-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            if v1:
                if any(c not in v1 for c in wanted):
                    return None
                dirs = {c: v1[c] / PARENT / name for c in wanted}
                for leaf in dirs.values():
                    leaf.mkdir(parents=True, exist_ok=True)
                # the engine makes the same path in every other v1 hierarchy: ours to remove
                others = {Path(m[0]) / PARENT / name for m in mounts}
                group = RunGroup(1, dirs).limited(limits)
                return cls(group, limits, f"/{PARENT}/{name}", sorted(others - set(dirs.values())))
            if v2 is None or not os.access(v2, os.W_OK):
                return None
            enable(v2, wanted)
            (v2 / PARENT).mkdir(exist_ok=True)
            enable(v2 / PARENT, wanted)
            (v2 / PARENT / name).mkdir()
            group = RunGroup(2, dict.fromkeys(wanted, v2 / PARENT / name)).limited(limits)
            return cls(group, limits, f"/{PARENT}/{name}", [])
        except OSError:
            return None

    def limits_hit(self, exit_code: int | None) -> list[str]:
        """The kernel's counters, else the peaks: on this kind of v1 host an OOM kill or a
        refused fork is counted in the container's own group, gone by now, so a peak
        at the limit says it (memory only with the SIGKILL an OOM kill gives)."""
        hit = self.group.limits_hit()
        dirs, limits = self.group.dirs, self.limits
        if "memory" in dirs and "memory" not in hit and exit_code == 128 + signal.SIGKILL:
            name = "memory.max_usage_in_bytes" if self.group.version == 1 else "memory.peak"
            peak = _number(dirs["memory"] / name)
            if limits.memory_mb is not None and peak >= limits.memory_mb * MB:
                hit.append("memory")
        pids = _number(dirs["pids"] / "pids.peak") if "pids" in dirs else 0
        if "pids" not in hit and limits.pids is not None and pids >= limits.pids:
            hit.append("pids")
        return hit

    def remove(self) -> None:
        """Kill what is left, remove the group and the engine's leftovers beside it (the
        container's own group and conmon's first: they may empty a moment later)."""
        self.group.kill()
        paths = [*self.group.dirs.values(), *self.others]
        for _ in range(200):
            for path in paths:
                _remove_tree(path)
            if not any(path.exists() for path in paths):
                return
            time.sleep(0.01)


def _remove_tree(path: Path) -> None:
    with contextlib.suppress(OSError):
        for child in path.iterdir():
            if child.is_dir():
                child.rmdir()
        path.rmdir()


def _values(limits: Limits) -> tuple[int | float | None, ...]:
    return (limits.memory_mb, limits.pids, limits.cpus)


def _number(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0

"""What a sandboxed command may consume, and how each limit is enforced.

Memory, processes and CPU share go through a control group when this host
lets us create one (see ``cgroups``); CPU time, open files and file size are
rlimits set by the wrapper shell just before bwrap starts, inherited by every
process inside. The process count is also an rlimit (per uid, so it counts
only the task's own processes once the payload runs as its own uid), and
memory falls back to an address-space rlimit when no memory cgroup exists.
Wall time is the worker's own timer.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    memory_mb: int | None = 4096
    pids: int | None = 512
    cpus: float | None = None  # cgroup CPU quota, in cores
    cpu_seconds: int | None = None  # CPU time of any one process (RLIMIT_CPU)
    open_files: int | None = 4096
    file_size_mb: int | None = 4096  # any one file a command writes (RLIMIT_FSIZE)


# Exit statuses that name the limit which killed the command.
CPU_TIME_EXIT = 128 + signal.SIGXCPU


def rlimit_commands(limits: Limits, *, memory_in_cgroup: bool, nproc: bool) -> list[str]:
    """``ulimit`` lines for the POSIX wrapper shell (dash's ulimit: both soft and hard)."""
    lines = []
    if limits.cpu_seconds is not None:  # SIGXCPU at the soft limit, SIGKILL a bit later
        lines += [f"ulimit -S -t {limits.cpu_seconds}", f"ulimit -H -t {limits.cpu_seconds + 2}"]
    if limits.open_files is not None:
        lines.append(f"ulimit -n {limits.open_files}")
    if limits.file_size_mb is not None:
        lines.append(f"ulimit -f {limits.file_size_mb * 1024}")  # blocks of 1 KiB
    if limits.pids is not None and nproc:
        lines.append(f"ulimit -p {limits.pids}")
    if limits.memory_mb is not None and not memory_in_cgroup:
        lines.append(f"ulimit -v {limits.memory_mb * 1024}")
    return lines


def describe(limit: str, limits: Limits, timeout: float) -> str:
    """The line appended to a command's output when a limit ended or hobbled it."""
    return {
        "memory": f"killed: the memory limit ({limits.memory_mb} MB) was reached",
        "pids": f"the process limit ({limits.pids}) refused new processes",
        "cpu-time": f"killed: the CPU time limit ({limits.cpu_seconds} s) was reached",
        "wall-time": f"killed after the {timeout:.0f} s time limit",
    }[limit]

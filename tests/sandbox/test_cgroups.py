"""Cgroup detection (v1, v2, hybrid) from /proc text, and a real group on this host."""

from __future__ import annotations

from pathlib import Path

from overnight.sandbox.cgroups import RunGroup, detect
from overnight.sandbox.limits import Limits

from .conftest import need_cgroup

V1_CGROUP = "9:name=systemd:/\n8:pids:/\n4:memory:/jobs/42\n1:cpu,cpuacct:/\n0::/\n"
V1_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_v1_controllers_win_on_a_hybrid_host_and_live_under_our_own_group(tmp_path):
    host = detect(V1_CGROUP, V1_MOUNTS)
    assert host.version == 1
    expected = {
        "memory": "/sys/fs/cgroup/memory/jobs/42",
        "pids": "/sys/fs/cgroup/pids",
        "cpu": "/sys/fs/cgroup/cpu,cpuacct",
    }
    for controller, path in expected.items():
        where = host.bases.get(controller) or host.missing[controller]
        assert path in str(where)


def test_v2_reads_the_controllers_enabled_for_our_group(tmp_path):
    group = tmp_path / "user.slice" / "worker.service"
    group.mkdir(parents=True)
    (group / "cgroup.controllers").write_text("cpu memory\n")
    mounts = f"30 23 0:27 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
    host = detect("0::/user.slice/worker.service\n", mounts)
    assert host.version == 2
    assert host.bases == {"memory": group, "cpu": group}
    assert "not enabled" in host.missing["pids"]


def test_no_cgroup_mount_means_no_cgroup_limits():
    host = detect("0::/\n", "22 1 0:5 / /proc rw - proc proc rw\n")
    assert host.version is None and host.usable == []
    assert set(host.missing) == {"memory", "pids", "cpu"}


def test_a_run_group_gets_the_limits_and_is_removed():
    for controller in ("memory", "pids", "cpu"):
        need_cgroup(controller)
    host = detect()
    own = Path("/proc/self/cgroup").read_text()
    group = RunGroup.create(host, Limits(memory_mb=256, pids=32, cpus=0.5))
    try:
        if host.version == 1:
            mem = (group.dirs["memory"] / "memory.limit_in_bytes").read_text()
            quota = (group.dirs["cpu"] / "cpu.cfs_quota_us").read_text()
            assert (int(mem), int(quota)) == (256 << 20, 50_000)
        assert (group.dirs["pids"] / "pids.max").read_text().strip() == "32"
        assert group.members() == set() and group.limits_hit() == []
    finally:
        group.kill()
        group.remove()
    assert not any(d.exists() for d in group.dirs.values())
    assert Path("/proc/self/cgroup").read_text() == own  # the worker itself never moved

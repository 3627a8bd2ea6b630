"""The escape suite: each probe tries one way out of a sandbox and must meet the
specific outcome (an errno, a missing file, a killed process), not merely fail.
Every probe runs in the bwrap sandbox and in the container sandbox on podman."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from overnight.sandbox import Completed, Sandbox
from overnight.sandbox.bwrap import task_uid
from overnight.workspace import git

from .conftest import host_processes, need_cgroup, processes_of

CONNECT = """
import errno, socket, sys
for host, port in [{targets}]:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(3)
    try:
        s.connect((host, port))
        print(host, "CONNECTED")
    except OSError as exc:
        print(host, errno.errorcode.get(exc.errno, exc))
"""


@pytest.fixture(
    params=["bwrap", pytest.param("container", marks=[pytest.mark.slow, pytest.mark.container])]
)
def make_sandbox(request: pytest.FixtureRequest) -> Callable[..., Sandbox]:
    """Each probe against each sandbox kind (the bwrap one fails where bwrap is missing;
    the container one skips, saying why, where podman cannot run a container)."""
    return request.getfixturevalue("make_bwrap" if request.param == "bwrap" else "make_container")


def python(sandbox: Sandbox, code: str, cwd: Path, env: dict[str, str], **kw) -> Completed:
    return sandbox.run(f"python3 -c {shlex.quote(code)}", cwd=cwd, env=env, timeout=60, **kw)


def test_a_loopback_port_the_host_listens_on_is_refused(make_sandbox, workspace, environ):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    with server:
        probe = CONNECT.format(targets=f"('127.0.0.1', {port})")
        done = python(make_sandbox(), probe, workspace, environ)
        assert done.output.strip() == "127.0.0.1 ECONNREFUSED", done.output
        with pytest.raises(TimeoutError):
            server.accept()  # nothing ever arrived on the host side


def test_no_address_is_reachable(make_sandbox, workspace, environ):
    outside = socket.gethostbyname(socket.gethostname())
    targets = f"('1.1.1.1', 53), ('8.8.8.8', 443), ('{outside}', 22), ('2606:4700::1111', 53)"
    done = python(make_sandbox(), CONNECT.format(targets=targets), workspace, environ)
    lines = done.output.strip().splitlines()
    assert lines[:3] == [
        "1.1.1.1 ENETUNREACH",
        "8.8.8.8 ENETUNREACH",
        f"{outside} ENETUNREACH",
    ] or (outside.startswith("127.") and lines[2] == f"{outside} ECONNREFUSED"), done.output
    assert lines[3].split()[1] in ("ENETUNREACH", "EADDRNOTAVAIL"), done.output
    resolved = python(
        make_sandbox(),
        "import socket\ntry:\n socket.getaddrinfo('pypi.org', 443)\n print('RESOLVED')\n"
        "except socket.gaierror as exc:\n print('gaierror')",
        workspace,
        environ,
    )
    assert resolved.output.strip() == "gaierror"


def test_a_secret_in_the_worker_environment_is_not_visible(
    make_sandbox, workspace, environ, monkeypatch
):
    secret = f"env-canary-{os.urandom(8).hex()}"
    monkeypatch.setenv("OVERNIGHT_TEST_API_KEY", secret)
    done = make_sandbox().run(
        "env; cat /proc/1/environ /proc/self/environ; ps -eo args 2>/dev/null",
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    assert done.exit_code == 0, done.output
    assert "PATH=" in done.output  # the probe did print an environment
    assert secret not in done.output


def test_root_ssh_is_not_visible(make_sandbox, workspace, environ, root_ssh_canary):
    canary, secret = root_ssh_canary
    done = make_sandbox().run(
        f"cat {canary}; ls -a {canary.parent}", cwd=workspace, env=environ, timeout=30
    )
    assert f"cat: {canary}: No such file or directory" in done.output
    assert f"cannot access '{canary.parent}': No such file or directory" in done.output
    assert secret not in done.output


def test_the_worker_process_environ_is_not_readable(make_sandbox, workspace, environ, monkeypatch):
    secret = f"proc-canary-{os.urandom(8).hex()}"
    monkeypatch.setenv("OVERNIGHT_TEST_TOKEN", secret)
    worker = os.getpid()
    done = make_sandbox().run(
        f"cat /proc/{worker}/environ; grep -l {secret} /proc/*/environ; echo end",
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    assert f"cat: /proc/{worker}/environ: No such file or directory" in done.output
    assert secret not in done.output.replace(f"grep -l {secret}", "")
    assert done.output.rstrip().endswith("end")


@pytest.mark.parametrize("where", ["tmp", "outside-tmp"])
def test_another_tasks_workspace_is_not_visible(
    make_sandbox, environ, tmp_path, monkeypatch, where
):
    base = tmp_path if where == "tmp" else Path("/var/lib")
    if where == "outside-tmp" and not os.access(base, os.W_OK):
        pytest.fail(f"this probe needs a writable {base} (run the tests as root)")
    home = base / f"overnight-escape-{os.urandom(4).hex()}"
    try:
        monkeypatch.setenv("OVERNIGHT_HOME", str(home))
        other, mine = home / "workspaces" / "7-r1", home / "workspaces" / "8-r1"
        other.mkdir(parents=True)
        mine.mkdir()
        secret = f"workspace-canary-{os.urandom(8).hex()}"
        (other / "secret.txt").write_text(secret)
        (home / "overnight.db").write_text(secret)
        done = make_sandbox().run(
            f"cat ../7-r1/secret.txt {other}/secret.txt {home}/overnight.db; ls ..",
            cwd=mine,
            env=environ,
            timeout=30,
        )
        assert "cat: ../7-r1/secret.txt: No such file or directory" in done.output
        assert f"cat: {other}/secret.txt: No such file or directory" in done.output
        assert f"cat: {home}/overnight.db: No such file or directory" in done.output
        assert done.output.rstrip().splitlines()[-1] == "8-r1"  # ls: only its own
        assert secret not in done.output
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_writes_land_only_in_the_workspace_and_a_private_tmp(make_sandbox, workspace, environ):
    marker = f"probe-{os.urandom(4).hex()}"
    targets = [f"/etc/{marker}", f"/usr/{marker}", f"/var/lib/{marker}", f"/{marker}"]
    targets += [f"{Path(environ['PATH'].split(':')[0])}/{marker}", f"/root/{marker}"]
    script = "; ".join(f"touch {t}" for t in targets)
    script += f"; touch {marker}-ws /tmp/{marker}-tmp && echo wrote"
    done = make_sandbox().run(script, cwd=workspace, env=environ, timeout=30)
    for target in targets[:2] + targets[4:5]:  # the toolchain: there, read-only
        assert f"touch: cannot touch '{target}': Read-only file system" in done.output
    for target in (targets[2], targets[3], targets[5]):  # the rest of the host is not there
        assert f"touch: cannot touch '{target}': " in done.output
    assert done.output.rstrip().endswith("wrote")
    assert (workspace / f"{marker}-ws").exists()  # the workspace is the one writable place
    assert not Path(f"/tmp/{marker}-tmp").exists()  # its /tmp was private
    for target in targets:
        assert not Path(target).exists()


def test_proc_sys_is_read_only(make_sandbox, workspace, environ):
    knobs = ["/proc/sys/vm/overcommit_memory", "/proc/sys/kernel/pid_max"]
    before = [Path(k).read_text() for k in knobs]
    done = make_sandbox().run(  # writes the same value back: harmless if it ever succeeded
        "; ".join(f"v=$(cat {k}); echo $v > {k}" for k in knobs),
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    for knob in knobs:
        assert f"{knob}: Read-only file system" in done.output
    assert [Path(k).read_text() for k in knobs] == before


def test_the_payload_is_an_unprivileged_task_uid(make_sandbox, workspace, environ):
    if os.geteuid() != 0:
        pytest.fail("the uid drop is what a root worker does: run this suite as root")
    done = make_sandbox().run(
        "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; hostname",
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    lines = done.output.split()
    assert lines[0] == str(task_uid(workspace.resolve()))
    assert "CapEff:" in lines and lines[lines.index("CapEff:") + 1] == "0000000000000000"
    assert lines[lines.index("CapBnd:") + 1] == "0000000000000000"
    assert lines[lines.index("NoNewPrivs:") + 1] == "1"
    assert lines[-1] == "overnight"


def test_host_git_still_works_on_a_workspace_the_sandbox_owns(make_sandbox, workspace, environ):
    git(["init", "-q"], workspace)
    done = make_sandbox().run(
        "echo new > file.txt && git add file.txt && echo added",
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    assert done.output.strip() == "added", done.output
    assert git(["status", "--porcelain"], workspace) == "A  file.txt\n?? README"
    assert workspace.stat().st_uid == (task_uid(workspace.resolve()) if os.geteuid() == 0 else 0)


# -- limits ---------------------------------------------------------------------


def test_two_gigabytes_under_a_512_mb_cap_is_killed_and_reported(make_sandbox, workspace, environ):
    need_cgroup("memory")
    hog = 'x = b"1" * (2 << 30)\nprint("allocated")'
    done = python(make_sandbox(memory_mb=512), hog, workspace, environ)
    assert done.limit == "memory"
    assert done.exit_code == 137  # SIGKILL from the OOM killer
    assert "allocated" not in done.output
    assert "[overnight: killed: the memory limit (512 MB) was reached]" in done.output
    assert not done.ok


def test_a_fork_bomb_is_bounded_by_the_pids_cap(make_sandbox, workspace, environ):
    need_cgroup("pids")
    uid = task_uid(workspace.resolve()) if os.geteuid() == 0 else os.getuid()
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(processes_of(uid)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = make_sandbox(pids=64).run(
            "bomb() { bomb | bomb & }; bomb; sleep 3", cwd=workspace, env=environ, timeout=8
        )
    finally:
        stop.set()
        watcher.join()
    assert done.limit == "pids"
    assert "[overnight: the process limit (64) refused new processes]" in done.output
    assert 0 < peak[0] <= 64  # never more processes than the cap
    assert done.duration < 15
    time.sleep(0.1)
    assert processes_of(uid) == []


def test_a_daemonized_process_is_gone_when_the_sandbox_ends(make_sandbox, workspace, environ):
    marker = f"overnight-daemon-{os.urandom(4).hex()}"
    done = make_sandbox().run(
        f"(setsid bash -c 'trap \"\" HUP TERM; exec -a {marker} sleep 600' "
        "</dev/null >/dev/null 2>&1 &) ; "
        f"nohup bash -c 'exec -a {marker}-2 sleep 600' </dev/null >/dev/null 2>&1 & "
        "for _ in $(seq 100); do "
        f"n=$(ps -eo args | grep -c '^{marker}'); [ $n = 2 ] && break; sleep 0.05; done; echo $n",
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    assert done.output.strip() == "2", done.output  # both were running inside
    assert host_processes(marker) == []


def test_running_past_the_wall_time_is_killed_and_reported(make_sandbox, workspace, environ):
    marker = f"overnight-slow-{os.urandom(4).hex()}"
    start = time.monotonic()
    done = make_sandbox().run(
        f"echo started; exec -a {marker} sleep 60", cwd=workspace, env=environ, timeout=1
    )
    assert done.duration < 5  # from its start to its end: a container's create is not in it
    assert time.monotonic() - start < 15
    assert done.timed_out and done.limit == "wall-time" and done.exit_code == 124
    assert done.output.startswith("started")
    assert "[overnight: killed after the 1 s time limit]" in done.output
    assert host_processes(marker) == []


def test_cpu_time_past_its_limit_is_killed_and_reported(make_sandbox, workspace, environ):
    limits = make_sandbox(cpu_seconds=1).run(
        "ulimit -S -t; ulimit -H -t", cwd=workspace, env=environ, timeout=30
    )
    assert limits.output.split() == ["1", "3"]  # SIGXCPU at 1 s, SIGKILL at 3 s
    done = python(make_sandbox(cpu_seconds=1), "while True: pass", workspace, environ)
    assert done.limit == "cpu-time"
    assert "[overnight: killed: the CPU time limit (1 s) was reached]" in done.output


def test_open_files_are_limited(make_sandbox, workspace, environ):
    done = python(
        make_sandbox(open_files=32),
        "import errno\nfiles = []\ntry:\n    while True: files.append(open('/dev/null'))\n"
        "except OSError as exc:\n    print(errno.errorcode[exc.errno], len(files) < 32)",
        workspace,
        environ,
    )
    assert done.output.strip() == "EMFILE True"


def test_files_a_command_writes_do_not_decide_what_the_next_one_sees(
    make_sandbox, sandbox_home, environ, tmp_path
):
    """git alternates and a pyvenv.cfg in the workspace once chose extra read-only
    binds: a command could name any host folder and read it in the next command."""
    secret_dir = tmp_path / "host-secrets"
    secret_dir.mkdir()
    secret = f"bind-canary-{os.urandom(8).hex()}"
    (secret_dir / "key.txt").write_text(secret)
    clone = sandbox_home / "workspaces" / "9-r1"
    git(["init", "--quiet", str(clone)])
    venv = clone / "venv"
    plant = (
        f"mkdir -p .git/objects/info {venv} && echo {secret_dir} > .git/objects/info/alternates"
        f" && printf 'home = {secret_dir}/bin\\n' > {venv}/pyvenv.cfg"
        f" && ln -s {secret_dir} {venv}/bin"
    )
    sandbox = make_sandbox()
    assert sandbox.run(plant, cwd=clone, env=environ, timeout=30).exit_code == 0
    env = {**environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin:{environ['PATH']}"}
    done = sandbox.run(
        f"cat {secret_dir}/key.txt; cat {venv}/bin/key.txt", cwd=clone, env=env, timeout=30
    )
    assert secret not in done.output
    assert f"cat: {secret_dir}/key.txt: No such file or directory" in done.output

"""The container backend: the command it builds, its lifecycle against a recording
stand-in CLI, an honest "unavailable", and the same on real podman (the escape suite
in test_bwrap_escape.py runs every probe in it too)."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from overnight.errors import ConfigError
from overnight.sandbox import Access
from overnight.sandbox.bwrap import task_uid
from overnight.sandbox.container import ContainerSandbox
from overnight.sandbox.engine import cli_environ, engine_status
from overnight.sandbox.limits import Limits

from .conftest import host_processes


def fake_engine(
    tmp_path: Path, *, version: str = "", start: str = "true", state: str = "exited 0 false"
):
    """A docker-compatible CLI that records each call (argv, and its env on create)."""
    calls = tmp_path / "calls"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir(exist_ok=True)
    version_cmd = (
        f"echo {version}" if version else "echo 'Cannot connect to the daemon' >&2; exit 1"
    )
    script.write_text(f"""#!/bin/bash
args="$*"; echo "${{args//$'\\n'/ }}" >> {calls}
case "$1" in
  version) {version_cmd} ;;
  image) echo sha256:1 ;;
  create) env > {tmp_path}/create.env; echo container-id ;;
  start) echo "hello from the container"; {start} ;;
  inspect) echo {state} ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, calls


def test_an_engine_that_does_not_answer_is_reported_unavailable(tmp_path):
    script, _ = fake_engine(tmp_path)
    path, state = engine_status(str(script))
    assert path is None
    assert "Cannot connect to the daemon" in state
    with pytest.raises(ConfigError, match="sandbox 'container' is unavailable"):
        ContainerSandbox(engine=str(script))


def test_the_create_command_isolates_and_limits(tmp_path):
    sandbox = ContainerSandbox(
        "img:1",
        Limits(memory_mb=512, pids=64, cpus=1.5, cpu_seconds=30, open_files=256),
        engine="podman",
        check=False,
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    venv = tmp_path / "venv"
    venv.mkdir()
    env = {"PATH": "/usr/bin", "VIRTUAL_ENV": str(venv), "OPENAI_API_KEY": "sk-secret"}
    argv = sandbox.create_argv("overnight-x", "pytest -q", ws, env, Access(), uid=2_000_000_123)
    joined = " ".join(argv)
    assert argv[:4] == ["podman", "create", "--name", "overnight-x"]
    for flag in (
        "--network none",
        "--read-only",
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
        "--user 2000000123:2000000123",
        "--memory 512m --memory-swap 512m",
        "--pids-limit 64",
        "--cpus 1.5",
        "ulimit -n 256",
        "ulimit -S -t 30",
        f"--volume {ws}:{ws}:rw",
        f"--volume {venv}:{venv}:ro",
        f"--workdir {ws} img:1 sh -c ",
        "--env PATH=/usr/bin",
    ):
        assert flag in joined
    assert "--env OPENAI_API_KEY" in joined and "sk-secret" not in joined  # value off argv
    assert argv[-4:] == ["overnight-sandbox", "bash", "-c", "pytest -q"]  # after the rlimits
    assert "--ulimit" not in joined  # with one, podman adds default rlimits runc cannot set


def test_setup_commands_get_the_host_network_and_others_none(tmp_path):
    sandbox = ContainerSandbox("img", engine="docker", check=False)
    argv = sandbox.create_argv("n", "pip install x", tmp_path, {}, Access(network=True), uid=None)
    assert argv[argv.index("--network") + 1] == "host"
    assert "--user" not in argv
    argv = sandbox.create_argv("n", "pytest", tmp_path, {}, Access(), uid=None)
    assert argv[argv.index("--network") + 1] == "none"


def test_a_parent_cgroup_carries_the_limits_instead_of_flags(tmp_path):
    sandbox = ContainerSandbox("img", Limits(memory_mb=512, pids=64), engine="podman", check=False)
    argv = sandbox.create_argv(
        "n", "true", tmp_path, {}, Access(), uid=None, cgroup_parent="/overnight-containers/r"
    )
    assert argv[argv.index("--cgroup-parent") + 1] == "/overnight-containers/r"
    assert "--memory" not in argv and "--pids-limit" not in argv


def test_a_run_is_create_start_inspect_rm(tmp_path):
    script, calls = fake_engine(tmp_path, version="99.0", start="exit 3", state="exited 3 false")
    sandbox = ContainerSandbox("img", engine=str(script))
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = sandbox.run(
        "make test", cwd=ws, env={"PATH": "/usr/bin", "MY_TOKEN": "t0ken"}, timeout=30
    )
    verbs = [line.split()[0] for line in calls.read_text().splitlines()]
    assert verbs == ["version", "image", "create", "start", "inspect", "rm"]
    name = calls.read_text().splitlines()[2].split()[2]
    assert calls.read_text().splitlines()[-1] == f"rm --force {name}"
    assert done.exit_code == 3 and done.output.strip() == "hello from the container"
    assert "MY_TOKEN=t0ken" in (tmp_path / "create.env").read_text()
    if os.geteuid() == 0:
        assert ws.stat().st_uid == task_uid(ws.resolve())


def test_a_timeout_kills_and_removes_the_container(tmp_path):
    script, calls = fake_engine(
        tmp_path, version="99.0", start="sleep 30", state="exited 137 false"
    )
    sandbox = ContainerSandbox("img", engine=str(script))
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = sandbox.run("sleep 100", cwd=ws, env={}, timeout=1)
    verbs = [line.split()[0] for line in calls.read_text().splitlines()]
    assert verbs[-2:] == ["inspect", "rm"] and "kill" in verbs
    assert done.timed_out and done.limit == "wall-time" and done.exit_code == 124
    assert "[overnight: killed after the 1 s time limit]" in done.output


def test_an_oom_kill_is_reported_as_the_memory_limit(tmp_path):
    script, _ = fake_engine(tmp_path, version="99.0", state="exited 137 true")
    sandbox = ContainerSandbox("img", Limits(memory_mb=512), engine=str(script))
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = sandbox.run("python hog.py", cwd=ws, env={}, timeout=30)
    assert done.exit_code == 137 and done.limit == "memory"
    assert "the memory limit (512 MB) was reached" in done.output


def test_a_container_that_never_started_is_not_a_success(tmp_path):
    script, _ = fake_engine(tmp_path, version="99.0", start="exit 125", state="created 0 false")
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = ContainerSandbox("img", engine=str(script)).run("true", cwd=ws, env={}, timeout=30)
    assert done.exit_code == 125 and not done.ok


def test_an_image_that_is_not_built_says_how_to_build_it(tmp_path, monkeypatch):
    script, _ = fake_engine(tmp_path, version="99.0")
    script.write_text(script.read_text().replace("echo sha256:1", "exit 1"))
    monkeypatch.setenv("OVERNIGHT_CONTAINER_IMAGE", "localhost/overnight-base:missing")
    with pytest.raises(ConfigError, match="image localhost/overnight-base:missing is not built"):
        ContainerSandbox(engine=str(script))
    monkeypatch.delenv("OVERNIGHT_CONTAINER_IMAGE")
    monkeypatch.setenv("OVERNIGHT_CONTAINERS", str(tmp_path / "nothing-built"))
    with pytest.raises(ConfigError, match=r"no image is configured; run scripts/container-image"):
        ContainerSandbox(engine=str(script))


def test_podman_is_pointed_at_overnights_own_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERNIGHT_CONTAINERS", str(tmp_path))
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    monkeypatch.delenv("CONTAINERS_STORAGE_CONF", raising=False)
    assert "CONTAINERS_CONF" not in cli_environ("/usr/bin/podman")  # not written yet
    (tmp_path / "containers.conf").write_text("[engine]\n")
    (tmp_path / "storage.conf").write_text("[storage]\n")
    env = cli_environ("/usr/bin/podman")
    assert env["CONTAINERS_CONF"] == str(tmp_path / "containers.conf")
    assert env["CONTAINERS_STORAGE_CONF"] == str(tmp_path / "storage.conf")
    assert "CONTAINERS_CONF" not in cli_environ("docker")
    monkeypatch.setenv("CONTAINERS_CONF", "/etc/mine.conf")  # the worker's own wins
    assert cli_environ("podman")["CONTAINERS_CONF"] == "/etc/mine.conf"


# -- on real podman ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.container
def test_a_command_runs_in_the_image_as_the_task_uid_with_its_output_streamed(
    make_container, workspace, environ
):
    chunks: list[tuple[float, str]] = []
    start = time.monotonic()
    done = make_container().run(
        "echo first; sleep 2; id -u; cat /etc/debian_version; touch made; echo oops >&2; exit 7",
        cwd=workspace,
        env=environ,
        timeout=60,
        on_output=lambda text: chunks.append((time.monotonic() - start, text)),
    )
    assert done.exit_code == 7 and not done.ok
    lines = done.output.split()
    assert lines[0] == "first" and "oops" in lines
    assert lines[1] == str(task_uid(workspace.resolve()) if os.geteuid() == 0 else 0)
    assert lines[2].startswith("12.")  # the image's Debian, not whatever the host runs
    assert (workspace / "made").exists()
    first = next(at for at, text in chunks if "first" in text)
    assert first < done.duration - 1.5  # it came while the command still ran


@pytest.mark.slow
@pytest.mark.container
def test_a_cancelled_command_is_killed_and_its_container_removed(
    make_container, workspace, environ
):
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    marker = f"overnight-cancel-{os.urandom(4).hex()}"
    done = make_container().run(
        f"exec -a {marker} sleep 120", cwd=workspace, env=environ, timeout=60, cancel=cancel
    )
    assert done.cancelled and not done.ok and done.duration < 15
    assert "[overnight: killed: the task was cancelled]" in done.output
    assert host_processes(marker) == []
    left = subprocess.run(
        ["podman", "ps", "--all", "--quiet", "--filter", "label=overnight=1"],
        env=cli_environ("podman"),
        capture_output=True,
        text=True,
    )
    assert left.returncode == 0 and left.stdout.strip() == ""
    groups = Path("/sys/fs/cgroup").glob(f"*/overnight-containers/run-{os.getpid()}-*")
    assert list(groups) == []  # its parent cgroup, in every hierarchy, is gone too


@pytest.mark.slow
@pytest.mark.container
def test_the_worker_environment_reaches_the_container_only_as_given(
    make_container, workspace, environ, monkeypatch
):
    monkeypatch.setenv("OVERNIGHT_TEST_SECRET", "s3cret-worker")
    done = make_container().run(
        'echo "$GIVEN/$OVERNIGHT_TEST_SECRET"',
        cwd=workspace,
        env={**environ, "GIVEN": "v@lue with spaces"},
        timeout=60,
    )
    assert done.output.splitlines()[0] == "v@lue with spaces/"

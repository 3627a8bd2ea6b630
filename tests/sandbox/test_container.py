"""The container backend. No engine runs on the CI host, so: the command it builds,
its lifecycle against a recording stand-in CLI, and an honest "unavailable"."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from overnight.errors import ConfigError
from overnight.sandbox import Access
from overnight.sandbox.bwrap import task_uid
from overnight.sandbox.container import ContainerSandbox, engine_status
from overnight.sandbox.limits import Limits


def fake_engine(tmp_path: Path, *, version: str = "", wait: str = "echo 0", oom: str = "false"):
    """A docker-compatible CLI that records each call (argv, and its env on create)."""
    calls = tmp_path / "calls"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir(exist_ok=True)
    version_cmd = (
        f"echo {version}" if version else "echo 'Cannot connect to the daemon' >&2; exit 1"
    )
    script.write_text(f"""#!/bin/bash
echo "$*" >> {calls}
case "$1" in
  version) {version_cmd} ;;
  create) env > {tmp_path}/create.env; echo container-id ;;
  wait) {wait} ;;
  logs) echo "hello from the container" ;;
  inspect) echo {oom} ;;
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
        "--ulimit nofile=256:256",
        "--ulimit cpu=30:32",
        f"--volume {ws}:{ws}:rw",
        f"--volume {venv}:{venv}:ro",
        f"--workdir {ws} img:1 bash -c pytest -q",
        "--env PATH=/usr/bin",
    ):
        assert flag in joined
    assert "--env OPENAI_API_KEY" in joined and "sk-secret" not in joined  # value off argv


def test_setup_commands_get_a_network(tmp_path):
    sandbox = ContainerSandbox("img", engine="docker", check=False)
    argv = sandbox.create_argv("n", "pip install x", tmp_path, {}, Access(network=True), uid=None)
    assert "--network" not in argv
    assert "--user" not in argv


def test_a_run_is_create_start_wait_logs_inspect_rm(tmp_path):
    script, calls = fake_engine(tmp_path, version="99.0", wait="echo 3")
    sandbox = ContainerSandbox("img", engine=str(script))
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = sandbox.run(
        "make test", cwd=ws, env={"PATH": "/usr/bin", "MY_TOKEN": "t0ken"}, timeout=30
    )
    verbs = [line.split()[0] for line in calls.read_text().splitlines()]
    assert verbs == ["version", "create", "start", "wait", "logs", "inspect", "rm"]
    name = calls.read_text().splitlines()[1].split()[2]
    assert calls.read_text().splitlines()[-1] == f"rm --force {name}"
    assert done.exit_code == 3 and done.output.strip() == "hello from the container"
    assert "MY_TOKEN=t0ken" in (tmp_path / "create.env").read_text()
    if os.geteuid() == 0:
        assert ws.stat().st_uid == task_uid(ws.resolve())


def test_a_timeout_kills_and_removes_the_container(tmp_path):
    script, calls = fake_engine(tmp_path, version="99.0", wait="sleep 30")
    sandbox = ContainerSandbox("img", engine=str(script))
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = sandbox.run("sleep 100", cwd=ws, env={}, timeout=1)
    verbs = [line.split()[0] for line in calls.read_text().splitlines()]
    assert verbs[-2:] == ["inspect", "rm"] and "kill" in verbs
    assert done.timed_out and done.limit == "wall-time" and done.exit_code == 124
    assert "[overnight: killed after the 1 s time limit]" in done.output


def test_an_oom_kill_is_reported_as_the_memory_limit(tmp_path):
    script, _ = fake_engine(tmp_path, version="99.0", wait="echo 137", oom="true")
    sandbox = ContainerSandbox("img", Limits(memory_mb=512), engine=str(script))
    ws = tmp_path / "home" / "ws"
    ws.mkdir(parents=True)
    done = sandbox.run("python hog.py", cwd=ws, env={}, timeout=30)
    assert done.exit_code == 137 and done.limit == "memory"
    assert "the memory limit (512 MB) was reached" in done.output

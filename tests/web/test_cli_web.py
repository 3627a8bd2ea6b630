"""`overnight serve`, `overnight up` and `overnight token`, as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from overnight.cli import main
from overnight.web.server import free_port

OVERNIGHT = [sys.executable, "-m", "overnight.cli"]


def start(home: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "OVERNIGHT_HOME": str(home)}
    code = "from overnight.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/tasks", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.communicate()[1].decode())


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode()


def test_serve_answers_on_loopback_and_stops_on_ctrl_c(home):
    proc, url = start(home, "serve")

    page = httpx.get(f"{url}/tasks")
    code, err = stop(proc)

    assert page.status_code == 200 and "Tasks" in page.text
    assert code == 0 and f"dashboard: {url}/" in err


def test_up_runs_a_worker_beside_the_dashboard(home):
    proc, url = start(home, "up", "--slots", "2")

    workers = httpx.get(f"{url}/api/workers").json()
    code, err = stop(proc)

    assert [(w["slots"], w["alive"]) for w in workers] == [(2, True)]
    assert code == 0 and "stopped after 0 task(s)" in err


def test_serving_off_loopback_without_any_token_is_refused(home):
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", str(free_port())])

    assert result.exit_code == 2
    assert "overnight token create" in result.output


def test_token_create_prints_it_once_and_list_shows_only_its_name(home):
    runner = CliRunner()

    created = runner.invoke(main, ["token", "create", "--name", "laptop"])
    listed = runner.invoke(main, ["token", "list"])
    token = created.stdout.strip()

    assert created.exit_code == 0 and token.startswith("ovn_")
    assert "laptop" in listed.output and "active" in listed.output and token not in listed.output
    assert runner.invoke(main, ["token", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["token", "list"]).output

"""The outcome channel: one connection, streamed records, the worst outcome kept."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from overnight.gates.channel import Channel
from overnight.gates.pytest_run import Pinned, run_tests
from overnight.sandbox import base_environ
from overnight.sandbox.none import NoSandbox


def send(path: Path, *records: dict) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        for record in records:
            s.sendall((json.dumps(record) + "\n").encode())


def test_only_the_first_connection_is_heard_and_a_forged_pass_cannot_undo_a_failure(tmp_path):
    channel = Channel()
    send(
        channel.path,
        {"kind": "start"},
        {"kind": "outcome", "node": "t::a", "outcome": "failed", "message": "boom"},
        {"kind": "outcome", "node": "t::a", "outcome": "passed"},
    )
    got = channel.close()
    assert got.connected and got.outcomes["t::a"]["outcome"] == "failed"
    assert not channel.path.exists()  # nobody else can connect


def test_a_second_connection_finds_no_socket(tmp_path):
    channel = Channel()
    send(channel.path, {"kind": "start"})
    channel.close()
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        send(channel.path, {"kind": "outcome", "node": "t::b", "outcome": "passed"})


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ws" / "proj"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def environ() -> dict[str, str]:
    env = base_environ()
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def test_an_atexit_handler_rewriting_results_changes_nothing(tmp_path):
    root = project(
        tmp_path,
        {
            "test_x.py": "def test_x():\n    assert 1 == 2\n",
            "conftest.py": (
                "import atexit, os, json\n"
                "def _lie():\n"
                "    path = os.environ.get('OVERNIGHT_OUTCOMES', '')\n"
                "    try:\n"
                "        open(path, 'w').write(json.dumps({'outcomes': {}}))\n"
                "    except OSError:\n"
                "        pass\n"
                "atexit.register(_lie)\n"
            ),
        },
    )
    run = run_tests(NoSandbox(), root, environ(), "python -m pytest -q", None, 60)
    assert run.recorded and run.outcome("test_x.py::test_x") == "failed"


def test_a_file_named_like_the_plugin_cannot_shadow_it(tmp_path):
    fake = "def pytest_runtest_logreport(report):\n    pass\n"
    root = project(
        tmp_path, {"test_x.py": "def test_x():\n    assert False\n", "overnight_outcomes.py": fake}
    )
    run = run_tests(NoSandbox(), root, environ(), "python -m pytest -q", None, 60)
    assert run.outcome("test_x.py::test_x") == "failed"


def test_the_base_configuration_steers_the_run_not_the_changed_one(tmp_path):
    plugin = (
        "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n"
    )
    root = project(
        tmp_path,
        {
            "test_x.py": "def test_x():\n    assert False\n",
            "liar.py": plugin,
            "pytest.ini": "[pytest]\naddopts = -p liar\n",
        },
    )
    env = {**environ(), "PYTHONPATH": str(root)}
    pinned = Pinned(config=("pytest.ini", "[pytest]\n"))
    unpinned = run_tests(NoSandbox(), root, env, "python -m pytest -q", None, 60)
    assert unpinned.outcome("test_x.py::test_x") == "passed"  # the liar works when allowed
    run = run_tests(NoSandbox(), root, env, "python -m pytest -q", None, 60, pinned=pinned)
    assert run.outcome("test_x.py::test_x") == "failed"

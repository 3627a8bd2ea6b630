"""Live output: an agent's commands and output, readable while it runs (`overnight
logs`, `logs -f`), written in masked chunks; and the worker's progress lines."""

from __future__ import annotations

import base64
import os
import queue as queues
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import INHERIT

from overnight.agents import AgentContext
from overnight.agents.loop import BuiltinAgent
from overnight.agents.settings import AgentConfig
from overnight.intake import submit_text
from overnight.live import LiveLog, key_start
from overnight.masking import Mask
from overnight.sandbox.none import NoSandbox
from overnight.store import Store
from overnight.testing import make_repo
from overnight.testing.llm_server import ScriptedLLMServer, bash

BOTH_DATABASES = True  # live output is read from other machines: SQLite and PostgreSQL

OVERNIGHT = str(Path(sys.executable).parent / "overnight")
KEY = "sk-live-0123456789abcdef"

TEST_DONE = """from pathlib import Path


def test_done():
    assert (Path(__file__).parent.parent / "done.txt").exists()
"""


# -- the live log: chunks, masking, limits -------------------------------------


def test_a_key_split_across_two_reads_is_masked_and_never_written_in_part():
    rows: list[str] = []
    live = LiveLog(rows.append, Mask((("API_KEY", KEY),)))

    live.write("using " + KEY[:10])
    live.flush()
    live.write(KEY[10:] + " to call\nnext line\n")
    live.flush(final=True)

    assert rows == ["using ", "[redacted $API_KEY] to call\nnext line\n"]
    assert not any(KEY[:10] in row or KEY[10:] in row for row in rows)


def test_a_key_base64_encoded_and_split_across_reads_is_masked_too():
    encoded = base64.b64encode(KEY.encode()).decode()
    rows: list[str] = []
    live = LiveLog(rows.append, Mask((("API_KEY", KEY),)))

    live.write("export: " + encoded[:9])
    live.flush()
    live.write(encoded[9:] + "\n")
    live.flush(final=True)

    assert rows[0] == "export: " and "[redacted $API_KEY]" in rows[1]
    assert encoded[:9] not in "".join(rows)


def test_text_that_only_looks_like_the_start_of_a_key_is_written_at_the_end():
    rows: list[str] = []
    live = LiveLog(rows.append, Mask((("API_KEY", KEY),)))

    live.write("prefix sk-li")
    live.flush()
    live.flush(final=True)

    assert rows == ["prefix ", "sk-li"]
    assert key_start("nothing like it\n", Mask((("API_KEY", KEY),))) == len("nothing like it\n")


def test_live_output_stops_at_its_limit_and_says_where_the_rest_is():
    rows: list[str] = []
    with LiveLog(rows.append, Mask(), interval=0.01, limit=100) as live:
        live.write("x" * 80 + "\n")
        live.write("y" * 80 + "\n")

    text = "".join(rows)
    assert text.startswith("x" * 80 + "\n" + "y" * 19)
    assert "live output stops at 100 characters" in text and "y" * 20 not in text


def test_a_live_log_writes_while_the_command_still_runs():
    rows: list[str] = []
    with LiveLog(rows.append, Mask(), interval=0.05) as live:
        live.write("first\n")
        deadline = time.monotonic() + 5
        while not rows and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rows == ["first\n"]  # before the writer is closed
        live.write("second\n")
    assert "".join(rows) == "first\nsecond\n"


def test_the_builtin_agent_shows_each_command_its_output_and_exit_code(tmp_path):
    workspace = make_repo(tmp_path / "ws", {"calc.py": "X = 1\n"})
    spec = tmp_path / "spec.md"
    spec.write_text("# Say hello\n")
    shown: list[str] = []
    with ScriptedLLMServer() as server:
        server.add(bash("echo hello; echo world"), bash("submit"))
        ctx = AgentContext(
            task_id=1,
            run_number=1,
            attempt=1,
            workspace=workspace,
            spec_file=spec,
            feedback="",
            sandbox=NoSandbox(),
            environ={"PATH": "/usr/bin:/bin"},
            timeout=60.0,
            cancel=threading.Event(),
            on_turn=lambda t: None,
            live=shown.append,
        )
        BuiltinAgent(AgentConfig(model=server.model_name, nudge_unchanged=False)).run(ctx)

    text = "".join(shown)
    assert "# turn 1: 20 tokens from the model" in text
    assert "$ echo hello; echo world\nhello\nworld\n[exit 0]\n" in text


# -- under a real worker: logs, logs -f, progress lines ----------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "proj",
        {
            "tests/test_done.py": TEST_DONE,
            "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n'
            'agent_env = ["API_KEY"]\n',
        },
    )


@pytest.fixture
def task(store: Store, repo: Path, tmp_path: Path) -> Callable[..., int]:
    """Submit a task whose `command:` agent runs ``script`` (bash); returns its id."""
    count = iter(range(1, 1000))

    def submit(script: str, extra: str = "") -> int:
        n = next(count)
        agent = tmp_path / f"agent-{n}.sh"
        agent.write_text(f"set -e\n{script}\n")
        spec = tmp_path / f"spec-{n}.md"
        spec.write_text(f"""---
title: Write done.txt {n}
repo: {repo}
acceptance:
  - tests: tests/test_done.py::test_done
agent: "command:bash {agent}"
{extra}---
Create done.txt at the top of the repository.
""")
        return submit_text(store, spec.read_text(), source=spec.name, base_dir=tmp_path).task.id

    return submit


@pytest.fixture
def env(home: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("API_KEY", KEY)
    return {**os.environ, "OVERNIGHT_HOME": str(home), "OVERNIGHT_CACHE": str(shared_cache)}


class Lines:
    """A process's output, line by line, read on a thread."""

    def __init__(self, proc: subprocess.Popen[str], stream: str = "stdout") -> None:
        self.proc, self.seen = proc, []
        self.lines: queues.Queue[str | None] = queues.Queue()
        pipe = getattr(proc, stream)
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: Iterator[str]) -> None:
        for line in pipe:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queues.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen; output so far:\n{''.join(self.seen)}")

    def rest(self, timeout: float = 60) -> str:
        self.proc.wait(timeout=timeout)
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


@pytest.fixture
def started() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [OVERNIGHT, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def status(store: Store, task_id: int) -> str:
    with store.reading() as session:
        return store.task(session, task_id).status


def test_logs_follow_shows_the_first_line_while_the_agent_still_runs(
    task, store, env, started, tmp_path
):
    go = tmp_path / "go"
    task_id = task(
        f'echo "first line, key $API_KEY"\nsleep 0.3\necho "still working"\n'
        f"until [ -e {go} ]; do sleep 0.1; done\necho 'last line'\ntouch done.txt"
    )
    worker = started("worker", "--drain", "--lease", "5", env=env)
    follow = Lines(started("logs", "-f", str(task_id), env=env))

    first = follow.until("first line")
    follow.until("still working")

    assert not go.exists() and status(store, task_id) == "running"  # the agent waits for us
    assert first.strip() == "first line, key [redacted $API_KEY]"
    so_far = subprocess.run(
        [OVERNIGHT, "logs", str(task_id)], env=env, text=True, capture_output=True, timeout=60
    )
    assert "agent (attempt 1) · running" in so_far.stdout
    assert "first line, key [redacted $API_KEY]" in so_far.stdout and KEY not in so_far.stdout
    go.touch()
    rest = follow.rest()
    assert follow.proc.returncode == 0
    assert "last line" in rest and "READY" in rest and KEY not in rest
    assert rest.index("last line") < rest.index("gates (attempt 1) started")
    worker.wait(timeout=60)


def test_the_worker_prints_one_line_per_task_event(task, store, env, started):
    ready = task("touch done.txt")
    failed = task("echo nothing done", extra="budget: {attempts: 1}\n")

    worker = started("worker", "--drain", env=env)
    _, err = worker.communicate(timeout=120)

    lines = [line.split(" ", 1)[1] for line in err.splitlines() if line.startswith("[")]
    assert KEY not in err
    assert f"task {ready}: claimed · Write done.txt 1 · run 1" in lines, err
    assert f"task {ready}: attempt 1 started" in lines
    assert any(
        x.startswith(f"task {ready}: gates (attempt 1): ") and "all blocking gates pass" in x
        for x in lines
    ), err
    assert any(
        x.startswith(f"task {ready}: READY: overnight/{ready}-")
        and x.endswith("after 1 attempt(s) · no model calls recorded")
        for x in lines
    ), err
    assert (
        f"task {failed}: FAILED: gates: tests failed after 1 attempt(s) · no model calls "
        "recorded" in lines
    ), err
    assert len([x for x in lines if x.startswith(f"task {ready}:")]) == 4

"""The worker: draining, slots, priorities, dependencies, cancellation, crash
takeover and fencing, on real repositories with real pytest runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import INHERIT, drain
from sqlalchemy import select

from overnight import queue
from overnight.errors import LeaseLost
from overnight.intake import submit_text
from overnight.pipeline import Paths, execute
from overnight.store import Event, Step, Store, TaskStatus
from overnight.testing import make_repo
from overnight.views import task_detail
from overnight.worker import Worker

BOTH_DATABASES = True  # every test here runs on SQLite and on PostgreSQL

OVERNIGHT = str(Path(sys.executable).parent / "overnight")

TEST_DONE = """from pathlib import Path


def test_done():
    assert (Path(__file__).parent.parent / "done.txt").exists()
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A light project: one acceptance test that passes once done.txt exists;
    the worker's own Python runs it (no environment to build)."""
    return make_repo(
        tmp_path / "proj",
        {
            "notes.txt": "first line\n",
            "tests/test_done.py": TEST_DONE,
            "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n',
        },
    )


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Where agents leave traces, outside every workspace."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def task(store: Store, repo: Path, tmp_path: Path) -> Callable[..., int]:
    """Submit a task whose agent runs ``script`` (bash) in the workspace; returns its id."""
    count = iter(range(1, 1000))
    warnings: list[str] = []

    def submit(script: str = "touch done.txt", extra: str = "", title: str = "") -> int:
        n = next(count)
        agent = tmp_path / f"agent-{n}.sh"
        agent.write_text(f"set -e\n{script}\n")
        spec = tmp_path / f"spec-{n}.md"
        spec.write_text(f"""---
title: {title or f"Write done.txt {n}"}
repo: {repo}
acceptance:
  - tests: tests/test_done.py::test_done
agent: "command:bash {agent}"
{extra}---
Create done.txt at the top of the repository.
""")
        done = submit_text(store, spec.read_text(), source=spec.name, base_dir=tmp_path)
        warnings.extend(done.warnings)
        return done.task.id

    submit.warnings = warnings  # type: ignore[attr-defined]
    return submit


def status(store: Store, task_id: int) -> str:
    with store.session() as session:
        return store.task(session, task_id).status


def detail(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def events(store: Store, task_id: int) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.scalars(select(Event).where(Event.task_id == task_id).order_by(Event.id))
        return [(e.kind, e.message) for e in rows]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def start_worker(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs={"drain": True}, daemon=True)
    thread.start()
    return thread


def test_drain_exits_at_once_when_the_queue_is_empty(store, home, shared_cache):
    env = {**os.environ, "OVERNIGHT_HOME": str(home), "OVERNIGHT_CACHE": str(shared_cache)}
    start = time.monotonic()
    proc = subprocess.run(
        [OVERNIGHT, "worker", "--drain"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "stopped after 0 task(s)" in proc.stderr
    assert time.monotonic() - start < 15


def test_drain_exits_after_finishing_the_queue(store, task):
    first, second = task(), task()
    assert drain(store) == 2
    assert [status(store, first), status(store, second)] == ["ready", "ready"]
    assert queue.pending(store) == 0


def test_two_slots_run_two_tasks_at_once(store, task, out):
    def meet(me: str, other: str) -> str:
        return (
            f"touch {out}/{me}\n"
            f"for i in $(seq 200); do [ -e {out}/{other} ] && break; sleep 0.1; done\n"
            f"[ -e {out}/{other} ] && touch done.txt"
        )

    a, b = task(meet("a", "b")), task(meet("b", "a"))
    drain(store, slots=2)
    assert status(store, a) == "ready", detail(store, a)["failure_reason"]
    assert status(store, b) == "ready", detail(store, b)["failure_reason"]


def test_a_higher_priority_task_is_claimed_first(store, task, out):
    low = task(f"echo low >> {out}/order; touch done.txt", extra="priority: 1\n")
    high = task(f"echo high >> {out}/order; touch done.txt", extra="priority: 5\n")
    drain(store)
    assert (out / "order").read_text().split() == ["high", "low"]
    assert [status(store, low), status(store, high)] == ["ready", "ready"]


def test_a_task_waits_for_its_dependency_to_be_ready(store, task, out):
    first = task(f"echo first >> {out}/order; touch done.txt")
    second = task(
        f"echo second >> {out}/order; touch done.txt",
        extra=f"priority: 9\ndepends_on: [{first}]\n",
    )
    drain(store)
    assert (out / "order").read_text().split() == ["first", "second"]
    assert [status(store, first), status(store, second)] == ["ready", "ready"]


def test_a_task_whose_dependency_failed_fails_without_running(store, task, out):
    first = task(f"echo first >> {out}/order", extra="budget: {attempts: 1}\n")
    second = task(f"echo second >> {out}/order; touch done.txt", extra=f"depends_on: [{first}]\n")
    drain(store)
    assert status(store, first) == "failed"
    assert status(store, second) == "failed"
    reason = detail(store, second)["failure_reason"]
    assert reason.startswith("dependency") and f"task {first} is failed" in reason
    assert (out / "order").read_text().split() == ["first"]


def test_cancelling_a_running_task_stops_it_and_keeps_its_workspace(store, task, out, home):
    task_id = task(f"touch {out}/started\nsleep 60\ntouch done.txt")
    worker = Worker(store, lease=3, poll=0.05)
    thread = start_worker(worker)
    wait_for((out / "started").exists, 30, "the agent to start")

    cancelled_at = time.monotonic()
    queue.cancel(store, task_id)
    thread.join(timeout=15)

    assert not thread.is_alive()
    assert time.monotonic() - cancelled_at < 5
    assert status(store, task_id) == "cancelled"
    assert Paths.default().workspace(task_id, 1).is_dir()
    assert not (Paths.default().workspace(task_id, 1) / "done.txt").exists()


def test_a_task_of_a_killed_worker_is_taken_over_and_finished(store, task, out, home, shared_cache):
    task_id = task(
        f"if [ ! -e {out}/first ]; then touch {out}/first; echo $$ > {out}/pid; exec sleep 60; fi\n"
        "touch done.txt"
    )
    env = {**os.environ, "OVERNIGHT_HOME": str(home), "OVERNIGHT_CACHE": str(shared_cache)}
    first = subprocess.Popen(
        [OVERNIGHT, "worker", "--lease", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (out / "pid").exists(), 30, "the first worker's agent to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert status(store, task_id) == "running"
        # started while the dead worker's lease still holds: --drain must wait for it
        second = subprocess.run(
            [OVERNIGHT, "worker", "--drain", "--lease", "3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stderr
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if (out / "pid").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int((out / "pid").read_text()), signal.SIGKILL)

    task_view = detail(store, task_id)
    assert task_view["status"] == "ready", task_view["failure_reason"]
    assert len(task_view["runs"]) == 1
    takeovers = [m for kind, m in events(store, task_id) if kind == "claimed" and "taken over" in m]
    assert len(takeovers) == 1 and f":{first.pid}:" in takeovers[0]
    with store.session() as session:
        interrupted = session.scalars(select(Step).where(Step.status == "interrupted")).all()
        assert [s.name for s in interrupted] == ["agent"]


def test_a_claim_with_a_stale_fence_cannot_write(store, task):
    task_id = task()
    stale = queue.claim(store, "worker-a", lease=0.0)
    assert stale is not None and stale.task_id == task_id
    time.sleep(0.01)
    fresh = queue.claim(store, "worker-b", lease=30.0)
    assert fresh is not None and fresh.takeover and fresh.fence == stale.fence + 1

    with store.session() as session, pytest.raises(LeaseLost, match="lease lost by worker-a"):
        queue.guard(session, stale)
    with store.session() as session:
        assert queue.guard(session, fresh).lease_owner == "worker-b"
    assert queue.heartbeat(store, [stale]) == {task_id}
    with pytest.raises(LeaseLost):
        execute(store, stale, threading.Event(), Paths.default())
    assert not any(kind == "run-started" for kind, _ in events(store, task_id))
    assert status(store, task_id) == TaskStatus.RUNNING


def test_the_users_checkout_is_never_modified_by_submit_or_worker(store, task, repo):
    (repo / "notes.txt").write_text("first line\nuncommitted edit\n")
    (repo / "scratch.txt").write_text("untracked\n")
    status_before = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    head_before = (repo / ".git" / "HEAD").read_text()

    task_id = task("echo agent >> notes.txt\ntouch done.txt")
    assert any("uncommitted change" in w for w in task.warnings)
    drain(store)

    assert status(store, task_id) == "ready"
    assert (repo / "notes.txt").read_text() == "first line\nuncommitted edit\n"
    assert (repo / "scratch.txt").read_text() == "untracked\n"
    assert not (repo / "done.txt").exists()
    assert (repo / ".git" / "HEAD").read_text() == head_before
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
        == status_before
    )
    diff = detail(store, task_id)["diff"]
    assert "+agent" in diff and "done.txt" in diff
    assert "uncommitted edit" not in diff and "scratch.txt" not in diff

"""Durable runs: a stopped worker's task resumes from its last checkpoint,
infrastructure failures are retried, limits and queues are shared by workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import INHERIT, MUL_FIX
from sqlalchemy import select

from overnight import queue
from overnight.intake import submit_text
from overnight.lifecycle import RETRIES
from overnight.queue import Limits
from overnight.store import Event, Queue, Store, Task
from overnight.testing import make_repo
from overnight.testing.llm_server import Say, ScriptedLLMServer, bash
from overnight.views import task_detail
from overnight.worker import Worker

BOTH_DATABASES = True  # every test here runs on SQLite and on PostgreSQL
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))

REPO = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n[gates.lint]\nenabled = false\n',
}
TEST_MUL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"


def mul_task(store: Store, tmp_path: Path, agent: str, name: str = "mul", **front) -> int:
    repo = tmp_path / f"repo-{name}"
    if not repo.exists():
        make_repo(repo, REPO)
    (tmp_path / "mul.diff").write_text(MUL_FIX)
    (tmp_path / "test_mul.patch").write_text(
        "--- /dev/null\n+++ b/tests/test_mul.py\n@@ -0,0 +1,5 @@\n"
        + "".join(f"+{line}\n" for line in TEST_MUL.splitlines())
    )
    extra = "".join(f"{k}: {v}\n" for k, v in front.items())
    spec = f"""---
title: Add mul {name}
repo: {repo}
acceptance:
  - tests: tests/test_mul.py::test_mul
  - test_patch: test_mul.patch
    hidden: true
agent: {agent!r}
{extra}---
Add `mul(a, b)` returning the product.
"""
    return submit_text(store, spec, source=f"{name}.md", base_dir=tmp_path).task.id


def detail(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def events(store: Store, task_id: int) -> list[str]:
    with store.session() as session:
        return [
            e.message
            for e in session.scalars(
                select(Event).where(Event.task_id == task_id).order_by(Event.id)
            )
        ]


def wait_for(path: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_stopped_worker_pauses_at_a_checkpoint_and_the_run_resumes_without_redoing_it(
    store, tmp_path
):
    runs = tmp_path / "agent-runs"
    marker = tmp_path / "agent-done"
    agent = (
        f"command:echo run >> {runs} && git apply {tmp_path / 'mul.diff'} && "
        f"touch {marker} && sleep 1"
    )
    task_id = mul_task(store, tmp_path, agent)
    first = Worker(store, poll=0.05, lease=5)
    thread = threading.Thread(target=first.run)
    thread.start()
    wait_for(marker)
    first.stop()  # the agent step ends normally; the run pauses before the gates
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert detail(store, task_id)["status"] == "queued"

    Worker(store, poll=0.05, lease=5).run(drain=True)

    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    assert runs.read_text() == "run\n"  # the agent ran once: its change was a checkpoint
    messages = events(store, task_id)
    assert any("worker stopping: resumes from its last checkpoint" in m for m in messages)
    assert any("resuming after baseline, agent attempt 1" in m for m in messages)


def test_an_infrastructure_failure_gives_the_task_back_with_a_delay(store, tmp_path):
    task_id = mul_task(store, tmp_path, "command:true")
    claim = queue.claim(store, "w1")
    assert claim is not None
    queue.requeue(store, claim, "infrastructure: disk full", delay=60)
    assert queue.claim(store, "w2") is None  # not before its delay
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task.status == "queued"
        task.not_before = None
    again = queue.claim(store, "w2")
    assert again is not None and again.task_id == task_id and again.fence == claim.fence + 1


def test_a_run_started_too_often_fails_as_an_infrastructure_problem(store, tmp_path):
    task_id = mul_task(store, tmp_path, "command:true")
    for _ in range(RETRIES.limit):
        claim = queue.claim(store, "w")
        assert claim is not None
        queue.requeue(store, claim, "worker stopping")
    assert queue.claim(store, "w") is None
    task = detail(store, task_id)
    assert task["status"] == "failed"
    assert task["failure_reason"].startswith("infrastructure: run 1 was started 20 times")


def test_the_per_repository_limit_is_shared_by_all_workers(store, tmp_path):
    first = mul_task(store, tmp_path, "command:true", name="a")
    mul_task(store, tmp_path, "command:true", name="a")  # same repository as the first
    elsewhere = mul_task(store, tmp_path, "command:true", name="b")
    limits = Limits(per_repo=1)
    a = queue.claim(store, "w1", limits=limits)
    b = queue.claim(store, "w2", limits=limits)
    assert (a.task_id, b.task_id) == (first, elsewhere)  # the second task on repo-a waits
    assert queue.claim(store, "w3", limits=limits) is None


def test_the_global_limit_counts_running_tasks_of_every_worker(store, tmp_path):
    for name in ("x", "y"):
        mul_task(store, tmp_path, "command:true", name=name)
    assert queue.claim(store, "w1", limits=Limits(running=1)) is not None
    assert queue.claim(store, "w2", limits=Limits(running=1)) is None
    assert queue.claim(store, "w2", limits=Limits(running=2)) is not None


def test_a_paused_queue_is_skipped_and_others_go_on(store, tmp_path):
    held = mul_task(store, tmp_path, "command:true", name="held", queue="nightly", priority=9)
    other = mul_task(store, tmp_path, "command:true", name="other")
    with store.session() as session:
        session.add(Queue(name="nightly", paused=True))
    claim = queue.claim(store, "w")
    assert claim is not None and claim.task_id == other
    assert queue.claim(store, "w") is None
    assert detail(store, held)["status"] == "queued"  # paused, not failed


def test_watch_follows_events_as_a_worker_writes_them(store, tmp_path):
    from overnight.events import follow

    seen: list[str] = []
    task_id = mul_task(store, tmp_path, f"command:git apply {tmp_path / 'mul.diff'}")
    reader = threading.Thread(
        target=lambda: seen.extend(e.message for e in follow(store, since=-1, until_idle=True))
    )
    reader.start()
    Worker(store, poll=0.05).run(drain=True)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert seen[0].startswith("queued at main")
    assert any(m.startswith("READY: overnight/") for m in seen)
    assert detail(store, task_id)["status"] == "ready"


def test_workers_lists_live_workers_with_their_current_task(store, tmp_path):
    from overnight.fleet import live_workers

    marker = tmp_path / "started"
    mul_task(store, tmp_path, f"command:touch {marker} && sleep 30")
    worker = Worker(store, poll=0.05, slots=3, worker_id="host:1:abc")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(marker)
        rows = live_workers(store)
        assert [(r["id"], r["slots"], r["state"], len(r["tasks"])) for r in rows] == [
            ("host:1:abc", 3, "live", 1)
        ]
    finally:
        worker.stop()
        worker.interrupt()
        thread.join(timeout=30)
    assert live_workers(store) == []
    assert live_workers(store, include_gone=True)[0]["state"] == "stopped"


def test_a_provider_rate_limit_is_shared_by_two_workers(store):
    from overnight.ratelimit import reserve, set_limit, wait_for_slot

    set_limit(store, "openai", rpm=3, tpm=None)
    minute = 1_000_000 * 60.0
    clock = iter([minute + 1, minute + 2, minute + 3, minute + 4]).__next__
    granted = [reserve(store, "openai", clock=clock) for _ in range(3)]  # worker A and B
    assert granted == [0.0, 0.0, 0.0]
    assert reserve(store, "openai", clock=clock) == 56.0  # the 4th waits for the next minute
    times = iter([minute + 10, minute + 60.5]).__next__
    said: list[str] = []
    waited = wait_for_slot(store, "openai", clock=times, sleep=lambda s: None, say=said.append)
    assert waited == 50.0
    assert said == ["waiting 50 s for the openai rate limit shared by all workers"]
    assert reserve(store, "anthropic") == 0.0  # no limit configured


def test_a_runs_limiter_takes_its_requests_from_the_stores_window(store):
    from overnight.ratelimit import Limiter, set_limit
    from overnight.store import RateWindow

    set_limit(store, "api.example", rpm=1, tpm=None)
    Limiter(store)("api.example")
    with store.session() as session:
        windows = session.scalars(select(RateWindow).where(RateWindow.key == "api.example"))
        assert [w.requests for w in windows] == [1]  # counted where every worker sees it


def test_an_unreachable_model_is_retried_later_and_fails_after_the_last_try(store, tmp_path):
    from overnight.store import Run

    task_id = mul_task(store, tmp_path, "command:true")
    worker = Worker(store)
    claim = queue.claim(store, worker.id)
    worker._give_back(claim, "infrastructure: 127.0.0.1:1: cannot connect", retry=True)
    task = detail(store, task_id)
    assert task["status"] == "queued"
    with store.session() as session:
        assert session.get(Task, task_id).not_before is not None  # waits its backoff
        session.get(Task, task_id).not_before = None
    assert any("cannot connect; retried in 10 s" in m for m in events(store, task_id))
    claim = queue.claim(store, worker.id)
    with store.session() as session:
        session.get(Run, claim.run_id).claims = 7  # past the backoff: it waits the longest
    worker._give_back(claim, "infrastructure: 127.0.0.1:1: cannot connect", retry=True)
    assert any("cannot connect; retried in 600 s" in m for m in events(store, task_id))
    with store.session() as session:
        session.get(Task, task_id).not_before = None
    claim = queue.claim(store, worker.id)
    with store.session() as session:
        session.get(Run, claim.run_id).claims = RETRIES.limit  # its last start
    worker._give_back(claim, "infrastructure: 127.0.0.1:1: cannot connect", retry=True)
    task = detail(store, task_id)
    assert task["status"] == "failed"
    assert task["failure_reason"] == "infrastructure: 127.0.0.1:1: cannot connect (after 20 tries)"


WRITE_MUL = "printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"


def by_turn(*answers: Say):
    """A scripted model answering from where the conversation is: the n-th answer for
    a request holding n - 1 answers, so a repeated request gets the same answer."""

    def answer(body: dict) -> Say:
        return answers[sum(m["role"] == "assistant" for m in body["messages"])]

    return answer


def turns_asked(server: ScriptedLLMServer) -> list[int]:
    return [sum(m["role"] == "assistant" for m in r.body["messages"]) + 1 for r in server.requests]


def test_a_worker_killed_mid_turn_resumes_the_attempt_without_asking_the_model_again(
    store, tmp_path
):
    marker = tmp_path / "turn-3-started"
    script = by_turn(
        bash("echo one >> notes.txt"),  # not idempotent: it must not run twice
        bash(WRITE_MUL),
        bash(f"if [ -e {marker} ]; then echo again; else touch {marker}; sleep 60; fi"),
        bash("python -m pytest -q tests"),
        bash("submit"),
    )
    with ScriptedLLMServer([script] * 10) as server:
        task_id = mul_task(store, tmp_path, f"builtin:{server.model_name}")
        log = tmp_path / "worker.log"
        with open(log, "ab") as err:
            worker = subprocess.Popen(
                [OVERNIGHT, "worker", "--lease", "2"],
                env=os.environ.copy(),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            wait_for(marker)
        finally:
            worker.send_signal(signal.SIGKILL)  # in the middle of turn 3's command
            worker.wait()
        Worker(store, poll=0.05, lease=2).run(drain=True)  # takes over after the lease

        assert turns_asked(server) == [1, 2, 3, 4, 5]  # each answer was asked for once
    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    diff = task["diff"]
    assert diff.count("+one") == 1 and diff.count("+def mul") == 1, diff
    assert [t["command"] for t in task["runs"][0]["transcript"]][3:] == [
        "python -m pytest -q tests",
        "submit",
    ]
    third = task["runs"][0]["transcript"][2]
    assert third["notes"]["rerun"] == 1 and third["output"].strip() == "again"
    agent = [s for s in task["runs"][0]["steps"] if s["name"] == "agent"]
    assert agent[-1]["summary"].endswith("(resumed after turn 3)")


def stop_once_started(worker: Worker, marker: Path) -> None:
    """Run ``worker`` until the agent touches ``marker``, then stop it (SIGTERM's way)."""
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(marker)
    worker.stop()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the worker did not stop"


def test_a_stopping_worker_pauses_the_agent_between_two_turns(store, tmp_path):
    marker = tmp_path / "turn-1-started"
    script = by_turn(
        bash(f"touch {marker} && sleep 1 && echo one >> notes.txt"), bash(WRITE_MUL), bash("submit")
    )
    with ScriptedLLMServer([script] * 10) as server:
        task_id = mul_task(store, tmp_path, f"builtin:{server.model_name}")
        stop_once_started(Worker(store, poll=0.05, lease=5, grace=60), marker)
        # turn 1 finishes, turn 2 is not asked for
        assert detail(store, task_id)["status"] == "queued"
        assert turns_asked(server) == [1]

        Worker(store, poll=0.05, lease=5).run(drain=True)

        assert turns_asked(server) == [1, 2, 3]
    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    assert task["diff"].count("+one") == 1


def test_a_command_killed_past_the_grace_runs_again_when_the_attempt_resumes(store, tmp_path):
    marker = tmp_path / "turn-1-started"
    once = f"if [ -e {marker} ]; then echo again; else touch {marker}; sleep 60; fi"
    script = by_turn(bash(once), bash(WRITE_MUL), bash("submit"))
    with ScriptedLLMServer([script] * 10) as server:
        task_id = mul_task(store, tmp_path, f"builtin:{server.model_name}")
        # the command outlives the grace: it is killed, the attempt pauses
        stop_once_started(Worker(store, poll=0.05, lease=5, grace=0.5), marker)
        assert detail(store, task_id)["status"] == "queued"

        Worker(store, poll=0.05, lease=5).run(drain=True)

        assert turns_asked(server) == [1, 2, 3]
    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    first_turn = task["runs"][0]["transcript"][0]
    assert first_turn["output"].strip() == "again" and first_turn["notes"]["rerun"] == 1

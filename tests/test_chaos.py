"""Chaos: worker processes killed with SIGKILL at random while 30 tasks of the
built-in agent run against the scripted model server. Every task must end
exactly once: terminal, one branch push and one pull request record per run,
no recorded answer asked of the model again (only requests in flight at a
kill are repeated), no finished command run twice, nothing stuck after the
last kill plus one lease."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import INHERIT, MUL_FIX
from sqlalchemy import func, select

from overnight.intake import submit_text
from overnight.store import PullRequest, Store, Task
from overnight.testing import make_repo
from overnight.testing.llm_server import Delay, ScriptedLLMServer, bash
from overnight.views import task_detail
from overnight.worker import Worker

BOTH_DATABASES = True
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))
LEASE = 3
SLOTS = 2
TASKS = 30
LATENCY = 0.3  # of each scripted answer: kills land in requests too
REPO = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n[gates.lint]\nenabled = false\n',
}
CHAOS_REPO = {  # the gates that grade the change, not the slow ones that review it
    **REPO,
    "overnight.toml": REPO["overnight.toml"]
    + "".join(
        f"[gates.{g}]\nenabled = false\n"
        for g in ("types", "security", "coverage", "docs", "review")
    ),
}
PUSH_LOG_HOOK = """#!/bin/sh
while read old new ref; do echo "$ref $new" >> "{log}"; done
"""
ANSWERS = [  # neither of the first two commands may run twice: the diff would show it
    bash("echo one >> notes.txt"),
    bash("printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"),
    bash("sleep 1 && python -c 'import calc; print(calc.mul(2, 3))'"),
    bash("submit"),
]


def answer(body: dict) -> Delay:
    """The n-th answer for a request holding n - 1 answers: a repeated request gets
    the same answer, so a repeat is harmless to the run and visible to the test."""
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    return Delay(LATENCY, ANSWERS[turn])


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:  # the worker keeps its own copy of the descriptor
        return subprocess.Popen(
            [OVERNIGHT, "worker", "--slots", str(SLOTS), "--lease", str(LEASE)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def statuses(store: Store) -> dict[int, str]:
    with store.session() as session:
        return dict(session.execute(select(Task.id, Task.status)).all())


def repeated_requests(server: ScriptedLLMServer) -> list[tuple[float, float]]:
    """(first asked, asked again) for every answer the model was asked for twice;
    a task is told apart by its spec in the prompt, a turn by the answers before it."""
    asked: dict[tuple[str, int], list[float]] = defaultdict(list)
    for request in server.requests:
        messages = request.body["messages"]
        turn = sum(m["role"] == "assistant" for m in messages)
        asked[(messages[1]["content"], turn)].append(request.at)
    return [(times[0], again) for times in asked.values() for again in times[1:]]


@pytest.mark.slow
def test_workers_killed_at_random_lose_nothing_and_deliver_nothing_twice(store, tmp_path):
    repo = make_repo(tmp_path / "repo", CHAOS_REPO)
    pushes = tmp_path / "pushes.log"
    hook = repo / ".git" / "hooks" / "post-receive"
    hook.write_text(PUSH_LOG_HOOK.format(log=pushes))
    hook.chmod(0o755)
    server = ScriptedLLMServer([answer] * (TASKS * len(ANSWERS) * 2)).start()
    ids = [
        submit_text(
            store,
            f"""---
title: Add mul, number {n}
repo: {repo}
acceptance:
  - run: python -c "from calc import mul; assert mul(2, 3) == 6"
agent: 'builtin:{server.model_name}'
regression: all
---
Add `mul(a, b)` returning the product (task {n}).
""",
            source=f"mul-{n}.md",
            base_dir=tmp_path,
        ).task.id
        for n in range(TASKS)
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
    workers = [start_worker(env, log) for log in logs]
    rng = random.Random(7)
    kills: list[float] = []  # when, by the server's clock
    last_kill = time.monotonic()
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            done = [s for s in statuses(store).values() if s in ("ready", "failed")]
            if len(done) == len(ids):
                break
            if len(kills) < 8 and time.monotonic() - last_kill > rng.uniform(2, 4):
                victim = rng.randrange(len(workers))
                workers[victim].send_signal(signal.SIGKILL)
                kills.append(time.time())
                workers[victim].wait()
                workers[victim] = start_worker(env, logs[victim])
                last_kill = time.monotonic()
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        server.stop()
    final = statuses(store)
    assert len(kills) >= 3, "the chaos ended before enough kills to mean anything"
    assert sorted(final) == sorted(ids)
    assert set(final.values()) == {"ready"}, final
    assert time.monotonic() - last_kill < 300  # nothing stuck past the deadline
    with store.session() as session:
        per_run = session.execute(
            select(PullRequest.run_id, func.count()).group_by(PullRequest.run_id)
        ).all()
        diffs = [task_detail(session, store.task(session, i))["diff"] for i in ids]
    assert len(per_run) == TASKS and all(count == 1 for _, count in per_run)
    pushed = [line.split()[0] for line in pushes.read_text().splitlines()]
    assert len(pushed) == TASKS  # one branch push per run, even when a delivery was resumed
    assert len(set(pushed)) == TASKS
    for diff in diffs:  # no finished command ran twice when its attempt resumed
        assert diff.count("+one") == 1 and diff.count("+def mul") == 1, diff
    repeats = repeated_requests(server)
    assert len(repeats) <= len(kills) * SLOTS, repeats  # at most the ones in flight
    for first, again in repeats:  # ...each in flight (answered, not yet recorded) at a kill
        in_flight = [k for k in kills if first <= k <= min(again, first + LATENCY + 2.0)]
        assert in_flight, (first, again, kills)


def test_a_paused_worker_past_its_lease_cannot_write_its_results(store, tmp_path):
    repo = make_repo(tmp_path / "repo", REPO)
    marker = tmp_path / "agent-started"
    (tmp_path / "mul.diff").write_text(MUL_FIX)
    spec = f"""---
title: Add mul
repo: {repo}
acceptance:
  - run: python -c "from calc import mul; assert mul(2, 3) == 6"
agent: 'command:touch {marker} && sleep 5 && git apply {tmp_path / "mul.diff"}'
---
Add `mul(a, b)`.
"""
    task_id = submit_text(store, spec, source="mul.md", base_dir=tmp_path).task.id
    log = tmp_path / "zombie.log"
    zombie = start_worker({**os.environ, "PYTHONUNBUFFERED": "1"}, log)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the first worker never started the agent"
            time.sleep(0.05)
        zombie.send_signal(signal.SIGSTOP)  # paused past its lease, like a partitioned host
        marker.unlink()
        Worker(store, lease=LEASE, poll=0.1).run(drain=True)  # takes over after the lease
        assert statuses(store)[task_id] == "ready"
        zombie.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 30
        while "lease lost" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        zombie.send_signal(signal.SIGKILL)
        zombie.wait()
    assert "result not written" in log.read_text()
    assert statuses(store)[task_id] == "ready"
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PullRequest)) == 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the restart
# leaves the worker's dead connections to the garbage collector, which warns about them
def test_workers_reconnect_after_postgresql_restarts_mid_run(home, tmp_path, monkeypatch):
    from postgres import fresh_database, throwaway_cluster

    from overnight.store import open_store

    repo = make_repo(tmp_path / "repo", REPO)
    marker = tmp_path / "agent-started"
    (tmp_path / "mul.diff").write_text(MUL_FIX)
    spec = f"""---
title: Add mul
repo: {repo}
acceptance:
  - run: python -c "from calc import mul; assert mul(2, 3) == 6"
agent: 'command:touch {marker} && sleep 3 && git apply {tmp_path / "mul.diff"}'
---
Add `mul(a, b)`.
"""
    with throwaway_cluster() as cluster, fresh_database(cluster.url) as url:
        monkeypatch.setenv("OVERNIGHT_DATABASE_URL", url)
        store = open_store(url)
        task_id = submit_text(store, spec, source="mul.md", base_dir=tmp_path).task.id
        worker = Worker(store, lease=LEASE, poll=0.1)
        thread = threading.Thread(target=worker.run, kwargs={"drain": True})
        thread.start()
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cluster.restart()  # every connection of the worker dies mid-run
        thread.join(timeout=180)
        assert not thread.is_alive(), "the worker did not finish after the restart"
        assert statuses(store)[task_id] == "ready"
        store.engine.dispose()

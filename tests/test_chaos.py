"""Chaos: worker processes killed with SIGKILL at random while 30 tasks run.
Every task must end exactly once: terminal, one branch push and one pull
request record per run, nothing stuck after the last kill plus one lease."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import MUL_FIX
from sqlalchemy import func, select

from overnight.intake import submit_text
from overnight.store import PullRequest, Store, Task
from overnight.testing import make_repo
from overnight.worker import Worker

BOTH_DATABASES = True
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))
LEASE = 3
TASKS = 30
REPO = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "overnight.toml": 'environment = "inherit"\ntest_cmd = "python -m pytest -q"\n'
    "[gates.lint]\nenabled = false\n",
}
PUSH_LOG_HOOK = """#!/bin/sh
while read old new ref; do echo "$ref $new" >> "{log}"; done
"""


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:  # the worker keeps its own copy of the descriptor
        return subprocess.Popen(
            [OVERNIGHT, "worker", "--slots", "2", "--lease", str(LEASE)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def statuses(store: Store) -> dict[int, str]:
    with store.session() as session:
        return dict(session.execute(select(Task.id, Task.status)).all())


@pytest.mark.slow
def test_workers_killed_at_random_lose_nothing_and_deliver_nothing_twice(store, tmp_path):
    repo = make_repo(tmp_path / "repo", REPO)
    pushes = tmp_path / "pushes.log"
    hook = repo / ".git" / "hooks" / "post-receive"
    hook.write_text(PUSH_LOG_HOOK.format(log=pushes))
    hook.chmod(0o755)
    (tmp_path / "mul.diff").write_text(MUL_FIX)
    spec = f"""---
title: Add mul
repo: {repo}
acceptance:
  - run: python -c "from calc import mul; assert mul(2, 3) == 6"
agent: 'command:sleep 0.3 && git apply {tmp_path / "mul.diff"}'
regression: all
---
Add `mul(a, b)` returning the product.
"""
    ids = [submit_text(store, spec, source="mul.md", base_dir=tmp_path).task.id
           for _ in range(TASKS)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
    workers = [start_worker(env, log) for log in logs]
    rng = random.Random(7)
    kills, last_kill = 0, time.monotonic()
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            done = [s for s in statuses(store).values() if s in ("ready", "failed")]
            if len(done) == len(ids):
                break
            if kills < 8 and time.monotonic() - last_kill > rng.uniform(2, 4):
                victim = rng.randrange(len(workers))
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                workers[victim] = start_worker(env, logs[victim])
                kills, last_kill = kills + 1, time.monotonic()
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    final = statuses(store)
    assert kills >= 3, "the chaos ended before enough kills to mean anything"
    assert sorted(final) == sorted(ids)
    assert set(final.values()) == {"ready"}, final
    assert time.monotonic() - last_kill < 240  # nothing stuck past the deadline
    with store.session() as session:
        per_run = session.execute(
            select(PullRequest.run_id, func.count()).group_by(PullRequest.run_id)
        ).all()
    assert len(per_run) == TASKS and all(count == 1 for _, count in per_run)
    pushed = [line.split()[0] for line in pushes.read_text().splitlines()]
    assert len(pushed) == TASKS  # one branch push per run, even when a delivery was resumed
    assert len(set(pushed)) == TASKS


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

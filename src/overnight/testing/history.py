"""A made-up history in the store: tasks in every state with their runs,
steps, gate results, logs, diffs, pull requests and events, written in bulk.
For dashboard tests and benchmarks (10,000 tasks take a few seconds); no git
repository is touched, so review actions on these tasks fail as they should.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from overnight.store import (
    Artifact,
    Checkpoint,
    Event,
    GateResult,
    PullRequest,
    Run,
    Step,
    Store,
    Task,
    TaskStatus,
    Turn,
    Worker,
    bulk,
    now,
)

# the prompt versions the built-in agent's turns record: the built-in set, a team's own
PROMPT_LABELS = ("v1@5b1f0c2d9e3a", "v1+repo@c0ffee123456")
STATES = (
    [TaskStatus.READY] * 3
    + [TaskStatus.FAILED] * 2
    + [
        TaskStatus.MERGED,
        TaskStatus.QUEUED,
        TaskStatus.RUNNING,
        TaskStatus.CANCELLED,
        TaskStatus.REJECTED,
    ]
)
PR_BODY = "## Summary\nAdds mul.\n\n| gate | verdict |\n| --- | --- |\n| tests | PASS |\n"
GATES = ["scope", "test-integrity", "lint", "acceptance-commands", "tests"]
DIFF = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,6 @@
 def add(a, b):
     return a + b
+
+
+def mul(a, b):
+    return a * b
"""


def populate(
    store: Store,
    tasks: int = 100,
    events: int = 1000,
    *,
    repos: int = 5,
    seed: int = 7,
    batch: int = 2000,
) -> list[int]:
    """Add ``tasks`` tasks and about ``events`` events; return the task ids."""
    rng = random.Random(seed)
    start = now() - timedelta(days=30)
    with store.session() as session:
        first = bulk.next_id(session, Task)
    ids = list(range(first, first + tasks))
    rows: dict[type, list[dict[str, Any]]] = {
        k: []
        # in foreign key order
        for k in (Task, Run, Artifact, Step, GateResult, PullRequest, Turn, Checkpoint, Event)
    }
    run_id, step_id, gate_id, artifact_id, pr_id = (
        _next_id(store, t) for t in (Run, Step, GateResult, Artifact, PullRequest)
    )
    for n, task_id in enumerate(ids):
        status = STATES[rng.randrange(len(STATES))]
        created = start + timedelta(seconds=n * 30 * 86400 / max(tasks, 1))
        repo = f"/srv/repos/project-{task_id % repos}"
        rows[Task].append(
            {
                "id": task_id,
                "title": f"Task {task_id}: add feature {rng.randrange(10**6)}",
                "slug": f"task-{task_id}",
                "status": status,
                "priority": rng.randrange(3),
                "spec": {"title": f"Task {task_id}"},
                "spec_text": f"---\ntitle: Task {task_id}\n---\n",
                "config": {},
                "repo": repo,
                "base_ref": "main",
                "base_sha": "a" * 40,
                "branch": f"overnight/{task_id}-task-{task_id}",
                "head_sha": None,
                "agent": "command:scripted" if task_id % 2 else "builtin:openai:gpt-5-mini",
                "failure_reason": "gates: tests failed after 3 attempt(s)"
                if status == TaskStatus.FAILED
                else None,
                "created_at": created,
                "updated_at": created + timedelta(minutes=9),
                "lease_owner": "bench-worker" if status == TaskStatus.RUNNING else None,
            }
        )
        if status == TaskStatus.QUEUED:
            rows[Run].append(_run(run_id, task_id, 1, "queued", 0, None, None))
            run_id += 1
            continue
        attempts = 1 + rng.randrange(3)
        finished = None if status == TaskStatus.RUNNING else created + timedelta(minutes=9)
        run_status = status  # a merged or rejected run says so, as review leaves it
        rows[Run].append(_run(run_id, task_id, 1, run_status, attempts, created, finished))
        moment = created
        for name, attempt in [("prepare", 0), ("baseline", 0)] + [
            (s, a) for a in range(1, attempts + 1) for s in ("agent", "gates")
        ]:
            rows[Step].append(
                {
                    "id": step_id,
                    "run_id": run_id,
                    "name": name,
                    "attempt": attempt,
                    "status": "done",
                    "summary": f"{name} done",
                    "started_at": moment,
                    "finished_at": moment + timedelta(seconds=40),
                }
            )
            step_id, moment = step_id + 1, moment + timedelta(seconds=41)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            if task_id % 2 == 0:  # the built-in agent: its model calls are recorded
                rows[Turn].extend(_turn(run_id, attempt, n) for n in (1, 2))
                label = PROMPT_LABELS[task_id // 2 % len(PROMPT_LABELS)]
                rows[Checkpoint].extend(
                    {
                        "run_id": run_id,
                        "attempt": attempt,
                        "turn": n,
                        "prompts": label,
                        "done": True,
                    }
                    for n in (1, 2)
                )
            for gate in GATES:
                fails = gate == "tests" and not (last and status != TaskStatus.FAILED)
                rows[Artifact].append(
                    _artifact(
                        artifact_id,
                        task_id,
                        run_id,
                        f"gate-{gate}-{attempt}.log",
                        f"$ {gate}\n" + "ok\n" * 20,
                    )
                )
                rows[GateResult].append(
                    {
                        "id": gate_id,
                        "run_id": run_id,
                        "attempt": attempt,
                        "name": gate,
                        "verdict": "fail" if fails else "pass",
                        "blocking": True,
                        "command": f"run {gate}",
                        "exit_code": 1 if fails else 0,
                        "duration": 1.5,
                        "summary": "1 failed" if fails else "ok",
                        "sha": "b" * 40,
                        "log_id": artifact_id,
                    }
                )
                gate_id, artifact_id = gate_id + 1, artifact_id + 1
            rows[Artifact].append(
                _artifact(artifact_id, task_id, run_id, f"diff-attempt-{attempt}.diff", DIFF)
            )
            artifact_id += 1
        if status in (TaskStatus.READY, TaskStatus.MERGED, TaskStatus.REJECTED):
            state = {TaskStatus.MERGED: "merged", TaskStatus.REJECTED: "closed"}.get(status, "open")
            rows[PullRequest].append(
                {
                    "id": pr_id,
                    "task_id": task_id,
                    "run_id": run_id,
                    "forge": "local",
                    "branch": f"overnight/{task_id}-task-{task_id}",
                    "base_branch": "main",
                    "head_sha": "b" * 40,
                    "title": f"Task {task_id}",
                    "state": state,
                    "body": PR_BODY,
                    "created_at": finished,
                }
            )
            pr_id += 1
        run_id += 1
    kinds = ["queued", "claimed", "run-started", "step", "step", "step", "step", "ready"]
    for i in range(events):
        task_id = ids[i % len(ids)] if ids else 0
        rows[Event].append(
            {
                "task_id": task_id,
                "run_id": None,
                "kind": kinds[i % len(kinds)],
                "message": f"event {i}",
                "created_at": start + timedelta(seconds=i),
            }
        )
    with store.session() as session:
        for model, items in rows.items():
            bulk.insert_rows(session, model, items, batch)
    return ids


def add_worker(store: Store, worker_id: str = "bench-worker", slots: int = 2) -> None:
    with store.session() as session:
        session.merge(
            Worker(
                id=worker_id,
                hostname="localhost",
                pid=1,
                slots=slots,
                started_at=now(),
                heartbeat_at=now(),
            )
        )


def _run(
    id: int,
    task_id: int,
    number: int,
    status: str,
    attempts: int,
    started: datetime | None,
    finished: datetime | None,
) -> dict[str, Any]:
    return {
        "id": id,
        "task_id": task_id,
        "number": number,
        "status": status,
        "kind": "initial",
        "base_sha": "a" * 40,
        "attempts": attempts,
        "started_at": started,
        "finished_at": finished,
    }


def _turn(run_id: int, attempt: int, number: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "attempt": attempt,
        "number": number,
        "model": "openai:gpt-5-mini",
        "content": "I will look at calc.py first.",
        "command": "cat calc.py",
        "output": "def add(a, b):\n    return a + b\n",
        "exit_code": 0,
        "input_tokens": 1200,
        "output_tokens": 80,
        "cost": 0.0009,
        "latency": 1.2,
        "request": {},
        "response": {},
        "created_at": now(),
    }


def _artifact(id: int, task_id: int, run_id: int, name: str, content: str) -> dict[str, Any]:
    return {
        "id": id,
        "task_id": task_id,
        "run_id": run_id,
        "name": name,
        "content": content,
        "created_at": now(),
    }


def _next_id(store: Store, model: Any) -> int:
    with store.session() as session:
        return bulk.next_id(session, model)

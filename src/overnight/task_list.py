"""The one row of every task list, as plain data: ``overnight status`` and
``review``, the dashboard's list and the API's show a task as ``TaskRow``,
built by ``task_rows`` from a few queries (``store/reads.py``) whatever the
number of tasks, or by ``task_summary`` from a task loaded whole."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from overnight import cost
from overnight.holds import waiting
from overnight.store import Session, Task, TaskStatus, now, reads


@dataclass
class TaskRow:
    """A task as every task list shows it: ``overnight status``, the dashboard's
    list and the API's (``web/schemas.TaskRow``). ``summary`` is its shape in
    the CLI's JSON (``status``, ``submit``, ``review``)."""

    id: int
    title: str
    status: str
    priority: int
    repo: str
    branch: str
    base_sha: str
    head_sha: str | None
    failure_reason: str | None
    instance_id: str | None
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    runs: int
    attempts: int
    failing_gates: list[str]
    elapsed: float | None = None  # seconds its runs ran; None: none started
    cost_usd: float | None = None  # None: unknown, never shown as 0 (``costs``)
    tokens: int | None = None
    holds: list[dict[str, Any]] = field(default_factory=list)  # why it is still queued

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "priority": self.priority,
            "repo": self.repo,
            "branch": self.branch,
            "base_sha": self.base_sha,
            "head_sha": self.head_sha,
            "failure_reason": self.failure_reason,
            "runs": self.runs,
            "attempts": self.attempts,
            "failing_gates": self.failing_gates,
            "instance_id": self.instance_id,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "updated_at": self.updated_at.isoformat(timespec="seconds"),
        }


def task_row(task: Any, runs: Sequence[Any], gates: Iterable[Any], moment: datetime) -> TaskRow:
    """The row of ``task`` (a ``Task``, or a row of ``reads.find_tasks``), given its
    ``runs`` (with ``number``, ``attempts``, ``started_at``, ``finished_at``) and
    the gates of its latest run (``failing_gates`` picks the ones that count)."""
    run = max(runs, key=lambda r: r.number, default=None)
    started = [r for r in runs if r.started_at]
    return TaskRow(
        id=task.id,
        title=task.title,
        status=task.status,
        priority=task.priority,
        repo=task.repo,
        branch=task.branch,
        base_sha=task.base_sha,
        head_sha=task.head_sha,
        failure_reason=task.failure_reason,
        instance_id=task.instance_id,
        cancel_requested=task.cancel_requested,
        created_at=task.created_at,
        updated_at=task.updated_at,
        runs=len(runs),
        attempts=run.attempts if run else 0,
        failing_gates=failing_gates(gates, run.attempts) if run else [],
        elapsed=sum(((r.finished_at or moment) - r.started_at).total_seconds() for r in started)
        if started
        else None,
    )


def task_rows(session: Session, tasks: Sequence[Any], moment: datetime) -> list[TaskRow]:
    """The rows of ``tasks`` (rows of ``reads.find_tasks`` or ``reads.newest_tasks``),
    in their order, with cost and holds: a few queries whatever their number."""
    ids = [t.id for t in tasks]
    runs = reads.runs_of(session, ids)
    latest = {tid: max(rs, key=lambda r: r.number) for tid, rs in runs.items()}
    failed = reads.blocking_failures(session, [r.id for r in latest.values()])
    spent = costs(session, ids)
    held = waiting(session, [t.id for t in tasks if t.status == TaskStatus.QUEUED], moment)
    rows = []
    for t in tasks:
        run = latest.get(t.id)
        row = task_row(t, runs.get(t.id, []), failed[run.id] if run else [], moment)
        row.cost_usd = spent.get(t.id, {}).get("usd")
        row.tokens = spent.get(t.id, {}).get("tokens")
        row.holds = [h.to_dict() for h in held.get(t.id, [])]
        rows.append(row)
    return rows


def summaries(session: Session, task_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The tasks' rows in the CLI's JSON shape (``TaskRow.summary``), by id."""
    rows = task_rows(session, reads.tasks_by_id(session, task_ids), now())
    return {row.id: row.summary() for row in rows}


def task_summary(task: Task) -> dict[str, Any]:
    """A loaded task's row in the CLI's JSON shape (``TaskRow.summary``)."""
    gates = task.runs[-1].gates if task.runs else []
    return task_row(task, task.runs, gates, now()).summary()


def failing_gates(gates: Iterable[Any], attempts: int) -> list[str]:
    """The blocking gates that failed (or erred) on a run's last attempt, by name:
    why a task failed, in the task list of the CLI and the dashboard."""
    return sorted(
        {
            g.name
            for g in gates
            if g.attempt == attempts and g.blocking and g.verdict in ("fail", "error")
        }
    )


def costs(session: Session, task_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per task: USD spent on model calls (None: unknown, ``cost.spent``), tokens and
    turns of the recorded calls, aggregated by the database."""
    agents, rows = reads.spend(session, task_ids)
    out = {i: {"usd": cost.spent(a, []), "turns": 0, "tokens": 0} for i, a in agents.items()}
    for task_id, usd, priced, turns, tokens in rows:
        known = priced == turns and cost.recorded(agents[task_id])
        out[task_id] = {
            "usd": float(usd or 0) if known else None,
            "turns": int(turns),
            "tokens": int(tokens or 0),
        }
    return out

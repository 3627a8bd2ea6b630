"""The dashboard's page models: the task list and task page in a few indexed
queries. Facts the CLI shows too come from their one owner: costs, checks,
budgets and task details from ``overnight.views``, holds from
``overnight.holds``, the review queue from ``overnight.review_queue``, workers
and their liveness from ``overnight.fleet``.

Pages never walk ORM relationships row by row: a page of the task list is
three queries whatever its size (tasks, their runs, their failing gates), and
large texts (logs, transcripts) are fetched only when opened.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from overnight.holds import waiting
from overnight.pipeline.recorder import spent_time
from overnight.review import base_moved
from overnight.store import (
    Artifact,
    Event,
    GateResult,
    Review,
    Run,
    Step,
    Task,
    TaskStatus,
    Turn,
)
from overnight.views import (
    base_notes,
    budget_view,
    checks,
    costs,
    failing_gates,
    latest_artifact,
    pull_request,
    usage,
)

STATUSES = ["queued", "running", "ready", "failed", "cancelled", "merged", "rejected"]
GROUPS = {"active": ["queued", "running"], "finished": ["failed", "cancelled", "rejected"]}
PER_PAGE = 50


@dataclass
class TaskFilter:
    status: str = ""
    repo: str = ""
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    def statuses(self) -> list[str] | None:
        if self.status in GROUPS:
            return GROUPS[self.status]
        return [self.status] if self.status in STATUSES else None


@dataclass
class TaskPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    filter: TaskFilter
    counts: dict[str, int] = field(default_factory=dict)
    repos: list[str] = field(default_factory=list)


def task_page(session: Session, f: TaskFilter, moment: datetime) -> TaskPage:
    where: list[ColumnElement[bool]] = []
    statuses = f.statuses()
    if statuses:
        where.append(Task.status.in_(statuses))
    if f.repo:
        where.append(Task.repo == f.repo)
    if f.q.strip():
        q = f.q.strip()
        match = Task.title.icontains(q, autoescape=True) | Task.branch.icontains(q, autoescape=True)
        if re.fullmatch(r"#?[0-9]{1,15}", q):
            match = match | (Task.id == int(q.lstrip("#")))
        where.append(match)
    total = session.scalar(select(func.count(Task.id)).where(*where)) or 0
    pages = max(1, math.ceil(total / f.per_page))
    page = min(max(1, f.page), pages)
    tasks = session.execute(
        select(
            Task.id,
            Task.title,
            Task.status,
            Task.repo,
            Task.failure_reason,
            Task.priority,
            Task.created_at,
            Task.updated_at,
            Task.cancel_requested,
        )
        .where(*where)
        .order_by(Task.id.desc())
        .offset((page - 1) * f.per_page)
        .limit(f.per_page)
    ).all()
    rows = _rows(session, tasks, moment)
    counts = dict(session.execute(select(Task.status, func.count()).group_by(Task.status)).all())
    repos = list(session.scalars(select(Task.repo).distinct().order_by(Task.repo).limit(200)))
    return TaskPage(rows, total, page, pages, f, {str(k): int(v) for k, v in counts.items()}, repos)


def _rows(session: Session, tasks: Sequence[Any], moment: datetime) -> list[dict[str, Any]]:
    ids = [t.id for t in tasks]
    spent = costs(session, ids)
    runs: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            Run.id, Run.task_id, Run.number, Run.attempts, Run.started_at, Run.finished_at
        ).where(Run.task_id.in_(ids))
    ):
        runs[row.task_id].append(row)
    latest = {tid: max(rs, key=lambda r: r.number) for tid, rs in runs.items()}
    failed: dict[int, list[Any]] = defaultdict(list)
    for gate in session.execute(
        select(
            GateResult.run_id,
            GateResult.name,
            GateResult.attempt,
            GateResult.blocking,
            GateResult.verdict,
        ).where(
            GateResult.run_id.in_([r.id for r in latest.values()]),
            GateResult.blocking.is_(True),
            GateResult.verdict.in_(("fail", "error")),
        )
    ):
        failed[gate.run_id].append(gate)
    held = waiting(session, [t.id for t in tasks if t.status == TaskStatus.QUEUED], moment)
    rows = []
    for t in tasks:
        run = latest.get(t.id)
        elapsed = sum(
            ((r.finished_at or moment) - r.started_at).total_seconds()
            for r in runs.get(t.id, [])
            if r.started_at
        )
        rows.append(
            {
                "id": t.id,
                "title": t.title,
                "status": t.status,
                "repo": t.repo,
                "priority": t.priority,
                "failure_reason": t.failure_reason,
                "runs": len(runs.get(t.id, [])),
                "attempts": run.attempts if run else 0,
                "elapsed": elapsed if any(r.started_at for r in runs.get(t.id, [])) else None,
                "cost_usd": spent.get(t.id, {}).get("usd"),  # None: unknown, never shown as 0
                "tokens": spent.get(t.id, {}).get("tokens"),
                "failing_gates": failing_gates(failed[run.id], run.attempts) if run else [],
                "cancel_requested": t.cancel_requested,
                "holds": [h.to_dict() for h in held.get(t.id, [])],  # why it is still queued
                "created_at": t.created_at,
                "updated_at": t.updated_at,
            }
        )
    return rows


# -- one task ---------------------------------------------------------------


def actions(status: str, cancel_requested: bool = False, moved: bool = False) -> dict[str, bool]:
    """Which review and queue actions fit a task's state (``moved``: its base branch
    moved past its last run's base, see ``review.base_moved``)."""
    return {
        "approve": status == TaskStatus.READY,
        "request_changes": status in (TaskStatus.READY, TaskStatus.FAILED),
        "rebase": status in (TaskStatus.READY, TaskStatus.FAILED) and moved,
        "reject": status not in (TaskStatus.MERGED, TaskStatus.REJECTED, TaskStatus.RUNNING),
        "cancel": status == TaskStatus.QUEUED
        or (status == TaskStatus.RUNNING and not cancel_requested),
        "retry": status in (TaskStatus.FAILED, TaskStatus.CANCELLED),
    }


def task_view(session: Session, task: Task, moment: datetime) -> dict[str, Any]:
    """The task page: header, runs (steps, attempts with gates, transcript),
    pull request, reviews, recent events. Logs are referenced by artifact id."""
    runs = list(session.scalars(select(Run).where(Run.task_id == task.id).order_by(Run.number)))
    run_ids = [r.id for r in runs]
    steps: dict[int, list[Step]] = defaultdict(list)
    for s in session.scalars(select(Step).where(Step.run_id.in_(run_ids)).order_by(Step.id)):
        steps[s.run_id].append(s)
    gates: dict[int, list[GateResult]] = defaultdict(list)
    for g in session.scalars(
        select(GateResult).where(GateResult.run_id.in_(run_ids)).order_by(GateResult.id)
    ):
        gates[g.run_id].append(g)
    diffs = {
        (a.run_id, a.name): a.id
        for a in session.execute(
            select(Artifact.id, Artifact.run_id, Artifact.name).where(
                Artifact.task_id == task.id, Artifact.name.like("diff-attempt-%")
            )
        )
    }
    extra_logs = session.execute(
        select(Artifact.id, Artifact.run_id, Artifact.name).where(
            Artifact.task_id == task.id, Artifact.name.in_(["setup.log", "crash.log"])
        )
    ).all()
    turns: dict[int, list[Turn]] = defaultdict(list)
    for turn in session.scalars(
        select(Turn).where(Turn.run_id.in_(run_ids)).order_by(Turn.attempt, Turn.number)
    ):
        turns[turn.run_id].append(turn)
    run_views = [
        _run_view(run, steps[run.id], gates[run.id], diffs, extra_logs, moment)
        | {"turns": turns[run.id], "spent": _spent(turns[run.id], task.agent)}
        for run in runs
    ]
    pr = pull_request(session, task.id)
    diff = latest_artifact(session, task, "diff-attempt-")
    reviews = list(
        session.scalars(select(Review).where(Review.task_id == task.id).order_by(Review.id))
    )
    events = list(
        session.scalars(
            select(Event).where(Event.task_id == task.id).order_by(Event.id.desc()).limit(200)
        )
    )
    repinned = base_notes(session, task.id)
    for view in run_views:
        view["base_note"] = repinned.get(view["run"].id)
    return {
        "task": task,
        "holds": [h.to_dict() for h in waiting(session, [task.id], moment).get(task.id, [])],
        "runs": run_views,
        "pull_request": pr,
        "diff": diff,
        "reviews": reviews,
        "events": list(reversed(events)),
        "actions": actions(task.status, task.cancel_requested, base_moved(task)),
        "checks": checks(gates[runs[-1].id], runs[-1].number) if runs else checks([]),
        "budget": budget_view(task),
    }


def _spent(turns: list[Turn], agent: str) -> dict[str, Any]:
    """A run's spend as the task page shows it, from ``views.usage`` (as the API's)."""
    spent = usage(turns, agent)
    return {"usd": spent["cost_usd"], "tokens": spent["input_tokens"] + spent["output_tokens"]}


def _run_view(
    run: Run,
    steps: list[Step],
    gates: list[GateResult],
    diffs: dict[tuple[int | None, str], int],
    extra_logs: Sequence[Any],
    moment: datetime,
) -> dict[str, Any]:
    attempts: dict[int, list[GateResult]] = defaultdict(list)
    for g in gates:
        attempts[g.attempt].append(g)
    started = run.started_at
    return {
        "run": run,
        "duration": ((run.finished_at or moment) - started).total_seconds() if started else None,
        "steps": [
            {
                "step": s,
                "duration": ((s.finished_at or moment) - s.started_at).total_seconds(),
                "offset": (s.started_at - started).total_seconds() if started else 0.0,
            }
            for s in steps
        ],
        "attempts": [
            {"number": n, "gates": gs, "diff_id": diffs.get((run.id, f"diff-attempt-{n}.diff"))}
            for n, gs in sorted(attempts.items(), reverse=True)
        ],
        "transcript": [s for s in steps if s.name == "agent"],
        "logs": [a for a in extra_logs if a.run_id == run.id],
        "time_spent": spent_time(steps),
    }


def events_after(
    session: Session, after: int, limit: int = 200, task_id: int | None = None
) -> list[Event]:
    query = select(Event).where(Event.id > after)
    if task_id is not None:
        query = query.where(Event.task_id == task_id)
    return list(session.scalars(query.order_by(Event.id).limit(limit)))


def last_event_id(session: Session) -> int:
    return session.scalar(select(func.max(Event.id))) or 0

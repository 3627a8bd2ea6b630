"""The dashboard's read models: each page's data in a few indexed queries.

Pages never walk ORM relationships row by row: a page of the task list is
three queries whatever its size (tasks, their runs, their failing gates), and
large texts (logs, transcripts) are fetched only when opened.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from overnight.review import base_moved
from overnight.risk import assess, coverage_of
from overnight.store import (
    Artifact,
    Event,
    GateResult,
    PullRequest,
    Review,
    Run,
    Step,
    Task,
    TaskStatus,
    Turn,
    Worker,
)
from overnight.views import checks

STATUSES = ["queued", "running", "ready", "failed", "cancelled", "merged", "rejected"]
GROUPS = {"active": ["queued", "running"], "finished": ["failed", "cancelled", "rejected"]}
PER_PAGE = 50
WORKER_ALIVE = timedelta(seconds=15)


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


def costs(session: Session, task_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per task: USD spent on model calls (None when a price is unknown), tokens
    and turns. Tasks with no recorded turn (command agents) are absent."""
    out: dict[int, dict[str, Any]] = {}
    for task_id, usd, priced, turns, tokens in session.execute(
        select(
            Run.task_id,
            func.sum(Turn.cost),
            func.count(Turn.cost),
            func.count(Turn.id),
            func.sum(Turn.input_tokens + Turn.output_tokens),
        )
        .join(Run, Turn.run_id == Run.id)
        .where(Run.task_id.in_(task_ids))
        .group_by(Run.task_id)
    ):
        known = priced == turns
        out[task_id] = {"usd": float(usd or 0) if known else None, "turns": int(turns),
                        "tokens": int(tokens or 0)}  # fmt: skip
    return out


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
    failing: dict[int, set[str]] = defaultdict(set)
    by_run = {r.id: r for r in latest.values()}
    for gate in session.execute(
        select(GateResult.run_id, GateResult.name, GateResult.attempt).where(
            GateResult.run_id.in_(list(by_run)),
            GateResult.blocking.is_(True),
            GateResult.verdict.in_(("fail", "error")),
        )
    ):
        if gate.attempt == by_run[gate.run_id].attempts:
            failing[gate.run_id].add(gate.name)
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
                "failing_gates": sorted(failing.get(run.id, set())) if run else [],
                "cancel_requested": t.cancel_requested,
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
        | {"turns": turns[run.id], "spent": _spent(turns[run.id])}
        for run in runs
    ]
    pr = session.scalars(
        select(PullRequest).where(PullRequest.task_id == task.id).order_by(PullRequest.id.desc())
    ).first()
    diff_id = max(diffs.values()) if diffs else None
    diff = session.get(Artifact, diff_id).content if diff_id else None  # type: ignore[union-attr]
    reviews = list(
        session.scalars(select(Review).where(Review.task_id == task.id).order_by(Review.id))
    )
    events = list(
        session.scalars(
            select(Event).where(Event.task_id == task.id).order_by(Event.id.desc()).limit(200)
        )
    )
    return {
        "task": task,
        "runs": run_views,
        "pull_request": pr,
        "diff": diff,
        "reviews": reviews,
        "events": list(reversed(events)),
        "actions": actions(task.status, task.cancel_requested, base_moved(task)),
        "checks": checks(gates[runs[-1].id], runs[-1].number) if runs else checks([]),
    }


def _spent(turns: list[Turn]) -> dict[str, Any]:
    known = all(t.cost is not None for t in turns)
    return {
        "usd": sum(t.cost or 0.0 for t in turns) if known else None,
        "tokens": sum(t.input_tokens + t.output_tokens for t in turns),
    }


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


# -- review queue -----------------------------------------------------------


def flagged(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """FAILED tasks whose grading caught the run lying about its outcomes."""
    rows = session.execute(
        select(Task.id, Task.title, Task.repo, Task.failure_reason)
        .where(Task.status == TaskStatus.FAILED, Task.failure_reason.like("tampered:%"))
        .order_by(Task.id.desc()).limit(limit)
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]


def review_queue(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """READY tasks, safest first (see ``overnight.risk``)."""
    tasks = session.execute(
        select(Task.id, Task.title, Task.repo, Task.branch, Task.priority, Task.updated_at)
        .where(Task.status == TaskStatus.READY)
        .order_by(Task.priority.desc(), Task.id)
        .limit(limit)
    ).all()
    ids = [t.id for t in tasks]
    latest: dict[int, Any] = {}
    for row in session.execute(
        select(Run.id, Run.task_id, Run.number, Run.attempts).where(Run.task_id.in_(ids))
    ):
        if row.task_id not in latest or row.number > latest[row.task_id].number:
            latest[row.task_id] = row
    advisory: dict[int, list[str]] = defaultdict(list)
    coverage: dict[int, float | None] = {}
    by_run = {r.id: r for r in latest.values()}
    for g in session.execute(
        select(
            GateResult.run_id,
            GateResult.name,
            GateResult.attempt,
            GateResult.verdict,
            GateResult.blocking,
            GateResult.summary,
        ).where(GateResult.run_id.in_(list(by_run)))
    ):
        if g.attempt != by_run[g.run_id].attempts:
            continue
        if not g.blocking and g.verdict in ("fail", "error"):
            advisory[g.run_id].append(g.name)
        if g.name == "coverage":
            coverage[g.run_id] = coverage_of(g.summary)
    requests = Counter(
        session.scalars(
            select(Review.task_id).where(
                Review.task_id.in_(ids), Review.action == "request-changes"
            )
        )
    )
    diffs: dict[int | None, str] = {}
    names = [f"diff-attempt-{r.attempts}.diff" for r in latest.values()]
    for a in session.execute(
        select(Artifact.run_id, Artifact.name, Artifact.content).where(
            Artifact.task_id.in_(ids), Artifact.name.in_(names)
        )
    ):
        delivered = by_run.get(a.run_id)
        if delivered is not None and a.name == f"diff-attempt-{delivered.attempts}.diff":
            diffs[a.run_id] = a.content
    items = []
    for t in tasks:
        run = latest.get(t.id)
        if run is None:
            continue
        risk = assess(
            diffs.get(run.id), advisory[run.id], run.attempts, requests[t.id], coverage.get(run.id)
        )
        items.append({"task": t, "risk": risk, "attempts": run.attempts, "run": run.number})
    items.sort(key=lambda i: (i["risk"].score, i["task"].id))
    return items


def workers(session: Session, moment: datetime, limit: int = 100) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(Worker).order_by(Worker.heartbeat_at.desc()).limit(limit)))
    running: dict[str | None, list[Any]] = defaultdict(list)
    for t in session.execute(
        select(Task.id, Task.title, Task.lease_owner).where(Task.status == TaskStatus.RUNNING)
    ):
        running[t.lease_owner].append(t)
    return [
        {
            "worker": w,
            "alive": w.stopped_at is None and moment - w.heartbeat_at < WORKER_ALIVE,
            "heartbeat_age": (moment - w.heartbeat_at).total_seconds(),
            "tasks": running.get(w.id, []),
        }
        for w in rows
    ]

"""The scheduling queries: what ``queue.claim`` and ``holds`` read to decide.

The claim's statements are built once, at import (a claim runs them for every
task it takes). They are SQLite's claim; on PostgreSQL the server claims in one
round trip with the same rules (``claiming``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from overnight.store.models import Queue, Run, Task, TaskStatus, Turn, Worker

# claimable: queued and due (walking the claim-order index), or running with an expired
# lease (found by the lease index): two queries, where one OR of both sorts the queue
CANDIDATES = 50  # looked at per claim (and locked, on PostgreSQL: ``claiming``)
_COLUMNS = (
    Task.id,
    Task.queue,
    Task.repo,
    Task.status,
    Task.lease_owner,
    Task.fence,
    Task.priority,
)
_DUE = (
    select(*_COLUMNS)
    .where(
        Task.status == TaskStatus.QUEUED,
        Task.not_before.is_(None) | (Task.not_before <= bindparam("moment")),
    )
    .order_by(Task.priority.desc(), Task.id)
    .limit(CANDIDATES)
)
_EXPIRED = (
    select(*_COLUMNS)
    .where(  # few, found by their lease; sorted with the others
        Task.status == TaskStatus.RUNNING,
        Task.lease_expires < bindparam("moment"),
    )
    .limit(CANDIDATES)
)
_CURRENT_RUN = (
    select(Task.spec, Run.id, Run.claims)
    .join(Run, Run.task_id == Task.id)
    .where(Task.id == bindparam("task"))
    .order_by(Run.number.desc())
    .limit(1)
)

Candidate = tuple[int, str, str, str, str | None, int]  # id, queue, repo, status, owner, fence


@dataclass(frozen=True)
class QueueSettings:
    """A configured queue as set by hand (``overnight queue set``)."""

    name: str
    paused: bool
    usd_per_day: float | None
    paused_until: datetime | None


@dataclass(frozen=True)
class QueuedTask:
    """What the holds of a queued task are decided from."""

    id: int
    queue: str
    repo: str
    not_before: datetime | None
    depends_on: list[dict[str, Any]]


@dataclass(frozen=True)
class WorkerLimits:
    """A live worker's slots and the limits it enforces."""

    slots: int
    max_running: int | None
    max_per_repo: int | None


def candidates(session: Session, moment: datetime, paused: set[str]) -> list[Candidate]:
    """The first claimable tasks in claim order (SQLite's claim; PostgreSQL's is
    ``claiming``). Queued tasks of ``paused`` queues are left out here, so however
    many there are, they never hide the tasks behind them."""
    rows: list[Any] = []
    due = _DUE.where(Task.queue.not_in(paused)) if paused else _DUE
    for query in (due, _EXPIRED):
        rows += session.execute(query, {"moment": moment}).all()
    rows = sorted(rows, key=lambda r: (-r.priority, r.id))[:CANDIDATES]  # merged
    return [row[:6] for row in rows]


def current_run(session: Session, task_id: int) -> tuple[dict[str, Any] | None, int, int]:
    """(the task's spec, its latest run's id, that run's starts so far)."""
    spec, run_id, claims = session.execute(_CURRENT_RUN, {"task": task_id}).one()
    return spec, run_id, claims


def running_per_repo(session: Session, moment: datetime) -> dict[str, int]:
    """Tasks running under a live lease, per repository."""
    return dict(
        session.execute(  # type: ignore[arg-type]
            select(Task.repo, func.count())
            .where(Task.status == TaskStatus.RUNNING, Task.lease_expires >= moment)
            .group_by(Task.repo)
        ).all()
    )


def spent_since(session: Session, since: datetime, names: list[str] | None) -> dict[str, float]:
    """USD spent on model calls since ``since`` per queue (of ``names``, or all);
    a call of unknown price counts as 0."""
    query = (
        select(Task.queue, func.coalesce(func.sum(Turn.cost), 0.0))
        .join(Run, Run.id == Turn.run_id)
        .join(Task, Task.id == Run.task_id)
        .where(Turn.created_at >= since)
        .group_by(Task.queue)
    )
    if names is not None:
        if not names:
            return {}
        query = query.where(Task.queue.in_(names))
    return {name: float(usd or 0.0) for name, usd in session.execute(query).all()}


def queue_settings(session: Session) -> list[QueueSettings]:
    """Every configured queue."""
    return [
        QueueSettings(q.name, bool(q.paused), q.usd_per_day, q.paused_until)
        for q in session.scalars(select(Queue))
    ]


def set_queue(
    session: Session,
    name: str,
    *,
    usd_per_day: float | None,
    paused: bool | None,
    until: datetime | None,
) -> None:
    """Configure a queue (created on first use); None leaves a setting as it is,
    a pause is set whenever ``paused`` or ``until`` is given."""
    queue = session.get(Queue, name) or Queue(name=name, paused=False)
    session.add(queue)
    if usd_per_day is not None:
        queue.usd_per_day = usd_per_day
    if paused is not None or until is not None:
        queue.paused, queue.paused_until = paused is not False, until


def active_per_queue(session: Session) -> dict[str, dict[str, int]]:
    """Tasks queued and running, per queue and status."""
    counts: dict[str, dict[str, int]] = {}
    for name, status, count in session.execute(
        select(Task.queue, Task.status, func.count())
        .where(Task.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING]))
        .group_by(Task.queue, Task.status)
    ):
        counts.setdefault(name, {})[status] = count
    return counts


def statuses(session: Session, ids: set[int]) -> dict[int, str]:
    """The status of each task of ``ids`` the store has."""
    if not ids:
        return {}
    return dict(session.execute(select(Task.id, Task.status).where(Task.id.in_(ids))).all())  # type: ignore[arg-type]


def queued(session: Session, task_ids: list[int] | None) -> list[QueuedTask]:
    """The queued tasks of ``task_ids`` (None: all of them)."""
    query = select(Task.id, Task.queue, Task.repo, Task.not_before, Task.spec).where(
        Task.status == TaskStatus.QUEUED
    )
    if task_ids is not None:
        query = query.where(Task.id.in_(task_ids))
    return [
        QueuedTask(r.id, r.queue, r.repo, r.not_before, (r.spec or {}).get("depends_on", []))
        for r in session.execute(query)
    ]


def queued_titles(session: Session) -> list[tuple[int, str]]:
    """Every queued task's id and title, oldest first."""
    query = select(Task.id, Task.title).where(Task.status == TaskStatus.QUEUED).order_by(Task.id)
    return [(r.id, r.title) for r in session.execute(query)]


def any_running(session: Session) -> bool:
    return bool(session.scalar(select(Task.id).where(Task.status == TaskStatus.RUNNING).limit(1)))


def worker_limits(session: Session, heard_since: datetime) -> list[WorkerLimits]:
    """The workers not stopped and heard from since ``heard_since``."""
    query = select(Worker.slots, Worker.max_running, Worker.max_per_repo).where(
        Worker.stopped_at.is_(None), Worker.heartbeat_at >= heard_since
    )
    return [WorkerLimits(*row) for row in session.execute(query)]

"""Task rows on the write path: leases (take, renew, the locked row a claim's
writes go through), a run's running steps, and the counts the queue reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from overnight.store.models import Run, Step, StepStatus, Task, TaskStatus

ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)


def claimed(session: Session, task_id: int, run_id: int, starts: int, **values: Any) -> None:
    """Write a claimed task's columns (``values``: its status and lease) and its run's
    starts, in two statements that load neither row (``lifecycle.take`` says what)."""
    session.execute(update(Run).where(Run.id == run_id).values(claims=starts))
    session.execute(update(Task).where(Task.id == task_id).values(**values))


def renew_lease(session: Session, task_id: int, fence: int, owner: str, expires: datetime) -> bool:
    """Extend the lease ``owner`` holds with ``fence``; False if it no longer holds it."""
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.fence == fence, Task.lease_owner == owner)
        .values(lease_expires=expires)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def locked(session: Session, task_id: int) -> Task:
    """The task's row, locked for this transaction (on PostgreSQL; SQLite's
    transactions already hold the database)."""
    query = select(Task).where(Task.id == task_id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return session.scalars(query).one()


def running_steps(session: Session, run_id: int) -> list[Step]:
    return list(
        session.scalars(
            select(Step).where(Step.run_id == run_id, Step.status == StepStatus.RUNNING)
        )
    )


def count_active(session: Session) -> int:
    """Tasks queued or running."""
    return session.scalar(select(func.count()).where(Task.status.in_(ACTIVE))) or 0


def status_of(session: Session, task_id: int) -> str | None:
    return session.scalar(select(Task.status).where(Task.id == task_id))

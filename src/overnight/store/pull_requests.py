"""Pull request rows: a run's, and the open ones of a task."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from overnight.store.models import PullRequest


def of_run(session: Session, run_id: int) -> PullRequest | None:
    return session.scalars(select(PullRequest).where(PullRequest.run_id == run_id)).first()


def open_of_task(session: Session, task_id: int) -> list[PullRequest]:
    """The task's open pull requests, the newest first."""
    return list(session.scalars(_open(task_id)))


def newest_open(session: Session, task_id: int) -> PullRequest | None:
    return session.scalars(_open(task_id)).first()


def _open(task_id: int) -> Select[PullRequest]:
    return (
        select(PullRequest)
        .where(PullRequest.task_id == task_id, PullRequest.state == "open")
        .order_by(PullRequest.id.desc())
    )

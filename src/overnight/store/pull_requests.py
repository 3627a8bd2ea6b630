"""Pull request rows: a run's, and the open ones of a task."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from overnight.store.models import HookDelivery, PullRequest


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


def record(
    session: Session,
    *,
    task_id: int,
    run_id: int,
    forge: str,
    branch: str,
    base_branch: str,
    head_sha: str,
    title: str,
    body: str,
    number: int | None,
    url: str | None,
) -> PullRequest:
    """The run's pull request as the forge has it now (one row per run, updated when
    the run is delivered again); earlier runs' open ones are superseded by it."""
    pr = of_run(session, run_id) or PullRequest(task_id=task_id, run_id=run_id)
    pr.forge, pr.branch, pr.base_branch, pr.head_sha = forge, branch, base_branch, head_sha
    pr.title, pr.body, pr.number, pr.url = title, body, number, url
    session.add(pr)
    for old in open_of_task(session, task_id):
        if old.run_id != run_id:
            old.state = "closed"
    return pr


def by_number(session: Session, forge: str, number: int) -> list[PullRequest]:
    """The rows of a remote forge's pull request ``number``, the newest first (one per run
    delivered to it; several repositories may share a number: the caller checks)."""
    return list(
        session.scalars(
            select(PullRequest)
            .where(PullRequest.forge == forge, PullRequest.number == number)
            .order_by(PullRequest.id.desc())
        )
    )


def open_at(session: Session, forge: str, head_sha: str) -> list[PullRequest]:
    """The open pull requests on ``forge`` whose head is ``head_sha``."""
    return list(
        session.scalars(
            select(PullRequest).where(
                PullRequest.forge == forge,
                PullRequest.head_sha == head_sha,
                PullRequest.state == "open",
            )
        )
    )


def first_delivery(session: Session, delivery_id: str) -> bool:
    """Record a webhook delivery; False if it was recorded before (a replay)."""
    if session.get(HookDelivery, delivery_id) is not None:
        return False
    session.add(HookDelivery(id=delivery_id))
    session.flush()
    return True


def last_number(session: Session, task_id: int, forge: str) -> int | None:
    """The number of the task's newest pull request on a remote ``forge``, if any."""
    return session.scalar(
        select(PullRequest.number)
        .where(
            PullRequest.task_id == task_id,
            PullRequest.forge == forge,
            PullRequest.number.is_not(None),
        )
        .order_by(PullRequest.id.desc())
        .limit(1)
    )


def forget_delivery(session: Session, delivery_id: str) -> None:
    """A delivery that could not be acted on: its redelivery is not a replay."""
    found = session.get(HookDelivery, delivery_id)
    if found is not None:
        session.delete(found)

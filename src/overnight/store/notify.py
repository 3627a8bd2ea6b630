"""The notifications' SQL (the tables are in ``notices.py``): what the planner
reads and writes, the outbox's due notices and their locks, the dispatcher's
cursors, the channels set per queue and the outbox listed.

Planning writes notices under unique keys; ``planning`` is its unit of work and
says ``AlreadyPlanned`` when another dispatcher wrote one of them first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overnight.store.db import Store, StoreError
from overnight.store.models import Event, Run, RunStatus, Task, TaskStatus, Turn
from overnight.store.notices import Notice, NoticeState, NotifyChannel, NotifyCursor


class AlreadyPlanned(StoreError):
    """A notice's key (or a cursor's name) was written by another dispatcher first:
    its transaction is rolled back, so nothing was written twice."""


@contextmanager
def planning(store: Store) -> Iterator[Session]:
    """A unit of work that plans notices (``Store.session``, with a unique key
    another dispatcher took first raised as ``AlreadyPlanned``)."""
    try:
        with store.session() as session:
            yield session
    except IntegrityError as exc:
        raise AlreadyPlanned(f"another dispatcher planned it first: {exc.orig}") from exc


# -- planning -----------------------------------------------------------------


def locked_cursor(session: Session, name: str) -> NotifyCursor | None:
    """The cursor ``name``, locked until the transaction ends (None: not started)."""
    return session.get(NotifyCursor, name, with_for_update=True)


def start_cursor(session: Session, name: str, value: str) -> None:
    session.add(NotifyCursor(name=name, value=value))


def queue_channels(session: Session) -> list[NotifyChannel]:
    """The channels set per queue, in the order they were added."""
    return list(session.scalars(select(NotifyChannel).order_by(NotifyChannel.id)))


def add_notice(session: Session, key: str, **values: Any) -> bool:
    """Write the notice unless one with ``key`` exists; True if written."""
    if session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
        return False
    session.add(Notice(key=key, **values))
    return True


def planned_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` have a notice already."""
    return set(session.scalars(select(Notice.key).where(Notice.key.in_(list(keys)))))


def task_costs(session: Session, task_id: int) -> list[float | None]:
    """The cost of every turn of every run of the task (None: unknown price)."""
    return list(
        session.scalars(
            select(Turn.cost).join(Run, Run.id == Turn.run_id).where(Run.task_id == task_id)
        )
    )


def queued_in(session: Session, queues: Sequence[str]) -> list[Task]:
    """The queued tasks of ``queues``, by id."""
    query = select(Task).where(Task.status == TaskStatus.QUEUED, Task.queue.in_(list(queues)))
    return list(session.scalars(query.order_by(Task.id)))


def ready_tasks(session: Session) -> list[Task]:
    """The READY tasks, by id."""
    return list(
        session.scalars(select(Task).where(Task.status == TaskStatus.READY).order_by(Task.id))
    )


def waiting_reviews(session: Session, finished_before: datetime) -> list[tuple[Task, Run]]:
    """(task, run) of READY tasks whose READY run finished at or before ``finished_before``."""
    rows = session.execute(
        select(Task, Run)
        .join(Run, Run.task_id == Task.id)
        .where(
            Task.status == TaskStatus.READY,
            Run.status == RunStatus.READY,
            Run.finished_at <= finished_before,
        )
    )
    return [(task, run) for task, run in rows]


def ended_in(session: Session, kind: str, since: datetime, until: datetime) -> list[Task]:
    """The tasks with a ``kind`` event in [since, until), by id."""
    ids = select(Event.task_id).where(
        Event.kind == kind, Event.created_at >= since, Event.created_at < until
    )
    return list(session.scalars(select(Task).where(Task.id.in_(ids)).order_by(Task.id)))


# -- the outbox ---------------------------------------------------------------


def due(session: Session, moment: datetime, limit: int) -> list[int]:
    """Pending notices whose backoff ended and sending ones whose lease did, by
    ``next_at``."""
    return list(
        session.scalars(
            select(Notice.id)
            .where(
                or_(Notice.state == NoticeState.PENDING, Notice.state == NoticeState.SENDING),
                Notice.next_at <= moment,
            )
            .order_by(Notice.next_at, Notice.id)
            .limit(limit)
        )
    )


def notice(session: Session, notice_id: int, *, lock: bool = False) -> Notice | None:
    """The notice, locked until the transaction ends when ``lock``."""
    return session.get(Notice, notice_id, with_for_update=lock)


def states(session: Session, key_prefix: str) -> dict[str, int]:
    """How many of the notices whose key starts with ``key_prefix`` are in each state."""
    rows = session.execute(
        select(Notice.state, func.count())
        .where(Notice.key.startswith(key_prefix, autoescape=True))
        .group_by(Notice.state)
    )
    return {state: count for state, count in rows}


def latest(session: Session, state: str | None, limit: int) -> list[Notice]:
    """The latest notices (in ``state``, if given), newest first."""
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if state:
        query = query.where(Notice.state == state)
    return list(session.scalars(query))


# -- channels per queue -------------------------------------------------------


def add_channel(session: Session, queue: str, settings: dict[str, Any]) -> int:
    """Keep a channel's settings for ``queue``; its id."""
    row = NotifyChannel(queue=queue, settings=settings)
    session.add(row)
    session.flush()
    return row.id


def remove_channel(session: Session, channel_id: int) -> bool:
    """Delete the channel; False if there was none."""
    row = session.get(NotifyChannel, channel_id)
    if row is None:
        return False
    session.delete(row)
    return True

"""Event rows as they are read in order (by id, of one task or all), and the
PostgreSQL channel a new event is announced on (``Store.event`` notifies it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overnight.store.db import Store
from overnight.store.models import Event

CHANNEL = "overnight_events"


def after(
    session: Session, last: int, task_id: int | None, limit: int | None = None
) -> list[Event]:
    """Events with ids above ``last`` (of ``task_id``, or all), oldest first."""
    query = select(Event).where(Event.id > last).order_by(Event.id).limit(limit)
    if task_id is not None:
        query = query.where(Event.task_id == task_id)
    return list(session.scalars(query))


def last_id(session: Session, task_id: int | None = None) -> int:
    """The latest event's id (of ``task_id``, or of all); 0 when there is none."""
    query = select(func.coalesce(func.max(Event.id), 0))
    if task_id is not None:
        query = query.where(Event.task_id == task_id)
    return session.scalar(query) or 0


def recent_events(session: Session, task_id: int, limit: int = 200) -> list[Event]:
    """The task's last ``limit`` events, oldest first."""
    newest = session.scalars(
        select(Event).where(Event.task_id == task_id).order_by(Event.id.desc()).limit(limit)
    )
    return list(reversed(list(newest)))


def events_of(session: Session, task_ids: Sequence[int], after: int) -> list[Event]:
    """The tasks' events with ids above ``after``, oldest first."""
    return list(
        session.scalars(
            select(Event).where(Event.task_id.in_(task_ids), Event.id > after).order_by(Event.id)
        )
    )


def listener(store: Store) -> Any:
    """A connection listening on ``CHANNEL`` (None on SQLite, which is polled);
    its ``notifies`` wakes a reader when an event is written."""
    if store.is_sqlite:
        return None
    import psycopg

    url = store.engine.url.set(drivername="postgresql")
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn

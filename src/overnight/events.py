"""Following events as they are written: PostgreSQL LISTEN/NOTIFY wakes the
reader at once; on SQLite (and as a fallback) the events table is polled."""

from __future__ import annotations

import time
from collections.abc import Iterator

from sqlalchemy import func, select

from overnight.store import Event, Store, Task, TaskStatus

CHANNEL = "overnight_events"


def follow(
    store: Store,
    *,
    task_id: int | None = None,
    since: int = 0,
    until_idle: bool = False,
    poll: float = 0.5,
) -> Iterator[Event]:
    """Yield events with ids above ``since`` (0: only new ones), forever or until idle."""
    last = since or _last_id(store)
    listener = _listener(store)
    try:
        while True:
            with store.session() as session:
                # idle is read before the events, so the last task's final event
                # committed in between is still read below
                idle = (
                    until_idle
                    and session.scalar(
                        select(func.count()).where(
                            Task.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING])
                        )
                    )
                    == 0
                )
                query = select(Event).where(Event.id > last).order_by(Event.id).limit(500)
                if task_id is not None:
                    query = query.where(Event.task_id == task_id)
                batch = list(session.scalars(query))
                idle = idle and not batch
            for event in batch:
                last = event.id
                yield event
            if idle:
                return
            if not batch:
                _wait(listener, poll)
    finally:
        if listener is not None:
            listener.close()


def _last_id(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0


def _listener(store: Store):  # type: ignore[no-untyped-def]
    if store.is_sqlite:
        return None
    import psycopg

    url = store.engine.url.set(drivername="postgresql")
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


def _wait(listener, poll: float) -> None:  # type: ignore[no-untyped-def]
    if listener is None:
        time.sleep(poll)
        return
    for _ in listener.notifies(timeout=poll, stop_after=1):
        break

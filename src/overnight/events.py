"""Following events as they are written: PostgreSQL LISTEN/NOTIFY wakes the
reader at once (``store/events.py`` listens); on SQLite (and as a fallback)
the events table is polled."""

from __future__ import annotations

import time
from collections.abc import Iterator

from overnight.store import Event, Store, tasks
from overnight.store import events as rows


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
    listener = rows.listener(store)
    try:
        while True:
            with store.session() as session:
                # idle is read before the events, so the last task's final event
                # committed in between is still read below
                idle = until_idle and tasks.count_active(session) == 0
                batch = rows.after(session, last, task_id, limit=500)
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
        return rows.last_id(session)


def _wait(listener, poll: float) -> None:  # type: ignore[no-untyped-def]
    if listener is None:
        time.sleep(poll)
        return
    for _ in listener.notifies(timeout=poll, stop_after=1):
        break

"""Which notices to send: each becomes a pending ``Notice`` row with a unique key,
so however often this runs, a notice is planned once.

- ``plan_events``: READY and FAILED events after the dispatcher's cursor; the
  cursor moves in the same transaction as the notices are written.
- ``plan_holds``: queued tasks held by their queue's spent daily budget, once a UTC day.
- ``plan_reminders``: READY runs nobody reviewed after ``review_after``, once a run.
- ``plan_digest``: one summary per channel that wants it.

A task's channels are its project's ``[[notify.channel]]`` tables (stored with
the task) and the channels set for its queue or for every queue (``*``).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from overnight.errors import ConfigError
from overnight.holds import queue_states
from overnight.notify.notices import SECTIONS, digest_payload, task_facts, task_payload
from overnight.notify.settings import Channel, parse_channel, parse_notify
from overnight.store import Event, Session, Task
from overnight.store import events as event_rows
from overnight.store import notify as notice_rows

log = logging.getLogger(__name__)
EVENT_KINDS = {"ready": "ready", "failed": "failed"}  # event kind -> notice kind
CURSOR = "events"
Sections = dict[str, list[dict[str, Any]]]  # a digest's section -> its tasks' facts
BATCH = 500


class Channels:
    """The channels of tasks, read once per planning pass."""

    def __init__(self, session: Session) -> None:
        self.by_queue: dict[str, list[Channel]] = defaultdict(list)
        for row in notice_rows.queue_channels(session):
            self.by_queue[row.queue].append(parse_channel(row.settings, f"channel {row.id}"))
        self._projects: dict[int, list[Channel]] = {}

    def of(self, task: Task, kind: str) -> list[Channel]:
        """The channels that want ``kind`` notices about ``task``, each once."""
        found = [*self._project(task), *self.by_queue[task.queue], *self.by_queue["*"]]
        wanted = {c.label: c for c in found if c.wants(kind, task.queue)}
        return list(wanted.values())

    def for_digest(self) -> list[Channel]:
        """The channels set per queue that want the digest."""
        return [c for cs in self.by_queue.values() for c in cs if c.wants("digest")]

    def _project(self, task: Task) -> list[Channel]:
        if task.id not in self._projects:
            table = (task.config or {}).get("notify") or {}
            try:
                self._projects[task.id] = parse_notify(table, f"task {task.id}")
            except ConfigError as exc:  # a task stored before submit checked the table
                log.warning("notify: %s; its project's channels are skipped", exc)
                self._projects[task.id] = []
        return self._projects[task.id]


def enqueue(
    session: Session,
    moment: datetime,
    key: str,
    channel: Channel,
    payload: dict[str, Any],
    *,
    task_id: int | None = None,
    event_id: int | None = None,
) -> bool:
    """Write the notice unless one with ``key`` exists; True if written."""
    return notice_rows.add_notice(
        session,
        key,
        delivery=uuid.uuid4().hex,
        kind=payload["event"],
        task_id=task_id,
        event_id=event_id,
        channel=channel.label,
        target=channel.to_dict(),
        payload=payload,
        next_at=moment,
        created_at=moment,
    )


def plan_events(session: Session, moment: datetime, dashboard_url: str | None) -> int:
    """Notices for the events after the cursor (the first pass starts at the last event)."""
    cursor = notice_rows.locked_cursor(session, CURSOR)
    if cursor is None:
        notice_rows.start_cursor(session, CURSOR, str(event_rows.last_id(session)))
        return 0
    events = event_rows.after(session, int(cursor.value), None, BATCH)
    channels, planned = Channels(session), 0
    for event in events:
        kind = EVENT_KINDS.get(event.kind)
        task = session.get(Task, event.task_id) if kind else None
        if kind is None or task is None:
            continue
        facts = task_facts(session, task, dashboard_url, reason=_reason(kind, event))
        facts["status"] = kind  # as the event says, though the task may have moved on
        for channel in channels.of(task, kind):
            key = f"event:{event.id}:{channel.label}"
            planned += enqueue(
                session,
                moment,
                key,
                channel,
                task_payload(kind, facts),
                task_id=task.id,
                event_id=event.id,
            )
    if events:
        cursor.value = str(events[-1].id)
    return planned


def plan_holds(session: Session, moment: datetime, dashboard_url: str | None) -> int:
    """A notice for each queued task its queue's spent budget holds, once a UTC day."""
    held = {name: s.hold for name, s in queue_states(session, moment).items() if s.budget_spent}
    if not held:
        return 0
    channels, planned = Channels(session), 0
    for task in notice_rows.queued_in(session, list(held)):
        wanted = _unplanned(
            session,
            {f"held:{task.id}:{moment:%Y-%m-%d}:{c.label}": c for c in channels.of(task, "held")},
        )
        if not wanted:
            continue
        hold = held[task.queue]
        facts = task_facts(session, task, dashboard_url, reason=hold.message if hold else None)
        for key, channel in wanted.items():
            planned += enqueue(
                session, moment, key, channel, task_payload("held", facts), task_id=task.id
            )
    return planned


def plan_reminders(
    session: Session, moment: datetime, after: timedelta, dashboard_url: str | None
) -> int:
    """A reminder for each READY run that waited for review longer than ``after``."""
    channels, planned = Channels(session), 0
    for task, run in notice_rows.waiting_reviews(session, moment - after):
        wanted = _unplanned(
            session, {f"review:{run.id}:{c.label}": c for c in channels.of(task, "review")}
        )
        if not wanted:
            continue
        waited = f"READY since {run.finished_at:%Y-%m-%d %H:%M} UTC"
        facts = task_facts(session, task, dashboard_url, reason=waited)
        for key, channel in wanted.items():
            planned += enqueue(
                session, moment, key, channel, task_payload("review", facts), task_id=task.id
            )
    return planned


def plan_digest(
    session: Session, since: datetime, until: datetime, key: str, dashboard_url: str | None
) -> int:
    """One digest per channel that wants it, of the tasks it hears about; the
    channels set per queue get one even when nothing happened."""
    channels = Channels(session)
    groups: dict[str, tuple[Channel, Sections]] = {
        c.label: (c, {s: [] for s in SECTIONS}) for c in channels.for_digest()
    }
    held = {name: s.hold for name, s in queue_states(session, until).items() if s.budget_spent}
    for section, task in _digest_tasks(session, since, until, list(held)):
        hold = held.get(task.queue) if section == "held" else None
        facts = task_facts(session, task, dashboard_url, reason=hold.message if hold else None)
        for channel in channels.of(task, "digest"):
            groups.setdefault(channel.label, (channel, {s: [] for s in SECTIONS}))
            groups[channel.label][1][section].append(facts)
    planned = 0
    for label, (channel, sections) in groups.items():
        payload = digest_payload(since, until, sections)
        planned += enqueue(session, until, f"digest:{key}:{label}", channel, payload)
    return planned


def _digest_tasks(
    session: Session, since: datetime, until: datetime, held_queues: list[str]
) -> Iterator[tuple[str, Task]]:
    """(section, task): READY or FAILED in the window, READY now, held now."""
    for kind in ("ready", "failed"):
        yield from ((kind, t) for t in notice_rows.ended_in(session, kind, since, until))
    yield from (("review", t) for t in notice_rows.ready_tasks(session))
    yield from (("held", t) for t in notice_rows.queued_in(session, held_queues))


def _unplanned(session: Session, wanted: dict[str, Channel]) -> dict[str, Channel]:
    """The notices of ``wanted`` (by key) not planned yet: a pass over held and
    waiting tasks reads their facts only for notices it will write."""
    if not wanted:
        return {}
    planned = notice_rows.planned_keys(session, list(wanted))
    return {key: channel for key, channel in wanted.items() if key not in planned}


def _reason(kind: str, event: Event) -> str | None:
    if kind == "failed":
        return event.message.removeprefix("FAILED: ")
    return None

"""Fleet views and settings: workers and the one rule that says which are live
(the CLI and the dashboard both read ``workers``), and queue budgets shared
through the store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from overnight.errors import UsageError
from overnight.holds import SILENT_AFTER, QueueState, queue_states, spent_today
from overnight.store import Session, Store, TaskStatus, now, scheduling
from overnight.store.workers import WorkerRow, recent, running_tasks


def worker_state(worker: WorkerRow, moment: datetime) -> str:
    """live, silent (no heartbeat for ``SILENT_AFTER``: crashed or partitioned) or stopped."""
    if worker.stopped_at is not None:
        return "stopped"
    return "silent" if moment - worker.heartbeat_at >= SILENT_AFTER else "live"


def workers(session: Session, moment: datetime, limit: int | None = 100) -> list[dict[str, Any]]:
    """Workers, the most recently heard first: their slots, state (``worker_state``),
    heartbeat age and running tasks (id and title), for the CLI and the dashboard."""
    running = running_tasks(session)
    return [
        {
            "id": w.id,
            "hostname": w.hostname,
            "pid": w.pid,
            "slots": w.slots,
            "state": worker_state(w, moment),
            "heartbeat_age": (moment - w.heartbeat_at).total_seconds(),
            "started_at": w.started_at,
            "heartbeat_at": w.heartbeat_at,
            "stopped_at": w.stopped_at,
            "tasks": [{"id": i, "title": title} for i, title in running.get(w.id, [])],
        }
        for w in recent(session, limit)
    ]


def live_workers(store: Store, include_gone: bool = False) -> list[dict[str, Any]]:
    """``workers`` as ``overnight workers --json`` prints them: live ones only unless
    ``include_gone``, times as text, task ids."""
    with store.reading() as session:
        rows = workers(session, now(), limit=None)
    return [_as_printed(w) for w in rows if include_gone or w["state"] == "live"]


def _as_printed(w: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "hostname", "pid", "slots", "state", "heartbeat_age")
    return {k: w[k] for k in keys} | {
        "started_at": w["started_at"].isoformat(timespec="seconds"),
        "tasks": [t["id"] for t in w["tasks"]],
    }


def set_queue(
    store: Store,
    name: str,
    *,
    usd_per_day: float | None = None,
    paused: bool | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Change a queue's settings (``until``: pause it until then, UTC); returns its
    state as ``queue_list`` shows it."""
    with store.session() as session:
        scheduling.set_queue(session, name, usd_per_day=usd_per_day, paused=paused, until=until)
    return next(q for q in queue_list(store) if q["name"] == name)


def pause_end(text: str, moment: datetime) -> datetime:
    """The UTC time ``text`` names: ``HH:MM`` (its next occurrence) or an ISO date
    and time (UTC unless it carries an offset); it must be in the future."""
    clock = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    if clock:
        end = moment.replace(hour=int(clock[1]), minute=int(clock[2]), second=0, microsecond=0)
        return end if end > moment else end + timedelta(days=1)
    try:
        end = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--pause-until {text!r}: give HH:MM (UTC) or a date and time such as 2026-12-03T07:00"
        ) from None
    if end.tzinfo is not None:
        end = end.astimezone(UTC).replace(tzinfo=None)
    if end <= moment:
        raise UsageError(
            f"--pause-until {text}: that is in the past (now {moment:%Y-%m-%d %H:%M} UTC)"
        )
    return end


def queue_list(store: Store) -> list[dict[str, Any]]:
    """Every queue (configured, or named by a task): active or paused and why, today's
    spend against its daily budget, when a budget pause ends, tasks queued and running."""
    moment = now()
    with store.reading() as session:
        states = queue_states(session, moment)
        spent = spent_today(session, moment, None)
        counts = scheduling.active_per_queue(session)
    rows = []
    for name in sorted(set(states) | set(counts) | set(spent) | {"default"}):
        state = states.get(name) or QueueState(name, False, None, 0.0, moment)
        hold = state.hold
        until = hold.until if hold else None
        rows.append(
            {
                "name": name,
                "state": "paused" if hold else "active",
                "why": hold.message if hold else None,
                "paused_by_hand": state.paused,
                "spent_today_usd": round(spent.get(name, 0.0), 6),
                "usd_per_day": state.usd_per_day,
                "paused_until": until.isoformat(timespec="seconds") if until else None,
                "queued": counts.get(name, {}).get(TaskStatus.QUEUED, 0),
                "running": counts.get(name, {}).get(TaskStatus.RUNNING, 0),
            }
        )
    return rows

"""Fleet views and settings: live workers, and queue budgets shared through the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from overnight.store import Queue, Store, Task, TaskStatus, Worker, now


def live_workers(store: Store, include_gone: bool = False) -> list[dict[str, Any]]:
    """Workers with their slots, heartbeat age and current tasks. A worker that
    has not sent a heartbeat for a minute is 'silent' (crashed or partitioned)."""
    moment = now()
    with store.session() as session:
        running: dict[str, list[int]] = {}
        for task in session.scalars(select(Task).where(Task.status == TaskStatus.RUNNING)):
            if task.lease_owner:
                running.setdefault(task.lease_owner, []).append(task.id)
        rows = []
        for worker in session.scalars(select(Worker).order_by(Worker.started_at)):
            age = (moment - worker.heartbeat_at).total_seconds()
            state = "stopped" if worker.stopped_at else "silent" if age > 60 else "live"
            if state != "live" and not include_gone:
                continue
            rows.append({"id": worker.id, "hostname": worker.hostname, "pid": worker.pid,
                         "slots": worker.slots, "state": state, "heartbeat_age": age,
                         "started_at": worker.started_at.isoformat(timespec="seconds"),
                         "tasks": sorted(running.get(worker.id, []))})  # fmt: skip
    return rows


def set_queue(store: Store, name: str, *, usd_per_day: float | None = None,
              paused: bool | None = None) -> dict[str, Any]:  # fmt: skip
    with store.session() as session:
        queue = session.get(Queue, name) or Queue(name=name, paused=False)
        session.add(queue)
        if usd_per_day is not None:
            queue.usd_per_day = usd_per_day
        if paused is not None:
            queue.paused = paused
        return {"usd_per_day": queue.usd_per_day, "paused": queue.paused}

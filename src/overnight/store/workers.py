"""Worker rows: a worker registers, beats and stops; the fleet's view reads them."""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from overnight.store.models import Task, TaskStatus, Worker, now


@dataclass(frozen=True)
class WorkerRow:
    id: str
    hostname: str
    pid: int
    slots: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


def register(
    session: Session, worker_id: str, slots: int, max_running: int | None, max_per_repo: int | None
) -> None:
    """Record a worker starting on this host, in this process."""
    session.merge(
        Worker(
            id=worker_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            slots=slots,
            max_running=max_running,
            max_per_repo=max_per_repo,
            started_at=now(),
            heartbeat_at=now(),
        )
    )


def beat(session: Session, worker_id: str, stopped: bool) -> None:
    """The worker is alive now (and stopping, when ``stopped``)."""
    worker = session.get(Worker, worker_id)
    if worker is not None:
        worker.heartbeat_at = now()
        if stopped:
            worker.stopped_at = now()


def recent(session: Session, limit: int | None) -> list[WorkerRow]:
    """Workers, the most recently heard first."""
    rows = session.scalars(select(Worker).order_by(Worker.heartbeat_at.desc()).limit(limit))
    return [
        WorkerRow(w.id, w.hostname, w.pid, w.slots, w.started_at, w.heartbeat_at, w.stopped_at)
        for w in rows
    ]


def running_tasks(session: Session) -> dict[str | None, list[tuple[int, str]]]:
    """The running tasks (id, title) of each lease owner, oldest first."""
    running: dict[str | None, list[tuple[int, str]]] = defaultdict(list)
    for t in session.execute(
        select(Task.id, Task.title, Task.lease_owner)
        .where(Task.status == TaskStatus.RUNNING)
        .order_by(Task.id)
    ):
        running[t.lease_owner].append((t.id, t.title))
    return running

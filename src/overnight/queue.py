"""The queue is the tasks table with leases.

``claim`` takes the best claimable task (highest priority, oldest first, its
dependencies satisfied), or one whose lease expired because its worker
stopped heartbeating. Every claim bumps the task's fencing token; writes of
results go through ``guard``, which refuses a worker that lost its lease.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from overnight.config import ProjectConfig
from overnight.errors import LeaseLost, StateError, UsageError
from overnight.spec import Spec
from overnight.store import Run, Store, Task, TaskStatus, Worker, now

LEASE_SECONDS = 30.0


@dataclass(frozen=True)
class Claim:
    task_id: int
    run_id: int
    fence: int
    worker_id: str
    takeover: bool = False


def submit(
    store: Store,
    spec: Spec,
    spec_text: str,
    config: ProjectConfig,
    *,
    repo: str,
    base_ref: str,
    base_sha: str,
    agent: str,
) -> Task:
    """Queue a validated spec; returns the task with its id."""
    with store.session() as session:
        for dep in spec.depends_on:
            if session.get(Task, dep.task) is None:
                raise UsageError(f"depends_on: no task {dep.task}; submit it first")
        task = Task(
            title=spec.title,
            slug=spec.slug,
            priority=spec.priority,
            spec=spec.to_dict(),
            spec_text=spec_text,
            config=config.to_dict(),
            repo=repo,
            base_ref=base_ref,
            base_sha=base_sha,
            branch="",
            agent=agent,
            instance_id=spec.instance_id,
        )
        session.add(task)
        session.flush()
        task.branch = f"overnight/{task.id}-{task.slug}"
        session.add(Run(task_id=task.id, number=1, base_sha=base_sha))
        store.event(session, task.id, "queued", f"queued at {base_ref} ({base_sha[:10]})")
    return task


def claim(store: Store, worker_id: str, lease: float = LEASE_SECONDS) -> Claim | None:
    """Take one task for ``worker_id``, or return None when nothing is claimable."""
    with store.session() as session:
        moment = now()
        query = (
            select(Task)
            .where(
                or_(
                    Task.status == TaskStatus.QUEUED,
                    (Task.status == TaskStatus.RUNNING) & (Task.lease_expires < moment),
                )
            )
            .order_by(Task.priority.desc(), Task.id)
            .limit(50)
        )
        if not store.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        for task in session.scalars(query):
            if task.status == TaskStatus.QUEUED and not _dependencies_ready(store, session, task):
                continue
            takeover = task.status == TaskStatus.RUNNING
            previous = task.lease_owner
            task.status = TaskStatus.RUNNING
            task.lease_owner = worker_id
            task.lease_expires = moment + timedelta(seconds=lease)
            task.fence += 1
            run = task.runs[-1]
            note = f" (taken over from {previous}: its lease expired)" if takeover else ""
            store.event(session, task.id, "claimed", f"claimed by {worker_id}{note}", run.id)
            return Claim(task.id, run.id, task.fence, worker_id, takeover)
    return None


def _dependencies_ready(store: Store, session: Session, task: Task) -> bool:
    """True when every dependency is done; fails the task if one never will be."""
    for dep in task.spec.get("depends_on", []):
        other = session.get(Task, dep["task"])
        wanted = (
            {TaskStatus.MERGED}
            if dep.get("until") == "merged"
            else {TaskStatus.READY, TaskStatus.MERGED}
        )
        if other is not None and other.status in wanted:
            continue
        dead = other is None or other.status in (
            TaskStatus.FAILED,
            TaskStatus.CANCELLED,
            TaskStatus.REJECTED,
        )
        if dead:
            state = other.status if other else "missing"
            task.status = TaskStatus.FAILED
            task.failure_reason = f"dependency: task {dep['task']} is {state}"
            store.event(session, task.id, "failed", task.failure_reason)
        return False
    return True


def guard(session: Session, claim: Claim) -> Task:
    """The claimed task, locked for this write; LeaseLost if the claim is stale."""
    query = select(Task).where(Task.id == claim.task_id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    task = session.scalars(query).one()
    if task.fence != claim.fence or task.lease_owner != claim.worker_id:
        raise LeaseLost(
            f"task {claim.task_id}: lease lost by {claim.worker_id} "
            f"(fence {claim.fence}, now {task.fence}); result not written"
        )
    return task


def heartbeat(store: Store, claims: list[Claim], lease: float = LEASE_SECONDS) -> set[int]:
    """Renew the leases; return the ids of tasks whose cancellation was requested."""
    cancelled = set()
    with store.session() as session:
        for c in claims:
            result = session.execute(
                update(Task)
                .where(Task.id == c.task_id, Task.fence == c.fence, Task.lease_owner == c.worker_id)
                .values(lease_expires=now() + timedelta(seconds=lease))
            )
            task = session.get(Task, c.task_id)
            if result.rowcount == 0 or (task is not None and task.cancel_requested):  # type: ignore[attr-defined]
                cancelled.add(c.task_id)
    return cancelled


def release(session: Session, task: Task) -> None:
    task.lease_owner = None
    task.lease_expires = None


def cancel(store: Store, task_id: int | str) -> Task:
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status == TaskStatus.QUEUED:
            task.status = TaskStatus.CANCELLED
            task.failure_reason = "cancelled before it started"
            task.runs[-1].status = "cancelled"
            store.event(session, task.id, "cancelled", "cancelled while queued")
        elif task.status == TaskStatus.RUNNING:
            task.cancel_requested = True
            store.event(
                session,
                task.id,
                "cancel-requested",
                "cancel requested; the worker will stop it at once",
            )
        else:
            raise StateError(
                f"task {task.id} is {task.status}: only queued or running tasks can be cancelled"
            )
        return task


def register_worker(store: Store, worker_id: str, slots: int) -> None:
    import os

    with store.session() as session:
        session.merge(
            Worker(
                id=worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                slots=slots,
                started_at=now(),
                heartbeat_at=now(),
            )
        )


def worker_heartbeat(store: Store, worker_id: str, stopped: bool = False) -> None:
    with store.session() as session:
        worker = session.get(Worker, worker_id)
        if worker is not None:
            worker.heartbeat_at = now()
            if stopped:
                worker.stopped_at = now()


def pending(store: Store) -> int:
    """Tasks still queued or running (used by ``worker --drain``)."""
    with store.session() as session:
        rows = session.scalars(
            select(Task.id).where(Task.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING]))
        ).all()
        return len(rows)

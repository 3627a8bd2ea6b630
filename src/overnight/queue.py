"""The queue is the tasks table with leases.

``claim`` takes the best claimable task (highest priority, oldest first, its
dependencies satisfied), or one whose lease expired because its worker
stopped heartbeating. Every claim bumps the task's fencing token; writes of
results go through ``guard``, which refuses a worker that lost its lease.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from overnight.config import ProjectConfig
from overnight.errors import LeaseLost, StateError, UsageError
from overnight.spec import Spec
from overnight.store import Queue, Run, Store, Task, TaskStatus, Turn, Worker, now

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
        check_dependencies(session, spec)
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
            queue=spec.queue,
        )
        session.add(task)
        session.flush()
        task.branch = f"overnight/{task.id}-{task.slug}"
        session.add(Run(task_id=task.id, number=1, base_sha=base_sha))
        store.event(session, task.id, "queued", f"queued at {base_ref} ({base_sha[:10]})")
    return task


def check_dependencies(session: Session, spec: Spec) -> None:
    """Refuse a spec that depends on a task the store does not have."""
    for dep in spec.depends_on:
        if session.get(Task, dep.task) is None:
            raise UsageError(f"depends_on: no task {dep.task}; submit it first")


@dataclass(frozen=True)
class Limits:
    """Concurrency limits every worker enforces at claim time (slots are per worker)."""

    running: int | None = None  # tasks running at once, all workers together
    per_repo: int | None = None  # tasks running at once on one repository


NO_LIMITS = Limits()
MAX_CLAIMS = 20  # a run taken up more often than this fails as an infrastructure problem


def claim(
    store: Store, worker_id: str, lease: float = LEASE_SECONDS, limits: Limits | None = None
) -> Claim | None:
    """Take one task for ``worker_id``, or return None when nothing is claimable."""
    limits = limits or Limits()
    with store.session() as session:
        moment = now()
        live: dict[str, int] = {}  # running tasks per repository, counted only for limits
        if limits.running is not None or limits.per_repo is not None:
            if not store.is_sqlite:
                session.execute(text("SELECT pg_advisory_xact_lock(7355609)"))  # exact counts
            live = dict(session.execute(
                select(Task.repo, func.count()).where(
                    Task.status == TaskStatus.RUNNING, Task.lease_expires >= moment
                ).group_by(Task.repo)
            ).all())  # fmt: skip
        if limits.running is not None and sum(live.values()) >= limits.running:
            return None
        paused = paused_queues(session, moment)
        for task_id, queue_name, repo, status, previous, fence in _candidates(
            session, store, moment
        ):
            if queue_name in paused:
                continue
            if limits.per_repo is not None and live.get(repo, 0) >= limits.per_repo:
                continue
            spec, run_id, claims = session.execute(_CURRENT_RUN, {"task": task_id}).one()
            if status == TaskStatus.QUEUED and (spec or {}).get("depends_on"):
                task = session.get(Task, task_id)
                if task is None or not _dependencies_ready(store, session, task):
                    continue
            if claims + 1 > MAX_CLAIMS:
                _give_up(store, session, task_id, run_id)
                continue
            session.execute(update(Run).where(Run.id == run_id).values(claims=claims + 1))
            session.execute(update(Task).where(Task.id == task_id).values(
                status=TaskStatus.RUNNING, not_before=None, lease_owner=worker_id,
                lease_expires=moment + timedelta(seconds=lease), fence=fence + 1,
                updated_at=moment,
            ))  # fmt: skip
            takeover = status == TaskStatus.RUNNING
            note = f" (taken over from {previous}: its lease expired)" if takeover else ""
            store.event(session, task_id, "claimed", f"claimed by {worker_id}{note}", run_id)
            return Claim(task_id, run_id, fence + 1, worker_id, takeover)
    return None


# claimable: queued and due (walking the claim-order index), or running with an expired
# lease (found by the lease index): two queries, where one OR of both sorts the queue
CANDIDATES = 50  # looked at per claim (and locked, on PostgreSQL)
_COLUMNS = (Task.id, Task.queue, Task.repo, Task.status, Task.lease_owner, Task.fence,
            Task.priority)  # fmt: skip
_DUE = (select(*_COLUMNS).where(
    Task.status == TaskStatus.QUEUED,
    Task.not_before.is_(None) | (Task.not_before <= bindparam("moment")),
).order_by(Task.priority.desc(), Task.id).limit(CANDIDATES))  # fmt: skip
_EXPIRED = (select(*_COLUMNS).where(  # few, found by their lease; sorted with the others
    Task.status == TaskStatus.RUNNING, Task.lease_expires < bindparam("moment"),
).limit(CANDIDATES))  # fmt: skip
_CURRENT_RUN = (
    select(Task.spec, Run.id, Run.claims).join(Run, Run.task_id == Task.id)
    .where(Task.id == bindparam("task")).order_by(Run.number.desc()).limit(1)
)  # fmt: skip


def _candidates(session: Session, store: Store, moment: datetime) -> list[Any]:
    """The first claimable tasks in claim order, locked on PostgreSQL (skipping
    those another worker is claiming)."""
    rows: list[Any] = []
    for query in (_DUE, _EXPIRED):
        if not store.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=Task)
        rows += session.execute(query, {"moment": moment}).all()
    rows = sorted(rows, key=lambda r: (-r.priority, r.id))[:CANDIDATES]  # merged
    return [row[:6] for row in rows]


def _give_up(store: Store, session: Session, task_id: int, run_id: int) -> None:
    task, run = session.get(Task, task_id), session.get(Run, run_id)
    assert task is not None and run is not None
    reason = (
        f"infrastructure: run {run.number} was started {MAX_CLAIMS} times without "
        "finishing (workers crashing or the environment failing); see the events"
    )
    task.status, task.failure_reason = TaskStatus.FAILED, reason
    run.status, run.failure_reason, run.finished_at = TaskStatus.FAILED, reason, now()
    release(session, task)
    store.event(session, task.id, "failed", reason, run.id)


def paused_queues(session: Session, moment: datetime) -> set[str]:
    """Queues paused by hand or whose spending today reached their daily budget."""
    paused = set()
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    for queue in session.scalars(select(Queue)):
        if queue.paused:
            paused.add(queue.name)
        elif queue.usd_per_day is not None:
            spent = session.scalar(
                select(func.coalesce(func.sum(Turn.cost), 0.0))
                .join(Run, Run.id == Turn.run_id).join(Task, Task.id == Run.task_id)
                .where(Task.queue == queue.name, Turn.created_at >= day)
            )  # fmt: skip
            if spent is not None and spent >= queue.usd_per_day:
                paused.add(queue.name)
    return paused


def requeue(store: Store, claim: Claim, reason: str, delay: float = 0.0) -> None:
    """Give the task back to the queue (a worker stopping, an infrastructure
    problem): its run resumes from its last checkpoint, after ``delay`` seconds."""
    with store.session() as session:
        task = guard(session, claim)
        task.status = TaskStatus.QUEUED
        task.not_before = now() + timedelta(seconds=delay) if delay else None
        release(session, task)
        run = session.get(Run, claim.run_id)
        if run is not None:
            run.status = "queued"
        wait = f"; retried in {delay:.0f} s" if delay else ""
        store.event(session, task.id, "requeued", f"{reason}{wait}", claim.run_id)


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

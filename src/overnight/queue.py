"""The queue is the tasks table with leases.

``claim`` takes the best claimable task (highest priority, oldest first, its
dependencies satisfied), or one whose lease expired because its worker
stopped heartbeating. Every claim bumps the task's fencing token; writes of
results go through ``guard``, which refuses a worker that lost its lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from overnight import lifecycle
from overnight.config import ProjectConfig
from overnight.errors import LeaseLost, UsageError
from overnight.holds import (
    Limits,
    day_start,
    dependency_hold,
    dependency_statuses,
    limit_hold,
    queue_states,
    running_per_repo,
)
from overnight.spec import Spec
from overnight.store import (
    Run,
    Session,
    Store,
    Task,
    TaskStatus,
    claiming,
    now,
    scheduling,
    tasks,
    workers,
)

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


NO_LIMITS = Limits()


def claim(
    store: Store, worker_id: str, lease: float = LEASE_SECONDS, limits: Limits | None = None
) -> Claim | None:
    """Take one task for ``worker_id``, or return None when nothing is claimable.

    The rules (``store/claiming.py`` lists them in full): at the global limit
    nothing starts; paused queues (by hand or a spent daily budget) are left
    out; candidates are due queued tasks in claim order (priority, then id) and
    running tasks whose lease expired, up to ``CANDIDATES``; one at its
    repository's limit is skipped, one whose dependencies are not done waits
    (or fails if one never will be), one started ``RETRIES.limit`` times fails;
    the first left is claimed with a new lease and fencing token. On PostgreSQL
    the server applies them in one round trip (``claiming``); SQLite runs them
    here, the reference both are tested against."""
    limits = limits or NO_LIMITS
    if not store.is_sqlite:
        return _claim_on_server(store, worker_id, lease, limits)
    with store.session() as session:
        moment = now()
        live: dict[str, int] = {}  # running tasks per repository, counted only for limits
        if limits.running is not None or limits.per_repo is not None:
            live = running_per_repo(session, moment)
        if limit_hold("", live, Limits(running=limits.running)):  # nothing may start
            return None
        paused = paused_queues(session, moment)
        for task_id, queue_name, repo, status, previous, fence in scheduling.candidates(
            session, moment, paused
        ):
            if queue_name in paused or limit_hold(repo, live, limits):
                continue
            spec, run_id, claims = scheduling.current_run(session, task_id)
            depends_on = (spec or {}).get("depends_on") if status == TaskStatus.QUEUED else None
            if depends_on and not _dependencies_ready(session, task_id, depends_on):
                continue
            if lifecycle.RETRIES.spent(claims):
                _give_up(session, task_id, run_id)
                continue
            lifecycle.take(
                session,
                task_id,
                run_id,
                claims + 1,
                lease_owner=worker_id,
                lease_expires=moment + timedelta(seconds=lease),
                fence=fence + 1,
                updated_at=moment,
            )
            takeover = status == TaskStatus.RUNNING
            note = f" (taken over from {previous}: its lease expired)" if takeover else ""
            store.event(session, task_id, "claimed", f"claimed by {worker_id}{note}", run_id)
            return Claim(task_id, run_id, fence + 1, worker_id, takeover)
    return None


def _claim_on_server(store: Store, worker_id: str, lease: float, limits: Limits) -> Claim | None:
    """PostgreSQL's claim: one statement, its own transaction."""
    moment = now()
    with store.autocommit() as conn:
        claimed = claiming.claim(
            conn,
            worker_id,
            moment=moment,
            expires=moment + timedelta(seconds=lease),
            day=day_start(moment),
            running=limits.running,
            per_repo=limits.per_repo,
            retries=lifecycle.RETRIES.limit,
        )
    if claimed is None:
        return None
    return Claim(claimed.task_id, claimed.run_id, claimed.fence, worker_id, claimed.takeover)


CANDIDATES = scheduling.CANDIDATES  # tasks a claim looks at (and locks, on PostgreSQL)


def _give_up(session: Session, task_id: int, run_id: int) -> None:
    task, run = session.get(Task, task_id), session.get(Run, run_id)
    assert task is not None and run is not None
    reason = (
        f"infrastructure: run {run.number} was started {lifecycle.RETRIES.limit} times without "
        "finishing (workers crashing or the environment failing); see the events"
    )
    lifecycle.fail(session, task, run, reason)


def paused_queues(session: Session, moment: datetime) -> set[str]:
    """Queues paused by hand or whose spending today reached their daily budget."""
    return {name for name, state in queue_states(session, moment).items() if state.hold}


def requeue(store: Store, claim: Claim, reason: str, delay: float = 0.0) -> None:
    """Give the task back to the queue (a worker stopping, an infrastructure
    problem): its run resumes from its last checkpoint, after ``delay`` seconds."""
    with store.session() as session:
        task = guard(session, claim)
        lifecycle.requeue(session, task, session.get(Run, claim.run_id), reason, delay)


def _dependencies_ready(session: Session, task_id: int, depends_on: list[dict[str, Any]]) -> bool:
    """True when every dependency is done; fails the task if one never will be."""
    statuses = dependency_statuses(session, {dep["task"] for dep in depends_on})
    hold = dependency_hold(depends_on, statuses)
    if hold is not None and hold.kind == "dependency-dead":
        task = session.get(Task, task_id)
        assert task is not None
        lifecycle.fail(session, task, None, hold.message)
    return hold is None


def guard(session: Session, claim: Claim) -> Task:
    """The claimed task, locked for this write; LeaseLost if the claim is stale."""
    task = tasks.locked(session, claim.task_id)
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
            expires = now() + timedelta(seconds=lease)
            held = tasks.renew_lease(session, c.task_id, c.fence, c.worker_id, expires)
            task = session.get(Task, c.task_id)
            if not held or (task is not None and task.cancel_requested):
                cancelled.add(c.task_id)
    return cancelled


def cancel(store: Store, task_id: int | str) -> Task:
    with store.session() as session:
        task = store.task(session, task_id)
        lifecycle.cancel(session, task)
        return task


def register_worker(store: Store, worker_id: str, slots: int, limits: Limits = NO_LIMITS) -> None:
    """Record a starting worker, with the limits it enforces (``status`` shows them)."""
    with store.session() as session:
        workers.register(session, worker_id, slots, limits.running, limits.per_repo)


def worker_heartbeat(store: Store, worker_id: str, stopped: bool = False) -> None:
    with store.session() as session:
        workers.beat(session, worker_id, stopped)


def pending(store: Store) -> int:
    """Tasks still queued or running (used by ``worker --drain``)."""
    with store.session() as session:
        return tasks.count_active(session)

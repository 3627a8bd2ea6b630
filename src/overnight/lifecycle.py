"""A task's life: every change of a task's and its runs' status happens here.

    queued ─take─▶ running ─finish─▶ ready │ failed │ cancelled
      ▲              │
      └───requeue────┘  (a worker stopping; an infrastructure failure, with backoff)
    ready ─merge─▶ merged        anything not merged or running ─reject─▶ rejected
    ready │ failed │ cancelled ─new_run─▶ queued   (changes requested, rebase, retry)
    queued ─cancel─▶ cancelled   running ─cancel─▶ cancel requested (its worker ends it)

A transition writes the task's and its run's status together, drops the lease
when the task stops running and records the event that says so, in the
caller's session: the caller holds the claim (``queue.guard``) or the review
action's checks. ``RETRIES`` is the one policy for infrastructure retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from overnight.errors import StateError
from overnight.store import Run, RunStatus, Session, StepStatus, Store, Task, TaskStatus, now, tasks


@dataclass(frozen=True)
class Retries:
    """Infrastructure retries: a run is started at most ``limit`` times (each claim,
    a takeover included, is a start); the worker gives a task whose infrastructure
    failed back after ``delay(starts)`` seconds, and gives up at the limit."""

    limit: int = 20
    backoff: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

    def spent(self, starts: int) -> bool:
        return starts >= self.limit

    def delay(self, starts: int) -> float:
        return self.backoff[min(max(starts, 1), len(self.backoff)) - 1]


RETRIES = Retries()


def take(session: Session, task_id: int, run_id: int, starts: int, **lease: Any) -> None:
    """A worker claims the task: it runs under ``lease`` (owner, expiry, fence, the
    moment) and its run counts one more start. (The claim's event is the queue's.)"""
    tasks.claimed(
        session, task_id, run_id, starts, status=TaskStatus.RUNNING, not_before=None, **lease
    )


def start(session: Session, run: Run, message: str) -> None:
    """The claimed run's pipeline begins (or resumes: ``message`` says which)."""
    run.status, run.started_at = RunStatus.RUNNING, now()
    Store.event(session, run.task_id, "run-started", message, run.id)


def finish(
    session: Session,
    task: Task,
    run: Run,
    status: TaskStatus,
    reason: str | None,
    head_sha: str | None = None,
    message: str = "",
) -> str:
    """The run ended as ``status`` (READY, FAILED, CANCELLED): the task ends with it,
    any cancel request is answered. Returns the event's message."""
    _end(task, run, status, reason)
    task.cancel_requested = False
    if head_sha:
        run.head_sha = task.head_sha = head_sha
    message = message or f"{status.upper()}: {reason}"
    Store.event(session, task.id, status, message, run.id)
    return message


def fail(session: Session, task: Task, run: Run | None, reason: str) -> None:
    """The task fails from outside its run's pipeline (a crash, retries spent, a
    dependency that will never be done: then no run is given and the run is left be)."""
    _end(task, run, TaskStatus.FAILED, reason)
    Store.event(session, task.id, "failed", reason, run.id if run else None)


def requeue(session: Session, task: Task, run: Run | None, reason: str, delay: float) -> None:
    """Give the running task back to the queue; its run resumes after ``delay`` seconds."""
    task.status = TaskStatus.QUEUED
    task.not_before = now() + timedelta(seconds=delay) if delay else None
    _release(task)
    if run is not None:
        run.status = RunStatus.QUEUED
    wait = f"; retried in {delay:.0f} s" if delay else ""
    Store.event(session, task.id, "requeued", f"{reason}{wait}", run.id if run else None)


def interrupt_steps(session: Session, run_id: int, why: str) -> None:
    """Steps a run left running (its worker stopped or gave it back) end interrupted."""
    for step in tasks.running_steps(session, run_id):
        step.status, step.finished_at = StepStatus.INTERRUPTED, now()
        step.summary = f"{why}; the run resumes from its last checkpoint"


def cancel(session: Session, task: Task) -> None:
    """Cancel a queued task now, or ask the worker running it to stop."""
    if task.status == TaskStatus.QUEUED:
        task.status = TaskStatus.CANCELLED
        task.failure_reason = "cancelled before it started"
        task.runs[-1].status = RunStatus.CANCELLED
        Store.event(session, task.id, "cancelled", "cancelled while queued")
    elif task.status == TaskStatus.RUNNING:
        task.cancel_requested = True
        message = "cancel requested; the worker will stop it at once"
        Store.event(session, task.id, "cancel-requested", message)
    else:
        raise StateError(
            f"task {task.id} is {task.status}: only queued or running tasks can be cancelled"
        )


def merge(session: Session, task: Task, run: Run | None, merge_sha: str) -> None:
    """The task's change was merged into its base; the delivered run's badge says so."""
    task.status = TaskStatus.MERGED
    if run is not None:
        run.status = RunStatus.MERGED
    Store.event(session, task.id, "merged", f"merged into {task.base_ref} as {merge_sha[:10]}")


def reject(session: Session, task: Task, message: str) -> None:
    """A human turned the task down; its last run's badge says what became of it."""
    task.status = TaskStatus.REJECTED
    task.failure_reason = f"rejected: {message}" if message else "rejected"
    run = task.runs[-1]
    if run.status == RunStatus.READY:
        run.status = RunStatus.REJECTED
    elif run.status == RunStatus.QUEUED:  # it will never run
        run.status = RunStatus.CANCELLED
    Store.event(session, task.id, "rejected", task.failure_reason)


def new_run(session: Session, task: Task, kind: str, base_sha: str, feedback: str | None) -> Run:
    """Queue another run of the task (changes requested, rebase, retry); the caller
    records why in the event."""
    run = Run(
        task_id=task.id, number=len(task.runs) + 1, kind=kind, base_sha=base_sha, feedback=feedback
    )
    session.add(run)
    task.runs.append(run)
    task.status, task.failure_reason, task.cancel_requested = TaskStatus.QUEUED, None, False
    session.flush()
    return run


def _end(task: Task, run: Run | None, status: TaskStatus, reason: str | None) -> None:
    task.status, task.failure_reason = status, reason
    _release(task)
    if run is not None:
        run.status, run.failure_reason, run.finished_at = status, reason, now()


def _release(task: Task) -> None:
    task.lease_owner = None
    task.lease_expires = None

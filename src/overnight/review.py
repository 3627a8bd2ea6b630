"""The review queue and its actions: approve (merge), request changes (a new
run with the feedback), reject, and rebase (a new run on the current base)."""

from __future__ import annotations

from collections.abc import Callable

from overnight import lifecycle
from overnight.config import cache_dir
from overnight.errors import MergeConflict, StateError
from overnight.forges.base import Forge
from overnight.forges.registry import build_forge
from overnight.store import (
    PullRequest,
    Review,
    Run,
    Session,
    Store,
    Task,
    TaskStatus,
    pull_requests,
)
from overnight.workspace import RepoCache, known_head

REVIEWABLE = (TaskStatus.READY, TaskStatus.FAILED)


TAMPERED = "tampered:"


def open_pull_request(session: Session, task: Task) -> PullRequest | None:
    return pull_requests.newest_open(session, task.id)


def approve(store: Store, task_id: int | str, message: str = "") -> str:
    """Merge the task's pull request through its forge; return the merge commit.
    The forge is asked outside any transaction; the result is recorded after."""
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status != TaskStatus.READY:
            raise StateError(f"task {task.id} is {task.status}: only READY tasks can be approved")
        pr = open_pull_request(session, task)
        if pr is None or pr.head_sha != task.head_sha:
            raise StateError(f"task {task.id} has no open pull request for {task.head_sha}")
        forge = _forge(task)
        number, sha, run_id, title = pr.number or 0, pr.head_sha, pr.run_id, task.title
        branch, tid = pr.branch, task.id
    try:
        merge_sha = forge.merge(number, sha=sha, title=f"Merge {branch}: {title}")
    except MergeConflict as exc:
        raise MergeConflict(
            f"task {tid} cannot be merged: {exc}: run 'overnight rebase {tid}' to redo it "
            "on the current base"
        ) from exc
    finally:
        forge.disconnect()
    with store.session() as session:
        task = store.task(session, tid)
        pr = pull_requests.of_run(session, run_id)
        assert pr is not None  # pull requests are never deleted
        pr.state, pr.merge_sha = "merged", merge_sha
        session.add(Review(task_id=task.id, run_id=run_id, action="approve", message=message))
        lifecycle.merge(session, task, session.get(Run, run_id), merge_sha)
        return merge_sha


def _forge(task: Task) -> Forge:
    return build_forge((task.config or {}).get("forge") or {}, repo=task.repo, base=task.base_ref)


def _tell_forge(task: Task, pr: PullRequest | None, say: Callable[[Forge, int], None]) -> None:
    """Say something on the task's pull request when it lives on a remote forge."""
    if pr is None or pr.number is None:
        return
    forge = _forge(task)
    try:
        say(forge, pr.number)
    finally:
        forge.disconnect()


def request_changes(store: Store, task_id: int | str, message: str) -> Run:
    """Queue a new run of the task that starts from its last change, with ``message``."""
    if not message.strip():
        raise StateError('say what to change: -m "..."')
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status not in REVIEWABLE:
            raise StateError(
                f"task {task.id} is {task.status}: changes can be requested on "
                "READY or FAILED tasks"
            )
        pr = open_pull_request(session, task)
        run = lifecycle.new_run(session, task, "changes", task.runs[-1].base_sha, message)
        session.add(
            Review(
                task_id=task.id, run_id=task.runs[-2].id, action="request-changes", message=message
            )
        )
        store.event(session, task.id, "queued", f"changes requested; run {run.number} queued")
    _tell_forge(
        task, pr, lambda forge, number: forge.comment(number, f"Changes requested:\n\n{message}")
    )
    return run


def base_moved(task: Task) -> bool:
    """Whether a rebase would move the task: it is READY or FAILED and its base branch's
    head, as known without fetching (``known_head``), is not its last run's base."""
    if task.status not in REVIEWABLE or not task.runs:
        return False
    head = known_head(task.repo, task.base_ref, RepoCache(cache_dir() / "repos").path(task.repo))
    return head is not None and head != task.runs[-1].base_sha


def rebase(store: Store, task_id: int | str) -> Run:
    """Queue a new run on the current head of the base branch; it replays the last run's
    change there and leaves the agent only the conflicts (``pipeline/carry.py``)."""
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status not in REVIEWABLE:
            raise StateError(
                f"task {task.id} is {task.status}: only READY or FAILED tasks can be rebased"
            )
        _, sha = RepoCache(cache_dir() / "repos").resolve(task.repo, task.base_ref)
        if sha == task.runs[-1].base_sha:
            raise StateError(
                f"task {task.id} is already on the head of {task.base_ref} "
                f"({sha[:10]}): there is nothing to rebase onto"
            )
        run = lifecycle.new_run(session, task, "rebase", sha, None)
        task.base_sha = sha
        session.add(
            Review(
                task_id=task.id,
                run_id=task.runs[-2].id,
                action="rebase",
                message=f"rebase onto {sha[:10]}",
            )
        )
        store.event(
            session,
            task.id,
            "queued",
            f"rebase onto {task.base_ref} ({sha[:10]}); run {run.number} queued",
        )
        return run


def reject(store: Store, task_id: int | str, message: str) -> None:
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status in (TaskStatus.MERGED, TaskStatus.REJECTED, TaskStatus.RUNNING):
            raise StateError(f"task {task.id} is {task.status}: it cannot be rejected now")
        pr = open_pull_request(session, task)
    _tell_forge(task, pr, lambda forge, number: forge.close(number, message))
    with store.session() as session:
        task = store.task(session, task_id)
        pr = open_pull_request(session, task)
        if pr is not None:
            pr.state = "closed"
        session.add(
            Review(task_id=task.id, run_id=task.runs[-1].id, action="reject", message=message)
        )
        lifecycle.reject(session, task, message)


def retry(store: Store, task_id: int | str) -> Run:
    """Queue a new run of a FAILED or CANCELLED task on the same base."""
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            raise StateError(
                f"task {task.id} is {task.status}: only FAILED or CANCELLED tasks can be retried"
            )
        run = lifecycle.new_run(session, task, "retry", task.runs[-1].base_sha, None)
        store.event(session, task.id, "queued", f"retry; run {run.number} queued")
        return run

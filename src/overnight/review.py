"""The review queue and its actions: approve (merge), request changes (a new
run with the feedback), reject, and rebase (a new run on the current base)."""

from __future__ import annotations

import subprocess

from overnight import lifecycle
from overnight.config import cache_dir
from overnight.errors import MergeConflict, StateError
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
from overnight.workspace import IDENTITY, RepoCache, git, is_url, known_head, succeeds
from overnight.workspace.git import argv as git_argv
from overnight.workspace.git import environ as git_environ

REVIEWABLE = (TaskStatus.READY, TaskStatus.FAILED)


TAMPERED = "tampered:"


def open_pull_request(session: Session, task: Task) -> PullRequest | None:
    return pull_requests.newest_open(session, task.id)


def approve(store: Store, task_id: int | str, message: str = "") -> str:
    """Merge the task's branch into its base branch; return the merge commit."""
    with store.session() as session:
        task = store.task(session, task_id)
        if task.status != TaskStatus.READY:
            raise StateError(f"task {task.id} is {task.status}: only READY tasks can be approved")
        pr = open_pull_request(session, task)
        if pr is None or pr.head_sha != task.head_sha:
            raise StateError(f"task {task.id} has no open pull request for {task.head_sha}")
        merge_sha = merge(
            task.repo,
            task.base_ref,
            pr.branch,
            pr.head_sha,
            task.id,
            f"Merge {pr.branch}: {task.title}",
        )
        pr.state, pr.merge_sha = "merged", merge_sha
        session.add(Review(task_id=task.id, run_id=pr.run_id, action="approve", message=message))
        lifecycle.merge(session, task, session.get(Run, pr.run_id), merge_sha)
        return merge_sha


def merge(repo: str, base: str, branch: str, head: str, task_id: int, message: str) -> str:
    cache = RepoCache(cache_dir() / "repos").fetch(repo)
    if not succeeds(["show-ref", "--verify", "--quiet", f"refs/heads/{base}"], cache):
        raise StateError(f"base '{base}' is not a branch: merge {branch} yourself")
    proc = subprocess.run(
        git_argv(["merge-tree", "--write-tree", "--name-only", f"refs/heads/{base}", head], cache),
        cwd=cache,
        capture_output=True,
        text=True,
        env=git_environ(),
    )
    if proc.returncode == 1:
        files = proc.stdout.split("\n\n")[0].splitlines()[1:]
        raise MergeConflict(
            f"task {task_id} conflicts with {base} ({', '.join(files[:5])}): "
            f"run 'overnight rebase {task_id}' to redo it on the current {base}"
        )
    if proc.returncode != 0:
        raise StateError(f"cannot merge {branch}: {proc.stderr.strip()}")
    if not is_url(repo) and _checked_out(repo) == base:
        git([*IDENTITY, "merge", "--no-ff", "--quiet", "-m", message, head], repo, user_config=True)
        return git(["rev-parse", "HEAD"], repo, user_config=True)
    tree = proc.stdout.splitlines()[0]
    parent = git(["rev-parse", f"refs/heads/{base}"], cache)
    sha = git([*IDENTITY, "commit-tree", tree, "-p", parent, "-p", head, "-m", message], cache)
    git(["push", "--quiet", repo, f"{sha}:refs/heads/{base}"], cache, user_config=True)
    return sha


def _checked_out(repo: str) -> str | None:
    if git(["rev-parse", "--is-bare-repository"], repo) == "true":
        return None
    return git(["symbolic-ref", "--quiet", "--short", "HEAD"], repo, check=False) or None


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
        run = lifecycle.new_run(session, task, "changes", task.runs[-1].base_sha, message)
        session.add(
            Review(
                task_id=task.id, run_id=task.runs[-2].id, action="request-changes", message=message
            )
        )
        store.event(session, task.id, "queued", f"changes requested; run {run.number} queued")
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

"""What overnight does when a forge tells it something (a webhook, read by
``forges/hooks.py``): labelled issues, review commands on a task's pull request,
and CI feedback.

- An issue opened or labelled with the intake label is taken like ``overnight
  intake`` takes it (``issues.py``), on the clone and with the forge settings of
  the newest task delivering to that repository (none yet: the answer says to
  run ``overnight intake`` once where the clone is).
- ``/overnight approve``, ``/overnight reject REASON``, ``/overnight
  request-changes FEEDBACK`` in a comment on a task's pull request, or a review
  requesting changes, run the review action as ``overnight approve`` would, if
  the author has write access; the outcome (or the one-line reason it could
  not be done) is said on the pull request.
- A finished check suite or commit status on a READY task's delivered commit:
  the forge's checks are read; failing ones become the feedback of a new run
  ("request changes" from CI), at most ``CI_ROUNDS`` times per task, so a check
  that fails whatever the change does cannot spend the budget forever.
"""

from __future__ import annotations

from typing import cast

from overnight import issues, review
from overnight.errors import OvernightError, one_line
from overnight.forges.base import Check, Issue, IssueForge
from overnight.forges.hooks import Action, ChecksCompleted, IssueLabelled, ReviewCommand
from overnight.forges.registry import build_forge
from overnight.store import PullRequest, Store, Task, TaskStatus, pull_requests, reads

WRITERS = ("write", "admin")
CI_ROUNDS = 2  # new runs CI feedback may start per task
CI_FEEDBACK = "CI checks failed on the pull request"
FAILING = ("failure", "error", "timed_out", "action_required")


def act(store: Store, forge: str, actions: list[Action]) -> list[str]:
    """Do what each action asks; one line per action saying what was done."""
    done = []
    for action in actions:
        if isinstance(action, ReviewCommand):
            done.append(_command(store, forge, action))
        elif isinstance(action, ChecksCompleted):
            done += _checks(store, forge, action)
        else:
            done.append(_issue(store, forge, action))
    return done


def _issue(store: Store, forge: str, labelled: IssueLabelled) -> str:
    """Queue a labelled issue on the clone the repository's tasks run on (the newest
    task delivering to it says which, and with which forge settings)."""
    with store.session() as session:
        known = reads.newest_delivering_to(session, forge, labelled.repo)
    if known is None:
        return (
            f"issue #{labelled.number}: no task of {labelled.repo} here yet: run "
            f"'overnight intake {forge} {labelled.repo}' once where its clone is"
        )
    repo, config = known
    remote = build_forge(config["forge"], repo=repo, base="")
    issue = Issue(labelled.number, labelled.title, labelled.body, labelled.author, labelled.url)
    try:
        took = issues.take(
            store, cast(IssueForge, remote), issue, forge_repo=labelled.repo, repo=repo
        )
    finally:
        remote.disconnect()
    return f"issue #{labelled.number}: {took.said if took else 'nothing new'}"


def _task_of(store: Store, forge: str, repo: str, pulls: list[PullRequest]) -> Task | None:
    with store.session() as session:
        for pr in pulls:
            task = store.task(session, pr.task_id)
            if (task.config or {}).get("forge", {}).get("repo") == repo:
                session.expunge(task)
                return task
    return None


def _command(store: Store, forge: str, command: ReviewCommand) -> str:
    with store.session() as session:
        pulls = pull_requests.by_number(session, forge, command.number)
        session.expunge_all()
    task = _task_of(store, forge, command.repo, pulls)
    if task is None:
        return f"#{command.number}: not a pull request of overnight's"
    remote = build_forge(task.config["forge"], repo=task.repo, base=task.base_ref)
    try:
        if remote.permission(command.author) not in WRITERS:
            said = f"{command.author} has no write access: /overnight {command.verb} ignored"
        else:
            said = _review(store, task.id, command)
        remote.comment(command.number, said)
    finally:
        remote.disconnect()
    return f"#{command.number}: {said}"


def _review(store: Store, task_id: int, command: ReviewCommand) -> str:
    try:
        if command.verb == "approve":
            sha = review.approve(store, task_id, f"by {command.author} on the forge")
            return f"task {task_id} merged as {sha[:10]}"
        if command.verb == "reject":
            review.reject(store, task_id, command.text)
            return f"task {task_id} rejected"
        run = review.request_changes(store, task_id, command.text)
        return f"task {task_id}: run {run.number} queued with {command.author}'s feedback"
    except OvernightError as exc:
        return f"task {task_id}: {one_line(str(exc))}"


def _checks(store: Store, forge: str, event: ChecksCompleted) -> list[str]:
    with store.session() as session:
        pulls = pull_requests.open_at(session, forge, event.sha)
        session.expunge_all()
    done = []
    for pr in pulls:
        task = _task_of(store, forge, event.repo, [pr])
        if task is None or task.status != TaskStatus.READY:
            continue
        remote = build_forge(task.config["forge"], repo=task.repo, base=task.base_ref)
        try:
            failing = [c for c in remote.checks(event.sha) if c.state in FAILING]
        finally:
            remote.disconnect()
        if failing:
            done.append(_ci_feedback(store, task.id, failing))
    return done


def _ci_feedback(store: Store, task_id: int, failing: list[Check]) -> str:
    with store.session() as session:
        rounds = sum(
            1 for r in reads.reviews(session, task_id) if r.message.startswith(CI_FEEDBACK)
        )
    names = ", ".join(c.name for c in failing)
    if rounds >= CI_ROUNDS:
        return f"task {task_id}: CI still fails ({names}) after {rounds} rounds: left to review"
    lines = [f"{CI_FEEDBACK}:"]
    for check in failing:
        lines.append(f"- {check.name} ({check.state}){f': {check.url}' if check.url else ''}")
        if check.summary:
            lines += ["  " + line for line in check.summary.splitlines()[-40:]]
    run = review.request_changes(store, task_id, "\n".join(lines))
    return f"task {task_id}: run {run.number} queued with the failing checks ({names})"

"""Issue intake: open issues with a label on GitHub or GitLab become tasks.

Each poll reads the labelled issues, reads each new one as a spec
(``forges/issues.py``) and queues it like ``overnight submit`` would, for the
repository the user names (the forge's clone on this machine, or its URL).
An issue becomes at most one task: the task carries the issue as its origin
(``instance_id`` ``github:OWNER/NAME#N``), looked up before anything is
queued. The issue hears back once per news: "queued as task N" (then READY,
FAILED, merged or rejected, on the polls after), or the spec's problems,
each comment marked so a later poll (or a crash between queuing and
commenting) never posts it twice; an issue whose spec was refused is read
again when its text changes.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from overnight.errors import OvernightError, one_line
from overnight.forges.base import Issue, IssueForge
from overnight.forges.issues import spec_from_issue
from overnight.intake import submit_text
from overnight.store import Store, TaskStatus, reads

DEFAULT_LABEL = "overnight"
WRITERS = ("write", "admin")  # whose issues are queued: an agent run costs the project


@dataclass(frozen=True)
class Taken:
    issue: int
    task_id: int | None  # None: the spec was refused
    said: str  # what the issue was told (the first line)


def origin(forge: str, repo: str, number: int) -> str:
    return f"{forge}:{repo}#{number}"


def poll(
    store: Store, forge: IssueForge, *, forge_repo: str, repo: str, label: str = DEFAULT_LABEL
) -> list[Taken]:
    """One pass: every labelled issue not yet a task is queued, or told why not;
    what was newly done (an issue already told is not told, nor listed, again)."""
    taken = []
    for issue in forge.issues(label):
        took = take(store, forge, issue, forge_repo=forge_repo, repo=repo)
        if took is not None:
            taken.append(took)
    return taken


def take(
    store: Store, forge: IssueForge, issue: Issue, *, forge_repo: str, repo: str
) -> Taken | None:
    """One issue (polled, or named by a webhook): queued if it is not a task yet;
    None when there was nothing new to do or say."""
    key = origin(forge.name, forge_repo, issue.number)
    with store.session() as session:
        existing = reads.task_of_instance(session, key)
    if existing is None:
        return _take(store, forge, issue, key, repo)
    _tell(forge, issue, f"overnight: queued as task {existing}", f"task:{existing}")
    _tell_status(store, forge, issue, existing)
    return None


def _take(store: Store, forge: IssueForge, issue: Issue, key: str, repo: str) -> Taken | None:
    digest = hashlib.sha256(f"{issue.title}\n{issue.body}".encode()).hexdigest()[:12]
    if forge.permission(issue.author) not in WRITERS:
        said = (
            f"overnight queues issues opened by people with write access to the repository; "
            f"{issue.author} has none. A maintainer can open it again, or remove the label"
        )
        return _refused(forge, issue, said, f"refused:{issue.author}")
    spec = spec_from_issue(issue.title, issue.body, number=issue.number, url=issue.url, repo=repo)
    if spec.refused:
        said = f"overnight could not queue this issue: {spec.refused}"
        return _refused(forge, issue, said, f"refused:{digest}", _HOW)
    with tempfile.TemporaryDirectory(prefix="overnight-issue-") as folder:
        for name, text in spec.patches.items():
            (Path(folder) / name).write_text(text)
        try:
            task = submit_text(
                store,
                spec.text,
                source=f"{key}",
                base_dir=Path(folder),
                instance_id=key,
            ).task
        except OvernightError as exc:
            said = f"overnight could not queue this issue: {one_line(str(exc))}"
            return _refused(forge, issue, said, f"refused:{digest}", _HOW)
    said = f"overnight: queued as task {task.id}"
    _tell(forge, issue, said, f"task:{task.id}")
    return Taken(issue.number, task.id, said)


def _tell_status(store: Store, forge: IssueForge, issue: Issue, task_id: int) -> None:
    """Say on the issue where its task got to, once per status worth hearing."""
    with store.session() as session:
        task = store.task(session, task_id)
        status, reason = task.status, task.failure_reason or ""
    said = {
        TaskStatus.READY: f"overnight: task {task_id} is READY: its pull request waits for review",
        TaskStatus.FAILED: f"overnight: task {task_id} FAILED: {one_line(reason)}",
        TaskStatus.MERGED: f"overnight: task {task_id} was merged",
        TaskStatus.REJECTED: f"overnight: task {task_id} was rejected: {one_line(reason)}",
    }.get(TaskStatus(status))
    if said:
        _tell(forge, issue, said, f"status:{task_id}:{status}")


def _refused(forge: IssueForge, issue: Issue, said: str, mark: str, how: str = "") -> Taken | None:
    if not _tell(forge, issue, said + how, mark):
        return None
    return Taken(issue.number, None, said)


_HOW = (
    "\n\nEdit the issue (front matter, or the overnight issue form: what should change, "
    "acceptance tests, test patch) and it is read again."
)


def _tell(forge: IssueForge, issue: Issue, text: str, mark: str) -> bool:
    """Comment on the issue once: False when a comment with this mark is there already."""
    marker = f"<!-- overnight:{mark} -->"
    if any(marker in comment for comment in forge.issue_comments(issue.number)):
        return False
    forge.comment_issue(issue.number, f"{text}\n\n{marker}")
    return True

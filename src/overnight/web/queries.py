"""The dashboard's page shapes: the task list (filter, paging) and the task page
in a few indexed queries (``store/reads.py``). Facts the CLI shows too come from
their one owner: the list's rows and costs from ``overnight.task_list``, checks,
budgets and task details from ``overnight.views``, holds from
``overnight.holds``, the review queue from ``overnight.review_queue``, workers
and their liveness from ``overnight.fleet``.

Pages never walk ORM relationships row by row: a page of the task list is
three queries whatever its size (tasks, their runs, their failing gates), and
large texts (logs, transcripts) are fetched only when opened.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from overnight.holds import waiting
from overnight.pipeline.recorder import spent_time
from overnight.review import base_moved
from overnight.store import GateResult, Run, Session, Step, Task, TaskStatus, Turn, reads
from overnight.store import events as event_rows
from overnight.task_list import TaskRow, task_rows
from overnight.views import base_notes, budget_view, checks, latest_artifact, pull_request, usage

STATUSES = [str(s) for s in TaskStatus]
GROUPS = {"active": ["queued", "running"], "finished": ["failed", "cancelled", "rejected"]}
PER_PAGE = 50


@dataclass
class TaskFilter:
    status: str = ""
    repo: str = ""
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    def statuses(self) -> list[str] | None:
        if self.status in GROUPS:
            return GROUPS[self.status]
        return [self.status] if self.status in STATUSES else None


@dataclass
class TaskPage:
    rows: list[TaskRow]
    total: int
    page: int
    pages: int
    filter: TaskFilter
    counts: dict[str, int] = field(default_factory=dict)
    repos: list[str] = field(default_factory=list)


def task_page(session: Session, f: TaskFilter, moment: datetime) -> TaskPage:
    total = reads.count_tasks(session, f.statuses(), f.repo, f.q)
    pages = max(1, math.ceil(total / f.per_page))
    page = min(max(1, f.page), pages)
    tasks = reads.find_tasks(
        session, f.statuses(), f.repo, f.q, (page - 1) * f.per_page, f.per_page
    )
    rows = task_rows(session, tasks, moment)
    counts, repos = reads.status_counts(session), reads.repositories(session)
    return TaskPage(rows, total, page, pages, f, counts, repos)


# -- one task ---------------------------------------------------------------


def actions(status: str, cancel_requested: bool = False, moved: bool = False) -> dict[str, bool]:
    """Which review and queue actions fit a task's state (``moved``: its base branch
    moved past its last run's base, see ``review.base_moved``)."""
    return {
        "approve": status == TaskStatus.READY,
        "request_changes": status in (TaskStatus.READY, TaskStatus.FAILED),
        "rebase": status in (TaskStatus.READY, TaskStatus.FAILED) and moved,
        "reject": status not in (TaskStatus.MERGED, TaskStatus.REJECTED, TaskStatus.RUNNING),
        "cancel": status == TaskStatus.QUEUED
        or (status == TaskStatus.RUNNING and not cancel_requested),
        "retry": status in (TaskStatus.FAILED, TaskStatus.CANCELLED),
    }


def task_view(session: Session, task: Task, moment: datetime) -> dict[str, Any]:
    """The task page: header, runs (steps, attempts with gates, transcript),
    pull request, reviews, recent events. Logs are referenced by artifact id."""
    runs = reads.task_run_rows(session, task.id)
    run_ids = [r.id for r in runs]
    steps = reads.steps_of(session, run_ids)
    gates = reads.gates_of(session, run_ids)
    diffs = reads.attempt_diff_ids(session, task.id)
    extra_logs = reads.extra_log_ids(session, task.id)
    turns = reads.turns_of(session, run_ids)
    run_views = [
        _run_view(run, steps[run.id], gates[run.id], diffs, extra_logs, moment)
        | {"turns": turns[run.id], "spent": _spent(turns[run.id], task.agent)}
        for run in runs
    ]
    pr = pull_request(session, task.id)
    diff = latest_artifact(session, task, "diff-attempt-")
    repinned = base_notes(session, task.id)
    for view in run_views:
        view["base_note"] = repinned.get(view["run"].id)
    return {
        "task": task,
        "holds": [h.to_dict() for h in waiting(session, [task.id], moment).get(task.id, [])],
        "runs": run_views,
        "pull_request": pr,
        "diff": diff,
        "reviews": reads.reviews(session, task.id),
        "events": event_rows.recent_events(session, task.id, 200),
        "actions": actions(task.status, task.cancel_requested, base_moved(task)),
        "checks": checks(gates[runs[-1].id], runs[-1].number) if runs else checks([]),
        "budget": budget_view(task),
    }


def _spent(turns: list[Turn], agent: str) -> dict[str, Any]:
    """A run's spend as the task page shows it, from ``views.usage`` (as the API's)."""
    spent = usage(turns, agent)
    return {"usd": spent["cost_usd"], "tokens": spent["input_tokens"] + spent["output_tokens"]}


def _run_view(
    run: Run,
    steps: list[Step],
    gates: list[GateResult],
    diffs: dict[tuple[int | None, str], int],
    extra_logs: Sequence[Any],
    moment: datetime,
) -> dict[str, Any]:
    attempts: dict[int, list[GateResult]] = defaultdict(list)
    for g in gates:
        attempts[g.attempt].append(g)
    started = run.started_at
    return {
        "run": run,
        "duration": ((run.finished_at or moment) - started).total_seconds() if started else None,
        "steps": [
            {
                "step": s,
                "duration": ((s.finished_at or moment) - s.started_at).total_seconds(),
                "offset": (s.started_at - started).total_seconds() if started else 0.0,
            }
            for s in steps
        ],
        "attempts": [
            {"number": n, "gates": gs, "diff_id": diffs.get((run.id, f"diff-attempt-{n}.diff"))}
            for n, gs in sorted(attempts.items(), reverse=True)
        ],
        "transcript": [s for s in steps if s.name == "agent"],
        "logs": [a for a in extra_logs if a.run_id == run.id],
        "time_spent": spent_time(steps),
    }

"""The read side's queries: what the task list, a task's page and details, its
logs, the events stream and the review queue read, as query functions that
return rows (named tuples) or model instances, and never write.

The read model built from them (``overnight.views``, ``overnight.review_queue``)
and the pages that render it hold no SQL. Each function is one query (or one per
run), batched over many tasks where a list needs it: a page of the task list is
three queries whatever its size.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from overnight.store.models import (
    Artifact,
    Event,
    GateResult,
    PullRequest,
    Review,
    Run,
    Step,
    Task,
    TaskStatus,
    Turn,
)

Record = Any  # a row of named columns (``row.id``, ``row.title``), as SQLAlchemy returns it
EXTRA_LOGS = ("setup.log", "crash.log")  # a run's logs that are neither a step's nor a gate's

# -- the task list ------------------------------------------------------------

_ROW_COLUMNS = (
    Task.id,
    Task.title,
    Task.status,
    Task.priority,
    Task.repo,
    Task.branch,
    Task.base_sha,
    Task.head_sha,
    Task.failure_reason,
    Task.instance_id,
    Task.cancel_requested,
    Task.created_at,
    Task.updated_at,
)


def count_tasks(session: Session, statuses: Sequence[str] | None, repo: str, q: str) -> int:
    """How many tasks ``find_tasks`` finds, over all pages."""
    return session.scalar(select(func.count(Task.id)).where(*_matching(statuses, repo, q))) or 0


def find_tasks(
    session: Session,
    statuses: Sequence[str] | None,
    repo: str,
    q: str,
    offset: int,
    limit: int,
) -> list[Record]:
    """A page of tasks' list columns, newest first: in ``statuses`` (None: any), of
    ``repo`` (empty: any), whose title or branch holds ``q`` (or whose id it is, as
    ``12`` or ``#12``)."""
    query = select(*_ROW_COLUMNS).where(*_matching(statuses, repo, q))
    return list(session.execute(query.order_by(Task.id.desc()).offset(offset).limit(limit)))


def _matching(statuses: Sequence[str] | None, repo: str, q: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if statuses:
        where.append(Task.status.in_(statuses))
    if repo:
        where.append(Task.repo == repo)
    q = q.strip()
    if q:
        match = Task.title.icontains(q, autoescape=True) | Task.branch.icontains(q, autoescape=True)
        if re.fullmatch(r"#?[0-9]{1,15}", q):
            match = match | (Task.id == int(q.lstrip("#")))
        where.append(match)
    return where


def newest_tasks(session: Session, limit: int) -> list[Record]:
    """The ``limit`` newest tasks' list columns, newest first."""
    return list(session.execute(select(*_ROW_COLUMNS).order_by(Task.id.desc()).limit(limit)))


def tasks_by_id(session: Session, task_ids: Sequence[int]) -> list[Record]:
    """The tasks' list columns, by id."""
    return list(
        session.execute(select(*_ROW_COLUMNS).where(Task.id.in_(task_ids)).order_by(Task.id))
    )


def status_counts(session: Session) -> dict[str, int]:
    """How many tasks each status has (statuses no task has are absent)."""
    rows = session.execute(select(Task.status, func.count()).group_by(Task.status)).all()
    return {str(status): int(n) for status, n in rows}


def repositories(session: Session, limit: int = 200) -> list[str]:
    """The repositories tasks were submitted for, sorted."""
    return list(session.scalars(select(Task.repo).distinct().order_by(Task.repo).limit(limit)))


def runs_of(session: Session, task_ids: Sequence[int]) -> dict[int, list[Record]]:
    """Per task: its runs' number, attempts and times (rows with ``id``, ``task_id``,
    ``number``, ``attempts``, ``started_at``, ``finished_at``)."""
    out: dict[int, list[Record]] = defaultdict(list)
    for row in session.execute(
        select(
            Run.id, Run.task_id, Run.number, Run.attempts, Run.started_at, Run.finished_at
        ).where(Run.task_id.in_(task_ids))
    ):
        out[row.task_id].append(row)
    return out


def blocking_failures(session: Session, run_ids: Sequence[int]) -> dict[int, list[Record]]:
    """Per run: its blocking gates that failed or erred, on any attempt (rows with
    ``name``, ``attempt``, ``blocking``, ``verdict``)."""
    out: dict[int, list[Record]] = defaultdict(list)
    for gate in session.execute(
        select(
            GateResult.run_id,
            GateResult.name,
            GateResult.attempt,
            GateResult.blocking,
            GateResult.verdict,
        ).where(
            GateResult.run_id.in_(run_ids),
            GateResult.blocking.is_(True),
            GateResult.verdict.in_(("fail", "error")),
        )
    ):
        out[gate.run_id].append(gate)
    return out


def spend(session: Session, task_ids: Sequence[int]) -> tuple[dict[int, str], list[Record]]:
    """The tasks' agents, and per task with recorded turns: the sum of the turns'
    prices (``usd``), how many are priced, how many there are and their tokens."""
    agents = dict(session.execute(select(Task.id, Task.agent).where(Task.id.in_(task_ids))).all())
    rows = session.execute(
        select(
            Run.task_id,
            func.sum(Turn.cost).label("usd"),
            func.count(Turn.cost).label("priced"),
            func.count(Turn.id).label("turns"),
            func.sum(Turn.input_tokens + Turn.output_tokens).label("tokens"),
        )
        .join(Run, Turn.run_id == Run.id)
        .where(Run.task_id.in_(task_ids))
        .group_by(Run.task_id)
    ).all()
    return agents, list(rows)


# -- one task -----------------------------------------------------------------


def event_notes(session: Session, task_id: int, kind: str) -> dict[int | None, str]:
    """Per run (None: the task's own): the message of its event of ``kind``."""
    return dict(
        session.execute(
            select(Event.run_id, Event.message).where(Event.task_id == task_id, Event.kind == kind)
        ).all()
    )


def pull_request(session: Session, task_id: int) -> PullRequest | None:
    """The task's latest pull request (one per delivered run), if any."""
    return session.scalars(
        select(PullRequest).where(PullRequest.task_id == task_id).order_by(PullRequest.id.desc())
    ).first()


def latest_artifact(session: Session, task_id: int, prefix: str) -> str | None:
    """The text of the task's newest artifact whose name starts with ``prefix``."""
    row = session.scalars(
        select(Artifact)
        .where(Artifact.task_id == task_id, Artifact.name.startswith(prefix))
        .order_by(Artifact.id.desc())
    ).first()
    return row.content if row else None


def artifact(session: Session, artifact_id: int) -> Artifact | None:
    return session.get(Artifact, artifact_id)


def artifact_text(session: Session, artifact_id: int | None) -> str:
    """An artifact's text; empty for none."""
    row = session.get(Artifact, artifact_id) if artifact_id else None
    return row.content if row else ""


def extra_logs(session: Session, run_id: int) -> list[Artifact]:
    """A run's setup and crash logs (``EXTRA_LOGS``)."""
    return list(
        session.scalars(
            select(Artifact).where(Artifact.run_id == run_id, Artifact.name.in_(EXTRA_LOGS))
        )
    )


def task_run_rows(session: Session, task_id: int) -> list[Run]:
    """The task's runs, by number."""
    return list(session.scalars(select(Run).where(Run.task_id == task_id).order_by(Run.number)))


def steps_of(session: Session, run_ids: Sequence[int]) -> dict[int, list[Step]]:
    out: dict[int, list[Step]] = defaultdict(list)
    for s in session.scalars(select(Step).where(Step.run_id.in_(run_ids)).order_by(Step.id)):
        out[s.run_id].append(s)
    return out


def gates_of(session: Session, run_ids: Sequence[int]) -> dict[int, list[GateResult]]:
    out: dict[int, list[GateResult]] = defaultdict(list)
    for g in session.scalars(
        select(GateResult).where(GateResult.run_id.in_(run_ids)).order_by(GateResult.id)
    ):
        out[g.run_id].append(g)
    return out


def turns_of(session: Session, run_ids: Sequence[int]) -> dict[int, list[Turn]]:
    out: dict[int, list[Turn]] = defaultdict(list)
    for turn in session.scalars(
        select(Turn).where(Turn.run_id.in_(run_ids)).order_by(Turn.attempt, Turn.number)
    ):
        out[turn.run_id].append(turn)
    return out


def attempt_diff_ids(session: Session, task_id: int) -> dict[tuple[int | None, str], int]:
    """Per (run id, name) of the task's attempt diffs: the artifact's id."""
    return {
        (a.run_id, a.name): a.id
        for a in session.execute(
            select(Artifact.id, Artifact.run_id, Artifact.name).where(
                Artifact.task_id == task_id, Artifact.name.like("diff-attempt-%")
            )
        )
    }


def extra_log_ids(session: Session, task_id: int) -> list[Record]:
    """The task's setup and crash logs, by reference (``id``, ``run_id``, ``name``)."""
    return list(
        session.execute(
            select(Artifact.id, Artifact.run_id, Artifact.name).where(
                Artifact.task_id == task_id, Artifact.name.in_(EXTRA_LOGS)
            )
        )
    )


def reviews(session: Session, task_id: int) -> list[Review]:
    return list(
        session.scalars(select(Review).where(Review.task_id == task_id).order_by(Review.id))
    )


def turns_after(session: Session, task_ids: Sequence[int], after: int) -> list[tuple[int, Turn]]:
    """(task id, turn) of the tasks' agent turns with ids above ``after``, oldest first."""
    rows = session.execute(
        select(Run.task_id, Turn)
        .join(Turn, Turn.run_id == Run.id)
        .where(Run.task_id.in_(task_ids), Turn.id > after)
        .order_by(Turn.id)
    ).all()
    return [(task_id, turn) for task_id, turn in rows]


def tasks_with_status(session: Session, task_ids: Sequence[int], status: str) -> list[Task]:
    """Those of the tasks that have ``status``, by id."""
    return list(
        session.scalars(
            select(Task).where(Task.id.in_(task_ids), Task.status == status).order_by(Task.id)
        )
    )


# -- the review queue -----------------------------------------------------------


def flagged(session: Session, reason_prefix: str, limit: int) -> list[Record]:
    """FAILED tasks whose reason starts with ``reason_prefix``, newest first."""
    return list(
        session.execute(
            select(Task.id, Task.title, Task.repo, Task.failure_reason)
            .where(Task.status == TaskStatus.FAILED, Task.failure_reason.like(f"{reason_prefix}%"))
            .order_by(Task.id.desc())
            .limit(limit)
        )
    )


def ready(session: Session, limit: int | None) -> list[Record]:
    """READY tasks, highest priority first, then oldest."""
    return list(
        session.execute(
            select(Task.id, Task.title, Task.repo, Task.branch, Task.priority, Task.updated_at)
            .where(Task.status == TaskStatus.READY)
            .order_by(Task.priority.desc(), Task.id)
            .limit(limit)
        )
    )


def gate_summaries(session: Session, run_ids: Sequence[int]) -> list[Record]:
    """The runs' gate results (``run_id``, ``name``, ``attempt``, ``verdict``,
    ``blocking``, ``summary``), every attempt."""
    return list(
        session.execute(
            select(
                GateResult.run_id,
                GateResult.name,
                GateResult.attempt,
                GateResult.verdict,
                GateResult.blocking,
                GateResult.summary,
            ).where(GateResult.run_id.in_(run_ids))
        )
    )


def change_requests(session: Session, task_ids: Sequence[int]) -> list[int]:
    """The task id of each request for changes the tasks received (one per request)."""
    return list(
        session.scalars(
            select(Review.task_id).where(
                Review.task_id.in_(task_ids), Review.action == "request-changes"
            )
        )
    )


def named_artifacts(
    session: Session, task_ids: Sequence[int], names: Sequence[str]
) -> list[Record]:
    """The tasks' artifacts with one of ``names`` (``run_id``, ``name``, ``content``)."""
    return list(
        session.execute(
            select(Artifact.run_id, Artifact.name, Artifact.content).where(
                Artifact.task_id.in_(task_ids), Artifact.name.in_(names)
            )
        )
    )


def task_of_instance(session: Session, instance_id: str) -> int | None:
    """The task made from an instance (an evaluation's, an issue's), if there is one."""
    return session.scalar(select(Task.id).where(Task.instance_id == instance_id).limit(1))


def newest_delivering_to(
    session: Session, forge: str, forge_repo: str, scan: int = 500
) -> tuple[str, dict[str, Any]] | None:
    """The clone and configuration of the newest task (of the last ``scan``) whose
    ``[forge]`` is ``forge`` at ``forge_repo``."""
    rows = session.execute(select(Task.repo, Task.config).order_by(Task.id.desc()).limit(scan))
    for repo, config in rows:
        table = (config or {}).get("forge") or {}
        if table.get("kind") == forge and table.get("repo") == forge_repo:
            return repo, config
    return None

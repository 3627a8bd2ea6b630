"""The insights page's aggregates, each computed by the database (a grouped scan,
whatever the history): tasks by status overall, by repository, by agent, by
model, by prompt version and per day, attempts per finished task, time to READY, failing gates and
the spend of READY and merged tasks. ``web/insights.py`` shapes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from overnight.store.models import TERMINAL, Checkpoint, GateResult, Run, Task, TaskStatus, Turn

Key = Literal["repo", "agent"]


def _attempts() -> Any:
    return (
        select(Run.task_id, func.sum(Run.attempts).label("attempts"))
        .group_by(Run.task_id)
        .subquery()
    )


def statuses(session: Session) -> dict[str, int]:
    """How many tasks have each status."""
    rows = session.execute(select(Task.status, func.count()).group_by(Task.status))
    return {str(status): int(n) for status, n in rows}


def statuses_by(session: Session, key: Key) -> list[tuple[str, str, int]]:
    """(repository or agent, status, tasks)."""
    column = getattr(Task, key)
    rows = session.execute(select(column, Task.status, func.count()).group_by(column, Task.status))
    return [(str(k), str(status), int(n)) for k, status, n in rows]


def mean_attempts(session: Session) -> Any:
    """The mean of the attempts of every finished task's runs (None: none finished)."""
    attempts = _attempts()
    return session.scalar(
        select(func.avg(attempts.c.attempts))
        .join(Task, attempts.c.task_id == Task.id)
        .where(Task.status.in_(TERMINAL))
    )


def mean_attempts_by(session: Session, key: Key) -> dict[str, Any]:
    """Per repository or agent: ``mean_attempts`` of its finished tasks."""
    column = getattr(Task, key)
    attempts = _attempts()
    rows = session.execute(
        select(column, func.avg(attempts.c.attempts))
        .join(attempts, attempts.c.task_id == Task.id)
        .where(Task.status.in_(TERMINAL))
        .group_by(column)
    )
    return {str(k): mean for k, mean in rows}


def seconds_to_ready(session: Session) -> list[float]:
    """Per task that reached READY: seconds from its submission to its first READY run."""
    return [
        (done - created).total_seconds()
        for created, done in session.execute(
            select(Task.created_at, func.min(Run.finished_at))
            .join(Run, Run.task_id == Task.id)
            .where(Run.status == TaskStatus.READY, Run.finished_at.is_not(None))
            .group_by(Task.id, Task.created_at)
        )
        if done is not None
    ]


def statuses_per_day(session: Session, since: datetime) -> list[tuple[str, str, int]]:
    """(day as YYYY-MM-DD, status, tasks) of the tasks created since ``since``."""
    day = func.date(Task.created_at)
    rows = session.execute(
        select(day, Task.status, func.count())
        .where(Task.created_at >= since)
        .group_by(day, Task.status)
    )
    return [(str(d)[:10], str(status), int(n)) for d, status, n in rows]


def statuses_by_model(session: Session) -> list[tuple[str, str, int]]:
    """(model, status, tasks with a turn of that model)."""
    rows = session.execute(
        select(Turn.model, Task.status, func.count(func.distinct(Task.id)))
        .join(Run, Turn.run_id == Run.id)
        .join(Task, Run.task_id == Task.id)
        .group_by(Turn.model, Task.status)
    )
    return [(str(model), str(status), int(n)) for model, status, n in rows]


def statuses_by_prompts(session: Session) -> list[tuple[str, str, int]]:
    """(prompt set's label, status, tasks with a turn that used it): outcomes by the
    prompt versions the built-in agent was given (``v1@…``, ``v1+repo@…``)."""
    rows = session.execute(
        select(Checkpoint.prompts, Task.status, func.count(func.distinct(Task.id)))
        .join(Run, Checkpoint.run_id == Run.id)
        .join(Task, Run.task_id == Task.id)
        .where(Checkpoint.turn >= 1, Checkpoint.prompts.is_not(None))
        .group_by(Checkpoint.prompts, Task.status)
    )
    return [(str(label), str(status), int(n)) for label, status, n in rows]


def failing_gates(session: Session, limit: int = 10) -> list[tuple[str, int]]:
    """(gate, failures) of the blocking gates that failed or erred most, any attempt."""
    rows = session.execute(
        select(GateResult.name, func.count())
        .where(GateResult.blocking.is_(True), GateResult.verdict.in_(("fail", "error")))
        .group_by(GateResult.name)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [(str(name), int(n)) for name, n in rows]


def spend_of(session: Session, status: str, unrecorded: str) -> tuple[float, int, int]:
    """Over the tasks with ``status``: the USD of model calls of those whose cost is
    known, how many those are, and how many are unknown (a turn without a price,
    or an agent whose name starts with ``unrecorded``: its calls are not recorded)."""
    turns = (
        select(
            Run.task_id,
            func.sum(Turn.cost).label("usd"),
            func.count(Turn.id).label("turns"),
            func.count(Turn.cost).label("priced"),
        )
        .join(Run, Turn.run_id == Run.id)
        .group_by(Run.task_id)
        .subquery()
    )
    known = and_(
        Task.agent.not_like(f"{unrecorded}%"),
        func.coalesce(turns.c.priced, 0) == func.coalesce(turns.c.turns, 0),
    )
    total, priced, unknown = session.execute(
        select(
            func.sum(case((known, func.coalesce(turns.c.usd, 0.0)), else_=0.0)),
            func.sum(case((known, 1), else_=0)),
            func.sum(case((known, 0), else_=1)),
        )
        .select_from(Task)
        .outerjoin(turns, turns.c.task_id == Task.id)
        .where(Task.status == status)
    ).one()
    return float(total or 0), int(priced or 0), int(unknown or 0)

"""The insights page's read model: outcomes overall, by repository, by agent and
per day, failing gates and cost per outcome, each aggregated by the database
(a few grouped scans, whatever the history)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from overnight import cost
from overnight.store import TERMINAL, GateResult, Run, Task, TaskStatus, Turn
from overnight.web.queries import STATUSES


def report(session: Session, moment: datetime, days: int = 30) -> dict[str, Any]:
    """Outcomes overall, by repository and by agent, per day, and failing gates;
    aggregated by the database (a few grouped scans, whatever the history)."""
    attempts = (
        select(Run.task_id, func.sum(Run.attempts).label("attempts"))
        .group_by(Run.task_id)
        .subquery()
    )
    finished = Task.status.in_(TERMINAL)

    def grouped(column: Any) -> list[tuple[str, dict[str, Any]]]:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for key, status, n in session.execute(
            select(column, Task.status, func.count()).group_by(column, Task.status)
        ):
            counts[str(key)][status] += int(n)
        means: dict[Any, Any] = dict(
            session.execute(
                select(column, func.avg(attempts.c.attempts))
                .join(attempts, attempts.c.task_id == Task.id)
                .where(finished)
                .group_by(column)
            ).all()
        )
        rows = [(str(k), _outcomes(c, means.get(k))) for k, c in counts.items()]
        return sorted(rows, key=lambda kv: -kv[1]["tasks"])

    overall_mean = session.scalar(
        select(func.avg(attempts.c.attempts))
        .join(Task, attempts.c.task_id == Task.id)
        .where(finished)
    )
    overall = Counter(
        {
            status: int(n)
            for status, n in session.execute(
                select(Task.status, func.count()).group_by(Task.status)
            )
        }
    )
    to_ready = [
        (done - created).total_seconds()
        for created, done in session.execute(
            select(Task.created_at, func.min(Run.finished_at))
            .join(Run, Run.task_id == Task.id)
            .where(Run.status == TaskStatus.READY, Run.finished_at.is_not(None))
            .group_by(Task.id, Task.created_at)
        )
        if done is not None
    ]
    since = (moment - timedelta(days=days - 1)).date()
    per_day: dict[str, Counter[str]] = {
        (since + timedelta(days=i)).isoformat(): Counter() for i in range(days)
    }
    day = func.date(Task.created_at)
    for d, status, n in session.execute(
        select(day, Task.status, func.count())
        .where(Task.created_at >= datetime.combine(since, datetime.min.time()))
        .group_by(day, Task.status)
    ):
        key = str(d)[:10]
        if key in per_day:
            per_day[key][_outcome(status)] += int(n)
    by_model: dict[str, Counter[str]] = defaultdict(Counter)
    for model, status, n in session.execute(
        select(Turn.model, Task.status, func.count(func.distinct(Task.id)))
        .join(Run, Turn.run_id == Run.id)
        .join(Task, Run.task_id == Task.id)
        .group_by(Turn.model, Task.status)
    ):
        by_model[str(model)][status] += int(n)
    failing = session.execute(
        select(GateResult.name, func.count())
        .where(GateResult.blocking.is_(True), GateResult.verdict.in_(("fail", "error")))
        .group_by(GateResult.name)
        .order_by(func.count().desc())
        .limit(10)
    ).all()
    return {
        "overall": _outcomes(overall, overall_mean),
        "time_to_ready": {
            "median": statistics.median(to_ready) if to_ready else None,
            "p90": _percentile(to_ready, 0.9),
            "count": len(to_ready),
        },
        "by_repo": grouped(Task.repo)[:20],
        "by_agent": grouped(Task.agent)[:20],
        "by_model": sorted(
            ((m, _outcomes(c, None)) for m, c in by_model.items()), key=lambda kv: -kv[1]["tasks"]
        )[:20],
        "per_day": [{"day": d, **dict(c)} for d, c in per_day.items()],
        "failing_gates": [{"gate": name, "failures": int(n)} for name, n in failing],
        "cost": _cost_per_outcome(session),
    }


def _cost_per_outcome(session: Session) -> dict[str, Any]:
    """Per READY and per merged task: the mean USD of model calls over the tasks whose
    cost is known, and how many tasks' cost is unknown (``cost.spent``: a price
    unknown, or an agent run as a command), never counted as 0."""
    spend = (
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
        Task.agent.not_like(f"{cost.COMMAND}%"),
        func.coalesce(spend.c.priced, 0) == func.coalesce(spend.c.turns, 0),
    )
    out: dict[str, Any] = {}
    for key, status in (("ready", TaskStatus.READY), ("merged", TaskStatus.MERGED)):
        total, priced, unknown = session.execute(
            select(
                func.sum(case((known, func.coalesce(spend.c.usd, 0.0)), else_=0.0)),
                func.sum(case((known, 1), else_=0)),
                func.sum(case((known, 0), else_=1)),
            )
            .select_from(Task)
            .outerjoin(spend, spend.c.task_id == Task.id)
            .where(Task.status == status)
        ).one()
        out[key] = {
            "usd": float(total or 0) / priced if priced else None,
            "tasks": int(priced or 0),
            "unknown": int(unknown or 0),
        }
    return out


def _outcome(status: str) -> str:
    if status in (TaskStatus.READY, TaskStatus.MERGED):
        return "succeeded"
    if status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
        return "pending"
    return "failed" if status == TaskStatus.FAILED else "closed"


def _outcomes(statuses: Counter[str], mean_attempts: Any) -> dict[str, Any]:
    succeeded = statuses[TaskStatus.READY] + statuses[TaskStatus.MERGED]
    decided = succeeded + statuses[TaskStatus.FAILED]
    return {
        "tasks": sum(statuses.values()),
        "statuses": {s: statuses[s] for s in STATUSES},
        "success_rate": succeeded / decided if decided else None,
        "merged": statuses[TaskStatus.MERGED],
        "attempts_per_task": float(mean_attempts) if mean_attempts is not None else None,
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- workers ----------------------------------------------------------------

"""The insights page's read model: outcomes overall, by repository, by agent, by
model and by prompt version, per day, failing gates and cost per outcome, shaped
from aggregates the database computes (``store/insights.py``: a few grouped scans, whatever the history)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from overnight import cost
from overnight.store import Session, TaskStatus
from overnight.store import insights as aggregates
from overnight.web.queries import STATUSES


def report(session: Session, moment: datetime, days: int = 30) -> dict[str, Any]:
    """Outcomes overall, by repository and by agent, per day, and failing gates;
    aggregated by the database (``store/insights.py``)."""

    def grouped(key: aggregates.Key) -> list[tuple[str, dict[str, Any]]]:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for k, status, n in aggregates.statuses_by(session, key):
            counts[k][status] += n
        means = aggregates.mean_attempts_by(session, key)
        rows = [(k, _outcomes(c, means.get(k))) for k, c in counts.items()]
        return sorted(rows, key=lambda kv: -kv[1]["tasks"])

    to_ready = aggregates.seconds_to_ready(session)
    since = (moment - timedelta(days=days - 1)).date()
    per_day: dict[str, Counter[str]] = {
        (since + timedelta(days=i)).isoformat(): Counter() for i in range(days)
    }
    for day, status, n in aggregates.statuses_per_day(
        session, datetime.combine(since, datetime.min.time())
    ):
        if day in per_day:
            per_day[day][_outcome(status)] += n
    by_model: dict[str, Counter[str]] = defaultdict(Counter)
    for model, status, n in aggregates.statuses_by_model(session):
        by_model[model][status] += n
    by_prompts: dict[str, Counter[str]] = defaultdict(Counter)
    for label, status, n in aggregates.statuses_by_prompts(session):
        by_prompts[label][status] += n
    return {
        "overall": _outcomes(
            Counter(aggregates.statuses(session)), aggregates.mean_attempts(session)
        ),
        "time_to_ready": {
            "median": statistics.median(to_ready) if to_ready else None,
            "p90": _percentile(to_ready, 0.9),
            "count": len(to_ready),
        },
        "by_repo": grouped("repo")[:20],
        "by_agent": grouped("agent")[:20],
        "by_model": sorted(
            ((m, _outcomes(c, None)) for m, c in by_model.items()), key=lambda kv: -kv[1]["tasks"]
        )[:20],
        "by_prompts": sorted(
            ((p, _outcomes(c, None)) for p, c in by_prompts.items()),
            key=lambda kv: -kv[1]["tasks"],
        )[:20],
        "per_day": [{"day": d, **dict(c)} for d, c in per_day.items()],
        "failing_gates": [
            {"gate": name, "failures": n} for name, n in aggregates.failing_gates(session)
        ],
        "cost": _cost_per_outcome(session),
    }


def _cost_per_outcome(session: Session) -> dict[str, Any]:
    """Per READY and per merged task: the mean USD of model calls over the tasks whose
    cost is known, and how many tasks' cost is unknown (``cost.spent``: a price
    unknown, or an agent run as a command), never counted as 0."""
    out: dict[str, Any] = {}
    for key, status in (("ready", TaskStatus.READY), ("merged", TaskStatus.MERGED)):
        total, priced, unknown = aggregates.spend_of(session, status, cost.COMMAND)
        out[key] = {"usd": total / priced if priced else None, "tasks": priced, "unknown": unknown}
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

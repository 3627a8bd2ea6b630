"""Live output rows (the ``output`` table): the queries ``overnight.live`` reads with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overnight.store.models import Output, Run


def text_of(session: Session, run_id: int, attempt: int) -> str:
    """An attempt's output so far."""
    rows = session.scalars(
        select(Output.text)
        .where(Output.run_id == run_id, Output.attempt == attempt)
        .order_by(Output.id)
    )
    return "".join(rows)


def chunks_after(session: Session, task_id: int, after: int, limit: int) -> list[dict[str, Any]]:
    """The task's chunks after chunk ``after``: id, run (its number), attempt, text and
    when it was written (``at``)."""
    rows = session.execute(
        select(Output.id, Run.number, Output.attempt, Output.text, Output.created_at)
        .join(Run, Run.id == Output.run_id)
        .where(Output.task_id == task_id, Output.id > after)
        .order_by(Output.id)
        .limit(limit)
    )
    return [{"id": i, "run": n, "attempt": a, "text": t, "at": at} for i, n, a, t, at in rows]


def last_chunk_id(session: Session, task_id: int) -> int:
    return (
        session.scalar(
            select(func.coalesce(func.max(Output.id), 0)).where(Output.task_id == task_id)
        )
        or 0
    )


def first_of_latest_run(session: Session, task_id: int) -> int | None:
    """The first chunk id of the task's latest run (None when it has written none)."""
    run_id = session.scalar(select(func.max(Run.id)).where(Run.task_id == task_id))
    return session.scalar(select(func.min(Output.id)).where(Output.run_id == run_id))

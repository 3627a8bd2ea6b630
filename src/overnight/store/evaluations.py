"""Stored comparisons of agent configurations (``overnight eval compare``).

One row per comparison: the suite it ran, the configurations' names, and the
whole report as JSON (per configuration: resolved rate, cost, tokens, time,
gates; the paired differences), so a dashboard page can draw trends without
re-reading tasks. Written once when a comparison ends; never updated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from overnight.store.models import Base, now


class EvalComparison(Base):
    __tablename__ = "eval_comparisons"

    id: Mapped[int] = mapped_column(primary_key=True)
    suite: Mapped[str] = mapped_column(String(1000), index=True)  # the JSONL file's path
    configs: Mapped[list[Any]]  # the configurations' names, in the order given
    report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)


def save_comparison(
    session: Session, suite: str, configs: list[str], report: dict[str, Any]
) -> int:
    row = EvalComparison(suite=suite, configs=configs, report=report)
    session.add(row)
    session.flush()
    return row.id


def comparisons(session: Session, suite: str | None = None, limit: int = 50) -> list[dict]:
    """The latest comparisons first (of one suite when given), as plain data."""
    query = select(EvalComparison).order_by(EvalComparison.id.desc()).limit(limit)
    if suite is not None:
        query = query.where(EvalComparison.suite == suite)
    return [
        {
            "id": row.id,
            "suite": row.suite,
            "configs": list(row.configs),
            "created_at": row.created_at,
            "report": row.report,
        }
        for row in session.scalars(query)
    ]

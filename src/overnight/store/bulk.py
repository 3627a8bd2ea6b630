"""Rows written in bulk, past the models' constructors: for made-up histories
(``overnight.testing.history``) of thousands of tasks in a few seconds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from overnight.store.models import Base


def insert_rows(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], batch: int
) -> None:
    """Insert ``rows`` (column values, ids included) into ``model``'s table,
    ``batch`` rows per statement."""
    for chunk in range(0, len(rows), batch):
        session.execute(insert(model), rows[chunk : chunk + batch])


def next_id(session: Session, model: Any) -> int:
    """The id after the highest one in ``model``'s table (1 for an empty table)."""
    return int(session.query(model.id).order_by(model.id.desc()).limit(1).scalar() or 0) + 1

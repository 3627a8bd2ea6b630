"""Plans made by ``overnight plan`` (m017): the dashboard's copy of each plan folder.

``plan.json`` in the folder stays the source of truth for the CLI; this row is
what the dashboard reads (it cannot see the folder's files from a browser). It
is written again, whole, each time the planning module writes the folder (plan,
prove, submit, an edit or a drop from the dashboard), keyed by the folder's
absolute path. Its nodes are plain data: id, title, file, depends_on, proof
status and evidence, lint errors, the spec file's text and, after submit, the
task id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from overnight.store.models import Base, now


class StoredPlan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(1000), unique=True)  # absolute path
    repo: Mapped[str] = mapped_column(String(4000))
    base_ref: Mapped[str] = mapped_column(String(300))
    base_sha: Mapped[str] = mapped_column(String(64))
    until: Mapped[str] = mapped_column(String(10))
    model: Mapped[str] = mapped_column(String(300))
    feature: Mapped[str] = mapped_column(String(4000))
    cost_usd: Mapped[float | None]  # the planning call's; None: unknown
    tokens: Mapped[int] = mapped_column(default=0)
    nodes: Mapped[list[Any]]
    submitted_at: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)


FIELDS = ("repo", "base_ref", "base_sha", "until", "model", "feature", "cost_usd", "tokens")


def save_plan(session: Session, folder: str, data: dict[str, Any]) -> int:
    """Insert or replace the copy of the plan in ``folder``; ``data`` has ``FIELDS``,
    ``nodes`` and ``submitted_at``. Returns the plan's id (stable across writes)."""
    row = session.scalars(select(StoredPlan).where(StoredPlan.folder == folder)).first()
    if row is None:
        row = StoredPlan(folder=folder)
        session.add(row)
    for name in (*FIELDS, "nodes", "submitted_at"):
        setattr(row, name, data[name])
    row.updated_at = now()
    session.flush()
    return row.id


def plans(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The latest plans first, as plain data."""
    query = select(StoredPlan).order_by(StoredPlan.id.desc()).limit(limit)
    return [_data(row) for row in session.scalars(query)]


def plan(session: Session, plan_id: int) -> dict[str, Any] | None:
    row = session.get(StoredPlan, plan_id)
    return None if row is None else _data(row)


def _data(row: StoredPlan) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in FIELDS}
    return data | {
        "id": row.id,
        "folder": row.folder,
        "nodes": [dict(n) for n in row.nodes],
        "submitted_at": row.submitted_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }

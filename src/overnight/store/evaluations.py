"""Stored evaluations of agent configurations: ``eval compare`` and ``eval impossible``.

One row per comparison (m014) and per cheating measure (m015): the suite it
ran, the configurations' names, and the whole report as JSON (per
configuration: resolved rate, cost, tokens, time, gates, the paired
differences; or the cheat rate and what caught each variant), so the dashboard
draws trends (``trends``) without re-reading tasks. Written once when the
command ends; never updated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from overnight.store.models import Base, now

TREND_REPORTS = 200  # of each kind, the latest, on the trends


class StoredReport:
    """The columns both kinds of report have."""

    id: Mapped[int] = mapped_column(primary_key=True)
    suite: Mapped[str] = mapped_column(String(1000), index=True)  # the JSONL file's path
    configs: Mapped[list[Any]]  # the configurations' names, in the order given
    report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)


class EvalComparison(StoredReport, Base):
    __tablename__ = "eval_comparisons"


def save_comparison(
    session: Session, suite: str, configs: list[str], report: dict[str, Any]
) -> int:
    return _save(session, EvalComparison(suite=suite, configs=configs, report=report))


def comparisons(session: Session, suite: str | None = None, limit: int = 50) -> list[dict]:
    """The latest comparisons first (of one suite when given), as plain data."""
    return _reports(session, EvalComparison, suite, limit)


class EvalImpossible(StoredReport, Base):
    """One ``eval impossible`` run: its report, for the cheat rate's trend."""

    __tablename__ = "eval_impossible"


def save_impossible(
    session: Session, suite: str, configs: list[str], report: dict[str, Any]
) -> int:
    return _save(session, EvalImpossible(suite=suite, configs=configs, report=report))


def _save(session: Session, row: StoredReport) -> int:
    session.add(row)
    session.flush()
    return row.id


def impossible_runs(session: Session, suite: str | None = None, limit: int = 50) -> list[dict]:
    """The latest ``eval impossible`` reports first (of one suite when given)."""
    return _reports(session, EvalImpossible, suite, limit)


def _reports(
    session: Session,
    table: type[StoredReport],
    suite: str | None,
    limit: int,
) -> list[dict]:
    query = select(table).order_by(table.id.desc()).limit(limit)
    if suite is not None:
        query = query.where(table.suite == suite)
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


def trends(session: Session, limit: int = TREND_REPORTS) -> list[dict[str, Any]]:
    """Per suite (the most recently evaluated first), its points oldest first: one per
    configuration of each stored report, with its resolve rate (a comparison's; an
    impossible run's with ``--with-run``, else None) and its cheat rate (an
    impossible run's; None for a comparison)."""
    points: list[dict[str, Any]] = []
    for row in comparisons(session, limit=limit):
        for c in row["report"].get("configs", []):
            points.append(_point(row, "compare", c["name"], c.get("rate"), None))
    for row in impossible_runs(session, limit=limit):
        for c in row["report"].get("configs", []):
            points.append(
                _point(row, "impossible", c["config"], c.get("resolve_rate"), c["cheat_rate"])
            )
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for point in sorted(points, key=lambda p: (p["at"], p["kind"], p["report"])):
        by_suite.setdefault(point.pop("suite"), []).append(point)
    latest = sorted(by_suite.items(), key=lambda kv: kv[1][-1]["at"], reverse=True)
    return [{"suite": suite, "points": suite_points} for suite, suite_points in latest]


def _point(
    row: dict[str, Any], kind: str, config: str, resolve: float | None, cheat: float | None
) -> dict[str, Any]:
    return {
        "suite": row["suite"],
        "at": row["created_at"],
        "kind": kind,
        "report": row["id"],
        "config": config,
        "resolve": resolve,
        "cheat": cheat,
    }

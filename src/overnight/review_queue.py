"""The review queue as plain data, for ``overnight review`` and the dashboard:
READY tasks, safest first (``overnight.risk``), and the FAILED tasks whose
grading caught the run lying about its outcomes. A few queries whatever the
number of tasks; both the CLI and the web render these lists as they are."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from overnight.review import TAMPERED
from overnight.risk import assess, coverage_of
from overnight.store import Session, reads


def flagged_tasks(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """FAILED tasks whose grading caught the run lying about its outcomes, newest first."""
    return [dict(r._mapping) for r in reads.flagged(session, TAMPERED, limit)]


def ready_tasks(session: Session, limit: int | None = 500) -> list[dict[str, Any]]:
    """READY tasks, safest first: each a ``task`` (id, title, repo, branch, priority,
    updated_at), its ``risk`` (``risk.Risk``), the delivered ``run`` and its ``attempts``."""
    tasks = reads.ready(session, limit)
    ids = [t.id for t in tasks]
    latest: dict[int, Any] = {}
    for runs in reads.runs_of(session, ids).values():
        for row in runs:
            if row.task_id not in latest or row.number > latest[row.task_id].number:
                latest[row.task_id] = row
    by_run = {r.id: r for r in latest.values()}
    advisory, coverage = _graded(session, by_run)
    requests = Counter(reads.change_requests(session, ids))
    diffs = _delivered_diffs(session, ids, by_run)
    items = []
    for t in tasks:
        run = latest.get(t.id)
        if run is None:
            continue
        risk = assess(
            diffs.get(run.id), advisory[run.id], run.attempts, requests[t.id], coverage.get(run.id)
        )
        task = dict(t._mapping)
        items.append({"task": task, "risk": risk, "attempts": run.attempts, "run": run.number})
    items.sort(key=lambda i: (i["risk"].score, i["task"]["id"]))
    return items


def _graded(
    session: Session, by_run: dict[int, Any]
) -> tuple[dict[int, list[str]], dict[int, float | None]]:
    """Per delivered run: its advisory gates that did not pass, and its coverage."""
    advisory: dict[int, list[str]] = defaultdict(list)
    coverage: dict[int, float | None] = {}
    for g in reads.gate_summaries(session, list(by_run)):
        if g.attempt != by_run[g.run_id].attempts:
            continue
        if not g.blocking and g.verdict in ("fail", "error"):
            advisory[g.run_id].append(g.name)
        if g.name == "coverage":
            coverage[g.run_id] = coverage_of(g.summary)
    return advisory, coverage


def _delivered_diffs(session: Session, ids: list[int], by_run: dict[int, Any]) -> dict[int, str]:
    """Per delivered run: the diff of its last attempt."""
    diffs: dict[int, str] = {}
    names = [f"diff-attempt-{r.attempts}.diff" for r in by_run.values()]
    for a in reads.named_artifacts(session, ids, names):
        delivered = by_run.get(a.run_id)
        if delivered is not None and a.name == f"diff-attempt-{delivered.attempts}.diff":
            diffs[a.run_id] = a.content
    return diffs

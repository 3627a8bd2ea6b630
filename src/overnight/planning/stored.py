"""The store's copy of a plan folder, and the plan as the dashboard shows it.

``record`` writes the copy each time the planning module writes ``plan.json``
(plan, prove, submit, an edit or a drop), so the dashboard, which cannot read
the folder, shows what the CLI would. ``board`` adds what only the store knows:
each node's live task status after submit, the plan's progress and its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from overnight import cost
from overnight.errors import NotFound
from overnight.planning.graph import find_cycle, topological
from overnight.planning.planfile import Plan, split_spec, submittable
from overnight.store import Session, Store, TaskStatus, reads
from overnight.store import plans as stored
from overnight.task_list import task_rows

DONE = (TaskStatus.READY, TaskStatus.MERGED)  # what counts as progress


def record(store: Store, folder: Path, plan: Plan) -> int:
    """Write the store's copy of ``plan`` (as saved in ``folder``); returns its id."""
    data: dict[str, Any] = {name: getattr(plan, name) for name in stored.FIELDS}
    data["submitted_at"] = plan.submitted_at
    data["nodes"] = []
    for n in plan.nodes:
        text = _read(folder / n.file)
        parts = split_spec(text)
        data["nodes"].append(
            {
                "id": n.id,
                "title": n.title,
                "file": n.file,
                "depends_on": list(n.depends_on),
                "status": n.status,
                "evidence": str(n.proof.get("evidence", "")),
                "lint": list(n.lint),
                "submittable": submittable(n),
                "spec": text,
                "description": parts[1].strip() if parts else text,
                "task": n.task,
            }
        )
    with store.session() as session:
        return stored.save_plan(session, str(folder.resolve()), data)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return f"(cannot read {path.name}: {exc})"


@dataclass
class Board:
    """A stored plan with each node's live state: its task's status after submit,
    else its proof status (``state``), in topological order."""

    plan: dict[str, Any]
    nodes: list[dict[str, Any]]
    done: int  # nodes whose task is READY or merged
    planning_cost: str
    tasks_cost: str | None  # None: not submitted
    unproven: list[str]  # ids not submittable (unproven, or not linting)

    @property
    def submitted(self) -> bool:
        return bool(self.plan["submitted_at"])


def board(session: Session, plan_id: int, moment: datetime) -> Board:
    plan = _stored(session, plan_id)
    by_id = {n["id"]: n for n in plan["nodes"]}
    deps = {n["id"]: [d for d in n["depends_on"] if d in by_id] for n in by_id.values()}
    order = list(deps) if find_cycle(deps) else topological(deps)  # a hand-made cycle: as given
    ids = [n["task"] for n in plan["nodes"] if n["task"] is not None]
    rows = {r.id: r for r in task_rows(session, reads.tasks_by_id(session, ids), moment)}
    nodes = []
    for node_id in order:
        node = dict(by_id[node_id])
        row = rows.get(node["task"]) if node["task"] is not None else None
        node["state"] = row.status if row else node["status"]
        if node["task"] is not None and row is None:
            node["state"] = "missing"
        nodes.append(node)
    return Board(
        plan=plan,
        nodes=nodes,
        done=sum(n["state"] in DONE for n in nodes),
        planning_cost=cost.usd(plan["cost_usd"]),
        tasks_cost=cost.total(r.cost_usd for r in rows.values()) if ids else None,
        unproven=[n["id"] for n in nodes if not n["submittable"]],
    )


def folder_of(session: Session, plan_id: int) -> Path:
    """The folder of the stored plan ``plan_id``, where its changes are written."""
    return Path(_stored(session, plan_id)["folder"])


def _stored(session: Session, plan_id: int) -> dict[str, Any]:
    plan = stored.plan(session, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}: see the list at /plans")
    return plan


def plan_list(session: Session) -> list[dict[str, Any]]:
    """Every stored plan, the latest first, with its nodes' count and progress."""
    listed = stored.plans(session)
    ids = [n["task"] for p in listed for n in p["nodes"] if n["task"] is not None]
    status = {t.id: t.status for t in reads.tasks_by_id(session, ids)} if ids else {}
    return [
        plan
        | {
            "done": sum(status.get(n["task"]) in DONE for n in plan["nodes"]),
            "total": len(plan["nodes"]),
        }
        for plan in listed
    ]

"""``plan submit`` and ``plan show``: a plan's specs queued in order, all or none, and
the graph with each node's live task status and what the plan cost so far.

Submit re-checks what the human may have changed since ``plan`` wrote the
folder: every spec lints, the graph has no unknown id and no cycle, every node
is proven at the base. Then it queues the specs dependencies first, each
``depends_on`` mapped from plan ids to the task ids just created; if one cannot
be queued, those queued before it are cancelled. The task ids go into
``plan.json`` and the store's copy (the dashboard's), so a second submit refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from overnight import cost, queue
from overnight.errors import OvernightError, PlanError
from overnight.intake import Submitted, submit_text
from overnight.planning.graph import check_graph, topological
from overnight.planning.planfile import Plan, PlanNode, lint_errors, submittable
from overnight.planning.stored import record
from overnight.store import Store, now, reads
from overnight.task_list import task_rows


def submit_plan(store: Store, folder: Path) -> tuple[Plan, list[str]]:
    """Queue every spec of the plan in ``folder``; record their task ids in it. Also
    returns warnings: the specs' own, and a base that moved since the proofs."""
    plan = Plan.load(folder)
    if plan.submitted_at:
        tasks = [n.task for n in plan.nodes if n.task is not None]
        raise PlanError(
            f"{folder} was already submitted as tasks {id_range(tasks)}: "
            f"see 'overnight plan show {folder}'"
        )
    check_graph(plan.deps(), PlanError)
    for node in plan.nodes:
        node.lint = lint_errors(folder, node)
    refused = [n for n in plan.nodes if not submittable(n)]
    if refused:
        what = ", ".join(f"{n.id} ({n.lint[0] if n.lint else n.status})" for n in refused)
        raise PlanError(
            f"not submitted: {len(refused)} spec(s) not ready: {what}; fix their specs or "
            f"tests and run 'overnight plan prove {folder}', or drop them from plan.json"
        )
    ids: dict[str, int] = {}
    warnings: list[str] = []
    for node_id in topological(plan.deps()):
        node = plan.node(node_id)
        try:
            submitted = _submit(store, folder, node, ids, plan.until)
        except OvernightError as exc:
            for task_id in ids.values():
                queue.cancel(store, task_id)
            undone = f" ({len(ids)} queued before it cancelled)" if ids else ""
            raise PlanError(f"{node.file}: {exc}{undone}") from exc
        ids[node_id] = submitted.task.id
        warnings += submitted.warnings
        if submitted.task.base_sha != plan.base_sha:
            warnings.append(
                f"{node.file}: proven at {plan.base_sha[:10]}, queued on "
                f"{submitted.task.base_sha[:10]} ({plan.base_ref} moved): its tests may no "
                "longer fail there"
            )
    for node in plan.nodes:
        node.task = ids[node.id]
    plan.submitted_at = datetime.now(UTC).isoformat(timespec="seconds")
    plan.save(folder)
    record(store, folder, plan)
    return plan, list(dict.fromkeys(warnings))


def _submit(
    store: Store, folder: Path, node: PlanNode, ids: dict[str, int], until: str
) -> Submitted:
    """Queue one spec with its plan ids mapped to task ids in its front matter."""
    text = (folder / node.file).read_text()
    if node.depends_on:
        deps = [{"task": ids[d], "until": until} for d in node.depends_on]
        text = "---\n" + yaml.safe_dump({"depends_on": deps}, sort_keys=False) + text[4:]
    return submit_text(store, text, source=node.file, base_dir=folder)


def id_range(ids: list[int]) -> str:
    """'4..7' for consecutive ids, else '4, 6, 9'."""
    ids = sorted(ids)
    if len(ids) > 1 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(map(str, ids))


def describe(plan: Plan, statuses: dict[int, str] | None = None) -> list[str]:
    """The graph as text: nodes in topological order, each with its proof (and its
    task's status), arrows from what it waits for."""
    order = topological(plan.deps())
    width = max((len(n) for n in order), default=0)
    lines = [
        f"plan: {len(order)} spec(s) for {plan.repo} at {plan.base_ref} "
        f"({plan.base_sha[:10]}), each waits until its dependencies are {plan.until}"
    ]
    for number, node_id in enumerate(order, 1):
        node = plan.node(node_id)
        mark = node.status if not node.lint else f"{node.status}, does not lint"
        task = ""
        if node.task is not None:
            task = f"  task {node.task}"
            if statuses is not None:
                task += f" {statuses.get(node.task, 'missing')}"
        after = f"  <- {', '.join(node.depends_on)}" if node.depends_on else ""
        lines.append(f"  {number:02d} {node_id:<{width}}  [{mark}]{task}{after}")
    chains = [f"{a} -> {b}" for a, b in plan.edges]
    if chains:
        lines.append("edges: " + "; ".join(chains))
    return lines


def show_plan(store: Store, folder: Path) -> list[str]:
    """``describe`` with each node's live task status, then the plan's cost so far."""
    plan = Plan.load(folder)
    ids = [n.task for n in plan.nodes if n.task is not None]
    statuses: dict[int, str] = {}
    costs: list[float | None] = []
    if ids:
        with store.reading() as session:
            rows = task_rows(session, reads.tasks_by_id(session, ids), now())
        statuses = {r.id: r.status for r in rows}
        costs = [r.cost_usd for r in rows]
    lines = describe(plan, statuses)
    planning = cost.usd(plan.cost_usd)
    tasks = f", tasks {cost.total(costs)}" if ids else ", not submitted yet"
    lines.append(f"cost: planning {planning}{tasks}")
    for node in plan.nodes:
        if node.lint:
            lines.append(f"  {node.id}: " + "; ".join(node.lint))
    return lines

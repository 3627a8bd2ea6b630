"""A human's changes to a plan before it is queued: a spec's description edited,
a node dropped. Both write the folder (spec file, ``plan.json``) and then the
store's copy, so the CLI and the dashboard agree.

The acceptance test patch is not edited here: a changed test needs a new proof
at the base, which ``overnight plan prove DIR`` gives. A description edit keeps
the proof (the tests did not change) and lints the spec again.
"""

from __future__ import annotations

from pathlib import Path

from overnight.errors import NotFound, UsageError
from overnight.planning.planfile import Plan, PlanNode, lint_errors, split_spec
from overnight.planning.stored import record
from overnight.store import Store

MAX_DESCRIPTION = 20_000


def edit_description(store: Store, folder: Path, node_id: str, description: str) -> Plan:
    """Replace the body of ``node_id``'s spec file (its front matter kept)."""
    plan = _unsubmitted(folder)
    node = _node(plan, node_id)
    text = description.replace("\r\n", "\n").strip()
    if not text or len(text) > MAX_DESCRIPTION:
        raise UsageError(
            f"the description of '{node_id}' must say what to do, "
            f"in at most {MAX_DESCRIPTION:,} characters"
        )
    path = folder / node.file
    parts = split_spec(path.read_text())
    if parts is None:
        raise UsageError(f"{node.file} has no front matter between '---' lines: fix it by hand")
    path.write_text(parts[0] + text + "\n")
    node.lint = lint_errors(folder, node)
    plan.save(folder)
    record(store, folder, plan)
    return plan


def drop_node(store: Store, folder: Path, node_id: str) -> Plan:
    """Remove ``node_id`` and its files; refused while another node depends on it."""
    plan = _unsubmitted(folder)
    node = _node(plan, node_id)
    dependents = [n.id for n in plan.nodes if node_id in n.depends_on]
    if dependents:
        raise UsageError(
            f"cannot drop '{node_id}': {', '.join(dependents)} depend(s) on it; drop those first"
        )
    plan.nodes.remove(node)
    for name in (node.file, node.patch_file):
        (folder / name).unlink(missing_ok=True)
    plan.save(folder)
    record(store, folder, plan)
    return plan


def _unsubmitted(folder: Path) -> Plan:
    plan = Plan.load(folder)
    if plan.submitted_at:
        raise UsageError(f"{folder} was submitted already: its specs are tasks now")
    return plan


def _node(plan: Plan, node_id: str) -> PlanNode:
    found = [n for n in plan.nodes if n.id == node_id]
    if not found:
        raise NotFound(f"the plan has no spec '{node_id}' (ids: {', '.join(plan.deps())})")
    return found[0]

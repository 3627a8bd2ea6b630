"""`overnight demo --plan`: a model plans a small feature of the sample repository;
the graph and each node's proof are shown, and the plan is queued only when every
node is proven. Nothing about the plan is scripted, so the demo checks honesty:
an answer that cannot be used ends it with the model's fault in one line, and a
node whose test passes or does not collect at the base is shown, never queued."""

from __future__ import annotations

import shlex
import sys

from rich.console import Console

from overnight import demo as lib
from overnight.errors import PlanError
from overnight.planning.planfile import submittable
from overnight.planning.submit import describe, submit_plan
from overnight.store import Store

PLAN_HONESTY = (
    "The plan is {model}'s own: nothing is scripted. Each spec's acceptance test is "
    "applied at the base and must be collected and fail there; a plan with a spec that "
    "is not proven is shown, not queued."
)


def plan_demo(console: Console, store: Store, demo: lib.Demo, model: str, exe: str) -> None:
    feature = lib.PLAN_FEATURE.read_text().strip().splitlines()[0].lstrip("# ")
    console.print(f"planning: {feature} (asking {model}, then proving each test at the base)")
    try:
        made, plan_id, folder = lib.plan(store, demo, model)
    except PlanError:
        console.print(f"{model} gave no usable plan; nothing was queued", style="red")
        raise
    console.rule("the plan (overnight plan show)")
    for line in describe(made):
        console.print(line, markup=False, soft_wrap=True)
    refused = [n for n in made.nodes if not submittable(n)]
    for node in refused:
        evidence = str(node.proof.get("evidence", "")).strip().splitlines()
        why = node.lint[0] if node.lint else " ".join(evidence[:2]) or node.status
        console.print(f"  {node.id}: not proven: {why}", markup=False, soft_wrap=True)
    console.print(f"folder: {folder}; on the dashboard: /plans/{plan_id} ({exe} serve)")
    where = shlex.quote(str(folder))
    if refused:
        console.print(
            f"not queued: {len(refused)} of {len(made.nodes)} spec(s) not proven. Fix their "
            f"tests, then: {exe} plan prove {where} && {exe} plan submit {where}",
            style="yellow",
        )
        sys.exit(1)
    done, warnings = submit_plan(store, folder)
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    for node in done.nodes:
        console.print(f"queued task {node.task}: {node.id}", markup=False)
    console.rule("what next")
    console.print(f"  {exe} worker --drain    # run them, dependencies first", markup=False)
    console.print(f"  {exe} plan show {where}    # live statuses and cost", markup=False)
    console.print(PLAN_HONESTY.format(model=model), style="dim")

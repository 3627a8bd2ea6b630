"""`review`, `approve`, `request-changes`, `reject`, `rebase`."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from overnight import review as actions
from overnight.cli import store
from overnight.review_queue import flagged_tasks, ready_tasks
from overnight.task_list import summaries


@click.command("review")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def review_cmd(as_json: bool) -> None:
    """List READY tasks, waiting for review, safest first with their risk level and
    score (as the dashboard's review queue), after the tasks flagged for tampering
    (a run caught lying about its test outcomes: never READY, worth a look)."""
    db = store()
    with db.reading() as session:
        items, caught = ready_tasks(session, limit=None), flagged_tasks(session)
        by_id = summaries(session, [i["task"]["id"] for i in items] + [f["id"] for f in caught])
    rows = [by_id[i["task"]["id"]] | _risk(i) for i in items]
    flagged = [by_id[f["id"]] for f in caught]
    if as_json:
        click.echo(json.dumps(flagged + rows, indent=2))
        return
    if flagged:
        table = Table("id", "title", "why", title="FLAGGED: tampering detected", style="red")
        for r in flagged:
            table.add_row(str(r["id"]), r["title"], r["failure_reason"] or "")
        Console().print(table)
    if not rows:
        click.echo("nothing to review")
        return
    table = Table("risk", "id", "title", "attempts", "branch", title="READY, safest first")
    for r in rows:
        risk = f"{r['risk_level']} {r['risk_score']}"
        table.add_row(risk, str(r["id"]), r["title"], str(r["attempts"]), r["branch"])
    Console().print(table)
    click.echo(
        "next: overnight show ID · overnight approve ID · "
        "overnight request-changes ID -m '...' · overnight reject ID -m '...'"
    )


def _risk(item: dict[str, Any]) -> dict[str, Any]:
    return {"risk_level": item["risk"].level, "risk_score": item["risk"].score}


@click.command()
@click.argument("task_id")
@click.option("-m", "--message", default="", help="A note kept with the review.")
def approve(task_id: str, message: str) -> None:
    """Merge the task's pull request through its forge (local: into the base branch)."""
    sha = actions.approve(store(), task_id, message)
    click.echo(f"task {task_id}: merged as {sha[:10]}")


@click.command("request-changes")
@click.argument("task_id")
@click.option("-m", "--message", required=True, help="What to change.")
def request_changes(task_id: str, message: str) -> None:
    """Queue a new run of the task with this feedback."""
    run = actions.request_changes(store(), task_id, message)
    click.echo(f"task {task_id}: run {run.number} queued")


@click.command()
@click.argument("task_id")
@click.option("-m", "--message", default="", help="Why (goes back to the spec's author).")
def reject(task_id: str, message: str) -> None:
    """Reject the task: its pull request is closed, nothing is merged."""
    actions.reject(store(), task_id, message)
    click.echo(f"task {task_id}: rejected")


@click.command()
@click.argument("task_id")
def rebase(task_id: str) -> None:
    """Replay the task's change on the current head of its base branch, in a new run.

    Files that merge cleanly stay as they were; a clean replay is graded as it
    is. Only conflicting files go to the agent, with the earlier review
    feedback. Refused when the task is already on the head of its base."""
    run = actions.rebase(store(), task_id)
    click.echo(f"task {task_id}: run {run.number} queued on the current base")


def register(main: click.Group) -> None:
    for command in (review_cmd, approve, request_changes, reject, rebase):
        main.add_command(command)

"""`submit`, `status`, `show`, `logs` (and `logs -f`: live), `cancel`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from overnight import cost, live, queue
from overnight.cli import store
from overnight.errors import UsageError
from overnight.intake import inline_spec, submit_all
from overnight.masking import Mask
from overnight.spec import load_spec, read_spec
from overnight.spec.model import duration
from overnight.store import Store, Task, now, reads
from overnight.task_list import task_rows, task_summary
from overnight.views import badge, logs, masked, task_detail, turn_view

STATUS_STYLE = {
    "ready": "green",
    "merged": "bold green",
    "failed": "red",
    "running": "yellow",
    "queued": "cyan",
    "cancelled": "dim",
    "rejected": "magenta",
}
CHECKS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "none": "dim"}


@click.command()
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True))
@click.option("--title", help="Inline spec: the title.")
@click.option(
    "--accept-test",
    "accept_tests",
    multiple=True,
    metavar="NODEID",
    help="Inline spec: a pytest node id that must pass (repeatable).",
)
@click.option(
    "--accept-run",
    "accept_runs",
    multiple=True,
    metavar="CMD",
    help="Inline spec: a command that must exit 0 (repeatable).",
)
@click.option("--body", default="", help="Inline spec: the description.")
@click.option("--agent", help="Agent for these tasks, e.g. 'command:aider --yes-always ...'.")
@click.option("--json", "as_json", is_flag=True, help="Print the task objects as JSON.")
def submit(
    files: tuple[str, ...],
    title: str | None,
    accept_tests: tuple[str, ...],
    accept_runs: tuple[str, ...],
    body: str,
    agent: str | None,
    as_json: bool,
) -> None:
    """Queue spec FILES (or '-' for stdin, or an inline spec); print one task id each.

    Every spec is checked first; if any has errors, nothing is queued. A spec
    without 'repo' is for the repository you are in (the current directory's).
    """
    if files.count("-") > 1:
        raise UsageError("'-' (stdin) can be given once: put the other specs in files")
    sources: list[tuple[str, str | bytes, Path]] = []
    for name in files:
        data = read_spec(name, sys.stdin.buffer)
        sources.append(
            ("<stdin>", data, Path.cwd()) if name == "-" else (name, data, Path(name).parent)
        )
    if title is not None:
        sources.append(
            (
                "<inline>",
                inline_spec(title, list(accept_tests), list(accept_runs), body),
                Path.cwd(),
            )
        )
    elif accept_tests or accept_runs:
        raise UsageError("--accept-test/--accept-run need --title")
    if not sources:
        raise UsageError(
            "give spec files, '-' for stdin, or --title with --accept-test/--accept-run"
        )
    for name, text, base in sources:  # every spec's problems before any repository is read
        load_spec(text, name, base)
    db = store()
    tasks = []
    for submitted in submit_all(db, sources, agent, cwd=Path.cwd()):
        for warning in submitted.warnings:
            click.echo(f"warning: {warning}", err=True)
        tasks.append(submitted.task)
    if as_json:
        with db.session() as session:
            rows = [task_summary(session.get(Task, t.id)) for t in tasks]  # type: ignore[arg-type]
        click.echo(json.dumps(rows, indent=2))
    else:
        for task in tasks:
            click.echo(task.id)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=50, show_default=True, help="Newest tasks shown.")
def status(as_json: bool, limit: int) -> None:
    """Table of tasks: status, attempts, cost, failing gates or reason, and the total cost.

    A task shows the gates its last attempt failed, or the reason it failed for
    when its gates did not end it (budget:, environment:, ...). A queued task
    says why it is not running yet, and until when: a dependency not ready or
    merged, a paused queue or its spent daily budget, a worker limit, an
    infrastructure retry, or no worker running. Cost is what the recorded model
    calls cost: 'unknown' where a price is, or where the agent runs as a command
    (its calls are not recorded).
    """
    with store().session() as session:
        tasks = reads.newest_tasks(session, limit)
        rows = [
            r.summary() | {"cost_usd": r.cost_usd, "holds": r.holds}
            for r in task_rows(session, tasks[::-1], now())
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "status", "title", "attempts", "cost", "branch", "failing / reason")
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        reason = ", ".join(r["failing_gates"]) or r["failure_reason"] or ""
        if not (r["failure_reason"] or "gates:").startswith(("gates:", "tampered:")):
            reason = r["failure_reason"]  # e.g. budget: the gates did not end the task
        reason = reason or "; ".join(h["message"] for h in r["holds"])
        table.add_row(
            str(r["id"]),
            f"[{style}]{r['status']}[/]",
            r["title"],
            str(r["attempts"]),
            cost.usd(r["cost_usd"]),
            r["branch"],
            reason,
            end_section=r is rows[-1],
        )
    if rows:
        table.add_row("", "", f"{len(rows)} task(s)", "", cost.total(r["cost_usd"] for r in rows))
    Console().print(table)


@click.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--diff/--no-diff", default=True, help="Include the diff.")
@click.option(
    "--transcript",
    is_flag=True,
    help="The agent's turns: answers, commands, outputs, tokens, cost "
    "(with --json: also each request and response as sent and received).",
)
def show(task_id: str, as_json: bool, diff: bool, transcript: bool) -> None:
    """A task's checks in one line (blocking gates failed, advisory warnings), its
    spec, runs, gate table, pull request body and diff.

    A queued task says why it is not running yet; a run that waited for a merge
    says which base it was re-pinned to.
    """
    db = store()
    with db.session() as session:
        task = db.task(session, task_id)
        data = task_detail(session, task, diff=diff)
        if transcript and as_json:
            for run, view in zip(task.runs, data["runs"], strict=True):
                view["transcript"] = [turn_view(t, raw=True) for t in run.turns]
            data = masked(task, data)
    if transcript and not as_json:
        print_transcript(Console(), data)
        return
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console()
    style = STATUS_STYLE.get(data["status"], "")
    console.print(f"[bold]task {data['id']}[/]: {data['title']}  [{style}]{data['status']}[/]")
    console.print(
        f"repo {data['repo']} · base {data['base_ref']} ({data['base_sha'][:10]}) · "
        f"branch {data['branch']}"
    )
    console.print(f"budget {data['budget']['summary']}", markup=False, highlight=False)
    u = data["usage"]
    console.print(
        f"cost {cost.usd(u['cost_usd'])} · {u['turns']} turn(s), "
        f"{u['input_tokens']}+{u['output_tokens']} tokens",
        markup=False,
    )
    if data["failure_reason"]:
        console.print(f"[red]reason:[/] {data['failure_reason']}")
    checks = data["checks"]
    console.print(f"checks: {checks['line']}", style=CHECKS_STYLE[checks["state"]], markup=False)
    for hold in data["holds"]:
        console.print(f"[cyan]not running:[/] {escape(hold['message'])}", highlight=False)
    console.rule("spec")
    console.print(data["spec"], markup=False, highlight=False)
    for run in data["runs"]:
        console.rule(
            f"run {run['number']} ({run['kind']}): {run['status']}, {run['attempts']} attempt(s)"
        )
        base = run["base_note"] or f"base {run['base_sha'][:10]}"  # re-pinned after a merge
        console.print(f"  {base}", markup=False, highlight=False)
        for line in agent_inputs(run):
            console.print(f"  {line}", markup=False, highlight=False)
        spent = ", ".join(f"{part} {duration(s)}" for part, s in run["spent"].items())
        console.print(f"  spent: {spent} of {duration(data['budget']['minutes'] * 60)}")
        for step in run["steps"]:
            label = step["name"] + (f" #{step['attempt']}" if step["attempt"] else "")
            took = f"{step['duration']:.1f}s" if step["duration"] is not None else "…"
            console.print(
                f"  {label:<12} {step['status']:<11} {took:>7}  {step['summary'] or ''}",
                markup=False,
                highlight=False,
            )
        if run["gates"]:
            table = Table("gate", "verdict", "command", "summary")
            for g in run["gates"]:
                table.add_row(
                    g["name"],
                    badge(g["verdict"], g["blocking"]) + ("" if g["blocking"] else " (advisory)"),
                    g["command"] or "",
                    g["summary"],
                )
            console.print(table)
    if data["pull_request"]:
        pr = data["pull_request"]
        where = f" #{pr['number']} on {pr['forge']}" if pr.get("number") else ""
        console.rule(f"pull request{where} ({pr['state']})")
        if pr.get("url"):
            console.print(pr["url"], markup=False, highlight=False)
        console.print(pr["body"], markup=False, highlight=False)
    if diff and data.get("diff"):
        console.rule("diff")
        console.print(data["diff"], markup=False, highlight=False)


def agent_inputs(run: dict) -> list[str]:
    """What a run's agent was given: its prompts (label; the templates not built in,
    with their hashes) and coding standards."""
    lines = []
    if run["prompts"]:
        own = [
            f"{name} {t['source']} {t['hash']}"
            for name, t in sorted(run["prompts"]["templates"].items())
            if t["source"] != "built-in"
        ]
        lines.append(f"prompts {run['prompts']['label']}" + (f" ({', '.join(own)})" if own else ""))
    if run["standards"] is not None:
        lines.append(f"standards: {', '.join(run['standards']) or 'none'}")
    return lines


def print_transcript(console: Console, data: dict) -> None:
    console.print(f"[bold]task {data['id']}[/]: {data['title']}  ({data['status']})")
    for run in data["runs"]:
        u = run["usage"]
        console.rule(
            f"run {run['number']}: {u['turns']} turn(s), "
            f"{u['input_tokens']}+{u['output_tokens']} tokens, "
            f"cost {cost.usd(u['cost_usd'])}"
        )
        if not run["transcript"]:
            console.print("  (no agent turns: not the built-in agent, or it has not run)")
        for t in run["transcript"]:
            price = cost.usd(t["cost_usd"])
            console.print(
                f"[bold]attempt {t['attempt']} · turn {t['number']}[/] · {t['model']} · "
                f"{t['input_tokens']}+{t['output_tokens']} tokens · {price} · {t['latency']:.1f} s"
            )
            console.print(t["content"].strip(), markup=False, highlight=False)
            for note, value in t["notes"].items():
                if note not in ("feedback",):
                    console.print(f"  [{note}: {value}]", markup=False, style="dim")
            if t["command"] and t["command"] != "submit":
                console.print(f"$ {t['command']}", markup=False, style="cyan", highlight=False)
                console.print(
                    f"[exit {t['exit_code']}]\n{(t['output'] or '').rstrip()}",
                    markup=False,
                    highlight=False,
                )


@click.command("logs")
@click.argument("task_id")
@click.option("--gate", help="Only this gate's logs.")
@click.option(
    "-f",
    "--follow",
    "follow",
    is_flag=True,
    help="Then print the agent's commands and output, and each step, as they "
    "happen, until the task is no longer queued or running.",
)
def logs_cmd(task_id: str, gate: str | None, follow: bool) -> None:
    """Full logs of every step and gate of a task.

    A running agent's log is its commands and output so far (written about
    every second while it runs); -f follows them live.
    """
    if follow and gate:
        raise UsageError("--follow shows the agent's output and the steps: leave out --gate")
    db = store()
    with db.reading() as session:
        task = db.task(session, task_id)
        entries = logs(session, task, gate)
        after, events_after = (
            live.last_chunk_id(session, task.id),
            live.last_event_id(session, task.id),
        )
        mask = Mask.of(task.config or {})
    if gate and not entries:
        raise UsageError(f"no logs for gate '{gate}' in task {task_id}")
    for title, text in entries:
        click.echo(f"===== {title}")
        if text:
            click.echo(text.rstrip())
    if follow:
        _follow(db, task.id, after, events_after, mask)


def _follow(db: Store, task_id: int, after: int, events_after: int, mask: Mask) -> None:
    line_open = False  # the last output printed did not end its line
    for item in live.follow(db, task_id, after=after, events_after=events_after):
        if isinstance(item, dict):
            text = mask.text(item["text"]) if mask else item["text"]
            click.echo(text, nl=False)
            line_open = not text.endswith("\n")
        else:
            stamp = item.created_at.strftime("%H:%M:%S")
            message = mask.text(item.message) if mask else item.message
            click.echo(("\n" if line_open else "") + f"===== {stamp} {message}")
            line_open = False
        sys.stdout.flush()


@click.command()
@click.argument("task_id")
def cancel(task_id: str) -> None:
    """Cancel a queued or running task (its workspace is kept)."""
    task = queue.cancel(store(), task_id)
    click.echo(
        f"task {task.id}: " + ("cancelled" if task.status == "cancelled" else "cancel requested")
    )


def register(main: click.Group) -> None:
    for command in (submit, status, show, logs_cmd, cancel):
        main.add_command(command)

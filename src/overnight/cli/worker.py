"""`overnight worker`, `overnight workers`, `overnight watch`, `overnight queue`."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from overnight.cli import store
from overnight.errors import OvernightError, UsageError
from overnight.events import follow
from overnight.fleet import SILENT_AFTER, live_workers, pause_end, queue_list, set_queue
from overnight.queue import Limits
from overnight.sandbox.host import reach
from overnight.sandbox.select import select_sandbox
from overnight.store import now
from overnight.worker import Worker


@click.command("worker")
@click.option("--slots", default=1, show_default=True, help="Tasks this worker runs at once.")
@click.option(
    "--drain",
    is_flag=True,
    help="Exit when nothing left can run: the queue is empty, or every queued task "
    "is held (printed with why: a paused queue, a spent budget, a dependency "
    "not merged).",
)
@click.option(
    "--lease",
    default=30.0,
    show_default=True,
    help="Lease seconds: how long a silent worker keeps its tasks.",
)
@click.option(
    "--max-running",
    type=int,
    help="Tasks running at once across all workers (status shows what it holds).",
)
@click.option(
    "--max-per-repo",
    type=int,
    help="Tasks running at once on one repository (status shows what it holds).",
)
@click.option(
    "--grace",
    default=60.0,
    show_default=True,
    help="Seconds a stopping worker waits for running tasks to reach a checkpoint.",
)
def worker_cmd(
    slots: int,
    drain: bool,
    lease: float,
    max_running: int | None,
    max_per_repo: int | None,
    grace: float,
) -> None:
    """Run queued tasks until stopped.

    Prints one line per task event on stderr: claimed, attempt N started, the
    gates' verdict, READY or FAILED with the reason and the cost (-v: also
    what the worker does inside).

    Ctrl-C or SIGTERM: claim nothing more; running tasks stop at their next
    checkpoint (killed after --grace seconds) and go back to the queue, to
    resume there. A second signal interrupts them at once. Nothing is lost.
    """
    check_reach()
    show_progress()
    limits = Limits(running=max_running, per_repo=max_per_repo)
    w = Worker(store(), slots=slots, lease=lease, limits=limits, grace=grace)

    def stop(signum: int, _frame: object) -> None:
        if w.stopping.is_set():
            click.echo("interrupting running tasks; they go back to the queue", err=True)
        else:
            click.echo(
                "stopping: running tasks pause at their next checkpoint "
                "(signal again to interrupt them now)",
                err=True,
            )
        w.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker {w.id}: {slots} slot(s)" + (", draining" if drain else ""), err=True)
    done = w.run(drain=drain)
    click.echo(f"worker {w.id}: stopped after {done} task(s)", err=True)
    if w.held:
        click.echo(f"{len(w.held)} task(s) left queued, held:", err=True)
    for held in w.held:
        why = "; ".join(h.message for h in held.holds)
        click.echo(f"  task {held.task_id} ({held.title}): {why}", err=True)


def show_progress() -> None:
    """Print the library's progress lines (``overnight.progress``), with or without -v."""
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("overnight.progress")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # printed once, in this form, with -v too


def check_reach() -> None:
    """Refuse to start when sandboxed commands cannot work under $OVERNIGHT_HOME (a
    home under a folder the sandbox's uid cannot enter), saying what to change."""
    configured = os.environ.get("OVERNIGHT_SANDBOX") or "auto"
    try:
        select_sandbox(configured)
    except OvernightError:
        return  # no usable sandbox here: each task says so with its own configuration
    check = reach(configured)
    if not check.ok:
        raise UsageError(f"{check.detail}; {check.fix}")


@click.command("workers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=f"Include stopped and silent workers (no heartbeat for {SILENT_AFTER.seconds} s).",
)
def workers_cmd(as_json: bool, show_all: bool) -> None:
    """Live workers: where they run, their slots, last heartbeat, current tasks."""
    rows = live_workers(store(), include_gone=show_all)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("worker", "host", "pid", "slots", "heartbeat", "state", "tasks")
    for r in rows:
        table.add_row(
            r["id"],
            r["hostname"],
            str(r["pid"]),
            str(r["slots"]),
            f"{r['heartbeat_age']:.0f}s ago",
            r["state"],
            ", ".join(str(t) for t in r["tasks"]) or "-",
        )
    Console().print(table)


@click.command("watch")
@click.argument("task_id", required=False)
@click.option("--since", default=0, help="Show events after this event id (0: from now).")
@click.option("--until-idle", is_flag=True, help="Exit when nothing is queued or running.")
def watch_cmd(task_id: str | None, since: int, until_idle: bool) -> None:
    """Stream events as they happen (all tasks, or one)."""
    for event in follow(
        store(), task_id=int(task_id) if task_id else None, since=since, until_idle=until_idle
    ):
        stamp = event.created_at.strftime("%H:%M:%S")
        click.echo(f"{stamp} task {event.task_id} {event.kind}: {event.message}")
        sys.stdout.flush()


@click.group("queue")
def queue_group() -> None:
    """Queue settings shared by every worker: daily budgets, pause, resume.

    A task's queue is the spec's `queue:` field ("default" when absent). A
    paused queue's tasks wait, they never fail: `overnight status` says why.
    """


@queue_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def queue_list_cmd(as_json: bool) -> None:
    """Each queue: active or paused and why, spend today (UTC) against its daily
    budget, until when a pause lasts, tasks queued and running."""
    rows = queue_list(store())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    columns = (
        "queue",
        "state",
        "why",
        "spent today",
        "per day",
        "until (UTC)",
        "queued",
        "running",
    )
    table = Table(*columns, box=None, pad_edge=False)
    for r in rows:
        why = "by hand" if r["paused_by_hand"] else "budget spent" if r["paused_until"] else ""
        until = (
            r["paused_until"][5:16].replace("T", " ")
            if r["paused_until"]
            else "resumed"
            if r["paused_by_hand"]
            else ""
        )
        budget = "-" if r["usd_per_day"] is None else f"${r['usd_per_day']:.2f}"
        table.add_row(
            r["name"],
            r["state"],
            why,
            f"${r['spent_today_usd']:.2f}",
            budget,
            until,
            str(r["queued"]),
            str(r["running"]),
        )
    Console().print(table)


@queue_group.command("set")
@click.argument("name")
@click.option(
    "--usd-per-day", type=float, help="Pause the queue once its spend since 00:00 UTC reaches this."
)
@click.option("--pause/--resume", default=None, help="Pause or resume the queue by hand.")
@click.option(
    "--pause-until",
    metavar="TIME",
    help="Pause the queue until TIME: HH:MM (UTC, its next occurrence) or an ISO "
    "date and time; it resumes by itself then.",
)
def queue_set(
    name: str, usd_per_day: float | None, pause: bool | None, pause_until: str | None
) -> None:
    """Set a queue's daily budget, or pause/resume it (tasks wait, they never fail).

    A queue whose budget is spent stays paused after --resume until 00:00 UTC
    or a higher --usd-per-day; the command says so.
    """
    if usd_per_day is None and pause is None and pause_until is None:
        raise UsageError(
            "say what to set: --usd-per-day N, --pause, --pause-until TIME or --resume"
        )
    if pause_until is not None and pause is not None:
        raise UsageError("give --pause-until TIME alone, without --pause or --resume")
    if usd_per_day is not None and not usd_per_day > 0:
        raise UsageError("--usd-per-day must be above 0 (pause the queue with --pause)")
    until = pause_end(pause_until, now()) if pause_until is not None else None
    row = set_queue(store(), name, usd_per_day=usd_per_day, paused=pause, until=until)
    click.echo(queue_line(row))


def queue_line(row: dict[str, Any]) -> str:
    """One line saying what a queue does now, and for a budget pause what to do."""
    name, spent = row["name"], f"${row['spent_today_usd']:.2f}"
    if row["paused_by_hand"] and row["paused_until"]:
        return f"queue {name}: paused until {row['paused_until'][:16].replace('T', ' ')} UTC"
    if row["paused_by_hand"]:
        return f"queue {name}: paused by hand; resume: overnight queue set {name} --resume"
    if row["state"] == "paused":
        return (
            f"queue {name} stays paused: {spent} of ${row['usd_per_day']:.2f} budget spent "
            "today; raise --usd-per-day or wait until 00:00 UTC"
        )
    if row["usd_per_day"] is None:
        return f"queue {name}: active, no daily budget"
    return f"queue {name}: active, {spent} of ${row['usd_per_day']:.2f} budget spent today"


@click.command("rate-limit")
@click.argument("host")
@click.option("--rpm", type=int, help="Requests per minute, all workers together.")
@click.option("--tpm", type=int, help="Tokens per minute, all workers together.")
def rate_limit_cmd(host: str, rpm: int | None, tpm: int | None) -> None:
    """Limit model requests to HOST (e.g. api.openai.com), shared by every worker."""
    from overnight.ratelimit import set_limit

    set_limit(store(), host, rpm, tpm)
    click.echo(f"{host}: {rpm or 'no'} requests and {tpm or 'no'} tokens per minute limit")


def register(main: click.Group) -> None:
    for command in (worker_cmd, workers_cmd, watch_cmd, queue_group, rate_limit_cmd):
        main.add_command(command)

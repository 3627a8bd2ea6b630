"""`overnight worker`."""

from __future__ import annotations

import signal

import click

from overnight.cli import store
from overnight.worker import Worker


@click.command("worker")
@click.option("--slots", default=1, show_default=True, help="Tasks run at once.")
@click.option("--drain", is_flag=True, help="Exit when the queue is empty and nothing runs.")
@click.option(
    "--lease",
    default=30.0,
    show_default=True,
    help="Lease seconds: how long a silent worker keeps its tasks.",
)
def worker_cmd(slots: int, drain: bool, lease: float) -> None:
    """Run queued tasks until stopped (Ctrl-C / SIGTERM: finish running tasks;
    twice: interrupt them and put them back in the queue)."""
    w = Worker(store(), slots=slots, lease=lease)

    def stop(signum: int, _frame: object) -> None:
        if w.stopping.is_set():
            click.echo("interrupting running tasks; they go back to the queue", err=True)
        else:
            click.echo("stopping: running tasks finish first (again to interrupt)", err=True)
        w.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker {w.id}: {slots} slot(s)" + (", draining" if drain else ""), err=True)
    done = w.run(drain=drain)
    click.echo(f"worker {w.id}: stopped after {done} task(s)", err=True)


def register(main: click.Group) -> None:
    main.add_command(worker_cmd)

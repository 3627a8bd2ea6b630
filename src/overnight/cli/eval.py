"""`overnight eval run`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from overnight.cli import store
from overnight.evaluation import run_eval


@click.group("eval")
def eval_group() -> None:
    """Measure an agent configuration on SWE-bench-format instances."""


@eval_group.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agent", help="Agent for every instance (default: the configured one).")
@click.option("--slots", default=1, show_default=True, help="Instances run at once.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run(file: Path, agent: str | None, slots: int, as_json: bool) -> None:
    """Import FILE.jsonl as tasks with hidden acceptance tests, run them, report."""
    rows = run_eval(store(), file, agent=agent, slots=slots)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("instance", "task", "status", "failing gates", "time")
    for r in rows:
        table.add_row(
            r["instance_id"],
            str(r["task_id"]),
            r["status"],
            ", ".join(r["failing_gates"]) or "-",
            f"{r['seconds']:.1f}s",
        )
    Console().print(table)
    ready = sum(r["status"] == "ready" for r in rows)
    click.echo(f"{ready} of {len(rows)} instance(s) READY")


def register(main: click.Group) -> None:
    main.add_command(eval_group)

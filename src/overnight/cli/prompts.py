"""`overnight prompts list|show|diff|render`: the built-in agent's prompt library."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from overnight.cli import store

REPO = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The repository whose .overnight/prompts/ count (as committed, like at submit).",
)
BASE = click.option(
    "--base", default="HEAD", show_default=True, help="The commit its templates are read at."
)


@click.group("prompts")
def prompts_group() -> None:
    """The built-in agent's prompt templates by name: the repository's
    (.overnight/prompts/NAME.j2 at the base commit), then $OVERNIGHT_HOME/prompts/NAME.j2,
    then the built-in ones."""


@prompts_group.command("list")
@REPO
@BASE
@click.option("--all", "every", is_flag=True, help="Also the templates others override.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(repo: Path, base: str, every: bool, as_json: bool) -> None:
    """Each template a task's agent would get: name, source, content hash, path;
    the label runs record for the set."""
    from overnight.agents.library import library_at

    library = library_at(repo, base)
    used = {(t.name, t.source) for t in library.effective()}
    rows: list[dict[str, str | bool]] = [
        {**t.record(), "name": t.name, "used": (t.name, t.source) in used}
        for t in (library.all() if every else library.effective())
    ]
    if as_json:
        click.echo(json.dumps({"label": library.label, "templates": rows}, indent=2))
        return
    table = Table("name", "source", "hash", "path", title=f"prompts {library.label}")
    for row in sorted(rows, key=lambda r: str(r["name"])):
        source = f"{row['source']}" + ("" if row["used"] else " (overridden)")
        table.add_row(str(row["name"]), source, str(row["hash"]), str(row["path"]))
    Console(highlight=False).print(table)


@prompts_group.command("show")
@click.argument("name")
@REPO
@BASE
def show_cmd(name: str, repo: Path, base: str) -> None:
    """A template's text: NAME as a run gets it, SOURCE:NAME (repo:task, home:task,
    built-in:task) or a file."""
    from overnight.agents.library import library_at, template_ref

    template = template_ref(library_at(repo, base), name)
    click.echo(f"# {template.ref} · {template.path} · {template.hash}", err=True)
    click.echo(template.text, nl=not template.text.endswith("\n"))


@prompts_group.command("diff")
@click.argument("a")
@click.argument("b")
@REPO
@BASE
def diff_cmd(a: str, b: str, repo: Path, base: str) -> None:
    """What changes from template A to B, each NAME, SOURCE:NAME or a file
    (e.g. built-in:task repo:task). Exit 1 when they differ."""
    from overnight.agents.library import library_at, template_diff, template_ref

    library = library_at(repo, base)
    diff = template_diff(template_ref(library, a), template_ref(library, b))
    click.echo(diff, nl=False)
    raise SystemExit(1 if diff else 0)


@prompts_group.command("render")
@click.argument("name")
@click.option("--task", "task_id", required=True, help="The task whose agent gets it.")
def render_cmd(name: str, task_id: str) -> None:
    """Template NAME rendered as task ID's agent gets it on a first attempt: its
    repository's templates and standards at the base, its spec, its files.
    Per-turn templates (observation, stuck, ...) get example values."""
    from overnight.prompt_preview import render_for_task

    click.echo(render_for_task(store(), task_id, name))


def register(main: click.Group) -> None:
    main.add_command(prompts_group)

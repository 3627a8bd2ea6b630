"""`overnight init` and `overnight spec lint`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from overnight.config import CONFIG_FILE, DEPENDENCY_FILES, detect
from overnight.errors import UsageError
from overnight.gates.settings import render_toml
from overnight.intake import lint_problems
from overnight.spec import read_spec
from overnight.workspace import resolve_repo


@click.command()
@click.option("--force", is_flag=True, help=f"Overwrite an existing {CONFIG_FILE}.")
def init(force: bool) -> None:
    """Detect the project and write overnight.toml (setup, test, lint, gates)."""
    root = Path(resolve_repo(".", Path.cwd()))  # this folder's repository
    target = root / CONFIG_FILE
    if target.exists() and not force:
        raise UsageError(f"{target} exists: edit it, or pass --force to rewrite it")
    names = [*DEPENDENCY_FILES, "ruff.toml", ".ruff.toml"]
    files = {n: (root / n).read_text() for n in names if (root / n).is_file()}
    config = detect(files)
    target.write_text(render_toml(config))
    click.echo(f"wrote {target}")
    click.echo(f"  setup:    {'; '.join(config.setup) or '(none)'}")
    click.echo(f"  test_cmd: {config.test_cmd}")
    click.echo(f"  lint_cmd: {config.lint_cmd or '(none: lint gate skipped)'}")
    click.echo("Commit it: workers read the configuration from the task's base commit.")


@click.group()
def spec() -> None:
    """Work with task specs."""


@spec.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
def lint(files: tuple[str, ...]) -> None:
    """Report every problem in the spec FILES, with its line. Exit 1 on errors.

    The repository is checked as submit checks it: 'repo' from the spec's folder,
    or without it the repository you are in. A spec without errors gets its
    budget's split: how long an agent may run, what is kept for grading.
    """
    errors = 0
    for name in files:
        data = read_spec(name, sys.stdin.buffer)
        found, problems = lint_problems(
            data, Path.cwd() if name == "-" else Path(name).parent, Path.cwd()
        )
        for problem in problems:
            click.echo(problem.format(name))
        errors += sum(p.severity == "error" for p in problems)
        if not problems:
            click.echo(f"{name}: ok")
        if found is not None:
            click.echo(f"  budget: {found.budget.describe()}")
    if errors:
        sys.exit(1)


def register(main: click.Group) -> None:
    main.add_command(init)
    main.add_command(spec)

"""`overnight plan` (a feature → a folder of proven specs), `plan prove`, `plan submit`,
`plan show`, and `overnight spec draft`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from overnight.cli import store
from overnight.planning.context import ReadLimits
from overnight.planning.draft import draft_spec
from overnight.planning.planfile import Plan, submittable
from overnight.planning.planner import make_plan, prove_again
from overnight.planning.stored import record
from overnight.planning.submit import describe, show_plan, submit_plan

SUBCOMMANDS = ("submit", "show", "prove")


class PlanGroup(click.Group):
    """`overnight plan FEATURE.md ...` makes a plan; `overnight plan submit|show|prove DIR`
    works on one: a first argument that is no subcommand is the feature."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["new", *args]
        return super().parse_args(ctx, args)


def _model_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        [
            click.option("--repo", help="The repository (default: the one you are in)."),
            click.option("--model", help="The model (default: the project's, else embedded)."),
            click.option(
                "--retries",
                type=click.IntRange(0, 5),
                default=1,
                show_default=True,
                help="Times a malformed answer is sent back with what is wrong.",
            ),
            click.option(
                "--reads",
                type=click.IntRange(0, 10),
                default=3,
                show_default=True,
                help="Rounds of files the model may ask to read first.",
            ),
        ]
    ):
        command = option(command)
    return command


@click.group(cls=PlanGroup, invoke_without_command=False)
def plan() -> None:
    """Break a feature into specs with proven acceptance tests (docs/plan.md).

    \b
    overnight plan FEATURE.md [--out DIR]   ask the model, prove, write DIR
                                           (all its options: plan new --help)
    overnight plan prove DIR               prove DIR's specs again after edits
    overnight plan submit DIR              queue them in order, all or none
    overnight plan show DIR                the graph, live statuses and cost
    """


@plan.command("new", hidden=True)
@click.argument("feature", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), help="Folder to write (default: FEATURE.plan)."
)
@click.option(
    "--until",
    type=click.Choice(["ready", "merged"]),
    default="ready",
    show_default=True,
    help="A spec starts when the ones it depends on are ready, or merged.",
)
@_model_options
def new(
    feature: Path,
    out: Path | None,
    until: str,
    repo: str | None,
    model: str | None,
    retries: int,
    reads: int,
) -> None:
    """Plan FEATURE.md: specs proven at the base, written to DIR; nothing is queued."""
    folder = out or feature.with_name(feature.name.removesuffix(".md") + ".plan")
    made = make_plan(
        feature,
        folder,
        repo=repo,
        model=model,
        until=until,
        retries=retries,
        limits=ReadLimits(rounds=reads),
    )
    _print(made, folder, record(store(), folder, made))
    ready = all(submittable(n) for n in made.nodes)
    next_step = (
        "overnight plan submit" if ready else "fix the marked specs, then overnight plan prove"
    )
    click.echo(f"wrote {folder}: next, {next_step} {folder}")


@plan.command("prove")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def prove(folder: Path) -> None:
    """Prove DIR's acceptance tests at the base again (after you edited them)."""
    proven = prove_again(folder)
    _print(proven, folder, record(store(), folder, proven))


@plan.command("submit")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def submit(folder: Path) -> None:
    """Queue DIR's specs, dependencies first; all or none. Unproven specs are refused."""
    done, warnings = submit_plan(store(), folder)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for node in done.nodes:
        click.echo(f"{node.id}: task {node.task}")


@plan.command("show")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def show(folder: Path) -> None:
    """DIR's graph with each task's live status and the plan's cost so far."""
    for line in show_plan(store(), folder):
        click.echo(line)


def _print(made: Plan, folder: Path, plan_id: int) -> None:
    for line in describe(made):
        click.echo(line)
    click.echo(f"on the dashboard: /plans/{plan_id} (overnight serve)")
    for node in made.nodes:
        if not submittable(node):
            evidence = str(node.proof.get("evidence", "")).strip().splitlines()
            said = " ".join(evidence[:2])  # what is wrong, and the first test it is about
            why = node.lint[0] if node.lint else (said or node.status)
            click.echo(f"  {node.id}: not submittable: {why} (see {folder / node.file})")


@click.command("draft")
@click.argument("request")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Spec file to write.")
@_model_options
def draft(
    request: str, out: Path | None, repo: str | None, model: str | None, retries: int, reads: int
) -> None:
    """Draft one spec from a one-line REQUEST, its tests proven at the base; nothing is
    queued. Opened in $EDITOR when set and on a terminal, else its path is printed."""
    made = draft_spec(
        request, out, repo=repo, model=model, retries=retries, limits=ReadLimits(rounds=reads)
    )
    click.echo(f"proof: {made.proof.status}: {made.proof.evidence.splitlines()[0]}")
    for problem in made.problems:
        click.echo(problem.format(str(made.path)))
    editor = os.environ.get("EDITOR")
    if editor and sys.stdin.isatty() and sys.stdout.isatty():
        click.edit(filename=str(made.path), editor=editor)
    click.echo(
        f"wrote {made.path} (tests: {made.patch.name}); submit it when it says what you mean"
    )


def register(main: click.Group) -> None:
    main.add_command(plan)
    spec = main.commands["spec"]
    assert isinstance(spec, click.Group)
    spec.add_command(draft)

"""The command line: a thin layer that parses, calls the library, and prints.

Errors from the library are printed as one line on stderr with the exit code
they carry (2 for usage errors, 1 for failures)."""

from __future__ import annotations

import logging
import sys

import click

from overnight import __version__
from overnight.errors import OvernightError, one_line
from overnight.store import Store, open_store


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OvernightError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="overnight")
@click.option("-v", "--verbose", is_flag=True, help="Log what the worker does.")
def main(verbose: bool) -> None:
    """overnight: queue precise task specs; get pull requests backed by evidence.

    \b
    Write a spec (Markdown + YAML front matter), `overnight submit` it, run
    `overnight worker`, then `overnight review` what is READY. State lives in
    $OVERNIGHT_HOME (or $OVERNIGHT_DATABASE_URL).
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def store() -> Store:
    return open_store()


def _register() -> None:
    from overnight.cli import (
        demo,
        doctor,
        intake,
        model,
        notify,
        plan,
        prompts,
        review,
        spec,
        tasks,
        worker,
    )
    from overnight.cli import eval as eval_cmds

    modules = (
        spec,
        tasks,
        worker,
        review,
        intake,
        eval_cmds,
        demo,
        doctor,
        model,
        notify,
        prompts,
        plan,
    )
    for module in modules:
        module.register(main)
    from overnight.cli import web

    web.register(main)


_register()

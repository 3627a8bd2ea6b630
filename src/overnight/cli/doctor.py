"""`overnight doctor`: which sandbox is active and what this host can enforce."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from overnight.intake import configured_sandbox
from overnight.sandbox.host import Check, inspect_host


@click.command("doctor")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Repository whose overnight.toml names the sandbox.",
)
@click.option("--sandbox", "name", help="Check this sandbox name instead of the configured one.")
def doctor_cmd(repo: Path, name: str | None) -> None:
    """Report the active sandbox backend, the backends and limits this host can
    enforce, and what is missing with how to install it. Exits 1 when the
    active backend cannot run here."""
    report = inspect_host(name or configured_sandbox(repo))
    if report.active:
        click.echo(f"active sandbox: {report.active} (configured: {report.configured})")
        if report.active == "none":
            click.echo('  WARNING: commands run unisolated; set sandbox = "auto" to isolate')
    else:
        click.echo(f"active sandbox: UNUSABLE (configured: {report.configured})")
        click.echo(f"  {report.problem}")
    for title, checks in (
        ("backends", report.backends),
        ("limits", report.limits),
        ("facilities", report.facilities),
    ):
        click.echo(f"\n{title}:")
        for check in checks:
            click.echo(_line(check))
    click.echo("\nmissing:")
    for check in report.missing:
        click.echo(f"  {check.name}: {check.fix}")
    if not report.missing:
        click.echo("  nothing")
    if report.active is None:
        sys.exit(1)


def _line(check: Check) -> str:
    return f"  {'ok  ' if check.ok else 'NO  '}{check.name:<16}{check.detail}"


def register(main: click.Group) -> None:
    main.add_command(doctor_cmd)

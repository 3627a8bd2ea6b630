"""`overnight intake github|gitlab REPO`: labelled issues become tasks."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click

from overnight.cli import store
from overnight.forges.base import IssueForge
from overnight.forges.github import GitHubForge, GitHubSettings
from overnight.forges.gitlab import GitLabForge, GitLabSettings
from overnight.issues import DEFAULT_LABEL, poll

Command = Callable[..., None]


def _options(default_api: str, default_token: str) -> Callable[[Command], Command]:
    """The options both forges' intake commands take."""

    def wrap(command: Command) -> Command:
        for option in reversed(
            [
                click.option("--label", default=DEFAULT_LABEL, show_default=True),
                click.option(
                    "--repo",
                    "local",
                    default=".",
                    show_default=True,
                    help="The repository tasks run on: a clone on this machine or its URL.",
                ),
                click.option("--api-url", default=default_api, show_default=True),
                click.option(
                    "--token-env",
                    default=default_token,
                    show_default=True,
                    help="The variable that holds the token.",
                ),
                click.option(
                    "--every",
                    type=click.FloatRange(min=5),
                    default=None,
                    help="Poll every SECONDS until stopped (default: once).",
                ),
            ]
        ):
            command = option(command)
        return command

    return wrap


@click.group("intake")
def intake() -> None:
    """Queue open issues that carry a label as tasks (docs/forges.md): each issue
    is read as a spec, queued once, and told its task's id or why it was refused.
    Only issues opened by people with write access are queued."""


@intake.command("github")
@click.argument("repository", metavar="OWNER/NAME")
@_options("https://api.github.com", "GITHUB_TOKEN")
def github(
    repository: str, label: str, local: str, api_url: str, token_env: str, every: float | None
) -> None:
    """Issues of a GitHub repository (Enterprise Server: --api-url https://HOST/api/v3)."""
    settings = GitHubSettings(repository, api_url=api_url, token_env=token_env)
    _run(GitHubForge.from_environment(settings), repository, label, local, every)


@intake.command("gitlab")
@click.argument("repository", metavar="GROUP/NAME")
@_options("https://gitlab.com/api/v4", "GITLAB_TOKEN")
def gitlab(
    repository: str, label: str, local: str, api_url: str, token_env: str, every: float | None
) -> None:
    """Issues of a GitLab project (self-hosted: --api-url https://HOST/api/v4)."""
    settings = GitLabSettings(repository, api_url=api_url, token_env=token_env)
    _run(GitLabForge.from_environment(settings), repository, label, local, every)


def _run(forge: IssueForge, repository: str, label: str, local: str, every: float | None) -> None:
    repo = local if "://" in local or local.startswith("git@") else str(Path(local).resolve())
    try:
        while True:
            for taken in poll(store(), forge, forge_repo=repository, repo=repo, label=label):
                click.echo(f"#{taken.issue}: {taken.said}")
            if every is None:
                return
            time.sleep(every)
    finally:
        forge.disconnect()


def register(main: click.Group) -> None:
    main.add_command(intake)

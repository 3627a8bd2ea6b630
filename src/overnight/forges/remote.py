"""What GitHub's and GitLab's forges share: a token from the worker's
environment, one API connection, and the push.

The branch is pushed over HTTPS with the token as a Basic ``http.extraHeader``
given to git through its environment (``GIT_CONFIG_*``), never in a URL, an
argument or a file. git's own failure (its message names the URL, never the
token) becomes one line: ``ForgeUnavailable`` when the server cannot be
reached, else a ``ForgeError`` saying what the token needs.
"""

from __future__ import annotations

import base64
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self, cast

import httpx

from overnight.errors import ForgeError, ForgeUnavailable, GitError, one_line
from overnight.forges.base import BaseForge, Forge, Published
from overnight.forges.http import Api
from overnight.workspace.git import git

_UNREACHABLE = re.compile(r"error: 5\d\d|Could not resolve|Failed to connect|timed out")


@dataclass
class RemoteForge(BaseForge, ABC):
    settings: Any  # the forge's settings: repo, api_url, git_url, token_env ...
    token: str = field(repr=False)
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] | None = None
    # what each forge says of itself
    title: ClassVar[str]  # "GitHub"
    git_user: ClassVar[str]  # the user name git sends with the token
    token_needs: ClassVar[str]  # what the token must allow, for messages
    already_open: ClassVar[int]  # the status of opening a pull request that exists

    def __post_init__(self) -> None:
        if not self.token:
            raise ForgeError(
                f"no {self.title} token: set ${self.settings.token_env} ({self.token_needs})"
            )
        self.api = self.connect({"sleep": self.sleep} if self.sleep else {})

    @abstractmethod
    def connect(self, extra: dict[str, Any]) -> Api:
        """The forge's API session with the token (``extra``: ``Api`` options)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def disconnect(self) -> None:
        self.api.close()

    @classmethod
    def from_environment(cls, settings: Any) -> Self:
        return cls(settings, os.environ.get(settings.token_env, ""))

    @classmethod
    def build(cls, settings: Any, *, repo: str, base: str) -> Forge:
        """The forge of ``settings.repo``; the token from the worker's environment."""
        return cast(Forge, cls.from_environment(settings))  # each subclass is a whole Forge

    def deliver(
        self, workspace: Path, *, branch: str, base: str, sha: str, title: str, body: str
    ) -> Published:
        """Push the branch and open or update its pull request (exactly one per branch)."""
        pushed = self.push(workspace, sha, branch)
        existing = self.find(branch, base)
        if existing is None:
            try:
                return self.open(branch, base, title, body, pushed)
            except ForgeError as exc:  # opened meanwhile (a crash after the POST)
                existing = self.find(branch, base) if exc.status == self.already_open else None
                if existing is None:
                    raise
        return self.update(existing, title, body, pushed)

    @abstractmethod
    def find(self, branch: str, base: str) -> dict[str, Any] | None:
        """The open pull request of ``branch`` into ``base``, as the forge shows it."""

    @abstractmethod
    def open(self, branch: str, base: str, title: str, body: str, pushed: bool) -> Published:
        """Open the pull request, labelled (and a draft) as the settings say."""

    @abstractmethod
    def update(self, existing: dict[str, Any], title: str, body: str, pushed: bool) -> Published:
        """Give ``existing`` this title and body (no request when it has them)."""

    def push(self, workspace: Path, sha: str, branch: str) -> bool:
        """Publish ``sha`` as ``branch``; False if it was already there."""
        url = f"{self.settings.git_url.rstrip('/')}/{self.settings.repo}.git"
        basic = base64.b64encode(f"{self.git_user}:{self.token}".encode()).decode()
        env = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
        try:
            current = git(["ls-remote", url, f"refs/heads/{branch}"], workspace, env=env)
            if current.split("\t")[0] == sha:
                return False
            git(
                ["push", "--quiet", "--force", url, f"{sha}:refs/heads/{branch}"],
                workspace,
                env=env,
            )
        except GitError as exc:
            raise self._push_refusal(str(exc)) from exc
        return True

    def _push_refusal(self, said: str) -> ForgeError:
        if _UNREACHABLE.search(said):
            return ForgeUnavailable(
                one_line(
                    f"{self.title}'s git server cannot be reached ({said}); the task is retried later"
                )
            )
        return ForgeError(
            one_line(
                f"{self.title} refused the push: {said}; the token needs {self.token_needs}, "
                "and the branch must not be protected"
            )
        )

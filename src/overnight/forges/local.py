"""The ``local`` forge: the branch is pushed into the user's repository (a path
or a git URL) and the pull request is a row in the store. Approving merges
with git: into the checked-out branch of a working copy with ``git merge``, else
as a merge commit pushed to the base branch. Closing and commenting have
nowhere to go but the store."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from overnight.config import cache_dir
from overnight.errors import MergeConflict, StateError
from overnight.forges.base import BaseForge, Check, Forge, Published
from overnight.workspace import IDENTITY, RepoCache, git, is_url, push_branch, succeeds
from overnight.workspace.git import argv as git_argv
from overnight.workspace.git import environ as git_environ


class LocalForge(BaseForge):
    name = "local"

    def __init__(self, repo: str, base: str) -> None:
        self.repo, self.base = repo, base

    @classmethod
    def build(cls, settings: Any, *, repo: str, base: str) -> Forge:
        return cls(repo, base)

    def deliver(
        self, workspace: Path, *, branch: str, base: str, sha: str, title: str, body: str
    ) -> Published:
        pushed = push_branch(workspace, self.repo, sha, branch)
        return Published(0, "", pushed, opened=True)

    def merge(self, number: int, *, sha: str, title: str = "") -> str:
        """Merge ``sha`` into the base branch; ``MergeConflict`` naming the files."""
        base = self.base
        cache = RepoCache(cache_dir() / "repos").fetch(self.repo)
        if not succeeds(["show-ref", "--verify", "--quiet", f"refs/heads/{base}"], cache):
            raise StateError(f"base '{base}' is not a branch: merge {sha[:10]} yourself")
        proc = subprocess.run(
            git_argv(
                ["merge-tree", "--write-tree", "--name-only", f"refs/heads/{base}", sha], cache
            ),
            cwd=cache,
            capture_output=True,
            text=True,
            env=git_environ(),
        )
        if proc.returncode == 1:
            files = proc.stdout.split("\n\n")[0].splitlines()[1:]
            raise MergeConflict(f"it conflicts with {base} ({', '.join(files[:5])})")
        if proc.returncode != 0:
            raise StateError(f"cannot merge {sha[:10]}: {proc.stderr.strip()}")
        message = title or f"Merge {sha[:10]}"
        if not is_url(self.repo) and _checked_out(self.repo) == base:
            git(
                [*IDENTITY, "merge", "--no-ff", "--quiet", "-m", message, sha],
                self.repo,
                user_config=True,
            )
            return git(["rev-parse", "HEAD"], self.repo, user_config=True)
        tree = proc.stdout.splitlines()[0]
        parent = git(["rev-parse", f"refs/heads/{base}"], cache)
        merged = git(
            [*IDENTITY, "commit-tree", tree, "-p", parent, "-p", sha, "-m", message], cache
        )
        git(["push", "--quiet", self.repo, f"{merged}:refs/heads/{base}"], cache, user_config=True)
        return merged

    def close(self, number: int, reason: str) -> None:
        """The pull request is the store's row: the caller closes it."""

    def comment(self, number: int, text: str) -> None:
        """Review messages are kept in the store: nothing to send."""

    def state(self, number: int) -> str:
        return "open"  # the store's row is the pull request: it says

    def checks(self, sha: str) -> list[Check]:
        return []  # no CI runs on a local branch

    def permission(self, login: str) -> str:
        return "admin"  # whoever can run overnight here owns the repository

    def disconnect(self) -> None:
        pass


def _checked_out(repo: str) -> str | None:
    if git(["rev-parse", "--is-bare-repository"], repo) == "true":
        return None
    return git(["symbolic-ref", "--quiet", "--short", "HEAD"], repo, check=False) or None

"""The state of the GitHub fake: repositories, pull requests, issues, and how a pull
request is merged (with git, refused the way GitHub refuses it)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from overnight.workspace.git import git

Json = dict[str, Any]
_ids = itertools.count(1000)


def next_id() -> int:
    """Ids of repositories, comments, check runs and statuses, unique in the fake."""
    return next(_ids)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """A refusal as GitHub words it: a ``message`` and, for a 422, its ``errors``."""

    def __init__(self, status: int, message: str, errors: list[Json] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    user: str
    draft: bool = False
    state: str = "open"
    merged_sha: str = ""
    merged_by: str = ""
    labels: list[str] = field(default_factory=list)
    approvals: set[str] = field(default_factory=set)
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None
    merged_at: str | None = None


@dataclass
class Issue:
    number: int
    title: str
    body: str
    user: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None


@dataclass
class Repo:
    full_name: str
    path: Path
    default_branch: str
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, list[Json]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    checks: dict[str, list[Json]] = field(default_factory=dict)
    statuses: dict[str, list[Json]] = field(default_factory=dict)
    required_checks: dict[str, list[str]] = field(default_factory=dict)  # branch -> contexts
    required_approvals: dict[str, int] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next_id())

    def ref(self, branch: str) -> str:
        return git(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], self.path, check=False
        )

    def merge(self, p: Pull, method: str, sha: str | None, title: str, user: str) -> Json:
        """``PUT .../pulls/N/merge``, refused the way GitHub refuses it."""
        head = self.ref(p.head)
        if p.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if sha and sha != head:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        for context in self.required_checks.get(p.base, []):
            states = [c["conclusion"] for c in self.checks.get(head, []) if c["name"] == context]
            states += [s["state"] for s in self.statuses.get(head, []) if s["context"] == context]
            if not states:
                raise ApiError(405, f'Required status check "{context}" is expected.')
            if states[-1] != "success":
                raise ApiError(405, f'Required status check "{context}" is failing.')
        if len(p.approvals) < self.required_approvals.get(p.base, 0):
            raise ApiError(
                405, "At least 1 approving review is required by reviewers with write access."
            )
        base = self.ref(p.base)
        env = {
            "GIT_AUTHOR_NAME": user,
            "GIT_AUTHOR_EMAIL": f"{user}@users.noreply",
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
        }
        # a clean merge prints the tree alone; conflicts add their files and messages after it
        tree = git(["merge-tree", "--write-tree", base, head], self.path, check=False, env=env)
        if not re.fullmatch(r"[0-9a-f]{40}", tree.strip()):
            raise ApiError(405, "Pull Request is not mergeable")
        message = title or f"{p.title} (#{p.number})"
        if method == "merge":
            message = f"Merge pull request #{p.number} from {self.full_name.split('/')[0]}:{p.head}"
            parents = ["-p", base, "-p", head]
        elif method in ("squash", "rebase"):
            parents = ["-p", base]
        else:
            raise ApiError(422, "Validation Failed", [{"field": "merge_method", "code": "invalid"}])
        commit = git(["commit-tree", tree, *parents, "-m", message], self.path, env=env)
        git(["update-ref", f"refs/heads/{p.base}", commit, base], self.path)
        p.state, p.merged_sha, p.merged_by, p.merged_at = "closed", commit, user, now()
        p.closed_at = p.merged_at
        return {"sha": commit, "merged": True, "message": "Pull Request successfully merged"}

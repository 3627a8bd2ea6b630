"""The state of the GitLab fake: users, projects, merge requests, issues, pipelines,
and how a merge request is merged (with git, refused the way GitLab refuses it)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from overnight.workspace.git import git

Json = dict[str, Any]
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
_ids = itertools.count(5000)


def next_id() -> int:
    """Ids are unique across the instance (GitLab's ``id``; ``iid`` is per project)."""
    return next(_ids)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class ApiError(Exception):
    """A refusal as GitLab words it: ``{"message": ...}`` (a string, a list or a
    field -> errors mapping) or, for a missing parameter, ``{"error": ...}``."""

    def __init__(self, status: int, message: Any = None, *, error: str = "") -> None:
        super().__init__(str(message or error))
        self.status, self.message, self.error = status, message, error

    def body(self) -> Json:
        return {"error": self.error} if self.error else {"message": self.message}


def not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, f"404 {what}")


@dataclass
class User:
    id: int
    username: str


@dataclass
class MergeRequest:
    iid: int
    title: str
    description: str
    source: str
    target: str
    author: str
    labels: list[str] = field(default_factory=list)
    state: str = "opened"
    squash: bool = False
    remove_source: bool = False
    merge_sha: str = ""
    squash_sha: str = ""
    merged_head: str = ""
    merged_by: str = ""
    closed_by: str = ""
    approvals: set[str] = field(default_factory=set)
    id: int = field(default_factory=lambda: next_id())
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None
    merged_at: str | None = None

    @property
    def draft(self) -> bool:
        return bool(re.match(r"(?i)\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)", self.title))


@dataclass
class Issue:
    iid: int
    title: str
    description: str
    author: str
    labels: list[str] = field(default_factory=list)
    state: str = "opened"
    id: int = field(default_factory=lambda: next_id())
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None


@dataclass
class Job:
    name: str
    status: str  # created | pending | running | success | failed | canceled | skipped | manual
    trace: str = ""
    stage: str = "test"
    allow_failure: bool = False
    id: int = field(default_factory=lambda: next_id())


@dataclass
class Pipeline:
    sha: str
    ref: str
    jobs: list[Job]
    iid: int
    id: int = field(default_factory=lambda: next_id())
    created_at: str = field(default_factory=now)

    @property
    def status(self) -> str:
        states = {j.status for j in self.jobs if not (j.allow_failure and j.status == "failed")}
        for status in ("failed", "running", "pending", "created", "canceled"):
            if status in states:
                return status
        return "success" if states - {"skipped", "manual"} or not self.jobs else "skipped"


@dataclass
class Project:
    path_with_namespace: str
    path: Path
    default_branch: str
    id: int = field(default_factory=lambda: next_id())
    mr_iids: itertools.count = field(default_factory=lambda: itertools.count(1))
    issue_iids: itertools.count = field(default_factory=lambda: itertools.count(1))
    pipeline_iids: itertools.count = field(default_factory=lambda: itertools.count(1))
    merge_requests: dict[int, MergeRequest] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    notes: dict[tuple[str, int], list[Json]] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)  # username -> access level
    statuses: dict[str, list[Json]] = field(default_factory=dict)  # sha -> external statuses
    pipelines: list[Pipeline] = field(default_factory=list)
    merge_access: dict[str, int] = field(default_factory=dict)  # protected branch -> level
    pipeline_must_succeed: bool = False
    approvals_required: int = 0

    def ref(self, branch: str) -> str:
        return git(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], self.path, check=False
        )

    def level(self, username: str) -> int:
        return self.members.get(username, 0)

    def detailed_merge_status(self, mr: MergeRequest) -> str:
        """Why ``mr`` can or cannot be merged now, in GitLab's words."""
        if mr.state != "opened":
            return "not_open"
        if mr.draft:
            return "draft_status"
        head, target = self.ref(mr.source), self.ref(mr.target)
        if not head or not target or self.merged_tree(target, head) is None:
            return "conflict"
        pipeline = self.latest_pipeline(head)
        if self.pipeline_must_succeed and (pipeline is None or pipeline.status != "success"):
            running = pipeline is not None and pipeline.status in ("running", "pending", "created")
            return "ci_still_running" if running else "ci_must_pass"
        if len(mr.approvals) < self.approvals_required:
            return "not_approved"
        return "mergeable"

    def merged_tree(self, ours: str, theirs: str) -> str | None:
        """The merged tree, or None on conflicts (then git writes a tree with conflict
        markers and names the conflicted files on the lines after it)."""
        out = git(["merge-tree", "--write-tree", ours, theirs], self.path, check=False)
        lines = out.split("\n")
        return lines[0] if len(lines) == 1 and re.fullmatch(r"[0-9a-f]{40}", lines[0]) else None

    def latest_pipeline(self, sha: str) -> Pipeline | None:
        return next((x for x in reversed(self.pipelines) if x.sha == sha), None)

    def merge(self, mr: MergeRequest, params: Json, user: str) -> None:
        """``PUT .../merge``, refused the way GitLab refuses it."""
        if self.level(user) < self.merge_access.get(mr.target, DEVELOPER):
            raise ApiError(401, "401 Unauthorized")
        status = self.detailed_merge_status(mr)
        if status not in ("mergeable", "conflict"):
            raise ApiError(405, "405 Method Not Allowed")
        if status == "conflict":
            raise ApiError(406, "Branch cannot be merged")
        head, target = self.ref(mr.source), self.ref(mr.target)
        if params.get("sha") and params["sha"] != head:
            raise ApiError(409, f"SHA does not match HEAD of source branch: {head}")
        env = {
            "GIT_AUTHOR_NAME": user,
            "GIT_AUTHOR_EMAIL": f"{user}@users.noreply.gitlab.example.com",
            "GIT_COMMITTER_NAME": user,
            "GIT_COMMITTER_EMAIL": f"{user}@users.noreply.gitlab.example.com",
        }
        merged = head
        if true(params.get("squash", mr.squash)):
            base = git(["merge-base", target, head], self.path)
            message = params.get("squash_commit_message") or mr.title
            squashed = git(["rev-parse", f"{head}^{{tree}}"], self.path)
            merged = mr.squash_sha = git(
                ["commit-tree", squashed, "-p", base, "-m", message], self.path, env=env
            )
        tree = self.merged_tree(target, merged)
        message = params.get("merge_commit_message") or (
            f"Merge branch '{mr.source}' into '{mr.target}'\n\n{mr.title}\n\n"
            f"See merge request {self.path_with_namespace}!{mr.iid}"
        )
        args = ["commit-tree", str(tree), "-p", target, "-p", merged, "-m", message]
        mr.merge_sha = git(args, self.path, env=env)
        git(["update-ref", f"refs/heads/{mr.target}", mr.merge_sha, target], self.path)
        mr.merged_head, mr.merged_by, mr.state = head, user, "merged"
        mr.merged_at = mr.updated_at = now()
        if true(params.get("should_remove_source_branch", mr.remove_source)):
            git(["update-ref", "-d", f"refs/heads/{mr.source}"], self.path)


def true(value: Any) -> bool:
    """A boolean parameter as GitLab takes it (JSON true, "true" or "1")."""
    return value is True or str(value).lower() in ("true", "1")


def label_list(value: Any) -> list[str]:
    """GitLab's ``labels`` parameter: a comma-separated string (or a JSON array)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [label.strip() for label in items if str(label).strip()]

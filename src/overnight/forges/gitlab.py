"""The ``gitlab`` forge: GitLab's REST API v4 and git over HTTPS, with a token.

The same operations as the ``github`` forge, in GitLab's words: a pull request
is a merge request, named by its ``iid`` (``!1``) within the project; comments
are notes; CI checks are the jobs of the commit's pipelines (a failed job's log
tail is the check's summary) and other CI's commit statuses. The task branch is
pushed with the token in an ``http.extraHeader`` given to git through its
environment (Basic ``oauth2:TOKEN``; never in a URL, an argument or a file),
then the branch's merge request is found and updated, or opened with the
labels: a run delivered twice, or a later run of the same task, updates the one
merge request. Merging goes through the API, so the project's merge checks
(pipeline, approvals, protected branches) are GitLab's to enforce; a refusal is
a ``ForgeError`` with GitLab's reason. Works with self-hosted GitLab through
``api_url`` (``https://HOST/api/v4``) and ``git_url`` (``https://HOST``).

GitLab's access levels map to overnight's permissions: Guest (10) and Reporter
(20) read, Developer (30) writes, Maintainer (40) and Owner (50) administer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from overnight.errors import ConfigError, ForgeError
from overnight.forges.base import Check, Issue, Published
from overnight.forges.http import Api
from overnight.forges.remote import RemoteForge

MERGE_METHODS = ("merge", "squash")
DRAFT = "Draft: "
# GitLab's job and commit status names -> the states a Check carries (GitHub's words)
STATES = {
    "success": "success",
    "failed": "failure",
    "canceled": "cancelled",
    "skipped": "skipped",
    "manual": "neutral",
}
LOG_NOISE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|section_(?:start|end):\d+:[^\r\n]*\r")


@dataclass(frozen=True)
class GitLabSettings:
    repo: str  # GROUP/NAME, or GROUP/SUBGROUP/.../NAME
    api_url: str = "https://gitlab.com/api/v4"
    git_url: str = "https://gitlab.com"
    token_env: str = "GITLAB_TOKEN"  # the variable that holds the token (never the token)
    merge_method: str = "squash"
    draft: bool = False
    labels: tuple[str, ...] = ("overnight",)

    def __post_init__(self) -> None:
        parts = self.repo.split("/")
        if len(parts) < 2 or not all(parts) or self.repo.endswith(".git"):
            raise ConfigError(
                f"[forge] repo {self.repo!r} is not GROUP/NAME (or GROUP/SUBGROUP/NAME)"
            )
        if self.merge_method not in MERGE_METHODS:
            raise ConfigError(
                f"[forge] merge_method {self.merge_method!r} is not one of {', '.join(MERGE_METHODS)}"
            )


@dataclass
class GitLabForge(RemoteForge):
    settings: GitLabSettings
    name = "gitlab"  # not fields: what the registry reads
    config_type = GitLabSettings
    title = "GitLab"
    git_user = "oauth2"
    token_needs = "the api scope, and the Developer role (or higher) in the project"
    already_open = 409

    def connect(self, extra: dict[str, Any]) -> Api:
        return Api(
            "GitLab",
            self.settings.api_url,
            {"PRIVATE-TOKEN": self.token, "User-Agent": "overnight"},
            token_hint=f"${self.settings.token_env}",
            scope_hint=self.token_needs,
            transport=self.transport,
            **extra,
        )

    @property
    def _project(self) -> str:
        return f"/projects/{quote(self.settings.repo, safe='')}"

    # -- delivery -------------------------------------------------------------------------

    def open(self, branch: str, base: str, title: str, body: str, pushed: bool) -> Published:
        created = self.api.call(
            "POST",
            f"{self._project}/merge_requests",
            json={
                "source_branch": branch,
                "target_branch": base,
                "title": DRAFT + title if self.settings.draft else title,
                "description": body,
                "labels": ",".join(self.settings.labels),
            },
        )
        return Published(created["iid"], created["web_url"], pushed, opened=True)

    def update(self, existing: dict[str, Any], title: str, body: str, pushed: bool) -> Published:
        iid = existing["iid"]
        if existing.get("draft") and not title.startswith(DRAFT):
            title = DRAFT + title  # a draft stays one until someone marks it ready
        if existing["title"] != title or (existing.get("description") or "") != body:
            self.api.call(
                "PUT",
                f"{self._project}/merge_requests/{iid}",
                json={"title": title, "description": body},
            )
        return Published(iid, existing["web_url"], pushed, opened=False)

    def find(self, branch: str, base: str) -> dict[str, Any] | None:
        """The open merge request of ``branch`` into ``base``, if there is one."""
        params = {"source_branch": branch, "target_branch": base, "state": "opened"}
        return next(iter(self.api.pages(f"{self._project}/merge_requests", params)), None)

    # -- review ----------------------------------------------------------------------------

    def merge(self, number: int, *, sha: str, title: str = "") -> str:
        """Merge the merge request at exactly ``sha``; the sha now at the target branch's
        head (the merge commit, or the squashed commit when the project fast-forwards)."""
        squash = self.settings.merge_method == "squash"
        body: dict[str, Any] = {"sha": sha, "squash": squash}
        if title:
            body["squash_commit_message" if squash else "merge_commit_message"] = title
        try:
            result = self.api.call(
                "PUT", f"{self._project}/merge_requests/{number}/merge", json=body
            )
        except ForgeError as exc:
            if exc.status in (401, 405, 406, 409, 422):
                raise ForgeError(
                    f"GitLab refused to merge merge request !{number}: "
                    f"{self._merge_refusal(number, exc)}. Satisfy the project's merge checks "
                    "on GitLab (pipeline, approvals, conflicts, who may merge into the "
                    "target branch) and approve again, or merge it there",
                    exc.status,
                ) from exc
            raise
        return str(result.get("merge_commit_sha") or result.get("squash_commit_sha") or sha)

    def _merge_refusal(self, number: int, exc: ForgeError) -> str:
        """Why: GitLab's answer to the merge says only "405 Method Not Allowed", so the
        merge request's ``detailed_merge_status`` is read and named as well."""
        if exc.status == 401:
            return "the token's user may not merge into the target branch (a protected branch)"
        if exc.status == 409:
            return "the source branch moved: SHA does not match HEAD of source branch"
        try:
            status = self.api.call("GET", f"{self._project}/merge_requests/{number}")
        except ForgeError:
            return str(exc)
        return f"{exc} (detailed_merge_status: {status.get('detailed_merge_status')})"

    def close(self, number: int, reason: str) -> None:
        if reason.strip():
            self.comment(number, reason)
        self.api.call(
            "PUT", f"{self._project}/merge_requests/{number}", json={"state_event": "close"}
        )

    def comment(self, number: int, text: str) -> None:
        self.api.call("POST", f"{self._project}/merge_requests/{number}/notes", json={"body": text})

    def issues(self, label: str) -> list[Issue]:
        """The open issues with ``label``."""
        found = self.api.pages(f"{self._project}/issues", {"labels": label, "state": "opened"})
        return [
            Issue(
                i["iid"],
                i["title"],
                i.get("description") or "",
                i["author"]["username"],
                i["web_url"],
            )
            for i in found
        ]

    def issue_comments(self, number: int) -> list[str]:
        return [
            n.get("body") or "" for n in self.api.pages(f"{self._project}/issues/{number}/notes")
        ]

    def comment_issue(self, number: int, text: str) -> None:
        self.api.call("POST", f"{self._project}/issues/{number}/notes", json={"body": text})

    def state(self, number: int) -> str:
        """``open``, ``closed`` or ``merged``, as GitLab has it now (``locked`` is open)."""
        mr = self.api.call("GET", f"{self._project}/merge_requests/{number}")
        return {"opened": "open", "locked": "open"}.get(mr["state"], str(mr["state"]))

    def checks(self, sha: str) -> list[Check]:
        """The jobs of the pipelines on ``sha`` (the latest pipeline's job of each name;
        a failed job's log tail as its summary) and the other commit statuses."""
        found: dict[str, Check] = {}
        jobs: set[int] = set()
        for pipeline in self.api.pages(f"{self._project}/pipelines", {"sha": sha}):
            for job in self.api.pages(f"{self._project}/pipelines/{pipeline['id']}/jobs"):
                jobs.add(job["id"])
                if job["name"] not in found:  # pipelines come newest first
                    found[job["name"]] = self._job_check(job)
        statuses = self.api.pages(f"{self._project}/repository/commits/{sha}/statuses")
        for s in statuses:
            if s["id"] not in jobs and s["name"] not in found:
                found[s["name"]] = Check(
                    s["name"],
                    _state(s["status"], s.get("allow_failure")),
                    s.get("description") or "",
                    s.get("target_url") or "",
                )
        return list(found.values())

    def _job_check(self, job: dict[str, Any]) -> Check:
        state = _state(job["status"], job.get("allow_failure"))
        summary = f"stage {job.get('stage')}"
        if job["status"] == "failed":
            summary += f", {job.get('failure_reason') or 'failed'}"
            log = self.api.text(f"{self._project}/jobs/{job['id']}/trace")
            summary += "\n" + _tail(LOG_NOISE.sub("", log).replace("\r\n", "\n"))
        return Check(job["name"], state, summary.strip(), job.get("web_url") or "")

    def permission(self, login: str) -> str:
        """``admin``, ``write``, ``read`` or ``none``: what ``login`` may do in the project."""
        users = self.api.call("GET", "/users", params={"username": login}) or []
        if not users:
            return "none"
        try:
            member = self.api.call("GET", f"{self._project}/members/all/{users[0]['id']}")
        except ForgeError as exc:
            if exc.status == 404:
                return "none"
            raise
        level = int(member.get("access_level") or 0)
        return (
            "admin"
            if level >= 40
            else "write"
            if level >= 30
            else "read"
            if level >= 10
            else "none"
        )


def _state(status: str, allow_failure: Any = False) -> str:
    """A GitLab status as a Check's state; a failure allowed to fail is ``neutral``."""
    if status == "failed" and allow_failure:
        return "neutral"
    return STATES.get(status, "pending")  # created, pending, running, scheduled ...


def _tail(log: str, limit: int = 2000) -> str:
    """The end of a job's log, where the failure is."""
    log = log.strip()
    return log if len(log) <= limit else "(cut) …\n" + log[-(limit - 20) :]

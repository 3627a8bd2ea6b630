"""The ``github`` forge: GitHub's REST API and git over HTTPS, with a token.

The task branch is pushed with the token in an ``http.extraHeader`` given to
git through its environment (never in a URL, an argument or a file), then the
task's pull request is found by its branch and updated, or opened: a run
delivered twice, or a later run of the same task, updates the one pull request
instead of opening another. Merging, closing and commenting go through the
API, so branch protection and required reviews are GitHub's to enforce; a
refusal is a ``ForgeError`` with GitHub's reason. Works with GitHub Enterprise
Server through ``api_url`` (``https://HOST/api/v3``) and ``git_url``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from overnight.errors import ConfigError, ForgeError
from overnight.forges.base import Check, Issue, Published
from overnight.forges.github_app import installation_token
from overnight.forges.http import Api
from overnight.forges.remote import RemoteForge

MERGE_METHODS = ("merge", "squash", "rebase")


@dataclass(frozen=True)
class GitHubSettings:
    repo: str  # OWNER/NAME
    api_url: str = "https://api.github.com"
    git_url: str = "https://github.com"
    token_env: str = "GITHUB_TOKEN"  # the variable that holds the token (never the token)
    merge_method: str = "squash"
    draft: bool = False
    labels: tuple[str, ...] = ("overnight",)
    # as a GitHub App instead of a token: its id, the installation's, and the variable
    # that holds its private key (forges/github_app.py)
    app_id: int = 0
    installation_id: int = 0
    private_key_env: str = "GITHUB_APP_PRIVATE_KEY"

    def __post_init__(self) -> None:
        if bool(self.app_id) != bool(self.installation_id):
            raise ConfigError("[forge] a GitHub App needs both app_id and installation_id")
        owner, _, name = self.repo.partition("/")
        if not owner or not name or "/" in name:
            raise ConfigError(f"[forge] repo {self.repo!r} is not OWNER/NAME")
        if self.merge_method not in MERGE_METHODS:
            raise ConfigError(
                f"[forge] merge_method {self.merge_method!r} is not one of {', '.join(MERGE_METHODS)}"
            )


@dataclass
class GitHubForge(RemoteForge):
    settings: GitHubSettings
    name = "github"  # not fields: what the registry reads
    config_type = GitHubSettings
    title = "GitHub"
    git_user = "x-access-token"
    token_needs = "write access to contents, pull requests and issues"
    already_open = 422

    @classmethod
    def from_environment(cls, settings: GitHubSettings) -> GitHubForge:
        """With the token in ``$token_env``, or one minted for the configured App."""
        if settings.app_id:
            return cls(settings, installation_token(settings))
        return cls(settings, os.environ.get(settings.token_env, ""))

    def connect(self, extra: dict[str, Any]) -> Api:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "overnight",
        }
        hint = f"${self.settings.token_env}"
        return Api(
            "GitHub",
            self.settings.api_url,
            headers,
            token_hint=hint,
            transport=self.transport,
            **extra,
        )

    @property
    def _repo(self) -> str:
        return f"/repos/{self.settings.repo}"

    # -- delivery -------------------------------------------------------------------------

    def open(self, branch: str, base: str, title: str, body: str, pushed: bool) -> Published:
        created = self.api.call(
            "POST",
            f"{self._repo}/pulls",
            json={
                "title": title,
                "head": branch,
                "base": base,
                "body": body,
                "draft": self.settings.draft,
            },
        )
        if self.settings.labels:
            self.api.call(
                "POST",
                f"{self._repo}/issues/{created['number']}/labels",
                json={"labels": list(self.settings.labels)},
            )
        return Published(created["number"], created["html_url"], pushed, opened=True)

    def update(self, existing: dict[str, Any], title: str, body: str, pushed: bool) -> Published:
        number = existing["number"]
        if existing["title"] != title or (existing.get("body") or "") != body:
            self.api.call(
                "PATCH", f"{self._repo}/pulls/{number}", json={"title": title, "body": body}
            )
        return Published(number, existing["html_url"], pushed, opened=False)

    def find(self, branch: str, base: str) -> dict[str, Any] | None:
        """The open pull request of ``branch`` into ``base``, if there is one."""
        owner = self.settings.repo.split("/")[0]
        params = {"head": f"{owner}:{branch}", "base": base, "state": "open"}
        return next(iter(self.api.pages(f"{self._repo}/pulls", params)), None)

    # -- review ----------------------------------------------------------------------------

    def merge(self, number: int, *, sha: str, title: str = "") -> str:
        """Merge the pull request at exactly ``sha``; the merge commit's sha."""
        body: dict[str, Any] = {"sha": sha, "merge_method": self.settings.merge_method}
        if title:
            body["commit_title"] = title
        try:
            result = self.api.call("PUT", f"{self._repo}/pulls/{number}/merge", json=body)
        except ForgeError as exc:
            if exc.status in (405, 409, 422):
                raise ForgeError(
                    f"GitHub refused to merge pull request #{number}: {exc}. "
                    "Satisfy the branch's protection on GitHub (checks, reviews) and approve again, "
                    "or merge it there",
                    exc.status,
                ) from exc
            raise
        return str(result["sha"])

    def close(self, number: int, reason: str) -> None:
        if reason.strip():
            self.comment(number, reason)
        self.api.call("PATCH", f"{self._repo}/pulls/{number}", json={"state": "closed"})

    def comment(self, number: int, text: str) -> None:
        self.api.call("POST", f"{self._repo}/issues/{number}/comments", json={"body": text})

    def issues(self, label: str) -> list[Issue]:
        """The open issues with ``label`` (pull requests, which GitHub lists too, left out)."""
        found = self.api.pages(f"{self._repo}/issues", {"labels": label, "state": "open"})
        return [
            Issue(i["number"], i["title"], i.get("body") or "", i["user"]["login"], i["html_url"])
            for i in found
            if "pull_request" not in i
        ]

    def issue_comments(self, number: int) -> list[str]:
        return [
            c.get("body") or "" for c in self.api.pages(f"{self._repo}/issues/{number}/comments")
        ]

    def comment_issue(self, number: int, text: str) -> None:
        self.comment(number, text)  # on GitHub a pull request is an issue: one endpoint

    def state(self, number: int) -> str:
        """``open``, ``closed`` or ``merged``, as GitHub has it now."""
        pull = self.api.call("GET", f"{self._repo}/pulls/{number}")
        return "merged" if pull.get("merged") else str(pull["state"])

    def checks(self, sha: str) -> list[Check]:
        """The check runs and commit statuses on ``sha``."""
        runs = self.api.call(
            "GET", f"{self._repo}/commits/{sha}/check-runs", params={"per_page": 100}
        )
        found = [
            Check(
                run["name"],
                run.get("conclusion") or run.get("status") or "pending",
                _excerpt(
                    (run.get("output") or {}).get("summary"), (run.get("output") or {}).get("text")
                ),
                run.get("details_url") or run.get("html_url") or "",
            )
            for run in runs.get("check_runs", [])
        ]
        combined = self.api.call("GET", f"{self._repo}/commits/{sha}/status")
        found += [
            Check(s["context"], s["state"], s.get("description") or "", s.get("target_url") or "")
            for s in combined.get("statuses", [])
        ]
        return found

    def permission(self, login: str) -> str:
        """``admin``, ``write``, ``read`` or ``none``: what ``login`` may do in the repository."""
        try:
            answer = self.api.call("GET", f"{self._repo}/collaborators/{login}/permission")
        except ForgeError as exc:
            if exc.status == 404:
                return "none"
            raise
        return str(answer.get("permission") or "none")


def _excerpt(*parts: str | None, limit: int = 2000) -> str:
    text = "\n".join(p.strip() for p in parts if p and p.strip())
    return text if len(text) <= limit else text[: limit - 20] + "\n… (cut)"

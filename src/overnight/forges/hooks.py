"""Forge webhooks (GitHub's, GitLab's): verified, then read into what overnight acts on.

A delivery is acted on only if its ``X-Hub-Signature-256`` is the HMAC-SHA256 of
the exact body with the shared secret (compared in constant time) and its
``X-GitHub-Delivery`` id was not seen before (the caller keeps the ids: a
replayed delivery is refused, even with a valid signature). What it says
becomes plain data:

- ``IssueLabelled``: an issue opened or labelled with the intake label;
- ``ReviewCommand``: ``/overnight approve``, ``/overnight reject REASON`` or
  ``/overnight request-changes FEEDBACK`` in a pull request comment, or a
  submitted review that requests changes (its body is the feedback);
- ``ChecksCompleted``: a check suite or a commit status finished on a commit.

A GitLab delivery carries the hook's secret token itself in ``X-Gitlab-Token``
(compared in constant time) and its id in ``X-Gitlab-Event-UUID``; notes on a
merge request carry the same commands, a finished pipeline is ``ChecksCompleted``.

Who may command is not decided here: the caller asks the forge for the
author's permission (write or admin) before acting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from overnight.errors import UsageError

VERBS = ("approve", "reject", "request-changes")
_COMMAND = re.compile(r"^/overnight[ \t]+(approve|reject|request-changes)\b[ \t]*(.*)", re.M)


class HookRefused(UsageError):
    """A delivery that must not be acted on; the message says why, in one line."""


@dataclass(frozen=True)
class IssueLabelled:
    repo: str
    number: int
    title: str
    body: str
    author: str
    url: str


@dataclass(frozen=True)
class ReviewCommand:
    repo: str
    number: int  # the pull request
    verb: str  # approve | reject | request-changes
    text: str  # the reason or the feedback
    author: str


@dataclass(frozen=True)
class ChecksCompleted:
    repo: str
    sha: str


Action = IssueLabelled | ReviewCommand | ChecksCompleted


def verify(secret: str, body: bytes, signature: str | None) -> None:
    """Refuse a body whose signature is missing or not the secret's."""
    if not secret:
        raise HookRefused("webhooks are off: set the webhook secret's variable to accept them")
    if not signature:
        raise HookRefused("unsigned delivery: configure the webhook with the shared secret")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip()):
        raise HookRefused("bad signature: the webhook's secret differs from overnight's")


def read(event: str, body: bytes, *, label: str = "overnight") -> list[Action]:
    """What a verified delivery of ``event`` asks overnight to do (often nothing)."""
    try:
        payload: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise HookRefused(f"the delivery is not JSON ({exc})") from exc
    repo = str((payload.get("repository") or {}).get("full_name", ""))
    action = payload.get("action")
    if event == "issues" and action in ("opened", "labeled", "reopened"):
        issue = payload["issue"]
        labels = {x["name"] for x in issue.get("labels") or []}
        if label in labels and "pull_request" not in issue:
            return [
                IssueLabelled(
                    repo,
                    issue["number"],
                    issue["title"],
                    issue.get("body") or "",
                    issue["user"]["login"],
                    issue.get("html_url", ""),
                )
            ]
    if event == "issue_comment" and action == "created" and "pull_request" in payload["issue"]:
        comment = payload["comment"]
        return [
            ReviewCommand(repo, payload["issue"]["number"], verb, text, comment["user"]["login"])
            for verb, text in commands(comment.get("body") or "")
        ]
    if event == "pull_request_review" and action == "submitted":
        review = payload["review"]
        if review.get("state") == "changes_requested":
            feedback = (review.get("body") or "").strip() or "changes requested (no comment given)"
            number = payload["pull_request"]["number"]
            return [
                ReviewCommand(repo, number, "request-changes", feedback, review["user"]["login"])
            ]
    if event == "check_suite" and action == "completed":
        return [ChecksCompleted(repo, payload["check_suite"]["head_sha"])]
    if event == "status" and payload.get("state") in ("success", "failure", "error"):
        return [ChecksCompleted(repo, payload["sha"])]
    return []


def verify_gitlab(secret: str, token: str | None) -> None:
    """GitLab does not sign: it sends the hook's secret token as entered."""
    if not secret:
        raise HookRefused("webhooks are off: set the webhook secret's variable to accept them")
    if not token:
        raise HookRefused("no X-Gitlab-Token: configure the webhook with the shared secret token")
    if not hmac.compare_digest(secret.encode(), token.strip().encode()):
        raise HookRefused("wrong X-Gitlab-Token: the webhook's secret differs from overnight's")


def read_gitlab(body: bytes, *, label: str = "overnight") -> list[Action]:
    """What a GitLab delivery asks: labelled issues, merge request notes with commands,
    finished pipelines. (An issue hook names who acted, not the author: their
    permission is the one checked.)"""
    try:
        payload: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise HookRefused(f"the delivery is not JSON ({exc})") from exc
    repo = str((payload.get("project") or {}).get("path_with_namespace", ""))
    kind, attributes = payload.get("object_kind"), payload.get("object_attributes") or {}
    if kind == "issue" and attributes.get("action") in ("open", "reopen", "update"):
        labels = {x.get("title") for x in payload.get("labels") or attributes.get("labels") or []}
        if label in labels and attributes.get("state", "opened") == "opened":
            return [
                IssueLabelled(
                    repo,
                    int(attributes["iid"]),
                    str(attributes.get("title") or ""),
                    str(attributes.get("description") or ""),
                    str((payload.get("user") or {}).get("username", "")),
                    str(attributes.get("url") or ""),
                )
            ]
    if kind == "note" and attributes.get("noteable_type") == "MergeRequest":
        number = (payload.get("merge_request") or {}).get("iid")
        author = (payload.get("user") or {}).get("username", "")
        return [
            ReviewCommand(repo, int(number), verb, text, author)
            for verb, text in commands(attributes.get("note") or "")
            if number is not None
        ]
    if kind == "pipeline" and attributes.get("status") in ("success", "failed", "canceled"):
        return [ChecksCompleted(repo, str(attributes["sha"]))]
    return []


def commands(comment: str) -> list[tuple[str, str]]:
    """The ``/overnight VERB text`` commands of a comment, each a line of its own;
    the text of a command runs to the next command or the end."""
    found = list(_COMMAND.finditer(comment))
    out = []
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(comment)
        text = (match.group(2) + comment[match.end() : end]).strip()
        out.append((match.group(1), text))
    return out

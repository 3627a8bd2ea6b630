"""Webhooks as GitLab sends them: the headers (the hook's secret token in
``X-Gitlab-Token``, as entered in the hook's settings: GitLab does not sign the
body) and the payloads of the events overnight listens to, built from the fake's
state so a test can post them to the endpoint under test::

    payload = hooks.note(lab, "acme/app", "merge_requests", 1, note)
    headers = hooks.headers("s3cret", hooks.EVENTS[payload["object_kind"]])
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from overnight.testing.gitlab import shapes
from overnight.testing.gitlab.state import Json, MergeRequest, Pipeline, Project

if TYPE_CHECKING:
    from overnight.testing.gitlab.server import GitLabServer

# object_kind -> the X-Gitlab-Event header
EVENTS = {
    "issue": "Issue Hook",
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "pipeline": "Pipeline Hook",
}


def headers(secret: str, event: str, *, instance: str = "https://gitlab.example.com") -> dict:
    """The headers of one delivery of ``event`` (``Merge Request Hook``, ``Note Hook``,
    ``Issue Hook``, ``Pipeline Hook``) by a hook whose secret token is ``secret``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.5.0",
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": secret,
        "X-Gitlab-Instance": instance,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
    }


def issue(lab: GitLabServer, project: str, iid: int, *, action: str = "open") -> Json:
    """An ``Issue Hook`` payload (``action`` open, close, reopen or update)."""
    p = lab.projects[project]
    i = shapes.issue(lab, p, p.issues[iid])
    attributes = {
        **{k: i[k] for k in ("id", "iid", "title", "description", "state", "project_id")},
        **{k: i[k] for k in ("created_at", "updated_at", "closed_at", "confidential")},
        "author_id": i["author"]["id"],
        "url": i["web_url"],
        "action": action,
        "labels": _labels(p, i["labels"]),
    }
    return _event("issue", lab, p, i["author"]["username"], attributes, _labels(p, i["labels"]))


def merge_request(lab: GitLabServer, project: str, iid: int, *, action: str = "open") -> Json:
    """A ``Merge Request Hook`` payload (``action`` open, close, reopen, update, merge,
    approved ...)."""
    p = lab.projects[project]
    mr = p.merge_requests[iid]
    attributes = {**_merge_request_attributes(lab, p, mr), "action": action}
    return _event("merge_request", lab, p, mr.author, attributes, _labels(p, mr.labels))


def note(lab: GitLabServer, project: str, kind: str, iid: int, written: Json) -> Json:
    """A ``Note Hook`` payload for the note ``written`` (as ``GitLabServer.note``
    returned it) on a merge request (``kind`` "merge_requests") or an issue."""
    p = lab.projects[project]
    noun = "merge_request" if kind == "merge_requests" else "issue"
    attributes = {
        "id": written["id"],
        "note": written["body"],
        "noteable_type": written["noteable_type"],
        "noteable_id": written["noteable_id"],
        "author_id": written["author"]["id"],
        "project_id": p.id,
        "created_at": written["created_at"],
        "updated_at": written["updated_at"],
        "system": False,
        "internal": False,
        "url": f"{lab.url}/{p.path_with_namespace}/-/{kind}/{iid}#note_{written['id']}",
        "action": "create",
    }
    if noun == "merge_request":
        target = _merge_request_attributes(lab, p, p.merge_requests[iid])
    else:
        target = {k: v for k, v in shapes.issue(lab, p, p.issues[iid]).items() if k != "author"}
    payload = _event("note", lab, p, written["author"]["username"], attributes, None)
    return {**payload, "project_id": p.id, noun: target}


def pipeline(lab: GitLabServer, project: str, x: Pipeline) -> Json:
    """A ``Pipeline Hook`` payload: the pipeline's status and each job (``builds``)."""
    p = lab.projects[project]
    shown = shapes.pipeline(lab, p, x)
    attributes = {
        **{k: shown[k] for k in ("id", "iid", "ref", "sha", "source", "status", "created_at")},
        "tag": False,
        "detailed_status": shown["status"],
        "stages": sorted({j.stage for j in x.jobs}),
        "url": shown["web_url"],
    }
    builds = [
        {
            k: job[k]
            for k in ("id", "stage", "name", "status", "created_at", "started_at", "finished_at")
        }
        | {"allow_failure": job["allow_failure"], "failure_reason": job["failure_reason"]}
        for job in (shapes.job(lab, p, x, j) for j in x.jobs)
    ]
    source = next((m for m in p.merge_requests.values() if m.source == x.ref), None)
    payload = _event("pipeline", lab, p, p.path_with_namespace.split("/")[0], attributes, None)
    return {
        **payload,
        "merge_request": _merge_request_attributes(lab, p, source) if source else None,
        "commit": {"id": x.sha, "url": f"{lab.url}/{p.path_with_namespace}/-/commit/{x.sha}"},
        "builds": builds,
    }


def _event(
    kind: str, lab: GitLabServer, p: Project, username: str, attributes: Json, labels: Any
) -> Json:
    web = f"{lab.url}/{p.path_with_namespace}"
    namespace, _, name = p.path_with_namespace.rpartition("/")
    payload = {
        "object_kind": kind,
        "event_type": kind,
        "user": {**shapes.user(lab, username), "email": "[REDACTED]"},
        "project": {
            "id": p.id,
            "name": name,
            "description": None,
            "web_url": web,
            "avatar_url": None,
            "git_ssh_url": f"git@127.0.0.1:{p.path_with_namespace}.git",
            "git_http_url": f"{web}.git",
            "namespace": namespace,
            "visibility_level": 0,
            "path_with_namespace": p.path_with_namespace,
            "default_branch": p.default_branch,
            "homepage": web,
            "url": f"{web}.git",
            "http_url": f"{web}.git",
        },
        "object_attributes": attributes,
        "repository": {"name": name, "url": f"{web}.git", "description": None, "homepage": web},
    }
    if labels is not None:
        payload |= {"labels": labels, "changes": {}}
    return payload


def _merge_request_attributes(lab: GitLabServer, p: Project, mr: MergeRequest) -> Json:
    shown = shapes.merge_request(lab, p, mr)
    keys = [
        *("id", "iid", "title", "description", "state", "source_branch", "target_branch"),
        *("merge_status", "detailed_merge_status", "draft", "created_at", "updated_at"),
    ]
    return {
        **{k: shown[k] for k in keys},
        "source_project_id": p.id,
        "target_project_id": p.id,
        "author_id": shown["author"]["id"],
        "url": shown["web_url"],
        "work_in_progress": shown["draft"],
        "merge_commit_sha": shown["merge_commit_sha"],
        "last_commit": {"id": shown["sha"], "url": f"{shown['web_url']}/diffs"},
        "labels": _labels(p, mr.labels),
    }


def _labels(p: Project, names: list[str]) -> list[Json]:
    """Labels as a hook carries them: objects, where the REST API has names."""
    return [
        {
            "id": int(hashlib.sha256(f"{p.id}/{name}".encode()).hexdigest()[:6], 16),
            "title": name,
            "color": "#ededed",
            "project_id": p.id,
            "description": None,
            "type": "ProjectLabel",
            "group_id": None,
            "template": False,
        }
        for name in names
    ]

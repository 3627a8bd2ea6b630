"""GitHub's objects as its REST API gives them (the shapes of GitHub's published
OpenAPI description; the tests validate them against githubkit's schema models):
users, repositories, labels, pull requests, issues, check runs and commit statuses."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from overnight.testing.github.state import Issue, Json, Pull, Repo, now

if TYPE_CHECKING:
    from overnight.testing.github.server import GitHubServer


def user(hub: GitHubServer, login: str) -> Json:
    api = hub.url
    out: Json = {
        "login": login,
        "id": int(hashlib.sha256(login.encode()).hexdigest()[:8], 16),
        "node_id": f"U_{login}",
        "avatar_url": f"{api}/avatars/{login}",
        "gravatar_id": "",
        "url": f"{api}/users/{login}",
        "html_url": f"{api}/{login}",
        "type": "User",
        "site_admin": False,
    }
    for part in ("followers", "following", "gists", "starred", "subscriptions"):
        out[f"{part}_url"] = f"{api}/users/{login}/{part}"
    for part in ("organizations", "repos", "events", "received_events"):
        out[f"{part}_url"] = f"{api}/users/{login}/{part}"
    return out


def repository(hub: GitHubServer, r: Repo) -> Json:
    api, (owner, name) = hub.url, r.full_name.split("/")
    out: Json = {
        "id": r.id,
        "node_id": f"R_{r.id}",
        "name": name,
        "full_name": r.full_name,
        "license": None,
        "forks": 0,
        "owner": user(hub, owner),
        "private": True,
        "html_url": f"{api}/{r.full_name}",
        "description": None,
        "fork": False,
        "url": f"{api}/repos/{r.full_name}",
        "git_url": f"{api}/{r.full_name}.git",
        "ssh_url": f"git@127.0.0.1:{r.full_name}.git",
        "clone_url": f"{api}/{r.full_name}.git",
        "svn_url": f"{api}/{r.full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "size": 0,
        "default_branch": r.default_branch,
        "pushed_at": now(),
        "created_at": now(),
        "updated_at": now(),
        "has_pages": False,
        "disabled": False,
    }
    for count in ("forks", "stargazers", "watchers", "open_issues"):
        out[f"{count}_count"] = 0
    out["open_issues"] = out["watchers"] = 0
    for part in REPO_URLS:
        out[f"{part}_url"] = f"{api}/repos/{r.full_name}/{part.replace('_', '/')}"
    return out


def label(hub: GitHubServer, r: Repo, name: str) -> Json:
    lid = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return {
        "id": lid,
        "node_id": f"LA_{lid}",
        "url": f"{hub.url}/repos/{r.full_name}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
        "archived_at": None,
        "archived_by": None,
    }


def pull(hub: GitHubServer, r: Repo, p: Pull) -> Json:
    api, owner = hub.url, r.full_name.split("/")[0]
    base_url = f"{api}/repos/{r.full_name}"
    head_sha = r.ref(p.head) or p.merged_sha
    links = {
        name: {"href": href}
        for name, href in {
            "self": f"{base_url}/pulls/{p.number}",
            "html": f"{api}/{r.full_name}/pull/{p.number}",
            "issue": f"{base_url}/issues/{p.number}",
            "comments": f"{base_url}/issues/{p.number}/comments",
            "review_comments": f"{base_url}/pulls/{p.number}/comments",
            "review_comment": f"{base_url}/pulls/comments{{/number}}",
            "commits": f"{base_url}/pulls/{p.number}/commits",
            "statuses": f"{base_url}/statuses/{head_sha}",
        }.items()
    }
    side = {"repo": repository(hub, r), "user": user(hub, owner)}
    return {
        "url": f"{base_url}/pulls/{p.number}",
        "id": 10_000 + p.number,
        "node_id": f"PR_{p.number}",
        "html_url": links["html"]["href"],
        "diff_url": f"{api}/{r.full_name}/pull/{p.number}.diff",
        "patch_url": f"{api}/{r.full_name}/pull/{p.number}.patch",
        "issue_url": links["issue"]["href"],
        "commits_url": links["commits"]["href"],
        "review_comments_url": links["review_comments"]["href"],
        "review_comment_url": links["review_comment"]["href"],
        "comments_url": links["comments"]["href"],
        "statuses_url": links["statuses"]["href"],
        "number": p.number,
        "state": p.state,
        "locked": False,
        "title": p.title,
        "user": user(hub, p.user),
        "body": p.body,
        "labels": [label(hub, r, name) for name in p.labels],
        "milestone": None,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "closed_at": p.closed_at,
        "merged_at": p.merged_at,
        "merge_commit_sha": p.merged_sha or None,
        "head": {"label": f"{owner}:{p.head}", "ref": p.head, "sha": head_sha, **side},
        "base": {"label": f"{owner}:{p.base}", "ref": p.base, "sha": r.ref(p.base), **side},
        "_links": links,
        "author_association": "COLLABORATOR",
        "auto_merge": None,
        "draft": p.draft,
        "merged": bool(p.merged_at),
        "mergeable": None if p.state != "open" else True,
        "mergeable_state": "clean" if p.state == "open" else "unknown",
        "merged_by": user(hub, p.merged_by) if p.merged_by else None,
        "comments": len(r.comments.get(p.number, [])),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def issue(hub: GitHubServer, r: Repo, i: Issue) -> Json:
    api, base_url = hub.url, f"{hub.url}/repos/{r.full_name}"
    return {
        "id": 20_000 + i.number,
        "node_id": f"I_{i.number}",
        "url": f"{base_url}/issues/{i.number}",
        "repository_url": base_url,
        "labels_url": f"{base_url}/issues/{i.number}/labels{{/name}}",
        "comments_url": f"{base_url}/issues/{i.number}/comments",
        "events_url": f"{base_url}/issues/{i.number}/events",
        "html_url": f"{api}/{r.full_name}/issues/{i.number}",
        "number": i.number,
        "state": i.state,
        "title": i.title,
        "body": i.body,
        "user": user(hub, i.user),
        "labels": [label(hub, r, name) for name in i.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "comments": len(r.comments.get(i.number, [])),
        "closed_at": i.closed_at,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "author_association": "COLLABORATOR",
    }


def check_run(hub: GitHubServer, r: Repo, sha: str, c: Json) -> Json:
    return {
        "id": c["id"],
        "head_sha": sha,
        "node_id": f"CR_{c['id']}",
        "external_id": str(c["id"]),
        "url": f"{hub.url}/repos/{r.full_name}/check-runs/{c['id']}",
        "html_url": f"{hub.url}/{r.full_name}/runs/{c['id']}",
        "details_url": f"{hub.url}/{r.full_name}/runs/{c['id']}",
        "status": "completed",
        "conclusion": c["conclusion"],
        "started_at": now(),
        "completed_at": now(),
        "output": {
            "title": c["name"],
            "summary": c["summary"],
            "text": c["text"],
            "annotations_count": 0,
            "annotations_url": f"{hub.url}/repos/{r.full_name}/check-runs/{c['id']}/annotations",
        },
        "name": c["name"],
        "check_suite": {"id": c["id"]},
        "app": None,
        "pull_requests": [],
    }


def status(hub: GitHubServer, r: Repo, sha: str, s: Json) -> Json:
    return {
        "id": s["id"],
        "node_id": f"SC_{s['id']}",
        "state": s["state"],
        "context": s["context"],
        "description": s["description"],
        "target_url": None,
        "avatar_url": None,
        "url": f"{hub.url}/repos/{r.full_name}/statuses/{sha}",
        "created_at": now(),
        "updated_at": now(),
    }


REPO_URLS = [
    "archive",
    "assignees",
    "blobs",
    "branches",
    "collaborators",
    "comments",
    "commits",
    "compare",
    "contents",
    "contributors",
    "deployments",
    "downloads",
    "events",
    "forks",
    "git_commits",
    "git_refs",
    "git_tags",
    "issue_comment",
    "issue_events",
    "issues",
    "keys",
    "labels",
    "languages",
    "merges",
    "milestones",
    "notifications",
    "pulls",
    "releases",
    "stargazers",
    "statuses",
    "subscribers",
    "subscription",
    "tags",
    "teams",
    "trees",
    "hooks",
]

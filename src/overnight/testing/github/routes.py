"""The REST API endpoints of the GitHub fake, each a function of the server, the
user, the query (``parse_qs``), the JSON body and the path's groups; it answers a
JSON value, ``(status, value)`` or a ``Page``, or raises ``ApiError``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overnight.testing.github import shapes
from overnight.testing.github.state import ApiError, Json, Pull, Repo, now
from overnight.workspace.git import git

if TYPE_CHECKING:
    from overnight.testing.github.server import GitHubServer, Page


def _get_user(hub: GitHubServer, user: str, q: Any, body: Any) -> Json:
    return shapes.user(hub, user)


def _get_repo(hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str) -> Json:
    r = hub.repo_for(owner, name, user)
    perm = r.permissions[user]
    return {
        **shapes.repository(hub, r),
        "permissions": {
            "admin": perm == "admin",
            "maintain": perm in ("admin", "maintain"),
            "push": perm in ("admin", "maintain", "write"),
            "triage": perm != "read",
            "pull": True,
        },
    }


def _list_pulls(
    hub: GitHubServer, user: str, q: dict[str, list[str]], body: Any, owner: str, name: str
) -> Page:
    r = hub.repo_for(owner, name, user)
    state, head = q.get("state", ["open"])[0], q.get("head", [""])[0]
    pulls = [
        shapes.pull(hub, r, p)
        for p in r.pulls.values()
        if (state == "all" or p.state == state) and (not head or f"{owner}:{p.head}" == head)
    ]
    return hub.page(f"/repos/{owner}/{name}/pulls", q, pulls)


def _create_pull(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str
) -> tuple[int, Json]:
    r = hub.repo_for(owner, name, user, "write")
    missing = [key for key in ("head", "base") if not body.get(key)]
    if missing:
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": missing[0], "code": "missing_field"}],
        )
    head = body["head"].split(":")[-1]
    if not r.ref(head):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        )
    if not r.ref(body["base"]):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
        )
    for p in r.pulls.values():
        if p.state == "open" and p.head == head and p.base == body["base"]:
            message = f"A pull request already exists for {owner}:{head}."
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "code": "custom", "message": message}],
            )
    number = next(r.numbers)
    pull = Pull(
        number,
        body.get("title") or head,
        body.get("body") or "",
        head,
        body["base"],
        user,
        bool(body.get("draft")),
    )
    r.pulls[number] = pull
    return 201, shapes.pull(hub, r, pull)


def _pull_of(
    hub: GitHubServer, user: str, owner: str, name: str, number: str, need: str = "read"
) -> tuple[Repo, Pull]:
    r = hub.repo_for(owner, name, user, need)
    pull = r.pulls.get(int(number))
    if pull is None:
        raise ApiError(404, "Not Found")
    return r, pull


def _get_pull(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, number: str
) -> Json:
    r, pull = _pull_of(hub, user, owner, name, number)
    return shapes.pull(hub, r, pull)


def _update_pull(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> Json:
    r, pull = _pull_of(hub, user, owner, name, number, "write")
    if body.get("state") == "open" and pull.state == "closed" and pull.merged_at:
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "state cannot be changed. The pull request has been merged.",
                }
            ],
        )
    pull.title, pull.body = body.get("title", pull.title), body.get("body", pull.body)
    if body.get("state") in ("open", "closed") and body["state"] != pull.state:
        pull.state, pull.closed_at = body["state"], now() if body["state"] == "closed" else None
    pull.updated_at = now()
    return shapes.pull(hub, r, pull)


def _merge_pull(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> Json:
    r, pull = _pull_of(hub, user, owner, name, number, "write")
    body = body or {}
    return r.merge(
        pull,
        body.get("merge_method", "merge"),
        body.get("sha"),
        body.get("commit_title", ""),
        user,
    )


def _list_issues(
    hub: GitHubServer, user: str, q: dict[str, list[str]], body: Any, owner: str, name: str
) -> Page:
    r = hub.repo_for(owner, name, user)
    state = q.get("state", ["open"])[0]
    wanted = [label for label in q.get("labels", [""])[0].split(",") if label]
    items = [
        shapes.issue(hub, r, i)
        for i in r.issues.values()
        if (state == "all" or i.state == state) and all(label in i.labels for label in wanted)
    ]
    return hub.page(f"/repos/{owner}/{name}/issues", q, items)


def _get_issue(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, number: str
) -> Json:
    r = hub.repo_for(owner, name, user)
    issue = r.issues.get(int(number))
    if issue is None:
        raise ApiError(404, "Not Found")
    return shapes.issue(hub, r, issue)


def _comments(
    hub: GitHubServer,
    user: str,
    q: dict[str, list[str]],
    body: Any,
    owner: str,
    name: str,
    number: str,
) -> Page:
    r = hub.repo_for(owner, name, user)
    return hub.page(
        f"/repos/{owner}/{name}/issues/{number}/comments", q, r.comments.get(int(number), [])
    )


def _add_comment(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> tuple[int, Json]:
    r = hub.repo_for(owner, name, user, "write")
    if not (body or {}).get("body"):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
        )
    return 201, hub.write_comment(r, int(number), body["body"], user)


def _add_labels(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> list[Json]:
    r = hub.repo_for(owner, name, user, "write")
    target = r.pulls.get(int(number)) or r.issues.get(int(number))
    if target is None:
        raise ApiError(404, "Not Found")
    for label in (body or {}).get("labels", []):
        if label not in target.labels:
            target.labels.append(label)
    return [shapes.label(hub, r, label) for label in target.labels]


def _check_runs(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, ref: str
) -> Json:
    r = hub.repo_for(owner, name, user)
    sha = r.ref(ref) or ref
    runs = [shapes.check_run(hub, r, sha, c) for c in r.checks.get(sha, [])]
    return {"total_count": len(runs), "check_runs": runs}


def _combined_status(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, ref: str
) -> Json:
    r = hub.repo_for(owner, name, user)
    sha = r.ref(ref) or ref
    statuses = [shapes.status(hub, r, sha, s) for s in r.statuses.get(sha, [])]
    states = {s["state"] for s in statuses}
    state = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if "pending" in states or not states
        else "success"
    )
    return {
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(statuses),
        "repository": shapes.repository(hub, r),
        "commit_url": f"{hub.url}/repos/{r.full_name}/commits/{sha}",
        "url": f"{hub.url}/repos/{r.full_name}/commits/{sha}/status",
    }


def _permission(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, login: str
) -> Json:
    r = hub.repo_for(owner, name, user)
    perm = r.permissions.get(login, "none")
    legacy = {"maintain": "write", "triage": "read"}.get(perm, perm)
    return {
        "permission": legacy,
        "role_name": perm,
        "user": {**shapes.user(hub, login), "role_name": perm},
    }


def _delete_branch(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, branch: str
) -> tuple[int, None]:
    r = hub.repo_for(owner, name, user, "write")
    if not r.ref(branch):
        raise ApiError(422, "Reference does not exist")
    git(["update-ref", "-d", f"refs/heads/{branch}"], r.path)
    return 204, None


R = r"/repos/([^/]+)/([^/]+)"
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"/user", _get_user),
    ("GET", R, _get_repo),
    ("GET", R + r"/pulls", _list_pulls),
    ("POST", R + r"/pulls", _create_pull),
    ("GET", R + r"/pulls/(\d+)", _get_pull),
    ("PATCH", R + r"/pulls/(\d+)", _update_pull),
    ("PUT", R + r"/pulls/(\d+)/merge", _merge_pull),
    ("GET", R + r"/issues", _list_issues),
    ("GET", R + r"/issues/(\d+)", _get_issue),
    ("GET", R + r"/issues/(\d+)/comments", _comments),
    ("POST", R + r"/issues/(\d+)/comments", _add_comment),
    ("POST", R + r"/issues/(\d+)/labels", _add_labels),
    ("GET", R + r"/commits/(.+)/check-runs", _check_runs),
    ("GET", R + r"/commits/(.+)/status", _combined_status),
    ("GET", R + r"/collaborators/([^/]+)/permission", _permission),
    ("DELETE", R + r"/git/refs/heads/(.+)", _delete_branch),
]

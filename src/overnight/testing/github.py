"""A GitHub on loopback: the REST API's wire format and git over smart HTTP.

No hosted forge can be reached from a test, so this server answers the part of
GitHub's REST API that overnight uses (pull requests, issues, comments, labels,
merges, check runs, commit statuses, permissions) with the shapes GitHub's
published OpenAPI description gives (tests validate both directions against
githubkit's schema models), its pagination (``per_page``/``page`` and ``Link``),
its errors (401, 403, 404, 405, 409, 422 with ``message`` and ``errors``) and its
primary rate limit (``x-ratelimit-*`` headers, 403 when spent). Repositories are
real bare git repositories, pushed to and fetched from over HTTP by real git
(``githttp.py``); merges are made with git. Webhook payloads are signed like
GitHub's (``sign``)::

    with GitHubServer(tmp_path) as hub:
        hub.add_repo("acme/app", source=repo)
        token = hub.add_user("dev", permission="write", repo="acme/app")
        ...  # [forge] kind = "github", api_url = hub.url, git_url = hub.url
        assert hub.pulls("acme/app")[0]["state"] == "open"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from overnight.testing import githttp
from overnight.workspace.git import git

Json = dict[str, Any]
_ids = itertools.count(1000)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header GitHub sends with a webhook."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
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
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
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
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
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
    id: int = field(default_factory=lambda: next(_ids))

    def ref(self, branch: str) -> str:
        return git(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], self.path, check=False
        )


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    user: str


class GitHubServer:
    def __init__(self, root: Path, *, per_page_max: int = 100) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, str] = {}  # token -> login
        self.apps: dict[int, tuple[int, Any, str]] = {}  # app id -> installation, key, repo
        self.requests: list[Request] = []
        self.per_page_max = per_page_max
        self._spent = 0  # API requests still to refuse with a spent rate limit
        self._lock = threading.RLock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), daemon=True, name="github"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> GitHubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    # -- setting the scene --------------------------------------------------------------

    def add_repo(self, full_name: str, *, source: Path | None = None, branch: str = "main") -> Repo:
        path = self.root / f"{full_name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            git(["clone", "--quiet", "--bare", str(source), str(path)])
        else:
            git(["init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)])
        repo = self.repos[full_name] = Repo(full_name, path, branch)
        return repo

    def add_user(self, login: str, *, repo: str = "", permission: str = "write") -> str:
        """A user with a token (returned) and, on ``repo``, ``permission``
        (``admin``, ``write``, ``read`` or ``none``)."""
        token = f"ghp_{hashlib.sha256(login.encode()).hexdigest()[:36]}"
        self.tokens[token] = login
        if repo:
            self.repos[repo].permissions[login] = permission
        return token

    def add_app(
        self, app_id: int, installation_id: int, *, repo: str, permission: str = "write"
    ) -> str:
        """A GitHub App installed on ``repo``; returns its private key (PEM). Its
        installation tokens act as ``app-ID[bot]`` with ``permission``. Needs PyJWT
        and cryptography (the ``github-app`` extra)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.apps[app_id] = (installation_id, key.public_key(), repo)
        self.repos[repo].permissions[f"app-{app_id}[bot]"] = permission
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def installation_token(self, installation_id: int, jwt_token: str) -> tuple[int, Json]:
        """``POST /app/installations/ID/access_tokens``: a token for a JWT the app signed."""
        import jwt

        try:
            claims = jwt.decode(jwt_token, options={"verify_signature": False})
            installed, public, _ = self.apps[int(claims["iss"])]
            jwt.decode(jwt_token, public, algorithms=["RS256"])
        except (jwt.PyJWTError, KeyError, ValueError):
            raise ApiError(401, "A JSON web token could not be decoded") from None
        if installed != installation_id:
            raise ApiError(404, "Not Found")
        token = f"ghs_{hashlib.sha256(f'{installation_id}{time.time()}'.encode()).hexdigest()[:36]}"
        self.tokens[token] = f"app-{claims['iss']}[bot]"
        return 201, {"token": token, "expires_at": _now(), "permissions": {}}

    def open_issue(self, repo: str, title: str, body: str, *, user: str, labels: list[str]) -> int:
        with self._lock:
            r = self.repos[repo]
            number = next(r.numbers)
            r.issues[number] = Issue(number, title, body, user, list(labels))
            return number

    def comment(self, repo: str, number: int, body: str, *, user: str) -> Json:
        with self._lock:
            return self._comment(self.repos[repo], number, body, user)

    def add_check(
        self, repo: str, sha: str, name: str, conclusion: str, *, summary: str = "", text: str = ""
    ) -> None:
        """A completed check run on ``sha`` (``success``, ``failure``, ``neutral`` ...)."""
        r = self.repos[repo]
        run = {"name": name, "conclusion": conclusion, "summary": summary, "text": text}
        r.checks.setdefault(sha, []).append({"id": next(_ids), **run})

    def add_status(
        self, repo: str, sha: str, context: str, state: str, description: str = ""
    ) -> None:
        r = self.repos[repo]
        status = {"id": next(_ids), "context": context, "state": state, "description": description}
        r.statuses.setdefault(sha, []).append(status)

    def protect(
        self, repo: str, branch: str, *, checks: Sequence[str] = (), approvals: int = 0
    ) -> None:
        """Branch protection: merges into ``branch`` need these checks green and approvals."""
        self.repos[repo].required_checks[branch] = list(checks)
        self.repos[repo].required_approvals[branch] = approvals

    def approve(self, repo: str, number: int, login: str) -> None:
        self.repos[repo].pulls[number].approvals.add(login)

    def close_pull(self, repo: str, number: int) -> None:
        """A human closes the pull request on GitHub."""
        pull = self.repos[repo].pulls[number]
        pull.state, pull.closed_at = "closed", _now()

    def spend_rate_limit(self, requests: int = 1) -> None:
        """Refuse the next ``requests`` API calls as GitHub does when the hourly limit is spent."""
        self._spent = requests

    # -- reading what happened, as GitHub would show it ----------------------------------

    def pulls(self, repo: str) -> list[Json]:
        r = self.repos[repo]
        return [self._pull(r, p) for p in r.pulls.values()]

    def comments(self, repo: str, number: int) -> list[str]:
        return [c["body"] for c in self.repos[repo].comments.get(number, [])]

    def calls(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    # -- the API ------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, user: str
    ) -> Any:
        with self._lock:
            self.requests.append(Request(method, path, query, body, user))
            for verb, pattern, handler in _ROUTES:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    return handler(self, user, query, body, *match.groups())
            raise ApiError(404, "Not Found")

    def _repo(self, owner: str, name: str, user: str, need: str = "read") -> Repo:
        repo = self.repos.get(f"{owner}/{name}")
        if repo is None or repo.permissions.get(user, "none") == "none":
            raise ApiError(404, "Not Found")
        if need == "write" and repo.permissions[user] not in ("write", "maintain", "admin"):
            raise ApiError(403, "Resource not accessible by personal access token")
        return repo

    def _user(self, login: str) -> Json:
        api = self.url
        user = {
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
            user[f"{part}_url"] = f"{api}/users/{login}/{part}"
        for part in ("organizations", "repos", "events", "received_events"):
            user[f"{part}_url"] = f"{api}/users/{login}/{part}"
        return user

    def _repository(self, r: Repo) -> Json:
        api, (owner, name) = self.url, r.full_name.split("/")
        out: Json = {
            "id": r.id,
            "node_id": f"R_{r.id}",
            "name": name,
            "full_name": r.full_name,
            "license": None,
            "forks": 0,
            "owner": self._user(owner),
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
            "pushed_at": _now(),
            "created_at": _now(),
            "updated_at": _now(),
            "has_pages": False,
            "disabled": False,
        }
        for count in ("forks", "stargazers", "watchers", "open_issues"):
            out[f"{count}_count"] = 0
        out["open_issues"] = out["watchers"] = 0
        for part in _REPO_URLS:
            out[f"{part}_url"] = f"{api}/repos/{r.full_name}/{part.replace('_', '/')}"
        return out

    def _label(self, r: Repo, name: str) -> Json:
        lid = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "url": f"{self.url}/repos/{r.full_name}/labels/{name}",
            "name": name,
            "description": None,
            "color": "ededed",
            "default": False,
            "archived_at": None,
            "archived_by": None,
        }

    def _pull(self, r: Repo, p: Pull) -> Json:
        api, owner = self.url, r.full_name.split("/")[0]
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
        side = {"repo": self._repository(r), "user": self._user(owner)}
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
            "user": self._user(p.user),
            "body": p.body,
            "labels": [self._label(r, name) for name in p.labels],
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
            "merged_by": self._user(p.merged_by) if p.merged_by else None,
            "comments": len(r.comments.get(p.number, [])),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }

    def _issue(self, r: Repo, i: Issue) -> Json:
        api, base_url = self.url, f"{self.url}/repos/{r.full_name}"
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
            "user": self._user(i.user),
            "labels": [self._label(r, name) for name in i.labels],
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

    def _comment(self, r: Repo, number: int, body: str, user: str) -> Json:
        if number not in r.pulls and number not in r.issues:
            raise ApiError(404, "Not Found")
        cid = next(_ids)
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{r.full_name}/issues/comments/{cid}",
            "html_url": f"{self.url}/{r.full_name}/issues/{number}#issuecomment-{cid}",
            "body": body,
            "user": self._user(user),
            "created_at": _now(),
            "updated_at": _now(),
            "issue_url": f"{self.url}/repos/{r.full_name}/issues/{number}",
            "author_association": "COLLABORATOR",
        }
        r.comments.setdefault(number, []).append(comment)
        return comment

    def _page(self, path: str, query: dict[str, list[str]], items: list[Json]) -> Page:
        per_page = min(int(query.get("per_page", ["30"])[0]), self.per_page_max)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        links = []
        rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k not in ("page", "per_page"))
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last:
                links.append(
                    f'<{self.url}{path}?{rest}&per_page={per_page}&page={number}>; rel="{rel}"'
                )
        return Page(items[(page - 1) * per_page : page * per_page], ", ".join(links))

    def merge(self, r: Repo, p: Pull, method: str, sha: str | None, title: str, user: str) -> Json:
        head = r.ref(p.head)
        if p.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if sha and sha != head:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        for context in r.required_checks.get(p.base, []):
            states = [c["conclusion"] for c in r.checks.get(head, []) if c["name"] == context]
            states += [s["state"] for s in r.statuses.get(head, []) if s["context"] == context]
            if not states:
                raise ApiError(405, f'Required status check "{context}" is expected.')
            if states[-1] != "success":
                raise ApiError(405, f'Required status check "{context}" is failing.')
        if len(p.approvals) < r.required_approvals.get(p.base, 0):
            raise ApiError(
                405, "At least 1 approving review is required by reviewers with write access."
            )
        base = r.ref(p.base)
        env = {
            "GIT_AUTHOR_NAME": user,
            "GIT_AUTHOR_EMAIL": f"{user}@users.noreply",
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
        }
        # a clean merge prints the tree alone; conflicts add their files and messages after it
        tree = git(["merge-tree", "--write-tree", base, head], r.path, check=False, env=env)
        if not re.fullmatch(r"[0-9a-f]{40}", tree.strip()):
            raise ApiError(405, "Pull Request is not mergeable")
        message = title or f"{p.title} (#{p.number})"
        if method == "merge":
            message = f"Merge pull request #{p.number} from {r.full_name.split('/')[0]}:{p.head}"
            parents = ["-p", base, "-p", head]
        elif method in ("squash", "rebase"):
            parents = ["-p", base]
        else:
            raise ApiError(422, "Validation Failed", [{"field": "merge_method", "code": "invalid"}])
        commit = git(["commit-tree", tree, *parents, "-m", message], r.path, env=env)
        git(["update-ref", f"refs/heads/{p.base}", commit, base], r.path)
        p.state, p.merged_sha, p.merged_by, p.merged_at = "closed", commit, user, _now()
        p.closed_at = p.merged_at
        return {"sha": commit, "merged": True, "message": "Pull Request successfully merged"}


@dataclass
class Page:
    items: list[Json]
    link: str


def _get_user(hub: GitHubServer, user: str, q: Any, body: Any) -> Json:
    return hub._user(user)


def _get_repo(hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str) -> Json:
    r = hub._repo(owner, name, user)
    perm = r.permissions[user]
    return {
        **hub._repository(r),
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
    r = hub._repo(owner, name, user)
    state, head = q.get("state", ["open"])[0], q.get("head", [""])[0]
    pulls = [
        hub._pull(r, p)
        for p in r.pulls.values()
        if (state == "all" or p.state == state) and (not head or f"{owner}:{p.head}" == head)
    ]
    return hub._page(f"/repos/{owner}/{name}/pulls", q, pulls)


def _create_pull(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str
) -> tuple[int, Json]:
    r = hub._repo(owner, name, user, "write")
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
    return 201, hub._pull(r, pull)


def _pull_of(
    hub: GitHubServer, user: str, owner: str, name: str, number: str, need: str = "read"
) -> tuple[Repo, Pull]:
    r = hub._repo(owner, name, user, need)
    pull = r.pulls.get(int(number))
    if pull is None:
        raise ApiError(404, "Not Found")
    return r, pull


def _get_pull(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, number: str
) -> Json:
    r, pull = _pull_of(hub, user, owner, name, number)
    return hub._pull(r, pull)


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
        pull.state, pull.closed_at = body["state"], _now() if body["state"] == "closed" else None
    pull.updated_at = _now()
    return hub._pull(r, pull)


def _merge_pull(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> Json:
    r, pull = _pull_of(hub, user, owner, name, number, "write")
    body = body or {}
    return hub.merge(
        r,
        pull,
        body.get("merge_method", "merge"),
        body.get("sha"),
        body.get("commit_title", ""),
        user,
    )


def _list_issues(
    hub: GitHubServer, user: str, q: dict[str, list[str]], body: Any, owner: str, name: str
) -> Page:
    r = hub._repo(owner, name, user)
    state = q.get("state", ["open"])[0]
    wanted = [label for label in q.get("labels", [""])[0].split(",") if label]
    items = [
        hub._issue(r, i)
        for i in r.issues.values()
        if (state == "all" or i.state == state) and all(label in i.labels for label in wanted)
    ]
    return hub._page(f"/repos/{owner}/{name}/issues", q, items)


def _get_issue(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, number: str
) -> Json:
    r = hub._repo(owner, name, user)
    issue = r.issues.get(int(number))
    if issue is None:
        raise ApiError(404, "Not Found")
    return hub._issue(r, issue)


def _comments(
    hub: GitHubServer,
    user: str,
    q: dict[str, list[str]],
    body: Any,
    owner: str,
    name: str,
    number: str,
) -> Page:
    r = hub._repo(owner, name, user)
    return hub._page(
        f"/repos/{owner}/{name}/issues/{number}/comments", q, r.comments.get(int(number), [])
    )


def _add_comment(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> tuple[int, Json]:
    r = hub._repo(owner, name, user, "write")
    if not (body or {}).get("body"):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
        )
    return 201, hub._comment(r, int(number), body["body"], user)


def _add_labels(
    hub: GitHubServer, user: str, q: Any, body: Json, owner: str, name: str, number: str
) -> list[Json]:
    r = hub._repo(owner, name, user, "write")
    target = r.pulls.get(int(number)) or r.issues.get(int(number))
    if target is None:
        raise ApiError(404, "Not Found")
    for label in (body or {}).get("labels", []):
        if label not in target.labels:
            target.labels.append(label)
    return [hub._label(r, label) for label in target.labels]


def _check_runs(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, ref: str
) -> Json:
    r = hub._repo(owner, name, user)
    sha = r.ref(ref) or ref
    runs = [
        {
            "id": c["id"],
            "head_sha": sha,
            "node_id": f"CR_{c['id']}",
            "external_id": str(c["id"]),
            "url": f"{hub.url}/repos/{r.full_name}/check-runs/{c['id']}",
            "html_url": f"{hub.url}/{r.full_name}/runs/{c['id']}",
            "details_url": f"{hub.url}/{r.full_name}/runs/{c['id']}",
            "status": "completed",
            "conclusion": c["conclusion"],
            "started_at": _now(),
            "completed_at": _now(),
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
        for c in r.checks.get(sha, [])
    ]
    return {"total_count": len(runs), "check_runs": runs}


def _combined_status(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, ref: str
) -> Json:
    r = hub._repo(owner, name, user)
    sha = r.ref(ref) or ref
    statuses = [
        {
            "id": s["id"],
            "node_id": f"SC_{s['id']}",
            "state": s["state"],
            "context": s["context"],
            "description": s["description"],
            "target_url": None,
            "avatar_url": None,
            "url": f"{hub.url}/repos/{r.full_name}/statuses/{sha}",
            "created_at": _now(),
            "updated_at": _now(),
        }
        for s in r.statuses.get(sha, [])
    ]
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
        "repository": hub._repository(r),
        "commit_url": f"{hub.url}/repos/{r.full_name}/commits/{sha}",
        "url": f"{hub.url}/repos/{r.full_name}/commits/{sha}/status",
    }


def _permission(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, login: str
) -> Json:
    r = hub._repo(owner, name, user)
    perm = r.permissions.get(login, "none")
    legacy = {"maintain": "write", "triage": "read"}.get(perm, perm)
    return {
        "permission": legacy,
        "role_name": perm,
        "user": {**hub._user(login), "role_name": perm},
    }


def _delete_branch(
    hub: GitHubServer, user: str, q: Any, body: Any, owner: str, name: str, branch: str
) -> tuple[int, None]:
    r = hub._repo(owner, name, user, "write")
    if not r.ref(branch):
        raise ApiError(422, "Reference does not exist")
    git(["update-ref", "-d", f"refs/heads/{branch}"], r.path)
    return 204, None


_REPO_URLS = [
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
_R = r"/repos/([^/]+)/([^/]+)"
_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"/user", _get_user),
    ("GET", _R, _get_repo),
    ("GET", _R + r"/pulls", _list_pulls),
    ("POST", _R + r"/pulls", _create_pull),
    ("GET", _R + r"/pulls/(\d+)", _get_pull),
    ("PATCH", _R + r"/pulls/(\d+)", _update_pull),
    ("PUT", _R + r"/pulls/(\d+)/merge", _merge_pull),
    ("GET", _R + r"/issues", _list_issues),
    ("GET", _R + r"/issues/(\d+)", _get_issue),
    ("GET", _R + r"/issues/(\d+)/comments", _comments),
    ("POST", _R + r"/issues/(\d+)/comments", _add_comment),
    ("POST", _R + r"/issues/(\d+)/labels", _add_labels),
    ("GET", _R + r"/commits/(.+)/check-runs", _check_runs),
    ("GET", _R + r"/commits/(.+)/status", _combined_status),
    ("GET", _R + r"/collaborators/([^/]+)/permission", _permission),
    ("DELETE", _R + r"/git/refs/heads/(.+)", _delete_branch),
]


def _handler(hub: GitHubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _login(self) -> str:
            auth = self.headers.get("Authorization", "")
            scheme, _, credential = auth.partition(" ")
            if scheme.lower() == "basic":
                credential = base64.b64decode(credential).decode(errors="replace").partition(":")[2]
            elif scheme.lower() not in ("bearer", "token"):
                return ""
            return hub.tokens.get(credential.strip(), "")

        def _send(self, status: int, payload: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = githttp.read_body(headers, self.rfile)
            url = urlsplit(self.path)
            user = self._login()
            if ".git/" in url.path:
                if not user:
                    self._send(401, b"", [("WWW-Authenticate", 'Basic realm="GitHub"')])
                    return
                full = url.path.split(".git/")[0].strip("/")
                repo = hub.repos.get(full)
                if repo is None or repo.permissions.get(user, "none") == "none":
                    self._send(404, b"Repository not found.\n", [("Content-Type", "text/plain")])
                    return
                if "receive-pack" in url.path + url.query and repo.permissions[user] == "read":
                    self._send(403, b"Permission denied.\n", [("Content-Type", "text/plain")])
                    return
                answer = githttp.serve(
                    hub.root, url.path, url.query, self.command, headers, body, user
                )
                self._send(answer.status, answer.body, answer.headers)
                return
            limit = [
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "0" if hub._spent else "4999"),
                ("x-ratelimit-reset", str(int(time.time()) + 1)),
                ("x-ratelimit-resource", "core"),
                ("Content-Type", "application/json; charset=utf-8"),
            ]
            minted = re.fullmatch(r"/app/installations/(\d+)/access_tokens", url.path)
            if minted and self.command == "POST":  # authenticated by the app's JWT
                bearer = self.headers.get("Authorization", "").partition(" ")[2]
                try:
                    status, token = hub.installation_token(int(minted.group(1)), bearer)
                except ApiError as e:
                    self._send(e.status, json.dumps({"message": e.message}).encode(), limit)
                    return
                self._send(status, json.dumps(token).encode(), limit)
                return
            if not user:
                payload = {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                }
                self._send(401, json.dumps(payload).encode(), limit)
                return
            if hub._spent:
                hub._spent -= 1
                message = f"API rate limit exceeded for user ID {hub._user(user)['id']}."
                self._send(403, json.dumps({"message": message}).encode(), limit)
                return
            try:
                data = json.loads(body) if body else None
                result = hub.answer(self.command, url.path, parse_qs(url.query), data, user)
            except ApiError as e:
                error: Json = {
                    "message": e.message,
                    "documentation_url": "https://docs.github.com/rest",
                }
                if e.errors:
                    error["errors"] = e.errors
                self._send(e.status, json.dumps(error).encode(), limit)
                return
            except ValueError:
                self._send(400, json.dumps({"message": "Problems parsing JSON"}).encode(), limit)
                return
            status = 200
            if isinstance(result, tuple):
                status, result = result
            if isinstance(result, Page):
                if result.link:
                    limit.append(("Link", result.link))
                result = result.items
            self._send(status, b"" if result is None else json.dumps(result).encode(), limit)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815

    return Handler

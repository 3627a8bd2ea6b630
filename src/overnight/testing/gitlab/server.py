"""The GitLab fake's server: its scene-setting and reading methods, authentication,
rate limit, pagination and the HTTP handler (the API under ``/api/v4``, git's smart
HTTP under ``/GROUP/NAME.git``)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from overnight.testing import githttp
from overnight.testing.gitlab import shapes
from overnight.testing.gitlab.routes import ROUTES
from overnight.testing.gitlab.state import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    REPORTER,
    ApiError,
    Issue,
    Job,
    Json,
    Pipeline,
    Project,
    User,
    next_id,
    not_found,
    now,
)
from overnight.testing.loopback import Loopback
from overnight.workspace.git import git


def project_ref(path: str) -> str:
    """A project's path as GitLab takes it in an API URL: ``group%2Fname``."""
    return quote(path, safe="")


@dataclass
class Request:
    method: str
    path: str
    params: Json
    user: str


@dataclass
class Page:
    items: list[Json]
    headers: list[tuple[str, str]]


class GitLabServer(Loopback):
    def __init__(self, root: Path, *, per_page_max: int = 100) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.projects: dict[str, Project] = {}
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> username
        self.requests: list[Request] = []
        self.per_page_max = per_page_max
        self._spent, self._retry_after = 0, 1
        self._lock = threading.RLock()
        super().__init__(_handler(self), "gitlab")

    @property
    def url(self) -> str:
        return self.base

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    # -- setting the scene --------------------------------------------------------------

    def add_project(
        self, path: str, *, source: Path | None = None, branch: str = "main"
    ) -> Project:
        """A project at ``path`` (``group/name`` or ``group/sub/name``), cloned from
        ``source`` or empty; its default branch is protected as GitLab protects it
        (Maintainers merge into it)."""
        bare = self.root / f"{path}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            git(["clone", "--quiet", "--bare", str(source), str(bare)])
        else:
            git(["init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare)])
        project = self.projects[path] = Project(path, bare, branch)
        project.merge_access[branch] = MAINTAINER
        return project

    def add_user(self, username: str, *, project: str = "", access: int = DEVELOPER) -> str:
        """A user with a personal access token (returned) and, on ``project``, the
        ``access`` level (``GUEST`` 10 ... ``OWNER`` 50; 0 for none)."""
        token = f"glpat-{hashlib.sha256(username.encode()).hexdigest()[:20]}"
        self.tokens[token] = username
        self.users.setdefault(username, User(next_id(), username))
        if project and access:
            self.projects[project].members[username] = access
        return token

    def protect(self, project: str, branch: str, *, merge_access: int = MAINTAINER) -> None:
        """Only users at ``merge_access`` or above may merge into ``branch``."""
        self.projects[project].merge_access[branch] = merge_access

    def require(self, project: str, *, pipeline: bool = False, approvals: int = 0) -> None:
        """The project's merge checks: a successful pipeline, a number of approvals."""
        p = self.projects[project]
        p.pipeline_must_succeed, p.approvals_required = pipeline, approvals

    def approve(self, project: str, iid: int, username: str) -> None:
        self.projects[project].merge_requests[iid].approvals.add(username)

    def open_issue(
        self, project: str, title: str, description: str, *, user: str, labels: list[str]
    ) -> int:
        with self._lock:
            p = self.projects[project]
            iid = next(p.issue_iids)
            p.issues[iid] = Issue(iid, title, description, user, list(labels))
            return iid

    def note(self, project: str, kind: str, iid: int, body: str, *, user: str) -> Json:
        """A comment by ``user`` on the merge request (``kind`` "merge_requests") or
        issue ("issues") ``iid``."""
        with self._lock:
            return self.write_note(self.projects[project], kind, iid, body, user)

    def add_pipeline(self, project: str, sha: str, jobs: list[Job], *, ref: str = "") -> Pipeline:
        """A CI pipeline on ``sha`` with these jobs (their status makes the pipeline's)."""
        with self._lock:
            p = self.projects[project]
            pipeline = Pipeline(sha, ref or p.default_branch, jobs, next(p.pipeline_iids))
            p.pipelines.append(pipeline)
            return pipeline

    def add_status(
        self, project: str, sha: str, name: str, state: str, description: str = ""
    ) -> None:
        """An external commit status (``POST /projects/:id/statuses/:sha`` by another CI)."""
        status = {"id": next_id(), "name": name, "status": state, "description": description}
        self.projects[project].statuses.setdefault(sha, []).append(status)

    def close_merge_request(self, project: str, iid: int) -> None:
        """A human closes the merge request on GitLab."""
        mr = self.projects[project].merge_requests[iid]
        mr.state, mr.closed_at = "closed", now()

    def spend_rate_limit(self, requests: int = 1, *, retry_after: int = 1) -> None:
        """Refuse the next ``requests`` API calls with 429, as GitLab does when throttled."""
        self._spent, self._retry_after = requests, retry_after

    # -- reading what happened, as GitLab would show it ----------------------------------

    def merge_requests(self, project: str) -> list[Json]:
        p = self.projects[project]
        return [shapes.merge_request(self, p, mr) for mr in p.merge_requests.values()]

    def notes(self, project: str, kind: str, iid: int) -> list[str]:
        return [n["body"] for n in self.projects[project].notes.get((kind, iid), [])]

    def calls(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    # -- the API ------------------------------------------------------------------------

    def answer(self, method: str, path: str, params: Json, user: str) -> Any:
        """The answer to one API call (``path`` without ``/api/v4``) by ``user``."""
        with self._lock:
            self.requests.append(Request(method, path, params, user))
            for verb, pattern, handler in ROUTES:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    return handler(self, user, params, *match.groups())
            raise not_found()

    def project_for(self, ref: str, user: str, need: int = GUEST) -> Project:
        """The project ``ref`` names (id or URL-encoded path), if ``user`` may see it
        (404 otherwise, as for a private project) and has ``need`` (403 otherwise)."""
        ref = unquote(ref)
        project = next(
            (p for p in self.projects.values() if ref in (str(p.id), p.path_with_namespace)), None
        )
        if project is None or project.level(user) < GUEST:
            raise not_found("Project Not Found")
        if project.level(user) < need:
            raise ApiError(403, "403 Forbidden")
        return project

    def write_note(self, p: Project, kind: str, iid: int, body: str, user: str) -> Json:
        target = (p.merge_requests if kind == "merge_requests" else p.issues).get(iid)
        if target is None:
            raise not_found()
        note = {
            "id": next_id(),
            "type": None,
            "body": body,
            "attachment": None,
            "author": shapes.user(self, user),
            "created_at": now(),
            "updated_at": now(),
            "system": False,
            "noteable_id": target.id,
            "noteable_type": "MergeRequest" if kind == "merge_requests" else "Issue",
            "noteable_iid": iid,
            "project_id": p.id,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        p.notes.setdefault((kind, iid), []).append(note)
        return note

    def page(self, path: str, params: Json, items: list[Json]) -> Page:
        """One page of ``items`` with GitLab's ``Link`` and ``X-*`` pagination headers."""
        per_page = max(1, min(int(params.get("per_page") or 20), self.per_page_max))
        page = max(1, int(params.get("page") or 1))
        pages = max(1, -(-len(items) // per_page))
        rest = {k: v for k, v in params.items() if k not in ("page", "per_page")}

        def link(number: int) -> str:
            query = urlencode({**rest, "page": number, "per_page": per_page})
            return f"{self.api_url}{path}?{query}"

        rels = [("prev", page - 1)] if page > 1 else []
        rels += [("next", page + 1)] if page < pages else []
        rels += [("first", 1), ("last", pages)]
        headers = [
            ("Link", ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels)),
            ("X-Page", str(page)),
            ("X-Per-Page", str(per_page)),
            ("X-Total", str(len(items))),
            ("X-Total-Pages", str(pages)),
            ("X-Next-Page", str(page + 1) if page < pages else ""),
            ("X-Prev-Page", str(page - 1) if page > 1 else ""),
        ]
        return Page(items[(page - 1) * per_page : page * per_page], headers)


def _handler(lab: GitLabServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _login(self) -> str:
            token = self.headers.get("PRIVATE-TOKEN", "")
            scheme, _, credential = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                token = credential
            elif scheme.lower() == "basic":  # git over HTTP: oauth2:TOKEN (any user name)
                token = base64.b64decode(credential).decode(errors="replace").partition(":")[2]
            return lab.tokens.get(token.strip(), "") if token else ""

        def _send(self, status: int, payload: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _git(self, url: Any, headers: dict[str, str], body: bytes, user: str) -> None:
            if not user:
                self._send(
                    401,
                    b"HTTP Basic: Access denied\n",
                    [("WWW-Authenticate", 'Basic realm="GitLab"')],
                )
                return
            project = lab.projects.get(url.path.split(".git/")[0].strip("/"))
            if project is None or project.level(user) < REPORTER:
                text = b"The project you were looking for could not be found or you don't have permission to view it.\n"
                self._send(404, text, [("Content-Type", "text/plain")])
                return
            pushing = "receive-pack" in url.path + url.query
            if pushing and project.level(user) < DEVELOPER:
                text = b"You are not allowed to push code to this project.\n"
                self._send(403, text, [("Content-Type", "text/plain")])
                return
            answer = githttp.serve(lab.root, url.path, url.query, self.command, headers, body, user)
            self._send(answer.status, answer.body, answer.headers)

        def _handle(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = githttp.read_body(headers, self.rfile)
            url = urlsplit(self.path)
            user = self._login()
            if ".git/" in url.path:
                self._git(url, headers, body, user)
                return
            reset = int(time.time()) + lab._retry_after
            limit = [
                ("RateLimit-Limit", "2000"),
                ("RateLimit-Observed", "2000" if lab._spent else "1"),
                ("RateLimit-Remaining", "0" if lab._spent else "1999"),
                ("RateLimit-Reset", str(reset)),
                (
                    "RateLimit-ResetTime",
                    datetime.fromtimestamp(reset, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
                ),
            ]
            as_json = [*limit, ("Content-Type", "application/json")]
            if not url.path.startswith("/api/v4/"):
                self._send(404, b'{"message":"404 Not Found"}', as_json)
                return
            if not user:
                self._send(401, b'{"message":"401 Unauthorized"}', as_json)
                return
            if lab._spent:
                lab._spent -= 1
                retry = [
                    *limit,
                    ("Retry-After", str(lab._retry_after)),
                    ("Content-Type", "text/plain"),
                ]
                self._send(429, b"Retry later\n", retry)
                return
            try:
                params: Json = {k: v[-1] for k, v in parse_qs(url.query).items()}
                data = json.loads(body) if body else {}
                if isinstance(data, dict):
                    params.update(data)
                result = lab.answer(self.command, url.path[len("/api/v4") :], params, user)
            except ApiError as e:
                self._send(e.status, json.dumps(e.body()).encode(), as_json)
                return
            except ValueError:
                self._send(400, b'{"error":"body is invalid JSON"}', as_json)
                return
            status = 200
            if isinstance(result, tuple):
                status, result = result
            if isinstance(result, bytes):
                self._send(status, result, [*limit, ("Content-Type", "text/plain")])
                return
            if isinstance(result, Page):
                as_json += result.headers
                result = result.items
            self._send(status, json.dumps(result).encode(), as_json)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

    return Handler

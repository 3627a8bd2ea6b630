"""The GitHub fake's server: its scene-setting and reading methods, GitHub App
installation tokens, authentication, the primary rate limit, pagination and the HTTP
handler (the API at the root, git's smart HTTP under ``/OWNER/NAME.git``)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from overnight.testing import githttp
from overnight.testing.github import shapes
from overnight.testing.github.routes import ROUTES
from overnight.testing.github.state import ApiError, Issue, Json, Repo, next_id, now
from overnight.testing.loopback import Loopback
from overnight.workspace.git import git


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    user: str


@dataclass
class Page:
    items: list[Json]
    link: str


class GitHubServer(Loopback):
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
        super().__init__(_handler(self), "github")

    @property
    def url(self) -> str:
        return self.base

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
        return 201, {"token": token, "expires_at": now(), "permissions": {}}

    def open_issue(self, repo: str, title: str, body: str, *, user: str, labels: list[str]) -> int:
        with self._lock:
            r = self.repos[repo]
            number = next(r.numbers)
            r.issues[number] = Issue(number, title, body, user, list(labels))
            return number

    def comment(self, repo: str, number: int, body: str, *, user: str) -> Json:
        with self._lock:
            return self.write_comment(self.repos[repo], number, body, user)

    def add_check(
        self, repo: str, sha: str, name: str, conclusion: str, *, summary: str = "", text: str = ""
    ) -> None:
        """A completed check run on ``sha`` (``success``, ``failure``, ``neutral`` ...)."""
        r = self.repos[repo]
        run = {"name": name, "conclusion": conclusion, "summary": summary, "text": text}
        r.checks.setdefault(sha, []).append({"id": next_id(), **run})

    def add_status(
        self, repo: str, sha: str, context: str, state: str, description: str = ""
    ) -> None:
        r = self.repos[repo]
        status = {"id": next_id(), "context": context, "state": state, "description": description}
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
        pull.state, pull.closed_at = "closed", now()

    def spend_rate_limit(self, requests: int = 1) -> None:
        """Refuse the next ``requests`` API calls as GitHub does when the hourly limit is spent."""
        self._spent = requests

    # -- reading what happened, as GitHub would show it ----------------------------------

    def pulls(self, repo: str) -> list[Json]:
        r = self.repos[repo]
        return [shapes.pull(self, r, p) for p in r.pulls.values()]

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
            for verb, pattern, handler in ROUTES:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    return handler(self, user, query, body, *match.groups())
            raise ApiError(404, "Not Found")

    def repo_for(self, owner: str, name: str, user: str, need: str = "read") -> Repo:
        """The repository, if ``user`` may see it (404 otherwise, as for a private
        repository) and may write to it where ``need`` is "write" (403 otherwise)."""
        repo = self.repos.get(f"{owner}/{name}")
        if repo is None or repo.permissions.get(user, "none") == "none":
            raise ApiError(404, "Not Found")
        if need == "write" and repo.permissions[user] not in ("write", "maintain", "admin"):
            raise ApiError(403, "Resource not accessible by personal access token")
        return repo

    def write_comment(self, r: Repo, number: int, body: str, user: str) -> Json:
        """A comment by ``user`` on the pull request or issue ``number``."""
        if number not in r.pulls and number not in r.issues:
            raise ApiError(404, "Not Found")
        cid = next_id()
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{r.full_name}/issues/comments/{cid}",
            "html_url": f"{self.url}/{r.full_name}/issues/{number}#issuecomment-{cid}",
            "body": body,
            "user": shapes.user(self, user),
            "created_at": now(),
            "updated_at": now(),
            "issue_url": f"{self.url}/repos/{r.full_name}/issues/{number}",
            "author_association": "COLLABORATOR",
        }
        r.comments.setdefault(number, []).append(comment)
        return comment

    def page(self, path: str, query: dict[str, list[str]], items: list[Json]) -> Page:
        """One page of ``items`` with GitHub's ``Link`` header (``next`` and ``last``)."""
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
                message = f"API rate limit exceeded for user ID {shapes.user(hub, user)['id']}."
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

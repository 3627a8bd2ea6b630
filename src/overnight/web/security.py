"""Who may talk to the dashboard, and how requests are checked.

    request ──► host check ──► token check ──► cross-site check ──► app
                (loopback)     (off loopback)   (unsafe methods)

* **Host**: bound to loopback (the default), only ``localhost``/``127.0.0.1``/
  ``[::1]`` Host headers are served, so a DNS-rebinding page cannot reach us.
* **Token**: off loopback (bound to another address, or a client that is not
  on loopback), every request needs a token from ``overnight token create``,
  as ``Authorization: Bearer …`` or the cookie set by ``/login``.
* **Cross-site**: an unsafe request (POST, …) is refused when its ``Origin``
  is another site; a form post must carry the page's CSRF token (double
  submit: cookie and form field or ``X-CSRF-Token`` header); an API call must
  be JSON or carry ``Authorization``, which a cross-site form cannot send.

Every response gets a strict Content-Security-Policy: scripts and styles only
from /static, so even a slip in escaping could not run a script.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi import HTTPException, Request

from overnight import tokens
from overnight.store import Store

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_COOKIE = "overnight_csrf"
TOKEN_COOKIE = "overnight_token"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN_PATHS = ("/static/", "/login", "/api/hooks/")  # hooks: signed (web/hooks.py)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SecurityMiddleware:
    """Pure ASGI (so server-sent event streams pass through untouched)."""

    def __init__(self, app: ASGIApp, store: Store, *, bind_host: str, require_token: bool):
        self.app, self.store = app, store
        self.loopback_only = is_loopback(bind_host) and not require_token
        self.require_token = require_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", ""))
        path, method = scope["path"], scope["method"]
        refusal = await self._refusal(scope, headers, cookies, path, method)
        if refusal is not None:
            status, message = refusal
            await _plain(send, status, message, path, unauthorized=status == 401)
            return
        csrf = cookies.get(CSRF_COOKIE, "")
        fresh = not _valid_csrf(csrf)
        if fresh:
            csrf = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf"] = csrf

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                out += HEADERS
                if fresh:
                    out.append((b"set-cookie", _cookie(CSRF_COOKIE, csrf).encode("latin-1")))
                message["headers"] = out
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refusal(
        self, scope: Scope, headers: dict[str, str], cookies: dict[str, str], path: str, method: str
    ) -> tuple[int, str] | None:
        host = urlsplit("//" + headers.get("host", "")).hostname or ""
        if self.loopback_only and not is_loopback(host):
            return 400, "this server answers only to localhost / 127.0.0.1"
        client = (scope.get("client") or ("", 0))[0]
        needs_token = self.require_token or not is_loopback(client)
        bearer = _bearer(headers.get("authorization", ""))
        if needs_token and not path.startswith(OPEN_PATHS):
            token = bearer or cookies.get(TOKEN_COOKIE, "")
            if not token or not await anyio.to_thread.run_sync(tokens.verify, self.store, token):
                return 401, "a token is required: create one with 'overnight token create'"
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host"):
            return 403, "cross-site request refused"
        if origin == "null":
            return 403, "cross-site request refused"
        if path.startswith("/api/") and not bearer:
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            csrf = cookies.get(CSRF_COOKIE, "")
            same_page = bool(csrf) and hmac.compare_digest(csrf, headers.get(CSRF_HEADER, ""))
            if kind != "application/json" and not same_page:
                return 403, "API calls must send JSON (Content-Type: application/json)"
        return None


async def check_csrf(request: Request) -> None:
    """Router dependency for the HTML pages: an unsafe request must carry the
    CSRF token of this browser (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given:
        kind = request.headers.get("content-type", "")
        if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD, "")
            given = value if isinstance(value, str) else ""
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def login_cookie(token: str, secure: bool) -> str:
    return _cookie(TOKEN_COOKIE, token, secure=secure, max_age=30 * 24 * 3600)


def _cookie(name: str, value: str, *, secure: bool = False, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:  # a malformed Cookie header: as if there were none
        return {}
    return {k: v.value for k, v in jar.items()}


def _valid_csrf(value: str) -> bool:
    return 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()


def _bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _plain(send: Send, status: int, message: str, path: str, unauthorized: bool) -> None:
    if path.startswith("/api/"):
        body = json.dumps({"detail": message}).encode()
        kind = b"application/json"
    else:
        login = '<p><a href="/login">Sign in with a token</a></p>' if unauthorized else ""
        body = (
            f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{message}</p>{login}"
        ).encode()
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *HEADERS]
    if unauthorized:
        headers.append((b"www-authenticate", b'Bearer realm="overnight"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

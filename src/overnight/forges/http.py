"""The one seam where forge requests leave overnight: JSON over HTTPS with a token.

Shared by GitHub and GitLab, which agree on what matters here: a token in a
header, ``Link: <...>; rel="next"`` pagination, and a rate limit announced in
headers. A spent rate limit (403 or 429 with ``x-ratelimit-remaining: 0``, or a
``Retry-After``) is waited out up to ``max_wait`` and said out loud; 5xx and
connection errors are retried with backoff; then the forge is unavailable
(``ForgeUnavailable``: the worker retries the task later). Every other refusal
is a ``ForgeError`` whose one line says what to do (a wrong token, a missing
permission, a resource that is gone). The token never appears in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from overnight.errors import ForgeError, ForgeUnavailable, one_line

log = logging.getLogger("overnight.forges")
RETRIED = frozenset({500, 502, 503, 504})


class Api:
    def __init__(
        self,
        forge: str,
        base_url: str,
        headers: dict[str, str],
        *,
        token_hint: str,
        scope_hint: str = "write access to the repository (contents, pull requests, issues)",
        max_wait: float = 60.0,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``forge`` names the forge in messages; ``token_hint`` says where the token
        comes from ("$GITHUB_TOKEN"), for the message when it is refused; ``scope_hint``
        what the token needs, for the message when it lacks a permission."""
        self.forge, self.token_hint, self.scope_hint = forge, token_hint, scope_hint
        self.max_wait, self.attempts, self.sleep = max_wait, attempts, sleep
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(30.0, connect=10.0),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        """One request; its JSON answer (None for 204)."""
        response = self._send(method, path, json=json, params=params)
        return response.json() if response.content else None

    def text(self, path: str) -> str:
        """One GET whose answer is plain text (a CI job's log)."""
        return self._send("GET", path).text

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a paginated list, following ``Link: rel="next"``."""
        url: str | None = path
        params = {"per_page": 100, **(params or {})}
        while url:
            response = self._send("GET", url, params=params)
            yield from response.json()
            url, params = response.links.get("next", {}).get("url"), None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == self.attempts:
                    raise ForgeUnavailable(
                        f"{self.forge} cannot be reached ({type(exc).__name__}): "
                        "check the forge's URL and the network; the task is retried later"
                    ) from exc
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            wait = self._rate_limited(response)
            if wait is not None and attempt < self.attempts and wait <= self.max_wait:
                log.warning("%s rate limit: waiting %.0f s", self.forge, wait)
                self.sleep(wait)
                continue
            if response.status_code in RETRIED and attempt < self.attempts:
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if response.is_success:
                return response
            raise self._refusal(method, path, response, rate_limited=wait is not None)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _rate_limited(self, response: httpx.Response) -> float | None:
        """Seconds to wait when the answer says the rate limit is spent, else None."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        if "retry-after" in headers:
            return max(0.0, float(headers["retry-after"]))
        remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
        if remaining == "0" and reset:
            return max(1.0, float(reset) - time.time())
        return 1.0 if response.status_code == 429 else None

    def _refusal(
        self, method: str, path: str, response: httpx.Response, *, rate_limited: bool
    ) -> ForgeError:
        status, said = response.status_code, _message(response)
        where = f"{self.forge} answered {status} to {method} {path.split('?')[0]}"
        if rate_limited:
            return ForgeUnavailable(
                f"{where}: rate limit spent ({said}); the task is retried later", status
            )
        if status in RETRIED:
            return ForgeUnavailable(f"{where}: {said}; the task is retried later", status)
        advice = {
            401: f"the token was refused: set a valid, unexpired token in {self.token_hint}",
            403: f"the token lacks a permission: give it {self.scope_hint}",
            404: "not found: check the repository's name and that the token can see it",
        }.get(status, "")
        return ForgeError(one_line(f"{where}: {said}" + (f"; {advice}" if advice else "")), status)


def _message(response: httpx.Response) -> str:
    """What the forge said: its ``message`` (GitLab's may be a list, or a field -> errors
    mapping) and validation ``errors``, on one line."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    if not isinstance(body, dict):
        return response.reason_phrase or "no message"
    said = _flat(body.get("message") or body.get("error") or response.reason_phrase)
    details = [
        str(e.get("message") or f"{e.get('field', '?')} {e.get('code', '')}".strip())
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    return said + (f" ({'; '.join(details)})" if details else "")


def _flat(said: Any) -> str:
    """``["a", "b"]`` as "a; b" and ``{"title": ["is too long"]}`` as "title is too long"."""
    if isinstance(said, list):
        return "; ".join(_flat(item) for item in said)
    if isinstance(said, dict):
        return "; ".join(f"{key} {_flat(value)}" for key, value in said.items())
    return str(said)

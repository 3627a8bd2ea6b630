"""The one seam where model requests leave overnight: a JSON POST with retries.

Retried: HTTP 408, 409, 425, 429, 5xx (and Anthropic's 529), connection
errors and timeouts, with exponential backoff (jittered, capped) or exactly
what ``Retry-After`` / ``retry-after-ms`` asks for. Every wait is said out
loud ("waiting 40 s for rate limit ...") through the log and ``notify``, so a
rate-limited run never hangs silently. Every request has a timeout. httpx
errors become ``ModelError`` here; the message never holds a key.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from overnight.errors import ModelError, ModelUnavailable
from overnight.llm.redact import redact

log = logging.getLogger("overnight.llm")
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
MAX_WAIT = 600.0  # a Retry-After longer than this is cut to it


@dataclass
class Retry:
    attempts: int = 6  # requests in all, the first included
    base: float = 1.0  # seconds before the first retry; doubles each time
    cap: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def backoff(self, retry: int) -> float:
        delay = min(self.cap, self.base * 2 ** (retry - 1))
        return delay * (0.75 + random.random() / 2)


@dataclass
class Endpoint:
    base_url: str
    headers: dict[str, str]
    timeout: float
    retry: Retry = field(default_factory=Retry)
    notify: Callable[[str], None] | None = None
    secrets: tuple[str, ...] = ()
    before_request: Callable[[str], None] | None = None  # the shared rate limit, by host

    def post(
        self, path: str, body: dict[str, Any], deadline: float | None = None
    ) -> dict[str, Any]:
        """POST ``body``; retried as the module says, never past ``deadline`` (monotonic)."""
        url = self.base_url.rstrip("/") + path
        host = urlsplit(url).netloc
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            if self.before_request is not None:
                self.before_request(host)  # the provider's limit, shared by all workers
            timeout = self.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    raise ModelError(f"{host}: no time left for a request (the time limit)")
            try:
                with httpx.Client(timeout=timeout, verify=_tls()) as client:
                    response = client.post(url, json=body, headers=self.headers)
            except httpx.TimeoutException as exc:
                if last:
                    raise ModelUnavailable(
                        f"{host}: no answer within {timeout:.3g} s after {attempt} tries"
                    ) from exc
                self._wait(
                    self.retry.backoff(attempt),
                    f"a {timeout:.3g} s timeout",
                    host,
                    attempt,
                    deadline,
                )
                continue
            except httpx.HTTPError as exc:
                if last:
                    raise ModelUnavailable(
                        f"{host}: cannot connect ({type(exc).__name__}: "
                        f"{redact(str(exc), self.secrets)}) after {attempt} tries"
                    ) from exc
                self._wait(
                    self.retry.backoff(attempt), "a connection error", host, attempt, deadline
                )
                continue
            if response.status_code < 400:
                return _json(response, host)
            detail = redact(response.text[:500], self.secrets).strip()
            if response.status_code not in RETRY_STATUSES or last:
                kind = ModelUnavailable if response.status_code in RETRY_STATUSES else ModelError
                raise kind(
                    f"{host}: HTTP {response.status_code} after {attempt} tries: {detail}",
                    response.status_code,
                )
            asked = retry_after(response.headers)
            delay = asked if asked is not None else self.retry.backoff(attempt)
            reason = "rate limit" if response.status_code == 429 else f"HTTP {response.status_code}"
            self._wait(delay, reason, host, attempt, deadline)
        raise AssertionError("unreachable")

    def _wait(
        self, seconds: float, reason: str, host: str, attempt: int, deadline: float | None
    ) -> None:
        if deadline is not None and time.monotonic() + seconds > deadline:
            raise ModelError(
                f"{host}: {reason}; the wait of {seconds:.0f} s for it would pass the time limit"
            )
        message = (
            f"waiting {seconds:.0f} s for {reason} from {host} "
            f"(retry {attempt} of {self.retry.attempts - 1})"
        )
        log.warning("%s", message)
        if self.notify is not None:
            self.notify(message)
        self.retry.sleep(seconds)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every request: building one loads the CA bundle (~10-500 ms)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or a date)."""
    if "retry-after-ms" in headers:
        try:
            return min(float(headers["retry-after-ms"]) / 1000, MAX_WAIT)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_WAIT)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), MAX_WAIT)


def _json(response: httpx.Response, host: str) -> dict[str, Any]:
    try:
        data = response.json()
    except json.JSONDecodeError as exc:
        raise ModelError(f"{host}: the answer is not JSON: {response.text[:200]!r}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{host}: expected a JSON object, got {type(data).__name__}")
    return data

"""Rate limits per model provider, shared by every worker through the database.

Each request reserves one request and its expected tokens in the current
minute's window; when the window is full the caller waits for the next one,
visibly, instead of hitting the provider's 429s. A run hands a ``Limiter`` over
its store to the model clients it builds (``ModelConfig.before_request``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from overnight.store import Store, ratelimits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limiter:
    """The limits in ``store``, honoured before each model request: called by the
    model client with ``key``, the provider's host."""

    store: Store

    def __call__(self, key: str) -> None:
        wait_for_slot(self.store, key)


def set_limit(store: Store, key: str, rpm: int | None, tpm: int | None) -> None:
    with store.session() as session:
        ratelimits.set_limit(session, key, rpm, tpm)


def reserve(
    store: Store, key: str, tokens: int = 0, clock: Callable[[], float] = time.time
) -> float:
    """Reserve a request in this minute's window: 0 if granted, else seconds to wait."""
    with store.session() as session:
        limit = ratelimits.limit_of(session, key)
        if limit is None or (limit.rpm is None and limit.tpm is None):
            return 0.0
        moment = clock()
        window = int(moment // 60)
        row = ratelimits.window(session, key, window, lock=not store.is_sqlite)
        over_requests = limit.rpm is not None and row.requests + 1 > limit.rpm
        over_tokens = limit.tpm is not None and row.tokens > 0 and row.tokens + tokens > limit.tpm
        if over_requests or over_tokens:
            return (window + 1) * 60 - moment
        row.requests += 1
        row.tokens += tokens
        return 0.0


def wait_for_slot(
    store: Store,
    key: str,
    tokens: int = 0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    say: Callable[[str], None] = log.warning,
) -> float:
    """Block until a request to ``key`` is allowed; return the seconds waited."""
    waited = 0.0
    while (delay := reserve(store, key, tokens, clock)) > 0:
        say(f"waiting {delay:.0f} s for the {key} rate limit shared by all workers")
        sleep(delay)
        waited += delay
    return waited

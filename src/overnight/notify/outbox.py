"""The outbox: take one due notice, send it, record how it went.

A notice is claimed before it is sent: in one transaction its state becomes
``sending``, its attempts grow by one and ``next_at`` becomes the end of a
lease. Then it is sent, outside any transaction, and the result recorded:
``sent``, or ``pending`` again after a backoff (``retry_base`` × 2^(attempts-1),
at most an hour), or ``failed`` with a one-line reason once ``max_attempts``
are spent. A dispatcher that dies between the claim and the record leaves the
notice ``sending``; when its lease ends another pass takes it over and sends
it again: a crash between sending and recording resends that notice once
(receivers drop a delivery id they have seen). Nothing is lost, and a notice
recorded as sent is never sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from overnight.errors import ConfigError, NotifyError
from overnight.notify import channels
from overnight.notify.settings import parse_channel
from overnight.store import Store
from overnight.store import notify as notice_rows
from overnight.store.notices import Notice, NoticeState

log = logging.getLogger(__name__)
Sender = Callable[..., None]  # channels.send's signature
MAX_BACKOFF = 3600.0


@dataclass(frozen=True)
class Policy:
    """How hard the outbox tries."""

    retry_base: float = 30.0  # seconds before the second attempt; doubled each time
    max_attempts: int = 6
    lease: float = 120.0  # seconds a notice being sent is reserved (then taken over)


def due(store: Store, moment: datetime, limit: int = 50) -> list[int]:
    """The notices to try now: pending ones whose backoff ended, sending ones whose lease did."""
    with store.session() as session:
        return notice_rows.due(session, moment, limit)


def claim(store: Store, notice_id: int, moment: datetime, policy: Policy) -> Notice | None:
    """Reserve a due notice for this pass (None: another took it or it is not due)."""
    with store.session() as session:
        notice = notice_rows.notice(session, notice_id, lock=True)
        if notice is None or notice.next_at > moment:
            return None
        if notice.state not in (NoticeState.PENDING, NoticeState.SENDING):
            return None
        if notice.state == NoticeState.SENDING and notice.attempts >= policy.max_attempts:
            notice.state = NoticeState.FAILED  # its dispatcher died sending it every time
            notice.last_error = f"the dispatcher stopped while sending it {notice.attempts} times"
            return None
        notice.state, notice.attempts = NoticeState.SENDING, notice.attempts + 1
        notice.next_at = moment + timedelta(seconds=policy.lease)
        return notice


def record(
    store: Store, notice_id: int, error: str | None, moment: datetime, policy: Policy
) -> str:
    """Write what came of sending it; returns its new state."""
    with store.session() as session:
        notice = notice_rows.notice(session, notice_id)
        assert notice is not None, "a notice is never deleted"
        notice.last_error = error
        if error is None:
            notice.state, notice.sent_at = NoticeState.SENT, moment
        elif notice.attempts >= policy.max_attempts:
            notice.state = NoticeState.FAILED
        else:
            wait = min(policy.retry_base * 2 ** (notice.attempts - 1), MAX_BACKOFF)
            notice.state, notice.next_at = NoticeState.PENDING, moment + timedelta(seconds=wait)
        return notice.state


def deliver(
    store: Store,
    clock: Callable[[], datetime],
    policy: Policy,
    send: Sender = channels.send,
) -> int:
    """Try every notice due now, once each; returns how many were tried."""
    tried = 0
    for notice_id in due(store, clock()):
        notice = claim(store, notice_id, clock(), policy)
        if notice is None:
            continue
        tried += 1
        error = attempt(notice, clock(), send)
        state = record(store, notice_id, error, clock(), policy)
        if error:
            log.warning("notice %s (%s) %s: %s", notice.id, notice.channel, state, error)
    return tried


def attempt(notice: Notice, moment: datetime, send: Sender) -> str | None:
    """Send it; the one-line reason it failed, or None."""
    try:
        channel = parse_channel(notice.target, notice.channel)
        payload: dict[str, Any] = notice.payload
        send(channel, payload, notice.delivery, moment)
    except (NotifyError, ConfigError) as exc:
        return str(exc)
    return None

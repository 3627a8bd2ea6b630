"""The dispatcher: ``overnight notify``. Each pass plans what to send (events
after its cursor, budget holds, review reminders, the daily digest once its
hour has come) and then delivers every notice due. It runs beside the workers,
never inside them, so a slow or dead endpoint delays only other notices.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from overnight.notify import channels, outbox, planner
from overnight.store import Store, StoreError, now
from overnight.store import notify as notice_rows

log = logging.getLogger(__name__)
DIGEST_CURSOR = "digest"


@dataclass(frozen=True)
class DispatchConfig:
    """``overnight notify``'s options."""

    dashboard_url: str | None = None  # tasks are linked as URL/tasks/ID
    digest_hour: int | None = 8  # UTC hour of the daily digest (None: none)
    review_after: timedelta = timedelta(hours=24)  # remind of a READY task after this
    policy: outbox.Policy = field(default_factory=outbox.Policy)
    poll: float = 2.0  # seconds between passes when there was nothing to do


class Dispatcher:
    def __init__(
        self,
        store: Store,
        config: DispatchConfig | None = None,
        *,
        send: outbox.Sender = channels.send,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.store, self.config = store, config or DispatchConfig()
        self.send, self.clock = send, clock

    def plan(self) -> int:
        """Write the notices due to be sent; returns how many."""
        url, moment = self.config.dashboard_url, self.clock()
        try:
            with notice_rows.planning(self.store) as session:
                planned = planner.plan_events(session, moment, url)
            with notice_rows.planning(self.store) as session:
                planned += planner.plan_holds(session, moment, url)
                planned += planner.plan_reminders(session, moment, self.config.review_after, url)
            return planned + self._daily_digest(moment)
        except notice_rows.AlreadyPlanned:  # a notice's key is unique: nothing written twice
            log.info("another dispatcher planned the same notices; planning again next pass")
            return 0

    def digest(self, since: datetime, key: str) -> int:
        """Plan a digest of what happened since ``since``, under ``key`` (once per key)."""
        with self.store.session() as session:
            return planner.plan_digest(session, since, self.clock(), key, self.config.dashboard_url)

    def send_digest(self, since: datetime, key: str) -> dict[str, int]:
        """Plan a digest under ``key`` and deliver what is due; how many notices are in each state."""
        self.digest(since, key)
        while self.deliver():
            pass
        with self.store.session() as session:
            return notice_rows.states(session, f"digest:{key}:")

    def deliver(self) -> int:
        """Try each notice due now once."""
        return outbox.deliver(self.store, self.clock, self.config.policy, self.send)

    def drain(self) -> int:
        """Plan, then deliver until nothing is due now (notices backing off stay pending)."""
        self.plan()
        tried = 0
        while sent := self.deliver():
            tried += sent
        return tried

    def run(self, stop: threading.Event | None = None) -> None:
        """Pass after pass until ``stop`` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                busy = self.plan() + self.deliver()
            except StoreError as exc:  # the database is away: nothing is lost, try again
                log.warning("notify: %s; trying again in %s s", exc, self.config.poll)
                busy = 0
            if not busy:
                stop.wait(self.config.poll)

    def _daily_digest(self, moment: datetime) -> int:
        hour = self.config.digest_hour
        if hour is None or moment.hour < hour:
            return 0
        day = f"{moment:%Y-%m-%d}"
        with notice_rows.planning(self.store) as session:
            cursor = notice_rows.locked_cursor(session, DIGEST_CURSOR)
            if cursor is not None and cursor.value == day:
                return 0
            until = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
            planned = planner.plan_digest(
                session, until - timedelta(days=1), until, day, self.config.dashboard_url
            )
            if cursor is None:
                notice_rows.start_cursor(session, DIGEST_CURSOR, day)
            else:
                cursor.value = day
            log.info("daily digest for %s: %d notice(s)", day, planned)
            return planned

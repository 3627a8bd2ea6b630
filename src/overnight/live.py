"""Live output: what an agent runs and prints, readable while it runs.

The agent's commands and their output go to a ``LiveLog`` as they come (from
the sandbox's output reader); a thread writes what has gathered to the store
every ``interval`` seconds as one ``Output`` row, so a busy command costs one
short transaction a second, and every machine that reads the database (a
dashboard elsewhere in a fleet) sees it. The task's keys are masked before a
chunk is cut, and text that may be the start of a key still arriving is held
back until the rest comes, so no key is ever split across two rows where the
store's mask could not see it whole.

Readers: ``text_of`` (an attempt's output so far, for ``overnight logs``),
``chunks_after`` (the API and the page's event stream) and ``follow`` (``overnight
logs -f``: the output and the task's events as they are written, until the
task is no longer queued or running).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from overnight.errors import LeaseLost
from overnight.masking import Mask
from overnight.store import Event, Session, Store, StoreError, TaskStatus, events, output, tasks

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between writes of a running agent's output
LIMIT = 1_000_000  # characters of live output kept per attempt (the transcript keeps the rest)
ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)


class LiveLog:
    """Gathers text from any thread; writes it in masked chunks, about once a second.

    Use as a context manager: the writer thread starts on entry and the rest is
    written on exit. ``write`` only appends under a lock, so the thread reading a
    command's output never waits on the database."""

    def __init__(
        self,
        write: Callable[[str], None],
        mask: Mask,
        *,
        interval: float = INTERVAL,
        limit: int = LIMIT,
    ) -> None:
        self._write, self.mask, self.interval, self.limit = write, mask, interval, limit
        self._pending: list[str] = []
        self._held = ""  # masked text that may begin a key still arriving
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-output", daemon=True)
        self.written = 0  # characters written
        self.broken = False  # a write failed: nothing more is written

    def __enter__(self) -> LiveLog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join()
        self.flush(final=True)

    def __call__(self, text: str) -> None:
        self.write(text)

    def write(self, text: str) -> None:
        if text:
            with self._lock:
                self._pending.append(text)

    def flush(self, final: bool = False) -> None:
        """Write what has gathered, masked (all of it when ``final``)."""
        with self._lock:
            text, self._pending = self._held + "".join(self._pending), []
        text = self.mask.text(text) if self.mask else text
        cut = len(text) if final else key_start(text, self.mask)
        chunk, self._held = text[:cut], text[cut:]
        room = self.limit - self.written
        if not chunk or self.broken or room <= 0:
            return
        if len(chunk) > room:
            chunk = chunk[:room] + f"\n[overnight: live output stops at {self.limit:,} characters;"
            chunk += " the step's log has the rest when the attempt ends]\n"
        try:
            self._write(chunk)
        except (StoreError, LeaseLost) as exc:  # live output is a view: the run goes on
            log.warning("live output stopped: %s", exc)
            self.broken = True
            return
        self.written += len(chunk)

    def _run(self) -> None:
        while not self._closed.wait(self.interval):
            self.flush()


def key_start(text: str, mask: Mask) -> int:
    """Where a key may begin at the end of ``text`` (the rest of it not here yet):
    text from there is held back; ``len(text)`` when nothing is."""
    cut = len(text)
    for form, _ in mask.replacements if mask else ():
        start = text.find(form[0], max(0, len(text) - len(form) + 1))
        while -1 < start < cut:
            if form.startswith(text[start:]):
                cut = start
                break
            start = text.find(form[0], start + 1)
    return cut


# -- reading -----------------------------------------------------------------


def text_of(session: Session, run_id: int, attempt: int) -> str:
    """An attempt's live output so far."""
    return output.text_of(session, run_id, attempt)


def chunks_after(
    session: Session, task_id: int, after: int = 0, limit: int = 500
) -> list[dict[str, Any]]:
    """The task's output chunks after chunk ``after``: id, run (its number), attempt,
    text and when it was written (``at``)."""
    return output.chunks_after(session, task_id, after, limit)


def last_chunk_id(session: Session, task_id: int) -> int:
    return output.last_chunk_id(session, task_id)


def latest_run_start(session: Session, task_id: int) -> int:
    """The chunk id just before the output of the task's latest run: to read it from
    its start (the last chunk id when that run has written none yet)."""
    first = output.first_of_latest_run(session, task_id)
    return first - 1 if first else last_chunk_id(session, task_id)


def last_event_id(session: Session, task_id: int) -> int:
    return events.last_id(session, task_id)


def active(session: Session, task_id: int) -> bool:
    """Is the task queued or running (so more output may come)?"""
    return tasks.status_of(session, task_id) in ACTIVE


def news(session: Session, task_id: int, after: int) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the task is still queued or running, read before its chunks after
    ``after``: a reader that stops when it is not has read everything written."""
    return active(session, task_id), chunks_after(session, task_id, after)


def follow(
    store: Store, task_id: int, *, after: int = 0, events_after: int = 0, poll: float = 0.5
) -> Iterator[Event | dict[str, Any]]:
    """The task's output chunks (dicts, as ``chunks_after``) and events after the given
    ids, merged in the order they were written, until the task is no longer queued
    or running and everything is read."""
    while True:
        with store.reading() as session:
            more, chunks = news(session, task_id, after)
            written = events.after(session, events_after, task_id)
        both: list[list[Event | dict[str, Any]]] = [list(written), list(chunks)]
        yield from heapq.merge(*both, key=_written)
        after = chunks[-1]["id"] if chunks else after
        events_after = written[-1].id if written else events_after
        if not chunks and not written:
            if not more:
                return
            time.sleep(poll)


def _written(item: Event | dict[str, Any]) -> datetime:
    return item["at"] if isinstance(item, dict) else item.created_at

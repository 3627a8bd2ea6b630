"""Server-sent events: every new row of the events table, pushed to browsers.

Workers may run in other processes or on other machines, so the only place
events meet is the database. One poller per server reads the rows after the
last id it saw (an index seek on the primary key) every ``poll`` seconds,
only while someone listens, and fans them out to every subscriber's queue.
A browser that reconnects sends ``Last-Event-ID`` and misses nothing.

``EventHub.output`` streams one task's live output (``overnight.live``) the
same way: each connection reads the chunks after the last one it sent, every
``OUTPUT_POLL`` seconds at least, and ends with an ``end`` event once the task
is neither queued nor running and everything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import anyio

from overnight import live
from overnight.store import Session, Store
from overnight.store import events as event_rows
from overnight.web.render import redact

KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 300.0  # then the browser reconnects (and resumes by id)
QUEUE_SIZE = 1000
T = TypeVar("T")
OUTPUT_POLL = 0.25  # seconds at least between two reads of one stream's new output


@dataclass(frozen=True)
class Message:
    id: int
    task_id: int
    kind: str
    text: str

    def sse(self) -> str:
        data = json.dumps(
            {"id": self.id, "task": self.task_id, "kind": self.kind, "message": self.text}
        )
        return f"id: {self.id}\nevent: task\ndata: {data}\n\n"


class EventHub:
    def __init__(self, store: Store, poll: float = 0.1) -> None:
        self.store, self.poll = store, poll
        self.subscribers: set[asyncio.Queue[Message | None]] = set()
        self.last_id: int | None = None
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    async def stream(
        self, after: int | None, task_id: int | None = None, seconds: float = STREAM_SECONDS
    ) -> AsyncIterator[str]:
        """SSE text: the backlog after ``after``, then live events, keepalives
        while quiet; ends after ``seconds`` or when the hub closes."""
        queue: asyncio.Queue[Message | None] = asyncio.Queue(QUEUE_SIZE)
        self.loop = asyncio.get_running_loop()
        self.subscribers.add(queue)
        self._ensure_poller()
        try:
            yield "retry: 1000\n\n"
            seen = after if after is not None else await self._last_id()
            for old in await self._backlog(seen, task_id):
                seen = old.id
                yield old.sse()
            deadline = time.monotonic() + seconds
            while not self.closed and time.monotonic() < deadline:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if message is None:
                    break
                if message.id > seen and (task_id is None or message.task_id == task_id):
                    seen = message.id
                    yield message.sse()
        finally:
            self.subscribers.discard(queue)

    async def output(
        self, task_id: int, after: int | None, seconds: float = STREAM_SECONDS
    ) -> AsyncIterator[str]:
        """SSE text: the task's live output after chunk ``after`` (None: from the start
        of its latest run) as ``output`` events, keepalives while quiet; ``end`` once
        the task is neither queued nor running and all is sent."""
        yield "retry: 1000\n\n"
        if after is None:
            after = await self._read(partial(live.latest_run_start, task_id=task_id))
        quiet = time.monotonic()
        deadline = quiet + seconds
        while not self.closed and time.monotonic() < deadline:
            more, chunks = await self._read(partial(live.news, task_id=task_id, after=after))
            for chunk in chunks:
                after, quiet = chunk["id"], time.monotonic()
                data = {k: chunk[k] for k in ("id", "run", "attempt")}
                data["text"] = redact(chunk["text"])
                yield f"id: {after}\nevent: output\ndata: {json.dumps(data)}\n\n"
            if chunks:
                continue
            if not more:
                yield "event: end\ndata: {}\n\n"
                return
            if time.monotonic() - quiet > KEEPALIVE_SECONDS:
                quiet = time.monotonic()
                yield ": keepalive\n\n"
            await asyncio.sleep(max(self.poll, OUTPUT_POLL))

    async def _read(self, query: Callable[[Session], T]) -> T:
        def read() -> T:
            with self.store.reading() as session:
                return query(session)

        return await anyio.to_thread.run_sync(read)

    def shutdown(self) -> None:
        """End every stream now (callable from any thread: the server's
        signal handler), so a graceful shutdown does not wait for them."""
        self.closed = True
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for queue in list(self.subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def close(self) -> None:
        self.closed = True
        self._wake()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _ensure_poller(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        if self.last_id is None:
            self.last_id = await self._last_id()
        while self.subscribers and not self.closed:
            for message in await self._backlog(self.last_id, None):
                self.last_id = message.id
                for queue in list(self.subscribers):
                    if queue.full():  # a stalled client: drop its oldest
                        queue.get_nowait()
                    queue.put_nowait(message)
            await asyncio.sleep(self.poll)
        self.task, self.last_id = None, None

    async def _last_id(self) -> int:
        def read() -> int:
            with self.store.reading() as session:
                return event_rows.last_id(session)

        return await anyio.to_thread.run_sync(read)

    async def _backlog(self, after: int, task_id: int | None) -> list[Message]:
        def read() -> list[Message]:
            with self.store.reading() as session:
                return [
                    Message(e.id, e.task_id, e.kind, e.message)
                    for e in event_rows.after(session, after, task_id, 500)
                ]

        return await anyio.to_thread.run_sync(read)

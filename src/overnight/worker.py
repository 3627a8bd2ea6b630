"""The worker: N task slots, leases kept alive by heartbeats, graceful stop.

One thread claims tasks and starts a slot thread per task; one thread renews
the leases and turns cancellation requests into the task's cancel event. The
first stop request (SIGTERM, Ctrl-C) stops claiming and lets running tasks
finish; the second interrupts them and puts them back in the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from overnight import queue
from overnight.errors import LeaseLost
from overnight.pipeline import Paths, execute
from overnight.queue import Claim, guard, release
from overnight.store import Run, Store, TaskStatus, now

log = logging.getLogger(__name__)


@dataclass
class Slot:
    claim: Claim
    thread: threading.Thread
    cancel: threading.Event = field(default_factory=threading.Event)


class Worker:
    def __init__(
        self,
        store: Store,
        *,
        slots: int = 1,
        paths: Paths | None = None,
        lease: float = queue.LEASE_SECONDS,
        poll: float = 1.0,
        worker_id: str | None = None,
    ) -> None:
        self.store, self.slots, self.lease, self.poll = store, slots, lease, poll
        self.paths = paths or Paths.default()
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.active: dict[int, Slot] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.interrupted = threading.Event()
        self.finished = threading.Event()
        self.done = 0

    def stop(self) -> None:
        """First call: finish running tasks, claim no more. Second: interrupt them."""
        if self.stopping.is_set():
            self.interrupted.set()
            with self.lock:
                for slot in self.active.values():
                    slot.cancel.set()
        self.stopping.set()

    def run(self, drain: bool = False) -> int:
        """Work until stopped (or, with ``drain``, until nothing is left); return tasks done."""
        queue.register_worker(self.store, self.id, self.slots)
        beat = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        beat.start()
        try:
            while not self.stopping.is_set():
                if self._free() and (claim := queue.claim(self.store, self.id, self.lease)):
                    self._start(claim)
                    continue
                if drain and not self._busy() and self._idle_queue():
                    break
                self.stopping.wait(self.poll)
            for slot in list(self.active.values()):
                slot.thread.join()
        finally:
            self.stopping.set()
            self.finished.set()
            queue.worker_heartbeat(self.store, self.id, stopped=True)
        return self.done

    def _free(self) -> bool:
        with self.lock:
            return len(self.active) < self.slots

    def _busy(self) -> bool:
        with self.lock:
            return bool(self.active)

    def _idle_queue(self) -> bool:
        """Nothing queued and nothing running anywhere: a task held by a dead
        worker's unexpired lease is still pending, to be taken over."""
        return queue.pending(self.store) == 0

    def _start(self, claim: Claim) -> None:
        slot = Slot(claim, threading.Thread())
        slot.thread = threading.Thread(
            target=self._work, args=(slot,), name=f"task-{claim.task_id}", daemon=True
        )
        with self.lock:
            self.active[claim.task_id] = slot
        slot.thread.start()

    def _work(self, slot: Slot) -> None:
        claim = slot.claim
        try:
            if claim.takeover:
                self._mark_interrupted(claim)
            status = execute(self.store, claim, slot.cancel, self.paths)
            if status == TaskStatus.CANCELLED and self.interrupted.is_set():
                self._requeue(claim)
            log.info("task %s: %s", claim.task_id, status)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except Exception as exc:  # the worker boundary: record it and go on
            log.exception("task %s crashed", claim.task_id)
            self._record_crash(claim, exc)
        finally:
            with self.lock:
                self.active.pop(claim.task_id, None)
                self.done += 1

    def _heartbeats(self) -> None:
        interval = min(self.lease / 3, 1.0)  # also how fast a cancel request lands
        while not self.finished.wait(interval):
            with self.lock:
                slots = list(self.active.values())
            try:
                cancelled = queue.heartbeat(self.store, [s.claim for s in slots], self.lease)
                queue.worker_heartbeat(self.store, self.id)
            except Exception:  # a database blip: the lease may lapse; try again
                log.exception("heartbeat failed")
                cancelled = set()
            for slot in slots:
                if slot.claim.task_id in cancelled:
                    slot.cancel.set()

    def _mark_interrupted(self, claim: Claim) -> None:
        from overnight.store import Step

        with self.store.session() as session:
            guard(session, claim)
            for step in session.scalars(
                select(Step).join(Run).where(Run.id == claim.run_id, Step.status == "running")
            ):
                step.status, step.finished_at = "interrupted", now()
                step.summary = "the worker running it stopped; the run restarts"

    def _requeue(self, claim: Claim) -> None:
        with self.store.session() as session:
            task = guard(session, claim)
            task.status, task.failure_reason = TaskStatus.QUEUED, None
            release(session, task)
            run = session.get(Run, claim.run_id)
            if run is not None:
                run.status = "queued"
            self.store.event(session, task.id, "requeued", "worker stopped; task requeued")

    def _record_crash(self, claim: Claim, exc: Exception) -> None:
        try:
            with self.store.session() as session:
                task = guard(session, claim)
                reason = f"error: {type(exc).__name__}: {exc}"
                task.status, task.failure_reason = TaskStatus.FAILED, reason
                release(session, task)
                run = session.get(Run, claim.run_id)
                if run is not None:
                    run.status, run.failure_reason, run.finished_at = "failed", reason, now()
                self.store.artifact(
                    session, task.id, "crash.log", traceback.format_exc(), claim.run_id
                )
                self.store.event(session, task.id, "failed", reason, claim.run_id)
        except Exception:
            log.exception("could not record the crash of task %s", claim.task_id)

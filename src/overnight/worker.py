"""The worker: N task slots, leases kept alive by heartbeats, graceful stop.

One thread claims tasks and starts a slot thread per task; one thread renews
the leases every second and turns cancellation requests into the task's
cancel event. The first stop request (SIGTERM, Ctrl-C) stops claiming and
asks running tasks to pause at their next checkpoint; after ``grace`` seconds
(or at a second request) their commands are killed. Paused tasks go back to
the queue and resume from their last checkpoint. Infrastructure failures
(database gone, disk full, model server unreachable) give the task back with
a growing delay; nothing is lost either way.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass, field

from overnight import holds, lifecycle, queue
from overnight.errors import InfrastructureError, LeaseLost
from overnight.pipeline import Paths, Paused, execute
from overnight.pipeline.recorder import Recorder
from overnight.queue import Claim, Limits, guard
from overnight.store import Run, Store, StoreError, now

log = logging.getLogger(__name__)
progress = logging.getLogger("overnight.progress")  # one line per task event


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
        limits: Limits | None = None,
        grace: float = 60.0,
    ) -> None:
        self.store, self.slots, self.lease, self.poll = store, slots, lease, poll
        self.paths = paths or Paths.default()
        self.limits, self.grace = limits or Limits(), grace
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.active: dict[int, Slot] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # claim no more
        self.pausing = threading.Event()  # running tasks stop at their next checkpoint
        self.interrupted = threading.Event()  # running commands are killed
        self.finished = threading.Event()
        self.done = 0
        self.held: list[holds.Held] = []  # after a drain: queued tasks nothing will start

    def stop(self) -> None:
        """First call: pause running tasks at their next checkpoint (killing them
        after ``grace`` seconds); second call: kill them now."""
        if self.stopping.is_set():
            self.interrupt()
            return
        self.stopping.set()
        self.pausing.set()
        timer = threading.Timer(self.grace, self.interrupt)
        timer.daemon = True
        timer.start()

    def interrupt(self) -> None:
        self.interrupted.set()
        with self.lock:
            for slot in self.active.values():
                slot.cancel.set()

    def run(self, drain: bool = False) -> int:
        """Work until stopped (or, with ``drain``, until nothing left can run: the
        tasks still queued are in ``held``); return tasks done."""
        queue.register_worker(self.store, self.id, self.slots, self.limits)
        beat = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        beat.start()
        failures = 0
        try:
            while not self.stopping.is_set():
                try:
                    claim = (
                        queue.claim(self.store, self.id, self.lease, self.limits)
                        if self._free()
                        else None
                    )
                    if claim:
                        self._start(claim)
                        continue
                    if drain and not self._busy() and self._settled():
                        break
                    failures = 0
                except StoreError as exc:  # the database is away: wait for it, lose nothing
                    failures += 1
                    log.warning("%s; retrying in %.0f s", exc, min(2.0**failures, 30.0))
                    self.stopping.wait(min(2.0**failures, 30.0))
                    continue
                self.stopping.wait(self.poll)
            for slot in list(self.active.values()):
                slot.thread.join()
        finally:
            self.stopping.set()
            self.finished.set()
            try:
                queue.worker_heartbeat(self.store, self.id, stopped=True)
            except StoreError as exc:
                log.warning("could not record that worker %s stopped: %s", self.id, exc)
        return self.done

    def _settled(self) -> bool:
        """Nothing left can run (``holds.settled``); what is held stays in ``self.held``."""
        with self.store.reading() as session:
            left = holds.settled(session, self.limits, now())
        self.held = left or []
        return left is not None

    def _free(self) -> bool:
        with self.lock:
            return len(self.active) < self.slots

    def _busy(self) -> bool:
        with self.lock:
            return bool(self.active)

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
                self._mark_interrupted(claim, "the worker running it stopped")
            status = execute(self.store, claim, slot.cancel, self.paths, self.pausing)
            log.info("task %s: %s", claim.task_id, status)
        except Paused:
            self._give_back(claim, "worker stopping: resumes from its last checkpoint")
        except LeaseLost as exc:
            log.warning("%s", exc)
        except InfrastructureError as exc:
            log.warning("task %s: infrastructure failure: %s", claim.task_id, exc)
            self._give_back(claim, f"infrastructure: {exc}", retry=True)
        except Exception as exc:  # the worker boundary: record it and go on
            log.exception("task %s crashed", claim.task_id)
            self._record_crash(claim, exc)
        finally:
            with self.lock:
                self.active.pop(claim.task_id, None)
                self.done += 1

    def _give_back(self, claim: Claim, reason: str, retry: bool = False) -> None:
        """Requeue the task; if even that fails, its lease expires and it is taken over."""
        try:
            self._mark_interrupted(claim, reason)
            delay = 0.0
            if retry:
                with self.store.session() as session:
                    run = session.get(Run, claim.run_id)
                    claims = run.claims if run else 1
                if lifecycle.RETRIES.spent(claims):  # retried enough: say so and stop
                    self._fail(claim, f"{reason} (after {claims} tries)")
                    return
                delay = lifecycle.RETRIES.delay(claims)
            queue.requeue(self.store, claim, reason, delay)
            progress.info("task %d: back to the queue: %s", claim.task_id, reason)
        except (StoreError, LeaseLost) as exc:
            log.warning("task %s not requeued (%s): its lease will expire", claim.task_id, exc)

    def _heartbeats(self) -> None:
        interval = min(self.lease / 3, 1.0)  # also how fast a cancel request lands
        while not self.finished.wait(interval):
            with self.lock:
                slots = list(self.active.values())
            try:
                cancelled = queue.heartbeat(self.store, [s.claim for s in slots], self.lease)
                queue.worker_heartbeat(self.store, self.id)
            except StoreError as exc:  # the lease may lapse; another worker resumes the task
                log.warning("heartbeat failed: %s", exc)
                cancelled = set()
            for slot in slots:
                if slot.claim.task_id in cancelled:
                    slot.cancel.set()

    def _mark_interrupted(self, claim: Claim, why: str) -> None:
        with self.store.session() as session:
            guard(session, claim)
            lifecycle.interrupt_steps(session, claim.run_id, why)

    def _fail(self, claim: Claim, reason: str) -> None:
        with self.store.session() as session:
            task = guard(session, claim)
            lifecycle.fail(session, task, session.get(Run, claim.run_id), reason)
        Recorder.progress(task, f"FAILED: {reason}")

    def _record_crash(self, claim: Claim, exc: Exception) -> None:
        try:
            with self.store.session() as session:
                task = guard(session, claim)
                reason = f"error: {type(exc).__name__}: {exc}"
                self.store.artifact(
                    session, task.id, "crash.log", traceback.format_exc(), claim.run_id
                )
                lifecycle.fail(session, task, session.get(Run, claim.run_id), reason)
            Recorder.progress(task, f"FAILED: {reason}")
        except (StoreError, LeaseLost):
            log.exception("could not record the crash of task %s", claim.task_id)

"""Why a queued task is not running, and until when: the scheduling rules.

A queued task waits for one of: a dependency (``depends_on``, until it is
ready or merged), its queue (paused by hand, or its daily budget spent), an
infrastructure retry (``not_before``), or a concurrency limit (all workers
together, or per repository). ``queue.claim`` decides with these functions,
and ``status``, ``show``, the API and the dashboard show what they say, so
what is shown cannot disagree with what the workers do. ``settled`` tells
``worker --drain`` that nothing left can run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from overnight.store import Session, TaskStatus, scheduling

SILENT_AFTER = timedelta(seconds=15)  # 15 missed beats (a worker beats at least once a second):
# a worker this quiet counts as gone, here and wherever workers are shown (``fleet``)
_DEAD = (TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.REJECTED)


@dataclass(frozen=True)
class Limits:
    """Concurrency limits every worker enforces at claim time (slots are per worker)."""

    running: int | None = None  # tasks running at once, all workers together
    per_repo: int | None = None  # tasks running at once on one repository


@dataclass(frozen=True)
class Hold:
    """One reason a queued task does not run; ``until`` when it lifts by itself."""

    kind: str  # dependency, dependency-dead, queue-paused, queue-budget, retry, limit-*, worker
    message: str
    until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        until = self.until.isoformat(timespec="seconds") if self.until else None
        return {"kind": self.kind, "message": self.message, "until": until}


@dataclass(frozen=True)
class QueueState:
    """A named queue today: paused by hand, its budget and what it spent (UTC day)."""

    name: str
    paused: bool  # by hand, now (a timed pause that ended is not)
    usd_per_day: float | None
    spent: float
    resets: datetime  # the next 00:00 UTC, when today's spending starts again from 0
    paused_until: datetime | None = None  # when a pause by hand ends by itself

    @property
    def budget_spent(self) -> bool:
        return self.usd_per_day is not None and self.spent >= self.usd_per_day

    @property
    def hold(self) -> Hold | None:
        if self.paused and self.paused_until is not None:
            return Hold(
                "queue-paused",
                f"held: queue {self.name} paused until {self.paused_until:%Y-%m-%d %H:%M} UTC",
                self.paused_until,
            )
        if self.paused:
            return Hold(
                "queue-paused",
                f"held: queue {self.name} paused by hand "
                f"(overnight queue set {self.name} --resume)",
            )
        if self.budget_spent:
            budget = f"${self.usd_per_day:.2f}"
            return Hold(
                "queue-budget",
                f"held: queue {self.name} daily budget {budget} spent (resets 00:00 UTC)",
                self.resets,
            )
        return None


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def spent_today(session: Session, moment: datetime, names: list[str] | None) -> dict[str, float]:
    """USD spent on model calls since 00:00 UTC per queue (of ``names``, or all);
    a call of unknown price counts as 0."""
    return scheduling.spent_since(session, day_start(moment), names)


def queue_states(session: Session, moment: datetime) -> dict[str, QueueState]:
    """Every configured queue (a queue nobody configured is never held)."""
    queues = scheduling.queue_settings(session)
    spent = spent_today(session, moment, [q.name for q in queues if q.usd_per_day is not None])
    resets = day_start(moment) + timedelta(days=1)
    states = {}
    for q in queues:
        ended = q.paused_until is not None and q.paused_until <= moment
        paused = q.paused and not ended
        until = q.paused_until if paused else None
        states[q.name] = QueueState(
            q.name, paused, q.usd_per_day, spent.get(q.name, 0.0), resets, until
        )
    return states


def running_per_repo(session: Session, moment: datetime) -> dict[str, int]:
    """Tasks running under a live lease, per repository (what the limits count)."""
    return scheduling.running_per_repo(session, moment)


def limit_hold(repo: str, live: dict[str, int], limits: Limits) -> Hold | None:
    if limits.running is not None and sum(live.values()) >= limits.running:
        return Hold("limit-running", f"held: global limit {limits.running} running")
    if limits.per_repo is not None and live.get(repo, 0) >= limits.per_repo:
        return Hold("limit-repo", f"held: repository limit {limits.per_repo} running")
    return None


def dependency_hold(depends_on: list[dict[str, Any]], statuses: dict[int, str]) -> Hold | None:
    """The first dependency not yet done; ``dependency-dead`` if it never will be
    (``claim`` then fails the task with this message)."""
    for dep in depends_on:
        merged = dep.get("until") == "merged"
        wanted = (TaskStatus.MERGED,) if merged else (TaskStatus.READY, TaskStatus.MERGED)
        state = statuses.get(dep["task"])
        if state in wanted:
            continue
        if state is None or state in _DEAD:
            state = state or "missing"
            return Hold("dependency-dead", f"dependency: task {dep['task']} is {state}")
        goal = "merged" if merged else "ready"
        return Hold("dependency", f"waiting for task {dep['task']} to be {goal} (it is {state})")
    return None


def retry_hold(not_before: datetime | None, moment: datetime) -> Hold | None:
    if not_before is None or not_before <= moment:
        return None
    return Hold(
        "retry",
        f"retrying at {not_before:%H:%M:%S} UTC after an infrastructure failure",
        not_before,
    )


def dependency_statuses(session: Session, ids: set[int]) -> dict[int, str]:
    return scheduling.statuses(session, ids)


def holds(
    session: Session, task_ids: Sequence[int] | None, limits: Limits, moment: datetime
) -> dict[int, list[Hold]]:
    """For each queued task of ``task_ids`` (None: every queued task): what keeps it
    from being claimed under ``limits`` (empty when a worker with a free slot would
    take it). A few queries whatever the number of tasks."""
    if task_ids is not None and not task_ids:
        return {}
    rows = scheduling.queued(session, None if task_ids is None else list(task_ids))
    if not rows:
        return {}
    states = queue_states(session, moment)
    live = running_per_repo(session, moment)
    statuses = dependency_statuses(session, {d["task"] for r in rows for d in r.depends_on})
    out = {}
    for r in rows:
        state = states.get(r.queue)
        found = (
            dependency_hold(r.depends_on, statuses),
            state.hold if state else None,
            retry_hold(r.not_before, moment),
            limit_hold(r.repo, live, limits),
        )
        out[r.id] = [h for h in found if h is not None]
    return out


def live_limits(session: Session, moment: datetime) -> tuple[Limits, int, int]:
    """(the loosest limits of the live workers, their slots, their number): a task
    is held by a limit only if no live worker may take it."""
    alive = scheduling.worker_limits(session, moment - SILENT_AFTER)

    def loosest(values: list[int | None]) -> int | None:
        return None if not values or None in values else max(v for v in values if v is not None)

    running, per_repo = [w.max_running for w in alive], [w.max_per_repo for w in alive]
    return Limits(loosest(running), loosest(per_repo)), sum(w.slots for w in alive), len(alive)


def waiting(session: Session, task_ids: Sequence[int], moment: datetime) -> dict[int, list[Hold]]:
    """``holds`` under the live workers' limits, for showing: a task nothing holds
    but no worker can take says so too."""
    limits, slots, workers = live_limits(session, moment)
    found = holds(session, task_ids, limits, moment)
    if not any(not h for h in found.values()):
        return found
    busy = sum(running_per_repo(session, moment).values())
    if workers == 0:
        idle = Hold("worker", "waiting for a worker: none is running (start one: overnight worker)")
    elif busy >= slots:
        idle = Hold("worker", f"waiting for a free slot: all {slots} worker slot(s) busy")
    else:
        return found
    return {task_id: h or [idle] for task_id, h in found.items()}


@dataclass(frozen=True)
class Held:
    task_id: int
    title: str
    holds: list[Hold]


def settled(session: Session, limits: Limits, moment: datetime) -> list[Held] | None:
    """None while something may still run (a task running anywhere, a queued task
    nothing holds, a retry due); else the queued tasks left, each with its holds
    (a dependency, a pause or a spent budget: none lifts within a few minutes)."""
    if scheduling.any_running(session):
        return None
    queued = scheduling.queued_titles(session)
    found = holds(session, None, limits, moment)
    left = []
    for task_id, title in queued:
        reasons = found.get(task_id, [])
        kinds = {h.kind for h in reasons}
        if not reasons or "retry" in kinds or kinds == {"dependency-dead"}:
            return None  # claimable, due soon, or failed by the next claim
        left.append(Held(task_id, title, reasons))
    return left

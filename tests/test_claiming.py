"""PostgreSQL's one-round-trip claim (``store/claiming.py``): the same decisions as
SQLite's Python claim, in one statement, exact under concurrent workers."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import event, func, select, update

from overnight import queue
from overnight.config import ProjectConfig
from overnight.lifecycle import RETRIES
from overnight.queue import Limits
from overnight.spec import Spec
from overnight.spec.model import Dependency
from overnight.store import Event, Queue, Run, Store, Task

BOTH = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


def submit(store: Store, title: str, repo: str = "/r", **fields) -> int:
    spec = Spec(title=title, **fields)
    return queue.submit(
        store,
        spec,
        "",
        ProjectConfig(),
        repo=repo,
        base_ref="main",
        base_sha="0" * 40,
        agent="command:true",
    ).id


def events(store: Store, task_id: int) -> list[str]:
    with store.session() as session:
        query = select(Event.message).where(Event.task_id == task_id).order_by(Event.id)
        return list(session.scalars(query))


def task_row(store: Store, task_id: int) -> tuple[str, str | None, int]:
    with store.session() as session:
        task = session.get(Task, task_id)
        return task.status, task.failure_reason, task.fence


@BOTH  # the same literal outcome on both: the server's claim and the Python one agree
def test_every_scheduling_rule_decides_the_same_on_both_databases(store):
    done = submit(store, "done dependency")
    dead = submit(store, "cancelled dependency")
    queue.cancel(store, dead)
    with store.session() as session:
        session.get(Task, done).status = "ready"
    waits_merge = submit(
        store, "waits for a merge", priority=9, depends_on=[Dependency(done, "merged")]
    )
    doomed = submit(
        store, "dead dependency", priority=8, depends_on=[Dependency(done), Dependency(dead)]
    )
    paused = submit(store, "paused queue", priority=7, queue="nightly")
    spent = submit(store, "started too often", priority=6)
    with store.session() as session:
        session.add(Queue(name="nightly", paused=True))
        session.execute(update(Run).where(Run.task_id == spent).values(claims=RETRIES.limit))
    first = submit(store, "first", priority=5, depends_on=[Dependency(done)])
    same_repo = submit(store, "same repository", priority=4)
    other_repo = submit(store, "other repository", priority=3, repo="/elsewhere")

    limits = Limits(per_repo=1)
    a = queue.claim(store, "w1", lease=0.0, limits=limits)  # its lease expires at once
    b = queue.claim(store, "w2", limits=limits)  # so it is taken over, before the others
    c = queue.claim(store, "w3", limits=limits)  # /r is at its limit again: /elsewhere
    assert queue.claim(store, "w4", limits=limits) is None  # each repository at its limit

    assert (a.task_id, a.fence, a.takeover) == (first, 1, False)
    assert (b.task_id, b.fence, b.takeover) == (first, 2, True)
    assert (c.task_id, c.takeover) == (other_repo, False)
    assert events(store, first)[1:] == [
        "claimed by w1",
        "claimed by w2 (taken over from w1: its lease expired)",
    ]
    assert task_row(store, doomed) == ("failed", f"dependency: task {dead} is cancelled", 0)
    assert task_row(store, spent)[:2] == (
        "failed",
        f"infrastructure: run 1 was started {RETRIES.limit} times without finishing "
        "(workers crashing or the environment failing); see the events",
    )
    assert events(store, spent)[-1] == task_row(store, spent)[1]
    for held in (waits_merge, paused, same_repo):
        assert task_row(store, held) == ("queued", None, 0)
    with store.session() as session:
        run = session.scalars(select(Run).where(Run.task_id == spent)).one()
        assert (run.status, run.claims) == ("failed", RETRIES.limit)
        assert session.scalars(select(Run.claims).where(Run.task_id == first)).one() == 2


@POSTGRES_ONLY
def test_a_postgresql_claim_is_one_statement_and_no_transaction_round_trips(store):
    done = submit(store, "dependency")
    with store.session() as session:
        session.get(Task, done).status = "ready"
        session.add(Queue(name="budgeted", usd_per_day=5.0))
    task_id = submit(store, "claimed", queue="budgeted", depends_on=[Dependency(done)])
    sent: list[tuple[str, bool]] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append((statement, conn.connection.driver_connection.autocommit))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        claim = queue.claim(store, "w", limits=Limits(running=4, per_repo=2))
        assert queue.claim(store, "w", limits=Limits(running=4, per_repo=2)) is None
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert claim is not None and claim.task_id == task_id
    assert len(sent) == 2, [s for s, _ in sent]  # one statement per claim, found or not
    assert all(autocommit for _, autocommit in sent)  # no BEGIN, no COMMIT


@POSTGRES_ONLY
def test_concurrent_claims_take_every_task_exactly_once_within_the_limits(store):
    repos = ["/a", "/b", "/c"]
    ids = [submit(store, f"task {i}", repo=repos[i % 3], priority=i % 4) for i in range(60)]
    limited = Limits(running=5, per_repo=2)
    claimed: list[int] = []

    def claim_until_empty(worker: str, limits: Limits) -> None:
        while (claim := queue.claim(store, worker, lease=3600, limits=limits)) is not None:
            claimed.append(claim.task_id)  # list.append is atomic

    def race(limits: Limits) -> None:
        threads = [
            threading.Thread(target=claim_until_empty, args=(f"w{n}", limits)) for n in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)

    race(limited)
    assert len(claimed) == 5 == len(set(claimed))  # the global limit, exactly
    with store.session() as session:
        repos_running = Counter(session.scalars(select(Task.repo).where(Task.status == "running")))
    assert max(repos_running.values()) == 2  # the repository limit, exactly

    race(Limits())
    assert sorted(claimed) == sorted(ids)  # each task once: none lost, none twice
    with store.session() as session:
        claims = session.execute(select(Run.task_id, Run.claims)).all()
        claimed_events = session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "claimed")
        )
    assert {starts for _, starts in claims} == {1}
    assert claimed_events == len(ids)

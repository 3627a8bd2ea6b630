"""Migrations: several workers starting at once against one new database, and an
older database brought up to date."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from overnight import queue
from overnight.store import Run, Task, checkpoints, open_store
from overnight.store.migrations import MIGRATIONS


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nothing has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    from postgres import fresh_database

    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        yield url


def applied(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = [row[0] for row in conn.execute(text("SELECT name FROM _migrations"))]
    engine.dispose()
    return names


def test_workers_starting_at_once_migrate_a_new_database_once(url):
    opening = "import sys; from overnight.store import open_store; open_store(sys.argv[1])"
    starts = [
        subprocess.Popen([sys.executable, "-c", opening, url], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in starts]
    assert [p.returncode for p in starts] == [0] * 6, errors
    assert sorted(applied(url)) == sorted(m.__name__ for m in MIGRATIONS)


def test_an_older_database_gets_the_claim_indexes(url):
    engine = create_engine(url)
    with engine.begin() as conn:  # as overnight before m005 left it
        conn.execute(text("CREATE TABLE _migrations (name VARCHAR(100) PRIMARY KEY)"))
        for migration in MIGRATIONS[:4]:
            migration(conn)
            conn.execute(text("INSERT INTO _migrations VALUES (:n)"), {"n": migration.__name__})
        for name in ("ix_tasks_claim_order", "ix_tasks_status_lease"):
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("CREATE INDEX ix_tasks_claim ON tasks (status, priority, id)"))
        conn.execute(text("DROP TABLE output"))  # m001 makes today's tables; m008 made this one
    engine.dispose()

    store = open_store(url)

    indexes = {i["name"] for i in inspect(store.engine).get_indexes("tasks")}
    assert {"ix_tasks_claim_order", "ix_tasks_status_lease"} <= indexes
    assert "ix_tasks_claim" not in indexes
    assert applied(url)[4:] == [m.__name__ for m in MIGRATIONS[4:]]
    assert "output" in inspect(store.engine).get_table_names()  # the live output's (m008)
    store.engine.dispose()


def test_an_older_database_gets_the_worker_limits_and_timed_pauses(url):
    engine = create_engine(url)
    with engine.begin() as conn:  # as overnight before m007 left it
        conn.execute(text("CREATE TABLE _migrations (name VARCHAR(100) PRIMARY KEY)"))
        for migration in MIGRATIONS[:6]:
            migration(conn)
            conn.execute(text("INSERT INTO _migrations VALUES (:n)"), {"n": migration.__name__})
        for column in ("max_running", "max_per_repo"):
            conn.execute(text(f"ALTER TABLE workers DROP COLUMN {column}"))
        conn.execute(text("ALTER TABLE queues DROP COLUMN paused_until"))
    engine.dispose()

    store = open_store(url)

    columns = {c["name"] for c in inspect(store.engine).get_columns("workers")}
    assert {"max_running", "max_per_repo"} <= columns
    assert "paused_until" in {c["name"] for c in inspect(store.engine).get_columns("queues")}
    assert "m007_worker_limits" in applied(url)
    store.engine.dispose()


def test_an_older_database_keeps_its_checkpoints_as_typed_rows(url):
    engine = create_engine(url)
    with engine.begin() as conn:  # as overnight before m009 left it: turns.meta, artifact names
        conn.execute(text("CREATE TABLE _migrations (name VARCHAR(100) PRIMARY KEY)"))
        for migration in MIGRATIONS[:8]:
            migration(conn)
            conn.execute(text("INSERT INTO _migrations VALUES (:n)"), {"n": migration.__name__})
        conn.execute(text("DROP TABLE checkpoints"))  # m001 makes today's tables
        conn.execute(text("ALTER TABLE turns ADD COLUMN meta JSON"))
    with Session(engine) as session, session.begin():
        task = Task(
            title="t",
            slug="t",
            spec={},
            spec_text="",
            config={},
            repo="r",
            base_ref="main",
            base_sha="0" * 40,
            branch="b",
            agent="builtin",
        )
        session.add(task)
        session.flush()
        session.add(Run(task_id=task.id, number=1, base_sha="0" * 40))
        session.flush()
        task_id = task.id
    with engine.begin() as conn:
        run_id = conn.execute(text("SELECT id FROM runs")).scalar_one()
        messages = [{"role": "assistant", "content": "ls"}]
        for number, meta in (
            (1, {"feedback": "", "start": "abc", "messages": messages, "done": True}),
            (2, {"messages": messages, "rerun": 1, "end": "submitted", "exit_code": 0}),
        ):
            conn.execute(
                text(
                    "INSERT INTO turns (run_id, attempt, number, model, content, input_tokens, "
                    "output_tokens, latency, request, response, meta, created_at) VALUES "
                    "(:r, 1, :n, 'm', '', 0, 0, 0, '{}', '{}', :meta, CURRENT_TIMESTAMP)"
                ),
                {"r": run_id, "n": number, "meta": json.dumps(meta)},
            )
        for name, content in (
            ("baseline.json", json.dumps({"tests": {"t": "passed"}})),
            ("agent-turn-1-1.diff", "diff 1"),
            ("agent-attempt-1.diff", "attempt diff"),
            ("changes-attempt-1.diff", "changes"),
            ("step-agent-1.log", "a log"),
        ):
            conn.execute(
                text(
                    "INSERT INTO artifacts (task_id, run_id, name, content, created_at) "
                    "VALUES (:t, :r, :n, :c, CURRENT_TIMESTAMP)"
                ),
                {"t": task_id, "r": run_id, "n": name, "c": content},
            )
    engine.dispose()

    store = open_store(url)

    assert "meta" not in {c["name"] for c in inspect(store.engine).get_columns("turns")}
    with store.session() as session:
        (first, one), (second, two) = checkpoints.turns(session, run_id, 1)
        assert one is not None and two is not None
        assert (one.messages, one.done, one.start, one.feedback) == (messages, True, "abc", "")
        assert (two.done, two.rerun, two.end, two.end_exit_code) == (False, 1, "submitted", 0)
        assert checkpoints.last_turn_diff(session, run_id, 1) == "diff 1"
        assert checkpoints.baseline(session, run_id) == {"tests": {"t": "passed"}}
        assert checkpoints.agent_changes(session, run_id) == {1: "attempt diff"}
        assert checkpoints.previous_changes(session, task_id, 2) == "changes"
    store.engine.dispose()


def test_an_older_database_gets_the_one_round_trip_claim(url):
    engine = create_engine(url)
    with engine.begin() as conn:  # as overnight before m016 left it
        conn.execute(text("CREATE TABLE _migrations (name VARCHAR(100) PRIMARY KEY)"))
        for migration in MIGRATIONS[:14]:
            migration(conn)
            conn.execute(text("INSERT INTO _migrations VALUES (:n)"), {"n": migration.__name__})
    engine.dispose()

    store = open_store(url)

    assert "m016_claim_function" in applied(url)
    if not store.is_sqlite:  # SQLite claims in Python: nothing to install
        with store.engine.connect() as conn:
            query = "SELECT count(*) FROM pg_proc WHERE proname = 'overnight_claim_v1'"
            assert conn.execute(text(query)).scalar_one() == 1
    assert queue.claim(store, "w") is None  # the claim runs against the migrated schema
    store.engine.dispose()

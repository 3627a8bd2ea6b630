"""Schema migrations: an ordered list of plain functions, each applied once.

The applied ones are recorded in ``_migrations``. The first migration creates
the tables from the models; every later one must be idempotent against a
database created fresh by that first migration (check before altering), so a
new database and an upgraded one end with the same schema.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, text

from overnight.store.models import Base

Migration = Callable[[Connection], None]


def m001_initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def m002_api_tokens_and_dashboard_indexes(conn: Connection) -> None:
    """The api_tokens table (hashed tokens for the web API off loopback) and
    the indexes the dashboard's task list and insights filter on."""
    from overnight.store.models import ApiToken

    ApiToken.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    for name, table, columns in (
        ("ix_tasks_status_id", "tasks", "status, id"),
        ("ix_tasks_repo_id", "tasks", "repo, id"),
        ("ix_runs_status_finished", "runs", "status, finished_at"),
        ("ix_events_task_id_id", "events", "task_id, id"),
    ):
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"))


def m003_turns(conn: Connection) -> None:
    """The built-in agent's turns: one row per model call, saved as it happens."""
    from overnight.store.models import Turn

    Turn.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m004_durability(conn: Connection) -> None:
    """Infrastructure retries (tasks.not_before, runs.claims), deterministic
    candidate commits (runs.created_at), queues with budgets, shared rate limits."""
    from overnight.store.models import ProviderLimit, Queue, RateWindow

    _add_column(conn, "tasks", "not_before", "TIMESTAMP")
    _add_column(conn, "tasks", "queue", "VARCHAR(100) NOT NULL DEFAULT 'default'")
    _add_column(conn, "runs", "claims", "INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "runs", "created_at", "TIMESTAMP")
    conn.execute(
        text(
            "UPDATE runs SET created_at = COALESCE(started_at, CURRENT_TIMESTAMP) "
            "WHERE created_at IS NULL"
        )
    )
    for model in (Queue, RateWindow, ProviderLimit):
        model.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m005_claim_order_index(conn: Connection) -> None:
    """Claims walk (status, priority DESC, id) in order instead of sorting every
    queued task, and find expired leases by (status, lease_expires): claims/s no
    longer falls as the queue or the running set grows."""
    conn.execute(text("DROP INDEX IF EXISTS ix_tasks_claim"))
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS ix_tasks_claim_order ON tasks (status, priority DESC, id)")
    )
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS ix_tasks_status_lease ON tasks (status, lease_expires)")
    )
    if conn.dialect.name == "postgresql":  # a queue churns: keep the planner's statistics fresh
        conn.execute(
            text(
                "ALTER TABLE tasks SET (autovacuum_analyze_scale_factor = 0.02, "
                "autovacuum_vacuum_scale_factor = 0.05)"
            )
        )


def m006_tamper_evidence(conn: Connection) -> None:
    """gate_results.tampered: which canary a graded run reported as passing."""
    _add_column(conn, "gate_results", "tampered", "TEXT")


def m007_worker_limits(conn: Connection) -> None:
    """workers.max_running and max_per_repo: the limits each worker enforces, so
    `status` can say a queued task is held by one; queues.paused_until: a pause
    that ends by itself (`queue set NAME --pause-until 07:00`)."""
    _add_column(conn, "workers", "max_running", "INTEGER")
    _add_column(conn, "workers", "max_per_repo", "INTEGER")
    _add_column(conn, "queues", "paused_until", "TIMESTAMP")


def m008_live_output(conn: Connection) -> None:
    """The output table: an agent's commands and output, written while it runs."""
    from overnight.store.models import Output

    Output.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m010_notices(conn: Connection) -> None:
    """The notifications outbox (notices), channels per queue, the dispatcher's cursors."""
    from overnight.store.notices import Notice, NotifyChannel, NotifyCursor

    for model in (Notice, NotifyChannel, NotifyCursor):
        model.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def _add_column(conn: Connection, table: str, column: str, ddl: str) -> None:
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_api_tokens_and_dashboard_indexes,
    m003_turns,
    m004_durability,
    m005_claim_order_index,
    m006_tamper_evidence,
    m007_worker_limits,
    m008_live_output,
    m010_notices,  # m009 is another change's
]


def migrate(conn: Connection) -> list[str]:
    """Apply what is missing; returns the names applied. Caller holds a lock."""
    conn.execute(text("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR(100) PRIMARY KEY)"))
    done = {row[0] for row in conn.execute(text("SELECT name FROM _migrations"))}
    applied = []
    for migration in MIGRATIONS:
        if migration.__name__ not in done:
            migration(conn)
            conn.execute(
                text("INSERT INTO _migrations (name) VALUES (:n)"), {"n": migration.__name__}
            )
            applied.append(migration.__name__)
    return applied

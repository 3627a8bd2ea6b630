"""Schema migrations: an ordered list of plain functions, each applied once.

The applied ones are recorded in ``_migrations``. The first migration creates
the tables from the models; every later one must be idempotent against a
database created fresh by that first migration (check before altering), so a
new database and an upgraded one end with the same schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, insert, inspect, text

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


def m009_checkpoints(conn: Connection) -> None:
    """The checkpoints table: what a resumed run picks up, typed. Converts once what
    older versions kept in ``turns.meta`` and in artifact names (``baseline.json``,
    ``agent-attempt-N.diff``, ``changes-attempt-N.diff``, ``agent-turn-A-N.diff``),
    then drops ``turns.meta``. The artifacts stay, to read."""
    from overnight.store.models import Checkpoint

    Checkpoint.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    if "meta" not in {c["name"] for c in inspect(conn).get_columns("turns")}:
        return  # created fresh: nothing to convert
    rows: dict[tuple[int, int, int], dict[str, Any]] = {}
    for run_id, attempt, number, meta in conn.execute(
        text("SELECT run_id, attempt, number, meta FROM turns")
    ):
        rows[run_id, attempt, number] = _turn_state(_json(meta) or {})
    for run_id, name, content in conn.execute(
        text(
            "SELECT run_id, name, content FROM artifacts WHERE run_id IS NOT NULL AND "
            "(name = 'baseline.json' OR name LIKE 'agent-%' OR name LIKE 'changes-attempt-%') "
            "ORDER BY id"
        )
    ):
        key, column, value = _old_artifact(name, content)
        if key is not None:  # the last one written is the checkpoint
            rows.setdefault((run_id, key[0], key[1]), {})[column] = value
    for (run_id, attempt, turn), values in rows.items():
        conn.execute(insert(Checkpoint).values(run_id=run_id, attempt=attempt, turn=turn, **values))
    conn.execute(text("ALTER TABLE turns DROP COLUMN meta"))


def _turn_state(meta: dict[str, Any]) -> dict[str, Any]:
    """A turn's checkpoint from the ``meta`` dict older versions kept."""
    return {
        "prompts": meta.get("prompts"),
        "protocol": meta.get("protocol"),
        "sampling": meta.get("sampling"),
        "feedback": meta.get("feedback"),
        "start": meta.get("start"),
        "waits": meta.get("waits"),
        "messages": meta.get("messages"),  # absent: recorded before turns kept it
        "done": bool(meta.get("done")),
        "rerun": meta.get("rerun", 0),
        "unchanged": bool(meta.get("unchanged")),
        "stuck": meta.get("stuck"),
        "format_error": bool(meta.get("format_error")),
        "end": meta.get("end"),
        "end_exit_code": meta.get("exit_code"),
    }


_OLD_NAMES = (  # artifact names older versions resumed from: (attempt, turn) -> column
    (re.compile(r"baseline\.json"), "baseline"),
    (re.compile(r"agent-attempt-(\d+)\.diff"), "diff"),
    (re.compile(r"changes-attempt-(\d+)\.diff"), "changes"),
    (re.compile(r"agent-turn-(\d+)-(\d+)\.diff"), "diff"),
)


def _old_artifact(name: str, content: str) -> tuple[tuple[int, int] | None, str, Any]:
    """(attempt, turn), column and value of an artifact older versions resumed from."""
    for pattern, column in _OLD_NAMES:
        found = pattern.fullmatch(name)
        if found:
            numbers = [int(n) for n in found.groups()] + [0, 0]
            value = _json(content) if column == "baseline" else content
            return (numbers[0], numbers[1]), column, value
    return None, "", None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def m010_notices(conn: Connection) -> None:
    """The notifications outbox (notices), channels per queue, the dispatcher's cursors."""
    from overnight.store.notices import Notice, NotifyChannel, NotifyCursor

    for model in (Notice, NotifyChannel, NotifyCursor):
        model.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m011_remote_pull_requests(conn: Connection) -> None:
    """A pull request's number and address on a remote forge (GitHub, GitLab)."""
    _add_column(conn, "pull_requests", "number", "INTEGER")
    _add_column(conn, "pull_requests", "url", "VARCHAR(500)")


def m012_hook_deliveries(conn: Connection) -> None:
    """Forge webhook deliveries acted on, so a replayed one is refused."""
    from overnight.store.models import HookDelivery

    HookDelivery.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m013_agent_inputs(conn: Connection) -> None:
    """What each run's agent was given: its prompt templates and coding standards."""
    _add_column(conn, "runs", "prompts", "JSON")
    _add_column(conn, "runs", "standards", "JSON")


def m014_eval_comparisons(conn: Connection) -> None:
    """Comparisons of agent configurations (``overnight eval compare``), for trends."""
    from overnight.store.evaluations import EvalComparison

    EvalComparison.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m015_eval_impossible(conn: Connection) -> None:
    """``eval impossible`` reports, for the cheat rate's trend beside the resolve rate's."""
    from overnight.store.evaluations import EvalImpossible

    EvalImpossible.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def m016_claim_function(conn: Connection) -> None:
    """PostgreSQL claims in one round trip: the function ``overnight_claim_v1``."""
    from overnight.store import claiming

    claiming.install(conn)


def m017_plans(conn: Connection) -> None:
    """Plans made by ``overnight plan``, as the dashboard shows them."""
    from overnight.store.plans import StoredPlan

    StoredPlan.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


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
    m009_checkpoints,
    m010_notices,
    m011_remote_pull_requests,
    m012_hook_deliveries,
    m013_agent_inputs,
    m014_eval_comparisons,
    m015_eval_impossible,
    m016_claim_function,
    m017_plans,
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

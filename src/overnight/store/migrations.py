"""Schema migrations: an ordered list of plain functions, each applied once.

The applied ones are recorded in ``_migrations``. The first migration creates
the tables from the models; every later one must be idempotent against a
database created fresh by that first migration (check before altering), so a
new database and an upgraded one end with the same schema.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from overnight.store.models import Base

Migration = Callable[[Connection], None]


def m001_initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)


MIGRATIONS: list[Migration] = [m001_initial]


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

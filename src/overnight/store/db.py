"""The Store: one SQLAlchemy engine over SQLite (default) or PostgreSQL.

SQLite runs in WAL mode and every transaction starts with ``BEGIN
IMMEDIATE``, so writers queue on the database lock instead of failing midway;
transactions are kept short for that reason. Database errors are translated
into ``StoreError`` at this seam. Every row written is masked first: a task's
keys never reach the database (``masking.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from overnight.config import database_url
from overnight.errors import InfrastructureError, NotFound
from overnight.store.masking import mask_rows
from overnight.store.migrations import migrate
from overnight.store.models import Artifact, Event, Task

log = logging.getLogger(__name__)


class StoreError(InfrastructureError):
    pass


class Store:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.engine = _engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_flush", mask_rows)  # keys never reach the store
        self._readers = sessionmaker(self.engine.execution_options(overnight_read=True))
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except (OperationalError, InterfaceError) as exc:  # the database is away
            _quietly_rollback(session)
            raise StoreError(f"database error on {self.safe_url}: {exc.orig}") from exc
        except BaseException:
            _quietly_rollback(session)
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work (the dashboard's): on SQLite a deferred
        transaction, so readers see a snapshot and never queue behind writers."""
        session = self._readers()
        try:
            yield session
        except OperationalError as exc:
            raise StoreError(f"database error on {self.safe_url}: {exc.orig}") from exc
        finally:
            session.close()  # ends the transaction; loaded objects stay readable

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection on which every statement is its own transaction: no BEGIN
        or COMMIT round trips (PostgreSQL's claim is one statement that needs none)."""
        try:
            with self._autocommit.connect() as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:  # the database is away
            raise StoreError(f"database error on {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> list[str]:
        """Bring the schema up to date; safe when several processes start at once."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7355608)"))
            return migrate(conn)

    def task(self, session: Session, task_id: int | str) -> Task:
        try:
            task = session.get(Task, int(task_id))
        except ValueError:
            task = None
        if task is None:
            raise NotFound(f"no task {task_id}: see 'overnight status' for the task ids")
        return task

    @staticmethod
    def event(
        session: Session, task_id: int, kind: str, message: str, run_id: int | None = None
    ) -> None:
        session.add(Event(task_id=task_id, run_id=run_id, kind=kind, message=message))
        if session.get_bind().dialect.name == "postgresql":  # wakes `overnight watch` at commit
            session.execute(text("SELECT pg_notify('overnight_events', :t)"), {"t": str(task_id)})

    @staticmethod
    def artifact(
        session: Session, task_id: int, name: str, content: str, run_id: int | None = None
    ) -> int:
        item = Artifact(task_id=task_id, run_id=run_id, name=name, content=content)
        session.add(item)
        session.flush()
        return item.id


def _quietly_rollback(session: Session) -> None:
    """Roll back; on a connection that died, there is nothing left to roll back."""
    try:
        session.rollback()
    except (OperationalError, InterfaceError) as exc:
        log.debug("rollback on a dead connection: %s", exc)


def open_store(url: str | None = None) -> Store:
    store = Store(url)
    store.migrate()
    return store


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across crashes in WAL mode
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        reading = conn.get_execution_options().get("overnight_read")
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine

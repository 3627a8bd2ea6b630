"""A PostgreSQL server for the tests: ``OVERNIGHT_TEST_DATABASE_URL`` if set,
else the local server if one answers, else a throwaway cluster started from
the installed server binaries (``make test`` installs them when missing).
Each test gets a fresh database on it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

LOCAL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def answers(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # any failure means "not this server"
        return False


@contextmanager
def server() -> Iterator[str]:
    """The URL of a maintenance database on a running server."""
    configured = os.environ.get("OVERNIGHT_TEST_DATABASE_URL")
    if configured:
        yield configured
    elif answers(LOCAL):
        yield LOCAL
    else:
        with throwaway_cluster() as cluster:
            yield cluster.url


class Cluster:
    def __init__(self, url: str, pg_ctl: list[str], data: str) -> None:
        self.url, self.pg_ctl, self.data = url, pg_ctl, data

    def restart(self) -> None:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(
            [*self.pg_ctl, "-D", self.data, "-w", "-m", "fast", "restart"], check=True, **quiet
        )


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        raise RuntimeError(
            "no PostgreSQL server found: set OVERNIGHT_TEST_DATABASE_URL, start "
            "one on 127.0.0.1:5432, or install Debian's postgresql (make test "
            "does, as root)"
        )
    bindir = os.path.dirname(binaries[-1])
    data = tempfile.mkdtemp(prefix="overnight-pg-")
    shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*run_as, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    # the server inherits pg_ctl's output: no pipes, or waiting for them never ends
    subprocess.run(
        [
            *run_as,
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-w",
            "-l",
            f"{data}/log",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        yield Cluster(url, [*run_as, f"{bindir}/pg_ctl"], data)
    finally:
        subprocess.run(
            [*run_as, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"overnight_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        for _ in range(20):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except Exception:  # still in use by a process being torn down
                time.sleep(0.5)
        admin.dispose()

"""Queue throughput and takeover latency, on SQLite and PostgreSQL.

- submits/s: 10,000 tasks queued through ``queue.submit`` (the store part of
  ``overnight submit``, without the git work);
- claims/s: the same 10,000 claimed one by one through ``queue.claim`` (each a
  transaction with a lease and a fencing token; on PostgreSQL one statement),
  goal >= 200/s on each database, and the ratio PostgreSQL/SQLite;
  after ``ANALYZE tasks``, the statistics autovacuum keeps (PostgreSQL plans the
  claim from them; right after a bulk submit they are stale for up to a minute);
- takeover: a worker process holding a task is killed with SIGKILL; the time
  until another worker claims it, against the lease (the floor).

Run: .venv/bin/python benchmarks/queue_throughput.py [--tasks N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from overnight import queue
from overnight.config import ProjectConfig
from overnight.spec import Spec
from overnight.store import Event, Store, open_store

ROOT = Path(__file__).resolve().parent.parent
GOAL = 200.0
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def throughput(store: Store, tasks: int) -> tuple[float, float]:
    spec, config = Spec(title="benchmark task"), ProjectConfig()
    start = time.perf_counter()
    for _ in range(tasks):
        queue.submit(
            store,
            spec,
            "",
            config,
            repo="/nonexistent",
            base_ref="main",
            base_sha="0" * 40,
            agent="command:true",
        )
    submits = tasks / (time.perf_counter() - start)
    with store.engine.begin() as conn:  # the statistics autovacuum keeps within a minute
        conn.execute(text("ANALYZE tasks"))
    start = time.perf_counter()
    claimed = 0
    while queue.claim(store, "bench-worker", lease=3600) is not None:
        claimed += 1
    assert claimed == tasks, claimed
    return submits, claimed / (time.perf_counter() - start)


def takeover(url: str, home: Path, lease: float = 3.0) -> float:
    """Seconds from SIGKILL of the worker holding a task to its claim by another."""
    store = open_store(url)
    repo = home / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    # the agent's marker lives outside the workspace, where a sandbox would hide it
    (repo / "overnight.toml").write_text('environment = "inherit"\nsandbox = "none"\n')
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-qm",
            "init",
        ],
        check=True,
    )
    from overnight.intake import submit_text

    marker = home / "started"
    spec = (
        f"---\ntitle: sleeper\nrepo: {repo}\nregression: none\nacceptance:\n  - run: 'true'\n"
        f"agent: 'command:touch {marker} && sleep 600'\n---\nSleep.\n"
    )
    task_id = submit_text(store, spec, source="s.md", base_dir=home).task.id
    env = {**os.environ, "OVERNIGHT_HOME": str(home), "OVERNIGHT_DATABASE_URL": url}
    overnight = str(Path(sys.executable).with_name("overnight"))
    holder = subprocess.Popen(
        [overnight, "worker", "--lease", str(lease)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if time.monotonic() > deadline or holder.poll() is not None:
            holder.kill()
            raise SystemExit("takeover: the first worker never started the task")
        time.sleep(0.02)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    killed = time.monotonic()
    taker = subprocess.Popen(
        [overnight, "worker", "--lease", str(lease)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            with store.session() as session:
                taken = session.scalars(
                    select(Event).where(
                        Event.task_id == task_id, Event.message.like("%taken over%")
                    )
                ).first()
            if taken:
                return time.monotonic() - killed
            time.sleep(0.05)
    finally:
        taker.send_signal(signal.SIGKILL)
        taker.wait()
        subprocess.run(["pkill", "-f", f"touch {marker}"], check=False)


def postgres_database(server: str) -> str:
    name = f"overnight_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    results = []
    for name in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            os.environ["OVERNIGHT_HOME"] = str(home)
            url = (
                f"sqlite:///{home / 'bench.db'}"
                if name == "sqlite"
                else postgres_database(args.postgres)
            )
            submits, claims = throughput(open_store(url), args.tasks)
            latency = takeover(
                url if name == "sqlite" else postgres_database(args.postgres), home / "takeover"
            )
            results.append((name, submits, claims, latency))
            print(
                f"{name:10} submits/s {submits:8.0f}  claims/s {claims:8.0f}  "
                f"takeover after kill -9 {latency:5.1f} s (lease 3 s)"
            )
    print()
    (_, sqlite_submits, sqlite_claims, _), (_, pg_submits, pg_claims, _) = results
    print(f"claims/s  sqlite {sqlite_claims:6.0f}  postgresql {pg_claims:6.0f}  ", end="")
    print(f"ratio postgresql/sqlite {pg_claims / sqlite_claims:.2f}")
    print(f"submits/s sqlite {sqlite_submits:6.0f}  postgresql {pg_submits:6.0f}  ", end="")
    print(f"ratio postgresql/sqlite {pg_submits / sqlite_submits:.2f}")
    for name, _, claims, latency in results:
        print(f"ratio {name} claims/s / goal {GOAL:.0f}: {claims / GOAL:.2f} (goal >= 1)")
        print(f"ratio {name} takeover / lease: {latency / 3.0:.2f} (floor 1.0)")


if __name__ == "__main__":
    main()

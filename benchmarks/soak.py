"""Soak: many tasks through several worker processes on PostgreSQL, bounded in time.

Each task's agent is a scripted command (``command:``, no sandbox, one cheap
gate), so what is measured is overnight's own work per task: claim, clone,
baseline, agent, gates, delivery, events. It reports throughput (terminal
tasks per minute), the database's growth per task (``pg_database_size`` after
minus before, over the tasks that ended), and that nothing was lost or
duplicated: every task ended exactly once (one terminal event), was claimed
once (one ``claimed`` event, fence 1, one start of one run), and no claim took
a task from a live worker (no takeover). A task still queued or running at the
deadline is reported as unfinished, not lost.

Run: .venv/bin/python benchmarks/soak.py [--tasks 500] [--workers 3] [--slots 2]
     [--minutes 20] [--postgres URL]
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
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from overnight.gates.registry import GATE_NAMES
from overnight.intake import submit_text
from overnight.store import TERMINAL, Event, Run, Store, Task, open_store
from overnight.testing import make_repo

KEEP = {"scope", "acceptance-commands"}
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))


def postgres_database(server: str) -> str:
    name = f"overnight_soak_{uuid.uuid4().hex[:8]}"
    with create_engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def database_size(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def submit_all(store: Store, home: Path, tasks: int) -> None:
    disabled = "".join(f"[gates.{g}]\nenabled = false\n" for g in GATE_NAMES if g not in KEEP)
    repo = make_repo(
        home / "repo",
        {"app.py": "VALUE = 1\n", "overnight.toml": f'environment = "inherit"\n{disabled}'},
    )
    for i in range(tasks):
        spec = (
            f"---\ntitle: soak {i}\nrepo: {repo}\nregression: none\n"
            f"acceptance:\n  - run: 'test -f out-{i}.txt'\n"
            f"agent: 'command:echo {i} > out-{i}.txt'\nbudget: {{attempts: 1}}\n---\n"
            f"Write out-{i}.txt.\n"
        )
        submit_text(store, spec, source=f"soak-{i}.md", base_dir=home)


def run_workers(args: argparse.Namespace, env: dict[str, str]) -> tuple[float, bool]:
    """Seconds the workers ran, and whether they drained before the deadline."""
    command = [OVERNIGHT, "worker", "--drain", "--slots", str(args.slots), "--grace", "30"]
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(args.workers)
    ]
    start = time.monotonic()
    deadline = start + args.minutes * 60
    while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    drained = all(w.poll() is not None for w in workers)
    elapsed = time.monotonic() - start
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)  # stops claiming; running tasks go back to the queue
    for w in workers:
        w.wait(timeout=120)
    return elapsed, drained


def audit(store: Store) -> dict[str, object]:
    """What every task went through, from the store's rows and events."""
    with store.session() as session:
        statuses = Counter(session.scalars(select(Task.status)))
        kinds = session.execute(
            select(Event.task_id, Event.kind, func.count()).group_by(Event.task_id, Event.kind)
        ).all()
        fences = Counter(session.scalars(select(Task.fence)))
        runs = Counter(session.scalars(select(func.count()).select_from(Run).group_by(Run.task_id)))
        starts = Counter(session.scalars(select(Run.claims)))
        takeovers = session.scalar(
            select(func.count()).select_from(Event).where(Event.message.like("%taken over%"))
        )
    ended = Counter(task for task, kind, n in kinds if kind in TERMINAL for _ in range(n))
    claimed = Counter(task for task, kind, n in kinds if kind == "claimed" for _ in range(n))
    return {
        "statuses": dict(statuses),
        "ended twice": sum(1 for n in ended.values() if n > 1),
        "claimed twice": sum(1 for n in claimed.values() if n > 1),
        "fences": dict(fences),
        "runs per task": dict(runs),
        "starts per run": dict(starts),
        "takeovers": takeovers,
        "terminal": sum(n for status, n in statuses.items() if status in TERMINAL),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--slots", type=int, default=2, help="slots per worker")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = postgres_database(args.postgres)
        env = {
            **os.environ,
            "OVERNIGHT_HOME": str(home / "home"),
            "OVERNIGHT_DATABASE_URL": url,
            "OVERNIGHT_SANDBOX": "none",
        }
        os.environ.update(env)
        store = open_store(url)
        before = database_size(store)
        start = time.monotonic()
        submit_all(store, home, args.tasks)
        submitted = time.monotonic() - start
        elapsed, drained = run_workers(args, env)
        found = audit(store)
        after = database_size(store)
        store.engine.dispose()
        with create_engine(args.postgres, isolation_level="AUTOCOMMIT").connect() as conn:
            name = make_url(url).database
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    terminal = int(found["terminal"])  # type: ignore[call-overload]
    print(
        f"{args.tasks} tasks, {args.workers} workers x {args.slots} slots, PostgreSQL; "
        f"submitted in {submitted:.0f} s; workers ran {elapsed:.0f} s "
        f"({'drained' if drained else f'stopped at the {args.minutes:g} min bound'})"
    )
    for key, value in found.items():
        print(f"  {key}: {value}")
    lost = args.tasks - sum(found["statuses"].values())  # type: ignore[attr-defined]
    clean = (
        lost == 0
        and found["ended twice"] == 0
        and found["claimed twice"] == 0
        and found["takeovers"] == 0
        and set(found["starts per run"]) <= {0, 1}  # type: ignore[call-overload]
    )
    print(f"lost {lost}; nothing lost or duplicated: {'yes' if clean else 'NO'}")
    print(f"database growth per task: {(after - before) / max(terminal, 1) / 1024:.1f} KiB")
    print(f"throughput: {terminal / (elapsed / 60):.1f} tasks/min")


if __name__ == "__main__":
    main()

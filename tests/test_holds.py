"""Why a queued task is not running: each rule that holds it (paused queue, spent
daily budget, dependency, concurrency limit, no worker), as `claim` applies it and
as `status`, `show`, the API and the dashboard say it; `worker --drain` stopping on
held tasks; `queue list` and `queue set`; a task that waited for a merge starting
on the base after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from conftest import INHERIT
from sqlalchemy import select

from overnight import queue
from overnight.fleet import set_queue
from overnight.gates.settings import config_from_dict
from overnight.holds import Limits, holds
from overnight.intake import submit_text
from overnight.spec import Spec
from overnight.store import Event, Queue, Run, Store, Task, TaskStatus, Turn, now
from overnight.testing import make_repo
from overnight.views import task_detail
from overnight.web import WebConfig, create_app
from overnight.web.server import background

BOTH_DATABASES = True  # every test here runs on SQLite and on PostgreSQL
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))

TEST_FILE = """from pathlib import Path


def test_{name}():
    assert (Path(__file__).parent.parent / "{name}.txt").exists()
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two acceptance tests: one passes once done.txt exists, the other once two.txt does."""
    return make_repo(
        tmp_path / "proj",
        {
            "notes.txt": "first line\n",
            "tests/test_done.py": TEST_FILE.format(name="done"),
            "tests/test_two.py": TEST_FILE.format(name="two"),
            "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n',
        },
    )


@pytest.fixture
def task(store: Store, repo: Path, tmp_path: Path):
    """Submit a task whose `command:` agent runs ``script`` (bash); returns its id."""
    count = iter(range(1, 1000))

    def submit(script: str = "touch done.txt", test: str = "done", extra: str = "") -> int:
        n = next(count)
        agent = tmp_path / f"agent-{n}.sh"
        agent.write_text(f"set -e\n{script}\n")
        spec = f"""---
title: Task {n}
repo: {repo}
acceptance:
  - tests: tests/test_{test}.py::test_{test}
agent: "command:bash {agent}"
{extra}---
Create {test}.txt at the top of the repository.
"""
        return submit_text(store, spec, source=f"spec-{n}.md", base_dir=tmp_path).task.id

    return submit


def reasons(store: Store, task_id: int) -> list[str]:
    """What `show`, `status --json` and the API say holds the task."""
    with store.session() as session:
        return [h["message"] for h in task_detail(session, store.task(session, task_id))["holds"]]


def claim_holds(store: Store, task_id: int, limits: Limits = queue.NO_LIMITS) -> list[str]:
    """The holds under explicit limits, as a worker with them sees the task."""
    with store.session() as session:
        return [h.message for h in holds(session, [task_id], limits, now()).get(task_id, [])]


def overnight(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVERNIGHT, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        timeout=timeout,
    )


def spend(store: Store, task_id: int, usd: float) -> None:
    """Record a model call costing ``usd`` today on the task's run."""
    with store.session() as session:
        run = session.scalars(select(Run).where(Run.task_id == task_id)).one()
        session.add(
            Turn(
                run_id=run.id,
                attempt=1,
                number=1,
                model="openai:gpt-x",
                cost=usd,
                request={},
                response={},
            )
        )


def test_a_task_in_a_paused_queue_says_so_and_is_claimed_once_resumed(store, task):
    held = task(extra="queue: nightly\n")
    set_queue(store, "nightly", paused=True)

    assert reasons(store, held) == [
        "held: queue nightly paused by hand (overnight queue set nightly --resume)"
    ]
    assert queue.claim(store, "w") is None  # claim agrees: nothing it may take

    set_queue(store, "nightly", paused=False)
    assert claim_holds(store, held) == []
    assert reasons(store, held) == [
        "waiting for a worker: none is running (start one: overnight worker)"
    ]
    claim = queue.claim(store, "w")
    assert claim is not None and claim.task_id == held
    assert reasons(store, held) == []  # running: nothing holds it


def test_a_queue_paused_until_a_time_says_until_when_and_resumes_by_itself(store, task):
    held = task(extra="queue: nightly\n")
    end = (now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    paused = overnight("queue", "set", "nightly", "--pause-until", end.isoformat())
    assert paused.stdout.strip() == f"queue nightly: paused until {end:%Y-%m-%d %H:%M} UTC"
    assert reasons(store, held) == [f"held: queue nightly paused until {end:%Y-%m-%d %H:%M} UTC"]
    assert task_row(store, held)["holds"][0]["until"] == end.isoformat(timespec="seconds")
    assert queue.claim(store, "w") is None

    with store.session() as session:  # the time comes
        session.get(Queue, "nightly").paused_until = now() - timedelta(seconds=1)
    claim = queue.claim(store, "w")
    assert claim is not None and claim.task_id == held

    past = overnight("queue", "set", "nightly", "--pause-until", "2020-01-01T07:00")
    assert past.returncode == 2 and "that is in the past" in past.stderr
    vague = overnight("queue", "set", "nightly", "--pause-until", "tomorrow")
    assert vague.returncode == 2 and "give HH:MM (UTC)" in vague.stderr


def test_many_tasks_of_a_paused_queue_never_hide_the_ones_behind_them(store, task):
    held = task(extra="queue: nightly\npriority: 9\n")
    with store.session() as session:
        row = store.task(session, held)
        spec, text, config = (
            Spec.from_dict(row.spec),
            row.spec_text,
            config_from_dict(row.config),
        )
        where = {
            "repo": row.repo,
            "base_ref": row.base_ref,
            "base_sha": row.base_sha,
            "agent": row.agent,
        }
    for _ in range(queue.CANDIDATES + 10):  # more than a claim looks at
        queue.submit(store, spec, text, config, **where)
    behind = task()
    set_queue(store, "nightly", paused=True)
    claim = queue.claim(store, "w")
    assert claim is not None and claim.task_id == behind


def test_a_spent_daily_budget_holds_its_queue_until_midnight_utc(store, task):
    spender, held = task(extra="queue: nightly\n"), task(extra="queue: nightly\n")
    other = task()
    spend(store, spender, 5.0)
    set_queue(store, "nightly", usd_per_day=5.0)

    message = "held: queue nightly daily budget $5.00 spent (resets 00:00 UTC)"
    assert reasons(store, held) == [message]
    with store.session() as session:
        task_row = task_detail(session, store.task(session, held))
    midnight = (now() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert task_row["holds"][0]["until"] == midnight.isoformat(timespec="seconds")
    claim = queue.claim(store, "w")
    assert claim is not None and claim.task_id == other  # the other queue goes on
    assert queue.claim(store, "w") is None

    set_queue(store, "nightly", usd_per_day=10.0)
    assert claim_holds(store, held) == []


def test_a_task_waiting_for_a_merge_names_the_task_and_its_state(store, task):
    first = task()
    second = task(test="two", extra=f"depends_on: [{{task: {first}, until: merged}}]\n")
    third = task(test="two", extra=f"depends_on: [{first}]\n")

    assert claim_holds(store, second) == [f"waiting for task {first} to be merged (it is queued)"]
    assert claim_holds(store, third) == [f"waiting for task {first} to be ready (it is queued)"]
    with store.session() as session:
        store.task(session, first).status = TaskStatus.READY
    assert claim_holds(store, second) == [f"waiting for task {first} to be merged (it is ready)"]
    assert claim_holds(store, third) == []
    claim = queue.claim(store, "w")
    assert claim is not None and claim.task_id == third  # the one nothing holds


def test_limits_of_the_live_workers_hold_a_task_and_say_which(store, task, repo):
    first, second = task(), task()
    limits = Limits(per_repo=1)
    queue.register_worker(store, "w1", 2, limits)
    assert queue.claim(store, "w1", limits=limits).task_id == first

    assert reasons(store, second) == ["held: repository limit 1 running"]
    assert queue.claim(store, "w1", limits=limits) is None
    assert claim_holds(store, second, Limits(running=1)) == ["held: global limit 1 running"]

    queue.register_worker(store, "w2", 1)  # a live worker without limits may take it
    assert reasons(store, second) == []


def test_a_task_behind_busy_workers_waits_for_a_free_slot(store, task):
    first, second = task(), task()
    queue.register_worker(store, "w1", 1)
    assert queue.claim(store, "w1").task_id == first
    assert reasons(store, second) == ["waiting for a free slot: all 1 worker slot(s) busy"]


def test_status_show_and_queue_list_say_why_a_task_waits(store, task):
    held = task(extra="queue: nightly\n")
    waiting = task(test="two", extra=f"depends_on: [{{task: {held}, until: merged}}]\n")
    set_queue(store, "nightly", paused=True)

    rows = {r["id"]: r for r in json.loads(overnight("status", "--json").stdout)}
    assert [h["kind"] for h in rows[held]["holds"]] == ["queue-paused"]
    assert rows[waiting]["holds"][0]["message"] == (
        f"waiting for task {held} to be merged (it is queued)"
    )
    table = overnight("status").stdout
    assert "held: queue nightly paused by hand (overnight queue set nightly --resume)" in table
    shown = overnight("show", str(waiting), "--no-diff")
    assert f"not running: waiting for task {held} to be merged (it is queued)" in shown.stdout

    listed = json.loads(overnight("queue", "list", "--json").stdout)
    nightly = next(q for q in listed if q["name"] == "nightly")
    assert nightly["state"] == "paused" and nightly["paused_by_hand"]
    assert (nightly["queued"], nightly["running"]) == (1, 0)
    assert next(q for q in listed if q["name"] == "default")["queued"] == 1
    line = next(row for row in overnight("queue", "list").stdout.splitlines() if "nightly" in row)
    assert line.split() == ["nightly", "paused", "by", "hand", "$0.00", "-", "resumed", "1", "0"]


def test_resuming_a_queue_whose_budget_is_spent_says_why_it_stays_paused(store, task):
    spender = task(extra="queue: nightly\n")
    spend(store, spender, 5.0)
    assert overnight("queue", "set", "nightly", "--usd-per-day", "5", "--pause").returncode == 0

    resumed = overnight("queue", "set", "nightly", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == (
        "queue nightly stays paused: $5.00 of $5.00 budget spent today; "
        "raise --usd-per-day or wait until 00:00 UTC"
    )
    raised = overnight("queue", "set", "nightly", "--usd-per-day", "8")
    assert raised.stdout.strip() == "queue nightly: active, $5.00 of $8.00 budget spent today"
    listed = {q["name"]: q for q in json.loads(overnight("queue", "list", "--json").stdout)}
    assert listed["nightly"]["state"] == "active"
    assert listed["nightly"]["spent_today_usd"] == 5.0
    bad = overnight("queue", "set", "nightly", "--usd-per-day", "0")
    assert bad.returncode != 0 and "must be above 0" in bad.stderr


def test_drain_stops_on_held_tasks_and_a_merge_wait_starts_on_the_merged_base(
    store, task, repo, out_dir
):
    """Task 2 waits for task 1 to be merged; `worker --drain` finishes task 1 and
    exits saying so; once task 1 is approved, task 2 runs on a base holding it."""
    first = task()
    second = task(
        f"ls > {out_dir}/seen; test -e done.txt && touch two.txt",
        test="two",
        extra=f"depends_on: [{{task: {first}, until: merged}}]\n",
    )
    paused = task(extra="queue: nightly\n")
    set_queue(store, "nightly", paused=True)
    submitted_base = task_row(store, second)["base_sha"]

    drained = overnight("worker", "--drain", timeout=300)
    assert drained.returncode == 0, drained.stderr
    assert task_row(store, first)["status"] == "ready"
    assert "2 task(s) left queued, held:" in drained.stderr
    assert f"task {second} (Task 2): waiting for task {first} to be merged (it is ready)" in (
        drained.stderr
    )
    assert f"task {paused} (Task 3): held: queue nightly paused by hand" in drained.stderr

    approved = overnight("approve", str(first))
    assert approved.returncode == 0, approved.stderr
    merged = git(repo, "rev-parse", "main")
    assert merged != submitted_base

    again = overnight("worker", "--drain", timeout=300)
    assert again.returncode == 0, again.stderr
    row = task_row(store, second)
    assert row["status"] == "ready", row["failure_reason"]
    assert "done.txt" in (out_dir / "seen").read_text().split()  # it saw task 1's change
    assert row["runs"][0]["base_sha"] == row["base_sha"] == merged
    note = f"base re-pinned to {merged[:10]} (main) after task {first} merged; "
    assert row["runs"][0]["base_note"] == note + f"was {submitted_base[:10]}"
    with store.session() as session:
        kinds = [e.kind for e in session.scalars(select(Event).where(Event.task_id == second))]
    assert kinds.index("base-repinned") < kinds.index("step")  # before any clone is made
    shown = overnight("show", str(second), "--no-diff").stdout
    assert f"  {note}was {submitted_base[:10]}\n" in shown
    with background(create_app(store, WebConfig(base_dir=repo))) as url:
        api = httpx.get(f"{url}/api/tasks/{second}", timeout=30).json()
        page = httpx.get(f"{url}/tasks/{second}", timeout=30).text
    assert api["runs"][0]["base_note"] == row["runs"][0]["base_note"]
    assert f'<p class="muted base-note">{note}' in page


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def task_row(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, session.get(Task, task_id))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()

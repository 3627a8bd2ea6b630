"""The dashboard's pages and fragments, over HTTP (the browser tests drive
the same pages in chromium)."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta

import httpx
from click.testing import CliRunner
from conftest import drain
from sqlalchemy import select, update

from overnight.cli import main
from overnight.fleet import SILENT_AFTER
from overnight.intake import submit_text
from overnight.review_queue import ready_tasks
from overnight.store import Artifact, Event, Run, Task, Worker, now
from overnight.testing import commit_all
from overnight.testing.history import add_worker, populate

from .conftest import Web, mul_agent


def first(web: Web, status: str) -> int:
    with web.store.reading() as session:
        return int(session.scalars(select(Task.id).where(Task.status == status)).first())


def test_task_list_filters_searches_and_pages(web):
    ids = populate(web.store, tasks=130, events=100)

    everything = web.client.get("/tasks").text
    page_two = web.client.get("/tasks/rows", params={"page": 2}).text
    failed = web.client.get("/tasks", params={"status": "failed"}).text
    rows = web.client.get("/api/tasks", params={"per_page": 200}).json()["tasks"]
    search = web.client.get("/tasks/rows", params={"q": f"Task {ids[3]}:"}).text

    assert f'id="task-{ids[-1]}"' in everything and f'id="task-{ids[-51]}"' not in everything
    assert "page 1 of 3 · 130 task(s)" in everything
    assert f'id="task-{ids[-51]}"' in page_two and "page 2 of 3" in page_two
    assert 'data-status="failed"' in failed and 'data-status="ready"' not in failed
    assert search.count('<tr id="task-') == 1 and f'id="task-{ids[3]}"' in search
    recorded = [r for r in rows if r["id"] % 2 == 0 and r["status"] not in ("queued",)]
    assert recorded and all(r["cost_usd"] and r["tokens"] for r in recorded)
    assert all(r["cost_usd"] is None for r in rows if r["id"] % 2)  # a command agent: unknown


def test_task_page_shows_timeline_gates_numbered_diff_and_rendered_pr_body(web):
    populate(web.store, tasks=10, events=0)
    task_id = first(web, "ready")

    html = web.client.get(f"/tasks/{task_id}").text

    assert "Timeline" in html and "baseline" in html and "40.0s" in html
    assert 'data-gate="tests"' in html and 'class="verdict v-pass"' in html
    added = '<td class="code d-add"><span class="mark" aria-hidden="true">+</span>def mul(a, b):'
    assert added in html  # numbered, escaped
    assert "<table>" in html and "<td>PASS</td>" in html  # the PR body's Markdown table
    for action in ("approve", "request-changes", "reject"):
        assert f'action="/tasks/{task_id}/{action}"' in html
    assert f'action="/tasks/{task_id}/cancel"' not in html
    assert f'action="/tasks/{task_id}/rebase"' not in html  # no base known to have moved


def test_rebase_is_offered_once_the_base_branch_moved_and_a_merged_run_says_merged(
    web, mul_spec, tmp_path, calc_repo
):
    task_id = submit_text(
        web.store, mul_spec(mul_agent(tmp_path)).read_text(), source="mul.md", base_dir=tmp_path
    ).task.id
    drain(web.store)
    rebase_form = f'action="/tasks/{task_id}/rebase"'
    unmoved = web.client.get(f"/tasks/{task_id}").text
    refused = web.post_form(f"/tasks/{task_id}/rebase", {}).text
    (calc_repo / "NOTES.md").write_text("the base moves on\n")
    commit_all(calc_repo, "notes")
    moved = web.client.get(f"/tasks/{task_id}").text
    web.post_form(f"/tasks/{task_id}/approve", {})
    merged = web.client.get(f"/tasks/{task_id}").text

    assert 'class="status s-ready"' in unmoved and rebase_form not in unmoved
    assert f"task {task_id} is already on the head of main" in refused
    assert rebase_form in moved
    assert rebase_form not in merged and "s-ready" not in merged
    assert '<h3>Run 1 <span class="muted">(initial)</span> <span class="status s-merged">' in merged


def test_task_page_shows_the_budgets_split_and_what_each_run_spent(web):
    populate(web.store, tasks=10, events=0)
    task_id = first(web, "failed")

    html = web.client.get(f"/tasks/{task_id}").text

    assert "budget 3 attempt(s) in 30 min: agent up to 28 min, grading reserve 2 min" in html
    spent = re.search(r"spent: agent (\S+), gates (\S+) of 30m00s</span>", html)
    assert spent and spent.group(1) == spent.group(2) != "0.0s"  # 40 s steps, one of each


def test_a_gate_log_loads_when_opened(web):
    populate(web.store, tasks=10, events=0)
    task_id = first(web, "failed")
    with web.store.reading() as session:
        log_id = session.scalars(
            select(Artifact.id).where(
                Artifact.task_id == task_id, Artifact.name.like("gate-tests-%")
            )
        ).first()

    html = web.client.get(f"/tasks/{task_id}").text
    log = web.client.get(f"/artifacts/{log_id}").text

    assert f'hx-get="/artifacts/{log_id}"' in html
    assert "$ tests" in log and f'href="/artifacts/{log_id}/raw"' in log


def test_review_queue_puts_the_smallest_change_first(web):
    populate(web.store, tasks=20, events=0)
    with web.store.session() as session:
        ready = list(session.scalars(select(Task.id).where(Task.status == "ready")))
        big = ready[0]
        diff = "diff --git a/app.py b/app.py\n@@ -0,0 +1,300 @@\n" + "+x = 1\n" * 300
        run_ids = select(Run.id).where(Run.task_id == big)
        session.execute(
            update(Artifact)
            .where(Artifact.run_id.in_(run_ids), Artifact.name.like("diff-%"))
            .values(content=diff)
        )

    with web.store.reading() as session:
        order = [item["task"]["id"] for item in ready_tasks(session)]
    html = web.client.get("/review").text

    assert order[-1] == big and set(order) == set(ready)
    assert html.index(f'data-id="{order[0]}"') < html.index(f'data-id="{big}"')
    assert "r-low" in html and "300 changed line(s)" in html and "r-medium" in html
    assert '<tr data-part="size"><td>size</td><td class="num">+3.0</td>' in html  # the why


def test_overnight_review_lists_the_dashboards_queue_in_its_order_with_its_risk(web):
    populate(web.store, tasks=20, events=0)

    listed = json.loads(CliRunner().invoke(main, ["review", "--json"]).output)
    table = CliRunner().invoke(main, ["review"]).output
    queue = web.client.get("/api/review").json()

    ready = [r for r in listed if r["status"] == "ready"]
    assert len(queue) > 1 and any(q["risk_score"] != queue[0]["risk_score"] for q in queue)
    assert [(r["id"], r["risk_level"], r["risk_score"]) for r in ready] == [
        (q["id"], q["risk_level"], q["risk_score"]) for q in queue
    ]
    first = queue[0]
    assert f"{first['risk_level']} {first['risk_score']}" in table.split("\n", 3)[3]


def test_a_worker_is_silent_after_the_same_time_in_the_cli_and_on_the_dashboard(web):
    add_worker(web.store, "beating")
    add_worker(web.store, "quiet")
    with web.store.session() as session:
        quiet = session.get(Worker, "quiet")
        quiet.heartbeat_at = now() - SILENT_AFTER - timedelta(seconds=1)

    shown = CliRunner().invoke(main, ["workers", "--all", "--json"]).output
    api = {w["id"]: w["alive"] for w in web.client.get("/api/workers").json()}
    html = web.client.get("/workers").text

    assert {w["id"]: w["state"] for w in json.loads(shown)} == {
        "beating": "live",
        "quiet": "silent",
    }
    assert api == {"beating": True, "quiet": False}
    assert html.count(">alive</span>") == 1 and "silent" in html


def test_new_task_lint_lists_problems_with_lines_and_disables_queuing(web):
    csrf = web.csrf()

    bad = web.client.post(
        "/new/lint", data={"spec": "---\ntitle: x\nbudjet: 3\n---\nbody\n", "csrf": csrf}
    ).text
    good = web.client.post(
        "/new/lint",
        data={
            "spec": "---\ntitle: Add mul\nacceptance:\n  - run: 'true'\n---\nAdd `mul`.\n",
            "csrf": csrf,
        },
    ).text

    assert "line 3: <strong>error</strong>: unknown field &#39;budjet&#39;" in bad
    assert 'id="queue-button" disabled' in bad
    assert "No problems found." in good and "disabled" not in good


def test_submitting_a_spec_that_cannot_be_queued_keeps_the_text_and_says_why(web):
    response = web.post_form(
        "/new", {"spec": "---\ntitle: Add mul\nacceptance:\n  - run: 'true'\n---\nAdd it.\n"}
    )

    assert response.status_code == 400
    assert "Add it." in response.text and 'class="error"' in response.text


def test_insights_and_workers_pages(web):
    populate(web.store, tasks=60, events=10)
    add_worker(web.store, "host:1:abc", slots=2)

    insights = web.client.get("/insights").text
    workers = web.client.get("/workers").text
    data = web.client.get("/api/insights").json()

    assert "success rate" in insights and "<svg" in insights and "tests" in insights
    assert data["overall"]["tasks"] == 60 and data["failing_gates"][0]["gate"] == "tests"
    assert "host:1:abc" in workers and "0 / 2" in workers


def test_insights_count_tasks_of_unknown_cost_instead_of_adding_zero(web):
    from overnight.task_list import costs

    populate(web.store, tasks=40, events=0)  # odd ids run a command agent: cost unknown
    with web.store.reading() as session:
        ready = list(session.scalars(select(Task.id).where(Task.status == "ready")))
        spent = costs(session, ready)
    unknown = [i for i in ready if spent[i]["usd"] is None]
    known = [spent[i]["usd"] for i in ready if spent[i]["usd"] is not None]
    assert unknown and known

    cost = web.client.get("/api/insights").json()["cost"]["ready"]
    html = web.client.get("/insights").text

    assert cost["unknown"] == len(unknown) and cost["tasks"] == len(known)
    assert abs(cost["usd"] - sum(known) / len(known)) < 1e-9
    assert f"${cost['usd']:.4f} / " in html
    assert f"({len(unknown)} / " in html and "task(s) of unknown cost" in html


def test_events_reach_a_listener_as_they_are_written(web):
    ids = populate(web.store, tasks=3, events=5)
    received: list[dict] = []

    def listen() -> None:
        with httpx.stream("GET", f"{web.url}/api/events", params={"after": 5}, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                    return

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(0.3)
    written = time.monotonic()
    with web.store.session() as session:
        session.add(Event(task_id=ids[0], kind="step", message="gates (attempt 1) started"))
    thread.join(10)

    assert received and received[0]["message"] == "gates (attempt 1) started"
    assert received[0]["task"] == ids[0]
    assert time.monotonic() - written < 2

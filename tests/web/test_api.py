"""The JSON API: every CLI action over HTTP, with the same library underneath."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import drain

from overnight.testing.history import populate

from .conftest import Web, mul_agent


def submit(web: Web, spec: Path) -> int:
    response = web.client.post("/api/tasks", json={"spec": spec.read_text()})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.mark.slow
def test_submit_run_show_logs_and_approve_over_the_api(web, mul_spec, tmp_path, calc_repo):
    task_id = submit(web, mul_spec(mul_agent(tmp_path)))
    assert web.client.get(f"/api/tasks/{task_id}").json()["status"] == "queued"

    drain(web.store)

    task = web.client.get(f"/api/tasks/{task_id}").json()
    assert task["status"] == "ready", task["failure_reason"]
    assert "def mul" in task["diff"]
    assert {g["name"]: g["verdict"] for g in task["runs"][0]["gates"]}["tests"] == "pass"
    logs = web.client.get(f"/api/tasks/{task_id}/logs", params={"gate": "tests"}).json()
    assert logs and "tests" in logs[0]["title"]
    kinds = [e["kind"] for e in web.client.get(f"/api/tasks/{task_id}/events").json()]
    assert kinds[0] == "queued" and kinds[-1] == "ready"
    review = web.client.get("/api/review").json()
    assert [item["id"] for item in review] == [task_id]
    assert review[0]["files"] == ["calc.py", "tests/test_mul.py"]
    assert "1 test file(s) changed" in review[0]["reasons"], review[0]
    assert review[0]["risk_level"] == "low", review[0]["reasons"]
    parts = {p["name"]: p for p in review[0]["parts"]}
    assert "size" in parts and "untested" not in parts, parts  # the change came with its test

    merged = web.client.post(f"/api/tasks/{task_id}/approve", json={"message": "thanks"})

    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged"
    assert "def mul" in (calc_repo / "calc.py").read_text()
    assert web.client.get(f"/api/tasks/{task_id}").json()["pull_request"]["state"] == "merged"


def test_a_spec_with_problems_is_refused_with_each_problem_and_its_line(web):
    response = web.client.post("/api/tasks", json={"spec": "---\ntitel: x\n---\n"})

    assert response.status_code == 422
    problems = response.json()["problems"]
    assert {
        "line": 2,
        "message": "unknown field 'titel' (did you mean 'title'?)",
        "severity": "error",
    } in problems
    assert web.client.get("/api/tasks").json()["total"] == 0


def test_lint_reports_problems_without_queuing(web):
    response = web.client.post("/api/lint", json={"spec": "---\ntitle: improve things\n---\n"})

    body = response.json()
    assert response.status_code == 200 and body["ok"] is False
    assert any("acceptance" in p["message"] for p in body["problems"])


def test_list_filters_searches_and_pages(web):
    ids = populate(web.store, tasks=120, events=10)

    first = web.client.get("/api/tasks", params={"per_page": 50}).json()
    second = web.client.get("/api/tasks", params={"per_page": 50, "page": 2}).json()
    ready = web.client.get("/api/tasks", params={"status": "ready", "per_page": 200}).json()
    found = web.client.get("/api/tasks", params={"q": f"#{ids[7]}"}).json()

    assert first["total"] == 120 and first["pages"] == 3
    assert [t["id"] for t in first["tasks"]] == list(reversed(ids))[:50]
    assert [t["id"] for t in second["tasks"]] == list(reversed(ids))[50:100]
    assert ready["tasks"] and {t["status"] for t in ready["tasks"]} == {"ready"}
    assert ready["total"] == len(ready["tasks"])
    assert [t["id"] for t in found["tasks"]] == [ids[7]]
    failed = next(t for t in first["tasks"] if t["status"] == "failed")
    assert failed["failing_gates"] == ["tests"] and failed["cost_usd"] is None


def test_unknown_task_is_404_and_a_wrong_state_is_409(web):
    populate(web.store, tasks=10, events=0)
    queued = web.client.get("/api/tasks", params={"status": "queued"}).json()["tasks"][0]

    assert web.client.get("/api/tasks/999").status_code == 404
    refused = web.client.post(f"/api/tasks/{queued['id']}/approve", json={})
    assert refused.status_code == 409
    assert "only READY tasks can be approved" in refused.json()["detail"]
    assert (
        web.client.post(
            f"/api/tasks/{queued['id']}/request-changes", json={"message": ""}
        ).status_code
        == 422
    )


def test_cancel_and_retry_a_queued_task(web):
    populate(web.store, tasks=10, events=0)
    queued = web.client.get("/api/tasks", params={"status": "queued"}).json()["tasks"][0]

    cancelled = web.client.post(f"/api/tasks/{queued['id']}/cancel", json={})
    retried = web.client.post(f"/api/tasks/{queued['id']}/retry", json={})

    assert cancelled.json() == {
        "id": queued["id"],
        "status": "cancelled",
        "run": None,
        "merge_sha": None,
    }
    assert retried.json()["status"] == "queued" and retried.json()["run"] == 2


def test_the_openapi_document_describes_every_cli_action(web):
    paths = web.client.get("/api/openapi.json").json()["paths"]

    for path in (
        "/api/tasks",
        "/api/tasks/{task_id}",
        "/api/tasks/{task_id}/logs",
        "/api/tasks/{task_id}/cancel",
        "/api/tasks/{task_id}/approve",
        "/api/tasks/{task_id}/request-changes",
        "/api/tasks/{task_id}/reject",
        "/api/tasks/{task_id}/rebase",
        "/api/review",
        "/api/events",
    ):
        assert path in paths, path
    assert "post" in paths["/api/tasks"] and "get" in paths["/api/tasks"]


# -- bad input: a problem with its line, or a 400 in words; nothing queued -------


def total(web: Web) -> int:
    return int(web.client.get("/api/tasks").json()["total"])


def test_a_spec_over_the_limit_is_refused_with_the_message_the_cli_gives(web, mul_spec):
    text = mul_spec("command:true").read_text() + "Context. " * 12_000
    response = web.client.post("/api/tasks", json={"spec": text})
    linted = web.client.post("/api/lint", json={"spec": text}).json()

    too_long = f"the spec is too long ({len(text):,} characters; at most 100,000 characters)"
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"<api> has 1 error(s): <api>:1: error: {too_long}")
    assert response.json()["problems"][0]["message"].startswith(too_long)
    assert linted["ok"] is False and linted["problems"] == response.json()["problems"]
    assert total(web) == 0


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("priority: 2147483648\n", "'priority' must be at most 2147483647"),
        ("depends_on: 99999999999999999999\n", "'depends_on' names task 99999999999999999999"),
        ("budget: {minutes: .inf}\n", "'budget.minutes' must be at most 10080 (a week)"),
        ("queue: a\nqueue: b\n", "duplicate key 'queue' (first on line 9)"),
        ('queue: "a\\u0000"\n', "'queue' must be one line without control characters"),
        ("setup: pip install\x00\n", "line 9 holds a NUL character: remove it"),
    ],
)
def test_values_the_store_cannot_hold_are_spec_problems_not_server_errors(
    web, mul_spec, extra, says
):
    text = mul_spec("command:true", extra).read_text()
    response = web.client.post("/api/tasks", json={"spec": text})

    assert response.status_code == 422, response.text
    assert any(says in p["message"] for p in response.json()["problems"]), response.json()
    assert total(web) == 0


def test_an_empty_agent_override_is_refused_in_words(web, mul_spec):
    response = web.client.post(
        "/api/tasks", json={"spec": mul_spec("command:true").read_text(), "agent": "  "}
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("agent override: the agent is empty: name one")
    assert total(web) == 0


@pytest.mark.parametrize(
    ("repo", "says"),
    [
        ("file:///etc", "/etc is not a git repository: run 'git init' there"),
        ("/etc", "/etc is not a git repository"),
    ],
)
def test_a_repo_that_is_not_a_git_repository_is_refused_in_words(web, mul_spec, repo, says):
    text = re.sub(r"^repo: .*$", f"repo: {repo}", mul_spec("command:true").read_text(), flags=re.M)
    response = web.client.post("/api/tasks", json={"spec": text})

    assert response.status_code == 400
    assert response.json()["detail"].startswith(says)
    assert total(web) == 0


def test_a_test_patch_leaving_the_repository_is_a_spec_problem(web, mul_spec, tmp_path):
    text = mul_spec("command:true").read_text()
    patch = tmp_path / "test_mul.patch"
    patch.write_text(patch.read_text().replace("b/tests/test_mul.py", "b/../escape.py"))
    response = web.client.post("/api/tasks", json={"spec": text})

    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["message"].startswith(
        "test_patch 'test_mul.patch' touches '../escape.py', a path out of the repository"
    )
    assert total(web) == 0

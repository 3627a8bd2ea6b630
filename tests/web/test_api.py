"""The JSON API: every CLI action over HTTP, with the same library underneath."""

from __future__ import annotations

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
    assert "1 file(s) outside the tests" in review[0]["reasons"], review[0]
    assert review[0]["risk_level"] in ("low", "medium"), review[0]["reasons"]

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

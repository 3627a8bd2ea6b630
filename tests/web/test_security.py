"""Who may use the dashboard, and that nothing stored is ever run as HTML."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from overnight import tokens
from overnight.store import ApiToken, Artifact, Run, Task, Turn, open_store
from overnight.testing.history import populate
from overnight.web import WebConfig, create_app
from overnight.web.security import CSRF_COOKIE

from .conftest import Web, serve


@pytest.fixture
def remote(store, tmp_path):
    """A server that requires tokens, as it does bound off loopback."""
    yield from serve(store, base_dir=tmp_path, require_token=True)


def ready_task(web: Web) -> int:
    """A READY task of the built-in agent (its turns are recorded)."""
    populate(web.store, tasks=20, events=0)
    with web.store.reading() as session:
        query = select(Task.id).where(Task.status == "ready", Task.id % 2 == 0)
        return int(session.scalars(query).first())


def test_off_loopback_every_request_needs_a_token(remote):
    token = tokens.create(remote.store, "ci")

    assert remote.client.get("/api/tasks").status_code == 401
    assert remote.client.get("/tasks").status_code == 401
    assert "Sign in" in remote.client.get("/tasks").text
    assert (
        remote.client.get("/api/tasks", headers={"Authorization": "Bearer ovn_nope"}).status_code
        == 401
    )
    ok = remote.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


def test_a_revoked_token_is_refused(remote):
    token = tokens.create(remote.store)
    tokens.revoke(remote.store, tokens.listing(remote.store)[0].id)

    response = remote.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_signing_in_with_a_token_sets_a_cookie_that_opens_the_pages(remote):
    token = tokens.create(remote.store)
    remote.client.get("/login")

    signed_in = remote.client.post(
        "/login", data={"token": token, "csrf": remote.client.cookies[CSRF_COOKIE]}
    )

    assert signed_in.status_code == 200 and "Tasks" in signed_in.text
    assert remote.client.get("/tasks").status_code == 200


def test_tokens_are_stored_hashed(store):
    token = tokens.create(store, "laptop")

    with store.reading() as session:
        rows = list(session.scalars(select(ApiToken)))
    assert len(rows) == 1 and rows[0].digest == tokens.digest(token) != token
    assert token.encode() not in Path(store.url.split("///")[-1]).read_bytes()


def test_a_client_off_loopback_needs_a_token_even_on_a_loopback_server(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite")
    app = create_app(store, WebConfig())

    async def get(client_host: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(client_host, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return (await c.get("/api/tasks")).status_code

    with ThreadPoolExecutor(1) as pool:  # own event loop: Playwright's may be running here
        assert pool.submit(asyncio.run, get("10.1.2.3")).result() == 401
        assert pool.submit(asyncio.run, get("127.0.0.1")).result() == 200


def test_a_loopback_server_refuses_other_host_names(web):
    response = web.client.get("/tasks", headers={"Host": "attacker.example"})

    assert response.status_code == 400


def test_a_form_post_without_the_csrf_token_is_refused(web):
    task_id = ready_task(web)
    web.csrf()

    missing = web.client.post(f"/tasks/{task_id}/reject", data={"message": "x"})
    wrong = web.client.post(f"/tasks/{task_id}/reject", data={"message": "x", "csrf": "y" * 32})

    assert missing.status_code == 403 and wrong.status_code == 403
    assert web.client.get(f"/api/tasks/{task_id}").json()["status"] == "ready"
    accepted = web.post_form(f"/tasks/{task_id}/reject", {"message": "not needed"})
    assert accepted.status_code == 200  # redirected to the task page
    assert web.client.get(f"/api/tasks/{task_id}").json()["status"] == "rejected"


def test_a_cross_site_post_is_refused_even_with_the_token(web):
    task_id = ready_task(web)

    response = web.client.post(
        f"/tasks/{task_id}/reject",
        data={"message": "x", "csrf": web.csrf()},
        headers={"Origin": "http://attacker.example"},
    )

    assert response.status_code == 403
    assert web.client.get(f"/api/tasks/{task_id}").json()["status"] == "ready"


def test_an_api_post_that_a_cross_site_form_could_send_is_refused(web):
    task_id = ready_task(web)
    with httpx.Client(base_url=web.url) as client:  # no cookies: like another site's form
        as_form = client.post(f"/api/tasks/{task_id}/reject", data={"message": "x"})
        as_text = client.post(
            f"/api/tasks/{task_id}/reject", content=b"{}", headers={"Content-Type": "text/plain"}
        )

    assert as_form.status_code == 403 and as_text.status_code == 403
    assert web.client.get(f"/api/tasks/{task_id}").json()["status"] == "ready"


def test_script_in_a_transcript_log_and_title_is_shown_as_text(web):
    task_id = ready_task(web)
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    with web.store.session() as session:
        session.execute(update(Artifact).where(Artifact.task_id == task_id).values(content=evil))
        session.execute(update(Task).where(Task.id == task_id).values(title=evil, spec_text=evil))
        runs = select(Run.id).where(Run.task_id == task_id)
        session.execute(
            update(Turn)
            .where(Turn.run_id.in_(runs))
            .values(output=evil, content=evil, command=evil)
        )
        log_id = session.scalars(select(Artifact.id).where(Artifact.task_id == task_id)).first()

    pages = [
        web.client.get(f"/tasks/{task_id}").text,
        web.client.get(f"/artifacts/{log_id}").text,
        web.client.get("/tasks").text,
        web.client.get("/review").text,
    ]

    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html or "&lt;script&gt;alert(&#39;x&#39;)" in html
    raw = web.client.get(f"/artifacts/{log_id}/raw")
    assert raw.headers["content-type"].startswith("text/plain")
    assert raw.headers["x-content-type-options"] == "nosniff"


def test_pages_forbid_inline_scripts(web):
    policy = web.client.get("/tasks").headers["content-security-policy"]

    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_secrets_in_logs_are_masked(web):
    task_id = ready_task(web)
    with web.store.session() as session:
        session.execute(
            update(Artifact)
            .where(Artifact.task_id == task_id)
            .values(
                content="OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz0123 password: hunter2hunter"
            )
        )
        log_id = session.scalars(select(Artifact.id).where(Artifact.task_id == task_id)).first()

    shown = web.client.get(f"/artifacts/{log_id}").text
    api = web.client.get(f"/api/tasks/{task_id}/logs").text

    for text in (shown, api):
        assert "abcdefghijklmnop" not in text and "hunter2hunter" not in text

"""End to end in a real browser (Debian's chromium, driven by Playwright):
submit a spec from the page, watch it go from queued to READY live while a
worker runs it, open its diff and gate logs, approve it and see it merged;
reject another with a comment. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from overnight.store import Store
from overnight.worker import Worker

from .conftest import Web, mul_agent, screenshot, serve

XSS = "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'>"


@contextmanager
def worker(store: Store) -> Iterator[Worker]:
    w = Worker(store, slots=2, poll=0.1, lease=10)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        yield w
    finally:
        w.stop()
        w.stop()
        thread.join(60)


@pytest.mark.slow
def test_submit_watch_approve_and_reject_in_the_browser(store, page, mul_spec, tmp_path, calc_repo):
    for web in serve(store, base_dir=tmp_path):
        other = submit_by_api(
            web, mul_spec(mul_agent(tmp_path / "other", say=XSS), name="other.md").read_text()
        )
        spec = mul_spec(mul_agent(tmp_path)).read_text()

        page.goto(f"{web.url}/new")
        page.fill("#spec", "---\ntitle: x\nbudjet: 1\n---\n")
        expect(page.locator(".problems")).to_contain_text("unknown field 'budjet'")
        expect(page.locator("#queue-button")).to_be_disabled()
        page.fill("#spec", spec)
        expect(page.locator("#queue-button")).to_be_enabled()
        screenshot(page, "new-task")
        page.click("#queue-button")

        expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
        status = page.locator("#task-live .meta .status").first
        expect(status).to_have_text("queued")
        page.evaluate("window.sameDocument = true")
        with worker(store):
            expect(status).to_have_text("running", timeout=30_000)
            expect(status).to_have_text("ready", timeout=120_000)
            assert page.evaluate("window.sameDocument") is True  # live, not reloaded

            expect(page.locator("pre.diff")).to_contain_text("def mul(a, b):")
            page.locator("details.log summary", has_text="log of tests").first.click()
            expect(page.locator("details.log[open] .log-text").first).to_contain_text("passed")
            screenshot(page, "task-ready")

            page.click("button[data-action=approve]")
            expect(status).to_have_text("merged")
            expect(page.locator(".pr > h2")).to_contain_text("merged as")
            assert "def mul" in (calc_repo / "calc.py").read_text()

            page.goto(f"{web.url}/workers")
            expect(page.locator("#worker-rows")).to_contain_text("alive")
            screenshot(page, "workers")
            page.goto(f"{web.url}/tasks")
            expect(page.locator(f"#task-{other}")).to_have_attribute(
                "data-status", "ready", timeout=120_000
            )
        screenshot(page, "tasks")
        page.goto(f"{web.url}/review")
        expect(page.locator("tr.review-item")).to_have_count(1)
        screenshot(page, "review")
        page.keyboard.press("o")
        expect(page).to_have_url(f"{web.url}/tasks/{other}")

        page.locator("details.log summary", has_text="attempt 1").first.click()
        expect(page.locator("details.log[open] .log-text").first).to_contain_text("<script>")
        assert page.evaluate("window.pwned") is None  # shown as text, never run
        page.fill("#reject-message", "Not needed: mul exists upstream.")
        page.click("button[data-action=reject]")
        expect(page.locator("#task-live .meta .status").first).to_have_text("rejected")
        expect(page.locator(".reviews")).to_contain_text("Not needed: mul exists upstream.")

        page.goto(f"{web.url}/insights")
        screenshot(page, "insights")


def submit_by_api(web: Web, text: str) -> int:
    response = web.client.post("/api/tasks", json={"spec": text})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])

"""Fixtures for the dashboard tests: a real server on loopback (uvicorn on a
thread, as `overnight serve` runs it) over a test's own store, an HTTP client
that carries the page's CSRF token, and Debian's chromium driven by Playwright.

The browser tests FAIL (never skip) when /usr/bin/chromium is missing: `make
test` installs it (scripts/install-browser.sh); Playwright's own browser
download cannot work here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from overnight.store import Artifact, GateResult, Run, Store, Task
from overnight.testing.history import populate
from overnight.web import WebConfig, create_app
from overnight.web.security import CSRF_COOKIE
from overnight.web.server import background

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


APPEND_MUL = (
    "grep -q 'def mul' calc.py || printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"
)


def mul_agent(tmp_path: Path, say: str = "") -> str:
    """A `command:` agent that adds mul() to calc.py, printing ``say`` first
    (its output is the run's agent transcript)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "agent.sh"
    script.write_text(f"set -e\ncat <<'SAID'\n{say}\nSAID\n{APPEND_MUL}\n")
    return f"command:bash {script}"


@dataclass
class Web:
    url: str
    client: httpx.Client
    store: Store

    def csrf(self) -> str:
        """This client's CSRF token (the cookie set on its first page)."""
        if CSRF_COOKIE not in self.client.cookies:
            self.client.get("/tasks")
        return str(self.client.cookies[CSRF_COOKIE])

    def post_form(self, path: str, data: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf(), **data})


def serve(store: Store, **config: Any) -> Iterator[Web]:
    app = create_app(store, WebConfig(**{"poll": 0.05, **config}))
    with (
        background(app) as url,
        httpx.Client(base_url=url, timeout=30, follow_redirects=True) as client,
    ):
        yield Web(url, client, store)


@pytest.fixture
def web(store: Store, tmp_path: Path) -> Iterator[Web]:
    yield from serve(store, base_dir=tmp_path)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install-browser.sh as root "
            "(`make test` does), or apt-get install chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"web-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ready_task(store: Store, diff: str | None = None, advisory: str | None = None) -> int:
    """A READY task of a made-up history; ``diff`` replaces its delivered diff,
    ``advisory`` makes that gate of its last attempt an advisory failure."""
    populate(store, tasks=10, events=0)
    with store.session() as session:
        task_id, run_id, attempts = session.execute(
            select(Task.id, Run.id, Run.attempts).join(Run).where(Task.status == "ready")
        ).first()
        if diff is not None:
            session.execute(
                update(Artifact)
                .where(Artifact.run_id == run_id, Artifact.name.like("diff-%"))
                .values(content=diff)
            )
        if advisory:
            session.execute(
                update(GateResult)
                .where(GateResult.run_id == run_id, GateResult.attempt == attempts)
                .where(GateResult.name == advisory)
                .values(blocking=False, verdict="fail")
            )
    return int(task_id)

"""A running agent's output on the dashboard: the event stream delivers its
first line while the attempt still runs (HTTP client against the real app,
under a real worker), the JSON endpoint lists the chunks, and the task page
shows them live in chromium."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import INHERIT
from playwright.sync_api import expect

from overnight.intake import submit_text
from overnight.store import Store
from overnight.testing import make_repo
from overnight.worker import Worker

from .conftest import Web, screenshot, serve

TEST_DONE = """from pathlib import Path


def test_done():
    assert (Path(__file__).parent.parent / "done.txt").exists()
"""


@pytest.fixture
def slow_task(store: Store, tmp_path: Path) -> Callable[[Path], int]:
    """Queue a task whose `command:` agent prints a line, then waits for the file
    ``go`` before it prints the last one and finishes; returns its id."""

    def submit(go: Path) -> int:
        repo = make_repo(
            tmp_path / "proj",
            {
                "tests/test_done.py": TEST_DONE,
                "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n',
            },
        )
        agent = tmp_path / "agent.sh"
        agent.write_text(
            "set -e\necho 'first line <b>not markup</b>'\nsleep 0.2\necho 'second line'\n"
            f"until [ -e {go} ]; do sleep 0.1; done\necho 'last line'\ntouch done.txt\n"
        )
        spec = f"""---
title: Write done.txt slowly
repo: {repo}
acceptance:
  - tests: tests/test_done.py::test_done
agent: "command:bash {agent}"
---
Create done.txt at the top of the repository.
"""
        return submit_text(store, spec, source="slow.md", base_dir=tmp_path).task.id

    return submit


@contextmanager
def running(store: Store) -> Iterator[Worker]:
    worker = Worker(store, poll=0.05, lease=10)
    thread = threading.Thread(target=worker.run, kwargs={"drain": True}, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        worker.stop()
        thread.join(60)


def status(store: Store, task_id: int) -> str:
    with store.reading() as session:
        return store.task(session, task_id).status


def test_the_output_stream_sends_the_first_line_before_the_attempt_ends(
    web: Web, slow_task, tmp_path
):
    go = tmp_path / "go"
    task_id = slow_task(go)
    texts: list[str] = []
    ended = False
    with (
        running(web.store),
        web.client.stream("GET", f"/api/tasks/{task_id}/output/stream") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event == "output":
                data = json.loads(line[len("data: ") :])
                assert (data["run"], data["attempt"]) == (1, 1)
                texts.append(data["text"])
                if "first line" in "".join(texts) and not go.exists():
                    assert status(web.store, task_id) == "running"  # the agent waits for go
                    go.touch()
            elif event == "end":
                ended = True
                break
        deadline = time.monotonic() + 60
        while status(web.store, task_id) == "running" and time.monotonic() < deadline:
            time.sleep(0.1)

    text = "".join(texts)
    assert ended and go.exists()
    assert text.index("first line") < text.index("second line") < text.index("last line")
    assert text.startswith("$ bash ") and "[exited 0 after" in text
    assert status(web.store, task_id) == "ready"
    chunks = web.client.get(f"/api/tasks/{task_id}/output").json()
    assert "".join(c["text"] for c in chunks) == text
    later = web.client.get(f"/api/tasks/{task_id}/output", params={"after": chunks[0]["id"]})
    assert [c["id"] for c in later.json()] == [c["id"] for c in chunks[1:]]


def test_the_output_stream_of_an_unknown_task_is_a_404(web: Web):
    response = web.client.get("/api/tasks/999/output/stream")
    assert response.status_code == 404 and "no task 999" in response.json()["detail"]


@pytest.mark.slow
def test_the_task_page_shows_the_agent_output_while_it_runs(store, page, slow_task, tmp_path):
    go = tmp_path / "go"
    task_id = slow_task(go)
    for web in serve(store, base_dir=tmp_path):
        page.goto(f"{web.url}/tasks/{task_id}")
        output = page.locator("#live-output-text")
        with running(store):
            expect(output).to_contain_text("first line <b>not markup</b>", timeout=60_000)
            expect(page.locator("#task-live .meta .status").first).to_have_text("running")
            screenshot(page, "live-output")
            assert not go.exists()
            go.touch()
            expect(output).to_contain_text("last line", timeout=60_000)
            expect(page.locator("#live-output-state")).to_contain_text(
                "ended: the full transcript", timeout=60_000
            )
        assert "── run 1 · attempt 1 ──" in output.inner_text()

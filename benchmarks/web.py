"""Dashboard speed with a big history, and how fast an event reaches a browser.

What is measured, on a store holding 10,000 tasks (every state, with runs,
steps, gate results, logs and diffs) and 100,000 events:

* server time of the task list (first page, a status filter, a search, a deep
  page) and of a task page, as the round trip over loopback to the real server
  (uvicorn on a thread, as `overnight serve` runs it): median and p95 of N
  requests each after a warm-up. Goal: under 300 ms each.
* event latency: a step event written to the store as a worker's recorder
  writes it → received by a connected browser's EventSource (Debian's
  chromium via Playwright), and → the task page's live part re-rendered.
  Without chromium, an SSE client over HTTP stands in for the browser.

The last lines are the figures against the goal (ratio = measured / goal).

    .venv/bin/python benchmarks/web.py [--tasks 10000] [--events 100000] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from overnight.store import Event, Store, open_store
from overnight.testing.history import add_worker, populate
from overnight.web import WebConfig, create_app
from overnight.web.server import background

GOAL_MS = 300.0
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def timed(client: httpx.Client, path: str, runs: int) -> list[float]:
    client.get(path).raise_for_status()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


SWAPS = """() => { window.swaps = [];
    document.body.addEventListener('htmx:afterSettle', () => window.swaps.push(Date.now())); }"""


def write_step(store: Store, task_id: int, n: int) -> tuple[float, int]:
    """Write the event a worker's recorder writes when a step starts; returns
    when the write began (epoch seconds) and the event's id."""
    began = time.time()
    with store.session() as session:
        event = Event(task_id=task_id, kind="step", message=f"bench step {n} started")
        session.add(event)
        session.flush()
        return began, event.id


def browser_latency(
    store: Store, url: str, task_id: int, runs: int
) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    delivered, rendered = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(bypass_csp=True)  # wait_for_function evaluates strings
        page.goto(f"{url}/tasks/{task_id}")
        page.evaluate(SWAPS)
        page.wait_for_function("document.getElementById('live-dot').classList.contains('on')")
        for n in range(runs):
            swaps = page.evaluate("window.swaps.length")
            began, event_id = write_step(store, task_id, n)
            found = f"window.overnightEvents.find(e => e.id === {event_id})"
            page.wait_for_function(f"!!{found}")
            page.wait_for_function(f"window.swaps.length > {swaps}")
            delivered.append(page.evaluate(f"{found}.at") - began * 1000)
            rendered.append(page.evaluate(f"window.swaps[{swaps}]") - began * 1000)
            time.sleep(0.3)
        browser.close()
    return delivered, rendered


def _write_into(began: list[float], store: Store, task_id: int, n: int) -> None:
    began.append(write_step(store, task_id, n)[0])


def sse_latency(store: Store, url: str, task_id: int, runs: int) -> list[float]:
    out: list[float] = []
    with httpx.stream("GET", f"{url}/api/events", timeout=30) as response:
        lines = response.iter_lines()
        for n in range(runs):
            began: list[float] = []
            writer = threading.Thread(target=_write_into, args=(began, store, task_id, n))
            writer.start()
            for line in lines:
                if line.startswith("data: ") and f"bench step {n} " in line:
                    writer.join()
                    out.append((time.time() - began[0]) * 1000)
                    break
    return out


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{name:<34} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="overnight-web-bench-"))
    os.environ["OVERNIGHT_HOME"] = str(home)
    store = open_store(f"sqlite:///{home}/overnight.db")
    start = time.perf_counter()
    ids = populate(store, tasks=args.tasks, events=args.events)
    add_worker(store)
    size = (home / "overnight.db").stat().st_size / 2**20
    print(
        f"store: {args.tasks:,} tasks, {args.events:,} events, {size:.0f} MiB "
        f"(written in {time.perf_counter() - start:.1f} s)"
    )
    with store.reading() as session:
        from overnight.store import Task

        task_id = (
            session.query(Task.id)
            .filter(Task.status == "ready", Task.id > ids[len(ids) // 2])
            .first()[0]
        )
    app = create_app(store, WebConfig(base_dir=home))
    results: dict[str, list[float]] = {}
    with background(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        pages = {
            "task list, first page": "/tasks",
            "task list, status=failed": "/tasks?status=failed",
            "task list, search": "/tasks?q=feature+12",
            f"task list, page {args.tasks // 100}": f"/tasks?page={args.tasks // 100}",
            "task list rows (live refresh)": "/tasks/rows",
            "task page": f"/tasks/{task_id}",
            "task page live part": f"/tasks/{task_id}/live",
            "API task list": "/api/tasks",
            "API task": f"/api/tasks/{task_id}",
            "review queue (500 READY)": "/review",
            "insights": "/insights",
        }
        for name, path in pages.items():
            results[name] = timed(client, path, args.runs)
            print(summary(name, results[name]))
        if os.access(CHROMIUM, os.X_OK):
            delivered, rendered = browser_latency(store, url, task_id, args.runs)
            latency = {
                "event → browser (EventSource)": delivered,
                "event → task page re-rendered": rendered,
            }
        else:
            print("(no chromium: an SSE client stands in for the browser)", file=sys.stderr)
            latency = {"event → SSE client": sse_latency(store, url, task_id, args.runs)}
        for name, times in latency.items():
            print(summary(name, times))
    print("--- against the goal (server time < 300 ms) ---")
    for name in (
        "task list, first page",
        "task list, status=failed",
        "task list, search",
        "task page",
    ):
        median = statistics.median(results[name])
        print(f"{name}: {median:.1f} ms, ratio to goal {median / GOAL_MS:.2f}")
    worst = max(statistics.median(results[n]) for n in pages)
    print(f"slowest page measured: {worst:.1f} ms, ratio to goal {worst / GOAL_MS:.2f}")
    for name, times in latency.items():
        print(f"{name}: median {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()

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
from sqlalchemy import select, update

from overnight.store import Artifact, GateResult, Run, Store
from overnight.testing.history import populate
from overnight.worker import Worker

from .conftest import Web, mul_agent, ready_task, screenshot, serve

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

            expect(page.locator(".diff-file[data-path='calc.py']")).to_contain_text(
                "def mul(a, b):"
            )
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


# -- reading a task: checks, logs, diff, insights, review (a made-up history) ---


def test_a_log_opens_full_width_searchable_with_a_link_to_each_line(store, page, tmp_path):
    task_id = ready_task(store, advisory="lint")
    log = "\n".join(["$ pytest -q"] + [f"test_{i} ok" for i in range(60)] + ["60 passed"])
    log_id = set_log(store, task_id, "tests", log)
    for web in serve(store, base_dir=tmp_path):
        page.goto(f"{web.url}/tasks/{task_id}")
        expect(page.locator("section.checks")).to_contain_text(
            "All 4 blocking gates passed, 1 advisory warning (lint)"
        )
        expect(page.locator("tr.gate[data-gate=lint] .verdict")).to_have_text("warn")

        page.locator("details.log summary", has_text="log of tests").click()
        viewer = page.locator(f"#log-{log_id} .log-text")
        expect(viewer.locator(".ll")).to_have_count(62)
        table = page.locator("table.gates").first.bounding_box()
        assert viewer.bounding_box()["width"] > 0.9 * table["width"]  # not in a narrow cell

        page.locator(f"#log-{log_id} .log-search").fill("TEST_4")
        expect(viewer.locator(".ll:visible")).to_have_count(11)  # test_4, test_40 … test_49
        expect(viewer.locator("mark").first).to_have_text("test_4")
        expect(page.locator(f"#log-{log_id} .log-count")).to_have_text("11 matching line(s)")
        screenshot(page, "log-search")
        page.locator(f"#log-{log_id} .log-search").fill("")
        expect(viewer.locator(".ll:visible")).to_have_count(62)
        assert viewer.locator("mark").count() == 0

        viewer.locator("a.ln").nth(41).click()
        expect(page).to_have_url(f"{web.url}/logs/{log_id}#L42")
        assert page.evaluate("document.querySelector(':target').textContent") == "test_40 ok"
        target = page.locator("#L42").bounding_box()
        assert 0 <= target["y"] < 900  # scrolled into view
        screenshot(page, "log-page")


def test_the_diff_lists_files_folds_them_and_switches_to_split_and_back(store, page, tmp_path):
    task_id = ready_task(store, diff=BROWSER_DIFF)
    for web in serve(store, base_dir=tmp_path):
        page.goto(f"{web.url}/tasks/{task_id}")
        files = page.locator("ul.diff-files li")
        expect(files).to_have_count(2)
        expect(files.nth(0)).to_have_text("calc.py +2 −1")
        assert page.evaluate("window.pwned") is None
        expect(page.locator("#diff-f2 summary")).to_contain_text("<img src=x onerror=pwned=1>.md")

        page.locator("#diff-f1 > summary").click()  # fold
        expect(page.locator("#diff-f1 table")).to_be_hidden()
        page.locator("#diff-f1 > summary").click()
        row = page.locator("#diff-f1 tr.d-del")
        expect(row).to_contain_text("return a + b")
        assert (
            row.locator("td.ln").first.evaluate("e => getComputedStyle(e, '::before').content")
            == '"2"'
        )

        page.get_by_role("link", name="Split").click()
        expect(page).to_have_url(re.compile(r"view=split#diff$"))
        side = page.locator("#diff-f1 table.split tr", has_text="return a + b")
        expect(side.locator("td.code")).to_have_count(2)  # removed and added on one row
        cells = side.locator("td.code").all()
        assert cells[0].bounding_box()["x"] < cells[1].bounding_box()["x"]
        screenshot(page, "diff-split")
        page.evaluate(f"htmx.trigger(document.body, 'ov-task-{task_id}')")  # a live refresh
        page.wait_for_timeout(500)
        expect(page.locator("#diff-f1 table.split")).to_be_visible()  # keeps its layout
        page.get_by_role("link", name="Unified").click()
        expect(page.locator("#diff-f1 table.unified")).to_be_visible()


def test_insights_numbers_sit_under_their_headers_and_no_chart_label_is_cut(store, page, tmp_path):
    populate(store, tasks=60, events=0)
    for web in serve(store, base_dir=tmp_path):
        page.goto(f"{web.url}/insights")
        screenshot(page, "insights-read")
        misplaced = page.evaluate(ALIGNMENT)
        assert misplaced == [], misplaced
        cut = page.evaluate(CLIPPED)
        assert cut == [], cut


def test_the_review_queue_says_why_a_change_is_risky(store, page, tmp_path):
    auth = ready_task(store, diff=AUTH_DIFF)
    for web in serve(store, base_dir=tmp_path):
        page.goto(f"{web.url}/review")
        row = page.locator(f"tr.review-item[data-id='{auth}']")
        expect(page.locator("tr.review-item").last).to_have_attribute("data-id", str(auth))
        badge = row.locator(".risk")
        expect(badge).to_have_text(re.compile(r"^medium \d\.\d$"))
        assert "sensitive 2.5" in badge.get_attribute("title")
        row.locator("details.why summary").click()
        expect(row.locator("tr[data-part=sensitive]")).to_contain_text("app/auth.py")
        screenshot(page, "review-why")


def set_log(store: Store, task_id: int, gate: str, text: str) -> int:
    with store.session() as session:
        log_id = session.scalars(
            select(GateResult.log_id)
            .join(Run)
            .where(Run.task_id == task_id, GateResult.name == gate)
            .order_by(GateResult.attempt.desc())
        ).first()
        session.execute(update(Artifact).where(Artifact.id == log_id).values(content=text))
    return int(log_id)


BROWSER_DIFF = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,3 +1,4 @@
 def add(a, b):
-    return a + b
+    return a + b  # </td><script>window.pwned = 1</script>
+
 x = 1
diff --git "a/<img src=x onerror=pwned=1>.md" "b/<img src=x onerror=pwned=1>.md"
new file mode 100644
--- /dev/null
+++ "b/<img src=x onerror=pwned=1>.md"
@@ -0,0 +1 @@
+<img src=x onerror="window.pwned = 2">
"""
AUTH_DIFF = """diff --git a/app/auth.py b/app/auth.py
--- a/app/auth.py
+++ b/app/auth.py
@@ -10,1 +10,3 @@
-    if user.password == given:
+    if hmac.compare_digest(user.password, given):
+        audit(user)
+        return True
"""

# the right edge of each number cell's text against its header's (text-align:
# right on both); a number under another header is off by a column's width
ALIGNMENT = """() => {
  const edge = (cell) => { const r = document.createRange(); r.selectNodeContents(cell);
                           return r.getBoundingClientRect(); };
  const out = [];
  for (const table of document.querySelectorAll("table.insights")) {
    const heads = Array.from(table.querySelectorAll("thead th"));
    for (const row of table.querySelectorAll("tbody tr")) {
      const cells = Array.from(row.children);
      if (cells.length !== heads.length) { continue; }
      cells.forEach((cell, i) => {
        const h = edge(heads[i]), c = edge(cell);
        const inside = c.left >= heads[i].getBoundingClientRect().left - 1
                    && c.right <= heads[i].getBoundingClientRect().right + 1;
        const sameSide = Math.abs(h.right - c.right) < 2 || Math.abs(h.left - c.left) < 2;
        if (!inside || !sameSide) { out.push([heads[i].textContent, cell.textContent]); }
      });
    }
  }
  return out;
}"""

# every label of every chart drawn inside its SVG's viewBox
CLIPPED = """() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg.chart")) {
    const v = svg.viewBox.baseVal;
    for (const t of svg.querySelectorAll("text")) {
      const b = t.getBBox();
      const right = v.x + v.width, bottom = v.y + v.height;
      if (b.x < v.x || b.y < v.y || b.x + b.width > right || b.y + b.height > bottom) {
        out.push([t.textContent, b.x, b.y, b.width, b.height, v.width, v.height]);
      }
    }
  }
  return out;
}"""

"""What the task page shows is true and complete: the checks summed up in one
box (advisory findings as warnings), logs full width with numbered, linkable
lines, and the diff as files with counts, numbered lines and two layouts,
everything agent-written escaped. Over HTTP; tests/web/test_browser.py drives
the same pages in chromium."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import select, update

from overnight.store import Artifact, Run, Task
from overnight.testing.history import populate

from .conftest import ready_task

XSS_DIFF = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,3 +1,3 @@
 def add(a, b):
-    return a + b
+    return a + b  # </td><script>window.pwned = 1</script>
 x = 1
diff --git "a/<img src=x onerror=alert(1)>.md" "b/<img src=x onerror=alert(1)>.md"
new file mode 100644
--- /dev/null
+++ "b/<img src=x onerror=alert(1)>.md"
@@ -0,0 +1,2 @@
+# Title
+<b>bold</b>
"""


def test_the_checks_box_sums_up_the_gates_and_an_advisory_finding_is_a_warning(web):
    task_id = ready_task(web.store, advisory="lint")

    html = web.client.get(f"/tasks/{task_id}").text
    shown = web.client.get(f"/api/tasks/{task_id}").json()

    box = re.search(r'<section class="checks c-(\w+)".*?</section>', html, re.S)
    assert box and box.group(1) == "warn"
    assert "All 4 blocking gates passed, 1 advisory warning (lint)" in box.group(0)
    assert html.index('class="checks') < html.index("Timeline")  # at the top
    lint_row = re.search(r'<tr class="gate" data-gate="lint">.*?</tr>', html, re.S).group(0)
    assert 'class="verdict v-warn"' in lint_row and "v-fail" not in lint_row
    assert shown["checks"]["line"] == "All 4 blocking gates passed, 1 advisory warning (lint)"


def test_a_failed_task_names_its_failed_blocking_gates_in_the_box(web):
    populate(web.store, tasks=10, events=0)
    with web.store.reading() as session:
        task_id = session.scalars(select(Task.id).where(Task.status == "failed")).first()

    html = web.client.get(f"/tasks/{task_id}").text

    assert '<section class="checks c-fail"' in html
    assert "1 of 5 blocking gates failed: tests" in html


def test_the_diff_is_a_file_list_with_counts_and_numbered_lines_all_escaped(web):
    task_id = ready_task(web.store, diff=XSS_DIFF)

    unified = web.client.get(f"/tasks/{task_id}").text
    split = web.client.get(f"/tasks/{task_id}", params={"view": "split"}).text

    files = re.search(r'<ul class="diff-files">(.*?)</ul>', unified, re.S).group(1)
    assert (
        '<a href="#diff-f1">calc.py</a> <span class="n-add">+1</span> <span class="n-del">−1</span>'
        in files
    )
    assert '&lt;img src=x onerror=alert(1)&gt;.md</a> <span class="n-add">+2</span>' in files
    assert "<script>" not in unified and "<img" not in unified and "<b>bold" not in unified
    assert "&lt;/td&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in unified
    assert (
        '<td class="ln" data-ln="2"></td><td class="ln" data-ln=""></td><td class="code d-del">'
        in unified
    )
    assert (
        '<td class="ln" data-ln=""></td><td class="ln" data-ln="2"></td><td class="code d-add">'
        in unified
    )
    assert '<details class="diff-file" id="diff-f2"' in unified
    assert (
        '<table class="diff-table unified">' in unified and 'aria-current="true">Unified' in unified
    )
    # split: the removed line beside the added one, on one row
    row = re.search(
        r"<tr>\s*<td class=\"ln\" data-ln=\"2\"></td><td class=\"code d-del\">.*?</tr>", split, re.S
    )
    assert row and '<td class="ln" data-ln="2"></td><td class="code d-add">' in row.group(0)
    assert (
        'aria-current="true">Split' in split
        and 'hx-get="/tasks/' + str(task_id) + '/live?view=split"' in split
    )


def test_a_log_has_numbered_lines_each_with_a_link_and_a_page_of_its_own(web):
    task_id = ready_task(web.store)
    with web.store.session() as session:
        log_id = session.scalars(
            select(Artifact.id).where(
                Artifact.task_id == task_id, Artifact.name.like("gate-tests-%")
            )
        ).first()
        session.execute(
            update(Artifact)
            .where(Artifact.id == log_id)
            .values(content="$ pytest\n<b>1 passed</b>\n")
        )

    html = web.client.get(f"/tasks/{task_id}").text
    fragment = web.client.get(f"/artifacts/{log_id}").text
    full = web.client.get(f"/logs/{log_id}").text

    more = re.search(r'<tr class="gate-more" data-gate="tests">\s*<td colspan="6">', html)
    assert more and f'hx-get="/artifacts/{log_id}"' in html[more.end() : more.end() + 400]
    assert f'<a class="ln" href="/logs/{log_id}#L2" data-ln="2"' in fragment
    assert '<span class="lt">&lt;b&gt;1 passed&lt;/b&gt;</span>' in fragment
    assert 'class="log-search"' in fragment and "2 line(s)" in fragment
    assert '<div class="ll" id="L2"><a class="ln" href="#L2" data-ln="2"' in full
    assert f'href="/tasks/{task_id}"' in full
    assert web.client.get("/logs/999999").status_code == 404


class Tables(HTMLParser):
    """Every table of a page: its header cells and body rows as (text, is a
    number column), rows with a cell spanning columns left out."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.open: list[dict] = []  # tables nest (the review queue's "why")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "table":
            self.open.append({"head": [], "rows": [], "classes": classes, "in_head": False})
            self.tables.append(self.open[-1])
        elif tag == "thead" and self.open:
            self.open[-1]["in_head"] = True
        elif tag == "tr" and self.open and not self.open[-1]["in_head"]:
            self.open[-1]["rows"].append([])
        elif tag in ("th", "td") and self.open:
            self.open[-1]["cell"] = ["", "num" in classes, "colspan" in attrs]

    def handle_data(self, data):
        for table in self.open:  # a nested table's text is its cell's text too
            if table.get("cell") is not None:
                table["cell"][0] += data

    def handle_endtag(self, tag):
        if not self.open:
            return
        table = self.open[-1]
        if tag == "table":
            self.open.pop()
            table["rows"] = [r for r in table["rows"] if r and None not in r]
        elif tag == "thead":
            table["in_head"] = False
        elif tag in ("th", "td") and table.get("cell") is not None:
            text, num, spans = table["cell"]
            if table["in_head"]:
                table["head"].append((text.strip(), num))
            elif table["rows"]:
                table["rows"][-1].append(None if spans else (text.strip(), num))
            table["cell"] = None


def aligned(html: str) -> list[dict]:
    """The page's tables, each asserted to put numbers under number headers."""
    parser = Tables()
    parser.feed(html)
    for table in (t for t in parser.tables if t["head"]):
        for row in table["rows"]:
            assert len(row) == len(table["head"]), (table["head"], row)
            assert [num for _, num in row] == [num for _, num in table["head"]], (
                table["head"],
                row,
            )
    return parser.tables


def test_insights_tables_put_each_number_under_its_header(web):
    populate(web.store, tasks=40, events=0)

    tables = [t for t in aligned(web.client.get("/insights").text) if "insights" in t["classes"]]

    assert [t["head"][0][0] for t in tables] == ["repository", "agent", "model", "prompt"]
    for table in tables:
        rows = table["rows"]
        assert rows
        tasks = table["head"].index(("tasks", True))
        assert all(r[tasks][0].isdigit() for r in rows)
        rate = table["head"].index(("success rate", True))
        assert all(r[rate][0].endswith("%") or r[rate][0] == "—" for r in rows)


def test_every_table_of_the_dashboard_aligns_its_numbers_with_their_headers(web):
    task_id = ready_task(web.store)
    with web.store.reading() as session:
        built_in = session.scalars(
            select(Task.id).where(Task.id % 2 == 0, Task.status == "ready")
        ).first()

    pages = ["/tasks", f"/tasks/{task_id}", f"/tasks/{built_in}", "/review", "/workers"]
    tables = [t for path in pages for t in aligned(web.client.get(path).text)]

    heads = {h for t in tables for h, num in t["head"] if num}
    assert {"attempts", "cost", "took", "exit", "changed", "points", "tokens in / out"} <= heads


def test_a_run_shows_the_prompts_and_standards_its_agent_was_given(web):
    task_id = ready_task(web.store)
    given = {
        "label": "v1+repo@0123456789ab",
        "templates": {
            "system": {"hash": "aaaaaaaaaaaa", "source": "built-in", "path": "v1/system.j2"},
            "task": {
                "hash": "bbbbbbbbbbbb",
                "source": "repo",
                "path": ".overnight/prompts/task.j2",
            },
        },
    }
    with web.store.session() as session:
        session.execute(
            update(Run)
            .where(Run.task_id == task_id)
            .values(prompts=given, standards=["AGENTS.md", ".cursorrules"])
        )

    html = web.client.get(f"/tasks/{task_id}").text
    shown = web.client.get(f"/api/tasks/{task_id}").json()

    assert shown["runs"][0]["prompts"] == given
    assert shown["runs"][0]["standards"] == ["AGENTS.md", ".cursorrules"]
    line = re.search(r'<p class="muted agent-inputs">(.*?)</p>', html, re.S).group(1)
    assert line == (
        "prompts <code>v1+repo@0123456789ab</code> · task: repo <code>bbbbbbbbbbbb</code>"
        " · standards: AGENTS.md, .cursorrules"
    )

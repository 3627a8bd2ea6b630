"""The dashboard's pages: server-rendered HTML, with htmx fragments for the
parts that update live (task rows, a task's state, workers) and for spec lint.

Every form post carries the page's CSRF token (checked by the router's
dependency) and ends in a redirect (post/redirect/get), so reloading never
repeats an action.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from overnight import fleet, queue, review, tokens
from overnight.errors import NotFound, OvernightError
from overnight.intake import submit_text
from overnight.review_queue import flagged_tasks, ready_tasks
from overnight.spec.lint import lint_text
from overnight.spec.text import MAX_SPEC_BYTES
from overnight.store import Store, now, reads
from overnight.store import events as event_rows
from overnight.store.evaluations import comparisons, trends
from overnight.web import api, charts, queries
from overnight.web.deps import config_of, status_of, store_of
from overnight.web.insights import report as insights_report
from overnight.web.render import clip
from overnight.web.security import check_csrf, login_cookie
from overnight.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])

TaskId = Annotated[int, Path(ge=1, le=2**53)]
Text = Annotated[str, Form(max_length=MAX_SPEC_BYTES)]  # the spec check says what is too long
Note = Annotated[str, Form(max_length=20_000)]

NEW_SPEC = """---
title: Add mul(a, b) to calc
repo: .
acceptance:
  - tests: tests/test_calc.py::test_mul
budget: {attempts: 3, minutes: 20}
---
Add `mul(a, b)` to calc.py, returning the product of its arguments.
"""


def page(
    request: Request, name: str, context: dict[str, Any], status: int = 200, live: bool = True
) -> HTMLResponse:
    """Render a template; a whole page (not a fragment) also gets the id of the
    last event, so its event stream resumes right after what it shows."""
    base = {"csrf": request.state.csrf, "now": now(), "nav": name.split(".")[0], "last_event": 0}
    if live and not name.startswith("_"):
        with store_of(request).reading() as session:
            base["last_event"] = event_rows.last_id(session)
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


# -- tasks ------------------------------------------------------------------


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/tasks", 303)


def _filter(
    status: Annotated[str, Query(max_length=20)] = "",
    repo: Annotated[str, Query(max_length=4000)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> queries.TaskFilter:
    return queries.TaskFilter(status, repo, q, page)


@router.get("/tasks")
def tasks(request: Request, f: Annotated[queries.TaskFilter, Depends(_filter)]) -> HTMLResponse:
    with store_of(request).reading() as session:
        result = queries.task_page(session, f, now())
    return page(request, "tasks.html", {"result": result, "statuses": queries.STATUSES})


@router.get("/tasks/rows")
def task_rows(request: Request, f: Annotated[queries.TaskFilter, Depends(_filter)]) -> HTMLResponse:
    with store_of(request).reading() as session:
        result = queries.task_page(session, f, now())
    return page(request, "_task_rows.html", {"result": result})


DiffLayout = Annotated[str, Query(max_length=10, description="unified (default) or split")]


@router.get("/tasks/{task_id}")
def task(request: Request, task_id: TaskId, view: DiffLayout = "unified") -> HTMLResponse:
    return page(request, "task.html", _task_context(store_of(request), task_id, view))


@router.get("/tasks/{task_id}/live")
def task_live(request: Request, task_id: TaskId, view: DiffLayout = "unified") -> HTMLResponse:
    return page(request, "_task_live.html", _task_context(store_of(request), task_id, view))


def _task_context(store: Store, task_id: int, view: str = "unified") -> dict[str, Any]:
    """The task page's data; ``view`` is the diff's layout (split, or else unified)."""
    with store.reading() as session:
        context = queries.task_view(session, store.task(session, task_id), now())
    return context | {"layout": "split" if view == "split" else "unified"}


@router.get("/artifacts/{artifact_id}")
def artifact(request: Request, artifact_id: TaskId) -> HTMLResponse:
    """A log or transcript, cut when long; loaded when its section opens."""
    return page(request, "_artifact.html", _artifact_context(request, artifact_id))


@router.get("/logs/{artifact_id}")
def log_page(request: Request, artifact_id: TaskId) -> HTMLResponse:
    """A log on a page of its own, where each line has an anchor (#L42)."""
    context = _artifact_context(request, artifact_id) | {"standalone": True}
    return page(request, "log.html", context)


def _artifact_context(request: Request, artifact_id: int) -> dict[str, Any]:
    with store_of(request).reading() as session:
        row = reads.artifact(session, artifact_id)
        if row is None:
            raise NotFound(f"no artifact {artifact_id}")
        text, cut = clip(row.content)
        return {"artifact": row, "text": text, "cut": cut}


@router.get("/artifacts/{artifact_id}/raw")
def artifact_raw(request: Request, artifact_id: TaskId) -> PlainTextResponse:
    with store_of(request).reading() as session:
        row = reads.artifact(session, artifact_id)
        if row is None:
            raise NotFound(f"no artifact {artifact_id}")
        text, _ = clip(row.content, limit=50_000_000)
    return PlainTextResponse(text, headers={"content-disposition": "inline"})


# -- actions ----------------------------------------------------------------


def _act(request: Request, task_id: int, action: str, message: str) -> Response:
    store = store_of(request)
    try:
        if action == "approve":
            review.approve(store, task_id, message)
        elif action == "request-changes":
            review.request_changes(store, task_id, message)
        elif action == "reject":
            review.reject(store, task_id, message)
        elif action == "rebase":
            review.rebase(store, task_id)
        elif action == "retry":
            review.retry(store, task_id)
        else:
            queue.cancel(store, task_id)
    except NotFound:
        raise
    except OvernightError as exc:
        context = _task_context(store, task_id)
        context["error"] = str(exc)
        return page(request, "task.html", context, status_of(exc))
    return RedirectResponse(f"/tasks/{task_id}", 303)


@router.post("/tasks/{task_id}/approve")
def approve(request: Request, task_id: TaskId, message: Note = "") -> Response:
    return _act(request, task_id, "approve", message)


@router.post("/tasks/{task_id}/request-changes")
def request_changes(request: Request, task_id: TaskId, message: Note = "") -> Response:
    return _act(request, task_id, "request-changes", message)


@router.post("/tasks/{task_id}/reject")
def reject(request: Request, task_id: TaskId, message: Note = "") -> Response:
    return _act(request, task_id, "reject", message)


@router.post("/tasks/{task_id}/rebase")
def rebase(request: Request, task_id: TaskId) -> Response:
    return _act(request, task_id, "rebase", "")


@router.post("/tasks/{task_id}/retry")
def retry(request: Request, task_id: TaskId) -> Response:
    return _act(request, task_id, "retry", "")


@router.post("/tasks/{task_id}/cancel")
def cancel(request: Request, task_id: TaskId) -> Response:
    return _act(request, task_id, "cancel", "")


# -- review queue, new task, insights, workers -------------------------------


@router.get("/review")
def review_page(request: Request) -> HTMLResponse:
    with store_of(request).reading() as session:
        items = ready_tasks(session)
        flagged = flagged_tasks(session)
    return page(request, "review.html", {"items": items, "flagged": flagged})


@router.get("/new")
def new(request: Request) -> HTMLResponse:
    config = config_of(request)
    context = {"spec": NEW_SPEC, "problems": [], "ok": True, "error": None, "agent": ""}
    return page(request, "new.html", {**context, "base_dir": config.base_dir})


@router.post("/new/lint")
def new_lint(request: Request, spec: Text = "") -> HTMLResponse:
    problems = lint_text(spec, config_of(request).base_dir) if spec.strip() else []
    ok = bool(spec.strip()) and not any(p.severity == "error" for p in problems)
    return page(request, "_lint.html", {"problems": problems, "ok": ok})


@router.post("/new")
def new_submit(request: Request, spec: Text = "", agent: Note = "") -> Response:
    config = config_of(request)
    try:
        done = submit_text(
            store_of(request),
            spec,
            source="<web>",
            base_dir=config.base_dir,
            agent=agent.strip() or None,
        )
    except OvernightError as exc:
        problems = lint_text(spec, config.base_dir)
        context = {
            "spec": spec,
            "problems": problems,
            "ok": False,
            "error": str(exc),
            "agent": agent,
            "base_dir": config.base_dir,
        }
        return page(request, "new.html", context, status_of(exc))
    return RedirectResponse(f"/tasks/{done.task.id}", 303)


@router.get("/insights")
def insights(request: Request) -> HTMLResponse:
    with store_of(request).reading() as session:
        data = insights_report(session, now())
    gates = charts.horizontal([(g["gate"], g["failures"]) for g in data["failing_gates"]])
    days = charts.stacked_days(data["per_day"])
    return page(request, "insights.html", {"data": data, "days": days, "gates": gates})


@router.get("/evaluations")
def evaluations(request: Request) -> HTMLResponse:
    """Per suite, the trend of each configuration's resolve rate and cheat rate over
    the stored reports (a line chart and a table); then the stored ``eval compare``
    reports, the latest first: each configuration's resolve rate, cost and time, and
    each pair's difference with its interval."""
    with store_of(request).reading() as session:
        rows = comparisons(session, limit=100)
        suites = trends(session)
    for suite in suites:
        suite["chart"] = charts.trend(suite["points"])
    return page(request, "evaluations.html", {"rows": rows, "suites": suites})


@router.get("/workers")
def workers(request: Request) -> HTMLResponse:
    with store_of(request).reading() as session:
        rows = fleet.workers(session, now())
    return page(request, "workers.html", {"rows": rows})


@router.get("/workers/rows")
def worker_rows(request: Request) -> HTMLResponse:
    with store_of(request).reading() as session:
        rows = fleet.workers(session, now())
    return page(request, "_worker_rows.html", {"rows": rows})


@router.get("/events")
async def events(
    request: Request, after: Annotated[int | None, Query(ge=0, le=2**53)] = None
) -> Response:
    """The browser's event stream (as /api/events): resumes after the page's
    last event, or after Last-Event-ID when the browser reconnects."""
    last = request.headers.get("last-event-id", "")
    if last.isascii() and last.isdigit() and len(last) < 16:
        after = int(last)
    return await api.events(request, after=after, task=None, last_event_id=None)


@router.get("/api/docs")
def api_docs(request: Request) -> HTMLResponse:
    """The API's operations, from its OpenAPI document."""
    spec = request.app.openapi()
    operations = [
        {"method": method.upper(), "path": path, **op}
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]
    return page(request, "api.html", {"operations": operations}, live=False)


# -- sign-in (off loopback) and static extras ---------------------------------


@router.get("/login")
def login(request: Request) -> HTMLResponse:
    return page(request, "login.html", {"error": None})


@router.post("/login")
def login_submit(request: Request, token: Annotated[str, Form(max_length=300)] = "") -> Response:
    store = store_of(request)
    if not tokens.verify(store, token.strip()):
        return page(request, "login.html", {"error": "unknown or revoked token"}, 401)
    tokens.touch(store, token.strip())
    response = RedirectResponse("/tasks", 303)
    secure = request.url.scheme == "https"
    response.headers.append("set-cookie", login_cookie(token.strip(), secure))
    return response

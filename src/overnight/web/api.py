"""The JSON API: every action of the CLI (submit, list, show, logs, an agent's
live output, cancel, approve, request changes, reject, rebase, retry, lint,
events), described by the OpenAPI document at /api/openapi.json (browsable at
/api/docs).

The endpoints are plain functions (run in a thread pool), each one call into
the library, and errors come back as JSON with the status of
``overnight.web.app.STATUS`` (404 unknown task, 409 wrong state, 422 a spec
with problems, listed with their lines).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from overnight import fleet, live, queue, review
from overnight.intake import submit_text
from overnight.review_queue import ready_tasks
from overnight.spec.lint import lint_text
from overnight.store import events as event_rows
from overnight.store import now
from overnight.views import logs, task_detail
from overnight.web import queries
from overnight.web.deps import store_of
from overnight.web.insights import report as insights_report
from overnight.web.render import redact
from overnight.web.schemas import (
    ERRORS,
    ActionOut,
    ChangesIn,
    EventOut,
    LintIn,
    LintOut,
    LogOut,
    MessageIn,
    OutputOut,
    Problem,
    ReviewItem,
    RiskPart,
    SpecIn,
    Submitted,
    TaskDetail,
    TaskId,
    TaskList,
    TaskRow,
    WorkerOut,
)

router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)


# -- endpoints --------------------------------------------------------------


@router.get("/tasks", response_model=TaskList, summary="List tasks (newest first)")
def list_tasks(
    request: Request,
    status: Annotated[
        str, Query(max_length=20, description="A status, 'active' or 'finished'")
    ] = "",
    repo: Annotated[str, Query(max_length=4000)] = "",
    q: Annotated[str, Query(max_length=200, description="Search titles, branches, ids")] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskList:
    f = queries.TaskFilter(status, repo, q, page, per_page)
    with store_of(request).reading() as session:
        result = queries.task_page(session, f, now())
    return TaskList(
        tasks=[TaskRow(elapsed_seconds=r.elapsed, **vars(r)) for r in result.rows],
        total=result.total,
        page=result.page,
        pages=result.pages,
    )


@router.post("/tasks", response_model=Submitted, status_code=201, summary="Submit a spec")
def submit_task(request: Request, body: SpecIn) -> Submitted:
    config = request.app.state.config
    done = submit_text(
        store_of(request), body.spec, source="<api>", base_dir=config.base_dir, agent=body.agent
    )
    return Submitted(id=done.task.id, status=done.task.status, warnings=done.warnings)


@router.post("/lint", response_model=LintOut, summary="Lint a spec without queuing it")
def lint(request: Request, body: LintIn) -> LintOut:
    problems = lint_text(body.spec, request.app.state.config.base_dir)
    return LintOut(
        ok=not any(p.severity == "error" for p in problems),
        problems=[Problem(line=p.line, message=p.message, severity=p.severity) for p in problems],
    )


@router.get("/tasks/{task_id}", response_model=TaskDetail, summary="Show a task")
def show_task(request: Request, task_id: TaskId) -> Any:
    store = store_of(request)
    with store.reading() as session:
        data = task_detail(session, store.task(session, task_id))
    data["agent"] = redact(data["agent"])
    return data


@router.get("/tasks/{task_id}/logs", response_model=list[LogOut], summary="A task's logs")
def task_logs(
    request: Request, task_id: TaskId, gate: Annotated[str | None, Query(max_length=60)] = None
) -> list[LogOut]:
    store = store_of(request)
    with store.reading() as session:
        rows = logs(session, store.task(session, task_id), gate)
    return [LogOut(title=title, text=redact(text)) for title, text in rows]


@router.get("/tasks/{task_id}/events", response_model=list[EventOut], summary="A task's events")
def task_events(
    request: Request,
    task_id: TaskId,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EventOut]:
    store = store_of(request)
    with store.reading() as session:
        store.task(session, task_id)
        rows = event_rows.after(session, after, task_id, limit)
        return [EventOut.model_validate(e, from_attributes=True) for e in rows]


@router.get(
    "/tasks/{task_id}/output", response_model=list[OutputOut], summary="An agent's live output"
)
def task_output(
    request: Request,
    task_id: TaskId,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[OutputOut]:
    """The agent's commands and output as written while it runs (about every second),
    after chunk ``after``; the step's log holds the whole transcript once it ends."""
    store = store_of(request)
    with store.reading() as session:
        store.task(session, task_id)
        rows = live.chunks_after(session, task_id, after, limit)
    return [OutputOut(**{**row, "text": redact(row["text"])}) for row in rows]


@router.get(
    "/tasks/{task_id}/output/stream",
    summary="Server-sent events: an agent's live output as it is written",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def task_output_stream(
    request: Request,
    task_id: TaskId,
    after: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """``output`` events (id, run, attempt, text) after chunk ``after`` (default: from
    the start of the task's latest run), then ``end`` once the task is neither queued
    nor running."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        after = max(after or 0, int(last_event_id))
    store = store_of(request)
    with store.reading() as session:
        store.task(session, task_id)  # 404 for an unknown task, before the stream starts
    return StreamingResponse(
        request.app.state.hub.output(task_id, after),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@router.post("/tasks/{task_id}/cancel", response_model=ActionOut, summary="Cancel a task")
def cancel(request: Request, task_id: TaskId) -> ActionOut:
    task = queue.cancel(store_of(request), task_id)
    return ActionOut(id=task.id, status=task.status)


@router.post("/tasks/{task_id}/approve", response_model=ActionOut, summary="Approve: merge")
def approve(request: Request, task_id: TaskId, body: MessageIn) -> ActionOut:
    sha = review.approve(store_of(request), task_id, body.message)
    return ActionOut(id=task_id, status="merged", merge_sha=sha)


@router.post(
    "/tasks/{task_id}/request-changes", response_model=ActionOut, summary="Request changes"
)
def request_changes(request: Request, task_id: TaskId, body: ChangesIn) -> ActionOut:
    run = review.request_changes(store_of(request), task_id, body.message)
    return ActionOut(id=task_id, status="queued", run=run.number)


@router.post("/tasks/{task_id}/reject", response_model=ActionOut, summary="Reject a task")
def reject(request: Request, task_id: TaskId, body: MessageIn) -> ActionOut:
    review.reject(store_of(request), task_id, body.message)
    return ActionOut(id=task_id, status="rejected")


@router.post(
    "/tasks/{task_id}/rebase",
    response_model=ActionOut,
    summary="Replay the change on the head of the base (409 when it has not moved)",
)
def rebase(request: Request, task_id: TaskId) -> ActionOut:
    run = review.rebase(store_of(request), task_id)
    return ActionOut(id=task_id, status="queued", run=run.number)


@router.post("/tasks/{task_id}/retry", response_model=ActionOut, summary="Retry a failed task")
def retry(request: Request, task_id: TaskId) -> ActionOut:
    run = review.retry(store_of(request), task_id)
    return ActionOut(id=task_id, status="queued", run=run.number)


@router.get("/review", response_model=list[ReviewItem], summary="READY tasks, safest first")
def review_queue(request: Request) -> list[ReviewItem]:
    with store_of(request).reading() as session:
        items = ready_tasks(session)
    return [
        ReviewItem(
            id=i["task"]["id"],
            title=i["task"]["title"],
            repo=i["task"]["repo"],
            branch=i["task"]["branch"],
            attempts=i["attempts"],
            risk_score=i["risk"].score,
            risk_level=i["risk"].level,
            reasons=i["risk"].reasons,
            parts=[RiskPart(name=p.name, points=p.points, why=p.why) for p in i["risk"].parts],
            files=i["risk"].stats.files,
            changed_lines=i["risk"].stats.lines,
        )
        for i in items
    ]


@router.get("/workers", response_model=list[WorkerOut], summary="Workers and their tasks")
def workers(request: Request) -> list[WorkerOut]:
    with store_of(request).reading() as session:
        rows = fleet.workers(session, now())
    return [
        WorkerOut(
            id=r["id"],
            hostname=r["hostname"],
            pid=r["pid"],
            slots=r["slots"],
            alive=r["state"] == "live",
            started_at=r["started_at"],
            heartbeat_at=r["heartbeat_at"],
            stopped_at=r["stopped_at"],
            tasks=[t["id"] for t in r["tasks"]],
        )
        for r in rows
    ]


@router.get("/insights", summary="Success rate, attempts, time to READY, failing gates")
def insights(request: Request) -> dict[str, Any]:
    with store_of(request).reading() as session:
        return insights_report(session, now())


@router.get(
    "/events",
    summary="Server-sent events: every new event of every task (or of one task)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def events(
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    task: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    if after is None and last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        after = int(last_event_id)
    hub = request.app.state.hub
    return StreamingResponse(
        hub.stream(after, task),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )

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

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field

from overnight import fleet, live, queue, review
from overnight.intake import submit_text
from overnight.review_queue import ready_tasks
from overnight.spec.limits import MAX_SPEC_CHARS
from overnight.spec.lint import lint_text
from overnight.store import now
from overnight.views import logs, task_detail
from overnight.web import queries
from overnight.web.deps import store_of
from overnight.web.insights import report as insights_report
from overnight.web.render import redact

TaskId = Annotated[int, Path(ge=1, le=2**53, description="The task id.")]
Moment = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]


# -- models -----------------------------------------------------------------


HOLDS = (
    "Why a queued task is not running yet, each with until when if it lifts by "
    "itself (empty for a task a worker would take now, and for other statuses)"
)


class HoldOut(BaseModel):
    kind: str = Field(description="dependency, dependency-dead, queue-paused, queue-budget, "
                      "retry, limit-running, limit-repo or worker")  # fmt: skip
    message: str = Field(description='e.g. "waiting for task 3 to be merged (it is ready)"')
    until: str | None = Field(description="UTC time it lifts by itself; null: a person must act")


class TaskRow(BaseModel):
    id: int
    title: str
    status: str
    repo: str
    priority: int
    failure_reason: str | None
    runs: int
    attempts: int
    elapsed_seconds: float | None
    cost_usd: float | None = Field(
        description="USD spent on model calls; null when a price is unknown or nothing "
        "was recorded (agents run as commands)"
    )
    tokens: int | None = Field(None, description="Tokens of the recorded model calls.")
    failing_gates: list[str]
    holds: list[HoldOut] = Field(description=HOLDS)
    created_at: Moment
    updated_at: Moment


class TaskList(BaseModel):
    tasks: list[TaskRow]
    total: int
    page: int
    pages: int


class SpecIn(BaseModel):
    spec: str = Field(
        min_length=1,
        description=f"Markdown + YAML spec, at most {MAX_SPEC_CHARS:,} characters "
        "(a longer one is refused as a spec problem, as the CLI refuses it)",
    )
    agent: str | None = Field(None, max_length=2000, description="Overrides the spec's agent.")


class LintIn(BaseModel):
    spec: str = Field(description=f"At most {MAX_SPEC_CHARS:,} characters, as for submit.")


class Problem(BaseModel):
    line: int
    message: str
    severity: str


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="What went wrong (a list for malformed requests)."
    )
    problems: list[Problem] | None = Field(None, description="A spec's problems, with lines.")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request (e.g. the spec's repository)"},
    401: {"model": ErrorOut, "description": "A token is required (off loopback)"},
    403: {"model": ErrorOut, "description": "Cross-site request refused"},
    404: {"model": ErrorOut, "description": "No such task"},
    409: {"model": ErrorOut, "description": "The action does not fit the task's state"},
    413: {"description": "Request body too large (8 MB at most)"},
    422: {"model": ErrorOut, "description": "Malformed request, or a spec with problems"},
}
router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)


class LintOut(BaseModel):
    ok: bool
    problems: list[Problem]


class Submitted(BaseModel):
    id: int
    status: str
    warnings: list[str]


class Gate(BaseModel):
    name: str
    verdict: str
    command: str | None
    summary: str
    blocking: bool
    exit_code: int | None
    attempt: int
    duration: float
    sha: str | None


class StepOut(BaseModel):
    name: str
    attempt: int
    status: str
    summary: str | None
    duration: float | None


class RunOut(BaseModel):
    number: int
    kind: str
    status: str
    attempts: int
    base_sha: str
    head_sha: str | None
    failure_reason: str | None
    feedback: str | None
    started_at: str | None
    finished_at: str | None
    base_note: str | None = Field(
        None, description="A run that waited for a merge: the base it was re-pinned to"
    )
    gates: list[Gate]
    all_gates: list[Gate]
    steps: list[StepOut]


class PullRequestOut(BaseModel):
    run: int | None
    branch: str
    base_branch: str
    head_sha: str
    state: str
    title: str
    body: str
    merge_sha: str | None


class ChecksOut(BaseModel):
    state: str = Field(description="pass, warn (advisory findings), fail or none")
    line: str = Field(description='e.g. "2 of 7 blocking gates failed: tests, lint"')
    run: int | None
    attempt: int | None
    blocking: int
    failed: list[str]
    warnings: list[str]
    skipped: list[str]


class TaskDetail(BaseModel):
    id: int
    title: str
    status: str
    priority: int
    repo: str
    branch: str
    base_ref: str
    base_sha: str
    head_sha: str | None
    agent: str
    failure_reason: str | None
    attempts: int
    failing_gates: list[str]
    holds: list[HoldOut] = Field(description=HOLDS)
    instance_id: str | None
    created_at: str
    updated_at: str
    spec: str
    checks: ChecksOut
    runs: list[RunOut]
    pull_request: PullRequestOut | None
    diff: str | None


class LogOut(BaseModel):
    title: str
    text: str


class OutputOut(BaseModel):
    id: int
    run: int = Field(description="The run's number.")
    attempt: int
    text: str = Field(description="The next piece of the agent's commands and output.")
    at: Moment


class EventOut(BaseModel):
    id: int
    task_id: int
    run_id: int | None
    kind: str
    message: str
    created_at: Moment


class MessageIn(BaseModel):
    message: str = Field("", max_length=20_000, description="A note kept with the review.")


class ChangesIn(BaseModel):
    message: str = Field(min_length=1, max_length=20_000, description="What to change.")


class ActionOut(BaseModel):
    id: int
    status: str
    run: int | None = None
    merge_sha: str | None = None


class RiskPart(BaseModel):
    name: str = Field(description="size, sensitive, untested, risky calls, spread, warnings, ...")
    points: float
    why: str


class ReviewItem(BaseModel):
    id: int
    title: str
    repo: str
    branch: str
    attempts: int
    risk_score: float
    risk_level: str
    reasons: list[str]
    parts: list[RiskPart] = Field(description="What the risk score is made of, largest first.")
    files: list[str]
    changed_lines: int


class WorkerOut(BaseModel):
    id: str
    hostname: str
    pid: int
    slots: int
    alive: bool
    started_at: Moment
    heartbeat_at: Moment
    stopped_at: Moment | None
    tasks: list[int]


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
        tasks=[TaskRow(elapsed_seconds=r["elapsed"], **r) for r in result.rows],
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
        rows = queries.events_after(session, after, limit, task_id)
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

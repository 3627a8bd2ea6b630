"""The JSON API's shapes: what each endpoint takes and returns, as the OpenAPI
document at /api/openapi.json describes them (``api.py`` has the endpoints)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

from overnight.spec.limits import MAX_SPEC_CHARS

TaskId = Annotated[int, Path(ge=1, le=2**53, description="The task id.")]
Moment = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]


# -- models -----------------------------------------------------------------


HOLDS = (
    "Why a queued task is not running yet, each with until when if it lifts by "
    "itself (empty for a task a worker would take now, and for other statuses)"
)


class HoldOut(BaseModel):
    kind: str = Field(
        description="dependency, dependency-dead, queue-paused, queue-budget, "
        "retry, limit-running, limit-repo or worker"
    )
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


class PromptTemplateOut(BaseModel):
    hash: str = Field(description="sha256 of its text, 12 hex")
    source: str = Field(description="repo, home or built-in")
    path: str


class PromptsOut(BaseModel):
    label: str = Field(description="the set's version and digest: v1@…, v1+repo@…")
    templates: dict[str, PromptTemplateOut]


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
    prompts: PromptsOut | None = Field(
        None, description="The prompt templates its agent used, by name (none: a command agent)"
    )
    standards: list[str] | None = Field(
        None, description="The coding standards its agent was given, as repository paths"
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
    forge: str = Field(description="local, github or gitlab")
    number: int | None = Field(description="the pull (merge) request's number on a remote forge")
    url: str | None = Field(description="its page on the remote forge")


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

"""The state of record: tasks, runs, steps, gate results, agent turns, checkpoints,
artifacts, live output, events, pull requests, reviews and workers. Same models on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class TaskStatus(StrEnum):
    """A task's status, stored as its value; a run's status uses the same words
    (``RunStatus``). Changed only by ``overnight.lifecycle``."""

    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MERGED = "merged"
    REJECTED = "rejected"


RunStatus = TaskStatus  # a run is queued, running, then ends as its task does
TERMINAL = (
    TaskStatus.READY,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.MERGED,
    TaskStatus.REJECTED,
)


class StepStatus(StrEnum):
    """A step's status, stored as its value."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # the claim order (highest priority, then oldest) as an index walk, not a sort
        Index("ix_tasks_claim_order", "status", text("priority DESC"), "id"),
        Index("ix_tasks_status_lease", "status", "lease_expires"),  # expired leases
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.QUEUED)
    priority: Mapped[int] = mapped_column(default=0)
    spec: Mapped[dict[str, Any]]
    spec_text: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]]
    repo: Mapped[str] = mapped_column(Text)
    base_ref: Mapped[str] = mapped_column(String(255))
    base_sha: Mapped[str] = mapped_column(String(64))
    branch: Mapped[str] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires: Mapped[datetime | None]
    fence: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    queue: Mapped[str] = mapped_column(String(100), default="default")
    not_before: Mapped[datetime | None]  # an infrastructure retry waits until then
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    runs: Mapped[list[Run]] = relationship(back_populates="task", order_by="Run.number")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("task_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED)
    feedback: Mapped[str | None] = mapped_column(Text)  # from review: request changes
    kind: Mapped[str] = mapped_column(String(20), default="initial")  # initial|changes|rebase
    base_sha: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    head_sha: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)  # also the candidates' git date
    claims: Mapped[int] = mapped_column(default=0)  # how often a worker took it up
    # what the agent was given (m013): its prompt templates ({"label", "templates": {name:
    # {hash, source, path}}}; None: it renders none) and the coding standards' paths
    prompts: Mapped[dict[str, Any] | None]
    standards: Mapped[list[Any] | None]

    task: Mapped[Task] = relationship(back_populates="runs")
    steps: Mapped[list[Step]] = relationship(order_by="Step.id")
    gates: Mapped[list[GateResult]] = relationship(order_by="GateResult.id")
    turns: Mapped[list[Turn]] = relationship(order_by="(Turn.attempt, Turn.number)")


class Step(Base):
    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default=StepStatus.RUNNING)
    summary: Mapped[str | None] = mapped_column(Text)
    log_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id"))
    started_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]


class GateResult(Base):
    __tablename__ = "gate_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    attempt: Mapped[int]
    name: Mapped[str] = mapped_column(String(60))
    verdict: Mapped[str] = mapped_column(String(10))  # pass|fail|error|skipped
    blocking: Mapped[bool] = mapped_column(default=True)
    command: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None]
    duration: Mapped[float] = mapped_column(default=0.0)
    summary: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str | None] = mapped_column(Text)
    sha: Mapped[str | None] = mapped_column(String(64))
    log_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id"))
    tampered: Mapped[str | None] = mapped_column(Text)  # a canary the run reported wrongly


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Output(Base):
    """What an agent prints while it runs, in chunks of about a second (the live log):
    what ``overnight logs -f`` and the task page show before the attempt ends. The
    step's log (the transcript) stays the record; this is the view while it runs."""

    __tablename__ = "output"
    __table_args__ = (Index("ix_output_task_id_id", "task_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    attempt: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


class PullRequest(Base):
    __tablename__ = "pull_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), unique=True)
    forge: Mapped[str] = mapped_column(String(40), default="local")
    branch: Mapped[str] = mapped_column(String(255))
    base_branch: Mapped[str] = mapped_column(String(255))
    head_sha: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open|merged|closed
    merge_sha: Mapped[str | None] = mapped_column(String(64))
    # on a remote forge: the pull (merge) request's number and page; none on the local forge
    number: Mapped[int | None] = mapped_column(default=None)
    url: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)


class HookDelivery(Base):
    """A forge webhook delivery acted on: a second one with the same id is a replay."""

    __tablename__ = "hook_deliveries"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # forge:delivery id
    received_at: Mapped[datetime] = mapped_column(default=now)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    action: Mapped[str] = mapped_column(String(20))  # approve|request-changes|reject|rebase
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    slots: Mapped[int]
    max_running: Mapped[int | None]  # the limits it enforces at claim (--max-running)
    max_per_repo: Mapped[int | None]  # (--max-per-repo)
    started_at: Mapped[datetime] = mapped_column(default=now)
    heartbeat_at: Mapped[datetime] = mapped_column(default=now)
    stopped_at: Mapped[datetime | None]


class ApiToken(Base):
    """A token for the HTTP API and dashboard off loopback; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Turn(Base):
    """One model call of the built-in agent and what came of it (keys redacted)."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("run_id", "attempt", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    attempt: Mapped[int]
    number: Mapped[int]
    model: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text, default="")
    command: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None]
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float | None]  # USD; NULL: the price is unknown
    latency: Mapped[float] = mapped_column(default=0.0)
    request: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)

    checkpoint: Mapped[Checkpoint | None] = relationship(  # the loop's state after it
        primaryjoin="and_(Turn.run_id == foreign(Checkpoint.run_id), "
        "Turn.attempt == foreign(Checkpoint.attempt), Turn.number == foreign(Checkpoint.turn))",
        viewonly=True,
    )


class Checkpoint(Base):
    """What a resumed run picks up, in typed columns (no name is parsed): the run's
    baseline (attempt 0, turn 0); an attempt's agent change and graded changes
    (turn 0); and the built-in agent's state after each of its turns (turn >= 1),
    written with the turn (the workspace's diff in the same transaction)."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "attempt", "turn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    attempt: Mapped[int]
    turn: Mapped[int]
    baseline: Mapped[dict[str, Any] | None]  # the gates' results on the base
    diff: Mapped[str | None] = mapped_column(Text)  # from the base: the agent's, or a turn's
    changes: Mapped[str | None] = mapped_column(
        Text
    )  # the graded candidate's, from the patched base
    # a turn of the built-in agent (``agents.Turn``)
    prompts: Mapped[str | None] = mapped_column(Text)  # the templates' version
    protocol: Mapped[str | None] = mapped_column(String(20))
    sampling: Mapped[dict[str, Any] | None]
    feedback: Mapped[str | None] = mapped_column(Text)  # the first turn's
    start: Mapped[str | None] = mapped_column(Text)  # the first turn's workspace digest
    waits: Mapped[list[Any] | None]  # rate limit waits before the turn
    messages: Mapped[list[Any] | None]  # the turn's part of the conversation
    done: Mapped[bool] = mapped_column(default=False)  # its command ran
    rerun: Mapped[int] = mapped_column(default=0)  # its command ran again on a resume
    unchanged: Mapped[bool] = mapped_column(default=False)  # a submit sent back: no change
    stuck: Mapped[int | None]  # the repeats the model was told about
    format_error: Mapped[bool] = mapped_column(default=False)
    end: Mapped[str | None] = mapped_column(Text)  # the attempt's final word (its last turn)
    end_exit_code: Mapped[int | None]  # the attempt's exit code, with ``end``


class Queue(Base):
    """A named queue's settings: a daily spending budget that pauses it."""

    __tablename__ = "queues"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    usd_per_day: Mapped[float | None]
    paused: Mapped[bool] = mapped_column(default=False)
    paused_until: Mapped[datetime | None]  # a pause by hand that ends by itself (UTC)


class RateWindow(Base):
    """Requests and tokens spent against one provider in one minute, shared by
    every worker through the database."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(primary_key=True)  # minutes since the epoch
    requests: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(default=0)


class ProviderLimit(Base):
    """Requests and tokens per minute allowed against one model provider."""

    __tablename__ = "provider_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    rpm: Mapped[int | None]
    tpm: Mapped[int | None]

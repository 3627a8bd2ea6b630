"""The store: state of record for tasks, runs, steps, gates, artifacts and events.

Modules outside ``store/`` import no SQLAlchemy: the SQL is here, as query
functions per concept that take a ``Session`` (``tasks``, ``scheduling``,
``workers``, ``output``, ``events``, ``ratelimits``, ``tokens``,
``pull_requests`` on the write side; ``reads``, ``insights``, ``bulk`` on the
read side; ``notify`` for the notifications outbox, whose tables are
``notices``; ``evaluations`` for stored comparisons of agent configurations;
``plans`` for the plans ``overnight plan`` wrote, as the dashboard shows them).
"""

from sqlalchemy.orm import Session

from overnight.store.db import Store, StoreError, open_store
from overnight.store.models import (
    TERMINAL,
    ApiToken,
    Artifact,
    Checkpoint,
    Event,
    GateResult,
    Output,
    ProviderLimit,
    PullRequest,
    Queue,
    RateWindow,
    Review,
    Run,
    RunStatus,
    Step,
    StepStatus,
    Task,
    TaskStatus,
    Turn,
    Worker,
    now,
)

__all__ = [
    "ApiToken",
    "Artifact",
    "Checkpoint",
    "Event",
    "GateResult",
    "Output",
    "ProviderLimit",
    "PullRequest",
    "Queue",
    "RateWindow",
    "Review",
    "Run",
    "RunStatus",
    "Session",
    "Step",
    "StepStatus",
    "Store",
    "StoreError",
    "TERMINAL",
    "Task",
    "TaskStatus",
    "Turn",
    "Worker",
    "now",
    "open_store",
]

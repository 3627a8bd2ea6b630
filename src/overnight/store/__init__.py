"""The store: state of record for tasks, runs, steps, gates, artifacts and events.
``Session`` is the type of the session the read side's query functions
(``store/reads.py``, ``store/insights.py``) take."""

from sqlalchemy.orm import Session

from overnight.store.db import Store, StoreError, open_store
from overnight.store.models import (
    TERMINAL,
    ApiToken,
    Artifact,
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

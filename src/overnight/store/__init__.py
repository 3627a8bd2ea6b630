"""The store: state of record for tasks, runs, steps, gates, artifacts and events."""

from overnight.store.db import Store, StoreError, open_store
from overnight.store.models import (
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
    Step,
    Task,
    TaskStatus,
    Turn,
    Worker,
    now,
)

__all__ = [
    "ApiToken", "Artifact", "Event", "GateResult", "Output", "ProviderLimit", "PullRequest",
    "Queue", "RateWindow", "Review", "Run", "Step", "Store", "StoreError", "Task", "TaskStatus",
    "Turn", "Worker", "now", "open_store",
]  # fmt: skip

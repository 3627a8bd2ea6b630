"""The store: state of record for tasks, runs, steps, gates, artifacts and events."""

from overnight.store.db import Store, StoreError, open_store
from overnight.store.models import (
    Artifact,
    Event,
    GateResult,
    PullRequest,
    Review,
    Run,
    Step,
    Task,
    TaskStatus,
    Worker,
    now,
)

__all__ = [
    "Artifact", "Event", "GateResult", "PullRequest", "Review", "Run", "Step", "Store",
    "StoreError", "Task", "TaskStatus", "Worker", "now", "open_store",
]  # fmt: skip

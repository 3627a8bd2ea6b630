"""The lifecycle's pieces that hold without a store: the status words a database
already holds, and the one infrastructure retry policy the worker and claim share."""

from __future__ import annotations

from overnight.lifecycle import RETRIES, Retries
from overnight.store import TERMINAL, RunStatus, StepStatus, TaskStatus


def test_statuses_are_the_words_already_stored():
    assert [s.value for s in TaskStatus] == [
        "queued",
        "running",
        "ready",
        "failed",
        "cancelled",
        "merged",
        "rejected",
    ]
    assert [s.value for s in StepStatus] == ["running", "done", "failed", "interrupted"]
    assert RunStatus.MERGED == "merged" and f"{TaskStatus.FAILED}" == "failed"
    assert TaskStatus.QUEUED not in TERMINAL and TaskStatus.RUNNING not in TERMINAL
    assert {"ready", "failed", "cancelled", "merged", "rejected"} == set(TERMINAL)


def test_one_retry_policy_backs_off_then_gives_up_at_the_limit():
    assert [RETRIES.delay(n) for n in (1, 2, 6, 7, 19)] == [10.0, 30.0, 600.0, 600.0, 600.0]
    assert not RETRIES.spent(RETRIES.limit - 1)
    assert RETRIES.spent(RETRIES.limit) and RETRIES.limit == 20
    short = Retries(limit=2, backoff=(1.0,))
    assert short.delay(1) == 1.0 and short.spent(2)

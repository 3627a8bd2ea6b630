"""Everything a run writes to the store, through the claim's fence.

Steps are rows written when they start and when they end (with their log as
an artifact), gate results are rows, and every write first checks the claim
(``queue.guard``), so a worker that lost its lease records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from overnight.gates import GateOutcome
from overnight.queue import Claim, guard, release
from overnight.store import Artifact, GateResult, Run, Step, Store, now


@dataclass
class StepRecord:
    summary: str = ""
    log: str = ""


class Recorder:
    def __init__(self, store: Store, claim: Claim) -> None:
        self.store, self.claim = store, claim
        self.task_id, self.run_id = claim.task_id, claim.run_id

    @contextmanager
    def step(self, name: str, attempt: int = 0) -> Iterator[StepRecord]:
        label = f"{name} (attempt {attempt})" if attempt else name
        with self.store.session() as session:
            guard(session, self.claim)
            row = Step(run_id=self.run_id, name=name, attempt=attempt)
            session.add(row)
            session.flush()
            step_id = row.id
            self.store.event(session, self.task_id, "step", f"{label} started", self.run_id)
        record, status = StepRecord(), "done"
        try:
            yield record
        except BaseException as exc:
            status = "failed"
            record.summary = record.summary or str(exc)
            raise
        finally:
            with self.store.session() as session:
                guard(session, self.claim)
                done = session.get(Step, step_id)
                assert done is not None
                done.status, done.summary, done.finished_at = status, record.summary, now()
                if record.log:
                    done.log_id = self.store.artifact(
                        session, self.task_id, f"step-{name}-{attempt}.log", record.log,
                        self.run_id,
                    )  # fmt: skip
                self.store.event(
                    session, self.task_id, "step", f"{label} {status}: {record.summary}",
                    self.run_id,
                )  # fmt: skip

    def gates(self, results: list[GateOutcome], attempt: int, sha: str) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            for r in results:
                log_id = None
                if r.log:
                    log_id = self.store.artifact(
                        session, self.task_id, f"gate-{r.name}-{attempt}.log", r.log, self.run_id
                    )
                session.add(GateResult(
                    run_id=self.run_id, attempt=attempt, name=r.name, verdict=r.verdict,
                    blocking=r.blocking, command=r.command, exit_code=r.exit_code,
                    duration=r.duration, summary=r.summary, feedback=r.feedback, sha=sha,
                    log_id=log_id,
                ))  # fmt: skip

    def artifact(self, name: str, content: str) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            self.store.artifact(session, self.task_id, name, content, self.run_id)

    def attempts(self, attempt: int) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            run = session.get(Run, self.run_id)
            assert run is not None
            run.attempts = attempt

    def finish(
        self, status: str, reason: str | None, head_sha: str | None = None, message: str = ""
    ) -> None:
        """The run's and the task's final state; the lease is released."""
        with self.store.session() as session:
            task = guard(session, self.claim)
            run = session.get(Run, self.run_id)
            assert run is not None
            run.status, run.failure_reason, run.finished_at = status, reason, now()
            task.status, task.failure_reason, task.cancel_requested = status, reason, False
            if head_sha:
                run.head_sha = task.head_sha = head_sha
            release(session, task)
            self.store.event(
                session, task.id, status, message or f"{status.upper()}: {reason}", run.id
            )

    def previous_changes(self, run_number: int) -> str:
        """The change the previous run of this task ended with (empty if none)."""
        with self.store.session() as session:
            previous = session.scalars(
                select(Run).where(Run.task_id == self.task_id, Run.number == run_number - 1)
            ).first()
            if previous is None:
                return ""
            row = session.scalars(
                select(Artifact)
                .where(Artifact.run_id == previous.id, Artifact.name.like("changes-attempt-%"))
                .order_by(Artifact.id.desc())
            ).first()
            return row.content if row else ""

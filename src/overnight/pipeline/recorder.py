"""Everything a run writes to the store, through the claim's fence.

Steps are rows written when they start and when they end (with their log as
an artifact), gate results are rows, and every write first checks the claim
(``queue.guard``), so a worker that lost its lease records nothing. The
store masks the task's keys in every row before it is written
(``store/masking.py``). The moments a worker's user follows (an attempt
starts, the gates' verdict, the end with its cost) are also logged as one
line each to the ``overnight.progress`` logger, masked here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from overnight import lifecycle
from overnight.agents import Turn
from overnight.gates import GateOutcome
from overnight.masking import Mask
from overnight.queue import Claim, guard
from overnight.store import (
    Artifact,
    GateResult,
    Output,
    Run,
    Step,
    StepStatus,
    Store,
    Task,
    TaskStatus,
    now,
)
from overnight.store import Turn as TurnRow

progress = logging.getLogger("overnight.progress")  # `overnight worker` prints these lines


class Interruption(Exception):
    """A run stopped from outside (cancelled, or its worker stopping)."""


class RunFailed(Exception):
    """Ends a run as FAILED; ``reason`` starts with the step that failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Cancelled(Interruption):
    pass


class Paused(Interruption):
    """The worker is stopping: the run stops at a checkpoint and resumes later."""


@dataclass
class StepRecord:
    summary: str = ""
    log: str = ""


@dataclass
class Checkpoints:
    """What earlier starts of a run finished: its baseline, the change each agent
    attempt made, and the gate results of each graded candidate."""

    baseline: dict | None = None
    agent: dict[int, str] = field(default_factory=dict)  # attempt -> diff from the base
    gates: dict[int, tuple[str, list[GateOutcome]]] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return self.baseline is not None

    def describe(self) -> str:
        parts = ["baseline"] if self.baseline is not None else []
        parts += [f"agent attempt {a}" for a in sorted(self.agent)]
        parts += [f"gates attempt {a}" for a in sorted(self.gates)]
        return ", ".join(parts)


def spent_time(steps: Iterable[Step]) -> dict[str, float]:
    """Seconds of a run's budget the finished steps took: the agent's and the gates'."""
    spent = {"agent": 0.0, "gates": 0.0}
    for step in steps:
        if step.name in spent and step.finished_at is not None:
            spent[step.name] += (step.finished_at - step.started_at).total_seconds()
    return spent


class Recorder:
    def __init__(self, store: Store, claim: Claim) -> None:
        self.store, self.claim = store, claim
        self.task_id, self.run_id = claim.task_id, claim.run_id

    @contextmanager
    def step(self, name: str, attempt: int = 0) -> Iterator[StepRecord]:
        label = f"{name} (attempt {attempt})" if attempt else name
        with self.store.session() as session:
            task = guard(session, self.claim)
            row = Step(run_id=self.run_id, name=name, attempt=attempt)
            session.add(row)
            session.flush()
            step_id = row.id
            self.store.event(session, self.task_id, "step", f"{label} started", self.run_id)
            if name == "agent":
                self.progress(task, f"attempt {attempt} started")
        record, status = StepRecord(), StepStatus.DONE
        try:
            yield record
        except BaseException as exc:
            interrupted = isinstance(exc, Interruption)
            status = StepStatus.INTERRUPTED if interrupted else StepStatus.FAILED
            record.summary = record.summary or str(exc)
            raise
        finally:
            with self.store.session() as session:
                task = guard(session, self.claim)
                done = session.get(Step, step_id)
                assert done is not None
                done.status, done.summary, done.finished_at = status, record.summary, now()
                if name == "gates" and status == StepStatus.DONE:
                    self.progress(task, f"gates (attempt {attempt}): {record.summary}")
                if record.log:
                    done.log_id = self.store.artifact(
                        session,
                        self.task_id,
                        f"step-{name}-{attempt}.log",
                        record.log,
                        self.run_id,
                    )
                self.store.event(
                    session,
                    self.task_id,
                    "step",
                    f"{label} {status}: {record.summary}",
                    self.run_id,
                )

    def gates(self, results: list[GateOutcome], attempt: int, sha: str | None) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            for r in results:
                log_id = None
                if r.log:
                    log_id = self.store.artifact(
                        session, self.task_id, f"gate-{r.name}-{attempt}.log", r.log, self.run_id
                    )
                session.add(
                    GateResult(
                        run_id=self.run_id,
                        attempt=attempt,
                        name=r.name,
                        verdict=r.verdict,
                        blocking=r.blocking,
                        command=r.command,
                        exit_code=r.exit_code,
                        duration=r.duration,
                        summary=r.summary,
                        feedback=r.feedback,
                        sha=sha,
                        log_id=log_id,
                        tampered=r.tampered,
                    )
                )

    def turn(self, turn: Turn, change: str | None = None) -> None:
        """Save an agent turn, or update it (it is saved when the model has answered,
        and again when its command has run). ``change``: the workspace's diff from the
        base once the turn is done, when the turn changed it; in the same
        transaction, so a resumed attempt never sees a done turn without its change."""
        fields = {
            k: getattr(turn, k)
            for k in (
                "model",
                "content",
                "command",
                "output",
                "exit_code",
                "input_tokens",
                "output_tokens",
                "cost",
                "latency",
                "request",
                "response",
                "meta",
            )
        }
        with self.store.session() as session:
            guard(session, self.claim)
            row = session.scalars(
                select(TurnRow).where(
                    TurnRow.run_id == self.run_id,
                    TurnRow.attempt == turn.attempt,
                    TurnRow.number == turn.number,
                )
            ).first()
            if row is None:
                session.add(
                    TurnRow(run_id=self.run_id, attempt=turn.attempt, number=turn.number, **fields)
                )
            else:
                for key, value in fields.items():
                    setattr(row, key, value)
            if change is not None:
                name = f"agent-turn-{turn.attempt}-{turn.number}.diff"
                self.store.artifact(session, self.task_id, name, change, self.run_id)

    def output(self, attempt: int, text: str) -> None:
        """A chunk of the agent's live output (``live.LiveLog`` writes them)."""
        with self.store.session() as session:
            guard(session, self.claim)
            session.add(
                Output(task_id=self.task_id, run_id=self.run_id, attempt=attempt, text=text)
            )

    def turns(self, attempt: int) -> tuple[list[Turn], str | None]:
        """The recorded turns of an attempt cut off mid-way, and the workspace's diff
        from the base as the last of them to change it left it (None: none did).
        Turns recorded before turns kept their conversation are not resumable: []."""
        with self.store.session() as session:
            rows = session.scalars(
                select(TurnRow)
                .where(
                    TurnRow.run_id == self.run_id,
                    TurnRow.attempt == attempt,
                )
                .order_by(TurnRow.number)
            ).all()
            turns = [
                Turn(
                    attempt=r.attempt,
                    number=r.number,
                    model=r.model,
                    content=r.content,
                    command=r.command,
                    output=r.output,
                    exit_code=r.exit_code,
                    input_tokens=r.input_tokens,
                    output_tokens=r.output_tokens,
                    cost=r.cost,
                    latency=r.latency,
                    request=r.request,
                    response=r.response,
                    meta=dict(r.meta),
                )
                for r in rows
            ]
            prefix = f"agent-turn-{attempt}-"
            change = session.scalars(
                select(Artifact.content)
                .where(
                    Artifact.run_id == self.run_id,
                    Artifact.name.like(prefix + "%"),
                )
                .order_by(Artifact.id.desc())
                .limit(1)
            ).first()
        if not all("messages" in t.meta for t in turns):
            return [], None
        return turns, change

    def spent(self, before: int) -> tuple[int, float | None]:
        """Tokens and USD this run's turns used before attempt ``before`` (USD None:
        a price is unknown)."""
        with self.store.session() as session:
            rows = session.scalars(
                select(TurnRow).where(
                    TurnRow.run_id == self.run_id,
                    TurnRow.attempt < before,
                )
            ).all()
            tokens = sum(r.input_tokens + r.output_tokens for r in rows)
            costs = [r.cost for r in rows]
        return tokens, None if None in costs else sum(c for c in costs if c is not None)

    def spent_time(self) -> dict[str, float]:
        """What this run's finished agent and gates steps took (earlier starts of it)."""
        with self.store.session() as session:
            return spent_time(session.scalars(select(Step).where(Step.run_id == self.run_id)))

    def checkpoints(self) -> Checkpoints:
        done = Checkpoints()
        with self.store.session() as session:
            for art in session.scalars(
                select(Artifact).where(Artifact.run_id == self.run_id).order_by(Artifact.id)
            ):
                if art.name == "baseline.json":
                    done.baseline = json.loads(art.content)
                elif art.name.startswith("agent-attempt-"):
                    done.agent[int(art.name.split("-")[2].split(".")[0])] = art.content
            for row in session.scalars(
                select(GateResult).where(GateResult.run_id == self.run_id).order_by(GateResult.id)
            ):
                sha, results = done.gates.setdefault(row.attempt, (row.sha or "", []))
                results.append(
                    GateOutcome(
                        row.name,
                        row.verdict,
                        row.summary,
                        command=row.command,
                        exit_code=row.exit_code,
                        duration=row.duration,
                        feedback=row.feedback or "",
                        blocking=row.blocking,
                        tampered=row.tampered,
                    )
                )
        return done

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
        self,
        status: TaskStatus,
        reason: str | None,
        head_sha: str | None = None,
        message: str = "",
    ) -> None:
        """The run's and the task's final state (``lifecycle.finish``)."""
        with self.store.session() as session:
            task = guard(session, self.claim)
            run = session.get(Run, self.run_id)
            assert run is not None
            message = lifecycle.finish(session, task, run, status, reason, head_sha, message)
            self.progress(task, f"{message} · {self.spend(session)}")

    def spend(self, session: Session) -> str:
        """What the run's model calls cost, in words (unknown prices are unknown, never 0)."""
        rows = session.scalars(select(TurnRow).where(TurnRow.run_id == self.run_id)).all()
        if not rows:
            return "no model calls recorded"
        tokens = sum(r.input_tokens + r.output_tokens for r in rows)
        costs = [r.cost for r in rows]
        usd = "cost unknown" if None in costs else f"${sum(c for c in costs if c):.4f}"
        return f"{tokens:,} tokens · {usd}"

    @staticmethod
    def progress(task: Task, text: str) -> None:
        """One line for ``overnight worker`` to print, with the task's keys masked."""
        mask = Mask.of(task.config or {})
        progress.info("task %d: %s", task.id, mask.text(text) if mask else text)

    def previous_changes(self, run_number: int) -> str:
        """The last change an earlier run of this task graded (empty if none): a run that
        ended before grading (a setup failure) does not lose the work before it."""
        with self.store.session() as session:
            row = session.scalars(
                select(Artifact)
                .join(Run, Artifact.run_id == Run.id)
                .where(
                    Run.task_id == self.task_id,
                    Run.number < run_number,
                    Artifact.name.like("changes-attempt-%"),
                )
                .order_by(Run.number.desc(), Artifact.id.desc())
            ).first()
            return row.content if row else ""

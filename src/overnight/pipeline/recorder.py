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
from typing import Any

from overnight import lifecycle
from overnight.agents import Turn
from overnight.forges.base import Published
from overnight.gates import GateOutcome
from overnight.masking import Mask
from overnight.pipeline.facts import RunFacts
from overnight.queue import Claim, guard
from overnight.store import (
    Checkpoint,
    Run,
    Step,
    StepStatus,
    Store,
    Task,
    TaskStatus,
    checkpoints,
    pull_requests,
    runs,
)
from overnight.store import Turn as TurnRow
from overnight.store.checkpoints import TURN_COLUMNS, TURN_STATE

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

    def start(self, resumed: str) -> None:
        """The run is running (``lifecycle.start``); ``resumed``: after which checkpoints."""
        with self.store.session() as session:
            task = guard(session, self.claim)
            run = session.get(Run, self.run_id)
            assert run is not None
            lifecycle.start(session, run, f"run {run.number} started{resumed}")
            taken = "taken over" if self.claim.takeover else "claimed"
            self.progress(task, f"{taken} · {task.title} · run {run.number}{resumed}")

    @contextmanager
    def step(self, name: str, attempt: int = 0) -> Iterator[StepRecord]:
        label = f"{name} (attempt {attempt})" if attempt else name
        with self.store.session() as session:
            task = guard(session, self.claim)
            step_id = runs.start_step(session, self.run_id, name, attempt)
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
                if name == "gates" and status == StepStatus.DONE:
                    self.progress(task, f"gates (attempt {attempt}): {record.summary}")
                log_id = None
                if record.log:
                    log_id = self.store.artifact(
                        session,
                        self.task_id,
                        f"step-{name}-{attempt}.log",
                        record.log,
                        self.run_id,
                    )
                runs.end_step(session, step_id, status, record.summary, log_id)
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
                runs.add_gate_result(
                    session,
                    self.run_id,
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

    def turn(self, turn: Turn, change: str | None = None) -> None:
        """Save an agent turn and its checkpoint, or update them (it is saved when the
        model has answered, and again when its command has run). ``change``: the
        workspace's diff from the base once the turn is done, when the turn changed
        it; in the same transaction, so a resumed attempt never sees a done turn
        without its change."""
        values = {k: getattr(turn, k) for k in TURN_COLUMNS + TURN_STATE}
        with self.store.session() as session:
            guard(session, self.claim)
            checkpoints.save_turn(session, self.run_id, turn.attempt, turn.number, values, change)

    def output(self, attempt: int, text: str) -> None:
        """A chunk of the agent's live output (``live.LiveLog`` writes them)."""
        with self.store.session() as session:
            guard(session, self.claim)
            runs.add_output(session, self.task_id, self.run_id, attempt, text)

    def turns(self, attempt: int) -> tuple[list[Turn], str | None]:
        """The recorded turns of an attempt cut off mid-way, and the workspace's diff
        from the base as the last of them to change it left it (None: none did).
        Turns recorded before turns kept their conversation are not resumable: []."""
        with self.store.session() as session:
            turns = [_turn(r, c) for r, c in checkpoints.turns(session, self.run_id, attempt)]
            change = checkpoints.last_turn_diff(session, self.run_id, attempt)
        if any(t.messages is None for t in turns):
            return [], None
        return turns, change

    def spent(self, before: int) -> tuple[int, float | None]:
        """Tokens and USD this run's turns used before attempt ``before`` (USD None:
        a price is unknown)."""
        with self.store.session() as session:
            return runs.spent(session, self.run_id, before)

    def spent_time(self) -> dict[str, float]:
        """What this run's finished agent and gates steps took (earlier starts of it)."""
        with self.store.session() as session:
            return spent_time(runs.steps(session, self.run_id))

    def checkpoints(self) -> Checkpoints:
        with self.store.session() as session:
            done = Checkpoints(
                checkpoints.baseline(session, self.run_id),
                checkpoints.agent_changes(session, self.run_id),
            )
            for row in runs.gate_results(session, self.run_id):
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

    def baseline(self, baseline: dict[str, Any]) -> None:
        """The baseline's checkpoint, and ``baseline.json`` to read."""
        with self.store.session() as session:
            guard(session, self.claim)
            checkpoints.checkpoint(session, self.run_id, 0, 0).baseline = baseline
            shown = json.dumps(baseline, indent=1)
            self.store.artifact(session, self.task_id, "baseline.json", shown, self.run_id)

    def agent_change(self, attempt: int, diff: str) -> None:
        """The change an agent attempt left, from the base: its checkpoint and
        ``agent-attempt-N.diff``."""
        with self.store.session() as session:
            guard(session, self.claim)
            checkpoints.checkpoint(session, self.run_id, attempt, 0).diff = diff
            name = f"agent-attempt-{attempt}.diff"
            self.store.artifact(session, self.task_id, name, diff, self.run_id)

    def graded_changes(self, attempt: int, changes: str) -> None:
        """A candidate's changes from the patched base, which a later run carries:
        its checkpoint and ``changes-attempt-N.diff``."""
        with self.store.session() as session:
            guard(session, self.claim)
            checkpoints.checkpoint(session, self.run_id, attempt, 0).changes = changes
            name = f"changes-attempt-{attempt}.diff"
            self.store.artifact(session, self.task_id, name, changes, self.run_id)

    def pull_number(self, forge: str) -> int | None:
        """The number of the task's pull request on ``forge`` from an earlier delivery."""
        with self.store.session() as session:
            return pull_requests.last_number(session, self.task_id, forge)

    def pull_request(
        self, forge: str, facts: RunFacts, sha: str, body: str, published: Published
    ) -> None:
        """What the forge answered to the delivery, as the run's pull request."""
        with self.store.session() as session:
            guard(session, self.claim)
            pull_requests.record(
                session,
                task_id=self.task_id,
                run_id=self.run_id,
                forge=forge,
                branch=facts.branch,
                base_branch=facts.base_ref,
                head_sha=sha,
                title=facts.spec.title,
                body=body,
                number=published.number or None,
                url=published.url or None,
            )

    def artifact(self, name: str, content: str) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            self.store.artifact(session, self.task_id, name, content, self.run_id)

    def agent_inputs(self, prompts: dict[str, Any] | None, standards: list[str]) -> None:
        """The prompt templates (name → hash, source, path) and the coding standards
        the run's agent is given."""
        with self.store.session() as session:
            guard(session, self.claim)
            runs.set_agent_inputs(session, self.run_id, prompts, standards)

    def attempts(self, attempt: int) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            runs.set_attempts(session, self.run_id, attempt)

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
            if runs.turn_count(session, self.run_id):
                tokens, usd = runs.spent(session, self.run_id)
                cost = "cost unknown" if usd is None else f"${usd:.4f}"
                spend = f"{tokens:,} tokens · {cost}"
            else:
                spend = "no model calls recorded"
            self.progress(task, f"{message} · {spend}")

    @staticmethod
    def progress(task: Task, text: str) -> None:
        """One line for ``overnight worker`` to print, with the task's keys masked."""
        mask = Mask.of(task.config or {})
        progress.info("task %d: %s", task.id, mask.text(text) if mask else text)

    def previous_changes(self, run_number: int) -> str:
        """The last change an earlier run of this task graded (empty if none): a run that
        ended before grading (a setup failure) does not lose the work before it."""
        with self.store.session() as session:
            return checkpoints.previous_changes(session, self.task_id, run_number)


def _turn(row: TurnRow, state: Checkpoint | None) -> Turn:
    """A recorded turn as the agent loop keeps it (no checkpoint: not resumable)."""
    values = {k: getattr(row, k) for k in TURN_COLUMNS}
    if state is not None:
        values |= {k: getattr(state, k) for k in TURN_STATE}
        values["waits"], values["sampling"] = list(state.waits or []), dict(state.sampling or {})
    return Turn(attempt=row.attempt, number=row.number, **values)

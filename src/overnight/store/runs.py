"""What a run writes and reads of itself besides checkpoints: its steps, gate
results, live output, attempts, what its agent was given (prompts, standards)
and what its model calls spent. These functions
take the caller's session (the pipeline's recorder opens it, behind the
claim's fence)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overnight.store.models import GateResult, Output, Run, Step, StepStatus, Turn, now


def start_step(session: Session, run_id: int, name: str, attempt: int) -> int:
    row = Step(run_id=run_id, name=name, attempt=attempt)
    session.add(row)
    session.flush()
    return row.id


def end_step(
    session: Session, step_id: int, status: StepStatus, summary: str, log_id: int | None
) -> None:
    row = session.get(Step, step_id)
    assert row is not None
    row.status, row.summary, row.finished_at = status, summary, now()
    if log_id is not None:
        row.log_id = log_id


def steps(session: Session, run_id: int) -> Sequence[Step]:
    return session.scalars(select(Step).where(Step.run_id == run_id)).all()


def add_gate_result(session: Session, run_id: int, **values: Any) -> None:
    session.add(GateResult(run_id=run_id, **values))


def gate_results(session: Session, run_id: int) -> Sequence[GateResult]:
    """A run's gate results in the order they were written."""
    return session.scalars(
        select(GateResult).where(GateResult.run_id == run_id).order_by(GateResult.id)
    ).all()


def add_output(session: Session, task_id: int, run_id: int, attempt: int, text: str) -> None:
    session.add(Output(task_id=task_id, run_id=run_id, attempt=attempt, text=text))


def set_attempts(session: Session, run_id: int, attempts: int) -> None:
    run = session.get(Run, run_id)
    assert run is not None
    run.attempts = attempts


def set_agent_inputs(
    session: Session, run_id: int, prompts: dict[str, Any] | None, standards: list[str]
) -> None:
    """What the run's agent is given: its prompt templates and coding standards."""
    run = session.get(Run, run_id)
    assert run is not None
    run.prompts, run.standards = prompts, standards


def spent(session: Session, run_id: int, before: int | None = None) -> tuple[int, float | None]:
    """Tokens and USD a run's turns used (before attempt ``before``; None: all), and
    None for the USD when a price is unknown."""
    query = select(Turn).where(Turn.run_id == run_id)
    if before is not None:
        query = query.where(Turn.attempt < before)
    rows = session.scalars(query).all()
    tokens = sum(r.input_tokens + r.output_tokens for r in rows)
    costs = [r.cost for r in rows]
    return tokens, None if None in costs else sum(c for c in costs if c is not None)


def turn_count(session: Session, run_id: int) -> int:
    return len(session.scalars(select(Turn.id).where(Turn.run_id == run_id)).all())

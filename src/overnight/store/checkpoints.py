"""Checkpoints: what a resumed run picks up, as typed rows (``Checkpoint``).

A run's baseline is attempt 0, turn 0; an agent attempt's change and the
changes its candidate was graded with are turn 0 of that attempt; the built-in
agent's state after each turn (its part of the conversation, done, the
attempt's end, ...) is that turn's row, with the workspace's diff when the
turn changed it. Each row is written again as a step goes on: the last write
is the checkpoint. These functions take the caller's session, so a turn and
its checkpoint are one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overnight.store.models import Checkpoint, Run, Turn

TURN_COLUMNS = (  # a turn row, as ``agents.Turn`` names them
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
)
TURN_STATE = (  # a turn's checkpoint, as ``agents.Turn`` names them
    "prompts",
    "protocol",
    "sampling",
    "feedback",
    "start",
    "waits",
    "messages",
    "done",
    "rerun",
    "unchanged",
    "stuck",
    "format_error",
    "end",
    "end_exit_code",
)


def checkpoint(session: Session, run_id: int, attempt: int, turn: int) -> Checkpoint:
    """The row of one checkpoint, made if it is not there yet."""
    row = session.scalars(
        select(Checkpoint).where(
            Checkpoint.run_id == run_id, Checkpoint.attempt == attempt, Checkpoint.turn == turn
        )
    ).first()
    if row is None:
        row = Checkpoint(run_id=run_id, attempt=attempt, turn=turn)
        session.add(row)
    return row


def save_turn(
    session: Session,
    run_id: int,
    attempt: int,
    number: int,
    values: dict[str, Any],
    diff: str | None = None,
) -> None:
    """Save a turn (``TURN_COLUMNS``) and its state (``TURN_STATE``), or update both;
    ``diff``: the workspace's diff from the base after it, when it changed it."""
    row = session.scalars(
        select(Turn).where(Turn.run_id == run_id, Turn.attempt == attempt, Turn.number == number)
    ).first()
    if row is None:
        row = Turn(run_id=run_id, attempt=attempt, number=number)
        session.add(row)
    for key in TURN_COLUMNS:
        setattr(row, key, values[key])
    state = checkpoint(session, run_id, attempt, number)
    for key in TURN_STATE:
        setattr(state, key, values[key])
    if diff is not None:
        state.diff = diff


def turns(session: Session, run_id: int, attempt: int) -> list[tuple[Turn, Checkpoint | None]]:
    """An attempt's turns in order, each with its checkpoint (None: not recorded)."""
    rows = session.scalars(
        select(Turn).where(Turn.run_id == run_id, Turn.attempt == attempt).order_by(Turn.number)
    ).all()
    states = {
        c.turn: c
        for c in session.scalars(
            select(Checkpoint).where(
                Checkpoint.run_id == run_id, Checkpoint.attempt == attempt, Checkpoint.turn > 0
            )
        )
    }
    return [(r, states.get(r.number)) for r in rows]


def last_turn_diff(session: Session, run_id: int, attempt: int) -> str | None:
    """The workspace's diff from the base as the last turn to change it left it."""
    return session.scalars(
        select(Checkpoint.diff)
        .where(
            Checkpoint.run_id == run_id,
            Checkpoint.attempt == attempt,
            Checkpoint.turn > 0,
            Checkpoint.diff.is_not(None),
        )
        .order_by(Checkpoint.turn.desc())
        .limit(1)
    ).first()


def baseline(session: Session, run_id: int) -> dict[str, Any] | None:
    """The baseline a run measured (None: not yet)."""
    return session.scalars(
        select(Checkpoint.baseline).where(
            Checkpoint.run_id == run_id, Checkpoint.attempt == 0, Checkpoint.turn == 0
        )
    ).first()


def agent_changes(session: Session, run_id: int) -> dict[int, str]:
    """attempt -> the diff from the base its agent left, for each attempt that ended."""
    rows = session.execute(
        select(Checkpoint.attempt, Checkpoint.diff).where(
            Checkpoint.run_id == run_id,
            Checkpoint.attempt > 0,
            Checkpoint.turn == 0,
            Checkpoint.diff.is_not(None),
        )
    ).all()
    return {attempt: diff or "" for attempt, diff in rows}


def previous_changes(session: Session, task_id: int, run_number: int) -> str:
    """The last changes an earlier run of the task graded (empty: none)."""
    changes = session.scalars(
        select(Checkpoint.changes)
        .join(Run, Checkpoint.run_id == Run.id)
        .where(
            Run.task_id == task_id,
            Run.number < run_number,
            Checkpoint.turn == 0,
            Checkpoint.changes.is_not(None),
        )
        .order_by(Run.number.desc(), Checkpoint.attempt.desc())
        .limit(1)
    ).first()
    return changes or ""


def notes(state: Checkpoint | None) -> dict[str, Any]:
    """What a turn's checkpoint says about it beyond its prompts, as the turn views
    show it: the feedback it began with (first turn), waits, a format error, a
    submit sent back, a loop noticed, a rerun, the attempt's end."""
    if state is None:
        return {}
    noted = {
        "feedback": state.feedback,
        "waits": state.waits or None,
        "format_error": state.format_error or None,
        "unchanged": state.unchanged or None,
        "stuck": state.stuck,
        "rerun": state.rerun or None,
        "end": state.end,
    }
    return {k: v for k, v in noted.items() if v is not None}

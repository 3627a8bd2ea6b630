"""The storage boundary of ``overnight.masking``: every row a session writes that
belongs to a task (the task itself, its runs, steps, gate results, turns,
artifacts, events, pull requests, reviews) has its text and JSON columns masked
with that task's keys before it is flushed. No writer can forget it: the
recorder, the worker's crash report, the queue, the review actions and the
forge all write through here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from overnight.masking import Mask
from overnight.store.models import Run, Task


def mask_rows(session: Session, _context: Any = None, _instances: Any = None) -> None:
    """A ``before_flush`` hook: mask the new and changed rows of this flush."""
    masks: dict[int, Mask] = {}  # id(task) -> its mask, for this flush
    with session.no_autoflush:
        for row in [*session.new, *session.dirty]:
            task = _task_of(session, row)
            if task is None:
                continue
            if id(task) not in masks:
                masks[id(task)] = Mask.of(task.config or {})
            if masks[id(task)]:
                mask_row(row, masks[id(task)])


def mask_row(row: Any, mask: Mask) -> None:
    """Mask the loaded column values of one row (unloaded ones were masked when written)."""
    state = inspect(row)
    columns = {attr.key for attr in state.mapper.column_attrs}
    for key, value in list(state.dict.items()):
        if key not in columns or not isinstance(value, str | dict | list):
            continue
        masked = mask.data(value)
        if masked != value:
            setattr(row, key, masked)


def _task_of(session: Session, row: Any) -> Task | None:
    if isinstance(row, Task):
        return row
    task_id = getattr(row, "task_id", None)
    if task_id is None and getattr(row, "run_id", None) is not None:
        run = session.get(Run, row.run_id)
        task_id = run.task_id if run is not None else None
    if task_id is None:
        task = getattr(row, "task", None)  # a run made in this flush, with its task
        return task if isinstance(task, Task) else None
    return session.get(Task, task_id)

"""The one row of every task list: `overnight status` and `review`, the
dashboard's list and the API's show a task as a task loaded whole shows it."""

from __future__ import annotations

from overnight.store import now
from overnight.task_list import summaries, task_summary
from overnight.testing.history import populate
from overnight.web.queries import TaskFilter, task_page

BOTH_DATABASES = True  # the list's queries are plain SQL on both


def test_every_task_list_shows_a_task_as_the_task_loaded_whole_does(store):
    populate(store, tasks=40, events=0)
    with store.reading() as session:
        listed = task_page(session, TaskFilter(per_page=100), now()).rows
        reviewed = summaries(session, [r.id for r in listed])  # `overnight review`
        whole = {r.id: task_summary(store.task(session, r.id)) for r in listed}

    assert len(listed) == 40
    assert any(r.failing_gates for r in listed) and any(r.attempts > 1 for r in listed)
    assert {r.id: r.summary() for r in listed} == reviewed == whole

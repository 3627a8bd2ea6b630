"""Intake: a spec that lints is one the store takes, on SQLite and on PostgreSQL,
and a batch of specs is queued whole or not at all."""

from __future__ import annotations

import subprocess

import pytest

from overnight.errors import UsageError
from overnight.intake import submit_all, submit_text
from overnight.spec import lint_text
from overnight.spec.limits import INT_MAX, INT_MIN, MAX_BASE, MAX_QUEUE, MAX_TITLE
from overnight.store import Task

BOTH_DATABASES = True  # every test here runs on SQLite and on PostgreSQL


def spec_text(repo, front: str = "", title: str = "Add mul") -> str:
    return (
        f"---\ntitle: {title}\nrepo: {repo}\nagent: 'command:true'\n{front}"
        "acceptance:\n  - run: 'true'\n---\nAdd `mul(a, b)` to calc.py.\n"
    )


@pytest.mark.parametrize("priority", [INT_MAX, INT_MIN])
def test_the_largest_values_lint_accepts_are_stored_and_read_back(
    store, calc_repo, tmp_path, priority
):
    base = ("abcdefgh/" * 40)[: MAX_BASE - 1] + "z"  # a ref of 255 characters, in short parts
    subprocess.run(["git", "branch", base], cwd=calc_repo, check=True)
    text = spec_text(
        calc_repo,
        f"base: {base}\npriority: {priority}\nqueue: {'q' * MAX_QUEUE}\n"
        "budget: {attempts: 100, minutes: 10080, usd: 100000, tokens: 10000000000}\n",
        title="é" * MAX_TITLE,
    )
    assert [p for p in lint_text(text, tmp_path) if p.severity == "error"] == []

    task_id = submit_text(store, text, source="max.md", base_dir=tmp_path).task.id

    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        assert (task.priority, task.title, task.base_ref) == (priority, "é" * MAX_TITLE, base)
        assert task.queue == "q" * MAX_QUEUE
        assert task.spec["budget"]["tokens"] == 10_000_000_000


def test_a_batch_with_one_spec_that_cannot_be_queued_queues_none(store, calc_repo, tmp_path):
    good = spec_text(calc_repo)
    waits = spec_text(calc_repo, "depends_on: 999\n")
    with pytest.raises(UsageError, match="depends_on: no task 999; submit it first"):
        submit_all(store, [("good.md", good, tmp_path), ("waits.md", waits, tmp_path)])
    with store.session() as session:
        assert session.query(Task).count() == 0

"""Checkpoints as typed rows (``store/checkpoints.py``): a turn saved twice keeps its
diff, the last turn to change the workspace wins, attempts and later runs find
their changes, and the turn views' notes say what the loop's state says."""

from __future__ import annotations

from typing import Any

from overnight.store import Run, Task, Turn, checkpoints

BOTH_DATABASES = True


def _run(store, number: int = 1, task_id: int | None = None) -> tuple[int, int]:
    with store.session() as session:
        if task_id is None:
            task = Task(
                title="t",
                slug="t",
                spec={},
                spec_text="",
                config={},
                repo="r",
                base_ref="main",
                base_sha="0" * 40,
                branch="b",
                agent="builtin",
            )
            session.add(task)
            session.flush()
            task_id = task.id
        run = Run(task_id=task_id, number=number, base_sha="0" * 40)
        session.add(run)
        session.flush()
        return task_id, run.id


def _values(**state: Any) -> dict[str, Any]:
    turn = {k: None for k in checkpoints.TURN_COLUMNS} | {"model": "m", "content": ""}
    turn |= {"input_tokens": 0, "output_tokens": 0, "latency": 0.0}
    turn |= {"request": {}, "response": {}}
    loop = {k: None for k in checkpoints.TURN_STATE} | {"waits": [], "sampling": {}}
    loop |= {"done": False, "rerun": 0, "unchanged": False, "format_error": False}
    return turn | loop | state


def test_a_turn_saved_again_keeps_its_diff_and_the_last_change_wins(store):
    _, run_id = _run(store)
    with store.session() as session:
        checkpoints.save_turn(session, run_id, 1, 1, _values(messages=[]), None)
        checkpoints.save_turn(session, run_id, 1, 1, _values(messages=[], done=True), "one")
        checkpoints.save_turn(session, run_id, 1, 2, _values(messages=[], done=True), "two")
        checkpoints.save_turn(session, run_id, 1, 3, _values(messages=[]), None)
        checkpoints.save_turn(session, run_id, 1, 2, _values(messages=[], done=True), None)
    with store.session() as session:
        pairs = checkpoints.turns(session, run_id, 1)
        assert [(t.number, c is not None and c.done) for t, c in pairs] == [
            (1, True),
            (2, True),
            (3, False),
        ]
        assert checkpoints.last_turn_diff(session, run_id, 1) == "two"
        assert checkpoints.last_turn_diff(session, run_id, 2) is None
        assert session.query(Turn).count() == 3


def test_attempts_and_later_runs_find_their_changes(store):
    task_id, first = _run(store)
    _, second = _run(store, 2, task_id)
    with store.session() as session:
        checkpoints.checkpoint(session, first, 0, 0).baseline = {"tests": {"a": "passed"}}
        checkpoints.checkpoint(session, first, 1, 0).diff = "agent 1"
        checkpoints.checkpoint(session, first, 1, 0).changes = "graded 1"
        checkpoints.checkpoint(session, first, 2, 0).changes = "graded 2"  # a carried attempt
    with store.session() as session:
        assert checkpoints.baseline(session, first) == {"tests": {"a": "passed"}}
        assert checkpoints.baseline(session, second) is None
        assert checkpoints.agent_changes(session, first) == {1: "agent 1"}
        assert checkpoints.previous_changes(session, task_id, 2) == "graded 2"
        assert checkpoints.previous_changes(session, task_id, 1) == ""


def test_a_turns_notes_are_what_its_checkpoint_says_beyond_its_prompts(store):
    _, run_id = _run(store)
    first = _values(feedback="", prompts="v1@x", start="abc", messages=[], done=True)
    last = _values(messages=[], rerun=1, stuck=3, end="submitted", end_exit_code=0)
    with store.session() as session:
        checkpoints.save_turn(session, run_id, 1, 1, first)
        checkpoints.save_turn(session, run_id, 1, 2, last | {"waits": ["rate limit: 2 s"]})
    with store.session() as session:
        (_, one), (_, two) = checkpoints.turns(session, run_id, 1)
        assert checkpoints.notes(one) == {"feedback": ""}
        assert checkpoints.notes(two) == {
            "waits": ["rate limit: 2 s"],
            "stuck": 3,
            "rerun": 1,
            "end": "submitted",
        }
        assert checkpoints.notes(None) == {}

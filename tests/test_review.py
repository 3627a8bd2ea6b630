"""Review actions end to end: approve merges into the user's repository,
request-changes and rebase queue new runs, reject closes the pull request."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import drain
from sqlalchemy import select

from overnight.errors import MergeConflict, StateError
from overnight.intake import submit_text
from overnight.review import approve, rebase, reject, request_changes
from overnight.store import PullRequest, Run, Store
from overnight.testing import commit_all
from overnight.views import task_detail

BOTH_DATABASES = True  # every test here runs on SQLite and on PostgreSQL

APPEND_MUL = (
    "grep -q 'def mul' calc.py || printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"
)


def submit(store: Store, spec: Path) -> int:
    return submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id


def detail(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def agent_script(tmp_path: Path, body: str) -> str:
    """A `command:` agent running ``body``; it records, outside the workspace,
    the feedback and whether mul() was already there when it started."""
    out = tmp_path / "agent-out"
    out.mkdir(exist_ok=True)
    script = tmp_path / "agent.sh"
    script.write_text(
        "set -e\n"
        f"OUT={out}\n"
        'printf %s "$OVERNIGHT_FEEDBACK" > "$OUT/feedback-$OVERNIGHT_RUN-$OVERNIGHT_ATTEMPT.txt"\n'
        'grep -c "def mul" calc.py > "$OUT/mul-before-$OVERNIGHT_RUN.txt" || true\n'
        'echo "$OVERNIGHT_RUN" >> "$OUT/calls.txt"\n'
        f"{body}\n"
    )
    return f"command:bash {script}"


def ready_task(store: Store, mul_spec, tmp_path: Path) -> int:
    task_id = submit(store, mul_spec(agent_script(tmp_path, APPEND_MUL)))
    drain(store)
    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    return task_id


def pull_requests(store: Store, task_id: int) -> dict[int, str]:
    """Run number → pull request state."""
    with store.session() as session:
        rows = session.execute(
            select(Run.number, PullRequest.state)
            .join(PullRequest, PullRequest.run_id == Run.id)
            .where(PullRequest.task_id == task_id)
        ).all()
    return {number: state for number, state in rows}


def test_approve_merges_into_the_checked_out_base_branch(store, mul_spec, tmp_path, calc_repo):
    task_id = ready_task(store, mul_spec, tmp_path)
    before = git(calc_repo, "rev-parse", "main")
    (calc_repo / "scratch.txt").write_text("keep me\n")

    merge_sha = approve(store, task_id)

    assert "def mul" in (calc_repo / "calc.py").read_text()
    assert (calc_repo / "scratch.txt").read_text() == "keep me\n"
    assert git(calc_repo, "rev-parse", "HEAD") == merge_sha
    parents = git(calc_repo, "rev-list", "--parents", "-n", "1", merge_sha).split()[1:]
    task = detail(store, task_id)
    assert parents == [before, task["head_sha"]]
    assert git(calc_repo, "status", "--porcelain") == "?? scratch.txt"
    assert task["status"] == "merged"
    assert task["runs"][-1]["status"] == "merged"  # the run's badge, not "ready"
    assert task["pull_request"]["state"] == "merged"
    assert task["pull_request"]["merge_sha"] == merge_sha


def test_approve_advances_the_base_branch_without_touching_another_checkout(
    store, mul_spec, tmp_path, calc_repo
):
    task_id = ready_task(store, mul_spec, tmp_path)
    git(calc_repo, "checkout", "-q", "-b", "elsewhere")
    (calc_repo / "scratch.txt").write_text("work in progress\n")
    before = git(calc_repo, "rev-parse", "main")

    merge_sha = approve(store, task_id)

    assert git(calc_repo, "symbolic-ref", "--short", "HEAD") == "elsewhere"
    assert git(calc_repo, "rev-parse", "HEAD") == before
    assert "def mul" not in (calc_repo / "calc.py").read_text()
    assert (calc_repo / "scratch.txt").read_text() == "work in progress\n"
    assert git(calc_repo, "rev-parse", "main") == merge_sha
    assert "def mul" in git(calc_repo, "show", "main:calc.py")
    assert git(calc_repo, "rev-parse", f"{merge_sha}^1") == before
    assert detail(store, task_id)["status"] == "merged"


def test_approve_refuses_a_task_that_is_not_ready(store, mul_spec, tmp_path, calc_repo):
    task_id = submit(store, mul_spec(agent_script(tmp_path, APPEND_MUL)))
    before = git(calc_repo, "rev-parse", "main")

    with pytest.raises(StateError, match=rf"task {task_id} is queued: only READY tasks"):
        approve(store, task_id)

    assert git(calc_repo, "rev-parse", "main") == before
    assert detail(store, task_id)["status"] == "queued"


RESOLVE = "sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d' calc.py"


def test_approve_after_a_conflicting_base_change_says_to_rebase_and_rebase_carries_it(
    store, mul_spec, tmp_path, calc_repo
):
    task_id = submit(store, mul_spec(agent_script(tmp_path, f"{RESOLVE}\n{APPEND_MUL}")))
    drain(store)
    (calc_repo / "calc.py").write_text(
        (calc_repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n"
    )
    moved = commit_all(calc_repo, "add sub")

    with pytest.raises(MergeConflict, match=rf"overnight rebase {task_id}"):
        approve(store, task_id)
    assert git(calc_repo, "rev-parse", "main") == moved
    assert detail(store, task_id)["status"] == "ready"

    run = rebase(store, task_id)
    assert (run.number, run.kind, run.base_sha) == (2, "rebase", moved)
    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    assert task["runs"][1]["base_sha"] == moved
    feedback = (tmp_path / "agent-out" / "feedback-2-1.txt").read_text()
    assert "- calc.py: it holds conflict markers" in feedback
    assert (tmp_path / "agent-out" / "mul-before-2.txt").read_text().strip() == "1"
    approve(store, task_id)
    merged = (calc_repo / "calc.py").read_text()
    assert "def sub" in merged and "def mul" in merged


def test_rebase_carries_a_change_that_still_applies_without_rerunning_the_agent(
    store, mul_spec, tmp_path, calc_repo
):
    task_id = ready_task(store, mul_spec, tmp_path)
    (calc_repo / "NOTES.md").write_text("unrelated\n")
    moved = commit_all(calc_repo, "notes")

    rebase(store, task_id)
    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    assert len(task["runs"]) == 2 and task["runs"][1]["base_sha"] == moved
    assert git(calc_repo, "rev-parse", f"{task['head_sha']}^") == moved
    assert (tmp_path / "agent-out" / "calls.txt").read_text().split() == ["1"]
    assert pull_requests(store, task_id) == {1: "closed", 2: "open"}


def test_request_changes_runs_again_from_the_previous_change_with_the_feedback(
    store, mul_spec, tmp_path, calc_repo
):
    body = (
        APPEND_MUL
        + '\nif [ -n "$OVERNIGHT_FEEDBACK" ]; then'
        + " sed -i 's/return a \\* b/return b * a/' calc.py; fi"
    )
    task_id = submit(store, mul_spec(agent_script(tmp_path, body)))
    drain(store)
    assert detail(store, task_id)["status"] == "ready"

    run = request_changes(store, task_id, "Please multiply b by a.")
    assert (run.number, run.feedback) == (2, "Please multiply b by a.")
    assert detail(store, task_id)["status"] == "queued"
    drain(store)

    out = tmp_path / "agent-out"
    assert (out / "feedback-1-1.txt").read_text() == ""
    assert "Please multiply b by a." in (out / "feedback-2-1.txt").read_text()
    assert (out / "mul-before-1.txt").read_text().strip() == "0"
    assert (out / "mul-before-2.txt").read_text().strip() == "1"
    task = detail(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    assert len(task["runs"]) == 2
    assert "return b * a" in git(calc_repo, "show", f"{task['branch']}:calc.py")
    assert pull_requests(store, task_id) == {1: "closed", 2: "open"}


def test_request_changes_needs_a_message(store, mul_spec, tmp_path):
    task_id = submit(store, mul_spec(agent_script(tmp_path, APPEND_MUL)))
    with pytest.raises(StateError, match="say what to change"):
        request_changes(store, task_id, "  ")
    assert len(detail(store, task_id)["runs"]) == 1


def test_reject_closes_the_pull_request_and_merges_nothing(store, mul_spec, tmp_path, calc_repo):
    task_id = ready_task(store, mul_spec, tmp_path)
    before = git(calc_repo, "rev-parse", "main")

    reject(store, task_id, "not wanted")

    task = detail(store, task_id)
    assert task["status"] == "rejected"
    assert task["failure_reason"] == "rejected: not wanted"
    assert task["pull_request"]["state"] == "closed"
    assert git(calc_repo, "rev-parse", "main") == before
    assert "def mul" not in (calc_repo / "calc.py").read_text()
    with pytest.raises(StateError, match="only READY tasks"):
        approve(store, task_id)

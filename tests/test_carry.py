"""Rebase carries the change forward, end to end with the worker in the default sandbox:
a clean replay is graded and READY with no agent turn; a conflicting one leaves the
other files as they were and gives the agent only the conflicts and the earlier
review feedback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CALC, INHERIT, TEST_CALC, drain
from sqlalchemy import select

from overnight.errors import MergeConflict
from overnight.intake import submit_text
from overnight.pipeline.carry import Carried, brief, leftover_markers, replay
from overnight.review import approve, base_moved, rebase, request_changes
from overnight.store import Artifact, Run, Store
from overnight.testing import commit_all, make_repo
from overnight.views import task_detail
from overnight.workspace import Workspace, git

OVERNIGHT = str(Path(sys.executable).parent / "overnight")
TEST_MUL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
# Shows what it starts from (its output is the run's agent log: the sandbox lets it
# write nothing outside the workspace), then: resolves conflict markers by keeping
# both sides; or adds mul() and helpers.py; or, asked to, a docstring.
AGENT = '''set -e
echo "== sandbox: host=$(hostname) uid=$(id -u)"
echo "== feedback"; cat "$OVERNIGHT_FEEDBACK_FILE"; echo
echo "== calc.py"; cat calc.py
echo "== helpers.py"; cat helpers.py 2>/dev/null || echo "(none)"
if grep -q '^<<<<<<< ' calc.py; then
  sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d' calc.py
elif ! grep -q 'def mul' calc.py; then
  printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py
  printf 'def double(x):\\n    return 2 * x\\n' > helpers.py
elif printf %s "$OVERNIGHT_FEEDBACK" | grep -q docstring; then
  sed -i 's/^def mul(a, b):$/def mul(a, b):\\n    """The product."""/' calc.py
fi
'''


@pytest.fixture
def sandboxed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default sandbox (bwrap here, as in CI), not the suite's `none`."""
    monkeypatch.setenv("OVERNIGHT_SANDBOX", "auto")


def ready_task(store: Store, tmp_path: Path) -> tuple[int, Path]:
    script = tmp_path / "agent" / "agent.sh"  # the sandbox shows the agent only its folder
    script.parent.mkdir()
    script.write_text(AGENT)
    repo = make_repo(
        tmp_path / "calc",
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "overnight.toml": INHERIT + f'agent_paths = ["{script.parent}"]\n'
            'test_cmd = "python -m pytest -q"\nlint_cmd = "ruff check"\n',
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
        },
    )
    (tmp_path / "test_mul.patch").write_text(
        "--- /dev/null\n+++ b/tests/test_mul.py\n@@ -0,0 +1,5 @@\n"
        + "".join(f"+{line}\n" for line in TEST_MUL.splitlines())
    )
    agent = f"command:bash {script}"
    spec = f"""---
title: Add mul to calc
repo: {repo}
acceptance:
  - tests: tests/test_mul.py::test_mul
  - test_patch: test_mul.patch
    hidden: true
agent: {json.dumps(agent)}
---
Add `mul(a, b)` to calc.py, returning the product of its arguments.
"""
    task_id = submit_text(store, spec, source="mul.md", base_dir=tmp_path).task.id
    drain(store)
    assert outcome(store, task_id)["status"] == "ready", outcome(store, task_id)["failure_reason"]
    return task_id, repo


def outcome(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def moved(store: Store, task_id: int) -> bool:
    with store.session() as session:
        return base_moved(store.task(session, task_id))


def agent_log(store: Store, task_id: int, run: int) -> str:
    with store.session() as session:
        return "\n".join(
            session.scalars(
                select(Artifact.content)
                .join(Run, Artifact.run_id == Run.id)
                .where(
                    Run.task_id == task_id, Run.number == run, Artifact.name.like("step-agent-%")
                )
            )
        )


def show(repo: Path, rev: str, path: str) -> str:
    return git(["show", f"{rev}:{path}"], repo)


@pytest.mark.slow
def test_a_clean_replay_is_graded_and_ready_without_the_agent(store, tmp_path, sandboxed):
    task_id, repo = ready_task(store, tmp_path)
    refused = subprocess.run(
        [OVERNIGHT, "rebase", str(task_id)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert refused.returncode != 0 and refused.stdout == ""
    assert re.fullmatch(
        f"error: task {task_id} is already on the head of main "
        r"\([0-9a-f]{10}\): there is nothing to rebase onto\n",
        refused.stderr,
    )
    assert not moved(store, task_id)
    (repo / "NOTES.md").write_text("a change to another file\n")
    head = commit_all(repo, "notes")
    assert moved(store, task_id)

    run = rebase(store, task_id)
    drain(store)

    task = outcome(store, task_id)
    assert (run.number, run.kind) == (2, "rebase")
    assert task["status"] == "ready", task["failure_reason"]
    second = task["runs"][1]
    assert "agent" not in [s["name"] for s in second["steps"]]  # nothing for it to do
    assert second["attempts"] == 1
    assert {g["name"]: g["verdict"] for g in second["gates"]}["tests"] == "pass"
    assert git(["rev-parse", f"{task['head_sha']}^"], repo) == head
    assert "def mul" in show(repo, task["head_sha"], "calc.py")
    assert "def double" in show(repo, task["head_sha"], "helpers.py")
    assert not moved(store, task_id)
    approve(store, task_id)
    assert "def mul" in (repo / "calc.py").read_text() and (repo / "NOTES.md").exists()


@pytest.mark.slow
def test_a_conflicting_replay_gives_the_agent_only_the_conflicts_and_the_review(
    store, tmp_path, sandboxed
):
    task_id, repo = ready_task(store, tmp_path)
    request_changes(store, task_id, "Please add a docstring to mul.")
    drain(store)
    assert outcome(store, task_id)["status"] == "ready"
    (repo / "calc.py").write_text(CALC + "\n\ndef sub(a, b):\n    return a - b\n")
    commit_all(repo, "add sub")
    with pytest.raises(MergeConflict, match=rf"calc.py.*overnight rebase {task_id}"):
        approve(store, task_id)

    rebase(store, task_id)
    drain(store)

    task = outcome(store, task_id)
    assert task["status"] == "ready", task["failure_reason"]
    log = agent_log(store, task_id, 3)
    assert "== sandbox: host=overnight uid=2" in log  # bwrap, as a task uid
    feedback = log.split("== feedback")[1].split("== calc.py")[0]
    assert "- calc.py: it holds conflict markers" in feedback
    assert "helpers.py" not in feedback  # it merged cleanly: not the agent's business
    assert "- Please add a docstring to mul." in feedback
    start = log.split("== calc.py")[1]
    assert "<<<<<<< ours\ndef sub(a, b):" in start and '"""The product."""' in start
    assert "== helpers.py\ndef double(x):\n    return 2 * x" in start  # as run 1 left it
    gates = {g["name"]: g for g in task["runs"][2]["gates"]}
    assert gates["conflicts"]["verdict"] == "pass" and "calc.py" in gates["conflicts"]["summary"]
    approve(store, task_id)
    merged = (repo / "calc.py").read_text()
    assert "def sub" in merged and '"""The product."""' in merged and "<<<" not in merged
    assert (repo / "helpers.py").read_text() == "def double(x):\n    return 2 * x\n"


@pytest.mark.slow
def test_a_conflict_marker_left_in_the_change_is_not_ready(store, tmp_path, sandboxed):
    task_id, repo = ready_task(store, tmp_path)
    (repo / "calc.py").write_text(CALC + "\n\ndef sub(a, b):\n    return a - b\n")
    commit_all(repo, "add sub")
    (tmp_path / "agent" / "agent.sh").write_text("echo leaving the markers\n")  # resolves nothing

    rebase(store, task_id)
    drain(store)

    task = outcome(store, task_id)
    assert task["status"] == "failed"
    gates = {g["name"]: g for g in task["runs"][1]["gates"]}
    assert gates["conflicts"]["verdict"] == "fail"
    assert gates["conflicts"]["summary"] == "conflict markers left in calc.py"


def clone_at(
    tmp_path: Path, files: dict[str, str], change: dict[str, str | None], base: dict[str, str]
) -> tuple[Workspace, str]:
    """A clone at a moved base, and the diff a run made on the old one."""
    repo = make_repo(tmp_path / "repo", files)
    old = git(["rev-parse", "HEAD"], repo)
    for path, text in change.items():
        if text is None:
            (repo / path).unlink()
        else:
            (repo / path).write_text(text)
    git(["add", "-A"], repo)
    diff = git(["diff", "--cached", "--binary", "--full-index"], repo)
    git(["reset", "-q", "--hard"], repo)
    for path, text in base.items():
        (repo / path).write_text(text)
    commit_all(repo, "moved")
    clone = Workspace.create(repo, tmp_path / "clone", git(["rev-parse", "HEAD"], repo), "t")
    assert old != clone.base_sha
    return clone, diff


def test_replay_goes_file_by_file_when_one_file_cannot_be_merged_at_all(tmp_path):
    clone, diff = clone_at(
        tmp_path,
        {"a.txt": "one\n", "b.txt": "two\n"},
        change={"a.txt": "one, changed\n", "b.txt": None, "c.txt": "new\n"},
        base={"b.txt": "two, changed on the base\n", "c.txt": "made on the base too\n"},
    )

    carried = replay(clone, diff)

    assert (clone.path / "a.txt").read_text() == "one, changed\n"  # clean: carried
    assert carried.conflicts == ["c.txt"]  # added on both sides: markers
    assert "=======\nnew\n>>>>>>> theirs" in (clone.path / "c.txt").read_text()
    assert list(carried.unapplied) == ["b.txt"]  # deleted here, changed there: no merge
    assert (clone.path / "b.txt").read_text() == "two, changed on the base\n"
    text = brief(carried, clone.base_sha, [])
    assert "- b.txt: your change to it could not be merged" in text and "\n-two\n" in text
    assert "a.txt" not in text and "A reviewer" not in text


def test_the_brief_lists_every_earlier_review_message():
    text = brief(Carried(conflicts=["calc.py"]), "f" * 40, ["First.", "Second."])

    assert "new base commit ffffffffff" in text
    assert "- calc.py: it holds conflict markers" in text
    assert text.endswith("- First.\n- Second.")


def test_only_markers_the_change_added_count(tmp_path):
    conflict = "<<<<<<< ours\na\n=======\nb\n>>>>>>> theirs\n"
    repo = make_repo(
        tmp_path / "repo", {"git.md": f"How a conflict looks:\n{conflict}", "a.py": "x = 1\n"}
    )
    before = git(["rev-parse", "HEAD"], repo)
    (repo / "a.py").write_text(f"x = 1\n{conflict}")
    (repo / "git.md").write_text(f"How a conflict looks, again:\n{conflict}")
    (repo / "dir é").mkdir()
    (repo / "dir é" / "new\nline.txt").write_text(">>>>>>> \n")
    after = commit_all(repo, "markers")
    clone = Workspace.create(repo, tmp_path / "clone", after, "t")

    assert leftover_markers(clone, before, after) == ["a.py", "dir é/new\nline.txt"]
    assert leftover_markers(clone, after, before) == []
    (repo / "z.txt").write_text("<<<<<<< \n")  # the last file git grep lists
    last = commit_all(repo, "z")
    clone = Workspace.create(repo, tmp_path / "clone", last, "t")
    assert leftover_markers(clone, after, last) == ["z.txt"]
    assert leftover_markers(clone, before, before) == []

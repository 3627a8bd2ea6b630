"""The CLI as a user runs it: the installed `overnight` command in a subprocess,
with its state in a temporary $OVERNIGHT_HOME."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import CALC, INHERIT, MUL_FIX, TEST_CALC

from overnight.store import Store, Task
from overnight.testing import make_repo

OVERNIGHT = str(Path(sys.executable).parent / "overnight")
GATE_VERDICTS = {"pass", "fail", "error", "skipped"}
TASK_STATUSES = {"queued", "running", "ready", "failed", "cancelled", "merged", "rejected"}

# the worker's own interpreter runs the tests: no virtualenv to build, so it is fast
INHERIT_TOML = INHERIT + 'setup = []\ntest_cmd = "python -m pytest -q"\n'
TEST_MUL_PATCH = """--- /dev/null
+++ b/tests/test_mul.py
@@ -0,0 +1,5 @@
+from calc import mul
+
+
+def test_mul():
+    assert mul(2, 3) == 6
"""


def overnight(
    *args: str, cwd: Path, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real entry point; $OVERNIGHT_HOME/$OVERNIGHT_CACHE come from `home`."""
    return subprocess.run(
        [OVERNIGHT, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    return lines[0]


def queued(store: Store) -> list[tuple[int, str]]:
    """(id, status) of every task, read in-process from the same store."""
    with store.session() as session:
        return [(t.id, t.status) for t in session.query(Task).order_by(Task.id)]


def status_json(cwd: Path) -> list[dict]:
    proc = overnight("status", "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    """calc with its tests, configured to run in the worker's own interpreter."""
    return make_repo(
        tmp_path / "repo",
        {"calc.py": CALC, "tests/test_calc.py": TEST_CALC, "overnight.toml": INHERIT_TOML},
    )


@pytest.fixture
def spec(tmp_path: Path, repo: Path):
    """Write a spec for mul() in `repo`; returns a function of (name, agent, extra)."""
    (tmp_path / "test_mul.patch").write_text(TEST_MUL_PATCH)
    (tmp_path / "mul.diff").write_text(MUL_FIX)

    def write(name: str = "mul.md", agent: str = "command:true", extra: str = "") -> Path:
        path = tmp_path / name
        path.write_text(
            f"---\ntitle: Add mul to calc\nrepo: {repo}\n"
            "acceptance:\n  - tests: tests/test_mul.py::test_mul\n"
            "  - test_patch: test_mul.patch\n    hidden: true\n"
            f"agent: {agent!r}\n{extra}---\n"
            "Add `mul(a, b)` to calc.py, returning the product of its arguments.\n"
        )
        return path

    return write


def head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


# -- init ----------------------------------------------------------------------


def test_init_detects_the_project_and_writes_overnight_toml(tmp_path, home):
    project = make_repo(
        tmp_path / "proj",
        {
            "pyproject.toml": '[project]\nname = "proj"\n'
            '[project.optional-dependencies]\ntest = ["pytest"]\n'
            "[tool.ruff]\nline-length = 100\n",
            "proj.py": "",
        },
    )
    (project / "sub").mkdir()
    proc = overnight("init", cwd=project / "sub")
    assert proc.returncode == 0, proc.stderr
    written = project / "overnight.toml"
    assert f"wrote {written}" in proc.stdout
    config = tomllib.loads(written.read_text())
    assert config["setup"] == ["python -m pip install -e '.[test]'"]
    assert config["test_cmd"] == "python -m pytest"
    assert config["lint_cmd"] == "ruff check"
    assert set(config["gates"]) == {
        "scope",
        "test-integrity",
        "tests",
        "acceptance-commands",
        "lint",
        "types",
        "docs",
        "security",
        "coverage",
        "downstream",
        "review",
    }


def test_init_refuses_to_overwrite_without_force(repo):
    before = (repo / "overnight.toml").read_text()
    proc = overnight("init", cwd=repo)
    assert proc.returncode == 2
    assert "--force" in one_line_error(proc)
    assert (repo / "overnight.toml").read_text() == before
    forced = overnight("init", "--force", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    assert (repo / "overnight.toml").read_text() != before


def test_init_outside_a_git_repository_is_a_one_line_error(tmp_path, home):
    proc = overnight("init", cwd=tmp_path)
    assert proc.returncode != 0
    assert "not a git repository" in one_line_error(proc)
    assert not (tmp_path / "overnight.toml").exists()


# -- spec lint -----------------------------------------------------------------


def test_spec_lint_of_a_good_spec_says_ok(spec, tmp_path, home):
    proc = overnight("spec", "lint", "mul.md", cwd=spec().parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == (
        "mul.md: ok\n  budget: 3 attempt(s) in 30 min: agent up to 28 min, grading reserve 2 min\n"
    )


def test_a_spec_without_repo_is_for_the_repository_you_are_in_wherever_it_lies(
    tmp_path, repo, store
):
    outside = tmp_path / "specs"  # not in any repository
    outside.mkdir()
    path = outside / "check.md"
    path.write_text("---\ntitle: Check calc\nacceptance:\n  - run: 'true'\n---\nCheck.\n")
    lint = overnight("spec", "lint", str(path), cwd=repo / "tests")
    proc = overnight("submit", str(path), cwd=repo / "tests")
    assert lint.returncode == 0 and lint.stdout.startswith(f"{path}: ok\n"), lint.stdout
    assert proc.returncode == 0, proc.stderr
    assert [t["repo"] for t in status_json(repo)] == [str(repo)]

    lint = overnight("spec", "lint", str(path), cwd=outside)
    proc = overnight("submit", str(path), cwd=outside)
    says = (
        f"{outside} is not in a git repository and the spec has no 'repo': run this from "
        "inside your repository, or add 'repo: PATH' to the spec"
    )
    assert lint.returncode == 1 and lint.stdout == f"{path}:1: error: {says}\n"
    assert proc.returncode == 2 and one_line_error(proc) == f"error: {says}"
    assert len(queued(store)) == 1


def test_spec_lint_prints_file_line_error_lines_and_exits_1(tmp_path, home):
    (tmp_path / "bad.md").write_text(
        "---\ntitle: Improve things\npriorty: 1\nacceptance:\n  - it works\n---\nSomehow.\n"
    )
    proc = overnight("spec", "lint", "bad.md", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert "bad.md:3: error: unknown field 'priorty' (did you mean 'priority'?)" in lines
    assert any(line.startswith("bad.md:5: error: acceptance item 'it works'") for line in lines)
    assert any(line.startswith("bad.md:2: error: vague wording 'Improve'") for line in lines)
    assert all(line.startswith("bad.md:") and ": error: " in line for line in lines)


def test_spec_lint_reads_stdin_and_checks_every_file(spec, repo, home):
    path = spec()
    text = "---\ntitle: Add mul\nacceptance:\n  - run: 'true'\n---\nAdd mul.\n"
    proc = overnight("spec", "lint", "-", str(path), "nope.md", cwd=repo, stdin=text)
    assert proc.returncode == 2
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("  budget: ")]
    assert lines == ["-: ok", f"{path}: ok"]
    assert one_line_error(proc) == "error: no such spec file: nope.md"


def test_spec_lint_reports_a_test_patch_that_does_not_exist(spec, tmp_path, home):
    path = spec()
    path.write_text(path.read_text().replace("test_mul.patch", "gone.patch"))
    proc = overnight("spec", "lint", path.name, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("mul.md:6: error: test_patch 'gone.patch' cannot be read")


def test_spec_lint_warnings_alone_exit_0(repo, home):
    (repo / "w.md").write_text(
        "---\ntitle: Clean up calc\nacceptance:\n  - run: 'true'\n---\n- add() keeps its name\n"
    )
    proc = overnight("spec", "lint", "w.md", cwd=repo)
    assert proc.returncode == 0
    assert proc.stdout.startswith("w.md:2: warning: vague wording 'Clean up'")
    assert proc.stdout.endswith(
        "\n  budget: 3 attempt(s) in 30 min: agent up to 28 min, grading reserve 2 min\n"
    )


# -- submit --------------------------------------------------------------------


def test_submit_prints_one_task_id_per_spec_and_nothing_else(spec, repo, tmp_path):
    first, second = spec("a.md"), spec("b.md")
    proc = overnight("submit", str(first), str(second), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n2\n"
    tasks = status_json(tmp_path)
    assert [(t["id"], t["status"]) for t in tasks] == [(1, "queued"), (2, "queued")]
    assert {t["base_sha"] for t in tasks} == {head(repo)}
    assert tasks[0]["branch"] == "overnight/1-add-mul-to-calc"


def test_submit_reads_a_spec_from_stdin(spec, tmp_path, store):
    text = spec().read_text()
    proc = overnight("submit", "-", cwd=tmp_path, stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"
    assert queued(store) == [(1, "queued")]


def test_submit_inline_spec_from_options(repo):
    proc = overnight(
        "submit",
        "--title",
        "Add mul",
        "--accept-test",
        "tests/test_mul.py::test_mul",
        "--accept-run",
        "python -c 'import calc; calc.mul'",
        "--body",
        "Add `mul(a, b)` to calc.py.",
        "--agent",
        "command:true",
        cwd=repo,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"
    assert proc.stderr == ""
    show = json.loads(overnight("show", "1", "--json", cwd=repo).stdout)
    assert "tests: tests/test_mul.py::test_mul" in show["spec"]
    assert "run: python -c 'import calc; calc.mul'" in show["spec"]
    assert show["agent"] == "command:true"


def test_submit_accept_test_without_title_is_a_usage_error(repo):
    proc = overnight("submit", "--accept-test", "tests/test_x.py::t", cwd=repo)
    assert proc.returncode == 2
    assert "--title" in one_line_error(proc)


def test_submit_json_prints_the_task_objects(spec, repo, tmp_path):
    proc = overnight("submit", "--json", str(spec()), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [task] = json.loads(proc.stdout)
    assert task["id"] == 1
    assert task["status"] == "queued"
    assert task["base_sha"] == head(repo)
    assert task["head_sha"] is None and task["failure_reason"] is None


def test_submit_with_one_bad_spec_queues_nothing(spec, tmp_path, store):
    good = spec("good.md")
    bad = tmp_path / "bad.md"
    bad.write_text(good.read_text().replace("title: Add mul to calc\n", "title: Add mul\npri: 1\n"))
    proc = overnight("submit", str(good), str(bad), cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "unknown field 'pri'" in one_line_error(proc)
    assert status_json(tmp_path) == []
    assert queued(store) == []


def test_submit_with_a_missing_test_patch_queues_nothing(spec, tmp_path, store):
    path = spec()
    path.write_text(path.read_text().replace("test_mul.patch", "gone.patch"))
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "test_patch 'gone.patch' cannot be read" in one_line_error(proc)
    assert queued(store) == []


def test_submit_outside_a_git_repository_is_a_one_line_error(tmp_path, store):
    proc = overnight("submit", "--title", "Add mul", "--accept-run", "true", cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert f"{tmp_path} is not in a git repository" in one_line_error(proc)
    assert queued(store) == []


def test_submit_with_an_unknown_base_is_a_one_line_error(spec, tmp_path, store):
    proc = overnight("submit", str(spec(extra="base: no-such-branch\n")), cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "unknown base 'no-such-branch'" in one_line_error(proc)
    assert queued(store) == []


def test_submit_of_a_missing_spec_file_exits_2(tmp_path, home):
    proc = overnight("submit", "nope.md", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_line_error(proc) == "error: no such spec file: nope.md"


def test_submit_from_a_dirty_tree_warns_on_stderr(spec, repo, tmp_path):
    (repo / "calc.py").write_text(CALC + "# work in progress\n")
    proc = overnight("submit", str(spec()), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"
    [warning] = proc.stderr.splitlines()
    assert warning.startswith("warning: ")
    assert "uncommitted change(s) (e.g. calc.py)" in warning
    assert head(repo)[:10] in warning


def test_submit_spec_warnings_go_to_stderr_once_prefixed(spec, tmp_path):
    path = spec()
    path.write_text(path.read_text().replace("Add `mul(a, b)`", "Tidy: add `mul(a, b)`"))
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"
    [warning] = proc.stderr.splitlines()
    assert warning.startswith(f"warning: {path}:10: vague wording 'Tidy'")


# -- status, show, cancel ------------------------------------------------------


def test_show_of_an_unknown_task_exits_2(tmp_path, home):
    proc = overnight("show", "999", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_line_error(proc).startswith("error: no task 999")


def test_status_of_an_empty_queue_is_an_empty_list(tmp_path, home):
    assert status_json(tmp_path) == []


def test_status_shows_each_tasks_cost_and_a_total_that_never_counts_unknown_as_zero(
    tmp_path, store, monkeypatch
):
    from overnight.testing.history import populate

    monkeypatch.setenv("COLUMNS", "250")
    ids = populate(store, tasks=6, events=0)  # odd ids: a command agent, calls unrecorded
    rows = {r["id"]: r for r in status_json(tmp_path)}
    assert all(rows[i]["cost_usd"] is None for i in ids if i % 2)
    known = [rows[i]["cost_usd"] for i in ids if i % 2 == 0]
    assert all(isinstance(c, float) for c in known) and sum(known) > 0
    proc = overnight("status", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for i in ids:
        line = next(line for line in lines if f"Task {i}:" in line)
        assert ("unknown" if i % 2 else f"${rows[i]['cost_usd']:.4f}") in line
    total = next(line for line in lines if "6 task(s)" in line)
    assert f"${sum(known):.4f} + 3 task(s) of unknown cost" in total
    assert "$0.0000" not in proc.stdout


def test_a_command_agents_cost_is_unknown_in_show_and_its_json(spec, tmp_path, store):
    overnight("submit", str(spec(extra="budget: {attempts: 1}\n")), cwd=tmp_path)
    from overnight.testing import run_until_idle

    run_until_idle(store)
    shown = overnight("show", "1", "--no-diff", cwd=tmp_path)
    assert "cost unknown · 0 turn(s)" in shown.stdout and "$0.0000" not in shown.stdout
    data = json.loads(overnight("show", "1", "--json", cwd=tmp_path).stdout)
    assert data["usage"]["cost_usd"] is None and data["runs"][0]["usage"]["cost_usd"] is None


def test_cancel_a_queued_task(spec, tmp_path, store):
    overnight("submit", str(spec()), cwd=tmp_path)
    proc = overnight("cancel", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "task 1: cancelled\n"
    assert queued(store) == [(1, "cancelled")]
    again = overnight("cancel", "1", cwd=tmp_path)
    assert again.returncode == 1
    assert "only queued or running tasks can be cancelled" in one_line_error(again)


# -- with a worker -------------------------------------------------------------


def test_worker_drain_then_show_and_logs(spec, repo, tmp_path):
    good = spec("good.md", agent=f"command:git apply {tmp_path / 'mul.diff'}")
    idle = spec("idle.md", agent="command:true", extra="budget: {attempts: 1}\n")
    submitted = overnight("submit", str(good), str(idle), cwd=tmp_path)
    assert submitted.stdout == "1\n2\n", submitted.stderr

    worker = overnight("worker", "--drain", cwd=tmp_path, timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout == ""
    assert "stopped after 2 task(s)" in worker.stderr

    ready = json.loads(overnight("show", "1", "--json", cwd=tmp_path).stdout)
    assert {"id", "status", "runs", "branch", "base_sha", "head_sha", "failure_reason"} <= set(
        ready
    )
    assert ready["status"] == "ready", ready["failure_reason"]
    assert ready["failure_reason"] is None
    assert ready["base_sha"] == head(repo)
    branch_sha = subprocess.run(
        ["git", "rev-parse", ready["branch"]], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert branch_sha == ready["head_sha"]
    gates = ready["runs"][0]["gates"]
    assert all({"name", "verdict", "command", "summary"} <= set(g) for g in gates)
    assert all(g["verdict"] in GATE_VERDICTS for g in gates)
    tests = next(g for g in gates if g["name"] == "tests")
    assert tests["verdict"] == "pass"
    assert "pytest" in tests["command"]

    failed = json.loads(overnight("show", "2", "--json", cwd=tmp_path).stdout)
    assert failed["status"] == "failed"
    assert "tests" in failed["failure_reason"]
    assert failed["failing_gates"] == ["tests"]
    assert failed["pull_request"] is None
    assert {t["status"] for t in status_json(tmp_path)} <= TASK_STATUSES

    logs = overnight("logs", "1", "--gate", "tests", cwd=tmp_path)
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.startswith("===== run 1 · gate tests (attempt 1) · pass")
    assert "$ python -m pytest -q\n" in logs.stdout  # one run: acceptance first, then the rest
    assert "3 passed" in logs.stdout
    assert "gate scope" not in logs.stdout

    missing = overnight("logs", "1", "--gate", "nosuch", cwd=tmp_path)
    assert missing.returncode == 2
    assert one_line_error(missing) == "error: no logs for gate 'nosuch' in task 1"


# -- input a user could get wrong: one line, exit 2, nothing queued -------------


def test_spec_lint_of_a_binary_file_is_one_line_not_a_traceback(tmp_path, home):
    (tmp_path / "bin.md").write_bytes(b"---\ntitle: \xbe\xef\n---\n")
    proc = overnight("spec", "lint", "bin.md", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert proc.stdout == (
        "bin.md:2: error: not UTF-8 text (byte 0xbe on line 2): a spec is Markdown; "
        "save it as UTF-8\n"
    )


def test_submit_of_a_binary_spec_queues_nothing(tmp_path, store):
    (tmp_path / "bin.md").write_bytes(bytes(range(256)) * 4)
    proc = overnight("submit", "bin.md", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_line_error(proc).startswith(
        "error: bin.md has 1 error(s): bin.md:2: error: not UTF-8 text (byte 0x80 on line 2)"
    )
    assert queued(store) == []


def test_submit_with_a_binary_test_patch_queues_nothing(spec, tmp_path, store):
    path = spec()
    (tmp_path / "test_mul.patch").write_bytes(TEST_MUL_PATCH.encode() + b"+\xff\xfe\n")
    lint = overnight("spec", "lint", path.name, cwd=tmp_path)
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert lint.returncode == 1
    assert "test_patch 'test_mul.patch' is not UTF-8 text (byte 0xff on line 9)" in lint.stdout
    assert proc.returncode == 2
    assert "test_patch 'test_mul.patch' is not UTF-8 text" in one_line_error(proc)
    assert queued(store) == []


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("priority: 2147483648\n", "'priority' must be at most 2147483647"),
        ("priority: 99999999999999999999\n", "'priority' must be at most 2147483647"),
        ("budget: {attempts: 100000}\n", "'budget.attempts' must be at most 100"),
        ("budget: {tokens: 0}\n", "'budget.tokens' must be at least 1"),
        ("budget: {minutes: .nan}\n", "'budget.minutes' must be a positive number"),
        ("budget: {usd: .inf}\n", "'budget.usd' must be at most 100000"),
        ("depends_on: 99999999999999999999\n", "'depends_on' names task 99999999999999999999"),
        ("queue: fast\nqueue: slow\n", "duplicate key 'queue' (first on line 9)"),
        ('base: "main\\u0000"\n', "'base' must be one line without control characters"),
    ],
)
def test_lint_fails_and_submit_queues_nothing_where_the_store_would_crash(
    spec, tmp_path, store, extra, says
):
    path = spec(extra=extra)
    lint = overnight("spec", "lint", path.name, cwd=tmp_path)
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert lint.returncode == 1
    assert says in lint.stdout
    assert proc.returncode == 2
    assert says in one_line_error(proc)
    assert queued(store) == []


@pytest.mark.parametrize(
    ("agent", "says"),
    [
        ("", "'agent' is empty: name one ('builtin', 'builtin:<model>' or"),
        ("   ", "'agent' is empty: name one"),
        ("aider --yes", "unknown agent 'aider --yes': use 'builtin', 'builtin:<model>' or"),
        ("command:", "unknown agent 'command:'"),
    ],
)
def test_an_empty_or_unknown_agent_fails_lint_and_queues_nothing(
    spec, tmp_path, store, agent, says
):
    path = spec(agent=agent)
    lint = overnight("spec", "lint", path.name, cwd=tmp_path)
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert lint.returncode == 1 and says in lint.stdout
    assert proc.returncode == 2 and says in one_line_error(proc)
    assert queued(store) == []


def test_an_empty_agent_override_is_a_usage_error(spec, tmp_path, store):
    proc = overnight("submit", "--agent", "", str(spec()), cwd=tmp_path)
    assert proc.returncode == 2
    assert one_line_error(proc).startswith("error: agent override: the agent is empty")
    assert queued(store) == []


def test_a_spec_over_the_limit_is_refused_with_one_message_from_file_and_stdin(
    spec, tmp_path, store
):
    path = spec()
    path.write_text(path.read_text() + "Context. " * 12_000)
    lint = overnight("spec", "lint", path.name, cwd=tmp_path)
    from_file = overnight("submit", str(path), cwd=tmp_path)
    from_stdin = overnight("submit", "-", cwd=tmp_path, stdin=path.read_text())
    size = len(path.read_text())
    too_long = f"the spec is too long ({size:,} characters; at most 100,000 characters)"
    assert lint.returncode == 1 and too_long in lint.stdout
    assert from_file.returncode == 2 and too_long in one_line_error(from_file)
    assert from_stdin.returncode == 2
    assert one_line_error(from_stdin) == one_line_error(from_file).replace(str(path), "<stdin>")
    assert queued(store) == []


@pytest.mark.parametrize(
    ("title", "shown"),
    [("Add\nmul", "U+000A (a line break)"), ("Add\x1b[2Jmul", "U+001B (an escape)")],
)
def test_an_inline_title_with_a_control_character_is_refused(repo, store, title, shown):
    proc = overnight("submit", "--title", title, "--accept-run", "true", cwd=repo)
    assert proc.returncode == 2
    assert f"'title' must be one line without control characters; it holds {shown}" in (
        one_line_error(proc)
    )
    assert queued(store) == []


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--title", "'title' must be one line without control characters; it holds U+DCFF"),
        ("--accept-run", "'acceptance' holds U+DCFF (an unpaired surrogate: a byte that was not"),
        ("--body", "line 6 holds an unpaired surrogate: send the spec as UTF-8"),
        ("--agent", "agent override: 'command:x\\udcff' holds U+DCFF"),
    ],
)
def test_arguments_that_are_not_utf8_are_refused_not_a_crash(repo, store, option, says):
    given = {
        "--title": "Add mul",
        "--accept-run": "true",
        "--body": "Add mul.",
        "--agent": "command:x",
    }
    given[option] += "\udcff"  # the byte 0xff, as Python reads it from argv
    proc = overnight("submit", *[part for pair in given.items() for part in pair], cwd=repo)
    assert proc.returncode == 2
    assert says in one_line_error(proc)
    assert queued(store) == []


def test_an_empty_inline_title_is_required(repo, store):
    proc = overnight("submit", "--title", "", "--accept-run", "true", cwd=repo)
    assert proc.returncode == 2
    assert "'title' is required" in one_line_error(proc)
    assert queued(store) == []


@pytest.mark.parametrize(
    ("repo_line", "says"),
    [
        ("file:///etc", "/etc is not a git repository: run 'git init' there or point 'repo'"),
        ("/etc", "/etc is not a git repository"),
        ("plain", "plain is not a git repository"),
        ("afile", "afile is a file, not a git repository: point 'repo' at the repository's"),
        ("file:///no/such/dir", "repository /no/such/dir does not exist: fix 'repo'"),
        ("gopher://host/x", "has an unknown URL scheme 'gopher': give a path, or a file://"),
    ],
)
def test_a_repo_that_is_not_a_git_repository_says_so_and_queues_nothing(
    spec, tmp_path, store, repo_line, says
):
    (tmp_path / "plain").mkdir()
    (tmp_path / "afile").write_text("not a repository\n")
    path = spec()
    path.write_text(re.sub(r"^repo: .*$", f"repo: {repo_line}", path.read_text(), flags=re.M))
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert says in one_line_error(proc)
    assert queued(store) == []


def test_a_remote_that_cannot_be_cloned_says_why_not_gits_closing_advice(spec, tmp_path, store):
    path = spec()
    url = "ssh://nohost.invalid/x.git"  # .invalid never resolves
    path.write_text(re.sub(r"^repo: .*$", f"repo: {url}", path.read_text(), flags=re.M))
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith(f"error: cannot clone {url}: git clone --bare failed: ")
    assert "and the repository exists" not in line
    assert queued(store) == []


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ("../outside.py", "a path out of the repository"),
        ("/tmp/abs.py", "an absolute path"),
        (".git/hooks/pre-commit", "a path inside .git/"),
    ],
)
def test_a_test_patch_leaving_the_repository_is_refused_naming_patch_and_path(
    spec, tmp_path, store, target, what
):
    path = spec()
    patch = TEST_MUL_PATCH.replace("tests/test_mul.py", target)
    (tmp_path / "test_mul.patch").write_text(patch)
    lint = overnight("spec", "lint", path.name, cwd=tmp_path)
    proc = overnight("submit", str(path), cwd=tmp_path)
    says = f"test_patch 'test_mul.patch' touches '{target}', {what}"
    assert lint.returncode == 1 and f"mul.md:6: error: {says}" in lint.stdout
    assert proc.returncode == 2 and says in one_line_error(proc)
    assert queued(store) == []


def test_submit_checks_every_repository_before_queuing_any(spec, tmp_path, store):
    (tmp_path / "plain").mkdir()
    good = spec("good.md")
    bad = spec("bad.md")
    bad.write_text(re.sub(r"^repo: .*$", "repo: plain", bad.read_text(), flags=re.M))
    proc = overnight("submit", str(good), str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "plain is not a git repository" in one_line_error(proc)
    assert queued(store) == []


def test_stdin_given_twice_is_a_usage_error(spec, tmp_path, store):
    proc = overnight("submit", "-", "-", cwd=tmp_path, stdin=spec().read_text())
    assert proc.returncode == 2
    assert one_line_error(proc) == (
        "error: '-' (stdin) can be given once: put the other specs in files"
    )
    assert queued(store) == []


@pytest.mark.parametrize("command", [["spec", "lint"], ["submit"]])
def test_a_directory_or_a_device_is_not_read_as_a_spec(tmp_path, home, command):
    directory = overnight(*command, ".", cwd=tmp_path)
    device = overnight(*command, "/dev/zero", cwd=tmp_path, timeout=20)
    assert directory.returncode == 2
    assert one_line_error(directory) == "error: . is a directory: give the spec files in it"
    assert device.returncode == 2
    assert one_line_error(device) == (
        "error: /dev/zero is not a regular file: give a spec file, or '-' for stdin"
    )


def test_values_at_the_limits_pass_lint_and_are_queued(spec, tmp_path, store):
    path = spec(
        extra="priority: -2147483648\nqueue: " + "q" * 100 + "\n"
        "budget: {attempts: 100, minutes: 10080, usd: 100000, tokens: 10000000000}\n"
    )
    path.write_text(path.read_text().replace("title: Add mul to calc", "title: " + "é" * 300))
    lint = overnight("spec", "lint", path.name, cwd=tmp_path)
    proc = overnight("submit", str(path), cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout
    assert proc.returncode == 0, proc.stderr
    assert queued(store) == [(1, "queued")]

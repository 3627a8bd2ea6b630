"""End to end: the gates cannot be gamed, and they say what failed.

Real git repositories in ``tmp_path``, real pytest runs in the shared cached
environment, and ``command`` agents made of small shell scripts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import CALC, MUL_FIX, OVERNIGHT_TOML, PYPROJECT, TEST_CALC, drain
from sqlalchemy import select

from overnight.intake import submit_text
from overnight.store import GateResult, Store
from overnight.testing import make_repo
from overnight.views import logs, task_detail

MUL_ID = "tests/test_mul.py::test_mul"

CALC_WITH_MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"

TEST_MUL = """from calc import mul


def test_mul():
    assert mul(2, 3) == 6
"""

# What a cheating agent writes over the acceptance test file.
TAMPERED = {
    "deleted": "rm tests/test_mul.py",
    "assert-true": "printf 'def test_mul():\\n    assert True\\n' > tests/test_mul.py",
    "skip-marker": (
        "cat > tests/test_mul.py <<'EOF'\n"
        "import pytest\n"
        "from calc import mul\n\n\n"
        '@pytest.mark.skip(reason="later")\n'
        "def test_mul():\n"
        "    assert mul(2, 3) == 6\n"
        "EOF"
    ),
}


# -- helpers -----------------------------------------------------------------


def new_file_patch(path: str, content: str) -> str:
    lines = content.splitlines()
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(
        f"+{line}\n" for line in lines
    )


def script(tmp_path: Path, body: str, name: str = "agent.sh") -> str:
    """An agent made of a shell script; returns the spec's ``agent`` value."""
    path = tmp_path / name
    path.write_text("set -e\n" + body + "\n")
    return f"command:sh {path}"


def write_calc(content: str) -> str:
    return f"cat > calc.py <<'EOF'\n{content}EOF"


def write_spec(tmp_path: Path, repo: Path, agent: str, acceptance: str, extra: str = "") -> Path:
    spec = tmp_path / "task.md"
    spec.write_text(
        f"---\ntitle: Add mul to calc\nrepo: {repo}\nacceptance:\n{acceptance}"
        f"agent: {agent!r}\n{extra}---\n"
        "Add `mul(a, b)` to calc.py, returning the product of its arguments.\n"
    )
    return spec


def run_task(store: Store, spec: Path) -> dict:
    """Submit the spec, run the worker until idle, return the task's detail."""
    task_id = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id
    drain(store)
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def verdicts(task: dict) -> dict[str, str]:
    return {g["name"]: g["verdict"] for g in task["runs"][-1]["gates"]}


def gate(task: dict, name: str) -> dict:
    return next(g for g in task["runs"][-1]["gates"] if g["name"] == name)


def gate_feedback(store: Store, name: str) -> str:
    """The feedback the last result of gate ``name`` gave (each test has its own store)."""
    with store.session() as session:
        row = session.scalars(
            select(GateResult).where(GateResult.name == name).order_by(GateResult.id.desc())
        ).first()
        assert row is not None
        return row.feedback


def show(repo: Path, rev_path: str) -> str:
    return subprocess.run(
        ["git", "show", rev_path], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def mul_test_repo(tmp_path: Path) -> Path:
    """calc without mul, whose failing tests/test_mul.py is already committed."""
    return make_repo(
        tmp_path / "calc-mul",
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "tests/test_mul.py": TEST_MUL,
            "overnight.toml": OVERNIGHT_TOML,
            "pyproject.toml": PYPROJECT,
        },
    )


@pytest.fixture
def mul_patch(tmp_path: Path) -> Path:
    path = tmp_path / "test_mul.patch"
    path.write_text(new_file_patch("tests/test_mul.py", TEST_MUL))
    return path


@pytest.fixture
def fix_diff(tmp_path: Path) -> Path:
    path = tmp_path / "mul.diff"
    path.write_text(MUL_FIX)
    return path


# -- the acceptance tests cannot be gamed ---------------------------------------


@pytest.mark.parametrize("where", ["test_patch", "in-repo"])
@pytest.mark.parametrize("tamper", sorted(TAMPERED))
def test_agent_that_tampers_with_the_acceptance_test_is_failed(
    store, tmp_path, calc_repo, mul_test_repo, mul_patch, tamper, where
):
    if where == "test_patch":
        repo, acceptance = calc_repo, f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    else:
        repo, acceptance = mul_test_repo, f"  - tests: {MUL_ID}\n"
    agent = script(tmp_path, TAMPERED[tamper])
    task = run_task(store, write_spec(tmp_path, repo, agent, acceptance, "budget: {attempts: 1}\n"))

    assert task["status"] == "failed"
    assert task["failing_gates"] == ["scope", "tests"]
    assert "tests/test_mul.py" in gate(task, "scope")["summary"]
    # graded on the restored acceptance test, which fails without mul()
    assert MUL_ID in gate(task, "tests")["summary"]
    feedback = gate_feedback(store, "tests")
    assert f"{MUL_ID}: acceptance test error" in feedback
    assert "cannot import name 'mul'" in feedback  # the restored file's import
    assert "scope" in task["failure_reason"] and "tests" in task["failure_reason"]


def test_agent_that_fixes_the_code_but_also_edits_the_acceptance_test_fails_scope_only(
    store, tmp_path, calc_repo, mul_patch
):
    agent = script(tmp_path, write_calc(CALC_WITH_MUL) + "\n" + TAMPERED["assert-true"])
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    assert task["status"] == "failed"
    assert task["failing_gates"] == ["scope"]
    assert verdicts(task)["tests"] == "pass"
    assert "protected" in gate_feedback(store, "scope")


FORGED_CONFTEST = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""


def test_agent_that_forges_outcomes_in_a_conftest_is_failed(store, tmp_path, calc_repo, mul_patch):
    wrong = CALC + "\n\ndef mul(a, b):\n    return 0\n"
    agent = script(
        tmp_path, f"cat > tests/conftest.py <<'EOF'\n{FORGED_CONFTEST}EOF\n" + write_calc(wrong)
    )
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    assert task["status"] == "failed"
    assert "test-integrity" in task["failing_gates"]
    summary = gate(task, "test-integrity")["summary"]
    assert "tests/conftest.py: hook pytest_runtest_makereport added or changed" in summary


# -- regressions --------------------------------------------------------------


def test_agent_that_breaks_a_passing_test_is_failed_naming_it(
    store, tmp_path, calc_repo, mul_patch
):
    broken = "def add(a, b):\n    if a < 0:\n        return 0\n    return a + b\n"
    broken += "\n\ndef mul(a, b):\n    return a * b\n"
    out = tmp_path / "out"
    out.mkdir()
    agent = script(
        tmp_path,
        f'cp "$OVERNIGHT_FEEDBACK_FILE" {out}/feedback-$OVERNIGHT_ATTEMPT\n' + write_calc(broken),
    )
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 2}\n")
    )

    assert task["status"] == "failed"
    assert task["failing_gates"] == ["tests"]
    assert task["attempts"] == 2
    summary = gate(task, "tests")["summary"]
    assert summary.startswith("1 failing: tests/test_calc.py::test_add_negative")
    assert (out / "feedback-1").read_text() == ""
    feedback = (out / "feedback-2").read_text()
    assert "tests/test_calc.py::test_add_negative: passed on the base, failed now" in feedback
    assert "assert 0 == -3" in feedback


def test_agent_that_deletes_a_passing_test_file_is_failed_for_missing_tests(
    store, tmp_path, calc_repo, fix_diff, mul_patch
):
    agent = script(tmp_path, f"git apply {fix_diff}\nrm tests/test_calc.py")
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    assert task["status"] == "failed"
    assert task["failing_gates"] == ["test-integrity", "tests"]
    integrity = gate_feedback(store, "test-integrity")
    assert "tests/test_calc.py::test_add: deleted or renamed" in integrity
    assert "tests/test_calc.py::test_add_negative: deleted or renamed" in integrity
    summary = gate(task, "tests")["summary"]
    assert "2 failing" in summary
    assert "tests/test_calc.py::test_add" in summary
    assert "tests/test_calc.py::test_add_negative" in summary
    feedback = gate_feedback(store, "tests")
    assert "tests/test_calc.py::test_add: passed on the base, missing now" in feedback


# -- the loop -----------------------------------------------------------------


def test_second_attempt_that_follows_the_feedback_is_ready_after_two_attempts(
    store, tmp_path, calc_repo, fix_diff, mul_patch
):
    agent = script(
        tmp_path,
        f"""[ "$OVERNIGHT_ATTEMPT" = 1 ] && exit 0
printf '%s' "$OVERNIGHT_FEEDBACK" | grep -qF '{MUL_ID}' || exit 7
git apply {fix_diff}""",
    )
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(store, write_spec(tmp_path, calc_repo, agent, acceptance))

    assert task["status"] == "ready", task["failure_reason"]
    assert task["attempts"] == 2
    first = {g["name"]: g["verdict"] for g in task["runs"][0]["all_gates"] if g["attempt"] == 1}
    assert first["tests"] == "fail"
    assert verdicts(task)["tests"] == "pass"
    assert "attempt" in task["pull_request"]["body"].lower()
    assert "def mul" in show(calc_repo, f"{task['head_sha']}:calc.py")


# -- lint ---------------------------------------------------------------------


@pytest.mark.parametrize("adds_finding", [False, True])
def test_only_new_lint_findings_fail_the_lint_gate(store, tmp_path, mul_patch, adds_finding):
    repo = make_repo(
        tmp_path / "linty",
        {
            "calc.py": "import os\n\n\n" + CALC,  # F401 on the base
            "tests/test_calc.py": TEST_CALC,
            "overnight.toml": OVERNIGHT_TOML,
            "pyproject.toml": PYPROJECT,
        },
    )
    header = "import os\nimport sys\n\n\n" if adds_finding else "import os\n\n\n"
    agent = script(tmp_path, write_calc(header + CALC_WITH_MUL))
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(store, write_spec(tmp_path, repo, agent, acceptance, "budget: {attempts: 1}\n"))

    lint = gate(task, "lint")
    if adds_finding:
        assert task["status"] == "failed"
        assert task["failing_gates"] == ["lint"]
        assert "1 new finding(s)" in lint["summary"] and "`sys`" in lint["summary"]
        assert "`os`" not in gate_feedback(store, "lint")
    else:
        assert task["status"] == "ready", task["failure_reason"]
        assert lint["verdict"] == "pass"


# -- scope --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "problem"),
    [
        ('{deny: ["calc.py"]}', "calc.py: matches scope.deny"),
        ('{allow: ["src/**"]}', "calc.py: outside scope.allow"),
        ('{allow: ["*.py"], deny: ["tests/"]}', None),
    ],
)
def test_scope_allow_and_deny_globs_are_enforced(
    store, tmp_path, calc_repo, fix_diff, mul_patch, scope, problem
):
    agent = script(tmp_path, f"git apply {fix_diff}")
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    extra = f"scope: {scope}\nbudget: {{attempts: 1}}\n"
    task = run_task(store, write_spec(tmp_path, calc_repo, agent, acceptance, extra))

    if problem is None:
        assert task["status"] == "ready", task["failure_reason"]
        assert verdicts(task)["scope"] == "pass"
    else:
        assert task["status"] == "failed"
        assert task["failing_gates"] == ["scope"]
        assert "calc.py" in gate(task, "scope")["summary"]
        assert problem in gate_feedback(store, "scope")


def test_editing_overnight_toml_fails_scope_and_changes_nothing(
    store, tmp_path, calc_repo, mul_patch
):
    # the agent tries to switch the tests gate off
    agent = script(tmp_path, "printf '\\n[gates.tests]\\nenabled = false\\n' >> overnight.toml")
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    assert task["status"] == "failed"
    assert task["failing_gates"] == ["scope", "tests"]
    assert "overnight.toml: protected" in gate_feedback(store, "scope")


# -- acceptance commands ------------------------------------------------------


@pytest.mark.parametrize("fixed", [False, True])
def test_acceptance_run_commands_must_exit_zero(store, tmp_path, calc_repo, fix_diff, fixed):
    command = "python -c 'import calc; assert calc.mul(2, 3) == 6'"
    agent = script(tmp_path, f"git apply {fix_diff}" if fixed else "true")
    acceptance = f'  - run: "{command}"\n'
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    commands = gate(task, "acceptance-commands")
    assert commands["command"] == command
    if fixed:
        assert task["status"] == "ready", task["failure_reason"]
        assert commands["verdict"] == "pass"
    else:
        assert task["status"] == "failed"
        assert task["failing_gates"] == ["acceptance-commands"]
        assert command in commands["summary"]
        assert commands["exit_code"] == 1
        assert "AttributeError" in gate_feedback(store, "acceptance-commands")


# -- bad input ----------------------------------------------------------------


def test_test_patch_that_does_not_apply_at_the_base_fails_saying_so(store, tmp_path, calc_repo):
    (tmp_path / "stale.patch").write_text(
        "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,3 +1,3 @@\n"
        "-from calc import subtract\n+from calc import add, mul\n \n \n"
    )
    marker = tmp_path / "agent-ran"
    agent = script(tmp_path, f"touch {marker}")
    acceptance = "  - tests: tests/test_calc.py::test_mul\n  - test_patch: stale.patch\n"
    task = run_task(store, write_spec(tmp_path, calc_repo, agent, acceptance))

    assert task["status"] == "failed"
    assert "stale.patch" in task["failure_reason"]
    assert "does not apply" in task["failure_reason"]
    assert not marker.exists()


def test_failing_setup_fails_the_task_keeping_the_log_without_running_the_agent(
    store, tmp_path, calc_repo, mul_patch
):
    marker = tmp_path / "agent-ran"
    agent = script(tmp_path, f"touch {marker}")
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n"
    extra = 'setup: ["echo setup-went-wrong-7f3; exit 3"]\n'
    task = run_task(store, write_spec(tmp_path, calc_repo, agent, acceptance, extra))

    assert task["status"] == "failed"
    assert task["failure_reason"].startswith("setup")
    assert not marker.exists()
    steps = [s["name"] for s in task["runs"][0]["steps"]]
    assert "agent" not in steps and "gates" not in steps
    with store.session() as session:
        kept = logs(session, store.task(session, task["id"]))
    assert any("setup.log" in title and "setup-went-wrong-7f3" in text for title, text in kept)


def test_acceptance_test_that_already_passes_on_the_base_fails_at_baseline(
    store, tmp_path, calc_repo
):
    marker = tmp_path / "agent-ran"
    agent = script(tmp_path, f"touch {marker}")
    acceptance = "  - tests: tests/test_calc.py::test_add\n"
    task = run_task(store, write_spec(tmp_path, calc_repo, agent, acceptance))

    assert task["status"] == "failed"
    reason = task["failure_reason"]
    assert reason.startswith("baseline") and "already pass" in reason
    assert "tests/test_calc.py::test_add" in reason
    assert not marker.exists()


# -- node ids and subtests ------------------------------------------------------

TEST_IDS = """import pytest
from calc import mul


@pytest.mark.parametrize("x", [2, 3, 4], ids=["a b", "x[1]", "other"])
def test_ids(x):
    assert mul(x, 1) == x
    assert x != 4
"""


@pytest.mark.parametrize("fixed", [False, True])
def test_node_ids_with_spaces_and_brackets_are_passed_intact(
    store, tmp_path, calc_repo, fix_diff, fixed
):
    (tmp_path / "ids.patch").write_text(new_file_patch("tests/test_ids.py", TEST_IDS))
    ids = ["tests/test_ids.py::test_ids[a b]", "tests/test_ids.py::test_ids[x[1]]"]
    agent = script(tmp_path, f"git apply {fix_diff}" if fixed else "true")
    acceptance = "".join(f'  - tests: "{i}"\n' for i in ids) + "  - test_patch: ids.patch\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    if fixed:  # "other" fails, but only the two named parametrizations count
        assert task["status"] == "ready", task["failure_reason"]
    else:
        assert task["status"] == "failed"
        summary = gate(task, "tests")["summary"]
        assert summary.startswith(f"2 failing: {ids[0]}, {ids[1]}")
        assert "other" not in summary


TEST_SUBTESTS = """import unittest

from calc import mul


class TestMul(unittest.TestCase):
    def test_table(self):
        for a, b, want in [(2, 3, 6), (2, 2, 5), (0, 7, 0)]:
            with self.subTest(a=a, b=b):
                self.assertEqual(mul(a, b), want)
"""


def test_a_failed_subtest_counts_as_a_failure(store, tmp_path, calc_repo, fix_diff):
    (tmp_path / "sub.patch").write_text(new_file_patch("tests/test_sub.py", TEST_SUBTESTS))
    node = "tests/test_sub.py::TestMul::test_table"
    agent = script(tmp_path, f"git apply {fix_diff}")
    acceptance = f"  - tests: {node}\n  - test_patch: sub.patch\n"
    task = run_task(
        store, write_spec(tmp_path, calc_repo, agent, acceptance, "budget: {attempts: 1}\n")
    )

    assert task["status"] == "failed"
    assert task["failing_gates"] == ["tests"]
    assert node in gate(task, "tests")["summary"]
    assert "4 != 5" in gate_feedback(store, "tests")


# -- hidden acceptance tests ----------------------------------------------------


def test_hidden_test_patch_is_never_visible_to_the_agent_but_is_delivered(
    store, tmp_path, calc_repo, fix_diff, mul_patch
):
    out = tmp_path / "seen"
    out.mkdir()
    agent = script(
        tmp_path,
        f"""n=$OVERNIGHT_ATTEMPT
find . -path ./.git -prune -o -type f -print | sort > {out}/files-$n
cp "$OVERNIGHT_SPEC" {out}/spec-$n
git status --porcelain --untracked-files=all > {out}/status-$n
git diff HEAD > {out}/diff-$n
git show --stat HEAD > {out}/head-$n
git log -p --all --reflog > {out}/log-$n
[ "$n" = 1 ] && exit 0
git apply {fix_diff}""",
    )
    acceptance = f"  - tests: {MUL_ID}\n  - test_patch: {mul_patch.name}\n    hidden: true\n"
    task = run_task(store, write_spec(tmp_path, calc_repo, agent, acceptance))

    assert task["status"] == "ready", task["failure_reason"]
    assert task["attempts"] == 2
    for n in (1, 2):
        files = (out / f"files-{n}").read_text()
        assert "./tests/test_calc.py" in files  # the listing did run
        assert "test_mul" not in files
        for seen in ("spec", "status", "diff", "head", "log"):
            text = (out / f"{seen}-{n}").read_text()
            assert "test_mul" not in text and "mul(2, 3)" not in text, (seen, n, text)
    assert show(calc_repo, f"{task['head_sha']}:tests/test_mul.py") == TEST_MUL

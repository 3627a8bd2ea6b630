"""The lint gate: new findings fail; a linter that did not lint the change is an error."""

from __future__ import annotations

import json

from gatekit import at_base, config, context

from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.lint import LintGate, run_lint

CALC = "def add(a, b):\n    return a + b\n"
UNUSED = "import os\n\n\n" + CALC
EXCLUDE = '[tool.ruff]\nextend-exclude = ["calc.py"]\n'


def graded(ctx):
    """The lint gate on the candidate, after the baseline step's run on the base."""
    with at_base(ctx):
        base = run_lint(ctx.sandbox, ctx.path, ctx.environ, ctx.config.lint_cmd or "", ctx.timeout)
    ctx.baseline.lint, ctx.baseline.lint_error = base.findings, base.error
    return LintGate().check(ctx)


def lint(tmp_path, lint_cmd, base, change):
    text = f"lint_cmd = {json.dumps(lint_cmd)}\n"
    return graded(context(tmp_path, base, change, config=config(text)))


def test_a_new_ruff_finding_fails_and_an_old_one_does_not(tmp_path):
    result = lint(tmp_path, "ruff check .", {"calc.py": CALC}, {"calc.py": UNUSED})
    assert result.verdict == FAIL
    assert result.summary == "1 new finding(s): calc.py:1: F401 `os` imported but unused"
    result = lint(
        tmp_path / "old", "ruff check .", {"calc.py": UNUSED}, {"calc.py": UNUSED + "\n\nX = 1\n"}
    )
    assert result.verdict == PASS, result.summary


def test_a_linter_that_is_not_installed_is_an_error_not_a_pass(tmp_path):
    # no finding in path:line form is printed, so this once passed as "no new findings"
    result = lint(tmp_path, "no-such-linter .", {"calc.py": CALC}, {"calc.py": UNUSED})
    assert result.verdict == ERROR
    assert "'no-such-linter' was not found (exit 127)" in result.summary
    assert "installed where the gates run" in result.summary


def test_a_linter_that_crashes_or_prints_nothing_readable_is_an_error(tmp_path):
    crash = "python -c 'import no_such_linter_module'"
    result = lint(tmp_path, crash, {"calc.py": CALC}, {"calc.py": UNUSED})
    assert result.verdict == ERROR
    assert "the linter crashed (exit 1): ModuleNotFoundError" in result.summary
    result = lint(
        tmp_path / "b", "ruff check --no-such-option .", {"calc.py": CALC}, {"calc.py": UNUSED}
    )
    assert result.verdict == ERROR and "ruff failed (exit 2)" in result.summary
    result = lint(
        tmp_path / "c", 'sh -c "echo all good; exit 3"', {"calc.py": CALC}, {"calc.py": UNUSED}
    )
    assert result.verdict == ERROR
    assert "exited 3 without one finding in 'path:line: message' form: all good" in result.summary


def test_ruff_given_a_path_it_cannot_read_is_an_error(tmp_path):
    # the same io-error "finding" on the base and the candidate once compared as nothing new
    result = lint(tmp_path, "ruff check src", {"calc.py": CALC}, {"calc.py": UNUSED})
    assert result.verdict == ERROR
    assert "ruff could not read src: No such file or directory" in result.summary


def test_changed_files_the_change_excludes_from_linting_are_an_error(tmp_path):
    result = lint(
        tmp_path, "ruff check .", {"calc.py": CALC}, {"calc.py": UNUSED, "pyproject.toml": EXCLUDE}
    )
    assert result.verdict == ERROR
    assert result.summary == (
        "1 changed file(s) not linted under the lint configuration the "
        "change edits (pyproject.toml): calc.py"
    )
    assert "Revert that part of the lint configuration" in result.feedback


def test_changed_files_the_project_excludes_from_linting_pass_with_a_note(tmp_path):
    base = {"calc.py": CALC, "pyproject.toml": EXCLUDE, "other.py": CALC}
    result = lint(tmp_path, "ruff check .", base, {"calc.py": UNUSED, "other.py": CALC + "\n"})
    assert result.verdict == PASS, result.summary
    assert "not linted, by the project's own lint_cmd or configuration: calc.py" in result.summary
    assert "other.py" not in result.summary.split("not linted")[1]

"""The types gate: only type errors new in the changed files count."""

from __future__ import annotations

from gatekit import at_base, config, context

from overnight.gates import ERROR, FAIL, PASS, SKIPPED
from overnight.gates.typecheck import TypesGate

OLD_ERROR = "def f(x: int) -> int:\n    return x\n\n\ny: str = f(1)\n"
UNTOUCHED_ERROR = 'z: int = "not an int"\n'


def graded(ctx):
    gate = TypesGate()
    with at_base(ctx):
        ctx.baseline.gates["types"], _ = gate.measure(ctx)
    return gate.check(ctx)


def test_only_errors_new_in_changed_files_fail_the_gate(tmp_path):
    base = {"calc.py": OLD_ERROR, "other.py": UNTOUCHED_ERROR}
    new_error = OLD_ERROR.replace("return x", "return x\n\n\ndef g() -> int:\n    return 'g'")
    ctx = context(
        tmp_path,
        base,
        {"calc.py": new_error},
        config=config('[gates.types]\ncommand = "mypy calc.py other.py"\n'),
    )
    result = graded(ctx)
    assert result.verdict == FAIL
    assert result.summary.startswith("1 new type error(s): calc.py:")
    assert 'Incompatible return value type (got "str", expected "int")' in result.feedback
    assert "other.py" not in result.feedback and "variable has type" not in result.feedback


def test_errors_already_on_the_base_that_only_moved_pass(tmp_path):
    moved = "import os\n\n\n" + OLD_ERROR
    ctx = context(
        tmp_path,
        {"calc.py": OLD_ERROR},
        {"calc.py": moved},
        config=config('[gates.types]\ncommand = "mypy calc.py"\n'),
    )
    result = graded(ctx)
    assert result.verdict == PASS, result.log
    assert "1 on the candidate overall" in result.summary


def test_a_checker_that_cannot_run_is_an_error_and_none_configured_is_skipped(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": OLD_ERROR},
        {"calc.py": OLD_ERROR + "\n"},
        config=config('[gates.types]\ncommand = "no-such-checker ."\n'),
    )
    result = graded(ctx)
    assert result.verdict == ERROR
    assert "'no-such-checker' was not found (exit 127)" in result.summary
    ctx.config = config("")
    assert TypesGate().check(ctx).verdict == SKIPPED


def test_a_checker_that_finds_no_files_to_check_is_an_error(tmp_path):
    ctx = context(
        tmp_path,
        {"README.md": "calc\n"},
        {"README.md": "calc, documented\n"},
        config=config('[gates.types]\ncommand = "mypy ."\n'),
    )
    result = graded(ctx)
    assert result.verdict == ERROR
    assert "There are no .py[i] files in directory '.'" in result.summary


EXCLUDE_CALC = '[tool.mypy]\nexclude = ["calc\\\\.py"]\n'


def test_changed_files_the_change_leaves_unchecked_are_an_error(tmp_path):
    new_error = OLD_ERROR + 'w: int = "w"\n'
    ctx = context(
        tmp_path,
        {"calc.py": OLD_ERROR, "other.py": "v = 1\n"},
        {"calc.py": new_error, "pyproject.toml": EXCLUDE_CALC},
        config=config('[gates.types]\ncommand = "mypy ."\n'),
    )
    result = graded(ctx)
    assert result.verdict == ERROR, result.log
    assert result.summary == (
        "1 changed file(s) not type checked under the configuration the "
        "change edits (pyproject.toml): calc.py"
    )
    assert "Revert that part of the configuration" in result.feedback


def test_changed_files_the_project_leaves_unchecked_pass_with_a_note(tmp_path):
    base = {"calc.py": OLD_ERROR, "other.py": "v = 1\n", "pyproject.toml": EXCLUDE_CALC}
    ctx = context(
        tmp_path,
        base,
        {"calc.py": OLD_ERROR + "\n", "other.py": "v = 2\n"},
        config=config('[gates.types]\ncommand = "mypy ."\n'),
    )
    result = graded(ctx)
    assert result.verdict == PASS, result.log
    assert result.summary == (
        "no new type errors in 1 changed file(s) (0 on the candidate "
        "overall); not checked, by the project's own command or "
        "configuration: calc.py"
    )

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
    ctx = context(tmp_path, base, {"calc.py": new_error},
                  config=config('[gates.types]\ncommand = "mypy calc.py other.py"\n'))  # fmt: skip
    result = graded(ctx)
    assert result.verdict == FAIL
    assert result.summary.startswith("1 new type error(s): calc.py:")
    assert 'Incompatible return value type (got "str", expected "int")' in result.feedback
    assert "other.py" not in result.feedback and "variable has type" not in result.feedback


def test_errors_already_on_the_base_that_only_moved_pass(tmp_path):
    moved = "import os\n\n\n" + OLD_ERROR
    ctx = context(tmp_path, {"calc.py": OLD_ERROR}, {"calc.py": moved},
                  config=config('[gates.types]\ncommand = "mypy calc.py"\n'))  # fmt: skip
    result = graded(ctx)
    assert result.verdict == PASS, result.log
    assert "1 on the candidate overall" in result.summary


def test_a_checker_that_cannot_run_is_an_error_and_none_configured_is_skipped(tmp_path):
    ctx = context(tmp_path, {"calc.py": OLD_ERROR}, {"calc.py": OLD_ERROR + "\n"},
                  config=config('[gates.types]\ncommand = "no-such-checker ."\n'))  # fmt: skip
    result = graded(ctx)
    assert result.verdict == ERROR
    assert "'no-such-checker' not found" in result.summary
    ctx.config = config("")
    assert TypesGate().check(ctx).verdict == SKIPPED

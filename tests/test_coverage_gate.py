"""The coverage gate: the changed lines of non-test code, measured in the tests gate's run."""

from __future__ import annotations

from gatekit import config, context

from overnight.gates import ERROR, FAIL, PASS, SKIPPED
from overnight.gates.coverage import CoverageGate
from overnight.gates.runner import run_all
from overnight.gates.tests import TestsGate

CALC = "def add(a, b):\n    return a + b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
MUL_DIV = (
    CALC
    + """

def mul(a, b):
    return a * b


def div(a, b):
    if b == 0:
        raise ZeroDivisionError("b is 0")
    return a / b
"""
)
TEST_MUL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
STRICT = "[gates.coverage]\nthreshold = 80\nblocking = true\n"


def grade(tmp_path, change, text=STRICT, acceptance=("tests/test_mul.py::test_mul",)):
    ctx = context(
        tmp_path, {"calc.py": CALC, "tests/test_calc.py": TEST_CALC}, change, config=config(text)
    )
    ctx.spec.acceptance_tests = list(acceptance)
    tests, coverage = run_all(ctx, gates=[TestsGate(), CoverageGate()])
    return tests, coverage


def test_uncovered_new_code_below_the_threshold_fails_listing_the_lines(tmp_path):
    tests, coverage = grade(tmp_path, {"calc.py": MUL_DIV, "tests/test_mul.py": TEST_MUL})
    assert tests.verdict == PASS
    assert coverage.verdict == FAIL and coverage.blocking
    assert (
        coverage.summary == "50% of 6 changed line(s) run by the tests, below the threshold of 80%"
    )
    assert "calc.py: lines 10-12" in coverage.feedback
    assert 'raise ZeroDivisionError("b is 0")' in coverage.feedback


def test_covered_new_code_passes(tmp_path):
    covered = (
        TEST_MUL + "\n\ndef test_div():\n    from calc import div\n    assert div(6, 3) == 2\n"
    )
    covered += "    import pytest\n    with pytest.raises(ZeroDivisionError):\n        div(1, 0)\n"
    tests, coverage = grade(tmp_path, {"calc.py": MUL_DIV, "tests/test_mul.py": covered})
    assert coverage.verdict == PASS, coverage.summary
    assert coverage.summary.startswith("100% of 6 changed line(s)")


def test_coverage_is_advisory_by_default_and_not_measured_when_the_tests_stop_early(tmp_path):
    tests, coverage = grade(tmp_path, {"calc.py": MUL_DIV, "tests/test_mul.py": TEST_MUL}, "")
    assert (coverage.verdict, coverage.blocking) == (FAIL, False)
    broken = MUL_DIV.replace("return a * b", "return 0")
    tests, coverage = grade(tmp_path / "2", {"calc.py": broken, "tests/test_mul.py": TEST_MUL})
    assert tests.verdict == FAIL and "stopped early" in tests.summary
    assert coverage.verdict == SKIPPED


def test_a_change_to_tests_only_has_nothing_to_cover(tmp_path):
    tests, coverage = grade(
        tmp_path, {"tests/test_mul.py": TEST_MUL.replace("mul", "add")}, acceptance=()
    )
    assert coverage.verdict == PASS
    assert coverage.summary == "no changed non-test Python code to cover"


def test_coverage_that_stopped_measuring_is_an_error_not_uncovered_code(tmp_path):
    # the test switches tracing off before it imports the changed module
    blind = "import sys\n\nsys.settrace(None)\n\n" + TEST_MUL
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"calc.py": MUL_DIV, "tests/test_mul.py": blind},
        config=config(STRICT),
    )
    ctx.spec.acceptance_tests = ["tests/test_mul.py::test_mul"]
    tests, coverage = run_all(ctx, gates=[TestsGate(), CoverageGate()])
    assert tests.verdict == PASS
    assert coverage.verdict == ERROR
    assert coverage.summary.startswith(
        "coverage.py recorded no line of calc.py, which the tests imported"
    )


def test_coverage_without_the_tests_gate_run_is_an_error(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"calc.py": MUL_DIV},
        config=config(STRICT + "[gates.tests]\nenabled = false\n"),
    )
    [coverage] = run_all(ctx, gates=[CoverageGate()])
    assert coverage.verdict == ERROR
    assert coverage.summary == "coverage is measured by the tests gate, which is disabled"

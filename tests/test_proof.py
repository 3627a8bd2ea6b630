"""test-integrity checks that need runs: passing-test counts, agent-written acceptance tests."""

from __future__ import annotations

from gatekit import config, context

from overnight.config import ProjectConfig
from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.integrity import TestIntegrityGate
from overnight.gates.runner import run_all
from overnight.gates.tests import TestsGate

CALC = "def add(a, b):\n    return a + b\n"
WITH_MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
REAL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
HOLLOW = "def test_mul():\n    assert 2 * 3 == 6\n"


def grade(tmp_path, change, acceptance=("tests/test_mul.py::test_mul",), base_passing=1):
    ctx = context(tmp_path, {"calc.py": CALC, "tests/test_calc.py": TEST_CALC}, change)
    ctx.spec.acceptance_tests = list(acceptance)
    passing = ["tests/test_calc.py::test_add"] + [
        f"tests/test_gone.py::t{i}" for i in range(base_passing - 1)
    ]
    ctx.baseline.tests = {node: {"outcome": "passed"} for node in passing}
    tests, integrity = run_all(ctx, gates=[TestsGate(), TestIntegrityGate()])
    return tests, integrity


def test_an_acceptance_test_the_agent_wrote_must_fail_on_the_base(tmp_path):
    tests, integrity = grade(tmp_path, {"calc.py": WITH_MUL, "tests/test_mul.py": HOLLOW})
    assert tests.verdict == PASS
    assert integrity.verdict == FAIL
    assert integrity.summary.startswith(
        "1 finding(s): tests/test_mul.py::test_mul: an acceptance test you wrote passes on "
        "the base too, so it proves nothing"
    )


def test_an_honest_agent_written_acceptance_test_passes(tmp_path):
    tests, integrity = grade(tmp_path, {"calc.py": WITH_MUL, "tests/test_mul.py": REAL})
    assert (tests.verdict, integrity.verdict) == (PASS, PASS), integrity.log
    assert "2 passing test(s), 1 on the base" in integrity.log


def test_fewer_passing_tests_than_on_the_base_fail(tmp_path):
    tests, integrity = grade(tmp_path, {"calc.py": WITH_MUL}, acceptance=(), base_passing=3)
    assert integrity.verdict == FAIL
    assert "2 fewer passing test(s) than on the base (1 now, 3 before)" in integrity.summary


def test_passing_tests_the_tests_gate_could_not_count_make_an_error(tmp_path):
    # the test command never runs pytest: no per-test results to count
    ctx = context(
        tmp_path,
        {"calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        {"calc.py": WITH_MUL},
        config=ProjectConfig(test_cmd="true"),
    )
    ctx.baseline.tests = {"tests/test_calc.py::test_add": {"outcome": "passed"}}
    tests, integrity = run_all(ctx, gates=[TestsGate(), TestIntegrityGate()])
    assert tests.verdict == ERROR
    assert integrity.verdict == ERROR
    assert integrity.summary == (
        "could not check: passing tests could not be counted: the "
        "tests gate gave no per-test results (see its error)"
    )


def test_without_the_tests_gate_passing_tests_are_not_counted_and_it_says_so(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"calc.py": WITH_MUL},
        config=config("[gates.tests]\nenabled = false\n"),
    )
    [integrity] = run_all(ctx, gates=[TestIntegrityGate()])
    assert integrity.verdict == PASS
    assert "passing tests not counted: the tests gate is disabled" in integrity.log


def test_a_spec_that_runs_no_tests_is_not_an_error(tmp_path):
    # acceptance by commands only and `regression: none`: the tests gate skips, and
    # there is nothing to count (honest work on such a spec must be able to pass)
    ctx = context(tmp_path, {"calc.py": CALC}, {"calc.py": WITH_MUL})
    ctx.spec.acceptance_tests, ctx.spec.regression = [], "none"
    tests, integrity = run_all(ctx, gates=[TestsGate(), TestIntegrityGate()])
    assert tests.verdict == "skipped"
    assert integrity.verdict == PASS, integrity.summary
    assert "passing tests not counted: the spec runs no tests (regression: none)" in integrity.log

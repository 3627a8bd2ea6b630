"""The tests gate: per-test evidence or an error, never a pass on an exit code."""

from __future__ import annotations

from gatekit import context

from overnight.config import ProjectConfig
from overnight.gates import ERROR, PASS
from overnight.gates.tests import TestsGate

CALC = "def add(a, b):\n    return a + b\n"
MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
TEST_MUL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"


def grade(tmp_path, test_cmd):
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"calc.py": MUL, "tests/test_mul.py": TEST_MUL},
        config=ProjectConfig(test_cmd=test_cmd),
    )
    ctx.spec.acceptance_tests = ["tests/test_mul.py::test_mul"]
    return TestsGate().check(ctx)


def test_passing_acceptance_tests_pass(tmp_path):
    result = grade(tmp_path, "python -m pytest -q")
    assert result.verdict == PASS, result.log
    assert result.summary == "1 acceptance and 0 regression test(s) pass"


def test_a_test_command_that_exits_zero_without_running_pytest_is_an_error(tmp_path):
    for test_cmd in ("true", "no-such-runner"):
        result = grade(tmp_path / test_cmd, test_cmd)
        assert result.verdict == ERROR, test_cmd
        assert result.summary.startswith("no per-test results: the test command did not run pytest")

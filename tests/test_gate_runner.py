"""Running gates: in parallel, after what they need, in the listed order, crashes as errors."""

from __future__ import annotations

import ast
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from gatekit import config, context

from overnight.config import GateConfig
from overnight.gates import (
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    BaseGate,
    Gate,
    GateContext,
    GateOutcome,
    run_gates,
)
from overnight.gates.custom import CommandGate
from overnight.gates.registry import gate_list
from overnight.gates.runner import run_all

# For every gate, the test that builds a situation where it could not run on the change
# and asserts that the verdict is ``error`` (docs/gates.md, "Evidence"). A gate added to
# ``gate_list`` without one here fails ``test_every_gate_has_a_did_not_run_test``.
DID_NOT_RUN = {
    "scope": "test_scope.py::test_scope_given_no_protection_for_the_acceptance_tests_is_an_error",
    "test-integrity": "test_proof.py::test_passing_tests_the_tests_gate_could_not_count_make_an_error",
    "lint": "test_lint_gate.py::test_a_linter_that_is_not_installed_is_an_error_not_a_pass",
    "types": "test_typecheck.py::test_changed_files_the_change_leaves_unchecked_are_an_error",
    "docs": "test_docs_gate.py::test_a_changed_file_whose_api_cannot_be_read_is_an_error",
    "security": "test_security.py::test_bandit_missing_where_the_gates_run_is_an_error_never_a_pass",
    "acceptance-commands": "test_command_gates.py::test_an_acceptance_command_that_is_not_found_is_an_error",
    "tests": "test_tests_gate.py::test_a_test_command_that_exits_zero_without_running_pytest_is_an_error",
    "coverage": "test_coverage_gate.py::"
    "test_coverage_that_stopped_measuring_is_an_error_not_uncovered_code",
    "downstream": "test_downstream.py::test_a_downstream_suite_that_never_ran_is_an_error_not_a_pass",
    "[gates.command.NAME]": "test_command_gates.py::test_a_custom_command_that_is_not_executable_is_an_error",
    "review": "test_review_gate.py::test_a_reviewer_that_cannot_be_reached_is_an_error",
}


def kind(gate: Gate) -> str:
    """A built-in gate's name; every custom command gate is one kind."""
    return "[gates.command.NAME]" if isinstance(gate, CommandGate) else gate.name


KINDS = [kind(g) for g in gate_list(config("[gates.command.custom]\ncommand = 'true'\n"))]


class Sleepy(BaseGate):
    def __init__(self, name: str, seconds: float, needs: tuple[str, ...] = (), verdict=PASS):
        self.name, self.seconds, self.needs, self.verdict = name, seconds, needs, verdict
        self.started = self.ended = 0.0

    def check(self, ctx: GateContext) -> GateOutcome:
        self.started = time.monotonic()
        time.sleep(self.seconds)
        self.ended = time.monotonic()
        ctx.evidence[self.name] = threading.current_thread().name
        return GateOutcome(self.name, self.verdict, "slept")


class Crashing(BaseGate):
    name = "crashing"

    def check(self, ctx: GateContext) -> GateOutcome:
        raise KeyError("boom")


def test_independent_gates_run_in_parallel_and_come_back_in_listed_order(tmp_path):
    ctx = context(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    gates = [Sleepy("a", 0.4), Sleepy("b", 0.4), Sleepy("c", 0.1)]
    start = time.monotonic()
    results = run_all(ctx, parallel=3, gates=gates)  # type: ignore[arg-type]
    assert time.monotonic() - start < 0.8
    assert [r.name for r in results] == ["a", "b", "c"]
    assert all(r.duration >= 0.1 for r in results)


def test_sequential_mode_runs_one_gate_at_a_time(tmp_path):
    ctx = context(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    gates = [Sleepy("a", 0.2), Sleepy("b", 0.2)]
    run_all(ctx, parallel=1, gates=gates)  # type: ignore[arg-type]
    assert gates[1].started >= gates[0].ended


def test_a_gate_starts_after_the_gates_it_needs_even_when_listed_first(tmp_path):
    ctx = context(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    reader, slow = Sleepy("reader", 0.0, needs=("slow",)), Sleepy("slow", 0.3)
    results = run_all(ctx, parallel=4, gates=[reader, slow])  # type: ignore[arg-type]
    assert reader.started >= slow.ended
    assert [r.name for r in results] == ["reader", "slow"]
    everything = Sleepy("last", 0.0, needs=("*",))
    run_all(ctx, parallel=4, gates=[everything, Sleepy("x", 0.2)])  # type: ignore[arg-type]
    assert everything.started >= time.monotonic() - 0.2 - 0.15


def test_a_gate_that_crashes_is_an_error_with_the_traceback(tmp_path):
    ctx = context(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    [result] = run_all(ctx, gates=[Crashing()])  # type: ignore[list-item]
    assert result.verdict == ERROR and result.blocking
    assert "KeyError" in result.summary and "Traceback" in result.log


def test_config_can_make_a_failing_gate_advisory_and_disabled_gates_are_skipped(tmp_path):
    ctx = context(
        tmp_path,
        {"a.py": "x = 1\n"},
        {"a.py": "x = 2\n"},
        config=config("[gates.lint]\nblocking = false\n[gates.scope]\nenabled = false\n"),
    )
    results = run_all(ctx, gates=[Sleepy("lint", 0, verdict=FAIL), Sleepy("scope", 0)])  # type: ignore[list-item]
    assert (results[0].verdict, results[0].blocking) == (FAIL, False)
    assert (results[1].verdict, results[1].blocking) == (SKIPPED, False)


@dataclass
class AdvisoryConfig(GateConfig):
    blocking: bool = False


def test_a_gate_s_own_config_type_gives_its_defaults_and_it_measures_nothing_by_default(
    tmp_path,
):
    ctx = context(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    gate = Sleepy("advisory", 0, verdict=FAIL)
    gate.config_type = AdvisoryConfig  # as the coverage and review gates declare theirs
    [result] = run_all(ctx, gates=[gate])
    assert (result.verdict, result.blocking) == (FAIL, False)
    assert gate.measure(ctx) == (None, "")


def test_every_built_in_gate_runs_on_a_plain_change(tmp_path):
    ctx = context(
        tmp_path,
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        },
        {
            "calc.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
            "tests/test_mul.py": "from calc import mul\n\n\ndef test_mul():\n"
            "    assert mul(2, 3) == 6\n",
        },
        config=config("[gates.command.hello]\ncommand = 'echo hello'\n"),
    )
    ctx.spec.acceptance_tests = ["tests/test_mul.py::test_mul"]  # written by the agent
    ctx.baseline.tests = {"tests/test_calc.py::test_add": {"outcome": "passed"}}
    results = {r.name: r for r in run_gates(ctx)}
    assert list(results) == [
        "scope",
        "test-integrity",
        "lint",
        "types",
        "docs",
        "security",
        "acceptance-commands",
        "tests",
        "coverage",
        "downstream",
        "hello",
        "review",
    ]
    verdicts = {n: r.verdict for n, r in results.items()}
    assert verdicts == {
        "scope": PASS,
        "test-integrity": PASS,
        "lint": SKIPPED,
        "types": SKIPPED,
        "docs": FAIL,
        "security": PASS,
        "acceptance-commands": SKIPPED,
        "tests": PASS,
        "coverage": PASS,
        "downstream": SKIPPED,
        "hello": PASS,
        "review": SKIPPED,
    }, {n: r.summary for n, r in results.items()}
    assert results["docs"].blocking is False  # a new public function without a docstring
    assert "100% of 2 changed line(s)" in results["coverage"].summary


@pytest.mark.parametrize("gate", sorted(set(KINDS) | set(DID_NOT_RUN)))
def test_every_gate_has_a_did_not_run_test(gate):
    assert gate in KINDS, f"{gate!r} is not in gate_list any more: take it out of DID_NOT_RUN"
    assert gate in DID_NOT_RUN, (
        f"gate {gate!r} has no test that it did not run on the change is an error: write one "
        "next to its other tests and name it in DID_NOT_RUN"
    )
    file, name = DID_NOT_RUN[gate].split("::")
    tree = ast.parse((Path(__file__).parent / file).read_text())
    test = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    assert test is not None, f"{DID_NOT_RUN[gate]} does not exist"
    asserts = [a.test for a in ast.walk(test) if isinstance(a, ast.Assert)]
    assert any(
        isinstance(n, ast.Name)
        and n.id == "ERROR"
        or isinstance(n, ast.Constant)
        and n.value == "error"
        for a in asserts
        for n in ast.walk(a)
    ), f"{DID_NOT_RUN[gate]} asserts no 'error' verdict"

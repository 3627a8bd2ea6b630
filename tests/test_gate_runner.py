"""Running gates: in parallel, after what they need, in the listed order, crashes as errors."""

from __future__ import annotations

import threading
import time

from gatekit import config, context

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, GateContext, GateOutcome, run_gates
from overnight.gates.runner import run_all


class Sleepy:
    def __init__(self, name: str, seconds: float, needs: tuple[str, ...] = (), verdict=PASS):
        self.name, self.seconds, self.needs, self.verdict = name, seconds, needs, verdict
        self.started = self.ended = 0.0

    def check(self, ctx: GateContext) -> GateOutcome:
        self.started = time.monotonic()
        time.sleep(self.seconds)
        self.ended = time.monotonic()
        ctx.evidence[self.name] = threading.current_thread().name
        return GateOutcome(self.name, self.verdict, "slept")


class Crashing:
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
    ctx = context(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"},
                  config=config("[gates.lint]\nblocking = false\n"
                                "[gates.scope]\nenabled = false\n"))  # fmt: skip
    results = run_all(ctx, gates=[Sleepy("lint", 0, verdict=FAIL), Sleepy("scope", 0)])  # type: ignore[list-item]
    assert (results[0].verdict, results[0].blocking) == (FAIL, False)
    assert (results[1].verdict, results[1].blocking) == (SKIPPED, False)


def test_every_built_in_gate_runs_on_a_plain_change(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": "def add(a, b):\n    return a + b\n",
         "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
                               "    assert add(1, 2) == 3\n"},
        {"calc.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
         "tests/test_mul.py": "from calc import mul\n\n\ndef test_mul():\n"
         "    assert mul(2, 3) == 6\n"},
        config=config("[gates.command.hello]\ncommand = 'echo hello'\n"),
    )  # fmt: skip
    ctx.spec.acceptance_tests = ["tests/test_mul.py::test_mul"]  # written by the agent
    ctx.baseline.tests = {"tests/test_calc.py::test_add": {"outcome": "passed"}}
    results = {r.name: r for r in run_gates(ctx)}
    assert list(results) == ["scope", "test-integrity", "lint", "types", "docs", "security",
                             "acceptance-commands", "tests", "coverage", "downstream", "hello",
                             "review"]  # fmt: skip
    verdicts = {n: r.verdict for n, r in results.items()}
    assert verdicts == {
        "scope": PASS, "test-integrity": PASS, "lint": SKIPPED, "types": SKIPPED,
        "docs": FAIL, "security": PASS, "acceptance-commands": SKIPPED, "tests": PASS,
        "coverage": PASS, "downstream": SKIPPED, "hello": PASS, "review": SKIPPED,
    }, {n: r.summary for n, r in results.items()}  # fmt: skip
    assert results["docs"].blocking is False  # a new public function without a docstring
    assert "100% of 2 changed line(s)" in results["coverage"].summary

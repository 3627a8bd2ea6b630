"""The ``tests`` gate: per-test evidence, compared with the base.

- every acceptance test fails (or errors, or is missing) on the base and
  passes on the candidate; acceptance tests run first, and the run stops at
  the first of them that fails, so a failure is reported fast;
- every test that passed on the base still passes (``regression: all``), or
  the listed ones do; a test that disappeared counts as failed.
"""

from __future__ import annotations

import time

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome, tamper
from overnight.gates.canary import judge
from overnight.gates.coverage import coverage_files
from overnight.gates.hidden import error_type, hidden_nodes
from overnight.gates.pytest_run import PASSED, TestRun, run_suite
from overnight.text import trim


class TestsGate(BaseGate):
    __test__ = False
    name = "tests"

    def __init__(self, canaries: bool = True) -> None:
        self.canaries = canaries  # False only to measure what they cost (benchmarks/gates.py)

    def check(self, ctx: GateContext) -> GateOutcome:
        start = time.monotonic()
        acceptance, regression = ctx.spec.acceptance_tests, ctx.spec.regression
        if not acceptance and regression in ("none", []):
            return GateOutcome(self.name, SKIPPED, "no acceptance tests and no regression set")
        canaries = tamper.plan(acceptance if self.canaries else [], ctx.source, ctx.pinned)
        with tamper.planted(ctx.path, canaries) as refused:
            suite = run_suite(
                ctx.sandbox,
                ctx.path,
                ctx.environ,
                ctx.spec.test_cmd or ctx.config.test_cmd,
                acceptance,
                regression,
                ctx.timeout,
                ctx.cancel,
                fail_fast=True,
                coverage=coverage_files(ctx),
                pinned=ctx.pinned,
                extra=canaries.nodes(),
            )
        outcomes = {node: v["outcome"] for node, v in suite.outcomes.items()}
        judged = judge(canaries.canaries, outcomes, suite.stopped)
        suite.drop(canaries.owns)  # canaries are evidence for the tamper check only
        ctx.evidence[self.name] = suite  # for the coverage and test-integrity gates
        if not suite.recorded:
            return self._no_evidence(suite.runs[-1], start)
        notes = (
            "\n".join(["canaries:", *canaries.notes, *refused, *judged.problems])
            if canaries.files
            else ""
        )
        if judged.tampered:
            return GateOutcome(
                self.name,
                FAIL,
                f"tampered: {judged.tampered[0]}",
                tampered=judged.tampered[0],
                command=suite.runs[0].command,
                duration=time.monotonic() - start,
                log="\n".join([*judged.tampered, notes, _log(suite.runs)]),
            )
        if refused or judged.problems:
            return GateOutcome(
                self.name,
                ERROR,
                f"the test run cannot be trusted: {(refused or judged.problems)[0]}",
                command=suite.runs[0].command,
                duration=time.monotonic() - start,
                log="\n".join([notes, _log(suite.runs)]),
                feedback="The test run could not be verified (something in it kept overnight's "
                "checks from running); do not change how tests are collected or reported.",
            )
        foreign = suite.foreign(ctx.import_roots())
        if foreign:
            name, where = foreign[0]
            return GateOutcome(
                self.name,
                ERROR,
                f"the tests ran another copy of the project: '{name}' was "
                f"imported from {where}, not from the candidate",
                command=suite.runs[0].command,
                duration=time.monotonic() - start,
                log="\n".join(f"{n}: imported from {w}" for n, w in foreign),
            )
        failures: list[tuple[str, str, dict]] = []  # node, why, detail
        for node in acceptance:
            outcome = suite.outcome(node)
            if outcome != PASSED and not (suite.stopped and outcome == "missing"):
                failures.append((node, f"acceptance test {outcome}", suite.detail(node)))
        if not suite.stopped:
            for node in sorted(expected_passing(ctx.baseline.passing(), regression)):
                outcome = suite.outcome(node)
                if outcome != PASSED:
                    now = "missing now" if outcome == "missing" else f"{outcome} now"
                    failures.append((node, f"passed on the base, {now}", suite.detail(node)))
        runs = suite.runs
        command = " ; ".join(r.command for r in runs)
        log = "\n\n".join(filter(None, [_log(runs), notes]))
        duration = time.monotonic() - start
        exit_code = runs[-1].completed.exit_code if runs else None
        if failures:
            names = ", ".join(node for node, _, _ in failures[:3])
            more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
            stopped = " (stopped early: an acceptance test failed)" if suite.stopped else ""
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(failures)} failing: {names}{more}{stopped}",
                command=command,
                exit_code=exit_code,
                duration=duration,
                log=log,
                feedback=_feedback(failures, hidden_nodes(ctx.spec)),
            )
        regressions = len(expected_passing(ctx.baseline.passing(), regression))
        return GateOutcome(
            self.name,
            PASS,
            f"{len(acceptance)} acceptance and {regressions} regression test(s) pass",
            command=command,
            exit_code=exit_code,
            duration=duration,
            log=log,
        )

    def _no_evidence(self, run: TestRun, start: float) -> GateOutcome:
        return GateOutcome(
            self.name,
            ERROR,
            "no per-test results: the test command did not run "
            "pytest (or pytest crashed before the end); check test_cmd",
            command=run.command,
            exit_code=run.completed.exit_code,
            duration=time.monotonic() - start,
            log=run.completed.output,
            feedback="The test run crashed before producing results:\n"
            + trim(run.completed.output, 2000),
        )


def _log(runs: list[TestRun]) -> str:
    return "\n\n".join(
        f"$ {r.command}\n{r.completed.output}\n[exit {r.completed.exit_code}]" for r in runs
    )


def _feedback(failures: list[tuple[str, str, dict]], hidden: set[str]) -> str:
    """Each failing test with its first message and a trimmed traceback; a hidden
    acceptance test only with the type of its error (its text would quote it)."""
    parts = []
    for node, why, detail in failures[:10]:
        if node in hidden:
            parts.append(f"- {node}: {why} ({error_type(detail.get('message', ''))})")
            continue
        lines = [f"- {node}: {why}"]
        if detail.get("message"):
            lines.append(f"  {detail['message']}")
        if detail.get("text"):
            lines.append("  ```\n" + trim(detail["text"], 800) + "\n  ```")
        parts.append("\n".join(lines))
    if len(failures) > 10:
        parts.append(f"- ... and {len(failures) - 10} more failing tests")
    return "Failing tests:\n" + "\n".join(parts)


def expected_passing(passing_on_base: set[str], regression: str | list[str]) -> set[str]:
    """The tests that must still pass: those that passed on the base and are
    in the regression set."""
    if regression == "all":
        return passing_on_base
    if regression == "none":
        return set()
    return {
        n
        for n in passing_on_base
        if any(n == r or n.startswith((r + "[", r + "::")) for r in regression)
    }

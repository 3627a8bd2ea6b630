"""The ``tests`` gate: per-test evidence, compared with the base.

- every acceptance test fails (or errors, or is missing) on the base and
  passes on the candidate; it runs first, so a failure is reported fast;
- every test that passed on the base still passes (``regression: all``), or
  the listed ones do; a test that disappeared counts as failed.
"""

from __future__ import annotations

import time

from overnight.gates import ERROR, FAIL, PASS, GateContext, GateOutcome
from overnight.gates.feedback import trim
from overnight.gates.pytest_run import PASSED, TestRun, run_tests


class TestsGate:
    __test__ = False
    name = "tests"

    def check(self, ctx: GateContext) -> GateOutcome:
        start = time.monotonic()
        test_cmd = ctx.spec.test_cmd or ctx.config.test_cmd
        runs: list[TestRun] = []
        failures: list[tuple[str, str, dict]] = []  # node, why, detail
        acceptance = ctx.spec.acceptance_tests
        if acceptance:
            run = run_tests(
                ctx.sandbox, ctx.path, ctx.environ, test_cmd, acceptance, ctx.timeout, ctx.cancel
            )
            runs.append(run)
            if not run.recorded:
                return self._no_evidence(run, start)
            for node in acceptance:
                outcome = run.outcome(node)
                if outcome != PASSED:
                    failures.append((node, f"acceptance test {outcome}", run.detail(node)))
        regression = ctx.spec.regression
        if not failures and regression != "none":
            select = None if regression == "all" else list(regression)
            run = run_tests(
                ctx.sandbox, ctx.path, ctx.environ, test_cmd, select, ctx.timeout, ctx.cancel
            )
            runs.append(run)
            if not run.recorded:
                return self._no_evidence(run, start)
            expected = ctx.baseline.passing()
            if regression != "all":
                expected = {
                    n
                    for n in expected
                    if any(
                        n == r or n.startswith(r + "[") or n.startswith(r + "::")
                        for r in regression
                    )
                }
            for node in sorted(expected):
                outcome = run.outcome(node)
                if outcome != PASSED:
                    why = "passed on the base, " + (
                        "missing now" if outcome == "missing" else f"{outcome} now"
                    )
                    failures.append((node, why, run.detail(node)))
        command = " ; ".join(r.command for r in runs) or test_cmd
        log = "\n\n".join(
            f"$ {r.command}\n{r.completed.output}\n[exit {r.completed.exit_code}]" for r in runs
        )
        duration = time.monotonic() - start
        exit_code = runs[-1].completed.exit_code if runs else None
        if failures:
            names = ", ".join(node for node, _, _ in failures[:3])
            more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
            skipped = (
                " (regression suite not run: acceptance failed first)"
                if acceptance and len(runs) == 1 and regression != "none"
                else ""
            )
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(failures)} failing: {names}{more}{skipped}",
                command=command,
                exit_code=exit_code,
                duration=duration,
                log=log,
                feedback=_feedback(failures),
            )
        counted = len(acceptance) + (
            len(ctx.baseline.passing())
            if regression == "all"
            else 0
            if regression == "none"
            else len(regression)
        )
        return GateOutcome(
            self.name,
            PASS,
            f"{len(acceptance)} acceptance and {counted - len(acceptance)} regression test(s) pass",
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


def _feedback(failures: list[tuple[str, str, dict]]) -> str:
    parts = []
    for node, why, detail in failures[:10]:
        lines = [f"- {node}: {why}"]
        if detail.get("message"):
            lines.append(f"  {detail['message']}")
        if detail.get("text"):
            lines.append("  ```\n" + trim(detail["text"], 800) + "\n  ```")
        parts.append("\n".join(lines))
    if len(failures) > 10:
        parts.append(f"- ... and {len(failures) - 10} more failing tests")
    return "Failing tests:\n" + "\n".join(parts)

"""The baseline: what the gates see on the base commit (test patches applied)."""

from __future__ import annotations

from overnight.gates import Baseline, GateContext
from overnight.gates.lint import run_lint
from overnight.gates.pytest_run import run_suite
from overnight.gates.runner import measure_gates


def measure_baseline(ctx: GateContext) -> tuple[Baseline, str]:
    """Run the tests (acceptance and regression, in one pytest run when they
    can), the linter and the acceptance commands on the base; return the
    baseline and the combined log."""
    baseline, logs = Baseline(), []
    suite = run_suite(
        ctx.sandbox, ctx.path, ctx.environ, ctx.spec.test_cmd or ctx.config.test_cmd,
        ctx.spec.acceptance_tests, ctx.spec.regression, ctx.timeout, ctx.cancel,
        pinned=ctx.pinned,
    )  # fmt: skip
    for run in suite.runs:
        logs.append(f"$ {run.command}\n{run.completed.output}\n[exit {run.completed.exit_code}]")
    if not suite.recorded:
        run = suite.runs[-1]
        baseline.tests_error = (f"'{run.command}' gave no per-test results (exit "
                                f"{run.completed.exit_code}): check test_cmd, and that setup "
                                "installs pytest")  # fmt: skip
    baseline.tests = suite.outcomes
    baseline.acceptance = {node: suite.outcome(node) for node in ctx.spec.acceptance_tests}
    if ctx.config.lint_cmd:
        lint = run_lint(
            ctx.sandbox, ctx.path, ctx.environ, ctx.config.lint_cmd, ctx.timeout, ctx.cancel
        )
        logs.append(f"$ {lint.command}\n{lint.output}\n[exit {lint.exit_code}]")
        baseline.lint, baseline.lint_error = lint.findings, lint.error
    for cmd in ctx.spec.acceptance_commands:
        done = ctx.sandbox.run(
            cmd, cwd=ctx.path, env=ctx.environ, timeout=ctx.timeout, cancel=ctx.cancel
        )
        logs.append(f"$ {cmd}\n{done.output}\n[exit {done.exit_code}]")
        baseline.commands[cmd] = done.exit_code
    baseline.gates, gate_log = measure_gates(ctx)  # types, downstream: on the base too
    if gate_log:
        logs.append(gate_log)
    return baseline, "\n\n".join(logs)

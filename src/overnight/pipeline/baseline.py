"""The baseline: what the gates see on the base commit (test patches applied).

A base that cannot run its own tests is the environment's problem, found here
before any agent runs and never handed to an agent as feedback: the project's
own packages missing or imported from somewhere else than the clone, or
nothing outside the acceptance tests collected without errors.
"""

from __future__ import annotations

import re

from overnight.gates import Baseline, GateContext
from overnight.gates.lint import run_lint
from overnight.gates.pytest_run import PASSED, Suite, run_suite
from overnight.gates.runner import measure_gates
from overnight.spec.model import patched_files

MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


def measure_baseline(ctx: GateContext) -> tuple[Baseline, str]:
    """Run the tests (acceptance and regression, in one pytest run when they
    can), the linter and the acceptance commands on the base; return the
    baseline and the combined log."""
    baseline, logs = Baseline(), []
    suite = run_suite(
        ctx.sandbox,
        ctx.path,
        ctx.environ,
        ctx.spec.test_cmd or ctx.config.test_cmd,
        ctx.spec.acceptance_tests,
        ctx.spec.regression,
        ctx.timeout,
        ctx.cancel,
        pinned=ctx.pinned,
    )
    for run in suite.runs:
        logs.append(f"$ {run.command}\n{run.completed.output}\n[exit {run.completed.exit_code}]")
    if not suite.recorded:
        run = suite.runs[-1]
        baseline.tests_error = (
            f"'{run.command}' gave no per-test results on the base "
            f"(exit {run.completed.exit_code}): check test_cmd, and that "
            "setup installs pytest"
        )
    else:
        baseline.tests_error = environment_problem(suite, ctx)
    baseline.tests = suite.outcomes
    baseline.acceptance = {node: suite.outcome(node) for node in ctx.spec.acceptance_tests}
    if ctx.config.lint_cmd:
        lint = run_lint(
            ctx.sandbox,
            ctx.path,
            ctx.environ,
            ctx.config.lint_cmd,
            ctx.timeout,
            ctx.cancel,
            ctx.tracked(),
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


def environment_problem(suite: Suite, ctx: GateContext) -> str | None:
    """Why the base cannot run its own tests (None: it can)."""
    packages = set(ctx.pinned.packages) if ctx.pinned else set()
    texts = [
        *(t for r in suite.runs for t in r.collect_errors.values()),
        *(v.get("text", "") for v in suite.outcomes.values() if v["outcome"] == "error"),
    ]
    for text in texts:
        found = MISSING_MODULE.search(text)
        if found and found.group(1).split(".")[0] in packages:
            return f"the project cannot be imported on the base: {first_error(text)}"
    for name, where in suite.foreign(ctx.import_roots()):
        return (
            f"the package under test '{name}' was imported from {where}, not from the "
            "grading clone: the setup installs it somewhere tests do not see the clone's "
            "code"
        )
    acceptance = {n.split("::", 1)[0] for n in ctx.spec.acceptance_tests}
    acceptance |= {f for p in ctx.spec.test_patches for f in patched_files(p.text)}

    def elsewhere(node: str) -> bool:
        return node.split("::", 1)[0] not in acceptance

    errors = [t for r in suite.runs for k, t in r.collect_errors.items() if elsewhere(k)]
    passed = any(v["outcome"] == PASSED for k, v in suite.outcomes.items() if elsewhere(k))
    if errors and not passed:
        return f"no test of the base runs, every one errors: {first_error(errors[0])}"
    return None


def first_error(text: str) -> str:
    """The line of a pytest report that says what went wrong."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    fallback = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines or fallback or ["no detail"])[-1][:300]

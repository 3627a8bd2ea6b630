"""The test-integrity checks that need test runs.

- The number of passing tests may not drop below the base's (read from the
  tests gate's run, so the suite runs once; a run with no per-test results
  leaves it uncounted, a problem that makes the gate an ``error``).
- Acceptance tests the agent wrote itself (named by the spec, but in a file
  that neither the base nor a test patch has) must fail on the base: a test
  that passes without the change proves nothing. They are run on an export of
  the base commit in a scratch directory beside the grading clone, with the
  agent's test files laid over it, while the other gates use the clone.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from pathlib import Path

from overnight.config import GateConfig
from overnight.gates import GateContext
from overnight.gates.changes import is_test_path
from overnight.gates.pytest_run import PASSED, run_tests
from overnight.spec.model import patched_files


def passing_count(ctx: GateContext) -> tuple[list[str], list[str], list[str]]:
    """(findings, notes, problems) about the number of passing tests. Not counted is a
    note when the tests gate is disabled or stopped at a failing acceptance test (which
    fails it) or the spec names no tests to run (the tests gate skips), and a problem
    when it ran and gave no per-test results."""
    if not ctx.config.gate("tests", GateConfig).enabled:
        return [], ["passing tests not counted: the tests gate is disabled"], []
    if not ctx.spec.acceptance_tests and ctx.spec.regression in ("none", []):
        return [], ["passing tests not counted: the spec runs no tests (regression: none)"], []
    suite = ctx.evidence.get("tests")
    if suite is None or not suite.recorded:
        return (
            [],
            [],
            [
                "passing tests could not be counted: the tests gate gave no per-test "
                "results (see its error)"
            ],
        )
    if suite.stopped:
        return [], ["passing tests not counted: the tests stopped at a failing acceptance test"], []
    before = len(ctx.baseline.passing())
    after = sum(1 for v in suite.outcomes.values() if v["outcome"] == PASSED)
    if after < before:
        return (
            [
                f"{before - after} fewer passing test(s) than on the base "
                f"({after} now, {before} before)"
            ],
            [],
            [],
        )
    return [], [f"{after} passing test(s), {before} on the base"], []


def agent_acceptance(ctx: GateContext) -> list[str]:
    """Acceptance test ids whose file the agent wrote (not at the base, not patched in)."""
    patched = {f for p in ctx.spec.test_patches for f in patched_files(p.text)}
    nodes = []
    for node in ctx.spec.acceptance_tests:
        file = node.split("::", 1)[0]
        if (
            file not in patched
            and ctx.workspace.file_at_base(file) is None
            and ctx.source_bytes(file) is not None
        ):
            nodes.append(node)
    return nodes


def passing_on_base(ctx: GateContext) -> tuple[list[str], list[str], str]:
    """(findings, problems, log): agent-written acceptance tests that pass on the base."""
    nodes = agent_acceptance(ctx)
    if not nodes:
        return [], [], ""
    scratch = Path(tempfile.mkdtemp(prefix="base-", dir=ctx.path.parent))
    try:
        export_base(ctx, scratch)
        environ = dict(ctx.environ)  # the base's code first, before the candidate's install
        own = [scratch / "src", scratch] if (scratch / "src").is_dir() else [scratch]
        rest = [
            p
            for p in environ.get("PYTHONPATH", "").split(":")
            if p and not Path(p).is_relative_to(ctx.path)
        ]
        environ["PYTHONPATH"] = ":".join([*map(str, own), *rest])
        run = run_tests(
            ctx.sandbox,
            scratch,
            environ,
            ctx.spec.test_cmd or ctx.config.test_cmd,
            nodes,
            ctx.timeout,
            ctx.cancel,
            pinned=ctx.pinned,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log = f"agent-written acceptance tests on the base:\n$ {run.command}\n{run.completed.output}"
    if not run.recorded:
        return (
            [],
            [f"the agent's acceptance tests gave no per-test results on the base: '{run.command}'"],
            log,
        )
    findings = [
        f"{node}: an acceptance test you wrote passes on the base too, so it proves nothing; "
        "make it test the new behaviour"
        for node in nodes
        if run.outcome(node) == PASSED
    ]
    return findings, [], log


def export_base(ctx: GateContext, target: Path) -> None:
    """The base commit's files, with the candidate's test files (the agent's and the
    test patches') laid over them: built as a git tree from the candidate's commit
    (never from its working tree, which graded code may have rewritten)."""
    patched = {f for p in ctx.spec.test_patches for f in patched_files(p.text)}
    paths = sorted({p for p in ctx.changed if is_test_path(p)} | patched)
    tree = ctx.workspace.tree_with(f"{ctx.workspace.base_sha}^{{tree}}", ctx.sha, paths)
    with tarfile.open(fileobj=io.BytesIO(ctx.workspace.archive(tree))) as archive:
        archive.extractall(target, filter="data")

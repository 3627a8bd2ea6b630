"""Proving a commit from history is a usable evaluation instance, by running it.

In a throwaway clone at the commit's parent (its git dir beside the tree, as the
grading clone has it) the project's environment is set up as a run would set it
up (the cached virtualenv of its setup commands, the project installed into a
layer from the clone), the test patch is applied and the touched test files run
in the grading sandbox: the outcomes *before*. Then the code patch is applied,
the project installed again, and the same files run ``1 + reruns`` times: the
outcomes *after*. pytest's configuration is pinned to the parent's, as grading
pins it, so the lists found here are the ones ``eval run`` will grade.

FAIL_TO_PASS: failed (or errored, or missing) before, passed in every run after.
PASS_TO_PASS: passed before and in every run after. A test whose outcome differs
between the runs after makes the commit flaky. A commit is rejected, with its
reason, when it cannot be set up, its tests cannot be collected at the base, or
no test fails without the change.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from overnight.config import ProjectConfig, cache_dir, home
from overnight.errors import SetupError, WorkspaceError
from overnight.gates.pytest_run import PASSED, TestRun, run_tests
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.setting import environment, last_line
from overnight.sandbox import Access, Granted, Sandbox, get_sandbox
from overnight.spec import Spec, TestPatch
from overnight.workspace import Workspace

# why a commit is rejected, by kind (the report counts them)
SETUP = "setup fails"
PATCH = "patch does not apply"
BASE = "tests cannot run at the base"
AFTER = "tests cannot run after the change"
NO_CHANGE = "tests pass without the change"
FLAKY = "flaky"


@dataclass
class Verdict:
    """What running one commit showed: its test lists, or why it is rejected."""

    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    kind: str | None = None  # None: verified; else one of the kinds above
    reason: str = ""

    @property
    def verified(self) -> bool:
        return self.kind is None


class Rejected(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


@dataclass
class Trial:
    """One commit to run: its parent, its two patches and the test files it touches."""

    repo: Path  # a local repository holding the parent
    base: str
    patch: str
    test_patch: str
    tests: list[str]


def verify(
    trial: Trial,
    config: ProjectConfig,
    *,
    reruns: int = 2,
) -> Verdict:
    """Run ``trial`` before and after its code patch; never raises for the commit's own
    failures (they are the verdict), only for overnight's."""
    root = home() / "history"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{trial.base[:10]}-", dir=root))
    try:
        return _verify(trial, config, folder, reruns)
    except Rejected as exc:
        return Verdict(kind=exc.kind, reason=exc.reason)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _verify(
    trial: Trial,
    config: ProjectConfig,
    folder: Path,
    reruns: int,
) -> Verdict:
    timeout = config.timeout_minutes * 60
    work = Workspace.create(trial.repo, folder / "work", trial.base, "history", separate=True)
    try:
        env = environment(config, trial.repo, trial.base, cache_dir() / "envs", timeout)
    except SetupError as exc:  # its advice names a task's logs: here its output says why
        failed = str(exc).split("; see ", 1)[0]
        said = last_line(exc.log.rsplit("\n$ ", 1)[-1].rsplit("[exit", 1)[0])
        raise Rejected(SETUP, f"{failed} at the base: {said}") from exc
    assert work.git_dir is not None
    sandbox: Sandbox = Granted(
        get_sandbox(config.sandbox), Access(readable=(work.git_dir, *env.access().readable))
    )
    spec = Spec(title="history", test_patches=[TestPatch("test_patch", trial.test_patch, True)])
    clone = GradingClone(work, spec)
    clone.layer = env.layer(work.path) if env.path else None
    pinned = clone.pinned()
    try:
        clone.check_out_patched()
    except WorkspaceError as exc:
        raise Rejected(PATCH, f"the test patch does not apply at the parent: {exc}") from exc

    def run() -> TestRun:
        return run_tests(
            sandbox,
            work.path,
            env.environ(work.path, layer=clone.layer),
            config.test_cmd,
            list(trial.tests),
            timeout,
            pinned=pinned,
        )

    _install(clone, sandbox, timeout, "at the base")
    before = run()
    _check(before, BASE)
    try:
        work.apply_patch(trial.patch, "the code patch")
    except WorkspaceError as exc:
        raise Rejected(PATCH, str(exc)) from exc
    _install(clone, sandbox, timeout, "with the change")
    after = [run() for _ in range(1 + reruns)]
    for done in after:
        _check(done, AFTER)
    return classify(before, after)


def _install(
    clone: GradingClone,
    sandbox: Sandbox,
    timeout: float,
    where: str,
) -> None:
    done = clone.install(sandbox, timeout, None)
    if done is not None and not done.ok:
        raise Rejected(SETUP, f"the project does not install {where}: {last_line(done.output)}")


def _check(run: TestRun, kind: str) -> None:
    """A run that reported nothing, or could not collect a touched test file, is no
    evidence: the commit is rejected."""
    if not run.recorded:
        raise Rejected(kind, f"pytest reported nothing: {last_line(run.completed.output)}")
    if run.collect_errors:
        file, text = sorted(run.collect_errors.items())[0]
        errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
        why = errors[-1] if errors else last_line(text)
        raise Rejected(kind, f"{file} cannot be collected: {why}")
    if not run.outcomes:
        raise Rejected(kind, f"no tests ran: {last_line(run.completed.output)}")


def classify(before: TestRun, after: list[TestRun]) -> Verdict:
    """The verdict from the outcomes before and in each run after (pure: no I/O)."""
    nodes = sorted(set(before.outcomes).union(*(set(r.outcomes) for r in after)))
    flaky = [n for n in nodes if len({r.outcome(n) for r in after}) > 1]
    if flaky:
        more = f" and {len(flaky) - 1} more" if len(flaky) > 1 else ""
        return Verdict(
            kind=FLAKY,
            reason=f"{flaky[0]}{more} changed outcome between {len(after)} runs after the change",
        )
    passed_after = {n for n in nodes if after[0].outcome(n) == PASSED}
    was = {n: before.outcome(n) for n in nodes}
    f2p = [n for n in nodes if n in passed_after and was[n] != PASSED]
    p2p = [n for n in nodes if n in passed_after and was[n] == PASSED]
    if not f2p:
        return Verdict(
            pass_to_pass=p2p,
            kind=NO_CHANGE,
            reason=f"no touched test fails before the change ({len(p2p)} pass both ways)",
        )
    return Verdict(fail_to_pass=f2p, pass_to_pass=p2p)

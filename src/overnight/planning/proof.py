"""Proving an acceptance test at the base: it must be collected, and it must fail.

Each spec's test patch is applied to a throwaway clone of the base commit (git
dir apart from the tree, as the grading clone has it), the project installed
as a run installs it, and only the patch's tests run in the sandbox
(``OVERNIGHT_SANDBOX`` or the repository's ``sandbox``; ``auto``: bwrap),
with per-test outcomes from overnight's pytest plugin, never from an exit
code. A test that passes at the base proves nothing; one that is not
collected (an import error, a typo) cannot fail for the right reason. Both
are kept in the plan with the evidence, marked, and not submittable.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import asdict, dataclass, field

from overnight.config import cache_dir, home
from overnight.environment import Environment, Layer
from overnight.errors import GitError, SetupError
from overnight.gates.pytest_run import TestRun, run_tests
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.setting import environment
from overnight.planning.context import Base
from overnight.sandbox import Access, Granted, Sandbox, get_sandbox
from overnight.spec import Spec
from overnight.spec.model import patched_files
from overnight.text import trim
from overnight.workspace import Workspace

PROVEN, PASSES, NOT_COLLECTED, NOT_APPLIED = (
    "proven",
    "passes-at-base",
    "does-not-collect",
    "does-not-apply",
)
EVIDENCE_CHARS = 3000
TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")


@dataclass
class Proof:
    status: str  # PROVEN, PASSES, NOT_COLLECTED or NOT_APPLIED
    evidence: str  # why, with the end of the test run's output
    tests: list[str] = field(default_factory=list)  # the node ids that were run
    outcomes: dict[str, str] = field(default_factory=dict)  # item -> outcome at the base
    patch: str = ""  # the patch as git wrote it after applying it ('' when it did not)

    @property
    def proven(self) -> bool:
        return self.status == PROVEN

    def record(self) -> dict:
        """What the plan file keeps (the patch is a file of its own)."""
        data = asdict(self)
        del data["patch"]
        return data


class Prover:
    """Proofs at one base: its environment is built (or taken from the cache) once."""

    def __init__(self, base: Base, timeout: float = 600.0) -> None:
        self.base, self.timeout = base, timeout
        self._env: Environment | None = None

    def prove(self, patch: str, tests: list[str]) -> Proof:
        """Apply ``patch`` at the base and run ``tests`` (default: the test files it
        touches); each collected item must fail."""
        root = home() / "workspaces" / f"plan-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            work = Workspace.create(
                self.base.cache, root / "clone", self.base.sha, "overnight-plan", separate=True
            )
            try:
                work.git(["apply", "--recount", "--whitespace=nowarn", "-"], input=patch)
            except GitError as exc:
                reason = str(exc).split(": ", 1)[-1]
                return Proof(NOT_APPLIED, f"the test patch does not apply at the base: {reason}")
            work.git(["add", "-A"])
            written = work.git_bytes(["diff", "--cached", "--binary", self.base.sha])
            canonical = written.decode("utf-8", "replace")
            tests = tests or _test_files(canonical)
            if not tests:
                return Proof(
                    NOT_COLLECTED,
                    "the patch adds no test file (test_*.py or *_test.py): name its tests",
                    patch=canonical,
                )
            try:
                ran: TestRun | Proof = self._run(work, tests)
            except SetupError as exc:  # the base's setup, not the tests: every node says so
                why = f"the environment's setup fails at the base: {exc}"
                ran = Proof(NOT_COLLECTED, f"{why}\n{trim(exc.log, EVIDENCE_CHARS)}", tests)
            proof = judge(ran, tests) if isinstance(ran, TestRun) else ran
            proof.patch = canonical
            return proof
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, work: Workspace, tests: list[str]) -> TestRun | Proof:
        """The tests' run, or the proof that they could not run: the project does not
        install at the base (the environment's problem, not the tests')."""
        config, env = self.base.config, self.environment()
        layer: Layer | None = env.layer(work.path) if env.path else None
        assert work.git_dir is not None
        sandbox: Sandbox = Granted(
            get_sandbox(config.sandbox),
            Access(readable=(work.git_dir, *env.access().readable)),
        )
        if layer is not None:
            layer.create()
            done = layer.install(sandbox, self.timeout)
            if done is not None and not done.ok:
                tail = trim(done.output, EVIDENCE_CHARS)
                why = f"the project does not install at the base ({done.command}):\n{tail}"
                return Proof(NOT_COLLECTED, why, tests)
        pinned = GradingClone(work, Spec(title="proof")).pinned()
        return run_tests(
            sandbox,
            work.path,
            env.environ(work.path, layer=layer),
            config.test_cmd,
            tests,
            self.timeout,
            pinned=pinned,
        )

    def environment(self) -> Environment:
        if self._env is None:
            self._env = environment(
                self.base.config, self.base.cache, self.base.sha, cache_dir() / "envs", 1800.0
            )
        return self._env


def judge(run: TestRun, tests: list[str]) -> Proof:
    """The proof a test run at the base gives for ``tests``."""
    tail = trim(run.completed.output, EVIDENCE_CHARS)
    if not run.recorded:
        return Proof(
            NOT_COLLECTED,
            f"'{run.command}' gave no per-test results (exit {run.completed.exit_code}):\n{tail}",
            tests,
        )
    outcomes: dict[str, str] = {}
    uncollected, passing = [], []
    for node in tests:
        items = {
            key: value["outcome"]
            for key, value in run.outcomes.items()
            if key == node or (key.startswith(node) and key[len(node)] in "[:")
        }
        outcomes.update(items)
        if not items or any(o == "error" for o in items.values()):
            error = run.detail(node).get("message") or "not collected"
            uncollected.append(f"{node}: {error}")
        passing += [f"{item}: {o}" for item, o in items.items() if o not in ("failed", "error")]
    if uncollected:
        what = "\n".join(uncollected)
        return Proof(
            NOT_COLLECTED, f"not collected at the base:\n{what}\n\n{tail}", tests, outcomes
        )
    if passing:
        what = "\n".join(passing)
        return Proof(
            PASSES,
            f"does not fail at the base (proves nothing):\n{what}\n\n{tail}",
            tests,
            outcomes,
        )
    failures = "\n".join(f"{item}: {_message(run.outcomes[item])}" for item in sorted(outcomes))
    return Proof(
        PROVEN,
        f"{len(outcomes)} test(s) collected, all fail at the base:\n{failures}",
        tests,
        outcomes,
    )


def _message(outcome: dict) -> str:
    """How a test failed, on one line: what the human checks is the right reason."""
    message = str(outcome.get("message") or "").strip().splitlines()
    return message[-1][:300] if message else "failed"


def _test_files(patch: str) -> list[str]:
    return [f for f in patched_files(patch) if TEST_FILE.search(f)]

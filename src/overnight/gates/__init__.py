"""Quality gates: checks with a verdict and evidence.

Every gate takes a ``GateContext`` (the candidate commit checked out in the
workspace, and the baseline measured on the base commit) and returns a
``GateOutcome``. A gate whose own evidence shows that it did not run on the
change (its tool missing or killed, output it cannot read, the changed files
never reaching the check) is ``error``, never ``pass``: each gate decides
what its evidence is, ``evidence.py`` holds the shared parts, docs/gates.md
lists them, and ``tests/test_gate_runner.py`` names each gate's test of it.

A gate declares its ``name``, its ``config_type`` (the ``[gates.NAME]``
table), and may override two optional parts that ``BaseGate`` declares with
do-nothing defaults: ``needs`` (names of gates whose evidence it reads from
``ctx.evidence``; it starts after them) and ``measure(ctx) -> (data, log)``,
run on the base by the baseline step, whose data it finds in
``ctx.baseline.gates[name]``. ``registry.py`` lists the gates (the one list of
their names); ``runner.py`` runs them, independent ones in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from overnight.config import GateConfig, ProjectConfig
from overnight.gates.pytest_run import Pinned
from overnight.registry import Argument
from overnight.sandbox import Sandbox
from overnight.spec import Spec
from overnight.workspace import Workspace

PASS, FAIL, ERROR, SKIPPED = "pass", "fail", "error", "skipped"


@dataclass
class GateOutcome:
    name: str
    verdict: str
    summary: str
    command: str | None = None
    exit_code: int | None = None
    duration: float = 0.0
    log: str = ""
    feedback: str = ""  # what the agent should read when this gate fails
    blocking: bool = True  # a gate may make one outcome advisory; config can only lower it
    report: str = ""  # Markdown for the pull request body (the reviewer's comments)
    tampered: str | None = None  # evidence that the run lied about its outcomes: never READY


@dataclass
class Baseline:
    """What the base commit looks like to the gates."""

    tests: dict[str, dict] = field(default_factory=dict)  # node id -> outcome record
    acceptance: dict[str, str] = field(default_factory=dict)  # acceptance id -> outcome
    tests_error: str | None = None  # the base's test run gave no per-test results
    lint: list[str] = field(default_factory=list)  # finding keys
    lint_error: str | None = None
    commands: dict[str, int] = field(default_factory=dict)  # acceptance command -> exit code
    gates: dict[str, Any] = field(default_factory=dict)  # gate name -> what its measure() saw

    def passing(self) -> set[str]:
        return {k for k, v in self.tests.items() if v["outcome"] == "passed"}


@dataclass
class GateContext:
    workspace: Workspace
    spec: Spec
    config: ProjectConfig
    baseline: Baseline
    sandbox: Sandbox
    environ: dict[str, str]
    changed: list[str]  # files the agent changed, relative to the workspace
    protected: list[str]  # globs the agent may not change
    sha: str
    timeout: float
    cancel: threading.Event | None = None
    repo: str | None = None  # the task's repository (downstream paths are relative to it)
    evidence: dict[str, Any] = field(default_factory=dict)  # gate name -> what it left for others
    pinned: Pinned | None = None  # what steers test runs, from the base commit
    rate_limit: Callable[[str], None] | None = None  # before each model request, by host

    @property
    def path(self) -> Path:
        return self.workspace.path

    def import_roots(self) -> list[Path]:
        """Where the code under test may be imported from: the clone and its virtualenv."""
        venv = self.environ.get("VIRTUAL_ENV")
        return [self.path, *([Path(venv)] if venv else [])]

    def tracked(self) -> set[str]:
        """The files of the commit being graded: what lint and type findings may be about
        (the tests gate plants canaries beside them, and tests leave files behind)."""
        if "tracked" not in self.evidence:
            out = self.workspace.git(["ls-tree", "-r", "-z", "--name-only", self.sha])
            self.evidence["tracked"] = {name for name in out.split("\0") if name}
        return self.evidence["tracked"]

    def source(self, path: str) -> str | None:
        """A file of the candidate, read from its commit: never from the working tree,
        which the code under test may have rewritten (None: no such file)."""
        return self.workspace.file_at(self.sha, path)

    def base_source(self, path: str) -> str | None:
        """A file as the base commit has it (None: no such file)."""
        return self.workspace.file_at_base(path)

    def source_bytes(self, path: str, *, base: bool = False) -> bytes | None:
        """A file's raw bytes, of the candidate's commit or the base (None: no such
        file): for readers that must decode it as Python would (a coding cookie)."""
        return self.workspace.file_bytes(self.workspace.base_sha if base else self.sha, path)


class Gate(Protocol):
    name: str

    @property
    def config_type(self) -> type[GateConfig]: ...  # its [gates.NAME] table

    @property
    def needs(self) -> tuple[str, ...]: ...  # gates it starts after ("*": every other gate)

    def check(self, ctx: GateContext) -> GateOutcome: ...

    def measure(self, ctx: GateContext) -> tuple[Any, str]: ...


class BaseGate:
    """A gate's optional parts, declared with their defaults: no options of its own,
    no gate to wait for, nothing to measure on the base."""

    name: str
    argument: Argument | None = None  # named by its ``[gates.NAME]`` table, never ``KIND:ARG``
    config_type: type[GateConfig] = GateConfig
    needs: tuple[str, ...] = ()

    def check(self, ctx: GateContext) -> GateOutcome:
        raise NotImplementedError

    def measure(self, ctx: GateContext) -> tuple[Any, str]:
        """What the base commit looks like to this gate (None: nothing), and a log."""
        return None, ""


def all_gates(config: ProjectConfig | None = None) -> list[Gate]:
    """The built-in gates, cheap ones first, then the configured custom commands."""
    from overnight.gates.registry import gate_list

    return gate_list(config)


def run_gates(ctx: GateContext, parallel: int | None = None) -> list[GateOutcome]:
    """Every gate on the candidate; independent gates in parallel threads."""
    from overnight.gates.runner import run_all

    return run_all(ctx, parallel)


def blocking_failures(results: list[GateOutcome]) -> list[GateOutcome]:
    return [r for r in results if r.blocking and r.verdict in (FAIL, ERROR)]
